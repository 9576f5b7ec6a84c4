//! Core's workflow activations as the messages `Hourglass.Worker` receives:
//! `{:"$hourglass_activation", activation, token}` where `token` (an integer) is the one its
//! answer names (see [`crate::temporal::open_activations`]) and `activation` is
//! `%{run_id, timestamp, is_replaying, history_length, continue_as_new_suggested, jobs,
//! available_internal_flags}` (`timestamp` a `DateTime` in UTC, or nil: see
//! [`crate::nif::datetime_term`]; `available_internal_flags` the SDK flags the history recorded
//! so far, integers) and each job one of:
//!
//! - `{:initialize, %{workflow_type, workflow_id, arguments, randomness_seed, attempt,
//!   first_execution_run_id, continued_from_execution_run_id, identity, start_time, parent,
//!   memo, search_attributes, cron_schedule, execution_timeout, run_timeout, task_timeout}}`
//!   (`start_time` a `DateTime` or nil; `parent` nil or `%{namespace, workflow_id, run_id}`;
//!   `memo` and `search_attributes` maps of names to values, memo values in the payload form;
//!   timeouts in milliseconds or nil)
//! - `{:fire_timer, seq}`
//! - `{:resolve_activity, seq, {:completed, value} | {:failed, failure} | {:cancelled, failure}
//!   | {:backoff, %{attempt, backoff, original_schedule_time}}}` (backoff: a local activity to
//!   schedule again after `backoff` milliseconds, with that attempt and schedule time)
//!   where `failure` is the activity failure's cause, in the shapes the client answers with:
//!   `{:failed, %Hourglass.ApplicationError{}}`, `{:timed_out, type}`, `{:cancelled, details}`
//! - `{:resolve_child_start, seq, {:started, run_id} | {:failed, cause} | {:cancelled, failure}}`
//!   with `cause` an atom (`:already_exists`, `:namespace_not_found`, …)
//! - `{:resolve_child, seq, {:completed, value} | {:failed, failure} | {:cancelled, failure}}`
//!   (`failure`: the child's failure, in the shapes above)
//! - `{:resolve_signal_external, seq, nil | failure}`, `{:resolve_cancel_external, seq, nil |
//!   failure}`
//! - `{:signal, name, arguments}`, `{:query, query_id, query_type, arguments}`
//! - `{:update, %{id, protocol_instance_id, name, arguments, run_validator}}`
//!
//!   (a signal's, query's or update's `arguments` are `{:undecodable, message}` when the
//!   client's payloads cannot be decoded)
//! - `{:cancel, reason}`, `{:update_random_seed, seed}`, `{:notify_has_patch, patch_id}`
//! - `{:remove_from_cache, reason, message}` (reason an atom: `:cache_full`, `:nondeterminism`, …)
//! - `{:unsupported, job_name}` for jobs Hourglass does not run yet (Nexus), which the run fails
//!   with a clear message.
//!
//! An activation whose values or failure details hold a map too large to be made on a tokio
//! thread (erlang/otp#8208) arrives deferred, as activity tasks do (see
//! [`crate::nif::deferred_term`]).

use crate::nif::activity_task_term::optional_str;
use crate::nif::atoms::named as atom;
use crate::nif::chained_error_term::server_fields;
use crate::nif::client_nif::{failure_term, micros, nil};
use crate::nif::datetime_term::timestamp_datetime;
use crate::nif::deferred_term::{build_or_defer, SMALL_MAP_LIMIT};
use crate::nif::payload_term::{DecodedPayload, Form};
use crate::nif::value::str_to_term;
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, Term};
use temporalio_common::protos::coresdk::activity_result::activity_resolution::Status;
use temporalio_common::protos::coresdk::child_workflow::{
    child_workflow_result::Status as ChildStatus, StartChildWorkflowExecutionFailedCause,
};
use temporalio_common::protos::coresdk::workflow_activation::resolve_child_workflow_execution_start::Status as StartStatus;
use temporalio_common::protos::coresdk::workflow_activation::remove_from_cache::EvictionReason;
use temporalio_common::protos::coresdk::workflow_activation::workflow_activation_job::Variant;
use temporalio_common::protos::coresdk::workflow_activation::{
    InitializeWorkflow, WorkflowActivation,
};
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::failure::v1::Failure;

