//! The forward sweep of a reverse-mode derivative: the primal, the shadows of pointers
//! (stores of pointers mirrored into shadow memory, zeroed shadow allocations, frees of
//! local allocations deferred), and at the end of each block the push of what that block's
//! reverse will need.

use super::gen::RevGen;
use super::need::{need_value, program_order, Need};
use super::tape;
use crate::analysis::activity::call_arg_is_active;
use crate::diag::{short, Code, Diagnostic, Result};
use crate::ir::{self, clone, Value};
use crate::request::RevArg;
use crate::rules::{self, memory};
use crate::shadows::{mirror_with_shadows, reject_julia_call, strip_value_metadata, zero_julia_allocation};
use crate::signature::{signatures, unpack};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::*;

impl<'e> RevGen<'e> {
    /// The forward value of a primal value.
    pub fn fval(&self, v: Value) -> Value {
        self.fmap.get(&v).copied().unwrap_or(v)
    }

    /// The forward shadow of a pointer, or null for null; else an activity error.
    pub fn fshadow_of(&self, v: Value, at: Value) -> Result<Value> {
        if let Some(s) = self.fshadow.get(&v) {
            return Ok(*s);
        }
        if ir::is_null_or_undef(v) || !ir::contains_pointer(ir::type_of(v)) {
            return Ok(ir::const_null(ir::type_of(v)));
        }
        Err(Diagnostic::new(Code::Activity, format!("a pointer without a shadow (`{}`) is used where its shadow is needed", short(v)))
            .at(at)
            .hint("the pointer comes from an inactive (enzyme_const) argument or a global; pass it with enzyme_dup if derivatives flow through its memory"))
    }

    pub(super) fn clone_fwd(&mut self, i: Value) -> Value {
        let c = clone::clone_instruction(&self.fb, i, &self.fmap, false);
        self.fmap.insert(i, c);
        c
    }

    pub(super) fn forward_sweep(&mut self) -> Result<()> {
        let mut phis = Vec::new();
        let entry_block = self.cfg.blocks[0];
        for b in 0..self.cfg.blocks.len() {
            let bb = self.cfg.blocks[b];
            self.fmap.insert(ir::block_as_value(bb), ir::block_as_value(self.fblocks[b]));
        }
        self.fb.position_at_end(self.fentry);
        self.fb.br(self.fblocks[0]);
        for i in ir::all_instructions(self.primal) {
            for o in ir::operands(i) {
                if let Some(s) = self.engine.global_shadow(o, 0) {
                    self.fshadow.insert(o, s);
                }
            }
        }
        let shared = crate::analysis::shared::shared_globals(self.primal);
        for &g in &shared {
            self.fshadow.insert(g, crate::analysis::shared::make_shadow(g, 0));
        }
        let shadows: Vec<Value> = shared.iter().map(|g| self.fshadow[g]).collect();
        crate::analysis::shared::zero_on_entry(self.fwd, self.fentry, &shadows);
        for b in 0..self.cfg.blocks.len() {
            let bb = self.cfg.blocks[b];
            self.fb.position_at_end(self.fblocks[b]);
            if self.records_predecessor(b) {
                let p = self.fb.phi(self.fb.i32_type());
                self.pred_phis.insert(b, p);
            }
            let insts = ir::instructions(bb);
            let (body, term) = insts.split_at(insts.len() - 1);
            for &i in body {
                if clone::is_debug_intrinsic(i) {
                    continue;
                }
                if ir::opcode(i) == Some(LLVMPHI) {
                    let p = self.fb.phi(ir::type_of(i));
                    ir::set_name(p, &ir::name_of(i));
                    self.fmap.insert(i, p);
                    if self.activity.is_active(i) && ir::contains_pointer(ir::type_of(i)) {
                        let s = self.fb.phi(ir::type_of(i));
                        self.fshadow.insert(i, s);
                    }
                    phis.push(i);
                    continue;
                }
                let in_entry = bb == entry_block && ir::opcode(i) == Some(LLVMAlloca);
                if in_entry {
                    let t = unsafe { LLVMGetBasicBlockTerminator(self.fentry) };
                    self.fb.position_before(t);
                }
                self.forward_instruction(i)?;
                if in_entry {
                    self.fb.position_at_end(self.fblocks[b]);
                }
            }
            self.push_block(b)?;
            self.reserve_for_loops_entered_from(b);
            self.forward_terminator(b, term[0])?;
        }
        for p in phis {
            let np = self.fmap[&p];
            let map = &self.fmap;
            clone::add_mapped_incoming(p, np, map, |v| map.get(&v).copied().unwrap_or(v));
            if let Some(&sp) = self.fshadow.get(&p) {
                let mut err = None;
                let this = &*self;
                clone::add_mapped_incoming(p, sp, &this.fmap, |v| {
                    this.fshadow_of(v, p).unwrap_or_else(|e| {
                        err = Some(e);
                        ir::const_null(ir::type_of(v))
                    })
                });
                if let Some(e) = err {
                    return Err(e);
                }
            }
        }
        for (&b, &phi) in &self.pred_phis {
            for (k, &p) in self.cfg.preds[b].iter().enumerate() {
                // One entry per edge: a switch may reach `b` by several cases.
                let edges = ir::successors(self.cfg.blocks[p]).into_iter().filter(|s| *s == self.cfg.blocks[b]).count();
                for _ in 0..edges {
                    let mut v = [self.fb.const_int(self.fb.i32_type(), k as u64)];
                    let mut blk = [self.fblocks[p]];
                    unsafe { LLVMAddIncoming(phi, v.as_mut_ptr(), blk.as_mut_ptr(), 1) };
                }
            }
        }
        Ok(())
    }

