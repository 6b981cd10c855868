//! Vectorized loops that read, modify and write a buffer at a start that moves by less than
//! a vector from one iteration of the enclosing loop to the next — the triangular update
//! `for i: for j > i: out[j] += l[..] * x[i]` that `Q·x` with a packed triangle `Q` is.
//! Each vector load then straddles two vector stores of the previous outer iteration, which
//! store-to-load forwarding cannot serve, and the loop stalls on every load (the scalar form
//! of GMM's triangle runs 17-30% faster than clang's vector form on this machine). The
//! primal is the user's to keep; a derivative's forward sweep re-runs that loop, so the copy
//! derivatives are made from takes the vectorizer's own scalar path for it: the guard that
//! chooses between the vector loop and the scalar remainder is pinned to the remainder,
//! which is the original loop and handles any trip count. The remainder keeps its
//! `llvm.loop.isvectorized` mark, so LLVM does not vectorize the forward sweep's copy again.
//!
//! The price is paid on long rows: the reverse of the scalar loop sums `x̄ += l · ōut[j]`
//! in order, which LLVM may not vectorize without reassociation, while the derivative of the
//! vector loop sums per lane. GMM gains at d = 2 and 10 (ratio 2.05 -> 1.93, 2.10 -> 1.72),
//! is even at d = 20 and loses at d = 64 (2.80 -> 3.35); keeping both paths behind a
//! run-time row-length test measured as slow as the vector form at d = 10 (see
//! docs/performance.md, ninth session).

use super::cfg::Cfg;
use crate::ir::{self, Block, Value};
use llvm_sys::core::*;
use llvm_sys::LLVMOpcode;

/// Routes every such loop of `f` through its scalar remainder; returns how many. With
/// `align`, the remainder is marked for the forward sweep to peel until its store sits on a
/// whole vector and to vectorize again by the original width (see `alignment_peel`): the
/// vector form wins once its loads stop straddling stores, and the reverse sweep keeps the
/// scalar loop's reverse.
pub fn scalarize_shifted_vector_updates(f: Value, align: bool) -> usize {
    let cfg = Cfg::new(f);
    let module = ir::module_of_function(f);
    let mut found = Vec::new();
    for l in 0..cfg.loops.len() {
        if !is_vectorized_loop(&cfg, l) {
            continue;
        }
        let Some(vector_bytes) = update_at_a_shifting_start(&cfg, l, module) else { continue };
        let Some((guard, to_scalar, remainder)) = scalar_bypass(&cfg, l) else { continue };
        let back_edges: Vec<Value> = cfg.loops[remainder].latches.iter().map(|&b| ir::terminator(cfg.blocks[b])).collect();
        found.push((guard, to_scalar, back_edges, vector_bytes));
    }
    for (guard, to_scalar, back_edges, vector_bytes) in &found {
        let (guard, to_scalar) = (*guard, *to_scalar);
        unsafe {
            let i1 = LLVMInt1TypeInContext(LLVMGetTypeContext(ir::type_of(guard)));
            // Successor 0 is taken when the condition is true.
            let take_first = ir::successors(ir::parent_block(guard))[0] == to_scalar;
            LLVMSetCondition(guard, LLVMConstInt(i1, take_first as u64, 0));
        }
        if align {
            for &back_edge in back_edges {
                ir::mark_loop_for_aligned_peel(back_edge, *vector_bytes as u32);
            }
        }
    }
    found.len()
}

/// The loop's latch carries `llvm.loop.isvectorized` and its body vector loads or stores:
/// the vector loop itself, not the scalar remainder the vectorizer marks the same way.
fn is_vectorized_loop(cfg: &Cfg, l: usize) -> bool {
    let lp = &cfg.loops[l];
    lp.latches.iter().any(|&b| ir::loop_marked_vectorized(ir::terminator(cfg.blocks[b])))
        && lp.body.iter().flat_map(|&b| ir::instructions(cfg.blocks[b])).any(is_vector_access)
}

fn is_vector_access(i: Value) -> bool {
    match ir::opcode(i) {
        Some(LLVMOpcode::LLVMLoad) => ir::is_vector(ir::type_of(i)),
        Some(LLVMOpcode::LLVMStore) => ir::is_vector(ir::type_of(ir::operand(i, 0))),
        _ => false,
    }
}

