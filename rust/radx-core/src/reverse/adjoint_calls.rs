//! The adjoints of calls: memory functions (copies, `realloc`), GPU intrinsics, and calls
//! of external functions with a rule or of defined functions with a derivative of their
//! own. Split from `adjoint.rs`, which handles instructions and adjoint storage.

use super::gen::RevGen;
use super::adjoint::free_type;
use super::need::Need;
use crate::analysis::memory::memory_types;
use crate::diag::{short, Code, Diagnostic, Result};
use crate::ir::builder::adjoint_zero;
use crate::ir::{self, Type, Value};
use crate::request::RevArg;
use crate::rules::{self, memory};
use crate::signature::{signatures, unpack};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::*;

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const _;

impl<'e> RevGen<'e> {
    /// An integer loaded from active memory and stored to active memory may be a float
    /// moved as raw bits (a small memcpy after canonicalisation). If nothing says what the
    /// memory holds, zeroing the destination's adjoint could silently lose a derivative.
    pub(super) fn check_integer_move(&self, store: Value, v: Value, dst: Value) -> Result<()> {
        if ir::opcode(v) != Some(LLVMLoad) || !self.activity.is_active(ir::operand(v, 0)) {
            return Ok(());
        }
        let types = crate::analysis::memory::memory_types_excluding(self.primal, &[ir::operand(v, 0), dst], &[v, store]);
        if types.known() {
            return Ok(());
        }
        Err(Diagnostic::new(
            Code::Unsupported,
            format!("cannot deduce what type of data this copy moves (from `{}` to `{}`), so its adjoint cannot be accumulated", short(ir::operand(v, 0)), short(dst)),
        )
        .at(store)
        .hint("the copy was turned into an integer load and store; add a type hint before it, e.g. __enzyme_double(dst, bytes) (declared `void __enzyme_double(void *, size_t)`)"))
    }

    /// What the memory a copy (`memcpy`, `realloc`) moves holds: what this function says,
    /// else what its callers know (a helper that only copies its arguments). Both sweeps
    /// ask the same, so they agree on whether pointers move with the bytes.
    pub(super) fn copy_types(&self, ptrs: &[Value]) -> crate::analysis::memory::MemoryTypes {
        let own = memory_types(self.primal, ptrs);
        if own.known() {
            own
        } else {
            self.engine.caller_types(self.primal, ptrs)
        }
    }

    /// The reverse of a `realloc` (see `forward_realloc`): the bytes it moved hand their
    /// adjoints back to the old block's shadow; the new block and its shadow are freed here
    /// when the program freed it (as any allocation is, at the reverse of its creation).
    pub(super) fn adjoint_realloc(&mut self, i: Value) -> Result<()> {
        let (pv, nv) = (ir::operand(i, 0), ir::operand(i, 1));
        let p = self.materialize(Need::Primal(pv), i)?;
        let n = self.materialize(Need::Primal(nv), i)?;
        let s = self.materialize(Need::Shadow(i), i)?;
        let (ptr, i64t) = (self.rb.ptr_type(), self.rb.i64_type());
        let usable_ty = unsafe { LLVMFunctionType(i64t, [ptr].as_mut_ptr(), 1, 0) };
        let free_ty = free_type(&self.rb);
        let n64 = self.rb.int_cast(n, i64t, false);
        if self.activity.is_active(pv) {
            let sp = self.materialize(Need::Shadow(pv), i)?;
            let types = self.copy_types(&[i, pv]);
            if let Some(ft) = types.float.filter(|_| !types.conflicting_floats) {
                let old = self.rb.call_named("malloc_usable_size", usable_ty, &[p]);
                let keep = self.rb.call_intrinsic("llvm.umin", &[i64t], &[old, n64]);
                let helper = accumulate_helper(&self.rb, ft);
                self.rb.call(unsafe { LLVMGlobalGetValueType(helper) }, helper, &[s, sp, keep]);
            } else if !types.known() || types.conflicting_floats {
                return Err(Diagnostic::new(Code::Unsupported, "cannot deduce what type of data this realloc moves, so its adjoint cannot be accumulated")
                    .at(i)
                    .hint("add a type hint, e.g. __enzyme_double(ptr, bytes), before the realloc"));
            }
        }
        // The old block is freed at the reverse of the call that made it.
        if self.deferred_frees.contains_key(&i) {
            let new = self.materialize(Need::Primal(i), i)?;
            self.rb.call_named("free", free_ty, &[s]);
            self.rb.call_named("free", free_ty, &[new]);
        }
        Ok(())
    }

