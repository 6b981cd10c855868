//! Random programs for `random_programs.rs`: LLVM IR text generated directly from a seed.
//!
//! A program is `void @pK(ptr %x, ptr %y, i64 %n)` over two arrays of doubles (lengths `lx`,
//! `ly` chosen per program) and a run-time count `n`, plus the helper functions it calls,
//! `double @pK.hJ(ptr %p, ptr %q, i64 %n, double %a)`. Bodies are built from statements:
//! arithmetic through every rule of the rule table (arguments mapped into each function's
//! domain), loads and stores through the arrays and through local arrays (alloca, malloc,
//! calloc) with constant or induction-variable indices, `memcpy`, `select`, if/else and `switch`
//! with phis, loops (top-tested, counting up or down to a run-time, constant or triangular bound,
//! with loop-carried accumulators and optional data-dependent `break`; or bottom-tested, their
//! body's values used after them), and calls of helpers, in loops too;
//! a third of the helpers recurse (on `n` down to 0).
//! Every value is defined before use by construction: statements see only the values of the
//! regions that dominate them, and regions hand values out through phis.

use radx_core::rules::Rule;
use std::collections::BTreeSet;
use std::fmt::Write as _;

mod tables;

pub use tables::{callee, mix, Rng, Stats};
use tables::{domain, intrinsic_only, lit, Dom, HOST_DEFINITIONS, INSTRUCTIONS};

/// One generated program.
pub struct Program {
    pub name: String,
    /// Definitions of the helpers and of the program itself.
    pub text: String,
    /// Declarations the definitions need (libm functions, intrinsics, allocators).
    pub decls: BTreeSet<String>,
    pub lx: usize,
    pub ly: usize,
    pub stats: Stats,
}

/// A helper the program may call: its name and the lengths its two pointers must have.
#[derive(Clone)]
struct Helper {
    name: String,
    lp: usize,
    lq: usize,
}

/// An array in scope: its pointer, length, and allocation (pointers with the same group may
/// alias, so `memcpy` between them is not generated).
#[derive(Clone)]
struct Mem {
    ptr: String,
    len: usize,
    group: usize,
}

struct Fg<'a> {
    rng: &'a mut Rng,
    rules: &'a [&'static Rule],
    decls: &'a mut BTreeSet<String>,
    stats: &'a mut Stats,
    helpers: &'a [Helper],
    body: String,
    next_id: usize,
    cur: String,
    env: Vec<String>,
    mems: Vec<Mem>,
    ivs: Vec<String>,
    depth: usize,
    loop_depth: usize,
    budget: usize,
    frees: Vec<String>,
}

