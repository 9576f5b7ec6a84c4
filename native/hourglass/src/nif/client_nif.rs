//! NIFs of `Hourglass.Client`: Standalone Activities started, awaited, cancelled, described.
//!
//! Each call returns `{:ok, pending}` at once (or `{:error, message}` for a malformed request)
//! and answers `reply_to` later with `{:"$hourglass_client_reply", ref, answer}`; the caller
//! holds `pending` while it waits (see [`crate::nif::pending_call`]).

use crate::nif::atoms::named as atom;
use crate::nif::chained_error_term::chained_error_term;
use crate::nif::completion::{application_error_term, ApplicationErrorFields};
use crate::nif::datetime_term::timestamp_micros;
use crate::nif::dirty::{self, dirty_nif};
use crate::nif::payload_term::{payload_term, terms_to_payloads, Form};
use crate::nif::pending_call::reply_later;
use crate::nif::task::utf8_string;
use crate::nif::term_map::TermMap;
use crate::nif::value::str_to_term;
use crate::nif::worker_settings::{decode_connect, decode_payload_form, decode_payload_limit};
use crate::temporal::client::{ActivityClient, ActivityOutcome, ClientError, StartActivity};
use crate::temporal::payload_limit::{PayloadLimit, TooLarge};
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, LocalPid, NifResult, Resource, ResourceArc, Term};
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::protos::temporal::api::activity::v1::ActivityExecutionInfo;
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads, RetryPolicy};
use temporalio_common::protos::temporal::api::enums::v1::{
    ActivityExecutionStatus, TimeoutType, WorkflowIdReusePolicy,
};
use temporalio_common::protos::temporal::api::failure::v1::{failure::FailureInfo, Failure};

pub struct ClientResource {
    pub(crate) client: Arc<ActivityClient>,
    /// Results, details and heartbeat details reach Elixir as payloads, for the client's codec.
    pub(crate) payload_form: Form,
    /// Requests whose payloads are over it are refused before they are sent.
    pub(crate) payload_limit: PayloadLimit,
}

#[rustler::resource_impl]
impl Resource for ClientResource {}

pub(crate) fn nil(env: Env) -> Term {
    rustler::types::atom::nil().encode(env)
}

/// `{:error, message}`: the answer to a request that is refused before it is sent.
pub(crate) fn error_message<'a>(env: Env<'a>, message: &str) -> Term<'a> {
    make_tuple(env, &[atom(env, "error"), str_to_term(env, message)])
}

/// `{:error, {:payload_too_large, message}}`: a request refused for the size of its payloads.
pub(crate) fn too_large_term<'a>(env: Env<'a>, too_large: &TooLarge) -> Term<'a> {
    make_tuple(
        env,
        &[
            atom(env, "error"),
            make_tuple(
                env,
                &[
                    atom(env, "payload_too_large"),
                    str_to_term(env, &too_large.to_string()),
                ],
            ),
        ],
    )
}

pub(crate) fn error_term<'a>(env: Env<'a>, error: &ClientError) -> Term<'a> {
    make_tuple(
        env,
        &[
            atom(env, "error"),
            make_tuple(
                env,
                &[atom(env, error.code), str_to_term(env, &error.message)],
            ),
        ],
    )
}

#[rustler::nif]
fn client_connect<'a>(
    env: Env<'a>,
    settings: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let decoded = TermMap::new(settings, "client settings").and_then(|map| {
        Ok((
            decode_connect(&map)?,
            map.string("namespace")?,
            decode_payload_form(&map),
            decode_payload_limit(&map)?,
        ))
    });
    let (config, namespace, payload_form, payload_limit) = match decoded {
        Ok(decoded) => decoded,
        Err(message) => return error_message(env, &message),
    };
    reply_later(
        env,
        reply_to,
        reference,
        async move { ActivityClient::connect(&config, namespace).await },
        move |env, connected| match connected {
            Ok(client) => make_tuple(
                env,
                &[
                    atom(env, "ok"),
                    ResourceArc::new(ClientResource {
                        client: Arc::new(client),
                        payload_form,
                        payload_limit,
                    })
                    .encode(env),
                ],
            ),
            Err(error) => error_term(env, &error),
        },
    )
}

pub(crate) fn millis(map: &TermMap, key: &str) -> Result<Option<Duration>, String> {
    Ok(map.optional_u64(key)?.map(Duration::from_millis))
}

