//! Derivatives of GPU kernels through radx-core.
//!
//! Two ways, as in Enzyme:
//! * explicit requests ([`differentiate_kernels`]): the derivative of a kernel is itself a
//!   kernel (external, with the kernel calling convention or `nvvm.annotations` entry) that
//!   takes each argument followed by its shadow when the argument is duplicated; reverse mode
//!   is combined (`diffe<kernel>`), forward mode returns nothing (`fwddiffe<kernel>`: the
//!   tangents of outputs are written through the shadow pointers);
//! * Enzyme style ([`lower_enzyme_calls`]): a `__global__` wrapper calls
//!   `__enzyme_autodiff((void*)device_body, enzyme_dup, x, dx, ...)` on a `__device__`
//!   function; radx-core's `lower_module` replaces the call by a call of the derivative.

use radx_core::llvm_sys;
use crate::{Error, GpuTarget, Result};
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::values::AsValueRef;
use llvm_sys::core::*;
use llvm_sys::prelude::{LLVMModuleRef, LLVMValueRef};
pub use radx_core::request::RevArg;
pub use radx_core::ArgActivity;
use radx_core::{Engine, ForwardRequest, Options};
use std::ffi::{CStr, CString};

/// `CallingConv::PTX_Kernel`.
pub const CC_PTX_KERNEL: u32 = 71;
/// `CallingConv::AMDGPU_KERNEL`.
pub const CC_AMDGPU_KERNEL: u32 = 91;

/// How (whether) a function is marked as a kernel entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelKind {
    NotKernel,
    /// `ptx_kernel` calling convention (GPUCompiler, clang >= 20).
    PtxKernelCc,
    /// `!nvvm.annotations = !{!{ptr @f, !"kernel", i32 1}}` (clang <= 19, old GPUCompiler).
    NvvmAnnotation,
    /// `amdgpu_kernel` calling convention.
    AmdgpuKernel,
}

impl KernelKind {
    pub fn is_kernel(self) -> bool {
        self != KernelKind::NotKernel
    }
}

/// One derivative of a kernel, explicitly requested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelRequest {
    /// Combined reverse mode: `diffe<kernel>(a0, [da0,] a1, [da1,] ...)`. Kernels return
    /// nothing, so `Active` arguments make no sense: scalars are `Const`.
    Reverse { kernel: String, args: Vec<RevArg> },
    /// Forward mode, width 1: `fwddiffe<kernel>(a0, [ta0,] ...)`; scalars may be `Dup`
    /// (their tangent follows them by value).
    Forward { kernel: String, args: Vec<ArgActivity> },
}

impl KernelRequest {
    pub fn kernel(&self) -> &str {
        match self {
            KernelRequest::Reverse { kernel, .. } | KernelRequest::Forward { kernel, .. } => kernel,
        }
    }

    pub fn mode(&self) -> &'static str {
        match self {
            KernelRequest::Reverse { .. } => "reverse",
            KernelRequest::Forward { .. } => "forward",
        }
    }

    fn duplicated(&self) -> Vec<bool> {
        match self {
            KernelRequest::Reverse { args, .. } => args.iter().map(|a| *a == RevArg::Dup).collect(),
            KernelRequest::Forward { args, .. } => args.iter().map(|a| *a == ArgActivity::Dup).collect(),
        }
    }
}

/// A generated derivative kernel.
#[derive(Clone, Debug)]
pub struct DerivedKernel {
    /// The kernel it is the derivative of.
    pub source: String,
    /// Its own symbol, to launch it by.
    pub name: String,
    pub mode: &'static str,
    pub kind: KernelKind,
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in names")
}

pub(crate) fn name_of(v: LLVMValueRef) -> String {
    unsafe {
        let mut len = 0;
        let p = LLVMGetValueName2(v, &mut len);
        String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len)).into_owned()
    }
}

pub fn function_named(module: LLVMModuleRef, name: &str) -> Option<LLVMValueRef> {
    let f = unsafe { LLVMGetNamedFunction(module, cstr(name).as_ptr()) };
    (!f.is_null()).then_some(f)
}

