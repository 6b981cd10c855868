//! Minimum vertex cuts by maximum flow (Dinic's algorithm): which values to store so that
//! everything a later phase needs can be rebuilt from them at the least total cost.
//!
//! Kept apart from the IR: nodes are plain indices with a cost; `sources` are nodes that
//! cannot be rebuilt from anything (they must be cut or left unneeded), `sinks` the nodes
//! that are needed, and an edge `a -> b` says that rebuilding `b` reads `a`.

/// Large enough never to be cut, small enough that sums of it cannot overflow.
pub const UNCUTTABLE: u64 = u64::MAX / 1024;

pub struct VertexCut {
    costs: Vec<u64>,
    edges: Vec<(usize, usize)>,
    sources: Vec<usize>,
    sinks: Vec<usize>,
}

struct Flow {
    head: Vec<usize>,
    cap: Vec<u64>,
    adj: Vec<Vec<usize>>,
}

impl Flow {
    fn new(nodes: usize) -> Flow {
        Flow { head: Vec::new(), cap: Vec::new(), adj: vec![Vec::new(); nodes] }
    }

    /// Edge `e` and its reverse `e ^ 1`.
    fn add(&mut self, from: usize, to: usize, cap: u64) {
        self.adj[from].push(self.head.len());
        self.head.push(to);
        self.cap.push(cap);
        self.adj[to].push(self.head.len());
        self.head.push(from);
        self.cap.push(0);
    }

    fn levels(&self, s: usize) -> Vec<Option<u32>> {
        let mut level = vec![None; self.adj.len()];
        level[s] = Some(0);
        let mut queue = std::collections::VecDeque::from([s]);
        while let Some(u) = queue.pop_front() {
            for &e in &self.adj[u] {
                let v = self.head[e];
                if self.cap[e] > 0 && level[v].is_none() {
                    level[v] = Some(level[u].unwrap() + 1);
                    queue.push_back(v);
                }
            }
        }
        level
    }

    /// One augmenting path in the level graph, iteratively (value graphs can be deep).
    fn augment(&mut self, s: usize, t: usize, level: &[Option<u32>], next: &mut [usize]) -> u64 {
        let mut path: Vec<usize> = Vec::new();
        let mut u = s;
        loop {
            if u == t {
                let pushed = path.iter().map(|&e| self.cap[e]).min().unwrap_or(0);
                for &e in &path {
                    self.cap[e] -= pushed;
                    self.cap[e ^ 1] += pushed;
                }
                return pushed;
            }
            let mut advanced = false;
            while next[u] < self.adj[u].len() {
                let e = self.adj[u][next[u]];
                let v = self.head[e];
                if self.cap[e] > 0 && level[v].is_some() && level[v] == level[u].map(|l| l + 1) {
                    path.push(e);
                    u = v;
                    advanced = true;
                    break;
                }
                next[u] += 1;
            }
            if !advanced {
                // Dead end: never try it again in this phase, step back.
                let Some(e) = path.pop() else { return 0 };
                u = self.head[e ^ 1];
                next[u] += 1;
            }
        }
    }

    fn max_flow(&mut self, s: usize, t: usize) {
        loop {
            let level = self.levels(s);
            if level[t].is_none() {
                return;
            }
            let mut next = vec![0; self.adj.len()];
            while self.augment(s, t, &level, &mut next) > 0 {}
        }
    }

    /// Nodes that still reach `t` through unsaturated edges.
    fn reaching(&self, t: usize) -> Vec<bool> {
        let mut seen = vec![false; self.adj.len()];
        seen[t] = true;
        let mut stack = vec![t];
        while let Some(v) = stack.pop() {
            for &e in &self.adj[v] {
                // `e` runs v -> u; the edge u -> v is `e ^ 1`.
                let u = self.head[e];
                if !seen[u] && self.cap[e ^ 1] > 0 {
                    seen[u] = true;
                    stack.push(u);
                }
            }
        }
        seen
    }
}

impl VertexCut {
    pub fn new(costs: Vec<u64>) -> VertexCut {
        VertexCut { costs, edges: Vec::new(), sources: Vec::new(), sinks: Vec::new() }
    }

    pub fn edge(&mut self, from: usize, to: usize) {
        self.edges.push((from, to));
    }

    pub fn source(&mut self, n: usize) {
        self.sources.push(n);
    }

    pub fn sink(&mut self, n: usize) {
        self.sinks.push(n);
    }

