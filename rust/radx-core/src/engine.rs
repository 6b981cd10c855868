//! The engine: owns the module being transformed and the caches shared by all requests
//! (prepared clones of functions, generated derivative functions, callee activity).
//!
//! Floor: above the requests, signatures, analyses and rules, below the generators. It
//! prepares the copies derivatives are made from, records custom rules and answers
//! activity questions; the generators (`forward::gen`, `reverse`) add `Engine::forward`
//! and `Engine::reverse` on top of it and fill its caches, so nothing here calls them.

use crate::analysis::activity;
use crate::diag::{Code, Diagnostic, Result, PREPARED_PREFIX};
use crate::ir::{self, clone, Value};
use crate::options::Options;
use crate::request::{ForwardRequest, GeneratedFunction, ReverseFunctions, ReverseRequest};
use crate::signature::{derivative_signature, signatures};
use llvm_sys::core::*;
use llvm_sys::prelude::LLVMModuleRef;
use crate::collections::{HashMap, HashSet};

pub struct Engine {
    pub module: LLVMModuleRef,
    pub options: Options,
    prepared: HashMap<Value, Value>,
    pub(crate) forward_cache: HashMap<ForwardRequest, Value>,
    pub(crate) reverse_cache: HashMap<ReverseRequest, ReverseFunctions>,
    result_active_memo: HashMap<(Value, Vec<bool>), bool>,
    result_active_in_progress: HashSet<(Value, Vec<bool>)>,
    pub generated: Vec<GeneratedFunction>,
    /// Mutable globals the differentiated code writes floating-point data into, with
    /// their shadows (one per batch lane).
    pub global_shadows: HashMap<Value, Vec<Value>>,
    /// Functions with a user-registered derivative (custom rule), by function.
    pub custom_rules: HashSet<Value>,
    /// Time spent in LLVM's preparation pipelines (reported apart from the AD itself).
    pub prepare_time: std::time::Duration,
    pub reassoc_adds: crate::ir::fast_math::ReassocAdds,
    /// The module kept its debug information as records (LLVM 19) when the engine took it:
    /// `finish` puts it back so.
    debug_records: bool,
    /// Pointer arguments of magic calls, by the original function and parameter they go
    /// to, with the function that passes them (`analysis::caller_types`).
    argument_sources: HashMap<Value, Vec<(usize, Value, Value)>>,
    /// What derivatives already made took those arguments to hold.
    learnt_argument_types: std::cell::RefCell<HashMap<(Value, usize), crate::analysis::memory::MemoryTypes>>,
}

impl Engine {
    pub fn new(module: LLVMModuleRef, options: Options) -> Engine {
        // The generators clone and move instructions one by one; debug information has to
        // be instructions too (`llvm.dbg.*` calls) to travel with them.
        let debug_records = ir::llvm::use_debug_intrinsics(module);
        Engine {
            debug_records,
            module,
            options,
            prepared: HashMap::default(),
            forward_cache: HashMap::default(),
            reverse_cache: HashMap::default(),
            result_active_memo: HashMap::default(),
            result_active_in_progress: HashSet::default(),
            generated: Vec::new(),
            global_shadows: HashMap::default(),
            prepare_time: std::time::Duration::ZERO,
            reassoc_adds: Default::default(),
            argument_sources: HashMap::default(),
            learnt_argument_types: Default::default(),
            custom_rules: HashSet::default(),
        }
    }