/// Loop `l` stores a vector to an address it also loads from, and that address moves with
/// an enclosing loop's induction variable by a step that is not a whole number of vectors:
/// the size of that vector in bytes.
fn update_at_a_shifting_start(cfg: &Cfg, l: usize, module: llvm_sys::prelude::LLVMModuleRef) -> Option<u64> {
    let body: Vec<Value> = cfg.loops[l].body.iter().flat_map(|&b| ir::instructions(cfg.blocks[b])).collect();
    let loaded: Vec<Value> = body.iter().copied().filter(|&i| ir::opcode(i) == Some(LLVMOpcode::LLVMLoad)).map(|i| ir::operand(i, 0)).collect();
    for &s in &body {
        if ir::opcode(s) != Some(LLVMOpcode::LLVMStore) || !ir::is_vector(ir::type_of(ir::operand(s, 0))) {
            continue;
        }
        let p = ir::operand(s, 1);
        if !loaded.contains(&p) {
            continue;
        }
        let width = ir::data_layout_type_size(module, ir::type_of(ir::operand(s, 0)));
        let shifts_by_part_of_a_vector = byte_terms(p, module).into_iter().any(|(v, scale)| {
            cfg.induction_of(v).is_some_and(|(outer, iv)| {
                outer != l && cfg.loop_contains(outer, cfg.loops[l].header) && (iv.step * scale).unsigned_abs() % width != 0
            })
        });
        if shifts_by_part_of_a_vector {
            return Some(width);
        }
    }
    None
}

/// `p` as a sum of values times byte scales, through GEPs with one index and the additions,
/// extensions and constant multiplications of those indices (the rest is left out).
fn byte_terms(p: Value, module: llvm_sys::prelude::LLVMModuleRef) -> Vec<(Value, i64)> {
    let mut out = Vec::new();
    let mut todo = vec![(p, 1i64, true)];
    while let Some((v, scale, is_address)) = todo.pop() {
        if is_address {
            if let Some((base, index, elem)) = super::lanes::single_index_gep(v) {
                todo.push((base, scale, true));
                todo.push((index, scale * ir::data_layout_type_size(module, elem) as i64, false));
            }
            continue;
        }
        match ir::opcode(v) {
            Some(LLVMOpcode::LLVMAdd) => {
                todo.push((ir::operand(v, 0), scale, false));
                todo.push((ir::operand(v, 1), scale, false));
            }
            Some(LLVMOpcode::LLVMSExt | LLVMOpcode::LLVMZExt) => todo.push((ir::operand(v, 0), scale, false)),
            Some(LLVMOpcode::LLVMShl) => {
                if let Some(k) = ir::const_int_value(ir::operand(v, 1)).filter(|k| (0..32).contains(k)) {
                    todo.push((ir::operand(v, 0), scale << k, false));
                }
            }
            Some(LLVMOpcode::LLVMMul) => {
                if let Some(k) = ir::const_int_value(ir::operand(v, 1)) {
                    todo.push((ir::operand(v, 0), scale * k, false));
                }
            }
            _ => out.push((v, scale)),
        }
    }
    out
}

