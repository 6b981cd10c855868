//! What the reverse sweep reads, and how each value gets there: used directly, recomputed,
//! or cached on the tape by the block whose reverse needs it.

use super::gen::RevGen;
use super::need::{cheap_float, cheap_integer_or_address, is_block_or_metadata, need_value, program_order, reads_task_state, Need, Strategy};
use crate::analysis::activity::call_arg_is_active;
use crate::ir::{self, Value};
use crate::rules::{self, memory};
use crate::collections::HashMap;
use llvm_sys::LLVMOpcode::*;

impl<'e> RevGen<'e> {
    /// The needs of one instruction's adjoint (must match what `adjoint.rs` materializes).
    pub fn needs_of(&self, i: Value) -> Vec<Need> {
        let op = ir::opcode(i).unwrap();
        let active = |v: Value| self.activity.is_active(v);
        let mut out = Vec::new();
        match op {
            LLVMSelect if active(i) => out.push(Need::Primal(ir::operand(i, 0))),
            LLVMExtractElement if active(i) => out.push(Need::Primal(ir::operand(i, 1))),
            LLVMInsertElement if active(i) => out.push(Need::Primal(ir::operand(i, 2))),
            LLVMLoad if active(i) && ir::contains_float(ir::type_of(i)) => out.push(Need::Shadow(ir::operand(i, 0))),
            LLVMStore if active(ir::operand(i, 1)) && !ir::is_pointer(ir::type_of(ir::operand(i, 0))) => out.push(Need::Shadow(ir::operand(i, 1))),
            LLVMAtomicRMW if active(ir::operand(i, 0)) && ir::contains_float(ir::type_of(i)) => out.push(Need::Shadow(ir::operand(i, 0))),
            LLVMCall => self.call_needs(i, &mut out),
            _ if active(i) => {
                if let Some(rule) = rules::rule_for_opcode(op) {
                    self.rule_needs(i, rule, &ir::operands(i), &mut out);
                }
            }
            _ => {}
        }
        out
    }

    /// The primal values the partials of the rule's active parameters read, by the name
    /// the rule gives them (the planner plans them, the adjoint materializes them).
    pub(super) fn rule_reads(&self, i: Value, rule: &rules::Rule, args: &[Value]) -> Vec<(String, Need)> {
        let mut out: Vec<(String, Need)> = Vec::new();
        for (k, p) in rule.partials.iter().enumerate() {
            let Some(p) = p else { continue };
            if !self.activity.is_active(args[k]) {
                continue;
            }
            let mut vars = Vec::new();
            p.vars(&mut vars);
            for v in vars {
                if out.iter().any(|(n, _)| *n == v) {
                    continue;
                }
                let need = if v == "r" { Need::Primal(i) } else { Need::Primal(args[rule.param_index(&v).unwrap()]) };
                out.push((v, need));
            }
        }
        out
    }

    pub(super) fn rule_needs(&self, i: Value, rule: &rules::Rule, args: &[Value], out: &mut Vec<Need>) {
        for (_, n) in self.rule_reads(i, rule, args) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }

    pub(super) fn call_needs(&self, i: Value, out: &mut Vec<Need>) {
        let Some(callee) = ir::called_function(i) else { return };
        let name = ir::name_of(callee);
        let args = ir::call_args(i);
        if let Some(kind) = rules::gpu::gpu_call(&name) {
            if kind == rules::gpu::GpuCall::Barrier {
                out.extend(args.iter().map(|a| Need::Primal(*a)));
            }
            if kind.shuffled_value().is_some() && self.activity.is_active(i) {
                for k in [0, 2, 3] {
                    out.push(Need::Primal(args[k]));
                }
            }
            return;
        }
        if let Some(kind) = rules::julia::julia_call(&name) {
            if kind == rules::julia::JuliaCall::BoxFloat && self.activity.is_active(i) {
                out.push(Need::Shadow(i));
            }
            return;
        }
        if let Some(rule) = rules::rule_for_callee(&name) {
            if self.activity.is_active(i) {
                self.rule_needs(i, rule, &args, out);
            }
            return;
        }
        if let Some(t) = memory::memory_transfer(&name) {
            if self.activity.is_active(args[0]) {
                out.push(Need::Shadow(args[0]));
                if t != memory::Transfer::Set && self.activity.is_active(args[1]) {
                    out.push(Need::Shadow(args[1]));
                }
                out.push(Need::Primal(args[2]));
            }
            return;
        }
        if memory::allocator(&name) == Some(memory::Alloc::Reallocate) {
            out.push(Need::Primal(args[0]));
            out.push(Need::Primal(args[1]));
            out.push(Need::Shadow(i));
            if self.activity.is_active(args[0]) {
                out.push(Need::Shadow(args[0]));
            }
            if self.deferred_frees.contains_key(&i) {
                out.push(Need::Primal(i));
            }
            return;
        }
        if let Some(memory::Alloc::Allocate { .. }) = memory::allocator(&name) {
            if self.deferred_frees.contains_key(&i) {
                out.push(Need::Primal(i));
                if !self.merged_shadows.contains(&i) {
                    out.push(Need::Shadow(i));
                }
            }
            return;
        }
        if self.call_is_differentiated(i) {
            for a in &args {
                out.push(Need::Primal(*a));
                if call_arg_is_active(*a, self.activity.active_set()) && ir::is_pointer(ir::type_of(*a)) {
                    out.push(Need::Shadow(*a));
                }
            }
            out.push(Need::CallTape(i));
        }
    }

