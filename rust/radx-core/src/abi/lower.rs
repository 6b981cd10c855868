//! Replacing magic calls by calls of generated derivatives: each call is parsed into a
//! request (`abi::parse`), the engine generates the derivative, and the call is replaced by
//! a call of it whose results reach the caller in the shape the magic function declares.
//!
//! Floor: above the engine and both generators (it asks for derivatives in either mode),
//! below the pipeline, which lowers every magic call of a module through `lower_call`.

use super::{parse, ArgMode, MagicKind, ParsedArg, ParsedCall};
use crate::diag::{Code, Diagnostic, Result};
use crate::engine::Engine;
use crate::ir::{self, builder::Builder, Type, Value};
use crate::request::{ArgActivity, ForwardRequest, RevArg, ReverseRequest};
use crate::signature::{derivative_signature, signatures, unpack, unpack_result};
use llvm_sys::core::*;
use llvm_sys::debuginfo::LLVMInstructionGetDebugLoc;

pub fn lower_call(engine: &mut Engine, call: Value, kind: MagicKind) -> Result<()> {
    let b = Builder::new(engine.module);
    if kind == MagicKind::AugmentSize {
        return lower_augment_size(engine, &b, call);
    }
    let parsed = parse(&b, call, kind)?;
    let caller = ir::name_of(ir::parent_function(call));
    let loc = ir::source_loc(call);
    let located = |e: Diagnostic| {
        // Errors about the request as a whole (no body to differentiate, ...) show the call.
        let e = if e.construct.is_none() { e.at(call) } else { e };
        let e = if e.location.is_none() { e.with_location(loc.clone()) } else { e };
        if e.function.is_none() {
            e.in_function(caller.clone())
        } else {
            e
        }
    };
    match kind {
        MagicKind::ForwardDiff => lower_forward(engine, &b, &parsed).map_err(located),
        MagicKind::ForwardSplit | MagicKind::AutoDiff | MagicKind::AugmentForward | MagicKind::Reverse | MagicKind::AugmentSize => {
            lower_reverse(engine, &b, &parsed).map_err(located)
        }
    }
}

fn lower_forward(engine: &mut Engine, b: &Builder, p: &ParsedCall) -> Result<()> {
    if let Some(&extra) = p.trailing.first() {
        let fname = ir::name_of(p.function);
        let n = ir::param_types(ir::function_type(p.function)).len();
        return Err(Diagnostic::new(
            Code::BadRequest,
            format!(
                "too many arguments: `{fname}` takes {n} parameter(s), but {} more value(s) follow them, the first `{}`",
                p.trailing.len(),
                crate::diag::short(extra)
            ),
        )
        .at(p.call)
        .hint("in forward mode an enzyme_dup argument takes its value and one tangent per batch lane (enzyme_width); enzyme_const and unmarked integers take only the value"));
    }
    let ret = ir::return_type(ir::function_type(p.function));
    let wants_result = p.sret.is_some() || !ir::is_void(ir::type_of(p.call));
    let hidden = match p.function_sret {
        Some(t) => Some(sret_result_arg(engine, b, p, t)?),
        None => None,
    };
    let all_args: Vec<&ParsedArg> = hidden.iter().chain(&p.args).collect();
    let req = ForwardRequest {
        function: p.function,
        args: all_args.iter().map(|a| if a.mode == ArgMode::Const { ArgActivity::Const } else { ArgActivity::Dup }).collect(),
        width: p.width,
        return_primal: p.primal_return && !ir::is_void(ret),
        return_tangent: wants_result && !ir::is_void(ret),
    };
    let f = engine.forward(&req)?;
    let (fn_ty, elems) = derivative_signature(b, ir::function_type(p.function), &req);
    b.position_before(p.call);
    set_debug_loc_from(b, p.call);
    engine.zero_global_shadows(b);
    let mut args = Vec::new();
    for a in &all_args {
        args.push(a.primal);
        args.extend(&a.shadows);
    }
    let result = b.call(fn_ty, f, &args);
    if hidden.is_none() {
        let (primal, tangents) = unpack_result(b, result, &req, elems.len());
        let values: Vec<Value> = primal.into_iter().chain(tangents).collect();
        deliver_results(b, p, &values)?;
    }
    finish_call(b, p.call);
    Ok(())
}

fn rev_args(p: &ParsedCall) -> Vec<RevArg> {
    p.args
        .iter()
        .map(|a| match a.mode {
            ArgMode::Const => RevArg::Const,
            ArgMode::Out => RevArg::Active,
            ArgMode::Dup | ArgMode::DupNoNeed => RevArg::Dup,
        })
        .collect()
}

