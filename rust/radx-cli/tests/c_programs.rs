//! C programs differentiated end to end: each program in `tests/c/` is compiled by
//! `radx cc` (the clang of radx's LLVM underneath) at -O0 and -O2, run, and must exit with 0, which it
//! does when every derivative it computes with `__enzyme_fwddiff` matches its analytic
//! value (see `tests/c/radx_fwd.h`).

use std::path::{Path, PathBuf};
use std::process::Command;

const RADX: &str = env!("CARGO_BIN_EXE_radx");

/// The configurations every program is built in: unoptimized with debug info (each
/// local variable is a stack slot until RadX canonicalises it), optimized (vectorized,
/// inlined, aggregates split), and optimized with debug info (debug intrinsics and
/// locations must survive).
const CONFIGS: &[&[&str]] = &[&["-O0", "-g"], &["-O2"], &["-O2", "-g"]];

fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("c")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("radx-c-programs-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_program(name: &str) {
    run_program_with(name, &[]);
}

/// Builds with extra flags in every configuration (`-fopenmp`).
fn run_program_with(name: &str, extra: &[&str]) {
    let src = c_dir().join(format!("{name}.c"));
    assert!(src.exists(), "{} is missing", src.display());
    let dir = scratch(name);
    let mut failures = Vec::new();
    for cfg in CONFIGS {
        let exe = dir.join(format!("{name}{}", cfg.join("")));
        let out = Command::new(RADX)
            .arg("cc")
            .args(*cfg)
            .args(extra)
            .args(["-Wall", "-I"])
            .arg(c_dir())
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .arg("-lm")
            .output()
            .expect("run radx cc");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "radx cc panicked on {name}.c {cfg:?}:\n{stderr}");
        if !out.status.success() {
            failures.push(format!("radx cc {} {name}.c failed ({}):\n{stderr}", cfg.join(" "), out.status));
            continue;
        }
        let run = Command::new(&exe).output().expect("run the compiled program");
        let text = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        if run.status.code() != Some(0) {
            failures.push(format!("{name}.c built with {} exited with {}:\n{text}", cfg.join(" "), run.status));
        } else {
            assert!(text.contains(": ok ("), "{name}.c {cfg:?} exited with 0 without reporting its checks:\n{text}");
            eprint!("[{}] {text}", cfg.join(" "));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

macro_rules! programs {
    ($($name:ident),* $(,)?) => {
        const PROGRAMS: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                run_program(stringify!($name));
            }
        )*
    };
}

programs!(scalar_chain, tape_memory, caller_types, vectors, structs, arrays_loops, control, memory, calls, pointers, inactive, width, floats, globals, realloc, mixed_copy, scratch_array, joins, inlined_helpers, vector_fill, cache_choice, dead_adjoints, merged_shadows, helper_writes, cancellation, cancelled_factors, triangle_update, remainder_reverse, atomics);

/// Programs that need extra flags in every configuration.
const PROGRAMS_WITH_FLAGS: &[(&str, &[&str])] = &[("openmp", &["-fopenmp"]), ("fast_math", &["-ffast-math"]), ("blas", &["-lopenblas"]), ("blas_gemv", &["-lopenblas"])];

/// Parallel regions, differentiated serialized (rules/openmp.rs in radx-core).
#[test]
fn openmp() {
    run_program_with("openmp", PROGRAMS_WITH_FLAGS[0].1);
}

/// Vectorized reductions (`llvm.vector.reduce.*`), which only -ffast-math lets clang form.
#[test]
fn fast_math() {
    run_program_with("fast_math", PROGRAMS_WITH_FLAGS[1].1);
}

/// BLAS level 1 rules (rules/blas.rs in radx-core) against OpenBLAS, which deps/setup.sh
/// installs.
#[test]
fn blas() {
    run_program_with("blas", PROGRAMS_WITH_FLAGS[2].1);
}

