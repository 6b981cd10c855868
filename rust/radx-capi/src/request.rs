//! `radx_differentiate*`: from a `radx_request` to a `radx_core` request (forward or
//! reverse), the generation, cleanup and verification of the derivative, and the exact
//! signatures of what was generated.

use radx_core::llvm_sys;
use crate::activity::{find_function, forward_arg, forward_return, read_activities, reverse_arg, reverse_return};
use crate::error::Failure;
use crate::rules::Registry;
use crate::signature::{self, FnSig};
use crate::types::*;
use radx_core::engine::Engine;
use radx_core::ir::{self, builder::Builder, Type, Value};
use radx_core::pipeline::{verify_and_clean, Snapshot};
use radx_core::request::{ForwardRequest, ReverseRequest};
use radx_core::{Options, Report};
use llvm_sys::prelude::LLVMModuleRef;
use std::ffi::CStr;

/// A `radx_request`, checked and copied out of the caller's memory.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub function: String,
    pub mode: RadxMode,
    pub width: u32,
    pub activities: Vec<RadxActivity>,
    pub return_activity: RadxActivity,
    pub return_primal: bool,
    pub options: Options,
    /// RADX_FLAG_CACHE.
    pub cache: bool,
}

/// What a request generated.
pub struct Generated {
    /// The function the request asked for (the augmented forward for REVERSE_PRIMAL, the
    /// reverse for REVERSE_GRADIENT).
    pub function_name: String,
    pub functions: Vec<FnSig>,
    pub tape: bool,
    pub report: Report,
    pub json: serde_json::Value,
}

/// Options from `RADX_FLAG_*` bits. Runtime activity is a known flag that is refused.
pub fn options_from_flags(flags: u32) -> Result<Options, Failure> {
    let known = (RADX_FLAG_NO_PREOPT | RADX_FLAG_NO_POSTOPT | RADX_FLAG_RUNTIME_ACTIVITY | RADX_FLAG_CACHE) as u32;
    if flags & !known != 0 {
        return Err(Failure::invalid(format!("unknown flag bits {:#x}", flags & !known))
            .hint("known flags: RADX_FLAG_NO_PREOPT, RADX_FLAG_NO_POSTOPT, RADX_FLAG_RUNTIME_ACTIVITY, RADX_FLAG_CACHE"));
    }
    if flags & RADX_FLAG_RUNTIME_ACTIVITY as u32 != 0 {
        return Err(Failure::api(
            RADX_ERR_UNSUPPORTED,
            "runtime activity (RADX_FLAG_RUNTIME_ACTIVITY, Enzyme's set_runtime_activity) is not supported by RadX yet: activity is decided at compile time only",
        )
        .hint("drop the flag; if a value's activity really is only known at run time, pass it as DUP with a zeroed shadow"));
    }
    let mut options = Options { preopt: flags & RADX_FLAG_NO_PREOPT == 0, postopt: flags & RADX_FLAG_NO_POSTOPT == 0, ..Options::default() };
    // Modules from libradx are often JIT-compiled (RadX.jl, ORC, MCJIT), where thread-local
    // globals and `__dso_handle` may not exist: finished tapes are freed, not kept.
    options.disabled.push("tape-reuse".into());
    Ok(options)
}

/// Unknown modes are invalid arguments; FORWARD_SPLIT is defined but not implemented.
pub fn check_mode(mode: RadxMode) -> Result<(), Failure> {
    match mode_name(mode) {
        None => Err(Failure::invalid(format!("unknown mode {mode}")).hint(
            "modes: RADX_MODE_FORWARD (0), RADX_MODE_REVERSE_PRIMAL (1), RADX_MODE_REVERSE_GRADIENT (2), RADX_MODE_REVERSE_COMBINED (3), RADX_MODE_FORWARD_SPLIT (4)",
        )),
        Some(name) if mode == RADX_MODE_FORWARD_SPLIT => Err(Failure::api(RADX_ERR_UNSUPPORTED_MODE, format!("{name} is not implemented yet"))
            .hint("use RADX_MODE_FORWARD (forward mode needs no tape)")),
        Some(_) => Ok(()),
    }
}