fn primal_and_shadow_args(p: &ParsedCall) -> Vec<Value> {
    let mut args = Vec::new();
    for a in &p.args {
        args.push(a.primal);
        args.extend(&a.shadows);
    }
    args
}

/// Replaces a reverse-mode magic call (`__enzyme_autodiff`, `__enzyme_augmentfwd`,
/// `__enzyme_reverse`) by a call of the derivative it asks for.
fn lower_reverse(engine: &mut Engine, b: &Builder, p: &ParsedCall) -> Result<()> {
    if p.width != 1 {
        return Err(Diagnostic::new(Code::Unsupported, "`enzyme_width` (batched shadows) is available in forward mode only")
            .at(p.call)
            .hint("run the reverse pass once per seed, or compute the batch with __enzyme_fwddiff"));
    }
    let ret = ir::return_type(ir::function_type(p.function));
    let float_ret = ir::is_float(ret);
    // Copies of memory need its element type, which the caller may know when the function
    // does not (a helper that only memcpys its arguments).
    let caller = ir::parent_function(p.call);
    for (k, a) in p.args.iter().enumerate() {
        if matches!(a.mode, ArgMode::Dup | ArgMode::DupNoNeed) && ir::is_pointer(ir::type_of(a.primal)) {
            engine.note_argument(p.function, k, caller, a.primal).map_err(|d| d.at(p.call))?;
        }
    }
    match p.kind {
        MagicKind::AutoDiff => {
            check_trailing(p, 0)?;
            let req = ReverseRequest {
                function: p.function,
                args: rev_args(p),
                return_active: float_ret,
                return_primal: false,
                return_shadow: false,
                combined: true,
            };
            let f = engine.reverse(&req)?;
            let sig = signatures(b, &req);
            b.position_before(p.call);
            set_debug_loc_from(b, p.call);
            engine.zero_global_shadows(b);
            let mut args = primal_and_shadow_args(p);
            if float_ret {
                args.push(b.const_float(ret, 1.0));
            }
            let r = b.call(sig.combined_or_reverse, f.reverse, &args);
            let values = unpack(b, r, sig.adjoint_results.len());
            deliver_results(b, p, &values)?;
            finish_call(b, p.call);
            Ok(())
        }
        MagicKind::AugmentForward => {
            check_trailing(p, 0)?;
            let memory = tape_memory(engine, b, p)?;
            if memory.is_none() && p.tape.is_some() {
                return Err(Diagnostic::new(Code::BadRequest, format!("`enzyme_tape` in `{}` names the caller's memory for the tape, so `enzyme_allocated, size` must come before it", p.name))
                    .at(p.call)
                    .hint("write enzyme_allocated, size, enzyme_tape, memory (the size from __enzyme_augmentsize), or take the tape __enzyme_augmentfwd returns"));
            }
            let req = split_request(p, float_ret, augment_call_returns_primal(p.call) && !ir::is_void(ret));
            let f = engine.reverse(&req)?;
            let sig = signatures(b, &req);
            b.position_before(p.call);
            set_debug_loc_from(b, p.call);
            engine.zero_global_shadows(b);
            let r = b.call(sig.augmented, f.forward, &primal_and_shadow_args(p));
            let mut values = unpack(b, r, sig.augmented_results.len());
            if let Some(memory) = memory {
                b.store(values.remove(0), memory);
            }
            deliver_results(b, p, &values)?;
            finish_call(b, p.call);
            Ok(())
        }
        MagicKind::Reverse => {
            let memory = tape_memory(engine, b, p)?;
            check_trailing(p, float_ret as usize + p.tape.is_none() as usize)?;
            // The reverse must pair with the augmented forward that made the tape; both
            // come from the same request, whichever call is lowered first.
            let req = split_request(p, float_ret, !ir::is_void(ret) && augment_returned_primal(p));
            let f = engine.reverse(&req)?;
            let sig = signatures(b, &req);
            b.position_before(p.call);
            set_debug_loc_from(b, p.call);
            let mut args = primal_and_shadow_args(p);
            if float_ret {
                let seed = p.trailing[0];
                if ir::type_of(seed) != ret {
                    if ir::is_float(ir::type_of(seed)) {
                        args.push(b.fp_cast(seed, ret));
                    } else {
                        return Err(Diagnostic::new(Code::BadRequest, format!("the return seed passed to `{}` must be floating-point", p.name))
                            .at(p.call)
                            .hint("pass the seed as a floating-point value, e.g. 1.0, before the tape"));
                    }
                } else {
                    args.push(seed);
                }
            }
            let tape = match (memory, p.tape) {
                (Some(memory), _) => b.load(b.ptr_type(), memory),
                (None, Some(tape)) => tape,
                (None, None) => *p.trailing.last().unwrap(),
            };
            if !ir::is_pointer(ir::type_of(tape)) {
                return Err(Diagnostic::new(Code::BadRequest, format!("the last argument of `{}` must be the tape returned by __enzyme_augmentfwd", p.name))
                    .at(p.call)
                    .hint("pass the tape (a pointer) last, after the return seed"));
            }
            args.push(tape);
            let r = b.call(sig.combined_or_reverse, f.reverse, &args);
            let values = unpack(b, r, sig.adjoint_results.len());
            deliver_results(b, p, &values)?;
            finish_call(b, p.call);
            Ok(())
        }
        MagicKind::AugmentSize => unreachable!("the size query is lowered by lower_augment_size"),
        MagicKind::ForwardSplit => Err(Diagnostic::new(Code::Unsupported, "`__enzyme_fwdsplit` is not supported; use __enzyme_fwddiff").at(p.call)),
        MagicKind::ForwardDiff => unreachable!("forward mode is lowered by lower_forward"),
    }
}