/// An activation whose payloads are decoded, before any term is made.
pub struct DecodedActivation {
    activation: WorkflowActivation,
    form: Form,
    /// Per job, its payloads decoded (arguments, inputs or an activity's result), or why a
    /// client's input (a signal's, an update's, a query's) cannot be.
    payloads: Vec<JobPayloads>,
    /// The memo and the search attributes of an InitializeWorkflow job, decoded.
    memo: Named,
    search_attributes: Named,
}

/// A job's payloads decoded, or why the input a client sent cannot be.
type JobPayloads = Result<Vec<DecodedPayload>, String>;

/// Names and their decoded values.
type Named = Vec<(String, DecodedPayload)>;

fn decode_named<'p>(
    named: impl Iterator<Item = (&'p String, &'p Payload)>,
    form: Form,
    what: &str,
) -> Result<Named, String> {
    named
        .map(|(name, payload)| {
            DecodedPayload::decode(payload, form)
                .map(|decoded| (name.clone(), decoded))
                .map_err(|error| format!("{what} {name:?}: {error}"))
        })
        .collect()
}

impl DecodedActivation {
    /// Decodes every payload the activation's jobs carry, or says which cannot be decoded.
    pub fn decode(activation: WorkflowActivation, form: Form) -> Result<Self, String> {
        let payloads = activation
            .jobs
            .iter()
            .map(|job| match &job.variant {
                Some(Variant::InitializeWorkflow(init)) => {
                    DecodedPayload::decode_all(&init.arguments, form)
                        .map(Ok)
                        .map_err(|error| format!("the workflow's input: {error}"))
                }
                // What a client sent: one that cannot be decoded is the run's to refuse (a
                // signal dropped, an update rejected, a query answered with an error), never a
                // failed activation, which the history would repeat on every replay.
                Some(Variant::SignalWorkflow(signal)) => Ok(DecodedPayload::decode_all(
                    &signal.input,
                    form,
                )
                .map_err(|error| format!("the input of signal {:?}: {error}", signal.signal_name))),
                Some(Variant::DoUpdate(update)) => {
                    Ok(DecodedPayload::decode_all(&update.input, form)
                        .map_err(|error| format!("the input of update {:?}: {error}", update.name)))
                }
                Some(Variant::QueryWorkflow(query)) => {
                    Ok(
                        DecodedPayload::decode_all(&query.arguments, form).map_err(|error| {
                            format!("the arguments of query {:?}: {error}", query.query_type)
                        }),
                    )
                }
                Some(Variant::ResolveChildWorkflowExecution(resolve)) => match resolve
                    .result
                    .as_ref()
                    .and_then(|result| result.status.as_ref())
                {
                    Some(ChildStatus::Completed(success)) => match &success.result {
                        Some(payload) => DecodedPayload::decode(payload, form)
                            .map(|decoded| Ok(vec![decoded]))
                            .map_err(|error| format!("the result of a child workflow: {error}")),
                        None => Ok(Ok(Vec::new())),
                    },
                    _ => Ok(Ok(Vec::new())),
                },
                Some(Variant::ResolveActivity(resolve)) => match resolve
                    .result
                    .as_ref()
                    .and_then(|result| result.status.as_ref())
                {
                    Some(Status::Completed(success)) => match &success.result {
                        Some(payload) => DecodedPayload::decode(payload, form)
                            .map(|decoded| Ok(vec![decoded]))
                            .map_err(|error| format!("the result of an activity: {error}")),
                        None => Ok(Ok(Vec::new())),
                    },
                    _ => Ok(Ok(Vec::new())),
                },
                _ => Ok(Ok(Vec::new())),
            })
            .collect::<Result<Vec<_>, String>>()?;
        let init = activation.jobs.iter().find_map(|job| match &job.variant {
            Some(Variant::InitializeWorkflow(init)) => Some(init),
            _ => None,
        });
        let memo = match init.and_then(|init| init.memo.as_ref()) {
            Some(memo) => decode_named(memo.fields.iter(), form, "the memo's")?,
            None => Vec::new(),
        };
        // Search attributes are never encoded by a codec: their values, always.
        let search_attributes = match init.and_then(|init| init.search_attributes.as_ref()) {
            Some(attributes) => decode_named(
                attributes.indexed_fields.iter(),
                Form::Value,
                "the search attribute",
            )?,
            None => Vec::new(),
        };
        Ok(DecodedActivation {
            activation,
            form,
            payloads,
            memo,
            search_attributes,
        })
    }

