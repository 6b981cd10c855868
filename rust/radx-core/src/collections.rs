//! The hash maps and sets of the engine. Its keys are LLVM handles (pointers) and small
//! integers hashed by the million per transform, where std's SipHash, built to resist
//! adversarial keys, was a tenth of `radx opt`'s instructions; Fx hashing is a multiply.
//! It also makes iteration order the same from run to run.

pub use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
