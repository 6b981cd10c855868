//! `radx check`: builds the program with every derivative request instrumented
//! (`radx_core::check`), runs it, and prints what the checker runtime found per request.

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use radx_core::check::{self, Coverage, Request};
use std::path::{Path, PathBuf};
use std::process::Command;

const HELP: &str = "\
radx check SOURCES... [options] [-- CLANG-FLAGS... [-- PROGRAM-ARGS...]]

Builds the program (clang -O2 -g and the flags given, then RadX), runs it, and checks every
derivative request (__enzyme_fwddiff, __enzyme_autodiff, split requests) the first time the
program reaches it: at the arguments the program passes there and at two points near them,
against central finite differences (Richardson-extrapolated, step scaled per argument)
and, for reverse mode, by the dot-product test against forward mode. The program's own
results are unchanged. For a mismatch it names the first intermediate value whose
forward-mode tangent disagrees with finite differences, with its source line.

Prints a table per request and exits 1 when a check fails (0 when all pass, 2 when the
program cannot be built or run).

OPTIONS:
    --json           one JSON object per request on standard output instead of tables
    --seed N         seed of the random directions and points (default 1)
    --keep           keep the build directory and say where it is
";

struct Args {
    sources: Vec<String>,
    clang_flags: Vec<String>,
    program_args: Vec<String>,
    json: bool,
    seed: u64,
    keep: bool,
}

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args { sources: vec![], clang_flags: vec![], program_args: vec![], json: false, seed: 1, keep: false };
    let mut it = args.iter();
    while let Some(x) = it.next() {
        match x.as_str() {
            "-h" | "--help" => return Ok(None),
            "--json" => a.json = true,
            "--keep" => a.keep = true,
            "--seed" => a.seed = it.next().and_then(|s| s.parse().ok()).ok_or("--seed needs a number")?,
            "--" => {
                for y in it.by_ref() {
                    if y == "--" {
                        a.program_args = it.by_ref().cloned().collect();
                        break;
                    }
                    a.clang_flags.push(y.clone());
                }
            }
            s if s.starts_with('-') => return Err(format!("unknown option `{s}` (clang flags go after `--`)")),
            s => a.sources.push(s.to_string()),
        }
    }
    if a.sources.is_empty() {
        return Err("no source file".into());
    }
    Ok(Some(a))
}

pub fn main(args: &[String]) -> i32 {
    let a = match parse(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return 0;
        }
        Err(e) => {
            eprintln!("radx check: {e}\n\n{HELP}");
            return 2;
        }
    };
    match run(&a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("radx check: {e}");
            2
        }
    }
}

fn sh(cmd: &mut Command, what: &str) -> Result<(), String> {
    let o = cmd.output().map_err(|e| format!("cannot run {what}: {e}"))?;
    if !o.status.success() {
        return Err(format!("{what} failed:\n{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)));
    }
    Ok(())
}

fn scratch() -> Result<PathBuf, String> {
    for n in 0..1000u32 {
        let d = std::env::temp_dir().join(format!("radx-check-{}-{n}", std::process::id()));
        if std::fs::create_dir(&d).is_ok() {
            return Ok(d);
        }
    }
    Err("cannot create a temporary directory".into())
}

fn run(a: &Args) -> Result<i32, String> {
    let dir = scratch()?;
    let result = build_and_run(a, &dir);
    if a.keep {
        eprintln!("radx check: build directory {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn build_and_run(a: &Args, dir: &Path) -> Result<i32, String> {
    let clang = crate::cc::clang_path(false);
    let mut bcs = Vec::new();
    for (k, src) in a.sources.iter().enumerate() {
        let bc = dir.join(format!("{k}.bc"));
        sh(
            Command::new(&clang).args(["-O2", "-g"]).args(&a.clang_flags).args(["-Wno-unused-command-line-argument", "-c", "-emit-llvm"]).arg(src).arg("-o").arg(&bc),
            &format!("compiling `{src}`"),
        )?;
        bcs.push(bc);
    }
    // Each attempt drops a check that needs a derivative the program's code has not got
    // (a function whose forward mode RadX cannot make, say), rather than giving up.
    let attempts = [Coverage { bisection: true, dot_test: true }, Coverage { bisection: false, dot_test: true }, Coverage { bisection: false, dot_test: false }];
    let exe = dir.join("checked");
    let mut requests = Vec::new();
    let mut last_error = String::new();
    let mut built = None;
    for (n, &coverage) in attempts.iter().enumerate() {
        let ctx = Context::create();
        let m = load(&ctx, &bcs)?;
        let plan = check::instrument(m.as_mut_ptr(), coverage).map_err(|d| d.to_string())?;
        std::fs::write(dir.join("check.c"), &plan.c_source).map_err(|e| e.to_string())?;
        sh(Command::new(&clang).args(["-O1", "-c", "-emit-llvm", "-w"]).arg(dir.join("check.c")).arg("-o").arg(dir.join("check.bc")), "compiling the checker")?;
        let checker = read(&ctx, &dir.join("check.bc"))?;
        m.link_in_module(checker).map_err(|e| format!("linking the checker into the program: {e}"))?;
        let instrumented = dir.join(format!("instrumented{n}.bc"));
        m.write_bitcode_to_path(&instrumented);
        requests = plan.requests;
        let o = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .arg("cc")
            .arg("-O2")
            .arg(&instrumented)
            .args(a.clang_flags.iter().filter(|f| !f.starts_with("-O")))
            .arg("-o")
            .arg(&exe)
            .arg("-lm")
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            built = Some(coverage);
            break;
        }
        last_error = String::from_utf8_lossy(&o.stderr).into_owned();
    }
    let Some(coverage) = built else {
        return Err(format!("the program does not build with RadX:\n{last_error}"));
    };
    let report = dir.join("report.jsonl");
    let status = Command::new(&exe)
        .args(&a.program_args)
        .env("RADX_CHECK_OUT", &report)
        .env("RADX_CHECK_SEED", a.seed.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run the program: {e}"))?;
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let mut found: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let seen: Vec<u64> = found.iter().filter_map(|j| j["id"].as_u64()).collect();
    for r in &requests {
        if !seen.contains(&(r.id as u64)) {
            found.push(not_reached(r));
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
    let failed = found.iter().any(|j| j["status"] == "mismatch");
    if a.json {
        for j in &found {
            println!("{j}");
        }
    } else {
        print!("{}", tables(&found));
        for n in &notes {
            println!("note: {n}");
        }
        let count = |s: &str| found.iter().filter(|j| j["status"] == s).count();
        println!(
            "radx check: {} request(s): {} ok, {} mismatch, {} skipped, {} not reached",
            found.len(),
            count("ok"),
            count("mismatch"),
            count("skipped"),
            count("not reached")
        );
    }
    Ok(if failed { 1 } else { 0 })
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

fn tables(found: &[serde_json::Value]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
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
    s
}

fn read<'c>(ctx: &'c Context, path: &Path) -> Result<Module<'c>, String> {
    let buf = MemoryBuffer::create_from_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    ctx.create_module_from_ir(buf).map_err(|e| format!("cannot parse {}: {e}", path.display()))
}

fn load<'c>(ctx: &'c Context, bcs: &[PathBuf]) -> Result<Module<'c>, String> {
    let m = read(ctx, &bcs[0])?;
    for bc in &bcs[1..] {
        m.link_in_module(read(ctx, bc)?).map_err(|e| format!("linking {}: {e}", bc.display()))?;
    }
    Ok(m)
}
