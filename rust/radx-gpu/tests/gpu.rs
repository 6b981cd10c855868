//! On a real GPU (ignored by default). Run with
//!   cargo test --release -p radx-gpu --features cuda -- --ignored      (NVIDIA)
//!   cargo test --release -p radx-gpu --features rocm -- --ignored      (AMD)
//! Every test uses each GPU the enabled runtimes find (and fails when there is none); with
//! RADX_GPU_EMULATE=1 the CPU emulator is used too (a dry run of these tests without a GPU).
//!
//! For every test kernel, both ways of asking for the derivative and both modes: the primal
//! and the derivative kernel run on the GPU; the gradient (reverse) or tangent (forward) is
//! compared with the CPU reference and with central differences of the primal kernel run on
//! the GPU. `bench_gradient_over_primal` prints, per kernel, the time of one launch of the
//! primal and of each derivative kernel on a larger problem, and their ratio.

mod common;
use common::*;
use radx_gpu::Gpu;

fn gpus() -> Vec<Gpu> {
    let (mut found, why_not) = Gpu::available();
    if std::env::var("RADX_GPU_EMULATE").map(|v| v == "1").unwrap_or(false) {
        found.push(Gpu::emulator());
    }
    assert!(!found.is_empty(), "no GPU found: {}", why_not.join("; "));
    found
}

fn on_gpus(kernel: &str, approach: Approach, mode: Mode) {
    let mut failures = Vec::new();
    for gpu in gpus() {
        let primal = kernel_ir(kernel, gpu.target(), None).and_then(|ir| Loaded::new(&gpu, &ir)).and_then(|l| check_primal(&l, &spec(kernel)));
        if let Err(e) = primal {
            failures.push(format!("{}: primal: {e}", gpu.describe()));
            continue;
        }
        match check_derivative(&gpu, kernel, approach, mode) {
            Ok(r) => eprintln!("{kernel} {approach:?} {mode:?} on {}: {r}", gpu.describe()),
            Err(e) => failures.push(format!("{}: {e}", gpu.describe())),
        }
    }
    assert!(failures.is_empty(), "{kernel} {approach:?} {mode:?}:\n{}", failures.join("\n"));
}

macro_rules! gpu_tests {
    ($($name:ident: $k:literal $a:ident $m:ident;)*) => {
        $(
            #[test]
            #[ignore = "needs a GPU: cargo test --release -p radx-gpu --features cuda -- --ignored"]
            fn $name() {
                on_gpus($k, Approach::$a, Mode::$m);
            }
        )*
    };
}

gpu_tests! {
    gpu_saxpy_request_reverse: "saxpy" Request Reverse;
    gpu_saxpy_request_forward: "saxpy" Request Forward;
    gpu_saxpy_enzyme_reverse: "saxpy" Enzyme Reverse;
    gpu_saxpy_enzyme_forward: "saxpy" Enzyme Forward;
    gpu_reduce_request_reverse: "reduce" Request Reverse;
    gpu_reduce_request_forward: "reduce" Request Forward;
    gpu_reduce_enzyme_reverse: "reduce" Enzyme Reverse;
    gpu_reduce_enzyme_forward: "reduce" Enzyme Forward;
    gpu_stencil_request_reverse: "stencil" Request Reverse;
    gpu_stencil_request_forward: "stencil" Request Forward;
    gpu_stencil_enzyme_reverse: "stencil" Enzyme Reverse;
    gpu_stencil_enzyme_forward: "stencil" Enzyme Forward;
    gpu_histogram_request_reverse: "histogram" Request Reverse;
    gpu_histogram_request_forward: "histogram" Request Forward;
    gpu_histogram_enzyme_reverse: "histogram" Enzyme Reverse;
    gpu_histogram_enzyme_forward: "histogram" Enzyme Forward;
    gpu_rows_request_reverse: "rows" Request Reverse;
    gpu_rows_request_forward: "rows" Request Forward;
    gpu_rows_enzyme_reverse: "rows" Enzyme Reverse;
    gpu_rows_enzyme_forward: "rows" Enzyme Forward;
}

/// Mean time of one launch of `kernel` on `args` (uploaded once), in microseconds.
fn time_us(gpu: &Gpu, l: &Loaded, kernel: &str, s: &Spec, args: &[Val], reps: u32) -> Result<f64, String> {
    let k = l.module.kernel(kernel).map_err(|e| e.to_string())?;
    let bufs = upload_args(gpu, args)?;
    let d = gpu.time(&k, s.dims, &kernel_args(args, &bufs), reps).map_err(|e| e.to_string())?;
    Ok(d.as_secs_f64() * 1e6)
}

#[test]
#[ignore = "needs a GPU: cargo test --release -p radx-gpu --features cuda -- --ignored --nocapture bench"]
fn bench_gradient_over_primal() {
    let emulated = |g: &Gpu| g.wants_ir();
    let mut rows = Vec::new();
    for gpu in gpus() {
        let (scale, reps) = if emulated(&gpu) { (1, 1) } else { (4096, 50) };
        for kernel in KERNELS {
            let s = spec_scaled(kernel, scale);
            let primal = kernel_ir(kernel, gpu.target(), None).and_then(|ir| Loaded::new(&gpu, &ir)).and_then(|l| time_us(&gpu, &l, kernel, &s, &s.args, reps));
            let Ok(primal) = primal else {
                rows.push(format!("{:<10} {:<32} primal failed: {}", kernel, gpu.describe(), primal.unwrap_err()));
                continue;
            };
            let mut line = format!("{kernel:<10} {:<32} threads {:>8}  primal {primal:>9.1} us", gpu.describe(), s.dims.threads());
            for (approach, mode) in [(Approach::Request, Mode::Reverse), (Approach::Enzyme, Mode::Reverse), (Approach::Request, Mode::Forward), (Approach::Enzyme, Mode::Forward)] {
                let dup = if mode == Mode::Reverse { &s.rev_dup } else { &s.fwd_dup };
                let args = with_shadows(&s, dup, |i| s.args[i].zeros_like());
                let t = derivative(kernel, gpu.target(), approach, mode).and_then(|(ir, name)| {
                    let l = Loaded::new(&gpu, &ir)?;
                    time_us(&gpu, &l, &name, &s, &args, reps)
                });
                let tag = format!("{:?}/{:?}", approach, mode).to_lowercase();
                match t {
                    Ok(t) => line += &format!("  {tag} {t:>9.1} us ({:.2}x)", t / primal),
                    Err(e) => line += &format!("  {tag} failed ({})", e.lines().next().unwrap_or("").chars().take(80).collect::<String>()),
                }
            }
            rows.push(line);
        }
    }
    println!("{}", rows.join("\n"));
    if let Ok(p) = std::env::var("RADX_GPU_BENCH_OUT") {
        std::fs::write(p, rows.join("\n") + "\n").unwrap();
    }
}
