//! Which memory a GPU thread owns alone. Adjoints accumulated into memory that several
//! threads may touch need atomic adds; into memory one thread owns, plain ones.

use crate::ir::{self, Value};
use crate::rules::gpu::{gpu_call, GpuCall};
use llvm_sys::LLVMOpcode::*;

fn index_register(v: Value) -> Option<String> {
    let c = ir::called_function(v).filter(|_| ir::opcode(v) == Some(LLVMCall))?;
    let name = ir::name_of(c);
    (gpu_call(&name) == Some(GpuCall::Index)).then_some(name)
}

fn strip_int_casts(mut v: Value) -> Value {
    while matches!(ir::opcode(v), Some(LLVMSExt) | Some(LLVMZExt) | Some(LLVMTrunc)) {
        v = ir::operand(v, 0);
    }
    v
}

fn is_register(v: Value, suffix: &str) -> bool {
    index_register(strip_int_casts(v)).map(|n| n.ends_with(suffix)).unwrap_or(false)
}

/// `blockIdx.x * blockDim.x + threadIdx.x`, in any operand order.
fn is_global_thread_index(v: Value) -> bool {
    let v = strip_int_casts(v);
    if ir::opcode(v) != Some(LLVMAdd) {
        return false;
    }
    let (a, b) = (strip_int_casts(ir::operand(v, 0)), strip_int_casts(ir::operand(v, 1)));
    let product = |m: Value| {
        ir::opcode(m) == Some(LLVMMul)
            && ((is_register(ir::operand(m, 0), "ctaid.x") && is_register(ir::operand(m, 1), "ntid.x"))
                || (is_register(ir::operand(m, 1), "ctaid.x") && is_register(ir::operand(m, 0), "ntid.x")))
    };
    (product(a) && is_register(b, "tid.x")) || (product(b) && is_register(a, "tid.x"))
}

/// Does only the current thread access the memory at `ptr`? True for its stack (and
/// AMDGPU private memory), for `base[global thread index]`, and for shared memory at
/// `base[threadIdx.x]`.
pub fn thread_private(ptr: Value) -> bool {
    let base = ir::underlying_object(ptr);
    if ir::opcode(base) == Some(LLVMAlloca) || unsafe { llvm_sys::core::LLVMGetPointerAddressSpace(ir::type_of(ptr)) } == 5 {
        return true;
    }
    let mut p = ptr;
    if ir::opcode(p) != Some(LLVMGetElementPtr) {
        return false;
    }
    let n = ir::num_operands(p);
    let idx = ir::operand(p, n - 1);
    let leading_zero = (1..n - 1).all(|k| ir::const_int_value(ir::operand(p, k)) == Some(0));
    if !leading_zero {
        return false;
    }
    p = ir::operand(p, 0);
    let shared = unsafe { llvm_sys::core::LLVMGetPointerAddressSpace(ir::type_of(ir::strip_pointer_casts(ir::underlying_object(p)))) } == 3;
    is_global_thread_index(idx) || shared && is_register(idx, "tid.x")
}