impl<'a> Fg<'a> {
    fn id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id
    }
    fn fresh(&mut self, p: &str) -> String {
        format!("%{p}{}", self.id())
    }
    fn label(&mut self, p: &str) -> String {
        format!("{p}{}", self.id())
    }
    fn emit(&mut self, s: String) {
        self.body.push_str("  ");
        self.body.push_str(&s);
        self.body.push('\n');
    }
    fn start_block(&mut self, l: &str) {
        writeln!(self.body, "{l}:").unwrap();
        self.cur = l.to_string();
    }
    fn val(&mut self, p: &str, rhs: String) -> String {
        let v = self.fresh(p);
        self.emit(format!("{v} = {rhs}"));
        v
    }

    /// A value in scope, the recent ones more often.
    fn pick(&mut self) -> String {
        let n = self.env.len();
        let i = if self.rng.chance(0.5) { n - 1 - self.rng.below(n.min(3)) } else { self.rng.below(n) };
        self.env[i].clone()
    }

    fn mapped(&mut self, dom: Dom, v: String) -> String {
        let squash = |g: &mut Self, v: &str| {
            let s = g.val("sq", format!("fmul double {v}, {v}"));
            let d = g.val("sq", format!("fadd double {s}, 1.0"));
            g.val("sq", format!("fdiv double {v}, {d}"))
        };
        match dom {
            Dom::Raw => v,
            Dom::Small => squash(self, &v),
            Dom::Pos => {
                let s = self.val("ps", format!("fmul double {v}, {v}"));
                self.val("ps", format!("fadd double {s}, 0.5"))
            }
            Dom::Unit | Dom::GtOne | Dom::Mid => {
                let q = squash(self, &v);
                let (scale, off) = match dom {
                    Dom::Unit => (1.0, 0.75),
                    Dom::GtOne => (1.0, 2.0),
                    _ => (0.25, 0.5),
                };
                let s = self.val("sc", format!("fmul double {q}, {}", lit(scale)));
                self.val("sc", format!("fadd double {s}, {}", lit(off)))
            }
        }
    }

    /// Applies `rule` to values from the environment (the first argument `first` when
    /// given), each mapped into the rule's domain; returns the result.
    fn apply(&mut self, rule: &'static Rule, first: Option<String>) -> String {
        *self.stats.rules.entry(rule.name).or_default() += 1;
        let mut first = first;
        let mut args = Vec::new();
        for (k, p) in rule.params.iter().enumerate() {
            if p.is_int {
                let n = match rule.name {
                    "powi" => self.rng.int(-2, 3),
                    "ldexp" => self.rng.int(-3, 3),
                    _ => 1,
                };
                args.push(format!("i32 {n}"));
            } else {
                let v = first.take().unwrap_or_else(|| self.pick());
                let m = self.mapped(domain(rule.name, k), v);
                args.push(format!("double {m}"));
            }
        }
        if INSTRUCTIONS.contains(&rule.name) {
            let ops: Vec<&str> = args.iter().map(|a| a.trim_start_matches("double ")).collect();
            return self.val("v", format!("{} double {}", rule.name, ops.join(", ")));
        }
        let callee = intrinsic_only(rule.name).map(str::to_string).unwrap_or_else(|| rule.name.to_string());
        let tys: Vec<&str> = rule.params.iter().map(|p| if p.is_int { "i32" } else { "double" }).collect();
        match HOST_DEFINITIONS.iter().find(|(n, _)| *n == rule.name) {
            Some((_, def)) => self.decls.insert(def.to_string()),
            None => self.decls.insert(format!("declare double @{callee}({})", tys.join(", "))),
        };
        self.val("v", format!("call double @{callee}({})", args.join(", ")))
    }

    fn any_rule(&mut self) -> &'static Rule {
        self.rules[self.rng.below(self.rules.len())]
    }

    /// An index below `len`: a constant, or an induction variable (shifted) modulo `len`.
    fn index(&mut self, len: usize) -> String {
        if !self.ivs.is_empty() && self.rng.chance(0.75) {
            let iv = self.ivs[self.rng.below(self.ivs.len())].clone();
            let c = self.rng.below(3);
            let t = if c > 0 { self.val("ix", format!("add i64 {iv}, {c}")) } else { iv };
            self.val("ix", format!("urem i64 {t}, {len}"))
        } else {
            self.rng.below(len).to_string()
        }
    }

    fn address(&mut self, m: &Mem) -> String {
        let i = self.index(m.len);
        self.val("a", format!("getelementptr inbounds double, ptr {}, i64 {i}", m.ptr))
    }

    fn any_mem(&mut self) -> Mem {
        self.mems[self.rng.below(self.mems.len())].clone()
    }

    fn load(&mut self) {
        let m = self.any_mem();
        let a = self.address(&m);
        let v = self.val("ld", format!("load double, ptr {a}, align 8"));
        self.stats.loads += 1;
        self.env.push(v);
    }

    fn store(&mut self) {
        let m = self.any_mem();
        self.store_to(&m);
    }

    fn store_to(&mut self, m: &Mem) {
        let a = self.address(m);
        let mut v = self.pick();
        if self.rng.chance(0.4) {
            // In place: x[i] = op(x[i], v).
            let old = self.val("ld", format!("load double, ptr {a}, align 8"));
            v = if self.rng.chance(0.5) {
                let s = self.mapped(Dom::Small, v);
                self.val("v", format!("fmul double {old}, {s}"))
            } else {
                self.val("v", format!("fadd double {old}, {v}"))
            };
            self.stats.inplace_updates += 1;
        }
        self.emit(format!("store double {v}, ptr {a}, align 8"));
        self.stats.stores += 1;
    }

    fn condition(&mut self) -> String {
        match self.rng.below(6) {
            0 => {
                let k = self.rng.int(0, 3);
                self.val("c", format!("icmp sgt i64 %n, {k}"))
            }
            1 if !self.ivs.is_empty() => {
                let iv = self.ivs[self.rng.below(self.ivs.len())].clone();
                let r = self.val("c", format!("and i64 {iv}, 1"));
                self.val("c", format!("icmp eq i64 {r}, 0"))
            }
            2 => {
                let a = self.pick();
                let t = self.rng.range(-1.0, 1.0);
                self.val("c", format!("fcmp ogt double {a}, {}", lit(t)))
            }
            _ => {
                let (a, b) = (self.pick(), self.pick());
                let op = ["olt", "ogt", "ole", "oge", "ult", "une"][self.rng.below(6)];
                self.val("c", format!("fcmp {op} double {a}, {b}"))
            }
        }
    }

    fn select(&mut self) {
        let c = self.condition();
        let (a, b) = (self.pick(), self.pick());
        let v = self.val("s", format!("select i1 {c}, double {a}, double {b}"));
        self.stats.selects += 1;
        self.env.push(v);
    }

    fn region(&mut self, max: usize) {
        let n = 1 + self.rng.below(max);
        for _ in 0..n {
            if self.budget == 0 {
                break;
            }
            self.budget -= 1;
            self.stmt();
        }
    }

    fn if_stmt(&mut self) {
        let c = self.condition();
        let (t, e, j) = (self.label("then"), self.label("else"), self.label("join"));
        let has_else = self.rng.chance(0.6);
        let mark = self.env.len();
        // Without an else, the value that flows around the then-region comes from before it.
        let around = (!has_else).then(|| (self.pick(), self.cur.clone()));
        self.emit(format!("br i1 {c}, label %{t}, label %{}", if has_else { &e } else { &j }));
        self.stats.ifs += 1;
        self.depth += 1;
        self.start_block(&t);
        self.region(3);
        let tv = self.pick();
        let tend = self.cur.clone();
        self.emit(format!("br label %{j}"));
        self.env.truncate(mark);
        let (ev, eend) = match around {
            Some(a) => a,
            None => {
                self.start_block(&e);
                self.region(3);
                let ev = self.pick();
                let eend = self.cur.clone();
                self.emit(format!("br label %{j}"));
                self.env.truncate(mark);
                (ev, eend)
            }
        };
        self.depth -= 1;
        self.start_block(&j);
        let m = self.val("m", format!("phi double [ {tv}, %{tend} ], [ {ev}, %{eend} ]"));
        self.env.push(m);
    }

    fn loop_stmt(&mut self) {
        let pre = self.cur.clone();
        let (h, b, x) = (self.label("loop"), self.label("body"), self.label("exit"));
        let bound = match self.rng.below(6) {
            0..=2 => "%n".to_string(),
            3 => {
                let c = [-1, 1, 2][self.rng.below(3)];
                self.val("bd", format!("add i64 %n, {c}"))
            }
            4 => self.rng.int(0, 3).to_string(),
            _ => match self.ivs.last().cloned() {
                // Triangular: the inner loop runs as many times as the outer index.
                Some(iv) => {
                    let c = self.rng.below(2);
                    self.val("bd", format!("add i64 {iv}, {c}"))
                }
                None => "%n".to_string(),
            },
        };
        let down = self.rng.chance(0.3);
        let nacc = 1 + self.rng.below(2);
        let inits: Vec<String> = (0..nacc).map(|_| self.pick()).collect();
        self.emit(format!("br label %{h}"));
        let latch = format!("@LATCH{}@", self.id());
        self.start_block(&h);
        let i = self.fresh("i");
        let inext = self.fresh("inext");
        let start = if down { bound.clone() } else { "0".to_string() };
        self.emit(format!("{i} = phi i64 [ {start}, %{pre} ], [ {inext}, %{latch} ]"));
        let mut accs = Vec::new();
        let mut nexts = Vec::new();
        for init in &inits {
            let (a, nx) = (self.fresh("acc"), self.fresh("next"));
            self.emit(format!("{a} = phi double [ {init}, %{pre} ], [ {nx}, %{latch} ]"));
            accs.push(a);
            nexts.push(nx);
        }
        let c = if down { self.val("c", format!("icmp sgt i64 {i}, 0")) } else { self.val("c", format!("icmp slt i64 {i}, {bound}")) };
        self.emit(format!("br i1 {c}, label %{b}, label %{x}"));
        self.start_block(&b);
        let idx = if down {
            self.emit(format!("{inext} = sub i64 {i}, 1"));
            inext.clone()
        } else {
            i.clone()
        };
        self.stats.loops += 1;
        self.stats.nested_loops += (self.loop_depth > 0) as usize;
        self.stats.countdown_loops += down as usize;
        let mark = self.env.len();
        self.env.extend(accs.iter().cloned());
        self.ivs.push(idx);
        self.loop_depth += 1;
        self.depth += 1;
        self.region(4);
        // A data-dependent exit from the middle of the body.
        let mut brk = None;
        if self.rng.chance(0.2) {
            let v = self.pick();
            let t = self.rng.range(-0.5, 1.5);
            let bc = self.val("brk", format!("fcmp ogt double {v}, {}", lit(t)));
            let cont = self.label("cont");
            brk = Some((self.cur.clone(), v));
            self.emit(format!("br i1 {bc}, label %{x}, label %{cont}"));
            self.start_block(&cont);
            self.stats.breaks += 1;
            self.region(2);
        }
        for (a, nx) in accs.iter().zip(&nexts) {
            let t = self.pick();
            let rhs = match self.rng.below(4) {
                0 => format!("fsub double {a}, {t}"),
                1 => {
                    let s = self.mapped(Dom::Small, t);
                    format!("fmul double {a}, {s}")
                }
                2 => {
                    let rule = self.any_rule();
                    let r = self.apply(rule, Some(t));
                    format!("fadd double {a}, {r}")
                }
                _ => format!("fadd double {a}, {t}"),
            };
            self.emit(format!("{nx} = {rhs}"));
        }
        if !down {
            self.emit(format!("{inext} = add i64 {i}, 1"));
        }
        self.emit(format!("br label %{h}"));
        let latch_block = self.cur.clone();
        self.body = self.body.replace(&latch, &latch_block);
        self.loop_depth -= 1;
        self.depth -= 1;
        self.ivs.pop();
        self.env.truncate(mark);
        self.start_block(&x);
        if let Some((bb, v)) = brk {
            let r = self.val("out", format!("phi double [ {}, %{h} ], [ {v}, %{bb} ]", accs[0]));
            self.env.push(r);
        }
        self.env.extend(accs);
    }

    /// A bottom-tested loop (what loop rotation makes of C loops): the body runs at least
    /// once, and the values it computes are used after the loop (through LCSSA phis).
    fn do_while_stmt(&mut self) {
        let pre = self.cur.clone();
        let (b, x) = (self.label("do"), self.label("done"));
        let bound = match (self.rng.below(3), self.ivs.last().cloned()) {
            (1, _) => self.rng.int(1, 3).to_string(),
            (2, Some(iv)) => iv,
            _ => "%n".to_string(),
        };
        let inits: Vec<String> = (0..1 + self.rng.below(2)).map(|_| self.pick()).collect();
        self.emit(format!("br label %{b}"));
        let latch = format!("@LATCH{}@", self.id());
        self.start_block(&b);
        let (i, inext) = (self.fresh("i"), self.fresh("inext"));
        self.emit(format!("{i} = phi i64 [ 0, %{pre} ], [ {inext}, %{latch} ]"));
        let mut accs = Vec::new();
        for init in &inits {
            let (a, nx) = (self.fresh("acc"), self.fresh("next"));
            self.emit(format!("{a} = phi double [ {init}, %{pre} ], [ {nx}, %{latch} ]"));
            accs.push((a, nx));
        }
        self.stats.loops += 1;
        self.stats.do_whiles += 1;
        self.stats.nested_loops += (self.loop_depth > 0) as usize;
        self.env.extend(accs.iter().map(|(a, _)| a.clone()));
        self.ivs.push(i.clone());
        self.loop_depth += 1;
        self.depth += 1;
        self.region(4);
        for (a, nx) in &accs {
            let t = self.pick();
            let s = self.mapped(Dom::Small, t);
            let op = if self.rng.chance(0.5) { "fadd" } else { "fmul" };
            self.emit(format!("{nx} = {op} double {a}, {s}"));
            self.env.push(nx.clone());
        }
        self.emit(format!("{inext} = add i64 {i}, 1"));
        let c = self.val("c", format!("icmp slt i64 {inext}, {bound}"));
        self.emit(format!("br i1 {c}, label %{b}, label %{x}"));
        let latch_block = self.cur.clone();
        self.body = self.body.replace(&latch, &latch_block);
        self.loop_depth -= 1;
        self.depth -= 1;
        self.ivs.pop();
        // The body's values dominate the only exit: they stay in scope.
        self.start_block(&x);
    }

    /// A `switch` on the count or an index, each case computing a value, merged by a phi.
    fn switch_stmt(&mut self) {
        let k = 2 + self.rng.below(2);
        let on = match self.ivs.last().cloned() {
            Some(iv) if self.rng.chance(0.5) => iv,
            _ => "%n".to_string(),
        };
        let s = self.val("sw", format!("urem i64 {on}, {}", k + 1));
        let labels: Vec<String> = (0..=k).map(|_| self.label("case")).collect();
        let j = self.label("swjoin");
        let cases: Vec<String> = (0..k).map(|c| format!("i64 {c}, label %{}", labels[c])).collect();
        self.emit(format!("switch i64 {s}, label %{} [ {} ]", labels[k], cases.join(" ")));
        self.stats.switches += 1;
        let mark = self.env.len();
        self.depth += 1;
        let mut incoming = Vec::new();
        for l in &labels {
            self.start_block(l);
            self.region(2);
            let v = self.pick();
            incoming.push(format!("[ {v}, %{} ]", self.cur));
            self.emit(format!("br label %{j}"));
            self.env.truncate(mark);
        }
        self.depth -= 1;
        self.start_block(&j);
        let m = self.val("m", format!("phi double {}", incoming.join(", ")));
        self.env.push(m);
    }

    fn call(&mut self) {
        let h = self.helpers[self.rng.below(self.helpers.len())].clone();
        let fits = |len: usize, g: &Self| g.mems.iter().filter(|m| m.len >= len).cloned().collect::<Vec<_>>();
        let (ps, qs) = (fits(h.lp, self), fits(h.lq, self));
        if ps.is_empty() || qs.is_empty() {
            return self.arith();
        }
        let p = ps[self.rng.below(ps.len())].ptr.clone();
        let q = qs[self.rng.below(qs.len())].ptr.clone();
        let n = match self.rng.below(3) {
            0 if !self.ivs.is_empty() => self.ivs[self.rng.below(self.ivs.len())].clone(),
            1 => self.rng.int(0, 3).to_string(),
            _ => "%n".to_string(),
        };
        let a = self.pick();
        let r = self.val("r", format!("call double @{}(ptr {p}, ptr {q}, i64 {n}, double {a})", h.name));
        self.stats.calls += 1;
        self.stats.calls_in_loops += (self.loop_depth > 0) as usize;
        self.env.push(r);
    }

    /// `memcpy` between two allocations, with Enzyme's type hint `__enzyme_double` on the
    /// destination, then an in-place update of a copied element (canonicalisation forwards
    /// small copies into integer loads, stores and bitcasts). The hint is what C code adds when
    /// nothing else shows what a copy moves: the typed accesses may all be optimized away,
    /// and a copy of untyped memory has no defined adjoint.
    fn memcpy(&mut self) {
        let (d, s) = (self.any_mem(), self.any_mem());
        if d.group == s.group {
            return self.store();
        }
        let k = 1 + self.rng.below(d.len.min(s.len));
        self.decls.insert("declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)".into());
        self.decls.insert("declare void @__enzyme_double(ptr, i64)".into());
        self.emit(format!("call void @llvm.memcpy.p0.p0.i64(ptr {}, ptr {}, i64 {}, i1 false)", d.ptr, s.ptr, 8 * k));
        self.emit(format!("call void @__enzyme_double(ptr {}, i64 {})", d.ptr, 8 * k));
        self.stats.memcpys += 1;
        let j = self.rng.below(k);
        let a = self.val("a", format!("getelementptr inbounds double, ptr {}, i64 {j}", d.ptr));
        let old = self.val("ld", format!("load double, ptr {a}, align 8"));
        let v = self.pick();
        let new = self.val("v", format!("fadd double {old}, {v}"));
        self.emit(format!("store double {new}, ptr {a}, align 8"));
        self.env.push(old);
    }

    fn arith(&mut self) {
        let rule = self.any_rule();
        let v = self.apply(rule, None);
        self.env.push(v);
    }

    fn stmt(&mut self) {
        let weights = [
            8,
            3,
            3,
            1,
            if self.depth < 3 { 2 } else { 0 },
            if self.loop_depth < 2 { 2 } else { 0 },
            if self.helpers.is_empty() { 0 } else { 2 },
            1,
            if self.loop_depth < 2 { 1 } else { 0 },
            if self.depth < 3 { 1 } else { 0 },
        ];
        let mut r = self.rng.below(weights.iter().sum());
        let mut k = 0;
        while r >= weights[k] {
            r -= weights[k];
            k += 1;
        }
        match k {
            0 => self.arith(),
            1 => self.load(),
            2 => self.store(),
            3 => self.select(),
            4 => self.if_stmt(),
            5 => self.loop_stmt(),
            6 => self.call(),
            7 => self.memcpy(),
            8 => self.do_while_stmt(),
            _ => self.switch_stmt(),
        }
    }

    /// Local arrays, made in the entry block and initialised from values in scope.
    fn locals(&mut self, group0: usize) {
        let count = [0, 0, 1, 1, 2][self.rng.below(5)];
        for g in 0..count {
            let len = 2 + self.rng.below(3);
            let kind = self.rng.below(3);
            let ptr = match kind {
                0 => {
                    self.stats.allocas += 1;
                    self.val("t", format!("alloca [{len} x double], align 8"))
                }
                1 => {
                    self.decls.insert("declare ptr @malloc(i64)".into());
                    self.stats.mallocs += 1;
                    self.val("t", format!("call ptr @malloc(i64 {})", 8 * len))
                }
                _ => {
                    self.decls.insert("declare ptr @calloc(i64, i64)".into());
                    self.stats.mallocs += 1;
                    self.val("t", format!("call ptr @calloc(i64 {len}, i64 8)"))
                }
            };
            if kind != 0 {
                self.decls.insert("declare void @free(ptr)".into());
                self.frees.push(ptr.clone());
            }
            if kind != 2 {
                for k in 0..len {
                    let v = self.pick();
                    let a = self.val("a", format!("getelementptr inbounds double, ptr {ptr}, i64 {k}"));
                    self.emit(format!("store double {v}, ptr {a}, align 8"));
                }
            }
            self.mems.push(Mem { ptr, len, group: group0 + g });
        }
    }

    fn free_locals(&mut self) {
        for p in std::mem::take(&mut self.frees) {
            self.emit(format!("call void @free(ptr {p})"));
        }
    }
}

