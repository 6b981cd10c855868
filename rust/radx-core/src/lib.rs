//! RadX: automatic differentiation of LLVM IR.
//!
//! The entry point is [`lower_module`], which rewrites every Enzyme-style magic call
//! (`__enzyme_fwddiff`, ...) of a module into a call of a generated derivative, and the
//! [`Engine`], which generates derivatives for explicit requests (the C API's door).

// One LLVM major per build, chosen by a cargo feature; the whole workspace reaches llvm-sys
// through this name (`radx_core::llvm_sys` outside this crate). What differs between the
// majors is kept in `ir::llvm`.
#[cfg(feature = "llvm15")]
pub extern crate llvm_sys_150 as llvm_sys;
#[cfg(all(feature = "llvm16", not(feature = "llvm15")))]
pub extern crate llvm_sys_160 as llvm_sys;
#[cfg(all(feature = "llvm19", not(any(feature = "llvm15", feature = "llvm16"))))]
pub extern crate llvm_sys_191 as llvm_sys;

pub mod abi;
pub mod analysis;
pub mod cache;
pub mod check;
pub mod collections;
pub mod diag;
pub mod engine;
pub mod forward;
pub mod ir;
pub mod options;
pub mod pipeline;
pub mod request;
pub mod reverse;
pub mod rules;
pub mod shadows;
pub mod signature;

pub use diag::{Code, Diagnostic, PREPARED_PREFIX};
pub use engine::Engine;
pub use options::{Options, OPTIMIZATIONS};
pub use pipeline::{lower_module, Report};
pub use request::{ArgActivity, ForwardRequest, GeneratedFunction, RevArg, ReverseFunctions, ReverseRequest};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
