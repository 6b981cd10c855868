//! Small helpers over the LLVM C API (through llvm-sys).
//!
//! The generators work on raw `LLVMValueRef`s because derivative code is generic over
//! types (a rule applies the same way to `double`, `float` and `<4 x double>`), which
//! inkwell's typed values make awkward. Everything unsafe about the C API is kept in this
//! module and in `builder.rs`; the callers see plain functions over handles that stay
//! valid as long as the module they belong to.

pub mod builder;
pub mod clone;
pub mod fast_math;
pub mod llvm;
pub mod passes;

use llvm_sys::core::*;
use llvm_sys::debuginfo::LLVMInstructionSetDebugLoc;
use llvm_sys::prelude::*;
use llvm_sys::{LLVMOpcode, LLVMTypeKind};
use std::ffi::{CStr, CString};

pub type Value = LLVMValueRef;
pub type Type = LLVMTypeRef;
pub type Block = LLVMBasicBlockRef;

pub fn type_of(v: Value) -> Type {
    unsafe { LLVMTypeOf(v) }
}

pub fn type_kind(t: Type) -> LLVMTypeKind {
    unsafe { LLVMGetTypeKind(t) }
}

pub fn context_of_type(t: Type) -> LLVMContextRef {
    unsafe { LLVMGetTypeContext(t) }
}

pub fn is_float_scalar(t: Type) -> bool {
    use LLVMTypeKind::*;
    matches!(
        type_kind(t),
        LLVMHalfTypeKind | LLVMBFloatTypeKind | LLVMFloatTypeKind | LLVMDoubleTypeKind | LLVMX86_FP80TypeKind | LLVMFP128TypeKind | LLVMPPC_FP128TypeKind
    )
}

/// A floating-point scalar or a vector of them: the types elementwise rules apply to.
pub fn is_float(t: Type) -> bool {
    if is_float_scalar(t) {
        return true;
    }
    match type_kind(t) {
        LLVMTypeKind::LLVMVectorTypeKind | LLVMTypeKind::LLVMScalableVectorTypeKind => is_float_scalar(element_type(t)),
        _ => false,
    }
}

pub fn is_pointer(t: Type) -> bool {
    type_kind(t) == LLVMTypeKind::LLVMPointerTypeKind
}

pub fn is_integer(t: Type) -> bool {
    match type_kind(t) {
        LLVMTypeKind::LLVMIntegerTypeKind => true,
        LLVMTypeKind::LLVMVectorTypeKind => type_kind(element_type(t)) == LLVMTypeKind::LLVMIntegerTypeKind,
        _ => false,
    }
}

pub fn is_void(t: Type) -> bool {
    type_kind(t) == LLVMTypeKind::LLVMVoidTypeKind
}

/// A fixed-width vector type (`<N x T>`).
pub fn is_vector(t: Type) -> bool {
    type_kind(t) == LLVMTypeKind::LLVMVectorTypeKind
}

/// The lane count of a fixed-width vector type; 0 for anything else.
pub fn vector_len(t: Type) -> u32 {
    if is_vector(t) {
        unsafe { LLVMGetVectorSize(t) }
    } else {
        0
    }
}

pub fn is_aggregate(t: Type) -> bool {
    matches!(type_kind(t), LLVMTypeKind::LLVMStructTypeKind | LLVMTypeKind::LLVMArrayTypeKind)
}

pub fn element_type(t: Type) -> Type {
    unsafe { LLVMGetElementType(t) }
}

pub fn struct_fields(t: Type) -> Vec<Type> {
    unsafe {
        let n = LLVMCountStructElementTypes(t);
        (0..n).map(|i| LLVMStructGetTypeAtIndex(t, i)).collect()
    }
}