    /// The cheapest set of nodes meeting every path from a source to a sink. Among cuts of
    /// equal cost, the one nearest the sinks: storing what is needed rather than what it is
    /// rebuilt from saves the rebuilding.
    pub fn solve(&self) -> Vec<usize> {
        let n = self.costs.len();
        // Node k enters at 2k and leaves at 2k + 1; the edge between them costs the node.
        let (s, t) = (2 * n, 2 * n + 1);
        let mut flow = Flow::new(2 * n + 2);
        for (k, &c) in self.costs.iter().enumerate() {
            flow.add(2 * k, 2 * k + 1, c.min(UNCUTTABLE));
        }
        for &(a, b) in &self.edges {
            flow.add(2 * a + 1, 2 * b, UNCUTTABLE);
        }
        for &k in &self.sources {
            flow.add(s, 2 * k, UNCUTTABLE);
        }
        for &k in &self.sinks {
            flow.add(2 * k + 1, t, UNCUTTABLE);
        }
        flow.max_flow(s, t);
        let reaches_sink = flow.reaching(t);
        (0..n).filter(|&k| !reaches_sink[2 * k] && reaches_sink[2 * k + 1]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shared_source_is_cut_instead_of_its_many_uses() {
        // a (source) feeds b, c, d, all needed: storing a alone rebuilds all three.
        let mut g = VertexCut::new(vec![8, 8, 8, 8]);
        g.source(0);
        for k in 1..4 {
            g.edge(0, k);
            g.sink(k);
        }
        assert_eq!(g.solve(), vec![0]);
    }

    #[test]
    fn one_need_of_many_sources_is_cut_itself() {
        // a, b, c (sources) feed d, the only need.
        let mut g = VertexCut::new(vec![8, 8, 8, 8]);
        for k in 0..3 {
            g.source(k);
            g.edge(k, 3);
        }
        g.sink(3);
        assert_eq!(g.solve(), vec![3]);
    }

    #[test]
    fn ties_go_to_the_needed_value_and_costs_decide_otherwise() {
        let mut g = VertexCut::new(vec![8, 8]);
        g.source(0);
        g.edge(0, 1);
        g.sink(1);
        assert_eq!(g.solve(), vec![1]);
        // A 4-byte source under an 8-byte need: the source is cheaper.
        let mut g = VertexCut::new(vec![4, 8]);
        g.source(0);
        g.edge(0, 1);
        g.sink(1);
        assert_eq!(g.solve(), vec![0]);
    }

    #[test]
    fn a_needed_source_is_always_cut_and_uncuttable_nodes_never() {
        // a (source, needed) -> b -> c (needed); b cannot be stored: a must carry c.
        let mut g = VertexCut::new(vec![8, UNCUTTABLE, 8]);
        g.source(0);
        g.sink(0);
        g.edge(0, 1);
        g.edge(1, 2);
        g.sink(2);
        assert_eq!(g.solve(), vec![0]);
    }

    #[test]
    fn matches_brute_force_on_layered_graphs() {
        // Small pseudo-random DAGs: the cut's cost equals the cheapest valid subset's.
        let mut seed = 12345u64;
        let mut rand = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for _ in 0..200 {
            let n = 3 + rand() % 7;
            let costs: Vec<u64> = (0..n).map(|_| 1 + (rand() % 4) as u64).collect();
            let mut g = VertexCut::new(costs.clone());
            let mut edges = Vec::new();
            for b in 1..n {
                for a in 0..b {
                    if rand() % 3 == 0 {
                        g.edge(a, b);
                        edges.push((a, b));
                    }
                }
            }
            let sources: Vec<usize> = (0..n).filter(|_| rand() % 3 == 0).collect();
            let sinks: Vec<usize> = (0..n).filter(|_| rand() % 3 == 0).collect();
            sources.iter().for_each(|&k| g.source(k));
            sinks.iter().for_each(|&k| g.sink(k));
            let valid = |cut: &[bool]| {
                // Reachable from a source without passing a cut node.
                let mut reach = vec![false; n];
                for k in 0..n {
                    let fed = sources.contains(&k) || edges.iter().any(|&(a, b)| b == k && reach[a] && !cut[a]);
                    reach[k] = fed;
                }
                sinks.iter().all(|&k| !reach[k] || cut[k])
            };
            let best = (0..1u32 << n)
                .map(|m| (0..n).map(|k| m >> k & 1 == 1).collect::<Vec<_>>())
                .filter(|c| valid(c))
                .map(|c| (0..n).filter(|&k| c[k]).map(|k| costs[k]).sum::<u64>())
                .min()
                .unwrap();
            let got = g.solve();
            let mut cut = vec![false; n];
            got.iter().for_each(|&k| cut[k] = true);
            assert!(valid(&cut), "cut {got:?} leaves a path");
            assert_eq!(got.iter().map(|&k| costs[k]).sum::<u64>(), best);
        }
    }
}
