//! Dead adjoints: active floating-point values whose adjoint is zero on every run,
//! because nothing they flow into carries a derivative back to an output (they feed only
//! comparisons, conversions to integers, branch conditions, stores into memory without a
//! shadow, output routines, or other such values).
//!
//! Activity (`activity.rs`) looks forward from the active inputs; this looks back from
//! the outputs. LLVM cannot drop such an adjoint itself: `0 * partial` is not zero when
//! the partial is infinite or NaN, so the partial's computation, and the values the tape
//! keeps for it, would stay.

use super::activity::Activity;
use crate::ir::{self, Value};
use crate::rules::{self, memory, structural};
use llvm_sys::LLVMOpcode::{self, *};
use crate::collections::HashSet;

/// Active values whose adjoint is always zero, given whether the function's return value
/// is seeded.
pub fn dead_adjoints(f: Value, activity: &Activity, return_active: bool) -> HashSet<Value> {
    let insts = ir::all_instructions(f);
    let candidate = |v: Value| ir::is_instruction(v) && activity.is_active(v) && may_drop_adjoint(v);
    let mut useful: HashSet<Value> = HashSet::default();
    let mut work: Vec<Value> = Vec::new();
    for &u in &insts {
        if candidate(u) {
            continue;
        }
        for v in ir::operands(u) {
            if candidate(v) && carries_adjoint_back(u, v, activity, return_active) && useful.insert(v) {
                work.push(v);
            }
        }
    }
    // Inside the candidates every float operand of a float operation gets a share of its
    // adjoint (integer parameters are not candidates).
    while let Some(u) = work.pop() {
        for v in ir::operands(u) {
            if candidate(v) && useful.insert(v) {
                work.push(v);
            }
        }
    }
    insts.into_iter().filter(|&v| candidate(v) && !useful.contains(&v)).collect()
}

/// Values of float type (no pointers inside) made by operations whose adjoint only flows
/// to their operands: arithmetic and libm rules, data movement, loads. Calls of defined
/// functions and anything with effects stay as activity says.
fn may_drop_adjoint(v: Value) -> bool {
    let t = ir::type_of(v);
    if !ir::contains_float(t) || ir::contains_pointer(t) {
        return false;
    }
    let Some(op) = ir::opcode(v) else { return false };
    match op {
        LLVMCall => ir::called_function(v).map(|c| rules::rule_for_callee(&ir::name_of(c)).is_some()).unwrap_or(false),
        LLVMLoad => unsafe { llvm_sys::core::LLVMGetVolatile(v) == 0 },
        LLVMPHI | LLVMSelect => true,
        _ => rules::rule_for_opcode(op).is_some() || structural::shadow_operands(op).is_some(),
    }
}

/// Does the adjoint of `user` (an instruction that is not itself a candidate) reach its
/// operand `v`?
fn carries_adjoint_back(user: Value, v: Value, activity: &Activity, return_active: bool) -> bool {
    let op: LLVMOpcode = ir::opcode(user).unwrap();
    match op {
        LLVMRet => return_active,
        LLVMStore => ir::operand(user, 0) == v && activity.is_active(ir::operand(user, 1)),
        LLVMFCmp | LLVMICmp | LLVMFPToSI | LLVMFPToUI | LLVMBr | LLVMSwitch => false,
        LLVMCall => !ir::called_function(user).map(|c| memory::is_inactive_function(&ir::name_of(c))).unwrap_or(false),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::activity;
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;
    use inkwell::values::AsValueRef;

    fn dead_names(src: &str, f: &str, active: &[bool], return_active: bool) -> Vec<String> {
        let ctx = Context::create();
        let buf = MemoryBuffer::create_from_memory_range_copy(src.as_bytes(), "dead");
        let module = ctx.create_module_from_ir(buf).expect("the test IR parses");
        let func = module.get_function(f).unwrap().as_value_ref();
        let act = activity::analyze(func, active, &[], &mut |_, _| true);
        let mut names: Vec<String> = dead_adjoints(func, &act, return_active).into_iter().map(ir::name_of).collect();
        names.sort();
        names
    }

    #[test]
    fn values_feeding_only_comparisons_and_integer_conversions_are_dead() {
        let src = r#"
declare double @llvm.sin.f64(double)
declare i32 @printf(ptr, ...)
define double @f(double %x, ptr %p) {
  %sq = fmul double %x, %x
  %c = fcmp ogt double %sq, 1.0
  %s = call double @llvm.sin.f64(double %x)
  %n = fptosi double %s to i32
  %printed = fadd double %x, 2.0
  %u = call i32 (ptr, ...) @printf(ptr %p, double %printed)
  %y = fmul double %x, 3.0
  %r = select i1 %c, double %y, double %x
  ret double %r
}
"#;
        assert_eq!(dead_names(src, "f", &[true, false], true), ["printed", "s", "sq"]);
        // With the return not seeded nothing carries an adjoint back.
        assert_eq!(dead_names(src, "f", &[true, false], false), ["printed", "r", "s", "sq", "y"]);
    }

    #[test]
    fn stores_into_shadowed_memory_and_loop_phis_keep_adjoints() {
        let src = r#"
define void @g(ptr %out, ptr %scratch, i32 %n) {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %v = load double, ptr %out
  %acc1 = fadd double %acc, %v
  %i1 = add i32 %i, 1
  %more = icmp slt i32 %i1, %n
  br i1 %more, label %loop, label %exit
exit:
  %w = fmul double %acc1, 2.0
  store double %w, ptr %out
  %junk = fmul double %acc1, 5.0
  store double %junk, ptr %scratch
  ret void
}
"#;
        // %scratch has no shadow: the value stored there has no adjoint.
        assert_eq!(dead_names(src, "g", &[true, false, false], false), ["junk"]);
    }
}
