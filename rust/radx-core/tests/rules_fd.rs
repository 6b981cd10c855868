//! Every rule of the rule table, checked by real generated code against finite differences.
//!
//! For each rule of `radx_core::rules::all_rules()` and each way the rule is reached (the
//! arithmetic instruction, the libm function, the LLVM intrinsic), in double, float and (for
//! instructions and intrinsics) `<2 x double>`, this builds an IR module with a primal
//! function calling the primitive and a wrapper calling `__enzyme_fwddiff` on it with
//! `enzyme_dup` markers, lowers it with `radx_core::lower_module`, JIT-compiles it, and
//! compares the tangent in the direction of each floating-point parameter separately with a
//! fourth-order central difference of the JIT-compiled primal.
//!
//! A rule added to the table without an entry in `CASES` fails the test: say there how the
//! primitive is called and where to check it.
//!
//! Not covered: the `llvm.minimum`/`llvm.maximum` aliases of fmin/fmax (LLVM 16 cannot
//! select them on x86, so they cannot be run), and intrinsics that LLVM 16 lacks
//! (`llvm.ldexp`, `llvm.exp10`, `llvm.tan`, ...): those rules are checked through libm.

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::targets::{InitializationConfig, Target};
use inkwell::OptimizationLevel;
use radx_core::rules::{all_rules, Rule};
use radx_core::Options;
use std::fmt::Write as _;

