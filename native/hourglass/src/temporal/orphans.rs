//! Completions and heartbeats of tasks that no live Core worker tracks, reported to the server
//! by task token (`RespondActivityTask…`, `RecordActivityTaskHeartbeat`).
//!
//! A completion goes to the Core worker that issued its task (see [`super::issuers`]). That
//! worker may be gone: its worker process died, and after a while it stopped waiting for the
//! attempts its executors still run (they outlive the worker by design). Core only completes
//! tasks it tracks, and any other worker would drop the completion, leaving the attempt to the
//! server's timeout and a retry; the server, though, accepts it by token from anyone in the
//! namespace. A token the server no longer knows (the attempt already ended) is refused with
//! `NotFound`, so a duplicate cannot end an attempt twice.

use super::async_completion::{respond_by_token, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use temporalio_client::Connection;
use temporalio_common::protos::coresdk::activity_result::activity_execution_result::Status;
use temporalio_common::protos::coresdk::{ActivityHeartbeat, ActivityTaskCompletion};
use temporalio_common::protos::temporal::api::common::v1::Payloads;
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_common::protos::temporal::api::workflowservice::v1::RecordActivityTaskHeartbeatRequest;
use tonic::IntoRequest;

/// At most one heartbeat per task this often: Core throttles the heartbeats of the tasks it
/// tracks (to 80% of the heartbeat timeout); these go straight to the server.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// Reports to the server, by task token, for one worker's namespace and identity.
#[derive(Clone)]
pub struct OrphanReporter {
    connection: Connection,
    namespace: String,
    identity: String,
    throttle: Arc<HeartbeatThrottle>,
}

impl OrphanReporter {
    pub fn new(connection: Connection, namespace: String, identity: String) -> Self {
        Self {
            connection,
            namespace,
            identity,
            throttle: Arc::default(),
        }
    }

    /// Reports how the attempt ended. `will_complete_async` has nothing to report.
    pub async fn complete(&self, completion: ActivityTaskCompletion) -> Result<(), tonic::Status> {
        let task_token = completion.task_token;
        self.throttle.forget(&task_token);
        let response = match completion.result.and_then(|result| result.status) {
            Some(Status::Completed(success)) => {
                Response::Completed(success.result.map(|payload| Payloads {
                    payloads: vec![payload],
                }))
            }
            Some(Status::Failed(failed)) => Response::Failed(failed.failure.map(Box::new)),
            Some(Status::Cancelled(cancelled)) => Response::Cancelled(cancelled.failure.and_then(
                |failure| match failure.failure_info {
                    Some(FailureInfo::CanceledFailureInfo(info)) => info.details,
                    _ => None,
                },
            )),
            Some(Status::WillCompleteAsync(_)) | None => return Ok(()),
        };
        respond_by_token(
            self.connection.workflow_service(),
            self.namespace.clone(),
            self.identity.clone(),
            task_token,
            response,
        )
        .await
    }

    /// Sends the heartbeat unless this task sent one less than a second ago, on the
    /// caller's tokio runtime; a failed heartbeat is logged. A cancellation the server answers
    /// with cannot reach the attempt: its worker, which would deliver it, is gone.
    pub fn heartbeat(&self, heartbeat: ActivityHeartbeat) {
        if !self.throttle.due(&heartbeat.task_token, Instant::now()) {
            return;
        }
        let request = RecordActivityTaskHeartbeatRequest {
            task_token: heartbeat.task_token,
            details: Some(Payloads {
                payloads: heartbeat.details,
            }),
            identity: self.identity.clone(),
            namespace: self.namespace.clone(),
            ..Default::default()
        };
        let mut service = self.connection.workflow_service();
        tokio::spawn(async move {
            if let Err(status) = service
                .record_activity_task_heartbeat(request.into_request())
                .await
            {
                tracing::warn!(
                    "the heartbeat of an attempt whose worker is gone was refused: {}",
                    status.message()
                );
            }
        });
    }
}

/// When each task last sent a heartbeat this way.
#[derive(Default)]
struct HeartbeatThrottle {
    last: Mutex<HashMap<Vec<u8>, Instant>>,
}

impl HeartbeatThrottle {
    /// Whether the task with `token` may send a heartbeat `now` (and, if so, it is counted as
    /// sent).
    fn due(&self, token: &[u8], now: Instant) -> bool {
        let mut last = self.lock();
        // Tasks that stopped heartbeating (ended, or completed elsewhere) are forgotten.
        if last.len() >= 1024 && last.len().is_power_of_two() {
            last.retain(|_, sent| now.duration_since(*sent) < 10 * HEARTBEAT_EVERY);
        }
        match last.get(token) {
            Some(sent) if now.duration_since(*sent) < HEARTBEAT_EVERY => false,
            _ => {
                last.insert(token.to_vec(), now);
                true
            }
        }
    }

    fn forget(&self, token: &[u8]) {
        self.lock().remove(token);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Instant>> {
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_heartbeat_per_task_per_interval() {
        let throttle = HeartbeatThrottle::default();
        let start = Instant::now();
        assert!(throttle.due(b"a", start));
        assert!(!throttle.due(b"a", start + HEARTBEAT_EVERY / 2));
        assert!(
            throttle.due(b"b", start + HEARTBEAT_EVERY / 2),
            "tasks are apart"
        );
        assert!(throttle.due(b"a", start + HEARTBEAT_EVERY));
        throttle.forget(b"b");
        assert!(
            throttle.due(b"b", start + HEARTBEAT_EVERY),
            "a completed task starts over"
        );
    }

    #[test]
    fn tasks_that_stopped_heartbeating_are_forgotten() {
        let throttle = HeartbeatThrottle::default();
        let start = Instant::now();
        for token in 0u32..1023 {
            assert!(throttle.due(&token.to_be_bytes(), start));
        }
        // The heartbeat that finds 1,024 entries drops those silent for 10 intervals.
        let later = start + 10 * HEARTBEAT_EVERY;
        assert!(throttle.due(b"live", later));
        assert!(throttle.due(b"next", later));
        assert_eq!(throttle.lock().len(), 2);
    }
}
