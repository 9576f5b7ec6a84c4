//! A client for Standalone Activities: activities started without a workflow.
//!
//! Plain WorkflowService calls (`StartActivityExecution`, `PollActivityExecution`,
//! `DescribeActivityExecution`, `RequestCancelActivityExecution`), so every field of the
//! requests and responses is under Hourglass's control.

use super::connection::{connect, ConnectConfig};
use super::core_runtime::{self, CoreRuntimeHandle};
use std::time::Duration;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::Connection;
use temporalio_common::protos::temporal::api::activity::v1::{
    activity_execution_outcome, ActivityExecutionInfo,
};
use temporalio_common::protos::temporal::api::common::v1::{
    ActivityType, Payload, Payloads, RetryPolicy,
};
use temporalio_common::protos::temporal::api::enums::v1::TaskQueueKind;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeActivityExecutionRequest, PollActivityExecutionRequest,
    RequestCancelActivityExecutionRequest, StartActivityExecutionRequest,
};
use tonic::{Code, IntoRequest};

/// A failed RPC: the gRPC code in snake case (`not_found`, `already_exists`, …) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub code: &'static str,
    pub message: String,
}

impl ClientError {
    pub(super) fn local(message: impl Into<String>) -> Self {
        ClientError {
            code: "invalid_argument",
            message: message.into(),
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        let code = match status.code() {
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::InvalidArgument => "invalid_argument",
            Code::FailedPrecondition => "failed_precondition",
            Code::PermissionDenied | Code::Unauthenticated => "permission_denied",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::Unavailable => "unavailable",
            Code::ResourceExhausted => "resource_exhausted",
            _ => "rpc_error",
        };
        ClientError {
            code,
            message: status.message().to_string(),
        }
    }
}

/// How to start one activity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartActivity {
    pub activity_id: String,
    pub activity_type: String,
    pub task_queue: String,
    pub input: Vec<Payload>,
    pub schedule_to_close_timeout: Option<Duration>,
    pub schedule_to_start_timeout: Option<Duration>,
    pub start_to_close_timeout: Option<Duration>,
    pub heartbeat_timeout: Option<Duration>,
    pub retry_policy: Option<RetryPolicy>,
    /// Makes a repeated start idempotent: the same request id returns the same run.
    pub request_id: String,
}

/// How an activity ended, as far as its result goes.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivityOutcome {
    Completed(Vec<Payload>),
    /// Failed, cancelled, terminated or timed out: the failure says which.
    Failed(Box<Failure>),
}

pub struct ActivityClient {
    connection: Connection,
    namespace: String,
    identity: String,
    _runtime: CoreRuntimeHandle,
}

fn duration(value: Option<Duration>) -> Option<prost_wkt_types::Duration> {
    value.and_then(|duration| duration.try_into().ok())
}

impl ActivityClient {
    /// Connects; the namespace is checked by the first call that uses it.
    pub async fn connect(config: &ConnectConfig, namespace: String) -> Result<Self, ClientError> {
        let runtime = core_runtime::shared().map_err(ClientError::local)?;
        let connection =
            connect(&runtime.runtime, config)
                .await
                .map_err(|message| ClientError {
                    code: "unavailable",
                    message,
                })?;
        Ok(ActivityClient {
            connection,
            namespace,
            identity: config.identity.clone(),
            _runtime: runtime,
        })
    }

    pub(super) fn service(&self) -> Box<dyn WorkflowService> {
        self.connection.workflow_service()
    }

    pub(super) fn namespace(&self) -> &str {
        &self.namespace
    }

    pub(super) fn identity(&self) -> &str {
        &self.identity
    }

    /// Starts an activity; returns its run id.
    pub async fn start(&self, start: StartActivity) -> Result<String, ClientError> {
        if start.schedule_to_close_timeout.is_none() && start.start_to_close_timeout.is_none() {
            return Err(ClientError::local(
                "an activity needs a schedule_to_close_timeout or a start_to_close_timeout",
            ));
        }
        let request = StartActivityExecutionRequest {
            namespace: self.namespace.clone(),
            identity: self.identity.clone(),
            request_id: start.request_id,
            activity_id: start.activity_id,
            activity_type: Some(ActivityType {
                name: start.activity_type,
            }),
            task_queue: Some(TaskQueue {
                name: start.task_queue,
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            schedule_to_close_timeout: duration(start.schedule_to_close_timeout),
            schedule_to_start_timeout: duration(start.schedule_to_start_timeout),
            start_to_close_timeout: duration(start.start_to_close_timeout),
            heartbeat_timeout: duration(start.heartbeat_timeout),
            retry_policy: start.retry_policy,
            input: Some(Payloads {
                payloads: start.input,
            }),
            ..Default::default()
        };
        let response = self
            .service()
            .start_activity_execution(request.into_request())
            .await?
            .into_inner();
        Ok(response.run_id)
    }

    /// Waits for the activity to close and returns how it ended.
    pub async fn result(
        &self,
        activity_id: &str,
        run_id: &str,
    ) -> Result<ActivityOutcome, ClientError> {
        loop {
            // A long poll: the server answers without an outcome when its own deadline passes.
            let response = self
                .service()
                .poll_activity_execution(
                    PollActivityExecutionRequest {
                        namespace: self.namespace.clone(),
                        activity_id: activity_id.to_string(),
                        run_id: run_id.to_string(),
                    }
                    .into_request(),
                )
                .await;
            let response = match response {
                Ok(response) => response.into_inner(),
                Err(status) if status.code() == Code::DeadlineExceeded => continue,
                Err(status) => return Err(status.into()),
            };
            match response.outcome.and_then(|outcome| outcome.value) {
                Some(activity_execution_outcome::Value::Result(payloads)) => {
                    return Ok(ActivityOutcome::Completed(payloads.payloads))
                }
                Some(activity_execution_outcome::Value::Failure(failure)) => {
                    return Ok(ActivityOutcome::Failed(Box::new(failure)))
                }
                None => continue,
            }
        }
    }

    /// Asks the server to cancel the activity; the worker running it learns of it on its next
    /// heartbeat.
    pub async fn cancel(
        &self,
        activity_id: &str,
        run_id: &str,
        reason: &str,
        request_id: String,
    ) -> Result<(), ClientError> {
        self.service()
            .request_cancel_activity_execution(
                RequestCancelActivityExecutionRequest {
                    namespace: self.namespace.clone(),
                    activity_id: activity_id.to_string(),
                    run_id: run_id.to_string(),
                    identity: self.identity.clone(),
                    request_id,
                    reason: reason.to_string(),
                }
                .into_request(),
            )
            .await?;
        Ok(())
    }

    /// What the server knows of the activity right now.
    pub async fn describe(
        &self,
        activity_id: &str,
        run_id: &str,
    ) -> Result<ActivityExecutionInfo, ClientError> {
        let response = self
            .service()
            .describe_activity_execution(
                DescribeActivityExecutionRequest {
                    namespace: self.namespace.clone(),
                    activity_id: activity_id.to_string(),
                    run_id: run_id.to_string(),
                    include_heartbeat_details: true,
                    include_last_failure: true,
                    ..Default::default()
                }
                .into_request(),
            )
            .await?
            .into_inner();
        response
            .info
            .ok_or_else(|| ClientError::local("the server described no activity"))
    }
}
