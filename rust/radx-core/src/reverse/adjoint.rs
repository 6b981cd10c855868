//! The reverse sweep: adjoint slots, the per-instruction adjoints, control flow.

use super::gen::RevGen;
use super::need::{need_value, Need, Strategy};
use crate::analysis::nonzero::is_nonzero_finite;
use crate::diag::{opcode_name, short, Code, Diagnostic, Result};
use crate::ir::builder::adjoint_zero;
use crate::ir::{self, Type, Value};
use crate::rules::cancel::Known;
use crate::rules::{self, Rule};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::*;
use crate::collections::HashMap;

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const _;

impl<'e> RevGen<'e> {

    // ---- adjoint storage -------------------------------------------------------------

    pub(super) fn slot(&mut self, v: Value) -> Value {
        if let Some(&s) = self.slots.get(&v) {
            return s;
        }
        let t = ir::type_of(v);
        let s = self.rb.entry_alloca(self.rev, t);
        let init = crate::ir::builder::Builder::new(self.rb.module);
        init.position_before(self.rinit);
        init.store(adjoint_zero(t), s);
        self.slots.insert(v, s);
        s
    }

    pub fn add_adjoint(&mut self, v: Value, delta: Value) {
        if !self.activity.is_active(v) || !ir::contains_float(ir::type_of(v)) {
            return;
        }
        // A value used only in its own block gets all its contributions, and is read, while
        // that block's reverse is generated: its adjoint is an SSA value from the first
        // contribution on (no `-0.0 + d`), not a slot that the cleanup must promote. A rule
        // then also sees the expression an adjoint is (`ȳ / n`, which `rules::cancel`
        // looks for) rather than a load.
        if used_only_in_own_block(v) {
            let here = self.rb.current_block();
            let new = match self.local_adjoints.get(&v).copied() {
                Some((block, old)) => {
                    if block != here {
                        self.local_adjoint_escaped.get_or_insert(v);
                    }
                    self.add_values(old, delta)
                }
                None => delta,
            };
            self.local_adjoints.insert(v, (here, new));
            return;
        }
        let s = self.slot(v);
        let t = ir::type_of(v);
        let old = self.rb.load(t, s);
        // One addition per iteration into a value defined outside the loop forms a chain
        // as long as the loop, and blocks vectorizing the loop's reverse; the order of
        // adjoint additions is RadX's own, not the program's, so LLVM may reassociate them.
        let reassociable = self.engine.options.enabled("reassoc-sums") && self.accumulates_in_loop_without(v, self.current);
        let new = match reassociable.then(|| self.engine.reassoc_adds.fadd(&self.rb, old, delta)).flatten() {
            Some(sum) => sum,
            None => self.add_values(old, delta),
        };
        self.rb.store(new, s);
    }

    /// Block `b` lies in an innermost loop that `v` is not defined in.
    fn accumulates_in_loop_without(&self, v: Value, b: usize) -> bool {
        let Some(l) = self.cfg.loop_of[b] else { return false };
        let innermost = !self.cfg.loops.iter().any(|inner| inner.parent == Some(l));
        let defined_inside = ir::is_instruction(v) && self.cfg.block_index(ir::parent_block(v)).is_some_and(|d| self.cfg.loop_contains(l, d));
        innermost && !defined_inside
    }

    /// One instruction's contributions to its operands' adjoints. An operand used twice (`x - x`,
    /// `x * x`, `select c, x, x`) gets its contributions summed before they meet the running
    /// adjoint: added one at a time, `(x̄ + d) - d` loses an x̄ much smaller than d, and the
    /// reverse sweep would then disagree with forward mode, which computes `ẋ - ẋ = 0` exactly.
    pub(super) fn add_adjoints(&mut self, contributions: &[(Value, Value)]) {
        let mut merged: Vec<(Value, Value)> = Vec::with_capacity(contributions.len());
        for &(v, d) in contributions {
            match merged.iter_mut().find(|(w, _)| *w == v) {
                Some((_, sum)) => *sum = self.add_values(*sum, d),
                None => merged.push((v, d)),
            }
        }
        for (v, d) in merged {
            self.add_adjoint(v, d);
        }
    }

