//! Control-flow facts: reachable blocks in reverse post-order, predecessors, dominators
//! (Cooper, Harvey and Kennedy's iterative algorithm) and natural loops.

use crate::ir::{self, Block, Value};
use llvm_sys::LLVMOpcode;
use crate::collections::HashMap;

pub struct Cfg {
    /// Reachable blocks in reverse post-order; indices below refer to this order.
    pub blocks: Vec<Block>,
    pub index: HashMap<Block, usize>,
    /// Distinct reachable predecessors, in a fixed order (the reverse sweep numbers edges by it).
    pub preds: Vec<Vec<usize>>,
    pub succs: Vec<Vec<usize>>,
    pub idom: Vec<usize>,
    /// Immediate post-dominators; `usize::MAX` stands for the virtual exit (after every
    /// return), and blocks that cannot reach a return have none either.
    pub ipdom: Vec<usize>,
    pub loops: Vec<Loop>,
    /// For each block, the innermost loop containing it.
    pub loop_of: Vec<Option<usize>>,
    /// Blocks ending in `ret`.
    pub exits: Vec<usize>,
}

pub struct Loop {
    pub header: usize,
    pub latches: Vec<usize>,
    pub body: Vec<usize>,
    pub parent: Option<usize>,
    /// Blocks outside the loop that loop blocks branch to.
    pub exits: Vec<usize>,
    /// The induction variable the reverse sweep steers by (the first one found).
    pub induction: Option<Induction>,
    /// Further affine induction variables of the same loop, recovered the same way.
    pub other_inductions: Vec<Induction>,
    /// What bounds the number of iterations, when the exit test says.
    pub trip_count: Option<TripCount>,
    /// The steering induction variable's value in the last iteration, when the exit test
    /// pins it down exactly.
    pub exit_value: Option<ExitValue>,
}

/// The loop leaves exactly when its induction variable (`last = bound`) or the variable's
/// next value (`last = bound - step`) equals `bound`, a value computed before the loop: the
/// reverse sweep starts its counter there without the forward sweep recording anything.
#[derive(Clone, Copy, Debug)]
pub struct ExitValue {
    pub bound: Value,
    pub compares_next: bool,
}

/// The loop runs while its induction variable (or the variable's next value) has not
/// reached `bound`, a value computed before the loop: about `(bound - start) / step`
/// iterations, known when the loop is entered (constant or computed at run time).
#[derive(Clone, Copy, Debug)]
pub struct TripCount {
    pub bound: Value,
}

/// A loop's exit test against an induction variable (see `Cfg::exit_test`).
struct ExitTest {
    compare: Value,
    bound: Value,
    compares_next: bool,
    /// The loop leaves when the comparison is true (else when it is false).
    leaves_on_true: bool,
}

/// One side of a conditional branch: the branch went that way when `condition` was
/// `when_true`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BranchSide {
    pub condition: Value,
    pub when_true: bool,
}

/// How the reverse sweep can tell that a join block was entered from one predecessor:
/// branch decisions of the same loop iteration that all went that way (at most two: the
/// one that led to the predecessor, and the predecessor's own; see `Cfg::entry_witnesses`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeWitness {
    pub sides: Vec<BranchSide>,
}

impl EdgeWitness {
    pub fn conditions(&self) -> impl Iterator<Item = Value> + '_ {
        self.sides.iter().map(|s| s.condition)
    }
}

/// A canonical induction variable: `iv = phi [start, preheader], [iv + step, latch]`, in a
/// loop with one preheader, one latch and exits reached only from inside the loop. The
/// reverse sweep recovers every iteration's value from the last one, so neither the
/// variable nor the header's branch decision needs the tape.
#[derive(Clone, Copy, Debug)]
pub struct Induction {
    pub phi: Value,
    pub start: Value,
    pub step: i64,
    pub preheader: usize,
    pub latch: usize,
}

impl Cfg {
    pub fn new(f: Value) -> Cfg {
        let blocks = ir::reverse_post_order(f);
        let index: HashMap<Block, usize> = blocks.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let n = blocks.len();
        let mut preds = vec![Vec::new(); n];
        let mut succs = vec![Vec::new(); n];
        for (i, b) in blocks.iter().enumerate() {
            for s in ir::successors(*b) {
                let j = index[&s];
                if !succs[i].contains(&j) {
                    succs[i].push(j);
                }
                if !preds[j].contains(&i) {
                    preds[j].push(i);
                }
            }
        }
        let idom = dominators(&preds);
        let exits: Vec<usize> = (0..n).filter(|&i| ir::opcode(ir::terminator(blocks[i])) == Some(LLVMOpcode::LLVMRet)).collect();
        let ipdom = post_dominators(&succs, &exits);
        let mut cfg = Cfg { blocks, index, preds, succs, idom, ipdom, loops: Vec::new(), loop_of: vec![None; n], exits };
        cfg.find_loops();
        cfg
    }