    pub fn strategy(&mut self, n: Need) -> Strategy {
        if let Some(s) = self.strategies.get(&n) {
            return *s;
        }
        let s = self.compute_strategy(n);
        self.strategies.insert(n, s);
        s
    }

    pub(super) fn defined_once_before_exit(&self, v: Value) -> bool {
        if !self.req.combined || !ir::is_instruction(v) {
            return false;
        }
        match self.cfg.block_index(ir::parent_block(v)) {
            Some(b) => !self.cfg.in_loop(b) && self.cfg.dominates_exits(b),
            None => false,
        }
    }

    pub(super) fn compute_strategy(&mut self, n: Need) -> Strategy {
        match n {
            Need::CallTape(i) => {
                if self.defined_once_before_exit(i) {
                    Strategy::Direct
                } else {
                    Strategy::Cache
                }
            }
            Need::Primal(v) => {
                if !ir::is_instruction(v) {
                    return Strategy::Direct;
                }
                if self.defined_once_before_exit(v) {
                    return Strategy::Direct;
                }
                let op = ir::opcode(v).unwrap();
                if reads_task_state(v) {
                    return Strategy::Recompute;
                }
                if !self.engine.options.enabled("recompute") {
                    return Strategy::Cache;
                }
                if cheap_integer_or_address(op) {
                    return Strategy::Recompute;
                }
                if cheap_float(op) && ir::operands(v).into_iter().all(|o| self.strategy(Need::Primal(o)) != Strategy::Cache) {
                    return Strategy::Recompute;
                }
                if op == LLVMLoad && self.load_is_repeatable(v) {
                    return Strategy::Recompute;
                }
                Strategy::Cache
            }
            Need::Shadow(v) => {
                if ir::is_argument(v) {
                    return Strategy::Direct;
                }
                if ir::is_constant(v) {
                    return Strategy::Direct;
                }
                if self.defined_once_before_exit(v) {
                    return Strategy::Direct;
                }
                match ir::opcode(v) {
                    Some(LLVMAlloca) if !self.req.combined => Strategy::ReverseAlloca,
                    Some(LLVMGetElementPtr) | Some(LLVMBitCast) | Some(LLVMAddrSpaceCast) => Strategy::Recompute,
                    _ => Strategy::Cache,
                }
            }
        }
    }

    /// A load can be repeated in the reverse sweep when nothing writes its memory in this
    /// function and nothing else can between the sweeps (combined mode only: in split mode
    /// the caller may overwrite arguments, and the forward sweep's stack is gone).
    pub(super) fn load_is_repeatable(&self, load: Value) -> bool {
        if !self.req.combined || unsafe { llvm_sys::core::LLVMGetVolatile(load) } != 0 {
            return false;
        }
        !self.memory.may_be_overwritten(load, self.engine.options.enabled("flow"))
    }

    /// The needs a recomputation reads.
    pub fn recompute_operands(&self, n: Need) -> Vec<Need> {
        match n {
            Need::Primal(v) => ir::operands(v).into_iter().filter(|o| !is_block_or_metadata(*o)).map(Need::Primal).collect(),
            Need::Shadow(v) => {
                let mut out = vec![Need::Shadow(ir::operand(v, 0))];
                for k in 1..ir::num_operands(v) {
                    out.push(Need::Primal(ir::operand(v, k)));
                }
                out
            }
            Need::CallTape(_) => vec![],
        }
    }

    /// The loop whose induction variable `n` is, when read inside that loop (its value
    /// comes from the reverse counter there).
    pub fn induction_in(&self, n: Need, b: usize) -> Option<usize> {
        if !self.engine.options.enabled("induction") {
            return None;
        }
        let Need::Primal(v) = n else { return None };
        self.cfg.induction_loop(v).filter(|&l| self.cfg.loop_contains(l, b))
    }

