//! The reverse generator's state (`RevGen`), its run from planning to both sweeps, and
//! `generate`, which `Engine::reverse` (in `mod.rs`) calls.
//!
//! Floor: above `need.rs` and `tape.rs`; the planning, the sweeps and the adjoints add
//! `RevGen`'s methods on top of it.

use super::need::{Need, Strategy};
use super::tape;
use crate::analysis::activity::{call_arg_is_active, Activity};
use crate::analysis::cfg::{Cfg, EdgeWitness};
use crate::analysis::memory::MemoryFacts;
use crate::diag::{short, Code, Diagnostic, Result};
use crate::engine::Engine;
use crate::ir::{self, builder::Builder, clone, Block, Value};
use crate::request::{GeneratedFunction, RevArg, ReverseFunctions, ReverseRequest, TapeStats};
use crate::rules::{self, memory};
use crate::signature::signatures;
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode::*;
use crate::collections::{HashMap, HashSet};

pub struct RevGen<'e> {
    pub engine: &'e mut Engine,
    pub req: ReverseRequest,
    pub primal: Value,
    pub cfg: Cfg,
    pub activity: Activity,
    pub memory: MemoryFacts,
    pub strategies: HashMap<Need, Strategy>,
    /// Per block: what its forward execution pushes (its reverse pops).
    pub caches: Vec<Vec<Need>>,
    /// Allocation calls whose frees move to the reverse sweep, with the freeing function.
    pub deferred_frees: HashMap<Value, Value>,
    pub deferred_free_calls: HashSet<Value>,
    /// Allocations whose shadow shares their block (see `shadow_alloc.rs`).
    pub merged_shadows: HashSet<Value>,
    pub fwd: Value,
    pub rev: Value,
    pub fb: Builder,
    pub rb: Builder,
    pub fmap: clone::ValueMap,
    pub fshadow: HashMap<Value, Value>,
    pub ftape: HashMap<Value, Value>,
    pub rev_params: HashMap<Value, Value>,
    pub rev_param_shadows: HashMap<Value, Value>,
    pub fstate: Value,
    pub rstate: Value,
    pub pred_phis: HashMap<usize, Value>,
    pub fblocks: Vec<Block>,
    pub rblocks: Vec<Block>,
    pub fentry: Block,
    pub rentry: Block,
    /// Where the reverse sweep initialises adjoint slots (before this instruction).
    pub rinit: Value,
    pub slots: HashMap<Value, Value>,
    /// The running adjoints of values used only in their own block, as SSA values of the
    /// reverse block named (see `RevGen::add_adjoint`): they never need a slot.
    pub local_adjoints: HashMap<Value, (Block, Value)>,
    /// A block-local adjoint met outside the reverse block it was made in: the derivative
    /// would be wrong, so generation fails with this.
    pub local_adjoint_escaped: Option<Value>,
    pub memo: HashMap<Need, Value>,
    pub rev_allocas: HashMap<Value, Value>,
    pub seed: Option<Value>,
    pub callees: HashMap<Value, (ReverseRequest, ReverseFunctions)>,
    pub exit_values: Vec<(Block, Value)>,
    /// Combined mode: the branches from the forward sweep's returns to the reverse sweep.
    pub exit_branches: Vec<Value>,
    /// The primal block whose reverse is being emitted.
    pub current: usize,
    /// Per induction variable (its phi): slots for the reverse counter and its start.
    pub induction_slots: HashMap<Value, (Value, Value)>,
    /// Cached values a block recomputes instead (see `drop_redundant_caches`), and join
    /// phis a block rebuilds from branch conditions (see `join_phi_recomputable`).
    pub recompute_in: HashSet<(Need, usize)>,
    /// Join blocks whose reverse tells the predecessor from recomputed branch conditions
    /// (one witness per predecessor but at most one) instead of a recorded index.
    pub witnessed_joins: HashMap<usize, Vec<Option<EdgeWitness>>>,
    /// Values pushed once per iteration of a loop, at its latch, for every block of the
    /// iteration that would have pushed its own copy (see `merge_iteration_caches`).
    pub iteration_cached: HashMap<Need, usize>,
    /// Forward-sweep stack slots carrying such a value from its definition to a latch
    /// that the definition does not dominate.
    pub iteration_carry: HashMap<Need, Value>,
    /// `free_at`'s answers.
    pub free_memo: HashMap<(Need, usize), bool>,
    /// Loops whose tape is reserved on entry from their trip count.
    pub sized_loops: Vec<usize>,
    /// Loop-invariant caches: pushed at the loop's exits, held in a slot for its reverse
    /// (the slots also hold values pushed once per iteration, see `merge_iteration_caches`).
    pub hoisted: HashSet<(Need, usize)>,
    pub hoisted_slots: HashMap<(Need, usize), Value>,
    /// The module is GPU code: shared adjoints are accumulated atomically.
    pub gpu: bool,
    /// Anything is pushed at all: otherwise no tape is created (no allocation, no state).
    pub uses_tape: bool,
    /// Combined mode: per block outside loops, stack slots for its cached values (such a
    /// block runs at most once per call, so one slot per value is enough).
    pub group_slots: HashMap<usize, Vec<Value>>,
    pub exit_slot: Option<Value>,
    /// Recomputed loads of memory the function never writes, in the reverse sweep: what
    /// they read no store there can change (see `mark_readonly_loads`).
    pub readonly_loads: Vec<Value>,
}