    pub fn dominates(&self, a: usize, mut b: usize) -> bool {
        loop {
            if a == b {
                return true;
            }
            if b == 0 {
                return false;
            }
            b = self.idom[b];
        }
    }

    /// Does every path from `b` to a return pass through `a`?
    pub fn post_dominates(&self, a: usize, mut b: usize) -> bool {
        for _ in 0..=self.blocks.len() {
            if a == b {
                return true;
            }
            if b == usize::MAX || self.ipdom[b] == usize::MAX {
                return false;
            }
            b = self.ipdom[b];
        }
        false
    }

    /// A block that runs at most once per call: in no loop.
    pub fn in_loop(&self, b: usize) -> bool {
        self.loop_of[b].is_some()
    }

    /// Does block `b` dominate every block that returns?
    pub fn dominates_exits(&self, b: usize) -> bool {
        self.exits.iter().all(|&e| self.dominates(b, e))
    }

    pub fn block_index(&self, b: Block) -> Option<usize> {
        self.index.get(&b).copied()
    }

    fn find_loops(&mut self) {
        let n = self.blocks.len();
        let mut by_header: HashMap<usize, Vec<usize>> = HashMap::default();
        for b in 0..n {
            for &s in &self.succs[b] {
                if self.dominates(s, b) {
                    by_header.entry(s).or_default().push(b);
                }
            }
        }
        let mut headers: Vec<usize> = by_header.keys().copied().collect();
        headers.sort();
        for h in headers {
            let latches = by_header[&h].clone();
            let mut body = vec![h];
            let mut stack = latches.clone();
            while let Some(x) = stack.pop() {
                if !body.contains(&x) {
                    body.push(x);
                    stack.extend(self.preds[x].iter().copied());
                }
            }
            body.sort();
            let mut exits = Vec::new();
            for &x in &body {
                for &s in &self.succs[x] {
                    if !body.contains(&s) && !exits.contains(&s) {
                        exits.push(s);
                    }
                }
            }
            let mut inductions = self.find_inductions(h, &latches, &body, &exits);
            // Steer by the variable the exit test pins down, when there is one.
            if let Some(k) = inductions.iter().position(|&iv| self.find_exit_value(&body, iv).is_some()) {
                let iv = inductions.remove(k);
                inductions.insert(0, iv);
            }
            let induction = if inductions.is_empty() { None } else { Some(inductions.remove(0)) };
            let trip_count = induction.and_then(|iv| self.find_trip_count(&body, iv));
            let exit_value = induction.and_then(|iv| self.find_exit_value(&body, iv));
            self.loops.push(Loop { header: h, latches, body, parent: None, exits, induction, other_inductions: inductions, trip_count, exit_value });
        }
        // Innermost loop = the smallest containing body; headers in RPO make outer loops first.
        for l in 0..self.loops.len() {
            for &b in &self.loops[l].body.clone() {
                match self.loop_of[b] {
                    Some(o) if self.loops[o].body.len() <= self.loops[l].body.len() => {}
                    _ => self.loop_of[b] = Some(l),
                }
            }
        }
        for l in 0..self.loops.len() {
            let h = self.loops[l].header;
            self.loops[l].parent = (0..self.loops.len())
                .filter(|&o| o != l && self.loops[o].body.contains(&h) && self.loops[o].body.len() > self.loops[l].body.len())
                .min_by_key(|&o| self.loops[o].body.len());
        }
    }
}

