//! Which rebuildable values to cache, chosen for the whole function at once: a minimum
//! vertex cut of the value graph between what cannot be rebuilt (call results, loads of
//! memory that changes, phis) and what the reverse sweep reads.
//!
//! The greedy rule in `plan.rs` decides value by value: a cheap float is recomputed only
//! when none of its operands is cached, so `a * b` with `a` and `b` cached costs a third
//! slot when the reverse also reads `a` and `b`, and `x[i] * y[i] * z[i]` on memory that
//! changes costs three slots when the product alone is read. The cut sees both: it stores
//! the least (bytes, weighted by loop depth) that lets every read be recomputed.

use super::gen::RevGen;
use super::need::{cheap_float, cheap_integer_or_address, is_block_or_metadata, reads_task_state, Need, Strategy};
use crate::analysis::min_cut::VertexCut;
use crate::ir::{self, Value};
use llvm_sys::LLVMOpcode::*;
use crate::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Available to the reverse sweep at no tape cost.
    Free,
    /// A pure operation, or a load that can be repeated: cached or recomputed.
    Rebuildable,
    /// Must be cached wherever it, or something rebuilt from it, is read.
    Source,
}

/// Tape slots per iteration grow with nesting: a value defined two loops deep is pushed
/// far more often than one defined outside every loop.
const DEPTH_WEIGHT: u64 = 8;

impl<'e> RevGen<'e> {
    pub(super) fn choose_caches_by_min_cut(&mut self) {
        if !self.engine.options.enabled("min-cut") || !self.engine.options.enabled("recompute") {
            return;
        }
        let mut needed: Vec<Value> = Vec::new();
        for b in 0..self.cfg.blocks.len() {
            for i in ir::instructions(self.cfg.blocks[b]) {
                for n in self.needs_of(i) {
                    self.primal_reads(n, &mut needed);
                }
            }
        }
        for l in 0..self.cfg.loops.len() {
            for n in self.induction_entry_needs(l) {
                self.primal_reads(n, &mut needed);
            }
        }

        let mut index: HashMap<Value, usize> = HashMap::default();
        let mut nodes: Vec<(Value, Role)> = Vec::new();
        let mut edges: Vec<(usize, usize)> = Vec::new();
        let mut work: Vec<Value> = needed.clone();
        while let Some(v) = work.pop() {
            if index.contains_key(&v) {
                continue;
            }
            let role = self.cut_role(v);
            if role == Role::Free {
                continue;
            }
            index.insert(v, nodes.len());
            nodes.push((v, role));
            if role == Role::Rebuildable {
                for o in ir::operands(v).into_iter().filter(|o| !is_block_or_metadata(*o)) {
                    work.push(o);
                }
            }
        }
        for &(v, role) in &nodes {
            if role != Role::Rebuildable {
                continue;
            }
            for o in ir::operands(v) {
                if let Some(&k) = index.get(&o) {
                    edges.push((k, index[&v]));
                }
            }
        }

        let mut cut = VertexCut::new(nodes.iter().map(|&(v, _)| self.cache_cost(v)).collect());
        for &(a, b) in &edges {
            cut.edge(a, b);
        }
        for (k, &(_, role)) in nodes.iter().enumerate() {
            if role == Role::Source {
                cut.source(k);
            }
        }
        for v in &needed {
            if let Some(&k) = index.get(v) {
                cut.sink(k);
            }
        }
        let cached = cut.solve();
        for (k, &(v, role)) in nodes.iter().enumerate() {
            if role == Role::Rebuildable {
                let s = if cached.contains(&k) { Strategy::Cache } else { Strategy::Recompute };
                self.strategies.insert(Need::Primal(v), s);
            }
        }
    }

    /// The primal values reading `n` comes down to (a shadow address is rebuilt from its
    /// base's shadow and primal indices).
    fn primal_reads(&mut self, n: Need, out: &mut Vec<Value>) {
        match n {
            Need::Primal(v) => out.push(v),
            Need::Shadow(_) if self.strategy(n) == Strategy::Recompute => {
                for o in self.recompute_operands(n) {
                    self.primal_reads(o, out);
                }
            }
            _ => {}
        }
    }

    fn cut_role(&self, v: Value) -> Role {
        if !ir::is_instruction(v) || self.defined_once_before_exit(v) {
            return Role::Free;
        }
        let op = ir::opcode(v).unwrap();
        if reads_task_state(v) {
            return Role::Free;
        }
        if self.engine.options.enabled("induction") && self.cfg.induction_loop(v).is_some() {
            return Role::Free;
        }
        if cheap_integer_or_address(op) || cheap_float(op) || op == LLVMLoad && self.load_is_repeatable(v) {
            Role::Rebuildable
        } else {
            Role::Source
        }
    }

    /// Bytes on the tape per run of the function, roughly: a slot per visit of its block.
    fn cache_cost(&self, v: Value) -> u64 {
        let m = ir::module_of_function(self.primal);
        let bytes = ir::data_layout_type_size(m, ir::type_of(v)).div_ceil(8) * 8;
        let mut depth = 0u32;
        let mut l = self.cfg.block_index(ir::parent_block(v)).and_then(|b| self.cfg.loop_of[b]);
        while let Some(x) = l {
            depth += 1;
            l = self.cfg.loops[x].parent;
        }
        bytes.max(8).saturating_mul(DEPTH_WEIGHT.saturating_pow(depth.min(6)))
    }
}
