//! What is asked of the engine and what it answers with: the forward and reverse
//! requests, the functions a reverse request yields, and the record of what was generated.
//!
//! Floor: the bottom of the engine. These are plain data over IR values; the engine keys
//! its caches by them, the generators read them, the ABI lowering and the C API build
//! them, so they import nothing above the IR wrappers.

use crate::ir::Value;

/// Activity of one argument of a forward derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgActivity {
    /// No derivative: the argument is passed alone.
    Const,
    /// The argument is followed by `width` shadows (tangents, or shadow pointers).
    Dup,
}

/// A forward-mode derivative: which function, which arguments carry tangents, the batch
/// width, and what the generated function returns (`{primal?, tangent × width}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ForwardRequest {
    pub function: Value,
    pub args: Vec<ArgActivity>,
    pub width: u32,
    pub return_primal: bool,
    pub return_tangent: bool,
}

/// Activity of one argument in reverse mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevArg {
    Const,
    /// An active scalar (`enzyme_out`): its adjoint is returned.
    Active,
    /// A pointer with a shadow, passed after it; adjoints accumulate in the shadow.
    Dup,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReverseRequest {
    pub function: Value,
    pub args: Vec<RevArg>,
    /// The return value is active: the reverse takes its adjoint (the seed).
    pub return_active: bool,
    /// The augmented forward (or the combined function) also returns the primal result.
    pub return_primal: bool,
    /// The augmented forward returns the shadow of a returned pointer.
    pub return_shadow: bool,
    pub combined: bool,
}

/// The generated functions: in combined mode `forward == reverse`.
#[derive(Clone, Copy, Debug)]
pub struct ReverseFunctions {
    pub forward: Value,
    pub reverse: Value,
}

/// What was generated, for `--stats` and the C API.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GeneratedFunction {
    pub name: String,
    pub source: String,
    pub mode: &'static str,
    pub width: u32,
    pub instructions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tape: Option<TapeStats>,
}

/// Tape usage of one generated derivative, for `--stats`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TapeStats {
    /// Bytes pushed by blocks outside any loop (once per call).
    pub bytes_per_call: u64,
    /// Bytes pushed per iteration of each loop, by loop header name.
    pub bytes_per_iteration: Vec<(String, u64)>,
    /// How many values are cached.
    pub cached_values: usize,
    /// What is cached, as `value (block)`; empty unless `Options::describe_tape`.
    pub cached: Vec<String>,
    /// Loops whose tape is reserved on entry from their trip count (by header).
    pub sized_loops: Vec<String>,
}
