//! CI, no GPU: the NVPTX derivative kernels run on the CPU emulator (radx_gpu::emulate: one
//! OS thread per GPU thread, real barriers, shared memory poisoned with NaN at every block
//! start, real atomics) and are checked against the CPU references and finite differences
//! of the emulated primal kernel. The primal kernels are checked first, which validates the
//! emulator and the references together.

mod common;
use common::*;
use radx_gpu::{Gpu, GpuTarget};

fn primal(kernel: &str) {
    let gpu = Gpu::emulator();
    let ir = kernel_ir(kernel, GpuTarget::Nvptx, None).unwrap();
    let l = Loaded::new(&gpu, &ir).unwrap();
    check_primal(&l, &spec(kernel)).unwrap_or_else(|e| panic!("{e}"));
}

fn derivative_runs(kernel: &str, approach: Approach, mode: Mode) {
    let gpu = Gpu::emulator();
    match check_derivative(&gpu, kernel, approach, mode) {
        Ok(r) => eprintln!("{kernel} {approach:?} {mode:?}: {r}"),
        Err(e) => panic!("{kernel} {approach:?} {mode:?} (NVPTX, emulated):\n{e}"),
    }
}

macro_rules! emulated_tests {
    ($($name:ident: $k:literal $a:ident $m:ident;)*) => {
        $(
            #[test]
            fn $name() {
                derivative_runs($k, Approach::$a, Mode::$m);
            }
        )*
    };
}

#[test]
fn primal_kernels_match_the_references() {
    for k in KERNELS {
        primal(k);
    }
}

emulated_tests! {
    saxpy_request_reverse: "saxpy" Request Reverse;
    saxpy_request_forward: "saxpy" Request Forward;
    saxpy_enzyme_reverse: "saxpy" Enzyme Reverse;
    saxpy_enzyme_forward: "saxpy" Enzyme Forward;
    reduce_request_reverse: "reduce" Request Reverse;
    reduce_request_forward: "reduce" Request Forward;
    reduce_enzyme_reverse: "reduce" Enzyme Reverse;
    reduce_enzyme_forward: "reduce" Enzyme Forward;
    stencil_request_reverse: "stencil" Request Reverse;
    stencil_request_forward: "stencil" Request Forward;
    stencil_enzyme_reverse: "stencil" Enzyme Reverse;
    stencil_enzyme_forward: "stencil" Enzyme Forward;
    histogram_request_reverse: "histogram" Request Reverse;
    histogram_request_forward: "histogram" Request Forward;
    histogram_enzyme_reverse: "histogram" Enzyme Reverse;
    histogram_enzyme_forward: "histogram" Enzyme Forward;
    rows_request_reverse: "rows" Request Reverse;
    rows_request_forward: "rows" Request Forward;
    rows_enzyme_reverse: "rows" Enzyme Reverse;
    rows_enzyme_forward: "rows" Enzyme Forward;
}
