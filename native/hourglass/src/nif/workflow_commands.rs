//! A workflow run's answer to an activation, as Core's `WorkflowActivationCompletion`.
//!
//! `{:ok, commands, used_flags}` completes the activation with the commands the run produced,
//! in order, and the SDK flags (small integers) its behaviour depended on that the history
//! does not record yet (`{:ok, commands}`: none); `{:failed, message}` fails the workflow task (Core evicts the run and the server retries the
//! task, so a fix can be deployed). Commands:
//!
//! - `{:start_timer, seq, milliseconds}`, `{:cancel_timer, seq}`
//! - `{:schedule_activity, seq, options}` with `options` a map of `:activity_id`,
//!   `:activity_type`, `:task_queue`, `:arguments` (values), the timeouts in milliseconds
//!   (`:schedule_to_close_timeout`, `:schedule_to_start_timeout`, `:start_to_close_timeout`,
//!   `:heartbeat_timeout`, each optional), `:retry_policy` (optional) and `:cancellation_type`
//!   (`:try_cancel`, `:wait_cancellation_completed` or `:abandon`)
//! - `{:request_cancel_activity, seq}`
//! - `{:schedule_local_activity, seq, options}`: the options of `:schedule_activity` but
//!   `:task_queue` and `:heartbeat_timeout`, and `:attempt`, `:original_schedule_time` (Unix
//!   microseconds, or nil) and `:local_retry_threshold` (milliseconds, optional)
//! - `{:request_cancel_local_activity, seq}`
//! - `{:respond_to_query, query_id, {:ok, value} | {:error, message}}`
//! - `{:complete_workflow, value}`, `:cancel_workflow`, `{:fail_workflow, error}` with an
//!   `%Hourglass.ApplicationError{}`, `%Hourglass.ActivityError{}` or
//!   `%Hourglass.ChildWorkflowError{}` (see [`crate::nif::workflow_failure_term`])
//! - `{:continue_as_new, options}` with `options` a map of `:workflow_type`, `:task_queue`,
//!   `:arguments` (values) and optionally `:run_timeout` and `:task_timeout` (milliseconds),
//!   `:memo`, `:search_attributes` (maps of names to values) and `:retry_policy`
//! - `{:set_patch_marker, patch_id, deprecated}`
//! - `{:start_child_workflow, seq, options}` with `options` a map of `:workflow_id`,
//!   `:workflow_type`, `:task_queue`, `:namespace`, `:arguments` (values) and optionally
//!   `:execution_timeout`, `:run_timeout`, `:task_timeout` (milliseconds), `:retry_policy`,
//!   `:cron_schedule`, `:id_reuse_policy` (`:allow_duplicate`, `:allow_duplicate_failed_only`,
//!   `:reject_duplicate`), `:parent_close_policy` (`:terminate`, `:abandon`,
//!   `:request_cancel`) and `:cancellation_type` (`:abandon`, `:try_cancel`,
//!   `:wait_cancellation_completed`, `:wait_cancellation_requested`), `:memo` and
//!   `:search_attributes` (maps of names to values)
//! - `{:cancel_child_workflow, seq}`
//! - `{:signal_external, seq, target, name, arguments}` with `target` `{:child, workflow_id}` or
//!   `{:workflow, namespace, workflow_id, run_id}` (run id "" for the latest run)
//! - `{:cancel_external, seq, namespace, workflow_id, run_id}`
//! - `{:upsert_search_attributes, attributes}`, `{:upsert_memo, memo}` (maps of names to values)
//! - `{:update_response, protocol_instance_id, response}` with `response` `:accepted`,
//!   `{:rejected, %Hourglass.ApplicationError{}}` (a validator's refusal, or the handler's
//!   failure after acceptance) or `{:completed, value}`

