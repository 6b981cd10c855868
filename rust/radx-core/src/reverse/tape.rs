//! The tape: a LIFO byte stack that the forward sweep pushes each block's cached values
//! onto (one group per block execution) and the reverse sweep pops in mirror order.
//!
//! Its state `{ptr base, i64 top, i64 cap}` lives in an `alloca` of the generated function
//! (promoted to registers after inlining). Pushing goes through `radx.tape.push`, which
//! reserves a group and grows the buffer by doubling; both helpers are `alwaysinline`, so
//! after optimization a push is a compare, a predictable branch and plain stores. In split
//! mode the state is moved into a small heap header that is the opaque tape pointer.
//!
//! A finished tape's buffer is not freed but kept for the next derivative call on the same
//! thread (`radx.tape.spare`, thread-local, freed at thread exit): a gradient called in a
//! loop would otherwise map fresh pages and fault on every one of them, every call —
//! half the time of a GMM gradient whose tape is above glibc's mmap threshold.

use crate::ir::{self, builder::Builder, Type, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMIntPredicate;

pub const PUSH: &str = "radx.tape.push";
pub const POP: &str = "radx.tape.pop";
/// GPU combined mode: a fixed per-thread buffer in local memory; overflow traps.
pub const PUSH_FIXED: &str = "radx.tape.push.fixed";
pub const STATE_BYTES: u64 = 24;
/// `void radx.tape.release(ptr base, i64 cap)`: a finished tape's buffer goes back.
pub const RELEASE: &str = "radx.tape.release";
const SPARE: &str = "radx.tape.spare";
const SPARE_ARMED: &str = "radx.tape.spare.armed";
const SPARE_FREE: &str = "radx.tape.spare.free";

/// Can finished tapes be kept per thread? Needs a C library that runs thread-exit
/// destructors (`__cxa_thread_atexit_impl`: glibc) and a host, not a device.
pub fn reuse_supported(m: llvm_sys::prelude::LLVMModuleRef) -> bool {
    let triple = unsafe { std::ffi::CStr::from_ptr(LLVMGetTarget(m)) }.to_string_lossy().into_owned();
    triple.contains("linux-gnu") && !crate::rules::gpu::is_gpu_module(m)
}

pub fn state_type(b: &Builder) -> Type {
    b.struct_type(&[b.ptr_type(), b.i64_type(), b.i64_type()])
}

fn helper_type(b: &Builder) -> Type {
    let mut params = [b.ptr_type(), b.i64_type()];
    unsafe { LLVMFunctionType(b.ptr_type(), params.as_mut_ptr(), 2, 0) }
}

/// `ptr radx.tape.push(ptr state, i64 bytes)`: reserves `bytes` and returns where to write.
/// `ptr radx.tape.pop(ptr state, i64 bytes)`: releases `bytes` and returns where they start.
pub fn helpers(b: &Builder, reuse: bool) -> (Value, Value) {
    let m = b.module;
    let existing = unsafe { LLVMGetNamedFunction(m, ir::cstring(PUSH).as_ptr()) };
    if !existing.is_null() {
        let pop = unsafe { LLVMGetNamedFunction(m, ir::cstring(POP).as_ptr()) };
        return (existing, pop);
    }
    let push = new_helper(b, PUSH);
    let pop = new_helper(b, POP);
    build_push(b, push, &|h, state, cap_p, top, cap, need, done| unsafe {
        // Grow by doubling (at least 4 KiB, at least what is needed).
        let (i64t, ptr) = (h.i64_type(), h.ptr_type());
        let twice = LLVMBuildShl(h.raw(), cap, h.const_int(i64t, 1), NO_NAME);
        let m1 = h.call_intrinsic("llvm.umax", &[i64t], &[twice, need]);
        let newcap = h.call_intrinsic("llvm.umax", &[i64t], &[m1, h.const_int(i64t, 4096)]);
        if reuse {
            adopt_spare(h, state, cap_p, cap, need, done);
        }
        let base = h.load(ptr, state);
        let nb = if crate::rules::gpu::is_gpu_module(h.module) {
            // Device code has malloc and free but no realloc.
            let malloc_ty = LLVMFunctionType(ptr, [i64t].as_mut_ptr(), 1, 0);
            let free_ty = LLVMFunctionType(h.void_type(), [ptr].as_mut_ptr(), 1, 0);
            let nb = h.call_named("malloc", malloc_ty, &[newcap]);
            h.memcpy(nb, base, top, 8);
            h.call_named("free", free_ty, &[base]);
            nb
        } else {
            let realloc_ty = LLVMFunctionType(ptr, [ptr, i64t].as_mut_ptr(), 2, 0);
            h.call_named("realloc", realloc_ty, &[base, newcap])
        };
        h.store(nb, state);
        h.store(newcap, cap_p);
        true
    });
    let h = Builder::new(m);
    unsafe {
        let entry = LLVMAppendBasicBlockInContext(h.ctx, pop, b"entry\0".as_ptr() as *const _);
        let (state, bytes) = (LLVMGetParam(pop, 0), LLVMGetParam(pop, 1));
        h.position_at_end(entry);
        let top_p = LLVMBuildStructGEP2(h.raw(), state_type(&h), state, 1, NO_NAME);
        let top = h.load(h.i64_type(), top_p);
        let nt = LLVMBuildSub(h.raw(), top, bytes, NO_NAME);
        h.store(nt, top_p);
        let base = h.load(h.ptr_type(), state);
        let mut idx = [nt];
        let at = LLVMBuildGEP2(h.raw(), h.i8_type(), base, idx.as_mut_ptr(), 1, NO_NAME);
        h.ret(Some(at));
    }
    (push, pop)
}

/// `ptr radx.tape.push.fixed(ptr state, i64 bytes)`: like `radx.tape.push` over a buffer
/// that cannot grow (GPU local memory): a push past its capacity traps.
pub fn fixed_push_helper(b: &Builder) -> Value {
    let existing = unsafe { LLVMGetNamedFunction(b.module, ir::cstring(PUSH_FIXED).as_ptr()) };
    if !existing.is_null() {
        return existing;
    }
    let f = new_helper(b, PUSH_FIXED);
    build_push(b, f, &|h, _, _, _, _, _, _| {
        h.call_intrinsic("llvm.trap", &[], &[]);
        false
    });
    f
}

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const _;

/// An internal, always-inlined helper of the tape's signature.
fn new_helper(b: &Builder, name: &str) -> Value {
    let f = b.get_or_declare(name, helper_type(b));
    unsafe { LLVMSetLinkage(f, llvm_sys::LLVMLinkage::LLVMInternalLinkage) };
    ir::add_fn_attr(f, "alwaysinline");
    ir::add_fn_attr(f, "nounwind");
    f
}

/// The body of a push: when `top + bytes` exceeds the capacity, `overflow(builder, state,
/// cap_ptr, top, cap, need, done)` runs (and returns whether execution continues to the push,
/// or ends there); then `top += bytes` and the old top's address is returned.
#[allow(clippy::type_complexity)]
fn build_push(b: &Builder, f: Value, overflow: &dyn Fn(&Builder, Value, Value, Value, Value, Value, llvm_sys::prelude::LLVMBasicBlockRef) -> bool) {
    let h = Builder::new(b.module);
    unsafe {
        let ctx = h.ctx;
        let entry = LLVMAppendBasicBlockInContext(ctx, f, b"entry\0".as_ptr() as *const _);
        let full = LLVMAppendBasicBlockInContext(ctx, f, b"overflow\0".as_ptr() as *const _);
        let done = LLVMAppendBasicBlockInContext(ctx, f, b"done\0".as_ptr() as *const _);
        let (state, bytes) = (LLVMGetParam(f, 0), LLVMGetParam(f, 1));
        let (st, i64t) = (state_type(&h), h.i64_type());
        h.position_at_end(entry);
        let top_p = LLVMBuildStructGEP2(h.raw(), st, state, 1, NO_NAME);
        let cap_p = LLVMBuildStructGEP2(h.raw(), st, state, 2, NO_NAME);
        let top = h.load(i64t, top_p);
        let cap = h.load(i64t, cap_p);
        let need = LLVMBuildAdd(h.raw(), top, bytes, NO_NAME);
        let over = LLVMBuildICmp(h.raw(), LLVMIntPredicate::LLVMIntUGT, need, cap, NO_NAME);
        LLVMBuildCondBr(h.raw(), over, full, done);
        h.position_at_end(full);
        if overflow(&h, state, cap_p, top, cap, need, done) {
            h.br(done);
        } else {
            LLVMBuildUnreachable(h.raw());
        }
        h.position_at_end(done);
        h.store(need, top_p);
        let base = h.load(h.ptr_type(), state);
        let mut idx = [top];
        let at = LLVMBuildGEP2(h.raw(), h.i8_type(), base, idx.as_mut_ptr(), 1, NO_NAME);
        h.ret(Some(at));
    }
}

/// Makes room for `bytes` more without moving the top: a push of that size, then a pop.
pub fn reserve(b: &Builder, state: Value, bytes: Value, reuse: bool) {
    let (push, pop) = helpers(b, reuse);
    b.call(helper_type(b), push, &[state, bytes]);
    b.call(helper_type(b), pop, &[state, bytes]);
}

/// Byte layout of one block's group: widest alignment first, each value at its own
/// alignment, so branch decisions and 32-bit indices share a slot instead of taking 8
/// bytes each; the group's size is a multiple of 8, keeping the next group aligned.
/// Returns (offset, alignment) per value, in the given order, and the group's size.
pub fn layout(m: llvm_sys::prelude::LLVMModuleRef, types: &[Type]) -> (Vec<(u64, u32)>, u64) {
    let dl = unsafe { llvm_sys::target::LLVMGetModuleDataLayout(m) };
    let size_align: Vec<(u64, u64)> = types
        .iter()
        .map(|t| unsafe {
            let size = llvm_sys::target::LLVMStoreSizeOfType(dl, *t);
            (size, (llvm_sys::target::LLVMABIAlignmentOfType(dl, *t) as u64).clamp(1, 8))
        })
        .collect();
    let mut order: Vec<usize> = (0..types.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(size_align[k].1));
    let mut placed = vec![(0u64, 8u32); types.len()];
    let mut at = 0u64;
    for k in order {
        let (size, align) = size_align[k];
        at = at.div_ceil(align) * align;
        placed[k] = (at, align as u32);
        at += size;
    }
    (placed, at.div_ceil(8) * 8)
}

pub fn push_group(b: &Builder, state: Value, values: &[Value], fixed: bool, reuse: bool) {
    if values.is_empty() {
        return;
    }
    let types: Vec<Type> = values.iter().map(|v| ir::type_of(*v)).collect();
    let (offs, total) = layout(b.module, &types);
    let push = if fixed { fixed_push_helper(b) } else { helpers(b, reuse).0 };
    let at = b.call(helper_type(b), push, &[state, b.const_int(b.i64_type(), total)]);
    for (v, (off, align)) in values.iter().zip(offs) {
        let p = if off == 0 { at } else { b.gep_bytes(at, off) };
        let s = b.store(*v, p);
        unsafe { LLVMSetAlignment(s, align) };
    }
}

pub fn pop_group(b: &Builder, state: Value, types: &[Type]) -> Vec<Value> {
    if types.is_empty() {
        return vec![];
    }
    let (offs, total) = layout(b.module, types);
    let (_, pop) = helpers(b, false);
    let at = b.call(helper_type(b), pop, &[state, b.const_int(b.i64_type(), total)]);
    types
        .iter()
        .zip(offs)
        .map(|(t, (off, align))| {
            let p = if off == 0 { at } else { b.gep_bytes(at, off) };
            let l = b.load(*t, p);
            unsafe { LLVMSetAlignment(l, align) };
            l
        })
        .collect()
}

/// A fresh tape (capacity 0) whose first push fits in the thread's spare buffer takes it;
/// otherwise the grow path that follows allocates as usual. Leaves the builder in the
/// block where that path continues.
fn adopt_spare(h: &Builder, state: Value, cap_p: Value, cap: Value, need: Value, done: llvm_sys::prelude::LLVMBasicBlockRef) {
    let (ptr, i64t) = (h.ptr_type(), h.i64_type());
    let spare = spare_global(h);
    unsafe {
        let f = LLVMGetBasicBlockParent(LLVMGetInsertBlock(h.raw()));
        let check = LLVMAppendBasicBlockInContext(h.ctx, f, b"spare.check\0".as_ptr() as *const _);
        let adopt = LLVMAppendBasicBlockInContext(h.ctx, f, b"spare.adopt\0".as_ptr() as *const _);
        let grow = LLVMAppendBasicBlockInContext(h.ctx, f, b"grow\0".as_ptr() as *const _);
        let fresh = LLVMBuildICmp(h.raw(), LLVMIntPredicate::LLVMIntEQ, cap, h.const_int(i64t, 0), NO_NAME);
        LLVMBuildCondBr(h.raw(), fresh, check, grow);
        h.position_at_end(check);
        let spare_cap_p = LLVMBuildStructGEP2(h.raw(), spare_type(h), spare, 1, NO_NAME);
        let spare_cap = h.load(i64t, spare_cap_p);
        let fits = LLVMBuildICmp(h.raw(), LLVMIntPredicate::LLVMIntUGE, spare_cap, need, NO_NAME);
        LLVMBuildCondBr(h.raw(), fits, adopt, grow);
        h.position_at_end(adopt);
        let spare_base = h.load(ptr, spare);
        h.store(ir::const_null(spare_type(h)), spare);
        h.store(spare_base, state);
        h.store(spare_cap, cap_p);
        h.br(done);
        h.position_at_end(grow);
    }
}

fn spare_type(h: &Builder) -> Type {
    h.struct_type(&[h.ptr_type(), h.i64_type()])
}

fn thread_local_global(h: &Builder, name: &str, t: Type) -> Value {
    let existing = unsafe { LLVMGetNamedGlobal(h.module, ir::cstring(name).as_ptr()) };
    if !existing.is_null() {
        return existing;
    }
    unsafe {
        let g = LLVMAddGlobal(h.module, t, ir::cstring(name).as_ptr());
        LLVMSetInitializer(g, ir::const_null(t));
        LLVMSetLinkage(g, llvm_sys::LLVMLinkage::LLVMInternalLinkage);
        LLVMSetThreadLocal(g, 1);
        g
    }
}

fn spare_global(h: &Builder) -> Value {
    thread_local_global(h, SPARE, spare_type(h))
}

/// `radx.tape.release(base, cap)`: keeps the larger of the buffer and the thread's spare,
/// frees the other; the first buffer kept on a thread registers its freeing at thread exit.
pub fn release_helper(b: &Builder) -> Value {
    let m = b.module;
    let existing = unsafe { LLVMGetNamedFunction(m, ir::cstring(RELEASE).as_ptr()) };
    if !existing.is_null() {
        return existing;
    }
    let h = Builder::new(m);
    let (ptr, i64t) = (h.ptr_type(), h.i64_type());
    let free_ty = unsafe { LLVMFunctionType(h.void_type(), [ptr].as_mut_ptr(), 1, 0) };
    let f = h.get_or_declare(RELEASE, unsafe { LLVMFunctionType(h.void_type(), [ptr, i64t].as_mut_ptr(), 2, 0) });
    unsafe { LLVMSetLinkage(f, llvm_sys::LLVMLinkage::LLVMInternalLinkage) };
    ir::add_fn_attr(f, "nounwind");
    let spare = spare_global(&h);
    let armed = thread_local_global(&h, SPARE_ARMED, h.i8_type());
    // void radx.tape.spare.free(ptr): the thread-exit destructor.
    let dtor = h.get_or_declare(SPARE_FREE, free_ty);
    unsafe {
        LLVMSetLinkage(dtor, llvm_sys::LLVMLinkage::LLVMInternalLinkage);
        let e = LLVMAppendBasicBlockInContext(h.ctx, dtor, b"entry\0".as_ptr() as *const _);
        h.position_at_end(e);
        let base = h.load(ptr, spare);
        h.call_named("free", free_ty, &[base]);
        h.store(ir::const_null(spare_type(&h)), spare);
        h.store(h.const_int(h.i8_type(), 0), armed);
        h.ret(None);
    }
    unsafe {
        let (base, cap) = (LLVMGetParam(f, 0), LLVMGetParam(f, 1));
        let entry = LLVMAppendBasicBlockInContext(h.ctx, f, b"entry\0".as_ptr() as *const _);
        let keep = LLVMAppendBasicBlockInContext(h.ctx, f, b"keep\0".as_ptr() as *const _);
        let arm = LLVMAppendBasicBlockInContext(h.ctx, f, b"arm\0".as_ptr() as *const _);
        let drop = LLVMAppendBasicBlockInContext(h.ctx, f, b"drop\0".as_ptr() as *const _);
        let done = LLVMAppendBasicBlockInContext(h.ctx, f, b"done\0".as_ptr() as *const _);
        h.position_at_end(entry);
        let spare_cap_p = LLVMBuildStructGEP2(h.raw(), spare_type(&h), spare, 1, NO_NAME);
        let spare_cap = h.load(i64t, spare_cap_p);
        let larger = LLVMBuildICmp(h.raw(), LLVMIntPredicate::LLVMIntUGT, cap, spare_cap, NO_NAME);
        LLVMBuildCondBr(h.raw(), larger, keep, drop);
        h.position_at_end(keep);
        let old = h.load(ptr, spare);
        h.call_named("free", free_ty, &[old]);
        h.store(base, spare);
        h.store(cap, spare_cap_p);
        let is_armed = h.load(h.i8_type(), armed);
        let yes = LLVMBuildICmp(h.raw(), LLVMIntPredicate::LLVMIntNE, is_armed, h.const_int(h.i8_type(), 0), NO_NAME);
        LLVMBuildCondBr(h.raw(), yes, done, arm);
        h.position_at_end(arm);
        h.store(h.const_int(h.i8_type(), 1), armed);
        let dso = LLVMGetNamedGlobal(m, b"__dso_handle\0".as_ptr() as *const _);
        let dso = if dso.is_null() {
            let g = LLVMAddGlobal(m, h.i8_type(), b"__dso_handle\0".as_ptr() as *const _);
            LLVMSetVisibility(g, llvm_sys::LLVMVisibility::LLVMHiddenVisibility);
            g
        } else {
            dso
        };
        let atexit_ty = LLVMFunctionType(h.i32_type(), [ptr, ptr, ptr].as_mut_ptr(), 3, 0);
        h.call_named("__cxa_thread_atexit_impl", atexit_ty, &[dtor, ir::const_null(ptr), dso]);
        h.br(done);
        h.position_at_end(drop);
        h.call_named("free", free_ty, &[base]);
        h.br(done);
        h.position_at_end(done);
        h.ret(None);
    }
    f
}

/// Frees a finished tape's buffer, or keeps it for the thread's next tape.
pub fn release(b: &Builder, state: Value, reuse: bool) {
    let base = b.load(b.ptr_type(), state);
    let free_ty = unsafe { LLVMFunctionType(b.void_type(), [b.ptr_type()].as_mut_ptr(), 1, 0) };
    if !reuse {
        b.call_named("free", free_ty, &[base]);
        return;
    }
    let cap_p = unsafe { LLVMBuildStructGEP2(b.raw(), state_type(b), state, 2, NO_NAME) };
    let cap = b.load(b.i64_type(), cap_p);
    let f = release_helper(b);
    let t = unsafe { LLVMFunctionType(b.void_type(), [b.ptr_type(), b.i64_type()].as_mut_ptr(), 2, 0) };
    b.call(t, f, &[base, cap]);
}
