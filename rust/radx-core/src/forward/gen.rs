//! The forward generator: its state (`ForwardFn`), the walk over the primal's blocks, the
//! rule-table and structural instructions, and `Engine::forward`, which runs it.
//!
//! Floor: the bottom of forward mode; `calls.rs`, `memory.rs`, `julia.rs` and
//! `parallel.rs` add `ForwardFn`'s methods for their instructions on top of it.

use crate::analysis::activity::Activity;
use crate::analysis::nonzero::is_nonzero_finite;
use crate::diag::{opcode_name, short, Code, Diagnostic, Result};
use crate::engine::Engine;
use crate::ir::{self, builder::Builder, clone, Value};
use crate::request::{ArgActivity, ForwardRequest, GeneratedFunction};
use crate::rules::cancel::Known;
use crate::rules::{self, structural, Rule};
use crate::signature::derivative_signature;
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::{self, *};
use crate::collections::HashMap;

impl Engine {
    /// The forward derivative for `req`, generated on first use.
    pub fn forward(&mut self, req: &ForwardRequest) -> Result<Value> {
        if let Some(&f) = self.forward_cache.get(req) {
            return Ok(f);
        }
        if crate::rules::blas::has_rule(req.function) {
            let f = crate::rules::blas::forward_rule(&Builder::new(self.module), req.function, req)?;
            self.forward_cache.insert(req.clone(), f);
            return Ok(f);
        }
        let prepared = self.prepare(req.function)?;
        let b = Builder::new(self.module);
        let (fn_ty, _) = derivative_signature(&b, ir::function_type(req.function), req);
        let name = format!("fwddiffe{}{}", if req.width > 1 { req.width.to_string() } else { String::new() }, ir::name_of(req.function));
        let func = unsafe { LLVMAddFunction(self.module, ir::cstring(&name).as_ptr(), fn_ty) };
        unsafe { LLVMSetLinkage(func, llvm_sys::LLVMLinkage::LLVMInternalLinkage) };
        clone::copy_codegen_fn_attributes(req.function, func);
        clone::align_to_cache_line(func);
        // Recursive calls find the function in the cache while its body is being built.
        self.forward_cache.insert(req.clone(), func);
        let active_args: Vec<bool> = req.args.iter().map(|a| *a == ArgActivity::Dup).collect();
        let activity = self.activity(prepared, &active_args);
        let result = ForwardFn::new(self, req, prepared, func, activity).generate();
        if let Err(e) = result {
            self.forward_cache.remove(req);
            unsafe { LLVMDeleteFunction(func) };
            // An error inside a callee's derivative already names the callee.
            return Err(if e.function.is_some() { e } else { e.in_function(crate::diag::demangle_clone_name(&ir::name_of(prepared)).to_string()) });
        }
        // A kernel's derivative is a kernel too (launched from the host).
        if crate::rules::gpu::is_kernel(req.function) && ir::is_void(ir::return_type(fn_ty)) {
            crate::rules::gpu::mark_as_kernel(req.function, func);
        }
        self.generated.push(GeneratedFunction {
            name: ir::name_of(func),
            source: ir::name_of(req.function),
            mode: "forward",
            width: req.width,
            instructions: ir::all_instructions(func).len(),
            tape: None,
        });
        Ok(func)
    }

    /// The forward-mode derivative of a GPU kernel, itself a kernel.
    pub fn forward_kernel(&mut self, req: &ForwardRequest) -> Result<Value> {
        self.check_kernel_request(req.function, req.return_primal || req.return_tangent)?;
        let f = self.forward(req)?;
        crate::rules::gpu::mark_as_kernel(req.function, f);
        Ok(f)
    }
}

/// The state of one forward derivative under construction.
pub(crate) struct ForwardFn<'e> {
    pub engine: &'e mut Engine,
    pub req: ForwardRequest,
    pub primal: Value,
    pub func: Value,
    pub activity: Activity,
    pub b: Builder,
    /// Primal value (of the prepared function) -> its copy in the derivative.
    pub map: clone::ValueMap,
    /// Primal value -> its shadow in each direction.
    pub shadows: HashMap<Value, Vec<Value>>,
    phis: Vec<Value>,
}

