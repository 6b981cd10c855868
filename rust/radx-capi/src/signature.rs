//! The exact signatures of generated functions, slot by slot (`radx_function`,
//! `radx_slot`), so that a caller can call them without knowing RadX's conventions.
//!
//! The slots are derived from the request, independently of the engine, and then checked
//! against the type of the function the engine generated: a drift between the two is an
//! internal error, never a wrong call.

use radx_core::llvm_sys;
use crate::error::{c_string, free_c_string, Failure};
use crate::types::*;
use radx_core::ir::{self, builder::Builder, Type, Value};
use radx_core::request::{ArgActivity, RevArg};
use radx_core::{Code, Diagnostic};

/// One parameter or result.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    pub role: RadxSlotRole,
    pub arg: u32,
    pub lane: u32,
    pub ty: Type,
}

impl Slot {
    fn new(role: RadxSlotRole, arg: u32, lane: u32, ty: Type) -> Slot {
        Slot { role, arg, lane, ty }
    }
}

/// A generated function with its signature.
#[derive(Clone, Debug)]
pub struct FnSig {
    pub name: String,
    pub mode: RadxMode,
    pub params: Vec<Slot>,
    pub results: Vec<Slot>,
}

pub fn role_name(r: RadxSlotRole) -> &'static str {
    C_CONSTANTS.iter().find(|(n, v)| n.starts_with("RADX_SLOT_") && *v == r as i64).map(|(n, _)| *n).unwrap_or("unknown")
}

impl FnSig {
    pub fn return_layout(&self) -> RadxReturnLayout {
        match self.results.len() {
            0 => RADX_RETURN_VOID,
            1 => RADX_RETURN_VALUE,
            _ => RADX_RETURN_STRUCT,
        }
    }

    /// The LLVM function type the slots describe.
    pub fn fn_type(&self, b: &Builder) -> Type {
        let mut params: Vec<Type> = self.params.iter().map(|s| s.ty).collect();
        let res: Vec<Type> = self.results.iter().map(|s| s.ty).collect();
        let ret = match res.len() {
            0 => b.void_type(),
            1 => res[0],
            _ => b.struct_type(&res),
        };
        unsafe { llvm_sys::core::LLVMFunctionType(ret, params.as_mut_ptr(), params.len() as u32, 0) }
    }

    /// Checks the slots against the function the engine generated.
    pub fn check(&self, b: &Builder, f: Value) -> Result<(), Failure> {
        let want = self.fn_type(b);
        let got = ir::function_type(f);
        if want != got {
            return Err(Failure::new(
                RADX_ERR_INTERNAL,
                Diagnostic::new(
                    Code::Internal,
                    format!(
                        "the generated `{}` has type `{}` but libradx describes it as `{}`",
                        self.name,
                        ir::type_to_string(got),
                        ir::type_to_string(want)
                    ),
                )
                .hint("this is a bug in RadX (the C API and the engine disagree on a calling convention); please report it"),
            ));
        }
        Ok(())
    }

    pub fn to_json(&self, b: &Builder) -> serde_json::Value {
        let slot = |s: &Slot| {
            serde_json::json!({
                "role": role_name(s.role),
                "arg": if s.arg == NO_ARG { serde_json::Value::Null } else { s.arg.into() },
                "lane": s.lane,
                "type": ir::type_to_string(s.ty),
            })
        };
        serde_json::json!({
            "name": self.name,
            "mode": mode_name(self.mode).unwrap_or("unknown"),
            "type": ir::type_to_string(self.fn_type(b)),
            "return_layout": match self.return_layout() { RADX_RETURN_VOID => "void", RADX_RETURN_VALUE => "value", _ => "struct" },
            "params": self.params.iter().map(slot).collect::<Vec<_>>(),
            "results": self.results.iter().map(slot).collect::<Vec<_>>(),
        })
    }
}

/// The original parameters, each one with a shadow followed by `width` shadows.
fn primal_and_shadows(params: &[Type], shadowed: &[bool], width: u32) -> Vec<Slot> {
    let mut out = Vec::new();
    for (i, (&t, &s)) in params.iter().zip(shadowed).enumerate() {
        out.push(Slot::new(RADX_SLOT_PRIMAL, i as u32, 0, t));
        if s {
            out.extend((0..width).map(|l| Slot::new(RADX_SLOT_SHADOW, i as u32, l, t)));
        }
    }
    out
}

/// Forward mode: `(args, width shadows after each DUP arg) -> {primal?, tangent x width}`.
pub fn forward(name: &str, fn_ty: Type, args: &[ArgActivity], width: u32, return_primal: bool, return_tangent: bool) -> FnSig {
    let params = ir::param_types(fn_ty);
    let ret = ir::return_type(fn_ty);
    let dup: Vec<bool> = args.iter().map(|a| *a == ArgActivity::Dup).collect();
    let mut results = Vec::new();
    if !ir::is_void(ret) {
        if return_primal {
            results.push(Slot::new(RADX_SLOT_RETURN, NO_ARG, 0, ret));
        }
        if return_tangent {
            results.extend((0..width).map(|l| Slot::new(RADX_SLOT_RETURN_SHADOW, NO_ARG, l, ret)));
        }
    }
    FnSig { name: name.into(), mode: RADX_MODE_FORWARD, params: primal_and_shadows(&params, &dup, width), results }
}

