//! Helpers shared by the libradx tests: compiling C to bitcode with the clang of libradx's LLVM, calling the
//! C entry points from Rust and copying what they return, and JIT-running derivatives.
#![allow(dead_code)]

use radx_core::llvm_sys;
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
    radx_core::ir::llvm::tool("clang")
}

/// A fresh scratch directory under cargo's target tmp dir.
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("capi-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles C source to bitcode (`clang -c -emit-llvm FLAGS`).
pub fn c_to_bitcode(src: &str, flags: &[&str]) -> Vec<u8> {
    let d = scratch("cc");
    let c = d.join("m.c");
    let bc = d.join("m.bc");
    std::fs::write(&c, src).unwrap();
    let out = Command::new(clang()).args(flags).arg("-c").arg("-emit-llvm").arg(&c).arg("-o").arg(&bc).output().expect("run clang");
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

/// A copy of one `radx_slot`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub role: RadxSlotRole,
    pub arg: u32,
    pub lane: u32,
    pub ty: String,
}

/// A copy of one `radx_function`.
#[derive(Debug, Clone)]
pub struct Func {
    pub name: String,
    pub mode: RadxMode,
    pub layout: RadxReturnLayout,
    pub llvm_type: String,
    pub params: Vec<Slot>,
    pub results: Vec<Slot>,
}

impl Func {
    /// The signature as a compact string: `role(arg.lane):type, ... -> ...`.
    pub fn brief(&self) -> String {
        let one = |s: &Slot| {
            let role = signature::role_name(s.role).trim_start_matches("RADX_SLOT_").to_lowercase();
            let at = if s.arg == u32::MAX { String::new() } else if s.role == RADX_SLOT_SHADOW { format!("{}.{}", s.arg, s.lane) } else { s.arg.to_string() };
            let at = if at.is_empty() && s.role == RADX_SLOT_RETURN_SHADOW { s.lane.to_string() } else { at };
            format!("{role}{}:{}", if at.is_empty() { String::new() } else { format!("({at})") }, s.ty)
        };
        let p: Vec<String> = self.params.iter().map(one).collect();
        let r: Vec<String> = self.results.iter().map(one).collect();
        format!("{} -> {}", p.join(", "), r.join(", "))
    }
}

/// A copy of a `radx_result`.
#[derive(Debug, Clone)]
pub struct Res {
    pub bitcode: Vec<u8>,
    pub function_name: Option<String>,
    pub calls_lowered: usize,
    pub report_json: String,
    pub functions: Vec<Func>,
    pub tape_type: Option<String>,
}

unsafe fn opt(p: *const std::os::raw::c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

unsafe fn slots(p: *const RadxSlot, n: usize) -> Vec<Slot> {
    if n == 0 {
        return vec![];
    }
    std::slice::from_raw_parts(p, n)
        .iter()
        .map(|s| Slot { role: s.role, arg: s.arg, lane: s.lane, ty: opt(s.llvm_type).expect("slot type") })
        .collect()
}

unsafe fn funcs(p: *const RadxFunction, n: usize) -> Vec<Func> {
    if n == 0 {
        assert!(p.is_null());
        return vec![];
    }
    std::slice::from_raw_parts(p, n)
        .iter()
        .map(|f| Func {
            name: opt(f.name).expect("name"),
            mode: f.mode,
            layout: f.return_layout,
            llvm_type: opt(f.llvm_type).expect("llvm_type"),
            params: slots(f.params, f.num_params),
            results: slots(f.results, f.num_results),
        })
        .collect()
}

/// Copies and frees what an entry point returned.
pub unsafe fn collect(status: RadxStatus, res: *mut RadxResult, err: *mut RadxError) -> Result<Res, (RadxStatus, Vec<Err>)> {
    if status == RADX_OK {
        assert!(err.is_null(), "an error chain on success");
        assert!(!res.is_null(), "no result on success");
        let r = &*res;
        let out = Res {
            bitcode: if r.bitcode.is_null() { vec![] } else { std::slice::from_raw_parts(r.bitcode, r.bitcode_len).to_vec() },
            function_name: opt(r.function_name),
            calls_lowered: r.calls_lowered,
            report_json: opt(r.report_json).expect("report_json is never NULL"),
            functions: funcs(r.functions, r.num_functions),
            tape_type: opt(r.tape_type),
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

/// A request with every field given.
pub fn req(name: &CString, mode: RadxMode, args: &[RadxActivity], ret: RadxActivity, return_primal: bool) -> RadxRequest {
    RadxRequest {
        function: name.as_ptr(),
        mode,
        width: 1,
        args: if args.is_empty() { std::ptr::null() } else { args.as_ptr() },
        num_args: args.len(),
        return_activity: ret,
        return_primal: return_primal as u8,
        flags: 0,
    }
}

/// `radx_differentiate_ex`.
pub fn request_ex(bc: &[u8], req: &RadxRequest, rules: *const RadxRules) -> Result<Res, (RadxStatus, Vec<Err>)> {
    let mut res = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    unsafe {
        let s = radx_differentiate_ex(bc.as_ptr(), bc.len(), req, rules, &mut res, &mut err);
        collect(s, res, err)
    }
}

/// `radx_differentiate_module` with libradx's own identity function (`LLVMGetVersion`, on
/// LLVM 15 `LLVMContextCreate`).
pub fn request_module(m: llvm_sys::prelude::LLVMModuleRef, req: &RadxRequest, rules: *const RadxRules) -> Result<Res, (RadxStatus, Vec<Err>)> {
    let (_, addr) = radx_core::ir::llvm::identity_symbol();
    let f: unsafe extern "C" fn(*mut std::os::raw::c_uint, *mut std::os::raw::c_uint, *mut std::os::raw::c_uint) = unsafe { std::mem::transmute(addr) };
    request_module_with(m, Some(f), req, rules)
}

pub fn request_module_with(
    m: llvm_sys::prelude::LLVMModuleRef,
    get_version: RadxLlvmGetVersionFn,
    req: &RadxRequest,
    rules: *const RadxRules,
) -> Result<Res, (RadxStatus, Vec<Err>)> {
    let mut res = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    unsafe {
        let s = radx_differentiate_module(m, get_version, req, rules, &mut res, &mut err);
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
    with_jit_many(bc, &[name], |a| f(a[0]))
}

/// JIT-compiles bitcode once and hands the addresses of `names` to `f`.
pub fn with_jit_many<R>(bc: &[u8], names: &[&str], f: impl FnOnce(&[usize]) -> R) -> R {
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
    let addrs: Vec<usize> =
        names.iter().map(|name| ee.get_function_address(name).unwrap_or_else(|e| panic!("no function `{name}` in the result: {e:?}"))).collect();
    f(&addrs)
}

extern "C" fn unresolved() {
    eprintln!("a JIT-compiled function called a function that does not exist");
    std::process::abort();
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}