pub fn generate(engine: &mut Engine, req: &ReverseRequest) -> Result<ReverseFunctions> {
    let prepared = engine.prepare(req.function)?;
    let active_args: Vec<bool> = req.args.iter().map(|a| *a != RevArg::Const).collect();
    let mut activity = engine.activity(prepared, &active_args);
    if engine.options.enabled("dead-adjoints") {
        activity.forget(&crate::analysis::useful::dead_adjoints(prepared, &activity, req.return_active));
    }
    let b = Builder::new(engine.module);
    let sig = signatures(&b, req);
    let name = ir::name_of(req.function);
    let add = |n: String, ty| unsafe {
        let f = LLVMAddFunction(engine.module, ir::cstring(&n).as_ptr(), ty);
        LLVMSetLinkage(f, llvm_sys::LLVMLinkage::LLVMInternalLinkage);
        clone::copy_codegen_fn_attributes(req.function, f);
        clone::align_to_cache_line(f);
        f
    };
    let fns = if req.combined {
        let f = add(format!("diffe{name}"), sig.combined_or_reverse);
        ReverseFunctions { forward: f, reverse: f }
    } else {
        ReverseFunctions { forward: add(format!("augmented_{name}"), sig.augmented), reverse: add(format!("reverse_{name}"), sig.combined_or_reverse) }
    };
    engine.reverse_cache.insert(req.clone(), fns);
    let cfg = Cfg::new(prepared);
    let memory = MemoryFacts::with_prepared_callees(prepared, engine.prepared_copies());
    let n = cfg.blocks.len();
    let mut g = RevGen {
        req: req.clone(),
        primal: prepared,
        activity,
        memory,
        strategies: HashMap::default(),
        caches: vec![Vec::new(); n],
        deferred_frees: HashMap::default(),
        deferred_free_calls: HashSet::default(),
        merged_shadows: HashSet::default(),
        fwd: fns.forward,
        rev: fns.reverse,
        fb: Builder::new(engine.module),
        rb: Builder::new(engine.module),
        fmap: HashMap::default(),
        fshadow: HashMap::default(),
        ftape: HashMap::default(),
        rev_params: HashMap::default(),
        rev_param_shadows: HashMap::default(),
        fstate: std::ptr::null_mut(),
        rstate: std::ptr::null_mut(),
        pred_phis: HashMap::default(),
        fblocks: Vec::new(),
        rblocks: Vec::new(),
        fentry: std::ptr::null_mut(),
        rentry: std::ptr::null_mut(),
        rinit: std::ptr::null_mut(),
        slots: HashMap::default(),
        local_adjoints: HashMap::default(),
        local_adjoint_escaped: None,
        memo: HashMap::default(),
        rev_allocas: HashMap::default(),
        seed: None,
        callees: HashMap::default(),
        exit_values: Vec::new(),
        exit_branches: Vec::new(),
        current: 0,
        induction_slots: HashMap::default(),
        recompute_in: HashSet::default(),
        witnessed_joins: HashMap::default(),
        free_memo: HashMap::default(),
        iteration_cached: HashMap::default(),
        iteration_carry: HashMap::default(),
        hoisted: HashSet::default(),
        sized_loops: Vec::new(),
        hoisted_slots: HashMap::default(),
        gpu: crate::rules::gpu::is_gpu_module(engine.module),
        uses_tape: true,
        group_slots: HashMap::default(),
        readonly_loads: Vec::new(),
        exit_slot: None,
        cfg,
        engine,
    };
    let result = g.run();
    let func_name = crate::diag::demangle_clone_name(&ir::name_of(prepared)).to_string();
    match result {
        Ok(stats) => {
            crate::analysis::alignment_peel::peel_marked_loops(fns.forward);
            // A kernel's combined derivative is a kernel too (launched from the host).
            if req.combined && crate::rules::gpu::is_kernel(req.function) && !req.args.contains(&RevArg::Active) {
                crate::rules::gpu::mark_as_kernel(req.function, fns.reverse);
            }
            for f in [fns.forward, fns.reverse].into_iter().collect::<HashSet<_>>() {
                g.engine.generated.push(GeneratedFunction {
                    name: ir::name_of(f),
                    source: name.clone(),
                    mode: if req.combined { "reverse" } else if f == fns.forward { "augmented" } else { "reverse-split" },
                    width: 1,
                    instructions: ir::all_instructions(f).len(),
                    tape: Some(stats.clone()),
                });
            }
            Ok(fns)
        }
        Err(e) => {
            g.engine.reverse_cache.remove(req);
            unsafe {
                LLVMDeleteFunction(fns.forward);
                if fns.reverse != fns.forward {
                    LLVMDeleteFunction(fns.reverse);
                }
            }
            Err(if e.function.is_none() { e.in_function(func_name) } else { e })
        }
    }
}

