//! The client's workflow calls: start (or signal-with-start), await the result, signal, query,
//! update, cancel, terminate, describe.
//!
//! Plain WorkflowService calls on the client's connection, like the Standalone Activity calls
//! beside them (see [`super::client`]).

use super::client::{ActivityClient, ClientError};
use std::collections::HashMap;
use std::time::Duration;
use temporalio_common::protos::temporal::api::common::v1::{
    Memo, Payload, Payloads, RetryPolicy, SearchAttributes, WorkflowExecution, WorkflowType,
};
use temporalio_common::protos::temporal::api::enums::v1::{
    HistoryEventFilterType, TaskQueueKind, UpdateWorkflowExecutionLifecycleStage,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
};
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::protos::temporal::api::query::v1::WorkflowQuery;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::update::v1::{
    outcome, Input, Meta, Outcome, Request, UpdateRef, WaitPolicy,
};
use temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest,
    PollWorkflowExecutionUpdateRequest, QueryWorkflowRequest,
    RequestCancelWorkflowExecutionRequest, SignalWithStartWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest, UpdateWorkflowExecutionRequest,
};
use tonic::{Code, IntoRequest};

/// How to start one workflow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartWorkflow {
    pub workflow_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Vec<Payload>,
    pub execution_timeout: Option<Duration>,
    pub run_timeout: Option<Duration>,
    pub task_timeout: Option<Duration>,
    pub retry_policy: Option<RetryPolicy>,
    /// Makes a repeated start idempotent: the same request id returns the same run.
    pub request_id: String,
    /// Whether a closed workflow's id may be used again (the server's default: allow).
    pub id_reuse_policy: WorkflowIdReusePolicy,
    /// What to do when a workflow with the id is running (the server's default: fail).
    pub id_conflict_policy: WorkflowIdConflictPolicy,
    pub cron_schedule: String,
    pub start_delay: Option<Duration>,
    pub memo: HashMap<String, Payload>,
    pub search_attributes: HashMap<String, Payload>,
    /// Signal-with-start: the signal sent to the workflow, started first if it is not running.
    pub signal: Option<StartSignal>,
}

/// The signal of a signal-with-start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartSignal {
    pub name: String,
    pub input: Vec<Payload>,
}

/// The run a start reached: the one it started, or the running one it signalled or joined.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub run_id: String,
    pub started: bool,
}

/// How a workflow (the last run of its continue-as-new chain) ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkflowOutcome {
    Completed(Vec<Payload>),
    Failed(Box<Failure>),
    Cancelled(Vec<Payload>),
    Terminated(String),
    TimedOut,
}

/// An update to send (`request`), or one sent before to wait on (none), and how long to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowUpdate {
    pub workflow_id: String,
    pub run_id: String,
    pub update_id: String,
    /// The update's name and arguments; none to wait on an update sent before.
    pub request: Option<(String, Vec<Payload>)>,
    /// Return once the workflow accepted it, instead of once it completed.
    pub until_accepted: bool,
}

/// Where an update got to.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    /// Accepted by the workflow's validator, not completed yet.
    Accepted,
    Completed(Option<Payload>),
    /// Rejected by the validator, or failed by the handler.
    Failed(Box<Failure>),
}

fn duration(value: Option<Duration>) -> Option<prost_wkt_types::Duration> {
    value.and_then(|duration| duration.try_into().ok())
}

fn execution(workflow_id: &str, run_id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: workflow_id.to_string(),
        run_id: run_id.to_string(),
    })
}

fn payloads(values: Vec<Payload>) -> Option<Payloads> {
    Some(Payloads { payloads: values })
}