    pub(super) fn push_block(&mut self, b: usize) -> Result<()> {
        self.carry_iteration_values_defined_in(b);
        let mut values = Vec::new();
        for n in self.caches[b].clone() {
            values.push(match n {
                Need::Primal(v) if self.iteration_carry.contains_key(&n) => self.fb.load(ir::type_of(v), self.iteration_carry[&n]),
                Need::Primal(v) => self.fval(v),
                Need::Shadow(v) => self.fshadow_of(v, ir::terminator(self.cfg.blocks[b]))?,
                Need::CallTape(i) => self.ftape[&i],
            });
        }
        if let Some(&p) = self.pred_phis.get(&b) {
            values.push(p);
        }
        if self.uses_slots(b) {
            let slots: Vec<Value> = values.iter().map(|v| self.fb.entry_alloca(self.fwd, ir::type_of(*v))).collect();
            for (v, s) in values.iter().zip(&slots) {
                self.fb.store(*v, *s);
            }
            self.group_slots.insert(b, slots);
        } else {
            tape::push_group(&self.fb, self.fstate, &values, self.fixed_tape(), self.tape_reuse());
        }
        Ok(())
    }

    /// Values pushed at a latch their definition (in block `b`) does not dominate go
    /// through a stack slot (see `merge_iteration_caches`).
    fn carry_iteration_values_defined_in(&mut self, b: usize) {
        let mut defined: Vec<(Need, usize)> = self
            .iteration_cached
            .iter()
            .filter(|(n, _)| matches!(n, Need::Primal(v) if ir::is_instruction(*v) && ir::parent_block(*v) == self.cfg.blocks[b]))
            .map(|(n, l)| (*n, *l))
            .collect();
        defined.sort_by_cached_key(|(n, _)| program_order(&self.cfg, *n));
        for (n, l) in defined {
            let latch = self.cfg.loops[l].latches[0];
            if self.cfg.dominates(b, latch) {
                continue;
            }
            let v = need_value(n);
            let slot = self.fb.entry_alloca(self.fwd, ir::type_of(v));
            let fv = self.fval(v);
            self.fb.store(fv, slot);
            self.iteration_carry.insert(n, slot);
        }
    }

    pub(super) fn exit_index(&self, b: usize) -> usize {
        self.cfg.exits.iter().position(|&e| e == b).unwrap()
    }

