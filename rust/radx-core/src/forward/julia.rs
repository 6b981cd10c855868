//! Julia runtime calls in forward mode (the table is `rules/julia.rs`).

use super::gen::ForwardFn;
use crate::diag::Result;
use crate::ir::{self, Value};
use crate::rules::julia::JuliaCall;
use crate::shadows::{mirror_with_shadows, reject_julia_call, zero_julia_allocation};
use llvm_sys::core::*;

impl<'e> ForwardFn<'e> {
    pub(super) fn visit_julia_call(&mut self, inst: Value, kind: JuliaCall) -> Result<()> {
        let primal = self.clone_primal(inst);
        let args = ir::call_args(inst);
        match kind {
            JuliaCall::Inactive | JuliaCall::InactiveRecompute => Ok(()),
            JuliaCall::PointerLike(which) => {
                if !self.is_active(inst) {
                    return Ok(());
                }
                let mut lanes = Vec::new();
                for lane in 0..self.width() {
                    let c = unsafe { LLVMInstructionClone(primal) };
                    for &k in which {
                        ir::set_operand(c, k, self.shadow_or_zero(args[k as usize], lane, inst)?);
                    }
                    self.b.insert(c);
                    lanes.push(c);
                }
                self.set_shadows(inst, lanes);
                Ok(())
            }
            JuliaCall::Allocate(size) => {
                let mut lanes = Vec::new();
                for _ in 0..self.width() {
                    let s = unsafe { LLVMInstructionClone(primal) };
                    self.b.insert(s);
                    zero_julia_allocation(&self.b, self.primal, inst, s, size, |v| self.primal(v))?;
                    lanes.push(s);
                }
                self.set_shadows(inst, lanes);
                Ok(())
            }
            JuliaCall::WriteBarrier => {
                for lane in 0..self.width() {
                    mirror_with_shadows(&self.b, primal, &args, |v| self.shadow(v, lane));
                }
                Ok(())
            }
            JuliaCall::BoxFloat => {
                if !self.is_active(inst) {
                    return Ok(());
                }
                let mut lanes = Vec::new();
                for lane in 0..self.width() {
                    let c = unsafe { LLVMInstructionClone(primal) };
                    ir::set_operand(c, 0, self.shadow_or_zero(args[0], lane, inst)?);
                    self.b.insert(c);
                    lanes.push(c);
                }
                self.set_shadows(inst, lanes);
                Ok(())
            }
            JuliaCall::PreserveBegin => {
                if args.iter().any(|a| self.shadows.contains_key(a)) {
                    let mut lanes = Vec::new();
                    for lane in 0..self.width() {
                        let shadows: Vec<Value> = args.iter().filter_map(|a| self.shadow(*a, lane)).collect();
                        let fty = unsafe { LLVMGlobalGetValueType(ir::called_function(inst).unwrap()) };
                        lanes.push(self.b.call(fty, ir::called_function(inst).unwrap(), &shadows));
                    }
                    self.set_shadows(inst, lanes);
                }
                Ok(())
            }
            JuliaCall::PreserveEnd => {
                for lane in 0..self.width() {
                    if let Some(t) = self.shadow(args[0], lane) {
                        let c = unsafe { LLVMInstructionClone(primal) };
                        ir::set_operand(c, 0, t);
                        self.b.insert(c);
                    }
                }
                Ok(())
            }
            JuliaCall::Reject(what) => {
                if let Some(a) = args.iter().find(|a| self.shadows.contains_key(*a)) {
                    return Err(reject_julia_call(what, *a, inst));
                }
                Ok(())
            }
        }
    }
}
