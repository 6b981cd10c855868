//! Reverse mode, combined and split.
//!
//! One generator (`gen.rs`) emits both sweeps of a function:
//! * the forward sweep runs the primal, computes the shadows of active pointers (stores of
//!   pointers are mirrored into shadow memory, allocations get zeroed shadows, frees of
//!   local allocations are deferred to the reverse sweep), and at the end of each block
//!   pushes onto the tape the values that block's reverse needs and cannot get otherwise,
//!   plus the index of the predecessor it came from when it has several;
//! * the reverse sweep has one block per primal block: it pops the block's group, seeds
//!   the return adjoint, walks the instructions backwards applying the shared rule table
//!   (`adjoint.rs`), hands phi adjoints to the incoming values of the edge taken, and
//!   branches to the reverse of that predecessor.
//! Combined mode (`__enzyme_autodiff`) puts both sweeps in one function, so values whose
//! block dominates every return and lies in no loop are used directly. Split mode
//! (`__enzyme_augmentfwd` / `__enzyme_reverse`, and calls of defined functions inside a
//! derivative) emits two functions that share the tape. What is needed is planned before
//! emission (`plan.rs`): constants and arguments are free, cheap pure operations and loads
//! of memory nothing overwrites are recomputed, everything else is cached.
//!
//! Floor: a generator, beside forward mode (neither imports the other) and above the
//! engine, the requests and signatures, the rules and `crate::shadows`; below the ABI
//! lowering and the pipeline. Inside, from the bottom: `tape.rs` (the tape's runtime
//! code) and `need.rs` (what the sweeps read), `gen.rs` (the generator's state and its
//! run), then the files that add `RevGen`'s methods (planning, the sweeps, adjoints);
//! this file, on top, adds `Engine::reverse`.

mod adjoint;
mod adjoint_calls;
mod cache_choice;
mod forward_sweep;
mod gen;
mod joins;
mod need;
mod plan;
mod shadow_alloc;
mod sweep;
pub mod tape;

use crate::diag::Result;
use crate::engine::Engine;
use crate::ir::{self, builder::Builder, Value};
use crate::request::{RevArg, ReverseFunctions, ReverseRequest};
use crate::signature::{signatures, unpack};
use llvm_sys::core::*;

impl Engine {
    pub fn reverse(&mut self, req: &ReverseRequest) -> Result<ReverseFunctions> {
        if let Some(f) = self.reverse_cache.get(req) {
            return Ok(*f);
        }
        if crate::rules::blas::has_rule(req.function) {
            let ret = ir::return_type(ir::function_type(req.function));
            let split = ReverseRequest { combined: false, return_primal: req.return_primal && !ir::is_void(ret), return_shadow: false, ..req.clone() };
            if !self.reverse_cache.contains_key(&split) {
                let fns = crate::rules::blas::split_rule(&Builder::new(self.module), req.function, &split)?;
                self.reverse_cache.insert(split.clone(), fns);
            }
            if !req.combined {
                return Ok(self.reverse_cache[&split]);
            }
        }
        if req.combined {
            if let Some(f) = self.combined_from_custom_rule(req)? {
                return Ok(f);
            }
        }
        gen::generate(self, req)
    }

    /// A combined-mode derivative of a function with a custom split rule: call the
    /// augmented forward, then the reverse.
    fn combined_from_custom_rule(&mut self, req: &ReverseRequest) -> Result<Option<ReverseFunctions>> {
        if !self.has_custom_rule(req.function) {
            return Ok(None);
        }
        let ret = ir::return_type(ir::function_type(req.function));
        let split = ReverseRequest { combined: false, return_primal: req.return_primal && !ir::is_void(ret), return_shadow: false, ..req.clone() };
        let alt = ReverseRequest { return_primal: !split.return_primal && !ir::is_void(ret), ..split.clone() };
        let Some((split, fns)) = [split, alt].into_iter().find_map(|k| self.reverse_cache.get(&k).map(|f| (k.clone(), *f))) else { return Ok(None) };
        let b = Builder::new(self.module);
        let sig = signatures(&b, req);
        let ssig = signatures(&b, &split);
        let name = format!("diffe{}", ir::name_of(req.function));
        let f = unsafe { LLVMAddFunction(self.module, ir::cstring(&name).as_ptr(), sig.combined_or_reverse) };
        unsafe { LLVMSetLinkage(f, llvm_sys::LLVMLinkage::LLVMInternalLinkage) };
        let entry = unsafe { LLVMAppendBasicBlockInContext(b.ctx, f, b"entry\0".as_ptr() as *const _) };
        b.position_at_end(entry);
        let params = ir::params(f);
        let n_primal = ir::param_types(ssig.augmented).len();
        let aug = b.call(ssig.augmented, fns.forward, &params[..n_primal]);
        let parts = unpack(&b, aug, ssig.augmented_results.len());
        let mut rev_args: Vec<Value> = params[..n_primal].to_vec();
        if req.return_active {
            rev_args.push(params[n_primal]);
        }
        rev_args.push(parts[0]);
        let r = b.call(ssig.combined_or_reverse, fns.reverse, &rev_args);
        let mut results = Vec::new();
        if req.return_primal && split.return_primal {
            results.push(parts[1]);
        }
        results.extend(unpack(&b, r, ssig.adjoint_results.len()));
        let packed = b.pack(&results);
        b.ret(packed);
        let fns = ReverseFunctions { forward: f, reverse: f };
        self.reverse_cache.insert(req.clone(), fns);
        Ok(Some(fns))
    }

    /// The reverse-mode derivative of a GPU kernel, itself a kernel: combined mode, every
    /// argument followed by its shadow when duplicated; adjoints of scalars cannot be
    /// returned from a kernel, so active scalars are refused.
    pub fn differentiate_kernel(&mut self, req: &ReverseRequest) -> Result<ReverseFunctions> {
        self.check_kernel_request(req.function, req.args.iter().any(|a| *a == RevArg::Active) || !req.combined)?;
        let fns = self.reverse(req)?;
        crate::rules::gpu::mark_as_kernel(req.function, fns.reverse);
        Ok(fns)
    }
}