impl<'e> ForwardFn<'e> {
    fn new(engine: &'e mut Engine, req: &ForwardRequest, primal: Value, func: Value, activity: Activity) -> ForwardFn<'e> {
        let b = Builder::new(engine.module);
        ForwardFn { engine, req: req.clone(), primal, func, activity, b, map: HashMap::default(), shadows: HashMap::default(), phis: Vec::new() }
    }

    pub fn width(&self) -> usize {
        self.req.width as usize
    }

    fn generate(mut self) -> Result<()> {
        let mut new_params = ir::params(self.func).into_iter();
        for (p, a) in ir::params(self.primal).into_iter().zip(self.req.args.clone()) {
            let np = new_params.next().expect("signature");
            ir::set_name(np, &ir::name_of(p));
            self.map.insert(p, np);
            let idx = self.map.len() as u32 - 1;
            let _ = idx;
            if a == ArgActivity::Dup {
                let lanes: Vec<Value> = (0..self.width()).map(|_| new_params.next().expect("signature")).collect();
                for &l in &lanes {
                    ir::set_name(l, &format!("d{}", ir::name_of(p)));
                }
                self.shadows.insert(p, lanes);
            }
        }
        self.copy_param_attributes();
        let order = ir::reverse_post_order(self.primal);
        let ctx = self.b.ctx;
        for i in ir::all_instructions(self.primal) {
            for o in ir::operands(i) {
                if self.engine.global_shadows.contains_key(&o) && !self.shadows.contains_key(&o) {
                    let lanes = (0..self.width()).map(|l| self.engine.global_shadow(o, l).unwrap()).collect();
                    self.shadows.insert(o, lanes);
                }
            }
        }
        let shared = crate::analysis::shared::shared_globals(self.primal);
        let preamble = if shared.is_empty() {
            None
        } else {
            for &g in &shared {
                let lanes = (0..self.width()).map(|l| crate::analysis::shared::make_shadow(g, l)).collect();
                self.shadows.insert(g, lanes);
            }
            Some(unsafe { LLVMAppendBasicBlockInContext(ctx, self.func, b"entry\0".as_ptr() as *const _) })
        };
        for &bb in &order {
            let nb = unsafe { LLVMAppendBasicBlockInContext(ctx, self.func, ir::cstring(&ir::name_of(ir::block_as_value(bb))).as_ptr()) };
            self.map.insert(ir::block_as_value(bb), ir::block_as_value(nb));
        }
        for &bb in &order {
            let nb = ir::value_as_block(self.map[&ir::block_as_value(bb)]).unwrap();
            self.b.position_at_end(nb);
            for inst in ir::instructions(bb) {
                if clone::is_debug_intrinsic(inst) {
                    continue;
                }
                self.visit(inst)?;
            }
        }
        self.complete_phis()?;
        if let Some(pre) = preamble {
            let first = ir::value_as_block(self.map[&ir::block_as_value(order[0])]).unwrap();
            self.b.position_at_end(pre);
            self.b.br(first);
            let all: Vec<Value> = shared.iter().flat_map(|g| self.shadows[g].clone()).collect();
            crate::analysis::shared::zero_on_entry(self.func, pre, &all);
        }
        Ok(())
    }

    fn copy_param_attributes(&self) {
        let mut k = 0u32;
        for (i, a) in self.req.args.iter().enumerate() {
            clone::copy_param_attributes(self.req.function, i as u32, self.func, k);
            k += 1;
            if *a == ArgActivity::Dup {
                for _ in 0..self.width() {
                    clone::copy_param_attributes(self.req.function, i as u32, self.func, k);
                    k += 1;
                }
            }
        }
    }

    pub fn is_active(&self, v: Value) -> bool {
        self.activity.is_active(v)
    }

    /// The copy of primal value `v` in the derivative (constants map to themselves).
    pub fn primal(&self, v: Value) -> Value {
        self.map.get(&v).copied().unwrap_or(v)
    }

    pub fn shadow(&self, v: Value, lane: usize) -> Option<Value> {
        self.shadows.get(&v).map(|s| s[lane])
    }

    /// The shadow of `v`, or zero when `v` is inactive. A pointer with no shadow has no
    /// zero: using one where a shadow is needed is an activity error at `at`.
    pub fn shadow_or_zero(&self, v: Value, lane: usize, at: Value) -> Result<Value> {
        if let Some(s) = self.shadow(v, lane) {
            return Ok(s);
        }
        let t = ir::type_of(v);
        if ir::contains_pointer(t) && !ir::is_null_or_undef(v) {
            return Err(Diagnostic::new(
                Code::Activity,
                format!("a pointer without a shadow (`{}`) is used where its shadow is needed", short(v)),
            )
            .at(at)
            .hint("the pointer comes from an inactive (enzyme_const) argument or a global; pass it with enzyme_dup if derivatives flow through the memory it points to"));
        }
        Ok(ir::const_null(t))
    }

    pub(super) fn set_shadows(&mut self, v: Value, lanes: Vec<Value>) {
        self.shadows.insert(v, lanes);
    }

    pub(super) fn clone_primal(&mut self, inst: Value) -> Value {
        let c = clone::clone_instruction(&self.b, inst, &self.map, false);
        self.map.insert(inst, c);
        c
    }

    fn visit(&mut self, inst: Value) -> Result<()> {
        let op = ir::opcode(inst).unwrap();
        match op {
            LLVMPHI => {
                let p = self.b.phi(ir::type_of(inst));
                ir::set_name(p, &ir::name_of(inst));
                self.map.insert(inst, p);
                if self.is_active(inst) {
                    let lanes = (0..self.width()).map(|_| self.b.phi(ir::type_of(inst))).collect();
                    self.set_shadows(inst, lanes);
                }
                self.phis.push(inst);
                Ok(())
            }
            LLVMRet => self.visit_return(inst),
            LLVMCall => self.visit_call(inst),
            LLVMStore => self.visit_store(inst),
            LLVMAlloca => self.visit_alloca(inst),
            LLVMAtomicRMW => self.visit_atomicrmw(inst),
            LLVMInvoke | LLVMCallBr => Err(Diagnostic::new(Code::Unsupported, "calls that can unwind (invoke) are not differentiated")
                .at(inst)
                .hint("compile C++ with -fno-exceptions, or mark the callee noexcept")),
            _ => {
                self.clone_primal(inst);
                if !self.is_active(inst) {
                    return Ok(());
                }
                if structural::shadow_operands(op).is_some() {
                    return self.visit_structural(inst, op);
                }
                if let Some(rule) = rules::rule_for_opcode(op) {
                    let args = ir::operands(inst);
                    return self.apply_rule(inst, rule, &args);
                }
                Err(Diagnostic::new(Code::NoRule, format!("no forward-mode rule for the `{}` instruction", opcode_name(op))).at(inst))
            }
        }
    }

    /// Structural instructions: the same instruction over the shadows of its data operands.
    fn visit_structural(&mut self, inst: Value, op: LLVMOpcode) -> Result<()> {
        let data = structural::shadow_operands(op).unwrap();
        let mut lanes = Vec::with_capacity(self.width());
        for lane in 0..self.width() {
            let mut ops = Vec::new();
            for &k in data {
                ops.push((k, self.shadow_or_zero(ir::operand(inst, k), lane, inst)?));
            }
            let c = unsafe { LLVMInstructionClone(inst) };
            clone::remap_operands(c, &self.map);
            for (k, v) in ops {
                ir::set_operand(c, k, v);
            }
            unsafe { LLVMInsertIntoBuilderWithName(self.b.raw(), c, ir::cstring(&format!("d{}", ir::name_of(inst))).as_ptr()) };
            ir::clear_debug_loc(c);
            if op == LLVMLoad {
                crate::shadows::strip_value_metadata(c);
            }
            lanes.push(c);
        }
        self.set_shadows(inst, lanes);
        Ok(())
    }

    /// Elementwise rules: tangent = Σ ∂f/∂xᵢ · ẋᵢ, with the partials evaluated once for all
    /// directions and unit partials folded away.
    pub fn apply_rule(&mut self, inst: Value, rule: &Rule, args: &[Value]) -> Result<()> {
        if args.len() < rule.params.len() {
            return Err(Diagnostic::new(Code::NoRule, format!("`{}` called with {} arguments, the rule expects {}", rule.name, args.len(), rule.params.len())).at(inst));
        }
        let ty = ir::type_of(inst);
        let result = self.primal(inst);
        let mut terms: Vec<(Option<f64>, Option<Value>, usize, Value)> = Vec::new();
        let mut partial_values: Vec<(usize, Option<f64>, Option<Value>)> = Vec::new();
        let arg_vals: Vec<Value> = args.iter().map(|a| self.primal(*a)).collect();
        let var = |name: &str| -> Value {
            if name == "r" {
                result
            } else {
                arg_vals[rule.param_index(name).expect("rule variable")]
            }
        };
        for (i, p) in rule.partials.iter().enumerate() {
            let Some(p) = p else { continue };
            if !self.shadows.contains_key(&args[i]) {
                continue;
            }
            if let Some(c) = p.as_const() {
                partial_values.push((i, Some(c), None));
            } else if self.width() == 1 {
                // One direction: the partial meets its tangent where it is emitted
                // (`Expr::emit_times` divides by a reciprocal's denominator).
                partial_values.push((i, None, None));
            } else {
                partial_values.push((i, None, Some(p.emit_in(&self.b, ty, &var, Known::plain()))));
            }
        }
        let known = Known { nonzero: &is_nonzero_finite, cancel: self.engine.options.enabled("cancel-factors") };
        let mut lanes = Vec::with_capacity(self.width());
        for lane in 0..self.width() {
            terms.clear();
            for &(i, c, v) in &partial_values {
                let t = self.shadow(args[i], lane).unwrap();
                terms.push((c, v, i, t));
            }
            let mut acc: Option<Value> = None;
            for &(c, pv, i, t) in &terms {
                let term = match (c, pv) {
                    (Some(c), _) if c == 0.0 => continue,
                    (Some(c), _) if c == 1.0 => t,
                    (Some(c), _) if c == -1.0 => self.b.fneg(t),
                    (Some(c), _) => self.b.fmul(self.b.const_float(ty, c), t),
                    (None, Some(pv)) => self.b.fmul(pv, t),
                    (None, None) => rule.partials[i].as_ref().expect("a partial was listed").emit_times(&self.b, ty, &var, t, known),
                };
                acc = Some(match acc {
                    None => term,
                    Some(a) => self.b.fadd(a, term),
                });
            }
            lanes.push(acc.unwrap_or_else(|| ir::const_null(ty)));
        }
        self.set_shadows(inst, lanes);
        Ok(())
    }

    fn visit_return(&mut self, inst: Value) -> Result<()> {
        let mut vals = Vec::new();
        if ir::num_operands(inst) == 1 {
            let v = ir::operand(inst, 0);
            if self.req.return_primal {
                vals.push(self.primal(v));
            }
            if self.req.return_tangent {
                for lane in 0..self.width() {
                    vals.push(self.shadow_or_zero(v, lane, inst)?);
                }
            }
        }
        let packed = self.b.pack(&vals);
        self.b.ret(packed);
        Ok(())
    }

    fn complete_phis(&mut self) -> Result<()> {
        for phi in std::mem::take(&mut self.phis) {
            let new = self.map[&phi];
            let map = &self.map;
            clone::add_mapped_incoming(phi, new, map, |v| map.get(&v).copied().unwrap_or(v));
            if let Some(lanes) = self.shadows.get(&phi).cloned() {
                for (lane, sp) in lanes.into_iter().enumerate() {
                    let mut err = None;
                    let this = &*self;
                    clone::add_mapped_incoming(phi, sp, &this.map, |v| match this.shadow_or_zero(v, lane, phi) {
                        Ok(s) => s,
                        Err(e) => {
                            err = Some(e);
                            ir::const_null(ir::type_of(v))
                        }
                    });
                    if let Some(e) = err {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
}
