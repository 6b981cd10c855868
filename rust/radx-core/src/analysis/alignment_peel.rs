//! Peeling a one-block loop's first iterations until the address it stores to sits on a
//! whole vector, then asking LLVM's vectorizer to take the rest by exactly that width.
//!
//! In a triangular update (`for i: for j > i: out[j] += l[..] * x[i]`) the row's start
//! moves by one element per outer iteration. Vectorized from its start, each vector load of
//! `out` straddles two vector stores of the previous row and store-to-load forwarding fails
//! on every load; run scalar, the row costs one store per element. Vectorized from an
//! aligned address with no interleaving, every row's vector accesses cover the same pairs
//! (or quads) of elements, so each load is served whole by one earlier store. At most
//! `width - 1` iterations run peeled; a row shorter than that never reaches the loop.

use super::cfg::Cfg;
use crate::ir::{self, builder::Builder, clone::ValueMap, Block, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode;

/// Peels each one-block loop of `f` whose back edge asks for it (`ir::mark_loop_for_aligned_peel`);
/// returns how many.
pub fn peel_marked_loops(f: Value) -> usize {
    let marked: Vec<(Block, u64)> = ir::blocks(f)
        .into_iter()
        .filter(|&b| ir::successors(b).contains(&b))
        .filter_map(|b| ir::aligned_peel_request(ir::terminator(b)).map(|bytes| (b, bytes)))
        .collect();
    marked
        .into_iter()
        .filter(|&(b, bytes)| {
            let stores: Vec<Value> = ir::instructions(b).into_iter().filter(|&i| ir::opcode(i) == Some(LLVMOpcode::LLVMStore)).collect();
            matches!(stores[..], [store] if peel_until_aligned(f, b, store, bytes))
        })
        .count()
}

/// Peels loop `header` (a loop of that one block, entered from one preheader, values used
/// after it only through phis of its exit) until `store`'s address is a multiple of
/// `align_bytes`, and hints the remaining loop to vectorize by `align_bytes` / element
/// size. Returns false, changing nothing, when the loop does not have that shape.
pub fn peel_until_aligned(f: Value, header: Block, store: Value, align_bytes: u64) -> bool {
    let module = ir::module_of_function(f);
    let Some(shape) = OneBlockLoop::of(f, header) else { return false };
    if ir::parent_block(store) != header || ir::opcode(store) != Some(LLVMOpcode::LLVMStore) {
        return false;
    }
    let element = ir::data_layout_type_size(module, ir::type_of(ir::operand(store, 0)));
    if element == 0 || align_bytes % element != 0 || align_bytes / element < 2 || !align_bytes.is_power_of_two() {
        return false;
    }
    let Some(address_slice) = address_computation(header, ir::operand(store, 1)) else { return false };
    let width = (align_bytes / element) as u32;
    shape.peel(module, &address_slice, ir::operand(store, 1), align_bytes, width - 1);
    ir::request_vector_width(ir::terminator(header), width);
    true
}

struct OneBlockLoop {
    header: Block,
    preheader: Block,
    exit: Block,
    phis: Vec<Value>,
    /// The rest of the body, in order, without the back edge and debug intrinsics.
    body: Vec<Value>,
}

impl OneBlockLoop {
    fn of(f: Value, header: Block) -> Option<OneBlockLoop> {
        let cfg = Cfg::new(f);
        let h = *cfg.index.get(&header)?;
        let l = cfg.loops.iter().find(|l| l.header == h)?;
        if l.body != [h] || l.latches != [h] {
            return None;
        }
        let back_edge = ir::terminator(header);
        if ir::num_operands(back_edge) != 3 {
            return None;
        }
        let exit = *ir::successors(header).iter().find(|&&s| s != header)?;
        let outside: Vec<usize> = cfg.preds[h].iter().copied().filter(|&p| p != h).collect();
        let [p] = outside[..] else { return None };
        let preheader = cfg.blocks[p];
        if ir::successors(preheader) != [header] {
            return None;
        }
        let instructions = ir::instructions(header);
        // Values leave the loop only through the exit's phis: a peeled run that leaves
        // early reaches the exit without passing the loop's own definitions.
        let escapes = instructions.iter().any(|&i| {
            ir::users(i).into_iter().any(|u| {
                let b = ir::parent_block(u);
                b != header && !(b == exit && ir::opcode(u) == Some(LLVMOpcode::LLVMPHI))
            })
        });
        if escapes {
            return None;
        }
        let (phis, rest): (Vec<Value>, Vec<Value>) = instructions.into_iter().partition(|&i| ir::opcode(i) == Some(LLVMOpcode::LLVMPHI));
        let body = rest.into_iter().filter(|&i| i != back_edge && !ir::clone::is_debug_intrinsic(i)).collect();
        Some(OneBlockLoop { header, preheader, exit, phis, body })
    }

    /// preheader -> check 0 -> (aligned: loop entry | peel 0 -> (done: exit | check 1 ...)),
    /// with the last peel falling into the loop entry, which takes over as preheader.
    fn peel(&self, module: llvm_sys::prelude::LLVMModuleRef, address_slice: &[Value], address: Value, align_bytes: u64, peels: u32) {
        let b = Builder::new(module);
        let new_block = |name: &str| unsafe { LLVMInsertBasicBlockInContext(b.ctx, self.header, ir::cstring(name).as_ptr()) };
        let checks: Vec<Block> = (0..peels).map(|_| new_block("align.check")).collect();
        let peeled: Vec<Block> = (0..peels).map(|_| new_block("align.peel")).collect();
        let entry = new_block("align.done");
        let back_edge = ir::terminator(self.header);
        let on_back_edge = |phi: Value| incoming_from(phi, self.header);
        let mut stage: ValueMap = self.phis.iter().map(|&p| (p, incoming_from(p, self.preheader))).collect();
        let mut entry_incoming: Vec<(Vec<Value>, Block)> = Vec::new();
        for k in 0..peels as usize {
            b.position_at_end(checks[k]);
            let mut map = stage.clone();
            for &i in address_slice {
                let c = ir::clone::clone_instruction(&b, i, &map, true);
                map.insert(i, c);
            }
            let at = *map.get(&address).unwrap_or(&address);
            unsafe {
                let bits = LLVMBuildPtrToInt(b.raw(), at, b.i64_type(), ir::cstring("").as_ptr());
                let low = b.and(bits, b.const_int(b.i64_type(), align_bytes - 1));
                let aligned = LLVMBuildICmp(b.raw(), llvm_sys::LLVMIntPredicate::LLVMIntEQ, low, b.const_int(b.i64_type(), 0), ir::cstring("aligned").as_ptr());
                LLVMBuildCondBr(b.raw(), aligned, entry, peeled[k]);
            }
            entry_incoming.push((self.phis.iter().map(|p| stage[p]).collect(), checks[k]));

            b.position_at_end(peeled[k]);
            let mut map = stage.clone();
            for &i in &self.body {
                let c = ir::clone::clone_instruction(&b, i, &map, true);
                map.insert(i, c);
            }
            let next = if k + 1 < peels as usize { checks[k + 1] } else { entry };
            let [when_true, when_false] = ir::successors(self.header)[..] else { unreachable!("checked: a conditional back edge") };
            let to = |s: Block| if s == self.header { next } else { s };
            let condition = ir::operand(back_edge, 0);
            unsafe { LLVMBuildCondBr(b.raw(), *map.get(&condition).unwrap_or(&condition), to(when_true), to(when_false)) };
            for phi in ir::instructions(self.exit).into_iter().take_while(|&i| ir::opcode(i) == Some(LLVMOpcode::LLVMPHI)) {
                if let Some(v) = incoming_from_opt(phi, self.header) {
                    add_incoming(phi, *map.get(&v).unwrap_or(&v), peeled[k]);
                }
            }
            stage = self.phis.iter().map(|&p| (p, *map.get(&on_back_edge(p)).unwrap_or(&on_back_edge(p)))).collect();
        }
        entry_incoming.push((self.phis.iter().map(|p| stage[p]).collect(), peeled[peels as usize - 1]));

        b.position_at_end(entry);
        let starts: Vec<Value> = self
            .phis
            .iter()
            .enumerate()
            .map(|(n, &p)| {
                let merged = b.phi(ir::type_of(p));
                for (values, from) in &entry_incoming {
                    add_incoming(merged, values[n], *from);
                }
                merged
            })
            .collect();
        b.br(self.header);
        unsafe { LLVMSetSuccessor(ir::terminator(self.preheader), 0, checks[0]) };
        // The C API cannot retarget a phi's incoming block: each header phi is rebuilt.
        for (&old, &start) in self.phis.iter().zip(&starts) {
            b.position_before(old);
            let new = b.phi(ir::type_of(old));
            add_incoming(new, start, entry);
            add_incoming(new, on_back_edge(old), self.header);
            ir::replace_all_uses(old, new);
            ir::delete_instruction(old);
        }
    }
}

/// The instructions of `header` that compute `address` from its phis and values defined
/// before the loop, in order; None when that takes anything but arithmetic (a load, a call).
fn address_computation(header: Block, address: Value) -> Option<Vec<Value>> {
    use LLVMOpcode::*;
    let mut needed = Vec::new();
    let mut todo = vec![address];
    while let Some(v) = todo.pop() {
        if !ir::is_instruction(v) || ir::parent_block(v) != header || needed.contains(&v) {
            continue;
        }
        match ir::opcode(v)? {
            LLVMPHI => continue,
            LLVMGetElementPtr | LLVMAdd | LLVMSub | LLVMMul | LLVMShl | LLVMOr | LLVMAnd | LLVMSExt | LLVMZExt | LLVMTrunc => {}
            _ => return None,
        }
        needed.push(v);
        todo.extend(ir::operands(v));
    }
    Some(ir::instructions(header).into_iter().filter(|i| needed.contains(i)).collect())
}

fn incoming_from_opt(phi: Value, from: Block) -> Option<Value> {
    unsafe { (0..LLVMCountIncoming(phi)).find(|&i| LLVMGetIncomingBlock(phi, i) == from).map(|i| LLVMGetIncomingValue(phi, i)) }
}

fn incoming_from(phi: Value, from: Block) -> Value {
    incoming_from_opt(phi, from).expect("a loop header phi has an edge from the preheader and the back edge")
}

fn add_incoming(phi: Value, v: Value, from: Block) {
    let mut values = [v];
    let mut blocks = [from];
    unsafe { LLVMAddIncoming(phi, values.as_mut_ptr(), blocks.as_mut_ptr(), 1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::shifted_vector_loops::{scalarize_shifted_vector_updates, tests::triangle};

    /// The vectorizer's triangular update, pinned to its scalar remainder with the peel
    /// asked for, then peeled as the forward sweep would; `edit` changes the IR first.
    fn pinned_and_peeled(edit: impl Fn(String) -> String) -> (usize, String) {
        let text = edit(triangle(1));
        let ctx = inkwell::context::Context::create();
        let m = ir::parse_test_module(&ctx, &text);
        let f = ir::functions(m.as_mut_ptr()).into_iter().find(|&f| ir::name_of(f) == "f").unwrap();
        assert_eq!(scalarize_shifted_vector_updates(f, true), 1);
        let n = peel_marked_loops(f);
        m.verify().expect("still valid IR");
        (n, m.print_to_string().to_string())
    }

    #[test]
    fn the_pinned_remainder_is_peeled_to_alignment_and_asks_for_two_lanes() {
        let (n, text) = pinned_and_peeled(|t| t);
        assert_eq!(n, 1);
        // One peel for a 2 x 8-byte vector: checked on entry, leaving to the exit when the
        // row was one element long, else on to the loop.
        assert_eq!(text.matches("align.check:").count(), 1, "{text}");
        assert_eq!(text.matches("align.peel:").count(), 1, "{text}");
        assert!(text.lines().any(|l| l.contains("and i64") && l.ends_with(", 15")), "{text}");
        let back_edge = text.lines().find(|l| l.contains("br i1 %sdone")).unwrap();
        assert!(back_edge.contains("label %outer.latch"), "{back_edge}");
        assert!(text.contains("!\"llvm.loop.vectorize.width\", i32 2"), "{text}");
        assert!(text.contains("!\"llvm.loop.interleave.count\", i32 1"), "{text}");
        let peel = text.split("align.peel:").nth(1).unwrap();
        assert!(peel.lines().any(|l| l.contains("label %outer.latch, label %align.done")), "{peel}");
    }

    #[test]
    fn a_loop_with_two_stores_is_left_alone() {
        let second_store = |t: String| t.replace("  store double %sn, ptr %sop, align 8\n", "  store double %sn, ptr %sop, align 8\n  store double %sn, ptr %slp, align 8\n");
        let (n, text) = pinned_and_peeled(second_store);
        assert_eq!(n, 0);
        assert!(!text.contains("align.check"), "{text}");
    }
}
