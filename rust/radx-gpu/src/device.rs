//! A small launcher over the vendor runtimes: device buffers, loaded modules, kernel
//! launches with scalar and buffer arguments, and timing. The same code drives CUDA
//! (feature `cuda`) and HIP (feature `rocm`) through the [`Backend`] trait.

use crate::{Error, GpuTarget, Result};
use std::ffi::c_void;
use std::time::{Duration, Instant};

/// The raw operations a vendor runtime provides. Handles are opaque integers.
pub trait Backend {
    /// The device, in words.
    fn describe(&self) -> String;
    fn target(&self) -> GpuTarget;
    /// Whether images are LLVM IR for the target (the CPU emulator) rather than PTX or a
    /// code object.
    fn wants_ir(&self) -> bool {
        false
    }
    /// Loads an image: NUL-terminated PTX, or an AMDGPU code object.
    fn load(&self, image: &[u8]) -> Result<usize>;
    fn unload(&self, module: usize);
    fn function(&self, module: usize, name: &str) -> Result<usize>;
    fn alloc(&self, bytes: usize) -> Result<u64>;
    fn free(&self, ptr: u64);
    fn upload(&self, dst: u64, src: &[u8]) -> Result<()>;
    fn download(&self, src: u64, dst: &mut [u8]) -> Result<()>;
    /// Launches asynchronously; `params[i]` points at the value of parameter `i`.
    fn launch(&self, function: usize, dims: &Dims, params: &mut [*mut c_void]) -> Result<()>;
    fn synchronize(&self) -> Result<()>;
}

/// Grid and block sizes, and dynamic shared memory in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub shared_bytes: u32,
}

impl Dims {
    pub fn linear(n: usize, block: u32) -> Dims {
        Dims { grid: [(n as u32).div_ceil(block).max(1), 1, 1], block: [block, 1, 1], shared_bytes: 0 }
    }

    pub fn new(grid: [u32; 3], block: [u32; 3]) -> Dims {
        Dims { grid, block, shared_bytes: 0 }
    }

    pub fn threads(&self) -> u64 {
        self.grid.iter().chain(&self.block).map(|&d| d as u64).product()
    }
}

/// One GPU, through one runtime.
pub struct Gpu {
    backend: Box<dyn Backend>,
}

/// Device memory, freed on drop.
pub struct Buffer<'g> {
    gpu: &'g Gpu,
    ptr: u64,
    bytes: usize,
}

/// A loaded image (PTX module / code object), unloaded on drop.
pub struct LoadedModule<'g> {
    gpu: &'g Gpu,
    handle: usize,
}

/// A kernel of a loaded module.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub name: String,
    handle: usize,
}

/// A kernel argument.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Buf(&'a Buffer<'a>),
}

impl Gpu {
    pub fn new(backend: Box<dyn Backend>) -> Gpu {
        Gpu { backend }
    }

    /// Device `ordinal` through the CUDA driver (libcuda loaded at run time).
    #[cfg(feature = "cuda")]
    pub fn cuda(ordinal: i32) -> Result<Gpu> {
        Ok(Gpu::new(Box::new(crate::cuda::CudaBackend::new(ordinal)?)))
    }

    /// Device `ordinal` through the HIP runtime (libamdhip64 loaded at run time).
    #[cfg(feature = "rocm")]
    pub fn hip(ordinal: i32) -> Result<Gpu> {
        Ok(Gpu::new(Box::new(crate::hip::HipBackend::new(ordinal)?)))
    }

    /// The CPU emulator of NVPTX kernels (see [`crate::emulate`]): loads NVPTX LLVM IR.
    pub fn emulator() -> Gpu {
        Gpu::new(Box::new(crate::emulate::Emulator::new()))
    }

    /// Device 0 of every runtime compiled in (features `cuda`, `rocm`) that finds one, and
    /// why the others did not.
    pub fn available() -> (Vec<Gpu>, Vec<String>) {
        #[allow(unused_mut)]
        let mut found = Vec::new();
        #[allow(unused_mut)]
        let mut why_not = Vec::new();
        #[cfg(feature = "cuda")]
        match Gpu::cuda(0) {
            Ok(g) => found.push(g),
            Err(e) => why_not.push(format!("cuda: {e}")),
        }
        #[cfg(feature = "rocm")]
        match Gpu::hip(0) {
            Ok(g) => found.push(g),
            Err(e) => why_not.push(format!("rocm: {e}")),
        }
        if cfg!(not(any(feature = "cuda", feature = "rocm"))) {
            why_not.push("built without the `cuda` and `rocm` features".into());
        }
        (found, why_not)
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    pub fn target(&self) -> GpuTarget {
        self.backend.target()
    }

    /// Whether [`Gpu::load`] wants LLVM IR (the emulator) rather than a compiled image.
    pub fn wants_ir(&self) -> bool {
        self.backend.wants_ir()
    }

    pub fn load(&self, image: &[u8]) -> Result<LoadedModule<'_>> {
        Ok(LoadedModule { gpu: self, handle: self.backend.load(image)? })
    }

