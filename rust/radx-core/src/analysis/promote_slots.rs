//! Promotes the stack slots of a generated function (adjoints that cross blocks, reverse loop
//! counters, hoisted values) to SSA values, before LLVM's cleanup passes see it.
//!
//! LLVM's mem2reg places a slot's phis by walking the dominator subtree below every block
//! that stores to it. RadX zeroes each adjoint slot in the block that starts the reverse
//! sweep, which dominates the whole sweep, so every slot cost a walk over the whole function:
//! on GMM's gradient (169 slots, 334 blocks) that was 12.6 M instructions, the largest single
//! cost of `radx opt`. Here the dominance frontiers are computed once per function, and a
//! slot's phis cost what the frontiers of its stores hold; phis go only where the slot is
//! live (pruned SSA), so nothing is left for ADCE to remove.
//!
//! Only slots LLVM's mem2reg would promote too are taken: allocas of the entry block, one
//! element, used only by simple (not volatile, not atomic) loads and stores of exactly the
//! allocated type, never stored as a value. Anything else is left to LLVM's pipeline.

use crate::analysis::cfg::dominators;
use crate::collections::HashMap;
use crate::ir::{self, Block, Type, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMAtomicOrdering;
use llvm_sys::LLVMOpcode::{LLVMAlloca, LLVMLoad, LLVMStore};

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const _;

/// Promotes every promotable slot of `f`; returns how many it promoted.
pub fn promote_slots(f: Value) -> usize {
    if ir::is_declaration(f) {
        return 0;
    }
    let slots: Vec<Value> = ir::instructions(ir::entry_block(f)).into_iter().filter(|&i| is_promotable(i)).collect();
    if slots.is_empty() {
        return 0;
    }
    let slot_of: HashMap<Value, usize> = slots.iter().enumerate().map(|(k, &s)| (s, k)).collect();
    let types: Vec<Type> = slots.iter().map(|&s| unsafe { LLVMGetAllocatedType(s) }).collect();
    let graph = Graph::of(f);
    let accesses = scan(&graph, &slot_of);
    let phis = place_phis(&graph, &accesses, &types);
    let mut dead = rename(&graph, &accesses, &phis, &types);
    dead.extend(clear_unreachable(f, &graph, &slot_of, &phis, &types));
    for i in dead {
        ir::delete_instruction(i);
    }
    for &s in &slots {
        ir::delete_instruction(s);
    }
    slots.len()
}

fn is_promotable(i: Value) -> bool {
    if ir::opcode(i) != Some(LLVMAlloca) || ir::const_int_value(ir::operand(i, 0)) != Some(1) {
        return false;
    }
    let t = unsafe { LLVMGetAllocatedType(i) };
    ir::users(i).into_iter().all(|u| match ir::opcode(u) {
        Some(LLVMLoad) => ir::type_of(u) == t && is_simple(u),
        Some(LLVMStore) => ir::operand(u, 1) == i && ir::operand(u, 0) != i && ir::type_of(ir::operand(u, 0)) == t && is_simple(u),
        _ => false,
    })
}

fn is_simple(memory_access: Value) -> bool {
    unsafe { LLVMGetVolatile(memory_access) == 0 && LLVMGetOrdering(memory_access) == LLVMAtomicOrdering::LLVMAtomicOrderingNotAtomic }
}

/// The reachable blocks in reverse post-order, with their predecessors (once each),
/// dominator tree and dominance frontiers.
struct Graph {
    blocks: Vec<Block>,
    index: HashMap<Block, usize>,
    preds: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
    frontier: Vec<Vec<usize>>,
}

impl Graph {
    fn of(f: Value) -> Graph {
        let blocks = ir::reverse_post_order(f);
        let n = blocks.len();
        let index: HashMap<Block, usize> = blocks.iter().enumerate().map(|(k, &b)| (b, k)).collect();
        let mut preds = vec![Vec::new(); n];
        for (k, &b) in blocks.iter().enumerate() {
            for s in ir::successors(b) {
                let j = index[&s];
                if !preds[j].contains(&k) {
                    preds[j].push(k);
                }
            }
        }
        let idom = dominators(&preds);
        let mut children = vec![Vec::new(); n];
        for b in 1..n {
            children[idom[b]].push(b);
        }
        let mut frontier: Vec<Vec<usize>> = vec![Vec::new(); n];
        for b in 0..n {
            if preds[b].len() < 2 {
                continue;
            }
            for &p in &preds[b] {
                let mut runner = p;
                while runner != idom[b] {
                    if !frontier[runner].contains(&b) {
                        frontier[runner].push(b);
                    }
                    runner = idom[runner];
                }
            }
        }
        Graph { blocks, index, preds, children, frontier }
    }
}

/// One load or store of a slot, in block order.
#[derive(Clone, Copy)]
struct Access {
    inst: Value,
    slot: usize,
    is_load: bool,
}

struct Accesses {
    per_block: Vec<Vec<Access>>,
    /// Blocks that store to each slot.
    defs: Vec<Vec<usize>>,
    /// Blocks that read each slot before storing to it.
    upward_exposed: Vec<Vec<usize>>,
}

fn scan(g: &Graph, slot_of: &HashMap<Value, usize>) -> Accesses {
    let k = slot_of.len();
    let mut acc = Accesses { per_block: vec![Vec::new(); g.blocks.len()], defs: vec![Vec::new(); k], upward_exposed: vec![Vec::new(); k] };
    let mut stored_in = vec![usize::MAX; k];
    let mut read_in = vec![usize::MAX; k];
    for (b, &block) in g.blocks.iter().enumerate() {
        for i in ir::instructions(block) {
            let Some(a) = access_of(i, slot_of) else { continue };
            if a.is_load {
                if stored_in[a.slot] != b && read_in[a.slot] != b {
                    read_in[a.slot] = b;
                    acc.upward_exposed[a.slot].push(b);
                }
            } else if stored_in[a.slot] != b {
                stored_in[a.slot] = b;
                acc.defs[a.slot].push(b);
            }
            acc.per_block[b].push(a);
        }
    }
    acc
}

fn access_of(i: Value, slot_of: &HashMap<Value, usize>) -> Option<Access> {
    let (pointer, is_load) = match ir::opcode(i)? {
        LLVMLoad => (ir::operand(i, 0), true),
        LLVMStore => (ir::operand(i, 1), false),
        _ => return None,
    };
    slot_of.get(&pointer).map(|&slot| Access { inst: i, slot, is_load })
}

/// Phis at the iterated dominance frontier of each slot's stores, where the slot is live.
/// Per block: (slot, phi).
fn place_phis(g: &Graph, acc: &Accesses, types: &[Type]) -> Vec<Vec<(usize, Value)>> {
    let n = g.blocks.len();
    let mut phis: Vec<Vec<(usize, Value)>> = vec![Vec::new(); n];
    // Marks hold the slot they were set for, so they need no clearing between slots.
    let mut defines = vec![usize::MAX; n];
    let mut live = vec![usize::MAX; n];
    let mut visited = vec![usize::MAX; n];
    let mut work = Vec::new();
    let builder = unsafe { LLVMCreateBuilderInContext(LLVMGetTypeContext(types[0])) };
    for s in 0..types.len() {
        if acc.upward_exposed[s].is_empty() {
            continue; // never read before a store in the same block: no value crosses a block
        }
        for &b in &acc.defs[s] {
            defines[b] = s;
        }
        work.extend(acc.upward_exposed[s].iter().copied());
        for &b in &acc.upward_exposed[s] {
            live[b] = s;
        }
        while let Some(b) = work.pop() {
            for &p in &g.preds[b] {
                if live[p] != s && defines[p] != s {
                    live[p] = s;
                    work.push(p);
                }
            }
        }
        work.extend(acc.defs[s].iter().copied());
        while let Some(x) = work.pop() {
            for &y in &g.frontier[x] {
                if visited[y] == s {
                    continue;
                }
                visited[y] = s;
                if live[y] == s {
                    let phi = unsafe {
                        LLVMPositionBuilderBefore(builder, LLVMGetFirstInstruction(g.blocks[y]));
                        LLVMBuildPhi(builder, types[s], NO_NAME)
                    };
                    phis[y].push((s, phi));
                }
                if defines[y] != s {
                    work.push(y);
                }
            }
        }
    }
    unsafe { LLVMDisposeBuilder(builder) };
    phis
}

/// Replaces each load by the value its slot holds there, walking the dominator tree, and
/// fills in the phis' incoming values. Returns the loads and stores to delete.
fn rename(g: &Graph, acc: &Accesses, phis: &[Vec<(usize, Value)>], types: &[Type]) -> Vec<Value> {
    let mut current: Vec<Value> = vec![std::ptr::null_mut(); types.len()];
    let value_of = |current: &[Value], s: usize| if current[s].is_null() { unsafe { LLVMGetUndef(types[s]) } } else { current[s] };
    let mut undo: Vec<(usize, Value)> = Vec::new();
    let mut dead = Vec::new();
    // (block, None) enters a block; (block, Some(mark)) leaves it, restoring `current`.
    let mut stack: Vec<(usize, Option<usize>)> = vec![(0, None)];
    while let Some((b, leaving)) = stack.pop() {
        if let Some(mark) = leaving {
            while undo.len() > mark {
                let (s, v) = undo.pop().unwrap();
                current[s] = v;
            }
            continue;
        }
        stack.push((b, Some(undo.len())));
        for &(s, phi) in &phis[b] {
            undo.push((s, current[s]));
            current[s] = phi;
        }
        for a in &acc.per_block[b] {
            if a.is_load {
                ir::replace_all_uses(a.inst, value_of(&current, a.slot));
            } else {
                undo.push((a.slot, current[a.slot]));
                current[a.slot] = ir::operand(a.inst, 0);
            }
            dead.push(a.inst);
        }
        let mut from = g.blocks[b];
        for succ in ir::successors(g.blocks[b]) {
            for &(s, phi) in &phis[g.index[&succ]] {
                let mut v = value_of(&current, s);
                unsafe { LLVMAddIncoming(phi, &mut v, &mut from, 1) };
            }
        }
        stack.extend(g.children[b].iter().rev().map(|&c| (c, None)));
    }
    dead
}

/// Blocks the entry cannot reach still read and write the slots: their loads read undef,
/// and the phis their edges lead to get undef from them.
fn clear_unreachable(f: Value, g: &Graph, slot_of: &HashMap<Value, usize>, phis: &[Vec<(usize, Value)>], types: &[Type]) -> Vec<Value> {
    let mut dead = Vec::new();
    for block in ir::blocks(f) {
        if g.index.contains_key(&block) {
            continue;
        }
        for i in ir::instructions(block) {
            if let Some(a) = access_of(i, slot_of) {
                if a.is_load {
                    ir::replace_all_uses(i, unsafe { LLVMGetUndef(types[a.slot]) });
                }
                dead.push(i);
            }
        }
        let mut from = block;
        for succ in ir::successors(block) {
            let Some(&j) = g.index.get(&succ) else { continue };
            for &(s, phi) in &phis[j] {
                let mut v = unsafe { LLVMGetUndef(types[s]) };
                unsafe { LLVMAddIncoming(phi, &mut v, &mut from, 1) };
            }
        }
    }
    dead
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkwell::context::Context;
    use inkwell::execution_engine::JitFunction;
    use inkwell::values::AsValueRef;
    use inkwell::OptimizationLevel;

    fn count(f: Value, op: llvm_sys::LLVMOpcode) -> usize {
        ir::all_instructions(f).into_iter().filter(|&i| ir::opcode(i) == Some(op)).count()
    }

    fn verify(f: Value) {
        let broken = unsafe { llvm_sys::analysis::LLVMVerifyFunction(f, llvm_sys::analysis::LLVMVerifierFailureAction::LLVMPrintMessageAction) };
        assert_eq!(broken, 0, "the promoted function does not verify");
    }

    /// An adjoint-like slot zeroed at the top, accumulated in a loop and on one side of a
    /// branch, read after a join: the shapes RadX's reverse sweep has.
    const LOOP_AND_JOIN: &str = r#"
define double @f(double %x, i64 %n, i1 %c) {
entry:
  %acc = alloca double
  %i.slot = alloca i64
  store double -0.0, ptr %acc
  store i64 0, ptr %i.slot
  br label %head
head:
  %i = load i64, ptr %i.slot
  %done = icmp eq i64 %i, %n
  br i1 %done, label %after, label %body
body:
  %a = load double, ptr %acc
  %a1 = fadd double %a, %x
  store double %a1, ptr %acc
  %i1 = add i64 %i, 1
  store i64 %i1, ptr %i.slot
  br label %head
after:
  br i1 %c, label %twice, label %join
twice:
  %b = load double, ptr %acc
  %b2 = fmul double %b, 2.0
  store double %b2, ptr %acc
  br label %join
join:
  %r = load double, ptr %acc
  ret double %r
dead:
  %d = load double, ptr %acc
  store double %d, ptr %acc
  br label %join
}
"#;

    #[test]
    fn slots_become_phis_and_the_function_computes_the_same() {
        let ctx = Context::create();
        let module = ir::parse_test_module(&ctx, LOOP_AND_JOIN);
        let f = module.get_function("f").unwrap().as_value_ref();
        assert_eq!(promote_slots(f), 2);
        verify(f);
        assert_eq!(count(f, LLVMAlloca) + count(f, LLVMLoad) + count(f, LLVMStore), 0);
        // head: counter and sum; join: the sum from three edges (after, twice, dead).
        assert_eq!(count(f, llvm_sys::LLVMOpcode::LLVMPHI), 3);
        let ee = module.create_jit_execution_engine(OptimizationLevel::None).unwrap();
        let run: JitFunction<unsafe extern "C" fn(f64, i64, bool) -> f64> = unsafe { ee.get_function("f").unwrap() };
        for (x, n, c) in [(1.5, 4, false), (1.5, 4, true), (-2.0, 0, true), (0.25, 7, false)] {
            let expected = x * n as f64 * if c { 2.0 } else { 1.0 };
            assert_eq!(unsafe { run.call(x, n, c) }, expected, "x {x} n {n} c {c}");
        }
    }

    #[test]
    fn slots_with_other_uses_or_volatile_access_are_left_to_llvm() {
        let ctx = Context::create();
        let module = ir::parse_test_module(
            &ctx,
            r#"
declare void @g(ptr)
define double @f(double %x) {
entry:
  %escapes = alloca double
  %volatile = alloca double
  %kept = alloca double
  %wrong.type = alloca double
  store double %x, ptr %escapes
  call void @g(ptr %escapes)
  store volatile double %x, ptr %volatile
  store double %x, ptr %wrong.type
  %bits = load i64, ptr %wrong.type
  store double %x, ptr %kept
  %k = load double, ptr %kept
  %e = load double, ptr %escapes
  %v = load volatile double, ptr %volatile
  %s = fadd double %e, %v
  %t = fadd double %s, %k
  ret double %t
}
"#,
        );
        let f = module.get_function("f").unwrap().as_value_ref();
        assert_eq!(promote_slots(f), 1);
        verify(f);
        assert_eq!(count(f, LLVMAlloca), 3);
    }

    #[test]
    fn a_slot_read_before_any_store_reads_undef_and_a_switch_edge_twice_gets_two_entries() {
        let ctx = Context::create();
        let module = ir::parse_test_module(
            &ctx,
            r#"
define i32 @f(i32 %k) {
entry:
  %s = alloca i32
  %u = load i32, ptr %s
  store i32 %k, ptr %s
  switch i32 %k, label %other [ i32 1, label %join
                                i32 2, label %join ]
other:
  store i32 %u, ptr %s
  br label %join
join:
  %r = load i32, ptr %s
  ret i32 %r
}
"#,
        );
        let f = module.get_function("f").unwrap().as_value_ref();
        assert_eq!(promote_slots(f), 1);
        verify(f);
        let phi = ir::all_instructions(f).into_iter().find(|&i| ir::opcode(i) == Some(llvm_sys::LLVMOpcode::LLVMPHI)).unwrap();
        assert_eq!(unsafe { LLVMCountIncoming(phi) }, 3);
    }
}
