//! pre-optimize -> analyze -> generate -> post-optimize, over a whole module.
//!
//! Floor: the top of the engine: it registers custom rules and lowers every magic call
//! (`abi`), then verifies and cleans up what the generators made.

use crate::analysis::promote_slots::promote_slots;
use crate::abi::lower;
use crate::diag::{Diagnostic, Result};
use crate::engine::Engine;
use crate::ir::{self, Value};
use crate::options::Options;
use crate::request::GeneratedFunction;
use llvm_sys::core::*;
use llvm_sys::prelude::LLVMModuleRef;

// The pass helpers live with the IR wrappers, below the engine that also runs them; their
// old paths here still work for the crates above (the C API, radx-gpu).
pub use crate::ir::passes::{cleanup_pipeline, run_function_passes, verify_changed, verify_module, Snapshot, CLEANUP_PIPELINE, CLEANUP_PIPELINE_WITH_SROA, PREPARE_PIPELINE};

/// The last steps of every door: verify what changed (before LLVM's cleanup passes, which
/// may crash on a malformed derivative instead of reporting it), then clean the generated
/// functions up unless the caller optimizes them itself. When cleaning, RadX's own slot
/// promotion comes first: it only needs the blocks' terminators, the verifier then checks
/// its work too, and has fewer instructions to check (no slot loads and stores).
pub fn verify_and_clean(module: LLVMModuleRef, before: &Snapshot, changed: &[Value], generated: &[Value], postopt: bool, timings: &mut Timings) -> Result<()> {
    let clean = postopt && !generated.is_empty();
    let t = std::time::Instant::now();
    if clean {
        for &f in generated {
            promote_slots(f);
        }
    }
    let promote_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = std::time::Instant::now();
    verify_changed(module, before, changed)?;
    timings.verify_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = std::time::Instant::now();
    if clean {
        run_function_passes(module, generated, cleanup_pipeline(generated))?;
    }
    timings.cleanup_ms = promote_ms + t.elapsed().as_secs_f64() * 1e3;
    Ok(())
}

/// What a run did, for `--stats` and the C API.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub calls_lowered: usize,
    pub generated: Vec<GeneratedFunction>,
    pub timings: Timings,
}

/// Where the time of a run went, in milliseconds.
#[derive(Debug, Default, serde::Serialize)]
pub struct Timings {
    /// LLVM's canonicalising passes on the copies derivatives are made from.
    pub prepare_ms: f64,
    /// Analyses and generation of the derivatives: the AD transform itself.
    pub differentiate_ms: f64,
    /// Verification of the result.
    pub verify_ms: f64,
    /// LLVM's cleanup passes on the generated functions.
    pub cleanup_ms: f64,
}

/// Rewrites every magic call of the module. On failure every diagnostic found is
/// returned (not only the first) and the module must be discarded.
pub fn lower_module(module: LLVMModuleRef, options: &Options) -> std::result::Result<Report, Vec<Diagnostic>> {
    ir::llvm::check_module(module).map_err(|d| vec![d])?;
    let mut engine = Engine::new(module, options.clone());
    crate::abi::registrations::register_all(&mut engine)?;
    let mut diags = Vec::new();
    let before = Snapshot::take(module);
    let (calls, higher_order) = order_inner_first(crate::abi::magic_calls(module));
    let callers: Vec<Value> = calls.iter().map(|(c, _)| ir::parent_function(*c)).collect::<crate::collections::HashSet<_>>().into_iter().collect();
    if higher_order {
        // An outer derivative differentiates the inner ones, tape code included: a tape
        // buffer handed over through a thread-local spare would have no shadow there.
        engine.options.disabled.push("tape-reuse".into());
    }
    let mut report = Report::default();
    let mut marker_loads = Vec::new();
    let started = std::time::Instant::now();
    for (call, kind) in calls {
        for a in ir::call_args(call) {
            if crate::abi::marker_global(a).is_some() && ir::is_instruction(a) {
                marker_loads.push(a);
            }
        }
        match lower::lower_call(&mut engine, call, kind) {
            Ok(()) => report.calls_lowered += 1,
            Err(d) => diags.push(d),
        }
    }
    engine.finish();
    if !diags.is_empty() {
        // Several requests can reach the same unsupported instruction: say it once.
        let mut seen = crate::collections::HashSet::default();
        diags.retain(|d| seen.insert(d.to_string()));
        return Err(diags);
    }
    remove_dead_markers(module, marker_loads);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    report.timings.prepare_ms = ms(engine.prepare_time);
    report.timings.differentiate_ms = ms(started.elapsed()) - report.timings.prepare_ms;
    let generated: Vec<Value> = engine.generated.iter().filter_map(|g| function_named(module, &g.name)).collect();
    verify_and_clean(module, &before, &callers, &generated, options.postopt, &mut report.timings).map_err(|d| vec![d])?;
    report.generated = std::mem::take(&mut engine.generated);
    for g in &mut report.generated {
        if let Some(f) = function_named(module, &g.name) {
            g.instructions = ir::all_instructions(f).len();
        }
    }
    Ok(report)
}

