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
/// Loops end in canonical form (preheaders, one latch, exits entered only from the loop,
/// rotated so the exit test is at the latch), which lets the reverse sweep recover
/// induction variables instead of caching them. The values induction variables carry out
/// of their loops are then rewritten by `analysis::exit_values` rather than by `indvars`,
/// which did that and much more for two thirds of this pipeline's time, and made the
/// same tapes on the benchmarks or larger ones.
pub const PREPARE_PIPELINE: &str = "function(sroa,mem2reg,early-cse,instcombine,simplifycfg,loop-simplify,lcssa,loop(loop-rotate),loop-simplify,lcssa)";

/// For copies whose loops are not yet in the form the reverse sweep steers by (a narrow
/// counter tested with `<`, as unoptimized code has): `indvars` widens the counters and
/// rewrites the exit tests into `==` on the trip count.
pub const INDVARS_PIPELINE: &str = "function(loop(indvars),loop-simplify,lcssa)";

/// Cleanup of generated functions, after `analysis::promote_slots` has made SSA values of
/// their stack slots: what is left of the sweeps' bookkeeping, not the algebra. The
/// reverse sweep reloads values and zeroes it never reads again (early-cse, which also
/// simplifies every instruction it visits, so a separate instsimplify found 4 instructions
/// more on GMM for 3 M instructions of work; adce), and its edge blocks are often empty
/// (simplifycfg). mem2reg promotes what `promote_slots` leaves (slots with lifetime markers,
/// say), and costs nothing where nothing is left. InstCombine's and DSE's further 15 % of
/// instructions cost four times as much as all of this, and every consumer of the result
/// (clang at the user's -O, Julia's pipeline, `opt -O2`) runs them anyway.
pub const CLEANUP_PIPELINE: &str = "function(mem2reg,early-cse,simplifycfg,adce)";

/// The same, first splitting aggregates into scalars: for generated functions that keep
/// an array or struct on the stack (shadows of local arrays), which mem2reg cannot promote.
pub const CLEANUP_PIPELINE_WITH_SROA: &str = "function(sroa,mem2reg,early-cse,simplifycfg,adce)";

/// The cleanup `funcs` need: SROA only where some stack slot is not a plain scalar and
/// does not escape into a call. The reverse sweep's tape header (`{ ptr, i64, i64 }`, handed
/// to every push and pop) is such a slot that SROA can do nothing with.
pub fn cleanup_pipeline(funcs: &[Value]) -> &'static str {
    let splittable_slot = funcs.iter().flat_map(|&f| ir::instructions(ir::entry_block(f))).any(|i| {
        ir::opcode(i) == Some(llvm_sys::LLVMOpcode::LLVMAlloca) && {
            let t = unsafe { LLVMGetAllocatedType(i) };
            let aggregate = matches!(ir::type_kind(t), llvm_sys::LLVMTypeKind::LLVMArrayTypeKind | llvm_sys::LLVMTypeKind::LLVMStructTypeKind)
                || ir::const_int_value(ir::operand(i, 0)) != Some(1);
            let escapes = ir::users(i).into_iter().any(|u| {
                matches!(ir::opcode(u), Some(llvm_sys::LLVMOpcode::LLVMCall | llvm_sys::LLVMOpcode::LLVMInvoke))
                    && ir::called_function(u).map_or(true, |c| ir::intrinsic_id(c) == 0)
            });
            aggregate && !escapes
        }
    });
    if splittable_slot {
        CLEANUP_PIPELINE_WITH_SROA
    } else {
        CLEANUP_PIPELINE
    }
}

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

/// The functions of a module before RadX changes it, so that what is new afterwards (the
/// derivatives and their helpers) is known without looking at anything else.
pub struct Snapshot(crate::collections::HashMap<Value, String>);

impl Snapshot {
    pub fn take(module: LLVMModuleRef) -> Snapshot {
        Snapshot(ir::functions(module).into_iter().map(|f| (f, ir::name_of(f))).collect())
    }

    /// Defined functions of `module` that were not there when the snapshot was taken.
    fn new_in(&self, module: LLVMModuleRef) -> Vec<Value> {
        ir::functions(module).into_iter().filter(|&f| !ir::is_declaration(f) && self.0.get(&f).map_or(true, |name| *name != ir::name_of(f))).collect()
    }
}

/// Verifies what RadX made or changed: the functions new since `before` and `changed` (the
/// callers whose magic calls were rewritten). The input was verified when it was read; the
/// rest of a large module (a Julia session's, a program's other functions) is not looked at
/// again. A failure is reported with the whole module's verifier message.
pub fn verify_changed(module: LLVMModuleRef, before: &Snapshot, changed: &[Value]) -> Result<()> {
    let mut funcs = before.new_in(module);
    funcs.extend(changed.iter().copied().filter(|f| !ir::is_declaration(*f)));
    let broken = funcs.iter().any(|&f| unsafe { llvm_sys::analysis::LLVMVerifyFunction(f, llvm_sys::analysis::LLVMVerifierFailureAction::LLVMReturnStatusAction) } != 0);
    if broken {
        verify_module(module)?;
        return Err(Diagnostic::new(Code::Internal, "a function RadX generated fails verification").hint("this is a bug in RadX; please report it with the input module"));
    }
    Ok(())
}