/// Whether `f` (a function of `module`) is a kernel entry point, and how it is marked.
pub fn kernel_kind(module: LLVMModuleRef, f: LLVMValueRef) -> KernelKind {
    unsafe {
        match LLVMGetFunctionCallConv(f) {
            CC_PTX_KERNEL => return KernelKind::PtxKernelCc,
            CC_AMDGPU_KERNEL => return KernelKind::AmdgpuKernel,
            _ => {}
        }
        let md = cstr("nvvm.annotations");
        let n = LLVMGetNamedMetadataNumOperands(module, md.as_ptr());
        let mut nodes = vec![std::ptr::null_mut(); n as usize];
        if n > 0 {
            LLVMGetNamedMetadataOperands(module, md.as_ptr(), nodes.as_mut_ptr());
        }
        for node in nodes {
            let k = LLVMGetMDNodeNumOperands(node);
            if k < 3 {
                continue;
            }
            let mut ops = vec![std::ptr::null_mut(); k as usize];
            LLVMGetMDNodeOperands(node, ops.as_mut_ptr());
            if ops[0] != f || ops[1].is_null() {
                continue;
            }
            let mut len = 0;
            let s = LLVMGetMDString(ops[1], &mut len);
            if s.is_null() || std::slice::from_raw_parts(s as *const u8, len as usize) != b"kernel" {
                continue;
            }
            if LLVMIsAConstantInt(ops[2]).is_null() || LLVMConstIntGetZExtValue(ops[2]) == 1 {
                return KernelKind::NvvmAnnotation;
            }
        }
        KernelKind::NotKernel
    }
}

/// The names of the kernels a module defines.
pub fn kernels(module: &Module) -> Vec<String> {
    let m = module.as_mut_ptr();
    module.get_functions().filter(|f| f.count_basic_blocks() > 0 && kernel_kind(m, f.as_value_ref()).is_kernel()).map(|f| f.get_name().to_string_lossy().into_owned()).collect()
}

