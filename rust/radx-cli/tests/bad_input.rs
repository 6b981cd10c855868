//! Bad input to `radx opt` and `radx cc`: each case must exit with status 1 (never a
//! panic), and the diagnostic must name what is wrong, the construct, the function and,
//! for `-g` builds, the source line.
//!
//! Every C case is run through `radx cc` at -O0 -g, -O2 -g and -O2, and through
//! `radx opt` on the IR clang makes of it at -O0 -g and -O2. The line marked
//! `/* HERE */` is the one the diagnostic must point at.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RADX: &str = env!("CARGO_BIN_EXE_radx");


fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("radx-bad-input-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn radx(args: &[&str], dir: &Path) -> Output {
    Command::new(RADX).args(args).current_dir(dir).output().expect("run radx")
}

/// Exit status 1, no panic, and every expected piece in the diagnostic.
fn expect_failure(out: &Output, what: &str, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: radx panicked:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{what}: expected exit status 1, got {}:\n{stderr}", out.status);
    for e in expected {
        assert!(stderr.contains(e), "{what}: the diagnostic does not mention `{e}`:\n{stderr}");
    }
}

/// A C program whose magic call (or differentiated code) is wrong.
struct BadC {
    name: &'static str,
    src: &'static str,
    /// The function the diagnostic must name.
    function: &'static str,
    /// Text the message must contain (what is wrong).
    message: &'static [&'static str],
    /// Text of the offending instruction (the construct).
    construct: &'static str,
}

