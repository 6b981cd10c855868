//! Cancelling a factor against a division by the same value where a partial meets its
//! tangent or adjoint.
//!
//! The chain rule through `q = pow(x, y) / y` multiplies `y · pow(x, y - 1)` (pow's
//! partial) by `1 / y` (the division's): evaluated as written that is a multiplication and
//! a division whose only effect is rounding. When `y` is provably nonzero and finite
//! (`analysis::nonzero`) the two cancel: the derivative is the exact-arithmetic chain rule
//! with fewer roundings, so it differs from the literal product by at most those roundings
//! (and does not overflow where `y · pow` would). Forward mode meets the pattern as a
//! tangent `… · y` divided by `y`; reverse mode as an adjoint `ȳ / y` times a partial with
//! the factor `y`. Switched off with the optimization name `cancel-factors`.
//!
//! Floor: above the language of partials (`expr.rs`) and `analysis::nonzero`, below the
//! emitter (`emit.rs`), which asks here first.

use super::expr::{CmpOp, Expr};
use crate::analysis::nonzero::{is_nonzero_finite, is_nonzero_int};
use crate::ir::builder::Builder;
use crate::ir::{self, Type, Value};
use llvm_sys::LLVMOpcode::*;

/// How deep a product is searched for the factor.
const MAX_DEPTH: u32 = 4;

/// What a generator knows where it emits a partial.
#[derive(Clone, Copy)]
pub struct Known<'a> {
    /// Values known to be nonzero and finite. The reverse sweep's copies of primal values
    /// (popped from the tape, recovered counters) answer through the primal they copy.
    pub nonzero: &'a dyn Fn(Value) -> bool,
    /// Whether factors may cancel (the `cancel-factors` optimization).
    pub cancel: bool,
}

impl Known<'static> {
    /// Facts read off the values themselves; no cancelling.
    pub fn plain() -> Self {
        Known { nonzero: &is_nonzero_finite, cancel: false }
    }
}

/// `partial · t` with a factor cancelled, or None where nothing cancels. `emit` emits what
/// remains of the partial (`Expr::emit_in`, passed in so that this file, which the emitter
/// consults, does not import it back).
pub fn times(partial: &Expr, b: &Builder, ty: Type, var: &dyn Fn(&str) -> Value, t: Value, known: Known, emit: &dyn Fn(&Expr) -> Value) -> Option<Value> {
    if !known.cancel || ir::type_of(t) != ty {
        return None;
    }
    if let Expr::Bin('/', one, divisor) = partial {
        if one.as_const() == Some(1.0) {
            let Expr::Var(name) = divisor.as_ref() else { return None };
            let y = var(name);
            if !(known.nonzero)(y) {
                return None;
            }
            return without_factor(b, t, y, MAX_DEPTH).map(|q| q.unwrap_or_else(|| b.const_float(ty, 1.0)));
        }
    }
    if ir::opcode(t) == Some(LLVMFDiv) {
        let (d, y) = (ir::operand(t, 0), ir::operand(t, 1));
        if (known.nonzero)(y) {
            if let Some(q) = expr_without_factor(partial, b, ty, var, y, known, emit) {
                return Some(match q {
                    Some(q) => b.fmul(q, d),
                    None => d,
                });
            }
        }
    }
    None
}

/// The value of a rule's guard that compares a variable (or `float(n)`) with 0, where the
/// variable is provably nonzero: `y == 0` is false and `y != 0` true.
pub fn fold_zero_test(c: &Expr, var: &dyn Fn(&str) -> Value, known: Known) -> Option<bool> {
    let Expr::Cmp(op @ (CmpOp::Eq | CmpOp::Ne), a, b) = c else { return None };
    let tested = match (a.as_const(), b.as_const()) {
        (_, Some(z)) if z == 0.0 => a,
        (Some(z), _) if z == 0.0 => b,
        _ => return None,
    };
    let nonzero = match tested.as_ref() {
        Expr::Var(name) => (known.nonzero)(var(name)),
        Expr::Call(f, args) if f == "float" => matches!(&args[..], [Expr::Var(n)] if is_int(var(n)) && is_nonzero_int(var(n))),
        _ => false,
    };
    nonzero.then_some(*op == CmpOp::Ne)
}