/// What is wrong with `derived` as the derivative kernel of `source` for `req`, if anything:
/// it must be an external kernel whose parameters are the source's, each followed by a copy
/// of its type when duplicated.
fn check_derived(module: LLVMModuleRef, source: LLVMValueRef, derived: LLVMValueRef, req: &KernelRequest) -> Option<String> {
    let mut problems = Vec::new();
    let kind = kernel_kind(module, derived);
    if !kind.is_kernel() {
        problems.push(format!("it is not a kernel (calling convention {}, no `nvvm.annotations` kernel entry)", unsafe { LLVMGetFunctionCallConv(derived) }));
    }
    let linkage = unsafe { LLVMGetLinkage(derived) };
    if matches!(linkage, llvm_sys::LLVMLinkage::LLVMInternalLinkage | llvm_sys::LLVMLinkage::LLVMPrivateLinkage) {
        problems.push(format!("its linkage is {linkage:?}, so the runtime cannot find it"));
    }
    unsafe {
        let src_ty = LLVMGlobalGetValueType(source);
        let dst_ty = LLVMGlobalGetValueType(derived);
        let n = LLVMCountParamTypes(src_ty) as usize;
        let mut src_params = vec![std::ptr::null_mut(); n];
        LLVMGetParamTypes(src_ty, src_params.as_mut_ptr());
        let mut want = Vec::new();
        for (t, dup) in src_params.into_iter().zip(req.duplicated()) {
            want.push(t);
            if dup {
                want.push(t);
            }
        }
        let m = LLVMCountParamTypes(dst_ty) as usize;
        let mut have = vec![std::ptr::null_mut(); m];
        LLVMGetParamTypes(dst_ty, have.as_mut_ptr());
        if have != want {
            let show = |ts: &[llvm_sys::prelude::LLVMTypeRef]| ts.iter().map(|&t| type_string(t)).collect::<Vec<_>>().join(", ");
            problems.push(format!("its parameters are ({}), expected ({})", show(&have), show(&want)));
        }
        if LLVMGetTypeKind(LLVMGetReturnType(dst_ty)) != llvm_sys::LLVMTypeKind::LLVMVoidTypeKind {
            problems.push(format!("it returns {}, a kernel returns void", type_string(LLVMGetReturnType(dst_ty))));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn type_string(t: llvm_sys::prelude::LLVMTypeRef) -> String {
    unsafe {
        let p = LLVMPrintTypeToString(t);
        let s = CStr::from_ptr(p).to_string_lossy().into_owned();
        LLVMDisposeMessage(p);
        s
    }
}

/// Generates the derivative kernels `reqs` asks for into `module`, cleans them up and
/// verifies the module. On failure the module must be discarded: every diagnostic radx-core
/// produced is returned, or, when generation succeeded but a derivative is not a launchable
/// kernel of the expected signature, an [`Error::Derivative`] saying what is wrong.
pub fn differentiate_kernels(module: &Module, reqs: &[KernelRequest], options: &Options) -> Result<Vec<DerivedKernel>> {
    let m = module.as_mut_ptr();
    radx_core::ir::llvm::check_module(m).map_err(|d| Error::Diagnostics(vec![d]))?;
    let mut engine = Engine::new(m, options.clone());
    let mut diags = Vec::new();
    let mut made = Vec::new();
    for req in reqs {
        let Some(f) = function_named(m, req.kernel()) else {
            diags.push(radx_core::Diagnostic::new(radx_core::Code::BadRequest, format!("no function `{}` in the module", req.kernel())));
            continue;
        };
        if !kernel_kind(m, f).is_kernel() {
            diags.push(radx_core::Diagnostic::new(radx_core::Code::BadRequest, format!("`{}` is not a kernel", req.kernel())).hint("differentiate device functions with `__enzyme_autodiff` from a kernel, or with radx_core::Engine"));
            continue;
        }
        let r = match req {
            KernelRequest::Reverse { args, .. } => engine
                .reverse(&radx_core::request::ReverseRequest { function: f, args: args.clone(), return_active: false, return_primal: false, return_shadow: false, combined: true })
                .map(|fns| fns.reverse),
            KernelRequest::Forward { args, .. } => engine.forward(&ForwardRequest { function: f, args: args.clone(), width: 1, return_primal: false, return_tangent: false }),
        };
        match r {
            Ok(d) => made.push((req, f, d)),
            Err(d) => diags.push(d),
        }
    }
    engine.finish();
    if !diags.is_empty() {
        return Err(Error::Diagnostics(diags));
    }
    if options.postopt {
        let generated: Vec<LLVMValueRef> = engine.generated.iter().filter_map(|g| function_named(m, &g.name)).collect();
        radx_core::pipeline::run_function_passes(m, &generated, radx_core::pipeline::cleanup_pipeline(&generated)).map_err(|d| Error::Diagnostics(vec![d]))?;
    }
    radx_core::pipeline::verify_module(m).map_err(|d| Error::Diagnostics(vec![d]))?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (req, f, d) in made {
        let name = name_of(d);
        if let Some(p) = check_derived(m, f, d, req) {
            problems.push(format!("the {} derivative `{name}` of kernel `{}`: {p}", req.mode(), req.kernel()));
        }
        out.push(DerivedKernel { source: req.kernel().to_string(), name, mode: req.mode(), kind: kernel_kind(m, d) });
    }
    if !problems.is_empty() {
        return Err(Error::Derivative(problems.join("\n")));
    }
    Ok(out)
}

/// Lowers every `__enzyme_*` call of `module` (Enzyme style, from device code).
pub fn lower_enzyme_calls(module: &Module, options: &Options) -> Result<radx_core::Report> {
    radx_core::lower_module(module.as_mut_ptr(), options).map_err(Error::Diagnostics)
}

/// The default activity of a kernel's parameters: pointers duplicated, everything else
/// constant in reverse mode; in forward mode floating-point scalars are duplicated too.
pub fn default_activity(module: &Module, kernel: &str, forward: bool) -> Option<Vec<bool>> {
    let f = module.get_function(kernel)?;
    Some(
        f.get_type()
            .get_param_types()
            .iter()
            .map(|t| t.is_pointer_type() || (forward && t.is_float_type()))
            .collect(),
    )
}

/// Parses `ir`, generates the derivative kernels `reqs` asks for, and returns the module
/// (primal kernels and derivative kernels) ready for [`crate::codegen`].
pub fn derivative_module<'c>(ctx: &'c Context, ir: &[u8], name: &str, reqs: &[KernelRequest], options: &Options) -> Result<(Module<'c>, Vec<DerivedKernel>)> {
    let module = crate::parse_ir(ctx, ir, name)?;
    let derived = differentiate_kernels(&module, reqs, options)?;
    Ok((module, derived))
}

/// The target a module's triple names, if it is a GPU one.
pub fn module_target(module: &Module) -> Option<GpuTarget> {
    let t = module.get_triple();
    let s = t.as_str().to_string_lossy();
    if s.starts_with("nvptx") {
        Some(GpuTarget::Nvptx)
    } else if s.starts_with("amdgcn") {
        Some(GpuTarget::Amdgpu)
    } else {
        None
    }
}

/// Reverse-mode activity from a per-parameter "duplicated" list.
pub fn rev_args(dup: &[bool]) -> Vec<RevArg> {
    dup.iter().map(|&d| if d { RevArg::Dup } else { RevArg::Const }).collect()
}

/// Forward-mode activity from a per-parameter "duplicated" list.
pub fn fwd_args(dup: &[bool]) -> Vec<ArgActivity> {
    dup.iter().map(|&d| if d { ArgActivity::Dup } else { ArgActivity::Const }).collect()
}
