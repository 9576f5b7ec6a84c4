//! NIFs of `Hourglass.Client`'s workflow calls: start, result, signal, query, update, cancel,
//! terminate, describe. Like the activity calls (see [`crate::nif::client_nif`]), each returns
//! `{:ok, pending}` at once, or `{:error, message}` for a malformed request, and answers
//! `reply_to` later with `{:"$hourglass_client_reply", ref, answer}`.

use crate::nif::atoms::named as atom;
use crate::nif::client_nif::{
    decode_id_reuse_policy, decode_retry_policy, error_message, error_term, failure_term, micros,
    millis, result_term, too_large_term, ClientResource,
};
use crate::nif::dirty::{self, dirty_nif};
use crate::nif::payload_term::{payload_term, term_to_payload, terms_to_payloads, Form};
use crate::nif::term_map::TermMap;
use crate::nif::value::str_to_term;
use crate::nif::workflow_activation_term::map;
use crate::temporal::workflow_client::{
    StartSignal, StartWorkflow, UpdateOutcome, WorkflowOutcome, WorkflowUpdate,
};
use rustler::types::map::MapIterator;
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, LocalPid, NifResult, ResourceArc, Term};
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::enums::v1::{
    WorkflowExecutionStatus, WorkflowIdConflictPolicy,
};
use temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo;

fn decode_start(term: Term) -> Result<StartWorkflow, String> {
    let map = TermMap::new(term, "the start request")?;
    let signal = match map.optional_string("signal_name")? {
        Some(name) => Some(StartSignal {
            input: terms_to_payloads(map.required("signal_input")?)
                .map_err(|error| format!("signal_input: {error}"))?,
            name,
        }),
        None => None,
    };
    Ok(StartWorkflow {
        workflow_id: map.string("workflow_id")?,
        workflow_type: map.string("workflow_type")?,
        task_queue: map.string("task_queue")?,
        input: terms_to_payloads(map.required("input")?)
            .map_err(|error| format!("input: {error}"))?,
        execution_timeout: millis(&map, "execution_timeout")?,
        run_timeout: millis(&map, "run_timeout")?,
        task_timeout: millis(&map, "task_timeout")?,
        retry_policy: map
            .get("retry_policy")
            .filter(|policy| !policy.is_atom())
            .map(decode_retry_policy)
            .transpose()?,
        request_id: map.string("request_id")?,
        id_reuse_policy: decode_id_reuse_policy(&map)?,
        id_conflict_policy: match map.optional_atom("id_conflict_policy")?.as_deref() {
            None => WorkflowIdConflictPolicy::Unspecified,
            Some("fail") => WorkflowIdConflictPolicy::Fail,
            Some("use_existing") => WorkflowIdConflictPolicy::UseExisting,
            Some("terminate_existing") => WorkflowIdConflictPolicy::TerminateExisting,
            Some(other) => return Err(format!("unknown :id_conflict_policy :{other}")),
        },
        cron_schedule: map.optional_string("cron_schedule")?.unwrap_or_default(),
        start_delay: millis(&map, "start_delay")?,
        memo: named_payloads(&map, "memo")?,
        search_attributes: named_payloads(&map, "search_attributes")?,
        signal,
    })
}

/// A map of names to values (the memo, the search attributes), as payloads.
fn named_payloads(map: &TermMap, key: &str) -> Result<HashMap<String, Payload>, String> {
    match map.get(key) {
        Some(term) => payload_map(term, &format!(":{key}")),
        None => Ok(HashMap::new()),
    }
}

/// An Elixir map of names to values (or `%Hourglass.Payload{}` structs), as payloads.
pub(crate) fn payload_map(term: Term, what: &str) -> Result<HashMap<String, Payload>, String> {
    let entries = MapIterator::new(term).ok_or_else(|| format!("{what} must be a map"))?;
    entries
        .map(|(name, value)| {
            let name: String = name
                .decode()
                .map_err(|_| format!("{what} must have string keys"))?;
            let payload =
                term_to_payload(value).map_err(|error| format!("{what} {name:?}: {error}"))?;
            Ok((name, payload))
        })
        .collect()
}

