//! An IR builder over raw values: the generators' only way of creating instructions.
//!
//! Floor: the IR floor, just above `ir/mod.rs` and `ir/llvm.rs`.

use super::*;
use llvm_sys::LLVMRealPredicate;

pub struct Builder {
    raw: LLVMBuilderRef,
    pub module: LLVMModuleRef,
    pub ctx: LLVMContextRef,
}

impl Drop for Builder {
    fn drop(&mut self) {
        unsafe { LLVMDisposeBuilder(self.raw) }
    }
}

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const std::os::raw::c_char;

impl Builder {
    pub fn new(module: LLVMModuleRef) -> Builder {
        unsafe {
            let ctx = LLVMGetModuleContext(module);
            Builder { raw: LLVMCreateBuilderInContext(ctx), module, ctx }
        }
    }

    pub fn raw(&self) -> LLVMBuilderRef {
        self.raw
    }

    pub fn position_at_end(&self, b: Block) {
        unsafe { LLVMPositionBuilderAtEnd(self.raw, b) }
    }

    pub fn position_before(&self, i: Value) {
        unsafe { LLVMPositionBuilderBefore(self.raw, i) }
    }

    /// Positions after `i`, or after the block's phis when `i` is a phi.
    pub fn position_after(&self, i: Value) {
        unsafe {
            let mut next = LLVMGetNextInstruction(i);
            while !next.is_null() && opcode(next) == Some(LLVMOpcode::LLVMPHI) {
                next = LLVMGetNextInstruction(next);
            }
            if next.is_null() {
                LLVMPositionBuilderAtEnd(self.raw, LLVMGetInstructionParent(i));
            } else {
                LLVMPositionBuilderBefore(self.raw, next);
            }
        }
    }

    pub fn current_block(&self) -> Block {
        unsafe { LLVMGetInsertBlock(self.raw) }
    }

    pub fn insert(&self, inst: Value) {
        unsafe { LLVMInsertIntoBuilder(self.raw, inst) }
    }

    pub fn f64_type(&self) -> Type {
        unsafe { LLVMDoubleTypeInContext(self.ctx) }
    }
    pub fn i1_type(&self) -> Type {
        unsafe { LLVMInt1TypeInContext(self.ctx) }
    }
    pub fn i8_type(&self) -> Type {
        unsafe { LLVMInt8TypeInContext(self.ctx) }
    }
    pub fn i32_type(&self) -> Type {
        unsafe { LLVMInt32TypeInContext(self.ctx) }
    }
    pub fn i64_type(&self) -> Type {
        unsafe { LLVMInt64TypeInContext(self.ctx) }
    }
    pub fn ptr_type(&self) -> Type {
        unsafe { LLVMPointerTypeInContext(self.ctx, 0) }
    }
    pub fn void_type(&self) -> Type {
        unsafe { LLVMVoidTypeInContext(self.ctx) }
    }
    pub fn struct_type(&self, fields: &[Type]) -> Type {
        unsafe { LLVMStructTypeInContext(self.ctx, fields.as_ptr() as *mut _, fields.len() as u32, 0) }
    }

    /// A floating-point constant of type `t`, splatted when `t` is a vector.
    pub fn const_float(&self, t: Type, v: f64) -> Value {
        unsafe {
            if type_kind(t) == LLVMTypeKind::LLVMVectorTypeKind {
                let e = LLVMConstReal(element_type(t), v);
                let n = LLVMGetVectorSize(t) as usize;
                let elems = vec![e; n];
                LLVMConstVector(elems.as_ptr() as *mut _, n as u32)
            } else {
                LLVMConstReal(t, v)
            }
        }
    }

    pub fn const_int(&self, t: Type, v: u64) -> Value {
        unsafe { LLVMConstInt(t, v, 0) }
    }

