//! libradx from Rust: forward derivatives checked against analytic values (JIT-run),
//! `radx_lower_module`, concurrent calls, and every kind of error.

mod common;
use common::*;
use radx::*;
use std::ffi::CString;

const MODEL: &str = r#"
#include <math.h>
double f(double x, double y) { return x * x * y + sin(x); }
void g(const double *x, double *out, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) { s += x[i] * x[i]; out[i] = s * exp(x[i]); }
}
double h(double x, int k) { double r = 1; for (int i = 0; i < k; i++) r *= x; return r; }
double mystery(double);
double uses_mystery(double x) { return mystery(x) * x; }
"#;

fn model() -> Vec<u8> {
    c_to_bitcode(MODEL, &["-O2"])
}

fn df(x: f64, dx: f64, y: f64, dy: f64) -> f64 {
    (2.0 * x * y + x.cos()) * dx + x * x * dy
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct D2 {
    a: f64,
    b: f64,
}

#[test]
fn forward_default_activities() {
    let r = forward(&model(), "f", &[], 1, false).unwrap();
    let name = r.function_name.clone().unwrap();
    assert!(r.report_json.contains("\"forward\""), "{}", r.report_json);
    assert_eq!(r.calls_lowered, 0);
    with_jit(&r.bitcode, &name, |a| {
        let d: extern "C" fn(f64, f64, f64, f64) -> f64 = unsafe { std::mem::transmute(a) };
        for &(x, dx, y, dy) in &[(0.5, 1.0, 2.0, 0.0), (0.5, 0.0, 2.0, 1.0), (-1.3, 0.7, 0.4, -2.0)] {
            assert!(close(d(x, dx, y, dy), df(x, dx, y, dy)), "f at {x},{y}: {} vs {}", d(x, dx, y, dy), df(x, dx, y, dy));
        }
    });
}

#[test]
fn forward_const_argument_width_and_primal() {
    let bc = model();
    // y constant: fwddiff(x, dx, y).
    let r = forward(&bc, "f", &[RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST], 1, false).unwrap();
    with_jit(&r.bitcode, r.function_name.as_deref().unwrap(), |a| {
        let d: extern "C" fn(f64, f64, f64) -> f64 = unsafe { std::mem::transmute(a) };
        assert!(close(d(0.3, 1.0, 5.0), df(0.3, 1.0, 5.0, 0.0)));
    });
    // The primal too: {f, df}.
    let r = forward(&bc, "f", &[], 1, true).unwrap();
    with_jit(&r.bitcode, r.function_name.as_deref().unwrap(), |a| {
        let d: extern "C" fn(f64, f64, f64, f64) -> D2 = unsafe { std::mem::transmute(a) };
        let (x, y) = (0.8, -1.5);
        let o = d(x, 1.0, y, 0.5);
        assert!(close(o.a, x * x * y + x.sin()));
        assert!(close(o.b, df(x, 1.0, y, 0.5)));
    });
    // Width 2 without the primal returns two tangents.
    let r = forward(&bc, "h", &[RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST], 2, false).unwrap();
    with_jit(&r.bitcode, r.function_name.as_deref().unwrap(), |a| {
        let d: extern "C" fn(f64, f64, f64, i32) -> D2 = unsafe { std::mem::transmute(a) };
        let o = d(1.5, 1.0, 2.0, 4);
        assert!(close(o.a, 4.0 * 1.5f64.powi(3)) && close(o.b, 8.0 * 1.5f64.powi(3)), "{o:?}");
    });
}

#[test]
fn forward_through_pointers_and_a_loop() {
    let r = forward(&model(), "g", &[RADX_ACTIVITY_DUP, RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST], 1, false).unwrap();
    with_jit(&r.bitcode, r.function_name.as_deref().unwrap(), |a| {
        let d: extern "C" fn(*const f64, *const f64, *mut f64, *mut f64, i32) = unsafe { std::mem::transmute(a) };
        let x = [0.5, -0.25, 1.0];
        let dx = [1.0, 2.0, -1.0];
        let (mut out, mut dout) = ([0.0; 3], [0.0; 3]);
        d(x.as_ptr(), dx.as_ptr(), out.as_mut_ptr(), dout.as_mut_ptr(), 3);
        let (mut s, mut ds) = (0.0, 0.0);
        for i in 0..3 {
            s += x[i] * x[i];
            ds += 2.0 * x[i] * dx[i];
            assert!(close(out[i], s * x[i].exp()));
            assert!(close(dout[i], (ds + s * dx[i]) * x[i].exp()), "dout[{i}] = {} vs {}", dout[i], (ds + s * dx[i]) * x[i].exp());
        }
    });
}

#[test]
fn lower_module_rewrites_magic_calls() {
    let bc = c_to_bitcode(
        r#"
        double __enzyme_fwddiff(void *, ...);
        extern int enzyme_const;
        static double sq(double x, double k) { return k * x * x; }
        double dsq(double x) { return __enzyme_fwddiff((void *)sq, x, 1.0, enzyme_const, 3.0); }
        "#,
        &["-O1"],
    );
    let r = lower(&bc, 0).unwrap();
    assert_eq!(r.calls_lowered, 1);
    assert!(r.function_name.is_none());
    assert!(r.report_json.contains("\"calls_lowered\":1"), "{}", r.report_json);
    with_jit(&r.bitcode, "dsq", |a| {
        let d: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(a) };
        assert!(close(d(2.5), 15.0));
    });
    // Flags are honoured (and the result still works without the cleanups).
    let r = lower(&bc, (RADX_FLAG_NO_POSTOPT | RADX_FLAG_NO_PREOPT) as u32).unwrap();
    with_jit(&r.bitcode, "dsq", |a| {
        let d: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(a) };
        assert!(close(d(-1.0), -6.0));
    });
}

