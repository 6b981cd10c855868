//! The little language in which partial derivatives are written.
//!
//! A rule's partial is an expression over the primal arguments (named by the rule), the
//! primal result `r`, numeric constants and `pi`, `ln2`, `ln10`; with `+ - * /`, unary
//! minus, comparisons, `c ? a : b`, and calls of `sqrt exp log sin cos sinh cosh pow trunc
//! fabs copysign float` (`float(n)` converts an integer argument). Writing partials as
//! text keeps the tables readable as mathematics; they are parsed once and emitted as IR
//! of whatever floating-point type the primal has (scalar or vector).

use super::cancel::{self, Known};
use crate::ir::builder::Builder;
use crate::ir::{self, Type, Value};
use llvm_sys::LLVMRealPredicate;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Num(f64),
    Var(String),
    Neg(Box<Expr>),
    Bin(char, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

pub const FUNCTIONS: &[(&str, usize)] = &[
    ("sqrt", 1),
    ("exp", 1),
    ("log", 1),
    ("sin", 1),
    ("cos", 1),
    ("sinh", 1),
    ("cosh", 1),
    ("trunc", 1),
    ("fabs", 1),
    ("float", 1),
    ("pow", 2),
    ("copysign", 2),
];

pub fn parse(src: &str) -> Result<Expr, String> {
    let toks = lex(src)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.cond()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected `{}` in `{src}`", p.toks[p.pos]));
    }
    Ok(e)
}

fn lex(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_ascii_digit() || ch == '.' {
            let st = i;
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.' || c[i] == 'e' || ((c[i] == '-' || c[i] == '+') && c[i - 1] == 'e')) {
                i += 1;
            }
            out.push(c[st..i].iter().collect());
        } else if ch.is_alphabetic() || ch == '_' {
            let st = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[st..i].iter().collect());
        } else if i + 1 < c.len() && matches!((ch, c[i + 1]), ('<', '=') | ('>', '=') | ('=', '=') | ('!', '=')) {
            out.push(c[i..i + 2].iter().collect());
            i += 2;
        } else if "+-*/()<>?:,".contains(ch) {
            out.push(ch.to_string());
            i += 1;
        } else {
            return Err(format!("unexpected character `{ch}` in `{s}`"));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(|s| s.as_str())
    }
    fn eat(&mut self, t: &str) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, t: &str) -> Result<(), String> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(format!("expected `{t}`, found {:?}", self.peek()))
        }
    }
    fn cond(&mut self) -> Result<Expr, String> {
        let c = self.cmp()?;
        if self.eat("?") {
            let a = self.cond()?;
            self.expect(":")?;
            let b = self.cond()?;
            return Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }
    fn cmp(&mut self) -> Result<Expr, String> {
        let a = self.sum()?;
        let op = match self.peek() {
            Some("<") => CmpOp::Lt,
            Some("<=") => CmpOp::Le,
            Some(">") => CmpOp::Gt,
            Some(">=") => CmpOp::Ge,
            Some("==") => CmpOp::Eq,
            Some("!=") => CmpOp::Ne,
            _ => return Ok(a),
        };
        self.pos += 1;
        let b = self.sum()?;
        Ok(Expr::Cmp(op, Box::new(a), Box::new(b)))
    }
    fn sum(&mut self) -> Result<Expr, String> {
        let mut a = self.product()?;
        loop {
            let op = match self.peek() {
                Some("+") => '+',
                Some("-") => '-',
                _ => return Ok(a),
            };
            self.pos += 1;
            let b = self.product()?;
            a = Expr::Bin(op, Box::new(a), Box::new(b));
        }
    }
    fn product(&mut self) -> Result<Expr, String> {
        let mut a = self.unary()?;
        loop {
            let op = match self.peek() {
                Some("*") => '*',
                Some("/") => '/',
                _ => return Ok(a),
            };
            self.pos += 1;
            let b = self.unary()?;
            a = Expr::Bin(op, Box::new(a), Box::new(b));
        }
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }
    fn atom(&mut self) -> Result<Expr, String> {
        let t = self.peek().ok_or("unexpected end of expression")?.to_string();
        self.pos += 1;
        if t == "(" {
            let e = self.cond()?;
            self.expect(")")?;
            return Ok(e);
        }
        if let Ok(n) = t.parse::<f64>() {
            return Ok(Expr::Num(n));
        }
        if t.chars().next().map(|c| c.is_alphabetic() || c == '_').unwrap_or(false) {
            if self.eat("(") {
                let mut args = vec![self.cond()?];
                while self.eat(",") {
                    args.push(self.cond()?);
                }
                self.expect(")")?;
                match FUNCTIONS.iter().find(|(n, _)| *n == t) {
                    Some((_, arity)) if *arity == args.len() => return Ok(Expr::Call(t, args)),
                    Some((_, arity)) => return Err(format!("`{t}` takes {arity} argument(s)")),
                    None => return Err(format!("unknown function `{t}`")),
                }
            }
            return Ok(match t.as_str() {
                "pi" => Expr::Num(std::f64::consts::PI),
                "ln2" => Expr::Num(std::f64::consts::LN_2),
                "ln10" => Expr::Num(std::f64::consts::LN_10),
                _ => Expr::Var(t),
            });
        }
        Err(format!("unexpected `{t}`"))
    }
}

