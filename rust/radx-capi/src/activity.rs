//! What a request or a custom rule says about its function: its activities, read from
//! the caller's memory and checked against the function's parameter types, and the
//! function it names.
//!
//! Floor: below both the requests (`request.rs`) and the custom rules (`rules.rs`), which
//! read activities the same way; it needs only the C types and `radx_core`'s requests.

use radx_core::llvm_sys;
use crate::error::Failure;
use crate::types::*;
use radx_core::ir::{self, Type, Value};
use radx_core::request::{ArgActivity, RevArg};
use llvm_sys::prelude::LLVMModuleRef;

/// # Safety
/// `args` holds `n` values when it is non-NULL.
pub unsafe fn read_activities(args: *const RadxActivity, n: usize, what: &str) -> Result<Vec<RadxActivity>, Failure> {
    if n == 0 {
        Ok(Vec::new())
    } else if args.is_null() {
        Err(Failure::invalid(format!("{what}.args is NULL but {what}.num_args is {n}")))
    } else {
        Ok(std::slice::from_raw_parts(args, n).to_vec())
    }
}

pub fn activity_name(a: RadxActivity) -> String {
    C_CONSTANTS
        .iter()
        .find(|(n, v)| n.starts_with("RADX_ACTIVITY_") && *v == a as i64)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| format!("{a} (unknown)"))
}

fn describe(fname: &str, index: usize, t: Type) -> String {
    format!("parameter {} (`{}`) of `{fname}`", index + 1, ir::type_to_string(t))
}

/// Forward mode, by type as `__enzyme_fwddiff` has it: floating-point values (and
/// aggregates of them) and pointers carry tangents, everything else is constant.
pub fn forward_arg(fname: &str, index: usize, t: Type, a: RadxActivity) -> Result<ArgActivity, Failure> {
    match a {
        RADX_ACTIVITY_DEFAULT => Ok(
            if ir::is_float(t) || ir::is_pointer(t) || (ir::is_aggregate(t) && ir::contains_float(t) && !ir::contains_pointer(t)) {
                ArgActivity::Dup
            } else {
                ArgActivity::Const
            },
        ),
        RADX_ACTIVITY_CONST => Ok(ArgActivity::Const),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED if ir::is_differentiable_type(t) => Ok(ArgActivity::Dup),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED => {
            Err(Failure::api(RADX_ERR_BAD_REQUEST, format!("{} cannot carry a tangent; it must be RADX_ACTIVITY_CONST", describe(fname, index, t))))
        }
        RADX_ACTIVITY_ACTIVE => Err(Failure::api(
            RADX_ERR_BAD_REQUEST,
            format!(
                "RADX_ACTIVITY_ACTIVE is a reverse-mode activity; {} needs RADX_ACTIVITY_DUP (value, tangent) or RADX_ACTIVITY_CONST in forward mode",
                describe(fname, index, t)
            ),
        )),
        other => Err(Failure::invalid(format!("unknown activity {} for {}", activity_name(other), describe(fname, index, t)))),
    }
}

