//! Control flow of the reverse sweep: where it starts (the return that was taken), one
//! reverse block per primal block, loops run backwards by their induction variables, and
//! the edge to the predecessor the primal came from, carrying phi adjoints.

use super::adjoint::free_type;
use super::gen::RevGen;
use super::need::{program_order, Need};
use super::tape;
use crate::diag::Result;
use crate::ir::{self, Type, Value};
use crate::request::RevArg;
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::*;

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const _;

impl<'e> RevGen<'e> {
    pub(super) fn reverse_sweep(&mut self) -> Result<()> {
        let ctx = self.rb.ctx;
        let start = unsafe { LLVMAppendBasicBlockInContext(ctx, self.rev, b"rev.start\0".as_ptr() as *const _) };
        let exit = unsafe { LLVMAppendBasicBlockInContext(ctx, self.rev, b"rev.exit\0".as_ptr() as *const _) };
        if self.req.combined {
            for &br in &self.exit_branches {
                unsafe { LLVMSetSuccessor(br, 0, start) };
            }
        } else {
            self.rb.position_at_end(self.rentry);
            self.rb.br(start);
        }
        self.rb.position_at_end(start);
        let primal_result = if self.req.combined && self.req.return_primal && !self.exit_values.is_empty() {
            let p = self.rb.phi(ir::type_of(self.exit_values[0].1));
            for &(bb, v) in &self.exit_values {
                let (mut vv, mut bl) = ([v], [bb]);
                unsafe { LLVMAddIncoming(p, vv.as_mut_ptr(), bl.as_mut_ptr(), 1) };
            }
            Some(p)
        } else {
            None
        };
        let exits = self.cfg.exits.clone();
        self.rinit = match exits.len() {
            0 => unsafe { LLVMBuildUnreachable(self.rb.raw()) },
            1 => self.rb.br(self.rblocks[exits[0]]),
            n => {
                let id = match self.exit_slot {
                    Some(slot) => self.rb.load(self.rb.i32_type(), slot),
                    None => tape::pop_group(&self.rb, self.rstate, &[self.rb.i32_type()])[0],
                };
                let sw = unsafe { LLVMBuildSwitch(self.rb.raw(), id, self.rblocks[exits[0]], n as u32 - 1) };
                for (k, &e) in exits.iter().enumerate().skip(1) {
                    unsafe { LLVMAddCase(sw, self.rb.const_int(self.rb.i32_type(), k as u64), self.rblocks[e]) };
                }
                sw
            }
        };
        for b in 0..self.cfg.blocks.len() {
            self.reverse_block(b, exit)?;
        }
        self.rb.position_at_end(exit);
        if self.uses_tape && !self.fixed_tape() {
            tape::release(&self.rb, self.rstate, self.tape_reuse());
            let free_ty = free_type(&self.rb);
            if !self.req.combined {
                let header = *ir::params(self.rev).last().unwrap();
                self.rb.call_named("free", free_ty, &[header]);
            }
        }
        let mut results = Vec::new();
        if let Some(p) = primal_result {
            results.push(p);
        }
        for (p, a) in ir::params(self.primal).into_iter().zip(self.req.args.clone()) {
            if a == RevArg::Active {
                // + 0.0 turns an adjoint nothing reached (-0.0, see `ir::builder::adjoint_zero`)
                // into 0.0 and leaves every other value as it is
                let v = self.take_value(p);
                let v = self.add_values(v, ir::const_null(ir::type_of(v)));
                results.push(v);
            }
        }
        let packed = self.rb.pack(&results);
        self.rb.ret(packed);
        Ok(())
    }