impl<'e> RevGen<'e> {
    pub(super) fn run(&mut self) -> Result<TapeStats> {
        self.find_deferred_frees()?;
        self.decide_calls()?;
        self.choose_caches_by_min_cut();
        self.witness_joins();
        for b in 0..self.cfg.blocks.len() {
            for i in ir::instructions(self.cfg.blocks[b]) {
                for n in self.needs_of(i) {
                    self.plan(n, b);
                }
            }
        }
        // Each exit of a loop with an induction variable hands the reverse what it needs to
        // start its counters, once per run of the loop (see `induction_entry_needs`).
        for l in 0..self.cfg.loops.len() {
            for n in self.induction_entry_needs(l) {
                for e in self.cfg.loops[l].exits.clone() {
                    self.plan(n, e);
                }
            }
        }
        self.drop_redundant_caches();
        self.merge_iteration_caches();
        self.uses_tape = (0..self.cfg.blocks.len()).any(|b| !self.uses_slots(b) && (!self.caches[b].is_empty() || self.records_predecessor(b)))
            || !self.req.combined && self.cfg.exits.len() > 1;
        self.setup_functions();
        self.forward_sweep()?;
        let before: HashSet<Block> = ir::blocks(self.rev).into_iter().collect();
        self.reverse_sweep()?;
        if let Some(v) = self.local_adjoint_escaped {
            return Err(Diagnostic::new(Code::Internal, format!("the adjoint of `{}` was made in one block of the reverse sweep and used in another", crate::diag::short(v)))
                .hint("this is a bug in RadX; please report it with the input module"));
        }
        let reverse_blocks: HashSet<Block> = ir::blocks(self.rev).into_iter().filter(|b| !before.contains(b) || self.rblocks.contains(b)).collect();
        self.mark_readonly_loads(&reverse_blocks);
        Ok(self.tape_stats())
    }