/// Generates program `name` from `seed`, calling every rule of `rules` with equal chance.
pub fn generate(seed: u64, name: &str, rules: &[&'static Rule]) -> Program {
    let mut rng = Rng::new(seed);
    let lx = 2 + rng.below(4);
    let ly = 1 + rng.below(4);
    let mut decls = BTreeSet::new();
    let mut stats = Stats::default();
    let mut text = String::new();
    let mut helpers: Vec<Helper> = Vec::new();
    let n_helpers = [0, 1, 1, 2][rng.below(4)];
    for j in 0..n_helpers {
        let h = Helper { name: format!("{name}.h{j}"), lp: 1 + rng.below(lx.min(3)), lq: 1 + rng.below(3) };
        let callable = helpers.clone();
        let mut g = Fg {
            rng: &mut rng,
            rules,
            decls: &mut decls,
            stats: &mut stats,
            helpers: &callable,
            body: String::new(),
            next_id: 0,
            cur: "entry".into(),
            env: vec!["%a".into()],
            // p and q may be the same array: one allocation group.
            mems: vec![
                Mem { ptr: "%p".into(), len: h.lp, group: 0 },
                Mem { ptr: "%q".into(), len: h.lq, group: 0 },
            ],
            ivs: vec![],
            depth: 0,
            loop_depth: 0,
            budget: 0,
            frees: vec![],
        };
        g.budget = 2 + g.rng.below(5);
        g.load();
        // A third of the helpers recurse on n down to 0 (their own tapes, once per level).
        let recursive = g.rng.chance(0.33);
        if recursive {
            let base = g.pick();
            g.emit("%rc = icmp sgt i64 %n, 0".into());
            g.emit("br i1 %rc, label %rec, label %base".into());
            g.body.push_str(&format!("base:\n  ret double {base}\n"));
            g.start_block("rec");
            g.region(2);
            let v = g.pick();
            let r = g.val("r", format!("call double @{}(ptr %p, ptr %q, i64 %nm1, double {v})", h.name));
            g.env.push(r);
            g.stats.recursions += 1;
        } else {
            g.locals(1);
        }
        let budget = g.budget;
        g.region(budget);
        let r = g.pick();
        g.free_locals();
        let nm1 = if recursive { "  %nm1 = sub i64 %n, 1\n" } else { "" };
        writeln!(text, "define double @{}(ptr %p, ptr %q, i64 %n, double %a) {{\nentry:\n{nm1}{}  ret double {r}\n}}\n", h.name, g.body)
            .unwrap();
        helpers.push(h);
    }
    let mut g = Fg {
        rng: &mut rng,
        rules,
        decls: &mut decls,
        stats: &mut stats,
        helpers: &helpers,
        body: String::new(),
        next_id: 0,
        cur: "entry".into(),
        env: vec![],
        mems: vec![Mem { ptr: "%x".into(), len: lx, group: 0 }, Mem { ptr: "%y".into(), len: ly, group: 1 }],
        ivs: vec![],
        depth: 0,
        loop_depth: 0,
        budget: 0,
        frees: vec![],
    };
    g.budget = 4 + g.rng.below(12);
    for _ in 0..2 {
        let m = g.mems[0].clone();
        let a = g.address(&m);
        let v = g.val("ld", format!("load double, ptr {a}, align 8"));
        g.env.push(v);
    }
    g.locals(2);
    let budget = g.budget;
    g.region(budget);
    // Outputs: most of y, sometimes x, from the values computed last.
    for k in 0..ly {
        if g.rng.chance(0.8) {
            let m = Mem { ptr: "%y".into(), len: ly, group: 1 };
            let v = g.pick();
            let a = g.val("a", format!("getelementptr inbounds double, ptr {}, i64 {k}", m.ptr));
            g.emit(format!("store double {v}, ptr {a}, align 8"));
        }
    }
    if g.rng.chance(0.3) {
        let m = g.mems[0].clone();
        g.store_to(&m);
    }
    g.free_locals();
    writeln!(text, "define void @{name}(ptr %x, ptr %y, i64 %n) {{\nentry:\n{}  ret void\n}}\n", g.body).unwrap();
    Program { name: name.to_string(), text, decls, lx, ly, stats }
}
