//! Running LLVM's own passes on chosen functions, and verifying a module: the helpers the
//! engine (preparing copies), the pipeline and the C API (cleaning up derivatives) share.
//!
//! Floor: the IR floor, above diagnostics; it used to live in pipeline.rs, the top, where
//! the engine had to import upwards to reach it.

use crate::diag::{Code, Diagnostic, Result};
use crate::ir::{self, Value};
use llvm_sys::core::*;
use llvm_sys::prelude::LLVMModuleRef;
use std::ffi::CStr;

/// Canonicalisation of the copies derivatives are generated from: promote memory to
/// registers, fold, and simplify control flow. Runs even on -O0 code (whose originals
/// stay untouched), so derivatives never shadow a local variable's stack slot.
/// Loops end in canonical form (preheaders, one latch, exits entered only from the loop),
/// which lets the reverse sweep recover induction variables instead of caching them.
pub const PREPARE_PIPELINE: &str =
    "function(sroa,mem2reg,early-cse,instcombine,simplifycfg,loop-simplify,lcssa,loop(loop-rotate,indvars),loop-simplify,lcssa)";

/// Cleanup of generated functions when the caller will not optimize them itself.
pub const CLEANUP_PIPELINE: &str = "function(sroa,mem2reg,instcombine,early-cse,simplifycfg,dse,adce)";

/// Runs a function pipeline on `funcs` only: every other defined function is marked
/// `optnone` for the duration, which the pass manager honours.
pub fn run_function_passes(module: LLVMModuleRef, funcs: &[Value], pipeline: &str) -> Result<()> {
    let mut marked = Vec::new();
    for f in ir::functions(module) {
        if ir::is_declaration(f) || funcs.contains(&f) || ir::has_fn_attr(f, "optnone") {
            continue;
        }
        let had_noinline = ir::has_fn_attr(f, "noinline");
        ir::add_fn_attr(f, "optnone");
        if !had_noinline {
            ir::add_fn_attr(f, "noinline");
        }
        marked.push((f, had_noinline));
    }
    let had_optnone: Vec<(Value, bool)> = funcs.iter().map(|&f| (f, ir::has_fn_attr(f, "optnone"))).collect();
    for &(f, h) in &had_optnone {
        if h {
            ir::remove_fn_attr(f, "optnone");
            ir::remove_fn_attr(f, "noinline");
        }
    }
    let result = unsafe {
        let opts = llvm_sys::transforms::pass_builder::LLVMCreatePassBuilderOptions();
        let p = ir::cstring(&ir::llvm::pass_pipeline(pipeline));
        let err = llvm_sys::transforms::pass_builder::LLVMRunPasses(module, p.as_ptr(), std::ptr::null_mut(), opts);
        llvm_sys::transforms::pass_builder::LLVMDisposePassBuilderOptions(opts);
        if err.is_null() {
            Ok(())
        } else {
            let m = llvm_sys::error::LLVMGetErrorMessage(err);
            let s = CStr::from_ptr(m).to_string_lossy().into_owned();
            llvm_sys::error::LLVMDisposeErrorMessage(m);
            Err(Diagnostic::new(Code::Internal, format!("pass pipeline `{pipeline}` failed: {s}")))
        }
    };
    for (f, had_noinline) in marked {
        ir::remove_fn_attr(f, "optnone");
        if !had_noinline {
            ir::remove_fn_attr(f, "noinline");
        }
    }
    result
}

pub fn verify_module(module: LLVMModuleRef) -> Result<()> {
    unsafe {
        let mut msg = std::ptr::null_mut();
        let broken = llvm_sys::analysis::LLVMVerifyModule(module, llvm_sys::analysis::LLVMVerifierFailureAction::LLVMReturnStatusAction, &mut msg);
        let text = if msg.is_null() { String::new() } else { CStr::from_ptr(msg).to_string_lossy().into_owned() };
        if !msg.is_null() {
            LLVMDisposeMessage(msg);
        }
        if broken != 0 {
            return Err(Diagnostic::new(Code::Internal, format!("the module fails verification after differentiation: {}", text.trim()))
                .hint("this is a bug in RadX; please report it with the input module"));
        }
    }
    Ok(())
}
