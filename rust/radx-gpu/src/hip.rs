//! The HIP backend (feature `rocm`).
//!
//! The `hip-sys` crate cannot be built without ROCm: its build script panics when it finds no
//! `hip/hip_runtime_api.h` and it links `libamdhip64` at build time. So the dozen HIP runtime
//! entry points used here are declared by hand (from `hip_runtime_api.h`, ROCm 5 and 6 ABI)
//! and bound at run time through `libloading`: the feature builds anywhere, and fails with a
//! message at run time where there is no ROCm.

use crate::device::{Backend, Dims};
use crate::{Error, GpuTarget, Result};
use libloading::Library;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};

type HipError = c_int;
type HipModule = *mut c_void;
type HipFunction = *mut c_void;

struct Api {
    init: unsafe extern "C" fn(c_uint) -> HipError,
    get_device_count: unsafe extern "C" fn(*mut c_int) -> HipError,
    set_device: unsafe extern "C" fn(c_int) -> HipError,
    device_get_name: unsafe extern "C" fn(*mut c_char, c_int, c_int) -> HipError,
    module_load_data: unsafe extern "C" fn(*mut HipModule, *const c_void) -> HipError,
    module_unload: unsafe extern "C" fn(HipModule) -> HipError,
    module_get_function: unsafe extern "C" fn(*mut HipFunction, HipModule, *const c_char) -> HipError,
    malloc: unsafe extern "C" fn(*mut *mut c_void, usize) -> HipError,
    free: unsafe extern "C" fn(*mut c_void) -> HipError,
    memcpy_htod: unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> HipError,
    memcpy_dtoh: unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> HipError,
    #[allow(clippy::type_complexity)]
    module_launch_kernel: unsafe extern "C" fn(HipFunction, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, *mut c_void, *mut *mut c_void, *mut *mut c_void) -> HipError,
    device_synchronize: unsafe extern "C" fn() -> HipError,
    get_error_string: unsafe extern "C" fn(HipError) -> *const c_char,
    _lib: Library,
}

/// Where the HIP runtime may be: `$RADX_HIP_LIB` first.
fn candidates() -> Vec<String> {
    let mut c = Vec::new();
    if let Ok(p) = std::env::var("RADX_HIP_LIB") {
        c.push(p);
    }
    for root in [std::env::var("ROCM_PATH").unwrap_or_default(), std::env::var("HIP_PATH").unwrap_or_default(), "/opt/rocm".into()] {
        if !root.is_empty() {
            c.push(format!("{root}/lib/libamdhip64.so"));
        }
    }
    c.extend(["libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5"].map(String::from));
    c
}

impl Api {
    fn load() -> Result<Api> {
        let mut tried = Vec::new();
        for name in candidates() {
            match unsafe { Library::new(&name) } {
                Ok(lib) => return unsafe { Api::bind(lib) },
                Err(e) => tried.push(format!("{name}: {e}")),
            }
        }
        Err(Error::Runtime(format!("the HIP runtime (libamdhip64) is not installed here; tried {}", tried.join("; "))))
    }

    unsafe fn bind(lib: Library) -> Result<Api> {
        macro_rules! sym {
            ($name:literal) => {
                *lib.get(concat!($name, "\0").as_bytes()).map_err(|e| Error::Runtime(format!("libamdhip64 has no `{}`: {e}", $name)))?
            };
        }
        Ok(Api {
            init: sym!("hipInit"),
            get_device_count: sym!("hipGetDeviceCount"),
            set_device: sym!("hipSetDevice"),
            device_get_name: sym!("hipDeviceGetName"),
            module_load_data: sym!("hipModuleLoadData"),
            module_unload: sym!("hipModuleUnload"),
            module_get_function: sym!("hipModuleGetFunction"),
            malloc: sym!("hipMalloc"),
            free: sym!("hipFree"),
            memcpy_htod: sym!("hipMemcpyHtoD"),
            memcpy_dtoh: sym!("hipMemcpyDtoH"),
            module_launch_kernel: sym!("hipModuleLaunchKernel"),
            device_synchronize: sym!("hipDeviceSynchronize"),
            get_error_string: sym!("hipGetErrorString"),
            _lib: lib,
        })
    }