use crate::nif::client_nif::{decode_id_reuse_policy, decode_retry_policy};
use crate::nif::core_completion::decode_failure;
use crate::nif::payload_term::{term_to_payload, terms_to_payloads};
use crate::nif::term_map::TermMap;
use crate::nif::workflow_client_nif::payload_map;
use crate::nif::workflow_failure_term::decode_workflow_failure;
use crate::temporal::payload_limit::PayloadLimit;
use rustler::Term;
use std::collections::HashMap;
use std::time::Duration;
use temporalio_common::protos::coresdk::child_workflow::{
    ChildWorkflowCancellationType, ParentClosePolicy,
};
use temporalio_common::protos::coresdk::common::NamespacedWorkflowExecution;
use temporalio_common::protos::coresdk::workflow_commands::{
    query_result, signal_external_workflow_execution, update_response, workflow_command,
    ActivityCancellationType, CancelChildWorkflowExecution, CancelTimer, CancelWorkflowExecution,
    CompleteWorkflowExecution, ContinueAsNewWorkflowExecution, FailWorkflowExecution, QueryResult,
    QuerySuccess, RequestCancelActivity, RequestCancelExternalWorkflowExecution, ScheduleActivity,
    SetPatchMarker, SignalExternalWorkflowExecution, StartChildWorkflowExecution, StartTimer,
    UpdateResponse, WorkflowCommand,
};
use temporalio_common::protos::coresdk::workflow_commands::{
    ModifyWorkflowProperties, RequestCancelLocalActivity, ScheduleLocalActivity,
    UpsertWorkflowSearchAttributes,
};
use temporalio_common::protos::coresdk::workflow_completion::{
    self, workflow_activation_completion, WorkflowActivationCompletion,
};
use temporalio_common::protos::temporal::api::common::v1::{
    Memo, Payload, RetryPolicy, SearchAttributes,
};
use temporalio_common::protos::temporal::api::failure::v1::Failure;