#[test]
fn lower_module_handles_reverse_mode_calls() {
    let bc = c_to_bitcode(
        r#"
        double __enzyme_autodiff(void *, ...);
        static double cube(double x) { return x * x * x; }
        double dcube(double x) { return __enzyme_autodiff((void *)cube, x); }
        "#,
        &["-O1"],
    );
    let r = lower(&bc, 0).unwrap();
    assert_eq!(r.calls_lowered, 1);
    assert!(r.report_json.contains("\"reverse\""), "{}", r.report_json);
    with_jit(&r.bitcode, "dcube", |a| {
        let d: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(a) };
        assert!(close(d(1.5), 3.0 * 1.5 * 1.5));
    });
}

#[test]
fn generated_names_are_c_identifiers() {
    let first = forward(&model(), "f", &[], 1, false).unwrap();
    let second = forward(&first.bitcode, "f", &[], 1, true).unwrap();
    let (a, b) = (first.function_name.unwrap(), second.function_name.unwrap());
    assert_eq!(a, "fwddiffef");
    assert_eq!(b, "fwddiffef_1");
    assert!(second.report_json.contains("\"fwddiffef_1\""), "{}", second.report_json);
    with_jit(&second.bitcode, &b, |_| ());
}

#[test]
fn textual_ir_is_accepted() {
    let ir = "define double @cube(double %x) {\n  %a = fmul double %x, %x\n  %b = fmul double %a, %x\n  ret double %b\n}\n";
    let r = forward(ir.as_bytes(), "cube", &[], 1, false).unwrap();
    with_jit(&r.bitcode, r.function_name.as_deref().unwrap(), |a| {
        let d: extern "C" fn(f64, f64) -> f64 = unsafe { std::mem::transmute(a) };
        assert!(close(d(2.0, 1.0), 12.0));
    });
}

#[test]
fn concurrent_calls_are_independent() {
    let bc = model();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let bc = bc.clone();
            std::thread::spawn(move || {
                let mut outs = Vec::new();
                for i in 0..4 {
                    let r = match (t + i) % 3 {
                        0 => forward(&bc, "f", &[], 1, false),
                        1 => forward(&bc, "g", &[], 1, false),
                        _ => forward(&bc, "h", &[], 2, true),
                    };
                    outs.push(((t + i) % 3, r.expect("differentiation succeeds")));
                    // An error in between must not disturb anything either.
                    assert_eq!(forward(&bc, "nope", &[], 1, false).unwrap_err().0, RADX_ERR_FUNCTION_NOT_FOUND);
                }
                outs
            })
        })
        .collect();
    let mut by_kind: Vec<Option<Vec<u8>>> = vec![None, None, None];
    for th in threads {
        for (k, r) in th.join().expect("no thread panics") {
            match &by_kind[k] {
                None => by_kind[k] = Some(r.bitcode.clone()),
                Some(first) => assert!(first == &r.bitcode, "the same request gave different modules"),
            }
        }
    }
    let f_bc = by_kind[0].as_ref().unwrap();
    let name = forward(&bc, "f", &[], 1, false).unwrap().function_name.unwrap();
    with_jit(f_bc, &name, |a| {
        let d: extern "C" fn(f64, f64, f64, f64) -> f64 = unsafe { std::mem::transmute(a) };
        assert!(close(d(1.1, 1.0, 0.2, 0.0), df(1.1, 1.0, 0.2, 0.0)));
    });
}