fn adjoints(params: &[Type], args: &[RevArg]) -> Vec<Slot> {
    params
        .iter()
        .zip(args)
        .enumerate()
        .filter(|(_, (_, a))| **a == RevArg::Active)
        .map(|(i, (&t, _))| Slot::new(RADX_SLOT_ADJOINT, i as u32, 0, t))
        .collect()
}

/// The reverse-mode functions of one request: `[combined]` or `[augmented, reverse]`.
pub fn reverse(b: &Builder, fn_ty: Type, names: &[String], args: &[RevArg], return_active: bool, return_primal: bool, return_shadow: bool) -> Vec<FnSig> {
    let params = ir::param_types(fn_ty);
    let ret = ir::return_type(fn_ty);
    let dup: Vec<bool> = args.iter().map(|a| *a == RevArg::Dup).collect();
    let inputs = primal_and_shadows(&params, &dup, 1);
    let seed = return_active.then(|| Slot::new(RADX_SLOT_SEED, NO_ARG, 0, ret));
    if names.len() == 1 {
        let mut p = inputs;
        p.extend(seed);
        let mut results = Vec::new();
        if return_primal && !ir::is_void(ret) {
            results.push(Slot::new(RADX_SLOT_RETURN, NO_ARG, 0, ret));
        }
        results.extend(adjoints(&params, args));
        return vec![FnSig { name: names[0].clone(), mode: RADX_MODE_REVERSE_COMBINED, params: p, results }];
    }
    let tape = Slot::new(RADX_SLOT_TAPE, NO_ARG, 0, b.ptr_type());
    let mut aug_results = vec![tape.clone()];
    if return_primal && !ir::is_void(ret) {
        aug_results.push(Slot::new(RADX_SLOT_RETURN, NO_ARG, 0, ret));
    }
    if return_shadow && !ir::is_void(ret) {
        aug_results.push(Slot::new(RADX_SLOT_RETURN_SHADOW, NO_ARG, 0, ret));
    }
    let augmented = FnSig { name: names[0].clone(), mode: RADX_MODE_REVERSE_PRIMAL, params: inputs.clone(), results: aug_results };
    let mut rev_params = inputs;
    rev_params.extend(seed);
    rev_params.push(tape);
    let rev = FnSig { name: names[1].clone(), mode: RADX_MODE_REVERSE_GRADIENT, params: rev_params, results: adjoints(&params, args) };
    vec![augmented, rev]
}

fn slots_to_c(slots: &[Slot]) -> (*mut RadxSlot, usize) {
    let v: Vec<RadxSlot> = slots
        .iter()
        .map(|s| RadxSlot { role: s.role, arg: s.arg, lane: s.lane, llvm_type: c_string(&ir::type_to_string(s.ty)) })
        .collect();
    let n = v.len();
    if n == 0 {
        return (std::ptr::null_mut(), 0);
    }
    (Box::into_raw(v.into_boxed_slice()) as *mut RadxSlot, n)
}

/// The `radx_function` array of a result.
pub fn functions_to_c(b: &Builder, sigs: &[FnSig]) -> (*mut RadxFunction, usize) {
    let v: Vec<RadxFunction> = sigs
        .iter()
        .map(|s| {
            let (params, num_params) = slots_to_c(&s.params);
            let (results, num_results) = slots_to_c(&s.results);
            RadxFunction {
                name: c_string(&s.name),
                mode: s.mode,
                return_layout: s.return_layout(),
                llvm_type: c_string(&ir::type_to_string(s.fn_type(b))),
                params,
                num_params,
                results,
                num_results,
            }
        })
        .collect();
    let n = v.len();
    if n == 0 {
        return (std::ptr::null_mut(), 0);
    }
    (Box::into_raw(v.into_boxed_slice()) as *mut RadxFunction, n)
}

unsafe fn free_slots(p: *mut RadxSlot, n: usize) {
    if p.is_null() {
        return;
    }
    let v = Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n));
    for s in v.iter() {
        free_c_string(s.llvm_type);
    }
}

/// # Safety
/// `p` and `n` come from [`functions_to_c`] and have not been freed.
pub unsafe fn free_functions(p: *mut RadxFunction, n: usize) {
    if p.is_null() {
        return;
    }
    let v = Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n));
    for f in v.iter() {
        free_c_string(f.name);
        free_c_string(f.llvm_type);
        free_slots(f.params, f.num_params);
        free_slots(f.results, f.num_results);
    }
}