    /// Whether the message must be built by its receiver: a value holds a wide map, or a
    /// failure carries details (whose width is known only once they are decoded).
    fn must_defer(&self) -> bool {
        self.payloads
            .iter()
            .filter_map(|payloads| payloads.as_ref().ok())
            .flatten()
            .chain(self.memo.iter().map(|(_, value)| value))
            .chain(self.search_attributes.iter().map(|(_, value)| value))
            .any(DecodedPayload::has_wide_map)
            || self.memo.len() > SMALL_MAP_LIMIT
            || self.search_attributes.len() > SMALL_MAP_LIMIT
            || self
                .activation
                .jobs
                .iter()
                .any(|job| job_failure(job.variant.as_ref()).is_some_and(has_details))
    }
}

/// The failure a job resolves something with, if any.
fn job_failure(job: Option<&Variant>) -> Option<&Failure> {
    match job? {
        Variant::ResolveActivity(resolve) => match resolve.result.as_ref()?.status.as_ref()? {
            Status::Failed(failed) => failed.failure.as_ref(),
            Status::Cancelled(cancelled) => cancelled.failure.as_ref(),
            _ => None,
        },
        Variant::ResolveChildWorkflowExecution(resolve) => {
            match resolve.result.as_ref()?.status.as_ref()? {
                ChildStatus::Failed(failed) => failed.failure.as_ref(),
                ChildStatus::Cancelled(cancelled) => cancelled.failure.as_ref(),
                _ => None,
            }
        }
        Variant::ResolveChildWorkflowExecutionStart(resolve) => match resolve.status.as_ref()? {
            StartStatus::Cancelled(cancelled) => cancelled.failure.as_ref(),
            _ => None,
        },
        Variant::ResolveSignalExternalWorkflow(resolve) => resolve.failure.as_ref(),
        Variant::ResolveRequestCancelExternalWorkflow(resolve) => resolve.failure.as_ref(),
        _ => None,
    }
}

fn has_details(failure: &Failure) -> bool {
    let own = match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(info)) => info.details.is_some(),
        Some(FailureInfo::CanceledFailureInfo(info)) => info.details.is_some(),
        _ => false,
    };
    own || failure.cause.as_deref().is_some_and(has_details)
}

/// The activation message, deferred to the receiving process when it must be.
pub fn activation_message<'a>(env: Env<'a>, decoded: DecodedActivation, token: u64) -> Term<'a> {
    let activation = build_or_defer(env, decoded.must_defer(), move |env| {
        activation_term(env, &decoded)
    });
    make_tuple(
        env,
        &[
            atom(env, "$hourglass_activation"),
            activation,
            token.encode(env),
        ],
    )
}

/// A map with atom keys.
pub(crate) fn map<'a>(env: Env<'a>, pairs: &[(&str, Term<'a>)]) -> Term<'a> {
    let keys: Vec<Term> = pairs.iter().map(|(key, _)| atom(env, key)).collect();
    let values: Vec<Term> = pairs.iter().map(|(_, value)| *value).collect();
    Term::map_from_term_arrays(env, &keys, &values).expect("distinct keys")
}

/// A client's input as the run takes it: its values, or `{:undecodable, message}`.
fn input_term<'a>(env: Env<'a>, input: &JobPayloads) -> Term<'a> {
    match input {
        Ok(values) => values_term(env, values),
        Err(message) => make_tuple(env, &[atom(env, "undecodable"), str_to_term(env, message)]),
    }
}

fn values_term<'a>(env: Env<'a>, values: &[DecodedPayload]) -> Term<'a> {
    values
        .iter()
        .map(|value| value.to_term(env))
        .collect::<Vec<_>>()
        .encode(env)
}

