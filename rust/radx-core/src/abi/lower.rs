//! Replacing magic calls by calls of generated derivatives.

use super::{parse, ArgMode, MagicKind, ParsedArg, ParsedCall};
use crate::diag::{Code, Diagnostic, Result};
use crate::engine::{ArgActivity, Engine, ForwardRequest};
use crate::ir::{self, builder::Builder, Type, Value};
use llvm_sys::core::*;
use llvm_sys::debuginfo::LLVMInstructionGetDebugLoc;

/// Every call of a magic function in the module, in program order.
pub fn magic_calls(module: llvm_sys::prelude::LLVMModuleRef) -> Vec<(Value, MagicKind)> {
    let mut out = Vec::new();
    for f in ir::functions(module) {
        let Some(kind) = super::magic_kind(&ir::name_of(f)) else { continue };
        if !ir::is_declaration(f) {
            continue;
        }
        for u in ir::users(f) {
            if ir::opcode(u) == Some(llvm_sys::LLVMOpcode::LLVMCall) && ir::called_function(u) == Some(f) {
                out.push((u, kind));
            }
        }
    }
    out
}

pub fn lower_call(engine: &mut Engine, call: Value, kind: MagicKind) -> Result<()> {
    if kind == MagicKind::AugmentSize {
        return Err(crate::reverse::augment_size_refused(call));
    }
    let b = Builder::new(engine.module);
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
            crate::reverse::lower(engine, &b, &parsed).map_err(located)
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
                crate::forward::short(extra)
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
    let (fn_ty, elems) = crate::forward::derivative_signature(b, ir::function_type(p.function), &req);
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
        let (primal, tangents) = crate::forward::unpack_result(b, result, &req, elems.len());
        let values: Vec<Value> = primal.into_iter().chain(tangents).collect();
        deliver_results(b, p, &values)?;
    }
    finish_call(b, p.call);
    Ok(())
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
        LLVMArrayTypeKind => vec![ir::element_type(t); ir::array_len(t) as usize],
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