/// The bytes `__enzyme_augmentfwd` stores in the caller's tape memory (`enzyme_allocated`):
/// RadX's tape is a pointer to the record the augmented forward allocates itself (its size
/// depends on trip counts only known at run time), so the caller's memory holds that pointer.
fn tape_handle_size(engine: &Engine, b: &Builder) -> u64 {
    ir::data_layout_type_size(engine.module, b.ptr_type())
}

/// `__enzyme_augmentsize(f, activities...)`: the size of the caller's tape memory. Its
/// arguments after the function are markers without values, so they are not parsed.
fn lower_augment_size(engine: &Engine, b: &Builder, call: Value) -> Result<()> {
    let name = ir::name_of(ir::called_function(call).unwrap());
    let first = ir::call_args(call).first().map(|a| ir::strip_pointer_casts(*a));
    if !first.is_some_and(ir::is_function) {
        return Err(Diagnostic::new(Code::BadRequest, format!("the first argument of `{name}` must be the function whose tape is asked for"))
            .at(call)
            .hint(format!("{name}((void *)f, enzyme_dup, ...), with the activities of the __enzyme_augmentfwd call")));
    }
    let t = ir::type_of(call);
    if !ir::is_integer(t) {
        return Err(Diagnostic::new(Code::BadRequest, format!("`{name}` is declared to return `{}`; it returns a size", ir::type_to_string(t)))
            .at(call)
            .hint(format!("declare it as size_t {name}(void *, ...)")));
    }
    ir::replace_all_uses(call, b.const_int(t, tape_handle_size(engine, b)));
    ir::delete_instruction(call);
    Ok(())
}

/// The caller's memory for the tape (`enzyme_allocated, size, enzyme_tape, memory`), checked
/// to hold RadX's tape; None when the call passes no `enzyme_allocated`.
fn tape_memory(engine: &Engine, b: &Builder, p: &ParsedCall) -> Result<Option<Value>> {
    let err = |msg: String| Diagnostic::new(Code::BadRequest, msg).at(p.call);
    let Some(size) = p.allocated else { return Ok(None) };
    let Some(memory) = p.tape else {
        return Err(err(format!("`enzyme_allocated` in `{}` gives the size of the caller's tape memory, but no `enzyme_tape, memory` follows", p.name))
            .hint("write enzyme_allocated, size, enzyme_tape, memory"));
    };
    if !ir::is_pointer(ir::type_of(memory)) {
        return Err(err(format!("`enzyme_tape` in `{}` must be followed by a pointer to the tape memory, not `{}`", p.name, crate::diag::short(memory))));
    }
    let need = tape_handle_size(engine, b);
    match ir::const_int_value(size) {
        Some(n) if n >= 0 && (n as u64) < need => Err(err(format!("`enzyme_allocated` gives {n} byte(s) of tape memory to `{}`, but RadX's tape takes {need}", p.name))
            .hint("ask __enzyme_augmentsize for the size with the same activities")),
        _ => Ok(Some(memory)),
    }
}

/// Whether an `__enzyme_augmentfwd` call receives the primal result: beside the tape in a
/// struct (the suite's convention for a function that returns a value), or on its own when
/// the tape goes to the caller's memory (`enzyme_tape`).
fn augment_call_returns_primal(call: Value) -> bool {
    let through_memory = ir::call_sret_type(call, 0).is_some();
    let tape_in_memory = ir::call_args(call).iter().any(|&a| super::marker_global(a).is_some_and(|g| ir::name_of(g) == "enzyme_tape"));
    if tape_in_memory {
        through_memory || !ir::is_void(ir::type_of(call))
    } else {
        through_memory || ir::is_aggregate(ir::type_of(call))
    }
}