/// `:id_reuse_policy` (absent: the server's default). The server's deprecated
/// `TerminateIfRunning` is the id conflict policy `:terminate_existing`.
pub(crate) fn decode_id_reuse_policy(map: &TermMap) -> Result<WorkflowIdReusePolicy, String> {
    Ok(match map.optional_atom("id_reuse_policy")?.as_deref() {
        None => WorkflowIdReusePolicy::Unspecified,
        Some("allow_duplicate") => WorkflowIdReusePolicy::AllowDuplicate,
        Some("allow_duplicate_failed_only") => WorkflowIdReusePolicy::AllowDuplicateFailedOnly,
        Some("reject_duplicate") => WorkflowIdReusePolicy::RejectDuplicate,
        Some(other) => return Err(format!("unknown :id_reuse_policy :{other}")),
    })
}

pub(crate) fn decode_retry_policy(term: Term) -> Result<RetryPolicy, String> {
    let map = TermMap::new(term, ":retry_policy")?;
    let non_retryable_error_types = match map.get("non_retryable_error_types") {
        None => Vec::new(),
        Some(list) => list
            .decode::<Vec<String>>()
            .map_err(|_| ":non_retryable_error_types must be a list of strings".to_string())?,
    };
    Ok(RetryPolicy {
        initial_interval: millis(&map, "initial_interval")?.and_then(|d| d.try_into().ok()),
        backoff_coefficient: map.optional_f64("backoff_coefficient")?.unwrap_or(0.0),
        maximum_interval: millis(&map, "maximum_interval")?.and_then(|d| d.try_into().ok()),
        maximum_attempts: map
            .optional_u64("maximum_attempts")?
            .unwrap_or(0)
            .min(i32::MAX as u64) as i32,
        non_retryable_error_types,
    })
}

fn decode_start(term: Term) -> Result<StartActivity, String> {
    let map = TermMap::new(term, "the start request")?;
    Ok(StartActivity {
        activity_id: map.string("activity_id")?,
        activity_type: map.string("activity_type")?,
        task_queue: map.string("task_queue")?,
        input: terms_to_payloads(map.required("input")?)
            .map_err(|error| format!("input: {error}"))?,
        schedule_to_close_timeout: millis(&map, "schedule_to_close_timeout")?,
        schedule_to_start_timeout: millis(&map, "schedule_to_start_timeout")?,
        start_to_close_timeout: millis(&map, "start_to_close_timeout")?,
        heartbeat_timeout: millis(&map, "heartbeat_timeout")?,
        retry_policy: map
            .get("retry_policy")
            .map(decode_retry_policy)
            .transpose()?,
        request_id: map.string("request_id")?,
    })
}

#[rustler::nif]
fn client_start_activity<'a>(
    env: Env<'a>,
    client: Term<'a>,
    request: Term<'a>,
    reply_to: Term<'a>,
    reference: Term<'a>,
) -> NifResult<Term<'a>> {
    dirty::run(
        env,
        &[client, request, reply_to, reference],
        dirty::is_heavy(&[request]),
        c"client_start_activity",
        client_start_activity_dirty,
        client_start_activity_body,
    )
}

dirty_nif!(client_start_activity_dirty, client_start_activity_body);

fn client_start_activity_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let client: ResourceArc<ClientResource> = args[0].decode()?;
    let reply_to: LocalPid = args[2].decode()?;
    let reference = args[3];
    let start = match decode_start(args[1]) {
        Ok(start) => start,
        Err(message) => return Ok(error_message(env, &message)),
    };
    if let Err(too_large) = client
        .payload_limit
        .check_payloads("the input", &start.input)
    {
        return Ok(too_large_term(env, &too_large));
    }
    let client = client.client.clone();
    Ok(reply_later(
        env,
        reply_to,
        reference,
        async move { client.start(start).await },
        |env, started| match started {
            Ok(run_id) => make_tuple(env, &[atom(env, "ok"), str_to_term(env, &run_id)]),
            Err(error) => error_term(env, &error),
        },
    ))
}

#[rustler::nif]
fn client_activity_result<'a>(
    env: Env<'a>,
    client: ResourceArc<ClientResource>,
    activity_id: Term<'a>,
    run_id: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let (activity_id, run_id) = match activity_ids(activity_id, run_id) {
        Ok(ids) => ids,
        Err(message) => return error_message(env, &message),
    };
    let form = client.payload_form;
    let client = client.client.clone();
    reply_later(
        env,
        reply_to,
        reference,
        async move { client.result(&activity_id, &run_id).await },
        move |env, outcome| match outcome {
            Ok(ActivityOutcome::Completed(payloads)) => result_term(env, payloads.first(), form),
            Ok(ActivityOutcome::Failed(failure)) => make_tuple(
                env,
                &[atom(env, "error"), failure_term(env, &failure, form)],
            ),
            Err(error) => error_term(env, &error),
        },
    )
}