/// True if a value of this type can hold floating-point data anywhere inside it.
pub fn contains_float(t: Type) -> bool {
    match type_kind(t) {
        LLVMTypeKind::LLVMStructTypeKind => struct_fields(t).into_iter().any(contains_float),
        LLVMTypeKind::LLVMArrayTypeKind | LLVMTypeKind::LLVMVectorTypeKind => contains_float(element_type(t)),
        _ => is_float_scalar(t),
    }
}

pub fn contains_pointer(t: Type) -> bool {
    match type_kind(t) {
        LLVMTypeKind::LLVMStructTypeKind => struct_fields(t).into_iter().any(contains_pointer),
        LLVMTypeKind::LLVMArrayTypeKind | LLVMTypeKind::LLVMVectorTypeKind => contains_pointer(element_type(t)),
        _ => is_pointer(t),
    }
}

/// Types whose values can carry a derivative or a shadow: floats, pointers, and aggregates
/// or vectors holding them.
pub fn is_differentiable_type(t: Type) -> bool {
    contains_float(t) || contains_pointer(t)
}

pub fn type_to_string(t: Type) -> String {
    unsafe {
        let p = LLVMPrintTypeToString(t);
        let s = CStr::from_ptr(p).to_string_lossy().into_owned();
        LLVMDisposeMessage(p);
        s
    }
}

pub fn value_to_string(v: Value) -> String {
    unsafe {
        let p = LLVMPrintValueToString(v);
        let s = CStr::from_ptr(p).to_string_lossy().into_owned();
        LLVMDisposeMessage(p);
        s.trim().to_string()
    }
}

/// Every instruction of `f` as `value_to_string` would print it, from one printing of the
/// whole function: printing a single instruction numbers all of its function's values first,
/// so describing many instructions one at a time costs time quadratic in the function's size.
/// Empty when the printed lines cannot be matched to the instructions one for one.
pub fn instruction_texts(f: Value) -> crate::collections::HashMap<Value, String> {
    let text = value_to_string(f);
    let insts = all_instructions(f);
    // Instructions are the indented lines of the body; LLVM 19 also indents its debug records.
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_end().ends_with('{'))
        .skip(1)
        .filter(|l| l.starts_with("  ") && !l.trim_start().starts_with("#dbg_") && !l.trim_start().starts_with(';'))
        .collect();
    if lines.len() != insts.len() {
        return Default::default();
    }
    insts.into_iter().zip(lines).map(|(i, l)| (i, l.trim().to_string())).collect()
}

pub fn name_of(v: Value) -> String {
    unsafe {
        let mut len = 0usize;
        let p = LLVMGetValueName2(v, &mut len);
        if p.is_null() {
            return String::new();
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len)).into_owned()
    }
}

pub fn set_name(v: Value, name: &str) {
    unsafe { LLVMSetValueName2(v, name.as_ptr() as *const _, name.len()) }
}

pub fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("no interior NUL after replace")
}

pub fn opcode(v: Value) -> Option<LLVMOpcode> {
    unsafe {
        if LLVMIsAInstruction(v).is_null() {
            None
        } else {
            Some(LLVMGetInstructionOpcode(v))
        }
    }
}

/// Parses LLVM IR text for a unit test.
#[cfg(test)]
pub(crate) fn parse_test_module<'c>(ctx: &'c inkwell::context::Context, text: &str) -> inkwell::module::Module<'c> {
    let buf = inkwell::memory_buffer::MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "test");
    ctx.create_module_from_ir(buf).expect("test IR parses")
}

pub fn is_instruction(v: Value) -> bool {
    unsafe { !LLVMIsAInstruction(v).is_null() }
}

pub fn is_argument(v: Value) -> bool {
    unsafe { !LLVMIsAArgument(v).is_null() }
}

/// The parameter number of `v` if it is an argument of `f`.
pub fn argument_number(v: Value, f: Value) -> Option<usize> {
    if !is_argument(v) || unsafe { LLVMGetParamParent(v) } != f {
        return None;
    }
    params(f).iter().position(|p| *p == v)
}