    /// The canonicalised copy of `original` that derivatives are generated from, made
    /// together with copies of every function it may call (one pass-pipeline run).
    pub fn prepare(&mut self, original: Value) -> Result<Value> {
        if let Some(&p) = self.prepared.get(&original) {
            return Ok(p);
        }
        if ir::is_declaration(original) {
            return Err(Diagnostic::new(Code::BadRequest, format!("`{}` is only declared here; its body is needed to differentiate it", ir::name_of(original)))
                .hint("define the function in the same translation unit, or link its bitcode in before running radx"));
        }
        // Each function with the user's function it came from: an OpenMP region's outlined
        // body has a compiler-made name the user never wrote.
        let mut todo = vec![(original, original)];
        let mut fresh = Vec::new();
        let mut seen = HashSet::default();
        while let Some((f, owner)) = todo.pop() {
            if self.prepared.contains_key(&f) || ir::is_declaration(f) || !seen.insert(f) {
                continue;
            }
            crate::rules::openmp::check_supported(f).map_err(|mut d| {
                d.function = Some(ir::name_of(owner));
                d
            })?;
            let copy = self.clone_for_preparation(f);
            crate::rules::openmp::serialize_parallel_regions(copy);
            crate::rules::openmp::use_critical_reductions(copy);
            fresh.push((f, copy));
            for i in ir::all_instructions(f) {
                if ir::opcode(i) == Some(llvm_sys::LLVMOpcode::LLVMCall) {
                    if let Some(callee) = ir::called_function(i) {
                        todo.push((callee, callee));
                    }
                    if let Some(outlined) = crate::rules::openmp::forked_function(i) {
                        todo.push((outlined, owner));
                    }
                }
            }
        }
        let copies: Vec<Value> = fresh.iter().map(|(_, c)| *c).collect();
        self.inline_regions_capturing_scalars(&fresh)?;
        if crate::rules::gpu::is_gpu_module(self.module) {
            self.inline_device_callees(&fresh)?;
        } else if self.options.enabled("inline") {
            self.inline_small_callees(&fresh)?;
        }
        if self.options.enabled("scalar-shifted-updates") {
            for &c in &copies {
                crate::analysis::shifted_vector_loops::scalarize_shifted_vector_updates(c, self.options.enabled("aligned-shifted-updates"));
            }
        }
        if self.options.preopt {
            let t = std::time::Instant::now();
            ir::passes::run_function_passes(self.module, &copies, ir::passes::PREPARE_PIPELINE)?;
            let needing_indvars: Vec<Value> = copies.iter().copied().filter(|&c| crate::analysis::exit_values::needs_indvars(c)).collect();
            if !needing_indvars.is_empty() {
                ir::passes::run_function_passes(self.module, &needing_indvars, ir::passes::INDVARS_PIPELINE)?;
            }
            self.prepare_time += t.elapsed();
        }
        for &c in &copies {
            if self.options.preopt {
                crate::analysis::exit_values::rewrite_exit_values(c);
            }
            crate::rules::reductions::expand_vector_reductions(c);
            crate::analysis::memory::retype_float_moves(c);
            if self.options.enabled("forward-stores") {
                crate::analysis::forwarding::forward_scratch_stores(c);
            }
        }
        for &(_, c) in &fresh {
            for g in written_float_globals(c) {
                self.global_shadows.entry(g).or_insert_with(|| vec![make_global_shadow(g, 0)]);
            }
        }
        for (f, c) in fresh {
            define_poison_lanes(c);
            crate::analysis::shared::expand_shared_constant_exprs(c);
            let shadowed: Vec<Value> = self.global_shadows.keys().copied().collect();
            crate::analysis::shared::expand_constant_exprs_of(c, &|g| shadowed.contains(&g));
            // What derivatives are generated from, for people debugging a derivative.
            if std::env::var_os("RADX_PRINT_PREPARED").is_some() {
                eprintln!("{}", ir::value_to_string(c));
            }
            self.prepared.insert(f, c);
        }
        Ok(self.prepared[&original])
    }