    /// A cached `fadd`/`fmul`/... whose operands the same block caches anyway is cheaper
    /// to redo from them than to store: one value on the tape instead of two.
    pub fn drop_redundant_caches(&mut self) {
        if !self.engine.options.enabled("redundant") {
            return;
        }
        for b in 0..self.caches.len() {
            loop {
                let mut changed = false;
                for n in self.caches[b].clone() {
                    let Need::Primal(v) = n else { continue };
                    if !ir::opcode(v).map(cheap_float).unwrap_or(false) {
                        continue;
                    }
                    let ok = ir::operands(v).into_iter().all(|o| {
                        let on = Need::Primal(o);
                        on != n
                            && (self.strategy(on) != Strategy::Cache
                                || self.caches[b].contains(&on)
                                || self.recompute_in.contains(&(on, b))
                                || self.invariant_loop(on, b).is_some())
                    });
                    if ok {
                        for o in ir::operands(v) {
                            self.plan(Need::Primal(o), b);
                        }
                        self.caches[b].retain(|x| *x != n);
                        self.recompute_in.insert((n, b));
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
        }
    }

    /// A value defined in a loop iteration and cached by several of its blocks (the exits
    /// of inner loops it is invariant in, say) is pushed once, at the latch, instead: the
    /// reverse of an iteration starts at the latch, which keeps the value in a slot for
    /// the iteration's other blocks. Only for loops left from their latch alone, so every
    /// iteration, the last included, passes it. A value whose definition the latch does
    /// not see reaches it through a stack slot (`iteration_carry`): in an iteration that
    /// skipped the definition the latch pushes whatever the slot holds, and no block of
    /// that iteration reads it.
    pub fn merge_iteration_caches(&mut self) {
        if !self.engine.options.enabled("merge-caches") {
            return;
        }
        for l in 0..self.cfg.loops.len() {
            let lp = &self.cfg.loops[l];
            let [latch] = lp.latches[..] else { continue };
            let leaves_from_latch_only = lp.body.iter().all(|&x| x == latch || self.cfg.succs[x].iter().all(|s| lp.body.contains(s)));
            if !leaves_from_latch_only || self.uses_slots(latch) {
                continue;
            }
            let level: Vec<usize> = lp.body.iter().copied().filter(|&x| self.cfg.loop_of[x] == Some(l)).collect();
            let mut sites: HashMap<Need, Vec<usize>> = HashMap::default();
            for &x in &level {
                for &n in &self.caches[x] {
                    sites.entry(n).or_default().push(x);
                }
            }
            let mut merged: Vec<(Need, Vec<usize>)> = sites
                .into_iter()
                .filter(|(n, xs)| {
                    let v = need_value(*n);
                    xs.len() > 1
                        && !matches!(n, Need::CallTape(_))
                        && ir::is_instruction(v)
                        && self.cfg.block_index(ir::parent_block(v)).map(|d| self.cfg.loop_of[d] == Some(l) && (self.cfg.dominates(d, latch) || matches!(n, Need::Primal(_)))).unwrap_or(false)
                })
                .collect();
            merged.sort_by_cached_key(|(n, _)| program_order(&self.cfg, *n));
            for (n, xs) in merged {
                for x in xs {
                    self.caches[x].retain(|m| *m != n);
                }
                if !self.caches[latch].contains(&n) {
                    self.caches[latch].push(n);
                }
                self.iteration_cached.insert(n, l);
            }
        }
    }

    /// The outermost loop that contains block `b` but not the definition of `n`, if its
    /// exits are entered only from inside it: there `n` is loop-invariant, and one copy
    /// pushed at the exit serves every iteration's reverse.
    pub fn invariant_loop(&self, n: Need, b: usize) -> Option<usize> {
        if !self.engine.options.enabled("hoist") {
            return None;
        }
        let v = need_value(n);
        if !ir::is_instruction(v) {
            return None;
        }
        let def = self.cfg.block_index(ir::parent_block(v))?;
        let mut best: Option<usize> = None;
        for (l, lp) in self.cfg.loops.iter().enumerate() {
            if !lp.body.contains(&b) || lp.body.contains(&def) || lp.exits.is_empty() {
                continue;
            }
            if lp.exits.iter().any(|&e| self.cfg.preds[e].iter().any(|p| !lp.body.contains(p))) {
                continue;
            }
            if best.map(|o| self.cfg.loops[o].body.len() < lp.body.len()).unwrap_or(true) {
                best = Some(l);
            }
        }
        best
    }

    /// Records that block `b`'s reverse reads `n`, adding caches where needed.
    pub fn plan(&mut self, n: Need, b: usize) {
        if self.induction_in(n, b).is_some() {
            return;
        }
        if let Need::Primal(v) = n {
            if self.join_phi_worth_rebuilding(v, b) {
                if self.recompute_in.insert((n, b)) {
                    for o in self.join_phi_operands(v) {
                        self.plan(o, b);
                    }
                }
                return;
            }
        }
        if self.strategy(n) == Strategy::Cache {
            if let Some(l) = self.invariant_loop(n, b) {
                if self.hoisted.insert((n, l)) {
                    for e in self.cfg.loops[l].exits.clone() {
                        self.plan(n, e);
                    }
                }
                return;
            }
        }
        match self.strategy(n) {
            Strategy::Direct | Strategy::ReverseAlloca => {}
            Strategy::Recompute => {
                for o in self.recompute_operands(n) {
                    self.plan(o, b);
                }
            }
            Strategy::Cache => {
                if !self.caches[b].contains(&n) {
                    self.caches[b].push(n);
                }
            }
        }
    }
}