/// Where a value stands in its function's text: an argument by its number, an instruction
/// by its place in its block (instructions before it). Not a key to look anything up by:
/// it changes as instructions are added; an order for lists that must not depend on where
/// the allocator put the values.
pub fn position(v: Value) -> usize {
    unsafe {
        if is_argument(v) {
            return argument_number(v, LLVMGetParamParent(v)).unwrap_or(0);
        }
        let mut k = 0;
        let mut i = LLVMGetPreviousInstruction(v);
        while !i.is_null() {
            k += 1;
            i = LLVMGetPreviousInstruction(i);
        }
        k
    }
}

pub fn is_constant(v: Value) -> bool {
    unsafe { LLVMIsConstant(v) != 0 }
}

pub fn is_function(v: Value) -> bool {
    unsafe { !LLVMIsAFunction(v).is_null() }
}

pub fn is_global_variable(v: Value) -> bool {
    unsafe { !LLVMIsAGlobalVariable(v).is_null() }
}

pub fn is_declaration(f: Value) -> bool {
    unsafe { LLVMIsDeclaration(f) != 0 }
}

pub fn num_operands(v: Value) -> u32 {
    unsafe { LLVMGetNumOperands(v) as u32 }
}

pub fn operand(v: Value, i: u32) -> Value {
    unsafe { LLVMGetOperand(v, i) }
}

pub fn operands(v: Value) -> Vec<Value> {
    (0..num_operands(v)).map(|i| operand(v, i)).collect()
}

pub fn set_operand(v: Value, i: u32, new: Value) {
    unsafe { LLVMSetOperand(v, i, new) }
}

pub fn params(f: Value) -> Vec<Value> {
    unsafe {
        let n = LLVMCountParams(f);
        (0..n).map(|i| LLVMGetParam(f, i)).collect()
    }
}

pub fn function_type(f: Value) -> Type {
    unsafe { LLVMGlobalGetValueType(f) }
}

pub fn return_type(fn_ty: Type) -> Type {
    unsafe { LLVMGetReturnType(fn_ty) }
}

pub fn param_types(fn_ty: Type) -> Vec<Type> {
    unsafe {
        let n = LLVMCountParamTypes(fn_ty) as usize;
        let mut v = vec![std::ptr::null_mut(); n];
        LLVMGetParamTypes(fn_ty, v.as_mut_ptr());
        v
    }
}

pub fn is_vararg(fn_ty: Type) -> bool {
    unsafe { LLVMIsFunctionVarArg(fn_ty) != 0 }
}

pub fn blocks(f: Value) -> Vec<Block> {
    let mut out = Vec::new();
    unsafe {
        let mut b = LLVMGetFirstBasicBlock(f);
        while !b.is_null() {
            out.push(b);
            b = LLVMGetNextBasicBlock(b);
        }
    }
    out
}

pub fn instructions(b: Block) -> Vec<Value> {
    let mut out = Vec::new();
    unsafe {
        let mut i = LLVMGetFirstInstruction(b);
        while !i.is_null() {
            out.push(i);
            i = LLVMGetNextInstruction(i);
        }
    }
    out
}

pub fn all_instructions(f: Value) -> Vec<Value> {
    blocks(f).into_iter().flat_map(instructions).collect()
}

pub fn parent_block(i: Value) -> Block {
    unsafe { LLVMGetInstructionParent(i) }
}

pub fn parent_function(i: Value) -> Value {
    unsafe { LLVMGetBasicBlockParent(LLVMGetInstructionParent(i)) }
}

pub fn block_as_value(b: Block) -> Value {
    unsafe { LLVMBasicBlockAsValue(b) }
}

pub fn value_as_block(v: Value) -> Option<Block> {
    unsafe {
        if LLVMValueIsBasicBlock(v) != 0 {
            Some(LLVMValueAsBasicBlock(v))
        } else {
            None
        }
    }
}

