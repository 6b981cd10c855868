//! `radx_differentiate`: from a `radx_request` to a `radx_core::ForwardRequest`, and the
//! generation, cleanup and verification of the derivative.

use crate::error::Failure;
use crate::types::*;
use inkwell::module::Module;
use inkwell::values::AsValueRef;
use radx_core::ir::{self, Type, Value};
use radx_core::pipeline::{run_function_passes, verify_module, CLEANUP_PIPELINE};
use radx_core::{ArgActivity, Engine, ForwardRequest, Options, Report};

/// Unknown modes are invalid arguments; known ones other than forward are not implemented yet.
pub fn check_mode(mode: RadxMode) -> Result<(), Failure> {
    match mode_name(mode) {
        None => Err(Failure::invalid(format!("unknown mode {mode}")).hint("modes: RADX_MODE_FORWARD (0), RADX_MODE_REVERSE_PRIMAL (1), RADX_MODE_REVERSE_GRADIENT (2), RADX_MODE_REVERSE_COMBINED (3), RADX_MODE_FORWARD_SPLIT (4)")),
        Some(_) if mode == RADX_MODE_FORWARD => Ok(()),
        Some(name) => Err(Failure::api(RADX_ERR_UNSUPPORTED_MODE, format!("{name} is not implemented yet; libradx generates forward-mode derivatives only"))
            .hint("use RADX_MODE_FORWARD; reverse mode is in progress")),
    }
}

fn activity_name(a: RadxActivity) -> String {
    C_CONSTANTS
        .iter()
        .find(|(n, v)| n.starts_with("RADX_ACTIVITY_") && *v == a as i64)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| format!("{a} (unknown)"))
}

/// Default activity by type, as the `__enzyme_fwddiff` calls have it: floating-point values
/// and pointers carry tangents, everything else is constant.
fn default_activity(t: Type) -> ArgActivity {
    if ir::is_float(t) || ir::is_pointer(t) || (ir::is_aggregate(t) && ir::contains_float(t) && !ir::contains_pointer(t)) {
        ArgActivity::Dup
    } else {
        ArgActivity::Const
    }
}

fn arg_activity(fname: &str, index: usize, t: Type, a: RadxActivity) -> Result<ArgActivity, Failure> {
    let what = || format!("parameter {} (`{}`) of `{fname}`", index + 1, ir::type_to_string(t));
    match a {
        RADX_ACTIVITY_DEFAULT => Ok(default_activity(t)),
        RADX_ACTIVITY_CONST => Ok(ArgActivity::Const),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED if ir::is_differentiable_type(t) => Ok(ArgActivity::Dup),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED => {
            Err(Failure::api(RADX_ERR_BAD_REQUEST, format!("{} cannot carry a tangent; it must be RADX_ACTIVITY_CONST", what())))
        }
        RADX_ACTIVITY_ACTIVE => Err(Failure::api(
            RADX_ERR_BAD_REQUEST,
            format!("RADX_ACTIVITY_ACTIVE is a reverse-mode activity; {} needs RADX_ACTIVITY_DUP (value, tangent) or RADX_ACTIVITY_CONST in forward mode", what()),
        )),
        other => Err(Failure::invalid(format!("unknown activity {} for {}", activity_name(other), what()))),
    }
}

/// Whether the derivative returns tangents of the result.
fn return_tangent(fname: &str, ret: Type, a: RadxActivity) -> Result<bool, Failure> {
    if ir::is_void(ret) {
        return match a {
            RADX_ACTIVITY_DEFAULT | RADX_ACTIVITY_CONST | RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED => Ok(false),
            _ => Err(Failure::invalid(format!("invalid return activity {} for `{fname}`, which returns void", activity_name(a)))),
        };
    }
    match a {
        RADX_ACTIVITY_DEFAULT => Ok(ir::is_differentiable_type(ret)),
        RADX_ACTIVITY_CONST => Ok(false),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED if ir::is_differentiable_type(ret) => Ok(true),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED => Err(Failure::api(
            RADX_ERR_BAD_REQUEST,
            format!("`{fname}` returns `{}`, which cannot carry a tangent; use RADX_ACTIVITY_CONST for the return", ir::type_to_string(ret)),
        )),
        RADX_ACTIVITY_ACTIVE => Err(Failure::api(
            RADX_ERR_BAD_REQUEST,
            "RADX_ACTIVITY_ACTIVE is a reverse-mode return activity; forward mode takes RADX_ACTIVITY_DUP or RADX_ACTIVITY_CONST",
        )),
        other => Err(Failure::invalid(format!("unknown return activity {}", activity_name(other)))),
    }
}

