//! The CUDA backend (feature `cuda`): the driver API through cudarc's thin `result` layer,
//! with libcuda loaded at run time (so this builds without CUDA installed). PTX is loaded
//! with `cuModuleLoadData`, which JIT-compiles it for the device.

use crate::device::{Backend, Dims};
use crate::{Error, GpuTarget, Result};
use cudarc::driver::{result, sys, DriverError};
use std::ffi::{c_void, CString};

pub struct CudaBackend {
    ctx: sys::CUcontext,
    device: sys::CUdevice,
    name: String,
}

fn err(what: &str, e: DriverError) -> Error {
    let name = e.error_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|_| format!("{:?}", e.0));
    let text = e.error_string().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Error::Runtime(format!("{what}: {name} ({text})"))
}

impl CudaBackend {
    pub fn new(ordinal: i32) -> Result<CudaBackend> {
        if !unsafe { sys::is_culib_present() } {
            return Err(Error::Runtime("libcuda (the NVIDIA driver library) is not installed here".into()));
        }
        result::init().map_err(|e| err("cuInit", e))?;
        let count = result::device::get_count().map_err(|e| err("cuDeviceGetCount", e))?;
        if ordinal >= count {
            return Err(Error::Runtime(format!("no CUDA device {ordinal} ({count} found)")));
        }
        let device = result::device::get(ordinal).map_err(|e| err("cuDeviceGet", e))?;
        let ctx = unsafe { result::primary_ctx::retain(device) }.map_err(|e| err("cuDevicePrimaryCtxRetain", e))?;
        unsafe { result::ctx::set_current(ctx) }.map_err(|e| err("cuCtxSetCurrent", e))?;
        let name = result::device::get_name(device).unwrap_or_else(|_| "?".into());
        // Derivatives may keep per-thread tapes on the device heap (malloc): give it room
        // (default 8 MiB). $RADX_CUDA_HEAP_MB overrides the 1 GiB used here.
        let mb: usize = std::env::var("RADX_CUDA_HEAP_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
        result::ctx::set_limit(sys::CUlimit::CU_LIMIT_MALLOC_HEAP_SIZE, mb << 20).map_err(|e| err("cuCtxSetLimit(MALLOC_HEAP_SIZE)", e))?;
        Ok(CudaBackend { ctx, device, name })
    }

    fn current(&self) -> Result<()> {
        unsafe { result::ctx::set_current(self.ctx) }.map_err(|e| err("cuCtxSetCurrent", e))
    }
}

impl Backend for CudaBackend {
    fn describe(&self) -> String {
        format!("CUDA device {} ({})", self.device, self.name)
    }

    fn target(&self) -> GpuTarget {
        GpuTarget::Nvptx
    }

    fn load(&self, image: &[u8]) -> Result<usize> {
        self.current()?;
        let mut owned;
        let image = if image.last() == Some(&0) {
            image
        } else {
            owned = image.to_vec();
            owned.push(0);
            &owned[..]
        };
        let m = unsafe { result::module::load_data(image.as_ptr() as *const c_void) }.map_err(|e| err("cuModuleLoadData", e))?;
        Ok(m as usize)
    }

    fn unload(&self, module: usize) {
        let _ = unsafe { result::module::unload(module as sys::CUmodule) };
    }

    fn function(&self, module: usize, name: &str) -> Result<usize> {
        let f = unsafe { result::module::get_function(module as sys::CUmodule, CString::new(name).unwrap()) }.map_err(|e| err(&format!("cuModuleGetFunction `{name}`"), e))?;
        Ok(f as usize)
    }

    fn alloc(&self, bytes: usize) -> Result<u64> {
        self.current()?;
        unsafe { result::malloc_sync(bytes) }.map_err(|e| err("cuMemAlloc", e))
    }

    fn free(&self, ptr: u64) {
        let _ = unsafe { result::free_sync(ptr) };
    }

    fn upload(&self, dst: u64, src: &[u8]) -> Result<()> {
        unsafe { result::memcpy_htod_sync(dst, src) }.map_err(|e| err("cuMemcpyHtoD", e))
    }

    fn download(&self, src: u64, dst: &mut [u8]) -> Result<()> {
        unsafe { result::memcpy_dtoh_sync(dst, src) }.map_err(|e| err("cuMemcpyDtoH", e))
    }

    fn launch(&self, function: usize, d: &Dims, params: &mut [*mut c_void]) -> Result<()> {
        unsafe {
            result::launch_kernel(
                function as sys::CUfunction,
                (d.grid[0], d.grid[1], d.grid[2]),
                (d.block[0], d.block[1], d.block[2]),
                d.shared_bytes,
                std::ptr::null_mut(),
                params,
            )
        }
        .map_err(|e| err("cuLaunchKernel", e))
    }

    fn synchronize(&self) -> Result<()> {
        result::ctx::synchronize().map_err(|e| err("cuCtxSynchronize", e))
    }
}

impl Drop for CudaBackend {
    fn drop(&mut self) {
        let _ = unsafe { result::primary_ctx::release(self.device) };
    }
}
