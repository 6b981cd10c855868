//! `radx check`'s driver, shared by the CLI and libradx: instruments a program's modules,
//! lowers and links it, runs it, and collects what the checker runtime found per request.
//!
//! Floor: the top of the crate, beside the pipeline it runs (`pipeline::lower_module`).

use super::{instrument, Coverage, Request};
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use std::path::PathBuf;
use std::process::Command;

/// How to build and run the program.
pub struct Setup {
    /// Flags for the final compile and link (libraries, -fopenmp, ...).
    pub link_flags: Vec<String>,
    pub program_args: Vec<String>,
    pub seed: u64,
    /// Where to build: an empty directory the caller owns.
    pub dir: PathBuf,
}

/// What a check found: one JSON object per request, in program order, and notes on checks
/// that could not be made.
pub struct Outcome {
    pub requests: Vec<serde_json::Value>,
    pub notes: Vec<String>,
    /// How the program died when a signal killed it: the requests after that point were
    /// never checked, so the run proves nothing about them.
    pub crashed: Option<String>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.requests.iter().any(|j| j["status"] == "mismatch")
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "requests": self.requests, "notes": self.notes, "failed": self.failed(), "crashed": self.crashed })
    }
}

fn sh(cmd: &mut Command, what: &str) -> Result<(), String> {
    let o = cmd.output().map_err(|e| format!("cannot run {what}: {e}"))?;
    if !o.status.success() {
        return Err(format!("{what} failed:\n{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)));
    }
    Ok(())
}

fn parse<'c>(ctx: &'c Context, bytes: &[u8], what: &str) -> Result<Module<'c>, String> {
    ctx.create_module_from_ir(MemoryBuffer::create_from_memory_range_copy(bytes, what)).map_err(|e| format!("cannot read {what}: {}", e.to_string().trim()))
}

/// Checks the program made of `modules` (LLVM bitcode or text, `-g` for source lines).
pub fn check_program(modules: &[Vec<u8>], setup: &Setup) -> Result<Outcome, String> {
    let clang = crate::ir::llvm::tool("clang");
    let dir = &setup.dir;
    // Each attempt drops a check that needs a derivative the program's code has not got
    // (a function whose forward mode RadX cannot make, say), rather than giving up.
    let attempts = [Coverage { bisection: true, dot_test: true }, Coverage { bisection: false, dot_test: true }, Coverage { bisection: false, dot_test: false }];
    let exe = dir.join("checked");
    let mut requests = Vec::new();
    let mut errors = String::new();
    let mut built = None;
    for &coverage in &attempts {
        let ctx = Context::create();
        let m = parse(&ctx, &modules[0], "the program")?;
        for (k, bytes) in modules.iter().enumerate().skip(1) {
            m.link_in_module(parse(&ctx, bytes, &format!("module {k}"))?).map_err(|e| format!("linking module {k}: {e}"))?;
        }
        m.verify().map_err(|e| format!("the program is not a valid module: {}", e.to_string().trim()))?;
        let plan = instrument(m.as_mut_ptr(), coverage).map_err(|d| d.to_string())?;
        std::fs::write(dir.join("check.c"), &plan.c_source).map_err(|e| e.to_string())?;
        sh(Command::new(&clang).args(["-O1", "-c", "-emit-llvm", "-w"]).arg(dir.join("check.c")).arg("-o").arg(dir.join("check.bc")), "compiling the checker")?;
        let checker = std::fs::read(dir.join("check.bc")).map_err(|e| e.to_string())?;
        m.link_in_module(parse(&ctx, &checker, "the checker")?).map_err(|e| format!("linking the checker into the program: {e}"))?;
        requests = plan.requests;
        // The final compile optimizes the derivatives, as `radx cc` leaves it to.
        let options = crate::options::Options { postopt: false, ..crate::options::Options::default() };
        match crate::pipeline::lower_module(m.as_mut_ptr(), &options) {
            Ok(_) => {
                let bc = dir.join("checked.bc");
                m.write_bitcode_to_path(&bc);
                sh(Command::new(&clang).arg("-O2").arg(&bc).args(&setup.link_flags).arg("-o").arg(&exe).arg("-lm"), "linking the checked program")?;
                built = Some(coverage);
                break;
            }
            Err(diags) => errors = diags.iter().map(|d| format!("radx: {d}\n")).collect(),
        }
    }
    let Some(coverage) = built else {
        return Err(format!("the program does not build with RadX:\n{errors}"));
    };
    let report = dir.join("report.jsonl");
    let status = Command::new(&exe)
        .args(&setup.program_args)
        .env("RADX_CHECK_OUT", &report)
        .env("RADX_CHECK_SEED", setup.seed.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run the program: {e}"))?;
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let mut found: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let seen: Vec<u64> = found.iter().filter_map(|j| j["id"].as_u64()).collect();
    let crashed = killed_by(&status);
    for r in &requests {
        if !seen.contains(&(r.id as u64)) {
            let mut j = not_reached(r);
            if let (Some(how), None) = (&crashed, &r.skip) {
                j["reason"] = format!("the program crashed ({how}) before this request was checked").into();
            }
            found.push(j);
        }
    }
    found.sort_by_key(|j| j["id"].as_u64());
    let mut notes = Vec::new();
    if !coverage.bisection {
        notes.push("the forward derivative of the instrumented code could not be made: no bisection of mismatches".to_string());
    }
    if !coverage.dot_test {
        notes.push("a reverse request's function has no forward-mode derivative: no dot-product tests".to_string());
    }
    if !status.success() {
        notes.push(format!("the program exited with {status}"));
    }
    Ok(Outcome { requests: found, notes, crashed })
}

#[cfg(unix)]
fn killed_by(status: &std::process::ExitStatus) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    status.signal().map(|sig| format!("signal {sig}"))
}

