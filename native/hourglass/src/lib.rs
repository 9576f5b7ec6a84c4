//! Native Temporal activity bodies for Hourglass, free of any NIF code: the runtimes they run
//! on, the registry of activity types, their outcomes and the counters that prove nothing leaks,
//! plus the Temporal side — payload conversion and Core workers and clients.
//! The `hourglass_nif` crate wraps this for the BEAM.

pub mod activities;
pub mod failure;
pub mod heap;
pub mod payload;
pub mod runtime;
pub mod stats;
pub mod temporal;
