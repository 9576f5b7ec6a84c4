//! Failures that wrap a cause — an activity's (`ActivityFailureInfo`) or a child workflow's
//! (`ChildWorkflowExecutionFailureInfo`) — as `%Hourglass.ActivityError{}` and
//! `%Hourglass.ChildWorkflowError{}`, with what the server said of the activity or the child.
//! The way back is [`crate::nif::workflow_failure_term`].

use crate::nif::activity_task_term::optional_str;
use crate::nif::atoms::named as atom;
use crate::nif::client_nif::failure_term;
use crate::nif::payload_term::Form;
use crate::nif::value::str_to_term;
use crate::nif::workflow_activation_term::map;
use crate::temporal::cause_chain::retry_state_name;
use rustler::{Encoder, Env, Term};
use temporalio_common::protos::temporal::api::failure::v1::{failure::FailureInfo, Failure};

/// The fields of the error struct that the wrapping failure gives (ids, events, retry state),
/// none when `failure` wraps nothing.
pub fn server_fields<'a>(env: Env<'a>, failure: &Failure) -> Vec<(&'static str, Term<'a>)> {
    let retry_state = |state| atom(env, &retry_state_name(state));
    match &failure.failure_info {
        Some(FailureInfo::ActivityFailureInfo(info)) => vec![
            ("activity_id", str_to_term(env, &info.activity_id)),
            ("scheduled_event_id", info.scheduled_event_id.encode(env)),
            ("started_event_id", info.started_event_id.encode(env)),
            ("identity", str_to_term(env, &info.identity)),
            ("retry_state", retry_state(info.retry_state())),
        ],
        Some(FailureInfo::ChildWorkflowExecutionFailureInfo(info)) => {
            let execution = info.workflow_execution.clone().unwrap_or_default();
            vec![
                ("namespace", str_to_term(env, &info.namespace)),
                ("run_id", optional_str(env, &execution.run_id)),
                ("initiated_event_id", info.initiated_event_id.encode(env)),
                ("started_event_id", info.started_event_id.encode(env)),
                ("retry_state", retry_state(info.retry_state())),
            ]
        }
        _ => Vec::new(),
    }
}

/// The whole error struct, its cause included, when `failure` wraps an activity's or a child
/// workflow's end.
pub fn chained_error_term<'a>(env: Env<'a>, failure: &Failure, form: Form) -> Option<Term<'a>> {
    let (module, mut fields) = match &failure.failure_info {
        Some(FailureInfo::ActivityFailureInfo(info)) => (
            "Elixir.Hourglass.ActivityError",
            vec![(
                "activity_type",
                optional_str(env, info.activity_type.as_ref().map_or("", |t| &t.name)),
            )],
        ),
        Some(FailureInfo::ChildWorkflowExecutionFailureInfo(info)) => (
            "Elixir.Hourglass.ChildWorkflowError",
            vec![
                (
                    "workflow_type",
                    optional_str(env, info.workflow_type.as_ref().map_or("", |t| &t.name)),
                ),
                (
                    "workflow_id",
                    optional_str(
                        env,
                        info.workflow_execution
                            .as_ref()
                            .map_or("", |execution| &execution.workflow_id),
                    ),
                ),
            ],
        ),
        _ => return None,
    };
    let cause = failure.cause.as_deref()?;
    fields.push(("__struct__", atom(env, module)));
    fields.push(("__exception__", true.encode(env)));
    fields.push(("cause", failure_term(env, cause, form)));
    fields.extend(server_fields(env, failure));
    Some(map(env, &fields))
}
