//! Bitcode from other LLVMs: `radx opt` reads the bitcode the clang of every older LLVM
//! RadX builds on writes (LLVM reads the bitcode of older versions) and differentiates it
//! correctly, and bitcode from a newer one is either read or refused with a hint naming the
//! RadX to use — never a crash. The programs are tests/c's, which check their derivatives
//! against analytic values and exit non-zero on a mismatch.
//!
//! A clang that is not installed is skipped with a message; with RADX_REQUIRE_LLVMS=1 (CI,
//! where deps/setup.sh installs every LLVM) it is a failure instead.

use radx_core::ir::llvm::{MAJOR, SUPPORTED_MAJORS};
use std::path::{Path, PathBuf};
use std::process::Command;

const RADX: &str = env!("CARGO_BIN_EXE_radx");
/// Forward mode through calls, and reverse mode through loops and joins.
const PROGRAMS: &[&str] = &["calls", "joins", "arrays_loops"];

fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("c")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("radx-older-bitcode-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `clang-<major>`, when installed.
fn clang_of(major: u32) -> Option<String> {
    let name = format!("clang-{major}");
    let found = Command::new(&name).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if found {
        return Some(name);
    }
    assert!(std::env::var("RADX_REQUIRE_LLVMS").map(|v| v != "1").unwrap_or(true), "{name} is not installed (RADX_REQUIRE_LLVMS=1)");
    eprintln!("skipped LLVM {major}: {name} is not installed (RADX_LLVM={major} deps/setup.sh installs it)");
    None
}

/// Compiles `program` with `clang` to bitcode at `opt`, and returns (radx opt's output, the
/// differentiated bitcode's path).
fn differentiate(clang: &str, program: &str, opt: &str, dir: &Path) -> (std::process::Output, PathBuf) {
    let bc = dir.join(format!("{program}{opt}.bc"));
    let out = Command::new(clang).args([opt, "-c", "-emit-llvm", "-Wno-everything", "-I"]).arg(c_dir()).arg(c_dir().join(format!("{program}.c"))).arg("-o").arg(&bc).output().unwrap();
    assert!(out.status.success(), "{clang} cannot compile {program}.c: {}", String::from_utf8_lossy(&out.stderr));
    let diffed = dir.join(format!("{program}{opt}.radx.bc"));
    (Command::new(RADX).arg("opt").arg(&bc).arg("-o").arg(&diffed).output().unwrap(), diffed)
}

#[test]
fn bitcode_of_older_llvms_is_read_and_differentiated() {
    let mut checked = 0;
    for &older in SUPPORTED_MAJORS.iter().filter(|&&m| m < MAJOR) {
        let Some(clang) = clang_of(older) else { continue };
        let dir = scratch(&format!("llvm{older}"));
        for program in PROGRAMS {
            for opt in ["-O0", "-O2"] {
                let (out, diffed) = differentiate(&clang, program, opt, &dir);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "radx opt (LLVM {MAJOR}) on {clang} {opt} bitcode of {program}.c failed:\n{err}");
                let exe = dir.join(format!("{program}{opt}"));
                let link = Command::new(radx_core::ir::llvm::tool("clang")).arg(&diffed).arg("-O2").arg("-o").arg(&exe).arg("-lm").output().unwrap();
                assert!(link.status.success(), "compiling the derivatives of {program}.c failed: {}", String::from_utf8_lossy(&link.stderr));
                let run = Command::new(&exe).output().unwrap();
                assert!(run.status.success(), "{program}.c ({clang} {opt}, differentiated on LLVM {MAJOR}) got a derivative wrong:\n{}", String::from_utf8_lossy(&run.stdout));
                checked += 1;
            }
        }
    }
    eprintln!("differentiated {checked} older-LLVM builds on LLVM {MAJOR}");
}

#[test]
fn bitcode_of_newer_llvms_is_read_or_refused_with_the_radx_to_use() {
    for &newer in SUPPORTED_MAJORS.iter().filter(|&&m| m > MAJOR) {
        let Some(clang) = clang_of(newer) else { continue };
        let dir = scratch(&format!("llvm{newer}"));
        for program in PROGRAMS {
            let (out, _) = differentiate(&clang, program, "-O2", &dir);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked") && out.status.code().is_some(), "radx opt crashed on {clang} bitcode:\n{err}");
            if !out.status.success() {
                assert!(err.contains(&format!("written by LLVM {newer}")) && err.contains(&format!("RADX_LLVM={newer}")), "{err}");
            }
        }
    }
}