    /// A magic call passes `arg` (in `caller`) for parameter `k` of `original`: what the
    /// caller knows about that memory may say what a copy of it moves (`caller_types`).
    /// Fails when a derivative of `original` was already made taking that memory to hold
    /// another floating-point type: it would serve this call too.
    pub fn note_argument(&mut self, original: Value, k: usize, caller: Value, arg: Value) -> Result<()> {
        if let Some(before) = self.learnt_argument_types.borrow().get(&(original, k)) {
            let now = crate::analysis::caller_types::passed(caller, arg);
            if let (Some(a), Some(b)) = (before.float, now.float) {
                if a != b {
                    return Err(Diagnostic::new(
                        Code::Unsupported,
                        format!(
                            "this call passes memory holding `{}` as parameter {} of `{}`, whose derivative was made for `{}` (learnt from another call): the copies it makes would move the wrong type",
                            ir::type_to_string(b),
                            k + 1,
                            ir::name_of(original),
                            ir::type_to_string(a)
                        ),
                    )
                    .hint("give each element type a function of its own, or add a type hint before the copy, e.g. __enzyme_double(dst, bytes)"));
                }
            }
        }
        self.argument_sources.entry(original).or_default().push((k, caller, arg));
        Ok(())
    }

    /// What the callers of the prepared copy `copy` know about the memory `ptrs` point into:
    /// asked where the copy itself says nothing.
    pub fn caller_types(&self, copy: Value, ptrs: &[Value]) -> crate::analysis::memory::MemoryTypes {
        crate::analysis::caller_types::Callers { magic: &self.argument_sources, prepared: &self.prepared, learnt: &self.learnt_argument_types }.types(copy, ptrs)
    }

    fn clone_for_preparation(&mut self, f: Value) -> Value {
        let name = format!("{PREPARED_PREFIX}{}", ir::name_of(f));
        unsafe {
            let copy = LLVMAddFunction(self.module, ir::cstring(&name).as_ptr(), ir::function_type(f));
            LLVMSetLinkage(copy, llvm_sys::LLVMLinkage::LLVMInternalLinkage);
            for i in 0..ir::params(f).len() as u32 {
                clone::copy_param_attributes(f, i, copy, i);
            }
            clone::copy_codegen_fn_attributes(f, copy);
            // A body with landing pads is invalid without its personality, and the passes
            // run on the copy crash on it before the invoke can be refused.
            if LLVMHasPersonalityFn(f) != 0 {
                LLVMSetPersonalityFn(copy, LLVMGetPersonalityFn(f));
            }
            clone::clone_body(f, copy, true);
            copy
        }
    }

    /// GPU code: callees are inlined into the prepared copies, as device code is anyway,
    /// so derivatives need no split-mode tapes on a device heap (AMDGPU has none).
    fn inline_device_callees(&mut self, fresh: &[(Value, Value)]) -> Result<()> {
        let copy_of: HashMap<Value, Value> = fresh.iter().copied().chain(self.prepared.iter().map(|(a, b)| (*a, *b))).collect();
        for &(_, c) in fresh {
            for i in ir::all_instructions(c) {
                if ir::opcode(i) != Some(llvm_sys::LLVMOpcode::LLVMCall) {
                    continue;
                }
                if let Some(&callee_copy) = ir::called_function(i).and_then(|f| copy_of.get(&f)) {
                    let n = ir::num_operands(i);
                    ir::set_operand(i, n - 1, callee_copy);
                }
            }
        }
        let copies: Vec<Value> = fresh.iter().map(|(_, c)| *c).collect();
        self.inline_into_copies(&copies, &copies)
    }