/// Forward mode: whether the derivative returns tangents of the result.
pub fn forward_return(fname: &str, ret: Type, a: RadxActivity, return_primal: bool) -> Result<bool, Failure> {
    if a == RADX_ACTIVITY_DUP_NONEED && return_primal && !ir::is_void(ret) {
        return Err(Failure::api(RADX_ERR_BAD_REQUEST, "return activity RADX_ACTIVITY_DUP_NONEED says the primal result is not needed, but return_primal asks for it")
            .hint("use RADX_ACTIVITY_DUP with return_primal, or DUP_NONEED without it"));
    }
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

fn holds_float_only(t: Type) -> bool {
    ir::contains_float(t) && !ir::contains_pointer(t)
}

/// Reverse mode, by type as `__enzyme_autodiff` has it: pointers are duplicated (their
/// adjoints accumulate in the shadow), floating-point values are active (their adjoints
/// are returned), everything else is constant.
pub fn reverse_arg(fname: &str, index: usize, t: Type, a: RadxActivity) -> Result<RevArg, Failure> {
    let bad = |m: String, h: &str| Err(Failure::api(RADX_ERR_BAD_REQUEST, m).hint(h.to_string()));
    match a {
        RADX_ACTIVITY_DEFAULT if ir::contains_pointer(t) => Ok(RevArg::Dup),
        RADX_ACTIVITY_DEFAULT if ir::contains_float(t) => Ok(RevArg::Active),
        RADX_ACTIVITY_DEFAULT | RADX_ACTIVITY_CONST => Ok(RevArg::Const),
        RADX_ACTIVITY_ACTIVE if holds_float_only(t) => Ok(RevArg::Active),
        RADX_ACTIVITY_ACTIVE if ir::contains_pointer(t) => bad(
            format!("{} holds a pointer and cannot be RADX_ACTIVITY_ACTIVE", describe(fname, index, t)),
            "pass memory as RADX_ACTIVITY_DUP with a shadow buffer; its adjoint accumulates there",
        ),
        RADX_ACTIVITY_ACTIVE => bad(format!("{} cannot carry a derivative", describe(fname, index, t)), "use RADX_ACTIVITY_CONST"),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED if ir::contains_pointer(t) => Ok(RevArg::Dup),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED if ir::contains_float(t) => bad(
            format!("{} is passed by value: in reverse mode its adjoint is returned, it has no shadow", describe(fname, index, t)),
            "use RADX_ACTIVITY_ACTIVE",
        ),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED => bad(format!("{} cannot carry a derivative", describe(fname, index, t)), "use RADX_ACTIVITY_CONST"),
        other => Err(Failure::invalid(format!("unknown activity {} for {}", activity_name(other), describe(fname, index, t)))),
    }
}

/// Reverse mode: (return is active and takes a seed, the augmented forward returns the
/// shadow of a returned pointer).
pub fn reverse_return(fname: &str, ret: Type, a: RadxActivity, split: bool) -> Result<(bool, bool), Failure> {
    if ir::is_void(ret) {
        return match a {
            RADX_ACTIVITY_DEFAULT | RADX_ACTIVITY_CONST => Ok((false, false)),
            _ => Err(Failure::invalid(format!("invalid return activity {} for `{fname}`, which returns void", activity_name(a)))),
        };
    }
    let what = || format!("`{fname}` returns `{}`", ir::type_to_string(ret));
    match a {
        RADX_ACTIVITY_DEFAULT => Ok((holds_float_only(ret), false)),
        RADX_ACTIVITY_CONST => Ok((false, false)),
        RADX_ACTIVITY_ACTIVE if holds_float_only(ret) => Ok((true, false)),
        RADX_ACTIVITY_ACTIVE => Err(Failure::api(RADX_ERR_BAD_REQUEST, format!("{}, which cannot be RADX_ACTIVITY_ACTIVE", what()))
            .hint("only floating-point results (and aggregates of them) take a seed; use RADX_ACTIVITY_CONST, or DUP for a returned pointer in split mode")),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED if ir::contains_pointer(ret) && split => Ok((false, true)),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED if ir::contains_pointer(ret) => Err(Failure::api(
            RADX_ERR_BAD_REQUEST,
            format!("{}: the shadow of a returned pointer can only be handed back by the augmented forward pass", what()),
        )
        .hint("use split mode (RADX_MODE_REVERSE_PRIMAL / RADX_MODE_REVERSE_GRADIENT), or RADX_ACTIVITY_CONST")),
        RADX_ACTIVITY_DUP | RADX_ACTIVITY_DUP_NONEED => Err(Failure::api(RADX_ERR_BAD_REQUEST, format!("{}: in reverse mode a returned value is RADX_ACTIVITY_ACTIVE (it takes a seed) or CONST", what()))
            .hint("use RADX_ACTIVITY_ACTIVE")),
        other => Err(Failure::invalid(format!("unknown return activity {}", activity_name(other)))),
    }
}

pub fn find_function(m: LLVMModuleRef, name: &str) -> Option<Value> {
    let f = unsafe { llvm_sys::core::LLVMGetNamedFunction(m, ir::cstring(name).as_ptr()) };
    (!f.is_null()).then_some(f)
}
