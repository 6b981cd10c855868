//! Forward (tangent) mode: a copy of the function that computes, beside every active
//! value, its tangent for each of `width` directions.
//!
//! The primal instructions are cloned block by block in reverse post-order and the
//! tangent code of each is emitted right after it, so tangents are available wherever
//! their primals are. Elementwise instructions and calls go through the rule table;
//! structural ones (casts, GEPs, loads, shuffles, select) are re-applied to shadows;
//! memory, allocation and calls have code in `memory.rs` and `calls.rs`.
//!
//! Floor: a generator, above the engine, the requests and signatures, the rules and the
//! shadows both modes share (`crate::shadows`); below the ABI lowering and the pipeline.
//! It imports nothing of reverse mode. `gen.rs` holds the generator's state
//! (`ForwardFn`) and `Engine::forward`; the other files add `ForwardFn`'s methods for
//! their kind of instruction. This file only declares them, so that none of them imports
//! it back.

mod calls;
mod gen;
mod julia;
mod memory;
mod parallel;
