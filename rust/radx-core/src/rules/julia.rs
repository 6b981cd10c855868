//! Julia's runtime and `julia.*` intrinsics as GPUCompiler's unoptimized output (Julia 1.11,
//! LLVM 16, opaque pointers) calls them. See `shared/docs/julia-ir.md` §b-c.
//!
//! Address spaces need no rule of their own: shadows are computed by re-applying the
//! same casts, GEPs and loads, so a shadow of an `addrspace(10)` object is again an
//! `addrspace(10)` object and a derived (11) or loaded (13) pointer's shadow is derived from
//! the shadow object the same way.

/// How the generators treat a Julia runtime function or intrinsic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JuliaCall {
    /// No derivative (type queries, boxing of integers, GC bookkeeping, error paths).
    Inactive,
    /// Inactive and thread- or task-local: recomputed in the reverse sweep, never cached
    /// (the reverse may run on another task).
    InactiveRecompute,
    /// A pointer-valued function of pointers (`julia.gc_loaded`, `pointer_from_objref`):
    /// the shadow is the same call over the listed arguments' shadows.
    PointerLike(&'static [u32]),
    /// Allocates a GC object: the shadow is allocated by the same call and zeroed; the GC
    /// frees both, so the reverse sweep frees nothing.
    Allocate(AllocSize),
    /// `julia.write_barrier(parent, children...)`: mirrored on the shadows.
    WriteBarrier,
    /// `jl_box_float64(x)`: a box holding a float; the shadow box carries the tangent
    /// (forward) or accumulates the adjoint (reverse).
    BoxFloat,
    /// `llvm.julia.gc_preserve_begin/end`: the shadows are preserved alongside.
    PreserveBegin,
    PreserveEnd,
    /// Dynamic dispatch and boxed builtins: no static derivative exists.
    Reject(&'static str),
}

/// How many bytes of a fresh allocation the shadow's zeroing covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocSize {
    /// The object's size in bytes is this argument.
    Bytes(u32),
    /// A `GenericMemory` of this many elements (argument); its data follows a 16-byte
    /// header and the element size comes from how the function uses the memory.
    MemoryElements(u32),
}

const TABLE: &[(&str, JuliaCall)] = &[
    ("julia.get_pgcstack", JuliaCall::InactiveRecompute),
    ("julia.get_pgcstack_or_new", JuliaCall::InactiveRecompute),
    ("julia.ptls_states", JuliaCall::InactiveRecompute),
    ("julia.typeof", JuliaCall::InactiveRecompute),
    ("julia.safepoint", JuliaCall::Inactive),
    ("julia.gcroot_flush", JuliaCall::Inactive),
    ("julia.gpu.state_getter", JuliaCall::InactiveRecompute),
    ("julia.blackbox", JuliaCall::Inactive),
    ("julia.except_enter", JuliaCall::Inactive),
    ("julia.pointer_from_objref", JuliaCall::PointerLike(&[0])),
    ("julia.gc_loaded", JuliaCall::PointerLike(&[0, 1])),
    ("julia.gc_alloc_obj", JuliaCall::Allocate(AllocSize::Bytes(1))),
    ("jl_gc_alloc_typed", JuliaCall::Allocate(AllocSize::Bytes(1))),
    ("jl_alloc_genericmemory", JuliaCall::Allocate(AllocSize::MemoryElements(1))),
    ("jl_alloc_genericmemory_unchecked", JuliaCall::Allocate(AllocSize::Bytes(1))),
    ("julia.write_barrier", JuliaCall::WriteBarrier),
    ("julia.object_write_barrier", JuliaCall::WriteBarrier),
    ("llvm.julia.gc_preserve_begin", JuliaCall::PreserveBegin),
    ("llvm.julia.gc_preserve_end", JuliaCall::PreserveEnd),
    ("jl_box_float64", JuliaCall::BoxFloat),
    ("jl_box_float32", JuliaCall::BoxFloat),
    ("jl_apply_generic", JuliaCall::Reject("dynamic dispatch (`jl_apply_generic`): the method is only known at run time")),
    ("jl_invoke", JuliaCall::Reject("a call of an unspecialized method through `jl_invoke`")),
    ("julia.call", JuliaCall::Reject("a call through the boxed jlcall ABI (`julia.call`), i.e. dynamic dispatch or a builtin on boxed values")),
    ("julia.call2", JuliaCall::Reject("a call through the boxed jlcall ABI (`julia.call2`)")),
    ("jl_f_getfield", JuliaCall::Reject("the builtin `getfield` on a boxed value (type-unstable code)")),
    ("jl_f_setfield", JuliaCall::Reject("the builtin `setfield!` on a boxed value (type-unstable code)")),
];