impl Expr {
    pub fn as_const(&self) -> Option<f64> {
        match self {
            Expr::Num(n) => Some(*n),
            Expr::Neg(e) => e.as_const().map(|v| -v),
            _ => None,
        }
    }

    /// The variables the expression reads (so generators know which primal values a
    /// partial needs: reverse mode caches or recomputes exactly those).
    pub fn vars(&self, out: &mut Vec<String>) {
        match self {
            Expr::Num(_) => {}
            Expr::Var(v) => {
                if !out.contains(v) {
                    out.push(v.clone())
                }
            }
            Expr::Neg(a) => a.vars(out),
            Expr::Bin(_, a, b) | Expr::Cmp(_, a, b) => {
                a.vars(out);
                b.vars(out);
            }
            Expr::Cond(c, a, b) => {
                c.vars(out);
                a.vars(out);
                b.vars(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.vars(out)),
        }
    }

    /// Evaluates in f64; the independent oracle in the rule tests.
    pub fn eval(&self, env: &dyn Fn(&str) -> f64) -> f64 {
        match self {
            Expr::Num(n) => *n,
            Expr::Var(v) => env(v),
            Expr::Neg(a) => -a.eval(env),
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(env), b.eval(env));
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => a / b,
                }
            }
            Expr::Cmp(op, a, b) => {
                let (a, b) = (a.eval(env), b.eval(env));
                let r = match op {
                    CmpOp::Lt => a < b,
                    CmpOp::Le => a <= b,
                    CmpOp::Gt => a > b,
                    CmpOp::Ge => a >= b,
                    CmpOp::Eq => a == b,
                    CmpOp::Ne => a != b,
                };
                r as i32 as f64
            }
            Expr::Cond(c, a, b) => {
                if c.eval(env) != 0.0 {
                    a.eval(env)
                } else {
                    b.eval(env)
                }
            }
            Expr::Call(f, args) => {
                let a: Vec<f64> = args.iter().map(|x| x.eval(env)).collect();
                match f.as_str() {
                    "sqrt" => a[0].sqrt(),
                    "exp" => a[0].exp(),
                    "log" => a[0].ln(),
                    "sin" => a[0].sin(),
                    "cos" => a[0].cos(),
                    "sinh" => a[0].sinh(),
                    "cosh" => a[0].cosh(),
                    "trunc" => a[0].trunc(),
                    "fabs" => a[0].abs(),
                    "float" => a[0],
                    "pow" => a[0].powf(a[1]),
                    "copysign" => a[0].copysign(a[1]),
                    _ => f64::NAN,
                }
            }
        }
    }

    /// `self · t`, for a partial `self` and a tangent or adjoint `t`. A reciprocal partial
    /// `1 / e` (the numerator of a division) becomes `t / e`: one rounding and one
    /// instruction instead of a division and a multiplication. Where `known` allows, a
    /// factor that meets a division by itself cancels (`rules::cancel`).
    pub fn emit_times(&self, b: &Builder, ty: Type, var: &dyn Fn(&str) -> Value, t: Value, known: Known) -> Value {
        if let Some(v) = cancel::times(self, b, ty, var, t, known) {
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

    #[test]
    fn parses_precedence_and_conditionals() {
        let e = parse("x < 0 ? -1 : 1 + 2 * x").unwrap();
        assert_eq!(e.eval(&|_| -3.0), -1.0);
        assert_eq!(e.eval(&|_| 2.0), 5.0);
        let e = parse("-x*x").unwrap();
        assert_eq!(e.eval(&|_| 3.0), -9.0);
        assert_eq!(parse("1/(1+x*x)").unwrap().eval(&|_| 1.0), 0.5);
        assert_eq!(parse("2e-1 * 10").unwrap().eval(&|_| 0.0), 2.0);
    }

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

    #[test]
    fn rejects_malformed() {
        assert!(parse("x +").is_err());
        assert!(parse("foo(x)").is_err());
        assert!(parse("sqrt(x, y)").is_err());
        assert!(parse("x $ y").is_err());
    }
}
