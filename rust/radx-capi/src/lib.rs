//! libradx: the C ABI of RadX (`include/radx.h`).
//!
//! Every entry point runs inside [`guard`], which catches panics (they become
//! `RADX_ERR_INTERNAL`) and turns failures into `radx_error` chains. Every call parses the
//! caller's buffer into an LLVM context of its own and disposes of it before returning,
//! so calls are independent and may run concurrently.

mod activity;
pub mod error;
mod cached;
mod inprocess;
mod request;
pub mod rules;
pub mod signature;
pub mod types;

use radx_core::llvm_sys;
use error::{c_string, free_c_string, to_chain, Failure};
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use radx_core::ir::builder::Builder;
use radx_core::{Code, Diagnostic, Report};
use request::Generated;
pub use rules::RadxRules;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
pub use types::*;

/// Runs `body`, catching panics; stores the error chain in `*error` when it is non-null.
pub fn guard(error: *mut *mut RadxError, body: impl FnOnce() -> Result<(), Failure>) -> RadxStatus {
    if !error.is_null() {
        // SAFETY: the caller passes a writable `radx_error *` slot or NULL.
        unsafe { *error = std::ptr::null_mut() };
    }
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return RADX_OK,
        Ok(Err(f)) => f,
        Err(payload) => Failure::from_panic(payload),
    };
    let status = failure.status();
    if !error.is_null() {
        // Building the chain only allocates; a panic here (out of memory) leaves it NULL.
        if let Ok(chain) = catch_unwind(AssertUnwindSafe(|| to_chain(failure))) {
            unsafe { *error = chain };
        }
    }
    status
}

/// Parses and verifies the caller's buffer (bitcode, or textual IR) in `ctx`.
pub(crate) fn parse_module<'c>(ctx: &'c Context, bitcode: *const u8, len: usize) -> Result<Module<'c>, Failure> {
    if bitcode.is_null() {
        return Err(Failure::invalid("the bitcode pointer is NULL"));
    }
    if len == 0 {
        return Err(Failure::api(RADX_ERR_MALFORMED_INPUT, "the bitcode buffer is empty"));
    }
    // SAFETY: the caller promises `len` readable bytes at `bitcode`.
    let bytes = unsafe { std::slice::from_raw_parts(bitcode, len) };
    let buf = MemoryBuffer::create_from_memory_range_copy(bytes, "radx-input");
    let m = ctx
        .create_module_from_ir(buf)
        .map_err(|e| Failure::from(radx_core::ir::llvm::unreadable_module("the buffer is not LLVM bitcode or IR", &e.to_string())))?;
    if let Err(e) = m.verify() {
        return Err(Diagnostic::new(Code::MalformedInput, format!("the module is not valid: {}", e.to_string().trim())).into());
    }
    Ok(m)
}

/// A new `radx_result`: the module as bitcode when `m` is given (the bitcode door), none
/// when the caller's module was changed in place.
pub(crate) fn make_result(m: Option<&Module>, function_name: Option<&str>, report: &Report, json: Option<serde_json::Value>, gen: Option<(&Builder, &Generated)>) -> *mut RadxResult {
    let (bitcode, bitcode_len) = match m {
        Some(m) => {
            let bc = m.write_bitcode_to_memory();
            let bytes: Box<[u8]> = bc.as_slice().to_vec().into_boxed_slice();
            let n = bytes.len();
            (Box::into_raw(bytes) as *mut u8, n)
        }
        None => (std::ptr::null_mut(), 0),
    };
    let json = json.map(|j| j.to_string()).unwrap_or_else(|| serde_json::to_string(report).unwrap_or_else(|_| "{}".to_string()));
    let (functions, num_functions) = gen.map(|(b, g)| signature::functions_to_c(b, &g.functions)).unwrap_or((std::ptr::null_mut(), 0));
    let tape = gen.map(|(_, g)| g.tape).unwrap_or(false);
    Box::into_raw(Box::new(RadxResult {
        bitcode,
        bitcode_len,
        function_name: function_name.map(c_string).unwrap_or(std::ptr::null_mut()),
        calls_lowered: report.calls_lowered,
        report_json: c_string(&json),
        functions,
        num_functions,
        tape_type: if tape { c_string(request::TAPE_TYPE) } else { std::ptr::null_mut() },
    }))
}