fn expect_err(r: Result<Res, (RadxStatus, Vec<Err>)>, code: RadxStatus) -> Vec<Err> {
    let (status, errs) = r.expect_err("the call fails");
    assert_eq!(status, code, "status {} ({:?})", status_name(status), errs);
    assert!(!errs.is_empty(), "an error chain comes back");
    assert_eq!(errs[0].code, code);
    for e in &errs {
        assert!(!e.message.is_empty() && e.text.contains(&e.message), "{e:?}");
    }
    errs
}

#[test]
fn malformed_input() {
    let e = expect_err(forward(b"this is not bitcode", "f", &[], 1, false), RADX_ERR_MALFORMED_INPUT);
    assert!(e[0].message.contains("not LLVM bitcode"), "{:?}", e[0]);
    expect_err(lower(b"BC\xc0\xde garbage", 0), RADX_ERR_MALFORMED_INPUT);
    expect_err(forward(b"", "f", &[], 1, false), RADX_ERR_MALFORMED_INPUT);
    // A module that parses but does not verify.
    let bad = "define double @f(double %x) {\n  ret double %y\n  %y = fadd double %x, 1.0\n}\n";
    expect_err(forward(bad.as_bytes(), "f", &[], 1, false), RADX_ERR_MALFORMED_INPUT);
}

#[test]
fn unknown_function() {
    let e = expect_err(forward(&model(), "no_such_function", &[], 1, false), RADX_ERR_FUNCTION_NOT_FOUND);
    assert!(e[0].message.contains("no_such_function"));
    let hint = e[0].hint.clone().unwrap();
    assert!(hint.contains("`f`") && hint.contains("`g`"), "{hint}");
    // A declaration is found but cannot be differentiated.
    let e = expect_err(forward(&model(), "mystery", &[], 1, false), RADX_ERR_BAD_REQUEST);
    assert!(e[0].message.contains("only declared"), "{:?}", e[0]);
}

#[test]
fn mode_and_flag_errors() {
    let bc = model();
    let name = CString::new("f").unwrap();
    let req = RadxRequest {
        function: name.as_ptr(),
        mode: RADX_MODE_FORWARD_SPLIT,
        width: 1,
        args: std::ptr::null(),
        num_args: 0,
        return_activity: RADX_ACTIVITY_DEFAULT,
        return_primal: 0,
        flags: 0,
    };
    let e = expect_err(request(&bc, &req), RADX_ERR_UNSUPPORTED_MODE);
    assert!(e[0].message.contains("not implemented"), "{:?}", e[0]);
    let req = RadxRequest { mode: 42, ..req };
    expect_err(request(&bc, &req), RADX_ERR_INVALID_ARGUMENT);
    let req = RadxRequest { mode: RADX_MODE_FORWARD, flags: 0x80, ..req };
    expect_err(request(&bc, &req), RADX_ERR_INVALID_ARGUMENT);
    let req = RadxRequest { flags: 0, width: 65, ..req };
    expect_err(request(&bc, &req), RADX_ERR_INVALID_ARGUMENT);
    let req = RadxRequest { width: 1, return_activity: RADX_ACTIVITY_ACTIVE, ..req };
    expect_err(request(&bc, &req), RADX_ERR_BAD_REQUEST);
    // Runtime activity is a known flag, refused clearly, in every mode.
    for mode in [RADX_MODE_FORWARD, RADX_MODE_REVERSE_COMBINED] {
        let req = RadxRequest { mode, return_activity: RADX_ACTIVITY_DEFAULT, flags: RADX_FLAG_RUNTIME_ACTIVITY as u32, ..req };
        let e = expect_err(request(&bc, &req), RADX_ERR_UNSUPPORTED);
        assert!(e[0].message.contains("runtime activity"), "{:?}", e[0]);
    }
    // DUP_NONEED on the return says the primal is not needed: asking for it contradicts.
    let req = RadxRequest { return_activity: RADX_ACTIVITY_DUP_NONEED, return_primal: 1, ..req };
    expect_err(request(&bc, &req), RADX_ERR_BAD_REQUEST);
    let req = RadxRequest { return_primal: 0, ..req };
    let r = request(&bc, &req).unwrap();
    assert_eq!(r.functions[0].results.len(), 1);
}

