//! Custom rules (`radx_rules`): registration checks, validation against the module at
//! request time, and the clear refusal while the engine has no hook to call them.

mod common;
use common::*;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use radx::*;
use std::ffi::CString;

const MODEL: &str = r#"
typedef struct { double a, b; } d2;
typedef struct { void *tape; double v; } aug_t;
__attribute__((noinline)) double sq(double x) { return x * x; }
d2 sq_fwd(double x, double dx) { d2 r = {x * x, 2 * x * dx}; return r; }
double sq_fwd_bad(double x) { return 2 * x; }
aug_t sq_aug(double x) { aug_t r = {0, x * x}; return r; }
double sq_rev(double x, double seed, void *tape) { (void)tape; return 2 * x * seed; }
double twice_sq(double x) { return 2 * sq(x); }
double other(double x) { return x * 3; }
"#;

/// A registry freed on drop.
struct Rules(*mut RadxRules);

impl Drop for Rules {
    fn drop(&mut self) {
        unsafe { radx_rules_free(self.0) }
    }
}

fn rule(function: &CString, forward: Option<&CString>, augmented: Option<&CString>, reverse: Option<&CString>) -> RadxRule {
    let p = |c: Option<&CString>| c.map(|c| c.as_ptr()).unwrap_or(std::ptr::null());
    RadxRule {
        function: function.as_ptr(),
        args: std::ptr::null(),
        num_args: 0,
        return_activity: RADX_ACTIVITY_DEFAULT,
        width: 0,
        forward: p(forward),
        augmented: p(augmented),
        reverse: p(reverse),
    }
}

