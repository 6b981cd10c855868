//! Store-to-load forwarding across loops, on the prepared copy a derivative is built from.
//!
//! A scratch array filled by one loop and read by a later one (`for i: xc[i] = x[i] - mu[i];
//! ... for j: use xc[j]`) and refilled on every iteration of an outer loop makes reverse mode
//! cache every read, because the array is overwritten before the reverse sweep comes back.
//! When the value stored is computable from the index and from memory nothing writes, the
//! read can be replaced by that computation at the read's index: the derivative then
//! recomputes it instead of recording it. The rewrite changes only the prepared copy; once
//! no read of the array is left, its stores go too.
//!
//! Conditions, each needed for the rewritten read to see exactly the stored value:
//! - the array is local (stack or heap allocation of this function), only ever read,
//!   written by the fill below, freed or marked dead — it never escapes;
//! - the fill is one scalar loop storing `f(i)` at `gep T, base, i`, `i` its steering
//!   induction variable, step 1, whose exit test pins down the last index; or such a loop
//!   (the remainder) behind its vectorized twin, as LLVM's loop vectorizer leaves it: a
//!   vector loop whose `<N x T>` stores cover `[j, j + step)` on each iteration from the
//!   same start to `n.vec`, after which the remainder starts at `n.vec` (at the start when
//!   the vector loop was skipped) or is skipped because `n.vec` is the bound. Every lane
//!   the vector loop stores must be `f` at its index (`lanes::LanePair`);
//! - a read is `gep T, base, i` in another loop whose steering variable `i` (step 1) has
//!   the same start and the same exit bound — or, after a vectorized fill, starts at the
//!   start or at `n.vec` — so it reads only indices the fill wrote; or a `<N x T>` read in
//!   a vector loop over the same `[start, n.vec)` whose lanes stay within its step;
//! - the fill is complete before the read: the scalar loop's one exit dominates it (the
//!   block both ways out of a vectorized fill meet, for that), or both loops sit behind
//!   the same test;
//! - the stored value is a small tree of side-effect-free operations over the store loop's
//!   index, values defined before the loop, and loads of memory that no write can follow.

