//! Activity analysis: which values of a function can carry a derivative (a tangent, an
//! adjoint or a shadow pointer), given which arguments are active.
//!
//! A value is active when it may depend on active data through a differentiable path:
//! floating-point arithmetic with an active operand, data moved by a structural
//! instruction (cast, GEP, load through an active pointer, aggregate and vector
//! shuffles, select and phi), a call of a rule-table function with an active argument, a
//! call of a defined function whose result is active, or an allocation (stack or heap)
//! whose memory may hold floating-point data or pointers and so gets a shadow. Integer
//! arithmetic, comparisons, conversions from integers and calls of functions without
//! derivatives are inactive. The analysis iterates to a fixed point because phis see
//! values defined later on loop back edges.

use crate::ir::{self, Value};
use crate::rules::{self, memory, structural};
use llvm_sys::LLVMOpcode::*;
use crate::collections::HashSet;

pub struct Activity {
    active: HashSet<Value>,
}

impl Activity {
    pub fn is_active(&self, v: Value) -> bool {
        self.active.contains(&v)
    }
}

/// Does an allocation of this type need a shadow? Anything that can hold a float or a
/// pointer does, and so do byte arrays, which C uses for unions and type punning.
pub fn allocation_needs_shadow(t: ir::Type) -> bool {
    if ir::is_differentiable_type(t) {
        return true;
    }
    ir::type_kind(t) == llvm_sys::LLVMTypeKind::LLVMArrayTypeKind && ir::type_kind(ir::element_type(t)) == llvm_sys::LLVMTypeKind::LLVMIntegerTypeKind
        && unsafe { llvm_sys::core::LLVMGetIntTypeWidth(ir::element_type(t)) } == 8
}