    /// What entering loop `l` backwards reads to start its induction variables' counters:
    /// the steering variable's start (where the reverse stops) and its last value — from
    /// the exit test's bound when the test pins it down, else recorded; every other
    /// variable from its own start and the steering variable's distance travelled when
    /// that is exact (unit step), else from its recorded last value.
    pub fn induction_entry_needs(&self, l: usize) -> Vec<Need> {
        let lp = &self.cfg.loops[l];
        let Some(iv) = lp.induction.filter(|_| self.engine.options.enabled("induction")) else { return vec![] };
        let mut out = vec![Need::Primal(iv.start)];
        match lp.exit_value.filter(|_| self.engine.options.enabled("exit-value")) {
            Some(x) => out.push(Need::Primal(x.bound)),
            None => out.push(Need::Primal(iv.phi)),
        }
        for other in &lp.other_inductions {
            if self.derives_other_inductions(l) {
                out.push(Need::Primal(other.start));
            } else {
                out.push(Need::Primal(other.phi));
            }
        }
        out
    }

    /// Are loop `l`'s other induction variables' last values computed from the steering
    /// one's (exact when it moves by one each iteration)?
    pub fn derives_other_inductions(&self, l: usize) -> bool {
        let lp = &self.cfg.loops[l];
        self.engine.options.enabled("exit-value") && lp.exit_value.is_some() && lp.induction.is_some_and(|iv| iv.step != 0)
    }

    /// Frees of memory this function allocated wait until the reverse sweep is done
    /// with it; frees of anything else stay where they are.
    pub(super) fn find_deferred_frees(&mut self) -> Result<()> {
        // Blocks this function allocates (malloc and friends, realloc), to be freed at the
        // reverse of the call that made them, when the program frees them (by free, or
        // by handing them to a later realloc), so every use's adjoint still finds them.
        let is_local_allocation = |o: Value| {
            ir::opcode(o) == Some(LLVMCall)
                && ir::called_function(o)
                    .map(|c| matches!(memory::allocator(&ir::name_of(c)), Some(memory::Alloc::Allocate { .. }) | Some(memory::Alloc::Reallocate)))
                    .unwrap_or(false)
        };
        let (mut freed_in_place, mut reallocated) = (HashSet::default(), HashSet::default());
        for i in ir::all_instructions(self.primal) {
            if ir::opcode(i) != Some(LLVMCall) {
                continue;
            }
            let Some(f) = ir::called_function(i) else { continue };
            match memory::allocator(&ir::name_of(f)) {
                Some(memory::Alloc::Free) => {
                    let objs = crate::analysis::memory::underlying_objects(ir::operand(i, 0));
                    if !objs.is_empty() && objs.iter().all(|o| is_local_allocation(*o)) {
                        for o in objs {
                            self.deferred_frees.insert(o, f);
                        }
                        self.deferred_free_calls.insert(i);
                    } else {
                        freed_in_place.extend(objs);
                    }
                }
                Some(memory::Alloc::Reallocate) => {
                    let objs = crate::analysis::memory::underlying_objects(ir::operand(i, 0));
                    if let Some(o) = objs.iter().find(|o| !is_local_allocation(**o)) {
                        return Err(Diagnostic::new(Code::Unsupported, format!("`realloc` of memory this function did not allocate (`{}`) is not supported in reverse mode", short(*o)))
                            .at(i)
                            .hint("allocate the block inside the function, or copy it into a new one"));
                    }
                    let free_ty = unsafe { LLVMFunctionType(self.fb.void_type(), [self.fb.ptr_type()].as_mut_ptr(), 1, 0) };
                    let free_fn = self.fb.get_or_declare("free", free_ty);
                    for o in objs {
                        self.deferred_frees.insert(o, free_fn);
                        reallocated.insert(o);
                    }
                }
                _ => {}
            }
        }
        self.choose_merged_shadows(&freed_in_place, &reallocated);
        Ok(())
    }

