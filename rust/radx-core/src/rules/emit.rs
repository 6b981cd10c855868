//! Emitting a rule's partial as IR, where it meets the tangent or adjoint it multiplies.
//!
//! Floor: above the language (`expr.rs`) and the cancelling of factors (`cancel.rs`),
//! which is consulted first and given this emitter for the parts of a partial that stay;
//! the generators call these methods on the partials of the rule table.

use super::cancel::{self, Known};
use super::expr::{CmpOp, Expr};
use crate::ir::builder::Builder;
use crate::ir::{self, Type, Value};
use llvm_sys::LLVMRealPredicate;

impl Expr {
    /// `self · t`, for a partial `self` and a tangent or adjoint `t`. A reciprocal partial
    /// `1 / e` (the numerator of a division) becomes `t / e`: one rounding and one
    /// instruction instead of a division and a multiplication. Where `known` allows, a
    /// factor that meets a division by itself cancels (`rules::cancel`).
    pub fn emit_times(&self, b: &Builder, ty: Type, var: &dyn Fn(&str) -> Value, t: Value, known: Known) -> Value {
        if let Some(v) = cancel::times(self, b, ty, var, t, known, &|e: &Expr| e.emit_in(b, ty, var, known)) {
            return v;
        }
        match self {
            Expr::Bin('/', one, e) if one.as_const() == Some(1.0) => b.fdiv(t, e.emit_in(b, ty, var, known)),
            _ => b.fmul(self.emit_in(b, ty, var, known), t),
        }
    }

    /// Emits the expression as IR of floating-point type `ty`. `var` supplies the value of
    /// each named variable (integers are converted only where `float(...)` asks).
    pub fn emit(&self, b: &Builder, ty: Type, var: &dyn Fn(&str) -> Value) -> Value {
        self.emit_in(b, ty, var, Known::plain())
    }

    /// `emit`, where a guard `y == 0 ? … : …` on a `y` known to be nonzero emits only the
    /// branch taken.
    pub fn emit_in(&self, b: &Builder, ty: Type, var: &dyn Fn(&str) -> Value, known: Known) -> Value {
        if let Expr::Cond(c, x, y) = self {
            if let Some(taken) = cancel::fold_zero_test(c, var, known) {
                return if taken { x.emit_in(b, ty, var, known) } else { y.emit_in(b, ty, var, known) };
            }
        }
        match self {
            Expr::Num(n) => b.const_float(ty, *n),
            Expr::Var(v) => var(v),
            Expr::Neg(a) => b.fneg(a.emit_in(b, ty, var, known)),
            Expr::Bin(op, x, y) => {
                let (x, y) = (x.emit_in(b, ty, var, known), y.emit_in(b, ty, var, known));
                match op {
                    '+' => b.fadd(x, y),
                    '-' => b.fsub(x, y),
                    '*' => b.fmul(x, y),
                    _ => b.fdiv(x, y),
                }
            }
            Expr::Cmp(op, x, y) => {
                use LLVMRealPredicate::*;
                let p = match op {
                    CmpOp::Lt => LLVMRealOLT,
                    CmpOp::Le => LLVMRealOLE,
                    CmpOp::Gt => LLVMRealOGT,
                    CmpOp::Ge => LLVMRealOGE,
                    CmpOp::Eq => LLVMRealOEQ,
                    CmpOp::Ne => LLVMRealUNE,
                };
                b.fcmp(p, x.emit_in(b, ty, var, known), y.emit_in(b, ty, var, known))
            }
            Expr::Cond(c, x, y) => {
                let c = c.emit_in(b, ty, var, known);
                b.select(c, x.emit_in(b, ty, var, known), y.emit_in(b, ty, var, known))
            }
            Expr::Call(f, args) => {
                if f == "float" {
                    let v = args[0].emit_in(b, ty, var, known);
                    return if ir::is_integer(ir::type_of(v)) { int_to_float(b, v, ty) } else { v };
                }
                let a: Vec<Value> = args.iter().map(|x| x.emit_in(b, ty, var, known)).collect();
                // GPU back ends cannot lower transcendental intrinsics: call the device
                // library (libdevice on NVPTX, OCML on AMDGPU) instead.
                let transcendental = matches!(f.as_str(), "sin" | "cos" | "exp" | "log" | "pow" | "sinh" | "cosh");
                match crate::rules::gpu::device_library(b.module) {
                    Some(lib) if transcendental => emit_device_call(b, lib, f, ty, &a),
                    _ => match f.as_str() {
                        "sinh" | "cosh" => emit_libm_call(b, f, ty, &a),
                        _ => b.call_intrinsic(&format!("llvm.{f}"), &[ty], &a),
                    },
                }
            }
        }
    }
}