    pub fn fadd(&self, a: Value, b: Value) -> Value {
        unsafe { LLVMBuildFAdd(self.raw, a, b, NO_NAME) }
    }
    pub fn fsub(&self, a: Value, b: Value) -> Value {
        unsafe { LLVMBuildFSub(self.raw, a, b, NO_NAME) }
    }
    pub fn fmul(&self, a: Value, b: Value) -> Value {
        unsafe { LLVMBuildFMul(self.raw, a, b, NO_NAME) }
    }
    pub fn fdiv(&self, a: Value, b: Value) -> Value {
        unsafe { LLVMBuildFDiv(self.raw, a, b, NO_NAME) }
    }
    pub fn fneg(&self, a: Value) -> Value {
        unsafe { LLVMBuildFNeg(self.raw, a, NO_NAME) }
    }
    pub fn fcmp(&self, p: LLVMRealPredicate, a: Value, b: Value) -> Value {
        unsafe { LLVMBuildFCmp(self.raw, p, a, b, NO_NAME) }
    }
    /// `p == null`.
    pub fn icmp_null(&self, p: Value) -> Value {
        unsafe { LLVMBuildICmp(self.raw, llvm_sys::LLVMIntPredicate::LLVMIntEQ, p, LLVMConstNull(LLVMTypeOf(p)), b"\0".as_ptr() as *const _) }
    }

    pub fn select(&self, c: Value, a: Value, b: Value) -> Value {
        unsafe { LLVMBuildSelect(self.raw, c, a, b, NO_NAME) }
    }
    pub fn or(&self, a: Value, b: Value) -> Value {
        unsafe { LLVMBuildOr(self.raw, a, b, NO_NAME) }
    }
    pub fn and(&self, a: Value, b: Value) -> Value {
        unsafe { LLVMBuildAnd(self.raw, a, b, NO_NAME) }
    }
    pub fn sitofp(&self, v: Value, t: Type) -> Value {
        unsafe { LLVMBuildSIToFP(self.raw, v, t, NO_NAME) }
    }
    pub fn int_cast(&self, v: Value, t: Type, signed: bool) -> Value {
        unsafe { LLVMBuildIntCast2(self.raw, v, t, signed as i32, NO_NAME) }
    }
    pub fn fp_cast(&self, v: Value, t: Type) -> Value {
        unsafe { LLVMBuildFPCast(self.raw, v, t, NO_NAME) }
    }
    pub fn freeze(&self, v: Value) -> Value {
        unsafe { LLVMBuildFreeze(self.raw, v, NO_NAME) }
    }
    pub fn extract_value(&self, agg: Value, idx: u32) -> Value {
        unsafe { LLVMBuildExtractValue(self.raw, agg, idx, NO_NAME) }
    }
    pub fn insert_value(&self, agg: Value, v: Value, idx: u32) -> Value {
        unsafe { LLVMBuildInsertValue(self.raw, agg, v, idx, NO_NAME) }
    }
    pub fn phi(&self, t: Type) -> Value {
        unsafe { LLVMBuildPhi(self.raw, t, NO_NAME) }
    }
    pub fn load(&self, t: Type, p: Value) -> Value {
        unsafe { LLVMBuildLoad2(self.raw, t, p, NO_NAME) }
    }
    pub fn store(&self, v: Value, p: Value) -> Value {
        unsafe { LLVMBuildStore(self.raw, v, p) }
    }
    pub fn gep_bytes(&self, p: Value, offset: u64) -> Value {
        unsafe {
            let mut idx = [LLVMConstInt(self.i64_type(), offset, 0)];
            LLVMBuildGEP2(self.raw, self.i8_type(), p, idx.as_mut_ptr(), 1, NO_NAME)
        }
    }
    /// `p + offset` bytes, for a pointer of any address space.
    pub fn gep_bytes_as(&self, p: Value, offset: u64) -> Value {
        self.gep_bytes(p, offset)
    }

    pub fn ret(&self, v: Option<Value>) -> Value {
        unsafe {
            match v {
                Some(v) => LLVMBuildRet(self.raw, v),
                None => LLVMBuildRetVoid(self.raw),
            }
        }
    }
    pub fn br(&self, b: Block) -> Value {
        unsafe { LLVMBuildBr(self.raw, b) }
    }

    pub fn call(&self, fn_ty: Type, f: Value, args: &[Value]) -> Value {
        unsafe { LLVMBuildCall2(self.raw, fn_ty, f, args.as_ptr() as *mut _, args.len() as u32, NO_NAME) }
    }

    /// Calls a function of this module by name, declaring it with `fn_ty` if absent.
    pub fn call_named(&self, name: &str, fn_ty: Type, args: &[Value]) -> Value {
        let f = self.get_or_declare(name, fn_ty);
        self.call(fn_ty, f, args)
    }

    pub fn get_or_declare(&self, name: &str, fn_ty: Type) -> Value {
        unsafe {
            let c = cstring(name);
            let f = LLVMGetNamedFunction(self.module, c.as_ptr());
            if !f.is_null() {
                return f;
            }
            LLVMAddFunction(self.module, c.as_ptr(), fn_ty)
        }
    }