/// gemv in both layouts and transposes, against finite differences.
#[test]
fn blas_gemv() {
    run_program_with("blas_gemv", PROGRAMS_WITH_FLAGS[3].1);
}

/// A program added to `tests/c/` must be listed above, or it would never run.
#[test]
fn every_program_is_listed() {
    let mut unlisted = Vec::new();
    for e in std::fs::read_dir(c_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) == Some("c") {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_string();
            if !PROGRAMS.contains(&stem.as_str()) && !PROGRAMS_WITH_FLAGS.iter().any(|(p, _)| *p == stem) {
                unlisted.push(stem);
            }
        }
    }
    assert!(unlisted.is_empty(), "add these programs to `programs!` in c_programs.rs: {unlisted:?}");
}

/// What `radx cc --radx-stats` says about compiling `tests/c/{program}.c`.
fn radx_stats(program: &str, opt: &str, extra: &[&str]) -> String {
    radx_stats_of(&c_dir().join(format!("{program}.c")), &c_dir(), &[&[opt], extra].concat())
}

fn radx_stats_of(src: &Path, include: &Path, args: &[&str]) -> String {
    let stem = src.file_stem().unwrap().to_str().unwrap().to_string();
    let dir = scratch(&format!("{stem}-stats"));
    let out = Command::new(RADX)
        .args(["cc", "-c", "--radx-stats"])
        .args(args)
        .arg("-I")
        .arg(include)
        .arg(src)
        .arg("-o")
        .arg(dir.join(format!("{stem}.o")))
        .output()
        .expect("run radx cc");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
    text
}

/// The LLVM text `radx cc -O2 -S -emit-llvm` makes of `tests/c/{program}.c`.
fn optimized_ir(program: &str, extra: &[&str]) -> String {
    let dir = scratch(&format!("{program}-ir"));
    let ll = dir.join(format!("{program}.ll"));
    let out = Command::new(RADX)
        .args(["cc", "-O2", "-S", "-emit-llvm", "-I"])
        .arg(c_dir())
        .arg(c_dir().join(format!("{program}.c")))
        .args(extra)
        .arg("-o")
        .arg(&ll)
        .output()
        .expect("run radx cc");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&ll).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    text
}

/// The values `scratch_objective` caches, as `radx cc --radx-stats` lists them.
fn cached_values(extra: &[&str]) -> Vec<String> {
    let text = radx_stats("scratch_array", "-O0", extra);
    text.lines().filter(|l| l.trim_start().starts_with("cached:")).map(|l| l.trim().to_string()).collect()
}

/// Bytes the reverse of `function` pushes per call and per iteration of each loop,
/// summed, from the `tape:` line of `radx cc --radx-stats`.
fn tape_bytes(text: &str, function: &str) -> u64 {
    let mut lines = text.lines().skip_while(|l| !l.trim_start().starts_with(&format!("diffe{function} ")));
    lines.next().unwrap_or_else(|| panic!("no derivative of {function} in:\n{text}"));
    let tape = lines.next().filter(|l| l.trim_start().starts_with("tape:")).unwrap_or_else(|| panic!("no tape line for {function} in:\n{text}"));
    tape.split(',').map(|part| part.split_whitespace().find_map(|w| w.parse::<u64>().ok()).unwrap_or(0)).sum()
}

/// The loads `diffe{function}`'s stats list as cached.
fn cached_loads(text: &str, function: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with(&format!("diffe{function} ")))
        .skip(1)
        .take_while(|l| l.starts_with("      "))
        .filter(|l| l.trim_start().starts_with("cached:") && l.contains("= load"))
        .map(|l| l.trim().to_string())
        .collect()
}