/// How a primitive is called in IR.
#[derive(Clone, Copy, Debug)]
enum Way {
    /// An instruction (`fadd`, `fneg`, ...).
    Inst(&'static str),
    /// A libm function; the float variant appends `f`.
    Libm(&'static str),
    /// An LLVM intrinsic base name (`sin` for `llvm.sin.f64`); also tried on `<2 x double>`.
    Intr(&'static str),
    /// A GPU device-library function (`__nv_rsqrt`), defined in the test module by the
    /// given body over `%a0` (there is no host library to resolve it): the rule must apply
    /// by name, whatever the body says.
    Device(&'static str, &'static str),
}
use Way::*;

/// One point at which every parameter's partial is checked.
#[derive(Clone, Copy, Debug)]
struct Pt {
    x: &'static [f64],
    /// Parameters whose partial is not defined (or not finite-differenceable) here.
    skip: &'static [usize],
    /// Finite-difference steps (double, float) for points near a singularity; 0 = default.
    h: (f64, f64),
}

const fn p(x: &'static [f64]) -> Pt {
    Pt { x, skip: &[], h: (0.0, 0.0) }
}
/// A point close to a singularity or a domain boundary: smaller steps.
const fn edge(x: &'static [f64], hd: f64, hf: f64) -> Pt {
    Pt { x, skip: &[], h: (hd, hf) }
}
const fn only(x: &'static [f64], skip: &'static [usize]) -> Pt {
    Pt { x, skip, h: (0.0, 0.0) }
}

struct Case {
    rule: &'static str,
    ways: &'static [Way],
    /// Values of the integer parameter (`#n`), when the rule has one.
    ints: &'static [i32],
    points: &'static [Pt],
}

const NO_INT: &[i32] = &[0];
const ROUNDING_POINTS: &[Pt] = &[p(&[0.3]), p(&[-1.7]), p(&[2.2]), p(&[4.8]), p(&[-0.2])];
const BINARY_POINTS: &[Pt] = &[p(&[1.5, -2.5]), p(&[0.0, 3.0]), p(&[-4.0, 0.25]), p(&[7.0, 1.0])];
const REM_POINTS: &[Pt] = &[p(&[5.3, 2.0]), p(&[-5.3, 2.0]), p(&[1.2, 3.5]), p(&[7.5, -2.2])];

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { rule: "fadd", ways: &[Inst("fadd")], ints: NO_INT, points: BINARY_POINTS },
    Case { rule: "fsub", ways: &[Inst("fsub")], ints: NO_INT, points: BINARY_POINTS },
    Case { rule: "fmul", ways: &[Inst("fmul")], ints: NO_INT, points: BINARY_POINTS },
    Case { rule: "fdiv", ways: &[Inst("fdiv")], ints: NO_INT, points: BINARY_POINTS },
    Case { rule: "frem", ways: &[Inst("frem")], ints: NO_INT, points: REM_POINTS },
    Case { rule: "fneg", ways: &[Inst("fneg")], ints: NO_INT, points: &[p(&[-2.0]), p(&[0.0]), p(&[3.5])] },
    Case { rule: "sin", ways: &[Libm("sin"), Intr("sin")], ints: NO_INT, points: &[p(&[-2.3]), p(&[0.0]), p(&[0.7]), p(&[4.0])] },
    Case { rule: "cos", ways: &[Libm("cos"), Intr("cos")], ints: NO_INT, points: &[p(&[-2.3]), p(&[0.0]), p(&[0.7]), p(&[4.0])] },
    Case { rule: "tan", ways: &[Libm("tan")], ints: NO_INT, points: &[p(&[-1.0]), p(&[0.0]), p(&[0.5]), p(&[1.2]), p(&[3.0])] },
    Case { rule: "asin", ways: &[Libm("asin")], ints: NO_INT,
           points: &[p(&[-0.9]), p(&[-0.3]), p(&[0.0]), p(&[0.5]), edge(&[0.99], 1e-4, 1e-3), edge(&[-0.99], 1e-4, 1e-3)] },
    Case { rule: "acos", ways: &[Libm("acos")], ints: NO_INT,
           points: &[p(&[-0.9]), p(&[-0.3]), p(&[0.0]), p(&[0.5]), edge(&[0.99], 1e-4, 1e-3)] },
    Case { rule: "atan", ways: &[Libm("atan")], ints: NO_INT, points: &[p(&[-3.0]), p(&[-0.5]), p(&[0.0]), p(&[2.0]), p(&[1e3])] },
    Case { rule: "atan2", ways: &[Libm("atan2")], ints: NO_INT,
           points: &[p(&[1.0, 2.0]), p(&[-0.5, 0.3]), p(&[2.0, -1.0]), p(&[0.0, 1.0]), p(&[1.0, 0.0])] },
    Case { rule: "sinh", ways: &[Libm("sinh")], ints: NO_INT, points: &[p(&[-2.0]), p(&[-0.3]), p(&[0.0]), p(&[1.5]), p(&[3.0])] },
    Case { rule: "cosh", ways: &[Libm("cosh")], ints: NO_INT, points: &[p(&[-2.0]), p(&[-0.3]), p(&[0.0]), p(&[1.5]), p(&[3.0])] },
    Case { rule: "tanh", ways: &[Libm("tanh")], ints: NO_INT, points: &[p(&[-2.0]), p(&[-0.3]), p(&[0.0]), p(&[1.5]), p(&[3.0])] },
    Case { rule: "asinh", ways: &[Libm("asinh")], ints: NO_INT, points: &[p(&[-2.0]), p(&[0.0]), p(&[0.7]), p(&[10.0])] },
    Case { rule: "acosh", ways: &[Libm("acosh")], ints: NO_INT, points: &[p(&[1.5]), p(&[3.0]), p(&[10.0]), edge(&[1.01], 1e-4, 1e-3)] },
    Case { rule: "atanh", ways: &[Libm("atanh")], ints: NO_INT,
           points: &[p(&[-0.8]), p(&[0.0]), p(&[0.5]), edge(&[0.99], 1e-4, 1e-3)] },
    Case { rule: "exp", ways: &[Libm("exp"), Intr("exp")], ints: NO_INT, points: &[p(&[-3.0]), p(&[0.0]), p(&[1.0]), p(&[5.0])] },
    Case { rule: "exp2", ways: &[Libm("exp2"), Intr("exp2")], ints: NO_INT, points: &[p(&[-2.0]), p(&[0.0]), p(&[3.5])] },
    Case { rule: "exp10", ways: &[Libm("exp10")], ints: NO_INT, points: &[p(&[-1.0]), p(&[0.0]), p(&[1.3]), p(&[2.0])] },
    Case { rule: "expm1", ways: &[Libm("expm1")], ints: NO_INT, points: &[p(&[-2.0]), p(&[0.0]), p(&[1e-3]), p(&[2.0])] },
    Case { rule: "log", ways: &[Libm("log"), Intr("log")], ints: NO_INT,
           points: &[p(&[0.5]), p(&[1.0]), p(&[2.7]), p(&[100.0]), edge(&[0.01], 1e-5, 1e-4)] },
    Case { rule: "log2", ways: &[Libm("log2"), Intr("log2")], ints: NO_INT,
           points: &[p(&[0.5]), p(&[1.0]), p(&[2.7]), p(&[100.0]), edge(&[0.01], 1e-5, 1e-4)] },
    Case { rule: "log10", ways: &[Libm("log10"), Intr("log10")], ints: NO_INT,
           points: &[p(&[0.5]), p(&[1.0]), p(&[2.7]), p(&[100.0]), edge(&[0.01], 1e-5, 1e-4)] },
    Case { rule: "log1p", ways: &[Libm("log1p")], ints: NO_INT,
           points: &[p(&[-0.5]), p(&[0.0]), p(&[1.0]), p(&[10.0]), edge(&[-0.99], 1e-5, 1e-4)] },
    // pow: at base 0 both partials are 0 (exponents 1 and 2 keep them finite); at a
    // negative base only the base's partial exists.
    Case { rule: "pow", ways: &[Libm("pow"), Intr("pow")], ints: NO_INT,
           points: &[p(&[2.0, 3.0]), p(&[0.5, -1.5]), p(&[3.0, 0.5]), p(&[1.5, 0.0]), p(&[0.0, 2.0]), p(&[0.0, 1.0]),
                     only(&[-2.0, 3.0], &[1])] },
    Case { rule: "powi", ways: &[Intr("powi")], ints: &[3, -2, 1], points: &[p(&[-1.5]), p(&[0.7]), p(&[2.0]), p(&[-0.4])] },
    Case { rule: "ldexp", ways: &[Libm("ldexp")], ints: &[3, -2], points: &[p(&[-1.5]), p(&[0.0]), p(&[2.5])] },
    Case { rule: "sqrt", ways: &[Libm("sqrt"), Intr("sqrt")], ints: NO_INT,
           points: &[p(&[0.25]), p(&[2.0]), p(&[100.0]), edge(&[1e-2], 1e-5, 1e-4)] },
    Case {
        rule: "rsqrt",
        ways: &[Device("__nv_rsqrt", "%s = call {ty} @llvm.sqrt.{sfx}({ty} %a0)\n  %r = fdiv {ty} 1.0, %s\n  ret {ty} %r")],
        ints: NO_INT,
        points: &[p(&[0.25]), p(&[1.0]), p(&[7.5])],
    },
    Case { rule: "cbrt", ways: &[Libm("cbrt")], ints: NO_INT, points: &[p(&[-8.0]), p(&[-0.5]), p(&[0.3]), p(&[27.0])] },
    Case { rule: "hypot", ways: &[Libm("hypot")], ints: NO_INT,
           points: &[p(&[3.0, 4.0]), p(&[-1.0, 2.0]), p(&[0.0, 3.0]), p(&[1e-3, -2.0])] },
    Case { rule: "fabs", ways: &[Libm("fabs"), Intr("fabs")], ints: NO_INT, points: &[p(&[-2.0]), p(&[0.5]), p(&[3.0])] },
    Case { rule: "fmin", ways: &[Libm("fmin"), Intr("minnum")], ints: NO_INT,
           points: &[p(&[1.0, 2.0]), p(&[3.0, -1.0]), p(&[-0.5, -0.25])] },
    Case { rule: "fmax", ways: &[Libm("fmax"), Intr("maxnum")], ints: NO_INT,
           points: &[p(&[1.0, 2.0]), p(&[3.0, -1.0]), p(&[-0.5, -0.25])] },
    Case { rule: "copysign", ways: &[Libm("copysign"), Intr("copysign")], ints: NO_INT,
           points: &[p(&[2.0, -1.0]), p(&[-3.0, 5.0]), p(&[1.5, 2.0]), p(&[-0.5, -0.1])] },
    Case { rule: "floor", ways: &[Libm("floor"), Intr("floor")], ints: NO_INT, points: ROUNDING_POINTS },
    Case { rule: "ceil", ways: &[Libm("ceil"), Intr("ceil")], ints: NO_INT, points: ROUNDING_POINTS },
    Case { rule: "round", ways: &[Libm("round"), Intr("round")], ints: NO_INT, points: ROUNDING_POINTS },
    Case { rule: "roundeven", ways: &[Libm("roundeven"), Intr("roundeven")], ints: NO_INT, points: ROUNDING_POINTS },
    Case { rule: "trunc", ways: &[Libm("trunc"), Intr("trunc")], ints: NO_INT, points: ROUNDING_POINTS },
    Case { rule: "rint", ways: &[Libm("rint"), Intr("rint")], ints: NO_INT, points: ROUNDING_POINTS },
    Case { rule: "nearbyint", ways: &[Libm("nearbyint"), Intr("nearbyint")], ints: NO_INT, points: ROUNDING_POINTS },
    Case { rule: "fmod", ways: &[Libm("fmod")], ints: NO_INT, points: REM_POINTS },
    Case { rule: "erf", ways: &[Libm("erf")], ints: NO_INT, points: &[p(&[-2.0]), p(&[-0.3]), p(&[0.0]), p(&[1.1]), p(&[3.0])] },
    Case { rule: "erfc", ways: &[Libm("erfc")], ints: NO_INT, points: &[p(&[-2.0]), p(&[-0.3]), p(&[0.0]), p(&[1.1]), p(&[3.0])] },
    Case { rule: "fma", ways: &[Libm("fma"), Intr("fma"), Intr("fmuladd")], ints: NO_INT,
           points: &[p(&[1.5, -2.0, 0.3]), p(&[0.0, 3.0, 1.0]), p(&[-4.0, 0.5, -2.0])] },
];

/// The floating-point type a module is generated for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    Double,
    Float,
    /// `<2 x double>`: each lane is checked at a different point.
    Vec2,
}

impl Variant {
    fn ty(self) -> &'static str {
        match self {
            Variant::Double => "double",
            Variant::Float => "float",
            Variant::Vec2 => "<2 x double>",
        }
    }
    fn elem(self) -> &'static str {
        if self == Variant::Float {
            "float"
        } else {
            "double"
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            Variant::Double => "f64",
            Variant::Float => "f32",
            Variant::Vec2 => "v2f64",
        }
    }
    fn lanes(self) -> usize {
        if self == Variant::Vec2 {
            2
        } else {
            1
        }
    }
    fn tol(self) -> f64 {
        if self == Variant::Float {
            1e-3
        } else {
            1e-6
        }
    }
    fn base_h(self) -> f64 {
        if self == Variant::Float {
            1e-2
        } else {
            1e-3
        }
    }
}

