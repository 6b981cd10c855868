//! What the memory behind a pointer parameter holds, learnt from the callers, for functions
//! that copy it without reading it themselves (`memcpy(dst, src, n * sizeof(double))` in a
//! helper): the reverse sweep must know the element type to accumulate a copy's adjoint,
//! and only the caller (an array of doubles, a loop storing doubles) says it.
//!
//! What a caller knows is written into the prepared copy as Enzyme's own type hints
//! (`__enzyme_double(param, 0)` and friends), which `memory::memory_types` reads and the
//! pipeline removes after differentiation, so every analysis sees it the same way. Only
//! parameters the function itself says nothing about get a hint: the function's own
//! accesses always win over a caller's.

use crate::analysis::memory::{memory_types, MemoryTypes};
use crate::collections::HashMap;
use crate::ir::{self, builder::Builder, Value};
use crate::rules::memory;
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::LLVMCall;

/// Does `f` copy memory (`memcpy`, `memmove`, `realloc`)? Only such functions need types
/// they cannot see, so only they are looked at.
pub fn copies_memory(f: Value) -> bool {
    ir::all_instructions(f).into_iter().any(|i| {
        ir::opcode(i) == Some(LLVMCall)
            && ir::called_function(i).is_some_and(|c| {
                let name = ir::name_of(c);
                matches!(memory::memory_transfer(&name), Some(memory::Transfer::Copy | memory::Transfer::Move)) || memory::allocator(&name) == Some(memory::Alloc::Reallocate)
            })
    })
}

/// Gives parameter `k` of `copy` the types `types` says, unless the function already says
/// something about that memory. Returns whether a hint was added.
pub fn hint_param(copy: Value, k: usize, types: &MemoryTypes) -> bool {
    let Some(&param) = ir::params(copy).get(k) else { return false };
    if !ir::is_pointer(ir::type_of(param)) || !types.known() || memory_types(copy, &[param]).known() {
        return false;
    }
    let b = Builder::new(ir::module_of_function(copy));
    let mut hints = Vec::new();
    if let Some(t) = types.float.filter(|_| !types.conflicting_floats) {
        match ir::type_kind(t) {
            llvm_sys::LLVMTypeKind::LLVMDoubleTypeKind => hints.push("__enzyme_double"),
            llvm_sys::LLVMTypeKind::LLVMFloatTypeKind => hints.push("__enzyme_float"),
            _ => {}
        }
    }
    if types.pointers {
        hints.push("__enzyme_pointer");
    }
    if types.integers {
        hints.push("__enzyme_integer");
    }
    if hints.is_empty() {
        return false;
    }
    // After the entry block's allocas, which the hint may name.
    let entry = ir::instructions(ir::entry_block(copy));
    let before = entry.iter().copied().find(|&i| ir::opcode(i) != Some(llvm_sys::LLVMOpcode::LLVMAlloca)).unwrap_or(entry[0]);
    b.position_before(before);
    let default_ty = unsafe { LLVMFunctionType(b.void_type(), [b.ptr_type(), b.i64_type()].as_mut_ptr(), 2, 0) };
    for name in hints {
        let f = b.get_or_declare(name, default_ty);
        let fn_ty = unsafe { LLVMGlobalGetValueType(f) };
        // The user's own declaration may spell the size as another integer type.
        let mut args: Vec<Value> = ir::param_types(fn_ty)
            .into_iter()
            .enumerate()
            .map(|(j, t)| if j == 0 { param } else { unsafe { LLVMConstNull(t) } })
            .collect();
        if args.is_empty() || !ir::is_pointer(ir::type_of(args[0])) {
            continue;
        }
        unsafe { LLVMBuildCall2(b.raw(), fn_ty, f, args.as_mut_ptr(), args.len() as u32, b"\0".as_ptr() as *const _) };
    }
    true
}

/// For every call among the prepared copies `in_order` (callers before the functions they
/// call) of a function that copies memory, what the calling copy knows about each pointer
/// argument becomes a hint on the callee's copy; `copy_of` finds a callee's copy from the
/// original the call names. A chain of wrappers passes what the outermost caller knew down.
pub fn hint_callees(in_order: &[Value], copy_of: &HashMap<Value, Value>) {
    let copying: HashMap<Value, bool> = copy_of.values().map(|&c| (c, copies_memory(c))).collect();
    for &caller in in_order {
        for i in ir::all_instructions(caller) {
            if ir::opcode(i) != Some(LLVMCall) {
                continue;
            }
            let Some(&callee) = ir::called_function(i).and_then(|c| copy_of.get(&c)) else { continue };
            if !copying.get(&callee).copied().unwrap_or(false) || callee == caller {
                continue;
            }
            for (k, a) in ir::call_args(i).into_iter().enumerate() {
                if ir::is_pointer(ir::type_of(a)) {
                    hint_param(callee, k, &memory_types(caller, &[a]));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkwell::context::Context;
    use inkwell::values::AsValueRef;

    #[test]
    fn a_copying_helper_learns_the_element_type_its_caller_stores() {
        let ctx = Context::create();
        let module = ir::parse_test_module(
            &ctx,
            r#"
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
define void @copy(ptr %dst, ptr %src, i64 %n) {
  call void @llvm.memcpy.p0.p0.i64(ptr %dst, ptr %src, i64 %n, i1 false)
  ret void
}
define void @caller(ptr %x, ptr %y) {
  store double 1.0, ptr %x
  call void @copy(ptr %y, ptr %x, i64 8)
  ret void
}
"#,
        );
        let copy = module.get_function("copy").unwrap().as_value_ref();
        let caller = module.get_function("caller").unwrap().as_value_ref();
        let src = ir::params(copy)[1];
        assert!(!memory_types(copy, &[src]).known());
        let copy_of: HashMap<Value, Value> = [(copy, copy), (caller, caller)].into_iter().collect();
        hint_callees(&[caller], &copy_of);
        let t = memory_types(copy, &[src]);
        assert!(t.float.is_some_and(ir::is_float_scalar) && !t.pointers && !t.integers);
        // The destination: the caller says nothing about %y itself, but copying %x into it
        // is what the helper does; its own memcpy pairs them, so the hint on %x serves both.
        assert!(memory_types(copy, &[ir::params(copy)[0], src]).float.is_some());
        assert!(module.verify().is_ok());
    }

    #[test]
    fn the_functions_own_accesses_win_over_the_callers() {
        let ctx = Context::create();
        let module = ir::parse_test_module(
            &ctx,
            r#"
define void @f(ptr %p) {
  store float 1.0, ptr %p
  ret void
}
"#,
        );
        let f = module.get_function("f").unwrap().as_value_ref();
        let doubles = MemoryTypes { float: Some(unsafe { LLVMDoubleTypeInContext(LLVMGetModuleContext(module.as_mut_ptr())) }), conflicting_floats: false, pointers: false, integers: false };
        assert!(!hint_param(f, 0, &doubles));
        assert_eq!(ir::all_instructions(f).len(), 2);
    }
}
