//! Tables and small parts of the program generator: the random number generator, coverage
//! counters, and how each rule of the rule table is called and where its arguments must lie.

use std::collections::BTreeMap;

/// splitmix64: small, fast, and good enough for test generation.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// A seed derived from two others (the run's seed and a program's index).
pub fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.rotate_left(29).wrapping_mul(0xD6E8_FEB8_6659_FD93)).next()
}

/// Exact LLVM text of a double constant.
pub(super) fn lit(x: f64) -> String {
    format!("0x{:016X}", x.to_bits())
}

/// What the generated programs exercised, summed over a run and checked at its end.
#[derive(Default, Debug, Clone)]
pub struct Stats {
    pub rules: BTreeMap<&'static str, usize>,
    pub loops: usize,
    pub nested_loops: usize,
    pub countdown_loops: usize,
    pub do_whiles: usize,
    pub switches: usize,
    pub breaks: usize,
    pub ifs: usize,
    pub selects: usize,
    pub loads: usize,
    pub stores: usize,
    pub inplace_updates: usize,
    pub calls: usize,
    pub calls_in_loops: usize,
    pub recursions: usize,
    pub memcpys: usize,
    pub allocas: usize,
    pub mallocs: usize,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        for (k, v) in &o.rules {
            *self.rules.entry(k).or_default() += v;
        }
        self.loops += o.loops;
        self.nested_loops += o.nested_loops;
        self.countdown_loops += o.countdown_loops;
        self.do_whiles += o.do_whiles;
        self.switches += o.switches;
        self.breaks += o.breaks;
        self.ifs += o.ifs;
        self.selects += o.selects;
        self.loads += o.loads;
        self.stores += o.stores;
        self.inplace_updates += o.inplace_updates;
        self.calls += o.calls;
        self.calls_in_loops += o.calls_in_loops;
        self.recursions += o.recursions;
        self.memcpys += o.memcpys;
        self.allocas += o.allocas;
        self.mallocs += o.mallocs;
    }
}

/// Where an argument must lie for a function to be defined and tame there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Dom {
    /// Anything.
    Raw,
    /// In [-1/2, 1/2]: `v / (1 + v²)`. For arguments of fast-growing functions and of
    /// functions defined on (-1, 1).
    Small,
    /// At least 1/2: `v² + 1/2`. Divisors, logarithms, square roots.
    Pos,
    /// In [1/4, 5/4]: bases of powers.
    Unit,
    /// In [3/2, 5/2]: acosh.
    GtOne,
    /// In [3/8, 5/8]: functions this generator does not know yet (a rule added later).
    Mid,
}

pub(super) fn domain(rule: &str, k: usize) -> Dom {
    use Dom::*;
    match (rule, k) {
        ("fadd" | "fsub" | "fmul" | "fneg" | "fma" | "fabs" | "fmin" | "fmax" | "copysign", _) => Raw,
        ("sin" | "cos" | "atan" | "asinh" | "erf" | "erfc" | "ldexp" | "cbrt", _) => Raw,
        ("floor" | "ceil" | "round" | "roundeven" | "trunc" | "rint" | "nearbyint", _) => Raw,
        ("fdiv" | "frem" | "fmod", 0) => Raw,
        ("fdiv" | "frem" | "fmod", _) => Pos,
        ("log" | "log2" | "log10" | "sqrt" | "rsqrt", _) => Pos,
        ("log1p" | "asin" | "acos" | "atanh" | "tan" | "tanh", _) => Small,
        ("exp" | "exp2" | "exp10" | "expm1" | "sinh" | "cosh", _) => Small,
        ("pow", 0) | ("powi", 0) => Unit,
        ("pow", _) => Small,
        ("acosh", _) => GtOne,
        ("atan2", 0) => Small,
        ("atan2", _) | ("hypot", 1) => Pos,
        ("hypot", _) => Raw,
        _ => Mid,
    }
}

/// Floating-point arithmetic instructions among the rules; every other rule is called by
/// its libm name (or as an intrinsic where libm has none).
pub(super) const INSTRUCTIONS: &[&str] = &["fadd", "fsub", "fmul", "fdiv", "frem", "fneg"];

pub(super) fn intrinsic_only(rule: &str) -> Option<&'static str> {
    match rule {
        "powi" => Some("llvm.powi.f64.i32"),
        _ => None,
    }
}

/// Rules for functions that the host's libm lacks (device-library functions): the module
/// defines them, so the primal runs; RadX still applies the rule to their calls.
pub(super) const HOST_DEFINITIONS: &[(&str, &str)] = &[(
    "rsqrt",
    "define double @rsqrt(double %x) {\n  %s = call double @llvm.sqrt.f64(double %x)\n  %r = fdiv double 1.0, %s\n  ret double %r\n}\n\
     declare double @llvm.sqrt.f64(double)",
)];

/// How a rule is reached from generated code: `None` for an instruction, else the callee and
/// whether the module defines it (`HOST_DEFINITIONS`).
pub fn callee(rule: &str) -> Option<(String, bool)> {
    if INSTRUCTIONS.contains(&rule) {
        return None;
    }
    if let Some(i) = intrinsic_only(rule) {
        return Some((i.to_string(), true));
    }
    Some((rule.to_string(), HOST_DEFINITIONS.iter().any(|(n, _)| *n == rule)))
}
