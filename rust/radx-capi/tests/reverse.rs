//! libradx's reverse modes from Rust: combined and split (the tape handed back), the exact
//! signatures reported for each generated function, JIT-run against analytic values.

mod common;
use common::*;
use radx::*;
use std::ffi::{c_void, CString};

const MODEL: &str = r#"
#include <math.h>
double f(double x, double y) { return x * x * y + sin(x); }
double cubes(const double *x, int n) { double s = 0; for (int i = 0; i < n; i++) s += x[i] * x[i] * x[i]; return s; }
void scale(double *v, int n, double a) { for (int i = 0; i < n; i++) v[i] = v[i] * a * a + log1p(v[i] * v[i]); }
double *pick(double *x, long i) { return x + i; }
float g(float x, int k) { float r = 1; for (int i = 0; i < k; i++) r = r * x + 1.0f; return r; }
"#;

fn model() -> Vec<u8> {
    c_to_bitcode(MODEL, &["-O2"])
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct D2 {
    a: f64,
    b: f64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct TapeAnd<T> {
    tape: *mut c_void,
    value: T,
}

fn grad_f(x: f64, y: f64) -> (f64, f64) {
    (2.0 * x * y + x.cos(), x * x)
}

#[test]
fn combined_mode_with_active_scalars() {
    let name = CString::new("f").unwrap();
    let r = request(&model(), &req(&name, RADX_MODE_REVERSE_COMBINED, &[], RADX_ACTIVITY_DEFAULT, false)).unwrap();
    assert_eq!(r.function_name.as_deref(), Some("diffef"));
    assert_eq!(r.tape_type, None);
    assert_eq!(r.functions.len(), 1);
    let f = &r.functions[0];
    assert_eq!((f.name.as_str(), f.mode, f.layout), ("diffef", RADX_MODE_REVERSE_COMBINED, RADX_RETURN_STRUCT));
    assert_eq!(f.brief(), "primal(0):double, primal(1):double, seed:double -> adjoint(0):double, adjoint(1):double");
    assert_eq!(f.llvm_type, "{ double, double } (double, double, double)");
    assert!(r.report_json.contains("\"functions\"") && r.report_json.contains("\"tape\":null"), "{}", r.report_json);
    with_jit(&r.bitcode, "diffef", |a| {
        let d: extern "C" fn(f64, f64, f64) -> D2 = unsafe { std::mem::transmute(a) };
        for &(x, y, seed) in &[(0.5, 2.0, 1.0), (-1.3, 0.4, 2.5)] {
            let g = d(x, y, seed);
            let (gx, gy) = grad_f(x, y);
            assert!(close(g.a, seed * gx) && close(g.b, seed * gy), "{g:?} vs {gx} {gy}");
        }
    });
    // y constant and the primal returned: {f, df/dx}.
    let r = request(&model(), &req(&name, RADX_MODE_REVERSE_COMBINED, &[RADX_ACTIVITY_ACTIVE, RADX_ACTIVITY_CONST], RADX_ACTIVITY_ACTIVE, true)).unwrap();
    let f = &r.functions[0];
    assert_eq!(f.brief(), "primal(0):double, primal(1):double, seed:double -> return:double, adjoint(0):double");
    with_jit(&r.bitcode, &f.name, |a| {
        let d: extern "C" fn(f64, f64, f64) -> D2 = unsafe { std::mem::transmute(a) };
        let (x, y) = (0.8, -1.5);
        let o = d(x, y, 1.0);
        assert!(close(o.a, x * x * y + x.sin()) && close(o.b, grad_f(x, y).0), "{o:?}");
    });
    // A constant return takes no seed and the function returns only adjoints: none here.
    let r = request(&model(), &req(&name, RADX_MODE_REVERSE_COMBINED, &[], RADX_ACTIVITY_CONST, true)).unwrap();
    assert_eq!(r.functions[0].brief(), "primal(0):double, primal(1):double -> return:double, adjoint(0):double, adjoint(1):double");
}

#[test]
fn combined_mode_through_memory() {
    let name = CString::new("cubes").unwrap();
    let r = request(&model(), &req(&name, RADX_MODE_REVERSE_COMBINED, &[RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST], RADX_ACTIVITY_ACTIVE, false)).unwrap();
    let f = &r.functions[0];
    assert_eq!(f.brief(), "primal(0):ptr, shadow(0.0):ptr, primal(1):i32, seed:double -> ");
    assert_eq!(f.layout, RADX_RETURN_VOID);
    with_jit(&r.bitcode, &f.name, |a| {
        let d: extern "C" fn(*const f64, *mut f64, i32, f64) = unsafe { std::mem::transmute(a) };
        let x = [0.5, -2.0, 1.5, 3.0];
        let mut dx = [1.0; 4]; // adjoints accumulate
        d(x.as_ptr(), dx.as_mut_ptr(), 4, 0.5);
        for i in 0..4 {
            assert!(close(dx[i], 1.0 + 0.5 * 3.0 * x[i] * x[i]), "dx[{i}] = {}", dx[i]);
        }
    });
}

#[test]
fn split_mode_reports_both_functions_and_the_tape() {
    let name = CString::new("f").unwrap();
    let bc = model();
    let primal = request(&bc, &req(&name, RADX_MODE_REVERSE_PRIMAL, &[], RADX_ACTIVITY_DEFAULT, true)).unwrap();
    let gradient = request(&bc, &req(&name, RADX_MODE_REVERSE_GRADIENT, &[], RADX_ACTIVITY_DEFAULT, true)).unwrap();
    assert_eq!(primal.function_name.as_deref(), Some("augmented_f"));
    assert_eq!(gradient.function_name.as_deref(), Some("reverse_f"));
    for r in [&primal, &gradient] {
        assert_eq!(r.tape_type.as_deref(), Some("opaque pointer"));
        assert!(r.report_json.contains("\"tape\":\"opaque pointer\""), "{}", r.report_json);
        let names: Vec<&str> = r.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["augmented_f", "reverse_f"]);
        let (aug, rev) = (&r.functions[0], &r.functions[1]);
        assert_eq!((aug.mode, rev.mode), (RADX_MODE_REVERSE_PRIMAL, RADX_MODE_REVERSE_GRADIENT));
        assert_eq!(aug.brief(), "primal(0):double, primal(1):double -> tape:ptr, return:double");
        assert_eq!(aug.llvm_type, "{ ptr, double } (double, double)");
        assert_eq!(rev.brief(), "primal(0):double, primal(1):double, seed:double, tape:ptr -> adjoint(0):double, adjoint(1):double");
    }
    with_jit_many(&primal.bitcode, &["augmented_f", "reverse_f"], |a| {
        let (aug, rev) = (a[0], a[1]);
        {
            let aug: extern "C" fn(f64, f64) -> TapeAnd<f64> = unsafe { std::mem::transmute(aug) };
            let rev: extern "C" fn(f64, f64, f64, *mut c_void) -> D2 = unsafe { std::mem::transmute(rev) };
            let (x, y) = (1.25, -0.5);
            let t = aug(x, y);
            assert!(close(t.value, x * x * y + x.sin()));
            let g = rev(x, y, 2.0, t.tape);
            let (gx, gy) = grad_f(x, y);
            assert!(close(g.a, 2.0 * gx) && close(g.b, 2.0 * gy), "{g:?}");
        }
    });
}

#[test]
fn split_mode_through_memory_and_loops() {
    let name = CString::new("scale").unwrap();
    let acts = [RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST, RADX_ACTIVITY_ACTIVE];
    let r = request(&model(), &req(&name, RADX_MODE_REVERSE_PRIMAL, &acts, RADX_ACTIVITY_DEFAULT, false)).unwrap();
    let (aug, rev) = (&r.functions[0], &r.functions[1]);
    assert_eq!(aug.brief(), "primal(0):ptr, shadow(0.0):ptr, primal(1):i32, primal(2):double -> tape:ptr");
    assert_eq!(aug.layout, RADX_RETURN_VALUE);
    assert_eq!(rev.brief(), "primal(0):ptr, shadow(0.0):ptr, primal(1):i32, primal(2):double, tape:ptr -> adjoint(2):double");
    let v0 = [0.5, -2.0, 1.5];
    let a = 1.2;
    with_jit_many(&r.bitcode, &[&aug.name, &rev.name], |addrs| {
        let (fa, fr) = (addrs[0], addrs[1]);
        {
            let fa: extern "C" fn(*mut f64, *mut f64, i32, f64) -> *mut c_void = unsafe { std::mem::transmute(fa) };
            let fr: extern "C" fn(*mut f64, *mut f64, i32, f64, *mut c_void) -> f64 = unsafe { std::mem::transmute(fr) };
            let mut v = v0;
            let mut dv = [1.0, 0.0, -1.0]; // adjoint of the output
            let seed = dv;
            let tape = fa(v.as_mut_ptr(), dv.as_mut_ptr(), 3, a);
            for i in 0..3 {
                assert!(close(v[i], v0[i] * a * a + (v0[i] * v0[i]).ln_1p()));
            }
            let da = fr(v.as_mut_ptr(), dv.as_mut_ptr(), 3, a, tape);
            let mut want_da = 0.0;
            for i in 0..3 {
                want_da += seed[i] * v0[i] * 2.0 * a;
                let want = seed[i] * (a * a + 2.0 * v0[i] / (1.0 + v0[i] * v0[i]));
                assert!(close(dv[i], want), "dv[{i}] = {} vs {want}", dv[i]);
            }
            assert!(close(da, want_da), "da = {da} vs {want_da}");
        }
    });
}

#[test]
fn split_mode_returns_the_shadow_of_a_returned_pointer() {
    let name = CString::new("pick").unwrap();
    let acts = [RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST];
    let r = request(&model(), &req(&name, RADX_MODE_REVERSE_PRIMAL, &acts, RADX_ACTIVITY_DUP, false)).unwrap();
    let aug = &r.functions[0];
    assert_eq!(aug.brief(), "primal(0):ptr, shadow(0.0):ptr, primal(1):i64 -> tape:ptr, return_shadow(0):ptr");
    with_jit(&r.bitcode, &aug.name, |fa| {
        let fa: extern "C" fn(*mut f64, *mut f64, i64) -> TapeAnd<*mut f64> = unsafe { std::mem::transmute(fa) };
        let mut x = [1.0, 2.0, 3.0];
        let mut dx = [0.0; 3];
        let t = fa(x.as_mut_ptr(), dx.as_mut_ptr(), 2);
        assert_eq!(t.value, unsafe { dx.as_mut_ptr().add(2) });
    });
    // Combined mode cannot hand a shadow back.
    let (s, e) = request(&model(), &req(&name, RADX_MODE_REVERSE_COMBINED, &acts, RADX_ACTIVITY_DUP, false)).unwrap_err();
    assert_eq!(s, RADX_ERR_BAD_REQUEST, "{e:?}");
    assert!(e[0].message.contains("augmented"), "{e:?}");
}

#[test]
fn reverse_mode_of_float_code_with_an_integer_parameter() {
    let name = CString::new("g").unwrap();
    let r = request(&model(), &req(&name, RADX_MODE_REVERSE_COMBINED, &[], RADX_ACTIVITY_DEFAULT, false)).unwrap();
    assert_eq!(r.functions[0].brief(), "primal(0):float, primal(1):i32, seed:float -> adjoint(0):float");
    with_jit(&r.bitcode, &r.functions[0].name, |a| {
        let d: extern "C" fn(f32, i32, f32) -> f32 = unsafe { std::mem::transmute(a) };
        // g(x, 3) = x^3 + x^2 + x + 1
        let x = 0.75f32;
        assert!((d(x, 3, 1.0) - (3.0 * x * x + 2.0 * x + 1.0)).abs() < 1e-5);
    });
}

#[test]
fn reverse_mode_request_errors() {
    let bc = model();
    let f = CString::new("f").unwrap();
    let cubes = CString::new("cubes").unwrap();
    let scale = CString::new("scale").unwrap();
    let check = |r: Result<Res, (RadxStatus, Vec<Err>)>, code: RadxStatus, needle: &str| {
        let (s, e) = r.expect_err("the request fails");
        assert_eq!(s, code, "{e:?}");
        assert!(e[0].message.contains(needle) || e[0].hint.as_deref().unwrap_or("").contains(needle), "{needle}: {e:?}");
    };
    let c = RADX_MODE_REVERSE_COMBINED;
    check(request(&bc, &req(&cubes, c, &[RADX_ACTIVITY_ACTIVE, RADX_ACTIVITY_CONST], 0, false)), RADX_ERR_BAD_REQUEST, "pointer");
    check(request(&bc, &req(&f, c, &[RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST], 0, false)), RADX_ERR_BAD_REQUEST, "RADX_ACTIVITY_ACTIVE");
    check(request(&bc, &req(&cubes, c, &[RADX_ACTIVITY_DUP, RADX_ACTIVITY_ACTIVE], 0, false)), RADX_ERR_BAD_REQUEST, "cannot carry");
    check(request(&bc, &req(&scale, c, &[], RADX_ACTIVITY_ACTIVE, false)), RADX_ERR_INVALID_ARGUMENT, "void");
    check(request(&bc, &req(&f, c, &[], RADX_ACTIVITY_DUP, false)), RADX_ERR_BAD_REQUEST, "ACTIVE");
    check(request(&bc, &req(&f, c, &[9, 0], 0, false)), RADX_ERR_INVALID_ARGUMENT, "unknown activity");
    let wide = RadxRequest { width: 2, ..req(&f, c, &[], 0, false) };
    check(request(&bc, &wide), RADX_ERR_UNSUPPORTED, "forward mode only");
    let split_wide = RadxRequest { width: 3, ..req(&f, RADX_MODE_REVERSE_GRADIENT, &[], 0, false) };
    check(request(&bc, &split_wide), RADX_ERR_UNSUPPORTED, "forward mode only");
}

#[test]
fn forward_results_carry_signatures_too() {
    let name = CString::new("f").unwrap();
    let r = forward(&model(), "f", &[RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST], 2, true).unwrap();
    let f = &r.functions[0];
    assert_eq!(f.mode, RADX_MODE_FORWARD);
    assert_eq!(f.brief(), "primal(0):double, shadow(0.0):double, shadow(0.1):double, primal(1):double -> return:double, return_shadow(0):double, return_shadow(1):double");
    assert_eq!(f.llvm_type, "{ double, double, double } (double, double, double, double)");
    assert!(r.tape_type.is_none());
    drop(name);
}
