//! The error an Elixir workflow fails with, as its `FailWorkflowExecution` failure: an
//! `Hourglass.ApplicationError` as it is; an `Hourglass.ActivityError` or an
//! `Hourglass.ChildWorkflowError` as the chain of failures the server gave the run (see
//! [`crate::temporal::cause_chain`]).

use crate::nif::core_completion::decode_failure;
use crate::nif::payload_term::term_to_payload;
use crate::nif::term_map::TermMap;
use crate::temporal::cause_chain::{
    activity_failure, child_workflow_failure, retry_state_from_name, timeout_type_from_name, Cause,
};
use rustler::types::tuple::get_tuple;
use rustler::Term;
use temporalio_common::protos::temporal::api::common::v1::{
    ActivityType, WorkflowExecution, WorkflowType,
};
use temporalio_common::protos::temporal::api::enums::v1::RetryState;
use temporalio_common::protos::temporal::api::failure::v1::{
    ActivityFailureInfo, ChildWorkflowExecutionFailureInfo, Failure,
};

/// The failure for a `{:fail_workflow, error}` command.
pub fn decode_workflow_failure(error: Term) -> Result<Failure, String> {
    let map = TermMap::new(error, "the failure")?;
    match map.optional_atom("__struct__")?.as_deref() {
        Some("Elixir.Hourglass.ActivityError") => Ok(activity_failure(
            ActivityFailureInfo {
                activity_type: Some(ActivityType {
                    name: map.optional_string("activity_type")?.unwrap_or_default(),
                }),
                activity_id: map.optional_string("activity_id")?.unwrap_or_default(),
                scheduled_event_id: event_id(&map, "scheduled_event_id")?,
                started_event_id: event_id(&map, "started_event_id")?,
                identity: map.optional_string("identity")?.unwrap_or_default(),
                retry_state: retry_state(&map)?.into(),
            },
            decode_cause(map.required("cause")?)?,
        )),
        Some("Elixir.Hourglass.ChildWorkflowError") => Ok(child_workflow_failure(
            ChildWorkflowExecutionFailureInfo {
                namespace: map.optional_string("namespace")?.unwrap_or_default(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: map.optional_string("workflow_id")?.unwrap_or_default(),
                    run_id: map.optional_string("run_id")?.unwrap_or_default(),
                }),
                workflow_type: Some(WorkflowType {
                    name: map.optional_string("workflow_type")?.unwrap_or_default(),
                }),
                initiated_event_id: event_id(&map, "initiated_event_id")?,
                started_event_id: event_id(&map, "started_event_id")?,
                retry_state: retry_state(&map)?.into(),
            },
            decode_cause(map.required("cause")?)?,
        )),
        _ => Ok(decode_failure(error)?.into_proto()),
    }
}

fn event_id(map: &TermMap, key: &str) -> Result<i64, String> {
    Ok(map.optional_u64(key)?.unwrap_or(0) as i64)
}

fn retry_state(map: &TermMap) -> Result<RetryState, String> {
    match map.optional_atom("retry_state")? {
        None => Ok(RetryState::Unspecified),
        Some(name) => {
            retry_state_from_name(&name).ok_or_else(|| format!("unknown :retry_state :{name}"))
        }
    }
}

/// `{:failed, error}` (any error [`decode_workflow_failure`] takes), `{:timed_out, type}`,
/// `{:cancelled, details}` or `{:terminated, reason}`.
fn decode_cause(cause: Term) -> Result<Cause, String> {
    let shape_error = || {
        "the cause must be {:failed, error}, {:timed_out, type}, {:cancelled, details} or \
         {:terminated, reason}"
            .to_string()
    };
    let [tag, value] = get_tuple(cause).map_err(|_| shape_error())?[..] else {
        return Err(shape_error());
    };
    match tag.atom_to_string().map_err(|_| shape_error())?.as_str() {
        "failed" => Ok(Cause::Failed(Box::new(decode_workflow_failure(value)?))),
        "timed_out" => {
            let name = value.atom_to_string().map_err(|_| shape_error())?;
            timeout_type_from_name(&name)
                .map(Cause::TimedOut)
                .ok_or_else(shape_error)
        }
        "cancelled" => Ok(Cause::Cancelled(
            match value.atom_to_string().ok().as_deref() {
                Some("nil") => None,
                _ => Some(term_to_payload(value).map_err(|error| format!("details: {error}"))?),
            },
        )),
        "terminated" => {
            Ok(Cause::Terminated(value.decode::<String>().map_err(
                |_| "the termination reason must be a string".to_string(),
            )?))
        }
        _ => Err(shape_error()),
    }
}
