//! Enzyme's C calling convention: calls of undefined "magic" functions such as
//! `__enzyme_fwddiff(f, enzyme_dup, x, dx, ...)` are parsed into requests and replaced by
//! calls of the generated derivatives. See `shared/docs/enzyme-abi.md`.
//!
//! Floor: this file, the parser of magic calls and activity markers, needs only the IR
//! wrappers and diagnostics, so `radx check` and the pipeline read calls with it without
//! the engine. Its children sit higher: `lower.rs` and `registrations.rs` hand what it
//! parses to the engine.

pub mod lower;
pub mod registrations;

use crate::diag::{Code, Diagnostic, Result};
use crate::ir::{self, builder::Builder, Type, Value};
use llvm_sys::LLVMOpcode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MagicKind {
    ForwardDiff,
    AutoDiff,
    AugmentForward,
    Reverse,
    AugmentSize,
    ForwardSplit,
}

/// Names are matched by prefix, so C code can declare one variant per return type.
pub const MAGIC_PREFIXES: &[(&str, MagicKind)] = &[
    ("__enzyme_fwddiff", MagicKind::ForwardDiff),
    ("__enzyme_autodiff", MagicKind::AutoDiff),
    ("__enzyme_augmentfwd", MagicKind::AugmentForward),
    ("__enzyme_reverse", MagicKind::Reverse),
    ("__enzyme_augmentsize", MagicKind::AugmentSize),
    ("__enzyme_fwdsplit", MagicKind::ForwardSplit),
];

pub fn magic_kind(name: &str) -> Option<MagicKind> {
    MAGIC_PREFIXES.iter().find(|(p, _)| name.starts_with(p)).map(|(_, k)| *k)
}

/// Every call of a magic function in the module, in program order (functions in module
/// order, then blocks, then instructions): a use list runs the other way, and diagnostics
/// that compare two calls should name the later one.
pub fn magic_calls(module: llvm_sys::prelude::LLVMModuleRef) -> Vec<(Value, MagicKind)> {
    let mut out = Vec::new();
    for f in ir::functions(module) {
        let Some(kind) = magic_kind(&ir::name_of(f)) else { continue };
        if !ir::is_declaration(f) {
            continue;
        }
        for u in ir::users(f) {
            if ir::opcode(u) == Some(llvm_sys::LLVMOpcode::LLVMCall) && ir::called_function(u) == Some(f) {
                out.push((u, kind));
            }
        }
    }
    let functions: crate::collections::HashMap<Value, usize> = ir::functions(module).into_iter().enumerate().map(|(k, f)| (f, k)).collect();
    out.sort_by_cached_key(|(call, _)| {
        let f = ir::parent_function(*call);
        let block = ir::blocks(f).iter().position(|b| *b == ir::parent_block(*call)).unwrap_or(0);
        (functions.get(&f).copied().unwrap_or(0), block, ir::position(*call))
    });
    out
}

/// The activity markers (`extern int enzyme_dup;` ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Dup,
    DupNoNeed,
    Out,
    Const,
    Width,
    PrimalReturn,
    NoReturn,
    ConstReturn,
    ActiveReturn,
    DupReturn,
    Tape,
    Allocated,
    NotOverwritten,
    RuntimeActivity,
    StrongZero,
    Interleave,
    DupV,
    DupNoNeedV,
}

pub const MARKERS: &[(&str, Marker)] = &[
    ("enzyme_dup", Marker::Dup),
    ("enzyme_dupnoneed", Marker::DupNoNeed),
    ("enzyme_out", Marker::Out),
    ("enzyme_const", Marker::Const),
    ("enzyme_width", Marker::Width),
    ("enzyme_primal_return", Marker::PrimalReturn),
    ("enzyme_noret", Marker::NoReturn),
    ("enzyme_const_return", Marker::ConstReturn),
    ("enzyme_active_return", Marker::ActiveReturn),
    ("enzyme_dup_return", Marker::DupReturn),
    ("enzyme_tape", Marker::Tape),
    ("enzyme_allocated", Marker::Allocated),
    ("enzyme_not_overwritten", Marker::NotOverwritten),
    ("enzyme_runtime_activity", Marker::RuntimeActivity),
    ("enzyme_strong_zero", Marker::StrongZero),
    ("enzyme_interleave", Marker::Interleave),
    ("enzyme_dupv", Marker::DupV),
    ("enzyme_dupnoneedv", Marker::DupNoNeedV),
];