/// `{:ok, value}` for a result (nil when there is none), or
/// `{:error, {:undecodable_result, message}}`.
pub(crate) fn result_term<'a>(env: Env<'a>, result: Option<&Payload>, form: Form) -> Term<'a> {
    match result.map(|payload| payload_term(env, payload, form)) {
        None => make_tuple(env, &[atom(env, "ok"), nil(env)]),
        Some(Ok(value)) => make_tuple(env, &[atom(env, "ok"), value]),
        Some(Err(message)) => make_tuple(
            env,
            &[
                atom(env, "error"),
                make_tuple(
                    env,
                    &[atom(env, "undecodable_result"), str_to_term(env, &message)],
                ),
            ],
        ),
    }
}

/// `request` is `%{activity_id, run_id, reason, request_id}`.
#[rustler::nif]
fn client_cancel_activity<'a>(
    env: Env<'a>,
    client: ResourceArc<ClientResource>,
    request: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let decoded = TermMap::new(request, "the cancel request").and_then(|map| {
        Ok((
            map.string("activity_id")?,
            map.optional_string("run_id")?.unwrap_or_default(),
            map.optional_string("reason")?.unwrap_or_default(),
            map.string("request_id")?,
        ))
    });
    let (activity_id, run_id, reason, request_id) = match decoded {
        Ok(decoded) => decoded,
        Err(message) => return error_message(env, &message),
    };
    let client = client.client.clone();
    reply_later(
        env,
        reply_to,
        reference,
        async move {
            client
                .cancel(&activity_id, &run_id, &reason, request_id)
                .await
        },
        |env, cancelled| match cancelled {
            Ok(()) => atom(env, "ok"),
            Err(error) => error_term(env, &error),
        },
    )
}

#[rustler::nif]
fn client_describe_activity<'a>(
    env: Env<'a>,
    client: ResourceArc<ClientResource>,
    activity_id: Term<'a>,
    run_id: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let (activity_id, run_id) = match activity_ids(activity_id, run_id) {
        Ok(ids) => ids,
        Err(message) => return error_message(env, &message),
    };
    let form = client.payload_form;
    let client = client.client.clone();
    reply_later(
        env,
        reply_to,
        reference,
        async move { client.describe(&activity_id, &run_id).await },
        move |env, described| match described {
            Ok(info) => make_tuple(env, &[atom(env, "ok"), info_term(env, &info, form)]),
            Err(error) => error_term(env, &error),
        },
    )
}

/// An activity id and a run id (empty for the latest run), both UTF-8 binaries.
/// `Hourglass.Client` checks them first and names the caller's value in its error; this is
/// the backstop that keeps a direct call from raising.
fn activity_ids(activity_id: Term, run_id: Term) -> Result<(String, String), String> {
    let activity_id = utf8_string(activity_id)
        .filter(|id| !id.is_empty())
        .ok_or("the activity id must be a non-empty UTF-8 string")?;
    let run_id = utf8_string(run_id).ok_or("the run id must be a UTF-8 string")?;
    Ok((activity_id, run_id))
}

/// Details as a list of terms; one that cannot be decoded shows as the message saying why.
fn payloads_term<'a>(env: Env<'a>, payloads: &Option<Payloads>, form: Form) -> Term<'a> {
    let terms: Vec<Term<'a>> = payloads
        .iter()
        .flat_map(|payloads| payloads.payloads.iter())
        .map(|payload| {
            payload_term(env, payload, form).unwrap_or_else(|message| str_to_term(env, &message))
        })
        .collect();
    terms.encode(env)
}

