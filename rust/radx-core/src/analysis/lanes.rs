//! Does a vector expression compute, lane by lane, what a scalar expression computes at
//! consecutive indices? The loop vectorizer leaves a loop as a vector body (`j` stepping by
//! the width, `<N x T>` loads at `j`, `j + N`, ...) and a scalar remainder (`i` stepping by
//! one) that are meant to agree: element `j + c + l` of the vector body's value is the
//! remainder's value at `i = j + c + l`. Store forwarding across such a pair uses one of the
//! two in place of the other, so it checks that claim structurally first.

use crate::ir::{self, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::*;

/// The two loop bodies and variables being compared: lane `l` of a vector value at `iv_v`
/// stands for the scalar value at `iv_s = iv_v + offset + l`.
pub struct LanePair<'a> {
    pub iv_s: Value,
    pub iv_v: Value,
    pub offset: i64,
    /// Is this instruction computed inside the scalar (resp. vector) loop?
    pub in_scalar: &'a dyn Fn(Value) -> bool,
    pub in_vector: &'a dyn Fn(Value) -> bool,
}

impl LanePair<'_> {
    /// Is every lane `l` of `v` (vector loop) the value of `s` (scalar loop) at index
    /// `iv_v + offset + l`?
    pub fn matches(&self, s: Value, v: Value, depth: u32) -> bool {
        if depth > 32 || !ir::is_vector(ir::type_of(v)) {
            return false;
        }
        let inside_s = ir::is_instruction(s) && (self.in_scalar)(s);
        if !inside_s {
            // The same in every lane: the vector loop must broadcast it.
            return s != self.iv_s && is_splat_of(v, s);
        }
        if !ir::is_instruction(v) || !(self.in_vector)(v) {
            return false;
        }
        let (Some(op), Some(op_v)) = (ir::opcode(s), ir::opcode(v)) else { return false };
        if op != op_v {
            return false;
        }
        match op {
            LLVMLoad => {
                let lanes = ir::vector_len(ir::type_of(v));
                ir::element_type(ir::type_of(v)) == ir::type_of(s) && lanes > 0 && self.same_element(ir::operand(s, 0), ir::operand(v, 0))
            }
            LLVMCall => {
                let (Some(cs), Some(cv)) = (ir::called_function(s), ir::called_function(v)) else { return false };
                let (id_s, id_v) = (ir::intrinsic_id(cs), ir::intrinsic_id(cv));
                let (args_s, args_v) = (ir::call_args(s), ir::call_args(v));
                id_s != 0 && id_s == id_v && args_s.len() == args_v.len() && args_s.iter().zip(&args_v).all(|(a, b)| self.matches(*a, *b, depth + 1))
            }
            LLVMFCmp if unsafe { LLVMGetFCmpPredicate(s) != LLVMGetFCmpPredicate(v) } => false,
            LLVMICmp if unsafe { LLVMGetICmpPredicate(s) != LLVMGetICmpPredicate(v) } => false,
            LLVMFAdd | LLVMFSub | LLVMFMul | LLVMFDiv | LLVMFNeg | LLVMFCmp | LLVMICmp | LLVMSelect | LLVMSIToFP | LLVMUIToFP
            | LLVMFPExt | LLVMFPTrunc | LLVMAdd | LLVMSub | LLVMMul | LLVMAnd | LLVMOr | LLVMXor | LLVMShl => {
                ir::num_operands(s) == ir::num_operands(v) && (0..ir::num_operands(s)).all(|k| self.matches(ir::operand(s, k), ir::operand(v, k), depth + 1))
            }
            _ => false,
        }
    }

    /// Does the scalar load address `ps` at `iv_s` name lane 0 of the vector load address
    /// `pv` at `iv_v` (so lane `l` names `ps` at `iv_s + l`)?
    fn same_element(&self, ps: Value, pv: Value) -> bool {
        let (Some((base_s, elem_s, lin_s)), Some((base_v, elem_v, lin_v))) = (array_address(ps, self.iv_s, self.in_scalar), array_address(pv, self.iv_v, self.in_vector)) else {
            return false;
        };
        base_s == base_v && elem_s == elem_v && lin_s.iv == 1 && lin_v.iv == 1 && lin_s.terms == lin_v.terms && lin_s.konst + self.offset == lin_v.konst
    }
}

/// An integer index as `iv * iv_coefficient + sum(terms) + konst`, the terms being values
/// computed outside the loop.
#[derive(Debug, PartialEq, Eq)]
pub struct Linear {
    pub iv: i64,
    pub terms: Vec<Value>,
    pub konst: i64,
}

pub fn linear(v: Value, iv: Value, inside: &dyn Fn(Value) -> bool) -> Option<Linear> {
    linear_at(v, iv, inside, 0).map(|mut l| {
        l.terms.sort();
        l
    })
}