/// The IR module for one rule, way, variant and integer argument: `@f` is the primal,
/// `@primal(in, out)` runs it, `@tangent(in, din, out)` runs its forward derivative. The
/// buffers hold each floating-point parameter's lanes in order.
fn module_text(rule: &Rule, way: Way, v: Variant, n: i32) -> String {
    let ty = v.ty();
    let fparams: Vec<usize> = (0..rule.params.len()).filter(|&i| !rule.params[i].is_int).collect();
    let mut m = String::new();
    let args: Vec<String> =
        rule.params.iter().enumerate().map(|(i, p)| if p.is_int { format!("i32 {n}") } else { format!("{ty} %a{i}") }).collect();
    let arg_tys: Vec<&str> = rule.params.iter().map(|p| if p.is_int { "i32" } else { ty }).collect();
    let body = match way {
        Inst(op) if rule.params.len() == 1 => format!("%r = {op} {ty} %a0"),
        Inst(op) => format!("%r = {op} {ty} %a0, %a1"),
        Libm(name) => {
            let name = if v == Variant::Float { format!("{name}f") } else { name.to_string() };
            writeln!(m, "declare {ty} @{name}({})", arg_tys.join(", ")).unwrap();
            format!("%r = call {ty} @{name}({})", args.join(", "))
        }
        Device(name, body) => {
            let name = if v == Variant::Float { format!("{name}f") } else { name.to_string() };
            let body = body.replace("{ty}", ty).replace("{sfx}", v.suffix());
            writeln!(m, "declare {ty} @llvm.sqrt.{}({ty})", v.suffix()).unwrap();
            writeln!(m, "define {ty} @{name}({ty} %a0) {{\n  {body}\n}}").unwrap();
            format!("%r = call {ty} @{name}({})", args.join(", "))
        }
        Intr(base) => {
            let ints = if rule.params.iter().any(|p| p.is_int) { ".i32" } else { "" };
            let name = format!("llvm.{base}.{}{ints}", v.suffix());
            writeln!(m, "declare {ty} @{name}({})", arg_tys.join(", ")).unwrap();
            format!("%r = call {ty} @{name}({})", args.join(", "))
        }
    };
    let params: Vec<String> = fparams.iter().map(|i| format!("{ty} %a{i}")).collect();
    writeln!(m, "define {ty} @f({}) {{\n  {body}\n  ret {ty} %r\n}}", params.join(", ")).unwrap();
    m.push_str("@enzyme_dup = external global i32\ndeclare void @__enzyme_fwddiff(ptr, ...)\n");
    let lanes = v.lanes();
    let elem = v.elem();
    let loads = |buf: &str, pre: &str, out: &mut String| {
        for (k, i) in fparams.iter().enumerate() {
            writeln!(out, "  %{pre}p{i} = getelementptr {elem}, ptr %{buf}, i64 {}", k * lanes).unwrap();
            writeln!(out, "  %{pre}{i} = load {ty}, ptr %{pre}p{i}, align 4").unwrap();
        }
    };
    let mut primal = String::from("define void @primal(ptr %in, ptr %out) {\n");
    loads("in", "a", &mut primal);
    let call_args: Vec<String> = fparams.iter().map(|i| format!("{ty} %a{i}")).collect();
    writeln!(primal, "  %r = call {ty} @f({})\n  store {ty} %r, ptr %out, align 4\n  ret void\n}}", call_args.join(", ")).unwrap();
    m.push_str(&primal);
    let mut tangent = String::from("define void @tangent(ptr %in, ptr %din, ptr %out) {\n");
    loads("in", "a", &mut tangent);
    loads("din", "d", &mut tangent);
    tangent.push_str("  %dup = load i32, ptr @enzyme_dup\n");
    let dargs: Vec<String> = fparams.iter().map(|i| format!("i32 %dup, {ty} %a{i}, {ty} %d{i}")).collect();
    writeln!(
        tangent,
        "  %t = call {ty} (ptr, ...) @__enzyme_fwddiff(ptr @f, {})\n  store {ty} %t, ptr %out, align 4\n  ret void\n}}",
        dargs.join(", ")
    )
    .unwrap();
    m.push_str(&tangent);
    m
}

