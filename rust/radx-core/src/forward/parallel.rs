//! OpenMP regions in forward mode. The prepared copy calls each region's outlined function
//! serialized (`rules::openmp`); a forward derivative forks the region again instead, with
//! the outlined function's forward derivative as the team's work, so the tangents are
//! computed in parallel like the primal. Its tangent loads and stores mirror the primal's
//! (same addresses, shadow memory), and reductions were rewritten to critical sections, so
//! a region free of data races gives tangents free of data races.

use super::gen::ForwardFn;
use crate::analysis::activity::call_arg_is_active;
use crate::diag::Result;
use crate::request::{ArgActivity, ForwardRequest};
use crate::ir::{self, Value};
use crate::rules::openmp;
use llvm_sys::LLVMOpcode::LLVMCall;

impl<'e> ForwardFn<'e> {
    /// The call of the outlined function in `region`, when the region can be forked:
    /// the runtime hands a microtask its captured values as pointer-sized words, so each
    /// tangent must be a pointer travelling beside its pointer, one direction at a time.
    fn forkable_region_call(&self, region: Value) -> Option<Value> {
        if self.req.width != 1 {
            return None;
        }
        let call = ir::all_instructions(self.primal)
            .into_iter()
            .find(|i| ir::opcode(*i) == Some(LLVMCall) && openmp::region_of(*i) == Some(region) && !openmp::is_serialization_bracket(*i))?;
        let callee = ir::called_function(call)?;
        if ir::is_declaration(callee) || self.engine.has_custom_rule(callee) {
            return None;
        }
        let active = self.activity.active_set();
        ir::call_args(call)
            .iter()
            .all(|a| !call_arg_is_active(*a, active) || ir::is_pointer(ir::type_of(*a)))
            .then_some(call)
    }

    /// A call tagged as part of a serialized region: the brackets vanish and the outlined
    /// function's call becomes a fork of its forward derivative. Returns false when the
    /// region stays serialized (the call is then visited like any other).
    pub(super) fn visit_region_call(&mut self, inst: Value, region: Value) -> Result<bool> {
        if self.forkable_region_call(region).is_none() {
            return Ok(false);
        }
        if openmp::is_serialization_bracket(inst) {
            return Ok(true);
        }
        let callee = ir::called_function(inst).expect("a region's call names its outlined function");
        let args = ir::call_args(inst);
        let acts: Vec<bool> = args.iter().map(|a| call_arg_is_active(*a, self.activity.active_set())).collect();
        let mut captured = Vec::new();
        // The first two parameters are the thread ids the runtime passes itself.
        let microtask = if acts.iter().any(|&a| a) {
            let req = ForwardRequest {
                function: callee,
                args: acts.iter().map(|&a| if a { ArgActivity::Dup } else { ArgActivity::Const }).collect(),
                width: 1,
                return_primal: false,
                return_tangent: false,
            };
            let f = self.engine.forward(&req)?;
            for (a, &act) in args.iter().zip(&acts).skip(2) {
                captured.push(self.primal(*a));
                if act {
                    captured.push(self.shadow(*a, 0).expect("an active pointer has a shadow"));
                }
            }
            f
        } else {
            captured.extend(args[2..].iter().map(|a| self.primal(*a)));
            callee
        };
        let (fork, fork_ty) = openmp::fork_call_function(&self.b);
        let mut fork_args = vec![openmp::region_location(region), self.b.const_int(self.b.i32_type(), captured.len() as u64), microtask];
        fork_args.extend(captured);
        let c = self.b.call(fork_ty, fork, &fork_args);
        self.map.insert(inst, c);
        Ok(true)
    }
}