fn activation_term<'a>(env: Env<'a>, decoded: &DecodedActivation) -> Term<'a> {
    let activation = &decoded.activation;
    let jobs: Vec<Term> = activation
        .jobs
        .iter()
        .zip(&decoded.payloads)
        .map(|(job, payloads)| job_term(env, job.variant.as_ref(), payloads, decoded))
        .collect();
    map(
        env,
        &[
            ("run_id", str_to_term(env, &activation.run_id)),
            ("timestamp", timestamp_datetime(env, &activation.timestamp)),
            ("is_replaying", activation.is_replaying.encode(env)),
            ("history_length", activation.history_length.encode(env)),
            (
                "continue_as_new_suggested",
                activation.continue_as_new_suggested.encode(env),
            ),
            ("jobs", jobs.encode(env)),
            (
                "available_internal_flags",
                activation.available_internal_flags.encode(env),
            ),
        ],
    )
}

fn named_term<'a>(env: Env<'a>, named: &Named) -> Term<'a> {
    let (names, values): (Vec<Term>, Vec<Term>) = named
        .iter()
        .map(|(name, value)| (str_to_term(env, name), value.to_term(env)))
        .unzip();
    Term::map_from_term_arrays(env, &names, &values).expect("distinct names")
}

fn millis<'a>(env: Env<'a>, duration: &Option<prost_wkt_types::Duration>) -> Term<'a> {
    match duration {
        Some(duration) => (duration.seconds * 1000 + i64::from(duration.nanos) / 1_000_000)
            .max(0)
            .encode(env),
        None => nil(env),
    }
}

fn initialize_term<'a>(
    env: Env<'a>,
    init: &InitializeWorkflow,
    arguments: &[DecodedPayload],
    decoded: &DecodedActivation,
) -> Term<'a> {
    let parent = match &init.parent_workflow_info {
        Some(parent) => map(
            env,
            &[
                ("namespace", str_to_term(env, &parent.namespace)),
                ("workflow_id", str_to_term(env, &parent.workflow_id)),
                ("run_id", str_to_term(env, &parent.run_id)),
            ],
        ),
        None => nil(env),
    };
    map(
        env,
        &[
            ("parent", parent),
            ("memo", named_term(env, &decoded.memo)),
            (
                "search_attributes",
                named_term(env, &decoded.search_attributes),
            ),
            ("cron_schedule", optional_str(env, &init.cron_schedule)),
            (
                "execution_timeout",
                millis(env, &init.workflow_execution_timeout),
            ),
            ("run_timeout", millis(env, &init.workflow_run_timeout)),
            ("task_timeout", millis(env, &init.workflow_task_timeout)),
            ("workflow_type", str_to_term(env, &init.workflow_type)),
            ("workflow_id", str_to_term(env, &init.workflow_id)),
            ("arguments", values_term(env, arguments)),
            ("randomness_seed", init.randomness_seed.encode(env)),
            ("attempt", init.attempt.encode(env)),
            (
                "first_execution_run_id",
                optional_str(env, &init.first_execution_run_id),
            ),
            (
                "continued_from_execution_run_id",
                optional_str(env, &init.continued_from_execution_run_id),
            ),
            ("identity", optional_str(env, &init.identity)),
            ("start_time", timestamp_datetime(env, &init.start_time)),
        ],
    )
}