/// `request`: `%{workflow_id, workflow_type, task_queue, input, request_id}` and optionally
/// `execution_timeout`, `run_timeout`, `task_timeout`, `start_delay` (ms), `retry_policy`,
/// `id_reuse_policy`, `id_conflict_policy` (atoms), `cron_schedule`, `memo` and
/// `search_attributes` (maps of names to values), and `signal_name` with `signal_input` for a
/// signal-with-start. Answers `{:ok, run_id}`.
#[rustler::nif]
fn client_start_workflow<'a>(
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
        c"client_start_workflow",
        client_start_workflow_dirty,
        client_start_workflow_body,
    )
}

dirty_nif!(client_start_workflow_dirty, client_start_workflow_body);

fn client_start_workflow_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let client: ResourceArc<ClientResource> = args[0].decode()?;
    let reply_to: LocalPid = args[2].decode()?;
    let start = match decode_start(args[1]) {
        Ok(start) => start,
        Err(message) => return Ok(error_message(env, &message)),
    };
    let signal_input = start.signal.as_ref().map(|signal| signal.input.as_slice());
    let checked = client
        .payload_limit
        .check_payloads("the input", &start.input)
        .and_then(|()| {
            client
                .payload_limit
                .check_payloads("the signal's input", signal_input.unwrap_or_default())
        });
    if let Err(too_large) = checked {
        return Ok(too_large_term(env, &too_large));
    }
    let client = client.client.clone();
    Ok(crate::nif::pending_call::reply_later(
        env,
        reply_to,
        args[3],
        async move { client.start_workflow(start).await },
        |env, started| match started {
            Ok(started) => make_tuple(env, &[atom(env, "ok"), str_to_term(env, &started.run_id)]),
            Err(error) => error_term(env, &error),
        },
    ))
}

/// Waits for the workflow to close. Answers `{:ok, value}` or `{:error, reason}`, reason one of
/// `{:failed, %Hourglass.ApplicationError{}}`, `{:cancelled, details}`, `{:terminated,
/// reason}`, `{:timed_out, :workflow}`.
#[rustler::nif]
fn client_workflow_result<'a>(
    env: Env<'a>,
    client: ResourceArc<ClientResource>,
    request: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let (workflow_id, run_id) = match ids(request) {
        Ok(ids) => ids,
        Err(message) => return error_message(env, &message),
    };
    let form = client.payload_form;
    let client = client.client.clone();
    crate::nif::pending_call::reply_later(
        env,
        reply_to,
        reference,
        async move { client.workflow_result(&workflow_id, &run_id).await },
        move |env, outcome| {
            let error = |reason| make_tuple(env, &[atom(env, "error"), reason]);
            match outcome {
                Ok(WorkflowOutcome::Completed(payloads)) => {
                    result_term(env, payloads.first(), form)
                }
                Ok(WorkflowOutcome::Failed(failure)) => error(failure_term(env, &failure, form)),
                Ok(WorkflowOutcome::Cancelled(details)) => {
                    let details = details
                        .first()
                        .and_then(|payload| payload_term(env, payload, form).ok())
                        .unwrap_or_else(|| rustler::types::atom::nil().encode(env));
                    error(make_tuple(env, &[atom(env, "cancelled"), details]))
                }
                Ok(WorkflowOutcome::Terminated(reason)) => error(make_tuple(
                    env,
                    &[atom(env, "terminated"), str_to_term(env, &reason)],
                )),
                Ok(WorkflowOutcome::TimedOut) => error(make_tuple(
                    env,
                    &[atom(env, "timed_out"), atom(env, "workflow")],
                )),
                Err(failure) => error_term(env, &failure),
            }
        },
    )
}

/// A workflow id and a run id (empty for the latest run).
fn ids(request: Term) -> Result<(String, String), String> {
    let map = TermMap::new(request, "the request")?;
    Ok((
        map.string("workflow_id")?,
        map.optional_string("run_id")?.unwrap_or_default(),
    ))
}

/// A signal's or a query's workflow ids, name and values.
type Named = ((String, String), String, Vec<Payload>);