fn check_c(case: &BadC) {
    let dir = scratch(case.name);
    let file = format!("{}.c", case.name);
    std::fs::write(dir.join(&file), case.src).unwrap();
    let line = case.src.lines().position(|l| l.contains("/* HERE */")).expect("a line marked /* HERE */") + 1;
    let at_line = format!("{file}:{line}:");
    let in_function = format!("in function `{}`", case.function);
    let mut expected: Vec<&str> = case.message.to_vec();
    expected.push(in_function.as_str());
    let names_construct = |out: &Output, what: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.lines().any(|l| l.trim_start().starts_with("at: ") && l.contains(case.construct)),
            "{what}: the diagnostic does not show the construct `{}`:\n{stderr}",
            case.construct
        );
    };

    for (flags, debug) in [(&["-O0", "-g"][..], true), (&["-O2", "-g"][..], true), (&["-O2"][..], false)] {
        let mut args = vec!["cc"];
        args.extend(flags);
        args.extend([file.as_str(), "-o", "prog", "-lm"]);
        let out = radx(&args, &dir);
        let what = format!("radx cc {} {file}", flags.join(" "));
        let mut exp = expected.clone();
        if debug {
            exp.push(&at_line);
        }
        expect_failure(&out, &what, &exp);
        names_construct(&out, &what);
    }

    for (flags, debug) in [(&["-O0", "-g"][..], true), (&["-O2"][..], false)] {
        let ll = format!("{}{}.ll", case.name, flags.join(""));
        let st = Command::new(radx_core::ir::llvm::tool("clang"))
            .args(flags)
            .args(["-S", "-emit-llvm", "-Wno-everything", &file, "-o", &ll])
            .current_dir(&dir)
            .status()
            .expect("run clang");
        assert!(st.success(), "clang cannot compile the test case {file}");
        let out = radx(&["opt", &ll, "-o", "out.ll"], &dir);
        let what = format!("radx opt on {file} compiled with {}", flags.join(" "));
        let mut exp = expected.clone();
        if debug {
            exp.push(&at_line);
        }
        expect_failure(&out, &what, &exp);
        names_construct(&out, &what);
        assert!(!dir.join("out.ll").exists(), "{what}: an output was written although differentiation failed");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

macro_rules! bad_c {
    ($($test:ident: $case:expr;)*) => {
        $(
            #[test]
            fn $test() {
                check_c(&$case);
            }
        )*
    };
}

bad_c! {
    callers_disagree_on_copied_type: BadC {
        name: "copy_types",
        src: "#include <string.h>
extern int enzyme_dup, enzyme_const;
void __enzyme_autodiff(void *, ...);
__attribute__((noinline)) void copy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
int main(void) {
  double x[2] = {1, 2}, dx[2] = {0}, y[2], dy[2] = {1, 1};
  float fx[2] = {1, 2}, dfx[2] = {0}, fy[2], dfy[2] = {1, 1};
  __enzyme_autodiff((void *)copy, enzyme_dup, y, dy, enzyme_dup, x, dx, enzyme_const, sizeof x);
  __enzyme_autodiff((void *)copy, enzyme_dup, fy, dfy, enzyme_dup, fx, dfx, enzyme_const, sizeof fx); /* HERE */
  return (int)(dx[0] + dfx[0]);
}
",
        function: "main",
        message: &["this call passes memory holding `float` as parameter 1 of `copy`, whose derivative was made for `double`"],
        construct: "@__enzyme_autodiff(",
    };
    tape_memory_too_small: BadC {
        name: "small_tape",
        src: "extern int enzyme_dup, enzyme_allocated, enzyme_tape;
void __enzyme_augmentfwd(void *, ...);
void square(const double *x, double *y) { *y = *x * *x; }
int main(void) {
  double x = 3, dx = 0, y, dy = 1;
  char memory[4];
  __enzyme_augmentfwd((void *)square, enzyme_allocated, 4, enzyme_tape, memory, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy); /* HERE */
  return (int)dx;
}
",
        function: "main",
        message: &["`enzyme_allocated` gives 4 byte(s) of tape memory to `__enzyme_augmentfwd`, but RadX's tape takes 8"],
        construct: "@__enzyme_augmentfwd(",
    };
    tape_size_without_memory: BadC {
        name: "no_tape_memory",
        src: "extern int enzyme_dup, enzyme_allocated;
void __enzyme_augmentfwd(void *, ...);
void square(const double *x, double *y) { *y = *x * *x; }
int main(void) {
  double x = 3, dx = 0, y, dy = 1;
  __enzyme_augmentfwd((void *)square, enzyme_allocated, 8, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy); /* HERE */
  return (int)dx;
}
",
        function: "main",
        message: &["`enzyme_allocated` in `__enzyme_augmentfwd` gives the size of the caller's tape memory, but no `enzyme_tape, memory` follows"],
        construct: "@__enzyme_augmentfwd(",
    };
    external_function_without_rule: BadC {
        name: "mystery",
        src: "extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
extern double mystery(double);
double f(double x) {
  double y = x * x;
  return mystery(y) + 1.0; /* HERE */
}
int main(void) { return (int)__enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0); }
",
        function: "f",
        message: &["no derivative rule for the external function `mystery`"],
        construct: "@mystery(",
    };
    external_function_in_a_callee: BadC {
        name: "nested",
        src: "extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
extern double mystery(double);
__attribute__((noinline)) static double g(double y) {
  return mystery(y * 2.0); /* HERE */
}
double f(double x) { return g(x) * x; }
int main(void) { return (int)__enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0); }
",
        function: "g",
        message: &["no derivative rule for the external function `mystery`"],
        construct: "@mystery(",
    };
    first_argument_missing: BadC {
        name: "nofn",
        src: "double __enzyme_fwddiff();
int main(void) {
  return (int)__enzyme_fwddiff(); /* HERE */
}
",
        function: "main",
        message: &["`__enzyme_fwddiff` needs the function to differentiate as its first argument"],
        construct: "@__enzyme_fwddiff()",
    };
    first_argument_a_loaded_function_pointer: BadC {
        name: "fnptr",
        src: "extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double sq(double x) { return x * x; }
double (*fp)(double) = sq;
int main(void) {
  return (int)__enzyme_fwddiff((void *)fp, enzyme_dup, 2.0, 1.0); /* HERE */
}
",
        function: "main",
        message: &["the first argument of `__enzyme_fwddiff` must be a function", "load ptr, ptr @fp"],
        construct: "@__enzyme_fwddiff(",
    };
    first_argument_only_declared: BadC {
        name: "declared",
        src: "extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
extern double h(double);
int main(void) {
  return (int)__enzyme_fwddiff((void *)h, enzyme_dup, 2.0, 1.0); /* HERE */
}
",
        function: "main",
        message: &["`h` is only declared here; its body is needed"],
        construct: "@__enzyme_fwddiff(",
    };
    shadow_missing: BadC {
        name: "noshadow",
        src: "extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double f(double x, double y) { return x * y; }
int main(void) {
  return (int)__enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0, enzyme_dup, 3.0); /* HERE */
}
",
        function: "main",
        message: &["too few arguments", "parameter 2 (`double`) of `f` needs 1 shadow(s), found 0"],
        construct: "@__enzyme_fwddiff(",
    };
    shadow_missing_for_width: BadC {
        name: "nowidthshadow",
        src: "extern int enzyme_dup, enzyme_width;
double __enzyme_fwddiff(void *, ...);
double f(double *x) { return x[0] * x[1]; }
int main(void) {
  double x[2] = {1, 2}, d0[2] = {1, 0};
  return (int)__enzyme_fwddiff((void *)f, enzyme_width, 2, enzyme_dup, x, d0); /* HERE */
}
",
        function: "main",
        message: &["parameter 1 (`ptr`) of `f` needs 2 shadow(s), found 1"],
        construct: "@__enzyme_fwddiff(",
    };
    too_many_arguments: BadC {
        name: "toomany",
        src: "extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double f(double x) { return x * x; }
int main(void) {
  return (int)__enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0, 3.0); /* HERE */
}
",
        function: "main",
        message: &["too many arguments: `f` takes 1 parameter(s)", "double 3.0"],
        construct: "@__enzyme_fwddiff(",
    };
    enzyme_out_in_forward_mode: BadC {
        name: "outmarker",
        src: "extern int enzyme_out;
double __enzyme_fwddiff(void *, ...);
double f(double x) { return x * x; }
int main(void) {
  return (int)__enzyme_fwddiff((void *)f, enzyme_out, 2.0); /* HERE */
}
",
        function: "main",
        message: &["`enzyme_out` is a reverse-mode marker", "parameter 1 (`double`) of `f`"],
        construct: "@__enzyme_fwddiff(",
    };
    float_promoted_to_double: BadC {
        name: "promoted",
        src: "extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
float f(float x) { return x * x; }
int main(void) {
  float x = 2.0f, dx = 1.0f;
  return (int)__enzyme_fwddiff((void *)f, enzyme_dup, x, dx); /* HERE */
}
",
        function: "main",
        message: &["parameter 1 (`float`) of `f` receives a `double` but expects `float`", "fixed-arity prototype"],
        construct: "@__enzyme_fwddiff(",
    };
    unknown_marker: BadC {
        name: "unknownmarker",
        src: "extern int enzyme_dupp;
double __enzyme_fwddiff(void *, ...);
double f(double x) { return x * x; }
int main(void) {
  return (int)__enzyme_fwddiff((void *)f, enzyme_dupp, 2.0, 1.0); /* HERE */
}
",
        function: "main",
        message: &["unknown activity marker `enzyme_dupp`"],
        construct: "@__enzyme_fwddiff(",
    };
    width_not_constant: BadC {
        name: "width",
        src: "extern int enzyme_dup, enzyme_width;
double __enzyme_fwddiff(void *, ...);
double f(double x) { return x * x; }
int main(int argc, char **argv) {
  (void)argv;
  return (int)__enzyme_fwddiff((void *)f, enzyme_width, argc, enzyme_dup, 2.0, 1.0); /* HERE */
}
",
        function: "main",
        message: &["`enzyme_width` must be followed by a constant width"],
        construct: "@__enzyme_fwddiff(",
    };
    result_shape_mismatch: BadC {
        name: "shape",
        src: "extern int enzyme_dup;
typedef struct { double a, b, c; } d3;
d3 __enzyme_fwddiff_d3(void *, ...);
double f(double x) { return x * x; }
int main(void) {
  d3 r = __enzyme_fwddiff_d3((void *)f, enzyme_dup, 2.0, 1.0); /* HERE */
  return (int)r.a;
}
",
        function: "main",
        message: &["`__enzyme_fwddiff_d3` is declared to return", "the derivative of `f` produces 1 value(s)"],
        construct: "@__enzyme_fwddiff_d3(",
    };
    sret_result_of_the_wrong_size: BadC {
        name: "sretsize",
        src: "extern int enzyme_dup;
typedef struct { double x, y, z; } vec3;
typedef struct { vec3 a, b; } vec3x2;
vec3x2 __enzyme_fwddiff_v2(void *, ...);
vec3 make(double t) { vec3 v = {t, t * t, t * t * t}; return v; }
int main(void) {
  vec3x2 r = __enzyme_fwddiff_v2((void *)make, enzyme_dup, 2.0, 1.0); /* HERE */
  return (int)r.a.x;
}
",
        function: "main",
        message: &["`__enzyme_fwddiff_v2` is declared to return", "(48 bytes), but `make` returns", "(24 bytes) through a hidden pointer"],
        construct: "@__enzyme_fwddiff_v2(",
    };
    variadic_function: BadC {
        name: "variadic",
        src: "extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double f(double x, ...) { return x * x; }
int main(void) {
  return (int)__enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0); /* HERE */
}
",
        function: "main",
        message: &["`f` is variadic"],
        construct: "@__enzyme_fwddiff(",
    };
    realloc_of_memory_from_outside: BadC {
        name: "realloc",
        src: "#include <stdlib.h>
extern int enzyme_dup, enzyme_const;
void __enzyme_autodiff(void *, ...);
double *grow(double *x, int n) {
  x = realloc(x, (size_t)(2 * n) * sizeof(double)); /* HERE */
  for (int i = 0; i < n; i++) x[n + i] = x[i] * x[i];
  return x;
}
int main(void) {
  double *x = calloc(2, sizeof(double)), *dx = calloc(2, sizeof(double));
  __enzyme_autodiff((void *)grow, enzyme_dup, x, dx, enzyme_const, 2);
  return 0;
}
",
        function: "grow",
        message: &["`realloc` of memory this function did not allocate"],
        construct: "@realloc(",
    };
    indirect_call_with_active_argument: BadC {
        name: "indirect",
        src: "extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double sq(double x) { return x * x; }
double (*volatile fp)(double) = sq;
double f(double x) {
  return fp(x) + 1.0; /* HERE */
}
int main(void) { return (int)__enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0); }
",
        function: "f",
        message: &["an indirect call", "receives the active value"],
        construct: "call double %",
    };
}