fn job_term<'a>(
    env: Env<'a>,
    job: Option<&Variant>,
    input: &JobPayloads,
    decoded: &DecodedActivation,
) -> Term<'a> {
    let form = decoded.form;
    // Only a client's input may be undecodable (see DecodedActivation::decode).
    let payloads: &[DecodedPayload] = input.as_deref().unwrap_or(&[]);
    let tuple = |items: &[Term<'a>]| make_tuple(env, items);
    match job {
        Some(Variant::InitializeWorkflow(init)) => tuple(&[
            atom(env, "initialize"),
            initialize_term(env, init, payloads, decoded),
        ]),
        Some(Variant::FireTimer(fire)) => tuple(&[atom(env, "fire_timer"), fire.seq.encode(env)]),
        Some(Variant::ResolveActivity(resolve)) => {
            let status = resolve.result.as_ref().and_then(|r| r.status.as_ref());
            let outcome = match status {
                Some(Status::Completed(_)) => tuple(&[
                    atom(env, "completed"),
                    payloads
                        .first()
                        .map(|value| value.to_term(env))
                        .unwrap_or_else(|| nil(env)),
                ]),
                Some(Status::Failed(failed)) => tuple(&[
                    atom(env, "failed"),
                    cause_term(env, &failed.failure, form),
                    wrapper_term(env, &failed.failure),
                ]),
                Some(Status::Cancelled(cancelled)) => tuple(&[
                    atom(env, "cancelled"),
                    cause_term(env, &cancelled.failure, form),
                    wrapper_term(env, &cancelled.failure),
                ]),
                // A local activity to retry after a timer the run starts (past Core's local
                // retry threshold).
                Some(Status::Backoff(backoff)) => tuple(&[
                    atom(env, "backoff"),
                    map(
                        env,
                        &[
                            ("attempt", backoff.attempt.encode(env)),
                            ("backoff", millis(env, &backoff.backoff_duration)),
                            (
                                "original_schedule_time",
                                micros(env, &backoff.original_schedule_time),
                            ),
                        ],
                    ),
                ]),
                None => tuple(&[
                    atom(env, "failed"),
                    tuple(&[
                        atom(env, "unsupported"),
                        str_to_term(env, "an activity resolution without a result"),
                    ]),
                    map(env, &[]),
                ]),
            };
            tuple(&[
                atom(env, "resolve_activity"),
                resolve.seq.encode(env),
                outcome,
            ])
        }
        Some(Variant::ResolveChildWorkflowExecutionStart(resolve)) => {
            let outcome = match resolve.status.as_ref() {
                Some(StartStatus::Succeeded(started)) => {
                    tuple(&[atom(env, "started"), str_to_term(env, &started.run_id)])
                }
                Some(StartStatus::Failed(failed)) => tuple(&[
                    atom(env, "failed"),
                    atom(env, start_failure_cause(failed.cause())),
                ]),
                Some(StartStatus::Cancelled(cancelled)) => tuple(&[
                    atom(env, "cancelled"),
                    cause_term(env, &cancelled.failure, form),
                ]),
                None => tuple(&[atom(env, "failed"), atom(env, "unspecified")]),
            };
            tuple(&[
                atom(env, "resolve_child_start"),
                resolve.seq.encode(env),
                outcome,
            ])
        }
        Some(Variant::ResolveChildWorkflowExecution(resolve)) => {
            let outcome = match resolve.result.as_ref().and_then(|r| r.status.as_ref()) {
                Some(ChildStatus::Completed(_)) => tuple(&[
                    atom(env, "completed"),
                    payloads
                        .first()
                        .map(|value| value.to_term(env))
                        .unwrap_or_else(|| nil(env)),
                ]),
                Some(ChildStatus::Failed(failed)) => tuple(&[
                    atom(env, "failed"),
                    cause_term(env, &failed.failure, form),
                    wrapper_term(env, &failed.failure),
                ]),
                Some(ChildStatus::Cancelled(cancelled)) => tuple(&[
                    atom(env, "cancelled"),
                    cause_term(env, &cancelled.failure, form),
                    wrapper_term(env, &cancelled.failure),
                ]),
                None => tuple(&[
                    atom(env, "failed"),
                    cause_term(env, &None, form),
                    map(env, &[]),
                ]),
            };
            tuple(&[atom(env, "resolve_child"), resolve.seq.encode(env), outcome])
        }
        Some(Variant::ResolveSignalExternalWorkflow(resolve)) => tuple(&[
            atom(env, "resolve_signal_external"),
            resolve.seq.encode(env),
            optional_failure_term(env, &resolve.failure, form),
        ]),
        Some(Variant::ResolveRequestCancelExternalWorkflow(resolve)) => tuple(&[
            atom(env, "resolve_cancel_external"),
            resolve.seq.encode(env),
            optional_failure_term(env, &resolve.failure, form),
        ]),
        Some(Variant::SignalWorkflow(signal)) => tuple(&[
            atom(env, "signal"),
            str_to_term(env, &signal.signal_name),
            input_term(env, input),
        ]),
        Some(Variant::QueryWorkflow(query)) => tuple(&[
            atom(env, "query"),
            str_to_term(env, &query.query_id),
            str_to_term(env, &query.query_type),
            input_term(env, input),
        ]),
        Some(Variant::DoUpdate(update)) => tuple(&[
            atom(env, "update"),
            map(
                env,
                &[
                    ("id", str_to_term(env, &update.id)),
                    (
                        "protocol_instance_id",
                        str_to_term(env, &update.protocol_instance_id),
                    ),
                    ("name", str_to_term(env, &update.name)),
                    ("arguments", input_term(env, input)),
                    ("run_validator", update.run_validator.encode(env)),
                ],
            ),
        ]),
        Some(Variant::CancelWorkflow(cancel)) => {
            tuple(&[atom(env, "cancel"), str_to_term(env, &cancel.reason)])
        }
        Some(Variant::UpdateRandomSeed(update)) => tuple(&[
            atom(env, "update_random_seed"),
            update.randomness_seed.encode(env),
        ]),
        Some(Variant::NotifyHasPatch(patch)) => tuple(&[
            atom(env, "notify_has_patch"),
            str_to_term(env, &patch.patch_id),
        ]),
        Some(Variant::RemoveFromCache(remove)) => tuple(&[
            atom(env, "remove_from_cache"),
            atom(env, eviction_reason(remove.reason())),
            str_to_term(env, &remove.message),
        ]),
        Some(other) => tuple(&[atom(env, "unsupported"), atom(env, unsupported_name(other))]),
        None => tuple(&[atom(env, "unsupported"), atom(env, "empty_job")]),
    }
}

