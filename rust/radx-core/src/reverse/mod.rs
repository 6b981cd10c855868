//! Reverse mode, combined and split.
//!
//! One generator (`gen.rs`) emits both sweeps of a function:
//! * the forward sweep runs the primal, computes the shadows of active pointers (stores of
//!   pointers are mirrored into shadow memory, allocations get zeroed shadows, frees of
//!   local allocations are deferred to the reverse sweep), and at the end of each block
//!   pushes onto the tape the values that block's reverse needs and cannot get otherwise,
//!   plus the index of the predecessor it came from when it has several;
//! * the reverse sweep has one block per primal block: it pops the block's group, seeds
//!   the return adjoint, walks the instructions backwards applying the shared rule table
//!   (`adjoint.rs`), hands phi adjoints to the incoming values of the edge taken, and
//!   branches to the reverse of that predecessor.
//! Combined mode (`__enzyme_autodiff`) puts both sweeps in one function, so values whose
//! block dominates every return and lies in no loop are used directly. Split mode
//! (`__enzyme_augmentfwd` / `__enzyme_reverse`, and calls of defined functions inside a
//! derivative) emits two functions that share the tape. What is needed is planned before
//! emission (`plan.rs`): constants and arguments are free, cheap pure operations and loads
//! of memory nothing overwrites are recomputed, everything else is cached.

mod adjoint;
mod cache_choice;
mod forward_sweep;
mod gen;
mod joins;
mod plan;
mod shadow_alloc;
mod sweep;
pub mod tape;

use crate::abi::lower::{deliver_results, finish_call, set_debug_loc_from};
use crate::abi::{ArgMode, MagicKind, ParsedCall};
use crate::diag::{Code, Diagnostic, Result};
use crate::engine::Engine;
use crate::ir::{self, builder::Builder, Type, Value};
use llvm_sys::core::*;

/// Activity of one argument in reverse mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevArg {
    Const,
    /// An active scalar (`enzyme_out`): its adjoint is returned.
    Active,
    /// A pointer with a shadow, passed after it; adjoints accumulate in the shadow.
    Dup,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReverseRequest {
    pub function: Value,
    pub args: Vec<RevArg>,
    /// The return value is active: the reverse takes its adjoint (the seed).
    pub return_active: bool,
    /// The augmented forward (or the combined function) also returns the primal result.
    pub return_primal: bool,
    /// The augmented forward returns the shadow of a returned pointer.
    pub return_shadow: bool,
    pub combined: bool,
}

/// The generated functions: in combined mode `forward == reverse`.
#[derive(Clone, Copy, Debug)]
pub struct ReverseFunctions {
    pub forward: Value,
    pub reverse: Value,
}

/// Tape usage of one generated derivative, for `--stats`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TapeStats {
    /// Bytes pushed by blocks outside any loop (once per call).
    pub bytes_per_call: u64,
    /// Bytes pushed per iteration of each loop, by loop header name.
    pub bytes_per_iteration: Vec<(String, u64)>,
    /// What is cached, as `value (block)`.
    pub cached: Vec<String>,
    /// Loops whose tape is reserved on entry from their trip count (by header).
    pub sized_loops: Vec<String>,
}

/// Types of the derivative functions.
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

impl Engine {
    pub fn reverse(&mut self, req: &ReverseRequest) -> Result<ReverseFunctions> {
        if let Some(f) = self.reverse_cache.get(req) {
            return Ok(*f);
        }
        if req.combined {
            if let Some(f) = self.combined_from_custom_rule(req)? {
                return Ok(f);
            }
        }
        gen::generate(self, req)
    }