/// The workflow's ids, the name and the values under `values_key` of a signal or a query.
fn decode_named(request: Term, what: &str, values_key: &str) -> Result<Named, String> {
    let map = TermMap::new(request, what)?;
    let values = terms_to_payloads(map.required(values_key)?)
        .map_err(|error| format!("{values_key}: {error}"))?;
    Ok((ids(request)?, map.string("name")?, values))
}

/// `request`: `%{workflow_id, run_id, name, input, request_id}`. Answers `:ok`.
#[rustler::nif]
fn client_signal_workflow<'a>(
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
        c"client_signal_workflow",
        client_signal_workflow_dirty,
        client_signal_workflow_body,
    )
}

dirty_nif!(client_signal_workflow_dirty, client_signal_workflow_body);

fn client_signal_workflow_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let client: ResourceArc<ClientResource> = args[0].decode()?;
    let reply_to: LocalPid = args[2].decode()?;
    let decoded = decode_named(args[1], "the signal", "input").and_then(|(ids, name, input)| {
        let request_id = TermMap::new(args[1], "the signal")?.string("request_id")?;
        Ok((ids, name, input, request_id))
    });
    let ((workflow_id, run_id), name, input, request_id) = match decoded {
        Ok(decoded) => decoded,
        Err(message) => return Ok(error_message(env, &message)),
    };
    if let Err(too_large) = client
        .payload_limit
        .check_payloads("the signal's input", &input)
    {
        return Ok(too_large_term(env, &too_large));
    }
    let client = client.client.clone();
    Ok(crate::nif::pending_call::reply_later(
        env,
        reply_to,
        args[3],
        async move {
            client
                .signal_workflow(&workflow_id, &run_id, name, input, request_id)
                .await
        },
        |env, signalled| match signalled {
            Ok(()) => atom(env, "ok"),
            Err(error) => error_term(env, &error),
        },
    ))
}

/// `request`: `%{workflow_id, run_id, name, arguments}`. Answers `{:ok, value}`.
#[rustler::nif]
fn client_query_workflow<'a>(
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
        c"client_query_workflow",
        client_query_workflow_dirty,
        client_query_workflow_body,
    )
}

dirty_nif!(client_query_workflow_dirty, client_query_workflow_body);

fn client_query_workflow_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let client: ResourceArc<ClientResource> = args[0].decode()?;
    let reply_to: LocalPid = args[2].decode()?;
    let decoded = decode_named(args[1], "the query", "arguments");
    let ((workflow_id, run_id), name, arguments) = match decoded {
        Ok(decoded) => decoded,
        Err(message) => return Ok(error_message(env, &message)),
    };
    let form = client.payload_form;
    let client = client.client.clone();
    Ok(crate::nif::pending_call::reply_later(
        env,
        reply_to,
        args[3],
        async move {
            client
                .query_workflow(&workflow_id, &run_id, name, arguments)
                .await
        },
        move |env, answered| match answered {
            Ok(answer) => result_term(env, answer.as_ref(), form),
            Err(error) => error_term(env, &error),
        },
    ))
}

/// `request`: `%{workflow_id, run_id, update_id, until_accepted}` and, to send the update
/// (rather than wait on one sent before), `name` and `args`. Answers `:accepted` (with
/// `until_accepted`, once the workflow accepted it), `{:ok, value}` once it completed, or
/// `{:error, {:failed, %Hourglass.ApplicationError{}}}` when it was rejected or failed.
#[rustler::nif]
fn client_update_workflow<'a>(
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
        c"client_update_workflow",
        client_update_workflow_dirty,
        client_update_workflow_body,
    )
}

dirty_nif!(client_update_workflow_dirty, client_update_workflow_body);

fn decode_update(request: Term) -> Result<WorkflowUpdate, String> {
    let map = TermMap::new(request, "the update")?;
    let (workflow_id, run_id) = ids(request)?;
    let request = match map.optional_string("name")? {
        Some(name) => Some((
            name,
            terms_to_payloads(map.required("args")?).map_err(|error| format!("args: {error}"))?,
        )),
        None => None,
    };
    Ok(WorkflowUpdate {
        workflow_id,
        run_id,
        update_id: map.string("update_id")?,
        request,
        until_accepted: map.bool("until_accepted")?,
    })
}