/// Reads and checks a request (not yet against a module).
///
/// # Safety
/// `req` is NULL or a valid request whose `function` is NUL-terminated and whose `args`
/// holds `num_args` values.
pub unsafe fn parse(req: *const RadxRequest) -> Result<Parsed, Failure> {
    if req.is_null() {
        return Err(Failure::invalid("the request pointer is NULL"));
    }
    let req = *req;
    check_mode(req.mode)?;
    let options = options_from_flags(req.flags)?;
    if req.function.is_null() {
        return Err(Failure::invalid("request.function is NULL"));
    }
    let function = CStr::from_ptr(req.function).to_str().map_err(|_| Failure::invalid("request.function is not UTF-8"))?.to_string();
    let activities = read_activities(req.args, req.num_args, "request")?;
    let width = if req.width == 0 { 1 } else { req.width };
    if width > 64 {
        return Err(Failure::invalid(format!("width {width} is out of range: the batch width is between 1 and 64")));
    }
    Ok(Parsed { function, mode: req.mode, width, activities, return_activity: req.return_activity, return_primal: req.return_primal != 0, options, cache: req.flags & RADX_FLAG_CACHE as u32 != 0 })
}

fn name_taken(m: LLVMModuleRef, name: &str) -> bool {
    let c = ir::cstring(name);
    unsafe { !llvm_sys::core::LLVMGetNamedFunction(m, c.as_ptr()).is_null() || !llvm_sys::core::LLVMGetNamedGlobal(m, c.as_ptr()).is_null() }
}

fn not_found(m: LLVMModuleRef, name: &str) -> Failure {
    let defined: Vec<String> = ir::functions(m).into_iter().filter(|f| !ir::is_declaration(*f)).map(ir::name_of).collect();
    let similar: Vec<&String> = defined.iter().filter(|d| d.contains(name)).take(5).collect();
    let hint = if !similar.is_empty() {
        format!("did you mean {}? (C++ and Rust names are mangled)", similar.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))
    } else if defined.is_empty() {
        "the module defines no functions".to_string()
    } else {
        let mut shown: Vec<String> = defined.iter().take(10).map(|s| format!("`{s}`")).collect();
        if defined.len() > 10 {
            shown.push(format!("and {} more", defined.len() - 10));
        }
        format!("the module defines {}", shown.join(", "))
    };
    Failure::api(RADX_ERR_FUNCTION_NOT_FOUND, format!("the module has no function named `{name}`")).hint(hint)
}

