//! Facts about a function computed once, before generation, into plain maps.

pub mod activity;
pub mod alignment_peel;
pub mod caller_types;
pub mod cfg;
pub mod exit_values;
pub mod forwarding;
pub mod gpu;
pub mod lanes;
pub mod memory;
pub mod min_cut;
pub mod nonzero;
pub mod promote_slots;
pub mod shared;
pub mod shifted_vector_loops;
pub mod useful;