    /// Inlines every call of a function in `inlined` made by a function in `copies` (all
    /// prepared copies). Nothing else changes: other `alwaysinline` functions (RadX's tape
    /// helpers, called by derivatives made earlier) lose the attribute meanwhile, so
    /// neither are they inlined elsewhere nor deleted once unused; and the copies are
    /// external meanwhile, since the inliner deletes internal functions it has inlined
    /// everywhere and each copy may still be differentiated itself.
    fn inline_into_copies(&mut self, copies: &[Value], inlined: &[Value]) -> Result<()> {
        let shielded: Vec<Value> = ir::functions(self.module).into_iter().filter(|f| !inlined.contains(f) && ir::has_fn_attr(*f, "alwaysinline")).collect();
        for &f in &shielded {
            ir::remove_fn_attr(f, "alwaysinline");
        }
        let all_copies: Vec<Value> = copies.iter().copied().chain(self.prepared.values().copied()).collect();
        for &c in &all_copies {
            unsafe { LLVMSetLinkage(c, llvm_sys::LLVMLinkage::LLVMExternalLinkage) };
        }
        for &c in inlined {
            ir::remove_fn_attr(c, "noinline");
            ir::add_fn_attr(c, "alwaysinline");
        }
        let t = std::time::Instant::now();
        let result = ir::passes::run_function_passes(self.module, copies, "always-inline");
        self.prepare_time += t.elapsed();
        for &c in &all_copies {
            unsafe { LLVMSetLinkage(c, llvm_sys::LLVMLinkage::LLVMInternalLinkage) };
        }
        for &c in inlined {
            ir::remove_fn_attr(c, "alwaysinline");
        }
        for &f in &shielded {
            ir::add_fn_attr(f, "alwaysinline");
        }
        result
    }

    /// CPU code: calls of small functions are inlined into the prepared copies, so the
    /// callee's derivative is part of the caller's (one sweep, values cached or recomputed
    /// across the call boundary) instead of an augmented forward and a reverse exchanging a
    /// tape. Small: at most `INLINE_LIMIT` instructions, not variadic, not (mutually)
    /// recursive, no custom derivative, not RadX's own runtime. Only the prepared copies
    /// change, so -O0's `optnone`/`noinline` do not stop it.
    fn inline_small_callees(&mut self, fresh: &[(Value, Value)]) -> Result<()> {
        let copy_of: HashMap<Value, Value> = fresh.iter().copied().collect();
        // A parallel region's outlined function stays a call: forward mode forks it.
        self.inline_chosen_calls(fresh, &copy_of, |e, call, callee| e.worth_inlining(callee) && crate::rules::openmp::region_of(call).is_none())
    }

    /// A parallel region that captures a scalar by value (`firstprivate`) gets it as a
    /// pointer-sized integer holding the value's bits, and a derivative cannot follow a
    /// float through an integer parameter: such regions are inlined where they are called,
    /// whatever the `inline` switch says, so the bits are seen to be a float again.
    fn inline_regions_capturing_scalars(&mut self, fresh: &[(Value, Value)]) -> Result<()> {
        let copy_of: HashMap<Value, Value> = fresh.iter().copied().chain(self.prepared.iter().map(|(a, b)| (*a, *b))).collect();
        self.inline_chosen_calls(fresh, &copy_of, |_, call, _| {
            crate::rules::openmp::region_of(call).is_some()
                && !crate::rules::openmp::is_serialization_bracket(call)
                && !ir::call_args(call).iter().skip(2).all(|a| ir::is_pointer(ir::type_of(*a)))
        })
    }

    /// Inlines, into the fresh copies, the calls `pick(engine, call, callee)` chooses among
    /// those of functions with a prepared copy (`copy_of`): the copy is what gets inlined.
    fn inline_chosen_calls(&mut self, fresh: &[(Value, Value)], copy_of: &HashMap<Value, Value>, pick: impl Fn(&Engine, Value, Value) -> bool) -> Result<()> {
        let mut chosen = HashSet::default();
        for &(_, c) in fresh {
            for i in ir::all_instructions(c) {
                if ir::opcode(i) != Some(llvm_sys::LLVMOpcode::LLVMCall) {
                    continue;
                }
                let Some(callee) = ir::called_function(i) else { continue };
                let Some(&callee_copy) = copy_of.get(&callee) else { continue };
                if !pick(self, i, callee) {
                    continue;
                }
                let n = ir::num_operands(i);
                ir::set_operand(i, n - 1, callee_copy);
                chosen.insert(callee_copy);
            }
        }
        if chosen.is_empty() {
            return Ok(());
        }
        let copies: Vec<Value> = fresh.iter().map(|(_, c)| *c).collect();
        let chosen: Vec<Value> = chosen.into_iter().collect();
        self.inline_into_copies(&copies, &chosen)
    }