/// A helper kept out of line is read for what it writes: one that calls lgamma and writes
/// only its scratch argument leaves the caller's reads repeatable, one that overwrites
/// the caller's array makes them cached (helper_writes.c checks both gradients).
#[test]
fn reads_before_an_out_of_line_helper_are_cached_only_when_it_overwrites_them() {
    for opt in ["-O0", "-O2"] {
        let text = radx_stats("helper_writes", opt, &[]);
        assert!(cached_loads(&text, "keeps_reads").is_empty(), "{opt}: reads before `penalty` were cached:\n{text}");
        assert!(!cached_loads(&text, "overwrites_reads").is_empty(), "{opt}: reads before `rescale` must be cached:\n{text}");
    }
}

/// Store forwarding: the reads of the refilled scratch array are re-derived from `x` and
/// `mu`, so nothing read from memory is recorded; without it every read is.
#[test]
fn scratch_reads_are_recomputed_not_recorded() {
    let with = cached_values(&[]);
    assert!(!with.iter().any(|l| l.contains("load double")), "reads of the scratch array were cached: {with:#?}");
    let without = cached_values(&["--radx-disable=forward-stores"]);
    assert!(without.iter().any(|l| l.contains("load double")), "without forwarding the reads should be cached: {without:#?}");
}

/// Store forwarding through a vectorized fill: at -O2 clang fills the scratch array with a
/// vector loop and a scalar remainder; the vectorized read, the triangle's column reads and
/// their remainders are all re-derived from `x` and `mu`: none of them is recorded (the
/// reads of `y`, which several loops write, still are).
#[test]
fn reads_after_a_vectorized_fill_are_recomputed_not_recorded() {
    if radx_core::ir::llvm::MAJOR == 15 {
        // clang-15 unrolls the vector fill twice over with a second counter, a shape the
        // forwarding does not follow: the reads are recorded (more tape, same derivative,
        // which the program's own checks confirm on every version).
        eprintln!("skipped on LLVM 15: clang-15's vectorized fill is unrolled into a shape store forwarding does not follow");
        return;
    }
    let cached = |extra: &[&str]| -> Vec<String> {
        radx_stats("vector_fill", "-O2", extra).lines().filter(|l| l.trim_start().starts_with("cached:") && l.contains("= load")).map(|l| l.trim().to_string()).collect()
    };
    let with = cached(&[]);
    let without = cached(&["--radx-disable=forward-stores"]);
    assert!(without.iter().any(|l| l.contains("<2 x double>")), "without forwarding the vector reads should be cached: {without:#?}");
    assert!(with.len() < without.len() && !with.iter().any(|l| l.contains("<2 x double>")), "reads of the filled array were cached: {with:#?}");
}

/// The reverse sweep tells LLVM that its stores (into shadows, slots, the tape) do not
/// change the primal memory it reads again (`x`, `mu`, `L` of vector_fill.c): those reads
/// carry a scope, the stores `noalias` with it, so LLVM may hoist the reads out of the
/// reverse loops.
#[test]
fn reverse_stores_are_declared_apart_from_read_only_primal_memory() {
    let text = optimized_ir("vector_fill", &[]);
    let scoped_loads = text.lines().filter(|l| l.contains(" load ") && l.contains("!alias.scope")).count();
    let noalias_stores = text.lines().filter(|l| l.trim_start().starts_with("store ") && l.contains("!noalias")).count();
    assert!(scoped_loads > 0 && noalias_stores > 0, "{scoped_loads} scoped loads, {noalias_stores} noalias stores");
    // The read half of each `shadow[p] += d` is declared apart too (else the vectorizer
    // checks it against the read-only loads at run time).
    let noalias_loads = text.lines().filter(|l| l.contains(" = load ") && l.contains("!noalias") && !l.contains("!alias.scope")).count();
    assert!(noalias_loads > 0, "no shadow load is declared apart from the read-only loads");
    // The primal function itself is untouched.
    let primal: String = text.lines().skip_while(|l| !l.starts_with("define dso_local double @fill_objective")).take_while(|l| *l != "}").collect();
    assert!(!primal.contains("!noalias") && !primal.contains("!alias.scope"), "the primal function got alias metadata");
}

