//! Builds `tests/c/capi_test.c` against `include/radx.h` and the libradx.so cargo built,
//! and runs it (it differentiates a module made by clang, compiles the result, runs it
//! and checks the derivatives against analytic values), and `tests/c/capi_rev_test.c`
//! (ABI 2: reverse modes, signatures, the in-process door through the program's own
//! LLVM-C, custom-rule registries).

mod common;
use std::path::Path;
use std::process::Command;

#[test]
fn c_program_using_libradx() {
    let krate = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let libdir = [deps, deps.parent().unwrap()].into_iter().find(|d| d.join("libradx.so").exists()).expect("libradx.so built by cargo");
    println!("using {}", libdir.join("libradx.so").display());
    let work = common::scratch("c");
    let clang = common::clang();
    let build = Command::new(&clang)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-I"])
        .arg(krate.join("include"))
        .arg(krate.join("tests/c/capi_test.c"))
        .arg("-L")
        .arg(libdir)
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .args(["-lradx", "-o"])
        .arg(work.join("capi_test"))
        .output()
        .expect("run clang");
    assert!(build.status.success(), "building capi_test.c failed:\n{}", String::from_utf8_lossy(&build.stderr));
    // cargo's LD_LIBRARY_PATH may list target/release (holding the libradx.so of the last
    // `cargo build`) before deps/ (the one built for this test run): name the fresh one.
    let run = Command::new(work.join("capi_test")).env("LD_LIBRARY_PATH", libdir).arg(&clang).arg(krate.join("tests/c")).arg(&work).output().unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    println!("{out}\n{err}");
    assert!(run.status.success(), "capi_test failed ({}):\n{out}\n{err}", run.status);
    assert!(out.contains("check: all derivatives agree"), "{out}");
    assert!(out.contains("magic: ") && out.contains(": ok"), "{out}");
    assert!(out.contains("capi_test: all checks passed"), "{out}");
}

/// The LLVM that libradx links (where llvm-c's headers and libLLVM are).
fn llvm_prefix() -> String {
    radx_core::ir::llvm::PREFIX.to_string()
}

#[test]
fn c_program_using_abi_2_in_process() {
    let krate = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let libdir = [deps, deps.parent().unwrap()].into_iter().find(|d| d.join("libradx.so").exists()).expect("libradx.so built by cargo");
    let llvm = Path::new(&llvm_prefix()).to_path_buf();
    let work = common::scratch("crev");
    let clang = common::clang();
    let build = Command::new(&clang)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-I"])
        .arg(krate.join("include"))
        .arg("-I")
        .arg(llvm.join("include"))
        .arg(krate.join("tests/c/capi_rev_test.c"))
        .arg("-L")
        .arg(libdir)
        .arg("-L")
        .arg(llvm.join("lib"))
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .arg(format!("-Wl,-rpath,{}", llvm.join("lib").display()))
        .args(["-lradx", "-lLLVM", "-o"])
        .arg(work.join("capi_rev_test"))
        .output()
        .expect("run clang");
    assert!(build.status.success(), "building capi_rev_test.c failed:\n{}", String::from_utf8_lossy(&build.stderr));
    let run = Command::new(work.join("capi_rev_test")).env("LD_LIBRARY_PATH", libdir).arg(&clang).arg(krate.join("tests/c")).arg(&work).output().unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    println!("{out}\n{err}");
    assert!(run.status.success(), "capi_rev_test failed ({}):\n{out}\n{err}", run.status);
    assert!(out.contains("check_rev: all adjoints agree"), "{out}");
    assert!(out.contains("RADX_ERR_LLVM_MISMATCH") || radx_core::ir::llvm::MAJOR == 15, "{out}");
    assert!(out.contains("capi_rev_test: all checks passed"), "{out}");
}