    pub(super) fn reverse_block(&mut self, b: usize, exit: ir::Block) -> Result<()> {
        self.rb.position_at_end(self.rblocks[b]);
        self.memo.clear();
        self.current = b;
        let needs = self.caches[b].clone();
        let mut types: Vec<Type> = needs
            .iter()
            .map(|n| match n {
                Need::Primal(v) | Need::Shadow(v) => ir::type_of(*v),
                Need::CallTape(_) => self.rb.ptr_type(),
            })
            .collect();
        let multi = self.records_predecessor(b);
        if multi {
            types.push(self.rb.i32_type());
        }
        let vals = match self.group_slots.get(&b) {
            Some(slots) => slots.iter().zip(&types).map(|(s, t)| self.rb.load(*t, *s)).collect(),
            None => tape::pop_group(&self.rb, self.rstate, &types),
        };
        for (n, v) in needs.iter().zip(&vals) {
            self.memo.insert(*n, *v);
            if let Some(&l) = self.iteration_cached.get(n).filter(|&&l| self.cfg.loops[l].latches == [b]) {
                let slot = self.hoisted_slot(*n, l, ir::type_of(*v));
                self.rb.store(*v, slot);
            }
        }
        let pred_id = if multi { vals.last().copied() } else { None };
        let bb = self.cfg.blocks[b];
        let insts = ir::instructions(bb);
        let term = *insts.last().unwrap();
        if ir::opcode(term) == Some(LLVMRet) && ir::num_operands(term) == 1 && self.req.return_active {
            let seed = self.seed.unwrap();
            self.add_adjoint(ir::operand(term, 0), seed);
        }
        let mut phis = Vec::new();
        for &i in insts.iter().rev().skip(1) {
            match ir::opcode(i) {
                Some(LLVMPHI) => phis.push(i),
                _ if crate::ir::clone::is_debug_intrinsic(i) => {}
                _ => self.adjoint(i)?,
            }
        }
        let active_phis: Vec<Value> = phis.into_iter().filter(|p| self.activity.is_active(*p) && ir::contains_float(ir::type_of(*p))).collect();
        let phi_adjoints: Vec<(Value, Value)> = active_phis.into_iter().map(|p| (p, self.take_value(p))).collect();
        self.enter_loops_in_reverse(b)?;
        let recover = self.engine.options.enabled("induction");
        if let Some(l) = self.cfg.loops.iter().position(|l| recover && l.header == b && l.induction.is_some()) {
            self.leave_header_in_reverse(l, &phi_adjoints);
            return Ok(());
        }
        let preds = self.cfg.preds[b].clone();
        if preds.is_empty() {
            self.rb.br(exit);
            return Ok(());
        }
        if preds.len() == 1 {
            self.phi_edge(bb, preds[0], &phi_adjoints);
            self.rb.br(self.rblocks[preds[0]]);
            return Ok(());
        }
        let ctx = self.rb.ctx;
        let mut edges = Vec::new();
        for &p in &preds {
            let e = unsafe { LLVMAppendBasicBlockInContext(ctx, self.rev, ir::cstring(&format!("rev.edge.{b}.{p}")).as_ptr()) };
            edges.push(e);
        }
        let pred_id = match self.witnessed_joins.get(&b).cloned() {
            Some(ws) => self.entered_from(b, &ws, term)?,
            None => pred_id.unwrap(),
        };
        let sw = unsafe { LLVMBuildSwitch(self.rb.raw(), pred_id, edges[0], preds.len() as u32 - 1) };
        for k in 1..preds.len() {
            unsafe { LLVMAddCase(sw, self.rb.const_int(self.rb.i32_type(), k as u64), edges[k]) };
        }
        for (k, &p) in preds.iter().enumerate() {
            self.rb.position_at_end(edges[k]);
            self.phi_edge(bb, p, &phi_adjoints);
            let edge = self.rb.br(self.rblocks[p]);
            if let Some(l) = self.cfg.loops.iter().position(|l| l.header == b && l.latches.contains(&p)) {
                self.keep_vectorizer_mark(l, edge);
            }
        }
        Ok(())
    }

    pub(super) fn induction_slots(&mut self, phi: Value) -> (Value, Value) {
        if let Some(&s) = self.induction_slots.get(&phi) {
            return s;
        }
        let t = ir::type_of(phi);
        let s = (self.rb.entry_alloca(self.rev, t), self.rb.entry_alloca(self.rev, t));
        self.induction_slots.insert(phi, s);
        s
    }

