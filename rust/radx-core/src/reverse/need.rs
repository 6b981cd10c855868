//! What the reverse sweep reads (`Need`) and how each read is served (`Strategy`), with
//! the facts about single instructions that the planning rests on.
//!
//! Floor: the bottom of reverse mode. The generator's state (`gen.rs`) holds needs and
//! strategies; the planning (`plan.rs`, `cache_choice.rs`, `joins.rs`) decides them and
//! the sweeps read them, so the types live below all of those.

use crate::analysis::cfg::Cfg;
use crate::ir::{self, Value};
use crate::rules;
use llvm_sys::LLVMOpcode::{self, *};

/// A value the reverse sweep reads: a primal value, the shadow of a pointer, or the tape
/// a call's augmented forward returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Need {
    Primal(Value),
    Shadow(Value),
    CallTape(Value),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// A constant, an argument, or (combined mode) a value computed once before every return.
    Direct,
    /// Rebuilt in the reverse sweep from other needs.
    Recompute,
    /// Pushed by the forward sweep, popped by the reverse.
    Cache,
    /// Split mode: the shadow of a stack allocation, re-created (zeroed) by the reverse.
    ReverseAlloca,
}

/// Pure operations cheap enough to redo rather than store.
pub(super) fn cheap_integer_or_address(op: LLVMOpcode) -> bool {
    matches!(
        op,
        LLVMGetElementPtr | LLVMBitCast | LLVMAddrSpaceCast | LLVMPtrToInt | LLVMIntToPtr | LLVMTrunc | LLVMZExt | LLVMSExt
            | LLVMSIToFP | LLVMUIToFP | LLVMFPToSI | LLVMFPToUI | LLVMAdd | LLVMSub | LLVMMul | LLVMShl | LLVMLShr | LLVMAShr
            | LLVMAnd | LLVMOr | LLVMXor | LLVMICmp | LLVMFCmp | LLVMSelect | LLVMExtractValue | LLVMInsertValue
            | LLVMExtractElement | LLVMInsertElement | LLVMShuffleVector | LLVMFreeze | LLVMFPExt | LLVMFPTrunc
    )
}

pub(super) fn cheap_float(op: LLVMOpcode) -> bool {
    matches!(op, LLVMFAdd | LLVMFSub | LLVMFMul | LLVMFNeg)
}

/// Julia's task-local values (the GC stack, the current task, type tags) and loads from
/// them are recomputed, never cached: the reverse sweep may run on another task.
pub(super) fn reads_task_state(v: Value) -> bool {
    task_local(v) || ir::opcode(v) == Some(LLVMLoad) && task_local(ir::underlying_object(ir::operand(v, 0)))
}

fn task_local(v: Value) -> bool {
    let Some(name) = ir::called_function(v).filter(|_| ir::opcode(v) == Some(LLVMCall)).map(ir::name_of) else { return false };
    rules::julia::julia_call(&name) == Some(rules::julia::JuliaCall::InactiveRecompute) || rules::gpu::gpu_call(&name) == Some(rules::gpu::GpuCall::Index)
}

/// An order of needs that follows the function's text (arguments, then instructions by block
/// in reverse post-order and place in the block; primals before shadows before call tapes),
/// for lists gathered from hash sets before they become code. Sorting such lists by the
/// needs' debug text sorted them by address, so one module's derivative pushed its tape in a
/// different order from run to run.
pub(super) fn program_order(cfg: &Cfg, n: Need) -> (u8, usize, usize, String) {
    let kind = match n {
        Need::Primal(_) => 0,
        Need::Shadow(_) => 1,
        Need::CallTape(_) => 2,
    };
    let v = need_value(n);
    if ir::is_argument(v) {
        (kind, 0, ir::position(v), String::new())
    } else if ir::is_instruction(v) {
        let block = cfg.block_index(ir::parent_block(v)).map_or(usize::MAX, |b| b + 1);
        (kind, block, ir::position(v), String::new())
    } else {
        (kind, usize::MAX, 0, ir::name_of(v))
    }
}

pub fn need_value(n: Need) -> Value {
    match n {
        Need::Primal(v) | Need::Shadow(v) | Need::CallTape(v) => v,
    }
}

pub(super) fn is_block_or_metadata(v: Value) -> bool {
    ir::value_as_block(v).is_some() || unsafe { llvm_sys::core::LLVMIsAMDNode(v).is_null() == false }
}