/// `callee_result_active(callee, active_args)` answers whether a defined callee returns
/// an active value when called with those arguments active (the caller's analysis needs
/// the callee's; the engine memoises it).
pub fn analyze(f: Value, active_args: &[bool], active_globals: &[Value], callee_result_active: &mut dyn FnMut(Value, &[bool]) -> bool) -> Activity {
    let mut active = HashSet::default();
    for (p, &a) in ir::params(f).into_iter().zip(active_args) {
        if a {
            active.insert(p);
        }
    }
    // GPU shared memory gets a shadow like any active allocation.
    active.extend(super::shared::shared_globals(f));
    active.extend(active_globals.iter().copied());
    let insts: Vec<Value> = ir::reverse_post_order(f).into_iter().flat_map(ir::instructions).collect();
    loop {
        let mut changed = false;
        for &i in &insts {
            if active.contains(&i) {
                continue;
            }
            if instruction_is_active(i, &active, callee_result_active) {
                active.insert(i);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    Activity { active }
}

fn instruction_is_active(i: Value, active: &HashSet<Value>, callee_result_active: &mut dyn FnMut(Value, &[bool]) -> bool) -> bool {
    let op = ir::opcode(i).expect("instruction");
    if let Some(data) = structural::shadow_operands(op) {
        return data.iter().any(|&k| active.contains(&ir::operand(i, k)));
    }
    match op {
        LLVMAlloca => allocation_needs_shadow(unsafe { llvm_sys::core::LLVMGetAllocatedType(i) }) && !holds_only_inactive_pointers(i, active),
        LLVMPHI => {
            let n = unsafe { llvm_sys::core::LLVMCountIncoming(i) };
            (0..n).any(|k| active.contains(&unsafe { llvm_sys::core::LLVMGetIncomingValue(i, k) }))
        }
        LLVMCall => call_is_active(i, active, callee_result_active),
        // The old value it returns carries a derivative when it came from active memory.
        LLVMAtomicRMW => ir::contains_float(ir::type_of(i)) && active.contains(&ir::operand(i, 0)),
        _ if rules::rule_for_opcode(op).is_some() => ir::operands(i).iter().any(|v| active.contains(v)),
        _ => false,
    }
}

fn call_is_active(call: Value, active: &HashSet<Value>, callee_result_active: &mut dyn FnMut(Value, &[bool]) -> bool) -> bool {
    let ret_ty = ir::type_of(call);
    let Some(callee) = ir::called_function(call) else { return false };
    let name = ir::name_of(callee);
    let args = ir::call_args(call);
    if let Some(kind) = rules::gpu::gpu_call(&name) {
        return kind.shuffled_value().map(|k| active.contains(&args[k])).unwrap_or(false);
    }
    if let Some(kind) = rules::julia::julia_call(&name) {
        use rules::julia::JuliaCall::*;
        return match kind {
            Allocate(_) => true,
            PointerLike(which) => which.iter().any(|&k| active.contains(&args[k as usize])),
            BoxFloat => active.contains(&args[0]),
            _ => false,
        };
    }
    if let Some(rule) = rules::rule_for_callee(&name) {
        return args.iter().zip(&rule.params).any(|(a, p)| !p.is_int && active.contains(a));
    }
    if let Some(a) = memory::allocator(&name) {
        return !matches!(a, memory::Alloc::Free);
    }
    if memory::memory_transfer(&name).is_some() {
        return !ir::is_void(ret_ty) && active.contains(&args[0]);
    }
    if memory::is_inactive_function(&name) || !ir::is_differentiable_type(ret_ty) {
        return false;
    }
    let acts: Vec<bool> = args.iter().map(|a| call_arg_is_active(*a, active)).collect();
    acts.iter().any(|&a| a) && callee_result_active(callee, &acts)
}

/// A stack slot of one pointer that only ever receives inactive pointers and is only read
/// — by loads, or by callees that only read the parameter — holds nothing a derivative
/// follows. Clang passes variables captured by an OpenMP region (and `&p` for a pointer
/// `p`) to the outlined function through such slots; without this, storing a constant
/// pointer into one would need that pointer's (nonexistent) shadow.
fn holds_only_inactive_pointers(slot: Value, active: &HashSet<Value>) -> bool {
    if !ir::is_pointer(unsafe { llvm_sys::core::LLVMGetAllocatedType(slot) }) || ir::const_int_value(ir::operand(slot, 0)) != Some(1) {
        return false;
    }
    ir::users(slot).into_iter().all(|u| match ir::opcode(u) {
        Some(LLVMLoad) => true,
        Some(LLVMStore) => ir::operand(u, 1) == slot && ir::operand(u, 0) != slot && !active.contains(&ir::operand(u, 0)),
        Some(LLVMCall) => {
            let Some(callee) = ir::called_function(u) else { return false };
            if ir::name_of(callee).starts_with("llvm.lifetime.") {
                return true;
            }
            let args = ir::call_args(u);
            args.iter().enumerate().filter(|(_, a)| **a == slot).all(|(k, _)| parameter_is_only_read(u, callee, k as u32, 0))
        }
        _ => false,
    })
}

/// Does the callee only read through its parameter `k` — by attribute, or by a body that
/// only loads from it, possibly after spilling it to a slot (-O0) or handing it to another
/// such callee (clang's `_debug__` bodies of OpenMP regions at -O0 -g)?
fn parameter_is_only_read(call: Value, callee: Value, k: u32, depth: u32) -> bool {
    let attr = |name: &str| unsafe {
        let kind = ir::enum_attr_kind(name);
        !llvm_sys::core::LLVMGetCallSiteEnumAttribute(call, k + 1, kind).is_null() || !llvm_sys::core::LLVMGetEnumAttributeAtIndex(callee, k + 1, kind).is_null()
    };
    if attr("readonly") || attr("readnone") {
        return true;
    }
    if depth > 3 || ir::is_declaration(callee) || ir::is_vararg(ir::function_type(callee)) || k as usize >= ir::params(callee).len() {
        return false;
    }
    only_read_through(ir::params(callee)[k as usize], depth)
}

fn only_read_through(p: Value, depth: u32) -> bool {
    ir::users(p).into_iter().all(|u| match ir::opcode(u) {
        Some(LLVMLoad) => true,
        Some(LLVMStore) => {
            let spill = ir::operand(u, 1);
            ir::operand(u, 0) == p
                && ir::opcode(spill) == Some(LLVMAlloca)
                && ir::users(spill).into_iter().all(|s| s == u || ir::opcode(s) == Some(LLVMLoad) && only_read_through(s, depth + 1))
        }
        Some(LLVMCall) => {
            let Some(callee) = ir::called_function(u) else { return false };
            ir::call_args(u).iter().enumerate().filter(|(_, a)| **a == p).all(|(k, _)| parameter_is_only_read(u, callee, k as u32, depth + 1))
        }
        _ => false,
    })
}

/// Integer arguments are never passed with a shadow: raw integer bits loaded from shadow
/// memory only matter where they are stored back, which happens inside one function.
pub fn call_arg_is_active(arg: Value, active: &HashSet<Value>) -> bool {
    active.contains(&arg) && !ir::is_integer(ir::type_of(arg))
}

impl Activity {
    pub fn active_set(&self) -> &HashSet<Value> {
        &self.active
    }

    /// Treats these values as inactive from now on (their adjoints are known to be zero,
    /// see `useful::dead_adjoints`).
    pub fn forget(&mut self, values: &HashSet<Value>) {
        self.active.retain(|v| !values.contains(v));
    }
}