impl ActivityClient {
    /// Starts a workflow, or with a signal, signals it and starts it first if it is not
    /// running.
    pub async fn start_workflow(&self, start: StartWorkflow) -> Result<Started, ClientError> {
        let task_queue = Some(TaskQueue {
            name: start.task_queue,
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        });
        let memo = (!start.memo.is_empty()).then_some(Memo { fields: start.memo });
        let search_attributes = (!start.search_attributes.is_empty()).then_some(SearchAttributes {
            indexed_fields: start.search_attributes,
        });
        let workflow_type = Some(WorkflowType {
            name: start.workflow_type,
        });
        if let Some(signal) = start.signal {
            let request = SignalWithStartWorkflowExecutionRequest {
                namespace: self.namespace().to_string(),
                identity: self.identity().to_string(),
                request_id: start.request_id,
                workflow_id: start.workflow_id,
                workflow_type,
                task_queue,
                input: payloads(start.input),
                workflow_execution_timeout: duration(start.execution_timeout),
                workflow_run_timeout: duration(start.run_timeout),
                workflow_task_timeout: duration(start.task_timeout),
                retry_policy: start.retry_policy,
                workflow_id_reuse_policy: start.id_reuse_policy as i32,
                workflow_id_conflict_policy: start.id_conflict_policy as i32,
                cron_schedule: start.cron_schedule,
                workflow_start_delay: duration(start.start_delay),
                memo,
                search_attributes,
                signal_name: signal.name,
                signal_input: payloads(signal.input),
                ..Default::default()
            };
            let response = self
                .service()
                .signal_with_start_workflow_execution(request.into_request())
                .await?
                .into_inner();
            return Ok(Started {
                run_id: response.run_id,
                started: response.started,
            });
        }
        let request = StartWorkflowExecutionRequest {
            namespace: self.namespace().to_string(),
            identity: self.identity().to_string(),
            request_id: start.request_id,
            workflow_id: start.workflow_id,
            workflow_type,
            task_queue,
            input: payloads(start.input),
            workflow_execution_timeout: duration(start.execution_timeout),
            workflow_run_timeout: duration(start.run_timeout),
            workflow_task_timeout: duration(start.task_timeout),
            retry_policy: start.retry_policy,
            workflow_id_reuse_policy: start.id_reuse_policy as i32,
            workflow_id_conflict_policy: start.id_conflict_policy as i32,
            cron_schedule: start.cron_schedule,
            workflow_start_delay: duration(start.start_delay),
            memo,
            search_attributes,
            ..Default::default()
        };
        let response = self
            .service()
            .start_workflow_execution(request.into_request())
            .await?
            .into_inner();
        Ok(Started {
            run_id: response.run_id,
            started: response.started,
        })
    }

    /// Waits for the workflow to close, following the runs that carry it on (continue-as-new,
    /// the server's retries, cron), and returns how the last ended. An empty `run_id` means the
    /// latest run.
    pub async fn workflow_result(
        &self,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<WorkflowOutcome, ClientError> {
        let mut run_id = run_id.to_string();
        let mut page_token = Vec::new();
        loop {
            // A long poll for the close event: the server answers without one when its own
            // deadline passes, with a token to poll on from.
            let response = self
                .service()
                .get_workflow_execution_history(
                    GetWorkflowExecutionHistoryRequest {
                        namespace: self.namespace().to_string(),
                        execution: execution(workflow_id, &run_id),
                        next_page_token: page_token.clone(),
                        wait_new_event: true,
                        history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
                        skip_archival: true,
                        ..Default::default()
                    }
                    .into_request(),
                )
                .await;
            let response = match response {
                Ok(response) => response.into_inner(),
                Err(status) if poll_again(&status).await => continue,
                Err(status) => return Err(status.into()),
            };
            let close = response
                .history
                .and_then(|history| history.events.into_iter().last())
                .and_then(|event| event.attributes);
            // A run that the server retries (failed or timed out, with a retry policy), starts
            // again by cron, or continues as new names the next run: the result is that one's.
            let (outcome, next_run) = match close {
                Some(Attributes::WorkflowExecutionCompletedEventAttributes(completed)) => (
                    WorkflowOutcome::Completed(
                        completed.result.map(|p| p.payloads).unwrap_or_default(),
                    ),
                    completed.new_execution_run_id,
                ),
                Some(Attributes::WorkflowExecutionFailedEventAttributes(failed)) => (
                    WorkflowOutcome::Failed(Box::new(failed.failure.unwrap_or_default())),
                    failed.new_execution_run_id,
                ),
                Some(Attributes::WorkflowExecutionTimedOutEventAttributes(timed_out)) => {
                    (WorkflowOutcome::TimedOut, timed_out.new_execution_run_id)
                }
                Some(Attributes::WorkflowExecutionCanceledEventAttributes(cancelled)) => {
                    return Ok(WorkflowOutcome::Cancelled(
                        cancelled.details.map(|p| p.payloads).unwrap_or_default(),
                    ))
                }
                Some(Attributes::WorkflowExecutionTerminatedEventAttributes(terminated)) => {
                    return Ok(WorkflowOutcome::Terminated(terminated.reason))
                }
                Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(next)) => {
                    run_id = next.new_execution_run_id;
                    page_token.clear();
                    continue;
                }
                _ => {
                    page_token = response.next_page_token;
                    continue;
                }
            };
            if next_run.is_empty() {
                return Ok(outcome);
            }
            run_id = next_run;
            page_token.clear();
        }
    }