fn split_request(p: &ParsedCall, float_ret: bool, return_primal: bool) -> ReverseRequest {
    ReverseRequest { function: p.function, args: rev_args(p), return_active: float_ret, return_primal, return_shadow: false, combined: false }
}

/// Whether the augmented forward paired with this reverse call returns the primal: the
/// convention of the suite (a double function's augmentfwd returns `{tape, primal}`).
fn augment_returned_primal(p: &ParsedCall) -> bool {
    let m = ir::module_of_function(ir::parent_function(p.call));
    for f in ir::functions(m) {
        if super::magic_kind(&ir::name_of(f)) != Some(MagicKind::AugmentForward) {
            continue;
        }
        for u in ir::users(f) {
            if ir::opcode(u) == Some(llvm_sys::LLVMOpcode::LLVMCall) {
                let args = ir::call_args(u);
                let first = if ir::call_sret_type(u, 0).is_some() { 1 } else { 0 };
                if args.get(first).map(|a| ir::strip_pointer_casts(*a)) == Some(p.function) {
                    return augment_call_returns_primal(u);
                }
            }
        }
    }
    // Already lowered or absent: match what the engine generated first, if anything.
    true
}

fn check_trailing(p: &ParsedCall, expected: usize) -> Result<()> {
    if p.trailing.len() == expected {
        return Ok(());
    }
    let what = match (p.kind, expected) {
        (MagicKind::Reverse, 2) => "the return seed and the tape",
        (MagicKind::Reverse, 1) if p.tape.is_some() => "the return seed",
        (MagicKind::Reverse, _) if p.tape.is_some() => "nothing (the tape comes with enzyme_tape)",
        (MagicKind::Reverse, _) => "the tape",
        _ => "nothing",
    };
    Err(Diagnostic::new(
        Code::BadRequest,
        format!(
            "`{}` received {} argument(s) after those of `{}`; expected {what}",
            p.name,
            p.trailing.len(),
            ir::name_of(p.function)
        ),
    )
    .at(p.call)
    .hint("check the number of arguments and the activity markers against the function's parameters"))
}

/// The hidden `sret` argument of a function returning a struct of type `t` through memory:
/// its shadows are slots of the magic call's result (`{primal?, tangent × width}`), its
/// primal the first slot with `enzyme_primal_return` and a temporary otherwise.
fn sret_result_arg(engine: &Engine, b: &Builder, p: &ParsedCall, t: Type) -> Result<ParsedArg> {
    let (ptr, result_ty) = p.sret.expect("a magic call returning through memory");
    let size = ir::data_layout_type_size(engine.module, t);
    let slots = p.width as u64 + p.primal_return as u64;
    let have = ir::data_layout_type_size(engine.module, result_ty);
    if have != slots * size {
        return Err(Diagnostic::new(
            Code::BadRequest,
            format!(
                "`{}` is declared to return `{}` ({have} bytes), but `{}` returns `{}` ({size} bytes) through a hidden pointer, so {slots} of them ({} bytes) are expected",
                p.name,
                ir::type_to_string(result_ty),
                ir::name_of(p.function),
                ir::type_to_string(t),
                slots * size
            ),
        )
        .at(p.call)
        .hint("declare the magic function to return the struct itself, or a struct of {primal, tangents...} with enzyme_primal_return and enzyme_width"));
    }
    b.position_before(p.call);
    let slot = |k: u64| if k == 0 { ptr } else { b.gep_bytes(ptr, k * size) };
    let primal = if p.primal_return { slot(0) } else { b.entry_alloca(ir::parent_function(p.call), t) };
    let shadows = (0..p.width as u64).map(|l| slot(l + p.primal_return as u64)).collect();
    Ok(ParsedArg { mode: ArgMode::Dup, primal, shadows })
}

/// Copies the magic call's source location to what replaces it (a call without one in a
/// function with debug info fails verification once inlined).
pub fn set_debug_loc_from(b: &Builder, call: Value) {
    unsafe { LLVMSetCurrentDebugLocation2(b.raw(), LLVMInstructionGetDebugLoc(call)) };
}

pub fn finish_call(b: &Builder, call: Value) {
    unsafe { LLVMSetCurrentDebugLocation2(b.raw(), std::ptr::null_mut()) };
    ir::delete_instruction(call);
}