fn client_update_workflow_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let client: ResourceArc<ClientResource> = args[0].decode()?;
    let reply_to: LocalPid = args[2].decode()?;
    let update = match decode_update(args[1]) {
        Ok(update) => update,
        Err(message) => return Ok(error_message(env, &message)),
    };
    if let Some((_, input)) = &update.request {
        if let Err(too_large) = client
            .payload_limit
            .check_payloads("the update's input", input)
        {
            return Ok(too_large_term(env, &too_large));
        }
    }
    let form = client.payload_form;
    let client = client.client.clone();
    Ok(crate::nif::pending_call::reply_later(
        env,
        reply_to,
        args[3],
        async move { client.update_workflow(update).await },
        move |env, updated| match updated {
            Ok(UpdateOutcome::Accepted) => atom(env, "accepted"),
            Ok(UpdateOutcome::Completed(value)) => result_term(env, value.as_ref(), form),
            Ok(UpdateOutcome::Failed(failure)) => make_tuple(
                env,
                &[atom(env, "error"), failure_term(env, &failure, form)],
            ),
            Err(error) => error_term(env, &error),
        },
    ))
}

/// `request`: `%{workflow_id, run_id}`. Answers `{:ok, history}`: the run's whole history,
/// protobuf-encoded (`temporal.api.history.v1.History`), as the replayer takes it.
#[rustler::nif]
fn client_fetch_history<'a>(
    env: Env<'a>,
    client: ResourceArc<ClientResource>,
    request: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let (workflow_id, run_id) = match ids(request) {
        Ok(ids) => ids,
        Err(message) => return error_message(env, &message),
    };
    let client = client.client.clone();
    crate::nif::pending_call::reply_later(
        env,
        reply_to,
        reference,
        async move {
            client
                .fetch_history(&workflow_id, &run_id)
                .await
                .map(|history| prost::Message::encode_to_vec(&history))
        },
        |env, fetched| match fetched {
            Ok(bytes) => {
                let mut binary = rustler::NewBinary::new(env, bytes.len());
                binary.as_mut_slice().copy_from_slice(&bytes);
                make_tuple(
                    env,
                    &[atom(env, "ok"), rustler::Binary::from(binary).encode(env)],
                )
            }
            Err(error) => error_term(env, &error),
        },
    )
}

/// `request`: `%{workflow_id, run_id, reason, request_id}`. Answers `:ok`.
#[rustler::nif]
fn client_cancel_workflow<'a>(
    env: Env<'a>,
    client: ResourceArc<ClientResource>,
    request: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let decoded = ids(request).and_then(|ids| {
        let map = TermMap::new(request, "the cancel request")?;
        Ok((
            ids,
            map.optional_string("reason")?.unwrap_or_default(),
            map.string("request_id")?,
        ))
    });
    let ((workflow_id, run_id), reason, request_id) = match decoded {
        Ok(decoded) => decoded,
        Err(message) => return error_message(env, &message),
    };
    let client = client.client.clone();
    crate::nif::pending_call::reply_later(
        env,
        reply_to,
        reference,
        async move {
            client
                .cancel_workflow(&workflow_id, &run_id, reason, request_id)
                .await
        },
        |env, cancelled| match cancelled {
            Ok(()) => atom(env, "ok"),
            Err(error) => error_term(env, &error),
        },
    )
}

/// `request`: `%{workflow_id, run_id, reason}`. Answers `:ok`.
#[rustler::nif]
fn client_terminate_workflow<'a>(
    env: Env<'a>,
    client: ResourceArc<ClientResource>,
    request: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let decoded = ids(request).and_then(|ids| {
        let map = TermMap::new(request, "the terminate request")?;
        Ok((ids, map.optional_string("reason")?.unwrap_or_default()))
    });
    let ((workflow_id, run_id), reason) = match decoded {
        Ok(decoded) => decoded,
        Err(message) => return error_message(env, &message),
    };
    let client = client.client.clone();
    crate::nif::pending_call::reply_later(
        env,
        reply_to,
        reference,
        async move {
            client
                .terminate_workflow(&workflow_id, &run_id, reason)
                .await
        },
        |env, terminated| match terminated {
            Ok(()) => atom(env, "ok"),
            Err(error) => error_term(env, &error),
        },
    )
}

