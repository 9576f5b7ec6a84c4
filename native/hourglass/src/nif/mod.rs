//! The Hourglass NIF: native activity bodies on tokio, owned by BEAM processes; Core workers
//! and clients. Every NIF function here is registered with rustler's inventory, so the crate
//! that declares the NIF with [`crate::nif!`] gets them all by linking this library.
//!
//! Work that waits (the network, bodies) is spawned on the runtimes in [`crate::runtime`] and
//! answers come back as messages sent from tokio threads. A NIF that converts values weighs
//! its arguments first and moves heavy work to a dirty CPU scheduler (`nif/dirty.rs`), so the
//! calls that stay on a normal scheduler are the light ones.

mod activity_task_term;
mod async_completion_nif;
mod atoms;
// Also in the unit tests' build, where bin/test's clippy lints it.
#[cfg(any(feature = "bench-baselines", test))]
mod bench_baselines;
mod chained_error_term;
mod client_nif;
mod completion;
mod core_completion;
mod datetime_term;
mod deferred_term;
mod dirty;
mod logging;
mod native_task;
#[cfg(test)]
mod outside_beam;
mod panic_log;
mod payload_nif;
mod payload_offload;
mod payload_term;
mod pending_call;
mod replayer_nif;
mod task;
mod term_map;
mod value;
mod worker_nif;
mod worker_settings;
mod workflow_activation_term;
mod workflow_client_nif;
mod workflow_commands;
mod workflow_failure_term;

use crate::activity::NativeActivity;
use crate::{heap, registry, runtime, stats};

use rustler::{Atom, Encoder, Env, LocalPid, Term};

/// Names of the native activity types this library can run.
#[rustler::nif]
fn native_activity_types() -> Vec<&'static str> {
    registry::all().iter().map(NativeActivity::name).collect()
}

/// Counters of native tasks: `%{started, live, completed, failed, aborted, panicked}` plus
/// `client_calls`, the client calls whose work runs on tokio right now, `core_workers`, the Core
/// workers that exist right now, `conversions`, the payload conversions of heavy values running
/// on tokio right now, `log_dropped`, the log records dropped because Logger could not keep up, and
/// `rust_heap_bytes`, what the NIF has allocated right now.
#[rustler::nif]
fn native_stats(env: Env) -> Term {
    let stats = stats::snapshot();
    let pairs = [
        ("started", stats.started),
        ("live", stats.live),
        ("completed", stats.completed),
        ("failed", stats.failed),
        ("aborted", stats.aborted),
        ("panicked", stats.panicked),
        ("client_calls", stats.client_calls),
        ("core_workers", stats.core_workers),
        ("conversions", stats.conversions),
        ("log_dropped", logging::dropped()),
    ];
    let heap_bytes = heap::allocated_bytes();
    let keys: Vec<Term> = pairs
        .iter()
        .map(|(key, _)| Atom::from_str(env, key).map(|atom| atom.encode(env)))
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    let mut values: Vec<Term> = pairs.iter().map(|(_, value)| value.encode(env)).collect();
    let mut keys = keys;
    if let Ok(key) = Atom::from_str(env, "rust_heap_bytes") {
        keys.push(key.encode(env));
        values.push(heap_bytes.encode(env));
    }
    Term::map_from_term_arrays(env, &keys, &values).unwrap_or_else(|_| atoms::error().encode(env))
}

/// The log receiver handled one `{:"$hourglass_log", ...}` message.
#[rustler::nif]
fn native_log_handled() -> Atom {
    logging::handled();
    atoms::ok()
}

/// Log records sent to the receiver and not handled yet (at most `logging::MAILBOX_LIMIT`).
#[rustler::nif]
fn native_log_in_mailbox() -> usize {
    logging::in_mailbox()
}

/// Routes Rust log events to `pid` (or nowhere, given anything else).
#[rustler::nif]
fn native_set_log_receiver(pid: Term) -> Atom {
    logging::set_receiver(pid.decode::<LocalPid>().ok());
    atoms::ok()
}

/// Sets the most verbose Rust log level delivered to Logger.
#[rustler::nif]
fn native_set_log_level(env: Env, level: Atom) -> Term {
    match logging::level_from_atom(level, env) {
        Some(rank) => {
            logging::set_max_level(rank);
            atoms::ok().encode(env)
        }
        None => env.error_tuple(atoms::log_level()),
    }
}

/// Loads the NIF: registers `activities` next to the built-ins and reads the runtime settings
/// Elixir passes as load info, a map with optional `io_threads`, `cpu_threads`, `cpu_nice` and
/// `log_level`. Anything malformed refuses the load, so the mistake surfaces with the file name
/// instead of being silently ignored. Called by the load function [`crate::nif!`] generates.
pub fn load(env: Env, load_info: Term, activities: Vec<NativeActivity>) -> bool {
    if let Err(problem) = registry::install(activities) {
        // Logger is not connected yet: standard error is where this can be seen.
        eprintln!("Hourglass NIF refused to load: {problem}");
        return false;
    }
    let get = |key: Atom| load_info.map_get(key).ok();
    let mut config = runtime::RuntimeConfig::default();
    if let Some(threads) = get(atoms::io_threads()) {
        match threads.decode::<usize>() {
            Ok(threads) if threads >= 1 => config.io_threads = threads,
            _ => return false,
        }
    }
    if let Some(threads) = get(atoms::cpu_threads()) {
        match threads.decode::<usize>() {
            Ok(threads) if threads >= 1 => config.cpu_threads = threads,
            _ => return false,
        }
    }
    if let Some(nice) = get(atoms::cpu_nice()) {
        match nice.decode::<i32>() {
            Ok(nice) if (0..=19).contains(&nice) => config.cpu_nice = nice,
            _ => return false,
        }
    }
    if let Some(level) = get(atoms::log_level()) {
        match level
            .decode::<Atom>()
            .ok()
            .and_then(|atom| logging::level_from_atom(atom, env))
        {
            Some(rank) => logging::set_max_level(rank),
            None => return false,
        }
    }
    runtime::configure(config);
    logging::install();
    panic_log::install();
    true
}