    /// Reads an adjoint and clears it for the next (earlier) execution of its definition.
    pub fn take_value(&mut self, v: Value) -> Value {
        let t = ir::type_of(v);
        if !self.activity.is_active(v) {
            return adjoint_zero(t);
        }
        if used_only_in_own_block(v) {
            return match self.local_adjoints.remove(&v) {
                Some((block, d)) => {
                    if block != self.rb.current_block() {
                        self.local_adjoint_escaped.get_or_insert(v);
                    }
                    d
                }
                None => adjoint_zero(t),
            };
        }
        let s = self.slot(v);
        let val = self.rb.load(t, s);
        self.rb.store(adjoint_zero(t), s);
        val
    }

    /// a + b on the floating-point leaves of a value; other leaves keep a's.
    pub(super) fn add_values(&self, a: Value, b: Value) -> Value {
        let t = ir::type_of(a);
        if ir::is_float(t) {
            return self.rb.fadd(a, b);
        }
        if ir::is_aggregate(t) && ir::contains_float(t) {
            let n = aggregate_len(t);
            let mut out = a;
            for k in 0..n {
                let ea = self.rb.extract_value(a, k);
                if !ir::contains_float(ir::type_of(ea)) {
                    continue;
                }
                let eb = self.rb.extract_value(b, k);
                let s = self.add_values(ea, eb);
                out = self.rb.insert_value(out, s, k);
            }
            return out;
        }
        a
    }

    /// `a` with its floating-point leaves cleared: to -0.0 (see `ir::builder::adjoint_zero`) for
    /// shadow memory nobody sees after the call, to 0.0 for memory the caller may read.
    pub(super) fn zero_float_leaves(&self, a: Value, private: bool) -> Value {
        let t = ir::type_of(a);
        let zero = if private { adjoint_zero } else { ir::const_null };
        if ir::is_float(t) || !ir::contains_pointer(t) {
            return zero(t);
        }
        let mut out = a;
        for k in 0..aggregate_len(t) {
            let e = self.rb.extract_value(a, k);
            if ir::contains_float(ir::type_of(e)) {
                let z = self.zero_float_leaves(e, private);
                out = self.rb.insert_value(out, z, k);
            }
        }
        out
    }

    /// Does `p` point only into stack slots or heap blocks this function frees, whose
    /// shadows the caller never sees?
    pub(super) fn is_private_memory(&self, p: Value) -> bool {
        let objs = crate::analysis::memory::underlying_objects(p);
        !objs.is_empty() && objs.iter().all(|o| ir::opcode(*o) == Some(LLVMAlloca) || self.deferred_frees.contains_key(o))
    }

    // ---- values in the reverse sweep -------------------------------------------------

    pub fn materialize(&mut self, n: Need, at: Value) -> Result<Value> {
        if let Some(&v) = self.memo.get(&n) {
            return Ok(v);
        }
        if let Some(&l) = self.iteration_cached.get(&n).filter(|&&l| self.cfg.loop_contains(l, self.current)) {
            let t = ir::type_of(need_value(n));
            debug_assert!(self.cfg.loops[l].latches.len() == 1);
            let slot = self.hoisted_slot(n, l, t);
            let v = self.rb.load(t, slot);
            self.memo.insert(n, v);
            return Ok(v);
        }
        if self.induction_in(n, self.current).is_some() {
            let (cur, _) = self.induction_slots(need_value(n));
            let v = self.rb.load(ir::type_of(need_value(n)), cur);
            self.memo.insert(n, v);
            return Ok(v);
        }
        if let Some(l) = self.invariant_loop(n, self.current).filter(|l| self.hoisted.contains(&(n, *l))) {
            let t = match n {
                Need::CallTape(_) => self.rb.ptr_type(),
                _ => ir::type_of(need_value(n)),
            };
            let slot = self.hoisted_slot(n, l, t);
            let v = self.rb.load(t, slot);
            self.memo.insert(n, v);
            return Ok(v);
        }
        if self.recompute_in.contains(&(n, self.current)) {
            let v = self.recompute(n, at)?;
            self.memo.insert(n, v);
            return Ok(v);
        }
        let v = match (self.strategy(n), n) {
            (Strategy::Direct, Need::Primal(v)) => {
                if ir::is_argument(v) {
                    self.rev_params[&v]
                } else if ir::is_instruction(v) {
                    self.fmap[&v]
                } else {
                    v
                }
            }
            (Strategy::Direct, Need::Shadow(v)) => {
                if ir::is_argument(v) {
                    match self.rev_param_shadows.get(&v) {
                        Some(s) => *s,
                        None => return Err(self.no_shadow(v, at)),
                    }
                } else if let Some(&s) = self.fshadow.get(&v).filter(|_| ir::is_constant(v)) {
                    s
                } else if ir::is_constant(v) {
                    if ir::is_null_or_undef(v) {
                        v
                    } else {
                        return Err(self.no_shadow(v, at));
                    }
                } else {
                    match self.fshadow.get(&v) {
                        Some(s) => *s,
                        None => return Err(self.no_shadow(v, at)),
                    }
                }
            }
            (Strategy::Direct, Need::CallTape(i)) => self.ftape[&i],
            (Strategy::ReverseAlloca, Need::Shadow(v)) => self.reverse_alloca(v, at)?,
            (Strategy::Recompute, _) => self.recompute(n, at)?,
            _ => {
                return Err(Diagnostic::new(Code::Internal, format!("value `{}` is needed by the reverse sweep but was not cached", short(need_value(n))))
                    .at(at)
                    .hint("this is a bug in RadX; please report it with the input module"))
            }
        };
        self.memo.insert(n, v);
        Ok(v)
    }