/// Joins: which way the branches inside the loops went (and the phis that depend on it,
/// such as where the vectorized triangular loop's remainder starts) is recomputed from
/// the loop counters in the reverse sweep; without it each visit records its predecessor.
#[test]
fn join_entries_are_recomputed_not_recorded() {
    let with = tape_bytes(&radx_stats("joins", "-O2", &[]), "triangular");
    let without = tape_bytes(&radx_stats("joins", "-O2", &["--radx-disable=joins"]), "triangular");
    assert!(with < without, "joins should shrink the tape: {with} B with, {without} B without");
}

/// Joins whose incoming values read the loop iteration's own cache: in GMM's shape the
/// remainder of each column starts at the column's running index plus what the vector loop
/// did (a phi of two computed values). It is rebuilt from the running index, which the
/// column records anyway, instead of being recorded too; without joins it is recorded.
#[test]
fn remainder_starts_are_rebuilt_from_the_running_index() {
    let computed_phis = |extra: &[&str]| -> Vec<String> {
        let text = radx_stats("joins", "-O2", extra);
        let section = text.lines().skip_while(|l| !l.trim_start().starts_with("differows_through_triangle ")).skip(1).take_while(|l| !l.trim_start().starts_with("diffe"));
        section
            .filter(|l| l.contains("cached:") && l.contains("= phi i"))
            .filter(|l| !l.split('[').skip(1).any(|arm| arm.trim_start().split(',').next().map(|v| v.trim().parse::<i64>().is_ok()).unwrap_or(false)))
            .map(|l| l.trim().to_string())
            .collect()
    };
    // The vector loop and its remainder are the shape under test, so they are kept.
    let with = computed_phis(&["--radx-disable=scalar-shifted-updates"]);
    assert!(with.is_empty(), "phis of computed values were recorded: {with:#?}");
    let without = computed_phis(&["--radx-disable=joins,scalar-shifted-updates"]);
    assert!(!without.is_empty(), "without joins the remainder's start should be recorded");
}

/// Merged caches: in GMM's objective (the benchmark's source, at -O2, where clang has
/// vectorized the triangle, kept vectorized here) each entry of the scratch vector is needed by the reverse of
/// both the vector loop and the remainder of its column; it is pushed once per column.
#[test]
fn values_several_blocks_of_an_iteration_need_are_pushed_once() {
    let benches = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches");
    let stats = |extra: &[&str]| radx_stats_of(&benches.join("gmm/gmm.c"), &benches.join("common"), &[&["-O2", "-fno-math-errno"], extra].concat());
    let with = tape_bytes(&stats(&["--radx-disable=scalar-shifted-updates"]), "gmm_objective");
    let without = tape_bytes(&stats(&["--radx-disable=merge-caches,scalar-shifted-updates"]), "gmm_objective");
    assert!(with < without, "merging should shrink the tape: {with} B with, {without} B without");
}

/// Min-cut: with the running maximum's comparisons cached (a byte each, packed) instead of
/// the elements and maxima they are recomputed from, and one shared read cached instead of
/// the two products made of it, both functions of cache_choice.c push less per iteration.
#[test]
fn caches_are_chosen_by_a_minimum_cut() {
    for function in ["running_max", "shared_read"] {
        let with = tape_bytes(&radx_stats("cache_choice", "-O2", &[]), function);
        let without = tape_bytes(&radx_stats("cache_choice", "-O2", &["--radx-disable=min-cut"]), function);
        assert!(with < without, "{function}: {with} B with min-cut, {without} B without");
    }
    let text = radx_stats("cache_choice", "-O2", &[]);
    let section: Vec<&str> = text.lines().skip_while(|l| !l.trim_start().starts_with("diffeshared_read ")).skip(1).take_while(|l| !l.trim_start().starts_with("diffe")).collect();
    assert!(section.iter().all(|l| !(l.contains("cached:") && l.contains("fmul"))), "the products should be recomputed: {section:#?}");
}