    /// Leaving exit block `b` backwards enters the loops it exits: their reverse counters
    /// start at the induction variable's last value.
    pub(super) fn enter_loops_in_reverse(&mut self, b: usize) -> Result<()> {
        let term = ir::terminator(self.cfg.blocks[b]);
        let recover = self.engine.options.enabled("induction");
        for l in 0..self.cfg.loops.len() {
            if !recover || !self.cfg.loops[l].exits.contains(&b) {
                continue;
            }
            let Some(iv) = self.cfg.loops[l].induction else { continue };
            let t = ir::type_of(iv.phi);
            let start = self.materialize(Need::Primal(iv.start), term)?;
            let last = match self.cfg.loops[l].exit_value.filter(|_| self.engine.options.enabled("exit-value")) {
                Some(x) => {
                    let bound = self.materialize(Need::Primal(x.bound), term)?;
                    if x.compares_next {
                        unsafe { LLVMBuildSub(self.rb.raw(), bound, LLVMConstInt(t, iv.step as u64, 1), NO_NAME) }
                    } else {
                        bound
                    }
                }
                None => self.materialize(Need::Primal(iv.phi), term)?,
            };
            let (cur, first) = self.induction_slots(iv.phi);
            self.rb.store(last, cur);
            self.rb.store(start, first);
            // iterations done after the first, times the steering variable's step (±1)
            let travelled = unsafe { LLVMBuildSub(self.rb.raw(), last, start, NO_NAME) };
            let derive = self.derives_other_inductions(l);
            for other in self.cfg.loops[l].other_inductions.clone() {
                let ot = ir::type_of(other.phi);
                let other_last = if derive {
                    let other_start = self.materialize(Need::Primal(other.start), term)?;
                    // Iterations done after the first: the distance travelled in steps (exact:
                    // the exit test stopped the steering variable on its bound).
                    let steps = match iv.step {
                        1 => travelled,
                        -1 => unsafe { LLVMBuildNeg(self.rb.raw(), travelled, NO_NAME) },
                        s => unsafe { LLVMBuildExactSDiv(self.rb.raw(), travelled, LLVMConstInt(t, s as u64, 1), NO_NAME) },
                    };
                    let k = self.rb.int_cast(steps, ot, true);
                    let moved = unsafe { LLVMBuildMul(self.rb.raw(), k, LLVMConstInt(ot, other.step as u64, 1), NO_NAME) };
                    unsafe { LLVMBuildAdd(self.rb.raw(), other_start, moved, NO_NAME) }
                } else {
                    self.materialize(Need::Primal(other.phi), term)?
                };
                let (cur, _) = self.induction_slots(other.phi);
                self.rb.store(other_last, cur);
            }
        }
        let mut hoisted: Vec<(Need, usize)> = self.hoisted.iter().copied().filter(|(_, l)| self.cfg.loops[*l].exits.contains(&b)).collect();
        hoisted.sort_by_cached_key(|(n, l)| (*l, program_order(&self.cfg, *n)));
        for (n, l) in hoisted {
            let v = self.materialize(n, term)?;
            let slot = self.hoisted_slot(n, l, ir::type_of(v));
            self.rb.store(v, slot);
        }
        Ok(())
    }

    /// The slot holding `n` for the reverse of loop `l`: a value hoisted out of `l`, or one
    /// pushed once per iteration of `l` (never both for one loop: the first is defined
    /// outside `l`, the second inside).
    pub(super) fn hoisted_slot(&mut self, n: Need, l: usize, t: Type) -> Value {
        if let Some(&s) = self.hoisted_slots.get(&(n, l)) {
            return s;
        }
        let s = self.rb.entry_alloca(self.rev, t);
        self.hoisted_slots.insert((n, l), s);
        s
    }

