//! The Temporal side: connections, Core workers, failures, on the runtimes of [`crate::runtime`].

pub mod async_completion;
pub mod cause_chain;
pub mod client;
pub mod connection;
pub mod core_runtime;
pub mod failure;
pub mod history_json;
pub mod issuers;
pub mod open_activations;
pub mod orphans;
pub mod payload_limit;
pub mod replayer;
pub mod worker;
pub mod workflow_client;