/// The vectorizer's guard in front of loop `l` — the conditional branch whose other side
/// skips the vector loop for the scalar remainder — that remainder's entry block, and the
/// remainder loop. Guards with runtime alias checks come in a chain; the last one decides.
fn scalar_bypass(cfg: &Cfg, l: usize) -> Option<(Value, Block, usize)> {
    let lp = &cfg.loops[l];
    let outside: Vec<usize> = cfg.preds[lp.header].iter().copied().filter(|p| !lp.body.contains(p)).collect();
    let [preheader] = outside[..] else { return None };
    let [guard_block] = cfg.preds[preheader][..] else { return None };
    let guard = ir::terminator(cfg.blocks[guard_block]);
    if ir::num_operands(guard) != 3 {
        return None;
    }
    let to_scalar = *ir::successors(cfg.blocks[guard_block]).iter().find(|&&s| s != cfg.blocks[preheader])?;
    let scalar_entry = cfg.index[&to_scalar];
    // The remainder: a loop entered from that block, marked by the vectorizer, with no
    // vector code, and reached from the vector loop's exit as well.
    let (remainder, _) = cfg.loops.iter().enumerate().find(|(r, rl)| {
        *r != l
            && cfg.preds[rl.header].iter().any(|&p| p == scalar_entry || cfg.succs[scalar_entry] == [p])
            && rl.latches.iter().any(|&b| ir::loop_marked_vectorized(ir::terminator(cfg.blocks[b])))
            && !rl.body.iter().flat_map(|&b| ir::instructions(cfg.blocks[b])).any(is_vector_access)
    })?;
    let reached_from_vector_exit = lp.exits.iter().any(|&e| e == scalar_entry || cfg.succs[e].contains(&scalar_entry));
    reached_from_vector_exit.then_some((guard, to_scalar, remainder))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The vectorizer's shape of `for i: for j in i+1..n: out[j] += l[j] * x` (VF 2, no
    /// unrolling), and of the same update at a start that moves by two elements.
    pub(crate) fn triangle(outer_step: i64) -> String {
        format!(
            r#"
define void @f(ptr noalias %out, ptr noalias %l, double %x, i64 %n) {{
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i.next, %outer.latch ]
  %start = add i64 %i, 1
  %count = sub i64 %n, %start
  %few = icmp ult i64 %count, 2
  br i1 %few, label %scalar.ph, label %vector.ph
vector.ph:
  %vend = and i64 %count, -2
  %splat.0 = insertelement <2 x double> poison, double %x, i64 0
  %splat = shufflevector <2 x double> %splat.0, <2 x double> poison, <2 x i32> zeroinitializer
  br label %vector.body
vector.body:
  %k = phi i64 [ 0, %vector.ph ], [ %k.next, %vector.body ]
  %j = add i64 %start, %k
  %lp = getelementptr inbounds double, ptr %l, i64 %j
  %lv = load <2 x double>, ptr %lp, align 8
  %op = getelementptr inbounds double, ptr %out, i64 %j
  %ov = load <2 x double>, ptr %op, align 8
  %nv = call <2 x double> @llvm.fmuladd.v2f64(<2 x double> %lv, <2 x double> %splat, <2 x double> %ov)
  store <2 x double> %nv, ptr %op, align 8
  %k.next = add i64 %k, 2
  %vdone = icmp eq i64 %k.next, %vend
  br i1 %vdone, label %middle, label %vector.body, !llvm.loop !0
middle:
  %resume = add i64 %start, %vend
  %all = icmp eq i64 %count, %vend
  br i1 %all, label %outer.latch, label %scalar.ph
scalar.ph:
  %j0 = phi i64 [ %start, %outer ], [ %resume, %middle ]
  br label %scalar
scalar:
  %js = phi i64 [ %j0, %scalar.ph ], [ %js.next, %scalar ]
  %slp = getelementptr inbounds double, ptr %l, i64 %js
  %sl = load double, ptr %slp, align 8
  %sop = getelementptr inbounds double, ptr %out, i64 %js
  %so = load double, ptr %sop, align 8
  %sn = call double @llvm.fmuladd.f64(double %sl, double %x, double %so)
  store double %sn, ptr %sop, align 8
  %js.next = add i64 %js, 1
  %sdone = icmp eq i64 %js.next, %n
  br i1 %sdone, label %outer.latch, label %scalar, !llvm.loop !3
outer.latch:
  %i.next = add i64 %i, {outer_step}
  %odone = icmp uge i64 %i.next, %n
  br i1 %odone, label %exit, label %outer
exit:
  ret void
}}
declare <2 x double> @llvm.fmuladd.v2f64(<2 x double>, <2 x double>, <2 x double>)
declare double @llvm.fmuladd.f64(double, double, double)
!0 = distinct !{{!0, !1, !2}}
!1 = !{{!"llvm.loop.isvectorized", i32 1}}
!2 = !{{!"llvm.loop.unroll.runtime.disable"}}
!3 = distinct !{{!3, !2, !1}}
"#
        )
    }

    fn pinned_after(ir_text: &str) -> (usize, String) {
        let ctx = inkwell::context::Context::create();
        let m = ir::parse_test_module(&ctx, ir_text);
        let f = ir::functions(m.as_mut_ptr()).into_iter().find(|&f| ir::name_of(f) == "f").unwrap();
        let n = scalarize_shifted_vector_updates(f, false);
        m.verify().expect("still valid IR");
        (n, m.print_to_string().to_string())
    }

    #[test]
    fn a_triangular_update_takes_the_scalar_remainder() {
        let (n, text) = pinned_after(&triangle(1));
        assert_eq!(n, 1);
        assert!(text.contains("br i1 true, label %scalar.ph, label %vector.ph"), "{text}");
    }

    #[test]
    fn an_update_moving_by_whole_vectors_stays_vectorized() {
        let (n, text) = pinned_after(&triangle(2));
        assert_eq!(n, 0);
        assert!(text.contains("br i1 %few, label %scalar.ph, label %vector.ph"), "{text}");
    }
}
