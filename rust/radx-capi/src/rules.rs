//! Custom derivative rules (`radx_rules`): per function name, a forward implementation
//! and/or an augmented-forward + reverse pair, all living in the module being
//! differentiated.
//!
//! A rule has exactly the signature of the derivative RadX would generate for the same
//! activity pattern (see `radx.h`), so that the engine can call it wherever it would call a
//! derivative it generated. Registration checks the rule's shape; each request checks the
//! rules whose primal the module holds (the implementations exist and have the right
//! types) and hands them to the engine, which uses them wherever a derivative of that
//! function with that activity pattern is needed (the request itself or a call inside it).

use radx_core::llvm_sys;
use crate::error::Failure;
use crate::activity::{activity_name, find_function, forward_arg, forward_return, read_activities, reverse_arg, reverse_return};
use crate::types::*;
use radx_core::engine::Engine;
use radx_core::ir::{self, builder::Builder, Type, Value};
use radx_core::request::{ForwardRequest, ReverseRequest};
use radx_core::signature::signatures;
use llvm_sys::prelude::LLVMModuleRef;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::sync::Mutex;

/// One registered rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub function: String,
    pub args: Vec<RadxActivity>,
    pub return_activity: RadxActivity,
    pub width: u32,
    pub forward: Option<String>,
    pub augmented: Option<String>,
    pub reverse: Option<String>,
}

impl Rule {
    fn same_pattern(&self, o: &Rule) -> bool {
        self.function == o.function && self.args == o.args && self.return_activity == o.return_activity && self.width == o.width
    }

}

/// `radx_rules`: a registry the caller fills and passes with requests. Internally locked,
/// so registering while another thread differentiates with the same registry is safe.
#[derive(Debug, Default)]
pub struct Registry {
    rules: Mutex<Vec<Rule>>,
}

/// The opaque `radx_rules` of the header.
pub type RadxRules = Registry;

unsafe fn opt_name(p: *const c_char, what: &str) -> Result<Option<String>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    let s = CStr::from_ptr(p).to_str().map_err(|_| Failure::invalid(format!("rule.{what} is not UTF-8")))?;
    if s.is_empty() {
        return Err(Failure::invalid(format!("rule.{what} is empty; pass NULL when there is no {what} implementation")));
    }
    Ok(Some(s.to_string()))
}

