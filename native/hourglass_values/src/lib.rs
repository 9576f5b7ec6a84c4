//! The conversions at Hourglass's edges that take untrusted input — Erlang terms from users and
//! payloads from the network — kept free of the BEAM and of Temporal's crates, so that they can
//! be unit tested and fuzzed (`fuzz/`) on their own (the `beam` feature adds the view of rustler's
//! terms the NIF decodes with).
//!
//! - [`term`]: a term, seen through the [`term::TermView`] trait, to a JSON value.
//! - [`etf`]: terms in Erlang's external term format, read into a [`tree::TermTree`] and
//!   written from JSON values: how heavy values cross between a process and tokio.
//! - [`payload`]: a payload's encoding and data to a value and back, the way the official SDKs'
//!   default data converter does it.
//! - [`tree`]: terms as a plain Rust tree, for tests and fuzzing.
//! - [`stack`]: how much of the thread's stack is left, so that recursion stops in time.
//! - `beam` (feature `beam`): rustler's terms as the decoder reads them.

#[cfg(feature = "beam")]
pub mod beam;
pub mod etf;
pub mod payload;
pub mod stack;
pub mod term;
pub mod tree;