/// The global a marker argument names: `load i32, ptr @enzyme_dup` or `ptr @enzyme_dup`.
pub fn marker_global(v: Value) -> Option<Value> {
    let g = if ir::opcode(v) == Some(LLVMOpcode::LLVMLoad) { ir::operand(v, 0) } else { v };
    let g = ir::strip_pointer_casts(g);
    (ir::is_global_variable(g) && ir::name_of(g).starts_with("enzyme_")).then_some(g)
}

pub fn marker_of(v: Value, call: Value) -> Result<Option<Marker>> {
    let Some(g) = marker_global(v) else { return Ok(None) };
    let name = ir::name_of(g);
    match MARKERS.iter().find(|(n, _)| *n == name) {
        Some((_, m)) => Ok(Some(*m)),
        None => Err(Diagnostic::new(Code::BadRequest, format!("unknown activity marker `{name}`"))
            .at(call)
            .hint(format!("known markers: {}", MARKERS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")))),
    }
}

/// Per-argument activity as written at the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgMode {
    Const,
    Dup,
    DupNoNeed,
    Out,
}

#[derive(Debug)]
pub struct ParsedArg {
    pub mode: ArgMode,
    pub primal: Value,
    pub shadows: Vec<Value>,
}

#[derive(Debug)]
pub struct ParsedCall {
    pub kind: MagicKind,
    pub call: Value,
    pub name: String,
    /// The hidden result pointer and its type, when the result is returned through memory.
    pub sret: Option<(Value, Type)>,
    pub function: Value,
    pub args: Vec<ParsedArg>,
    pub width: u32,
    pub primal_return: bool,
    pub markers_used: Vec<Marker>,
    /// Arguments after the function's own (the return seed and tape of `__enzyme_reverse`).
    pub trailing: Vec<Value>,
    /// `enzyme_tape, t`: with `enzyme_allocated`, memory the caller provides for the tape
    /// (the augmented forward stores it there, the reverse reads it back); without, in
    /// `__enzyme_reverse`, the tape itself, in place of the last argument.
    pub tape: Option<Value>,
    /// `enzyme_allocated, size`: how many bytes the caller's tape memory has.
    pub allocated: Option<Value>,
    /// Forward mode of a function that returns a struct through a hidden `sret` pointer,
    /// called by a magic function that returns a struct itself: the pointee type. The
    /// hidden parameter takes no argument at the call (it is not in `args`); the magic
    /// call's result memory receives the tangent(s), after the primal with
    /// `enzyme_primal_return`.
    pub function_sret: Option<Type>,
}

/// Default activity by type: floats are active, pointers duplicated, integers constant.
fn default_mode(kind: MagicKind, t: Type) -> ArgMode {
    if ir::is_float(t) || (ir::is_aggregate(t) && ir::contains_float(t) && !ir::contains_pointer(t)) {
        if kind == MagicKind::ForwardDiff || kind == MagicKind::ForwardSplit {
            ArgMode::Dup
        } else {
            ArgMode::Out
        }
    } else if ir::is_pointer(t) {
        ArgMode::Dup
    } else {
        ArgMode::Const
    }
}

pub fn parse(b: &Builder, call: Value, kind: MagicKind) -> Result<ParsedCall> {
    let name = ir::name_of(ir::called_function(call).unwrap());
    let args = ir::call_args(call);
    let mut i = 0;
    let mut sret = None;
    if let Some(t) = ir::call_sret_type(call, 0) {
        sret = Some((args[0], t));
        i = 1;
    }
    let err = |msg: String| Diagnostic::new(Code::BadRequest, msg).at(call);
    let Some(&fv) = args.get(i) else {
        return Err(err(format!("`{name}` needs the function to differentiate as its first argument"))
            .hint(format!("pass the function first, then its arguments with their activity markers: {name}((void *)f, enzyme_dup, x, dx)")));
    };
    let function = ir::strip_pointer_casts(fv);
    if !ir::is_function(function) {
        return Err(err(format!("the first argument of `{name}` must be a function, but it is `{}`", crate::diag::short(fv)))
            .hint("pass the function itself, e.g. __enzyme_fwddiff((void *)f, ...); function pointers loaded at run time cannot be differentiated"));
    }
    i += 1;
    let fname = ir::name_of(function);
    let fn_ty = ir::function_type(function);
    let mut parsed = ParsedCall {
        kind,
        call,
        name: name.clone(),
        sret,
        function,
        args: Vec::new(),
        width: 1,
        primal_return: false,
        markers_used: Vec::new(),
        trailing: Vec::new(),
        tape: None,
        allocated: None,
        function_sret: None,
    };
    if ir::is_vararg(fn_ty) {
        return Err(err(format!("`{fname}` is variadic; variadic functions are not differentiated"))
            .hint(format!("give `{fname}` a fixed parameter list (pass a variable number of values through a pointer and a count)")));
    }
    let params = ir::param_types(fn_ty);
    // Options that are not tied to one argument may appear anywhere between arguments.
    let take_options = |i: &mut usize, parsed: &mut ParsedCall| -> Result<Option<Marker>> {
        while *i < args.len() {
            let Some(m) = marker_of(args[*i], call)? else { return Ok(None) };
            parsed.markers_used.push(m);
            *i += 1;
            match m {
                Marker::Width => {
                    let n = args.get(*i).and_then(|v| ir::const_int_value(*v));
                    match n {
                        Some(n) if n >= 1 && n <= 64 => parsed.width = n as u32,
                        _ => {
                            return Err(err("`enzyme_width` must be followed by a constant width between 1 and 64".into())
                                .hint("write the width as an integer literal (enzyme_width, 2, ...): the derivative's signature depends on it"))
                        }
                    }
                    *i += 1;
                }
                Marker::Tape | Marker::Allocated if matches!(kind, MagicKind::AugmentForward | MagicKind::Reverse) => {
                    let Some(&v) = args.get(*i).filter(|v| marker_global(**v).is_none()) else {
                        return Err(err(format!("`{}` must be followed by {}", marker_name(m), if m == Marker::Tape { "the tape" } else { "the tape's size in bytes" }))
                            .hint("write enzyme_allocated, size, enzyme_tape, memory (the size from __enzyme_augmentsize)"));
                    };
                    *i += 1;
                    if m == Marker::Tape {
                        parsed.tape = Some(v);
                    } else {
                        parsed.allocated = Some(v);
                    }
                }
                Marker::PrimalReturn => parsed.primal_return = true,
                Marker::NoReturn | Marker::ConstReturn | Marker::ActiveReturn | Marker::DupReturn | Marker::RuntimeActivity | Marker::StrongZero => {}
                Marker::Dup | Marker::DupNoNeed | Marker::Out | Marker::Const => return Ok(Some(m)),
                other => {
                    return Err(err(format!("the marker `{}` is not supported in `{name}`", marker_name(other)))
                        .hint("supported here: enzyme_dup, enzyme_dupnoneed, enzyme_const, enzyme_out, enzyme_width, enzyme_primal_return"))
                }
            }
        }
        Ok(None)
    };
    if kind == MagicKind::ForwardDiff && parsed.sret.is_some() {
        parsed.function_sret = param_sret_type(function, 0);
    }
    let first_param = parsed.function_sret.is_some() as usize;
    for (pi, &pty) in params.iter().enumerate().skip(first_param) {
        let marker = take_options(&mut i, &mut parsed)?;
        let mode = match marker {
            Some(Marker::Dup) => ArgMode::Dup,
            Some(Marker::DupNoNeed) => ArgMode::DupNoNeed,
            Some(Marker::Out) => ArgMode::Out,
            Some(Marker::Const) => ArgMode::Const,
            _ => default_mode(kind, pty),
        };
        let what = || format!("parameter {} (`{}`) of `{fname}`", pi + 1, ir::type_to_string(pty));
        let Some(&pv) = args.get(i) else {
            return Err(err(format!("too few arguments: no value for {}", what())).hint(format!("`{fname}` takes {} parameters", params.len())));
        };
        if marker_global(pv).is_some() {
            return Err(err(format!("a marker follows another marker where the value for {} was expected", what()))
                .hint("each activity marker is followed by the argument's value (and, for enzyme_dup, its shadow); remove the extra marker"));
        }
        i += 1;
        let primal = coerce(b, pv, pty, call, &what())?;
        if mode == ArgMode::Out && matches!(kind, MagicKind::ForwardDiff | MagicKind::ForwardSplit) {
            return Err(err(format!("`enzyme_out` is a reverse-mode marker; {} needs enzyme_dup (value, tangent) or enzyme_const in forward mode", what())));
        }
        if mode == ArgMode::Out && !ir::contains_float(pty) {
            return Err(err(format!("`enzyme_out` marks an active scalar, but {} is not floating-point", what()))
                .hint("pass integers with enzyme_const (or without a marker), and pointers with enzyme_dup"));
        }
        let mut shadows = Vec::new();
        if matches!(mode, ArgMode::Dup | ArgMode::DupNoNeed) {
            for lane in 0..parsed.width {
                let Some(&sv) = args.get(i) else {
                    return Err(err(format!("too few arguments: {} needs {} shadow(s), found {lane}", what(), parsed.width))
                        .hint("enzyme_dup takes the value and then its shadow (one per lane with enzyme_width); use enzyme_const for an argument without one"));
                };
                if marker_global(sv).is_some() {
                    return Err(err(format!("a marker appears where shadow {} of {} was expected", lane + 1, what()))
                        .hint("enzyme_dup takes the value and then its shadow; use enzyme_const for an argument without one"));
                }
                i += 1;
                shadows.push(coerce(b, sv, pty, call, &format!("the shadow of {}", what()))?);
            }
        }
        parsed.args.push(ParsedArg { mode, primal, shadows });
    }
    take_options(&mut i, &mut parsed)?;
    parsed.trailing = args[i..].to_vec();
    Ok(parsed)
}

/// The `sret` pointee type of parameter `idx` of function `f`.
fn param_sret_type(f: Value, idx: u32) -> Option<Type> {
    unsafe {
        let a = llvm_sys::core::LLVMGetEnumAttributeAtIndex(f, idx + 1, ir::enum_attr_kind("sret"));
        (!a.is_null()).then(|| llvm_sys::core::LLVMGetTypeAttributeValue(a))
    }
}

pub fn marker_name(m: Marker) -> &'static str {
    MARKERS.iter().find(|(_, k)| *k == m).map(|(n, _)| *n).unwrap_or("?")
}

/// Converts an argument to the parameter's type where C's promotions changed it harmlessly
/// (integer widths, address spaces); a float passed as double is an error, as in Enzyme.
fn coerce(b: &Builder, v: Value, want: Type, call: Value, what: &str) -> Result<Value> {
    let have = ir::type_of(v);
    if have == want {
        return Ok(v);
    }
    use llvm_sys::LLVMTypeKind::*;
    match (ir::type_kind(have), ir::type_kind(want)) {
        (LLVMIntegerTypeKind, LLVMIntegerTypeKind) => {
            b.position_before(call);
            Ok(b.int_cast(v, want, true))
        }
        (LLVMPointerTypeKind, LLVMPointerTypeKind) => {
            b.position_before(call);
            Ok(unsafe { llvm_sys::core::LLVMBuildAddrSpaceCast(b.raw(), v, want, b"\0".as_ptr() as *const _) })
        }
        _ => Err(Diagnostic::new(
            Code::BadRequest,
            format!("{what} receives a `{}` but expects `{}`", ir::type_to_string(have), ir::type_to_string(want)),
        )
        .at(call)
        .hint(if ir::is_float(have) && ir::is_float(want) {
            "C promotes float to double in variadic calls: declare a fixed-arity prototype of the magic function with float parameters"
        } else {
            "pass a value of the parameter's type"
        })),
    }
}