    pub(super) fn no_shadow(&self, v: Value, at: Value) -> Diagnostic {
        Diagnostic::new(Code::Activity, format!("a pointer without a shadow (`{}`) is used where derivatives must be stored", short(v)))
            .at(at)
            .hint("pass the memory with enzyme_dup (pointer and shadow) instead of enzyme_const, or keep active data out of it")
    }

    pub(super) fn recompute(&mut self, n: Need, at: Value) -> Result<Value> {
        let v = need_value(n);
        if matches!(n, Need::Primal(_)) && ir::opcode(v) == Some(LLVMPHI) {
            return self.rebuild_join_phi(v, at);
        }
        let ops: Vec<Need> = self.recompute_operands(n);
        let mut vals = Vec::new();
        for o in &ops {
            vals.push(self.materialize(*o, at)?);
        }
        let c = unsafe { LLVMInstructionClone(v) };
        let mut k = 0;
        for idx in 0..ir::num_operands(v) {
            let o = ir::operand(v, idx);
            if ir::value_as_block(o).is_some() {
                continue;
            }
            ir::set_operand(c, idx, vals[k]);
            k += 1;
        }
        self.rb.insert(c);
        ir::clear_debug_loc(c);
        if matches!(n, Need::Shadow(_)) || ir::opcode(v) == Some(LLVMLoad) {
            crate::shadows::strip_value_metadata(c);
        }
        if matches!(n, Need::Primal(_)) && ir::opcode(v) == Some(LLVMLoad) && self.load_is_repeatable(v) {
            self.readonly_loads.push(c);
        }
        Ok(c)
    }

    pub(super) fn reverse_alloca(&mut self, v: Value, at: Value) -> Result<Value> {
        if let Some(&a) = self.rev_allocas.get(&v) {
            return Ok(a);
        }
        let count = ir::operand(v, 0);
        if ir::const_int_value(count).is_none() {
            // The array's declaration is what the user changes; the use is where it was noticed.
            let d = Diagnostic::new(Code::Unsupported, "a variable-length stack array needs a shadow in split reverse mode (__enzyme_augmentfwd / __enzyme_reverse)").at(v);
            let d = if d.location.is_none() { d.with_location(ir::source_loc(at)) } else { d };
            return Err(d.hint("allocate it with malloc (and free it) in the function, or use __enzyme_autodiff"));
        }
        let ty = unsafe { LLVMGetAllocatedType(v) };
        let b = crate::ir::builder::Builder::new(self.rb.module);
        let entry = unsafe { LLVMGetEntryBasicBlock(self.rev) };
        b.position_before(unsafe { LLVMGetFirstInstruction(entry) });
        let a = unsafe { LLVMBuildArrayAlloca(b.raw(), ty, count, NO_NAME) };
        let init = crate::ir::builder::Builder::new(self.rb.module);
        init.position_before(self.rinit);
        let size = ir::data_layout_type_size(self.rb.module, ty) * ir::const_int_value(count).unwrap() as u64;
        init.memset_zero(a, init.const_int(init.i64_type(), size), 1);
        self.rev_allocas.insert(v, a);
        Ok(a)
    }

