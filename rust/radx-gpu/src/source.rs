//! CUDA C / HIP device code to LLVM IR with clang, without CUDA or ROCm installed.
//!
//! The source must not include the vendor headers; `kernels/gpu.h` in this crate spells the
//! few things kernels need (`__global__`, `__shared__`, thread indices, barriers, atomics)
//! with clang builtins for both targets.

use crate::{find_tool, run_tool, Error, GpuTarget, Result};
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use std::path::Path;
use std::process::Command;

/// The clang used for device code: `$RADX_CLANG`, else the clang of radx's LLVM.
pub fn clang() -> String {
    find_tool("RADX_CLANG", &[&radx_core::ir::llvm::tool("clang")])
}

/// The clang arguments that compile CUDA C (NVPTX) or HIP (AMDGPU) device code for `cpu`
/// to LLVM IR text.
pub fn clang_args(target: GpuTarget, cpu: &str) -> Vec<String> {
    let mut a: Vec<String> = match target {
        GpuTarget::Nvptx => vec!["-x".into(), "cuda".into(), "--cuda-device-only".into(), format!("--cuda-gpu-arch={cpu}"), "-nocudainc".into(), "-nocudalib".into()],
        GpuTarget::Amdgpu => vec!["-x".into(), "hip".into(), "--cuda-device-only".into(), format!("--offload-arch={cpu}"), "-nogpuinc".into(), "-nogpulib".into()],
    };
    a.extend(["-S", "-emit-llvm", "-Wno-unknown-cuda-version"].map(String::from));
    a
}

/// Compiles the device code in `path` for `target`/`cpu` at optimization level `opt`
/// (`"-O2"`, ...) with the extra `flags` (`-D...`, `-I...`), returning LLVM IR text.
pub fn compile_source(path: &Path, target: GpuTarget, cpu: &str, opt: &str, flags: &[String]) -> Result<String> {
    let out = run_tool(Command::new(clang()).args(clang_args(target, cpu)).arg(opt).args(flags).arg(path).arg("-o").arg("-"))?;
    String::from_utf8(out.stdout).map_err(|e| Error::Llvm(format!("clang wrote non-UTF-8 IR: {e}")))
}

/// Parses LLVM IR text (or bitcode) into a module of `ctx`.
pub fn parse_ir<'c>(ctx: &'c Context, ir: &[u8], name: &str) -> Result<Module<'c>> {
    let buf = MemoryBuffer::create_from_memory_range_copy(ir, name);
    ctx.create_module_from_ir(buf).map_err(|e| Error::Llvm(format!("`{name}` is not valid LLVM IR: {}", e.to_string().trim())))
}