    pub(super) fn forward_terminator(&mut self, b: usize, term: Value) -> Result<()> {
        if ir::opcode(term) != Some(LLVMRet) {
            self.clone_fwd(term);
            return Ok(());
        }
        let ret_val = (ir::num_operands(term) == 1).then(|| ir::operand(term, 0));
        if self.cfg.exits.len() > 1 {
            let id = self.fb.const_int(self.fb.i32_type(), self.exit_index(b) as u64);
            if self.req.combined {
                let slot = *self.exit_slot.get_or_insert_with(|| self.fb.entry_alloca(self.fwd, self.fb.i32_type()));
                self.fb.store(id, slot);
            } else {
                tape::push_group(&self.fb, self.fstate, &[id], self.fixed_tape(), self.tape_reuse());
            }
        }
        if self.req.combined {
            if let Some(v) = ret_val {
                self.exit_values.push((self.fblocks[b], self.fval(v)));
            }
            // Branch target (the reverse sweep's start) is patched in reverse_sweep.
            let br = self.fb.br(self.fblocks[b]);
            self.pending_exit_branches_push(br);
            return Ok(());
        }
        let st = tape::state_type(&self.fb);
        let malloc_ty = unsafe {
            let mut p = [self.fb.i64_type()];
            LLVMFunctionType(self.fb.ptr_type(), p.as_mut_ptr(), 1, 0)
        };
        let header = if self.uses_tape {
            let h = self.fb.call_named("malloc", malloc_ty, &[self.fb.const_int(self.fb.i64_type(), tape::STATE_BYTES)]);
            let state = self.fb.load(st, self.fstate);
            self.fb.store(state, h);
            h
        } else {
            ir::const_null(self.fb.ptr_type())
        };
        let mut out = vec![header];
        if let Some(v) = ret_val {
            if self.req.return_primal {
                out.push(self.fval(v));
            }
            if self.req.return_shadow {
                out.push(self.fshadow_of(v, term)?);
            }
        }
        let packed = self.fb.pack(&out);
        self.fb.ret(packed);
        Ok(())
    }

    pub(super) fn pending_exit_branches_push(&mut self, br: Value) {
        self.exit_branches.push(br);
    }

    pub(super) fn forward_instruction(&mut self, i: Value) -> Result<()> {
        let op = ir::opcode(i).unwrap();
        match op {
            LLVMInvoke | LLVMCallBr => {
                return Err(Diagnostic::new(Code::Unsupported, "calls that can unwind (invoke) are not differentiated")
                    .at(i)
                    .hint("compile C++ with -fno-exceptions, or mark the callee noexcept"))
            }
            LLVMCall => return self.forward_call(i),
            LLVMStore => {
                self.clone_fwd(i);
                let (v, p) = (ir::operand(i, 0), ir::operand(i, 1));
                if self.activity.is_active(p) && ir::contains_pointer(ir::type_of(v)) {
                    let sv = self.fshadow_of(v, i)?;
                    let c = unsafe { LLVMInstructionClone(i) };
                    ir::set_operand(c, 0, sv);
                    ir::set_operand(c, 1, self.fshadow_of(p, i)?);
                    self.fb.insert(c);
                    ir::clear_debug_loc(c);
                }
                return Ok(());
            }
            LLVMAlloca => {
                let a = self.clone_fwd(i);
                if self.activity.is_active(i) {
                    let s = unsafe { LLVMInstructionClone(a) };
                    self.fb.insert(s);
                    ir::set_name(s, &format!("d{}", ir::name_of(i)));
                    let ty = unsafe { LLVMGetAllocatedType(i) };
                    let size = ir::data_layout_type_size(self.fb.module, ty);
                    let count = self.fval(ir::operand(i, 0));
                    let n = self.fb.int_cast(count, self.fb.i64_type(), false);
                    let bytes = unsafe { LLVMBuildMul(self.fb.raw(), n, self.fb.const_int(self.fb.i64_type(), size), b"\0".as_ptr() as *const _) };
                    self.fb.memset_zero(s, bytes, 1);
                    self.fshadow.insert(i, s);
                }
                return Ok(());
            }
            _ => {}
        }
        self.clone_fwd(i);
        // Shadows of pointers (and of aggregates holding pointers) are computed forward.
        if self.activity.is_active(i) && ir::contains_pointer(ir::type_of(i)) {
            if let Some(data) = rules::structural::shadow_operands(op) {
                let c = unsafe { LLVMInstructionClone(i) };
                clone::remap_operands(c, &self.fmap);
                for &k in data {
                    let o = ir::operand(i, k);
                    let s = if ir::contains_pointer(ir::type_of(o)) { self.fshadow_of(o, i)? } else { ir::const_null(ir::type_of(o)) };
                    ir::set_operand(c, k, s);
                }
                self.fb.insert(c);
                ir::clear_debug_loc(c);
                if op == LLVMLoad {
                    strip_value_metadata(c);
                }
                self.fshadow.insert(i, c);
            }
        }
        Ok(())
    }