pub fn terminator(b: Block) -> Value {
    unsafe { LLVMGetBasicBlockTerminator(b) }
}

pub fn successors(b: Block) -> Vec<Block> {
    unsafe {
        let t = LLVMGetBasicBlockTerminator(b);
        if t.is_null() {
            return vec![];
        }
        let n = LLVMGetNumSuccessors(t);
        (0..n).map(|i| LLVMGetSuccessor(t, i)).collect()
    }
}

pub fn entry_block(f: Value) -> Block {
    unsafe { LLVMGetEntryBasicBlock(f) }
}

/// Blocks reachable from the entry, in reverse post-order: every block comes after its
/// dominators, so operands are generated before their uses (phis excepted).
pub fn reverse_post_order(f: Value) -> Vec<Block> {
    let mut seen = crate::collections::HashSet::default();
    let mut post = Vec::new();
    let entry = entry_block(f);
    let mut stack: Vec<(Block, usize)> = vec![(entry, 0)];
    seen.insert(entry);
    while let Some((b, i)) = stack.pop() {
        let succ = successors(b);
        if i < succ.len() {
            stack.push((b, i + 1));
            let s = succ[i];
            if seen.insert(s) {
                stack.push((s, 0));
            }
        } else {
            post.push(b);
        }
    }
    post.reverse();
    post
}

/// The function a call instruction calls directly, looking through pointer casts.
pub fn called_function(call: Value) -> Option<Value> {
    unsafe {
        if LLVMIsACallInst(call).is_null() && LLVMIsAInvokeInst(call).is_null() && LLVMIsACallBrInst(call).is_null() {
            return None;
        }
        let callee = LLVMGetCalledValue(call);
        let callee = strip_pointer_casts(callee);
        if LLVMIsAFunction(callee).is_null() {
            None
        } else {
            Some(callee)
        }
    }
}

pub fn strip_pointer_casts(mut v: Value) -> Value {
    unsafe {
        loop {
            if !LLVMIsAConstantExpr(v).is_null() {
                let op = LLVMGetConstOpcode(v);
                if matches!(op, LLVMOpcode::LLVMBitCast | LLVMOpcode::LLVMAddrSpaceCast) {
                    v = LLVMGetOperand(v, 0);
                    continue;
                }
            }
            return v;
        }
    }
}

/// Follows GEPs and casts to the object a pointer points into.
pub fn underlying_object(mut v: Value) -> Value {
    for _ in 0..64 {
        let op = if is_instruction(v) {
            opcode(v)
        } else if unsafe { !LLVMIsAConstantExpr(v).is_null() } {
            Some(unsafe { LLVMGetConstOpcode(v) })
        } else {
            None
        };
        match op {
            Some(LLVMOpcode::LLVMGetElementPtr) | Some(LLVMOpcode::LLVMBitCast) | Some(LLVMOpcode::LLVMAddrSpaceCast) => {
                v = operand(v, 0);
            }
            _ => return v,
        }
    }
    v
}

pub fn call_arg_count(call: Value) -> u32 {
    unsafe { LLVMGetNumArgOperands(call) }
}

pub fn call_args(call: Value) -> Vec<Value> {
    (0..call_arg_count(call)).map(|i| operand(call, i)).collect()
}

pub fn intrinsic_id(f: Value) -> u32 {
    unsafe { LLVMGetIntrinsicID(f) }
}

pub fn const_int_value(v: Value) -> Option<i64> {
    unsafe {
        if LLVMIsAConstantInt(v).is_null() {
            None
        } else {
            Some(LLVMConstIntGetSExtValue(v))
        }
    }
}

pub fn is_null_or_undef(v: Value) -> bool {
    unsafe { LLVMIsNull(v) != 0 || !LLVMIsAUndefValue(v).is_null() || !LLVMIsAPoisonValue(v).is_null() }
}

pub fn const_null(t: Type) -> Value {
    unsafe { LLVMConstNull(t) }
}

