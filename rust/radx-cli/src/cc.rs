//! `radx cc`: a drop-in for the clang of radx's LLVM (`clang-16` on LLVM 16) that differentiates magic calls between compiling
//! to IR and generating code.
//!
//! Each source is compiled to bitcode at the user's -O level (so derivatives are taken of
//! optimized code), differentiated in process, then handed back to clang with the user's
//! flags, in the user's order, which compiles (optimizing the derivatives at the same
//! level) and links. Anything that does not compile a source (linking objects, -E, -M,
//! --version) goes to clang unchanged.

use crate::opt::{self, OptArgs};
use radx_core::Options;
use std::path::{Path, PathBuf};
use std::process::Command;

const HELP: &str = "\
radx cc CLANG-ARGS...

A drop-in for the clang of the LLVM radx is built on (`radx --version` names it; clang-16
for LLVM 16, $RADX_CLANG if set): compiles each C/C++ source to LLVM IR at the requested -O level,
rewrites its __enzyme_* calls into calls of generated derivatives, and finishes compiling
and linking with the same flags (-c, -S, -o, -O*, -g, -I, -D, -l, -L, -fopenmp, -x, several
sources, objects and libraries pass through). Diagnostics name the function and, for -g
builds, the source line. Exit status: clang's, or 1 when differentiation fails.

RADX OPTIONS (removed before clang sees the arguments):
    --radx-stats        print what was generated for each source
    --radx-no-preopt    do not canonicalise functions before differentiating them
    --radx-keep-temps   keep the intermediate IR files (also RADX_KEEP_TEMPS=1)
    --radx-disable=A,B  switch tape optimizations off, to measure them (also RADX_DISABLE):
                        induction, hoist, flow, recompute, redundant, stack-slots, reserve
";

const SOURCE_EXTS: &[&str] = &["c", "cc", "cpp", "cxx", "c++", "C", "cp", "CPP", "ll", "bc", "i", "ii"];
const CXX_EXTS: &[&str] = &["cc", "cpp", "cxx", "c++", "C", "cp", "CPP", "ii"];

/// Options whose value is the next argument.
const TAKES_VALUE: &[&str] = &[
    "-I", "-D", "-U", "-include", "-isystem", "-iquote", "-idirafter", "-L", "-l", "-MF", "-MT", "-MQ", "-Xlinker", "-Xclang",
    "-Xpreprocessor", "-Xassembler", "-target", "--target", "-arch", "-isysroot", "--sysroot", "-imacros", "-T", "-u", "-z",
];

/// The clang of the LLVM radx is built on (its bitcode is what the engine reads), or
/// `$RADX_CLANG`; for C++ its `clang++` sibling.
pub fn clang_path(cxx: bool) -> String {
    if let Ok(c) = std::env::var("RADX_CLANG") {
        if !c.is_empty() {
            return match c.rfind("clang") {
                Some(at) if cxx && !c.contains("clang++") => format!("{}clang++{}", &c[..at], &c[at + "clang".len()..]),
                _ => c,
            };
        }
    }
    radx_core::ir::llvm::tool(if cxx { "clang++" } else { "clang" })
}

#[derive(Debug)]
enum Arg {
    /// A source file and the `-x` language in force where it appeared.
    Source { path: String, lang: Option<String> },
    /// `-o FILE`
    Output(String),
    /// `-x LANG`
    Lang,
    /// `-c`, `-S`, `-emit-llvm`: what to stop at.
    Stage(String),
    /// Everything else, with its value if it takes one.
    Other(Vec<String>),
}

fn classify(args: &[String]) -> Vec<Arg> {
    let mut out = Vec::new();
    let mut lang: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-o" && i + 1 < args.len() {
            out.push(Arg::Output(args[i + 1].clone()));
            i += 2;
            continue;
        }
        if let Some(o) = a.strip_prefix("-o").filter(|o| !o.is_empty() && !a.starts_with("-objc")) {
            out.push(Arg::Output(o.to_string()));
        } else if a == "-x" && i + 1 < args.len() {
            let l = args[i + 1].clone();
            lang = if l == "none" { None } else { Some(l.clone()) };
            out.push(Arg::Lang);
            i += 2;
            continue;
        } else if let Some(l) = a.strip_prefix("-x").filter(|l| !l.is_empty()) {
            lang = if l == "none" { None } else { Some(l.to_string()) };
            out.push(Arg::Lang);
        } else if a == "-c" || a == "-S" || a == "-emit-llvm" {
            out.push(Arg::Stage(a.clone()));
        } else if TAKES_VALUE.contains(&a.as_str()) && i + 1 < args.len() {
            out.push(Arg::Other(vec![a.clone(), args[i + 1].clone()]));
            i += 2;
            continue;
        } else if !a.starts_with('-') && (lang.is_some() || is_source(a)) && lang.as_deref() != Some("ir") || a.ends_with(".ll") || a.ends_with(".bc") {
            out.push(Arg::Source { path: a.clone(), lang: lang.clone() });
        } else {
            out.push(Arg::Other(vec![a.clone()]));
        }
        i += 1;
    }
    out
}