/// f32 or f64 buffers for the JIT-compiled runners.
trait Elem: Copy + Default {
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}
impl Elem for f64 {
    fn from_f64(x: f64) -> f64 {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}
impl Elem for f32 {
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

struct Runners {
    primal: usize,
    tangent: usize,
}

impl Runners {
    fn primal<T: Elem>(&self, x: &[f64], lanes: usize) -> Vec<f64> {
        let xin: Vec<T> = x.iter().map(|v| T::from_f64(*v)).collect();
        let mut out = vec![T::default(); lanes];
        let f: unsafe extern "C" fn(*const T, *mut T) = unsafe { std::mem::transmute(self.primal) };
        unsafe { f(xin.as_ptr(), out.as_mut_ptr()) };
        out.iter().map(|v| v.to_f64()).collect()
    }
    fn tangent<T: Elem>(&self, x: &[f64], dx: &[f64], lanes: usize) -> Vec<f64> {
        let xin: Vec<T> = x.iter().map(|v| T::from_f64(*v)).collect();
        let din: Vec<T> = dx.iter().map(|v| T::from_f64(*v)).collect();
        let mut out = vec![T::default(); lanes];
        let f: unsafe extern "C" fn(*const T, *const T, *mut T) = unsafe { std::mem::transmute(self.tangent) };
        unsafe { f(xin.as_ptr(), din.as_ptr(), out.as_mut_ptr()) };
        out.iter().map(|v| v.to_f64()).collect()
    }
}

/// Rounds a step to a power of two, so that `x ± k·h` is exact for moderate `x`.
fn pow2(h: f64) -> f64 {
    2f64.powi(h.log2().round() as i32)
}

/// Checks one module; returns the number of comparisons made, or the failures.
fn check(case: &Case, rule: &Rule, way: Way, v: Variant, n: i32, preopt: bool, failures: &mut Vec<String>) -> usize {
    let text = module_text(rule, way, v, n);
    let int = if case.ints.len() > 1 { format!(", n = {n}") } else { String::new() };
    let what = format!("rule `{}` via {way:?} ({}{int}{})", rule.name, v.ty(), if preopt { ", preopt" } else { "" });
    let ctx = Context::create();
    let module = match ctx.create_module_from_ir(MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "rule")) {
        Ok(m) => m,
        Err(e) => {
            failures.push(format!("{what}: the test's IR does not parse: {e}\n{text}"));
            return 0;
        }
    };
    // Without canonicalisation the rule is applied to the very instruction or call written
    // above; with it (the default), to what instcombine makes of it (libm calls become
    // intrinsics), through the pipeline users run.
    let options = Options { preopt, ..Options::default() };
    if let Err(diags) = radx_core::lower_module(module.as_mut_ptr(), &options) {
        let msgs: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        failures.push(format!("{what}: lower_module failed:\n{}", msgs.join("\n")));
        return 0;
    }
    let ir_after = module.print_to_string().to_string();
    let ee = match module.create_jit_execution_engine(OptimizationLevel::None) {
        Ok(ee) => ee,
        Err(e) => {
            failures.push(format!("{what}: cannot JIT: {e}"));
            return 0;
        }
    };
    let runners = Runners { primal: ee.get_function_address("primal").unwrap(), tangent: ee.get_function_address("tangent").unwrap() };
    let lanes = v.lanes();
    let fparams: Vec<usize> = (0..rule.params.len()).filter(|&i| !rule.params[i].is_int).collect();
    let (prim, tang): (fn(&Runners, &[f64], usize) -> Vec<f64>, fn(&Runners, &[f64], &[f64], usize) -> Vec<f64>) =
        if v == Variant::Float { (Runners::primal::<f32>, Runners::tangent::<f32>) } else { (Runners::primal::<f64>, Runners::tangent::<f64>) };
    let mut checks = 0;
    for (pi, _) in case.points.iter().enumerate() {
        // Lane l is checked at point pi + l (cyclically).
        let pts: Vec<&Pt> = (0..lanes).map(|l| &case.points[(pi + l) % case.points.len()]).collect();
        let mut x = vec![0.0; fparams.len() * lanes];
        for (k, _) in fparams.iter().enumerate() {
            for l in 0..lanes {
                let xv = pts[l].x[k];
                x[k * lanes + l] = if v == Variant::Float { xv as f32 as f64 } else { xv };
            }
        }
        for (k, _) in fparams.iter().enumerate() {
            let mut dx = vec![0.0; x.len()];
            dx[k * lanes..(k + 1) * lanes].iter_mut().for_each(|d| *d = 1.0);
            let t = tang(&runners, &x, &dx, lanes);
            let hs: Vec<f64> = (0..lanes)
                .map(|l| {
                    let h = if v == Variant::Float { pts[l].h.1 } else { pts[l].h.0 };
                    pow2(if h > 0.0 { h } else { v.base_h() * x[k * lanes + l].abs().max(1.0) })
                })
                .collect();
            let at = |s: f64| {
                let mut xs = x.clone();
                (0..lanes).for_each(|l| xs[k * lanes + l] += s * hs[l]);
                prim(&runners, &xs, lanes)
            };
            let (m2, m1, p1, p2) = (at(-2.0), at(-1.0), at(1.0), at(2.0));
            for l in 0..lanes {
                if pts[l].skip.contains(&k) {
                    continue;
                }
                let fd = (m2[l] - 8.0 * m1[l] + 8.0 * p1[l] - p2[l]) / (12.0 * hs[l]);
                checks += 1;
                let ok = t[l].is_finite() && fd.is_finite() && (t[l] - fd).abs() <= v.tol() * fd.abs().max(1.0);
                if !ok {
                    let point: Vec<f64> = (0..fparams.len()).map(|j| x[j * lanes + l]).collect();
                    failures.push(format!(
                        "{what}: d/d{} at {point:?} (lane {l}): tangent {} but finite difference {fd} (h = {})\n--- module after lowering ---\n{ir_after}",
                        rule.params[fparams[k]].name, t[l], hs[l]
                    ));
                }
            }
        }
    }
    checks
}

#[test]
fn every_rule_matches_finite_differences() {
    Target::initialize_native(&InitializationConfig::default()).expect("native target");
    let mut failures = Vec::new();
    let mut checks = 0;
    let mut modules = 0;
    let rules: Vec<&Rule> = all_rules().collect();
    for rule in &rules {
        let Some(case) = CASES.iter().find(|c| c.rule == rule.name) else {
            failures.push(format!("rule `{}` has no entry in CASES: say how it is called and where to check it", rule.name));
            continue;
        };
        let n_float = rule.params.iter().filter(|p| !p.is_int).count();
        for pt in case.points {
            assert_eq!(pt.x.len(), n_float, "CASES entry for `{}`: a point needs {n_float} coordinates", rule.name);
        }
        let has_int = rule.params.iter().any(|p| p.is_int);
        assert!(has_int || case.ints == NO_INT, "CASES entry for `{}`: integer values for a rule without `#` parameters", rule.name);
        for &way in case.ways {
            let variants: &[Variant] = match way {
                Libm(_) | Device(..) => &[Variant::Double, Variant::Float],
                Inst(_) | Intr(_) => &[Variant::Double, Variant::Float, Variant::Vec2],
            };
            for &v in variants {
                for &n in case.ints {
                    for preopt in [false, true] {
                        let before = failures.len();
                        let c = check(case, rule, way, v, n, preopt, &mut failures);
                        modules += 1;
                        checks += c;
                        if c == 0 && failures.len() == before {
                            failures.push(format!("rule `{}` via {way:?} ({}): nothing was checked", rule.name, v.ty()));
                        }
                    }
                }
            }
        }
    }
    for c in CASES {
        if !rules.iter().any(|r| r.name == c.rule) {
            failures.push(format!("CASES names `{}`, which is not a rule of the table", c.rule));
        }
    }
    eprintln!("rules_fd: {} rules, {modules} modules, {checks} comparisons, {} failures", rules.len(), failures.len());
    if !failures.is_empty() {
        // The module dump is long: show it for the first failure only.
        let mut text = String::new();
        for (i, f) in failures.iter().enumerate() {
            let f = if i == 0 { f.as_str() } else { f.split("\n--- module").next().unwrap() };
            text.push_str(f);
            text.push('\n');
        }
        panic!("{} of the rule checks failed:\n{text}", failures.len());
    }
}
