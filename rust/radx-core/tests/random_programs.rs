//! Reverse mode checked against forward mode and finite differences on random programs.
//!
//! Each program (generated as LLVM IR text by `progen`) is `void @pK(ptr %x, ptr %y, i64 %n)`:
//! it reads and writes the arrays `x` and `y`, so it maps the state `s = (x, y)` to `F(s)`.
//! Many programs share one module, which also holds, for each, a caller of
//! `__enzyme_fwddiff(@pK, enzyme_dup, x, dx, enzyme_dup, y, dy, enzyme_const, n)` and one of
//! `__enzyme_autodiff` with the same arguments; the module is lowered by
//! `radx_core::lower_module` and JIT-compiled. Then, at a random point `s` with random `n`
//! (0 a quarter of the time), tangent `ṡ` and seed `s̄`:
//! * forward mode yields `J·ṡ` in the shadows, reverse mode `Jᵀ·s̄`; both also run the primal,
//!   which must leave the same `F(s)` as the plain program;
//! * split mode (`__enzyme_augmentfwd`, then `__enzyme_reverse` with the tape, after the
//!   forward pass has overwritten the inputs) yields the same `Jᵀ·s̄` as combined mode;
//! * dot-product test: `⟨s̄, J·ṡ⟩ = ⟨Jᵀ·s̄, ṡ⟩` to 1e-10, relative to the sum of the magnitudes
//!   of the products (rounding in each is relative to that, not to a cancelled total);
//! * `J·ṡ` matches a fourth-order central difference of `F` along `ṡ`, where the program is
//!   smooth there (two step sizes agree; a branch or a rounding function near `s` is not).
//!
//! Reproduce: the run's seed is printed (`RADX_PROP_SEED=... cargo test --release -p radx-core
//! --test random_programs -- --nocapture` repeats a run); a failure prints the program's seed,
//! and `RADX_PROP_PROGRAM=<seed>` checks that program alone and prints its IR before and after
//! lowering. `RADX_PROP_COUNT` sets the number of programs, `RADX_PROP_THREADS` the workers,
//! `RADX_PROP_REPORT=<file>` writes every failure in full to a file, and `RADX_PROP_FILE=<file.ll>`
//! checks a hand-written (or hand-reduced) program `@p0` instead (see `from_file`);
//! `RADX_PROP_MODULE=<index>` runs only that module of the run (what a crash report names), and
//! `RADX_PROP_DUMP=<file.ll>` writes the (last) module after lowering; `RADX_PROP_POSTOPT=0`
//! lowers without the cleanup pipeline (a malformed derivative then fails verification, with
//! the program named, instead of crashing LLVM).

#[path = "progen/mod.rs"]
mod progen;

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::targets::{InitializationConfig, Target};
use inkwell::OptimizationLevel;
use progen::{generate, mix, Program, Rng, Stats};
use radx_core::rules::{all_rules, Rule};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 0x5241_4458_2024_0001;
const DEFAULT_PROGRAMS: usize = 6000;
/// Programs per module: one parse, one lowering and one JIT compilation for all of them.
const PER_MODULE: usize = 40;
const DOT_TOL: f64 = 1e-10;
const FD_TOL: f64 = 1e-6;
/// Programs whose results exceed this are not checked (counted as discarded).
const MAX_VALUE: f64 = 1e8;

type Kernel = unsafe extern "C" fn(*mut f64, *mut f64, i64);
type Derivative = unsafe extern "C" fn(*mut f64, *mut f64, *mut f64, *mut f64, i64);

fn env_u64(name: &str) -> Option<u64> {
    let s = std::env::var(name).ok()?;
    let s = s.trim();
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    Some(v.unwrap_or_else(|_| panic!("{name}={s} is not a number")))
}