/// Higher-order requests (`__enzyme_fwddiff` of a function that calls `__enzyme_autodiff`)
/// need the inner call lowered first, so the outer derivative differentiates real code.
/// Also says whether there is any such outer request.
fn order_inner_first(calls: Vec<(Value, crate::abi::MagicKind)>) -> (Vec<(Value, crate::abi::MagicKind)>, bool) {
    use crate::collections::{HashMap, HashSet};
    let callers: HashSet<Value> = calls.iter().map(|(c, _)| ir::parent_function(*c)).collect();
    let mut reach_memo: HashMap<Value, bool> = HashMap::default();
    // Does the target's call graph contain a function that makes magic calls?
    fn reaches(f: Value, callers: &HashSet<Value>, seen: &mut HashSet<Value>) -> bool {
        if callers.contains(&f) {
            return true;
        }
        if !seen.insert(f) || ir::is_declaration(f) {
            return false;
        }
        ir::all_instructions(f).into_iter().any(|i| {
            ir::opcode(i) == Some(llvm_sys::LLVMOpcode::LLVMCall) && ir::called_function(i).map(|c| reaches(c, callers, seen)).unwrap_or(false)
        })
    }
    let target = |c: Value| {
        let args = ir::call_args(c);
        let first = if ir::call_sret_type(c, 0).is_some() { 1 } else { 0 };
        args.get(first).map(|a| ir::strip_pointer_casts(*a)).filter(|f| ir::is_function(*f))
    };
    let mut outer = Vec::new();
    let mut inner = Vec::new();
    for (c, k) in calls {
        let is_outer = target(c).map(|f| *reach_memo.entry(f).or_insert_with(|| reaches(f, &callers, &mut HashSet::default()))).unwrap_or(false);
        if is_outer {
            outer.push((c, k));
        } else {
            inner.push((c, k));
        }
    }
    let higher_order = !outer.is_empty();
    inner.extend(outer);
    (inner, higher_order)
}

fn function_named(module: LLVMModuleRef, name: &str) -> Option<Value> {
    let f = unsafe { LLVMGetNamedFunction(module, ir::cstring(name).as_ptr()) };
    (!f.is_null()).then_some(f)
}

/// Marker globals are declared but never defined: every use must go or the link fails.
fn remove_dead_markers(module: LLVMModuleRef, loads: Vec<Value>) {
    let mut seen = crate::collections::HashSet::default();
    for l in loads {
        if seen.insert(l) && !ir::has_uses(l) {
            ir::delete_instruction(l);
        }
    }
    for g in ir::globals(module) {
        if ir::name_of(g).starts_with("enzyme_") && ir::is_declaration(g) && !ir::has_uses(g) {
            unsafe { LLVMDeleteGlobal(g) };
        }
    }
    for f in ir::functions(module) {
        let name = ir::name_of(f);
        if crate::analysis::memory::TYPE_HINTS.contains(&name.as_str()) && ir::is_declaration(f) {
            for u in ir::users(f) {
                if ir::opcode(u) == Some(llvm_sys::LLVMOpcode::LLVMCall) && !ir::has_uses(u) {
                    ir::delete_instruction(u);
                }
            }
        }
        if (crate::abi::magic_kind(&name).is_some() || crate::analysis::memory::TYPE_HINTS.contains(&name.as_str())) && ir::is_declaration(f) && !ir::has_uses(f) {
            unsafe { LLVMDeleteFunction(f) };
        }
    }
}
