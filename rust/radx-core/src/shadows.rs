//! What both generators do the same way to give a primal instruction its shadow outside
//! the rule table: a shadow copy of an instruction loses the metadata that describes the
//! primal value, a Julia GC allocation's shadow is zeroed, a write barrier is mirrored on
//! the shadows, and a dynamic Julia call with an active argument is refused.
//!
//! Floor: below the engine and both generators (it needs the IR wrappers, the memory
//! analysis and diagnostics only), so forward and reverse mode share it without importing
//! each other.

use crate::diag::{Code, Diagnostic, Result};
use crate::ir::{self, builder::Builder, Value};
use crate::rules::julia::AllocSize;
use llvm_sys::core::*;

/// Metadata that describes the primal value and may be false of its shadow.
const VALUE_METADATA: &[&str] = &["range", "nonnull", "noundef", "align", "dereferenceable", "dereferenceable_or_null", "invariant.load", "nontemporal"];

/// Clears that metadata from a shadow made by cloning a primal instruction: a shadow
/// load is not `!nonnull` or `!range` because the primal load is.
pub fn strip_value_metadata(inst: Value) {
    let ctx = unsafe { LLVMGetModuleContext(ir::module_of_function(ir::parent_function(inst))) };
    for k in VALUE_METADATA {
        unsafe { LLVMSetMetadata(inst, ir::md_kind(ctx, k), std::ptr::null_mut()) };
    }
}

/// The refusal for a Julia call resolved only at run time (`JuliaCall::Reject`) that
/// receives an active value: its derivative is not known ahead of time.
pub fn reject_julia_call(what: &str, active: Value, inst: Value) -> Diagnostic {
    Diagnostic::new(Code::Unsupported, format!("{what} receives the active value `{}`; it cannot be differentiated ahead of time", crate::diag::short(active)))
        .at(inst)
        .hint("make the code type-stable (check with @code_warntype) so the callee is known when the function is compiled")
}

/// Calls the same function again with the shadows of its arguments, leaving out arguments
/// that have none (a write barrier for the shadow parent and the shadow children).
pub fn mirror_with_shadows(b: &Builder, primal: Value, args: &[Value], shadow: impl Fn(Value) -> Option<Value>) {
    let Some(parent) = args.first().and_then(|p| shadow(*p)) else { return };
    let children: Vec<Value> = args[1..].iter().filter_map(|c| shadow(*c)).collect();
    if children.is_empty() && args.len() > 1 {
        return;
    }
    let callee = ir::called_function(primal).unwrap();
    let fty = unsafe { LLVMGlobalGetValueType(callee) };
    let mut all = vec![parent];
    all.extend(children);
    b.call(fty, callee, &all);
}

/// Zeroes a shadow GC allocation's payload. For a `GenericMemory` the element size is
/// taken from how the function reads the memory through `julia.gc_loaded`.
pub fn zero_julia_allocation(
    b: &Builder,
    f: Value,
    alloc: Value,
    shadow: Value,
    size: AllocSize,
    map: impl Fn(Value) -> Value,
) -> Result<()> {
    let as11 = unsafe { LLVMPointerTypeInContext(b.ctx, 11) };
    let derived = unsafe { LLVMBuildAddrSpaceCast(b.raw(), shadow, as11, b"\0".as_ptr() as *const _) };
    match size {
        AllocSize::Bytes(k) => {
            b.memset_zero(derived, map(ir::operand(alloc, k)), 1);
        }
        AllocSize::MemoryElements(k) => {
            let loaded: Vec<Value> = ir::users(alloc)
                .into_iter()
                .filter(|u| ir::called_function(*u).map(|c| ir::name_of(c) == "julia.gc_loaded").unwrap_or(false))
                .collect();
            let types = crate::analysis::memory::memory_types(f, &loaded);
            let Some(t) = types.float.filter(|_| !types.conflicting_floats) else {
                return Err(Diagnostic::new(Code::Unsupported, "cannot tell the element type of this new Memory, so its shadow cannot be zeroed")
                    .at(alloc)
                    .hint("the memory must be read or written as floating-point data in this function through julia.gc_loaded"));
            };
            let elsize = ir::data_layout_type_size(b.module, t);
            let n = b.int_cast(map(ir::operand(alloc, k)), b.i64_type(), false);
            let bytes = unsafe { LLVMBuildMul(b.raw(), n, b.const_int(b.i64_type(), elsize), b"\0".as_ptr() as *const _) };
            // Memory = { i64 length, ptr data, ... }: zero what `data` points to.
            let field = b.gep_bytes_as(derived, 8);
            let data = b.load(b.ptr_type(), field);
            b.memset_zero(data, bytes, 1);
        }
    }
    Ok(())
}
