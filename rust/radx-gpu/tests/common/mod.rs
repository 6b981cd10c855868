//! Shared by the radx-gpu tests: the test kernels (kernels/*.cu) with their inputs, building
//! their derivative modules both ways, compiling them, running them on a [`Gpu`] (a real
//! one or the CPU emulator) and checking the results against the CPU references and
//! finite differences.
#![allow(dead_code)]

pub mod reference;

use inkwell::context::Context;
use radx_gpu::diff::{self, KernelRequest};
use radx_gpu::{Arg, Dims, Gpu, GpuTarget, LoadedModule};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const KERNELS: [&str; 5] = ["saxpy", "reduce", "stencil", "histogram", "rows"];

#[derive(Clone, Debug)]
pub enum Val {
    I32(i32),
    F(f64),
    Ints(Vec<i32>),
    Floats(Vec<f64>),
}

impl Val {
    pub fn i(&self) -> usize {
        match self {
            Val::I32(v) => *v as usize,
            o => panic!("not an int: {o:?}"),
        }
    }
    pub fn f(&self) -> f64 {
        match self {
            Val::F(v) => *v,
            o => panic!("not a float: {o:?}"),
        }
    }
    pub fn fl(&self) -> &Vec<f64> {
        match self {
            Val::Floats(v) => v,
            o => panic!("not a float buffer: {o:?}"),
        }
    }
    pub fn fl_mut(&mut self) -> &mut Vec<f64> {
        match self {
            Val::Floats(v) => v,
            o => panic!("not a float buffer: {o:?}"),
        }
    }
    pub fn ints(&self) -> &Vec<i32> {
        match self {
            Val::Ints(v) => v,
            o => panic!("not an int buffer: {o:?}"),
        }
    }
    pub fn zeros_like(&self) -> Val {
        match self {
            Val::F(_) => Val::F(0.0),
            Val::Floats(v) => Val::Floats(vec![0.0; v.len()]),
            o => o.clone(),
        }
    }
    pub fn is_float(&self) -> bool {
        matches!(self, Val::F(_) | Val::Floats(_))
    }
    /// Dot product of two float values of the same shape.
    pub fn dot(&self, o: &Val) -> f64 {
        match (self, o) {
            (Val::F(a), Val::F(b)) => a * b,
            (Val::Floats(a), Val::Floats(b)) => a.iter().zip(b).map(|(x, y)| x * y).sum(),
            _ => 0.0,
        }
    }
    pub fn abs_dot(&self, o: &Val) -> f64 {
        match (self, o) {
            (Val::F(a), Val::F(b)) => (a * b).abs(),
            (Val::Floats(a), Val::Floats(b)) => a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum(),
            _ => 0.0,
        }
    }
    /// self + h * dir (floats only).
    pub fn axpy(&self, h: f64, dir: &Val) -> Val {
        match (self, dir) {
            (Val::F(a), Val::F(b)) => Val::F(a + h * b),
            (Val::Floats(a), Val::Floats(b)) => Val::Floats(a.iter().zip(b).map(|(x, y)| x + h * y).collect()),
            (s, _) => s.clone(),
        }
    }
}