/// `request`: `%{workflow_id, run_id}`. Answers `{:ok, %{workflow_id, run_id, workflow_type,
/// status, task_queue, history_length, start_time, close_time, memo, search_attributes}}`
/// (memo values in the client's payload form, for its codec), times in Unix microseconds
/// (or nil) and `status` one of `:running`, `:completed`, `:failed`, `:cancelled`,
/// `:terminated`, `:continued_as_new`, `:timed_out`, `:paused`, `:unspecified`.
#[rustler::nif]
fn client_describe_workflow<'a>(
    env: Env<'a>,
    client: ResourceArc<ClientResource>,
    request: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let (workflow_id, run_id) = match ids(request) {
        Ok(ids) => ids,
        Err(message) => return error_message(env, &message),
    };
    let form = client.payload_form;
    let client = client.client.clone();
    crate::nif::pending_call::reply_later(
        env,
        reply_to,
        reference,
        async move { client.describe_workflow(&workflow_id, &run_id).await },
        move |env, described| match described {
            Ok(info) => make_tuple(
                env,
                &[atom(env, "ok"), workflow_info_term(env, &info, form)],
            ),
            Err(error) => error_term(env, &error),
        },
    )
}

/// Names to values; a value that cannot be decoded is `{:undecodable, message}`.
fn named_values_term<'a>(
    env: Env<'a>,
    named: Option<&HashMap<String, Payload>>,
    form: Form,
) -> Term<'a> {
    let (names, values): (Vec<Term>, Vec<Term>) = named
        .into_iter()
        .flatten()
        .map(|(name, payload)| {
            let value = payload_term(env, payload, form).unwrap_or_else(|message| {
                make_tuple(env, &[atom(env, "undecodable"), str_to_term(env, &message)])
            });
            (str_to_term(env, name), value)
        })
        .unzip();
    Term::map_from_term_arrays(env, &names, &values).expect("distinct names")
}

fn workflow_info_term<'a>(env: Env<'a>, info: &WorkflowExecutionInfo, form: Form) -> Term<'a> {
    let status = match info.status() {
        WorkflowExecutionStatus::Running => "running",
        WorkflowExecutionStatus::Completed => "completed",
        WorkflowExecutionStatus::Failed => "failed",
        WorkflowExecutionStatus::Canceled => "cancelled",
        WorkflowExecutionStatus::Terminated => "terminated",
        WorkflowExecutionStatus::ContinuedAsNew => "continued_as_new",
        WorkflowExecutionStatus::TimedOut => "timed_out",
        WorkflowExecutionStatus::Paused => "paused",
        WorkflowExecutionStatus::Unspecified => "unspecified",
    };
    let execution = info.execution.clone().unwrap_or_default();
    map(
        env,
        &[
            ("workflow_id", str_to_term(env, &execution.workflow_id)),
            ("run_id", str_to_term(env, &execution.run_id)),
            (
                "workflow_type",
                str_to_term(
                    env,
                    info.r#type
                        .as_ref()
                        .map(|kind| kind.name.as_str())
                        .unwrap_or(""),
                ),
            ),
            ("status", atom(env, status)),
            ("task_queue", str_to_term(env, &info.task_queue)),
            ("history_length", info.history_length.encode(env)),
            ("start_time", micros(env, &info.start_time)),
            ("close_time", micros(env, &info.close_time)),
            (
                "memo",
                named_values_term(env, info.memo.as_ref().map(|memo| &memo.fields), form),
            ),
            // Search attributes are never encoded by a codec.
            (
                "search_attributes",
                named_values_term(
                    env,
                    info.search_attributes
                        .as_ref()
                        .map(|attributes| &attributes.indexed_fields),
                    Form::Value,
                ),
            ),
        ],
    )
}