/// Where an instruction came from, from its `!dbg` attachment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceLoc {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Declarations (functions, globals) have a line but no column.
        match self.column {
            0 => write!(f, "{}:{}", self.file, self.line),
            c => write!(f, "{}:{}:{c}", self.file, self.line),
        }
    }
}

pub fn source_loc(inst: Value) -> Option<SourceLoc> {
    unsafe {
        if !is_instruction(inst) {
            return None;
        }
        let line = LLVMGetDebugLocLine(inst);
        if line == 0 {
            return None;
        }
        let mut len = 0u32;
        let p = LLVMGetDebugLocFilename(inst, &mut len);
        let file = if p.is_null() {
            String::new()
        } else {
            String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len as usize)).into_owned()
        };
        Some(SourceLoc { file, line, column: LLVMGetDebugLocColumn(inst) })
    }
}

/// Where a function or global variable is defined, from its debug info (-g).
pub fn definition_loc(v: Value) -> Option<SourceLoc> {
    unsafe {
        if !is_function(v) && !is_global_variable(v) {
            return None;
        }
        let line = LLVMGetDebugLocLine(v);
        let mut len = 0u32;
        let p = LLVMGetDebugLocFilename(v, &mut len);
        if line == 0 || p.is_null() {
            return None;
        }
        let file = String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len as usize)).into_owned();
        Some(SourceLoc { file, line, column: 0 })
    }
}

pub fn clear_debug_loc(inst: Value) {
    unsafe { LLVMInstructionSetDebugLoc(inst, std::ptr::null_mut()) }
}

pub fn md_kind(ctx: LLVMContextRef, name: &str) -> u32 {
    unsafe { LLVMGetMDKindIDInContext(ctx, name.as_ptr() as *const _, name.len() as u32) }
}

/// The property names (`llvm.loop.isvectorized`, ...) of the loop whose back edge is
/// `latch_branch`; empty when it has no loop metadata.
pub fn loop_properties(latch_branch: Value) -> Vec<String> {
    unsafe {
        let ctx = LLVMGetTypeContext(type_of(latch_branch));
        let md = LLVMGetMetadata(latch_branch, md_kind(ctx, "llvm.loop"));
        if md.is_null() {
            return Vec::new();
        }
        md_strings(md, 2)
    }
}

/// Has LLVM's loop vectorizer handled the loop whose back edge is `latch_branch` (its
/// vector body, or the scalar remainder it marks the same way)?
pub fn loop_marked_vectorized(latch_branch: Value) -> bool {
    loop_properties(latch_branch).iter().any(|p| p == "llvm.loop.isvectorized")
}

/// Gives the loop whose back edge is `branch` a loop ID saying it is vectorized already, so
/// LLVM's loop vectorizer neither vectorizes nor interleaves it.
pub fn mark_loop_vectorized(branch: Value) {
    set_loop_properties(branch, &[("llvm.loop.isvectorized", LoopHint::I32(1))]);
}

/// The value of one loop property: LLVM reads `vectorize.enable` as an `i1`, widths and
/// counts as `i32`.
#[derive(Clone, Copy)]
pub enum LoopHint {
    Flag(bool),
    I32(u32),
}

/// Asks LLVM's loop vectorizer to vectorize the loop whose back edge is `branch` by exactly
/// `width` lanes, without interleaving (so every vector access of the loop covers the same
/// `width` elements from one iteration of an enclosing loop to the next).
pub fn request_vector_width(branch: Value, width: u32) {
    set_loop_properties(
        branch,
        &[
            ("llvm.loop.vectorize.enable", LoopHint::Flag(true)),
            ("llvm.loop.vectorize.width", LoopHint::I32(width)),
            ("llvm.loop.interleave.count", LoopHint::I32(1)),
        ],
    );
}

