//! Instructions whose derivative is the same instruction applied to the operands'
//! shadows (they are linear and move data around): casts, aggregate and vector shuffles,
//! address arithmetic, loads. The table says which operands are data (replaced by their
//! shadows, or zero) and which are structure (indices, conditions, kept primal).

use llvm_sys::LLVMOpcode::{self, *};

/// Operand positions that carry derivative data, or None if the opcode is not structural.
pub fn shadow_operands(op: LLVMOpcode) -> Option<&'static [u32]> {
    Some(match op {
        LLVMFPExt | LLVMFPTrunc | LLVMBitCast | LLVMAddrSpaceCast | LLVMFreeze | LLVMPtrToInt | LLVMIntToPtr => &[0],
        LLVMExtractValue | LLVMExtractElement => &[0],
        LLVMInsertValue | LLVMInsertElement | LLVMShuffleVector => &[0, 1],
        LLVMSelect => &[1, 2],
        LLVMGetElementPtr => &[0],
        LLVMLoad => &[0],
        _ => return None,
    })
}

/// Casts from integers produce no derivative: the source has none.
pub fn is_inactive_cast(op: LLVMOpcode) -> bool {
    matches!(op, LLVMSIToFP | LLVMUIToFP | LLVMFPToSI | LLVMFPToUI)
}