    fn worth_inlining(&self, callee: Value) -> bool {
        let name = ir::name_of(callee);
        !ir::is_declaration(callee)
            && !name.starts_with("radx.")
            && !self.has_custom_rule(callee)
            && !ir::is_vararg(ir::function_type(callee))
            && ir::all_instructions(callee).len() <= INLINE_LIMIT
            && !reaches_itself(callee)
            && self.calls_only_known_functions(callee)
    }

    /// Does `f` call nothing RadX would reject? A callee that calls an external function
    /// without a derivative is left as a call, so the diagnostic names it, not its caller.
    fn calls_only_known_functions(&self, f: Value) -> bool {
        ir::all_instructions(f).into_iter().filter(|&i| ir::opcode(i) == Some(llvm_sys::LLVMOpcode::LLVMCall)).all(|i| {
            let Some(g) = ir::called_function(i) else { return false };
            let name = ir::name_of(g);
            if !ir::is_declaration(g) {
                return self.worth_inlining(g);
            }
            name.starts_with("llvm.")
                || crate::rules::rule_for_callee(&name).is_some()
                || crate::rules::memory::allocator(&name).is_some()
                || crate::rules::memory::memory_transfer(&name).is_some()
                || crate::rules::memory::is_inactive_function(&name)
        })
    }

    /// The original function a prepared copy was made from.
    /// Every function prepared so far: original to the copy derivatives are made from.
    pub fn prepared_copies(&self) -> &HashMap<Value, Value> {
        &self.prepared
    }

    pub fn original_of(&self, prepared: Value) -> Value {
        self.prepared.iter().find(|(_, &p)| p == prepared).map(|(&o, _)| o).unwrap_or(prepared)
    }

    /// Registers `f` as the forward derivative for `req` (a custom rule): it must have the
    /// signature RadX would generate for that request. Calls matching the request, and the
    /// request itself, use it; a function with only a declaration becomes differentiable.
    pub fn register_forward_rule(&mut self, req: &ForwardRequest, f: Value) -> Result<()> {
        let b = crate::ir::builder::Builder::new(self.module);
        let (want, _) = derivative_signature(&b, ir::function_type(req.function), req);
        check_rule_type(req.function, f, want, "forward")?;
        self.forward_cache.insert(req.clone(), f);
        self.custom_rules.insert(req.function);
        Ok(())
    }

    /// Registers an augmented forward and a reverse (split mode) for `req` as a custom rule.
    /// Combined-mode requests for the same arguments are served by a wrapper calling both.
    pub fn register_reverse_rule(&mut self, req: &ReverseRequest, augmented: Value, reverse: Value) -> Result<()> {
        if req.combined {
            return Err(Diagnostic::new(Code::BadRequest, "a custom reverse rule is registered as a split pair: augmented forward and reverse").hint("set combined to false in the request"));
        }
        let b = crate::ir::builder::Builder::new(self.module);
        let sig = signatures(&b, req);
        check_rule_type(req.function, augmented, sig.augmented, "augmented forward")?;
        check_rule_type(req.function, reverse, sig.combined_or_reverse, "reverse")?;
        self.reverse_cache.insert(req.clone(), ReverseFunctions { forward: augmented, reverse });
        self.custom_rules.insert(req.function);
        Ok(())
    }

    /// A registered rule, or one RadX has built in (BLAS, `rules::blas`).
    pub fn has_custom_rule(&self, f: Value) -> bool {
        self.custom_rules.contains(&f) || crate::rules::blas::has_rule(f)
    }