fn is_int(v: Value) -> bool {
    ir::is_integer(ir::type_of(v)) && !ir::is_vector(ir::type_of(v))
}

/// Two values that are equal: the same value, or the same conversion of the same integer
/// (a generator may convert a rule's `float(n)` again).
fn same_value(a: Value, b: Value) -> bool {
    if a == b {
        return true;
    }
    match (ir::opcode(a), ir::opcode(b)) {
        (Some(oa @ (LLVMSIToFP | LLVMUIToFP)), Some(ob)) if oa == ob => ir::operand(a, 0) == ir::operand(b, 0) && ir::type_of(a) == ir::type_of(b),
        _ => false,
    }
}

/// `v / e` for a product `v` that has `e` as a factor: Some(None) when `v` is `e` itself,
/// Some(quotient) when a factor cancels, None otherwise. Builds new instructions only.
fn without_factor(b: &Builder, v: Value, e: Value, depth: u32) -> Option<Option<Value>> {
    if same_value(v, e) {
        return Some(None);
    }
    if depth == 0 {
        return None;
    }
    let one = || b.const_float(ir::type_of(v), 1.0);
    match ir::opcode(v) {
        Some(LLVMFMul) => {
            let (x, y) = (ir::operand(v, 0), ir::operand(v, 1));
            for (factor, other) in [(x, y), (y, x)] {
                if let Some(q) = without_factor(b, factor, e, depth - 1) {
                    return Some(Some(match q {
                        Some(q) => b.fmul(q, other),
                        None => other,
                    }));
                }
            }
            None
        }
        Some(LLVMFNeg) => without_factor(b, ir::operand(v, 0), e, depth - 1).map(|q| Some(b.fneg(q.unwrap_or_else(one)))),
        Some(LLVMFDiv) => without_factor(b, ir::operand(v, 0), e, depth - 1).map(|q| Some(b.fdiv(q.unwrap_or_else(one), ir::operand(v, 1)))),
        _ => None,
    }
}