/// Dead adjoints: the norm that only decides a branch and the residual that is only
/// counted get no adjoint, so the square root and exponential results are not cached.
#[test]
fn adjoints_that_reach_no_output_are_skipped() {
    let cached = |extra: &[&str]| -> Vec<String> {
        radx_stats("dead_adjoints", "-O2", extra).lines().filter(|l| l.contains("cached:")).map(|l| l.trim().to_string()).collect()
    };
    // The libm call, or the intrinsic newer clangs turn it into.
    let calls = |l: &str, f: &str| l.contains(&format!("@{f}(")) || l.contains(&format!("@llvm.{f}."));
    let with = cached(&[]);
    assert!(with.iter().all(|l| !calls(l, "sqrt") && !calls(l, "exp")), "dead adjoints' values were cached: {with:#?}");
    let without = cached(&["--radx-disable=dead-adjoints"]);
    assert!(without.iter().any(|l| calls(l, "sqrt")), "without the analysis the square root is cached: {without:#?}");
}

/// Merged shadow allocations: the scratch blocks of merged_shadows.c get their shadows
/// from their own allocation, so the optimized module calls `malloc` (and `free`) fewer
/// times than with the merge off.
#[test]
fn scratch_blocks_share_one_allocation_with_their_shadows() {
    let calls = |extra: &[&str]| -> (usize, usize) {
        let ir = optimized_ir("merged_shadows", extra);
        let count = |callee: &str| ir.lines().filter(|l| l.contains("call") && l.contains(callee)).count();
        (count("@malloc("), count("@free("))
    };
    let (with_malloc, with_free) = calls(&[]);
    let (without_malloc, without_free) = calls(&["--radx-disable=merge-shadows"]);
    assert!(with_malloc < without_malloc, "malloc calls: {with_malloc} merged, {without_malloc} not");
    assert!(with_free < without_free, "free calls: {with_free} merged, {without_free} not");
}

/// Inlining: the small helpers of inlined_helpers.c become part of the caller's
/// derivative (no split derivative of their own), the recursive one keeps its own; with
/// inlining off every helper gets an augmented forward and a reverse.
#[test]
fn small_helpers_are_inlined_before_differentiating() {
    let split_of = |text: &str| -> Vec<String> {
        text.lines().filter_map(|l| l.split_whitespace().next().filter(|w| w.starts_with("augmented_")).map(str::to_string)).collect()
    };
    let with = split_of(&radx_stats("inlined_helpers", "-O0", &[]));
    assert_eq!(with, ["augmented_power"], "only the recursive helper should keep a split derivative");
    let mut without = split_of(&radx_stats("inlined_helpers", "-O0", &["--radx-disable=inline"]));
    without.sort();
    assert_eq!(without, ["augmented_power", "augmented_square", "augmented_weighted_norm2"]);
}

/// The vector stores of the prepared copy `RADX_PRINT_PREPARED` shows for `function`.
fn prepared_vector_stores(program: &str, function: &str, extra: &[&str]) -> usize {
    let dir = scratch(&format!("{program}-prepared"));
    let out = Command::new(RADX)
        .args(["cc", "-O2", "-c", "-I"])
        .arg(c_dir())
        .args(extra)
        .arg(c_dir().join(format!("{program}.c")))
        .arg("-o")
        .arg(dir.join(format!("{program}.o")))
        .env("RADX_PRINT_PREPARED", "1")
        .output()
        .expect("run radx cc");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
    let body: Vec<&str> = text.lines().skip_while(|l| !(l.starts_with("define") && l.contains(&format!("{function}(")))).take_while(|l| *l != "}").collect();
    assert!(!body.is_empty(), "no prepared copy of `{function}` was printed:\n{text}");
    body.iter().filter(|l| l.trim_start().starts_with("store <")).count()
}