impl Cfg {
    fn find_inductions(&self, h: usize, latches: &[usize], body: &[usize], exits: &[usize]) -> Vec<Induction> {
        let mut out = Vec::new();
        if latches.len() != 1 || self.preds[h].len() != 2 {
            return out;
        }
        let latch = latches[0];
        let Some(&preheader) = self.preds[h].iter().find(|&&p| p != latch) else { return out };
        if body.contains(&preheader) || exits.iter().any(|&e| self.preds[e].iter().any(|p| !body.contains(p))) {
            return out;
        }
        for phi in ir::instructions(self.blocks[h]) {
            if ir::opcode(phi) != Some(LLVMOpcode::LLVMPHI) {
                break;
            }
            if ir::type_kind(ir::type_of(phi)) != llvm_sys::LLVMTypeKind::LLVMIntegerTypeKind {
                continue;
            }
            let (mut start, mut next) = (None, None);
            unsafe {
                for k in 0..llvm_sys::core::LLVMCountIncoming(phi) {
                    let b = llvm_sys::core::LLVMGetIncomingBlock(phi, k);
                    let v = llvm_sys::core::LLVMGetIncomingValue(phi, k);
                    if Some(b) == self.blocks.get(preheader).copied() {
                        start = Some(v);
                    } else if Some(b) == self.blocks.get(latch).copied() {
                        next = Some(v);
                    }
                }
            }
            let (Some(start), Some(next)) = (start, next) else { continue };
            if ir::opcode(next) != Some(LLVMOpcode::LLVMAdd) {
                continue;
            }
            let (a, b) = (ir::operand(next, 0), ir::operand(next, 1));
            let step = if a == phi { ir::const_int_value(b) } else if b == phi { ir::const_int_value(a) } else { None };
            if let Some(step) = step.filter(|s| *s != 0) {
                out.push(Induction { phi, start, step, preheader, latch });
            }
        }
        out
    }

    /// The loop's one exit test, when it compares the induction variable (or its next value)
    /// with a value defined outside the loop.
    fn find_trip_count(&self, body: &[usize], iv: Induction) -> Option<TripCount> {
        let test = self.exit_test(body, iv)?;
        ir::is_integer(ir::type_of(test.bound)).then_some(TripCount { bound: test.bound })
    }

    /// The exit test, when the loop leaves exactly on `iv == bound` or `iv + step == bound`
    /// (`icmp eq` leaving on true, `icmp ne` leaving on false) and nowhere else.
    fn find_exit_value(&self, body: &[usize], iv: Induction) -> Option<ExitValue> {
        let test = self.exit_test(body, iv)?;
        let exact = match unsafe { llvm_sys::core::LLVMGetICmpPredicate(test.compare) } {
            llvm_sys::LLVMIntPredicate::LLVMIntEQ => test.leaves_on_true,
            llvm_sys::LLVMIntPredicate::LLVMIntNE => !test.leaves_on_true,
            _ => false,
        };
        exact.then_some(ExitValue { bound: test.bound, compares_next: test.compares_next })
    }

    /// The `icmp` of the loop's one exiting branch, when it compares `iv` (or its next
    /// value) with a value defined outside the loop.
    fn exit_test(&self, body: &[usize], iv: Induction) -> Option<ExitTest> {
        let exiting: Vec<usize> = body.iter().copied().filter(|&b| self.succs[b].iter().any(|s| !body.contains(s))).collect();
        let [x] = exiting[..] else { return None };
        let t = ir::terminator(self.blocks[x]);
        if ir::opcode(t) != Some(LLVMOpcode::LLVMBr) || ir::num_operands(t) != 3 {
            return None;
        }
        let c = ir::operand(t, 0);
        if ir::opcode(c) != Some(LLVMOpcode::LLVMICmp) {
            return None;
        }
        // A conditional br's operands are (cond, false successor, true successor).
        let block_of = |k: u32| ir::value_as_block(ir::operand(t, k)).and_then(|b| self.block_index(b));
        let (Some(on_false), Some(on_true)) = (block_of(1), block_of(2)) else { return None };
        if body.contains(&on_true) == body.contains(&on_false) {
            return None;
        }
        let leaves_on_true = body.contains(&on_false);
        let next = unsafe {
            (0..llvm_sys::core::LLVMCountIncoming(iv.phi))
                .find(|&k| llvm_sys::core::LLVMGetIncomingBlock(iv.phi, k) == self.blocks[iv.latch])
                .map(|k| llvm_sys::core::LLVMGetIncomingValue(iv.phi, k))
        }?;
        let outside = |v: Value| !ir::is_instruction(v) || self.block_index(ir::parent_block(v)).map(|b| !body.contains(&b)).unwrap_or(false);
        let (a, b) = (ir::operand(c, 0), ir::operand(c, 1));
        let (mine, bound) = if outside(b) && (a == iv.phi || a == next) {
            (a, b)
        } else if outside(a) && (b == iv.phi || b == next) {
            (b, a)
        } else {
            return None;
        };
        Some(ExitTest { compare: c, bound, compares_next: mine == next, leaves_on_true })
    }

