//! Completing an activity from outside its worker: the attempt's executor returned
//! `will_complete_async`, and another process reports the outcome later, by task token or by
//! the ids of the activity (`Respond…` and `RecordActivityTaskHeartbeat…` calls and their `ById`
//! forms).

use super::client::{ActivityClient, ClientError};
use super::payload_limit::{PayloadLimit, TooLarge};
use temporalio_client::grpc::WorkflowService;
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    RecordActivityTaskHeartbeatByIdRequest, RecordActivityTaskHeartbeatRequest,
    RespondActivityTaskCanceledByIdRequest, RespondActivityTaskCanceledRequest,
    RespondActivityTaskCompletedByIdRequest, RespondActivityTaskCompletedRequest,
    RespondActivityTaskFailedByIdRequest, RespondActivityTaskFailedRequest,
};
use tonic::IntoRequest;

/// Which attempt: the task token the worker saw, or the ids of the activity (its current
/// attempt). `workflow_id` is empty for a Standalone Activity; an empty `run_id` means the
/// latest run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsyncTarget {
    Token(Vec<u8>),
    Ids {
        workflow_id: String,
        run_id: String,
        activity_id: String,
    },
}

/// How the attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AsyncOutcome {
    Completed(Payload),
    Failed(Box<Failure>),
    Cancelled(Payload),
}

impl AsyncOutcome {
    /// Whether the outcome is within the server's payload size limit.
    pub fn check_size(&self, limit: &PayloadLimit) -> Result<(), TooLarge> {
        match self {
            AsyncOutcome::Completed(result) => limit.check_payload("the result", result),
            AsyncOutcome::Failed(failure) => limit.check_failure("the failure", failure),
            AsyncOutcome::Cancelled(details) => {
                limit.check_payload("the cancellation details", details)
            }
        }
    }
}

/// What the server answered a heartbeat with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeartbeatAnswer {
    pub cancel_requested: bool,
    pub paused: bool,
    pub reset: bool,
}

/// The answer of either heartbeat call (two response types with the same fields).
macro_rules! heartbeat_answer {
    ($response:expr) => {
        HeartbeatAnswer {
            cancel_requested: $response.cancel_requested,
            paused: $response.activity_paused,
            reset: $response.activity_reset,
        }
    };
}

fn payloads(payload: Payload) -> Option<Payloads> {
    Some(Payloads {
        payloads: vec![payload],
    })
}

fn check(target: &AsyncTarget) -> Result<(), ClientError> {
    match target {
        AsyncTarget::Token(token) if token.is_empty() => {
            Err(ClientError::local("the task token is empty"))
        }
        AsyncTarget::Ids { activity_id, .. } if activity_id.is_empty() => {
            Err(ClientError::local("the activity id is empty"))
        }
        _ => Ok(()),
    }
}

/// How an attempt ended, as the `Respond…` calls carry it.
pub(super) enum Response {
    Completed(Option<Payloads>),
    Failed(Option<Box<Failure>>),
    Cancelled(Option<Payloads>),
}

impl From<AsyncOutcome> for Response {
    fn from(outcome: AsyncOutcome) -> Self {
        match outcome {
            AsyncOutcome::Completed(result) => Response::Completed(payloads(result)),
            AsyncOutcome::Failed(failure) => Response::Failed(Some(failure)),
            AsyncOutcome::Cancelled(details) => Response::Cancelled(payloads(details)),
        }
    }
}

/// Reports to the server, by task token, how an attempt ended.
pub(super) async fn respond_by_token(
    mut service: Box<dyn WorkflowService>,
    namespace: String,
    identity: String,
    task_token: Vec<u8>,
    response: Response,
) -> Result<(), tonic::Status> {
    match response {
        Response::Completed(result) => {
            let request = RespondActivityTaskCompletedRequest {
                task_token,
                result,
                identity,
                namespace,
                ..Default::default()
            };
            service
                .respond_activity_task_completed(request.into_request())
                .await?;
        }
        Response::Failed(failure) => {
            let request = RespondActivityTaskFailedRequest {
                task_token,
                failure: failure.map(|failure| *failure),
                identity,
                namespace,
                ..Default::default()
            };
            service
                .respond_activity_task_failed(request.into_request())
                .await?;
        }
        Response::Cancelled(details) => {
            let request = RespondActivityTaskCanceledRequest {
                task_token,
                details,
                identity,
                namespace,
                ..Default::default()
            };
            service
                .respond_activity_task_canceled(request.into_request())
                .await?;
        }
    }
    Ok(())
}