    fn check(&self, what: &str, e: HipError) -> Result<()> {
        if e == 0 {
            return Ok(());
        }
        let s = unsafe { (self.get_error_string)(e) };
        let text = if s.is_null() { String::new() } else { unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned() };
        Err(Error::Runtime(format!("{what}: hipError {e} ({text})")))
    }
}

pub struct HipBackend {
    api: Api,
    ordinal: i32,
    name: String,
}

impl HipBackend {
    pub fn new(ordinal: i32) -> Result<HipBackend> {
        let api = Api::load()?;
        unsafe {
            api.check("hipInit", (api.init)(0))?;
            let mut n = 0;
            api.check("hipGetDeviceCount", (api.get_device_count)(&mut n))?;
            if ordinal >= n {
                return Err(Error::Runtime(format!("no HIP device {ordinal} ({n} found)")));
            }
            api.check("hipSetDevice", (api.set_device)(ordinal))?;
            let mut buf = [0 as c_char; 256];
            let name = if (api.device_get_name)(buf.as_mut_ptr(), buf.len() as c_int, ordinal) == 0 { CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned() } else { "?".into() };
            Ok(HipBackend { api, ordinal, name })
        }
    }

    fn current(&self) -> Result<()> {
        self.api.check("hipSetDevice", unsafe { (self.api.set_device)(self.ordinal) })
    }
}

impl Backend for HipBackend {
    fn describe(&self) -> String {
        format!("HIP device {} ({})", self.ordinal, self.name)
    }

    fn target(&self) -> GpuTarget {
        GpuTarget::Amdgpu
    }

    fn load(&self, image: &[u8]) -> Result<usize> {
        self.current()?;
        let mut m = std::ptr::null_mut();
        self.api.check("hipModuleLoadData", unsafe { (self.api.module_load_data)(&mut m, image.as_ptr() as *const c_void) })?;
        Ok(m as usize)
    }

    fn unload(&self, module: usize) {
        unsafe { (self.api.module_unload)(module as HipModule) };
    }

    fn function(&self, module: usize, name: &str) -> Result<usize> {
        let mut f = std::ptr::null_mut();
        let c = CString::new(name).unwrap();
        self.api.check(&format!("hipModuleGetFunction `{name}`"), unsafe { (self.api.module_get_function)(&mut f, module as HipModule, c.as_ptr()) })?;
        Ok(f as usize)
    }

    fn alloc(&self, bytes: usize) -> Result<u64> {
        self.current()?;
        let mut p = std::ptr::null_mut();
        self.api.check("hipMalloc", unsafe { (self.api.malloc)(&mut p, bytes) })?;
        Ok(p as u64)
    }

    fn free(&self, ptr: u64) {
        unsafe { (self.api.free)(ptr as *mut c_void) };
    }

    fn upload(&self, dst: u64, src: &[u8]) -> Result<()> {
        self.api.check("hipMemcpyHtoD", unsafe { (self.api.memcpy_htod)(dst as *mut c_void, src.as_ptr() as *const c_void, src.len()) })
    }

    fn download(&self, src: u64, dst: &mut [u8]) -> Result<()> {
        self.api.check("hipMemcpyDtoH", unsafe { (self.api.memcpy_dtoh)(dst.as_mut_ptr() as *mut c_void, src as *mut c_void, dst.len()) })
    }

    fn launch(&self, function: usize, d: &Dims, params: &mut [*mut c_void]) -> Result<()> {
        self.current()?;
        let e = unsafe {
            (self.api.module_launch_kernel)(
                function as HipFunction,
                d.grid[0],
                d.grid[1],
                d.grid[2],
                d.block[0],
                d.block[1],
                d.block[2],
                d.shared_bytes,
                std::ptr::null_mut(),
                params.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        };
        self.api.check("hipModuleLaunchKernel", e)
    }

    fn synchronize(&self) -> Result<()> {
        self.api.check("hipDeviceSynchronize", unsafe { (self.api.device_synchronize)() })
    }
}