    /// For a block with several predecessors, a witness per predecessor except at most one
    /// (the one left when no witness holds), or None when some two predecessors have none.
    /// A predecessor `p` in `b`'s innermost loop is witnessed when it dominates `b` and its
    /// conditional branch sends one side to `b` (then `b` was entered from `p` exactly when
    /// the branch went that way), or when it is reached only through one side of a branch
    /// in a block `q` that dominates `b`: `p` is dominated by the block `s` that side leads
    /// to, `s` has no other way in, and every path from `s` to `b` passes `p`. Then `b` was
    /// entered from `p` exactly when `q` chose `s` and `p` (if its branch is conditional)
    /// chose `b`. Everything sits in `b`'s innermost loop, so in the reverse of `b` the
    /// conditions are the ones the primal evaluated on its way into this visit of `b`.
    pub fn entry_witnesses(&self, b: usize) -> Option<Vec<Option<EdgeWitness>>> {
        let preds = &self.preds[b];
        if preds.len() < 2 {
            return None;
        }
        let same_loop = |x: usize| self.loop_of[x] == self.loop_of[b];
        let side_to = |from: usize, to: usize| -> Option<BranchSide> {
            let t = ir::terminator(self.blocks[from]);
            if ir::opcode(t) != Some(LLVMOpcode::LLVMBr) || ir::num_operands(t) != 3 {
                return None;
            }
            // A conditional br's operands are (cond, false successor, true successor).
            let block_of = |k: u32| ir::value_as_block(ir::operand(t, k)).and_then(|x| self.block_index(x));
            let (on_false, on_true) = (block_of(1)?, block_of(2)?);
            if (on_true == to) == (on_false == to) {
                return None;
            }
            Some(BranchSide { condition: ir::operand(t, 0), when_true: on_true == to })
        };
        // (a branch in `b` itself decides where this visit goes next, not where it came from)
        let witness = |p: usize| -> Option<EdgeWitness> {
            if p == b || !same_loop(p) {
                return None;
            }
            let own = match self.succs[p][..] {
                [only] if only == b => None,
                _ => Some(side_to(p, b)?),
            };
            if self.dominates(p, b) {
                return own.map(|side| EdgeWitness { sides: vec![side] });
            }
            let mut s = p;
            loop {
                if let [q] = self.preds[s][..] {
                    if q != b && same_loop(q) && same_loop(s) && self.dominates(q, b) && !self.reaches_avoiding(s, b, p) {
                        let guard = side_to(q, s)?;
                        return Some(EdgeWitness { sides: std::iter::once(guard).chain(own).collect() });
                    }
                }
                if s == 0 || self.idom[s] == s {
                    return None;
                }
                s = self.idom[s];
                if !self.loop_of[b].map(|l| self.loops[l].body.contains(&s)).unwrap_or(true) {
                    return None;
                }
            }
        };
        let out: Vec<Option<EdgeWitness>> = preds.iter().map(|&p| witness(p)).collect();
        (out.iter().filter(|w| w.is_none()).count() <= 1).then_some(out)
    }

    /// Can `to` be reached from `from` within one iteration of `to`'s innermost loop (no
    /// back edge to its header, no leaving it) without passing `avoid`?
    fn reaches_avoiding(&self, from: usize, to: usize, avoid: usize) -> bool {
        let inside = |x: usize| self.loop_of[to].map(|l| self.loops[l].body.contains(&x)).unwrap_or(true);
        let header = self.loop_of[to].map(|l| self.loops[l].header);
        let mut seen = vec![false; self.blocks.len()];
        let mut todo = vec![from];
        while let Some(x) = todo.pop() {
            if x == to {
                return true;
            }
            if x == avoid || seen[x] {
                continue;
            }
            seen[x] = true;
            for &y in &self.succs[x] {
                if Some(y) != header && inside(y) {
                    todo.push(y);
                }
            }
        }
        false
    }

    /// The loop whose induction variable `v` is, and that variable.
    pub fn induction_of(&self, v: Value) -> Option<(usize, Induction)> {
        self.loops.iter().enumerate().find_map(|(l, lp)| lp.inductions().find(|i| i.phi == v).map(|i| (l, i)))
    }

