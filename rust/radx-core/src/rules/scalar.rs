//! Floating-point arithmetic instructions.

use super::expr::RuleSpec;
use llvm_sys::LLVMOpcode;

pub const RULES: &[RuleSpec] = &[
    RuleSpec { name: "fadd", params: &["x", "y"], partials: &["1", "1"] },
    RuleSpec { name: "fsub", params: &["x", "y"], partials: &["1", "-1"] },
    RuleSpec { name: "fmul", params: &["x", "y"], partials: &["y", "x"] },
    RuleSpec { name: "fdiv", params: &["x", "y"], partials: &["1 / y", "-x / (y * y)"] },
    RuleSpec { name: "frem", params: &["x", "y"], partials: &["1", "-trunc(x / y)"] },
    RuleSpec { name: "fneg", params: &["x"], partials: &["-1"] },
];

pub fn opcode_name(op: LLVMOpcode) -> Option<&'static str> {
    Some(match op {
        LLVMOpcode::LLVMFAdd => "fadd",
        LLVMOpcode::LLVMFSub => "fsub",
        LLVMOpcode::LLVMFMul => "fmul",
        LLVMOpcode::LLVMFDiv => "fdiv",
        LLVMOpcode::LLVMFRem => "frem",
        LLVMOpcode::LLVMFNeg => "fneg",
        _ => return None,
    })
}
