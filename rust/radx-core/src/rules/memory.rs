//! What the generators need to know about library functions that are not elementwise:
//! allocators (their results get shadow allocations) and functions with no derivative.

/// How a library function allocates or frees memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alloc {
    /// Returns fresh memory; the shadow is allocated the same way and zeroed.
    /// `size_arg` is the argument holding the byte count (unused when `zeroed`).
    Allocate { zeroed: bool, size_arg: u32 },
    /// `realloc(p, n)`: the shadow is reallocated alongside.
    Reallocate,
    /// Frees its pointer argument; the shadow is freed too.
    Free,
}

pub const ALLOCATORS: &[(&str, Alloc)] = &[
    ("malloc", Alloc::Allocate { zeroed: false, size_arg: 0 }),
    ("calloc", Alloc::Allocate { zeroed: true, size_arg: 0 }),
    ("aligned_alloc", Alloc::Allocate { zeroed: false, size_arg: 1 }),
    ("realloc", Alloc::Reallocate),
    ("free", Alloc::Free),
    // C++ operator new / new[] / delete / delete[] (Itanium mangling, sized and aligned forms).
    ("_Znwm", Alloc::Allocate { zeroed: false, size_arg: 0 }),
    ("_Znam", Alloc::Allocate { zeroed: false, size_arg: 0 }),
    ("_ZnwmSt11align_val_t", Alloc::Allocate { zeroed: false, size_arg: 0 }),
    ("_ZnamSt11align_val_t", Alloc::Allocate { zeroed: false, size_arg: 0 }),
    ("_ZdlPv", Alloc::Free),
    ("_ZdaPv", Alloc::Free),
    ("_ZdlPvm", Alloc::Free),
    ("_ZdaPvm", Alloc::Free),
    ("_ZdlPvSt11align_val_t", Alloc::Free),
    ("_ZdaPvSt11align_val_t", Alloc::Free),
    ("_ZdlPvmSt11align_val_t", Alloc::Free),
];

pub fn allocator(name: &str) -> Option<Alloc> {
    ALLOCATORS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// Functions whose calls never carry a derivative: I/O, randomness, clocks, process
/// control, string functions, and intrinsics that only inform the optimizer. Their calls
/// are kept in the primal and produce nothing in the derivative.
pub const INACTIVE_FUNCTIONS: &[&str] = &[
    "printf", "fprintf", "sprintf", "snprintf", "vprintf", "vfprintf", "puts", "fputs", "putchar", "fputc", "putc",
    "fflush", "fwrite", "fread", "fopen", "fclose", "perror", "scanf", "fscanf", "sscanf", "rand", "srand", "random",
    "srandom", "drand48", "srand48", "rand_r", "time", "clock", "clock_gettime", "gettimeofday", "abort", "exit", "_exit",
    "__assert_fail", "__cxa_pure_virtual", "strlen", "strcmp", "strncmp", "strcpy", "strncpy", "strcat", "strchr", "strstr",
    "getenv", "atoi", "atol", "atof", "strtol", "strtod", "omp_get_thread_num", "omp_get_num_threads", "omp_get_max_threads",
    "__errno_location", "malloc_usable_size", "isnan", "isinf", "isfinite", "__isnan", "__isinf", "__finite",
    "__fpclassify", "lround", "lroundf", "llround", "lrint", "llrint", "ilogb",
    // Type hints for type analysis (removed after differentiation).
    "__enzyme_float", "__enzyme_double", "__enzyme_integer", "__enzyme_pointer",
];

/// Intrinsic name prefixes with no derivative (hints to the optimizer, stack bookkeeping).
pub const INACTIVE_INTRINSIC_PREFIXES: &[&str] = &[
    "llvm.lifetime.", "llvm.assume", "llvm.dbg.", "llvm.stacksave", "llvm.stackrestore", "llvm.prefetch", "llvm.expect",
    "llvm.invariant.", "llvm.experimental.noalias.scope.decl", "llvm.is.fpclass", "llvm.annotation", "llvm.var.annotation",
    "llvm.ptr.annotation", "llvm.sideeffect", "llvm.trap", "llvm.debugtrap", "llvm.lround", "llvm.llround", "llvm.lrint",
    "llvm.llrint", "llvm.fptosi.sat", "llvm.fptoui.sat", "llvm.ctpop", "llvm.ctlz", "llvm.cttz", "llvm.umax", "llvm.umin",
    "llvm.smax", "llvm.smin", "llvm.abs", "llvm.bswap", "llvm.bitreverse", "llvm.fshl", "llvm.fshr", "llvm.sadd.",
    "llvm.uadd.", "llvm.ssub.", "llvm.usub.", "llvm.smul.", "llvm.umul.", "llvm.objectsize", "llvm.threadlocal.address",
];

/// Inactive functions that still write memory through their pointer arguments (the
/// `printf` family's buffers and `%n`, `fread`'s buffer, the bounds OpenMP's scheduler fills
/// in): no derivative, but what they overwrite cannot be re-read in the reverse sweep.
pub fn writes_through_pointers(name: &str) -> bool {
    name.contains("printf") || name.starts_with("fread") || super::openmp::is_runtime_function(name)
}

/// Library functions whose only writes are to `errno` or libm's own state (`signgam`):
/// they never change memory the program can reach through its pointers.
pub const NO_PROGRAM_MEMORY_WRITES: &[&str] = &[
    "lgamma", "lgammaf", "lgammal", "lgamma_r", "tgamma", "tgammaf", "tgammal", "j0", "j1", "jn", "y0", "y1", "yn",
    "frexp", "modf", "remquo", "nan", "nanf", "ilogb", "logb", "scalbn", "nextafter",
];

pub fn writes_no_program_memory(name: &str) -> bool {
    NO_PROGRAM_MEMORY_WRITES.contains(&name)
}

pub fn is_inactive_function(name: &str) -> bool {
    INACTIVE_FUNCTIONS.contains(&name)
        || INACTIVE_INTRINSIC_PREFIXES.iter().any(|p| name.starts_with(p))
        || super::openmp::is_runtime_function(name)
}

/// Memory transfer intrinsics, handled by copying or clearing the shadow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    Copy,
    Move,
    Set,
}

pub fn memory_transfer(name: &str) -> Option<Transfer> {
    if name.starts_with("llvm.memcpy.") || name.starts_with("llvm.memcpy.inline.") {
        Some(Transfer::Copy)
    } else if name.starts_with("llvm.memmove.") {
        Some(Transfer::Move)
    } else if name.starts_with("llvm.memset.") {
        Some(Transfer::Set)
    } else {
        match name {
            "memcpy" => Some(Transfer::Copy),
            "memmove" => Some(Transfer::Move),
            "memset" => Some(Transfer::Set),
            _ => None,
        }
    }
}