/// The partial divided by `e`, emitted, where `e` is one of its factors (same answers as
/// `without_factor`). Nothing is emitted unless the factor is found.
fn expr_without_factor(p: &Expr, b: &Builder, ty: Type, var: &dyn Fn(&str) -> Value, e: Value, known: Known, emit: &dyn Fn(&Expr) -> Value) -> Option<Option<Value>> {
    let one = || b.const_float(ty, 1.0);
    match p {
        Expr::Var(name) => same_value(var(name), e).then_some(None),
        Expr::Call(f, args) if f == "float" => match &args[..] {
            [Expr::Var(n)] => {
                let converts_n = matches!(ir::opcode(e), Some(LLVMSIToFP)) && ir::operand(e, 0) == var(n) && ir::type_of(e) == ty;
                converts_n.then_some(None)
            }
            _ => None,
        },
        Expr::Bin('*', x, y) => {
            if let Some(q) = expr_without_factor(x, b, ty, var, e, known, emit) {
                let other = emit(y);
                return Some(Some(q.map_or(other, |q| b.fmul(q, other))));
            }
            let q = expr_without_factor(y, b, ty, var, e, known, emit)?;
            let other = emit(x);
            Some(Some(q.map_or(other, |q| b.fmul(other, q))))
        }
        Expr::Bin('/', x, y) => {
            let q = expr_without_factor(x, b, ty, var, e, known, emit)?;
            Some(Some(b.fdiv(q.unwrap_or_else(one), emit(y))))
        }
        Expr::Neg(x) => expr_without_factor(x, b, ty, var, e, known, emit).map(|q| Some(b.fneg(q.unwrap_or_else(one)))),
        Expr::Cond(c, x, y) => match fold_zero_test(c, var, known)? {
            true => expr_without_factor(x, b, ty, var, e, known, emit),
            false => expr_without_factor(y, b, ty, var, e, known, emit),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::expr::parse;

    /// `%y` converts `n + 1` (nuw): nonzero. `%v` converts `n`: maybe zero. `%t2` is a
    /// tangent `y · p · d`, `%a` an adjoint `d / y`, `%a2` the same over `%v`.
    const IR: &str = r#"
define double @f(double %x, double %d, i32 %n) {
  %k = add nuw i32 %n, 1
  %y = sitofp i32 %k to double
  %v = sitofp i32 %n to double
  %p = call double @llvm.pow.f64(double %x, double %y)
  %t = fmul double %y, %p
  %t2 = fmul double %t, %d
  %t3 = fmul double %v, %d
  %a = fdiv double %d, %y
  %a2 = fdiv double %d, %v
  ret double %x
}
declare double @llvm.pow.f64(double, double)
"#;

    const POW_PARTIAL: &str = "y == 0 ? 0 : y * pow(x, y - 1)";

    /// Emits `partial · t` before the return (x is `%x`, y the value named `y`) and prints
    /// what was added: the instructions after `%a2`.
    fn emitted(partial: &str, y: &str, t: &str, cancel: bool) -> String {
        let ctx = inkwell::context::Context::create();
        let m = ir::parse_test_module(&ctx, IR);
        let f = ir::functions(m.as_mut_ptr()).into_iter().find(|f| !ir::is_declaration(*f)).unwrap();
        let named = |name: &str| ir::all_instructions(f).into_iter().chain(ir::params(f)).find(|v| ir::name_of(*v) == name).expect(name);
        let b = Builder::new(m.as_mut_ptr());
        let ret = ir::terminator(ir::entry_block(f));
        b.position_before(ret);
        let (x, yv, tv) = (named("x"), named(y), named(t));
        let var = |name: &str| if name == "x" { x } else { yv };
        let known = Known { nonzero: &is_nonzero_finite, cancel };
        let r = parse(partial).unwrap().emit_times(&b, ir::type_of(x), &var, tv, known);
        ir::set_operand(ret, 0, r);
        m.verify().expect("valid IR");
        let printed = m.print_to_string().to_string();
        let body = &printed[printed.find("%a2 =").unwrap()..printed.find("ret double").unwrap()];
        body.lines().skip(1).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_tangent_with_the_factor_is_not_divided_by_it() {
        let out = emitted("1 / y", "y", "t2", true);
        assert_eq!(out.trim(), "%1 = fmul double %p, %d", "{out}");
    }

    #[test]
    fn an_adjoint_divided_by_the_factor_meets_the_partial_without_it() {
        let out = emitted(POW_PARTIAL, "y", "a", true);
        assert!(!out.contains("select") && !out.contains("fdiv") && !out.contains("%y, %"), "{out}");
        assert!(out.contains("call double @llvm.pow.f64(double %x, double %1)") && out.contains("fmul double %2, %d"), "{out}");
    }

    #[test]
    fn a_divisor_that_may_be_zero_keeps_the_literal_chain_rule() {
        assert!(emitted("1 / y", "v", "t3", true).contains("fdiv double %t3, %v"));
        let out = emitted(POW_PARTIAL, "v", "a2", true);
        assert!(out.contains("select") && out.contains("fmul double %v"), "{out}");
    }

    /// Switched off, nothing cancels; the guard on a nonzero `y` still folds (exactly).
    #[test]
    fn switched_off_only_the_guard_folds() {
        assert!(emitted("1 / y", "y", "t2", false).contains("fdiv double %t2, %y"));
        let out = emitted(POW_PARTIAL, "y", "a", false);
        assert!(!out.contains("select") && out.contains("fmul double %y"), "{out}");
    }

    #[test]
    fn constants_and_conversions_count_as_the_same_factor() {
        let ctx = inkwell::context::Context::create();
        let text = "define double @g(double %p, i32 %n) {\n  %k = or i32 %n, 1\n  %y1 = sitofp i32 %k to double\n  %y2 = sitofp i32 %k to double\n  %t = fmul double %p, %y1\n  ret double %t\n}\n";
        let m = ir::parse_test_module(&ctx, text);
        let f = ir::functions(m.as_mut_ptr())[0];
        let insts = ir::all_instructions(f);
        let (y2, t) = (insts[2], insts[3]);
        let b = Builder::new(m.as_mut_ptr());
        b.position_before(insts[4]);
        assert_eq!(without_factor(&b, t, y2, MAX_DEPTH), Some(Some(ir::params(f)[0])));
        let three = b.const_float(ir::type_of(t), 3.0);
        assert!(is_nonzero_finite(three) && !is_nonzero_finite(b.const_float(ir::type_of(t), 0.0)));
        assert!(!is_nonzero_finite(b.const_float(ir::type_of(t), f64::INFINITY)));
    }
}