    pub(super) fn forward_call(&mut self, i: Value) -> Result<()> {
        let Some(callee) = ir::called_function(i) else {
            self.clone_fwd(i);
            let args = ir::call_args(i);
            if let Some(a) = args.iter().find(|a| call_arg_is_active(**a, self.activity.active_set())) {
                return Err(Diagnostic::new(Code::Unsupported, format!("an indirect call (through a function pointer or inline assembly) receives the active value `{}`", short(*a)))
                    .at(i)
                    .hint("call the function directly so RadX can differentiate it"));
            }
            return Ok(());
        };
        let name = ir::name_of(callee);
        // The reverse sweep reads stack memory after the primal's last use of it: a
        // lifetime marker would let the optimizer treat that memory as dead.
        if self.deferred_free_calls.contains(&i) || name.starts_with("llvm.lifetime.") {
            return Ok(());
        }
        if let Some(kind) = rules::julia::julia_call(&name) {
            return self.forward_julia_call(i, kind);
        }
        if rules::gpu::gpu_call(&name).is_some() {
            self.clone_fwd(i);
            return Ok(());
        }
        if let Some((req, fns)) = self.callees.get(&i).cloned() {
            if !req.return_primal && !ir::is_void(ir::type_of(i)) {
                self.clone_fwd(i);
            }
            let sig = signatures(&self.fb, &req);
            let mut args = Vec::new();
            for (a, act) in ir::call_args(i).into_iter().zip(&req.args) {
                args.push(self.fval(a));
                if *act == RevArg::Dup {
                    args.push(self.fshadow_of(a, i)?);
                }
            }
            let r = self.fb.call(sig.augmented, fns.forward, &args);
            let parts = unpack(&self.fb, r, sig.augmented_results.len());
            self.ftape.insert(i, parts[0]);
            let mut k = 1;
            if req.return_primal {
                self.fmap.insert(i, parts[k]);
                k += 1;
            }
            if req.return_shadow {
                self.fshadow.insert(i, parts[k]);
            }
            return Ok(());
        }
        if memory::allocator(&name) == Some(memory::Alloc::Reallocate) {
            return self.forward_realloc(i);
        }
        if let Some(kind) = memory::allocator(&name) {
            let p = self.clone_fwd(i);
            match kind {
                memory::Alloc::Allocate { .. } if self.merged_shadows.contains(&i) => {
                    let s = self.merge_shadow_allocation(i, p);
                    self.fshadow.insert(i, s);
                }
                memory::Alloc::Allocate { zeroed, size_arg } => {
                    let s = unsafe { LLVMInstructionClone(p) };
                    self.fb.insert(s);
                    ir::clear_debug_loc(s);
                    if !zeroed {
                        // A request the allocator refuses (the primal sees its null too)
                        // leaves nothing to zero.
                        let n = self.fval(ir::operand(i, size_arg));
                        let failed = self.fb.icmp_null(s);
                        let len = self.fb.select(failed, ir::const_null(ir::type_of(n)), n);
                        self.fb.memset_zero(s, len, 1);
                    }
                    self.fshadow.insert(i, s);
                }
                memory::Alloc::Reallocate => {
                    return Err(Diagnostic::new(Code::Unsupported, "`realloc` inside a function differentiated in reverse mode is not supported")
                        .at(i)
                        .hint("allocate the final size with malloc, or differentiate in forward mode"))
                }
                memory::Alloc::Free => {
                    let ptr = ir::operand(i, 0);
                    if self.activity.is_active(ptr) {
                        let s = unsafe { LLVMInstructionClone(p) };
                        ir::set_operand(s, 0, self.fshadow_of(ptr, i)?);
                        self.fb.insert(s);
                    }
                }
            }
            return Ok(());
        }
        self.clone_fwd(i);
        if let Some(_t) = memory::memory_transfer(&name) {
            let (dst, src) = (ir::operand(i, 0), ir::operand(i, 1));
            if self.activity.is_active(dst) && self.copy_types(&[dst, src]).pointers {
                let sd = self.fshadow_of(dst, i)?;
                let len = self.fval(ir::operand(i, 2));
                match (_t, self.fshadow.get(&src)) {
                    (memory::Transfer::Set, _) | (_, None) => {
                        self.fb.memset_zero(sd, len, 1);
                    }
                    (_, Some(&ss)) => {
                        self.fb.memmove(sd, ss, len, 1);
                    }
                }
            }
            return Ok(());
        }
        if rules::rule_for_callee(&name).is_some() || memory::is_inactive_function(&name) {
            return Ok(());
        }
        let args = ir::call_args(i);
        if let Some(a) = args.iter().find(|a| call_arg_is_active(**a, self.activity.active_set())) {
            return Err(Diagnostic::new(Code::NoRule, format!("no derivative rule for the external function `{name}` (active argument `{}`)", short(*a)))
                .at(i)
                .hint("provide its body in the module, or pass only inactive (enzyme_const) data to it"));
        }
        Ok(())
    }