fn linear_at(v: Value, iv: Value, inside: &dyn Fn(Value) -> bool, depth: u32) -> Option<Linear> {
    if v == iv {
        return Some(Linear { iv: 1, terms: vec![], konst: 0 });
    }
    if let Some(c) = ir::const_int_value(v) {
        return Some(Linear { iv: 0, terms: vec![], konst: c });
    }
    if !ir::is_instruction(v) || !inside(v) {
        return Some(Linear { iv: 0, terms: vec![v], konst: 0 });
    }
    if depth > 8 {
        return None;
    }
    match ir::opcode(v)? {
        LLVMAdd => {
            let (a, b) = (linear_at(ir::operand(v, 0), iv, inside, depth + 1)?, linear_at(ir::operand(v, 1), iv, inside, depth + 1)?);
            Some(Linear { iv: a.iv + b.iv, terms: [a.terms, b.terms].concat(), konst: a.konst.checked_add(b.konst)? })
        }
        LLVMSub => {
            let a = linear_at(ir::operand(v, 0), iv, inside, depth + 1)?;
            let c = ir::const_int_value(ir::operand(v, 1))?;
            Some(Linear { konst: a.konst.checked_sub(c)?, ..a })
        }
        _ => None,
    }
}

/// `gep T, base, i` or `gep T, (gep T, base, i), k` with `k` constant: the base, `T` and
/// the element index `i + k` as a linear form in `iv`. The outer step may also be written
/// in bytes (`gep i8, (gep T, base, i), k · size(T)`), as LLVM 18 and later canonicalize
/// constant offsets.
pub fn array_address(p: Value, iv: Value, inside: &dyn Fn(Value) -> bool) -> Option<(Value, ir::Type, Linear)> {
    if let Some((inner, i2, elem, k)) = constant_step_past_element(p) {
        let mut inner_lin = linear(i2, iv, inside)?;
        inner_lin.konst = inner_lin.konst.checked_add(k)?;
        return Some((inner, elem, inner_lin));
    }
    let (base, idx, elem) = single_index_gep(p)?;
    if ir::const_int_value(idx).is_some() && single_index_gep(base).is_some() {
        return None; // a step that is not a whole number of the inner elements
    }
    let mut lin = linear(idx, iv, inside)?;
    lin.terms.sort();
    Some((base, elem, lin))
}

/// `gep T, (gep T, base, i), k`, or its byte form `gep i8, (gep T, base, i), k · size(T)`:
/// (base, i, T, k).
pub fn constant_step_past_element(p: Value) -> Option<(Value, Value, ir::Type, i64)> {
    let (outer_base, step, step_elem) = single_index_gep(p)?;
    let k = ir::const_int_value(step)?;
    let (base, i, elem) = single_index_gep(outer_base)?;
    if step_elem == elem {
        return Some((base, i, elem, k));
    }
    let is_byte = ir::type_kind(step_elem) == llvm_sys::LLVMTypeKind::LLVMIntegerTypeKind && unsafe { llvm_sys::core::LLVMGetIntTypeWidth(step_elem) } == 8;
    let size = ir::data_layout_type_size(ir::module_of_function(ir::parent_function(p)), elem) as i64;
    (is_byte && size > 0 && k % size == 0).then_some((base, i, elem, k / size))
}

/// `gep T, base, i` with one index: (base, i, T).
pub fn single_index_gep(p: Value) -> Option<(Value, Value, ir::Type)> {
    if ir::opcode(p) != Some(LLVMGetElementPtr) || ir::num_operands(p) != 2 {
        return None;
    }
    Some((ir::operand(p, 0), ir::operand(p, 1), unsafe { LLVMGetGEPSourceElementType(p) }))
}

/// Is every lane of `v` the scalar `s`: a constant vector of `s`, or `s` inserted into lane
/// 0 and shuffled to every lane?
fn is_splat_of(v: Value, s: Value) -> bool {
    let n = ir::vector_len(ir::type_of(v));
    if ir::is_constant(v) {
        return ir::is_constant(s) && (0..n).all(|l| unsafe { LLVMGetAggregateElement(v, l) } == s);
    }
    if ir::opcode(v) != Some(LLVMShuffleVector) {
        return false;
    }
    let all_lane_zero = unsafe { LLVMGetNumMaskElements(v) == n && (0..n).all(|k| LLVMGetMaskValue(v, k) == 0) };
    let ins = ir::operand(v, 0);
    all_lane_zero && ir::opcode(ins) == Some(LLVMInsertElement) && ir::operand(ins, 1) == s && ir::const_int_value(ir::operand(ins, 2)) == Some(0)
}