fn is_source(p: &str) -> bool {
    Path::new(p).extension().and_then(|e| e.to_str()).map(|e| SOURCE_EXTS.contains(&e)).unwrap_or(false)
}

fn is_cxx(p: &str, lang: &Option<String>) -> bool {
    match lang {
        Some(l) => l.starts_with("c++"),
        None => Path::new(p).extension().and_then(|e| e.to_str()).map(|e| CXX_EXTS.contains(&e)).unwrap_or(false),
    }
}

fn run(cmd: &mut Command) -> i32 {
    match cmd.status() {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!("radx cc: cannot run {:?}: {e}", cmd.get_program());
            127
        }
    }
}

struct Temps {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Temps {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("radx cc: intermediate files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn main(raw: &[String], cxx_driver: bool) -> i32 {
    if raw.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return 0;
    }
    let mut stats = false;
    let mut options = Options::default();
    let mut keep = std::env::var("RADX_KEEP_TEMPS").map(|v| v == "1").unwrap_or(false);
    let args: Vec<String> = raw
        .iter()
        .filter(|a| match a.as_str() {
            "--radx-stats" => {
                stats = true;
                false
            }
            "--radx-no-preopt" => {
                options.preopt = false;
                false
            }
            "--radx-keep-temps" => {
                keep = true;
                false
            }
            s if s.starts_with("--radx-disable=") => {
                options.disabled.extend(s["--radx-disable=".len()..].split(',').map(|x| x.to_string()));
                false
            }
            _ => true,
        })
        .cloned()
        .collect();
    let parsed = classify(&args);
    let sources: Vec<(String, Option<String>)> =
        parsed.iter().filter_map(|a| if let Arg::Source { path, lang } = a { Some((path.clone(), lang.clone())) } else { None }).collect();
    let passthrough = sources.is_empty() || args.iter().any(|a| a == "-E" || a == "-M" || a == "-MM" || a == "--version" || a == "-###" || a == "-v" && args.len() == 1);
    let cxx = cxx_driver || sources.iter().any(|(p, l)| is_cxx(p, l));
    let clang = clang_path(cxx);
    if passthrough {
        return run(Command::new(&clang).args(&args));
    }
    let stages: Vec<&str> = parsed.iter().filter_map(|a| if let Arg::Stage(s) = a { Some(s.as_str()) } else { None }).collect();
    let output = parsed.iter().rev().find_map(|a| if let Arg::Output(o) = a { Some(o.clone()) } else { None });
    let compile_only = stages.contains(&"-c") || stages.contains(&"-S");
    if compile_only && sources.len() > 1 && output.is_some() {
        eprintln!("radx cc: cannot specify -o with -c or -S and multiple source files");
        return 1;
    }
    // Flags for compiling one source to IR: everything but inputs, outputs, stages and -x.
    let flags: Vec<String> = parsed
        .iter()
        .flat_map(|a| match a {
            Arg::Other(v) if !is_link_only(v) => v.clone(),
            _ => vec![],
        })
        .collect();
    let temps = match make_temp_dir() {
        Ok(d) => Temps { dir: d, keep },
        Err(e) => {
            eprintln!("radx cc: cannot create a temporary directory: {e}");
            return 1;
        }
    };
    let mut differentiated = Vec::new();
    for (k, (src, lang)) in sources.iter().enumerate() {
        let stem = Path::new(src).file_stem().and_then(|s| s.to_str()).unwrap_or("input");
        let bc = temps.dir.join(format!("{k}-{stem}.bc"));
        let out = temps.dir.join(format!("{k}-{stem}.radx.bc"));
        let is_ir = lang.as_deref() == Some("ir") || src.ends_with(".ll") || src.ends_with(".bc");
        let input_bc = if is_ir {
            src.clone()
        } else {
            let mut cmd = Command::new(&clang);
            cmd.args(&flags).arg("-Wno-unused-command-line-argument").arg("-c").arg("-emit-llvm");
            if let Some(l) = lang {
                cmd.arg("-x").arg(l);
            }
            cmd.arg(src).arg("-o").arg(&bc);
            let rc = run(&mut cmd);
            if rc != 0 {
                return rc;
            }
            bc.to_string_lossy().into_owned()
        };
        let a = OptArgs {
            input: input_bc,
            output: out.to_string_lossy().into_owned(),
            stats,
            stats_json: None,
            // clang optimizes the derivatives at the user's level when it compiles them.
            options: Options { postopt: false, ..options.clone() },
            json_diags: false,
            // Rebuilds of an unchanged file (make, CMake) reuse the derivative when asked.
            cache: if radx_core::cache::env_switch() == Some(true) { radx_core::cache::Cache::from_env() } else { None },
            repeat: 1,
            last_module: false,
        };
        if stats {
            eprintln!("radx cc: {src}");
        }
        if let Err(diags) = opt::run(&a) {
            opt::report(&diags, false);
            return 1;
        }
        differentiated.push((src.clone(), out));
    }
    // The final clang run sees the user's arguments in order, each source replaced by its
    // differentiated bitcode (marked as IR whatever -x said).
    let mut final_args: Vec<String> = Vec::new();
    let mut k = 0;
    for a in &parsed {
        match a {
            Arg::Source { .. } => {
                let (src, bc) = &differentiated[k];
                k += 1;
                final_args.extend(["-x".into(), "ir".into(), bc.to_string_lossy().into_owned(), "-x".into(), "none".into()]);
                if compile_only && output.is_none() {
                    let ext = if stages.contains(&"-S") {
                        if stages.contains(&"-emit-llvm") { "ll" } else { "s" }
                    } else if stages.contains(&"-emit-llvm") {
                        "bc"
                    } else {
                        "o"
                    };
                    let stem = Path::new(src).file_stem().and_then(|s| s.to_str()).unwrap_or("out");
                    final_args.extend(["-o".into(), format!("{stem}.{ext}")]);
                }
            }
            Arg::Output(o) => final_args.extend(["-o".into(), o.clone()]),
            Arg::Lang => {}
            Arg::Stage(s) => final_args.push(s.clone()),
            Arg::Other(v) => final_args.extend(v.iter().cloned()),
        }
    }
    final_args.push("-Wno-unused-command-line-argument".into());
    if compile_only && sources.len() > 1 {
        // clang names outputs after its inputs; compile each source on its own instead.
        return compile_each(&clang, &parsed, &differentiated, &stages);
    }
    run(Command::new(&clang).args(&final_args))
}

fn compile_each(clang: &str, parsed: &[Arg], diffed: &[(String, PathBuf)], stages: &[&str]) -> i32 {
    let flags: Vec<String> = parsed
        .iter()
        .flat_map(|a| match a {
            Arg::Other(v) => v.clone(),
            Arg::Stage(s) => vec![s.clone()],
            _ => vec![],
        })
        .collect();
    for (src, bc) in diffed {
        let ext = if stages.contains(&"-S") { if stages.contains(&"-emit-llvm") { "ll" } else { "s" } } else if stages.contains(&"-emit-llvm") { "bc" } else { "o" };
        let stem = Path::new(src).file_stem().and_then(|s| s.to_str()).unwrap_or("out");
        let rc = run(Command::new(clang).args(&flags).arg("-Wno-unused-command-line-argument").arg("-x").arg("ir").arg(bc).arg("-o").arg(format!("{stem}.{ext}")));
        if rc != 0 {
            return rc;
        }
    }
    0
}

/// Linker inputs and options have no place in a compile-only command.
fn is_link_only(v: &[String]) -> bool {
    let a = v[0].as_str();
    a == "-l" || a == "-L" || a.starts_with("-l") || a.starts_with("-L") || a.starts_with("-Wl,") || a == "-Xlinker" || a == "-shared" || a == "-static"
        || a == "-rdynamic" || (!a.starts_with('-') && (a.ends_with(".o") || a.ends_with(".a") || a.ends_with(".so")))
}

fn make_temp_dir() -> std::io::Result<PathBuf> {
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let d = base.join(format!("radx-cc-{}-{n}", std::process::id()));
        match std::fs::create_dir(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::Other, "no free temporary directory name"))
}
