//! Copying functions and instructions with a value map (the C API has no cloner).

use super::*;
use crate::collections::HashMap;

pub type ValueMap = HashMap<Value, Value>;

pub fn is_debug_intrinsic(i: Value) -> bool {
    opcode(i) == Some(LLVMOpcode::LLVMCall) && called_function(i).map(|f| name_of(f).starts_with("llvm.dbg.")).unwrap_or(false)
}

/// Rewrites the operands of a freshly cloned instruction through `map`.
pub fn remap_operands(inst: Value, map: &ValueMap) {
    for i in 0..num_operands(inst) {
        let op = operand(inst, i);
        if let Some(&new) = map.get(&op) {
            set_operand(inst, i, new);
        }
    }
}

/// Clones `inst`, remaps its operands and inserts it at the builder's position.
pub fn clone_instruction(b: &builder::Builder, inst: Value, map: &ValueMap, keep_debug_loc: bool) -> Value {
    unsafe {
        let c = LLVMInstructionClone(inst);
        remap_operands(c, map);
        let name = name_of(inst);
        LLVMInsertIntoBuilderWithName(b.raw(), c, cstring(&name).as_ptr());
        if !keep_debug_loc {
            clear_debug_loc(c);
        }
        drop_assignment_id(c);
        c
    }
}

/// Assignment tracking (clang 17 and later at -O1 -g and up) links a store or alloca to its
/// `dbg.assign` by a `!DIAssignID` that must not be shared across functions; a clone in
/// another function keeps its location but leaves the variable's assignment record behind.
fn drop_assignment_id(c: Value) {
    unsafe {
        if LLVMHasMetadata(c) == 0 {
            return;
        }
        let ctx = LLVMGetTypeContext(LLVMTypeOf(c));
        let kind = LLVMGetMDKindIDInContext(ctx, b"DIAssignID".as_ptr() as *const _, "DIAssignID".len() as u32);
        if !LLVMGetMetadata(c, kind).is_null() {
            LLVMSetMetadata(c, kind, std::ptr::null_mut());
        }
    }
}

/// Copies the attributes of parameter `from_idx` of `from` to parameter `to_idx` of `to`,
/// leaving out those that describe the calling convention of the original signature only.
pub fn copy_param_attributes(from: Value, from_idx: u32, to: Value, to_idx: u32) {
    let skip = [enum_attr_kind("sret"), enum_attr_kind("returned"), enum_attr_kind("swiftself"), enum_attr_kind("swifterror")];
    unsafe {
        let n = LLVMGetAttributeCountAtIndex(from, from_idx + 1);
        let mut attrs = vec![std::ptr::null_mut(); n as usize];
        LLVMGetAttributesAtIndex(from, from_idx + 1, attrs.as_mut_ptr());
        for a in attrs {
            if LLVMIsStringAttribute(a) == 0 && skip.contains(&LLVMGetEnumAttributeKind(a)) {
                continue;
            }
            LLVMAddAttributeAtIndex(to, to_idx + 1, a);
        }
    }
}

/// Copies target and code-generation attributes (string attributes and a few safe enum
/// ones) so the generated function is compiled for the same target as the original.
pub fn copy_codegen_fn_attributes(from: Value, to: Value) {
    let keep = [enum_attr_kind("nounwind"), enum_attr_kind("uwtable"), enum_attr_kind("mustprogress")];
    unsafe {
        let idx = llvm_sys::LLVMAttributeFunctionIndex;
        let n = LLVMGetAttributeCountAtIndex(from, idx);
        let mut attrs = vec![std::ptr::null_mut(); n as usize];
        LLVMGetAttributesAtIndex(from, idx, attrs.as_mut_ptr());
        for a in attrs {
            if LLVMIsStringAttribute(a) != 0 || keep.contains(&LLVMGetEnumAttributeKind(a)) {
                LLVMAddAttributeAtIndex(to, idx, a);
            }
        }
    }
}

/// Starts a generated CPU function on a cache line. Where its hot loops fall relative to
/// the instruction fetch and micro-op cache windows then depends only on its own code, not
/// on the size of whatever the linker puts before it: with the default 16-byte alignment the
/// same GMM gradient ran 10% apart in two binaries that differed only in unrelated code.
pub fn align_to_cache_line(f: Value) {
    unsafe {
        let t = std::ffi::CStr::from_ptr(LLVMGetTarget(LLVMGetGlobalParent(f))).to_string_lossy().into_owned();
        if !(t.starts_with("nvptx") || t.starts_with("amdgcn")) {
            LLVMSetAlignment(f, 64);
        }
    }
}

/// Clones the body of `src` into `dst` (same signature). Unreachable blocks and debug
/// intrinsics are dropped. Returns the value map from `src` values to `dst` values.
pub fn clone_body(src: Value, dst: Value, keep_debug_locs: bool) -> ValueMap {
    let mut map = ValueMap::default();
    for (a, b) in params(src).into_iter().zip(params(dst)) {
        map.insert(a, b);
        set_name(b, &name_of(a));
    }
    let order = reverse_post_order(src);
    let ctx = unsafe { LLVMGetModuleContext(module_of_function(dst)) };
    for &bb in &order {
        let nb = unsafe { LLVMAppendBasicBlockInContext(ctx, dst, cstring(&name_of(block_as_value(bb))).as_ptr()) };
        map.insert(block_as_value(bb), block_as_value(nb));
    }
    let b = builder::Builder::new(module_of_function(dst));
    let mut phis = Vec::new();
    for &bb in &order {
        let nb = value_as_block(map[&block_as_value(bb)]).expect("block");
        b.position_at_end(nb);
        for inst in instructions(bb) {
            if is_debug_intrinsic(inst) {
                continue;
            }
            if opcode(inst) == Some(LLVMOpcode::LLVMPHI) {
                let p = b.phi(type_of(inst));
                set_name(p, &name_of(inst));
                map.insert(inst, p);
                phis.push((inst, p));
                continue;
            }
            let c = clone_instruction(&b, inst, &map, keep_debug_locs);
            map.insert(inst, c);
        }
    }
    for (old, new) in phis {
        add_mapped_incoming(old, new, &map, |v| map.get(&v).copied().unwrap_or(v));
    }
    map
}

/// Adds the incoming edges of phi `old` to `new`, skipping edges from blocks that were
/// not cloned (unreachable ones); `value_of` maps each incoming value.
pub fn add_mapped_incoming(old: Value, new: Value, map: &ValueMap, mut value_of: impl FnMut(Value) -> Value) {
    unsafe {
        let n = LLVMCountIncoming(old);
        for i in 0..n {
            let ib = LLVMGetIncomingBlock(old, i);
            let Some(&nbv) = map.get(&block_as_value(ib)) else { continue };
            let mut v = [value_of(LLVMGetIncomingValue(old, i))];
            let mut blk = [LLVMValueAsBasicBlock(nbv)];
            LLVMAddIncoming(new, v.as_mut_ptr(), blk.as_mut_ptr(), 1);
        }
    }
}
