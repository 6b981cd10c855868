//! Control-flow facts: reachable blocks in reverse post-order, predecessors, dominators
//! (Cooper, Harvey and Kennedy's iterative algorithm) and natural loops.

use crate::ir::{self, Block, Value};
use llvm_sys::LLVMOpcode;
use std::collections::HashMap;

pub struct Cfg {
    /// Reachable blocks in reverse post-order; indices below refer to this order.
    pub blocks: Vec<Block>,
    pub index: HashMap<Block, usize>,
    /// Distinct reachable predecessors, in a fixed order (the reverse sweep numbers edges by it).
    pub preds: Vec<Vec<usize>>,
    pub succs: Vec<Vec<usize>>,
    pub idom: Vec<usize>,
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
        let exits = (0..n).filter(|&i| ir::opcode(ir::terminator(blocks[i])) == Some(LLVMOpcode::LLVMRet)).collect();
        let mut cfg = Cfg { blocks, index, preds, succs, idom, loops: Vec::new(), loop_of: vec![None; n], exits };
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
        let mut by_header: HashMap<usize, Vec<usize>> = HashMap::new();
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
            self.loops.push(Loop { header: h, latches, body, parent: None });
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

fn dominators(preds: &[Vec<usize>]) -> Vec<usize> {
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
}