    /// Whether `callee` returns an active value when called with `active_args` active.
    /// Recursion is resolved optimistically (a recursive call is assumed active).
    pub fn result_active(&mut self, callee: Value, active_args: &[bool]) -> bool {
        if self.has_custom_rule(callee) {
            return ir::is_differentiable_type(ir::return_type(ir::function_type(callee)));
        }
        let key = (callee, active_args.to_vec());
        if let Some(&r) = self.result_active_memo.get(&key) {
            return r;
        }
        if !self.result_active_in_progress.insert(key.clone()) {
            return ir::is_differentiable_type(ir::return_type(ir::function_type(callee)));
        }
        let r = match self.prepare(callee) {
            Ok(p) => {
                let globals: Vec<Value> = self.global_shadows.keys().copied().collect();
                let act = activity::analyze(p, active_args, &globals, &mut |c, a| self.result_active(c, a));
                ir::all_instructions(p).into_iter().any(|i| {
                    ir::opcode(i) == Some(llvm_sys::LLVMOpcode::LLVMRet) && ir::num_operands(i) == 1 && act.is_active(ir::operand(i, 0))
                })
            }
            Err(_) => false,
        };
        self.result_active_in_progress.remove(&key);
        self.result_active_memo.insert(key, r);
        r
    }

    /// Analyses `prepared` under the given argument activity.
    pub fn activity(&mut self, prepared: Value, active_args: &[bool]) -> activity::Activity {
        let globals: Vec<Value> = self.global_shadows.keys().copied().collect();
        activity::analyze(prepared, active_args, &globals, &mut |c, a| self.result_active(c, a))
    }

    /// Shadows of globals start at zero for each request: what a global held before the
    /// call has no derivative, and adjoints must not carry over from earlier calls.
    pub fn zero_global_shadows(&mut self, b: &crate::ir::builder::Builder) {
        for lanes in self.global_shadows.values() {
            for &s in lanes {
                let size = ir::data_layout_type_size(self.module, unsafe { LLVMGlobalGetValueType(s) });
                b.memset_zero(s, b.const_int(b.i64_type(), size), 1);
            }
        }
    }

    /// The shadow of an active global for batch lane `lane`.
    pub fn global_shadow(&mut self, g: Value, lane: usize) -> Option<Value> {
        let lanes = self.global_shadows.get_mut(&g)?;
        while lanes.len() <= lane {
            let n = lanes.len();
            lanes.push(make_global_shadow(g, n));
        }
        Some(lanes[lane])
    }

    /// Refuses a kernel derivative (`Engine::forward_kernel`, `Engine::differentiate_kernel`)
    /// of a function that is no kernel, or one that would have to return values.
    pub(crate) fn check_kernel_request(&self, f: Value, returns_values: bool) -> Result<()> {
        if !crate::rules::gpu::is_kernel(f) {
            return Err(Diagnostic::new(Code::BadRequest, format!("`{}` is not a GPU kernel", ir::name_of(f))).hint("request a device function's derivative with Engine::reverse / Engine::forward"));
        }
        if returns_values {
            return Err(Diagnostic::new(Code::BadRequest, format!("the derivative of kernel `{}` would have to return values, which a kernel cannot", ir::name_of(f)))
                .hint("pass scalars whose derivatives you need through device memory (duplicated pointers); split mode is not available for kernels"));
        }
        Ok(())
    }

    /// Removes the prepared copies once every derivative has been generated.
    pub fn finish(&mut self) {
        for (_, p) in self.prepared.drain() {
            unsafe { LLVMDeleteFunction(p) };
        }
        ir::llvm::restore_debug_format(self.module, std::mem::take(&mut self.debug_records));
    }
}

/// Mutable globals (in the default address space) that `f` stores floating-point data into.
/// Callees at most this large (in instructions) are inlined before differentiating on CPUs.
const INLINE_LIMIT: usize = 150;

