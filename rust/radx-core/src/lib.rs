//! RadX: automatic differentiation of LLVM IR.
//!
//! The entry point is [`lower_module`], which rewrites every Enzyme-style magic call
//! (`__enzyme_fwddiff`, ...) of a module into a call of a generated derivative, and the
//! [`Engine`], which generates derivatives for explicit requests (the C API's door).

pub mod abi;
pub mod analysis;
pub mod diag;
pub mod engine;
pub mod forward;
pub mod ir;
pub mod pipeline;
pub mod reverse;
pub mod rules;

pub use diag::{Code, Diagnostic};
pub use engine::{ArgActivity, Engine, ForwardRequest, GeneratedFunction, PREPARED_PREFIX};
pub use pipeline::{lower_module, Report};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

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
}

impl Default for Options {
    fn default() -> Options {
        Options { preopt: true, postopt: true, gpu_tape_bytes: 4096 }
    }
}
