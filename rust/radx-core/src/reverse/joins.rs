//! Joins in the reverse sweep: which way a block with several predecessors was entered,
//! and the values of its phis, told from branch decisions of the same loop iteration
//! (witnesses, see `Cfg::entry_witnesses`) that the reverse can recompute (loop counters,
//! invariants), instead of an index recorded on the tape at every visit.

use super::gen::RevGen;
use super::need::{cheap_float, cheap_integer_or_address, is_block_or_metadata, Need, Strategy};
use crate::analysis::cfg::EdgeWitness;
use crate::diag::Result;
use crate::ir::{self, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::*;

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const _;

impl<'e> RevGen<'e> {
    // ---- planning ----------------------------------------------------------------------

    /// Picks the join blocks whose reverse can tell its predecessor without the tape: every
    /// witness condition (see `Cfg::entry_witnesses`) comes free in that block's reverse.
    pub(super) fn witness_joins(&mut self) {
        if !self.engine.options.enabled("joins") {
            return;
        }
        for b in 0..self.cfg.blocks.len() {
            if self.cfg.preds[b].len() < 2 || self.header_steered_by_induction(b) {
                continue;
            }
            let Some(ws) = self.cfg.entry_witnesses(b) else { continue };
            let conditions: Vec<Value> = ws.iter().flatten().flat_map(|w| w.conditions()).collect();
            if conditions.iter().all(|&c| self.free_at(Need::Primal(c), b, 0)) {
                for c in conditions {
                    self.plan(Need::Primal(c), b);
                }
                self.witnessed_joins.insert(b, ws);
            }
        }
    }

    /// Can block `b`'s reverse get `n` with nothing pushed for it on each visit? (An
    /// induction variable, a constant or argument, a loop-invariant value pushed once per
    /// run of the loop, or a recomputation from such.)
    pub(super) fn free_at(&mut self, n: Need, b: usize, depth: u32) -> bool {
        if let Some(&known) = self.free_memo.get(&(n, b)) {
            return known;
        }
        if depth > 16 {
            return false;
        }
        // a cycle through phis is not free (and must not recurse forever)
        self.free_memo.insert((n, b), false);
        let free = self.induction_in(n, b).is_some()
            || matches!(n, Need::Primal(v) if self.join_phi_recomputable(v, b, depth))
            || match self.strategy(n) {
                Strategy::Direct | Strategy::ReverseAlloca => true,
                Strategy::Recompute => self.recompute_operands(n).into_iter().all(|o| self.free_at(o, b, depth + 1)),
                Strategy::Cache => self.invariant_loop(n, b).is_some(),
            };
        self.free_memo.insert((n, b), free);
        free
    }

    /// A phi of a join block whose incoming values and entry witnesses all come free in
    /// block `b`'s reverse is rebuilt there as a select, not cached. `b` must see the same
    /// visit of the join as the phi's value: dominated by the join, inside its loop.
    pub(super) fn join_phi_recomputable(&mut self, v: Value, b: usize, depth: u32) -> bool {
        self.join_phi_rebuildable(v, b, depth, false)
    }

    /// As `join_phi_recomputable`, but the incoming values may also be computed from one
    /// value the join's loop iteration caches (the column's start in the vectorized
    /// triangle, which the remainder's start is derived from): the phi then costs no tape
    /// of its own, and merge-caches pushes that value once for the iteration's blocks.
    /// For planning only — the phi is not free in `free_at`'s sense.
    pub(super) fn join_phi_worth_rebuilding(&mut self, v: Value, b: usize) -> bool {
        self.join_phi_rebuildable(v, b, 0, true)
    }

    fn join_phi_rebuildable(&mut self, v: Value, b: usize, depth: u32, iteration_cache: bool) -> bool {
        if ir::opcode(v) != Some(LLVMPHI) || !self.engine.options.enabled("joins") || depth > 16 {
            return false;
        }
        let Some(j) = self.cfg.block_index(ir::parent_block(v)) else { return false };
        if self.cfg.loop_of[j].map(|l| !self.cfg.loop_contains(l, b)).unwrap_or(false) || !self.cfg.dominates(j, b) {
            return false;
        }
        if self.cfg.entry_witnesses(j).is_none() {
            return false;
        }
        // The witnesses' blocks dominate `b`; an incoming value may come from a path not
        // taken this time, so it is either defined on every path to `b` or safe to compute
        // from such values whatever they are (the select then discards it).
        let incoming: Vec<Value> = ir::operands(v).into_iter().filter(|o| !is_block_or_metadata(*o)).collect();
        let conditions: Vec<Value> = self.cfg.entry_witnesses(j).unwrap_or_default().iter().flatten().flat_map(|w| w.conditions()).collect();
        let witnesses_free = conditions.into_iter().all(|c| self.free_at(Need::Primal(c), b, depth + 1));
        let mut leaves = Vec::new();
        let join_loop = self.cfg.loop_of[j];
        witnesses_free
            && incoming.into_iter().all(|o| {
                o != v && self.available_at(o, b) && self.free_or_cached(o, b, join_loop, iteration_cache, &mut leaves, depth + 1)
                    || self.speculatable_at(o, b, join_loop, iteration_cache, &mut leaves, depth + 1)
            })
    }

    /// Free in block `b`, or (when `iteration_cache`) computed from one value cached in
    /// loop `l`'s iteration (see `from_iteration_cache`).
    fn free_or_cached(&mut self, v: Value, b: usize, l: Option<usize>, iteration_cache: bool, leaves: &mut Vec<Value>, depth: u32) -> bool {
        self.free_at(Need::Primal(v), b, depth) || iteration_cache && self.from_iteration_cache(v, b, l, leaves, depth)
    }

    /// Is `v` computed, by recomputation, from values free in block `b` and at most one
    /// value defined in `l`'s iteration that is cached (collected in `leaves`)?
    fn from_iteration_cache(&mut self, v: Value, b: usize, l: Option<usize>, leaves: &mut Vec<Value>, depth: u32) -> bool {
        let n = Need::Primal(v);
        if depth > 16 || self.free_at(n, b, depth) {
            return depth <= 16;
        }
        match self.strategy(n) {
            Strategy::Recompute => ir::operands(v).into_iter().filter(|o| !is_block_or_metadata(*o)).all(|o| self.from_iteration_cache(o, b, l, leaves, depth + 1)),
            Strategy::Cache => {
                let same_iteration = l.is_some() && self.cfg.block_index(ir::parent_block(v)).map(|d| self.cfg.loop_of[d] == l).unwrap_or(false);
                if same_iteration && !leaves.contains(&v) {
                    leaves.push(v);
                }
                same_iteration && leaves.len() <= 1
            }
            _ => false,
        }
    }

    /// Is `v` defined on every path to block `b` (a constant, an argument, or an
    /// instruction whose block dominates `b`)?
    fn available_at(&self, v: Value, b: usize) -> bool {
        if !ir::is_instruction(v) {
            return true;
        }
        self.cfg.block_index(ir::parent_block(v)).map(|d| self.cfg.dominates(d, b)).unwrap_or(false)
    }

    /// Can block `b`'s reverse compute `v` even when the primal never did this time: pure
    /// arithmetic (no memory, no division) on values defined on every path to `b` and
    /// induction variables of loops around it, with nothing pushed.
    fn speculatable_at(&mut self, v: Value, b: usize, l: Option<usize>, iteration_cache: bool, leaves: &mut Vec<Value>, depth: u32) -> bool {
        if depth > 16 {
            return false;
        }
        let n = Need::Primal(v);
        if self.induction_in(n, b).is_some() {
            return true;
        }
        if self.available_at(v, b) {
            return self.free_or_cached(v, b, l, iteration_cache, leaves, depth);
        }
        let Some(op) = ir::opcode(v) else { return false };
        (cheap_integer_or_address(op) || cheap_float(op))
            && self.strategy(n) == Strategy::Recompute
            && ir::operands(v).into_iter().all(|o| self.speculatable_at(o, b, l, iteration_cache, leaves, depth + 1))
    }

    /// What rebuilding a join phi reads: its incoming values and the join's witnesses.
    pub(super) fn join_phi_operands(&self, v: Value) -> Vec<Need> {
        let j = self.cfg.block_index(ir::parent_block(v)).unwrap();
        let mut out: Vec<Need> = ir::operands(v).into_iter().filter(|o| !is_block_or_metadata(*o)).map(Need::Primal).collect();
        out.extend(self.cfg.entry_witnesses(j).unwrap_or_default().iter().flatten().flat_map(|w| w.conditions()).map(Need::Primal));
        out
    }

    // ---- emission ----------------------------------------------------------------------

    /// Which predecessor the join `j` was entered from, as its index in `preds[j]`, from
    /// the witnesses (`Cfg::entry_witnesses`): the unwitnessed one when no witness holds.
    pub(super) fn entered_from(&mut self, j: usize, witnesses: &[Option<EdgeWitness>], at: Value) -> Result<Value> {
        debug_assert!(self.cfg.preds[j].len() == witnesses.len());
        let i32t = self.rb.i32_type();
        self.select_by_entry(witnesses, at, |g, k| Ok(g.rb.const_int(i32t, k as u64)))
    }

    /// A join phi, rebuilt from its incoming values by which way the join was entered.
    pub(super) fn rebuild_join_phi(&mut self, phi: Value, at: Value) -> Result<Value> {
        let j = self.cfg.block_index(ir::parent_block(phi)).unwrap();
        let witnesses = self.cfg.entry_witnesses(j).unwrap();
        let blocks: Vec<ir::Block> = self.cfg.preds[j].iter().map(|&p| self.cfg.blocks[p]).collect();
        self.select_by_entry(&witnesses, at, |g, k| {
            let v = unsafe { (0..LLVMCountIncoming(phi)).find(|&e| LLVMGetIncomingBlock(phi, e) == blocks[k]).map(|e| LLVMGetIncomingValue(phi, e)).unwrap() };
            g.materialize(Need::Primal(v), at)
        })
    }

    /// `value_of(k)` for the predecessor `k` the join was entered from: a chain of selects
    /// on the witnesses, the unwitnessed predecessor's value when none holds.
    fn select_by_entry(&mut self, witnesses: &[Option<EdgeWitness>], at: Value, mut value_of: impl FnMut(&mut Self, usize) -> Result<Value>) -> Result<Value> {
        let fallback = witnesses.iter().position(|w| w.is_none()).unwrap_or(witnesses.len() - 1);
        let mut v = value_of(self, fallback)?;
        for (k, w) in witnesses.iter().enumerate() {
            let Some(w) = w.as_ref().filter(|_| k != fallback) else { continue };
            let x = value_of(self, k)?;
            let taken = self.witness_holds(w, at)?;
            v = self.rb.select(taken, x, v);
        }
        Ok(v)
    }

    fn witness_holds(&mut self, w: &EdgeWitness, at: Value) -> Result<Value> {
        let mut all = None;
        for side in &w.sides {
            let c = self.materialize(Need::Primal(side.condition), at)?;
            let c = if side.when_true { c } else { unsafe { LLVMBuildNot(self.rb.raw(), c, NO_NAME) } };
            all = Some(match all {
                None => c,
                Some(a) => unsafe { LLVMBuildAnd(self.rb.raw(), a, c, NO_NAME) },
            });
        }
        Ok(all.expect("a witness has at least one branch side"))
    }
}
