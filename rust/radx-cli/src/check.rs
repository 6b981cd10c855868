//! `radx check`: builds the program with every derivative request instrumented
//! (`radx_core::check`), runs it, and prints what the checker runtime found per request.

use radx_core::check::driver;
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
program cannot be built or run, or crashes).

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

fn run(a: &Args) -> Result<i32, String> {
    let dir = driver::scratch_dir()?;
    let result = build_and_run(a, &dir);
    if a.keep {
        eprintln!("radx check: build directory {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn build_and_run(a: &Args, dir: &std::path::Path) -> Result<i32, String> {
    let clang = crate::cc::clang_path(false);
    let mut modules = Vec::new();
    for (k, src) in a.sources.iter().enumerate() {
        let bc = dir.join(format!("{k}.bc"));
        let o = Command::new(&clang)
            .args(["-O2", "-g"])
            .args(&a.clang_flags)
            .args(["-Wno-unused-command-line-argument", "-c", "-emit-llvm"])
            .arg(src)
            .arg("-o")
            .arg(&bc)
            .output()
            .map_err(|e| format!("cannot run {clang}: {e}"))?;
        if !o.status.success() {
            return Err(format!("compiling `{src}` failed:\n{}", String::from_utf8_lossy(&o.stderr)));
        }
        modules.push(std::fs::read(&bc).map_err(|e| e.to_string())?);
    }
    let setup = driver::Setup {
        link_flags: a.clang_flags.iter().filter(|f| !f.starts_with("-O")).cloned().collect(),
        program_args: a.program_args.clone(),
        seed: a.seed,
        dir: dir.to_path_buf(),
    };
    let outcome = driver::check_program(&modules, &setup)?;
    if a.json {
        for j in &outcome.requests {
            println!("{j}");
        }
    } else {
        print!("{}", driver::tables(&outcome));
    }
    if let Some(how) = &outcome.crashed {
        eprintln!("radx check: the program crashed ({how}); the requests it had not reached were not checked");
        return Ok(2);
    }
    Ok(if outcome.failed() { 1 } else { 0 })
}