    /// Sends a signal.
    pub async fn signal_workflow(
        &self,
        workflow_id: &str,
        run_id: &str,
        name: String,
        input: Vec<Payload>,
        request_id: String,
    ) -> Result<(), ClientError> {
        self.service()
            .signal_workflow_execution(
                SignalWorkflowExecutionRequest {
                    namespace: self.namespace().to_string(),
                    workflow_execution: execution(workflow_id, run_id),
                    signal_name: name,
                    input: payloads(input),
                    identity: self.identity().to_string(),
                    request_id,
                    ..Default::default()
                }
                .into_request(),
            )
            .await?;
        Ok(())
    }

    /// Queries a workflow: its answer (a payload, or none), or the server's error.
    pub async fn query_workflow(
        &self,
        workflow_id: &str,
        run_id: &str,
        name: String,
        arguments: Vec<Payload>,
    ) -> Result<Option<Payload>, ClientError> {
        let response = self
            .service()
            .query_workflow(
                QueryWorkflowRequest {
                    namespace: self.namespace().to_string(),
                    execution: execution(workflow_id, run_id),
                    query: Some(WorkflowQuery {
                        query_type: name,
                        query_args: payloads(arguments),
                        header: None,
                    }),
                    ..Default::default()
                }
                .into_request(),
            )
            .await?
            .into_inner();
        if let Some(rejected) = response.query_rejected {
            return Err(ClientError {
                code: "failed_precondition",
                message: format!(
                    "the query was rejected (workflow status {})",
                    rejected.status
                ),
            });
        }
        Ok(response
            .query_result
            .and_then(|result| result.payloads.into_iter().next()))
    }

    /// Asks the workflow to cancel; its code decides what that means.
    pub async fn cancel_workflow(
        &self,
        workflow_id: &str,
        run_id: &str,
        reason: String,
        request_id: String,
    ) -> Result<(), ClientError> {
        self.service()
            .request_cancel_workflow_execution(
                RequestCancelWorkflowExecutionRequest {
                    namespace: self.namespace().to_string(),
                    workflow_execution: execution(workflow_id, run_id),
                    identity: self.identity().to_string(),
                    request_id,
                    reason,
                    ..Default::default()
                }
                .into_request(),
            )
            .await?;
        Ok(())
    }

    /// Ends the workflow at once; no workflow code runs.
    pub async fn terminate_workflow(
        &self,
        workflow_id: &str,
        run_id: &str,
        reason: String,
    ) -> Result<(), ClientError> {
        self.service()
            .terminate_workflow_execution(
                TerminateWorkflowExecutionRequest {
                    namespace: self.namespace().to_string(),
                    workflow_execution: execution(workflow_id, run_id),
                    reason,
                    identity: self.identity().to_string(),
                    ..Default::default()
                }
                .into_request(),
            )
            .await?;
        Ok(())
    }

