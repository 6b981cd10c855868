//! The types of the functions a request yields, and how a call of one is taken apart.
//!
//! Floor: just above the requests. The engine checks custom rules against these types, the
//! generators build their functions with them and the ABI lowering calls those functions
//! through them; all that is needed to compute them is the request and the primal's type.

use crate::ir::{self, builder::Builder, Type, Value};
use crate::request::{ArgActivity, ForwardRequest, RevArg, ReverseRequest};
use llvm_sys::core::*;

/// The signature of a forward derivative: the primal parameters, each `Dup` one followed
/// by `width` shadows; returns `{primal?, tangent × width}` (a bare value when that is
/// one element, void when none).
pub fn derivative_signature(b: &Builder, primal_fn_ty: Type, req: &ForwardRequest) -> (Type, Vec<Type>) {
    let mut params = Vec::new();
    for (t, a) in ir::param_types(primal_fn_ty).into_iter().zip(&req.args) {
        params.push(t);
        if *a == ArgActivity::Dup {
            params.extend(std::iter::repeat(t).take(req.width as usize));
        }
    }
    let ret = ir::return_type(primal_fn_ty);
    let mut elems = Vec::new();
    if !ir::is_void(ret) {
        if req.return_primal {
            elems.push(ret);
        }
        if req.return_tangent {
            elems.extend(std::iter::repeat(ret).take(req.width as usize));
        }
    }
    let ret_ty = match elems.len() {
        0 => b.void_type(),
        1 => elems[0],
        _ => b.struct_type(&elems),
    };
    let fn_ty = unsafe { LLVMFunctionType(ret_ty, params.as_mut_ptr(), params.len() as u32, 0) };
    (fn_ty, elems)
}

/// Splits the result of a call of a forward derivative into (primal, tangents).
pub fn unpack_result(b: &Builder, call: Value, req: &ForwardRequest, n_elems: usize) -> (Option<Value>, Vec<Value>) {
    let get = |i: usize| if n_elems == 1 { call } else { b.extract_value(call, i as u32) };
    let mut k = 0;
    let primal = if req.return_primal && n_elems > 0 {
        k = 1;
        Some(get(0))
    } else {
        None
    };
    let tangents = if req.return_tangent { (0..req.width as usize).map(|l| get(k + l)).collect() } else { vec![] };
    (primal, tangents)
}

/// Types of the reverse-mode derivative functions.
pub struct Signatures {
    pub combined_or_reverse: Type,
    pub augmented: Type,
    /// Adjoint results of the reverse (or combined) function, in order.
    pub adjoint_results: Vec<Type>,
    pub augmented_results: Vec<Type>,
}

pub fn signatures(b: &Builder, req: &ReverseRequest) -> Signatures {
    let fn_ty = ir::function_type(req.function);
    let ret = ir::return_type(fn_ty);
    let mut primal_params = Vec::new();
    let mut adjoint_results = Vec::new();
    for (t, a) in ir::param_types(fn_ty).into_iter().zip(&req.args) {
        primal_params.push(t);
        match a {
            RevArg::Dup => primal_params.push(t),
            RevArg::Active => adjoint_results.push(t),
            RevArg::Const => {}
        }
    }
    let mut rev_params = primal_params.clone();
    if req.return_active {
        rev_params.push(ret);
    }
    let mut results = Vec::new();
    if req.combined && req.return_primal && !ir::is_void(ret) {
        results.push(ret);
    }
    results.extend(adjoint_results.iter().copied());
    if !req.combined {
        rev_params.push(b.ptr_type());
    }
    let pack = |elems: &[Type]| match elems.len() {
        0 => b.void_type(),
        1 => elems[0],
        _ => b.struct_type(elems),
    };
    let combined_or_reverse = unsafe { LLVMFunctionType(pack(&results), rev_params.as_mut_ptr(), rev_params.len() as u32, 0) };
    let mut aug_results = vec![b.ptr_type()];
    if req.return_primal && !ir::is_void(ret) {
        aug_results.push(ret);
    }
    if req.return_shadow && !ir::is_void(ret) {
        aug_results.push(ret);
    }
    let augmented = unsafe { LLVMFunctionType(pack(&aug_results), primal_params.as_mut_ptr(), primal_params.len() as u32, 0) };
    Signatures { combined_or_reverse, augmented, adjoint_results: results, augmented_results: aug_results }
}

/// Splits a packed result into its elements.
pub fn unpack(b: &Builder, v: Value, n: usize) -> Vec<Value> {
    match n {
        0 => vec![],
        1 => vec![v],
        _ => (0..n).map(|i| b.extract_value(v, i as u32)).collect(),
    }
}
