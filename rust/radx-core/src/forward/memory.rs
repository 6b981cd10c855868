//! Memory in forward mode: every store to shadowed memory writes the value's shadow (or
//! zero) to the shadow location, allocations get zeroed shadows, and memory transfers are
//! mirrored on the shadows.

use super::gen::ForwardFn;
use crate::diag::{Code, Diagnostic, Result};
use crate::ir::{self, Value};
use crate::rules::memory::{Alloc, Transfer};
use llvm_sys::core::*;

impl<'e> ForwardFn<'e> {
    pub(super) fn visit_store(&mut self, inst: Value) -> Result<()> {
        self.clone_primal(inst);
        let (val, ptr) = (ir::operand(inst, 0), ir::operand(inst, 1));
        if !self.is_active(ptr) {
            return self.check_store_into_inactive(inst, val, ptr);
        }
        for lane in 0..self.width() {
            let sv = self.shadow_or_zero(val, lane, inst)?;
            let sp = self.shadow(ptr, lane).unwrap();
            let c = unsafe { LLVMInstructionClone(inst) };
            ir::set_operand(c, 0, sv);
            ir::set_operand(c, 1, sp);
            self.b.insert(c);
            ir::clear_debug_loc(c);
        }
        Ok(())
    }

    /// An active value stored where no shadow exists loses its derivative. That is what
    /// `enzyme_const` asks for; into a mutable global it would silently lose the value's
    /// derivative for later loads, so that is an error.
    fn check_store_into_inactive(&self, inst: Value, val: Value, ptr: Value) -> Result<()> {
        if !self.is_active(val) || !ir::contains_float(ir::type_of(val)) && !ir::is_pointer(ir::type_of(val)) {
            return Ok(());
        }
        let base = ir::underlying_object(ptr);
        if ir::is_global_variable(base) {
            return Err(Diagnostic::new(
                Code::Activity,
                format!("an active value is stored into the global variable `{}`, which has no shadow", ir::name_of(base)),
            )
            .at(inst)
            .hint("pass the memory as an argument with enzyme_dup, or keep the global constant during differentiation"));
        }
        Ok(())
    }

    pub(super) fn visit_alloca(&mut self, inst: Value) -> Result<()> {
        let p = self.clone_primal(inst);
        if !self.is_active(inst) {
            return Ok(());
        }
        let ty = unsafe { LLVMGetAllocatedType(inst) };
        let elem_size = ir::data_layout_type_size(self.engine.module, ty);
        let count = self.primal(ir::operand(inst, 0));
        let align = unsafe { LLVMGetAlignment(inst) };
        let mut lanes = Vec::new();
        for _ in 0..self.width() {
            let s = unsafe { LLVMInstructionClone(p) };
            ir::set_operand(s, 0, count);
            self.b.insert(s);
            ir::set_name(s, &format!("d{}", ir::name_of(inst)));
            let bytes = self.byte_count(count, elem_size);
            self.b.memset_zero(s, bytes, align.max(1));
            lanes.push(s);
        }
        self.set_shadows(inst, lanes);
        Ok(())
    }

    fn byte_count(&self, count: Value, elem_size: u64) -> Value {
        let i64t = self.b.i64_type();
        let n = self.b.int_cast(count, i64t, false);
        unsafe { LLVMBuildMul(self.b.raw(), n, LLVMConstInt(i64t, elem_size, 0), b"\0".as_ptr() as *const _) }
    }

