//! Native Temporal activity bodies for Hourglass, free of any NIF code: the runtimes they run
//! on, the registry of activity types, their outcomes and the counters that prove nothing leaks.
//! The `hourglass_nif` crate wraps this for the BEAM.

pub mod activities;
pub mod failure;
pub mod runtime;
pub mod stats;