fn check_result_slot(result: *mut *mut RadxResult) -> Result<(), Failure> {
    if result.is_null() {
        return Err(Failure::invalid("the result pointer is NULL"));
    }
    // SAFETY: non-null, and the caller passes a writable `radx_result *` slot.
    unsafe { *result = std::ptr::null_mut() };
    Ok(())
}

/// `const char *radx_version(void)`
#[no_mangle]
pub extern "C" fn radx_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// `void radx_version_numbers(uint32_t *major, uint32_t *minor, uint32_t *patch)`
///
/// # Safety
/// Each pointer is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn radx_version_numbers(major: *mut u32, minor: *mut u32, patch: *mut u32) {
    let parse = |s: &str| s.parse::<u32>().unwrap_or(0);
    for (p, v) in [
        (major, parse(env!("CARGO_PKG_VERSION_MAJOR"))),
        (minor, parse(env!("CARGO_PKG_VERSION_MINOR"))),
        (patch, parse(env!("CARGO_PKG_VERSION_PATCH"))),
    ] {
        if !p.is_null() {
            *p = v;
        }
    }
}

/// `const char *radx_status_name(radx_status status)`
#[no_mangle]
pub extern "C" fn radx_status_name(status: RadxStatus) -> *const c_char {
    static NAMES: OnceLock<HashMap<RadxStatus, CString>> = OnceLock::new();
    static UNKNOWN: &[u8] = b"unknown\0";
    let names = NAMES.get_or_init(|| {
        C_CONSTANTS
            .iter()
            .filter(|(n, _)| *n == "RADX_OK" || n.starts_with("RADX_ERR_"))
            .map(|(n, v)| (*v as RadxStatus, CString::new(*n).expect("constant names have no NUL")))
            .collect()
    });
    names.get(&status).map(|c| c.as_ptr()).unwrap_or(UNKNOWN.as_ptr() as *const c_char)
}

/// `radx_status radx_lower_module(const uint8_t *bitcode, size_t bitcode_len, uint32_t flags,
/// radx_result **result, radx_error **error)`
///
/// # Safety
/// `bitcode` points to `bitcode_len` readable bytes; `result` and `error` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn radx_lower_module(
    bitcode: *const u8,
    bitcode_len: usize,
    flags: u32,
    result: *mut *mut RadxResult,
    error: *mut *mut RadxError,
) -> RadxStatus {
    guard(error, || {
        check_result_slot(result)?;
        if flags & (RADX_FLAG_RUNTIME_ACTIVITY | RADX_FLAG_CACHE) as u32 != 0 {
            return Err(Failure::invalid("RADX_FLAG_RUNTIME_ACTIVITY and RADX_FLAG_CACHE are request flags; radx_lower_module takes RADX_FLAG_NO_PREOPT and RADX_FLAG_NO_POSTOPT"));
        }
        let options = request::options_from_flags(flags)?;
        let ctx = Context::create();
        let m = parse_module(&ctx, bitcode, bitcode_len)?;
        let report = radx_core::lower_module(m.as_mut_ptr(), &options)?;
        *result = make_result(Some(&m), None, &report, None, None);
        Ok(())
    })
}

/// The bitcode door: parse into a private context, generate, write back.
unsafe fn differentiate_bitcode(
    bitcode: *const u8,
    bitcode_len: usize,
    request: *const RadxRequest,
    rules: *const RadxRules,
    result: *mut *mut RadxResult,
) -> Result<(), Failure> {
    check_result_slot(result)?;
    let parsed = request::parse(request)?;
    let cache = cached::cache_for(&parsed);
    let key = match &cache {
        Some(_) if !bitcode.is_null() => Some(cached::key(std::slice::from_raw_parts(bitcode, bitcode_len), &parsed, rules.as_ref())),
        _ => None,
    };
    if let (Some(c), Some(k)) = (&cache, &key) {
        let t = std::time::Instant::now();
        if let Some(mut hit) = cached::lookup(c, k) {
            if let Some((functions, num_functions)) = cached::functions_from_json(&hit.json) {
                cached::mark_hit(&mut hit.json, k, t.elapsed().as_secs_f64() * 1e3);
                *result = result_from_parts(Some(hit.bitcode), &hit.function_name, &hit.json, functions, num_functions);
                return Ok(());
            }
        }
    }
    let ctx = Context::create();
    let m = parse_module(&ctx, bitcode, bitcode_len)?;
    let g = request::generate(m.as_mut_ptr(), &parsed, rules.as_ref())?;
    let b = Builder::new(m.as_mut_ptr());
    *result = make_result(Some(&m), Some(&g.function_name), &g.report, Some(g.json.clone()), Some((&b, &g)));
    if let (Some(c), Some(k)) = (&cache, &key) {
        let r = &**result;
        cached::store(c, k, std::slice::from_raw_parts(r.bitcode, r.bitcode_len), &g.function_name, &g.json);
    }
    Ok(())
}