/// Hands `values` to the caller in the shape the magic function was declared with: a bare
/// value, a struct or array or vector of them, or stored through the sret pointer.
pub fn deliver_results(b: &Builder, p: &ParsedCall, values: &[Value]) -> Result<()> {
    if let Some((ptr, sty)) = p.sret {
        let fields = aggregate_fields(sty);
        check_shape(p, sty, &fields, values)?;
        for (k, v) in values.iter().enumerate() {
            let field_ptr = unsafe {
                if ir::type_kind(sty) == llvm_sys::LLVMTypeKind::LLVMStructTypeKind {
                    LLVMBuildStructGEP2(b.raw(), sty, ptr, k as u32, b"\0".as_ptr() as *const _)
                } else {
                    let mut idx = [b.const_int(b.i64_type(), 0), b.const_int(b.i64_type(), k as u64)];
                    LLVMBuildGEP2(b.raw(), sty, ptr, idx.as_mut_ptr(), 2, b"\0".as_ptr() as *const _)
                }
            };
            b.store(convert(b, *v, fields[k]), field_ptr);
        }
        return Ok(());
    }
    let want = ir::type_of(p.call);
    if ir::is_void(want) {
        return Ok(());
    }
    let out = if values.len() == 1 && ir::type_of(values[0]) == want {
        values[0]
    } else if values.len() == 1 && ir::is_float(want) && ir::is_float(ir::type_of(values[0])) {
        convert(b, values[0], want)
    } else {
        let fields = aggregate_fields(want);
        check_shape(p, want, &fields, values)?;
        let mut agg = b.undef(want);
        for (k, v) in values.iter().enumerate() {
            let v = convert(b, *v, fields[k]);
            agg = if ir::type_kind(want) == llvm_sys::LLVMTypeKind::LLVMVectorTypeKind {
                unsafe { LLVMBuildInsertElement(b.raw(), agg, v, b.const_int(b.i32_type(), k as u64), b"\0".as_ptr() as *const _) }
            } else {
                b.insert_value(agg, v, k as u32)
            };
        }
        agg
    };
    ir::replace_all_uses(p.call, out);
    Ok(())
}

fn aggregate_fields(t: Type) -> Vec<Type> {
    use llvm_sys::LLVMTypeKind::*;
    match ir::type_kind(t) {
        LLVMStructTypeKind => ir::struct_fields(t),
        LLVMArrayTypeKind => vec![ir::element_type(t); ir::llvm::array_length(t) as usize],
        LLVMVectorTypeKind => vec![ir::element_type(t); unsafe { LLVMGetVectorSize(t) } as usize],
        _ => vec![],
    }
}

fn check_shape(p: &ParsedCall, want: Type, fields: &[Type], values: &[Value]) -> Result<()> {
    let ok = fields.len() == values.len() && fields.iter().zip(values).all(|(f, v)| convertible(ir::type_of(*v), *f));
    if ok {
        return Ok(());
    }
    let have: Vec<String> = values.iter().map(|v| ir::type_to_string(ir::type_of(*v))).collect();
    Err(Diagnostic::new(
        Code::BadRequest,
        format!(
            "`{}` is declared to return `{}`, but the derivative of `{}` produces {} value(s): ({})",
            p.name,
            ir::type_to_string(want),
            ir::name_of(p.function),
            values.len(),
            have.join(", ")
        ),
    )
    .at(p.call)
    .hint("declare the magic function with a return type holding exactly these values (a struct of them when there are several)"))
}

/// Whether a value of type `have` can be delivered as `want`: the same type, floats of
/// another precision, or structs and arrays of the same shape (C declares `struct pair`
/// where the callee's ABI returns the literal `{ double, double }`).
fn convertible(have: Type, want: Type) -> bool {
    let lanes = |t: Type| if ir::is_float_scalar(t) { 0 } else { unsafe { LLVMGetVectorSize(t) } };
    if have == want || (ir::is_float(have) && ir::is_float(want) && lanes(have) == lanes(want)) {
        return true;
    }
    let (h, w) = (aggregate_fields(have), aggregate_fields(want));
    ir::is_aggregate(have)
        && ir::is_aggregate(want)
        && h.len() == w.len()
        && !h.is_empty()
        && h.iter().zip(&w).all(|(a, b)| convertible(*a, *b))
}

fn convert(b: &Builder, v: Value, want: Type) -> Value {
    let have = ir::type_of(v);
    if have == want {
        v
    } else if ir::is_aggregate(have) && ir::is_aggregate(want) {
        let mut agg = b.undef(want);
        for (k, f) in aggregate_fields(want).into_iter().enumerate() {
            let e = convert(b, b.extract_value(v, k as u32), f);
            agg = b.insert_value(agg, e, k as u32);
        }
        agg
    } else {
        b.fp_cast(v, want)
    }
}