/// Inactive runtime entry points: boxing of non-floats, type queries, exception and
/// handler bookkeeping, error throwers (noreturn), GPU exception reporting.
const INACTIVE_PREFIXES: &[&str] = &[
    "jl_box_int", "jl_box_uint", "jl_box_char", "jl_box_bool", "jl_typeof", "jl_subtype", "jl_isa", "jl_typeassert",
    "jl_f_typeassert", "jl_types_equal", "jl_egal", "jl_object_id", "jl_get_world_counter", "jl_get_ptls_states",
    "jl_gc_queue_root", "jl_gc_safe_", "jl_enter_handler", "jl_pop_handler", "jl_excstack_state", "jl_restore_excstack",
    "jl_current_exception", "jl_symbol", "jl_cstr_to_string", "jl_alloc_string", "jl_string_to_array", "jl_array_to_string",
    "jl_in_threaded_region", "jl_get_binding", "jl_throw", "jl_rethrow", "jl_bounds_error", "jl_type_error",
    "jl_undefined_var_error", "jl_argument_error", "julia_throw_", "gpu_report_exception", "gpu_signal_exception",
    "julia.cpu.", "julia.gpu.debug_level",
];

/// Julia's runtime is called as `ijl_*` since 1.8 and as `jl_*` before and in hand-written
/// IR: both spellings mean the same function.
fn canonical(name: &str) -> &str {
    name.strip_prefix('i').filter(|n| n.starts_with("jl_")).unwrap_or(name)
}

/// How every name of the tables above begins. Every call site of a program asks about its
/// callee (libm calls, `llvm.*` intrinsics, the user's own functions); searching the tables
/// for each was 1.5 % of a whole `radx opt` on the hand-tracking module.
const OPENINGS: &[&str] = &["jl_", "julia", "llvm.julia.", "gpu_"];

pub fn julia_call(name: &str) -> Option<JuliaCall> {
    let name = canonical(name);
    if !OPENINGS.iter().any(|o| name.starts_with(o)) {
        return None;
    }
    if let Some((_, c)) = TABLE.iter().find(|(n, _)| *n == name) {
        return Some(*c);
    }
    INACTIVE_PREFIXES.iter().any(|p| name.starts_with(p)).then_some(JuliaCall::Inactive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_the_tables_has_an_opening() {
        for n in TABLE.iter().map(|(n, _)| *n).chain(INACTIVE_PREFIXES.iter().copied()) {
            assert!(OPENINGS.iter().any(|o| n.starts_with(o)), "`{n}` begins with none of OPENINGS");
        }
    }

    #[test]
    fn both_spellings_resolve() {
        assert_eq!(julia_call("ijl_box_float64"), Some(JuliaCall::BoxFloat));
        assert_eq!(julia_call("jl_box_float64"), Some(JuliaCall::BoxFloat));
        assert_eq!(julia_call("ijl_bounds_error_ints"), Some(JuliaCall::Inactive));
        assert_eq!(julia_call("julia.gc_loaded"), Some(JuliaCall::PointerLike(&[0, 1])));
        assert!(matches!(julia_call("ijl_apply_generic"), Some(JuliaCall::Reject(_))));
        assert_eq!(julia_call("sin"), None);
        assert_eq!(julia_call("ijlfoo"), None);
    }
}