/// nil, or the failure's term.
fn optional_failure_term<'a>(env: Env<'a>, failure: &Option<Failure>, form: Form) -> Term<'a> {
    match failure {
        Some(failure) => failure_term(env, failure, form),
        None => nil(env),
    }
}

/// The cause of an activity's or a child workflow's failure (Core wraps it in an
/// `ActivityFailureInfo` or a `ChildWorkflowExecutionFailureInfo`).
fn cause_term<'a>(env: Env<'a>, failure: &Option<Failure>, form: Form) -> Term<'a> {
    match failure {
        Some(failure) => match (&failure.failure_info, failure.cause.as_deref()) {
            (
                Some(
                    FailureInfo::ActivityFailureInfo(_)
                    | FailureInfo::ChildWorkflowExecutionFailureInfo(_),
                ),
                Some(cause),
            ) => failure_term(env, cause, form),
            _ => failure_term(env, failure, form),
        },
        None => make_tuple(
            env,
            &[
                atom(env, "unsupported"),
                str_to_term(env, "a failure without details"),
            ],
        ),
    }
}

/// What the failure wrapping an activity's or a child workflow's cause says of it: fields of
/// `Hourglass.ActivityError` or `Hourglass.ChildWorkflowError`.
fn wrapper_term<'a>(env: Env<'a>, failure: &Option<Failure>) -> Term<'a> {
    let fields = failure
        .as_ref()
        .map(|failure| server_fields(env, failure))
        .unwrap_or_default();
    map(env, &fields)
}

fn eviction_reason(reason: EvictionReason) -> &'static str {
    match reason {
        EvictionReason::Unspecified => "unspecified",
        EvictionReason::CacheFull => "cache_full",
        EvictionReason::CacheMiss => "cache_miss",
        EvictionReason::Nondeterminism => "nondeterminism",
        EvictionReason::LangFail => "lang_fail",
        EvictionReason::LangRequested => "lang_requested",
        EvictionReason::TaskNotFound => "task_not_found",
        EvictionReason::UnhandledCommand => "unhandled_command",
        EvictionReason::Fatal => "fatal",
        EvictionReason::PaginationOrHistoryFetch => "pagination_or_history_fetch",
        EvictionReason::WorkflowExecutionEnding => "workflow_execution_ending",
    }
}

fn start_failure_cause(cause: StartChildWorkflowExecutionFailedCause) -> &'static str {
    match cause {
        StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists => "already_exists",
        StartChildWorkflowExecutionFailedCause::NamespaceNotFound => "namespace_not_found",
        StartChildWorkflowExecutionFailedCause::InvalidVersioningOverride => {
            "invalid_versioning_override"
        }
        StartChildWorkflowExecutionFailedCause::Unspecified => "unspecified",
    }
}

fn unsupported_name(job: &Variant) -> &'static str {
    match job {
        Variant::ResolveNexusOperationStart(_) | Variant::ResolveNexusOperation(_) => "nexus",
        _ => "unknown",
    }
}