/// Can `f` call itself, directly or through other defined functions?
fn reaches_itself(f: Value) -> bool {
    let mut seen = HashSet::default();
    let mut todo = vec![f];
    while let Some(g) = todo.pop() {
        for i in ir::all_instructions(g) {
            if ir::opcode(i) != Some(llvm_sys::LLVMOpcode::LLVMCall) {
                continue;
            }
            let Some(h) = ir::called_function(i) else { continue };
            if h == f {
                return true;
            }
            if !ir::is_declaration(h) && seen.insert(h) {
                todo.push(h);
            }
        }
    }
    false
}

fn written_float_globals(f: Value) -> Vec<Value> {
    let mut out = Vec::new();
    for i in ir::all_instructions(f) {
        let (ptr, ty) = match ir::opcode(i) {
            Some(llvm_sys::LLVMOpcode::LLVMStore) => (ir::operand(i, 1), ir::type_of(ir::operand(i, 0))),
            _ => continue,
        };
        let g = ir::strip_pointer_casts(ir::underlying_object(ptr));
        let eligible = ir::is_global_variable(g)
            && unsafe { LLVMIsGlobalConstant(g) } == 0
            && unsafe { LLVMGetPointerAddressSpace(ir::type_of(g)) } == 0
            && ir::contains_float(ty);
        if eligible && !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// A zero-initialised internal global of the same type as `g`.
fn make_global_shadow(g: Value, lane: usize) -> Value {
    unsafe {
        let m = ir::module_of_function(g);
        let ty = LLVMGlobalGetValueType(g);
        let name = format!("{}.radx.shadow{}", ir::name_of(g), if lane > 0 { lane.to_string() } else { String::new() });
        let s = LLVMAddGlobal(m, ty, ir::cstring(&name).as_ptr());
        LLVMSetInitializer(s, LLVMConstNull(ty));
        LLVMSetLinkage(s, llvm_sys::LLVMLinkage::LLVMInternalLinkage);
        LLVMSetAlignment(s, LLVMGetAlignment(g).max(8));
        s
    }
}

/// Vectorizers leave unused lanes undefined (`insertelement <2 x double> poison, %x, 0`).
/// A partial evaluated on such a lane is poison, and poison times a zero adjoint is still
/// poison, which the optimizer then spreads into used lanes. Giving undefined lanes of
/// floating-point vector constants the value 1.0 (a legal choice for poison, finite in
/// every partial) keeps adjoints defined.
fn define_poison_lanes(f: Value) {
    for i in ir::all_instructions(f) {
        for k in 0..ir::num_operands(i) {
            let o = ir::operand(i, k);
            let t = ir::type_of(o);
            if !ir::is_constant(o) || ir::type_kind(t) != llvm_sys::LLVMTypeKind::LLVMVectorTypeKind || !ir::is_float(t) {
                continue;
            }
            unsafe {
                let n = LLVMGetVectorSize(t);
                let whole = !LLVMIsAUndefValue(o).is_null();
                let mut elems = Vec::with_capacity(n as usize);
                let mut changed = false;
                for e in 0..n {
                    let el = if whole { std::ptr::null_mut() } else { LLVMGetAggregateElement(o, e) };
                    if el.is_null() || !LLVMIsAUndefValue(el).is_null() {
                        elems.push(LLVMConstReal(ir::element_type(t), 1.0));
                        changed = true;
                    } else {
                        elems.push(el);
                    }
                }
                if changed {
                    ir::set_operand(i, k, LLVMConstVector(elems.as_mut_ptr(), n));
                }
            }
        }
    }
}

fn check_rule_type(primal: Value, f: Value, want: ir::Type, what: &str) -> Result<()> {
    let have = ir::function_type(f);
    if have == want {
        return Ok(());
    }
    Err(Diagnostic::new(
        Code::BadRequest,
        format!(
            "the custom {what} rule `{}` for `{}` has type `{}`, but the request needs `{}`",
            ir::name_of(f),
            ir::name_of(primal),
            ir::type_to_string(have),
            ir::type_to_string(want)
        ),
    )
    .hint("a custom rule takes and returns exactly what RadX's own derivative for that request would (see docs/custom-rules.md)"))
}