fn not_found(m: &Module, name: &str) -> Failure {
    let defined: Vec<String> =
        ir::functions(m.as_mut_ptr()).into_iter().filter(|f| !ir::is_declaration(*f)).map(ir::name_of).collect();
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
fn c_identifier_name(m: &Module, f: Value) -> String {
    let name = ir::name_of(f);
    let valid = |s: &str| !s.is_empty() && !s.starts_with(|c: char| c.is_ascii_digit()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid(&name) {
        return name;
    }
    let base: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    let base = if base.starts_with(|c: char| c.is_ascii_digit()) { format!("_{base}") } else { base };
    let mut candidate = base.clone();
    let mut k = 1;
    while m.get_function(&candidate).is_some() || m.get_global(&candidate).is_some() {
        candidate = format!("{base}_{k}");
        k += 1;
    }
    ir::set_name(f, &candidate);
    ir::name_of(f)
}

/// Generates the forward derivative of `name` in `m`; returns its name and a report.
pub fn forward(m: &Module, name: &str, req: &RadxRequest, activities: &[RadxActivity], options: Options) -> Result<(String, Report), Failure> {
    let Some(function) = m.get_function(name) else { return Err(not_found(m, name)) };
    let function: Value = function.as_value_ref();
    let fn_ty = ir::function_type(function);
    let params = ir::param_types(fn_ty);
    if !activities.is_empty() && activities.len() != params.len() {
        return Err(Failure::invalid(format!(
            "`{name}` has {} parameter(s) but the request gives {} activities",
            params.len(),
            activities.len()
        ))
        .hint("give one activity per parameter, or none (args NULL, num_args 0) for the defaults"));
    }
    if ir::is_vararg(fn_ty) {
        return Err(Failure::api(RADX_ERR_BAD_REQUEST, format!("`{name}` is variadic; variadic functions are not differentiated")));
    }
    let width = if req.width == 0 { 1 } else { req.width };
    if width > 64 {
        return Err(Failure::invalid(format!("width {width} is out of range: the batch width is between 1 and 64")));
    }
    let mut args = Vec::with_capacity(params.len());
    for (i, &t) in params.iter().enumerate() {
        let a = activities.get(i).copied().unwrap_or(RADX_ACTIVITY_DEFAULT);
        args.push(arg_activity(name, i, t, a)?);
    }
    let ret = ir::return_type(fn_ty);
    let fwd = ForwardRequest {
        function,
        args,
        width,
        return_primal: req.return_primal != 0 && !ir::is_void(ret),
        return_tangent: return_tangent(name, ret, req.return_activity)?,
    };
    let module = m.as_mut_ptr();
    let postopt = options.postopt;
    let mut engine = Engine::new(module, options);
    let generated = engine.forward(&fwd);
    engine.finish();
    let f = generated?;
    // The caller links and calls the derivative by name: it must survive, be visible, and
    // have a name C can declare.
    unsafe { llvm_sys::core::LLVMSetLinkage(f, llvm_sys::LLVMLinkage::LLVMExternalLinkage) };
    let mut report = Report { calls_lowered: 0, generated: std::mem::take(&mut engine.generated) };
    let old_name = ir::name_of(f);
    let new_name = c_identifier_name(m, f);
    for g in report.generated.iter_mut().filter(|g| g.name == old_name) {
        g.name = new_name.clone();
    }
    let funcs: Vec<Value> = report.generated.iter().filter_map(|g| m.get_function(&g.name)).map(|v| v.as_value_ref()).collect();
    if postopt && !funcs.is_empty() {
        run_function_passes(module, &funcs, CLEANUP_PIPELINE)?;
    }
    verify_module(module)?;
    for g in &mut report.generated {
        if let Some(gf) = m.get_function(&g.name) {
            g.instructions = ir::all_instructions(gf.as_value_ref()).len();
        }
    }
    Ok((ir::name_of(f), report))
}