/// Renames `f` to a valid C identifier when LLVM's uniquing gave it a suffix such as
/// `fwddiffef.1` (the module already held a derivative of that name): `fwddiffef_1`, or
/// the next free `_N`.
fn c_identifier_name(m: LLVMModuleRef, f: Value) -> String {
    let name = ir::name_of(f);
    let valid = |s: &str| !s.is_empty() && !s.starts_with(|c: char| c.is_ascii_digit()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid(&name) {
        return name;
    }
    let base: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    let base = if base.starts_with(|c: char| c.is_ascii_digit()) { format!("_{base}") } else { base };
    let mut candidate = base.clone();
    let mut k = 1;
    while name_taken(m, &candidate) {
        candidate = format!("{base}_{k}");
        k += 1;
    }
    ir::set_name(f, &candidate);
    ir::name_of(f)
}

/// The function the request names, checked against the activities.
fn target(m: LLVMModuleRef, p: &Parsed) -> Result<(Value, Type), Failure> {
    let Some(function) = find_function(m, &p.function) else { return Err(not_found(m, &p.function)) };
    let fn_ty = ir::function_type(function);
    let n = ir::param_types(fn_ty).len();
    if !p.activities.is_empty() && p.activities.len() != n {
        return Err(Failure::invalid(format!("`{}` has {n} parameter(s) but the request gives {} activities", p.function, p.activities.len()))
            .hint("give one activity per parameter, or none (args NULL, num_args 0) for the defaults"));
    }
    if ir::is_vararg(fn_ty) {
        return Err(Failure::api(RADX_ERR_BAD_REQUEST, format!("`{}` is variadic; variadic functions are not differentiated", p.function)));
    }
    Ok((function, fn_ty))
}

fn activity_at(p: &Parsed, i: usize) -> RadxActivity {
    p.activities.get(i).copied().unwrap_or(RADX_ACTIVITY_DEFAULT)
}

/// Generates what `p` asks for in `m`: the derivative functions get external linkage and
/// C-identifier names, are cleaned up (unless RADX_FLAG_NO_POSTOPT) and the module is
/// verified. Custom rules in `rules` are validated against the module first.
pub fn generate(m: LLVMModuleRef, p: &Parsed, rules: Option<&Registry>) -> Result<Generated, Failure> {
    ir::llvm::check_module(m)?;
    let (function, fn_ty) = target(m, p)?;
    let params = ir::param_types(fn_ty);
    let ret = ir::return_type(fn_ty);
    let postopt = p.options.postopt;
    let started = std::time::Instant::now();
    let mut engine = Engine::new(m, p.options.clone());
    if let Some(r) = rules {
        r.register_with(m, &mut engine)?;
    }
    let before = Snapshot::take(m);
    let b = Builder::new(m);
    let (made, mut sigs, wanted) = if p.mode == RADX_MODE_FORWARD {
        let mut args = Vec::with_capacity(params.len());
        for (i, &t) in params.iter().enumerate() {
            args.push(forward_arg(&p.function, i, t, activity_at(p, i))?);
        }
        let return_primal = p.return_primal && !ir::is_void(ret);
        let return_tangent = forward_return(&p.function, ret, p.return_activity, p.return_primal)?;
        let req = ForwardRequest { function, args: args.clone(), width: p.width, return_primal, return_tangent };
        let generated = engine.forward(&req);
        engine.finish();
        let f = generated?;
        let sig = signature::forward("", fn_ty, &args, p.width, return_primal, return_tangent);
        (vec![f], vec![sig], 0)
    } else {
        if p.width != 1 {
            return Err(Failure::api(RADX_ERR_UNSUPPORTED, format!("batch width {} is available in forward mode only; reverse mode differentiates one direction", p.width))
                .hint("use width 1 (or 0) in reverse mode, or forward mode for several directions"));
        }
        let split = p.mode != RADX_MODE_REVERSE_COMBINED;
        let mut args = Vec::with_capacity(params.len());
        for (i, &t) in params.iter().enumerate() {
            args.push(reverse_arg(&p.function, i, t, activity_at(p, i))?);
        }
        let (return_active, return_shadow) = reverse_return(&p.function, ret, p.return_activity, split)?;
        let return_primal = p.return_primal && !ir::is_void(ret);
        let req = ReverseRequest { function, args: args.clone(), return_active, return_primal, return_shadow, combined: !split };
        let generated = engine.reverse(&req);
        engine.finish();
        let fns = generated?;
        let (made, names) = if split { (vec![fns.forward, fns.reverse], vec![String::new(), String::new()]) } else { (vec![fns.reverse], vec![String::new()]) };
        let sigs = signature::reverse(&b, fn_ty, &names, &args, return_active, return_primal, return_shadow);
        (made, sigs, if p.mode == RADX_MODE_REVERSE_GRADIENT { 1 } else { 0 })
    };
    // The caller links and calls the derivatives by name: they must survive, be visible,
    // and have names C can declare.
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let mut report = Report { calls_lowered: 0, generated: std::mem::take(&mut engine.generated), ..Default::default() };
    report.timings.prepare_ms = ms(engine.prepare_time);
    report.timings.differentiate_ms = ms(started.elapsed()) - report.timings.prepare_ms;
    for (f, sig) in made.iter().zip(sigs.iter_mut()) {
        unsafe { llvm_sys::core::LLVMSetLinkage(*f, llvm_sys::LLVMLinkage::LLVMExternalLinkage) };
        let old = ir::name_of(*f);
        let new = c_identifier_name(m, *f);
        for g in report.generated.iter_mut().filter(|g| g.name == old) {
            g.name = new.clone();
        }
        sig.name = new;
    }
    let funcs: Vec<Value> = report.generated.iter().filter_map(|g| find_function(m, &g.name)).collect();
    verify_and_clean(m, &before, &[], &funcs, postopt, &mut report.timings)?;
    for g in &mut report.generated {
        if let Some(gf) = find_function(m, &g.name) {
            g.instructions = ir::all_instructions(gf).len();
        }
    }
    for (f, sig) in made.iter().zip(&sigs) {
        sig.check(&b, *f)?;
    }
    let tape = p.mode == RADX_MODE_REVERSE_PRIMAL || p.mode == RADX_MODE_REVERSE_GRADIENT;
    let mut json = serde_json::to_value(&report).unwrap_or_else(|_| serde_json::json!({}));
    json["functions"] = serde_json::Value::Array(sigs.iter().map(|s| s.to_json(&b)).collect());
    json["tape"] = if tape { TAPE_TYPE.into() } else { serde_json::Value::Null };
    Ok(Generated { function_name: sigs[wanted].name.clone(), functions: sigs, tape, report, json })
}

/// How the tape of split mode is described to callers.
pub const TAPE_TYPE: &str = "opaque pointer";