impl Registry {
    pub fn snapshot(&self) -> Vec<Rule> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn len(&self) -> usize {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the shape of a `radx_rule` and registers a copy; a rule for the same
    /// function and activity pattern replaces the earlier one.
    ///
    /// # Safety
    /// `r` points to a valid `radx_rule` whose strings are NUL-terminated or NULL.
    pub unsafe fn add(&self, r: *const RadxRule) -> Result<(), Failure> {
        if r.is_null() {
            return Err(Failure::invalid("the rule pointer is NULL"));
        }
        let r = *r;
        let function = opt_name(r.function, "function")?.ok_or_else(|| Failure::invalid("rule.function is NULL"))?;
        let args = read_activities(r.args, r.num_args, "rule")?;
        for &a in args.iter().chain(std::iter::once(&r.return_activity)) {
            if !(RADX_ACTIVITY_DEFAULT..=RADX_ACTIVITY_ACTIVE).contains(&a) {
                return Err(Failure::invalid(format!("unknown activity {} in the rule for `{function}`", activity_name(a))));
            }
        }
        let width = if r.width == 0 { 1 } else { r.width };
        if width > 64 {
            return Err(Failure::invalid(format!("width {width} of the rule for `{function}` is out of range (1 to 64)")));
        }
        let rule = Rule {
            function: function.clone(),
            args,
            return_activity: r.return_activity,
            width,
            forward: opt_name(r.forward, "forward")?,
            augmented: opt_name(r.augmented, "augmented")?,
            reverse: opt_name(r.reverse, "reverse")?,
        };
        if rule.augmented.is_some() != rule.reverse.is_some() {
            return Err(Failure::api(RADX_ERR_BAD_REQUEST, format!("the rule for `{function}` gives only one of `augmented` and `reverse`"))
                .hint("a reverse-mode rule is a pair: the augmented forward pass makes the tape the reverse pass takes"));
        }
        if rule.forward.is_none() && rule.reverse.is_none() {
            return Err(Failure::api(RADX_ERR_BAD_REQUEST, format!("the rule for `{function}` has no implementation"))
                .hint("set `forward`, or `augmented` and `reverse`, or both"));
        }
        if rule.reverse.is_some() && width != 1 {
            return Err(Failure::api(RADX_ERR_BAD_REQUEST, format!("the rule for `{function}` has width {width}; reverse-mode rules have width 1")));
        }
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.retain(|o| !o.same_pattern(&rule));
        rules.push(rule);
        Ok(())
    }

    /// Validates the rules whose primal is in `m` and registers them with `engine`.
    pub fn register_with(&self, m: LLVMModuleRef, engine: &mut Engine) -> Result<(), Failure> {
        for r in &self.snapshot() {
            let Some(primal) = find_function(m, &r.function) else { continue };
            validate(m, primal, r, engine)?;
        }
        Ok(())
    }
}

fn rule_failure(r: &Rule, message: String) -> Failure {
    Failure::api(RADX_ERR_BAD_REQUEST, format!("custom rule for `{}`: {message}", r.function))
}

fn implementation(m: LLVMModuleRef, r: &Rule, what: &str, name: &str, want: Type) -> Result<Value, Failure> {
    let Some(f) = find_function(m, name) else {
        return Err(rule_failure(r, format!("its {what} implementation `{name}` is not in the module"))
            .hint("custom rules live in the module being differentiated: link the rule's code in first"));
    };
    let got = ir::function_type(f);
    if got != want {
        return Err(rule_failure(r, format!("its {what} implementation `{name}` has type `{}`, but must have `{}`", ir::type_to_string(got), ir::type_to_string(want)))
            .hint("a rule has exactly the signature of the derivative RadX would generate for the same activities (see radx.h)"));
    }
    Ok(f)
}

/// Checks a rule's implementations against the primal's type and hands them to the engine,
/// which then uses them wherever a derivative of the primal with that pattern is needed.
fn validate(m: LLVMModuleRef, primal: Value, r: &Rule, engine: &mut Engine) -> Result<(), Failure> {
    let fn_ty = ir::function_type(primal);
    let params = ir::param_types(fn_ty);
    let ret = ir::return_type(fn_ty);
    if !r.args.is_empty() && r.args.len() != params.len() {
        return Err(rule_failure(r, format!("it gives {} activities but `{}` has {} parameter(s)", r.args.len(), r.function, params.len())));
    }
    let act = |i: usize| r.args.get(i).copied().unwrap_or(RADX_ACTIVITY_DEFAULT);
    let b = Builder::new(m);
    if let Some(fwd) = &r.forward {
        let mut args = Vec::new();
        for (i, &t) in params.iter().enumerate() {
            args.push(forward_arg(&r.function, i, t, act(i))?);
        }
        // The rule replaces the call, so it returns the primal result too, unless the
        // pattern says that is not needed.
        let return_primal = !ir::is_void(ret) && r.return_activity != RADX_ACTIVITY_DUP_NONEED;
        let return_tangent = forward_return(&r.function, ret, r.return_activity, return_primal)?;
        let req = ForwardRequest { function: primal, args, width: r.width, return_primal, return_tangent };
        let (want, _) = radx_core::signature::derivative_signature(&b, fn_ty, &req);
        let f = implementation(m, r, "forward", fwd, want)?;
        engine.register_forward_rule(&req, f)?;
    }
    if let (Some(aug), Some(rev)) = (&r.augmented, &r.reverse) {
        let mut args = Vec::new();
        for (i, &t) in params.iter().enumerate() {
            args.push(reverse_arg(&r.function, i, t, act(i))?);
        }
        let (return_active, return_shadow) = reverse_return(&r.function, ret, r.return_activity, true)?;
        let req = ReverseRequest { function: primal, args, return_active, return_primal: !ir::is_void(ret), return_shadow, combined: false };
        let sig = signatures(&b, &req);
        let a = implementation(m, r, "augmented", aug, sig.augmented)?;
        let v = implementation(m, r, "reverse", rev, sig.combined_or_reverse)?;
        engine.register_reverse_rule(&req, a, v)?;
    }
    Ok(())
}
