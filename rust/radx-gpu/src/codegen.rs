//! LLVM module to PTX (NVPTX backend) and to an AMDGPU code object (AMDGPU backend, then
//! `ld.lld -shared`), through inkwell's `TargetMachine`.
//!
//! The caller's module is never changed: code generation works on a clone.
//!
//! Note: LLVM aborts the process on some code-generation failures ("Cannot select ...").
//! Callers that must survive bad input (tests over generated derivatives) run the `radx-gpu
//! compile` command of this crate in a child process instead.

use radx_core::llvm_sys;
use crate::{find_tool, run_tool, scratch_dir, Error, GpuTarget, Result};
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::OptimizationLevel;
use std::process::Command;
use std::sync::Once;

#[derive(Clone, Debug)]
pub struct CodegenOptions {
    pub target: GpuTarget,
    /// `sm_80`, `sm_90`, `gfx90a`, `gfx942`, ...
    pub cpu: String,
    /// Target features, e.g. `+ptx78` (empty: the backend's default for `cpu`).
    pub features: String,
    pub level: OptimizationLevel,
    /// Run LLVM's `default<O2>` pipeline on the module before code generation.
    pub optimize_ir: bool,
    /// The linker for AMDGPU code objects: `$RADX_LLD`, else the ld.lld of radx's LLVM.
    pub linker: Option<String>,
}

impl CodegenOptions {
    pub fn new(target: GpuTarget) -> CodegenOptions {
        CodegenOptions { target, cpu: target.default_cpu().to_string(), features: String::new(), level: OptimizationLevel::Default, optimize_ir: true, linker: None }
    }

    pub fn cpu(mut self, cpu: &str) -> CodegenOptions {
        self.cpu = cpu.to_string();
        self
    }

    pub fn features(mut self, f: &str) -> CodegenOptions {
        self.features = f.to_string();
        self
    }
}

fn init_targets() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let c = InitializationConfig::default();
        Target::initialize_nvptx(&c);
        Target::initialize_amd_gpu(&c);
    });
}

/// The host target and MCJIT, for the emulator; process symbols (malloc, ...) resolvable.
pub(crate) fn init_native() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        Target::initialize_native(&InitializationConfig::default()).expect("the host target");
        unsafe {
            llvm_sys::execution_engine::LLVMLinkInMCJIT();
            llvm_sys::support::LLVMLoadLibraryPermanently(std::ptr::null());
        }
    });
}

/// A target machine for `opts`.
pub fn target_machine(opts: &CodegenOptions) -> Result<TargetMachine> {
    init_targets();
    let triple = TargetTriple::create(opts.target.triple());
    let target = Target::from_triple(&triple).map_err(|e| Error::Llvm(format!("no LLVM target for {}: {}", opts.target.triple(), e.to_string().trim())))?;
    let reloc = match opts.target {
        GpuTarget::Nvptx => RelocMode::Default,
        GpuTarget::Amdgpu => RelocMode::PIC,
    };
    target
        .create_target_machine(&triple, &opts.cpu, &opts.features, opts.level, reloc, CodeModel::Default)
        .ok_or_else(|| Error::Llvm(format!("cannot create a target machine for {} cpu `{}` features `{}`", opts.target.triple(), opts.cpu, opts.features)))
}

/// A clone of `module` with the target's triple and data layout, verified, optionally
/// optimized.
fn prepared_clone<'c>(module: &Module<'c>, tm: &TargetMachine, opts: &CodegenOptions) -> Result<Module<'c>> {
    let m = module.clone();
    let triple = m.get_triple();
    let want = opts.target.triple();
    let have = triple.as_str().to_string_lossy().into_owned();
    if have != want {
        if !have.is_empty() {
            return Err(Error::Llvm(format!("the module is for `{have}`, not `{want}`")));
        }
        m.set_triple(&TargetTriple::create(want));
        m.set_data_layout(&tm.get_target_data().get_data_layout());
    }
    m.verify().map_err(|e| Error::Llvm(format!("the module fails verification: {}", e.to_string().trim())))?;
    if opts.optimize_ir {
        m.run_passes("default<O2>", tm, PassBuilderOptions::create()).map_err(|e| Error::Llvm(format!("optimizing: {}", e.to_string().trim())))?;
    }
    Ok(m)
}