    pub fn alloc(&self, bytes: usize) -> Result<Buffer<'_>> {
        let ptr = self.backend.alloc(bytes.max(4))?;
        Ok(Buffer { gpu: self, ptr, bytes })
    }

    pub fn upload<T: Copy>(&self, data: &[T]) -> Result<Buffer<'_>> {
        let b = self.alloc(std::mem::size_of_val(data))?;
        b.write(data)?;
        Ok(b)
    }

    pub fn zeros_f32(&self, n: usize) -> Result<Buffer<'_>> {
        self.upload(&vec![0f32; n])
    }

    /// Launches `kernel` and waits for it.
    pub fn launch(&self, kernel: &Kernel, dims: Dims, args: &[Arg]) -> Result<()> {
        self.launch_async(kernel, dims, args)?;
        self.backend.synchronize().map_err(|e| Error::Runtime(format!("kernel `{}`: {e}", kernel.name)))
    }

    fn launch_async(&self, kernel: &Kernel, dims: Dims, args: &[Arg]) -> Result<()> {
        // Each value in its own 8-byte slot; the runtime reads as many bytes as the
        // parameter has, from the slot's start (little endian).
        let mut slots: Vec<u64> = args
            .iter()
            .map(|a| match *a {
                Arg::I32(v) => v as u32 as u64,
                Arg::I64(v) => v as u64,
                Arg::F32(v) => v.to_bits() as u64,
                Arg::F64(v) => v.to_bits(),
                Arg::Buf(b) => b.ptr,
            })
            .collect();
        let mut params: Vec<*mut c_void> = slots.iter_mut().map(|s| s as *mut u64 as *mut c_void).collect();
        self.backend.launch(kernel.handle, &dims, &mut params).map_err(|e| Error::Runtime(format!("launching `{}`: {e}", kernel.name)))
    }

    /// Mean time of one launch of `kernel` over `reps` back-to-back launches (after one
    /// warm-up launch). The kernel must tolerate being run repeatedly on the same buffers.
    pub fn time(&self, kernel: &Kernel, dims: Dims, args: &[Arg], reps: u32) -> Result<Duration> {
        self.launch(kernel, dims, args)?;
        let t = Instant::now();
        for _ in 0..reps.max(1) {
            self.launch_async(kernel, dims, args)?;
        }
        self.backend.synchronize()?;
        Ok(t.elapsed() / reps.max(1))
    }
}

impl<'g> LoadedModule<'g> {
    pub fn kernel(&self, name: &str) -> Result<Kernel> {
        Ok(Kernel { name: name.to_string(), handle: self.gpu.backend.function(self.handle, name)? })
    }
}

impl Drop for LoadedModule<'_> {
    fn drop(&mut self) {
        self.gpu.backend.unload(self.handle);
    }
}

impl<'g> Buffer<'g> {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn device_ptr(&self) -> u64 {
        self.ptr
    }

    pub fn write<T: Copy>(&self, data: &[T]) -> Result<()> {
        let n = std::mem::size_of_val(data);
        if n > self.bytes {
            return Err(Error::Runtime(format!("writing {n} bytes into a buffer of {}", self.bytes)));
        }
        let bytes = unsafe { std::slice::from_raw_parts(data.as_ptr() as *const u8, n) };
        self.gpu.backend.upload(self.ptr, bytes)
    }

    pub fn read<T: Copy + Default>(&self) -> Result<Vec<T>> {
        let mut v = vec![T::default(); self.bytes / std::mem::size_of::<T>()];
        let n = std::mem::size_of_val(v.as_slice());
        let bytes = unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, n) };
        self.gpu.backend.download(self.ptr, bytes)?;
        Ok(v)
    }

    pub fn read_f32(&self) -> Result<Vec<f32>> {
        self.read::<f32>()
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        self.gpu.backend.free(self.ptr);
    }
}