    pub(super) fn visit_atomicrmw(&mut self, inst: Value) -> Result<()> {
        self.clone_primal(inst);
        let (ptr, val) = (ir::operand(inst, 0), ir::operand(inst, 1));
        if !self.is_active(ptr) {
            return Ok(());
        }
        use llvm_sys::LLVMAtomicRMWBinOp::*;
        let op = unsafe { LLVMGetAtomicRMWBinOp(inst) };
        match op {
            LLVMAtomicRMWBinOpFAdd | LLVMAtomicRMWBinOpFSub | LLVMAtomicRMWBinOpXchg => {
                // The same operation on the shadow returns the old value's tangent.
                let mut lanes = Vec::new();
                for lane in 0..self.width() {
                    let sv = self.shadow_or_zero(val, lane, inst)?;
                    let c = unsafe { LLVMInstructionClone(inst) };
                    ir::set_operand(c, 0, self.shadow(ptr, lane).unwrap());
                    ir::set_operand(c, 1, sv);
                    self.b.insert(c);
                    ir::clear_debug_loc(c);
                    lanes.push(c);
                }
                if self.is_active(inst) {
                    self.set_shadows(inst, lanes);
                }
                Ok(())
            }
            _ if !ir::contains_float(ir::type_of(val)) => crate::analysis::memory::refuse_integer_atomic_on_floats(self.primal, inst),
            _ => Err(Diagnostic::new(Code::NoRule, "no forward-mode rule for this floating-point atomic operation").at(inst)),
        }
    }

    /// `memcpy`/`memmove`: copy the source's shadow (zero when it has none); `memset`: the
    /// bytes written are constants, so the shadow becomes zero.
    pub(super) fn visit_transfer(&mut self, inst: Value, kind: Transfer) -> Result<()> {
        let primal = self.clone_primal(inst);
        let dst = ir::operand(inst, 0);
        if !self.is_active(dst) {
            return Ok(());
        }
        let len = self.primal(ir::operand(inst, 2));
        let src = ir::operand(inst, 1);
        let mut lanes = Vec::new();
        for lane in 0..self.width() {
            let sd = self.shadow(dst, lane).unwrap();
            match (kind, self.shadow(src, lane)) {
                (Transfer::Copy | Transfer::Move, Some(ss)) => {
                    let c = unsafe { LLVMInstructionClone(primal) };
                    ir::set_operand(c, 0, sd);
                    ir::set_operand(c, 1, ss);
                    self.b.insert(c);
                }
                _ => {
                    self.b.memset_zero(sd, len, 1);
                }
            }
            lanes.push(sd);
        }
        if self.is_active(inst) {
            self.set_shadows(inst, lanes);
        }
        Ok(())
    }

    /// Allocation functions: the shadow is allocated the same way and starts at zero;
    /// frees free the shadow too; realloc moves the shadow along.
    pub(super) fn visit_allocation(&mut self, inst: Value, kind: Alloc) -> Result<()> {
        let primal = self.clone_primal(inst);
        match kind {
            Alloc::Allocate { zeroed, size_arg } => {
                let mut lanes = Vec::new();
                for _ in 0..self.width() {
                    let s = unsafe { LLVMInstructionClone(primal) };
                    self.b.insert(s);
                    ir::set_name(s, &format!("d{}", ir::name_of(inst)));
                    if !zeroed {
                        let n = self.primal(ir::operand(inst, size_arg));
                        self.b.memset_zero(s, n, 1);
                    }
                    lanes.push(s);
                }
                self.set_shadows(inst, lanes);
            }
            Alloc::Reallocate => {
                let mut lanes = Vec::new();
                for lane in 0..self.width() {
                    let old = self.shadow_or_zero(ir::operand(inst, 0), lane, inst)?;
                    let s = unsafe { LLVMInstructionClone(primal) };
                    ir::set_operand(s, 0, old);
                    self.b.insert(s);
                    lanes.push(s);
                }
                self.set_shadows(inst, lanes);
            }
            Alloc::Free => {
                let p = ir::operand(inst, 0);
                if self.is_active(p) {
                    for lane in 0..self.width() {
                        let s = unsafe { LLVMInstructionClone(primal) };
                        ir::set_operand(s, 0, self.shadow(p, lane).unwrap());
                        self.b.insert(s);
                    }
                }
            }
        }
        Ok(())
    }
}