    // ---- adjoints of instructions ----------------------------------------------------

    pub(super) fn adjoint(&mut self, i: Value) -> Result<()> {
        let op = ir::opcode(i).unwrap();
        let active = self.activity.is_active(i);
        match op {
            LLVMCall => return self.adjoint_call(i),
            LLVMLoad => {
                let t = ir::type_of(i);
                if active && ir::contains_float(t) {
                    let d = self.take_value(i);
                    let sp = self.materialize(Need::Shadow(ir::operand(i, 0)), i)?;
                    let align = unsafe { LLVMGetAlignment(i) };
                    if self.gpu && !crate::analysis::gpu::thread_private(ir::operand(i, 0)) {
                        // Other threads may read the same element: their adjoints add up.
                        if !ir::is_float(t) {
                            return Err(Diagnostic::new(Code::Unsupported, "an aggregate load from memory shared between GPU threads needs an atomic adjoint, which is only emitted for scalars and vectors")
                                .at(i)
                                .hint("load the fields one by one"));
                        }
                        self.atomic_accumulate(sp, d);
                    } else {
                        let cur = aligned(self.rb.load(t, sp), align);
                        let new = self.add_values(cur, d);
                        aligned(self.rb.store(new, sp), align);
                    }
                }
            }
            LLVMStore => {
                let (v, p) = (ir::operand(i, 0), ir::operand(i, 1));
                let t = ir::type_of(v);
                if !self.activity.is_active(p) && self.activity.is_active(v) && ir::contains_float(t) {
                    let base = ir::underlying_object(p);
                    if ir::is_global_variable(base) {
                        return Err(Diagnostic::new(Code::Activity, format!("an active value is stored into the global variable `{}`, which has no shadow, so its adjoint would be lost", ir::name_of(base)))
                            .at(i)
                            .hint("pass the memory as an argument with enzyme_dup, or keep the global constant during differentiation"));
                    }
                }
                if self.activity.is_active(p) && !ir::is_pointer(t) {
                    let sp = self.materialize(Need::Shadow(p), i)?;
                    let align = unsafe { LLVMGetAlignment(i) };
                    if ir::contains_float(t) {
                        let cur = aligned(self.rb.load(t, sp), align);
                        self.add_adjoint(v, cur);
                        let z = self.zero_float_leaves(cur, self.is_private_memory(p));
                        aligned(self.rb.store(z, sp), align);
                    } else {
                        self.check_integer_move(i, v, p)?;
                        aligned(self.rb.store(ir::const_null(t), sp), align);
                    }
                }
            }
            LLVMAtomicRMW => {
                let (p, v) = (ir::operand(i, 0), ir::operand(i, 1));
                use llvm_sys::LLVMAtomicRMWBinOp::*;
                let kind = unsafe { LLVMGetAtomicRMWBinOp(i) };
                if self.activity.is_active(p) {
                    crate::analysis::memory::refuse_integer_atomic_on_floats(self.primal, i)?;
                }
                if self.activity.is_active(p) && ir::contains_float(ir::type_of(v)) {
                    let sp = self.materialize(Need::Shadow(p), i)?;
                    let cur = aligned(self.rb.load(ir::type_of(v), sp), unsafe { LLVMGetAlignment(i) });
                    // r = *p; *p = r ± v. Backwards: v takes ±p̄, and what p held before
                    // gets r̄ besides the p̄ the update passed through.
                    let old_value_adjoint = |g: &mut Self| {
                        if g.activity.is_active(i) {
                            let r = g.take_value(i);
                            let sum = g.add_values(cur, r);
                            aligned(g.rb.store(sum, sp), unsafe { LLVMGetAlignment(i) });
                        }
                    };
                    match kind {
                        LLVMAtomicRMWBinOpFAdd => {
                            self.add_adjoint(v, cur);
                            old_value_adjoint(self);
                        }
                        LLVMAtomicRMWBinOpFSub => {
                            let n = self.rb.fneg(cur);
                            self.add_adjoint(v, n);
                            old_value_adjoint(self);
                        }
                        // r = *p; *p = v. Backwards: v takes p's adjoint, and p's, for the
                        // value it held before, is the adjoint of r.
                        LLVMAtomicRMWBinOpXchg => {
                            self.add_adjoint(v, cur);
                            let r = self.take_value(i);
                            aligned(self.rb.store(r, sp), unsafe { LLVMGetAlignment(i) });
                        }
                        _ => {
                            return Err(Diagnostic::new(Code::NoRule, "no reverse-mode rule for this floating-point atomic operation").at(i));
                        }
                    }
                }
            }
            _ if !active => {}
            LLVMSelect => {
                let d = self.take_value(i);
                let c = self.materialize(Need::Primal(ir::operand(i, 0)), i)?;
                let z = adjoint_zero(ir::type_of(i));
                let (a, b) = (self.rb.select(c, d, z), self.rb.select(c, z, d));
                self.add_adjoints(&[(ir::operand(i, 1), a), (ir::operand(i, 2), b)]);
            }
            LLVMExtractValue => {
                let d = self.take_value(i);
                let agg = ir::operand(i, 0);
                let path = indices(i);
                let z = adjoint_zero(ir::type_of(agg));
                let full = self.insert_at_path(z, d, &path);
                self.add_adjoint(agg, full);
            }
            LLVMInsertValue => {
                let d = self.take_value(i);
                let (agg, val) = (ir::operand(i, 0), ir::operand(i, 1));
                let path = indices(i);
                let part = self.extract_at_path(d, &path);
                self.add_adjoint(val, part);
                let rest = self.insert_at_path(d, adjoint_zero(ir::type_of(val)), &path);
                self.add_adjoint(agg, rest);
            }
            LLVMExtractElement => {
                let d = self.take_value(i);
                let vec = ir::operand(i, 0);
                let idx = self.materialize(Need::Primal(ir::operand(i, 1)), i)?;
                let full = unsafe { LLVMBuildInsertElement(self.rb.raw(), adjoint_zero(ir::type_of(vec)), d, idx, NO_NAME) };
                self.add_adjoint(vec, full);
            }
            LLVMInsertElement => {
                let d = self.take_value(i);
                let (vec, val) = (ir::operand(i, 0), ir::operand(i, 1));
                let idx = self.materialize(Need::Primal(ir::operand(i, 2)), i)?;
                let part = unsafe { LLVMBuildExtractElement(self.rb.raw(), d, idx, NO_NAME) };
                self.add_adjoint(val, part);
                let rest = unsafe { LLVMBuildInsertElement(self.rb.raw(), d, adjoint_zero(ir::type_of(val)), idx, NO_NAME) };
                self.add_adjoint(vec, rest);
            }
            LLVMShuffleVector => self.adjoint_shuffle(i),
            LLVMFPExt | LLVMFPTrunc => {
                let d = self.take_value(i);
                let src = ir::operand(i, 0);
                let c = self.rb.fp_cast(d, ir::type_of(src));
                self.add_adjoint(src, c);
            }
            LLVMBitCast | LLVMFreeze => {
                let src = ir::operand(i, 0);
                if ir::contains_float(ir::type_of(i)) && ir::contains_float(ir::type_of(src)) {
                    let d = self.take_value(i);
                    let c = if op == LLVMFreeze { d } else { unsafe { LLVMBuildBitCast(self.rb.raw(), d, ir::type_of(src), NO_NAME) } };
                    self.add_adjoint(src, c);
                }
            }
            _ => {
                if let Some(rule) = rules::rule_for_opcode(op) {
                    let args = ir::operands(i);
                    return self.rule_adjoint(i, rule, &args);
                }
                if ir::contains_float(ir::type_of(i)) && !matches!(op, LLVMGetElementPtr | LLVMIntToPtr | LLVMPtrToInt | LLVMAddrSpaceCast | LLVMAlloca) {
                    return Err(Diagnostic::new(Code::NoRule, format!("no reverse-mode rule for the `{}` instruction", opcode_name(op))).at(i));
                }
            }
        }
        Ok(())
    }