#[test]
fn bad_activities() {
    let bc = model();
    let e = expect_err(forward(&bc, "f", &[RADX_ACTIVITY_DUP], 1, false), RADX_ERR_INVALID_ARGUMENT);
    assert!(e[0].message.contains("2 parameter(s)"), "{:?}", e[0]);
    let e = expect_err(forward(&bc, "f", &[RADX_ACTIVITY_ACTIVE, RADX_ACTIVITY_DUP], 1, false), RADX_ERR_BAD_REQUEST);
    assert!(e[0].message.contains("reverse-mode"), "{:?}", e[0]);
    let e = expect_err(forward(&bc, "h", &[RADX_ACTIVITY_DUP, RADX_ACTIVITY_DUP], 1, false), RADX_ERR_BAD_REQUEST);
    assert!(e[0].message.contains("parameter 2"), "{:?}", e[0]);
    expect_err(forward(&bc, "f", &[7, RADX_ACTIVITY_DUP], 1, false), RADX_ERR_INVALID_ARGUMENT);
}

#[test]
fn null_pointers() {
    let bc = model();
    let mut res = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    unsafe {
        assert_eq!(radx_differentiate(bc.as_ptr(), bc.len(), std::ptr::null(), &mut res, &mut err), RADX_ERR_INVALID_ARGUMENT);
        assert!(res.is_null() && !err.is_null());
        radx_error_free(err);
        assert_eq!(radx_lower_module(std::ptr::null(), 10, 0, &mut res, std::ptr::null_mut()), RADX_ERR_INVALID_ARGUMENT);
        assert_eq!(radx_lower_module(bc.as_ptr(), bc.len(), 0, std::ptr::null_mut(), std::ptr::null_mut()), RADX_ERR_INVALID_ARGUMENT);
        radx_result_free(std::ptr::null_mut());
        radx_error_free(std::ptr::null_mut());
        let (mut a, mut b, mut c) = (9, 9, 9);
        radx_version_numbers(&mut a, &mut b, &mut c);
        assert_eq!(format!("{a}.{b}.{c}"), std::ffi::CStr::from_ptr(radx_version()).to_str().unwrap());
        radx_version_numbers(std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
    }
}

#[test]
fn diagnostics_name_the_function_and_line() {
    let e = expect_err(forward(&c_to_bitcode(MODEL, &["-O0", "-g"]), "uses_mystery", &[], 1, false), RADX_ERR_NO_RULE);
    let d = &e[0];
    assert_eq!(d.function.as_deref(), Some("uses_mystery"), "{d:?}");
    assert!(d.message.contains("mystery"), "{d:?}");
    assert_eq!(d.line, 10, "{d:?}");
    assert!(d.file.as_deref().unwrap_or("").ends_with("m.c"), "{d:?}");
    assert!(d.construct.as_deref().unwrap_or("").contains("call"), "{d:?}");
    // radx_lower_module reports every failing call.
    let bc = c_to_bitcode(
        r#"
        double __enzyme_fwddiff(void *, ...);
        extern int enzyme_out;
        double mystery(double);
        static double m(double x) { return mystery(x); }
        static double sq(double x) { return x * x; }
        double a(double x) { return __enzyme_fwddiff((void *)m, x, 1.0); }
        double b(double x) { return __enzyme_fwddiff((void *)sq, enzyme_out, x); }
        "#,
        &["-O0", "-g"],
    );
    let (status, e) = lower(&bc, 0).expect_err("both calls fail");
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(status, e[0].code);
    let bad = e.iter().find(|d| d.code == RADX_ERR_BAD_REQUEST).expect("the enzyme_out misuse");
    assert_eq!((bad.function.as_deref(), bad.line), (Some("b"), 8), "{bad:?}");
    let no_rule = e.iter().find(|d| d.code == RADX_ERR_NO_RULE).expect("the call of mystery");
    assert_eq!((no_rule.function.as_deref(), no_rule.line), (Some("m"), 5), "{no_rule:?}");
}
