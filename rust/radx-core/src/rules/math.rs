//! libm functions and LLVM math intrinsics. Names are the double-precision libm names; the
//! `f` and `l` variants and the `llvm.*` intrinsics resolve to the same rule.
//!
//! Where a partial is infinite or undefined at a point that programs commonly reach
//! (sqrt, cbrt and hypot at 0, pow's exponent partial at base 0), the rule returns 0 there,
//! as Enzyme does, so that an inactive path through such a point does not turn a whole
//! gradient into NaN. pow's exponent partial is also 0 at a negative base (where `pow` is
//! real only at integer exponents): an exponent passed with a zero tangent, as C's default
//! activity does for a constant `double` exponent, must not make the base's tangent NaN.

use super::expr::RuleSpec;

/// 2/sqrt(pi), the scale of erf's derivative.
macro_rules! two_over_sqrt_pi {
    () => {
        "1.1283791670955126"
    };
}

pub const RULES: &[RuleSpec] = &[
    RuleSpec { name: "sin", params: &["x"], partials: &["cos(x)"] },
    RuleSpec { name: "cos", params: &["x"], partials: &["-sin(x)"] },
    RuleSpec { name: "tan", params: &["x"], partials: &["1 + r * r"] },
    RuleSpec { name: "asin", params: &["x"], partials: &["1 / sqrt(1 - x * x)"] },
    RuleSpec { name: "acos", params: &["x"], partials: &["-1 / sqrt(1 - x * x)"] },
    RuleSpec { name: "atan", params: &["x"], partials: &["1 / (1 + x * x)"] },
    RuleSpec { name: "atan2", params: &["y", "x"], partials: &["x / (x * x + y * y)", "-y / (x * x + y * y)"] },
    RuleSpec { name: "sinh", params: &["x"], partials: &["cosh(x)"] },
    RuleSpec { name: "cosh", params: &["x"], partials: &["sinh(x)"] },
    RuleSpec { name: "tanh", params: &["x"], partials: &["1 - r * r"] },
    RuleSpec { name: "asinh", params: &["x"], partials: &["1 / sqrt(x * x + 1)"] },
    RuleSpec { name: "acosh", params: &["x"], partials: &["1 / sqrt(x * x - 1)"] },
    RuleSpec { name: "atanh", params: &["x"], partials: &["1 / (1 - x * x)"] },
    RuleSpec { name: "exp", params: &["x"], partials: &["r"] },
    RuleSpec { name: "exp2", params: &["x"], partials: &["r * ln2"] },
    RuleSpec { name: "exp10", params: &["x"], partials: &["r * ln10"] },
    RuleSpec { name: "expm1", params: &["x"], partials: &["r + 1"] },
    RuleSpec { name: "log", params: &["x"], partials: &["1 / x"] },
    RuleSpec { name: "log2", params: &["x"], partials: &["1 / (x * ln2)"] },
    RuleSpec { name: "log10", params: &["x"], partials: &["1 / (x * ln10)"] },
    RuleSpec { name: "log1p", params: &["x"], partials: &["1 / (1 + x)"] },
    RuleSpec { name: "pow", params: &["x", "y"], partials: &["y == 0 ? 0 : y * pow(x, y - 1)", "x <= 0 ? 0 : r * log(x)"] },
    RuleSpec { name: "powi", params: &["x", "#n"], partials: &["float(n) == 0 ? 0 : float(n) * pow(x, float(n) - 1)"] },
    RuleSpec { name: "ldexp", params: &["x", "#n"], partials: &["pow(2, float(n))"] },
    RuleSpec { name: "sqrt", params: &["x"], partials: &["x == 0 ? 0 : 0.5 / r"] },
    // Device libraries have it (`__nv_rsqrt`, `__ocml_rsqrt_f32`, `llvm.nvvm.rsqrt.approx`).
    RuleSpec { name: "rsqrt", params: &["x"], partials: &["-0.5 * r * r * r"] },
    RuleSpec { name: "cbrt", params: &["x"], partials: &["x == 0 ? 0 : r / (3 * x)"] },
    RuleSpec { name: "hypot", params: &["x", "y"], partials: &["r == 0 ? 0 : x / r", "r == 0 ? 0 : y / r"] },
    RuleSpec { name: "fabs", params: &["x"], partials: &["x > 0 ? 1 : (x < 0 ? -1 : 0)"] },
    // fmin/fmax return the other operand when one is NaN.
    RuleSpec { name: "fmin", params: &["x", "y"], partials: &["y != y ? 1 : (x <= y ? 1 : 0)", "y != y ? 0 : (x <= y ? 0 : 1)"] },
    RuleSpec { name: "fmax", params: &["x", "y"], partials: &["y != y ? 1 : (x >= y ? 1 : 0)", "y != y ? 0 : (x >= y ? 0 : 1)"] },
    RuleSpec { name: "copysign", params: &["x", "y"], partials: &["copysign(1, x) * copysign(1, y)", "0"] },
    RuleSpec { name: "floor", params: &["x"], partials: &["0"] },
    RuleSpec { name: "ceil", params: &["x"], partials: &["0"] },
    RuleSpec { name: "round", params: &["x"], partials: &["0"] },
    RuleSpec { name: "roundeven", params: &["x"], partials: &["0"] },
    RuleSpec { name: "trunc", params: &["x"], partials: &["0"] },
    RuleSpec { name: "rint", params: &["x"], partials: &["0"] },
    RuleSpec { name: "nearbyint", params: &["x"], partials: &["0"] },
    RuleSpec { name: "fmod", params: &["x", "y"], partials: &["1", "-trunc(x / y)"] },
    RuleSpec { name: "erf", params: &["x"], partials: &[concat!(two_over_sqrt_pi!(), " * exp(-x * x)")] },
    RuleSpec { name: "erfc", params: &["x"], partials: &[concat!("-", two_over_sqrt_pi!(), " * exp(-x * x)")] },
    RuleSpec { name: "fma", params: &["x", "y", "z"], partials: &["y", "x", "1"] },
];

/// LLVM intrinsic base names that mean a libm function of another name.
pub const INTRINSIC_ALIASES: &[(&str, &str)] =
    &[("minnum", "fmin"), ("maxnum", "fmax"), ("minimum", "fmin"), ("maximum", "fmax"), ("fmuladd", "fma")];