    /// Sends an update (or finds one sent before) and waits until the workflow accepted it,
    /// or until it completed. The update id makes a repeated request the same update.
    pub async fn update_workflow(
        &self,
        update: WorkflowUpdate,
    ) -> Result<UpdateOutcome, ClientError> {
        let wanted = if update.until_accepted {
            UpdateWorkflowExecutionLifecycleStage::Accepted
        } else {
            UpdateWorkflowExecutionLifecycleStage::Completed
        };
        let wait_policy = Some(WaitPolicy {
            lifecycle_stage: wanted as i32,
        });
        let mut update_ref = UpdateRef {
            workflow_execution: execution(&update.workflow_id, &update.run_id),
            update_id: update.update_id.clone(),
        };
        let mut reached = (
            None,
            UpdateWorkflowExecutionLifecycleStage::Unspecified as i32,
        );
        if let Some((name, args)) = update.request {
            let request = UpdateWorkflowExecutionRequest {
                namespace: self.namespace().to_string(),
                workflow_execution: execution(&update.workflow_id, &update.run_id),
                wait_policy,
                request: Some(Request {
                    meta: Some(Meta {
                        update_id: update.update_id,
                        identity: self.identity().to_string(),
                    }),
                    input: Some(Input {
                        header: None,
                        name,
                        args: payloads(args),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            // The server answers when its own deadline passes, before the update got anywhere;
            // sending it again with the same id is the same update.
            loop {
                match self
                    .service()
                    .update_workflow_execution(request.clone().into_request())
                    .await
                {
                    Ok(response) => {
                        let response = response.into_inner();
                        update_ref = response.update_ref.unwrap_or(update_ref);
                        reached = (response.outcome, response.stage);
                        break;
                    }
                    Err(status) if poll_again(&status).await => continue,
                    Err(status) => return Err(status.into()),
                }
            }
        }
        loop {
            match reached {
                (Some(outcome), _) => return Ok(update_outcome(outcome)),
                (None, stage) if update.until_accepted && stage >= wanted as i32 => {
                    return Ok(UpdateOutcome::Accepted)
                }
                _ => {}
            }
            let response = self
                .service()
                .poll_workflow_execution_update(
                    PollWorkflowExecutionUpdateRequest {
                        namespace: self.namespace().to_string(),
                        update_ref: Some(update_ref.clone()),
                        identity: self.identity().to_string(),
                        wait_policy,
                    }
                    .into_request(),
                )
                .await;
            match response {
                Ok(response) => {
                    let response = response.into_inner();
                    reached = (response.outcome, response.stage);
                }
                Err(status) if poll_again(&status).await => continue,
                Err(status) => return Err(status.into()),
            }
        }
    }

    /// The run's whole history (an empty `run_id`: the latest run's), for the replayer.
    pub async fn fetch_history(
        &self,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<History, ClientError> {
        let mut events = Vec::new();
        let mut page_token = Vec::new();
        loop {
            let response = self
                .service()
                .get_workflow_execution_history(
                    GetWorkflowExecutionHistoryRequest {
                        namespace: self.namespace().to_string(),
                        execution: execution(workflow_id, run_id),
                        next_page_token: page_token,
                        skip_archival: true,
                        ..Default::default()
                    }
                    .into_request(),
                )
                .await?
                .into_inner();
            events.extend(
                response
                    .history
                    .map(|history| history.events)
                    .unwrap_or_default(),
            );
            if response.next_page_token.is_empty() {
                return Ok(History { events });
            }
            page_token = response.next_page_token;
        }
    }

    /// What the server knows of the workflow's run right now.
    pub async fn describe_workflow(
        &self,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<WorkflowExecutionInfo, ClientError> {
        let response = self
            .service()
            .describe_workflow_execution(
                DescribeWorkflowExecutionRequest {
                    namespace: self.namespace().to_string(),
                    execution: execution(workflow_id, run_id),
                }
                .into_request(),
            )
            .await?
            .into_inner();
        response
            .workflow_execution_info
            .ok_or_else(|| ClientError::local("the server described no workflow"))
    }
}

fn update_outcome(outcome: Outcome) -> UpdateOutcome {
    match outcome.value {
        Some(outcome::Value::Success(values)) => {
            UpdateOutcome::Completed(values.payloads.into_iter().next())
        }
        Some(outcome::Value::Failure(failure)) => UpdateOutcome::Failed(Box::new(failure)),
        None => UpdateOutcome::Completed(None),
    }
}

/// Whether a long poll that ended with `status` is polled again: the server's own deadline
/// passed (it answers with DeadlineExceeded), or the server cancelled the poll on its side
/// ("operation was canceled", seen with 1,000 result polls open while a worker VM was
/// replaced), after a pause so that a server that keeps cancelling is not hammered. The
/// caller's timeout bounds the polling either way.
async fn poll_again(status: &tonic::Status) -> bool {
    match status.code() {
        Code::DeadlineExceeded => true,
        Code::Cancelled => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            true
        }
        _ => false,
    }
}
