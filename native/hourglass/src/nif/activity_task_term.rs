//! Core's activity tasks as the messages `Hourglass.Worker` receives.
//!
//! Start: `{:"$hourglass_activity_start", task}` where `task` is the map `Hourglass.ActivityTask`
//! documents (its times `DateTime`s made here, see [`crate::nif::datetime_term`]).
//! A task whose input or heartbeat details hold a map too large to be made on the poll loop's
//! thread arrives as `{:"$hourglass_deferred", resource}` instead (see
//! [`crate::nif::deferred_term`]), which the worker builds.
//! Cancel: `{:"$hourglass_activity_cancel", task_token, reason}` with reason one of `:not_found`,
//! `:cancelled`, `:timed_out`, `:worker_shutdown`, `:paused`, `:reset`.

use crate::nif::atoms::named as atom;
use crate::nif::datetime_term::timestamp_datetime;
use crate::nif::deferred_term::build_or_defer;
use crate::nif::payload_term::{DecodedPayload, Form};
use crate::nif::value::str_to_term;
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, NewBinary, Term};
use temporalio_common::protos::coresdk::activity_task::{ActivityCancelReason, Cancel, Start};

fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    let mut binary = NewBinary::new(env, bytes.len());
    binary.as_mut_slice().copy_from_slice(bytes);
    rustler::Binary::from(binary).to_term(env)
}

/// A string, or nil when it is empty.
pub(crate) fn optional_str<'a>(env: Env<'a>, text: &str) -> Term<'a> {
    if text.is_empty() {
        rustler::types::atom::nil().encode(env)
    } else {
        str_to_term(env, text)
    }
}

fn millis(duration: &Option<prost_wkt_types::Duration>) -> Option<i64> {
    duration
        .as_ref()
        .map(|duration| duration.seconds * 1_000 + i64::from(duration.nanos) / 1_000_000)
}

/// A Start's payloads, decoded before any term is made.
pub struct StartPayloads {
    input: Vec<DecodedPayload>,
    heartbeat_details: Vec<DecodedPayload>,
}

impl StartPayloads {
    /// Decodes the input and heartbeat details, or says why they cannot be. With [`Form::Raw`]
    /// (a worker with a payload codec) they stay payloads, for the codec.
    pub fn decode(start: &Start, form: Form) -> Result<Self, String> {
        Ok(StartPayloads {
            input: DecodedPayload::decode_all(&start.input, form)?,
            heartbeat_details: DecodedPayload::decode_all(&start.heartbeat_details, form)
                .map_err(|error| format!("heartbeat details: {error}"))?,
        })
    }

    fn has_wide_map(&self) -> bool {
        self.input
            .iter()
            .chain(&self.heartbeat_details)
            .any(DecodedPayload::has_wide_map)
    }
}

/// The Start message; its task is deferred to the receiving process when it holds a wide map.
pub fn start_message<'a>(
    env: Env<'a>,
    task_token: Vec<u8>,
    start: Start,
    payloads: StartPayloads,
) -> Term<'a> {
    let task = build_or_defer(env, payloads.has_wide_map(), move |env| {
        task_term(env, &task_token, &start, &payloads)
    });
    make_tuple(env, &[atom(env, "$hourglass_activity_start"), task])
}

fn task_term<'a>(
    env: Env<'a>,
    task_token: &[u8],
    start: &Start,
    payloads: &StartPayloads,
) -> Term<'a> {
    let terms = |decoded: &[DecodedPayload]| -> Term<'a> {
        let terms: Vec<Term<'a>> = decoded.iter().map(|payload| payload.to_term(env)).collect();
        terms.encode(env)
    };
    let input = terms(&payloads.input);
    let heartbeat_details = terms(&payloads.heartbeat_details);
    let nil = rustler::types::atom::nil().encode(env);
    let execution = start.workflow_execution.as_ref();
    let optional_integer = |value: Option<i64>| value.map(|v| v.encode(env)).unwrap_or(nil);
    let pairs: Vec<(&str, Term<'a>)> = vec![
        ("task_token", binary(env, task_token)),
        ("activity_type", str_to_term(env, &start.activity_type)),
        ("activity_id", optional_str(env, &start.activity_id)),
        ("input", input),
        ("attempt", start.attempt.max(1).encode(env)),
        ("heartbeat_details", heartbeat_details),
        (
            "workflow_namespace",
            optional_str(env, &start.workflow_namespace),
        ),
        ("workflow_type", optional_str(env, &start.workflow_type)),
        (
            "workflow_id",
            optional_str(env, execution.map_or("", |e| e.workflow_id.as_str())),
        ),
        (
            "workflow_run_id",
            optional_str(env, execution.map_or("", |e| e.run_id.as_str())),
        ),
        ("activity_run_id", optional_str(env, &start.run_id)),
        (
            "scheduled_time",
            timestamp_datetime(env, &start.scheduled_time),
        ),
        (
            "current_attempt_scheduled_time",
            timestamp_datetime(env, &start.current_attempt_scheduled_time),
        ),
        ("started_time", timestamp_datetime(env, &start.started_time)),
        (
            "schedule_to_close_timeout",
            optional_integer(millis(&start.schedule_to_close_timeout)),
        ),
        (
            "start_to_close_timeout",
            optional_integer(millis(&start.start_to_close_timeout)),
        ),
        (
            "heartbeat_timeout",
            optional_integer(millis(&start.heartbeat_timeout)),
        ),
    ];
    let keys: Vec<Term<'a>> = pairs.iter().map(|(key, _)| atom(env, key)).collect();
    let values: Vec<Term<'a>> = pairs.iter().map(|(_, value)| *value).collect();
    Term::map_from_term_arrays(env, &keys, &values).unwrap_or_else(|_| atom(env, "nil"))
}

/// The Cancel message.
pub fn cancel_message<'a>(env: Env<'a>, task_token: &[u8], cancel: &Cancel) -> Term<'a> {
    let reason = match cancel.reason() {
        ActivityCancelReason::NotFound => "not_found",
        ActivityCancelReason::Cancelled => "cancelled",
        ActivityCancelReason::TimedOut => "timed_out",
        ActivityCancelReason::WorkerShutdown => "worker_shutdown",
        ActivityCancelReason::Paused => "paused",
        ActivityCancelReason::Reset => "reset",
    };
    make_tuple(
        env,
        &[
            atom(env, "$hourglass_activity_cancel"),
            binary(env, task_token),
            atom(env, reason),
        ],
    )
}