/// A result made of parts that are already bytes and C structures (a cache hit).
fn result_from_parts(bitcode: Option<Vec<u8>>, function_name: &str, json: &serde_json::Value, functions: *mut RadxFunction, num_functions: usize) -> *mut RadxResult {
    let (bitcode, bitcode_len) = match bitcode {
        Some(b) => {
            let n = b.len();
            (Box::into_raw(b.into_boxed_slice()) as *mut u8, n)
        }
        None => (std::ptr::null_mut(), 0),
    };
    let tape = json.get("tape").and_then(|t| t.as_str()).is_some();
    Box::into_raw(Box::new(RadxResult {
        bitcode,
        bitcode_len,
        function_name: c_string(function_name),
        calls_lowered: 0,
        report_json: c_string(&json.to_string()),
        functions,
        num_functions,
        tape_type: if tape { c_string(request::TAPE_TYPE) } else { std::ptr::null_mut() },
    }))
}

/// `radx_status radx_differentiate(const uint8_t *bitcode, size_t bitcode_len,
/// const radx_request *request, radx_result **result, radx_error **error)`
///
/// # Safety
/// `bitcode` points to `bitcode_len` readable bytes; `request` is NULL or a valid request
/// whose `function` is a NUL-terminated string and whose `args` holds `num_args` values;
/// `result` and `error` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn radx_differentiate(
    bitcode: *const u8,
    bitcode_len: usize,
    request: *const RadxRequest,
    result: *mut *mut RadxResult,
    error: *mut *mut RadxError,
) -> RadxStatus {
    guard(error, || differentiate_bitcode(bitcode, bitcode_len, request, std::ptr::null(), result))
}

/// `radx_status radx_differentiate_ex(const uint8_t *bitcode, size_t bitcode_len,
/// const radx_request *request, const radx_rules *rules, radx_result **result,
/// radx_error **error)`
///
/// # Safety
/// As `radx_differentiate`; `rules` is NULL or came from `radx_rules_new`.
#[no_mangle]
pub unsafe extern "C" fn radx_differentiate_ex(
    bitcode: *const u8,
    bitcode_len: usize,
    request: *const RadxRequest,
    rules: *const RadxRules,
    result: *mut *mut RadxResult,
    error: *mut *mut RadxError,
) -> RadxStatus {
    guard(error, || differentiate_bitcode(bitcode, bitcode_len, request, rules, result))
}