    /// `*p += d` with atomic adds, lane by lane for a vector.
    pub(super) fn atomic_accumulate(&self, p: Value, d: Value) {
        use llvm_sys::{LLVMAtomicOrdering::LLVMAtomicOrderingMonotonic, LLVMAtomicRMWBinOp::LLVMAtomicRMWBinOpFAdd};
        let t = ir::type_of(d);
        unsafe {
            if ir::is_float_scalar(t) {
                LLVMBuildAtomicRMW(self.rb.raw(), LLVMAtomicRMWBinOpFAdd, p, d, LLVMAtomicOrderingMonotonic, 0);
                return;
            }
            let et = ir::element_type(t);
            for k in 0..LLVMGetVectorSize(t) {
                let mut idx = [self.rb.const_int(self.rb.i64_type(), k as u64)];
                let ep = LLVMBuildGEP2(self.rb.raw(), et, p, idx.as_mut_ptr(), 1, NO_NAME);
                let e = LLVMBuildExtractElement(self.rb.raw(), d, self.rb.const_int(self.rb.i32_type(), k as u64), NO_NAME);
                LLVMBuildAtomicRMW(self.rb.raw(), LLVMAtomicRMWBinOpFAdd, ep, e, LLVMAtomicOrderingMonotonic, 0);
            }
        }
    }

