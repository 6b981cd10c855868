//! Additions LLVM may reassociate (`fadd reassoc`), for sums whose order is RadX's own
//! choice. LLVM 16's C API cannot set fast-math flags, but cloning an instruction keeps
//! them: each addition is cloned from one parsed from text into a scratch module, which
//! lives as long as its owner (the engine: one context, disposed of before the context).

use super::builder::Builder;
use super::*;
use crate::collections::HashMap;

#[derive(Default)]
pub struct ReassocAdds {
    /// Per floating-point type name: the scratch module and its `fadd reassoc`.
    templates: HashMap<&'static str, (LLVMModuleRef, Value)>,
}

impl ReassocAdds {
    /// `a + b` marked `reassoc`, at the builder's position; None for types other than
    /// `float` and `double` (or if the template does not parse).
    pub fn fadd(&mut self, b: &Builder, x: Value, y: Value) -> Option<Value> {
        let name = match type_kind(type_of(x)) {
            LLVMTypeKind::LLVMDoubleTypeKind => "double",
            LLVMTypeKind::LLVMFloatTypeKind => "float",
            _ => return None,
        };
        let template = match self.templates.get(name) {
            Some(&(_, t)) => t,
            None => {
                let (module, t) = parse_template(b.ctx, name)?;
                self.templates.insert(name, (module, t));
                t
            }
        };
        unsafe {
            let add = LLVMInstructionClone(template);
            LLVMSetOperand(add, 0, x);
            LLVMSetOperand(add, 1, y);
            LLVMInsertIntoBuilder(b.raw(), add);
            Some(add)
        }
    }
}

impl Drop for ReassocAdds {
    fn drop(&mut self) {
        for (_, (module, _)) in self.templates.drain() {
            unsafe { LLVMDisposeModule(module) }
        }
    }
}

fn parse_template(ctx: LLVMContextRef, ty: &str) -> Option<(LLVMModuleRef, Value)> {
    let text = format!("define {ty} @radx.reassoc({ty} %a, {ty} %b) {{\n  %s = fadd reassoc {ty} %a, %b\n  ret {ty} %s\n}}\n");
    unsafe {
        let buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(text.as_ptr() as *const _, text.len(), b"radx.reassoc\0".as_ptr() as *const _);
        let mut module = std::ptr::null_mut();
        let mut message = std::ptr::null_mut();
        if llvm_sys::ir_reader::LLVMParseIRInContext(ctx, buf, &mut module, &mut message) != 0 {
            if !message.is_null() {
                LLVMDisposeMessage(message);
            }
            return None;
        }
        let f = LLVMGetFirstFunction(module);
        Some((module, LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(f))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reassociable_addition_says_so_and_verifies() {
        let ctx = inkwell::context::Context::create();
        let text = "define double @f(double %x, double %y) {\n  ret double %x\n}\n";
        let m = super::parse_test_module(&ctx, text);
        let f = functions(m.as_mut_ptr())[0];
        let b = Builder::new(m.as_mut_ptr());
        let ret = terminator(entry_block(f));
        b.position_before(ret);
        let mut adds = ReassocAdds::default();
        let sum = adds.fadd(&b, params(f)[0], params(f)[1]).expect("double is supported");
        set_operand(ret, 0, sum);
        let i32_zero = unsafe { LLVMConstInt(LLVMInt32TypeInContext(b.ctx), 0, 0) };
        assert!(adds.fadd(&b, i32_zero, i32_zero).is_none());
        m.verify().expect("valid IR");
        let printed = m.print_to_string().to_string();
        assert!(printed.contains("fadd reassoc double %x, %y"), "{printed}");
        drop(adds);
        m.verify().expect("the clone does not depend on the template's module");
    }
}