    /// `realloc(p, n)` frees `p`, which the reverse sweep still needs (its shadow receives
    /// the adjoints of the bytes moved). So the forward sweep allocates the new block with
    /// malloc, copies what realloc would keep (`min(usable size of p, n)` bytes), and
    /// leaves `p` to be freed by the reverse sweep at this point.
    pub(super) fn forward_realloc(&mut self, i: Value) -> Result<()> {
        let (p, n) = (self.fval(ir::operand(i, 0)), self.fval(ir::operand(i, 1)));
        let fb = &self.fb;
        let (ptr, i64t) = (fb.ptr_type(), fb.i64_type());
        let malloc_ty = unsafe { LLVMFunctionType(ptr, [i64t].as_mut_ptr(), 1, 0) };
        let usable_ty = unsafe { LLVMFunctionType(i64t, [ptr].as_mut_ptr(), 1, 0) };
        let n64 = fb.int_cast(n, i64t, false);
        let new = fb.call_named("malloc", malloc_ty, &[n64]);
        let old = fb.call_named("malloc_usable_size", usable_ty, &[p]);
        let keep = fb.call_intrinsic("llvm.umin", &[i64t], &[old, n64]);
        fb.memcpy(new, p, keep, 1);
        let s = fb.call_named("malloc", malloc_ty, &[n64]);
        fb.memset_zero(s, n64, 1);
        if let Some(&sp) = self.fshadow.get(&ir::operand(i, 0)) {
            // Pointers stored in the block keep their shadows.
            if self.copy_types(&[i, ir::operand(i, 0)]).pointers {
                fb.memcpy(s, sp, keep, 1);
            }
        }
        self.fmap.insert(i, new);
        self.fshadow.insert(i, s);
        Ok(())
    }

    /// Julia runtime calls in the forward sweep: shadows of GC allocations and derived
    /// pointers, mirrored write barriers and preserves; adjoint boxes start at zero.
    pub(super) fn forward_julia_call(&mut self, i: Value, kind: rules::julia::JuliaCall) -> Result<()> {
        use rules::julia::JuliaCall::*;
        let p = self.clone_fwd(i);
        let args = ir::call_args(i);
        match kind {
            Inactive | InactiveRecompute => {}
            PointerLike(which) => {
                if self.activity.is_active(i) {
                    let c = unsafe { LLVMInstructionClone(p) };
                    for &k in which {
                        ir::set_operand(c, k, self.fshadow_of(args[k as usize], i)?);
                    }
                    self.fb.insert(c);
                    self.fshadow.insert(i, c);
                }
            }
            Allocate(size) => {
                let s = unsafe { LLVMInstructionClone(p) };
                self.fb.insert(s);
                ir::clear_debug_loc(s);
                let fmap = &self.fmap;
                zero_julia_allocation(&self.fb, self.primal, i, s, size, |v| fmap.get(&v).copied().unwrap_or(v))?;
                self.fshadow.insert(i, s);
            }
            WriteBarrier => {
                let fshadow = &self.fshadow;
                mirror_with_shadows(&self.fb, p, &args, |v| fshadow.get(&v).copied());
            }
            BoxFloat => {
                if self.activity.is_active(i) {
                    let c = unsafe { LLVMInstructionClone(p) };
                    ir::set_operand(c, 0, ir::const_null(ir::type_of(args[0])));
                    self.fb.insert(c);
                    self.fshadow.insert(i, c);
                }
            }
            PreserveBegin => {
                let shadows: Vec<Value> = args.iter().filter_map(|a| self.fshadow.get(a).copied()).collect();
                if !shadows.is_empty() {
                    let f = ir::called_function(i).unwrap();
                    let t = self.fb.call(unsafe { LLVMGlobalGetValueType(f) }, f, &shadows);
                    self.fshadow.insert(i, t);
                }
            }
            PreserveEnd => {
                if let Some(&t) = self.fshadow.get(&args[0]) {
                    let c = unsafe { LLVMInstructionClone(p) };
                    ir::set_operand(c, 0, t);
                    self.fb.insert(c);
                }
            }
            Reject(what) => {
                if let Some(a) = args.iter().find(|a| call_arg_is_active(**a, self.activity.active_set())) {
                    return Err(reject_julia_call(what, *a, i));
                }
            }
        }
        Ok(())
    }
}