    /// x̄ᵢ += ∂f/∂xᵢ · ȳ for every active operand, through the shared rule table.
    pub(super) fn rule_adjoint(&mut self, i: Value, rule: &Rule, args: &[Value]) -> Result<()> {
        if !self.activity.is_active(i) {
            return Ok(());
        }
        let d = self.take_value(i);
        let ty = ir::type_of(i);
        let mut env: HashMap<String, Value> = HashMap::default();
        // The reverse sweep's copy of a primal value is as nonzero as the primal.
        let mut nonzero_copies: Vec<Value> = Vec::new();
        for (v, n) in self.rule_reads(i, rule, args) {
            let val = self.materialize(n, i)?;
            if matches!(n, Need::Primal(p) if is_nonzero_finite(p)) {
                nonzero_copies.push(val);
            }
            env.insert(v, val);
        }
        let nonzero = |v: Value| nonzero_copies.contains(&v) || is_nonzero_finite(v);
        let known = Known { nonzero: &nonzero, cancel: self.engine.options.enabled("cancel-factors") };
        let mut contributions = Vec::with_capacity(args.len());
        for (k, p) in rule.partials.iter().enumerate() {
            let Some(p) = p else { continue };
            if !self.activity.is_active(args[k]) {
                continue;
            }
            let contrib = match p.as_const() {
                Some(c) if c == 0.0 => continue,
                Some(c) if c == 1.0 => d,
                Some(c) if c == -1.0 => self.rb.fneg(d),
                Some(c) => self.rb.fmul(self.rb.const_float(ty, c), d),
                None => p.emit_times(&self.rb, ty, &|name| env[name], d, known),
            };
            contributions.push((args[k], contrib));
        }
        self.add_adjoints(&contributions);
        Ok(())
    }

