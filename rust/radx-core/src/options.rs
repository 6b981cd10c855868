//! What a run of RadX may do: the switches every floor reads (the engine, the generators,
//! the pipeline), kept apart from the crate root so that they import it from below.
//!
//! Floor: the bottom; it imports nothing of the crate.

#[derive(Clone, Debug)]
pub struct Options {
    /// Canonicalise (promote memory to registers, simplify) the copies that derivatives are
    /// generated from.
    pub preopt: bool,
    /// Clean up generated functions afterwards.
    pub postopt: bool,
    /// On GPUs, combined-mode derivatives keep what loops cache in a per-thread tape of
    /// this many bytes of local memory (no device heap); exceeding it traps.
    pub gpu_tape_bytes: u32,
    /// Tape optimizations switched off, by name (see `OPTIMIZATIONS`), for measuring what
    /// each is worth. Defaults to the comma-separated list in `RADX_DISABLE`.
    pub disabled: Vec<String>,
    /// Describe each cached value in the tape statistics (`TapeStats::cached`). Off unless a
    /// person will read them (`radx opt --stats`): describing prints the function.
    pub describe_tape: bool,
}

/// The reverse-mode tape optimizations that can be switched off one by one.
pub const OPTIMIZATIONS: &[(&str, &str)] = &[
    ("inline", "inline calls of small functions (CPU) before differentiating, instead of a split derivative per callee"),
    ("induction", "recover induction variables and loop branch decisions instead of caching them"),
    ("exit-value", "start a loop's reverse counter from its exit test's bound instead of recording it"),
    ("forward-stores", "re-derive reads of a scratch array from what its filling loop (or vectorized loop and remainder) stored, instead of caching them"),
    ("joins", "tell which way a join block was entered (and its phis' values) from branch conditions the reverse recomputes, instead of recording it"),
    ("hoist", "cache loop-invariant values once per loop, not per iteration"),
    ("merge-caches", "a value several blocks of one loop iteration cache is pushed once, at the latch"),
    ("flow", "only writes that can follow a load force it to be cached (flow-sensitive may-overwrite)"),
    ("recompute", "recompute cheap operations and repeatable loads instead of caching them"),
    ("redundant", "recompute cheap float ops from operands that are cached anyway"),
    ("merge-shadows", "a heap block the function allocates and frees gets its shadow from the same allocation (one malloc and free per block, not two)"),
    ("dead-adjoints", "skip the adjoints of active values that reach no output (they feed only comparisons, integer conversions, unshadowed memory), and what those adjoints would cache"),
    ("min-cut", "choose which rebuildable values to cache by a minimum cut of the value graph (least tape bytes that lets the reverse recompute the rest), instead of value by value"),
    ("stack-slots", "values cached outside loops live in stack slots, not on the heap tape"),
    ("reserve", "size a loop's tape on entry from its trip count"),
    ("tape-reuse", "keep a finished tape's buffer for the thread's next call (Linux/glibc hosts)"),
    ("scalar-shifted-updates", "differentiate a vectorized read-modify-write loop whose start moves by part of a vector per outer iteration (a triangular update) through the vectorizer's scalar remainder, which the forward sweep runs without store-forwarding stalls"),
    ("aligned-shifted-updates", "with scalar-shifted-updates, peel that scalar loop until its stores sit on whole vectors and have LLVM vectorize the rest by the original width without interleaving, so each vector load is served by one earlier vector store"),
    ("reassoc-sums", "let LLVM reassociate the additions to the adjoint of a value defined outside an innermost loop made inside it, so the loop's reverse can be vectorized and its additions need not wait on each other"),
    ("cancel-factors", "where a partial with the factor y meets a division by the same provably nonzero y (`pow(x, n) / n`), cancel the two instead of multiplying and dividing; the result differs from the literal chain rule by rounding only"),
    ("vectorizer-marks", "mark the reverse of a loop LLVM vectorized (vector body or scalar remainder) as vectorized, so LLVM does not vectorize a remainder's reverse again"),
    ("alias-scopes", "declare the reverse sweep's stores apart from the read-only primal memory it reads again, so LLVM can hoist those reads"),
];

impl Options {
    pub fn enabled(&self, optimization: &str) -> bool {
        !self.disabled.iter().any(|d| d == optimization || d == "all")
    }
}

impl Default for Options {
    fn default() -> Options {
        let disabled = std::env::var("RADX_DISABLE")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        Options { preopt: true, postopt: true, gpu_tape_bytes: 4096, disabled, describe_tape: false }
    }
}