#[cfg(not(unix))]
fn killed_by(_: &std::process::ExitStatus) -> Option<String> {
    None
}

fn not_reached(r: &Request) -> serde_json::Value {
    let mut j = serde_json::json!({ "id": r.id, "function": r.function, "kind": r.kind, "where": r.location, "rows": [] });
    match &r.skip {
        Some(why) => {
            j["status"] = "skipped".into();
            j["reason"] = why.clone().into();
        }
        None => {
            j["status"] = "not reached".into();
            j["reason"] = "the program did not reach this request".into();
        }
    }
    j
}

/// The report for people: a table per request, the notes and a tally.
pub fn tables(outcome: &Outcome) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let found = &outcome.requests;
    for j in found {
        let st = j["status"].as_str().unwrap_or("?");
        let _ = writeln!(s, "{} derivative of `{}` at {}: {}", j["kind"].as_str().unwrap_or(""), j["function"].as_str().unwrap_or(""), j["where"].as_str().unwrap_or(""), st.to_uppercase());
        if let Some(r) = j["reason"].as_str() {
            let _ = writeln!(s, "  {r}");
        }
        let rows = j["rows"].as_array().cloned().unwrap_or_default();
        if !rows.is_empty() {
            let _ = writeln!(s, "  {} input(s), {} output(s)", j["inputs"], j["outputs"]);
            let _ = writeln!(s, "  {:<28} {:<30} {:>14} {:>12}  verdict", "argument", "check", "max rel error", "worst index");
            for r in rows {
                let err = r["max_rel_error"].as_f64().map(|e| format!("{e:.2e}")).unwrap_or_else(|| "non-finite".into());
                let worst = r["worst_index"].as_i64().filter(|&w| w >= 0).map(|w| w.to_string()).unwrap_or_else(|| "-".into());
                let _ = writeln!(s, "  {:<28} {:<30} {:>14} {:>12}  {}", r["argument"].as_str().unwrap_or(""), r["check"].as_str().unwrap_or(""), err, worst, r["verdict"].as_str().unwrap_or(""));
            }
        }
        if let Some(site) = j["first_wrong_tangent"].as_str() {
            let _ = writeln!(s, "  first value whose tangent disagrees with finite differences: {site}");
        } else if let Some(n) = j["bisect_note"].as_str() {
            let _ = writeln!(s, "  bisection: {n}");
        }
        s.push('\n');
    }
    for n in &outcome.notes {
        let _ = writeln!(s, "note: {n}");
    }
    let count = |st: &str| found.iter().filter(|j| j["status"] == st).count();
    let _ = writeln!(
        s,
        "radx check: {} request(s): {} ok, {} mismatch, {} skipped, {} not reached",
        found.len(),
        count("ok"),
        count("mismatch"),
        count("skipped"),
        count("not reached")
    );
    s
}

/// A fresh directory for one check.
pub fn scratch_dir() -> Result<PathBuf, String> {
    for n in 0..1000u32 {
        let d = std::env::temp_dir().join(format!("radx-check-{}-{n}", std::process::id()));
        if std::fs::create_dir(&d).is_ok() {
            return Ok(d);
        }
    }
    Err("cannot create a temporary directory".into())
}