/// RadX's own loop property: the loop was left scalar before differentiation, but the
/// forward sweep's copy of it should be peeled to this many bytes and vectorized.
const ALIGNED_PEEL: &str = "radx.loop.peel.align";

/// Marks the loop whose back edge is `branch` as vectorized already (so nothing vectorizes
/// the derivative's copies of it) and asks for its forward-sweep copy to be peeled until its
/// store is aligned to `bytes` and then vectorized (`analysis::alignment_peel`).
pub fn mark_loop_for_aligned_peel(branch: Value, bytes: u32) {
    set_loop_properties(branch, &[("llvm.loop.isvectorized", LoopHint::I32(1)), (ALIGNED_PEEL, LoopHint::I32(bytes))]);
}

/// The alignment `mark_loop_for_aligned_peel` asked for on this back edge, if any.
pub fn aligned_peel_request(branch: Value) -> Option<u64> {
    unsafe {
        let ctx = LLVMGetTypeContext(type_of(branch));
        let id = LLVMGetMetadata(branch, md_kind(ctx, "llvm.loop"));
        if id.is_null() {
            return None;
        }
        let n = LLVMGetMDNodeNumOperands(id);
        let mut ops = vec![std::ptr::null_mut(); n as usize];
        LLVMGetMDNodeOperands(id, ops.as_mut_ptr());
        ops.into_iter().filter(|op| !op.is_null() && !LLVMIsAMDNode(*op).is_null()).find_map(|property| {
            if LLVMGetMDNodeNumOperands(property) != 2 || md_strings(property, 1).first().map(String::as_str) != Some(ALIGNED_PEEL) {
                return None;
            }
            let mut pair = [std::ptr::null_mut(); 2];
            LLVMGetMDNodeOperands(property, pair.as_mut_ptr());
            const_int_value(pair[1]).map(|b| b as u64)
        })
    }
}

/// Replaces the loop ID on `branch` (a loop's back edge) with one holding `properties`.
fn set_loop_properties(branch: Value, properties: &[(&str, LoopHint)]) {
    use llvm_sys::debuginfo::{LLVMMetadataReplaceAllUsesWith, LLVMTemporaryMDNode};
    unsafe {
        let ctx = LLVMGetTypeContext(type_of(branch));
        // A loop ID names itself first: built around a placeholder, then closed on itself.
        let placeholder = LLVMTemporaryMDNode(ctx, std::ptr::null_mut(), 0);
        let mut ops = vec![placeholder];
        for &(name, hint) in properties {
            let value = match hint {
                LoopHint::Flag(b) => LLVMConstInt(LLVMInt1TypeInContext(ctx), b as u64, 0),
                LoopHint::I32(n) => LLVMConstInt(LLVMInt32TypeInContext(ctx), n as u64, 0),
            };
            let mut pair = [LLVMMDStringInContext2(ctx, name.as_ptr() as *const _, name.len()), LLVMValueAsMetadata(value)];
            ops.push(LLVMMDNodeInContext2(ctx, pair.as_mut_ptr(), 2));
        }
        let id = LLVMMDNodeInContext2(ctx, ops.as_mut_ptr(), ops.len());
        LLVMMetadataReplaceAllUsesWith(placeholder, id);
        LLVMSetMetadata(branch, md_kind(ctx, "llvm.loop"), LLVMMetadataAsValue(ctx, id));
    }
}

/// The strings among `md`'s operands and theirs, `depth` levels down.
unsafe fn md_strings(md: Value, depth: u32) -> Vec<String> {
    let mut out = Vec::new();
    if LLVMIsAMDNode(md).is_null() {
        let mut len = 0;
        let s = LLVMGetMDString(md, &mut len);
        if !s.is_null() {
            out.push(String::from_utf8_lossy(std::slice::from_raw_parts(s as *const u8, len as usize)).into_owned());
        }
        return out;
    }
    if depth == 0 {
        return out;
    }
    let n = LLVMGetMDNodeNumOperands(md);
    let mut ops = vec![std::ptr::null_mut(); n as usize];
    LLVMGetMDNodeOperands(md, ops.as_mut_ptr());
    for op in ops.into_iter().filter(|op| !op.is_null()) {
        out.extend(md_strings(op, depth - 1));
    }
    out
}