fn module_text(progs: &[&Program]) -> String {
    let mut m = String::from(
        "@enzyme_dup = external global i32\n@enzyme_const = external global i32\n\
         declare void @__enzyme_fwddiff(ptr, ...)\ndeclare void @__enzyme_autodiff(ptr, ...)\n\
         declare ptr @__enzyme_augmentfwd(ptr, ...)\ndeclare void @__enzyme_reverse(ptr, ...)\n",
    );
    let decls: std::collections::BTreeSet<&String> = progs.iter().flat_map(|p| &p.decls).collect();
    for d in decls {
        writeln!(m, "{d}").unwrap();
    }
    for p in progs {
        m.push_str(&p.text);
        for (kind, magic) in [("fwd", "__enzyme_fwddiff"), ("rev", "__enzyme_autodiff")] {
            writeln!(
                m,
                "define void @{kind}.{name}(ptr %x, ptr %dx, ptr %y, ptr %dy, i64 %n) {{\n  %d = load i32, ptr @enzyme_dup\n  \
                 %c = load i32, ptr @enzyme_const\n  call void (ptr, ...) @{magic}(ptr @{name}, i32 %d, ptr %x, ptr %dx, i32 %d, ptr %y, ptr %dy, i32 %c, i64 %n)\n  \
                 ret void\n}}\n",
                name = p.name
            )
            .unwrap();
        }
        // Split mode: the augmented forward returns the tape, the reverse consumes it.
        writeln!(
            m,
            "define void @split.{name}(ptr %x, ptr %dx, ptr %y, ptr %dy, i64 %n) {{\n  %d = load i32, ptr @enzyme_dup\n  \
             %c = load i32, ptr @enzyme_const\n  \
             %tape = call ptr (ptr, ...) @__enzyme_augmentfwd(ptr @{name}, i32 %d, ptr %x, ptr %dx, i32 %d, ptr %y, ptr %dy, i32 %c, i64 %n)\n  \
             call void (ptr, ...) @__enzyme_reverse(ptr @{name}, i32 %d, ptr %x, ptr %dx, i32 %d, ptr %y, ptr %dy, i32 %c, i64 %n, ptr %tape)\n  \
             ret void\n}}\n",
            name = p.name
        )
        .unwrap();
    }
    m
}

/// The default options; `RADX_PROP_POSTOPT=0` skips the cleanup of generated functions, so
/// that a malformed derivative is reported by the verifier instead of crashing the cleanup.
fn options() -> radx_core::Options {
    let postopt = std::env::var("RADX_PROP_POSTOPT").map(|v| v != "0").unwrap_or(true);
    radx_core::Options { postopt, ..radx_core::Options::default() }
}

/// The IR of one program as a reader needs it: declarations and definitions.
fn program_ir(p: &Program) -> String {
    let mut s = String::new();
    for d in &p.decls {
        writeln!(s, "{d}").unwrap();
    }
    s + &p.text
}

struct Fns {
    primal: Kernel,
    fwd: Derivative,
    rev: Derivative,
    split: Derivative,
}

/// What each worker is doing, for the crash and hang reports: the seed of the program it
/// runs, or (module index + 1) while it lowers and compiles a module.
static CURRENT: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
static LOWERING: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
static MODULE: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
static PROGRESS: AtomicU64 = AtomicU64::new(0);

extern "C" {
    fn signal(sig: i32, handler: usize) -> usize;
    fn write(fd: i32, buf: *const u8, n: usize) -> isize;
}

/// Appends to a fixed buffer without allocating (usable in a signal handler).
struct Buf {
    b: [u8; 2048],
    n: usize,
}

