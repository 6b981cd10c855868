//! Helpers shared by the libradx tests: compiling C to bitcode with clang-16, calling the
//! C entry points from Rust and copying what they return, and JIT-running derivatives.
#![allow(dead_code)]

use radx::*;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn clang() -> String {
    if let Ok(c) = std::env::var("RADX_CLANG") {
        if !c.is_empty() {
            return c;
        }
    }
    if Command::new("clang-16").arg("--version").output().map(|o| o.status.success()).unwrap_or(false) {
        return "clang-16".into();
    }
    "/usr/lib/llvm-16/bin/clang".into()
}

/// A fresh scratch directory under cargo's target tmp dir.
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("capi-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles C source to bitcode (`clang-16 -c -emit-llvm FLAGS`).
pub fn c_to_bitcode(src: &str, flags: &[&str]) -> Vec<u8> {
    let d = scratch("cc");
    let c = d.join("m.c");
    let bc = d.join("m.bc");
    std::fs::write(&c, src).unwrap();
    let out = Command::new(clang()).args(flags).arg("-c").arg("-emit-llvm").arg(&c).arg("-o").arg(&bc).output().expect("run clang-16");
    assert!(out.status.success(), "clang failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(&bc).unwrap()
}

/// A copy of one `radx_error`.
#[derive(Debug, Clone)]
pub struct Err {
    pub code: RadxStatus,
    pub message: String,
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: u32,
    pub construct: Option<String>,
    pub hint: Option<String>,
    pub text: String,
}

/// A copy of a `radx_result`.
#[derive(Debug, Clone)]
pub struct Res {
    pub bitcode: Vec<u8>,
    pub function_name: Option<String>,
    pub calls_lowered: usize,
    pub report_json: String,
}

unsafe fn opt(p: *const std::os::raw::c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

/// Copies and frees what an entry point returned.
pub unsafe fn collect(status: RadxStatus, res: *mut RadxResult, err: *mut RadxError) -> Result<Res, (RadxStatus, Vec<Err>)> {
    if status == RADX_OK {
        assert!(err.is_null(), "an error chain on success");
        assert!(!res.is_null(), "no result on success");
        let r = &*res;
        let out = Res {
            bitcode: std::slice::from_raw_parts(r.bitcode, r.bitcode_len).to_vec(),
            function_name: opt(r.function_name),
            calls_lowered: r.calls_lowered,
            report_json: opt(r.report_json).expect("report_json is never NULL"),
        };
        radx_result_free(res);
        return Ok(out);
    }
    assert!(res.is_null(), "a result on failure");
    let mut errs = Vec::new();
    let mut e = err;
    while !e.is_null() {
        let r = &*e;
        errs.push(Err {
            code: r.code,
            message: opt(r.message).expect("message is never NULL"),
            function: opt(r.function),
            file: opt(r.file),
            line: r.line,
            construct: opt(r.construct),
            hint: opt(r.hint),
            text: opt(r.text).expect("text is never NULL"),
        });
        e = r.next;
    }
    radx_error_free(err);
    Err((status, errs))
}

/// `radx_differentiate` in forward mode.
pub fn forward(bc: &[u8], function: &str, args: &[RadxActivity], width: u32, return_primal: bool) -> Result<Res, (RadxStatus, Vec<Err>)> {
    let name = CString::new(function).unwrap();
    let req = RadxRequest {
        function: name.as_ptr(),
        mode: RADX_MODE_FORWARD,
        width,
        args: if args.is_empty() { std::ptr::null() } else { args.as_ptr() },
        num_args: args.len(),
        return_activity: RADX_ACTIVITY_DEFAULT,
        return_primal: return_primal as u8,
        flags: 0,
    };
    request(bc, &req)
}

pub fn request(bc: &[u8], req: &RadxRequest) -> Result<Res, (RadxStatus, Vec<Err>)> {
    let mut res = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    unsafe {
        let s = radx_differentiate(bc.as_ptr(), bc.len(), req, &mut res, &mut err);
        collect(s, res, err)
    }
}

pub fn lower(bc: &[u8], flags: u32) -> Result<Res, (RadxStatus, Vec<Err>)> {
    let mut res = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    unsafe {
        let s = radx_lower_module(bc.as_ptr(), bc.len(), flags, &mut res, &mut err);
        collect(s, res, err)
    }
}

/// JIT-compiles bitcode and hands the address of `name` to `f`.
pub fn with_jit<R>(bc: &[u8], name: &str, f: impl FnOnce(usize) -> R) -> R {
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;
    use inkwell::targets::{InitializationConfig, Target};
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        Target::initialize_native(&InitializationConfig::default()).expect("native target");
        // Let the JIT resolve libm's functions (sin, exp, ...) called by the derivatives.
        for lib in [&b"libm.so.6\0"[..], &b"\0"[..]] {
            let p = if lib.len() == 1 { std::ptr::null() } else { lib.as_ptr() as *const _ };
            unsafe { llvm_sys::support::LLVMLoadLibraryPermanently(p) };
        }
    });
    let ctx = Context::create();
    let m = ctx.create_module_from_ir(MemoryBuffer::create_from_memory_range_copy(bc, "jit")).expect("bitcode from libradx parses");
    m.verify().expect("the module verifies");
    let ee = m.create_jit_execution_engine(inkwell::OptimizationLevel::None).expect("JIT");
    // MCJIT leaves every relocation of the object unresolved when one symbol is missing,
    // so declarations the process lacks (test modules declare such functions on purpose)
    // are bound to a stub that aborts if it is ever called.
    for f in m.get_functions() {
        let name = f.get_name().to_str().unwrap().to_string();
        if f.count_basic_blocks() == 0 && !name.starts_with("llvm.") {
            let c = CString::new(name).unwrap();
            if unsafe { llvm_sys::support::LLVMSearchForAddressOfSymbol(c.as_ptr()) }.is_null() {
                ee.add_global_mapping(&f, unresolved as *const () as usize);
            }
        }
    }
    let addr = ee.get_function_address(name).unwrap_or_else(|e| panic!("no function `{name}` in the result: {e:?}"));
    f(addr)
}

extern "C" fn unresolved() {
    eprintln!("a JIT-compiled function called a function that does not exist");
    std::process::abort();
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}
