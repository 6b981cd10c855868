//! Julia-shaped IR (Julia 1.11 / GPUCompiler style: address spaces 10-13, `julia.*`
//! intrinsics, runtime calls) differentiated in forward and reverse mode and run against
//! the small C runtime in `tests/julia/runtime.c`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/julia")
}

fn tool(name: &str) -> String {
    radx_core::ir::llvm::tool(name)
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("radx-julia-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The driver (C) is linked with the Julia-shaped modules into one module, as a front end
/// hands RadX the module of the function to differentiate, then differentiated and run.
fn differentiate_and_run(opt: &str) {
    let d = dir();
    let t = scratch(&opt[1..]);
    run(Command::new(tool("clang")).args([opt, "-S", "-emit-llvm"]).arg(d.join("driver.c")).arg("-o").arg(t.join("driver.ll")));
    run(Command::new(tool("llvm-link"))
        .arg("-S")
        .arg(t.join("driver.ll"))
        .arg(d.join("arrays.ll"))
        .arg(d.join("objects.ll"))
        .arg("-o")
        .arg(t.join("all.ll")));
    run(Command::new(env!("CARGO_BIN_EXE_radx")).arg("opt").arg(t.join("all.ll")).arg("-o").arg(t.join("out.ll")));
    run(Command::new(tool("clang"))
        .args([opt, "-Wno-override-module"])
        .arg(t.join("out.ll"))
        .arg(d.join("runtime.c"))
        .arg("-lm")
        .arg("-o")
        .arg(t.join("t")));
    let out = run(&mut Command::new(t.join("t")));
    assert!(String::from_utf8_lossy(&out.stdout).contains("julia-shaped IR: ok"));
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn julia_shaped_ir_at_o0() {
    differentiate_and_run("-O0");
}

#[test]
fn julia_shaped_ir_at_o2() {
    differentiate_and_run("-O2");
}

#[test]
fn dynamic_dispatch_is_rejected_by_name() {
    let t = scratch("dispatch");
    let out = Command::new(env!("CARGO_BIN_EXE_radx")).arg("opt").arg(dir().join("dispatch.ll")).arg("-o").arg(t.join("out.ll")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("jlcall") && err.contains("julia_unstable_301") && err.contains("@julia.call"), "{err}");
    let _ = std::fs::remove_dir_all(&t);
}