/// Decodes a run's answer for `run_id`. Errors for a malformed answer or a value that cannot
/// be sent (not encodable, or over the payload size limit): the caller fails the task instead.
pub fn decode_activation_completion(
    run_id: String,
    term: Term,
    limit: &PayloadLimit,
) -> Result<WorkflowActivationCompletion, String> {
    let (tag, body, used_internal_flags): (rustler::Atom, Term, Vec<u32>) = match term.decode() {
        Ok(with_flags) => with_flags,
        Err(_) => term
            .decode::<(rustler::Atom, Term)>()
            .map(|(tag, body)| (tag, body, Vec::new()))
            .map_err(|_| {
                "the answer must be {:ok, commands}, {:ok, commands, used_flags} or \
                 {:failed, message}"
                    .to_string()
            })?,
    };
    let status = match atom_name(tag, term).as_str() {
        "ok" => {
            let commands = body
                .decode::<Vec<Term>>()
                .map_err(|_| "the commands must be a list".to_string())?
                .into_iter()
                .map(|command| decode_command(command, limit))
                .collect::<Result<Vec<_>, String>>()?;
            workflow_activation_completion::Status::Successful(workflow_completion::Success {
                commands,
                used_internal_flags,
                ..Default::default()
            })
        }
        "failed" => {
            let message: String = body
                .decode()
                .map_err(|_| "the failure's message must be a string".to_string())?;
            workflow_activation_completion::Status::Failed(workflow_completion::Failure {
                failure: Some(Failure {
                    message,
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
        other => return Err(format!("unknown answer tag :{other}")),
    };
    Ok(WorkflowActivationCompletion {
        run_id,
        status: Some(status),
        ..Default::default()
    })
}

fn atom_name(atom: rustler::Atom, context: Term) -> String {
    atom.to_term(context.get_env())
        .atom_to_string()
        .unwrap_or_default()
}

fn seq(term: Term) -> Result<u32, String> {
    term.decode()
        .map_err(|_| "a command's sequence number must be a non-negative integer".to_string())
}

fn duration(milliseconds: u64) -> Option<prost_wkt_types::Duration> {
    Duration::from_millis(milliseconds).try_into().ok()
}

fn decode_command(term: Term, limit: &PayloadLimit) -> Result<WorkflowCommand, String> {
    let variant = if term.is_atom() {
        match term.atom_to_string().unwrap_or_default().as_str() {
            "cancel_workflow" => {
                workflow_command::Variant::CancelWorkflowExecution(CancelWorkflowExecution {
                    details: None,
                })
            }
            other => return Err(format!("unknown workflow command :{other}")),
        }
    } else {
        let items = rustler::types::tuple::get_tuple(term)
            .map_err(|_| "a workflow command must be a tuple or :cancel_workflow".to_string())?;
        let tag = items
            .first()
            .and_then(|tag| tag.atom_to_string().ok())
            .ok_or_else(|| "a workflow command starts with its name".to_string())?;
        match (tag.as_str(), &items[1..]) {
            ("start_timer", [number, milliseconds]) => {
                let milliseconds: u64 = milliseconds
                    .decode()
                    .map_err(|_| "a timer's duration must be milliseconds".to_string())?;
                workflow_command::Variant::StartTimer(StartTimer {
                    seq: seq(*number)?,
                    // The server refuses a timer of 0 (and would fail every retry of the task).
                    start_to_fire_timeout: duration(milliseconds.max(1)),
                })
            }
            ("cancel_timer", [number]) => {
                workflow_command::Variant::CancelTimer(CancelTimer { seq: seq(*number)? })
            }
            ("schedule_activity", [number, options]) => {
                workflow_command::Variant::ScheduleActivity(decode_schedule_activity(
                    seq(*number)?,
                    *options,
                    limit,
                )?)
            }
            ("schedule_local_activity", [number, options]) => {
                workflow_command::Variant::ScheduleLocalActivity(decode_schedule_local_activity(
                    seq(*number)?,
                    *options,
                    limit,
                )?)
            }
            ("request_cancel_local_activity", [number]) => {
                workflow_command::Variant::RequestCancelLocalActivity(RequestCancelLocalActivity {
                    seq: seq(*number)?,
                })
            }
            ("request_cancel_activity", [number]) => {
                workflow_command::Variant::RequestCancelActivity(RequestCancelActivity {
                    seq: seq(*number)?,
                })
            }
            ("respond_to_query", [query_id, answer]) => workflow_command::Variant::RespondToQuery(
                decode_query_answer(*query_id, *answer, limit)?,
            ),
            ("complete_workflow", [value]) => {
                let result = term_to_payload(*value)
                    .map_err(|error| format!("the workflow's result: {error}"))?;
                limit
                    .check_payload("the workflow's result", &result)
                    .map_err(|too_large| too_large.to_string())?;
                workflow_command::Variant::CompleteWorkflowExecution(CompleteWorkflowExecution {
                    result: Some(result),
                })
            }
            ("fail_workflow", [error]) => {
                let failure = decode_workflow_failure(*error)?;
                workflow_command::Variant::FailWorkflowExecution(FailWorkflowExecution {
                    failure: Some(limit.fit_failure(failure)),
                })
            }
            ("continue_as_new", [options]) => {
                workflow_command::Variant::ContinueAsNewWorkflowExecution(decode_continue_as_new(
                    *options, limit,
                )?)
            }
            ("set_patch_marker", [patch_id, deprecated]) => {
                workflow_command::Variant::SetPatchMarker(SetPatchMarker {
                    patch_id: patch_id
                        .decode()
                        .map_err(|_| "a patch id must be a string".to_string())?,
                    deprecated: deprecated
                        .decode()
                        .map_err(|_| "a patch's deprecated flag must be a boolean".to_string())?,
                })
            }
            ("start_child_workflow", [number, options]) => {
                workflow_command::Variant::StartChildWorkflowExecution(decode_start_child(
                    seq(*number)?,
                    *options,
                    limit,
                )?)
            }
            ("cancel_child_workflow", [number]) => {
                workflow_command::Variant::CancelChildWorkflowExecution(
                    CancelChildWorkflowExecution {
                        child_workflow_seq: seq(*number)?,
                        reason: String::new(),
                    },
                )
            }
            ("signal_external", [number, target, name, arguments]) => {
                let signal_name: String = name
                    .decode()
                    .map_err(|_| "a signal's name must be a string".to_string())?;
                let args = terms_to_payloads(*arguments)
                    .map_err(|error| format!("the arguments of signal {signal_name:?}: {error}"))?;
                limit
                    .check_payloads(&format!("the arguments of signal {signal_name:?}"), &args)
                    .map_err(|too_large| too_large.to_string())?;
                workflow_command::Variant::SignalExternalWorkflowExecution(
                    SignalExternalWorkflowExecution {
                        seq: seq(*number)?,
                        target: Some(decode_signal_target(*target)?),
                        signal_name,
                        args,
                        ..Default::default()
                    },
                )
            }
            ("cancel_external", [number, namespace, workflow_id, run_id]) => {
                workflow_command::Variant::RequestCancelExternalWorkflowExecution(
                    RequestCancelExternalWorkflowExecution {
                        seq: seq(*number)?,
                        workflow_execution: Some(namespaced(*namespace, *workflow_id, *run_id)?),
                        reason: String::new(),
                    },
                )
            }
            ("upsert_search_attributes", [attributes]) => {
                workflow_command::Variant::UpsertWorkflowSearchAttributes(
                    UpsertWorkflowSearchAttributes {
                        search_attributes: Some(SearchAttributes {
                            indexed_fields: payload_map(*attributes, "the search attributes")?,
                        }),
                    },
                )
            }
            ("upsert_memo", [memo]) => {
                let fields = payload_map(*memo, "the memo")?;
                limit
                    .check_payloads("the memo", &fields.values().cloned().collect::<Vec<_>>())
                    .map_err(|too_large| too_large.to_string())?;
                workflow_command::Variant::ModifyWorkflowProperties(ModifyWorkflowProperties {
                    upserted_memo: Some(Memo { fields }),
                })
            }
            ("update_response", [protocol_instance_id, response]) => {
                workflow_command::Variant::UpdateResponse(decode_update_response(
                    *protocol_instance_id,
                    *response,
                    limit,
                )?)
            }
            (other, _) => {
                return Err(format!(
                    "unknown workflow command {other:?} with {} arguments",
                    items.len() - 1
                ))
            }
        }
    };
    Ok(WorkflowCommand {
        variant: Some(variant),
        ..Default::default()
    })
}

/// What a scheduled activity and a local one have alike: type, arguments, timeouts, retry
/// policy and cancellation type.
struct ActivityCommon {
    activity_id: String,
    activity_type: String,
    arguments: Vec<temporalio_common::protos::temporal::api::common::v1::Payload>,
    schedule_to_close_timeout: Option<prost_wkt_types::Duration>,
    schedule_to_start_timeout: Option<prost_wkt_types::Duration>,
    start_to_close_timeout: Option<prost_wkt_types::Duration>,
    retry_policy: Option<temporalio_common::protos::temporal::api::common::v1::RetryPolicy>,
    cancellation_type: ActivityCancellationType,
}

fn decode_activity_common(map: &TermMap, limit: &PayloadLimit) -> Result<ActivityCommon, String> {
    let activity_type = map.string("activity_type")?;
    let arguments = terms_to_payloads(map.required("arguments")?)
        .map_err(|error| format!("the arguments of activity {activity_type:?}: {error}"))?;
    limit
        .check_payloads(
            &format!("the arguments of activity {activity_type:?}"),
            &arguments,
        )
        .map_err(|too_large| too_large.to_string())?;
    let timeout = |key: &str| -> Result<Option<prost_wkt_types::Duration>, String> {
        Ok(map.optional_u64(key)?.and_then(duration))
    };
    let cancellation_type = match map.get("cancellation_type") {
        None => ActivityCancellationType::TryCancel,
        Some(kind) => match kind.atom_to_string().unwrap_or_default().as_str() {
            "try_cancel" => ActivityCancellationType::TryCancel,
            "wait_cancellation_completed" => ActivityCancellationType::WaitCancellationCompleted,
            "abandon" => ActivityCancellationType::Abandon,
            other => return Err(format!("unknown :cancellation_type {other:?}")),
        },
    };
    Ok(ActivityCommon {
        activity_id: map.string("activity_id")?,
        activity_type,
        arguments,
        schedule_to_close_timeout: timeout("schedule_to_close_timeout")?,
        schedule_to_start_timeout: timeout("schedule_to_start_timeout")?,
        start_to_close_timeout: timeout("start_to_close_timeout")?,
        retry_policy: map
            .get("retry_policy")
            .filter(|policy| !policy.is_atom())
            .map(decode_retry_policy)
            .transpose()?,
        cancellation_type,
    })
}

fn decode_schedule_activity(
    seq: u32,
    options: Term,
    limit: &PayloadLimit,
) -> Result<ScheduleActivity, String> {
    let map = TermMap::new(options, "the activity's options")?;
    let common = decode_activity_common(&map, limit)?;
    Ok(ScheduleActivity {
        seq,
        activity_id: common.activity_id,
        activity_type: common.activity_type,
        task_queue: map.string("task_queue")?,
        arguments: common.arguments,
        schedule_to_close_timeout: common.schedule_to_close_timeout,
        schedule_to_start_timeout: common.schedule_to_start_timeout,
        start_to_close_timeout: common.start_to_close_timeout,
        heartbeat_timeout: map.optional_u64("heartbeat_timeout")?.and_then(duration),
        retry_policy: common.retry_policy,
        cancellation_type: common.cancellation_type as i32,
        ..Default::default()
    })
}

fn decode_schedule_local_activity(
    seq: u32,
    options: Term,
    limit: &PayloadLimit,
) -> Result<ScheduleLocalActivity, String> {
    let map = TermMap::new(options, "the local activity's options")?;
    let common = decode_activity_common(&map, limit)?;
    let original_schedule_time = match map.get("original_schedule_time") {
        None => None,
        Some(micros) => {
            let micros: i64 = micros
                .decode()
                .map_err(|_| ":original_schedule_time must be Unix microseconds".to_string())?;
            Some(prost_wkt_types::Timestamp {
                seconds: micros.div_euclid(1_000_000),
                nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
            })
        }
    };
    Ok(ScheduleLocalActivity {
        seq,
        activity_id: common.activity_id,
        activity_type: common.activity_type,
        attempt: map
            .optional_u64("attempt")?
            .map_or(1, |attempt| attempt.clamp(1, u64::from(u32::MAX)) as u32),
        original_schedule_time,
        arguments: common.arguments,
        schedule_to_close_timeout: common.schedule_to_close_timeout,
        schedule_to_start_timeout: common.schedule_to_start_timeout,
        start_to_close_timeout: common.start_to_close_timeout,
        retry_policy: common.retry_policy,
        local_retry_threshold: map
            .optional_u64("local_retry_threshold")?
            .and_then(duration),
        cancellation_type: common.cancellation_type as i32,
        ..Default::default()
    })
}

fn decode_continue_as_new(
    options: Term,
    limit: &PayloadLimit,
) -> Result<ContinueAsNewWorkflowExecution, String> {
    let map = TermMap::new(options, "the continue-as-new options")?;
    let arguments = terms_to_payloads(map.required("arguments")?)
        .map_err(|error| format!("the arguments of the next run: {error}"))?;
    limit
        .check_payloads("the arguments of the next run", &arguments)
        .map_err(|too_large| too_large.to_string())?;
    Ok(ContinueAsNewWorkflowExecution {
        workflow_type: map.string("workflow_type")?,
        task_queue: map.string("task_queue")?,
        arguments,
        workflow_run_timeout: map.optional_u64("run_timeout")?.and_then(duration),
        workflow_task_timeout: map.optional_u64("task_timeout")?.and_then(duration),
        // Absent: the next run keeps this run's.
        memo: optional_memo(&map, limit)?,
        search_attributes: optional_search_attributes(&map)?,
        retry_policy: optional_retry_policy(&map)?,
        ..Default::default()
    })
}

/// A workflow's memo to start with (names to values, encoded by the codec if any).
fn optional_memo(map: &TermMap, limit: &PayloadLimit) -> Result<HashMap<String, Payload>, String> {
    let Some(memo) = map.get("memo") else {
        return Ok(HashMap::new());
    };
    let fields = payload_map(memo, "the memo")?;
    limit
        .check_payloads("the memo", &fields.values().cloned().collect::<Vec<_>>())
        .map_err(|too_large| too_large.to_string())?;
    Ok(fields)
}

fn optional_search_attributes(map: &TermMap) -> Result<Option<SearchAttributes>, String> {
    map.get("search_attributes")
        .map(|attributes| {
            Ok(SearchAttributes {
                indexed_fields: payload_map(attributes, "the search attributes")?,
            })
        })
        .transpose()
}

fn optional_retry_policy(map: &TermMap) -> Result<Option<RetryPolicy>, String> {
    map.get("retry_policy")
        .filter(|policy| !policy.is_atom())
        .map(decode_retry_policy)
        .transpose()
}

fn decode_query_answer(
    query_id: Term,
    answer: Term,
    limit: &PayloadLimit,
) -> Result<QueryResult, String> {
    let query_id: String = query_id
        .decode()
        .map_err(|_| "a query id must be a string".to_string())?;
    let (tag, body): (rustler::Atom, Term) = answer
        .decode()
        .map_err(|_| "a query's answer must be {:ok, value} or {:error, message}".to_string())?;
    let variant = match atom_name(tag, answer).as_str() {
        // An answer over the limit would have the whole task completion refused.
        "ok" => match term_to_payload(body) {
            Ok(response) => match limit.check_payload("the query's answer", &response) {
                Ok(()) => query_result::Variant::Succeeded(QuerySuccess {
                    response: Some(response),
                }),
                Err(too_large) => query_result::Variant::Failed(Failure {
                    message: too_large.to_string(),
                    ..Default::default()
                }),
            },
            Err(error) => query_result::Variant::Failed(Failure {
                message: format!("the query's answer cannot be encoded: {error}"),
                ..Default::default()
            }),
        },
        "error" => query_result::Variant::Failed(Failure {
            message: body
                .decode::<String>()
                .map_err(|_| "a query's error must be a string".to_string())?,
            ..Default::default()
        }),
        other => return Err(format!("unknown query answer tag :{other}")),
    };
    Ok(QueryResult {
        query_id,
        variant: Some(variant),
    })
}

fn decode_update_response(
    protocol_instance_id: Term,
    response: Term,
    limit: &PayloadLimit,
) -> Result<UpdateResponse, String> {
    let protocol_instance_id: String = protocol_instance_id
        .decode()
        .map_err(|_| "an update's protocol instance id must be a string".to_string())?;
    let response = if response.is_atom() {
        match response.atom_to_string().unwrap_or_default().as_str() {
            "accepted" => update_response::Response::Accepted(()),
            other => return Err(format!("unknown update response :{other}")),
        }
    } else {
        let (tag, body): (rustler::Atom, Term) = response.decode().map_err(|_| {
            "an update's response must be :accepted, {:rejected, error} or {:completed, value}"
                .to_string()
        })?;
        match atom_name(tag, response).as_str() {
            "rejected" => update_response::Response::Rejected(
                limit.fit_failure(decode_failure(body)?.into_proto()),
            ),
            // A result that cannot be sent fails the update, not the whole task (which would
            // fail again on every retry).
            "completed" => match term_to_payload(body) {
                Ok(value) => match limit.check_payload("the update's result", &value) {
                    Ok(()) => update_response::Response::Completed(value),
                    Err(too_large) => update_response::Response::Rejected(Failure {
                        message: too_large.to_string(),
                        ..Default::default()
                    }),
                },
                Err(error) => update_response::Response::Rejected(Failure {
                    message: format!("the update's result cannot be encoded: {error}"),
                    ..Default::default()
                }),
            },
            other => return Err(format!("unknown update response tag :{other}")),
        }
    };
    Ok(UpdateResponse {
        protocol_instance_id,
        response: Some(response),
    })
}

fn string(term: Term, what: &str) -> Result<String, String> {
    term.decode()
        .map_err(|_| format!("{what} must be a string"))
}

fn namespaced(
    namespace: Term,
    workflow_id: Term,
    run_id: Term,
) -> Result<NamespacedWorkflowExecution, String> {
    Ok(NamespacedWorkflowExecution {
        namespace: string(namespace, "a namespace")?,
        workflow_id: string(workflow_id, "a workflow id")?,
        run_id: string(run_id, "a run id")?,
    })
}

fn decode_signal_target(
    target: Term,
) -> Result<signal_external_workflow_execution::Target, String> {
    let items = rustler::types::tuple::get_tuple(target).map_err(|_| {
        "a signal's target must be {:child, id} or {:workflow, ns, id, run}".to_string()
    })?;
    let tag = items
        .first()
        .and_then(|tag| tag.atom_to_string().ok())
        .unwrap_or_default();
    match (tag.as_str(), &items[1..]) {
        ("child", [workflow_id]) => {
            Ok(signal_external_workflow_execution::Target::ChildWorkflowId(
                string(*workflow_id, "a workflow id")?,
            ))
        }
        ("workflow", [namespace, workflow_id, run_id]) => Ok(
            signal_external_workflow_execution::Target::WorkflowExecution(namespaced(
                *namespace,
                *workflow_id,
                *run_id,
            )?),
        ),
        _ => Err("a signal's target must be {:child, id} or {:workflow, ns, id, run}".to_string()),
    }
}

fn decode_start_child(
    seq: u32,
    options: Term,
    limit: &PayloadLimit,
) -> Result<StartChildWorkflowExecution, String> {
    let map = TermMap::new(options, "the child workflow's options")?;
    let workflow_type = map.string("workflow_type")?;
    let input = terms_to_payloads(map.required("arguments")?)
        .map_err(|error| format!("the arguments of child workflow {workflow_type:?}: {error}"))?;
    limit
        .check_payloads(
            &format!("the arguments of child workflow {workflow_type:?}"),
            &input,
        )
        .map_err(|too_large| too_large.to_string())?;
    let parent_close_policy = match map.optional_atom("parent_close_policy")?.as_deref() {
        None | Some("terminate") => ParentClosePolicy::Terminate,
        Some("abandon") => ParentClosePolicy::Abandon,
        Some("request_cancel") => ParentClosePolicy::RequestCancel,
        Some(other) => return Err(format!("unknown :parent_close_policy :{other}")),
    };
    let cancellation_type = match map.optional_atom("cancellation_type")?.as_deref() {
        None | Some("wait_cancellation_completed") => {
            ChildWorkflowCancellationType::WaitCancellationCompleted
        }
        Some("abandon") => ChildWorkflowCancellationType::Abandon,
        Some("try_cancel") => ChildWorkflowCancellationType::TryCancel,
        Some("wait_cancellation_requested") => {
            ChildWorkflowCancellationType::WaitCancellationRequested
        }
        Some(other) => return Err(format!("unknown :cancellation_type :{other}")),
    };
    Ok(StartChildWorkflowExecution {
        seq,
        namespace: map.string("namespace")?,
        workflow_id: map.string("workflow_id")?,
        workflow_type,
        task_queue: map.string("task_queue")?,
        input,
        workflow_execution_timeout: map.optional_u64("execution_timeout")?.and_then(duration),
        workflow_run_timeout: map.optional_u64("run_timeout")?.and_then(duration),
        workflow_task_timeout: map.optional_u64("task_timeout")?.and_then(duration),
        parent_close_policy: parent_close_policy as i32,
        workflow_id_reuse_policy: decode_id_reuse_policy(&map)? as i32,
        retry_policy: optional_retry_policy(&map)?,
        cron_schedule: map.optional_string("cron_schedule")?.unwrap_or_default(),
        cancellation_type: cancellation_type as i32,
        memo: optional_memo(&map, limit)?,
        search_attributes: optional_search_attributes(&map)?,
        ..Default::default()
    })
}