    pub fn induction_loop(&self, v: Value) -> Option<usize> {
        self.induction_of(v).map(|(l, _)| l)
    }

    pub fn loop_contains(&self, l: usize, b: usize) -> bool {
        self.loops[l].body.contains(&b)
    }
}

impl Loop {
    pub fn inductions(&self) -> impl Iterator<Item = Induction> + '_ {
        self.induction.iter().copied().chain(self.other_inductions.iter().copied())
    }
}

/// Immediate dominators of blocks numbered in reverse post-order (entry 0), given each
/// block's predecessors (Cooper, Harvey and Kennedy's iteration).
pub(crate) fn dominators(preds: &[Vec<usize>]) -> Vec<usize> {
    let n = preds.len();
    let mut idom = vec![usize::MAX; n];
    if n == 0 {
        return idom;
    }
    idom[0] = 0;
    let mut changed = true;
    while changed {
        changed = false;
        for b in 1..n {
            let mut new = usize::MAX;
            for &p in &preds[b] {
                if idom[p] == usize::MAX {
                    continue;
                }
                new = if new == usize::MAX { p } else { intersect(&idom, p, new) };
            }
            if new != usize::MAX && idom[b] != new {
                idom[b] = new;
                changed = true;
            }
        }
    }
    idom
}

/// Post-dominators: dominators of the reversed graph rooted at a virtual exit that every
/// return block leads to (the same iterative algorithm, on a post-order of that graph).
fn post_dominators(succs: &[Vec<usize>], exits: &[usize]) -> Vec<usize> {
    let n = succs.len();
    let exit = n; // the virtual exit node
    let mut rpreds: Vec<Vec<usize>> = vec![Vec::new(); n + 1]; // predecessors in the reversed graph
    let mut rsuccs: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for (b, ss) in succs.iter().enumerate() {
        for &s in ss {
            rsuccs[s].push(b);
            rpreds[b].push(s);
        }
    }
    for &e in exits {
        rsuccs[exit].push(e);
        rpreds[e].push(exit);
    }
    // Reverse post-order of the reversed graph from the virtual exit.
    let mut order = Vec::new();
    let mut seen = vec![false; n + 1];
    let mut stack = vec![(exit, 0usize)];
    seen[exit] = true;
    while let Some((b, i)) = stack.pop() {
        if i < rsuccs[b].len() {
            stack.push((b, i + 1));
            let s = rsuccs[b][i];
            if !seen[s] {
                seen[s] = true;
                stack.push((s, 0));
            }
        } else {
            order.push(b);
        }
    }
    order.reverse();
    let pos: Vec<usize> = {
        let mut p = vec![usize::MAX; n + 1];
        for (k, &b) in order.iter().enumerate() {
            p[b] = k;
        }
        p
    };
    // Dominators over positions in that order (position 0 is the virtual exit).
    let m = order.len();
    let preds_by_pos: Vec<Vec<usize>> = order.iter().map(|&b| rpreds[b].iter().filter(|&&p| pos[p] != usize::MAX).map(|&p| pos[p]).collect()).collect();
    let idom_pos = dominators(&preds_by_pos);
    let mut ipdom = vec![usize::MAX; n];
    for k in 1..m {
        let b = order[k];
        if b < n && idom_pos[k] != usize::MAX {
            let d = order[idom_pos[k]];
            ipdom[b] = if d == exit { usize::MAX } else { d };
        }
    }
    ipdom
}

fn intersect(idom: &[usize], mut a: usize, mut b: usize) -> usize {
    while a != b {
        while a > b {
            a = idom[a];
        }
        while b > a {
            b = idom[b];
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diamond_and_loop_dominators() {
        // 0 -> 1 -> {2,3} -> 4 -> 1 (loop), 4 -> 5
        let preds = vec![vec![], vec![0, 4], vec![1], vec![1], vec![2, 3], vec![4]];
        let idom = dominators(&preds);
        assert_eq!(idom, vec![0, 0, 1, 1, 1, 4]);
    }

    #[test]
    fn post_dominators_of_a_diamond_in_a_loop() {
        // 0 -> 1 -> {2,3} -> 4 -> {1, 5}; 5 returns.
        let succs = vec![vec![1], vec![2, 3], vec![4], vec![4], vec![1, 5], vec![]];
        let ipdom = post_dominators(&succs, &[5]);
        assert_eq!(ipdom, vec![1, 4, 4, 4, 5, usize::MAX]);
    }
}