    /// The reverse of a loop header: the first iteration came from the preheader, every
    /// other from the latch, one step earlier.
    pub(super) fn leave_header_in_reverse(&mut self, l: usize, phi_adjoints: &[(Value, Value)]) {
        let iv = self.cfg.loops[l].induction.unwrap();
        let (cur_slot, first_slot) = self.induction_slots(iv.phi);
        let t = ir::type_of(iv.phi);
        let cur = self.rb.load(t, cur_slot);
        let first = self.rb.load(t, first_slot);
        let at_start = unsafe { LLVMBuildICmp(self.rb.raw(), llvm_sys::LLVMIntPredicate::LLVMIntEQ, cur, first, NO_NAME) };
        let ctx = self.rb.ctx;
        let b = self.cfg.loops[l].header;
        let to_pre = unsafe { LLVMAppendBasicBlockInContext(ctx, self.rev, ir::cstring(&format!("rev.edge.{b}.{}", iv.preheader)).as_ptr()) };
        let to_latch = unsafe { LLVMAppendBasicBlockInContext(ctx, self.rev, ir::cstring(&format!("rev.edge.{b}.{}", iv.latch)).as_ptr()) };
        unsafe { LLVMBuildCondBr(self.rb.raw(), at_start, to_pre, to_latch) };
        let bb = self.cfg.blocks[b];
        self.rb.position_at_end(to_pre);
        self.phi_edge(bb, iv.preheader, phi_adjoints);
        self.rb.br(self.rblocks[iv.preheader]);
        self.rb.position_at_end(to_latch);
        let prev = unsafe { LLVMBuildSub(self.rb.raw(), cur, LLVMConstInt(t, iv.step as u64, 1), NO_NAME) };
        self.rb.store(prev, cur_slot);
        let others = self.cfg.loops[l].other_inductions.clone();
        for other in others {
            let (slot, _) = self.induction_slots(other.phi);
            let ty = ir::type_of(other.phi);
            let v = self.rb.load(ty, slot);
            let p = unsafe { LLVMBuildSub(self.rb.raw(), v, LLVMConstInt(ty, other.step as u64, 1), NO_NAME) };
            self.rb.store(p, slot);
        }
        self.phi_edge(bb, iv.latch, phi_adjoints);
        let back_edge = self.rb.br(self.rblocks[iv.latch]);
        self.keep_vectorizer_mark(l, back_edge);
    }

    /// The reverse of a loop LLVM's vectorizer has handled (its vector body, or the scalar
    /// remainder it marks the same way) is marked handled too. A remainder runs fewer
    /// iterations than a vector step; vectorized again, its reverse costs a run-time check
    /// per entry and reads with vector loads the shadows that the scalar code before it has
    /// just written one element at a time, which store-to-load forwarding cannot serve.
    pub(super) fn keep_vectorizer_mark(&self, l: usize, back_edge: Value) {
        if !self.engine.options.enabled("vectorizer-marks") {
            return;
        }
        let latches = || self.cfg.loops[l].latches.iter().map(|&b| ir::terminator(self.cfg.blocks[b]));
        // A remainder the forward sweep runs in place of the vector loop (see
        // `shifted_vector_loops`) is the whole loop: its reverse may be vectorized.
        if latches().any(|t| ir::aligned_peel_request(t).is_some()) {
            return;
        }
        if latches().any(ir::loop_marked_vectorized) {
            ir::mark_loop_vectorized(back_edge);
        }
    }

    /// Hands each phi's adjoint to the value it took on the edge from `pred`.
    pub(super) fn phi_edge(&mut self, _bb: ir::Block, pred: usize, phi_adjoints: &[(Value, Value)]) {
        let pred_block = self.cfg.blocks[pred];
        for &(phi, adj) in phi_adjoints {
            let n = unsafe { LLVMCountIncoming(phi) };
            for k in 0..n {
                if unsafe { LLVMGetIncomingBlock(phi, k) } == pred_block {
                    let v = unsafe { LLVMGetIncomingValue(phi, k) };
                    self.add_adjoint(v, adj);
                    break;
                }
            }
        }
    }
}