pub fn enum_attr_kind(name: &str) -> u32 {
    unsafe { LLVMGetEnumAttributeKindForName(name.as_ptr() as *const _, name.len()) }
}

/// The `sret` pointee type of call argument `idx`, from the call site or the callee.
pub fn call_sret_type(call: Value, idx: u32) -> Option<Type> {
    let kind = enum_attr_kind("sret");
    unsafe {
        let a = LLVMGetCallSiteEnumAttribute(call, idx + 1, kind);
        if !a.is_null() {
            return Some(LLVMGetTypeAttributeValue(a));
        }
        if let Some(f) = called_function(call) {
            let a = LLVMGetEnumAttributeAtIndex(f, idx + 1, kind);
            if !a.is_null() {
                return Some(LLVMGetTypeAttributeValue(a));
            }
        }
    }
    None
}

pub fn delete_instruction(i: Value) {
    unsafe { LLVMInstructionEraseFromParent(i) }
}

pub fn replace_all_uses(old: Value, new: Value) {
    unsafe { LLVMReplaceAllUsesWith(old, new) }
}

pub fn users(v: Value) -> Vec<Value> {
    let mut out = Vec::new();
    unsafe {
        let mut u = LLVMGetFirstUse(v);
        while !u.is_null() {
            out.push(LLVMGetUser(u));
            u = LLVMGetNextUse(u);
        }
    }
    out
}

pub fn has_uses(v: Value) -> bool {
    unsafe { !LLVMGetFirstUse(v).is_null() }
}

pub fn functions(m: LLVMModuleRef) -> Vec<Value> {
    let mut out = Vec::new();
    unsafe {
        let mut f = LLVMGetFirstFunction(m);
        while !f.is_null() {
            out.push(f);
            f = LLVMGetNextFunction(f);
        }
    }
    out
}

pub fn globals(m: LLVMModuleRef) -> Vec<Value> {
    let mut out = Vec::new();
    unsafe {
        let mut g = LLVMGetFirstGlobal(m);
        while !g.is_null() {
            out.push(g);
            g = LLVMGetNextGlobal(g);
        }
    }
    out
}

pub fn module_of_function(f: Value) -> LLVMModuleRef {
    unsafe { LLVMGetGlobalParent(f) }
}

pub fn data_layout_type_size(m: LLVMModuleRef, t: Type) -> u64 {
    unsafe {
        let dl = llvm_sys::target::LLVMGetModuleDataLayout(m);
        llvm_sys::target::LLVMABISizeOfType(dl, t)
    }
}

/// Function attribute check by name (enum attributes only).
pub fn has_fn_attr(f: Value, name: &str) -> bool {
    unsafe { !LLVMGetEnumAttributeAtIndex(f, llvm_sys::LLVMAttributeFunctionIndex, enum_attr_kind(name)).is_null() }
}

pub fn add_fn_attr(f: Value, name: &str) {
    unsafe {
        let ctx = LLVMGetModuleContext(module_of_function(f));
        let a = LLVMCreateEnumAttribute(ctx, enum_attr_kind(name), 0);
        LLVMAddAttributeAtIndex(f, llvm_sys::LLVMAttributeFunctionIndex, a);
    }
}

