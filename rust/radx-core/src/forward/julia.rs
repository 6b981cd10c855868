//! Julia runtime calls in forward mode (the table is `rules/julia.rs`).

use super::ForwardFn;
use crate::diag::{Code, Diagnostic, Result};
use crate::ir::{self, Value};
use crate::rules::julia::{AllocSize, JuliaCall};
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
                    return Err(reject(what, *a, inst));
                }
                Ok(())
            }
        }
    }
}

pub fn reject(what: &str, active: Value, inst: Value) -> Diagnostic {
    Diagnostic::new(Code::Unsupported, format!("{what} receives the active value `{}`; it cannot be differentiated ahead of time", super::short(active)))
        .at(inst)
        .hint("make the code type-stable (check with @code_warntype) so the callee is known when the function is compiled")
}

/// Calls the same function again with the shadows of its arguments, leaving out arguments
/// that have none (a write barrier for the shadow parent and the shadow children).
pub fn mirror_with_shadows(b: &crate::ir::builder::Builder, primal: Value, args: &[Value], shadow: impl Fn(Value) -> Option<Value>) {
    let Some(parent) = args.first().and_then(|p| shadow(*p)) else { return };
    let children: Vec<Value> = args[1..].iter().filter_map(|c| shadow(*c)).collect();
    if children.is_empty() && args.len() > 1 {
        return;
    }
    let callee = ir::called_function(primal).unwrap();
    let fty = unsafe { LLVMGlobalGetValueType(callee) };
    let mut all = vec![parent];
    all.extend(children);
    b.call(fty, callee, &all);
}

/// Zeroes a shadow GC allocation's payload. For a `GenericMemory` the element size is
/// taken from how the function reads the memory through `julia.gc_loaded`.
pub fn zero_julia_allocation(
    b: &crate::ir::builder::Builder,
    f: Value,
    alloc: Value,
    shadow: Value,
    size: AllocSize,
    map: impl Fn(Value) -> Value,
) -> Result<()> {
    let as11 = unsafe { LLVMPointerTypeInContext(b.ctx, 11) };
    let derived = unsafe { LLVMBuildAddrSpaceCast(b.raw(), shadow, as11, b"\0".as_ptr() as *const _) };
    match size {
        AllocSize::Bytes(k) => {
            b.memset_zero(derived, map(ir::operand(alloc, k)), 1);
        }
        AllocSize::MemoryElements(k) => {
            let loaded: Vec<Value> = ir::users(alloc)
                .into_iter()
                .filter(|u| ir::called_function(*u).map(|c| ir::name_of(c) == "julia.gc_loaded").unwrap_or(false))
                .collect();
            let types = crate::analysis::memory::memory_types(f, &loaded);
            let Some(t) = types.float.filter(|_| !types.conflicting_floats) else {
                return Err(Diagnostic::new(Code::Unsupported, "cannot tell the element type of this new Memory, so its shadow cannot be zeroed")
                    .at(alloc)
                    .hint("the memory must be read or written as floating-point data in this function through julia.gc_loaded"));
            };
            let elsize = ir::data_layout_type_size(b.module, t);
            let n = b.int_cast(map(ir::operand(alloc, k)), b.i64_type(), false);
            let bytes = unsafe { LLVMBuildMul(b.raw(), n, b.const_int(b.i64_type(), elsize), b"\0".as_ptr() as *const _) };
            // Memory = { i64 length, ptr data, ... }: zero what `data` points to.
            let field = b.gep_bytes_as(derived, 8);
            let data = b.load(b.ptr_type(), field);
            b.memset_zero(data, bytes, 1);
        }
    }
    Ok(())
}