    pub(super) fn adjoint_shuffle(&mut self, i: Value) {
        let d = self.take_value(i);
        let (a, b) = (ir::operand(i, 0), ir::operand(i, 1));
        let na = unsafe { LLVMGetVectorSize(ir::type_of(a)) } as i32;
        let mut da = adjoint_zero(ir::type_of(a));
        let mut db = adjoint_zero(ir::type_of(b));
        let n = unsafe { LLVMGetNumMaskElements(i) };
        let i32t = self.rb.i32_type();
        for j in 0..n {
            let m = unsafe { LLVMGetMaskValue(i, j) };
            if m < 0 {
                continue;
            }
            let e = unsafe { LLVMBuildExtractElement(self.rb.raw(), d, self.rb.const_int(i32t, j as u64), NO_NAME) };
            let (target, idx) = if m < na { (&mut da, m) } else { (&mut db, m - na) };
            let at = self.rb.const_int(i32t, idx as u64);
            let cur = unsafe { LLVMBuildExtractElement(self.rb.raw(), *target, at, NO_NAME) };
            let sum = self.rb.fadd(cur, e);
            *target = unsafe { LLVMBuildInsertElement(self.rb.raw(), *target, sum, at, NO_NAME) };
        }
        self.add_adjoints(&[(a, da), (b, db)]);
    }

}

/// Shadow memory mirrors primal memory, so an access to it is aligned as the primal
/// access was (never more: a vector type's ABI alignment may exceed what the data has).
fn aligned(access: Value, align: u32) -> Value {
    if align > 0 {
        unsafe { LLVMSetAlignment(access, align) };
    }
    access
}


fn aggregate_len(t: Type) -> u32 {
    match ir::type_kind(t) {
        llvm_sys::LLVMTypeKind::LLVMStructTypeKind => ir::struct_fields(t).len() as u32,
        _ => ir::llvm::array_length(t) as u32,
    }
}

fn indices(i: Value) -> Vec<u32> {
    unsafe {
        let n = LLVMGetNumIndices(i) as usize;
        std::slice::from_raw_parts(LLVMGetIndices(i), n).to_vec()
    }
}

pub(super) fn free_type(b: &crate::ir::builder::Builder) -> Type {
    let mut p = [b.ptr_type()];
    unsafe { LLVMFunctionType(b.void_type(), p.as_mut_ptr(), 1, 0) }
}

/// `v` is an instruction with a single use, by a later non-phi instruction of its block.
/// Every use of `v` is an instruction of `v`'s own block other than a phi (a phi's value
/// flows in from a predecessor, in another execution of the block).
fn used_only_in_own_block(v: Value) -> bool {
    if !ir::is_instruction(v) || ir::opcode(v) == Some(LLVMPHI) {
        return false;
    }
    let home = ir::parent_block(v);
    ir::users(v).into_iter().all(|u| ir::is_instruction(u) && ir::opcode(u) != Some(LLVMPHI) && ir::parent_block(u) == home)
}