    /// Tells LLVM that the reverse sweep's stores (adjoints into shadows, the tape, stack
    /// slots), and the loads that read what they then write, never touch what its
    /// recomputed read-only loads read: those loads get a scope of their own, every store
    /// of the reverse sweep (and its read half) `noalias` with it. A load is
    /// recomputed only when nothing in the function writes its memory after it and no
    /// caller can in between (combined mode), and shadows are separate from the primal
    /// memory they shadow, so the claim holds. Without it LLVM cannot hoist such a load
    /// (`x[i] - mu[i]` rebuilt in the reverse of a loop over `j`) past the shadow stores of
    /// the loop, or must check for overlap at run time before vectorizing.
    pub(super) fn mark_readonly_loads(&mut self, reverse_blocks: &HashSet<Block>) {
        if self.readonly_loads.is_empty() || !self.req.combined || !self.engine.options.enabled("alias-scopes") {
            return;
        }
        let ctx = self.rb.ctx;
        let name = ir::name_of(self.rev);
        unsafe {
            let string = |s: &str| LLVMMDStringInContext2(ctx, s.as_ptr() as *const _, s.len());
            let node = |ops: &mut [llvm_sys::prelude::LLVMMetadataRef]| LLVMMDNodeInContext2(ctx, ops.as_mut_ptr(), ops.len());
            let domain = node(&mut [string(&format!("radx.reverse.{name}"))]);
            let scope = node(&mut [string(&format!("radx.reverse.{name}.read-only primal memory")), domain]);
            let list = LLVMMetadataAsValue(ctx, node(&mut [scope]));
            for &load in &self.readonly_loads {
                LLVMSetMetadata(load, ir::md_kind(ctx, "alias.scope"), list);
            }
            for &b in reverse_blocks {
                let instructions = ir::instructions(b);
                let stored: HashSet<Value> = instructions.iter().filter(|&&i| ir::opcode(i) == Some(LLVMStore)).map(|&i| ir::operand(i, 1)).collect();
                for i in instructions {
                    // The read half of `shadow[p] += d` reads what its store writes: left
                    // unmarked, LLVM's vectorizer sees it may overlap the read-only loads and
                    // checks the two ranges at run time before every entry of the loop.
                    let read_half = ir::opcode(i) == Some(LLVMLoad) && stored.contains(&ir::operand(i, 0)) && !self.readonly_loads.contains(&i);
                    if ir::opcode(i) == Some(LLVMStore) || read_half {
                        LLVMSetMetadata(i, ir::md_kind(ctx, "noalias"), list);
                    }
                }
            }
        }
    }

    /// Does the forward sweep record which predecessor block `b` was entered from? Not
    /// when the reverse can tell from an induction variable.
    pub fn records_predecessor(&self, b: usize) -> bool {
        self.cfg.preds[b].len() > 1 && !self.header_steered_by_induction(b) && !self.witnessed_joins.contains_key(&b)
    }

    pub(super) fn header_steered_by_induction(&self, b: usize) -> bool {
        self.engine.options.enabled("induction") && self.cfg.loops.iter().any(|l| l.header == b && l.induction.is_some())
    }

    pub fn call_is_differentiated(&self, i: Value) -> bool {
        self.callees.contains_key(&i)
    }

