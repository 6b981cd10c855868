//! Merged shadow allocations: a heap block this function allocates and frees gets its
//! shadow from the same `malloc` (or `new`), placed after the primal bytes, instead of a
//! second allocation: one call to the allocator and one to `free` per block, not two.
//!
//! Only for blocks whose every free is deferred to the reverse sweep (so both halves die
//! together, when the reverse frees the primal pointer) and that never reach `realloc`
//! (which would move the primal half away from its shadow). The shadow half is handed out
//! by a `noalias` helper call, so LLVM still treats the two halves as separate objects:
//! nothing the merge does may cost the alias facts two allocations gave.

use super::gen::RevGen;
use crate::ir::{self, builder::Builder, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMIntPredicate::LLVMIntUGT;
use crate::collections::HashSet;

const VIEW: &str = "radx.shadow.view";
/// Allocators and the frees that match them; aligned and sized forms keep two blocks.
const MERGEABLE: &[(&str, &str)] = &[("malloc", "free"), ("_Znwm", "_ZdlPv"), ("_Znam", "_ZdaPv")];
/// Where the shadow half starts: the primal size rounded up to what `malloc` and `new`
/// align every block to.
const SHADOW_ALIGN: u64 = 16;

impl<'e> RevGen<'e> {
    /// Picks the allocations to merge, once frees are known (`find_deferred_frees`).
    /// `freed_in_place`: allocations some free that stays in the forward sweep may free;
    /// `reallocated`: allocations that may reach `realloc`.
    pub(super) fn choose_merged_shadows(&mut self, freed_in_place: &HashSet<Value>, reallocated: &HashSet<Value>) {
        if !self.engine.options.enabled("merge-shadows") || self.gpu {
            return;
        }
        for (&alloc, &free_fn) in &self.deferred_frees {
            let Some(callee) = ir::called_function(alloc) else { continue };
            let pair = (ir::name_of(callee), ir::name_of(free_fn));
            if MERGEABLE.iter().any(|(a, f)| pair.0 == *a && pair.1 == *f) && !freed_in_place.contains(&alloc) && !reallocated.contains(&alloc) {
                self.merged_shadows.insert(alloc);
            }
        }
    }

    /// The forward sweep of a merged allocation `i` (size in argument 0), given its clone
    /// `p` already in place: `p` now asks for both halves, and the shadow half is zeroed.
    /// Returns the shadow.
    pub(super) fn merge_shadow_allocation(&mut self, i: Value, p: Value) -> Value {
        let b = &self.fb;
        let i64t = b.i64_type();
        b.position_before(p);
        let n = b.int_cast(self.fval(ir::operand(i, 0)), i64t, false);
        let raw = b.raw();
        let offset = unsafe {
            let up = LLVMBuildAdd(raw, n, b.const_int(i64t, SHADOW_ALIGN - 1), NO_NAME);
            LLVMBuildAnd(raw, up, b.const_int(i64t, !(SHADOW_ALIGN - 1)), NO_NAME)
        };
        // A size whose doubling overflows asks for everything, which fails like the
        // primal request would have.
        let total = unsafe {
            let sum = LLVMBuildAdd(raw, offset, n, NO_NAME);
            let huge = LLVMBuildICmp(raw, LLVMIntUGT, n, b.const_int(i64t, u64::MAX / 4), NO_NAME);
            b.select(huge, b.const_int(i64t, u64::MAX), sum)
        };
        ir::set_operand(p, 0, b.int_cast(total, ir::type_of(ir::operand(p, 0)), false));
        b.position_after(p);
        let s = b.call(view_type(b), view_helper(b), &[p, offset]);
        unsafe { LLVMAddCallSiteAttribute(s, 0, enum_attr(b, "noalias")) };
        // A failed allocation leaves nothing to zero (the primal sees its null as before).
        let failed = b.icmp_null(p);
        let len = b.select(failed, b.const_int(i64t, 0), n);
        b.memset_zero(s, len, 1);
        s
    }
}

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const _;

fn view_type(b: &Builder) -> ir::Type {
    let mut params = [b.ptr_type(), b.i64_type()];
    unsafe { LLVMFunctionType(b.ptr_type(), params.as_mut_ptr(), 2, 0) }
}

fn enum_attr(b: &Builder, name: &str) -> llvm_sys::prelude::LLVMAttributeRef {
    unsafe { LLVMCreateEnumAttribute(b.ctx, ir::enum_attr_kind(name), 0) }
}

/// `noalias ptr radx.shadow.view(ptr block, i64 offset)`: `block + offset`, behind a call
/// LLVM does not look into, whose `noalias` result makes the shadow half an object of its
/// own for alias analysis, as a separate allocation would be.
fn view_helper(b: &Builder) -> Value {
    let existing = unsafe { LLVMGetNamedFunction(b.module, ir::cstring(VIEW).as_ptr()) };
    if !existing.is_null() {
        return existing;
    }
    let f = b.get_or_declare(VIEW, view_type(b));
    unsafe {
        LLVMSetLinkage(f, llvm_sys::LLVMLinkage::LLVMInternalLinkage);
        LLVMAddAttributeAtIndex(f, 0, enum_attr(b, "noalias"));
    }
    for a in ["noinline", "nounwind", "willreturn", "nosync", "nofree"] {
        ir::add_fn_attr(f, a);
    }
    let h = Builder::new(b.module);
    unsafe {
        let entry = LLVMAppendBasicBlockInContext(h.ctx, f, b"entry\0".as_ptr() as *const _);
        h.position_at_end(entry);
        let at = LLVMBuildGEP2(h.raw(), h.i8_type(), LLVMGetParam(f, 0), [LLVMGetParam(f, 1)].as_mut_ptr(), 1, NO_NAME);
        h.ret(Some(at));
    }
    f
}
