//! GPU intrinsics of NVPTX and AMDGPU kernels (CUDA, HIP, CUDA.jl, AMDGPU.jl).
//!
//! Math functions of the device libraries (`__nv_*` from libdevice, `__ocml_*` from
//! ROCm's OCML) and NVVM's math intrinsics resolve to the ordinary rules in `math.rs`
//! (see `rules::rule_for_callee`); what is here has no elementwise derivative.

use crate::ir::{self, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuCall {
    /// Thread, block and grid indices and sizes: inactive and recomputed in the reverse
    /// sweep (never cached: they are free to read again).
    Index,
    /// A block-wide barrier: kept in the forward sweep and emitted again where the
    /// reverse sweep passes it, so adjoint accumulation into shared memory is ordered.
    Barrier,
    /// Votes, ballots, fences, masks: no derivative.
    Inactive,
    /// A warp shuffle: the adjoint is shuffled back the other way.
    Shuffle(Shuffle),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shuffle {
    /// `shfl.bfly` (xor): its own inverse.
    Butterfly,
    /// `shfl.down` by a lane offset.
    Down,
    /// `shfl.up` by a lane offset.
    Up,
    /// `shfl.idx`: a broadcast.
    Index,
}

const INDEX_PREFIXES: &[&str] = &[
    "llvm.nvvm.read.ptx.sreg.",
    "llvm.amdgcn.workitem.id.",
    "llvm.amdgcn.workgroup.id.",
    "llvm.amdgcn.dispatch.ptr",
    "llvm.amdgcn.implicitarg.ptr",
    "llvm.amdgcn.kernarg.segment.ptr",
    "llvm.amdgcn.mbcnt.",
    "llvm.amdgcn.lds.kernel.id",
    "__ockl_get_local_id",
    "__ockl_get_group_id",
    "__ockl_get_local_size",
    "__ockl_get_num_groups",
    "__ockl_get_global_id",
    "__ockl_get_global_size",
];

const BARRIERS: &[&str] = &["llvm.nvvm.barrier0", "llvm.nvvm.barrier.sync", "llvm.nvvm.bar.sync", "llvm.amdgcn.s.barrier", "__syncthreads"];

const INACTIVE_PREFIXES: &[&str] = &[
    "llvm.nvvm.vote.",
    "llvm.nvvm.activemask",
    "llvm.nvvm.membar.",
    "llvm.nvvm.fence.",
    "llvm.nvvm.bar.warp.sync",
    "llvm.nvvm.barrier0.popc",
    "llvm.nvvm.barrier0.and",
    "llvm.nvvm.barrier0.or",
    "llvm.amdgcn.ballot",
    "llvm.amdgcn.s.waitcnt",
    "llvm.amdgcn.wave.barrier",
    "llvm.amdgcn.s.sleep",
    "llvm.nvvm.nanosleep",
    "vprintf",
    "__assertfail",
];

pub fn gpu_call(name: &str) -> Option<GpuCall> {
    if INACTIVE_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some(GpuCall::Inactive);
    }
    if BARRIERS.contains(&name) {
        return Some(GpuCall::Barrier);
    }
    if INDEX_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some(GpuCall::Index);
    }
    if let Some(rest) = name.strip_prefix("llvm.nvvm.shfl.sync.") {
        let kind = rest.split('.').next().unwrap_or("");
        return Some(GpuCall::Shuffle(match kind {
            "bfly" => Shuffle::Butterfly,
            "down" => Shuffle::Down,
            "up" => Shuffle::Up,
            _ => Shuffle::Index,
        }));
    }
    None
}

impl GpuCall {
    /// The data operand of a shuffle (`shfl.sync.*(mask, value, lane, clamp)`).
    pub fn shuffled_value(self) -> Option<usize> {
        matches!(self, GpuCall::Shuffle(_)).then_some(1)
    }
}