fn add(rules: &Rules, r: &RadxRule) -> Result<(), (RadxStatus, Vec<Err>)> {
    let mut err = std::ptr::null_mut();
    let s = unsafe { radx_rules_add(rules.0, r, &mut err) };
    if s == RADX_OK {
        assert!(err.is_null());
        return Ok(());
    }
    match unsafe { collect(s, std::ptr::null_mut(), err) } {
        Err(e) => Err(e),
        Ok(_) => unreachable!(),
    }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

#[test]
fn registration_checks_the_shape_of_a_rule() {
    let rules = Rules(radx_rules_new());
    assert!(!rules.0.is_null());
    let (sq, fwd, aug, rev) = (c("sq"), c("sq_fwd"), c("sq_aug"), c("sq_rev"));
    let empty = c("");
    let bad = |r: RadxRule, code: RadxStatus, needle: &str| {
        let (s, e) = add(&rules, &r).unwrap_err();
        assert_eq!(s, code, "{e:?}");
        assert!(e[0].message.contains(needle), "{needle}: {e:?}");
    };
    bad(RadxRule { function: std::ptr::null(), ..rule(&sq, Some(&fwd), None, None) }, RADX_ERR_INVALID_ARGUMENT, "NULL");
    bad(rule(&sq, None, None, None), RADX_ERR_BAD_REQUEST, "no implementation");
    bad(rule(&sq, None, Some(&aug), None), RADX_ERR_BAD_REQUEST, "only one of");
    bad(rule(&sq, Some(&empty), None, None), RADX_ERR_INVALID_ARGUMENT, "empty");
    bad(RadxRule { width: 2, ..rule(&sq, None, Some(&aug), Some(&rev)) }, RADX_ERR_BAD_REQUEST, "width 1");
    bad(RadxRule { width: 65, ..rule(&sq, Some(&fwd), None, None) }, RADX_ERR_INVALID_ARGUMENT, "out of range");
    bad(RadxRule { return_activity: 17, ..rule(&sq, Some(&fwd), None, None) }, RADX_ERR_INVALID_ARGUMENT, "unknown activity");
    let acts = [RADX_ACTIVITY_DUP];
    bad(RadxRule { args: std::ptr::null(), num_args: 1, ..rule(&sq, Some(&fwd), None, None) }, RADX_ERR_INVALID_ARGUMENT, "NULL");
    assert_eq!(unsafe { radx_rules_count(rules.0) }, 0);
    add(&rules, &rule(&sq, Some(&fwd), Some(&aug), Some(&rev))).unwrap();
    // The same pattern again replaces; another pattern is a second rule.
    add(&rules, &rule(&sq, Some(&fwd), None, None)).unwrap();
    assert_eq!(unsafe { radx_rules_count(rules.0) }, 1);
    add(&rules, &RadxRule { args: acts.as_ptr(), num_args: 1, ..rule(&sq, Some(&fwd), None, None) }).unwrap();
    assert_eq!(unsafe { radx_rules_count(rules.0) }, 2);
    unsafe {
        assert_eq!(radx_rules_count(std::ptr::null()), 0);
        assert_eq!(radx_rules_add(std::ptr::null_mut(), &rule(&sq, Some(&fwd), None, None), std::ptr::null_mut()), RADX_ERR_INVALID_ARGUMENT);
        assert_eq!(radx_rules_add(rules.0, std::ptr::null(), std::ptr::null_mut()), RADX_ERR_INVALID_ARGUMENT);
        radx_rules_free(std::ptr::null_mut());
    }
}

#[test]
fn rules_are_validated_against_the_module() {
    let bc = c_to_bitcode(MODEL, &["-O2"]);
    let (sq, twice) = (c("sq"), c("twice_sq"));
    let fwd_req = req(&twice, RADX_MODE_FORWARD, &[], RADX_ACTIVITY_DEFAULT, false);
    let expect = |rules: &Rules, code: RadxStatus, needle: &str| {
        let (s, e) = request_ex(&bc, &fwd_req, rules.0).unwrap_err();
        assert_eq!(s, code, "{e:?}");
        assert!(e[0].message.contains(needle), "{needle}: {e:?}");
        e
    };
    let rules = Rules(radx_rules_new());
    add(&rules, &rule(&sq, Some(&c("sq_fwd_bad")), None, None)).unwrap();
    let e = expect(&rules, RADX_ERR_BAD_REQUEST, "has type `double (double)`, but must have `{ double, double } (double, double)`");
    assert!(e[0].message.contains("custom rule for `sq`"), "{e:?}");
    let rules = Rules(radx_rules_new());
    add(&rules, &rule(&sq, Some(&c("no_such_rule")), None, None)).unwrap();
    expect(&rules, RADX_ERR_BAD_REQUEST, "`no_such_rule` is not in the module");
    let rules = Rules(radx_rules_new());
    add(&rules, &rule(&sq, None, Some(&c("sq_rev")), Some(&c("sq_aug")))).unwrap();
    let e = expect(&rules, RADX_ERR_BAD_REQUEST, "augmented implementation `sq_rev`");
    assert!(e[0].message.contains("{ ptr, double } (double)"), "{e:?}");
    // A rule for a function the module does not have is ignored.
    let rules = Rules(radx_rules_new());
    add(&rules, &rule(&c("elsewhere"), Some(&c("elsewhere_fwd")), None, None)).unwrap();
    request_ex(&bc, &fwd_req, rules.0).unwrap();
}

/// A model whose rules are deliberately not the true derivative (10x instead of 2x), so
/// the results show that the rules, not the bodies, were used.
const OVERRIDE: &str = r#"
typedef struct { double p, t; } d2;
typedef struct { void *tape; double p; } aug_t;
__attribute__((noinline)) double sq(double x) { return x * x; }
d2 sq_fwd(double x, double dx) { d2 r = {x * x, 10 * x * dx}; return r; }
aug_t sq_aug(double x) { aug_t r = {0, x * x}; return r; }
double sq_rev(double x, double seed, void *tape) { (void)tape; return 10 * x * seed; }
double twice_sq(double x) { return 2 * sq(x); }
"#;

#[test]
fn registered_rules_replace_the_generated_derivatives() {
    let bc = c_to_bitcode(OVERRIDE, &["-O2"]);
    let (sq, twice) = (c("sq"), c("twice_sq"));
    let rules = Rules(radx_rules_new());
    add(&rules, &rule(&sq, Some(&c("sq_fwd")), Some(&c("sq_aug")), Some(&c("sq_rev")))).unwrap();
    for mode in [RADX_MODE_FORWARD, RADX_MODE_REVERSE_COMBINED] {
        let r = request_ex(&bc, &req(&twice, mode, &[], RADX_ACTIVITY_DEFAULT, false), rules.0).unwrap();
        with_jit(&r.bitcode, &r.functions[0].name, |a| {
            let d: extern "C" fn(f64, f64) -> f64 = unsafe { std::mem::transmute(a) };
            assert!(close(d(1.5, 1.0), 30.0), "mode {mode}: {}", d(1.5, 1.0));
        });
    }
    // A forward-only rule is not needed in reverse mode: `sq` is differentiated from its body.
    let fwd_only = Rules(radx_rules_new());
    add(&fwd_only, &rule(&sq, Some(&c("sq_fwd")), None, None)).unwrap();
    let r = request_ex(&bc, &req(&twice, RADX_MODE_REVERSE_COMBINED, &[], RADX_ACTIVITY_DEFAULT, false), fwd_only.0).unwrap();
    with_jit(&r.bitcode, &r.functions[0].name, |a| {
        let d: extern "C" fn(f64, f64) -> f64 = unsafe { std::mem::transmute(a) };
        assert!(close(d(1.5, 1.0), 6.0));
    });
    // The in-process door uses rules the same way.
    let ctx = Context::create();
    let m = ctx.create_module_from_ir(MemoryBuffer::create_from_memory_range_copy(&bc, "m")).unwrap();
    request_module(m.as_mut_ptr(), &req(&twice, RADX_MODE_FORWARD, &[], 0, false), rules.0).unwrap();
    // And without a registry nothing changes.
    request_ex(&bc, &req(&twice, RADX_MODE_FORWARD, &[], 0, false), std::ptr::null()).unwrap();
}
