//! Derivative rules as data, shared by forward and reverse mode.
//!
//! An elementwise primitive (an arithmetic instruction, an LLVM math intrinsic, a libm
//! function) is described once by its local partial derivatives. Forward mode emits
//! `Σ ∂f/∂xᵢ · ẋᵢ`; reverse mode emits `x̄ᵢ += ∂f/∂xᵢ · ȳ`. Memory, calls and control flow
//! need code and live in the generators; what they need to know about library functions
//! (allocators, functions without derivatives) is also data, in `memory.rs`.

pub mod blas;
pub mod cancel;
pub mod emit;
pub mod expr;
pub mod gpu;
pub mod julia;
pub mod math;
pub mod memory;
pub mod openmp;
pub mod reductions;
pub mod scalar;
pub mod structural;

use expr::{Expr, RuleSpec};
use crate::collections::HashMap;
use std::sync::OnceLock;

/// A rule ready for the generators.
#[derive(Debug)]
pub struct Rule {
    pub name: &'static str,
    pub params: Vec<Param>,
    /// Partial for each parameter (None for integer parameters).
    pub partials: Vec<Option<Expr>>,
    /// Primal values the partials read (parameter names and `r`).
    pub reads: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: &'static str,
    pub is_int: bool,
}

impl Rule {
    fn from_spec(s: &RuleSpec) -> Rule {
        let params: Vec<Param> =
            s.params.iter().map(|p| Param { name: p.trim_start_matches('#'), is_int: p.starts_with('#') }).collect();
        let n_float = params.iter().filter(|p| !p.is_int).count();
        assert_eq!(n_float, s.partials.len(), "rule `{}`: one partial per float parameter", s.name);
        let mut it = s.partials.iter();
        let partials: Vec<Option<Expr>> = params
            .iter()
            .map(|p| {
                if p.is_int {
                    None
                } else {
                    let src = it.next().unwrap();
                    Some(expr::parse(src).unwrap_or_else(|e| panic!("rule `{}`: bad partial `{src}`: {e}", s.name)))
                }
            })
            .collect();
        let mut reads = Vec::new();
        partials.iter().flatten().for_each(|e| e.vars(&mut reads));
        for v in &reads {
            assert!(v == "r" || params.iter().any(|p| p.name == v), "rule `{}`: unknown variable `{v}`", s.name);
        }
        Rule { name: s.name, params, partials, reads }
    }

    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }
}

struct Tables {
    by_name: HashMap<&'static str, Rule>,
    /// The rules a call may name (libm functions), not the instructions' (`fmul`): every
    /// call site asks, so a set rather than a search of the list.
    callable: crate::collections::HashSet<&'static str>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut by_name = HashMap::default();
        for s in scalar::RULES.iter().chain(math::RULES.iter()) {
            let prev = by_name.insert(s.name, Rule::from_spec(s));
            assert!(prev.is_none(), "rule `{}` defined twice", s.name);
        }
        Tables { by_name, callable: math::RULES.iter().map(|s| s.name).collect() }
    })
}

/// Every rule, for tests and documentation.
pub fn all_rules() -> impl Iterator<Item = &'static Rule> {
    let mut v: Vec<&Rule> = tables().by_name.values().collect();
    v.sort_by_key(|r| r.name);
    v.into_iter()
}

pub fn rule_named(name: &str) -> Option<&'static Rule> {
    tables().by_name.get(name)
}

/// The rule for an arithmetic instruction.
pub fn rule_for_opcode(op: llvm_sys::LLVMOpcode) -> Option<&'static Rule> {
    scalar::opcode_name(op).and_then(rule_named)
}

/// The rule for a call of the named function: an LLVM intrinsic (`llvm.sin.f64`), a libm
/// function (`sin`, `sinf`, `sinl`) or its glibc `__*_finite` alias.
pub fn rule_for_callee(name: &str) -> Option<&'static Rule> {
    if let Some(alias) = gpu::math_alias(name) {
        return rule_for_callee(&alias);
    }
    let callable = |n: &str| tables().callable.contains(n).then(|| rule_named(n)).flatten();
    if let Some(rest) = name.strip_prefix("llvm.") {
        let base = rest.split('.').next().unwrap_or(rest);
        let base = math::INTRINSIC_ALIASES.iter().find(|(i, _)| *i == base).map(|(_, m)| *m).unwrap_or(base);
        return callable(base);
    }
    let name = name.strip_prefix("__").and_then(|n| n.strip_suffix("_finite")).unwrap_or(name);
    callable(name).or_else(|| ['f', 'l'].into_iter().find_map(|suffix| name.strip_suffix(suffix).and_then(callable)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_and_resolve_names() {
        assert!(all_rules().count() > 40);
        assert_eq!(rule_for_callee("sin").unwrap().name, "sin");
        assert_eq!(rule_for_callee("sinf").unwrap().name, "sin");
        assert_eq!(rule_for_callee("llvm.sin.f64").unwrap().name, "sin");
        assert_eq!(rule_for_callee("llvm.maxnum.v4f64").unwrap().name, "fmax");
        assert_eq!(rule_for_callee("erff").unwrap().name, "erf");
        assert_eq!(rule_for_callee("erf").unwrap().name, "erf");
        assert_eq!(rule_for_callee("erfc").unwrap().name, "erfc");
        assert_eq!(rule_for_callee("__exp_finite").unwrap().name, "exp");
        assert!(rule_for_callee("modf").is_none());
        assert!(rule_for_callee("printf").is_none());
        assert!(rule_for_callee("llvm.memcpy.p0.p0.i64").is_none());
    }
}