impl ActivityClient {
    /// Reports how an asynchronously completed attempt ended.
    pub async fn respond_async(
        &self,
        target: AsyncTarget,
        outcome: AsyncOutcome,
    ) -> Result<(), ClientError> {
        check(&target)?;
        let namespace = self.namespace().to_string();
        let identity = self.identity().to_string();
        let mut service = self.service();
        match (target, outcome) {
            (AsyncTarget::Token(task_token), outcome) => {
                respond_by_token(service, namespace, identity, task_token, outcome.into()).await?;
            }
            (
                AsyncTarget::Ids {
                    workflow_id,
                    run_id,
                    activity_id,
                },
                AsyncOutcome::Completed(result),
            ) => {
                let request = RespondActivityTaskCompletedByIdRequest {
                    namespace,
                    workflow_id,
                    run_id,
                    activity_id,
                    result: payloads(result),
                    identity,
                    ..Default::default()
                };
                service
                    .respond_activity_task_completed_by_id(request.into_request())
                    .await?;
            }
            (
                AsyncTarget::Ids {
                    workflow_id,
                    run_id,
                    activity_id,
                },
                AsyncOutcome::Failed(failure),
            ) => {
                let request = RespondActivityTaskFailedByIdRequest {
                    namespace,
                    workflow_id,
                    run_id,
                    activity_id,
                    failure: Some(*failure),
                    identity,
                    ..Default::default()
                };
                service
                    .respond_activity_task_failed_by_id(request.into_request())
                    .await?;
            }
            (
                AsyncTarget::Ids {
                    workflow_id,
                    run_id,
                    activity_id,
                },
                AsyncOutcome::Cancelled(details),
            ) => {
                let request = RespondActivityTaskCanceledByIdRequest {
                    namespace,
                    workflow_id,
                    run_id,
                    activity_id,
                    details: payloads(details),
                    identity,
                    ..Default::default()
                };
                service
                    .respond_activity_task_canceled_by_id(request.into_request())
                    .await?;
            }
        }
        Ok(())
    }

    /// Records a heartbeat for an asynchronously completed attempt, with optional details.
    pub async fn heartbeat_async(
        &self,
        target: AsyncTarget,
        details: Option<Payload>,
    ) -> Result<HeartbeatAnswer, ClientError> {
        check(&target)?;
        let namespace = self.namespace().to_string();
        let identity = self.identity().to_string();
        let details = details.and_then(payloads);
        let mut service = self.service();
        Ok(match target {
            AsyncTarget::Token(task_token) => {
                let request = RecordActivityTaskHeartbeatRequest {
                    task_token,
                    details,
                    identity,
                    namespace,
                    ..Default::default()
                };
                let answer = service
                    .record_activity_task_heartbeat(request.into_request())
                    .await?
                    .into_inner();
                heartbeat_answer!(answer)
            }
            AsyncTarget::Ids {
                workflow_id,
                run_id,
                activity_id,
            } => {
                let request = RecordActivityTaskHeartbeatByIdRequest {
                    namespace,
                    workflow_id,
                    run_id,
                    activity_id,
                    details,
                    identity,
                    ..Default::default()
                };
                let answer = service
                    .record_activity_task_heartbeat_by_id(request.into_request())
                    .await?
                    .into_inner();
                heartbeat_answer!(answer)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_targets_are_refused_before_any_call() {
        assert_eq!(
            check(&AsyncTarget::Token(Vec::new())).unwrap_err().code,
            "invalid_argument"
        );
        let no_id = AsyncTarget::Ids {
            workflow_id: "wf".into(),
            run_id: String::new(),
            activity_id: String::new(),
        };
        assert!(check(&no_id).is_err());
        assert!(check(&AsyncTarget::Token(vec![1])).is_ok());
    }
}
