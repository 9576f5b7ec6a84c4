//! Baselines for the scheduler benchmark (`mix hourglass.bench scheduler`): the same hash chain
//! as `hourglass.sha256`, run the ways Hourglass avoids, so their cost can be measured side by
//! side. Never use these for real work: the first holds a normal scheduler for the whole
//! computation, the second a dirty CPU scheduler.

use crate::activities::sha256::hash_chain;

/// Runs on the calling (normal) scheduler until done.
#[rustler::nif]
fn bench_sha256_on_scheduler(data: String, rounds: u64) -> String {
    hash_chain(&data, rounds)
}

/// Runs on a dirty CPU scheduler until done.
#[rustler::nif(schedule = "DirtyCpu")]
fn bench_sha256_dirty_cpu(data: String, rounds: u64) -> String {
    hash_chain(&data, rounds)
}