    /// Calls an overloaded intrinsic such as `llvm.sin` at the given overload types.
    pub fn call_intrinsic(&self, name: &str, overloads: &[Type], args: &[Value]) -> Value {
        unsafe {
            let id = LLVMLookupIntrinsicID(name.as_ptr() as *const _, name.len());
            assert!(id != 0, "unknown intrinsic {name}");
            let f = LLVMGetIntrinsicDeclaration(self.module, id, overloads.as_ptr() as *mut _, overloads.len());
            let ty = LLVMIntrinsicGetType(self.ctx, id, overloads.as_ptr() as *mut _, overloads.len());
            self.call(ty, f, args)
        }
    }

    pub fn memset_zero(&self, p: Value, len: Value, align: u32) -> Value {
        unsafe { LLVMBuildMemSet(self.raw, p, LLVMConstInt(self.i8_type(), 0, 0), len, align) }
    }

    pub fn memcpy(&self, dst: Value, src: Value, len: Value, align: u32) -> Value {
        unsafe { LLVMBuildMemCpy(self.raw, dst, align, src, align, len) }
    }

    pub fn memmove(&self, dst: Value, src: Value, len: Value, align: u32) -> Value {
        unsafe { LLVMBuildMemMove(self.raw, dst, align, src, align, len) }
    }

    pub fn alloca(&self, t: Type) -> Value {
        unsafe { LLVMBuildAlloca(self.raw, t, NO_NAME) }
    }

    /// Builds an `alloca` at the top of `f`'s entry block, where allocas must be to be
    /// promoted and not to grow the stack inside loops.
    pub fn entry_alloca(&self, f: Value, t: Type) -> Value {
        unsafe {
            let tmp = Builder::new(self.module);
            let entry = LLVMGetEntryBasicBlock(f);
            let first = LLVMGetFirstInstruction(entry);
            if first.is_null() {
                tmp.position_at_end(entry);
            } else {
                tmp.position_before(first);
            }
            tmp.alloca(t)
        }
    }

    /// Zero of type `t` (for any first-class type).
    pub fn zero(&self, t: Type) -> Value {
        const_null(t)
    }

    pub fn undef(&self, t: Type) -> Value {
        unsafe { LLVMGetUndef(t) }
    }

    /// Packs values into a literal struct, or returns the single value, or None for none.
    pub fn pack(&self, values: &[Value]) -> Option<Value> {
        match values.len() {
            0 => None,
            1 => Some(values[0]),
            _ => {
                let tys: Vec<Type> = values.iter().map(|v| type_of(*v)).collect();
                let st = self.struct_type(&tys);
                let mut agg = self.undef(st);
                for (i, v) in values.iter().enumerate() {
                    agg = self.insert_value(agg, *v, i as u32);
                }
                Some(agg)
            }
        }
    }
}

/// The zero adjoints start from: -0.0 in every floating-point leaf, null elsewhere.
/// `-0.0 + x == x` for every x (with +0.0, `0.0 + -0.0` is `0.0`), so LLVM may fold the
/// first accumulation into an adjoint away; with +0.0 it may not without `nsz`.
pub fn adjoint_zero(t: Type) -> Value {
    unsafe {
        match LLVMGetTypeKind(t) {
            _ if is_float_scalar(t) => LLVMConstReal(t, -0.0),
            LLVMTypeKind::LLVMVectorTypeKind if is_float_scalar(LLVMGetElementType(t)) => {
                let e = adjoint_zero(LLVMGetElementType(t));
                let mut lanes = vec![e; LLVMGetVectorSize(t) as usize];
                LLVMConstVector(lanes.as_mut_ptr(), lanes.len() as u32)
            }
            LLVMTypeKind::LLVMArrayTypeKind if contains_float(t) => {
                let e = adjoint_zero(LLVMGetElementType(t));
                let mut elems = vec![e; llvm::array_length(t) as usize];
                llvm::const_array(LLVMGetElementType(t), &mut elems)
            }
            LLVMTypeKind::LLVMStructTypeKind if contains_float(t) => {
                let n = LLVMCountStructElementTypes(t);
                let mut fields: Vec<Value> = (0..n).map(|k| adjoint_zero(LLVMStructGetTypeAtIndex(t, k))).collect();
                LLVMConstNamedStruct(t, fields.as_mut_ptr(), n)
            }
            _ => LLVMConstNull(t),
        }
    }
}
