//! RadX on GPUs.
//!
//! * [`source`]: CUDA C / HIP device code to LLVM IR with clang (no CUDA or ROCm install needed).
//! * [`diff`]: derivatives of kernels through radx-core, by explicit request (the derivative of
//!   a kernel is a kernel taking each argument followed by its shadow) or by lowering
//!   Enzyme-style `__enzyme_autodiff` / `__enzyme_fwddiff` calls made from device code.
//! * [`codegen`]: LLVM module to PTX (NVPTX backend) or to an AMDGPU code object (AMDGPU
//!   backend, linked with `ld.lld -shared`).
//! * [`device`]: a small launcher over either vendor runtime: buffers, modules, launches,
//!   timing. The runtimes are optional features: `cuda` (cudarc, libcuda loaded at run time)
//!   and `rocm` (HIP runtime bound by hand through libloading, libamdhip64 loaded at run time).
//!   Both build on machines without a GPU or vendor toolkit.
//! * [`emulate`]: a CPU emulator of NVPTX kernels (threads, barriers, shared memory,
//!   atomics) so derivative kernels can be checked numerically without a GPU.
//!
//! See `docs/gpu.md`.

pub mod codegen;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod device;
pub mod diff;
pub mod emulate;
#[cfg(feature = "rocm")]
pub mod hip;
pub mod source;

pub use codegen::{compile_amdgpu, compile_ptx, link_code_object, CodegenOptions};
pub use device::{Arg, Buffer, Dims, Gpu, Kernel, LoadedModule};
pub use diff::{differentiate_kernels, kernel_kind, lower_enzyme_calls, DerivedKernel, KernelKind, KernelRequest};
pub use source::{compile_source, parse_ir};

/// The two GPU targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuTarget {
    /// NVIDIA: `nvptx64-nvidia-cuda`, PTX text.
    Nvptx,
    /// AMD: `amdgcn-amd-amdhsa`, an HSA code object (ELF shared object).
    Amdgpu,
}

impl GpuTarget {
    pub fn triple(self) -> &'static str {
        match self {
            GpuTarget::Nvptx => "nvptx64-nvidia-cuda",
            GpuTarget::Amdgpu => "amdgcn-amd-amdhsa",
        }
    }

    /// The default processor: `sm_80` (A100; runs on H100 too) and `gfx90a` (MI200).
    pub fn default_cpu(self) -> &'static str {
        match self {
            GpuTarget::Nvptx => "sm_80",
            GpuTarget::Amdgpu => "gfx90a",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GpuTarget::Nvptx => "nvptx",
            GpuTarget::Amdgpu => "amdgpu",
        }
    }

    pub fn from_name(s: &str) -> Option<GpuTarget> {
        match s {
            "nvptx" | "nvptx64" | "cuda" | "ptx" => Some(GpuTarget::Nvptx),
            "amdgpu" | "amdgcn" | "hip" | "rocm" => Some(GpuTarget::Amdgpu),
            _ => None,
        }
    }
}

/// Everything that can go wrong, kept printable for test output.
#[derive(Debug)]
pub enum Error {
    /// radx-core could not differentiate (one diagnostic per failed request).
    Diagnostics(Vec<radx_core::Diagnostic>),
    /// The result of differentiation is not what a GPU needs (e.g. the derivative of a kernel
    /// is not itself a kernel).
    Derivative(String),
    /// An external tool (clang, ld.lld) failed.
    Tool { command: String, status: String, stderr: String },
    /// LLVM rejected a module or could not generate code for it.
    Llvm(String),
    /// The GPU runtime reported an error, or is not available.
    Runtime(String),
    Io(std::io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Diagnostics(ds) => {
                for (i, d) in ds.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{d}")?;
                }
                Ok(())
            }
            Error::Derivative(s) => write!(f, "derivative: {s}"),
            Error::Tool { command, status, stderr } => write!(f, "`{command}` failed ({status}):\n{}", stderr.trim_end()),
            Error::Llvm(s) => write!(f, "LLVM: {s}"),
            Error::Runtime(s) => write!(f, "GPU runtime: {s}"),
            Error::Io(e) => write!(f, "I/O: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A fresh scratch directory under the system temporary directory.
pub fn scratch_dir(tag: &str) -> Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!("radx-gpu-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// The program named by environment variable `var`, else the first of `candidates` that runs.
pub(crate) fn find_tool(var: &str, candidates: &[&str]) -> String {
    if let Ok(c) = std::env::var(var) {
        if !c.is_empty() {
            return c;
        }
    }
    for c in candidates {
        if std::process::Command::new(c).arg("--version").output().map(|o| o.status.success()).unwrap_or(false) {
            return c.to_string();
        }
    }
    candidates[0].to_string()
}

pub(crate) fn run_tool(cmd: &mut std::process::Command) -> Result<std::process::Output> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| Error::Tool { command: shown.clone(), status: "could not start".into(), stderr: e.to_string() })?;
    if !out.status.success() {
        return Err(Error::Tool { command: shown, status: out.status.to_string(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() });
    }
    Ok(out)
}