impl Buf {
    fn put(&mut self, s: &[u8]) {
        for &c in s {
            if self.n < self.b.len() {
                self.b[self.n] = c;
                self.n += 1;
            }
        }
    }
    fn hex(&mut self, v: u64) {
        let mut h = [0u8; 18];
        h[0] = b'0';
        h[1] = b'x';
        for k in 0..16 {
            h[2 + k] = b"0123456789abcdef"[((v >> (60 - 4 * k)) & 15) as usize];
        }
        self.put(&h);
    }
    fn dec(&mut self, mut v: u64) {
        let mut d = [0u8; 20];
        let mut k = d.len();
        loop {
            k -= 1;
            d[k] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&d[k..]);
    }
    /// What every worker is doing.
    fn workers(&mut self) {
        for w in 0..CURRENT.len() {
            let (p, m) = (CURRENT[w].load(Ordering::Relaxed), LOWERING[w].load(Ordering::Relaxed));
            if p != 0 {
                self.put(b"\n  running program ");
                self.hex(p);
                self.put(b" of module ");
                self.dec(MODULE[w].load(Ordering::Relaxed));
                self.put(b": reproduce with RADX_PROP_PROGRAM=");
                self.hex(p);
                self.put(b" (alone) or RADX_PROP_MODULE=");
                self.dec(MODULE[w].load(Ordering::Relaxed));
                self.put(b" (with the same RADX_PROP_SEED)");
            } else if m != 0 {
                self.put(b"\n  lowering or compiling module ");
                self.dec(m - 1);
                self.put(b": reproduce with the same RADX_PROP_SEED and RADX_PROP_MODULE=");
                self.dec(m - 1);
            }
        }
        self.put(b"\n");
    }
}

/// Async-signal-safe report of what was running when the process crashed.
extern "C" fn on_fatal_signal(sig: i32) {
    let mut b = Buf { b: [0; 2048], n: 0 };
    b.put(b"\nrandom_programs: fatal signal ");
    b.put(&[b'0' + (sig / 10) as u8, b'0' + (sig % 10) as u8]);
    b.put(b"; the workers were:");
    b.workers();
    unsafe {
        write(2, b.b.as_ptr(), b.n);
        signal(sig, 0);
    }
}

fn install_crash_report() {
    for sig in [4, 7, 8, 11] {
        unsafe { signal(sig, on_fatal_signal as extern "C" fn(i32) as usize) };
    }
}

#[derive(Default)]
struct Tally {
    checked: usize,
    discarded: usize,
    fd_checked: usize,
    zero_trip_runs: usize,
    failures: Vec<String>,
    stats: Stats,
    /// Seconds spent parsing and lowering, JIT-compiling, and checking.
    times: [f64; 3],
}

