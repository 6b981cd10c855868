//! Calls in forward mode: rule-table functions, allocators, memory transfers, functions
//! without derivatives, and calls of defined functions (their forward derivatives are
//! generated on demand, recursion included).

use super::gen::ForwardFn;
use crate::analysis::activity::call_arg_is_active;
use crate::diag::{short, Code, Diagnostic, Result};
use crate::request::{ArgActivity, ForwardRequest};
use crate::ir::{self, Value};
use crate::rules::{self, memory};

impl<'e> ForwardFn<'e> {
    pub(super) fn visit_call(&mut self, inst: Value) -> Result<()> {
        let Some(callee) = ir::called_function(inst) else {
            return self.visit_indirect_call(inst);
        };
        if let Some(region) = rules::openmp::region_of(inst) {
            if self.visit_region_call(inst, region)? {
                return Ok(());
            }
        }
        let name = ir::name_of(callee);
        if let Some(kind) = rules::gpu::gpu_call(&name) {
            // Shuffles are linear in the shuffled value: the tangent is shuffled alike.
            let primal = self.clone_primal(inst);
            if let (Some(k), true) = (kind.shuffled_value(), self.is_active(inst)) {
                let mut lanes = Vec::new();
                for lane in 0..self.width() {
                    let c = unsafe { llvm_sys::core::LLVMInstructionClone(primal) };
                    ir::set_operand(c, k as u32, self.shadow_or_zero(ir::operand(inst, k as u32), lane, inst)?);
                    self.b.insert(c);
                    lanes.push(c);
                }
                self.shadows.insert(inst, lanes);
            }
            return Ok(());
        }
        if let Some(kind) = rules::julia::julia_call(&name) {
            return self.visit_julia_call(inst, kind);
        }
        if let Some(rule) = rules::rule_for_callee(&name) {
            self.clone_primal(inst);
            if self.is_active(inst) {
                let args = ir::call_args(inst);
                return self.apply_rule(inst, rule, &args);
            }
            return Ok(());
        }
        if let Some(kind) = memory::memory_transfer(&name) {
            return self.visit_transfer(inst, kind);
        }
        if let Some(kind) = memory::allocator(&name) {
            return self.visit_allocation(inst, kind);
        }
        if memory::is_inactive_function(&name) {
            self.clone_primal(inst);
            return Ok(());
        }
        let args = ir::call_args(inst);
        let acts: Vec<bool> = args.iter().map(|a| call_arg_is_active(*a, self.activity.active_set())).collect();
        if !acts.iter().any(|&a| a) {
            self.clone_primal(inst);
            return Ok(());
        }
        if ir::is_declaration(callee) && !self.engine.has_custom_rule(callee) {
            let which = args.iter().zip(&acts).position(|(_, &a)| a).unwrap();
            return Err(Diagnostic::new(
                Code::NoRule,
                format!("no derivative rule for the external function `{name}` (argument {} is active: `{}`)", which + 1, short(args[which])),
            )
            .at(inst)
            .hint("provide its body in the module, register a custom derivative, or pass only inactive (enzyme_const) data to it"));
        }
        self.visit_defined_call(inst, callee, &args, &acts)
    }

    fn visit_defined_call(&mut self, inst: Value, callee: Value, args: &[Value], acts: &[bool]) -> Result<()> {
        let ret_ty = ir::type_of(inst);
        let req = ForwardRequest {
            function: callee,
            args: acts.iter().map(|&a| if a { ArgActivity::Dup } else { ArgActivity::Const }).collect(),
            width: self.req.width,
            return_primal: !ir::is_void(ret_ty),
            return_tangent: self.is_active(inst),
        };
        // A custom rule may compute the tangent alone: the primal call stays then.
        let req = if self.engine.has_custom_rule(callee) && !self.engine.forward_cache.contains_key(&req) {
            let tangent_only = ForwardRequest { return_primal: false, ..req.clone() };
            if self.engine.forward_cache.contains_key(&tangent_only) {
                self.clone_primal(inst);
                tangent_only
            } else {
                req
            }
        } else {
            req
        };
        let f = self.engine.forward(&req)?;
        let (fn_ty, elems) = crate::signature::derivative_signature(&self.b, ir::function_type(callee), &req);
        let mut call_args = Vec::new();
        for (a, act) in args.iter().zip(&req.args) {
            call_args.push(self.primal(*a));
            if *act == ArgActivity::Dup {
                for lane in 0..self.width() {
                    call_args.push(self.shadow(*a, lane).unwrap());
                }
            }
        }
        let call = self.b.call(fn_ty, f, &call_args);
        let (primal, tangents) = crate::signature::unpack_result(&self.b, call, &req, elems.len());
        if let Some(p) = primal {
            self.map.insert(inst, p);
        } else if !self.map.contains_key(&inst) {
            self.map.insert(inst, call);
        }
        if req.return_tangent {
            self.set_shadows(inst, tangents);
        }
        Ok(())
    }

    fn visit_indirect_call(&mut self, inst: Value) -> Result<()> {
        self.clone_primal(inst);
        let args = ir::call_args(inst);
        if let Some(a) = args.iter().find(|a| call_arg_is_active(**a, self.activity.active_set())) {
            return Err(Diagnostic::new(Code::Unsupported, format!("an indirect call (through a function pointer or inline assembly) receives the active value `{}`", short(*a)))
                .at(inst)
                .hint("call the function directly so RadX can differentiate it"));
        }
        Ok(())
    }
}