    /// A combined-mode derivative of a function with a custom split rule: call the
    /// augmented forward, then the reverse.
    fn combined_from_custom_rule(&mut self, req: &ReverseRequest) -> Result<Option<ReverseFunctions>> {
        if !self.has_custom_rule(req.function) {
            return Ok(None);
        }
        let ret = ir::return_type(ir::function_type(req.function));
        let split = ReverseRequest { combined: false, return_primal: req.return_primal && !ir::is_void(ret), return_shadow: false, ..req.clone() };
        let alt = ReverseRequest { return_primal: !split.return_primal && !ir::is_void(ret), ..split.clone() };
        let Some((split, fns)) = [split, alt].into_iter().find_map(|k| self.reverse_cache.get(&k).map(|f| (k.clone(), *f))) else { return Ok(None) };
        let b = Builder::new(self.module);
        let sig = signatures(&b, req);
        let ssig = signatures(&b, &split);
        let name = format!("diffe{}", ir::name_of(req.function));
        let f = unsafe { LLVMAddFunction(self.module, ir::cstring(&name).as_ptr(), sig.combined_or_reverse) };
        unsafe { LLVMSetLinkage(f, llvm_sys::LLVMLinkage::LLVMInternalLinkage) };
        let entry = unsafe { LLVMAppendBasicBlockInContext(b.ctx, f, b"entry\0".as_ptr() as *const _) };
        b.position_at_end(entry);
        let params = ir::params(f);
        let n_primal = ir::param_types(ssig.augmented).len();
        let aug = b.call(ssig.augmented, fns.forward, &params[..n_primal]);
        let parts = unpack(&b, aug, ssig.augmented_results.len());
        let mut rev_args: Vec<Value> = params[..n_primal].to_vec();
        if req.return_active {
            rev_args.push(params[n_primal]);
        }
        rev_args.push(parts[0]);
        let r = b.call(ssig.combined_or_reverse, fns.reverse, &rev_args);
        let mut results = Vec::new();
        if req.return_primal && split.return_primal {
            results.push(parts[1]);
        }
        results.extend(unpack(&b, r, ssig.adjoint_results.len()));
        let packed = b.pack(&results);
        b.ret(packed);
        let fns = ReverseFunctions { forward: f, reverse: f };
        self.reverse_cache.insert(req.clone(), fns);
        Ok(Some(fns))
    }
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

pub fn lower(engine: &mut Engine, b: &Builder, p: &ParsedCall) -> Result<()> {
    if p.width != 1 {
        return Err(Diagnostic::new(Code::Unsupported, "`enzyme_width` (batched shadows) is available in forward mode only")
            .at(p.call)
            .hint("run the reverse pass once per seed, or compute the batch with __enzyme_fwddiff"));
    }
    let ret = ir::return_type(ir::function_type(p.function));
    let float_ret = ir::is_float(ret);
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
            let holds_two = p.sret.is_some() || ir::is_aggregate(ir::type_of(p.call));
            let req = split_request(p, float_ret, holds_two && !ir::is_void(ret));
            let f = engine.reverse(&req)?;
            let sig = signatures(b, &req);
            b.position_before(p.call);
            set_debug_loc_from(b, p.call);
            engine.zero_global_shadows(b);
            let r = b.call(sig.augmented, f.forward, &primal_and_shadow_args(p));
            let values = unpack(b, r, sig.augmented_results.len());
            deliver_results(b, p, &values)?;
            finish_call(b, p.call);
            Ok(())
        }
        MagicKind::Reverse => {
            let expect = if float_ret { 2 } else { 1 };
            check_trailing(p, expect)?;
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
            let tape = *p.trailing.last().unwrap();
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
        MagicKind::AugmentSize => Err(augment_size_refused(p.call)),
        MagicKind::ForwardSplit => Err(Diagnostic::new(Code::Unsupported, "`__enzyme_fwdsplit` is not supported; use __enzyme_fwddiff").at(p.call)),
        MagicKind::ForwardDiff => unreachable!("forward mode is lowered in abi::lower"),
    }
}

/// Refused before its arguments are parsed: they are activity markers without values.
pub fn augment_size_refused(call: Value) -> Diagnostic {
    Diagnostic::new(Code::Unsupported, "`__enzyme_augmentsize` is not supported: RadX tapes are allocated by the augmented forward itself")
        .at(call)
        .hint("drop the size query and enzyme_allocated, and use the pointer __enzyme_augmentfwd returns")
}

fn split_request(p: &ParsedCall, float_ret: bool, return_primal: bool) -> ReverseRequest {
    ReverseRequest { function: p.function, args: rev_args(p), return_active: float_ret, return_primal, return_shadow: false, combined: false }
}

/// Whether the augmented forward paired with this reverse call returns the primal: the
/// convention of the suite (a double function's augmentfwd returns `{tape, primal}`).
fn augment_returned_primal(p: &ParsedCall) -> bool {
    let m = ir::module_of_function(ir::parent_function(p.call));
    for f in ir::functions(m) {
        if crate::abi::magic_kind(&ir::name_of(f)) != Some(MagicKind::AugmentForward) {
            continue;
        }
        for u in ir::users(f) {
            if ir::opcode(u) == Some(llvm_sys::LLVMOpcode::LLVMCall) {
                let args = ir::call_args(u);
                let first = if ir::call_sret_type(u, 0).is_some() { 1 } else { 0 };
                if args.get(first).map(|a| ir::strip_pointer_casts(*a)) == Some(p.function) {
                    return ir::call_sret_type(u, 0).is_some() || ir::is_aggregate(ir::type_of(u));
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
