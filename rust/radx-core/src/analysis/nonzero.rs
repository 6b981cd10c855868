//! Values that are provably nonzero (and, for floating point, finite): the facts that let
//! derivative code cancel a factor against a division by the same value (`y · p / y`),
//! and fold a rule's guard `y == 0 ? … : …` away.
//!
//! Only what a glance at the instruction proves: constants, integer-to-float conversions
//! of nonzero integers, `add nuw` of a nonzero constant, and phis and selects all of whose
//! inputs are nonzero (a loop counter started at 1 and stepped by `add nuw`).

use crate::ir::{self, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::*;
use llvm_sys::LLVMTypeKind;
use crate::collections::HashSet;

/// `v` is a scalar float that is never zero, infinite or NaN.
pub fn is_nonzero_finite(v: Value) -> bool {
    let t = ir::type_of(v);
    let kind = ir::type_kind(t);
    if !matches!(kind, LLVMTypeKind::LLVMFloatTypeKind | LLVMTypeKind::LLVMDoubleTypeKind) {
        return false;
    }
    unsafe {
        if !LLVMIsAConstantFP(v).is_null() {
            let mut loses = 0;
            let x = LLVMConstRealGetDouble(v, &mut loses);
            return x != 0.0 && x.is_finite();
        }
    }
    match ir::opcode(v) {
        // Every integer of up to 64 bits converts to a finite float or double, and a
        // nonzero one to a nonzero value (its magnitude is at least 1).
        Some(LLVMSIToFP | LLVMUIToFP) => {
            let src = ir::operand(v, 0);
            let narrow = unsafe { LLVMGetIntTypeWidth(ir::type_of(src)) } <= 64;
            ir::is_integer(ir::type_of(src)) && !ir::is_vector(ir::type_of(src)) && narrow && is_nonzero_int(src)
        }
        _ => false,
    }
}

/// `v` is a scalar integer that is never zero.
pub fn is_nonzero_int(v: Value) -> bool {
    nonzero_int(v, &mut HashSet::default(), 0)
}

const MAX_DEPTH: u32 = 8;

/// `assumed` holds the phis being proved: around a loop, a phi's value on the back edge is
/// computed from the values it had before, so assuming them nonzero is the induction step.
fn nonzero_int(v: Value, assumed: &mut HashSet<Value>, depth: u32) -> bool {
    if let Some(c) = ir::const_int_value(v) {
        return c != 0;
    }
    if depth > MAX_DEPTH {
        return false;
    }
    let nonzero_const = |x: Value| ir::const_int_value(x).is_some_and(|c| c != 0);
    match ir::opcode(v) {
        // Without unsigned wrap, x + c is at least c; with wrap, x + c keeps c's lowest set
        // bit where x's low bits are zero (`(n & -4) + 5`, a remainder loop's start).
        Some(LLVMAdd) => (0..2).any(|k| {
            let (x, c) = (ir::operand(v, 1 - k), ir::operand(v, k));
            nonzero_const(c) && (ir::llvm::has_nuw(v) || known_trailing_zeros(x, 0) > known_trailing_zeros(c, 0))
        }),
        Some(LLVMOr) => (0..2).any(|k| nonzero_int(ir::operand(v, k), assumed, depth + 1)),
        Some(LLVMZExt | LLVMSExt) => nonzero_int(ir::operand(v, 0), assumed, depth + 1),
        Some(LLVMSelect) => (1..3).all(|k| nonzero_int(ir::operand(v, k), assumed, depth + 1)),
        Some(LLVMPHI) => {
            if !assumed.insert(v) {
                return true;
            }
            let n = unsafe { LLVMCountIncoming(v) };
            let all = (0..n).all(|k| nonzero_int(unsafe { LLVMGetIncomingValue(v, k) }, assumed, depth + 1));
            assumed.remove(&v);
            all
        }
        _ => false,
    }
}

/// How many low bits of an integer are known to be zero.
fn known_trailing_zeros(v: Value, depth: u32) -> u32 {
    let width = unsafe { LLVMGetIntTypeWidth(ir::type_of(v)) };
    if let Some(c) = ir::const_int_value(v) {
        return if c == 0 { width } else { c.trailing_zeros().min(width) };
    }
    if depth > MAX_DEPTH {
        return 0;
    }
    let tz = |k: u32| known_trailing_zeros(ir::operand(v, k), depth + 1);
    let shift = |k: u32| ir::const_int_value(ir::operand(v, k)).filter(|c| (0..width as i64).contains(c)).map(|c| c as u32);
    let zeros = match ir::opcode(v) {
        Some(LLVMAnd) => tz(0).max(tz(1)),
        Some(LLVMOr | LLVMAdd | LLVMSub) => tz(0).min(tz(1)),
        Some(LLVMMul) => tz(0) + tz(1),
        Some(LLVMShl) => shift(1).map_or(0, |c| tz(0) + c),
        _ => 0,
    };
    zeros.min(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOP: &str = r#"
define double @f(i32 %n, i32 %k, double %x) {
entry:
  br label %loop
loop:
  %i = phi i32 [ 1, %entry ], [ %i.next, %loop ]
  %j = phi i32 [ 0, %entry ], [ %j.next, %loop ]
  %m = phi i32 [ 1, %entry ], [ %k, %loop ]
  %yi = sitofp i32 %i to double
  %yj = sitofp i32 %j to double
  %ym = sitofp i32 %m to double
  %i4 = add nuw nsw i32 %i, 4
  %yi4 = uitofp i32 %i4 to double
  %wrapping = add nsw i32 %i, 4
  %yw = sitofp i32 %wrapping to double
  %wide = zext i32 %i to i128
  %yx = sitofp i128 %wide to double
  %i.next = add nuw i32 %i, 1
  %j.next = add nuw i32 %j, 1
  %whole = and i32 %n, -4
  %start = add i32 %whole, 5
  %ys = sitofp i32 %start to double
  %next4 = add i32 %whole, 4
  %ye = sitofp i32 %next4 to double
  %c = icmp slt i32 %i.next, %n
  br i1 %c, label %loop, label %exit
exit:
  ret double %x
}
"#;

    #[test]
    fn loop_counters_from_one_are_nonzero_from_zero_are_not() {
        let ctx = inkwell::context::Context::create();
        let m = ir::parse_test_module(&ctx, LOOP);
        let f = ir::functions(m.as_mut_ptr())[0];
        let named = |name: &str| ir::all_instructions(f).into_iter().find(|i| ir::name_of(*i) == name).expect("named value");
        assert!(is_nonzero_finite(named("yi")));
        assert!(is_nonzero_finite(named("yi4")));
        // A multiple of 4 plus 5 has its lowest bit set; plus 4 it wraps to 0 from -4.
        assert!(is_nonzero_finite(named("ys")));
        assert!(!is_nonzero_finite(named("ye")));
        // Counts from 0; a phi fed by an unknown argument; `nsw` alone may reach 0 from -4.
        assert!(!is_nonzero_finite(named("yj")));
        assert!(!is_nonzero_finite(named("ym")));
        assert!(!is_nonzero_finite(named("yw")));
        // Wider than 64 bits: not claimed (an i128 may not fit a float).
        assert!(!is_nonzero_finite(named("yx")));
        assert!(ir::llvm::has_nuw(named("i4")) && !ir::llvm::has_nuw(named("wrapping")));
        let x = ir::params(f)[2];
        assert!(!is_nonzero_finite(x));
    }
}
