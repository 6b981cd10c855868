//! What a loop's induction variables are worth after the loop, computed from values known
//! before it: a loop that leaves exactly when `n + 4 == m` ran `m / 4` times, so every
//! variable stepping with it ended at its start plus that many steps.
//!
//! This is the part of LLVM's `indvars` the reverse sweep needs on optimized code: a value
//! used after a loop (where an unrolled or vectorized loop's remainder starts) becomes one
//! computed from values defined before the loop, which the reverse sweep recomputes instead
//! of recording on the tape. `indvars` does this and much more (widening, simplifying every
//! user of every induction variable) for two thirds of the whole preparation's time.

use crate::analysis::cfg::{Cfg, Induction};
use crate::ir::{self, builder::Builder, Value};
use llvm_sys::core::*;

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const _;

/// In `f` (loop-simplified, in LCSSA form): replaces every exit-block phi that carries a
/// loop's induction variable (or its next value) out of a loop whose exit test pins the
/// trip count down by the value computed from the start, step and trip count. Returns how
/// many phis it replaced.
pub fn rewrite_exit_values(f: Value) -> usize {
    let cfg = Cfg::new(f);
    let b = Builder::new(ir::module_of_function(f));
    let mut replaced = 0;
    for l in &cfg.loops {
        let (Some(iv), Some(exit)) = (l.induction, l.exit_value) else { continue };
        let latch = cfg.blocks[iv.latch];
        if incoming_from(iv.phi, latch).is_none() {
            continue;
        }
        let t = ir::type_of(iv.phi);
        for &e in &l.exits {
            let eb = cfg.blocks[e];
            if cfg.preds[e].len() != 1 {
                continue;
            }
            let phis: Vec<Value> = ir::instructions(eb).into_iter().take_while(|&p| ir::opcode(p) == Some(llvm_sys::LLVMOpcode::LLVMPHI)).collect();
            for p in phis {
                if unsafe { LLVMCountIncoming(p) } != 1 {
                    continue;
                }
                let v = unsafe { LLVMGetIncomingValue(p, 0) };
                let carried: Option<(Induction, bool)> = std::iter::once(iv)
                    .chain(l.other_inductions.iter().copied())
                    .filter(|o| ir::type_of(o.phi) == t)
                    .find_map(|o| if v == o.phi { Some((o, false)) } else { (incoming_from(o.phi, latch) == Some(v)).then_some((o, true)) });
                let Some((o, next)) = carried else { continue };
                if o.phi != iv.phi && !iv.step.unsigned_abs().is_power_of_two() {
                    continue;
                }
                // Computed as early as its operands allow, so that a join after the loop
                // sees a value from before the branch around it, as it would a constant
                // (the travelled distance is a whole number of steps where the value is used).
                let Some(at) = earliest_point(&cfg, &[exit.bound, iv.start, o.start], ir::terminator(cfg.blocks[iv.preheader])) else { continue };
                b.position_before(at);
                let value = unsafe {
                    let step = LLVMConstInt(t, iv.step as u64, 1);
                    let last = if exit.compares_next { LLVMBuildSub(b.raw(), exit.bound, step, NO_NAME) } else { exit.bound };
                    let at_last = if o.phi == iv.phi {
                        last
                    } else {
                        let travelled = LLVMBuildSub(b.raw(), last, iv.start, NO_NAME);
                        // A shift, not a division, so the reverse sweep may recompute it
                        // anywhere: the steps of unrolled and vectorized loops are powers of two.
                        let steps = match iv.step {
                            1 => travelled,
                            s => {
                                let shifted = LLVMBuildAShr(b.raw(), travelled, LLVMConstInt(t, s.unsigned_abs().trailing_zeros() as u64, 0), NO_NAME);
                                if s < 0 { LLVMBuildNeg(b.raw(), shifted, NO_NAME) } else { shifted }
                            }
                        };
                        let moved = LLVMBuildMul(b.raw(), steps, LLVMConstInt(t, o.step as u64, 1), NO_NAME);
                        LLVMBuildAdd(b.raw(), o.start, moved, NO_NAME)
                    };
                    if next {
                        LLVMBuildAdd(b.raw(), at_last, LLVMConstInt(t, o.step as u64, 1), NO_NAME)
                    } else {
                        at_last
                    }
                };
                ir::replace_all_uses(p, value);
                ir::delete_instruction(p);
                replaced += 1;
            }
        }
    }
    replaced
}

/// Some loop of `f` has no induction variable whose exit test pins down the trip count:
/// the reverse sweep could not steer by it, and LLVM's `indvars` can often make one.
pub fn needs_indvars(f: Value) -> bool {
    Cfg::new(f).loops.iter().any(|l| l.induction.is_none() || l.exit_value.is_none())
}

/// The first instruction before which every one of `operands` is defined: after the one
/// defined last on the dominator-tree path to `fallback` (which they all dominate), or the
/// entry block's first instruction after its allocas when none is an instruction.
fn earliest_point(cfg: &Cfg, operands: &[Value], fallback: Value) -> Option<Value> {
    let defs: Vec<Value> = operands.iter().copied().filter(|v| ir::is_instruction(*v)).collect();
    let position = |i: Value| -> Option<(usize, usize)> {
        let b = cfg.block_index(ir::parent_block(i))?;
        Some((b, ir::instructions(cfg.blocks[b]).iter().position(|&x| x == i)?))
    };
    let mut latest: Option<(usize, usize)> = None;
    for d in defs {
        let here = position(d)?;
        latest = Some(match latest {
            None => here,
            Some(l) if l.0 == here.0 => (l.0, l.1.max(here.1)),
            Some(l) if cfg.dominates(l.0, here.0) => here,
            Some(l) if cfg.dominates(here.0, l.0) => l,
            Some(_) => return Some(fallback),
        });
    }
    let (block, index) = latest.unwrap_or((0, 0));
    let insts = ir::instructions(cfg.blocks[block]);
    let skip = |i: &Value| matches!(ir::opcode(*i), Some(llvm_sys::LLVMOpcode::LLVMPHI) | Some(llvm_sys::LLVMOpcode::LLVMAlloca));
    let start = if latest.is_some() { index + 1 } else { 0 };
    insts.iter().skip(start).find(|i| !skip(i)).copied().or(Some(fallback))
}

fn incoming_from(phi: Value, block: ir::Block) -> Option<Value> {
    (0..unsafe { LLVMCountIncoming(phi) }).find(|&k| unsafe { LLVMGetIncomingBlock(phi, k) } == block).map(|k| unsafe { LLVMGetIncomingValue(phi, k) })
}