/// Lowers and JIT-compiles `progs` in one module and checks each; on a lowering failure
/// (or panic) every program is retried alone so that the culprit is named.
fn run_batch(progs: &[(u64, Program)], index: usize, worker: usize, verbose: bool, tally: &mut Tally) {
    let list: Vec<&Program> = progs.iter().map(|(_, p)| p).collect();
    let text = module_text(&list);
    LOWERING[worker].store(index as u64 + 1, Ordering::Relaxed);
    MODULE[worker].store(index as u64, Ordering::Relaxed);
    let t0 = Instant::now();
    let ctx = Context::create();
    let module = ctx
        .create_module_from_ir(MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "random"))
        .unwrap_or_else(|e| panic!("the generator made IR that does not parse: {e}\n{text}"));
    if let Err(e) = module.verify() {
        panic!("the generator made IR that fails verification: {}\n{text}", e.to_string());
    }
    let lowered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| radx_core::lower_module(module.as_mut_ptr(), &options())));
    let failed = match lowered {
        Ok(Ok(_)) => None,
        Ok(Err(diags)) => Some(diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
        Err(_) => Some("radx_core::lower_module panicked (message above)".to_string()),
    };
    if let Some(msg) = failed {
        if progs.len() == 1 {
            let (seed, p) = &progs[0];
            tally.failures.push(format!("program 0x{seed:016x}: lower_module failed:\n{msg}\n--- program ---\n{}", program_ir(p)));
            tally.checked += 1;
            tally.stats.add(&p.stats);
            return;
        }
        for one in progs {
            run_batch(std::slice::from_ref(one), index, worker, verbose, tally);
        }
        LOWERING[worker].store(0, Ordering::Relaxed);
        return;
    }
    if let Ok(path) = std::env::var("RADX_PROP_DUMP") {
        std::fs::write(&path, module.print_to_string().to_string()).expect("write RADX_PROP_DUMP");
    }
    let after = if verbose { module.print_to_string().to_string() } else { String::new() };
    if verbose {
        eprintln!("--- module after lowering ---\n{after}");
    }
    let tj = Instant::now();
    let ee = module.create_jit_execution_engine(OptimizationLevel::None).expect("JIT");
    // The first address compiles the whole module.
    let addr = |n: &str| ee.get_function_address(n).unwrap_or_else(|e| panic!("no JIT address for {n}: {e:?}"));
    let all: Vec<Fns> = progs
        .iter()
        .map(|(_, p)| unsafe {
            Fns {
                primal: std::mem::transmute::<usize, Kernel>(addr(&p.name)),
                fwd: std::mem::transmute::<usize, Derivative>(addr(&format!("fwd.{}", p.name))),
                rev: std::mem::transmute::<usize, Derivative>(addr(&format!("rev.{}", p.name))),
                split: std::mem::transmute::<usize, Derivative>(addr(&format!("split.{}", p.name))),
            }
        })
        .collect();
    LOWERING[worker].store(0, Ordering::Relaxed);
    let t1 = Instant::now();
    tally.times[0] += (tj - t0).as_secs_f64();
    tally.times[1] += (t1 - tj).as_secs_f64();
    let mut slowest = (Duration::ZERO, 0);
    for ((seed, p), fns) in progs.iter().zip(&all) {
        let tp = Instant::now();
        CURRENT[worker].store(*seed, Ordering::Relaxed);
        let outcome = check(p, *seed, fns, verbose);
        CURRENT[worker].store(0, Ordering::Relaxed);
        PROGRESS.fetch_add(1, Ordering::Relaxed);
        tally.stats.add(&p.stats);
        match outcome {
            Outcome::Pass { fd, zero_trip } => {
                tally.checked += 1;
                tally.fd_checked += fd as usize;
                tally.zero_trip_runs += zero_trip as usize;
            }
            Outcome::Discard => tally.discarded += 1,
            Outcome::Fail(msg) => {
                tally.checked += 1;
                tally.failures.push(format!("program 0x{seed:016x}: {msg}\n--- program ---\n{}", program_ir(p)));
            }
        }
        slowest = slowest.max((tp.elapsed(), *seed));
    }
    tally.times[2] += t1.elapsed().as_secs_f64();
    if t0.elapsed() > Duration::from_secs(3) {
        eprintln!(
            "random_programs: module {index} took {:.1} s: {:.1} s to lower and compile, the slowest program 0x{:016x} {:.1} s to check",
            t0.elapsed().as_secs_f64(),
            (t1 - t0).as_secs_f64(),
            slowest.1,
            slowest.0.as_secs_f64()
        );
    }
}

enum Outcome {
    Pass { fd: bool, zero_trip: bool },
    /// The primal itself is not finite, or huge, at the chosen point (a generator limitation).
    Discard,
    Fail(String),
}

fn run_primal(f: &Fns, x: &[f64], y: &[f64], n: i64) -> Vec<f64> {
    let (mut x, mut y) = (x.to_vec(), y.to_vec());
    unsafe { (f.primal)(x.as_mut_ptr(), y.as_mut_ptr(), n) };
    x.extend(y);
    x
}