/// clang's vector form of the triangular update is recognized: the copy the gradient is
/// made from keeps only the scalar remainder (LLVM deletes the vector loop once its guard
/// is pinned), and switching the optimization off keeps the vector loop.
#[test]
fn a_vectorized_triangular_update_is_differentiated_through_its_scalar_remainder() {
    assert_eq!(prepared_vector_stores("triangle_update", "squared_norm_of_qx", &[]), 0);
    assert!(prepared_vector_stores("triangle_update", "squared_norm_of_qx", &["--radx-disable=scalar-shifted-updates"]) > 0);
}

/// The vectorized loops of the reverse function clang makes of `tests/c/{program}.c`.
fn vector_loops_in_derivative(program: &str, extra: &[&str]) -> usize {
    let text = optimized_ir(program, extra);
    let body: Vec<&str> = text.lines().skip_while(|l| !(l.starts_with("define") && l.contains("@diffe"))).take_while(|l| *l != "}").collect();
    assert!(!body.is_empty(), "no derivative in:\n{text}");
    body.iter().filter(|l| l.starts_with("vector.body")).count()
}

/// The forward sweep runs the triangular update vectorized again once peeled to an aligned
/// start, and the update's reverse, whose sum into `x̄[i]` may be reassociated, is vectorized
/// too; with both switched off the derivative has no vector loop for them. (The derivative
/// is inlined into its one caller, so the whole module's vector loops are counted: the
/// primal's are the same in every configuration.)
#[test]
fn the_triangular_update_is_vectorized_aligned_forward_and_reassociated_in_reverse() {
    let vector_loops = |extra: &[&str]| optimized_ir("triangle_update", extra).lines().filter(|l| l.starts_with("vector.body")).count();
    let both = vector_loops(&[]);
    let unpeeled = vector_loops(&["--radx-disable=aligned-shifted-updates"]);
    let neither = vector_loops(&["--radx-disable=aligned-shifted-updates,reassoc-sums"]);
    // (LLVM 15 vectorizes one loop more with both on.)
    assert!(both >= neither + 2, "vector loops: both {both}, neither {neither}");
    assert_eq!(unpeeled, neither, "without the peel the reverse stays marked scalar: {unpeeled} vs {neither}");
    let reassociated = |extra: &[&str]| optimized_ir("triangle_update", extra).lines().filter(|l| l.contains("fadd reassoc")).count();
    assert!(reassociated(&[]) > 0);
    assert_eq!(reassociated(&["--radx-disable=reassoc-sums"]), 0);
}

/// The reverse of the scalar remainder clang leaves after a vector loop is marked vectorized
/// too: LLVM vectorizes it again only with the optimization switched off.
#[test]
fn the_reverse_of_a_vectorizer_remainder_is_not_vectorized_again() {
    let marked = vector_loops_in_derivative("remainder_reverse", &[]);
    let unmarked = vector_loops_in_derivative("remainder_reverse", &["--radx-disable=vectorizer-marks"]);
    assert_eq!(unmarked, marked + 1, "vector loops with marks {marked}, without {unmarked}");
}

/// `pow(x, i) / i` over a counter from 1: forward and reverse derivatives drop the
/// multiplication by `i` and the division by it (rules/cancel.rs in radx-core); switched
/// off, or where the counter may be 0, both stay. `cancelled_factors.c` checks the values.
#[test]
fn factors_cancel_against_divisions_by_provably_nonzero_values() {
    let divisions = |extra: &[&str]| optimized_ir("cancelled_factors", extra).lines().filter(|l| l.contains(" = fdiv ")).count();
    let (on, off) = (divisions(&[]), divisions(&["--radx-disable=cancel-factors"]));
    assert!(on + 10 <= off, "divisions with cancel-factors {on}, without {off}");
}
