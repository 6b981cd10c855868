//! Custom derivatives registered with Enzyme's globals (`__enzyme_register_derivative_*`,
//! `__enzyme_register_gradient_*`) for a function whose body is in another translation
//! unit: forward and reverse mode through `radx cc`, against the analytic derivative.

use std::path::Path;
use std::process::Command;

#[test]
fn registered_rules_differentiate_an_opaque_function() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/custom_rules");
    for opt in ["-O0", "-O2"] {
        let exe = std::env::temp_dir().join(format!("radx-custom-rules-{}{opt}", std::process::id()));
        let out = Command::new(env!("CARGO_BIN_EXE_radx"))
            .args(["cc", opt])
            .arg(dir.join("rules.c"))
            .arg(dir.join("other.c"))
            .arg("-lm")
            .arg("-o")
            .arg(&exe)
            .output()
            .unwrap();
        assert!(out.status.success(), "radx cc {opt} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let run = Command::new(&exe).output().unwrap();
        let _ = std::fs::remove_file(&exe);
        assert!(run.status.success(), "{opt}: derivatives through custom rules are wrong:\n{}", String::from_utf8_lossy(&run.stdout));
    }
}

#[test]
fn a_rule_of_the_wrong_type_is_reported() {
    let src = std::env::temp_dir().join(format!("radx-bad-rule-{}.c", std::process::id()));
    std::fs::write(
        &src,
        "double __enzyme_fwddiff(void *, ...);\ndouble h(double x);\nfloat h_fwd(float x, float dx) { return dx; }\n\
         void *__enzyme_register_derivative_h[2] = {(void *)h, (void *)h_fwd};\n\
         int main(void) { return (int)__enzyme_fwddiff((void *)h, 1.0, 1.0); }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_radx")).args(["cc", "-c"]).arg(&src).arg("-o").arg(src.with_extension("o")).output().unwrap();
    let _ = std::fs::remove_file(&src);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("custom forward rule `h_fwd` for `h`") && err.contains("the request needs"), "{err}");
}
