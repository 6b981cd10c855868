//! Store-to-load forwarding across loops, on the prepared copy a derivative is built from.
//!
//! A scratch array filled by one loop and read by a later one (`for i: xc[i] = x[i] - mu[i];
//! ... for j: use xc[j]`) and refilled on every iteration of an outer loop makes reverse mode
//! cache every read, because the array is overwritten before the reverse sweep comes back.
//! When the value stored is computable from the index and from memory nothing writes, the
//! read can be replaced by that computation at the read's index: the derivative then
//! recomputes it instead of recording it. The rewrite changes only the prepared copy.
//!
//! Conditions, each needed for the rewritten read to see exactly the stored value:
//! - the array is local (stack or heap allocation of this function), only ever read,
//!   written by that one store, freed or marked dead — it never escapes;
//! - both accesses are `gep T, base, i` on the same base with the element type loaded;
//! - the store's index is its loop's steering induction variable, step 1, whose exit test
//!   pins down the last index; the read's index is another such variable with the same
//!   start and the same exit bound — so it reads only indices the loop wrote;
//! - the store loop's one exit dominates the read (its last run is complete before it);
//! - the stored value is a small tree of side-effect-free operations over the store loop's
//!   index, values defined before the loop, and loads of memory that no write can follow.

use super::cfg::Cfg;
use super::memory::{self, MemoryFacts, Object};
use crate::ir::{self, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::{self, *};
use std::collections::HashMap;

/// Largest stored-value tree copied to a read (instructions).
const MAX_TREE: usize = 24;

/// Rewrites every read of `f` that the conditions above allow; returns how many.
pub fn forward_scratch_stores(f: Value) -> usize {
    let cfg = Cfg::new(f);
    let facts = MemoryFacts::new(f);
    let mut rewrites = Vec::new();
    for load in ir::all_instructions(f) {
        if ir::opcode(load) != Some(LLVMLoad) || unsafe { LLVMGetVolatile(load) } != 0 {
            continue;
        }
        if let Some((store, iv_store, iv_load, tree)) = forwardable(&cfg, &facts, load) {
            rewrites.push((load, store, iv_store, iv_load, tree));
        }
    }
    let b = crate::ir::builder::Builder::new(unsafe { LLVMGetGlobalParent(f) });
    for (load, store, iv_store, iv_load, tree) in &rewrites {
        b.position_before(*load);
        let mut map: HashMap<Value, Value> = HashMap::new();
        map.insert(*iv_store, *iv_load);
        // `tree` lists operands before their users.
        for &i in tree {
            let c = unsafe { LLVMInstructionClone(i) };
            for k in 0..ir::num_operands(c) {
                if let Some(&m) = map.get(&ir::operand(c, k)) {
                    ir::set_operand(c, k, m);
                }
            }
            b.insert(c);
            map.insert(i, c);
        }
        let stored = ir::operand(*store, 0);
        let value = map.get(&stored).copied().unwrap_or(stored);
        ir::replace_all_uses(*load, value);
        ir::delete_instruction(*load);
    }
    rewrites.len()
}

/// (the one store, its index variable, the load's index variable, the stored value's
/// instructions inside the store loop in dependency order) when `load` can be forwarded.
fn forwardable(cfg: &Cfg, facts: &MemoryFacts, load: Value) -> Option<(Value, Value, Value, Vec<Value>)> {
    let (base, idx_load, elem) = single_index_gep(ir::operand(load, 0))?;
    if elem != ir::type_of(load) {
        return None;
    }
    let Object::Local(obj) = memory::object_of(base) else { return None };
    let store = only_writer(obj)?;
    let (store_base, idx_store, store_elem) = single_index_gep(ir::operand(store, 1))?;
    let value = ir::operand(store, 0);
    if store_base != base || store_elem != elem || ir::type_of(value) != elem {
        return None;
    }
    let (ls, iv_s) = cfg.induction_of(idx_store)?;
    let (ll, iv_l) = cfg.induction_of(idx_load)?;
    let (lps, lpl) = (&cfg.loops[ls], &cfg.loops[ll]);
    let (xs, xl) = (lps.exit_value?, lpl.exit_value?);
    if lps.induction?.phi != idx_store || lpl.induction?.phi != idx_load || iv_s.step != 1 || iv_l.step != 1 {
        return None;
    }
    if !same_value(iv_s.start, iv_l.start, 4) || !same_value(xs.bound, xl.bound, 4) || xs.compares_next != xl.compares_next {
        return None;
    }
    let load_block = cfg.block_index(ir::parent_block(load))?;
    let store_block = cfg.block_index(ir::parent_block(store))?;
    if !lps.body.contains(&store_block) || lps.body.contains(&load_block) {
        return None;
    }
    let [exit] = lps.exits[..] else { return None };
    if !cfg.dominates(exit, load_block) && !same_guard(cfg, iv_s.preheader, iv_l.preheader, load_block) {
        return None;
    }
    let mut tree = Vec::new();
    collect_tree(cfg, facts, &lps.body, idx_store, value, load_block, &mut tree)?;
    Some((store, idx_store, idx_load, tree))
}

/// The store loop's exit need not dominate the read when both loops sit behind the same
/// test (`if (0 < n)` before each, as LLVM guards rotated loops): the read's loop runs only
/// when the store loop did, in the same iteration of anything around them. Holds when each
/// preheader has one predecessor ending in a branch on the same condition, entering on the
/// same side, and the store loop's guard dominates the read.
fn same_guard(cfg: &Cfg, store_preheader: usize, load_preheader: usize, read: usize) -> bool {
    let guard = |pre: usize| -> Option<(usize, Value, bool)> {
        let [g] = cfg.preds[pre][..] else { return None };
        let t = ir::terminator(cfg.blocks[g]);
        if ir::opcode(t) != Some(LLVMBr) || ir::num_operands(t) != 3 {
            return None;
        }
        let enters_on_true = ir::value_as_block(ir::operand(t, 2)) == Some(cfg.blocks[pre]);
        Some((g, ir::operand(t, 0), enters_on_true))
    };
    let (Some((gs, cs, ts)), Some((_, cl, tl))) = (guard(store_preheader), guard(load_preheader)) else { return false };
    let same_test = ir::opcode(cs) == Some(LLVMICmp)
        && ir::opcode(cl) == Some(LLVMICmp)
        && unsafe { LLVMGetICmpPredicate(cs) == LLVMGetICmpPredicate(cl) }
        && same_value(ir::operand(cs, 0), ir::operand(cl, 0), 4)
        && same_value(ir::operand(cs, 1), ir::operand(cl, 1), 4);
    (cs == cl || same_test) && ts == tl && cfg.dominates(gs, read)
}

/// Do `a` and `b` always hold the same value? The same value, equal integer constants, or
/// the same cast or integer arithmetic of such (each loop computes its own `zext n`).
fn same_value(a: Value, b: Value, depth: u32) -> bool {
    if a == b {
        return true;
    }
    if let (Some(x), Some(y)) = (ir::const_int_value(a), ir::const_int_value(b)) {
        return x == y && ir::type_of(a) == ir::type_of(b);
    }
    if depth == 0 || !ir::is_instruction(a) || !ir::is_instruction(b) || ir::type_of(a) != ir::type_of(b) {
        return false;
    }
    let (Some(op), Some(op_b)) = (ir::opcode(a), ir::opcode(b)) else { return false };
    let same_kind = op == op_b && matches!(op, LLVMSExt | LLVMZExt | LLVMTrunc | LLVMAdd | LLVMSub | LLVMMul | LLVMShl | LLVMAnd | LLVMOr | LLVMXor);
    // Wrap flags differ only in what is poison; both values come from the same inputs.
    same_kind && ir::num_operands(a) == ir::num_operands(b) && (0..ir::num_operands(a)).all(|k| same_value(ir::operand(a, k), ir::operand(b, k), depth - 1))
}

/// `gep T, base, i` with one index: (base, i, T).
fn single_index_gep(p: Value) -> Option<(Value, Value, ir::Type)> {
    if ir::opcode(p) != Some(LLVMGetElementPtr) || ir::num_operands(p) != 2 {
        return None;
    }
    Some((ir::operand(p, 0), ir::operand(p, 1), unsafe { LLVMGetGEPSourceElementType(p) }))
}

/// The one store into `obj` when every other use only reads, frees or ends its lifetime.
fn only_writer(obj: Value) -> Option<Value> {
    let mut writer = None;
    let mut todo = vec![obj];
    let mut seen = std::collections::HashSet::new();
    while let Some(p) = todo.pop() {
        if !seen.insert(p) {
            continue;
        }
        for u in ir::users(p) {
            match ir::opcode(u)? {
                LLVMGetElementPtr | LLVMBitCast if ir::operand(u, 0) == p => todo.push(u),
                LLVMLoad => {}
                LLVMStore if ir::operand(u, 1) == p && ir::operand(u, 0) != p => {
                    if writer.replace(u).is_some() {
                        return None;
                    }
                }
                LLVMCall => {
                    let name = ir::called_function(u).map(ir::name_of)?;
                    let harmless = name == "free" || name.starts_with("llvm.lifetime.") || name.starts_with("_Zdl") || name.starts_with("_Zda");
                    if !harmless || ir::call_args(u).iter().skip(1).any(|a| *a == p) && !name.starts_with("llvm.lifetime.") {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
    writer
}

/// Gathers the instructions inside the store loop that `v` is computed from, operands
/// first; `None` when one of them could give another value at the read.
fn collect_tree(cfg: &Cfg, facts: &MemoryFacts, body: &[usize], index: Value, v: Value, read: usize, out: &mut Vec<Value>) -> Option<()> {
    if v == index || !ir::is_instruction(v) || out.contains(&v) {
        return Some(());
    }
    let b = cfg.block_index(ir::parent_block(v))?;
    if !body.contains(&b) {
        // Defined before the loop; the copy at the read needs it there too.
        return cfg.dominates(b, read).then_some(());
    }
    if out.len() >= MAX_TREE {
        return None;
    }
    let op = ir::opcode(v)?;
    let ok = match op {
        LLVMLoad => (unsafe { LLVMGetVolatile(v) } == 0) && !facts.may_be_overwritten(v, true),
        LLVMCall => ir::called_function(v).map(|c| ir::name_of(c).starts_with("llvm.") && crate::rules::rule_for_callee(&ir::name_of(c)).is_some()).unwrap_or(false),
        _ => pure_op(op),
    };
    if !ok {
        return None;
    }
    let operands: Vec<Value> = if op == LLVMCall { ir::call_args(v) } else { ir::operands(v) };
    for o in operands {
        collect_tree(cfg, facts, body, index, o, read, out)?;
    }
    out.push(v);
    Some(())
}

fn pure_op(op: LLVMOpcode) -> bool {
    matches!(
        op,
        LLVMFAdd | LLVMFSub | LLVMFMul | LLVMFDiv | LLVMFNeg | LLVMAdd | LLVMSub | LLVMMul | LLVMShl | LLVMAnd | LLVMOr | LLVMXor
            | LLVMSExt | LLVMZExt | LLVMTrunc | LLVMSIToFP | LLVMUIToFP | LLVMFPExt | LLVMFPTrunc | LLVMGetElementPtr | LLVMICmp | LLVMFCmp
            | LLVMSelect
    )
}