#[test]
fn every_bad_call_is_reported_not_only_the_first() {
    let dir = scratch("several");
    let src = "extern int enzyme_dup, enzyme_out;
double __enzyme_fwddiff(void *, ...);
double f(double x) { return x * x; }
int main(void) {
  double a = __enzyme_fwddiff((void *)f, enzyme_dup, 2.0); /* first */
  double b = __enzyme_fwddiff((void *)f, enzyme_out, 2.0); /* second */
  return (int)(a + b);
}
";
    std::fs::write(dir.join("several.c"), src).unwrap();
    let out = radx(&["cc", "-g", "several.c", "-o", "prog"], &dir);
    expect_failure(&out, "radx cc several.c", &["several.c:5:", "several.c:6:", "too few arguments", "`enzyme_out` is a reverse-mode marker"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// IR that does not parse, or parses but is not a valid module, or is not IR at all.
#[test]
fn malformed_modules() {
    let dir = scratch("malformed");
    let cases: &[(&str, &str, &[&str])] = &[
        ("syntax.ll", "define double @f(double %x) {\n  %y = fmul double %x,\n  ret double %y\n}\n", &["`syntax.ll` is not valid LLVM IR", "syntax.ll:3:"]),
        ("types.ll", "define i32 @f(double %x) {\nentry:\n  ret double %x\n}\n", &["`types.ll` is not valid LLVM IR", "types.ll:3:", "result type"]),
        (
            "dominance.ll",
            "define double @f(double %x) {\nentry:\n  br label %b\nb:\n  %y = fmul double %x, %z\n  %z = fadd double %y, 1.0\n  ret double %z\n}\n",
            &["`dominance.ll` is not a valid module", "does not dominate all uses", "%y = fmul double %x, %z"],
        ),
        ("garbage.bc", "BC\u{c0}\u{de} this is not bitcode", &["`garbage.bc` is not valid LLVM IR"]),
    ];
    for (file, text, expected) in cases {
        std::fs::write(dir.join(file), text).unwrap();
        let out = radx(&["opt", file, "-o", "out.ll"], &dir);
        expect_failure(&out, &format!("radx opt {file}"), expected);
        // radx cc hands IR inputs to the same reader.
        let out = radx(&["cc", "-c", file, "-o", "out.o"], &dir);
        expect_failure(&out, &format!("radx cc -c {file}"), expected);
    }
    let out = radx(&["opt", "does-not-exist.ll", "-o", "out.ll"], &dir);
    expect_failure(&out, "radx opt on a missing file", &["cannot read `does-not-exist.ll`"]);
    assert!(!dir.join("out.ll").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Hand-written IR: a magic call with no arguments at all, and a first argument that is
/// not a function but a global variable, with debug locations.
#[test]
fn malformed_magic_calls_in_ir() {
    let dir = scratch("ir-calls");
    let ir = r#"@enzyme_dup = external global i32
@table = global [2 x double] [double 1.0, double 2.0]
declare double @__enzyme_fwddiff(...)

define double @caller(double %x) !dbg !5 {
  %a = call double (...) @__enzyme_fwddiff(), !dbg !8
  %m = load i32, ptr @enzyme_dup
  %b = call double (...) @__enzyme_fwddiff(ptr @table, i32 %m, double %x, double 1.0), !dbg !9
  %s = fadd double %a, %b
  ret double %s
}

!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!3, !4}
!0 = distinct !DICompileUnit(language: DW_LANG_C99, file: !1, producer: "hand", isOptimized: false, runtimeVersion: 0, emissionKind: FullDebug)
!1 = !DIFile(filename: "calls.c", directory: "/src")
!2 = !DISubroutineType(types: !{})
!3 = !{i32 2, !"Debug Info Version", i32 3}
!4 = !{i32 7, !"Dwarf Version", i32 5}
!5 = distinct !DISubprogram(name: "caller", scope: !1, file: !1, line: 10, type: !2, unit: !0)
!8 = !DILocation(line: 11, column: 3, scope: !5)
!9 = !DILocation(line: 12, column: 7, scope: !5)
"#;
    std::fs::write(dir.join("calls.ll"), ir).unwrap();
    let out = radx(&["opt", "calls.ll", "-o", "out.ll"], &dir);
    expect_failure(
        &out,
        "radx opt calls.ll",
        &[
            "calls.c:11:3: error: `__enzyme_fwddiff` needs the function to differentiate as its first argument",
            "calls.c:12:7: error: the first argument of `__enzyme_fwddiff` must be a function, but it is `@table",
            "in function `caller`",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// OpenMP constructs whose work the runtime runs through function pointers (tasks, teams)
/// are refused with a diagnostic naming the runtime call, never differentiated silently.
#[test]
fn openmp_tasks_and_teams_are_refused() {
    let cases = [
        (
            "omp_task",
            "#include <math.h>
extern int enzyme_dup, enzyme_const;
void __enzyme_autodiff(void *, ...);
void f(const double *x, double *y, int n) {
#pragma omp parallel
#pragma omp single
  for (int i = 0; i < n; i++) {
#pragma omp task firstprivate(i) /* HERE */
    y[i] = sin(x[i]);
  }
}
int main(void) {
  double x[2] = {1, 2}, dx[2] = {0}, y[2], dy[2] = {1, 1};
  __enzyme_autodiff((void *)f, enzyme_dup, x, dx, enzyme_dup, y, dy, enzyme_const, 2);
  return 0;
}
",
            "`#pragma omp task` (`__kmpc_omp_task_alloc`) cannot be differentiated",
            "@__kmpc_omp_task_alloc(",
        ),
        (
            "omp_teams",
            "#include <math.h>
extern int enzyme_dup, enzyme_const;
void __enzyme_autodiff(void *, ...);
void f(const double *x, double *y, int n) {
#pragma omp teams distribute parallel for /* HERE */
  for (int i = 0; i < n; i++) y[i] = sin(x[i]);
}
int main(void) {
  double x[2] = {1, 2}, dx[2] = {0}, y[2], dy[2] = {1, 1};
  __enzyme_autodiff((void *)f, enzyme_dup, x, dx, enzyme_dup, y, dy, enzyme_const, 2);
  return 0;
}
",
            "`#pragma omp teams` (`__kmpc_fork_teams`) cannot be differentiated",
            "@__kmpc_fork_teams(",
        ),
    ];
    for (name, src, message, construct) in cases {
        let dir = scratch(name);
        let file = format!("{name}.c");
        std::fs::write(dir.join(&file), src).unwrap();
        let line = src.lines().position(|l| l.contains("/* HERE */")).unwrap() + 1;
        let at_line = format!("{file}:{line}:");
        for (flags, debug) in [(&["-O0", "-g"][..], true), (&["-O2"][..], false)] {
            let mut args = vec!["cc", "-fopenmp"];
            args.extend(flags);
            args.extend([file.as_str(), "-o", "prog", "-lm"]);
            let out = radx(&args, &dir);
            let what = format!("radx cc -fopenmp {} {file}", flags.join(" "));
            let mut expected = vec![message, construct];
            if debug {
                expected.push(&at_line);
            }
            expect_failure(&out, &what, &expected);
            assert!(!dir.join("prog").exists(), "{what}: a program was linked although differentiation failed");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