/// Runs a derivative: returns (primal state after, shadow state after).
fn run_derivative(d: Derivative, x: &[f64], dx: &[f64], y: &[f64], dy: &[f64], n: i64) -> (Vec<f64>, Vec<f64>) {
    let (mut x, mut dx, mut y, mut dy) = (x.to_vec(), dx.to_vec(), y.to_vec(), dy.to_vec());
    unsafe { d(x.as_mut_ptr(), dx.as_mut_ptr(), y.as_mut_ptr(), dy.as_mut_ptr(), n) };
    x.extend(y);
    dx.extend(dy);
    (x, dx)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

/// Fourth-order central difference of `F` along `dir` with step `h`.
fn fd(f: &Fns, s: &[f64], dir: &[f64], lx: usize, n: i64, h: f64) -> Vec<f64> {
    let at = |k: f64| {
        let p: Vec<f64> = s.iter().zip(dir).map(|(a, d)| a + k * h * d).collect();
        run_primal(f, &p[..lx], &p[lx..], n)
    };
    let (m2, m1, p1, p2) = (at(-2.0), at(-1.0), at(1.0), at(2.0));
    (0..s.len()).map(|i| (m2[i] - 8.0 * m1[i] + 8.0 * p1[i] - p2[i]) / (12.0 * h)).collect()
}

fn check(p: &Program, seed: u64, f: &Fns, verbose: bool) -> Outcome {
    let mut rng = Rng::new(mix(seed, 0xDA7A));
    let (lx, ly) = (p.lx, p.ly);
    let mut vec = |k: usize| (0..k).map(|_| rng.range(-1.0, 1.0)).collect::<Vec<f64>>();
    let (x, y) = (vec(lx), vec(ly));
    let (xd, yd) = (vec(lx), vec(ly));
    let (xb, yb) = (vec(lx), vec(ly));
    let n = if rng.chance(0.25) { 0 } else { rng.int(1, 5) };
    let show = |v: &[f64]| format!("{v:?}");
    let point = format!("at x = {}, y = {}, n = {n}", show(&x), show(&y));
    let primal = run_primal(f, &x, &y, n);
    // Loops of products can grow values without bound; past 2^52 rounding functions are
    // the identity and finite differences no longer see the rules' zero slopes.
    if primal.iter().any(|v| !v.is_finite() || v.abs() > MAX_VALUE) {
        return Outcome::Discard;
    }
    let (fwd_primal, tangent) = run_derivative(f.fwd, &x, &xd, &y, &yd, n);
    let (rev_primal, grad) = run_derivative(f.rev, &x, &xb, &y, &yb, n);
    let (split_primal, split_grad) = run_derivative(f.split, &x, &xb, &y, &yb, n);
    for (what, got) in [("forward", &fwd_primal), ("reverse", &rev_primal), ("split reverse", &split_primal)] {
        if let Some(i) = (0..primal.len()).find(|&i| !close(got[i], primal[i], 1e-13)) {
            return Outcome::Fail(format!(
                "the {what} derivative leaves state[{i}] = {} but the program leaves {} ({point})\nprogram: {}\n{what}: {}",
                got[i], primal[i], show(&primal), show(got)
            ));
        }
    }
    let dir: Vec<f64> = xd.iter().chain(&yd).copied().collect();
    let seedv: Vec<f64> = xb.iter().chain(&yb).copied().collect();
    if tangent.iter().chain(&grad).any(|v| !v.is_finite()) {
        return Outcome::Fail(format!("non-finite derivative {point}\ntangent J·ṡ = {}\ngradient Jᵀ·s̄ = {}", show(&tangent), show(&grad)));
    }
    let lhs: f64 = seedv.iter().zip(&tangent).map(|(a, b)| a * b).sum();
    let rhs: f64 = grad.iter().zip(&dir).map(|(a, b)| a * b).sum();
    let scale = seedv.iter().zip(&tangent).map(|(a, b)| (a * b).abs()).sum::<f64>().max(grad.iter().zip(&dir).map(|(a, b)| (a * b).abs()).sum());
    if (lhs - rhs).abs() > DOT_TOL * scale || (scale == 0.0 && lhs != rhs) {
        return Outcome::Fail(format!(
            "dot-product test fails: ⟨s̄, J·ṡ⟩ = {lhs:e} but ⟨Jᵀ·s̄, ṡ⟩ = {rhs:e} (scale {scale:e}) {point}\n\
             ṡ = {}\nJ·ṡ (forward) = {}\ns̄ = {}\nJᵀ·s̄ (reverse) = {}",
            show(&dir),
            show(&tangent),
            show(&seedv),
            show(&grad)
        ));
    }
    let gscale = grad.iter().fold(0f64, |m, g| m.max(g.abs()));
    if let Some(i) = (0..grad.len()).find(|&i| (grad[i] - split_grad[i]).abs() > 1e-12 * gscale.max(1.0)) {
        return Outcome::Fail(format!(
            "split mode (__enzyme_augmentfwd + __enzyme_reverse) gives state[{i}] adjoint {} but combined mode {} {point}\n\
             s̄ = {}\ncombined Jᵀ·s̄ = {}\nsplit Jᵀ·s̄ = {}",
            split_grad[i],
            grad[i],
            show(&seedv),
            show(&grad),
            show(&split_grad)
        ));
    }
    let s: Vec<f64> = x.iter().chain(&y).copied().collect();
    let (fd1, fd2) = (fd(f, &s, &dir, lx, n, 2f64.powi(-10)), fd(f, &s, &dir, lx, n, 2f64.powi(-12)));
    let smooth = (0..s.len()).all(|i| fd1[i].is_finite() && fd2[i].is_finite() && close(fd1[i], fd2[i], FD_TOL));
    if smooth && !verbose {
        if let Some(i) = (0..s.len()).find(|&i| !close(tangent[i], fd2[i], 10.0 * FD_TOL)) {
            return Outcome::Fail(format!(
                "forward derivative disagrees with finite differences in state[{i}]: {} vs {} {point}\nṡ = {}\nJ·ṡ = {}\nfinite differences = {}",
                tangent[i],
                fd2[i],
                show(&dir),
                show(&tangent),
                show(&fd2)
            ));
        }
    }
    if verbose {
        // How finite differences converge, to tell a wrong derivative from a hard function.
        for k in [6, 8, 10, 12, 14, 16, 18, 20, 24] {
            eprintln!("finite differences with h = 2^-{k}: {}", show(&fd(f, &s, &dir, lx, n, 2f64.powi(-k))));
        }
        eprintln!("tangent J·ṡ:                      {}", show(&tangent));
    }
    Outcome::Pass { fd: smooth, zero_trip: n == 0 && p.stats.loops > 0 }
}

/// A hand-written or reduced program: a file defining `@p0` (and what it calls, declarations
/// included), whose first line may give the array lengths as `; lx = 3, ly = 2` (default 4).
fn from_file(path: &str) -> Program {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("RADX_PROP_FILE={path}: {e}"));
    let first = text.lines().next().unwrap_or("").to_string();
    let len = |key: &str| {
        first.split(|c| c == ',' || c == ';').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k.trim() == key).then(|| v.trim().parse().ok()).flatten()
        })
    };
    Program { name: "p0".into(), text, decls: Default::default(), lx: len("lx").unwrap_or(4), ly: len("ly").unwrap_or(4), stats: Stats::default() }
}

