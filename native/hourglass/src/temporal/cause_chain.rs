//! Failures that wrap the cause of an activity's or a child workflow's end, as the server and
//! the other SDKs chain them: a workflow that fails with an activity's error fails with an
//! `ActivityFailureInfo` failure whose cause is the last attempt's failure, so that a Python or
//! Go client sees an `ActivityError` with its cause, not a flattened message.

use super::failure::FAILURE_SOURCE;
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};
use temporalio_common::protos::temporal::api::enums::v1::{RetryState, TimeoutType};
use temporalio_common::protos::temporal::api::failure::v1::{
    failure::FailureInfo, ActivityFailureInfo, CanceledFailureInfo,
    ChildWorkflowExecutionFailureInfo, Failure, TerminatedFailureInfo, TimeoutFailureInfo,
};

/// Why an activity or a child workflow did not complete.
#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    /// An application failure, or an activity's or child's failure with a cause of its own (a
    /// child workflow that failed with an activity's error).
    Failed(Box<Failure>),
    TimedOut(TimeoutType),
    Cancelled(Option<Payload>),
    Terminated(String),
}

impl Cause {
    fn verb(&self) -> &'static str {
        match self {
            Cause::Failed(_) => "failed",
            Cause::TimedOut(_) => "timed out",
            Cause::Cancelled(_) => "canceled",
            Cause::Terminated(_) => "terminated",
        }
    }

    fn into_proto(self) -> Failure {
        let (message, info) = match self {
            Cause::Failed(failure) => return *failure,
            Cause::TimedOut(timeout_type) => (
                format!(
                    "{} timeout",
                    snake_name(timeout_type.as_str_name(), "TIMEOUT_TYPE_")
                ),
                FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
                    timeout_type: timeout_type.into(),
                    last_heartbeat_details: None,
                }),
            ),
            Cause::Cancelled(details) => (
                "canceled".to_string(),
                FailureInfo::CanceledFailureInfo(CanceledFailureInfo {
                    details: details.map(|payload| Payloads {
                        payloads: vec![payload],
                    }),
                    ..Default::default()
                }),
            ),
            Cause::Terminated(reason) => (
                reason,
                FailureInfo::TerminatedFailureInfo(TerminatedFailureInfo::default()),
            ),
        };
        Failure {
            message,
            source: FAILURE_SOURCE.to_string(),
            failure_info: Some(info),
            ..Default::default()
        }
    }
}

/// An activity's failure, wrapping its cause, with what the server said of the activity.
pub fn activity_failure(info: ActivityFailureInfo, cause: Cause) -> Failure {
    wrap(
        format!("Activity task {}", cause.verb()),
        FailureInfo::ActivityFailureInfo(info),
        cause,
    )
}

/// A child workflow's failure, wrapping its cause, with what the server said of the child.
pub fn child_workflow_failure(info: ChildWorkflowExecutionFailureInfo, cause: Cause) -> Failure {
    wrap(
        format!("Child Workflow execution {}", cause.verb()),
        FailureInfo::ChildWorkflowExecutionFailureInfo(info),
        cause,
    )
}

fn wrap(message: String, info: FailureInfo, cause: Cause) -> Failure {
    Failure {
        message,
        source: FAILURE_SOURCE.to_string(),
        failure_info: Some(info),
        cause: Some(Box::new(cause.into_proto())),
        ..Default::default()
    }
}

/// `:maximum_attempts_reached` for `RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED`.
pub fn retry_state_name(state: RetryState) -> String {
    snake_name(state.as_str_name(), "RETRY_STATE_")
}

/// The retry state named by [`retry_state_name`].
pub fn retry_state_from_name(name: &str) -> Option<RetryState> {
    RetryState::from_str_name(&format!("RETRY_STATE_{}", name.to_ascii_uppercase()))
}

/// The timeout type named `start_to_close`, …
pub fn timeout_type_from_name(name: &str) -> Option<TimeoutType> {
    TimeoutType::from_str_name(&format!("TIMEOUT_TYPE_{}", name.to_ascii_uppercase()))
}

fn snake_name(proto_name: &str, prefix: &str) -> String {
    proto_name
        .strip_prefix(prefix)
        .unwrap_or(proto_name)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temporal::failure::ApplicationFailure;
    use temporalio_common::protos::temporal::api::common::v1::ActivityType;

    #[test]
    fn an_activity_failure_carries_its_cause() {
        let failure = activity_failure(
            ActivityFailureInfo {
                activity_id: "1".into(),
                activity_type: Some(ActivityType {
                    name: "charge".into(),
                }),
                scheduled_event_id: 5,
                started_event_id: 6,
                retry_state: RetryState::MaximumAttemptsReached.into(),
                ..Default::default()
            },
            Cause::Failed(Box::new(
                ApplicationFailure {
                    error_type: "CardDeclined".into(),
                    message: "attempt 5 failed".into(),
                    ..Default::default()
                }
                .into_proto(),
            )),
        );
        assert_eq!(failure.message, "Activity task failed");
        let Some(FailureInfo::ActivityFailureInfo(info)) = &failure.failure_info else {
            panic!("no activity failure info: {failure:?}")
        };
        assert_eq!(info.retry_state(), RetryState::MaximumAttemptsReached);
        let cause = failure.cause.expect("a cause");
        assert_eq!(cause.message, "attempt 5 failed");
        assert!(matches!(
            cause.failure_info,
            Some(FailureInfo::ApplicationFailureInfo(ref info)) if info.r#type == "CardDeclined"
        ));
    }

    #[test]
    fn every_cause_has_its_failure_info() {
        let timed_out = child_workflow_failure(
            ChildWorkflowExecutionFailureInfo::default(),
            Cause::TimedOut(TimeoutType::StartToClose),
        );
        assert_eq!(timed_out.message, "Child Workflow execution timed out");
        let cause = timed_out.cause.unwrap();
        assert_eq!(cause.message, "start_to_close timeout");
        assert!(matches!(
            cause.failure_info,
            Some(FailureInfo::TimeoutFailureInfo(ref info))
                if info.timeout_type() == TimeoutType::StartToClose
        ));

        let cancelled = activity_failure(
            ActivityFailureInfo::default(),
            Cause::Cancelled(Some(Payload::default())),
        );
        assert!(matches!(
            cancelled.cause.unwrap().failure_info,
            Some(FailureInfo::CanceledFailureInfo(ref info))
                if info.details.as_ref().unwrap().payloads.len() == 1
        ));

        let terminated = child_workflow_failure(
            ChildWorkflowExecutionFailureInfo::default(),
            Cause::Terminated("by an operator".into()),
        );
        let cause = terminated.cause.unwrap();
        assert_eq!(cause.message, "by an operator");
        assert!(matches!(
            cause.failure_info,
            Some(FailureInfo::TerminatedFailureInfo(_))
        ));
    }

    #[test]
    fn enum_names_go_both_ways() {
        for state in [
            RetryState::Unspecified,
            RetryState::MaximumAttemptsReached,
            RetryState::CancelRequested,
        ] {
            assert_eq!(retry_state_from_name(&retry_state_name(state)), Some(state));
        }
        assert_eq!(
            retry_state_name(RetryState::NonRetryableFailure),
            "non_retryable_failure"
        );
        assert_eq!(
            timeout_type_from_name("schedule_to_close"),
            Some(TimeoutType::ScheduleToClose)
        );
        assert_eq!(timeout_type_from_name("soon"), None);
    }
}