/// Maps device-library and NVVM math names to the libm name whose rule applies:
/// `__nv_sinf` -> `sinf`, `__ocml_sin_f32` -> `sin`, `llvm.nvvm.sqrt.rn.d` -> `sqrt`,
/// `llvm.nvvm.ex2.approx.f` -> `exp2`.
pub fn math_alias(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix("__nv_") {
        return Some(rest.trim_start_matches("fast_").to_string());
    }
    if let Some(rest) = name.strip_prefix("__ocml_") {
        let base = rest.trim_end_matches("_f64").trim_end_matches("_f32").trim_end_matches("_f16");
        return Some(base.strip_prefix("native_").unwrap_or(base).to_string());
    }
    if let Some(rest) = name.strip_prefix("llvm.nvvm.") {
        let base = rest.split('.').next().unwrap_or(rest);
        let mapped = match base {
            "ex2" => "exp2",
            "lg2" => "log2",
            "sqrt" | "rsqrt" | "sin" | "cos" | "fma" | "fabs" | "fmin" | "fmax" | "floor" | "ceil" | "trunc" => base,
            _ => return None,
        };
        return Some(mapped.to_string());
    }
    None
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceLibrary {
    LibDevice,
    Ocml,
}

/// The math library derivative code calls on this module's target, if it is a GPU.
pub fn device_library(m: llvm_sys::prelude::LLVMModuleRef) -> Option<DeviceLibrary> {
    if is_amdgpu_module(m) {
        Some(DeviceLibrary::Ocml)
    } else if is_gpu_module(m) {
        Some(DeviceLibrary::LibDevice)
    } else {
        None
    }
}

/// Is the module compiled for a GPU?
pub fn is_gpu_module(m: llvm_sys::prelude::LLVMModuleRef) -> bool {
    let t = unsafe { std::ffi::CStr::from_ptr(llvm_sys::core::LLVMGetTarget(m)) }.to_string_lossy().into_owned();
    t.starts_with("nvptx") || t.starts_with("amdgcn")
}

pub fn is_amdgpu_module(m: llvm_sys::prelude::LLVMModuleRef) -> bool {
    let t = unsafe { std::ffi::CStr::from_ptr(llvm_sys::core::LLVMGetTarget(m)) }.to_string_lossy().into_owned();
    t.starts_with("amdgcn")
}

/// Is `f` a kernel (an entry point launched from the host)?
pub fn is_kernel(f: Value) -> bool {
    let cc = unsafe { llvm_sys::core::LLVMGetFunctionCallConv(f) };
    if cc == 71 || cc == 91 {
        return true; // PTX_Kernel, AMDGPU_KERNEL
    }
    nvvm_kernels(ir::module_of_function(f)).contains(&f)
}

/// Functions listed as kernels in `!nvvm.annotations` (`!{ptr @f, !"kernel", i32 1}`).
pub fn nvvm_kernels(m: llvm_sys::prelude::LLVMModuleRef) -> Vec<Value> {
    use llvm_sys::core::*;
    let name = b"nvvm.annotations\0";
    let mut out = Vec::new();
    unsafe {
        let n = LLVMGetNamedMetadataNumOperands(m, name.as_ptr() as *const _);
        let mut nodes = vec![std::ptr::null_mut(); n as usize];
        LLVMGetNamedMetadataOperands(m, name.as_ptr() as *const _, nodes.as_mut_ptr());
        for node in nodes {
            if LLVMGetMDNodeNumOperands(node) < 3 {
                continue;
            }
            let mut ops = vec![std::ptr::null_mut(); LLVMGetMDNodeNumOperands(node) as usize];
            LLVMGetMDNodeOperands(node, ops.as_mut_ptr());
            let mut len = 0;
            let s = LLVMGetMDString(ops[1], &mut len);
            if !s.is_null() && std::slice::from_raw_parts(s as *const u8, len as usize) == b"kernel" && !ops[0].is_null() && !LLVMIsAFunction(ops[0]).is_null() {
                out.push(ops[0]);
            }
        }
    }
    out
}

/// Makes `derivative` a kernel like `kernel`: external, same calling convention, listed in
/// `!nvvm.annotations` when the original is.
// Named metadata operands are values in the C API, which the newer metadata calls do not
// produce without an extra conversion per operand; the older calls are exact here.
#[allow(deprecated)]
pub fn mark_as_kernel(kernel: Value, derivative: Value) {
    use llvm_sys::core::*;
    unsafe {
        LLVMSetLinkage(derivative, llvm_sys::LLVMLinkage::LLVMExternalLinkage);
        LLVMSetFunctionCallConv(derivative, LLVMGetFunctionCallConv(kernel));
        let m = ir::module_of_function(kernel);
        if nvvm_kernels(m).contains(&kernel) {
            let ctx = LLVMGetModuleContext(m);
            let s = LLVMMDStringInContext(ctx, b"kernel".as_ptr() as *const _, 6);
            let one = LLVMConstInt(LLVMInt32TypeInContext(ctx), 1, 0);
            let mut ops = [derivative, s, one];
            let node = LLVMMDNodeInContext(ctx, ops.as_mut_ptr(), 3);
            LLVMAddNamedMetadataOperand(m, b"nvvm.annotations\0".as_ptr() as *const _, node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(gpu_call("llvm.nvvm.read.ptx.sreg.tid.x"), Some(GpuCall::Index));
        assert_eq!(gpu_call("llvm.amdgcn.workitem.id.x"), Some(GpuCall::Index));
        assert_eq!(gpu_call("llvm.nvvm.barrier0"), Some(GpuCall::Barrier));
        assert_eq!(gpu_call("llvm.nvvm.barrier0.popc"), Some(GpuCall::Inactive));
        assert_eq!(gpu_call("llvm.nvvm.shfl.sync.bfly.f32"), Some(GpuCall::Shuffle(Shuffle::Butterfly)));
        assert_eq!(math_alias("__nv_sinf").as_deref(), Some("sinf"));
        assert_eq!(math_alias("__nv_fast_expf").as_deref(), Some("expf"));
        assert_eq!(math_alias("__ocml_exp_f64").as_deref(), Some("exp"));
        assert_eq!(math_alias("llvm.nvvm.ex2.approx.f").as_deref(), Some("exp2"));
        assert_eq!(math_alias("llvm.nvvm.read.ptx.sreg.tid.x"), None);
    }
}