/// PTX assembly for `module` (`opts.target` must be [`GpuTarget::Nvptx`]).
pub fn compile_ptx(module: &Module, opts: &CodegenOptions) -> Result<String> {
    if opts.target != GpuTarget::Nvptx {
        return Err(Error::Llvm("compile_ptx needs the nvptx target".into()));
    }
    let tm = target_machine(opts)?;
    let m = prepared_clone(module, &tm, opts)?;
    let buf = tm.write_to_memory_buffer(&m, FileType::Assembly).map_err(|e| Error::Llvm(format!("PTX generation: {}", e.to_string().trim())))?;
    String::from_utf8(buf.as_slice().to_vec()).map_err(|e| Error::Llvm(format!("PTX is not UTF-8: {e}")))
}

/// A relocatable AMDGPU object file for `module`.
pub fn compile_amdgpu_object(module: &Module, opts: &CodegenOptions) -> Result<Vec<u8>> {
    if opts.target != GpuTarget::Amdgpu {
        return Err(Error::Llvm("compile_amdgpu_object needs the amdgpu target".into()));
    }
    let tm = target_machine(opts)?;
    let m = prepared_clone(module, &tm, opts)?;
    let buf = tm.write_to_memory_buffer(&m, FileType::Object).map_err(|e| Error::Llvm(format!("AMDGPU code generation: {}", e.to_string().trim())))?;
    Ok(buf.as_slice().to_vec())
}

/// The linker for AMDGPU code objects.
pub fn linker(opts: &CodegenOptions) -> String {
    opts.linker.clone().unwrap_or_else(|| find_tool("RADX_LLD", &[&radx_core::ir::llvm::tool("ld.lld"), "ld.lld"]))
}

/// Links an AMDGPU object into a loadable code object (`ld.lld -shared --no-undefined`: a
/// code object is self-contained, and the HIP loader cannot resolve anything, so a call of
/// an undefined function such as `malloc` is an error here rather than at load time).
pub fn link_code_object(object: &[u8], linker: &str) -> Result<Vec<u8>> {
    let d = scratch_dir("lld")?;
    let o = d.join("kernel.o");
    let so = d.join("kernel.hsaco");
    std::fs::write(&o, object)?;
    let r = run_tool(Command::new(linker).arg("-shared").arg("--no-undefined").arg(&o).arg("-o").arg(&so));
    let r = r.and_then(|_| Ok(std::fs::read(&so)?));
    let _ = std::fs::remove_dir_all(&d);
    r
}

/// A loadable AMDGPU code object (HSA ELF) for `module`.
pub fn compile_amdgpu(module: &Module, opts: &CodegenOptions) -> Result<Vec<u8>> {
    let o = compile_amdgpu_object(module, opts)?;
    link_code_object(&o, &linker(opts))
}

/// The image a runtime loads: PTX text (NUL-terminated, as `cuModuleLoadData` wants it) or
/// an AMDGPU code object.
pub fn compile(module: &Module, opts: &CodegenOptions) -> Result<Vec<u8>> {
    match opts.target {
        GpuTarget::Nvptx => {
            let mut p = compile_ptx(module, opts)?.into_bytes();
            p.push(0);
            Ok(p)
        }
        GpuTarget::Amdgpu => compile_amdgpu(module, opts),
    }
}

/// Functions a PTX module declares but does not define (`.extern .func`).
pub fn ptx_externs(ptx: &str) -> Vec<String> {
    ptx.lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix(".extern .func")?;
            let rest = rest.trim_start();
            // `.extern .func (.param .b64 func_retval0) malloc` or `.extern .func free`
            let rest = if rest.starts_with('(') { &rest[rest.find(')')? + 1..] } else { rest };
            Some(rest.trim().split(|c: char| c == '(' || c.is_whitespace()).next()?.to_string())
        })
        .collect()
}

/// Device functions the CUDA driver provides to every PTX module.
pub const CUDA_DRIVER_FUNCTIONS: &[&str] = &["malloc", "free", "vprintf", "__assertfail"];

/// The names of the kernels (`.entry` in PTX) an image defines: for tests and messages.
pub fn ptx_entries(ptx: &str) -> Vec<String> {
    ptx.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l.strip_prefix(".visible .entry ").or_else(|| l.strip_prefix(".entry "))?;
            Some(rest.split(|c: char| c == '(' || c.is_whitespace()).next()?.to_string())
        })
        .collect()
}
