//! Enzyme's custom-rule registrations: globals the compiler finds by name.
//!
//! * `__enzyme_register_derivative_NAME = { fn, forward }`
//! * `__enzyme_register_gradient_NAME = { fn, augmented, reverse }`
//!
//! A rule has exactly the signature of the derivative RadX would generate for the default
//! activity of the function's parameters (floating-point values and pointers carry
//! derivatives, integers do not): see docs/custom-rules.md. The activity pattern of the
//! return is read from the rule's type: a forward rule returning `{primal, tangent}`
//! also computes the primal, one returning the tangent alone does not.
//!
//! Floor: above the engine (it records the rules there), beside the lowering of calls.

use crate::diag::{Code, Diagnostic, Result};
use crate::engine::Engine;
use crate::ir::{self, Value};
use crate::request::{ArgActivity, ForwardRequest, RevArg, ReverseRequest};
use llvm_sys::core::*;

const FORWARD: &str = "__enzyme_register_derivative_";
const GRADIENT: &str = "__enzyme_register_gradient_";

/// The functions a registration global lists, in order.
fn listed_functions(g: Value) -> Vec<Value> {
    unsafe {
        let init = LLVMGetInitializer(g);
        if init.is_null() {
            return vec![];
        }
        (0..ir::num_operands(init)).map(|k| ir::strip_pointer_casts(LLVMGetOperand(init, k))).collect()
    }
}

pub fn register_all(engine: &mut Engine) -> std::result::Result<(), Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut done = Vec::new();
    for g in ir::globals(engine.module) {
        let name = ir::name_of(g);
        let result = if name.starts_with(FORWARD) {
            register_forward(engine, g, &name)
        } else if name.starts_with(GRADIENT) {
            register_gradient(engine, g, &name)
        } else {
            continue;
        };
        match result {
            Ok(()) => done.push(g),
            Err(d) => diags.push(at_registration(d, g)),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    // The registrations are compile-time information only.
    for g in done {
        if !ir::has_uses(g) {
            unsafe { LLVMDeleteGlobal(g) };
        }
    }
    Ok(())
}

/// A registration is no instruction: the diagnostic shows the global and its line.
fn at_registration(mut d: Diagnostic, g: Value) -> Diagnostic {
    if d.location.is_none() {
        d.location = ir::definition_loc(g);
    }
    if d.construct.is_none() {
        d.construct = Some(crate::diag::without_attachments(&ir::value_to_string(g)).to_string());
    }
    d
}

fn bad(name: &str, msg: String) -> Diagnostic {
    Diagnostic::new(Code::BadRequest, format!("custom rule `{name}`: {msg}")).hint("see docs/custom-rules.md for the signatures RadX expects")
}

fn functions_of(g: Value, name: &str, n: usize) -> Result<Vec<Value>> {
    let fs = listed_functions(g);
    if fs.len() != n || fs.iter().any(|f| !ir::is_function(*f)) {
        let what = if n == 2 { "the function and its forward rule" } else { "the function, its augmented forward and its reverse" };
        return Err(bad(name, format!("expected an initializer of {n} functions ({what}), found {}", fs.len()))
            .hint(format!("list {what}, in that order: void *{name}[{n}] = {{(void *)f, ...}}; see docs/custom-rules.md")));
    }
    Ok(fs)
}

fn register_forward(engine: &mut Engine, g: Value, name: &str) -> Result<()> {
    let fs = functions_of(g, name, 2)?;
    let (f, rule) = (fs[0], fs[1]);
    let ret = ir::return_type(ir::function_type(f));
    let args: Vec<ArgActivity> = ir::param_types(ir::function_type(f))
        .into_iter()
        .map(|t| if ir::is_float(t) || ir::is_pointer(t) { ArgActivity::Dup } else { ArgActivity::Const })
        .collect();
    let rule_ret = ir::return_type(ir::function_type(rule));
    let both = !ir::is_void(ret) && ir::is_aggregate(rule_ret) && ir::struct_fields(rule_ret).len() == 2 && ir::struct_fields(rule_ret).iter().all(|t| *t == ret);
    let req = ForwardRequest { function: f, args, width: 1, return_primal: both, return_tangent: !ir::is_void(ret) };
    engine.register_forward_rule(&req, rule).map_err(|d| d.in_function(ir::name_of(f)))
}

fn register_gradient(engine: &mut Engine, g: Value, name: &str) -> Result<()> {
    let fs = functions_of(g, name, 3)?;
    let (f, aug, rev) = (fs[0], fs[1], fs[2]);
    let fty = ir::function_type(f);
    let ret = ir::return_type(fty);
    let args: Vec<RevArg> = ir::param_types(fty)
        .into_iter()
        .map(|t| if ir::is_pointer(t) { RevArg::Dup } else if ir::is_float(t) { RevArg::Active } else { RevArg::Const })
        .collect();
    let aug_ret = ir::return_type(ir::function_type(aug));
    let with_primal = !ir::is_void(ret) && ir::is_aggregate(aug_ret) && ir::struct_fields(aug_ret).len() == 2;
    let req = ReverseRequest { function: f, args, return_active: ir::is_float(ret), return_primal: with_primal, return_shadow: false, combined: false };
    engine.register_reverse_rule(&req, aug, rev).map_err(|d| d.in_function(ir::name_of(f)))
}
