//! Differentiated executables under valgrind: no leaked tapes or shadows, no invalid reads or
//! writes, no use of uninitialised values.
//!
//! A representative set of the conformance suite (`../shared/conformance` beside the
//! repository) is built with `radx cc` at -O0 and -O2 and each executable is run under
//! `valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99`.
//! The programs check their own derivatives, so the run must exit with 0: 99 means valgrind
//! found an error, anything else a wrong derivative. The set covers heap temporaries
//! (malloc/calloc/free and their shadows), split mode (tapes handed from
//! `__enzyme_augmentfwd` to `__enzyme_reverse`, inputs overwritten in between), recursion
//! (tapes of recursive calls), loops with run-time trip counts (tapes grown per iteration),
//! data-dependent exits, memcpy and memset, stack arrays, struct returns (in registers and
//! through sret), pointers to pointers, and forward-over-reverse (higher order).
//!
//! Skipped, with a message, when valgrind is not installed (`deps/setup.sh` installs it) or
//! the conformance suite is absent.

use std::path::{Path, PathBuf};
use std::process::Command;

const RADX: &str = env!("CARGO_BIN_EXE_radx");
const OPT_LEVELS: &[&str] = &["-O0", "-O2"];

fn suite() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    if dir.join("radx_test.h").exists() {
        return Some(dir.canonicalize().unwrap_or(dir));
    }
    eprintln!("valgrind: SKIPPED: no conformance suite at {} (the shared files are not checked out)", dir.display());
    None
}

fn have_valgrind() -> bool {
    let ok = Command::new("valgrind").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        eprintln!("valgrind: SKIPPED: valgrind is not installed (deps/setup.sh installs it)");
    }
    ok
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("radx-valgrind-{}-{}", std::process::id(), name.replace('/', "-")));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Builds `group/name.c` at every optimisation level and runs it under valgrind.
fn check(test: &str) {
    let (Some(suite), true) = (suite(), have_valgrind()) else { return };
    let src = suite.join(format!("{test}.c"));
    assert!(src.exists(), "{} is missing from the conformance suite", src.display());
    let dir = scratch(test);
    let mut failures = Vec::new();
    for opt in OPT_LEVELS {
        let exe = dir.join(format!("{}{opt}", test.replace('/', "-")));
        let out = Command::new(RADX)
            .args(["cc", opt])
            .arg(&src)
            .arg("-I")
            .arg(&suite)
            .arg("-lm")
            .arg("-o")
            .arg(&exe)
            .output()
            .expect("run radx cc");
        if !out.status.success() {
            failures.push(format!("radx cc {opt} {test}.c failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr)));
            continue;
        }
        let run = Command::new("valgrind")
            .args(["--leak-check=full", "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99", "--track-origins=yes"])
            .arg(&exe)
            .current_dir(&dir)
            .output()
            .expect("run valgrind");
        let text = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        match run.status.code() {
            Some(0) => eprintln!("[{opt}] {test}: clean under valgrind"),
            Some(99) => failures.push(format!("{test}.c built with {opt}: valgrind reports errors (leaks or invalid accesses):\n{text}")),
            other => failures.push(format!("{test}.c built with {opt}: exited with {other:?} under valgrind (a failed derivative check or a crash):\n{text}")),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

macro_rules! valgrind_tests {
    ($($name:ident => $path:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check($path);
            }
        )*
    };
}

valgrind_tests! {
    // Heap temporaries: shadows allocated beside them and freed with them.
    malloc_temp => "memory/malloc_temp",
    // Split mode: the tape crosses from the augmented forward to the reverse and is freed.
    split_void_dup => "split/split_void_dup",
    split_active_return => "split/split_active_return",
    split_overwrite_between => "split/split_overwrite_between",
    split_chain => "split/split_chain",
    // Recursion: each call's tape is made and consumed.
    recursion_tree => "calls/recursion_tree",
    recursion_pow => "calls/recursion_pow",
    // Loops with trip counts known only at run time, and a data-dependent exit.
    runtime_trip => "loops/runtime_trip",
    while_data_exit => "loops/while_data_exit",
    nested_loops => "loops/nested",
    helper_in_loop => "calls/helper_in_loop",
    // Memory transfers and stack arrays.
    memcpy_double => "memory/memcpy_double",
    memset_double => "memory/memset_double",
    stack_array => "memory/stack_array",
    inplace_prefix_product => "memory/inplace_prefix_product",
    pointer_to_pointer => "memory/pointer_to_pointer",
    // Struct returns, in registers and through sret.
    struct_return => "calls/struct_return",
    // Forward over reverse.
    hvp_sumsq => "higher/hvp_sumsq",
    hessian_full => "higher/hessian_full",
}