    /// Calls of defined functions with active arguments get an augmented forward and a
    /// reverse of their own; decided up front so planning knows their needs.
    pub(super) fn decide_calls(&mut self) -> Result<()> {
        for i in ir::all_instructions(self.primal) {
            if ir::opcode(i) != Some(LLVMCall) {
                continue;
            }
            let Some(callee) = ir::called_function(i) else { continue };
            let name = ir::name_of(callee);
            if rules::julia::julia_call(&name).is_some()
                || rules::gpu::gpu_call(&name).is_some()
                || rules::rule_for_callee(&name).is_some()
                || memory::memory_transfer(&name).is_some()
                || memory::allocator(&name).is_some()
                || memory::is_inactive_function(&name)
                || ir::is_declaration(callee) && !self.engine.has_custom_rule(callee)
            {
                continue;
            }
            let args = ir::call_args(i);
            let acts: Vec<RevArg> = args
                .iter()
                .map(|a| {
                    if !call_arg_is_active(*a, self.activity.active_set()) {
                        RevArg::Const
                    } else if ir::is_pointer(ir::type_of(*a)) {
                        RevArg::Dup
                    } else {
                        RevArg::Active
                    }
                })
                .collect();
            if acts.iter().all(|a| *a == RevArg::Const) {
                continue;
            }
            let ret = ir::type_of(i);
            let active_ret = self.activity.is_active(i);
            let req = ReverseRequest {
                function: callee,
                args: acts,
                return_active: active_ret && ir::contains_float(ret) && !ir::contains_pointer(ret),
                return_primal: !ir::is_void(ret),
                return_shadow: active_ret && ir::contains_pointer(ret),
                combined: false,
            };
            // A custom rule's augmented forward may return the tape alone.
            let req = if self.engine.has_custom_rule(callee) && !self.engine.reverse_cache.contains_key(&req) {
                let tape_only = ReverseRequest { return_primal: false, ..req.clone() };
                if self.engine.reverse_cache.contains_key(&tape_only) {
                    tape_only
                } else {
                    req
                }
            } else {
                req
            };
            let fns = self.engine.reverse(&req)?;
            self.callees.insert(i, (req, fns));
        }
        Ok(())
    }

    pub(super) fn setup_functions(&mut self) {
        let ctx = self.fb.ctx;
        let mk = |f: Value, name: &str| unsafe { LLVMAppendBasicBlockInContext(ctx, f, ir::cstring(name).as_ptr()) };
        self.fentry = mk(self.fwd, "entry");
        // Parameters: primal, shadow after each Dup; the reverse adds seed and tape.
        let mut fp = ir::params(self.fwd).into_iter();
        let mut rp = ir::params(self.rev).into_iter();
        for (p, a) in ir::params(self.primal).into_iter().zip(self.req.args.clone()) {
            let (f, r) = (fp.next().unwrap(), rp.next().unwrap());
            ir::set_name(f, &ir::name_of(p));
            ir::set_name(r, &ir::name_of(p));
            self.fmap.insert(p, f);
            self.rev_params.insert(p, r);
            if a == RevArg::Dup {
                let (fs, rs) = (fp.next().unwrap(), rp.next().unwrap());
                ir::set_name(fs, &format!("d{}", ir::name_of(p)));
                ir::set_name(rs, &format!("d{}", ir::name_of(p)));
                self.fshadow.insert(p, fs);
                self.rev_param_shadows.insert(p, rs);
            }
        }
        if self.req.return_active {
            let s = rp.next().unwrap();
            ir::set_name(s, "seed");
            self.seed = Some(s);
        }
        let st = tape::state_type(&self.fb);
        self.fb.position_at_end(self.fentry);
        if self.uses_tape {
            self.fstate = generic_pointer(&self.fb, self.fb.alloca(st));
            if self.fixed_tape() {
                // GPU: the tape is a per-thread buffer in local memory.
                let bytes = self.engine.options.gpu_tape_bytes;
                let buf = ir::llvm::array_type(self.fb.i8_type(), bytes as u64);
                let base = generic_pointer(&self.fb, self.fb.alloca(buf));
                let i64t = self.fb.i64_type();
                let mut init = self.fb.undef(st);
                init = self.fb.insert_value(init, base, 0);
                init = self.fb.insert_value(init, self.fb.const_int(i64t, 0), 1);
                init = self.fb.insert_value(init, self.fb.const_int(i64t, bytes as u64), 2);
                self.fb.store(init, self.fstate);
            } else {
                self.fb.store(ir::const_null(st), self.fstate);
            }
        }
        for (k, &bb) in self.cfg.blocks.iter().enumerate() {
            let n = ir::name_of(ir::block_as_value(bb));
            self.fblocks.push(mk(self.fwd, &n));
            let _ = k;
        }
        for &bb in &self.cfg.blocks {
            let n = format!("rev.{}", ir::name_of(ir::block_as_value(bb)));
            self.rblocks.push(mk(self.rev, &n));
        }
        if self.req.combined {
            self.rentry = self.fentry;
            self.rstate = self.fstate;
        } else {
            self.rentry = unsafe { LLVMGetEntryBasicBlock(self.rev) };
            // The reverse's entry must come first: move it there.
            let e = mk(self.rev, "entry");
            unsafe { LLVMMoveBasicBlockBefore(e, self.rentry) };
            self.rentry = e;
            self.rb.position_at_end(self.rentry);
            if self.uses_tape {
                self.rstate = generic_pointer(&self.rb, self.rb.alloca(st));
                let header = *ir::params(self.rev).last().unwrap();
                let loaded = self.rb.load(st, header);
                self.rb.store(loaded, self.rstate);
            }
        }
    }