use super::cfg::Cfg;
use super::lanes::{single_index_gep, LanePair};
use super::memory::{self, MemoryFacts, Object};
use crate::ir::{self, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::{self, *};
use crate::collections::HashMap;

/// Largest stored-value tree copied to a read (instructions).
const MAX_TREE: usize = 24;

/// How a local array is filled on each run of the code around it.
struct Fill {
    base: Value,
    elem: ir::Type,
    /// The scalar loop's store of `f(i)` at index `i`, that `i`, and the loop.
    scalar: Value,
    scalar_iv: Value,
    scalar_loop: usize,
    /// Where the scalar loop starts, and its exit test.
    start: Value,
    bound: Value,
    compares_next: bool,
    vector: Option<VectorFill>,
    /// A block every read must be dominated by: the scalar loop's exit, or where the
    /// vectorized fill's two ways out meet.
    done: usize,
}

/// The vectorized twin of a fill's scalar loop.
struct VectorFill {
    lp: usize,
    iv: Value,
    start: Value,
    /// `n.vec`: the vector loop covers `[start, n_vec)`.
    n_vec: Value,
    /// Its stores and the lane offset of each from `iv`.
    stores: Vec<(Value, i64)>,
}

/// One read replaced by a copy of `tree` (a store's value and what it is computed from)
/// with the store loop's variable `iv` taken as the read's `index + delta`.
struct Rewrite {
    load: Value,
    value: Value,
    iv: Value,
    index: Value,
    delta: i64,
    tree: Vec<Value>,
}

/// Rewrites every read of `f` that the conditions above allow; returns how many.
pub fn forward_scratch_stores(f: Value) -> usize {
    let cfg = Cfg::new(f);
    let facts = MemoryFacts::new(f);
    let mut fills: HashMap<Value, Option<Fill>> = HashMap::default();
    let mut rewrites = Vec::new();
    for load in ir::all_instructions(f) {
        if ir::opcode(load) != Some(LLVMLoad) || unsafe { LLVMGetVolatile(load) } != 0 {
            continue;
        }
        let Some((base, ..)) = array_index(ir::operand(load, 0)) else { continue };
        let Object::Local(obj) = memory::object_of(base) else { continue };
        let fill = fills.entry(obj).or_insert_with(|| find_fill(&cfg, obj));
        if let Some(r) = fill.as_ref().and_then(|fill| rewrite_for(&cfg, &facts, fill, load)) {
            rewrites.push(r);
        }
    }
    let b = crate::ir::builder::Builder::new(unsafe { LLVMGetGlobalParent(f) });
    for r in &rewrites {
        b.position_before(r.load);
        let index = if r.delta == 0 {
            r.index
        } else {
            let t = ir::type_of(r.index);
            unsafe { LLVMBuildAdd(b.raw(), r.index, LLVMConstInt(t, r.delta as u64, 1), b"\0".as_ptr() as *const _) }
        };
        let mut map: HashMap<Value, Value> = HashMap::default();
        map.insert(r.iv, index);
        // `tree` lists operands before their users.
        for &i in &r.tree {
            let c = unsafe { LLVMInstructionClone(i) };
            for k in 0..ir::num_operands(c) {
                if let Some(&m) = map.get(&ir::operand(c, k)) {
                    ir::set_operand(c, k, m);
                }
            }
            b.insert(c);
            map.insert(i, c);
        }
        let value = map.get(&r.value).copied().unwrap_or(r.value);
        ir::replace_all_uses(r.load, value);
        ir::delete_instruction(r.load);
    }
    for obj in fills.into_iter().filter_map(|(obj, fill)| fill.map(|_| obj)) {
        drop_unread_stores(obj);
    }
    rewrites.len()
}

/// How `obj` is filled, when by one of the two shapes the module comment describes.
fn find_fill(cfg: &Cfg, obj: Value) -> Option<Fill> {
    let writers = only_writers(obj)?;
    let mut scalar = None;
    let mut vector_stores = Vec::new();
    let mut base_elem: Option<(Value, ir::Type)> = None;
    for s in writers {
        let (base, idx, offset, elem) = array_index(ir::operand(s, 1))?;
        if *base_elem.get_or_insert((base, elem)) != (base, elem) {
            return None;
        }
        let t = ir::type_of(ir::operand(s, 0));
        if t == elem && offset == 0 && scalar.replace((s, idx)).is_none() {
            continue;
        }
        if !ir::is_vector(t) || ir::element_type(t) != elem || offset < 0 {
            return None;
        }
        vector_stores.push((s, idx, offset));
    }
    let ((store, iv), (base, elem)) = (scalar?, base_elem?);
    let (ls, ind) = cfg.induction_of(iv)?;
    let lp = &cfg.loops[ls];
    let exit = lp.exit_value?;
    if lp.induction?.phi != iv || ind.step != 1 || !lp.body.contains(&cfg.block_index(ir::parent_block(store))?) {
        return None;
    }
    let [e] = lp.exits[..] else { return None };
    let mut fill = Fill { base, elem, scalar: store, scalar_iv: iv, scalar_loop: ls, start: ind.start, bound: exit.bound, compares_next: exit.compares_next, vector: None, done: e };
    if !vector_stores.is_empty() {
        let (vector, done) = vector_fill(cfg, &fill, &vector_stores)?;
        fill.vector = Some(vector);
        fill.done = done;
    }
    Some(fill)
}

/// The vectorized twin of `fill`'s scalar loop made of `stores`, and the block where the
/// two ways out of the pair meet, when they fill `[start, bound)` together.
fn vector_fill(cfg: &Cfg, fill: &Fill, stores: &[(Value, Value, i64)]) -> Option<(VectorFill, usize)> {
    let iv = stores[0].1;
    let (lv, ind) = cfg.induction_of(iv)?;
    let lp = &cfg.loops[lv];
    let exit = lp.exit_value?;
    let lanes = ir::vector_len(ir::type_of(ir::operand(stores[0].0, 0))) as i64;
    if lp.induction?.phi != iv || ind.step <= 0 || !exit.compares_next || stores.iter().any(|(_, i, _)| *i != iv) {
        return None;
    }
    // The stores of one iteration cover `[iv, iv + step)`, each lane once.
    let mut spans: Vec<(i64, i64)> = Vec::new();
    for (s, _, offset) in stores {
        let n = ir::vector_len(ir::type_of(ir::operand(*s, 0))) as i64;
        if !lp.body.contains(&cfg.block_index(ir::parent_block(*s))?) || n != lanes {
            return None;
        }
        spans.push((*offset, offset + n));
    }
    spans.sort();
    let mut covered = 0;
    for (from, to) in spans {
        if from != covered {
            return None;
        }
        covered = to;
    }
    if covered != ind.step {
        return None;
    }
    let [m] = lp.exits[..] else { return None };
    let (s0, n_vec) = (ind.start, exit.bound);
    // The remainder starts where the vector loop stopped, or at the start without it.
    let rl = &cfg.loops[fill.scalar_loop];
    let starts_after_vector = |v: Value, b: usize| same_value(v, s0, 4) || same_value(v, n_vec, 4) && cfg.dominates(m, b);
    let remainder_preheader = cfg.induction_of(fill.scalar_iv)?.1.preheader;
    let start_ok = starts_after_vector(fill.start, remainder_preheader)
        || ir::opcode(fill.start) == Some(LLVMPHI)
            && unsafe { (0..LLVMCountIncoming(fill.start)).all(|k| cfg.block_index(LLVMGetIncomingBlock(fill.start, k)).map(|b| starts_after_vector(LLVMGetIncomingValue(fill.start, k), b)).unwrap_or(false)) };
    if !start_ok {
        return None;
    }
    // Where the remainder's exit and the vector loop's skip of it meet.
    let [e] = rl.exits[..] else { return None };
    let join = match cfg.succs[e][..] {
        [x] if x != e && cfg.preds[e].iter().all(|p| rl.body.contains(p)) => x,
        _ => e,
    };
    let skips_remainder = |p: usize| {
        let t = ir::terminator(cfg.blocks[p]);
        if p != m || ir::opcode(t) != Some(LLVMBr) || ir::num_operands(t) != 3 || ir::value_as_block(ir::operand(t, 2)) != Some(cfg.blocks[join]) {
            return false;
        }
        let c = ir::operand(t, 0);
        let eq = ir::opcode(c) == Some(LLVMICmp) && unsafe { LLVMGetICmpPredicate(c) } == llvm_sys::LLVMIntPredicate::LLVMIntEQ;
        let (a, b) = (ir::operand(c, 0), ir::operand(c, 1));
        eq && (same_value(a, n_vec, 4) && same_value(b, fill.bound, 4) || same_value(b, n_vec, 4) && same_value(a, fill.bound, 4))
    };
    if !cfg.preds[join].iter().all(|&p| if join == e { rl.body.contains(&p) || skips_remainder(p) } else { p == e || skips_remainder(p) }) {
        return None;
    }
    let in_scalar = |v: Value| cfg.block_index(ir::parent_block(v)).map(|b| rl.body.contains(&b)).unwrap_or(false);
    let in_vector = |v: Value| cfg.block_index(ir::parent_block(v)).map(|b| lp.body.contains(&b)).unwrap_or(false);
    let value = ir::operand(fill.scalar, 0);
    for (s, _, offset) in stores {
        let pair = LanePair { iv_s: fill.scalar_iv, iv_v: iv, offset: *offset, in_scalar: &in_scalar, in_vector: &in_vector };
        if !pair.matches(value, ir::operand(*s, 0), 0) {
            return None;
        }
    }
    let stores = stores.iter().map(|(s, _, o)| (*s, *o)).collect();
    Some((VectorFill { lp: lv, iv, start: s0, n_vec, stores }, join))
}

/// The rewrite of `load` when it reads what `fill` stored in this run.
fn rewrite_for(cfg: &Cfg, facts: &MemoryFacts, fill: &Fill, load: Value) -> Option<Rewrite> {
    let (base, idx, offset, elem) = array_index(ir::operand(load, 0))?;
    if base != fill.base || elem != fill.elem {
        return None;
    }
    let load_block = cfg.block_index(ir::parent_block(load))?;
    let (ll, ind) = cfg.induction_of(idx)?;
    let lpl = &cfg.loops[ll];
    let xl = lpl.exit_value?;
    if lpl.induction?.phi != idx || cfg.loops[fill.scalar_loop].body.contains(&load_block) {
        return None;
    }
    let complete_before = match &fill.vector {
        None => cfg.dominates(fill.done, load_block) || same_guard(cfg, cfg.induction_of(fill.scalar_iv)?.1.preheader, ind.preheader, load_block),
        Some(v) => cfg.dominates(fill.done, load_block) && !cfg.loops[v.lp].body.contains(&load_block),
    };
    if !complete_before {
        return None;
    }
    let t = ir::type_of(load);
    let mut tree = Vec::new();
    if t == elem {
        let start_ok = same_value(ind.start, fill.start, 4) || fill.vector.as_ref().map(|v| within_fill(ind.start, v)).unwrap_or(false);
        if offset != 0 || ind.step != 1 || !start_ok || !same_value(xl.bound, fill.bound, 4) || xl.compares_next != fill.compares_next {
            return None;
        }
        let body = &cfg.loops[fill.scalar_loop].body;
        let value = ir::operand(fill.scalar, 0);
        collect_tree(cfg, facts, body, fill.scalar_iv, value, load_block, &mut tree)?;
        return Some(Rewrite { load, value, iv: fill.scalar_iv, index: idx, delta: 0, tree });
    }
    let v = fill.vector.as_ref()?;
    let lanes = ir::vector_len(t) as i64;
    if !ir::is_vector(t) || ir::element_type(t) != elem || offset < 0 || offset + lanes > ind.step {
        return None;
    }
    if !same_value(ind.start, v.start, 4) || !xl.compares_next || !same_value(xl.bound, v.n_vec, 4) {
        return None;
    }
    let &(store, store_offset) = v.stores.iter().filter(|(s, _)| ir::type_of(ir::operand(*s, 0)) == t).min_by_key(|(_, o)| (*o - offset).abs())?;
    let value = ir::operand(store, 0);
    collect_tree(cfg, facts, &cfg.loops[v.lp].body, v.iv, value, load_block, &mut tree)?;
    Some(Rewrite { load, value, iv: v.iv, index: idx, delta: offset - store_offset, tree })
}

/// Does a read loop starting at `v` start inside the vectorized fill's range: at its start,
/// at `n.vec`, or at a phi of those (a remainder of its own)?
fn within_fill(v: Value, fill: &VectorFill) -> bool {
    let at_edge = |x: Value| same_value(x, fill.start, 4) || same_value(x, fill.n_vec, 4);
    at_edge(v) || ir::opcode(v) == Some(LLVMPHI) && unsafe { (0..LLVMCountIncoming(v)).all(|k| at_edge(LLVMGetIncomingValue(v, k))) }
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

/// An array element address: `gep T, base, i` or `gep T, (gep T, base, i), k` with `k` a
/// constant (also with the step in bytes) — (base, i, k, T).
fn array_index(p: Value) -> Option<(Value, Value, i64, ir::Type)> {
    if let Some((base, i, elem, k)) = super::lanes::constant_step_past_element(p) {
        return Some((base, i, k, elem));
    }
    let (base, idx, elem) = single_index_gep(p)?;
    Some((base, idx, 0, elem))
}

/// Every use of `obj` or of an address computed from it by GEPs and bitcasts (those
/// excepted), with the address it uses.
fn uses_through_addresses(obj: Value) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    let mut todo = vec![obj];
    let mut seen = crate::collections::HashSet::default();
    while let Some(p) = todo.pop() {
        if !seen.insert(p) {
            continue;
        }
        for u in ir::users(p) {
            if matches!(ir::opcode(u), Some(LLVMGetElementPtr) | Some(LLVMBitCast)) && ir::operand(u, 0) == p {
                todo.push(u);
            } else {
                out.push((u, p));
            }
        }
    }
    out
}

/// Every store into `obj` when every other use only reads, frees or ends its lifetime.
fn only_writers(obj: Value) -> Option<Vec<Value>> {
    let mut writers = Vec::new();
    for (u, p) in uses_through_addresses(obj) {
        match ir::opcode(u)? {
            LLVMLoad => {}
            LLVMStore if ir::operand(u, 1) == p && ir::operand(u, 0) != p => writers.push(u),
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
    (!writers.is_empty()).then_some(writers)
}

/// Once every read of the local `obj` has been rewritten, its stores (and what only they
/// used) are dead: the derivative need not replay them or their adjoints.
fn drop_unread_stores(obj: Value) {
    let mut stores = Vec::new();
    for (u, p) in uses_through_addresses(obj) {
        match ir::opcode(u) {
            Some(LLVMStore) if ir::operand(u, 1) == p => stores.push(u),
            Some(LLVMCall) => {}
            _ => return,
        }
    }
    let mut dead: Vec<Value> = Vec::new();
    for s in stores {
        dead.extend([ir::operand(s, 0), ir::operand(s, 1)]);
        ir::delete_instruction(s);
    }
    let mut deleted = crate::collections::HashSet::default();
    while let Some(v) = dead.pop() {
        if deleted.contains(&v) || !ir::is_instruction(v) || ir::has_uses(v) || v == obj {
            continue;
        }
        let removable = match ir::opcode(v) {
            Some(LLVMLoad) => unsafe { LLVMGetVolatile(v) == 0 },
            Some(LLVMCall) => ir::called_function(v).map(|c| ir::intrinsic_id(c) != 0 && crate::rules::rule_for_callee(&ir::name_of(c)).is_some()).unwrap_or(false),
            Some(op) => pure_op(op),
            None => false,
        };
        if removable {
            dead.extend(ir::operands(v).into_iter().filter(|o| ir::is_instruction(*o)));
            ir::delete_instruction(v);
            deleted.insert(v);
        }
    }
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
            | LLVMSelect | LLVMInsertElement | LLVMExtractElement | LLVMShuffleVector
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;
    use inkwell::values::AsValueRef;

    /// A scratch array refilled on every iteration of an outer loop, as LLVM's loop
    /// vectorizer leaves the fill (a `<2 x double>` body unrolled twice, a scalar
    /// remainder, the skip of the remainder when `n.vec == n`), then read by a scalar loop.
    /// `remainder` is what the remainder stores, `skip_test` what the middle block compares
    /// `n.vec` with, `read_bound` where the read loop stops.
    fn vectorized_fill(remainder: &str, skip_test: &str, read_bound: &str) -> String {
        format!(
            r#"
declare ptr @malloc(i64)
declare void @free(ptr)

define double @f(ptr %x, i64 %n, i64 %reps) {{
entry:
  %bytes = shl i64 %n, 3
  %xc = call ptr @malloc(i64 %bytes)
  %nvec = and i64 %n, -4
  %small = icmp ult i64 %n, 4
  br label %outer
outer:
  %k = phi i64 [ 0, %entry ], [ %k.next, %latch ]
  %acc = phi double [ 0.0, %entry ], [ %acc.next, %latch ]
  %kf = sitofp i64 %k to double
  br i1 %small, label %rem.ph, label %vec
vec:
  %j = phi i64 [ 0, %outer ], [ %j.next, %vec ]
  %px = getelementptr inbounds double, ptr %x, i64 %j
  %vx = load <2 x double>, ptr %px
  %px2 = getelementptr inbounds double, ptr %px, i64 2
  %vx2 = load <2 x double>, ptr %px2
  %ins = insertelement <2 x double> poison, double %kf, i64 0
  %splat = shufflevector <2 x double> %ins, <2 x double> poison, <2 x i32> zeroinitializer
  %v1 = fmul <2 x double> %vx, %splat
  %v2 = fmul <2 x double> %vx2, %splat
  %pxc = getelementptr inbounds double, ptr %xc, i64 %j
  store <2 x double> %v1, ptr %pxc
  %pxc2 = getelementptr inbounds double, ptr %pxc, i64 2
  store <2 x double> %v2, ptr %pxc2
  %j.next = add nuw i64 %j, 4
  %vdone = icmp eq i64 %j.next, %nvec
  br i1 %vdone, label %middle, label %vec
middle:
  %all = icmp eq i64 %nvec, {skip_test}
  br i1 %all, label %filled, label %rem.ph
rem.ph:
  %start = phi i64 [ 0, %outer ], [ %nvec, %middle ]
  br label %rem
rem:
  %i = phi i64 [ %start, %rem.ph ], [ %i.next, %rem ]
  %sx = getelementptr inbounds double, ptr %x, i64 %i
  %s = load double, ptr %sx
  %sv = {remainder} double %s, %kf
  %sxc = getelementptr inbounds double, ptr %xc, i64 %i
  store double %sv, ptr %sxc
  %i.next = add nuw i64 %i, 1
  %rdone = icmp eq i64 %i.next, %n
  br i1 %rdone, label %rem.exit, label %rem
rem.exit:
  br label %filled
filled:
  br label %read
read:
  %r = phi i64 [ 0, %filled ], [ %r.next, %read ]
  %racc = phi double [ %acc, %filled ], [ %racc.next, %read ]
  %rp = getelementptr inbounds double, ptr %xc, i64 %r
  %rv = load double, ptr %rp
  %racc.next = fadd double %racc, %rv
  %r.next = add nuw i64 %r, 1
  %rd = icmp eq i64 %r.next, {read_bound}
  br i1 %rd, label %latch, label %read
latch:
  %acc.next = phi double [ %racc.next, %read ]
  %k.next = add nuw i64 %k, 1
  %kd = icmp eq i64 %k.next, %reps
  br i1 %kd, label %exit, label %outer
exit:
  call void @free(ptr %xc)
  ret double %acc.next
}}
"#
        )
    }

    /// (reads rewritten, stores into the scratch array left) for `ir`'s function `f`.
    fn forward(ir: &str) -> (usize, usize) {
        let ctx = Context::create();
        let buf = MemoryBuffer::create_from_memory_range_copy(ir.as_bytes(), "fill");
        let module = ctx.create_module_from_ir(buf).expect("the test IR parses");
        let f = module.get_function("f").unwrap().as_value_ref();
        let rewritten = forward_scratch_stores(f);
        let stores = ir::all_instructions(f).into_iter().filter(|&i| ir::opcode(i) == Some(LLVMStore)).count();
        module.verify().expect("the rewritten function verifies");
        (rewritten, stores)
    }

    #[test]
    fn reads_after_a_vectorized_fill_are_recomputed_and_its_stores_dropped() {
        assert_eq!(forward(&vectorized_fill("fmul", "%n", "%n")), (1, 0));
    }

    /// LLVM 18 and later write the second half's constant step in bytes.
    fn with_byte_steps(ir: &str, bytes: u32) -> String {
        ir.replace("getelementptr inbounds double, ptr %px, i64 2", &format!("getelementptr inbounds i8, ptr %px, i64 {bytes}"))
            .replace("getelementptr inbounds double, ptr %pxc, i64 2", &format!("getelementptr inbounds i8, ptr %pxc, i64 {bytes}"))
    }

    #[test]
    fn a_fill_stepped_in_bytes_is_forwarded_as_one_in_elements() {
        let ir = vectorized_fill("fmul", "%n", "%n");
        assert!(with_byte_steps(&ir, 16) != ir);
        assert_eq!(forward(&with_byte_steps(&ir, 16)), (1, 0));
        // 12 bytes is no whole number of doubles: the fill is not understood.
        assert_eq!(forward(&with_byte_steps(&ir, 12)), (0, 3));
    }

    #[test]
    fn a_remainder_that_stores_something_else_is_not_forwarded() {
        assert_eq!(forward(&vectorized_fill("fadd", "%n", "%n")), (0, 3));
    }

    #[test]
    fn a_remainder_skipped_on_another_test_is_not_forwarded() {
        // Skipping the remainder when `n.vec == reps` may leave `[n.vec, n)` unwritten.
        assert_eq!(forward(&vectorized_fill("fmul", "%reps", "%n")), (0, 3));
    }

    #[test]
    fn reads_beyond_the_filled_range_are_not_forwarded() {
        assert_eq!(forward(&vectorized_fill("fmul", "%n", "%reps")), (0, 3));
    }
}