/// `radx_status radx_differentiate_module(struct LLVMOpaqueModule *module,
/// radx_llvm_get_version_fn llvm_get_version, const radx_request *request,
/// const radx_rules *rules, radx_result **result, radx_error **error)`
///
/// # Safety
/// `module` is NULL or a live module of the libLLVM whose `LLVMGetVersion` (LLVM 15:
/// `LLVMContextCreate`) is `llvm_get_version`, not used by another thread during the call (nor is its context);
/// the rest as for `radx_differentiate_ex`.
#[no_mangle]
pub unsafe extern "C" fn radx_differentiate_module(
    module: *mut llvm_sys::LLVMModule,
    llvm_get_version: RadxLlvmGetVersionFn,
    request: *const RadxRequest,
    rules: *const RadxRules,
    result: *mut *mut RadxResult,
    error: *mut *mut RadxError,
) -> RadxStatus {
    guard(error, || {
        check_result_slot(result)?;
        if module.is_null() {
            return Err(Failure::invalid("the module pointer is NULL"));
        }
        // Nothing of the module is touched before the LLVM check.
        inprocess::check_llvm(llvm_get_version)?;
        let parsed = request::parse(request)?;
        inprocess::verify_input(module)?;
        let cache = cached::cache_for(&parsed);
        let key = cache.as_ref().map(|_| cached::key(&cached::module_bitcode(module), &parsed, rules.as_ref()));
        if let (Some(c), Some(k)) = (&cache, &key) {
            let t = std::time::Instant::now();
            if let Some(mut hit) = cached::lookup(c, k) {
                if let Some((functions, num_functions)) = cached::functions_from_json(&hit.json) {
                    if cached::link_new_symbols(module, &hit.bitcode)? {
                        cached::mark_hit(&mut hit.json, k, t.elapsed().as_secs_f64() * 1e3);
                        *result = result_from_parts(None, &hit.function_name, &hit.json, functions, num_functions);
                        return Ok(());
                    }
                    signature::free_functions(functions, num_functions);
                }
            }
        }
        let before = inprocess::Snapshot::take(module);
        let outcome = catch_unwind(AssertUnwindSafe(|| request::generate(module, &parsed, rules.as_ref())));
        let g = match outcome {
            Ok(Ok(g)) => g,
            Ok(Err(f)) => {
                before.restore(module);
                return Err(f);
            }
            Err(panic) => {
                before.restore(module);
                return Err(Failure::from_panic(panic));
            }
        };
        let b = Builder::new(module);
        *result = make_result(None, Some(&g.function_name), &g.report, Some(g.json.clone()), Some((&b, &g)));
        if let (Some(c), Some(k)) = (&cache, &key) {
            cached::store(c, k, &cached::module_bitcode(module), &g.function_name, &g.json);
        }
        Ok(())
    })
}

/// `radx_status radx_check_program(const uint8_t *const *modules, const size_t *lengths,
/// size_t num_modules, const char *const *argv, uint64_t seed, char **report_json,
/// int *failed, radx_error **error)`
///
/// # Safety
/// `modules` and `lengths` hold `num_modules` entries, each buffer `lengths[i]` readable
/// bytes; `argv` is NULL or a NULL-terminated array of NUL-terminated strings;
/// `report_json`, `failed` and `error` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn radx_check_program(
    modules: *const *const u8,
    lengths: *const usize,
    num_modules: usize,
    argv: *const *const c_char,
    seed: u64,
    report_json: *mut *mut c_char,
    failed: *mut std::os::raw::c_int,
    error: *mut *mut RadxError,
) -> RadxStatus {
    guard(error, || {
        if report_json.is_null() {
            return Err(Failure::invalid("the report_json pointer is NULL"));
        }
        *report_json = std::ptr::null_mut();
        if num_modules == 0 || modules.is_null() || lengths.is_null() {
            return Err(Failure::invalid("no modules: pass num_modules >= 1 buffers and their lengths"));
        }
        let mut bufs = Vec::with_capacity(num_modules);
        for i in 0..num_modules {
            let (p, n) = (*modules.add(i), *lengths.add(i));
            if p.is_null() || n == 0 {
                return Err(Failure::invalid(format!("module {i} is NULL or empty")));
            }
            bufs.push(std::slice::from_raw_parts(p, n).to_vec());
        }
        let mut program_args = Vec::new();
        if !argv.is_null() {
            let mut k = 0;
            while !(*argv.add(k)).is_null() {
                program_args.push(std::ffi::CStr::from_ptr(*argv.add(k)).to_string_lossy().into_owned());
                k += 1;
            }
        }
        let dir = radx_core::check::driver::scratch_dir().map_err(|e| Failure::api(RADX_ERR_INTERNAL, e))?;
        let setup = radx_core::check::driver::Setup { link_flags: vec![], program_args, seed, dir: dir.clone() };
        let outcome = radx_core::check::driver::check_program(&bufs, &setup);
        let _ = std::fs::remove_dir_all(&dir);
        let outcome = outcome.map_err(|e| Failure::api(if e.starts_with("cannot read") || e.contains("not a valid module") { RADX_ERR_MALFORMED_INPUT } else { RADX_ERR_INTERNAL }, e))?;
        *report_json = c_string(&outcome.to_json().to_string());
        if !failed.is_null() {
            *failed = outcome.failed() as std::os::raw::c_int;
        }
        Ok(())
    })
}

/// `void radx_string_free(char *s)`
///
/// # Safety
/// `s` is NULL or a string libradx returned, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn radx_string_free(s: *mut c_char) {
    free_c_string(s);
}