    /// GPU combined mode: the tape is a fixed buffer in local memory, not the heap.
    pub fn fixed_tape(&self) -> bool {
        self.gpu && self.req.combined
    }

    /// Bytes a loop's own blocks (not its inner loops') push per iteration.
    pub(super) fn loop_bytes_per_iteration(&self, l: usize) -> u64 {
        (0..self.cfg.blocks.len())
            .filter(|&b| self.cfg.loop_of[b] == Some(l) && !self.uses_slots(b))
            .map(|b| {
                let mut t: Vec<ir::Type> = self.caches[b]
                    .iter()
                    .map(|n| match n {
                        Need::CallTape(_) => self.fb.ptr_type(),
                        Need::Primal(v) | Need::Shadow(v) => ir::type_of(*v),
                    })
                    .collect();
                if self.records_predecessor(b) {
                    t.push(self.fb.i32_type());
                }
                tape::layout(self.fb.module, &t).1
            })
            .sum()
    }

    /// Sizes the tape once, on entry to a loop whose trip count is known then, for all its
    /// iterations: the pushes inside never have to grow it.
    pub(super) fn reserve_for_loops_entered_from(&mut self, b: usize) {
        if !self.uses_tape || self.fixed_tape() || !self.engine.options.enabled("reserve") {
            return;
        }
        for l in 0..self.cfg.loops.len() {
            let lp = &self.cfg.loops[l];
            let (Some(iv), Some(tc)) = (lp.induction, lp.trip_count) else { continue };
            if iv.preheader != b {
                continue;
            }
            let per_iteration = self.loop_bytes_per_iteration(l);
            if per_iteration == 0 {
                continue;
            }
            let i64t = self.fb.i64_type();
            let reuse = self.tape_reuse();
            let fb = &self.fb;
            let start = fb.int_cast(self.fmap.get(&iv.start).copied().unwrap_or(iv.start), i64t, true);
            let bound = fb.int_cast(self.fmap.get(&tc.bound).copied().unwrap_or(tc.bound), i64t, true);
            unsafe {
                let span = LLVMBuildSub(fb.raw(), bound, start, b"\0".as_ptr() as *const _);
                let n = LLVMBuildSDiv(fb.raw(), span, fb.const_int(i64t, iv.step.unsigned_abs()), b"\0".as_ptr() as *const _);
                let n = fb.call_intrinsic("llvm.abs", &[i64t], &[n, fb.const_int(fb.i1_type(), 0)]);
                let n = LLVMBuildAdd(fb.raw(), n, fb.const_int(i64t, 1), b"\0".as_ptr() as *const _);
                let bytes = LLVMBuildMul(fb.raw(), n, fb.const_int(i64t, per_iteration), b"\0".as_ptr() as *const _);
                // An estimate, so one that is out of range (a sentinel bound, a wrapped
                // subtraction) reserves nothing rather than something absurd.
                let sane = LLVMBuildICmp(fb.raw(), llvm_sys::LLVMIntPredicate::LLVMIntULE, bytes, fb.const_int(i64t, 1 << 28), b"\0".as_ptr() as *const _);
                let bytes = fb.select(sane, bytes, fb.const_int(i64t, 0));
                tape::reserve(fb, self.fstate, bytes, reuse);
            }
            self.sized_loops.push(l);
        }
    }