/// A closed activity's or workflow's failure: `{:failed, %ApplicationError{}}`,
/// `{:cancelled, details}`, `{:terminated, reason}` or `{:timed_out, type}`; a workflow that
/// failed with an activity's or a child workflow's error gives
/// `{:failed, %Hourglass.ActivityError{}}` or `{:failed, %Hourglass.ChildWorkflowError{}}`,
/// their cause in one of these shapes.
pub fn failure_term<'a>(env: Env<'a>, failure: &Failure, form: Form) -> Term<'a> {
    if let Some(error) = chained_error_term(env, failure, form) {
        return make_tuple(env, &[atom(env, "failed"), error]);
    }
    match &failure.failure_info {
        Some(FailureInfo::CanceledFailureInfo(info)) => {
            let details = payloads_term(env, &info.details, form);
            let first = details
                .into_list_iterator()
                .ok()
                .and_then(|mut items| items.next())
                .unwrap_or_else(|| nil(env));
            make_tuple(env, &[atom(env, "cancelled"), first])
        }
        Some(FailureInfo::TerminatedFailureInfo(_)) => make_tuple(
            env,
            &[atom(env, "terminated"), str_to_term(env, &failure.message)],
        ),
        Some(FailureInfo::TimeoutFailureInfo(info)) => {
            let kind = match info.timeout_type() {
                TimeoutType::StartToClose => "start_to_close",
                TimeoutType::ScheduleToStart => "schedule_to_start",
                TimeoutType::ScheduleToClose => "schedule_to_close",
                TimeoutType::Heartbeat => "heartbeat",
                TimeoutType::Unspecified => "unspecified",
            };
            make_tuple(env, &[atom(env, "timed_out"), atom(env, kind)])
        }
        Some(FailureInfo::ApplicationFailureInfo(info)) => {
            let details = payloads_term(env, &info.details, form);
            let error = application_error_term(
                env,
                ApplicationErrorFields {
                    error_type: &info.r#type,
                    message: &failure.message,
                    non_retryable: info.non_retryable,
                    details: details.decode().unwrap_or_default(),
                    next_retry_delay_ms: info
                        .next_retry_delay
                        .as_ref()
                        .map(|d| (d.seconds * 1000 + i64::from(d.nanos) / 1_000_000).max(0) as u64),
                    stack_trace: (!failure.stack_trace.is_empty())
                        .then_some(failure.stack_trace.as_str()),
                },
            );
            make_tuple(env, &[atom(env, "failed"), error])
        }
        _ => {
            let error = application_error_term(
                env,
                ApplicationErrorFields {
                    error_type: "Failure",
                    message: &failure.message,
                    non_retryable: false,
                    details: Vec::new(),
                    next_retry_delay_ms: None,
                    stack_trace: None,
                },
            );
            make_tuple(env, &[atom(env, "failed"), error])
        }
    }
}

/// A timestamp as Unix microseconds, or nil.
pub(crate) fn micros<'a>(env: Env<'a>, time: &Option<prost_wkt_types::Timestamp>) -> Term<'a> {
    timestamp_micros(time).map_or_else(|| nil(env), |micros| micros.encode(env))
}

fn info_term<'a>(env: Env<'a>, info: &ActivityExecutionInfo, form: Form) -> Term<'a> {
    let status = match info.status() {
        ActivityExecutionStatus::Running => "running",
        ActivityExecutionStatus::Completed => "completed",
        ActivityExecutionStatus::Failed => "failed",
        ActivityExecutionStatus::Canceled => "cancelled",
        ActivityExecutionStatus::Terminated => "terminated",
        ActivityExecutionStatus::TimedOut => "timed_out",
        _ => "unspecified",
    };
    let pairs: Vec<(&str, Term<'a>)> = vec![
        ("activity_id", str_to_term(env, &info.activity_id)),
        ("run_id", str_to_term(env, &info.run_id)),
        (
            "activity_type",
            str_to_term(
                env,
                info.activity_type.as_ref().map_or("", |t| t.name.as_str()),
            ),
        ),
        ("status", atom(env, status)),
        ("task_queue", str_to_term(env, &info.task_queue)),
        ("attempt", info.attempt.encode(env)),
        (
            "heartbeat_details",
            payloads_term(env, &info.heartbeat_details, form),
        ),
        (
            "last_heartbeat_time",
            micros(env, &info.last_heartbeat_time),
        ),
        ("last_started_time", micros(env, &info.last_started_time)),
        ("schedule_time", micros(env, &info.schedule_time)),
        ("close_time", micros(env, &info.close_time)),
        (
            "last_failure",
            info.last_failure
                .as_ref()
                .map(|f| failure_term(env, f, form))
                .unwrap_or_else(|| nil(env)),
        ),
        (
            "last_worker_identity",
            str_to_term(env, &info.last_worker_identity),
        ),
        ("canceled_reason", str_to_term(env, &info.canceled_reason)),
    ];
    let keys: Vec<Term<'a>> = pairs.iter().map(|(key, _)| atom(env, key)).collect();
    let values: Vec<Term<'a>> = pairs.iter().map(|(_, value)| *value).collect();
    Term::map_from_term_arrays(env, &keys, &values).unwrap_or_else(|_| nil(env))
}
