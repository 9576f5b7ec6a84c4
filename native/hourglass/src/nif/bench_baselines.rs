//! Baselines for the scheduler benchmark (`mix hourglass.bench scheduler`): the same hash chain
//! as `hourglass.sha256`, and the same payload conversion as `Hourglass.Payload`, run the ways
//! Hourglass avoids, so their cost can be measured side by side. Never use these for real work:
//! they hold a normal scheduler, or a dirty CPU scheduler, for the whole computation.

use crate::activities::sha256::hash_chain;
use crate::nif::payload_nif::{payloads_from_values_body, payloads_to_values_body};
use rustler::{Env, NifResult, Term};

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

/// Values to payloads (as `Hourglass.Payload.from_values/1`), on the calling (normal) scheduler
/// whatever their size: how payload conversion ran before it weighed its arguments.
#[rustler::nif]
fn bench_payloads_from_values_on_scheduler<'a>(
    env: Env<'a>,
    values: Term<'a>,
) -> NifResult<Term<'a>> {
    payloads_from_values_body(env, &[values])
}

/// Payloads to values (as `Hourglass.Payload.to_values/1`), on the calling (normal) scheduler
/// whatever their size.
#[rustler::nif]
fn bench_payloads_to_values_on_scheduler<'a>(
    env: Env<'a>,
    payloads: Term<'a>,
) -> NifResult<Term<'a>> {
    payloads_to_values_body(env, &[payloads])
}

/// Values to payloads on a dirty CPU scheduler: how `Hourglass.Payload.from_values/1` converted
/// heavy values before they went to tokio.
#[rustler::nif(schedule = "DirtyCpu")]
fn bench_payloads_from_values_dirty_cpu<'a>(env: Env<'a>, values: Term<'a>) -> NifResult<Term<'a>> {
    payloads_from_values_body(env, &[values])
}

/// Payloads to values on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn bench_payloads_to_values_dirty_cpu<'a>(env: Env<'a>, payloads: Term<'a>) -> NifResult<Term<'a>> {
    payloads_to_values_body(env, &[payloads])
}