/// Converts an integer to `ty`; a scalar integer (`llvm.powi`'s exponent) is splat when
/// `ty` is a vector.
fn int_to_float(b: &Builder, v: Value, ty: Type) -> Value {
    use llvm_sys::core::*;
    let vector = |t: Type| ir::type_kind(t) == llvm_sys::LLVMTypeKind::LLVMVectorTypeKind;
    if !vector(ty) || vector(ir::type_of(v)) {
        return b.sitofp(v, ty);
    }
    let s = b.sitofp(v, ir::element_type(ty));
    unsafe {
        let n = LLVMGetVectorSize(ty);
        let one = LLVMBuildInsertElement(b.raw(), b.undef(ty), s, b.const_int(b.i32_type(), 0), b"\0".as_ptr() as *const _);
        let mask = LLVMConstNull(LLVMVectorType(b.i32_type(), n));
        LLVMBuildShuffleVector(b.raw(), one, b.undef(ty), mask, b"\0".as_ptr() as *const _)
    }
}

/// Calls a device-library math function elementwise: `__nv_sinf` / `__nv_sin` or
/// `__ocml_sin_f32` / `__ocml_sin_f64`.
fn emit_device_call(b: &Builder, lib: crate::rules::gpu::DeviceLibrary, base: &str, ty: Type, args: &[Value]) -> Value {
    use crate::rules::gpu::DeviceLibrary;
    let scalar_ty = if ir::type_kind(ty) == llvm_sys::LLVMTypeKind::LLVMVectorTypeKind { ir::element_type(ty) } else { ty };
    let single = ir::type_kind(scalar_ty) == llvm_sys::LLVMTypeKind::LLVMFloatTypeKind;
    let name = match lib {
        DeviceLibrary::LibDevice => format!("__nv_{base}{}", if single { "f" } else { "" }),
        DeviceLibrary::Ocml => format!("__ocml_{base}_{}", if single { "f32" } else { "f64" }),
    };
    let fty = unsafe { llvm_sys::core::LLVMFunctionType(scalar_ty, vec![scalar_ty; args.len()].as_mut_ptr(), args.len() as u32, 0) };
    if scalar_ty == ty {
        return b.call_named(&name, fty, args);
    }
    let n = unsafe { llvm_sys::core::LLVMGetVectorSize(ty) };
    let mut out = b.undef(ty);
    for i in 0..n {
        let idx = b.const_int(b.i32_type(), i as u64);
        let lane: Vec<Value> = args.iter().map(|a| unsafe { llvm_sys::core::LLVMBuildExtractElement(b.raw(), *a, idx, b"\0".as_ptr() as *const _) }).collect();
        let r = b.call_named(&name, fty, &lane);
        out = unsafe { llvm_sys::core::LLVMBuildInsertElement(b.raw(), out, r, idx, b"\0".as_ptr() as *const _) };
    }
    out
}

/// Calls the libm function `base` (double) or `basef` (float) elementwise.
pub fn emit_libm_call(b: &Builder, base: &str, ty: Type, args: &[Value]) -> Value {
    use llvm_sys::LLVMTypeKind::*;
    let scalar = |t: Type, args: &[Value]| -> Value {
        let name = match ir::type_kind(t) {
            LLVMFloatTypeKind => format!("{base}f"),
            LLVMX86_FP80TypeKind | LLVMFP128TypeKind => format!("{base}l"),
            _ => base.to_string(),
        };
        let fty = unsafe { llvm_sys::core::LLVMFunctionType(t, vec![t; args.len()].as_mut_ptr(), args.len() as u32, 0) };
        b.call_named(&name, fty, args)
    };
    if ir::type_kind(ty) == LLVMVectorTypeKind {
        let n = unsafe { llvm_sys::core::LLVMGetVectorSize(ty) };
        let et = ir::element_type(ty);
        let mut out = b.undef(ty);
        for i in 0..n {
            let idx = b.const_int(b.i32_type(), i as u64);
            let lane: Vec<Value> = args.iter().map(|a| unsafe { llvm_sys::core::LLVMBuildExtractElement(b.raw(), *a, idx, b"\0".as_ptr() as *const _) }).collect();
            let r = scalar(et, &lane);
            out = unsafe { llvm_sys::core::LLVMBuildInsertElement(b.raw(), out, r, idx, b"\0".as_ptr() as *const _) };
        }
        out
    } else {
        scalar(ty, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::expr::parse;

    /// A partial times a tangent: `1 / y` divides, anything else multiplies.
    #[test]
    fn a_reciprocal_partial_becomes_one_division() {
        let ctx = inkwell::context::Context::create();
        let text = "define double @f(double %t, double %y) {\n  ret double %t\n}\n";
        let m = ir::parse_test_module(&ctx, text);
        let f = ir::functions(m.as_mut_ptr())[0];
        let b = Builder::new(m.as_mut_ptr());
        let ret = ir::terminator(ir::entry_block(f));
        b.position_before(ret);
        let (t, y) = (ir::params(f)[0], ir::params(f)[1]);
        let ty = ir::type_of(t);
        let var = |_: &str| y;
        let quotient = parse("1 / y").unwrap().emit_times(&b, ty, &var, t, Known::plain());
        let product = parse("-1 / (y * y)").unwrap().emit_times(&b, ty, &var, quotient, Known::plain());
        ir::set_operand(ret, 0, product);
        m.verify().expect("valid IR");
        let printed = m.print_to_string().to_string();
        assert!(printed.contains("fdiv double %t, %y"), "{printed}");
        assert_eq!(printed.matches("fdiv").count(), 2, "{printed}");
        assert!(printed.contains("fmul double"), "{printed}");
    }
}
