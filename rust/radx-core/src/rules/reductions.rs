//! Horizontal vector reductions (`llvm.vector.reduce.fadd` and friends), which the loop
//! vectorizer emits for floating-point reductions it may reassociate (`-ffast-math`,
//! `#pragma clang loop vectorize(enable)`, `reassoc` flags). Each is the fold of one
//! elementwise operation over the lanes, so the copy a derivative is generated from spells
//! it out as that fold — lane extracts and the operation the rule tables already know —
//! rather than giving reductions rules of their own beside them.

use crate::ir::{self, builder::Builder, Value};
use llvm_sys::core::*;

/// How a reduction folds: by an instruction or by a two-operand intrinsic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fold {
    FAdd,
    FMul,
    Intrinsic(&'static str),
}

/// `llvm.vector.reduce.<kind>` → the fold, and whether the call's first operand is a start
/// value (the ordered sum and product take one; min and max do not).
const REDUCTIONS: &[(&str, Fold, bool)] = &[
    ("fadd", Fold::FAdd, true),
    ("fmul", Fold::FMul, true),
    ("fmax", Fold::Intrinsic("llvm.maxnum"), false),
    ("fmin", Fold::Intrinsic("llvm.minnum"), false),
    ("fmaximum", Fold::Intrinsic("llvm.maximum"), false),
    ("fminimum", Fold::Intrinsic("llvm.minimum"), false),
];

fn reduction_of(name: &str) -> Option<(Fold, bool)> {
    let kind = name.strip_prefix("llvm.vector.reduce.")?.split('.').next()?;
    REDUCTIONS.iter().find(|(k, _, _)| *k == kind).map(|(_, f, s)| (*f, *s))
}

/// Rewrites every floating-point vector reduction in `f` as a fold over its lanes, in lane
/// order (a valid order for the reassociating forms and the required one for the ordered
/// sum and product). Returns how many were rewritten.
pub fn expand_vector_reductions(f: Value) -> usize {
    let module = ir::module_of_function(f);
    let b = Builder::new(module);
    let mut count = 0;
    for call in ir::all_instructions(f) {
        let Some((fold, has_start)) = ir::called_function(call).and_then(|c| reduction_of(&ir::name_of(c))) else { continue };
        let args = ir::call_args(call);
        let vector = args[usize::from(has_start)];
        let lanes = ir::vector_len(ir::type_of(vector));
        b.position_before(call);
        let i32t = b.i32_type();
        let lane = |k: u32| unsafe { LLVMBuildExtractElement(b.raw(), vector, b.const_int(i32t, u64::from(k)), b"\0".as_ptr() as *const _) };
        let (mut acc, first) = if has_start { (args[0], 0) } else { (lane(0), 1) };
        for k in first..lanes {
            let x = lane(k);
            acc = match fold {
                Fold::FAdd => b.fadd(acc, x),
                Fold::FMul => b.fmul(acc, x),
                Fold::Intrinsic(name) => b.call_intrinsic(name, &[ir::type_of(x)], &[acc, x]),
            };
        }
        ir::replace_all_uses(call, acc);
        ir::delete_instruction(call);
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkwell::context::Context;
    use inkwell::execution_engine::JitFunction;
    use inkwell::memory_buffer::MemoryBuffer;
    use inkwell::values::AsValueRef;
    use inkwell::OptimizationLevel;

    const IR: &str = r#"
declare double @llvm.vector.reduce.fadd.v4f64(double, <4 x double>)
declare double @llvm.vector.reduce.fmul.v2f64(double, <2 x double>)
declare double @llvm.vector.reduce.fmax.v4f64(<4 x double>)
declare double @llvm.vector.reduce.fmin.v2f64(<2 x double>)

define double @f(ptr %p) {
  %v = load <4 x double>, ptr %p
  %w = load <2 x double>, ptr %p
  %s = call reassoc double @llvm.vector.reduce.fadd.v4f64(double 0.5, <4 x double> %v)
  %m = call double @llvm.vector.reduce.fmul.v2f64(double 3.0, <2 x double> %w)
  %x = call double @llvm.vector.reduce.fmax.v4f64(<4 x double> %v)
  %n = call double @llvm.vector.reduce.fmin.v2f64(<2 x double> %w)
  %a = fmul double %s, 1000.0
  %b = fadd double %a, %m
  %c = fmul double %x, 100000.0
  %d = fadd double %b, %c
  %e = fmul double %n, 10000000.0
  %r = fadd double %d, %e
  ret double %r
}
"#;

    #[test]
    fn reductions_become_folds_with_the_same_value() {
        let ctx = Context::create();
        let buf = MemoryBuffer::create_from_memory_range_copy(IR.as_bytes(), "reduce");
        let module = ctx.create_module_from_ir(buf).expect("the test IR parses");
        let f = module.get_function("f").unwrap().as_value_ref();
        assert_eq!(expand_vector_reductions(f), 4);
        module.verify().expect("the expanded function verifies");
        let text = module.print_to_string().to_string();
        assert!(!text.contains("call reassoc double @llvm.vector.reduce") && !text.contains("call double @llvm.vector.reduce"), "{text}");
        let ee = module.create_jit_execution_engine(OptimizationLevel::None).unwrap();
        let run: JitFunction<unsafe extern "C" fn(*const f64) -> f64> = unsafe { ee.get_function("f").unwrap() };
        let v = [1.0, 2.0, 4.0, -8.0];
        let sum = 0.5 + 1.0 + 2.0 + 4.0 - 8.0;
        let product = 3.0 * 1.0 * 2.0;
        let expected = sum * 1000.0 + product + 4.0 * 100000.0 + 1.0 * 10000000.0;
        assert_eq!(unsafe { run.call(v.as_ptr()) }, expected);
    }
}
