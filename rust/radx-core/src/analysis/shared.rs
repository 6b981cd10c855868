//! GPU shared memory (`addrspace(3)` globals): each one a function uses gets a shadow in
//! shared memory. Front ends reach shared arrays through constant expressions
//! (`addrspacecast (ptr addrspace(3) @buf to ptr)`); preparation turns those into
//! instructions so the analyses and generators see ordinary, shadowable values.

use crate::ir::{self, builder::Builder, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::*;

pub fn is_shared_global(v: Value) -> bool {
    ir::is_global_variable(v) && unsafe { LLVMGetPointerAddressSpace(ir::type_of(v)) } == 3
}

/// The shared globals `f` uses that can hold derivative data.
pub fn shared_globals(f: Value) -> Vec<Value> {
    let mut out = Vec::new();
    for i in ir::all_instructions(f) {
        for o in ir::operands(i) {
            if is_shared_global(o) && !out.contains(&o) && ir::is_differentiable_type(unsafe { LLVMGlobalGetValueType(o) }) {
                out.push(o);
            }
        }
    }
    out
}

/// Rewrites constant-expression operands (casts and GEPs) that lead to a shared global as
/// instructions placed before their users.
pub fn expand_shared_constant_exprs(f: Value) {
    expand_constant_exprs_of(f, &is_shared_global);
}

/// The same for the globals `wanted` selects (shared memory, active globals).
pub fn expand_constant_exprs_of(f: Value, wanted: &dyn Fn(Value) -> bool) {
    let b = Builder::new(ir::module_of_function(f));
    for i in ir::all_instructions(f) {
        if ir::opcode(i) == Some(LLVMPHI) {
            // A phi's incoming value is computed at the end of its incoming block.
            for k in 0..unsafe { LLVMCountIncoming(i) } {
                let o = unsafe { LLVMGetIncomingValue(i, k) };
                if unsafe { LLVMIsAConstantExpr(o).is_null() } || !wanted(ir::strip_pointer_casts(ir::underlying_object(o))) {
                    continue;
                }
                b.position_before(ir::terminator(unsafe { LLVMGetIncomingBlock(i, k) }));
                let inst = expand(&b, o, wanted);
                ir::set_operand(i, k, inst);
            }
            continue;
        }
        for k in 0..ir::num_operands(i) {
            let o = ir::operand(i, k);
            if unsafe { LLVMIsAConstantExpr(o).is_null() } || !wanted(ir::strip_pointer_casts(ir::underlying_object(o))) {
                continue;
            }
            b.position_before(i);
            let inst = expand(&b, o, wanted);
            ir::set_operand(i, k, inst);
        }
    }
}

fn expand(b: &Builder, c: Value, wanted: &dyn Fn(Value) -> bool) -> Value {
    unsafe {
        if wanted(c) {
            // The builder folds casts of constants back into constant expressions; a
            // `freeze` (removed by later cleanups) gives it a non-constant to work on.
            return LLVMBuildFreeze(b.raw(), c, b"\0".as_ptr() as *const _);
        }
        if LLVMIsAConstantExpr(c).is_null() {
            return c;
        }
        let base = expand(b, LLVMGetOperand(c, 0), wanted);
        match LLVMGetConstOpcode(c) {
            LLVMAddrSpaceCast => LLVMBuildAddrSpaceCast(b.raw(), base, ir::type_of(c), b"\0".as_ptr() as *const _),
            LLVMBitCast => LLVMBuildBitCast(b.raw(), base, ir::type_of(c), b"\0".as_ptr() as *const _),
            LLVMGetElementPtr => {
                let mut idx: Vec<Value> = (1..LLVMGetNumOperands(c) as u32).map(|k| LLVMGetOperand(c, k)).collect();
                LLVMBuildInBoundsGEP2(b.raw(), LLVMGetGEPSourceElementType(c), base, idx.as_mut_ptr(), idx.len() as u32, b"\0".as_ptr() as *const _)
            }
            _ => c,
        }
    }
}

/// A shadow for shared global `g`: same type, in shared memory, uninitialised (shared
/// memory cannot be initialised; the derivative zeroes it on entry).
pub fn make_shadow(g: Value, lane: usize) -> Value {
    unsafe {
        let m = ir::module_of_function(g);
        let ty = LLVMGlobalGetValueType(g);
        let name = format!("{}.shadow{}", ir::name_of(g), if lane > 0 { lane.to_string() } else { String::new() });
        let existing = LLVMGetNamedGlobal(m, ir::cstring(&name).as_ptr());
        if !existing.is_null() {
            return existing;
        }
        let s = LLVMAddGlobalInAddressSpace(m, ty, ir::cstring(&name).as_ptr(), 3);
        LLVMSetInitializer(s, LLVMGetUndef(ty));
        LLVMSetLinkage(s, llvm_sys::LLVMLinkage::LLVMInternalLinkage);
        LLVMSetAlignment(s, LLVMGetAlignment(g).max(4));
        s
    }
}

/// Zeroes shadow shared memory at the start of `f`, every thread of the block taking a
/// strided share of the words, then waits at a barrier so no thread reads a shadow
/// before it is clear. Inserted as new blocks before the current entry's successor.
pub fn zero_on_entry(f: Value, entry: ir::Block, shadows: &[Value]) {
    if shadows.is_empty() {
        return;
    }
    let m = ir::module_of_function(f);
    let amd = crate::rules::gpu::is_amdgpu_module(m);
    let b = Builder::new(m);
    unsafe {
        let ctx = b.ctx;
        let term = LLVMGetBasicBlockTerminator(entry);
        let next = LLVMGetSuccessor(term, 0);
        let i32t = b.i32_type();
        let fty0 = LLVMFunctionType(i32t, std::ptr::null_mut(), 0, 0);
        b.position_before(term);
        let (tid, stride) = if amd {
            // Thread 0 clears; AMDGPU's block size is not an intrinsic.
            (b.call_named("llvm.amdgcn.workitem.id.x", fty0, &[]), b.const_int(i32t, u32::MAX as u64))
        } else {
            (b.call_named("llvm.nvvm.read.ptx.sreg.tid.x", fty0, &[]), b.call_named("llvm.nvvm.read.ptx.sreg.ntid.x", fty0, &[]))
        };
        let mut cur = entry;
        let mut last_term = term;
        for &s in shadows {
            let words = (ir::data_layout_type_size(m, LLVMGlobalGetValueType(s)) / 4) as u64;
            let head = LLVMAppendBasicBlockInContext(ctx, f, b"shared.zero\0".as_ptr() as *const _);
            let body = LLVMAppendBasicBlockInContext(ctx, f, b"shared.zero.body\0".as_ptr() as *const _);
            let done = LLVMAppendBasicBlockInContext(ctx, f, b"shared.zero.done\0".as_ptr() as *const _);
            LLVMMoveBasicBlockAfter(head, cur);
            LLVMMoveBasicBlockAfter(body, head);
            LLVMMoveBasicBlockAfter(done, body);
            ir::set_operand(last_term, 0, ir::block_as_value(head));
            b.position_at_end(head);
            let k = b.phi(i32t);
            let more = LLVMBuildICmp(b.raw(), llvm_sys::LLVMIntPredicate::LLVMIntULT, k, b.const_int(i32t, words), b"\0".as_ptr() as *const _);
            LLVMBuildCondBr(b.raw(), more, body, done);
            b.position_at_end(body);
            let mut idx = [b.const_int(b.i64_type(), 0), b.int_cast(k, b.i64_type(), false)];
            let words_ty = ir::llvm::array_type(i32t, words as u64);
            let p = LLVMBuildInBoundsGEP2(b.raw(), words_ty, s, idx.as_mut_ptr(), 2, b"\0".as_ptr() as *const _);
            b.store(b.const_int(i32t, 0), p);
            let kn = LLVMBuildAdd(b.raw(), k, stride, b"\0".as_ptr() as *const _);
            let wrapped = LLVMBuildICmp(b.raw(), llvm_sys::LLVMIntPredicate::LLVMIntULT, kn, k, b"\0".as_ptr() as *const _);
            LLVMBuildCondBr(b.raw(), wrapped, done, head);
            let (mut vals, mut blks) = ([tid, kn], [cur, body]);
            LLVMAddIncoming(k, vals.as_mut_ptr(), blks.as_mut_ptr(), 2);
            b.position_at_end(done);
            last_term = b.br(next);
            cur = done;
        }
        b.position_before(last_term);
        let void0 = LLVMFunctionType(b.void_type(), std::ptr::null_mut(), 0, 0);
        b.call_named(if amd { "llvm.amdgcn.s.barrier" } else { "llvm.nvvm.barrier0" }, void0, &[]);
    }
}