/// `uint32_t radx_abi_version(void)`
#[no_mangle]
pub extern "C" fn radx_abi_version() -> u32 {
    RADX_ABI_VERSION
}

/// `void radx_llvm_version(uint32_t *major, uint32_t *minor, uint32_t *patch)`
///
/// # Safety
/// Each pointer is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn radx_llvm_version(major: *mut u32, minor: *mut u32, patch: *mut u32) {
    let (a, b, c) = radx_core::ir::llvm::version();
    for (p, v) in [(major, a), (minor, b), (patch, c)] {
        if !p.is_null() {
            *p = v;
        }
    }
}

/// `radx_rules *radx_rules_new(void)`
#[no_mangle]
pub extern "C" fn radx_rules_new() -> *mut RadxRules {
    catch_unwind(|| Box::into_raw(Box::<RadxRules>::default())).unwrap_or(std::ptr::null_mut())
}

/// `radx_status radx_rules_add(radx_rules *rules, const radx_rule *rule, radx_error **error)`
///
/// # Safety
/// `rules` is NULL or came from `radx_rules_new`; `rule` is NULL or valid; `error` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn radx_rules_add(rules: *mut RadxRules, rule: *const RadxRule, error: *mut *mut RadxError) -> RadxStatus {
    guard(error, || {
        let Some(r) = rules.as_ref() else { return Err(Failure::invalid("the rules pointer is NULL")) };
        r.add(rule)
    })
}

/// `size_t radx_rules_count(const radx_rules *rules)`
///
/// # Safety
/// `rules` is NULL or came from `radx_rules_new`.
#[no_mangle]
pub unsafe extern "C" fn radx_rules_count(rules: *const RadxRules) -> usize {
    rules.as_ref().map(|r| catch_unwind(AssertUnwindSafe(|| r.len())).unwrap_or(0)).unwrap_or(0)
}

/// `void radx_rules_free(radx_rules *rules)`
///
/// # Safety
/// `rules` is NULL or came from `radx_rules_new` and has not been freed.
#[no_mangle]
pub unsafe extern "C" fn radx_rules_free(rules: *mut RadxRules) {
    if !rules.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(rules))));
    }
}

/// `void radx_result_free(radx_result *result)`
///
/// # Safety
/// `result` is NULL or came from this library and has not been freed.
#[no_mangle]
pub unsafe extern "C" fn radx_result_free(result: *mut RadxResult) {
    if result.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let r = Box::from_raw(result);
        if !r.bitcode.is_null() {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(r.bitcode, r.bitcode_len)));
        }
        free_c_string(r.function_name);
        free_c_string(r.report_json);
        signature::free_functions(r.functions, r.num_functions);
        free_c_string(r.tape_type);
    }));
}

/// `void radx_error_free(radx_error *error)`
///
/// # Safety
/// `error` is NULL or the head of a chain from this library that has not been freed.
#[no_mangle]
pub unsafe extern "C" fn radx_error_free(error: *mut RadxError) {
    let _ = catch_unwind(AssertUnwindSafe(|| error::free_chain(error)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let mut err: *mut RadxError = std::ptr::null_mut();
        let status = guard(&mut err, || panic!("boom"));
        assert_eq!(status, RADX_ERR_INTERNAL);
        assert!(!err.is_null());
        let msg = unsafe { CStr::from_ptr((*err).message) }.to_str().unwrap().to_string();
        assert!(msg.contains("boom"), "{msg}");
        assert!(unsafe { (*err).next }.is_null());
        unsafe { radx_error_free(err) };
        // Without an error slot only the status comes back.
        assert_eq!(guard(std::ptr::null_mut(), || panic!("again")), RADX_ERR_INTERNAL);
    }

    #[test]
    fn status_names() {
        let name = |s| unsafe { CStr::from_ptr(radx_status_name(s)) }.to_str().unwrap().to_string();
        assert_eq!(name(RADX_OK), "RADX_OK");
        assert_eq!(name(RADX_ERR_UNSUPPORTED_MODE), "RADX_ERR_UNSUPPORTED_MODE");
        assert_eq!(name(1234), "unknown");
        assert_eq!(status_name(RADX_ERR_NO_RULE), "RADX_ERR_NO_RULE");
    }
}