extern "C" {
    fn dlsym(handle: *mut std::ffi::c_void, symbol: *const std::ffi::c_char) -> *mut std::ffi::c_void;
}

/// Every rule of the table; each must be callable from JIT-compiled code.
fn rules() -> Vec<&'static Rule> {
    let rules: Vec<&'static Rule> = all_rules().collect();
    for r in &rules {
        if let Some((name, false)) = progen::callee(r.name) {
            let c = std::ffi::CString::new(name.clone()).unwrap();
            assert!(
                !unsafe { dlsym(std::ptr::null_mut(), c.as_ptr()) }.is_null(),
                "rule `{}`: the generated programs call `{name}`, which this process does not have; \
                 give it a definition in progen::HOST_DEFINITIONS (and its domain in progen::domain)",
                r.name
            );
        }
    }
    rules
}

#[test]
fn reverse_matches_forward_and_finite_differences_on_random_programs() {
    Target::initialize_native(&InitializationConfig::default()).expect("native target");
    install_crash_report();
    let rules = rules();
    let file = std::env::var("RADX_PROP_FILE").ok();
    if env_u64("RADX_PROP_PROGRAM").is_some() || file.is_some() {
        let seed = env_u64("RADX_PROP_PROGRAM").unwrap_or(1);
        let p = match &file {
            Some(path) => from_file(path),
            None => generate(seed, "p0", &rules),
        };
        eprintln!("--- program 0x{seed:016x} ---\n{}", program_ir(&p));
        let mut tally = Tally::default();
        run_batch(&[(seed, p)], 0, 0, true, &mut tally);
        assert!(tally.failures.is_empty(), "{}", tally.failures.join("\n"));
        assert_eq!(tally.checked + tally.discarded, 1);
        eprintln!("program 0x{seed:016x}: {}", if tally.discarded == 1 { "discarded (primal not finite or huge)" } else { "ok" });
        return;
    }
    let seed = env_u64("RADX_PROP_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_u64("RADX_PROP_COUNT").map(|c| c as usize).unwrap_or(DEFAULT_PROGRAMS);
    let threads = env_u64("RADX_PROP_THREADS")
        .map(|t| t as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .clamp(1, CURRENT.len());
    eprintln!("random_programs: seed 0x{seed:016x} (RADX_PROP_SEED), {count} programs, {PER_MODULE} per module, {threads} thread(s)");
    let start = Instant::now();
    let modules = count.div_ceil(PER_MODULE);
    let only_module = env_u64("RADX_PROP_MODULE").map(|m| m as usize);
    let next = AtomicUsize::new(0);
    let total = Mutex::new(Tally::default());
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        // A derivative that never terminates must not hang CI silently.
        sc.spawn(|| {
            let mut last = (PROGRESS.load(Ordering::Relaxed), Instant::now());
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let now = PROGRESS.load(Ordering::Relaxed);
                if now != last.0 {
                    last = (now, Instant::now());
                } else if last.1.elapsed() > Duration::from_secs(120) {
                    let mut b = Buf { b: [0; 2048], n: 0 };
                    b.put(b"random_programs: no progress for 120 s; the workers are:");
                    b.workers();
                    eprintln!("{}", String::from_utf8_lossy(&b.b[..b.n]));
                    std::process::abort();
                }
            }
        });
        let workers: Vec<_> = (0..threads)
            .map(|w| {
                let (next, total, rules) = (&next, &total, &rules);
                sc.spawn(move || loop {
                    let m = match only_module {
                        Some(m) if next.fetch_add(1, Ordering::Relaxed) == 0 => m,
                        Some(_) => break,
                        None => next.fetch_add(1, Ordering::Relaxed),
                    };
                    if m >= modules {
                        break;
                    }
                    let progs: Vec<(u64, Program)> = (m * PER_MODULE..((m + 1) * PER_MODULE).min(count))
                        .map(|i| {
                            let s = mix(seed, i as u64);
                            (s, generate(s, &format!("p{i}"), rules))
                        })
                        .collect();
                    let mut t = Tally::default();
                    run_batch(&progs, m, w, false, &mut t);
                    let mut total = total.lock().unwrap();
                    total.checked += t.checked;
                    total.discarded += t.discarded;
                    total.fd_checked += t.fd_checked;
                    total.zero_trip_runs += t.zero_trip_runs;
                    total.failures.extend(t.failures);
                    total.stats.add(&t.stats);
                    (0..3).for_each(|k| total.times[k] += t.times[k]);
                })
            })
            .collect();
        for w in workers {
            if let Err(e) = w.join() {
                done.store(true, Ordering::Relaxed);
                std::panic::resume_unwind(e);
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    let t = total.into_inner().unwrap();
    let st = &t.stats;
    eprintln!(
        "random_programs: {} programs checked, {} discarded, {} also against finite differences, {} failed, in {:.1} s",
        t.checked,
        t.discarded,
        t.fd_checked,
        t.failures.len(),
        start.elapsed().as_secs_f64()
    );
    eprintln!(
        "  time over all workers: {:.1} s lowering, {:.1} s JIT-compiling, {:.1} s running and checking",
        t.times[0], t.times[1], t.times[2]
    );
    eprintln!(
        "  coverage: {} loops ({} nested, {} counting down, {} with break, {} bottom-tested), {} runs with n = 0, {} ifs, {} switches, {} selects, {} loads, \
         {} stores ({} in place), {} calls ({} in loops), {} recursive helpers, {} memcpys, {} allocas, {} mallocs, {} rules",
        st.loops,
        st.nested_loops,
        st.countdown_loops,
        st.breaks,
        st.do_whiles,
        t.zero_trip_runs,
        st.ifs,
        st.switches,
        st.selects,
        st.loads,
        st.stores,
        st.inplace_updates,
        st.calls,
        st.calls_in_loops,
        st.recursions,
        st.memcpys,
        st.allocas,
        st.mallocs,
        st.rules.len()
    );
    if let (Ok(path), false) = (std::env::var("RADX_PROP_REPORT"), t.failures.is_empty()) {
        std::fs::write(&path, t.failures.join("\n=====\n")).expect("write RADX_PROP_REPORT");
        eprintln!("random_programs: every failure written to {path}");
    }
    if !t.failures.is_empty() {
        let mut text = String::new();
        for f in t.failures.iter().take(5) {
            text.push_str(f);
            text.push('\n');
        }
        // One line per failure, smallest programs first (the easiest to read).
        let mut lines: Vec<(usize, String)> = t
            .failures
            .iter()
            .map(|f| {
                let size = f.split("--- program ---").nth(1).map(|p| p.lines().count()).unwrap_or(0);
                let head: String = f.lines().next().unwrap_or("").chars().take(160).collect();
                (size, format!("  {head} [{size} lines of IR]"))
            })
            .collect();
        lines.sort();
        let list: Vec<String> = lines.into_iter().map(|(_, l)| l).collect();
        panic!(
            "{} of {} random programs failed (run seed 0x{seed:016x}; check one alone with RADX_PROP_PROGRAM=<its seed>).\n\
             the first ones in full:\n{text}\nall failures:\n{}",
            t.failures.len(),
            t.checked,
            list.join("\n")
        );
    }
    assert_eq!(t.checked + t.discarded, count, "every generated program is accounted for");
    assert!(t.discarded * 100 <= count, "the generator made too many programs whose primal is not finite or huge: {}", t.discarded);
    assert!(t.fd_checked * 2 >= t.checked, "too few programs were smooth enough for finite differences: {}", t.fd_checked);
    if count >= 1000 {
        let unused: Vec<&str> = rules.iter().map(|r| r.name).filter(|n| !st.rules.contains_key(n)).collect();
        assert!(unused.is_empty(), "rules never generated: {unused:?}");
        for (what, n) in [
            ("loops", st.loops),
            ("nested loops", st.nested_loops),
            ("count-down loops", st.countdown_loops),
            ("loops with break", st.breaks),
            ("bottom-tested loops", st.do_whiles),
            ("switches", st.switches),
            ("runs with n = 0", t.zero_trip_runs),
            ("branches", st.ifs),
            ("selects", st.selects),
            ("in-place updates", st.inplace_updates),
            ("calls in loops", st.calls_in_loops),
            ("recursive helpers", st.recursions),
            ("memcpys", st.memcpys),
            ("allocas", st.allocas),
            ("mallocs", st.mallocs),
        ] {
            assert!(n > 0, "no {what} were generated");
        }
    }
}