    /// Are finished tapes' buffers kept for the thread's next call (see `tape`)?
    pub fn tape_reuse(&self) -> bool {
        self.engine.options.enabled("tape-reuse") && !self.fixed_tape() && tape::reuse_supported(self.fb.module)
    }

    /// Does block `b` keep its cached values in stack slots rather than on the tape?
    pub fn uses_slots(&self, b: usize) -> bool {
        self.req.combined && !self.cfg.in_loop(b) && (self.gpu || self.engine.options.enabled("stack-slots"))
    }

    /// A block's name, or its position when the front end left it unnamed.
    pub(super) fn block_label(&self, b: usize) -> String {
        let n = ir::name_of(ir::block_as_value(self.cfg.blocks[b]));
        if n.is_empty() {
            format!("#{b}")
        } else {
            n
        }
    }

    pub(super) fn tape_stats(&self) -> TapeStats {
        let mut st = TapeStats::default();
        let mut per_loop: HashMap<usize, u64> = HashMap::default();
        let describing = self.engine.options.describe_tape;
        let texts = if describing { ir::instruction_texts(self.primal) } else { Default::default() };
        let describe = |v: Value| texts.get(&v).map(|t| crate::diag::short_text(t)).unwrap_or_else(|| short(v));
        for b in 0..self.cfg.blocks.len() {
            let mut types: Vec<ir::Type> = self.caches[b].iter().map(|n| ir::type_of(match n { Need::Primal(v) | Need::Shadow(v) | Need::CallTape(v) => *v })).collect();
            for (k, n) in self.caches[b].iter().enumerate() {
                if let Need::CallTape(_) = n {
                    // a callee's tape is a pointer whatever the call returns
                    types[k] = self.fb.ptr_type();
                }
                let (what, v) = match n {
                    Need::Primal(v) => ("", *v),
                    Need::Shadow(v) => ("shadow of ", *v),
                    Need::CallTape(v) => ("tape of ", *v),
                };
                st.cached_values += 1;
                if describing {
                    st.cached.push(format!("{what}{} (block {})", describe(v), self.block_label(b)));
                }
            }
            if self.pred_phis.contains_key(&b) {
                types.push(self.fb.i32_type());
            }
            let (_, bytes) = tape::layout(self.fb.module, &types);
            match self.cfg.loop_of[b] {
                None => st.bytes_per_call += bytes,
                Some(l) => *per_loop.entry(l).or_default() += bytes,
            }
        }
        let mut loops: Vec<_> = per_loop.into_iter().collect();
        loops.sort();
        for (l, bytes) in loops {
            st.bytes_per_iteration.push((self.block_label(self.cfg.loops[l].header), bytes));
        }
        if self.cfg.exits.len() > 1 {
            st.bytes_per_call += 8;
        }
        st.sized_loops = self.sized_loops.iter().map(|&l| self.block_label(self.cfg.loops[l].header)).collect();
        st
    }
}

/// Stack objects live in address space 5 on AMDGPU; the tape helpers take generic pointers.
pub(super) fn generic_pointer(b: &Builder, p: Value) -> Value {
    if unsafe { LLVMGetPointerAddressSpace(ir::type_of(p)) } == 0 {
        return p;
    }
    unsafe { LLVMBuildAddrSpaceCast(b.raw(), p, b.ptr_type(), b"\0".as_ptr() as *const _) }
}
