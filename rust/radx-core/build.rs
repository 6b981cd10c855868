//! Records the version of the LLVM this build links (`llvm-config --version` of the prefix
//! llvm-sys uses), so a build on LLVM 15, which has no `LLVMGetVersion`, can still say
//! which LLVM it is and refuse modules from another.

use std::process::Command;

fn main() {
    let major = if cfg!(feature = "llvm15") {
        "15"
    } else if cfg!(feature = "llvm19") {
        "19"
    } else {
        "16"
    };
    let prefix_var = match major {
        "15" => "LLVM_SYS_150_PREFIX",
        "19" => "LLVM_SYS_191_PREFIX",
        _ => "LLVM_SYS_160_PREFIX",
    };
    println!("cargo:rerun-if-env-changed={prefix_var}");
    let prefix = std::env::var(prefix_var).ok().filter(|p| !p.is_empty()).unwrap_or_else(|| format!("/usr/lib/llvm-{major}"));
    println!("cargo:rustc-env=RADX_LLVM_PREFIX={prefix}");
    let mut candidates = vec![format!("{prefix}/bin/llvm-config")];
    candidates.push(format!("llvm-config-{major}"));
    candidates.push(format!("/usr/lib/llvm-{major}/bin/llvm-config"));
    let version = candidates
        .iter()
        .find_map(|c| Command::new(c).arg("--version").output().ok().filter(|o| o.status.success()))
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        // llvm-sys has already insisted on finding this LLVM; the major is certain.
        .unwrap_or_else(|| format!("{major}.0.0"));
    println!("cargo:rustc-env=RADX_LLVM_BUILD_VERSION={version}");
}
