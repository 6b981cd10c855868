//! What the memory behind a pointer parameter holds, learnt from the callers, for functions
//! that copy it without reading it themselves (`memcpy(dst, src, n * sizeof(double))` in a
//! helper): the reverse sweep must know the element type to accumulate a copy's adjoint,
//! and only a caller (an array of doubles, a loop storing doubles) says it.
//!
//! Asked only where a copy's own function says nothing (`memory::memory_types` first), so
//! it costs nothing in the common case. The callers are the functions that make the magic
//! calls passing the pointer, and the prepared copies that call the function; a pointer a
//! caller only passes on is asked about in that caller's callers in turn, a few levels up.

use crate::analysis::memory::{memory_types, underlying_objects, MemoryTypes};
use crate::collections::HashMap;
use crate::ir::{self, Value};
use llvm_sys::LLVMOpcode::LLVMCall;

/// Where the functions being differentiated are called from.
pub struct Callers<'a> {
    /// For an original function, the pointer arguments magic calls pass it: (parameter,
    /// the function making the call, the argument).
    pub magic: &'a HashMap<Value, Vec<(usize, Value, Value)>>,
    /// Original function to its prepared copy.
    pub prepared: &'a HashMap<Value, Value>,
    /// What was learnt from the magic calls, by original function and parameter: a later
    /// magic call that reuses a derivative made from it must agree (`Engine::note_argument`).
    pub learnt: &'a std::cell::RefCell<HashMap<(Value, usize), MemoryTypes>>,
}

impl Callers<'_> {
    /// What the callers of `copy` (a prepared copy) know about the memory `ptrs` point into,
    /// where it is reached through `copy`'s parameters.
    pub fn types(&self, copy: Value, ptrs: &[Value]) -> MemoryTypes {
        let mut out = MemoryTypes::default();
        self.gather(copy, ptrs, &mut out, 0);
        out
    }

    fn gather(&self, copy: Value, ptrs: &[Value], out: &mut MemoryTypes, depth: u32) {
        if depth >= 4 {
            return;
        }
        let ks: Vec<usize> = ptrs.iter().flat_map(|p| underlying_objects(*p)).filter_map(|o| ir::argument_number(o, copy)).collect();
        if ks.is_empty() {
            return;
        }
        let Some(original) = self.prepared.iter().find(|(_, c)| **c == copy).map(|(o, _)| *o) else { return };
        for &k in &ks {
            let mut from_magic = MemoryTypes::default();
            for &(_, caller, arg) in self.magic.get(&original).into_iter().flatten().filter(|(j, _, _)| *j == k) {
                self.note(caller, arg, &mut from_magic, depth);
            }
            if from_magic.known() {
                self.learnt.borrow_mut().insert((original, k), from_magic);
            }
            out.merge(&from_magic);
        }
        for &caller in self.prepared.values() {
            for i in ir::all_instructions(caller) {
                if ir::opcode(i) != Some(LLVMCall) || ir::called_function(i) != Some(original) {
                    continue;
                }
                let args = ir::call_args(i);
                for &k in &ks {
                    if let Some(&a) = args.get(k) {
                        self.note(caller, a, out, depth);
                    }
                }
            }
        }
    }

    /// Adds what `caller` says about `arg`, or what its own callers say when it only passes
    /// the pointer on.
    fn note(&self, caller: Value, arg: Value, out: &mut MemoryTypes, depth: u32) {
        let mut t = passed(caller, arg);
        if !t.known() && self.prepared.values().any(|c| *c == caller) {
            self.gather(caller, &[arg], &mut t, depth + 1);
        }
        out.merge(&t);
    }
}

/// What `caller` says the memory `arg` points into holds.
pub fn passed(caller: Value, arg: Value) -> MemoryTypes {
    declared_floats(arg).unwrap_or_else(|| memory_types(caller, &[arg]))
}

/// The declared type of the stack or global arrays `arg` points into, when they hold
/// floating-point values: stronger than the caller's accesses, which optimized code makes
/// with integers where it initializes a small array (`store i64` of two floats).
fn declared_floats(arg: Value) -> Option<MemoryTypes> {
    let objs = underlying_objects(arg);
    let mut t = MemoryTypes::default();
    for o in &objs {
        let declared = if ir::opcode(*o) == Some(llvm_sys::LLVMOpcode::LLVMAlloca) {
            unsafe { llvm_sys::core::LLVMGetAllocatedType(*o) }
        } else if ir::is_global_variable(*o) {
            unsafe { llvm_sys::core::LLVMGlobalGetValueType(*o) }
        } else {
            return None;
        };
        crate::analysis::memory::note_declared_type(&mut t, declared);
    }
    (!objs.is_empty() && t.float.is_some()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkwell::context::Context;
    use inkwell::values::AsValueRef;

    #[test]
    fn a_copying_helper_learns_the_element_type_from_a_caller_two_levels_up() {
        let ctx = Context::create();
        let module = ir::parse_test_module(
            &ctx,
            r#"
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
define void @copy(ptr %dst, ptr %src, i64 %n) {
  call void @llvm.memcpy.p0.p0.i64(ptr %dst, ptr %src, i64 %n, i1 false)
  ret void
}
define void @relay(ptr %d, ptr %s) {
  call void @copy(ptr %d, ptr %s, i64 8)
  ret void
}
define void @main(ptr %x, ptr %y) {
  store double 1.0, ptr %x
  ret void
}
"#,
        );
        let f = |n: &str| module.get_function(n).unwrap().as_value_ref();
        let (copy, relay, main) = (f("copy"), f("relay"), f("main"));
        // The copies are the functions themselves here; main makes the magic call on relay.
        let prepared: HashMap<Value, Value> = [(copy, copy), (relay, relay)].into_iter().collect();
        let magic: HashMap<Value, Vec<(usize, Value, Value)>> = [(relay, vec![(1, main, ir::params(main)[0])])].into_iter().collect();
        let learnt = Default::default();
        let callers = Callers { magic: &magic, prepared: &prepared, learnt: &learnt };
        let src = ir::params(copy)[1];
        assert!(!memory_types(copy, &[src]).known());
        let t = callers.types(copy, &[src]);
        assert!(t.float.is_some_and(ir::is_float_scalar) && !t.pointers && !t.integers);
        // The destination comes from relay's %d, which nobody types.
        assert!(!callers.types(copy, &[ir::params(copy)[0]]).known());
        // What relay's second parameter was taken to hold is kept for later magic calls.
        assert!(learnt.borrow().get(&(relay, 1)).is_some_and(|t| t.float.is_some()));
    }
}