pub fn remove_fn_attr(f: Value, name: &str) {
    unsafe { LLVMRemoveEnumAttributeAtIndex(f, llvm_sys::LLVMAttributeFunctionIndex, enum_attr_kind(name)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_printed_together_read_as_printed_alone() {
        let ctx = inkwell::context::Context::create();
        // unnamed values, a label with a preds comment, metadata attachments and a call with
        // a debug location: what a clang -g function shows
        let text = "define double @f(ptr %p, i64 %n) !dbg !4 {\nentry:\n  br label %0\n0:\n  %1 = phi i64 [ 0, %entry ], [ %5, %0 ]\n  %2 = getelementptr double, ptr %p, i64 %1\n  %3 = load double, ptr %2, align 8, !tbaa !8\n  call void @llvm.dbg.value(metadata double %3, metadata !7, metadata !DIExpression()), !dbg !6\n  %4 = fmul double %3, %3, !dbg !6\n  store double %4, ptr %2, align 8\n  %5 = add nuw i64 %1, 1\n  %6 = icmp eq i64 %5, %n\n  br i1 %6, label %done, label %0\ndone:\n  ret double %4\n}\ndeclare void @llvm.dbg.value(metadata, metadata, metadata)\n!llvm.module.flags = !{!0, !1}\n!llvm.dbg.cu = !{!2}\n!0 = !{i32 2, !\"Debug Info Version\", i32 3}\n!1 = !{i32 7, !\"Dwarf Version\", i32 5}\n!2 = distinct !DICompileUnit(language: DW_LANG_C11, file: !3, emissionKind: FullDebug)\n!3 = !DIFile(filename: \"f.c\", directory: \"/\")\n!4 = distinct !DISubprogram(name: \"f\", scope: !3, file: !3, line: 1, type: !5, unit: !2, spFlags: DISPFlagDefinition)\n!5 = !DISubroutineType(types: !{})\n!6 = !DILocation(line: 2, scope: !4)\n!7 = !DILocalVariable(name: \"x\", scope: !4, file: !3, line: 2, type: !9)\n!8 = !{!10, !10, i64 0}\n!10 = !{!\"double\", !11, i64 0}\n!11 = !{!\"omnipotent char\", !12, i64 0}\n!12 = !{!\"Simple C/C++ TBAA\"}\n!9 = !DIBasicType(name: \"double\", size: 64, encoding: DW_ATE_float)\n";
        let m = parse_test_module(&ctx, text);
        let f = functions(m.as_mut_ptr())[0];
        let texts = instruction_texts(f);
        let insts = all_instructions(f);
        assert!(!texts.is_empty(), "the printed lines of @f match its instructions");
        for i in insts {
            assert_eq!(texts[&i], value_to_string(i));
        }
    }

    #[test]
    fn a_loop_marked_vectorized_names_itself_and_says_so() {
        unsafe {
            let ctx = LLVMContextCreate();
            let m = LLVMModuleCreateWithNameInContext(c"m".as_ptr(), ctx);
            let fty = LLVMFunctionType(LLVMVoidTypeInContext(ctx), std::ptr::null_mut(), 0, 0);
            let f = LLVMAddFunction(m, c"spin".as_ptr(), fty);
            let entry = LLVMAppendBasicBlockInContext(ctx, f, c"entry".as_ptr());
            let body = LLVMAppendBasicBlockInContext(ctx, f, c"body".as_ptr());
            let b = builder::Builder::new(m);
            b.position_at_end(entry);
            b.br(body);
            b.position_at_end(body);
            let back_edge = b.br(body);
            assert!(loop_properties(back_edge).is_empty());
            mark_loop_vectorized(back_edge);
            assert_eq!(loop_properties(back_edge), ["llvm.loop.isvectorized"]);
            let md = LLVMGetMetadata(back_edge, md_kind(ctx, "llvm.loop"));
            let mut ops = [std::ptr::null_mut(); 2];
            assert_eq!(LLVMGetMDNodeNumOperands(md), 2);
            LLVMGetMDNodeOperands(md, ops.as_mut_ptr());
            assert_eq!(ops[0], md, "a loop ID's first operand is the ID itself");
            assert!(passes::verify_module(m).is_ok());
            LLVMDisposeModule(m);
            LLVMContextDispose(ctx);
        }
    }
}
