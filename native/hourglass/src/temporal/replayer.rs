//! A Core worker that replays recorded histories instead of polling a server: Core hands out
//! each history's workflow tasks as activations, the workflow code answers them as it would on a
//! real worker, and Core checks each answer against what the history recorded (a mismatch is a
//! nondeterminism error). It shuts down once every history has been replayed.

use super::core_runtime;
use super::worker::CoreWorker;
use crate::runtime;
use futures::stream;
use prost::Message;
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::replay::{HistoryForReplay, ReplayWorkerInput};
use temporalio_sdk_core::{init_replay_worker, WorkerConfig, WorkerVersioningStrategy};

const TASK_QUEUE: &str = "hourglass-replay";

/// Decodes one history (a protobuf-encoded `temporal.api.history.v1.History`).
pub fn decode_history(workflow_id: &str, bytes: &[u8]) -> Result<HistoryForReplay, String> {
    let history = History::decode(bytes)
        .map_err(|error| format!("the history of {workflow_id:?} cannot be decoded: {error}"))?;
    if history.events.is_empty() {
        return Err(format!("the history of {workflow_id:?} has no events"));
    }
    Ok(HistoryForReplay::new(history, workflow_id))
}

/// A replay worker for `histories`, in order.
pub fn start(histories: Vec<HistoryForReplay>) -> Result<CoreWorker, String> {
    let runtime = core_runtime::shared()?;
    let config = WorkerConfig::builder()
        .namespace("default".to_string())
        .task_queue(TASK_QUEUE.to_string())
        .task_types(WorkerTaskTypes::workflow_only())
        .versioning_strategy(WorkerVersioningStrategy::None {
            build_id: String::new(),
        })
        .max_cached_workflows(1_usize)
        .max_outstanding_workflow_tasks(2_usize)
        .build()
        .map_err(|error| format!("invalid replay worker settings: {error}"))?;
    // Core's worker spawns its tasks on the current tokio runtime.
    let _entered = runtime::io().enter();
    let worker = init_replay_worker(ReplayWorkerInput::new(config, stream::iter(histories)))
        .map_err(|error| format!("cannot create the replay worker: {error}"))?;
    Ok(CoreWorker::without_connection(worker, runtime, TASK_QUEUE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_that_is_not_protobuf_is_refused_with_its_workflow_id() {
        let error = decode_history("wf-1", b"\xff\xff\xff").err().unwrap();
        assert!(error.contains("\"wf-1\""), "{error}");
    }

    #[test]
    fn an_empty_history_is_refused() {
        let error = decode_history("wf-2", &History::default().encode_to_vec())
            .err()
            .unwrap();
        assert!(error.contains("no events"), "{error}");
    }
}