    /// Barriers are passed again in the reverse sweep; shuffles send adjoints back to the
    /// lanes the values came from.
    pub(super) fn adjoint_gpu_call(&mut self, i: Value, kind: rules::gpu::GpuCall) -> Result<()> {
        use rules::gpu::{GpuCall, Shuffle};
        match kind {
            GpuCall::Barrier => {
                let c = unsafe { LLVMInstructionClone(i) };
                let mut args = Vec::new();
                for a in ir::call_args(i) {
                    args.push(self.materialize(Need::Primal(a), i)?);
                }
                for (k, a) in args.into_iter().enumerate() {
                    ir::set_operand(c, k as u32, a);
                }
                self.rb.insert(c);
                ir::clear_debug_loc(c);
            }
            GpuCall::Shuffle(how) if self.activity.is_active(i) => {
                let d = self.take_value(i);
                let args: Vec<Value> = ir::call_args(i);
                let (mask, delta, clamp) = (
                    self.materialize(Need::Primal(args[0]), i)?,
                    self.materialize(Need::Primal(args[2]), i)?,
                    self.materialize(Need::Primal(args[3]), i)?,
                );
                let t = ir::type_of(i);
                let i32t = self.rb.i32_type();
                let shuffle = |this: &Self, kind: &str, c: u64| -> Value {
                    let name = format!("llvm.nvvm.shfl.sync.{kind}.{}", if ir::type_kind(t) == llvm_sys::LLVMTypeKind::LLVMFloatTypeKind { "f32" } else { "i32" });
                    let fty = unsafe { LLVMFunctionType(t, [i32t, t, i32t, i32t].as_mut_ptr(), 4, 0) };
                    this.rb.call_named(&name, fty, &[mask, d, delta, this.rb.const_int(i32t, c)])
                };
                let full_warp_clamp = |v: Value, want: i64| ir::const_int_value(v) == Some(want);
                let contribution = match how {
                    Shuffle::Butterfly => shuffle(self, "bfly", ir::const_int_value(clamp).unwrap_or(0x1f) as u64),
                    Shuffle::Down | Shuffle::Up if full_warp_clamp(clamp, if how == Shuffle::Down { 0x1f } else { 0 }) => {
                        // Lane j's value went to lane j-k (down) or j+k (up), and stayed with
                        // lane j itself where that lane does not exist.
                        let lane_ty = unsafe { LLVMFunctionType(i32t, std::ptr::null_mut(), 0, 0) };
                        let lane = self.rb.call_named("llvm.nvvm.read.ptx.sreg.laneid", lane_ty, &[]);
                        let (back, back_clamp) = if how == Shuffle::Down { ("up", 0) } else { ("down", 0x1f) };
                        let moved = shuffle(self, back, back_clamp);
                        let sum = unsafe { LLVMBuildAdd(self.rb.raw(), lane, delta, NO_NAME) };
                        use llvm_sys::LLVMIntPredicate::*;
                        let (received, kept) = unsafe {
                            if how == Shuffle::Down {
                                (
                                    LLVMBuildICmp(self.rb.raw(), LLVMIntUGE, lane, delta, NO_NAME),
                                    LLVMBuildICmp(self.rb.raw(), LLVMIntUGT, sum, self.rb.const_int(i32t, 31), NO_NAME),
                                )
                            } else {
                                (
                                    LLVMBuildICmp(self.rb.raw(), LLVMIntULE, sum, self.rb.const_int(i32t, 31), NO_NAME),
                                    LLVMBuildICmp(self.rb.raw(), LLVMIntULT, lane, delta, NO_NAME),
                                )
                            }
                        };
                        let z = adjoint_zero(t);
                        let a = self.rb.select(received, moved, z);
                        let b = self.rb.select(kept, d, z);
                        self.rb.fadd(a, b)
                    }
                    _ => {
                        return Err(Diagnostic::new(Code::NoRule, "no reverse-mode rule for this warp shuffle (only butterfly, and up/down across the full warp, are reversed)")
                            .at(i)
                            .hint("use __shfl_xor_sync, or __shfl_down_sync/__shfl_up_sync with width 32"))
                    }
                };
                self.add_adjoint(args[1], contribution);
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn insert_at_path(&self, agg: Value, v: Value, path: &[u32]) -> Value {
        if path.len() == 1 {
            return self.rb.insert_value(agg, v, path[0]);
        }
        let sub = self.rb.extract_value(agg, path[0]);
        let sub = self.insert_at_path(sub, v, &path[1..]);
        self.rb.insert_value(agg, sub, path[0])
    }

    pub(super) fn extract_at_path(&self, agg: Value, path: &[u32]) -> Value {
        path.iter().fold(agg, |a, &k| self.rb.extract_value(a, k))
    }

    pub(super) fn adjoint_call(&mut self, i: Value) -> Result<()> {
        let Some(callee) = ir::called_function(i) else { return Ok(()) };
        let name = ir::name_of(callee);
        if let Some(kind) = rules::gpu::gpu_call(&name) {
            return self.adjoint_gpu_call(i, kind);
        }
        if let Some(kind) = rules::julia::julia_call(&name) {
            // The adjoint box accumulated the box's adjoint: hand it to the boxed float.
            if kind == rules::julia::JuliaCall::BoxFloat && self.activity.is_active(i) {
                let x = ir::operand(i, 0);
                let sb = self.materialize(Need::Shadow(i), i)?;
                let as11 = unsafe { LLVMPointerTypeInContext(self.rb.ctx, 11) };
                let p = unsafe { LLVMBuildAddrSpaceCast(self.rb.raw(), sb, as11, NO_NAME) };
                let t = ir::type_of(x);
                let v = self.rb.load(t, p);
                self.rb.store(ir::const_null(t), p);
                self.add_adjoint(x, v);
            }
            return Ok(());
        }
        if let Some(rule) = rules::rule_for_callee(&name) {
            let args = ir::call_args(i);
            return self.rule_adjoint(i, rule, &args);
        }
        if let Some(kind) = memory::memory_transfer(&name) {
            let (dst, src) = (ir::operand(i, 0), ir::operand(i, 1));
            if !self.activity.is_active(dst) {
                return Ok(());
            }
            let sd = self.materialize(Need::Shadow(dst), i)?;
            let len = self.materialize(Need::Primal(ir::operand(i, 2)), i)?;
            if kind == memory::Transfer::Set {
                self.rb.memset_zero(sd, len, 1);
                return Ok(());
            }
            let own = memory_types(self.primal, &[dst, src]);
            let types = if own.known() { own } else { self.engine.caller_types(self.primal, &[dst, src]) };
            if !own.known() && types.conflicting_floats {
                return Err(Diagnostic::new(Code::Unsupported, format!("the callers of this function pass memory of different floating-point types to this copy (from `{}` to `{}`), and one derivative serves them all", short(src), short(dst)))
                    .at(i)
                    .hint("give each element type a copy function of its own, or add a type hint before the copy, e.g. __enzyme_double(dst, bytes)"));
            }
            if !types.known() {
                return Err(Diagnostic::new(Code::Unsupported, format!("cannot deduce what type of data this copy moves (from `{}` to `{}`), so its adjoint cannot be accumulated", short(src), short(dst)))
                    .at(i)
                    .hint("nothing in the function, the functions it calls or the caller of the magic call reads or writes that memory with a type; add a type hint before the copy, e.g. __enzyme_double(dst, bytes) (declared `void __enzyme_double(void *, size_t)`)"));
            }
            let Some(ft) = types.float else { return Ok(()) };
            // Floats mixed with other data (integers, pointers, floats of another width):
            // accumulate exactly at the floating-point fields of the element type.
            let layout = if types.pointers || types.integers || types.conflicting_floats {
                match crate::analysis::memory::element_layout(self.primal, &[dst, src]) {
                    Some(l) => Some(l),
                    None => {
                        return Err(Diagnostic::new(Code::Unsupported, "this copy moves memory that holds floating-point values beside other data, and no type in the function says which bytes are which")
                            .at(i)
                            .hint("copy the data through a pointer to its struct type, or copy its fields one by one"))
                    }
                }
            } else {
                None
            };
            if self.activity.is_active(src) {
                let ss = self.materialize(Need::Shadow(src), i)?;
                let helper = match &layout {
                    Some(l) => layout_accumulate_helper(&self.rb, l),
                    None => accumulate_helper(&self.rb, ft),
                };
                let hty = unsafe { LLVMGlobalGetValueType(helper) };
                let len64 = self.rb.int_cast(len, self.rb.i64_type(), false);
                self.rb.call(hty, helper, &[sd, ss, len64]);
            } else {
                self.rb.memset_zero(sd, len, 1);
            }
            return Ok(());
        }
        if memory::allocator(&name) == Some(memory::Alloc::Reallocate) {
            return self.adjoint_realloc(i);
        }
        if let Some(memory::Alloc::Allocate { .. }) = memory::allocator(&name) {
            if let Some(&free_fn) = self.deferred_frees.get(&i) {
                let fty = unsafe { LLVMGlobalGetValueType(free_fn) };
                // A merged shadow lives in the primal's block and goes with it.
                if !self.merged_shadows.contains(&i) {
                    let s = self.materialize(Need::Shadow(i), i)?;
                    self.rb.call(fty, free_fn, &[s]);
                }
                let p = self.materialize(Need::Primal(i), i)?;
                self.rb.call(fty, free_fn, &[p]);
            }
            return Ok(());
        }
        if let Some((req, fns)) = self.callees.get(&i).cloned() {
            let sig = signatures(&self.rb, &req);
            let mut args = Vec::new();
            let call_args = ir::call_args(i);
            for (a, act) in call_args.iter().zip(&req.args) {
                args.push(self.materialize(Need::Primal(*a), i)?);
                if *act == RevArg::Dup {
                    args.push(self.materialize(Need::Shadow(*a), i)?);
                }
            }
            if req.return_active {
                let d = self.take_value(i);
                args.push(d);
            }
            args.push(self.materialize(Need::CallTape(i), i)?);
            let r = self.rb.call(sig.combined_or_reverse, fns.reverse, &args);
            let results = unpack(&self.rb, r, sig.adjoint_results.len());
            let active = call_args.iter().zip(&req.args).filter(|(_, act)| **act == RevArg::Active).map(|(a, _)| *a);
            let contributions: Vec<(Value, Value)> = active.zip(results).collect();
            self.add_adjoints(&contributions);
        }
        Ok(())
    }
}

/// `radx.adjoint.memcpy.layout.<size>.<offsets>(ptr dst_shadow, ptr src_shadow, i64 bytes)`:
/// the adjoint of a copy of elements of the given layout, at its floating-point offsets only.
fn layout_accumulate_helper(b: &crate::ir::builder::Builder, l: &crate::analysis::memory::ElementLayout) -> Value {
    let tag: Vec<String> = l.floats.iter().map(|(o, t)| format!("{o}{}", if ir::type_kind(*t) == llvm_sys::LLVMTypeKind::LLVMFloatTypeKind { "f" } else { "d" })).collect();
    let name = format!("radx.adjoint.memcpy.layout.{}.{}", l.size, tag.join("_"));
    let existing = unsafe { LLVMGetNamedFunction(b.module, ir::cstring(&name).as_ptr()) };
    if !existing.is_null() {
        return existing;
    }
    let ty = unsafe {
        let mut p = [b.ptr_type(), b.ptr_type(), b.i64_type()];
        LLVMFunctionType(b.void_type(), p.as_mut_ptr(), 3, 0)
    };
    let f = b.get_or_declare(&name, ty);
    unsafe { LLVMSetLinkage(f, llvm_sys::LLVMLinkage::LLVMInternalLinkage) };
    let h = crate::ir::builder::Builder::new(b.module);
    unsafe {
        let ctx = h.ctx;
        let entry = LLVMAppendBasicBlockInContext(ctx, f, b"entry\0".as_ptr() as *const _);
        let body = LLVMAppendBasicBlockInContext(ctx, f, b"element\0".as_ptr() as *const _);
        let done = LLVMAppendBasicBlockInContext(ctx, f, b"done\0".as_ptr() as *const _);
        let (dst, src, bytes) = (LLVMGetParam(f, 0), LLVMGetParam(f, 1), LLVMGetParam(f, 2));
        h.position_at_end(entry);
        let i64t = h.i64_type();
        let n = LLVMBuildUDiv(h.raw(), bytes, h.const_int(i64t, l.size.max(1)), NO_NAME);
        let empty = LLVMBuildICmp(h.raw(), llvm_sys::LLVMIntPredicate::LLVMIntEQ, n, h.const_int(i64t, 0), NO_NAME);
        LLVMBuildCondBr(h.raw(), empty, done, body);
        h.position_at_end(body);
        let k = h.phi(i64t);
        let base = LLVMBuildMul(h.raw(), k, h.const_int(i64t, l.size), NO_NAME);
        for &(off, ft) in &l.floats {
            let at = LLVMBuildAdd(h.raw(), base, h.const_int(i64t, off), NO_NAME);
            let mut idx = [at];
            let pd = LLVMBuildGEP2(h.raw(), h.i8_type(), dst, idx.as_mut_ptr(), 1, NO_NAME);
            let ps = LLVMBuildGEP2(h.raw(), h.i8_type(), src, idx.as_mut_ptr(), 1, NO_NAME);
            let vd = h.load(ft, pd);
            let vs = h.load(ft, ps);
            h.store(h.fadd(vs, vd), ps);
            h.store(ir::const_null(ft), pd);
        }
        let next = LLVMBuildAdd(h.raw(), k, h.const_int(i64t, 1), NO_NAME);
        let more = LLVMBuildICmp(h.raw(), llvm_sys::LLVMIntPredicate::LLVMIntULT, next, n, NO_NAME);
        LLVMBuildCondBr(h.raw(), more, body, done);
        let (mut v0, mut b0) = ([h.const_int(i64t, 0), next], [entry, body]);
        LLVMAddIncoming(k, v0.as_mut_ptr(), b0.as_mut_ptr(), 2);
        h.position_at_end(done);
        h.ret(None);
    }
    f
}

/// The adjoint of a copy of an array of `ft`: the layout of one `ft` at offset 0.
fn accumulate_helper(b: &crate::ir::builder::Builder, ft: Type) -> Value {
    let size = ir::data_layout_type_size(b.module, ft);
    layout_accumulate_helper(b, &crate::analysis::memory::ElementLayout { size, floats: vec![(0, ft)] })
}