/// A deterministic generator of test data (xorshift64*), rounded to f32.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (lo + (hi - lo) * u) as f32 as f64
    }
    pub fn floats(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// One test kernel: its arguments, which are differentiated, which it writes, the launch.
#[derive(Clone, Debug)]
pub struct Spec {
    pub kernel: &'static str,
    pub args: Vec<Val>,
    /// Duplicated in reverse mode (float buffers we want gradients for).
    pub rev_dup: Vec<bool>,
    /// Duplicated in forward mode (float buffers and float scalars).
    pub fwd_dup: Vec<bool>,
    /// Buffers the kernel writes: the loss is `sum_o <seed_o, out_o>`.
    pub outputs: Vec<usize>,
    pub dims: Dims,
}

pub fn spec(kernel: &str) -> Spec {
    spec_scaled(kernel, 1)
}

/// The test problem of `kernel` with about `scale` times more elements (for benchmarks).
pub fn spec_scaled(kernel: &str, scale: usize) -> Spec {
    let mut r = Rng::new(KERNELS.iter().position(|k| *k == kernel).unwrap() as u64 + 7);
    let (t, f) = (true, false);
    let side = (scale as f64).sqrt().round().max(1.0) as usize;
    match kernel {
        "saxpy" => {
            let n = 1000 * scale;
            let args = vec![Val::I32(n as i32), Val::F(r.uniform(0.5, 2.0)), Val::Floats(r.floats(n, -1.0, 1.0)), Val::Floats(r.floats(n, -1.0, 1.0))];
            Spec { kernel: "saxpy", args, rev_dup: vec![f, f, t, t], fwd_dup: vec![f, t, t, t], outputs: vec![3], dims: Dims::linear(n, 128) }
        }
        "reduce" => {
            let (n, bs): (usize, usize) = (1000 * scale, 256);
            let nb = n.div_ceil(bs);
            let args = vec![Val::I32(n as i32), Val::Floats(r.floats(n, -1.0, 1.0)), Val::Floats(r.floats(nb, -1.0, 1.0))];
            Spec { kernel: "reduce", args, rev_dup: vec![f, t, t], fwd_dup: vec![f, t, t], outputs: vec![2], dims: Dims::linear(n, bs as u32) }
        }
        "stencil" => {
            let (nx, ny) = (40 * side, 24 * side);
            let args = vec![Val::I32(nx as i32), Val::I32(ny as i32), Val::Floats(r.floats(nx * ny, -1.0, 1.0)), Val::Floats(r.floats(nx * ny, -1.0, 1.0))];
            let dims = Dims::new([(nx as u32).div_ceil(16), (ny as u32).div_ceil(16), 1], [16, 16, 1]);
            Spec { kernel: "stencil", args, rev_dup: vec![f, f, t, t], fwd_dup: vec![f, f, t, t], outputs: vec![3], dims }
        }
        "histogram" => {
            let n = 2000 * scale;
            let bins: Vec<i32> = (0..n).map(|_| (r.next() % 32) as i32).collect();
            let args = vec![Val::I32(n as i32), Val::Ints(bins), Val::Floats(r.floats(n, 0.0, 1.0)), Val::Floats(r.floats(n, -1.0, 1.0)), Val::Floats(r.floats(32, -1.0, 1.0))];
            Spec { kernel: "histogram", args, rev_dup: vec![f, f, t, t, t], fwd_dup: vec![f, f, t, t, t], outputs: vec![4], dims: Dims::linear(n, 128) }
        }
        "rows" => {
            let (n, m, deg) = (300 * scale, 7, 3);
            let args = vec![Val::I32(n as i32), Val::I32(m as i32), Val::I32(deg as i32), Val::Floats(r.floats(n * m, -1.0, 1.0)), Val::Floats(r.floats(deg + 1, -1.0, 1.0)), Val::Floats(r.floats(n, -1.0, 1.0))];
            Spec { kernel: "rows", args, rev_dup: vec![f, f, f, t, t, t], fwd_dup: vec![f, f, f, t, t, t], outputs: vec![5], dims: Dims::linear(n, 64) }
        }
        _ => panic!("no kernel `{kernel}`"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approach {
    /// The derivative kernel generated from the kernel by an explicit request.
    Request,
    /// A `__global__` wrapper calling `__enzyme_autodiff` / `__enzyme_fwddiff` on the
    /// kernel's `__device__` body, lowered with `lower_module`.
    Enzyme,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Reverse,
    Forward,
}

pub fn kernel_path(kernel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels").join(format!("{kernel}.cu"))
}

/// LLVM IR of `kernels/<kernel>.cu` for `target` at -O2, with the Enzyme-style wrapper
/// kernel of mode `enzyme` if asked.
pub fn kernel_ir(kernel: &str, target: GpuTarget, enzyme: Option<Mode>) -> Result<String, String> {
    let flags: Vec<String> = match enzyme {
        None => vec![],
        Some(Mode::Reverse) => vec!["-DRADX_ENZYME_REVERSE".into()],
        Some(Mode::Forward) => vec!["-DRADX_ENZYME_FORWARD".into()],
    };
    radx_gpu::compile_source(&kernel_path(kernel), target, target.default_cpu(), "-O2", &flags).map_err(|e| e.to_string())
}

/// The derivative module (IR text) of `kernel` and the name of its derivative kernel: the
/// derivative kernel takes the kernel's parameters, each followed by its shadow when
/// duplicated (the same order for both approaches).
pub fn derivative(kernel: &str, target: GpuTarget, approach: Approach, mode: Mode) -> Result<(String, String), String> {
    let s = spec(kernel);
    let ir = kernel_ir(kernel, target, (approach == Approach::Enzyme).then_some(mode))?;
    let ctx = Context::create();
    let module = radx_gpu::parse_ir(&ctx, ir.as_bytes(), kernel).map_err(|e| e.to_string())?;
    let options = radx_core::Options::default();
    let name = match approach {
        Approach::Request => {
            let req = match mode {
                Mode::Reverse => KernelRequest::Reverse { kernel: kernel.into(), args: diff::rev_args(&s.rev_dup) },
                Mode::Forward => KernelRequest::Forward { kernel: kernel.into(), args: diff::fwd_args(&s.fwd_dup) },
            };
            let d = radx_gpu::differentiate_kernels(&module, &[req], &options).map_err(|e| e.to_string())?;
            d[0].name.clone()
        }
        Approach::Enzyme => {
            radx_gpu::lower_enzyme_calls(&module, &options).map_err(|e| e.to_string())?;
            format!("{kernel}_{}", if mode == Mode::Reverse { "grad" } else { "tangent" })
        }
    };
    Ok((module.print_to_string().to_string(), name))
}

/// PTX (NUL-terminated) or a linked AMDGPU code object for `ir`, compiled by the
/// `radx-gpu compile` command in a child process (LLVM aborts on some codegen errors).
pub fn compile_image(ir: &str, target: GpuTarget) -> Result<Vec<u8>, String> {
    let d = radx_gpu::scratch_dir("test").map_err(|e| e.to_string())?;
    let (input, output) = (d.join("m.ll"), d.join("m.out"));
    std::fs::write(&input, ir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_radx-gpu")).args(["compile", "--target", target.name()]).arg(&input).arg("-o").arg(&output).output().expect("run radx-gpu");
    let r = if out.status.success() {
        let mut image = std::fs::read(&output).unwrap();
        if target == GpuTarget::Nvptx {
            image.push(0);
        }
        Ok(image)
    } else {
        Err(format!("code generation failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
    };
    let _ = std::fs::remove_dir_all(&d);
    r
}

/// What a runtime could not resolve when loading the image: PTX externs the CUDA driver
/// does not provide (AMDGPU code objects are linked with --no-undefined already).
pub fn unresolved(image: &[u8], target: GpuTarget) -> Vec<String> {
    match target {
        GpuTarget::Nvptx => radx_gpu::codegen::ptx_externs(&String::from_utf8_lossy(image)).into_iter().filter(|f| !radx_gpu::codegen::CUDA_DRIVER_FUNCTIONS.contains(&f.as_str())).collect(),
        GpuTarget::Amdgpu => vec![],
    }
}

/// Whether a compiled image defines kernel `name`.
pub fn image_has_kernel(image: &[u8], target: GpuTarget, name: &str) -> bool {
    match target {
        GpuTarget::Nvptx => radx_gpu::codegen::ptx_entries(&String::from_utf8_lossy(image)).iter().any(|e| e == name),
        GpuTarget::Amdgpu => {
            let kd = format!("{name}.kd\0");
            image.windows(kd.len()).any(|w| w == kd.as_bytes())
        }
    }
}

/// A derivative module loaded on a GPU (or the emulator).
pub struct Loaded<'g> {
    pub gpu: &'g Gpu,
    pub module: LoadedModule<'g>,
}

impl<'g> Loaded<'g> {
    pub fn new(gpu: &'g Gpu, ir: &str) -> Result<Loaded<'g>, String> {
        let image = if gpu.wants_ir() { ir.as_bytes().to_vec() } else { compile_image(ir, gpu.target())? };
        Ok(Loaded { gpu, module: gpu.load(&image).map_err(|e| e.to_string())? })
    }

    /// Runs `kernel` on `args` (float buffers as f32), reading every float buffer back.
    pub fn run(&self, kernel: &str, dims: Dims, args: &mut [Val]) -> Result<(), String> {
        let k = self.module.kernel(kernel).map_err(|e| e.to_string())?;
        let bufs = upload_args(self.gpu, args)?;
        self.gpu.launch(&k, dims, &kernel_args(args, &bufs)).map_err(|e| e.to_string())?;
        for (a, b) in args.iter_mut().zip(&bufs) {
            if let (Val::Floats(v), Some(b)) = (a, b) {
                *v = b.read_f32().map_err(|e| e.to_string())?.into_iter().map(|x| x as f64).collect();
            }
        }
        Ok(())
    }
}

/// Device copies of the buffers among `args` (float buffers as f32).
pub fn upload_args<'g>(gpu: &'g Gpu, args: &[Val]) -> Result<Vec<Option<radx_gpu::Buffer<'g>>>, String> {
    args.iter()
        .map(|a| match a {
            Val::Ints(v) => Some(gpu.upload(v)),
            Val::Floats(v) => Some(gpu.upload(&v.iter().map(|&x| x as f32).collect::<Vec<f32>>())),
            _ => None,
        })
        .map(|b| b.transpose())
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

/// Kernel arguments: scalars by value (floats as f32), buffers by their device copies.
pub fn kernel_args<'a>(args: &[Val], bufs: &'a [Option<radx_gpu::Buffer<'a>>]) -> Vec<Arg<'a>> {
    args.iter()
        .zip(bufs)
        .map(|(a, b)| match (a, b) {
            (Val::I32(v), _) => Arg::I32(*v),
            (Val::F(v), _) => Arg::F32(*v as f32),
            (_, Some(b)) => Arg::Buf(b),
            _ => unreachable!(),
        })
        .collect()
}

/// The argument list of a derivative kernel: each argument, followed by its shadow when
/// `dup` says so (`shadow(i)` gives it).
pub fn with_shadows(s: &Spec, dup: &[bool], shadow: impl Fn(usize) -> Val) -> Vec<Val> {
    let mut v = Vec::new();
    for (i, a) in s.args.iter().enumerate() {
        v.push(a.clone());
        if dup[i] {
            v.push(shadow(i));
        }
    }
    v
}

pub fn seeds(s: &Spec, rng: &mut Rng) -> Vec<Val> {
    s.args.iter().enumerate().map(|(i, a)| if s.outputs.contains(&i) { Val::Floats(rng.floats(a.fl().len(), -1.0, 1.0)) } else { a.zeros_like() }).collect()
}

pub fn loss(s: &Spec, after: &[Val], seed: &[Val]) -> f64 {
    s.outputs.iter().map(|&o| after[o].dot(&seed[o])).sum()
}

/// Largest elementwise difference relative to the largest reference magnitude.
pub fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0f64, |m, x| m.max(x.abs())).max(1e-30);
    got.iter().zip(want).fold(0f64, |m, (g, w)| m.max((g - w).abs())) / scale
}

/// Runs the primal kernel and compares its outputs with the CPU reference.
pub fn check_primal(l: &Loaded, s: &Spec) -> Result<String, String> {
    let mut got = s.args.clone();
    l.run(s.kernel, s.dims, &mut got)?;
    let mut want = s.args.clone();
    reference::primal(s.kernel, &mut want, &s.dims);
    for &o in &s.outputs {
        let e = rel_err(got[o].fl(), want[o].fl());
        if !(e < 1e-4) {
            return Err(format!("primal `{}`: output {o} differs from the CPU reference by {e:.3e} (relative)", s.kernel));
        }
    }
    Ok(format!("primal ok on {}", l.gpu.describe()))
}

/// d/dh L(args + h dir) by central differences of the primal kernel run on `l`.
fn fd_of_kernel(l: &Loaded, s: &Spec, seed: &[Val], dir: &[Val], h: f64) -> Result<f64, String> {
    let mut lp = Vec::new();
    for sign in [1.0, -1.0] {
        let mut a: Vec<Val> = s.args.iter().zip(dir).map(|(a, d)| a.axpy(sign * h, d)).collect();
        l.run(s.kernel, s.dims, &mut a)?;
        lp.push(loss(s, &a, seed));
    }
    Ok((lp[0] - lp[1]) / (2.0 * h))
}

/// A random direction over the parameters `dup` selects (zeros elsewhere).
fn direction(s: &Spec, dup: &[bool], rng: &mut Rng) -> Vec<Val> {
    s.args
        .iter()
        .zip(dup)
        .map(|(a, &d)| match (a, d) {
            (Val::F(_), true) => Val::F(rng.uniform(-1.0, 1.0)),
            (Val::Floats(v), true) => Val::Floats(rng.floats(v.len(), -1.0, 1.0)),
            _ => a.zeros_like(),
        })
        .collect()
}

/// The reverse-mode derivative kernel `dkernel`: gradients against the CPU reference, the
/// outputs it computes against the primal's, and `<gradient, v>` against central
/// differences of the primal kernel along a random `v`.
pub fn check_reverse(l: &Loaded, s: &Spec, dkernel: &str) -> Result<String, String> {
    let mut rng = Rng::new(11);
    let seed = seeds(s, &mut rng);
    let mut args = Vec::new();
    let mut shadow_at = vec![None; s.args.len()];
    for (i, a) in s.args.iter().enumerate() {
        args.push(a.clone());
        if s.rev_dup[i] {
            shadow_at[i] = Some(args.len());
            args.push(if s.outputs.contains(&i) { seed[i].clone() } else { a.zeros_like() });
        }
    }
    l.run(dkernel, s.dims, &mut args)?;
    let want = reference::vjp(s.kernel, &s.args, &s.dims, &seed);
    let mut primal = s.args.clone();
    reference::primal(s.kernel, &mut primal, &s.dims);
    let mut report = Vec::new();
    let mut dir = direction(s, &s.rev_dup, &mut rng);
    let (mut gv, mut gv_abs) = (0.0, 0.0);
    for (i, at) in shadow_at.iter().enumerate() {
        let Some(at) = *at else { continue };
        let got = &args[at];
        let e = rel_err(got.fl(), want[i].fl());
        report.push(format!("d(arg {i}) rel err {e:.2e}"));
        if !(e < 1e-3) {
            let k = got.fl().iter().zip(want[i].fl()).position(|(g, w)| (g - w).abs() > 1e-3 * w.abs().max(1e-3)).unwrap_or(0);
            return Err(format!("`{dkernel}`: the gradient of argument {i} differs from the CPU reference by {e:.3e} (relative); first bad element [{k}]: got {}, want {}", got.fl()[k], want[i].fl()[k]));
        }
        gv += got.dot(&dir[i]);
        gv_abs += got.abs_dot(&dir[i]);
        if s.outputs.contains(&i) {
            let e = rel_err(args[at - 1].fl(), primal[i].fl());
            if !(e < 1e-4) {
                return Err(format!("`{dkernel}`: output {i} computed by the derivative differs from the primal's by {e:.3e} (relative)"));
            }
        }
    }
    for (i, d) in dir.iter_mut().enumerate() {
        if shadow_at[i].is_none() {
            *d = s.args[i].zeros_like();
        }
    }
    let fd = fd_of_kernel(l, s, &seed, &dir, 1e-2)?;
    report.push(format!("<g,v> {gv:.6e} vs finite differences {fd:.6e}"));
    if !((fd - gv).abs() <= 1e-2 * gv_abs + 1e-6) {
        return Err(format!("`{dkernel}`: <gradient, v> = {gv:.6e} but finite differences of the primal kernel give {fd:.6e}"));
    }
    Ok(report.join("; "))
}

/// The forward-mode derivative kernel `dkernel`: output tangents against the CPU reference
/// (central differences of the f64 reference, h = 1e-6), and `<seed, tangent>` against
/// central differences of the primal kernel and against `<reference gradient, v>`.
pub fn check_forward(l: &Loaded, s: &Spec, dkernel: &str) -> Result<String, String> {
    let mut rng = Rng::new(13);
    let dir = direction(s, &s.fwd_dup, &mut rng);
    let mut args = Vec::new();
    let mut shadow_at = vec![None; s.args.len()];
    for (i, a) in s.args.iter().enumerate() {
        args.push(a.clone());
        if s.fwd_dup[i] {
            shadow_at[i] = Some(args.len());
            args.push(dir[i].clone());
        }
    }
    l.run(dkernel, s.dims, &mut args)?;
    let h = 1e-6;
    let mut plus: Vec<Val> = s.args.iter().zip(&dir).map(|(a, d)| a.axpy(h, d)).collect();
    let mut minus: Vec<Val> = s.args.iter().zip(&dir).map(|(a, d)| a.axpy(-h, d)).collect();
    reference::primal(s.kernel, &mut plus, &s.dims);
    reference::primal(s.kernel, &mut minus, &s.dims);
    let seed = seeds(s, &mut rng);
    let mut report = Vec::new();
    let (mut wt, mut wt_abs) = (0.0, 0.0);
    for &o in &s.outputs {
        let at = shadow_at[o].ok_or_else(|| format!("output {o} has no tangent"))?;
        let want: Vec<f64> = plus[o].fl().iter().zip(minus[o].fl()).map(|(p, m)| (p - m) / (2.0 * h)).collect();
        let got = args[at].fl();
        let e = rel_err(got, &want);
        report.push(format!("tangent of output {o} rel err {e:.2e}"));
        if !(e < 1e-3) {
            let k = got.iter().zip(&want).position(|(g, w)| (g - w).abs() > 1e-3 * w.abs().max(1e-3)).unwrap_or(0);
            return Err(format!("`{dkernel}`: the tangent of output {o} differs from the CPU reference by {e:.3e} (relative); first bad element [{k}]: got {}, want {}", got[k], want[k]));
        }
        wt += args[at].dot(&seed[o]);
        wt_abs += args[at].abs_dot(&seed[o]);
    }
    let g = reference::vjp(s.kernel, &s.args, &s.dims, &seed);
    let gv: f64 = g.iter().zip(&dir).map(|(g, d)| g.dot(d)).sum();
    let fd = fd_of_kernel(l, s, &seed, &dir, 1e-2)?;
    report.push(format!("<w,t> {wt:.6e} vs finite differences {fd:.6e}, <vjp,v> {gv:.6e}"));
    if !((fd - wt).abs() <= 1e-2 * wt_abs + 1e-6) || !((gv - wt).abs() <= 1e-4 * wt_abs + 1e-9) {
        return Err(format!("`{dkernel}`: <seed, tangent> = {wt:.6e}, finite differences of the primal kernel {fd:.6e}, reference <vjp, v> {gv:.6e}"));
    }
    Ok(report.join("; "))
}

/// Builds, loads and checks one derivative kernel on `gpu`.
pub fn check_derivative(gpu: &Gpu, kernel: &str, approach: Approach, mode: Mode) -> Result<String, String> {
    let (ir, name) = derivative(kernel, gpu.target(), approach, mode)?;
    let l = Loaded::new(gpu, &ir)?;
    let s = spec(kernel);
    match mode {
        Mode::Reverse => check_reverse(&l, &s, &name),
        Mode::Forward => check_forward(&l, &s, &name),
    }
}
