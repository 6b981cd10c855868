//! The CPU emulator behaves like a GPU where the derivative checks rely on it: it reports
//! barriers not every thread reaches, shared memory is garbage at block start, float atomics
//! from many threads add up, 2D blocks and grids index as on a GPU.

use radx_gpu::{Arg, Dims, Gpu, GpuTarget};

const SOURCE: &str = r#"
#include "gpu.h"
extern "C" __global__ void divergent(float *x) {
  if (threadIdx_x < 5) SYNC();
  x[threadIdx_x] = 1.0f;
}
extern "C" __global__ void uninitialised(float *x) {
  __shared__ float s[64];
  if (blockIdx_x == 0) s[threadIdx_x] = 7.0f;
  SYNC();
  x[blockIdx_x * 64 + threadIdx_x] = s[threadIdx_x];
}
extern "C" __global__ void atomics(float *x) { ATOMIC_ADD(&x[0], 1.0f); }
extern "C" __global__ void indices(int nx, float *x) {
  int gx = blockIdx_x * 16 + threadIdx_x, gy = blockIdx_y * 8 + threadIdx_y;
  x[gy * nx + gx] = (float)(gy * 1000 + gx);
}
"#;

fn module_ir() -> String {
    let d = radx_gpu::scratch_dir("emu").unwrap();
    let p = d.join("emu.cu");
    std::fs::write(&p, SOURCE).unwrap();
    let inc = format!("-I{}", concat!(env!("CARGO_MANIFEST_DIR"), "/kernels"));
    radx_gpu::compile_source(&p, GpuTarget::Nvptx, "sm_80", "-O2", &[inc]).unwrap()
}

#[test]
fn emulator_behaves_like_a_gpu() {
    let gpu = Gpu::emulator();
    let ir = module_ir();
    let m = gpu.load(ir.as_bytes()).unwrap();

    let x = gpu.zeros_f32(64).unwrap();
    let e = gpu.launch(&m.kernel("divergent").unwrap(), Dims::linear(64, 64), &[Arg::Buf(&x)]).unwrap_err().to_string();
    assert!(e.contains("barrier"), "a barrier only some threads reach is reported: {e}");

    let x = gpu.zeros_f32(128).unwrap();
    gpu.launch(&m.kernel("uninitialised").unwrap(), Dims::linear(128, 64), &[Arg::Buf(&x)]).unwrap();
    let v = x.read_f32().unwrap();
    assert!(v[..64].iter().all(|v| *v == 7.0), "block 0 reads what it wrote");
    assert!(v[64..].iter().all(|v| v.is_nan()), "block 1 reads garbage (NaN): shared memory is not kept between blocks");

    let a = gpu.zeros_f32(1).unwrap();
    gpu.launch(&m.kernel("atomics").unwrap(), Dims::linear(1024, 256), &[Arg::Buf(&a)]).unwrap();
    assert_eq!(a.read_f32().unwrap()[0], 1024.0, "atomic adds from 1024 threads");

    let (nx, ny) = (48usize, 16usize);
    let g = gpu.zeros_f32(nx * ny).unwrap();
    gpu.launch(&m.kernel("indices").unwrap(), Dims::new([3, 2, 1], [16, 8, 1]), &[Arg::I32(nx as i32), Arg::Buf(&g)]).unwrap();
    let v = g.read_f32().unwrap();
    for y in 0..ny {
        for x in 0..nx {
            assert_eq!(v[y * nx + x], (y * 1000 + x) as f32);
        }
    }
    assert!(m.kernel("missing").is_err());
}
