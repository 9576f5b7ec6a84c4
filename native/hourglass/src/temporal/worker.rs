//! A Core worker polling one task queue: for activities, and for workflows when it has some.

use super::connection::{connect, ConnectConfig};
use super::core_runtime::{self, CoreRuntimeHandle};
use super::open_activations::OpenActivations;
use super::orphans::OrphanReporter;
use crate::stats::Held;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::{
    init_worker, Worker, WorkerConfig, WorkerVersioningStrategy, WorkflowErrorType,
};
use tokio_util::sync::CancellationToken;

/// Settings of one worker, validated on the Elixir side before they get here.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    pub connect: ConnectConfig,
    pub namespace: String,
    pub task_queue: String,
    pub max_concurrent_activities: usize,
    /// Whether it polls for workflow tasks (the worker process serves workflows).
    pub workflows: bool,
    /// Workflow runs kept in Core's sticky cache; evicted ones are replayed from history.
    pub max_cached_workflows: usize,
    pub max_concurrent_workflow_tasks: usize,
    pub max_worker_activities_per_second: Option<f64>,
    pub max_task_queue_activities_per_second: Option<f64>,
    /// How long Core lets in-flight activities run after shutdown starts before it cancels them.
    pub graceful_shutdown: Duration,
    /// How long the worker process gives a cancelled activity before it kills it.
    pub cancel_grace: Duration,
    pub metrics_address: Option<SocketAddr>,
    pub build_id: String,
    /// Whether nondeterminism fails the workflow rather than its task (which the server
    /// retries, so that fixed code can be deployed): for every workflow type, or for these.
    pub nondeterminism_fails_workflow: bool,
    pub nondeterminism_fails_workflow_types: Vec<String>,
}

/// A running Core worker and the runtime it lives on.
pub struct CoreWorker {
    pub worker: Worker,
    pub runtime: CoreRuntimeHandle,
    /// How long its shutdown waits for the attempts it handed out before it gives up on them:
    /// as long as its worker process drains them (the graceful period, then the cancel grace,
    /// and 5 s to report), so that a live worker is never given up on. What completes later is
    /// reported by task token (see [`super::orphans`]).
    pub shutdown_patience: Duration,
    /// Cancelled once its worker process has been gone for `shutdown_patience`: then it stops
    /// waiting for the attempts it handed out, and is dropped.
    pub abandoned: CancellationToken,
    pub task_queue: String,
    /// Reports, on the worker's connection, for tasks no live Core worker tracks (none for a
    /// replay worker, which has no connection and runs no activities).
    pub orphans: Option<OrphanReporter>,
    /// Runs whose activation awaits its one answer (see [`super::open_activations`]).
    pub open_activations: OpenActivations,
    _counted: Held,
}

/// How many workflow tasks Core may hold at once: never more than runs it caches, as tasks
/// beyond that wait for room in the cache while their timeouts run out (200 runs through a
/// cache of 2 crawled at ~4 tasks/s with 100 tasks allowed; with 2 they took 39 s). Core asks
/// for 2 at least when it caches runs, and 1 at least without a cache.
fn outstanding_workflow_tasks(settings: &WorkerSettings) -> usize {
    let asked = settings.max_concurrent_workflow_tasks;
    match settings.max_cached_workflows {
        0 => asked.max(1),
        cached => asked.min(cached).max(2),
    }
}

fn nondeterminism(fails_workflow: bool) -> HashSet<WorkflowErrorType> {
    if fails_workflow {
        HashSet::from([WorkflowErrorType::Nondeterminism])
    } else {
        HashSet::new()
    }
}

fn config(settings: &WorkerSettings) -> Result<WorkerConfig, String> {
    WorkerConfig::builder()
        .namespace(settings.namespace.clone())
        .task_queue(settings.task_queue.clone())
        .task_types(WorkerTaskTypes {
            enable_workflows: settings.workflows,
            // Local activities are scheduled by this worker's own workflows.
            enable_local_activities: settings.workflows,
            ..WorkerTaskTypes::activity_only()
        })
        .versioning_strategy(WorkerVersioningStrategy::None {
            build_id: settings.build_id.clone(),
        })
        .client_identity_override(settings.connect.identity.clone())
        .max_outstanding_activities(settings.max_concurrent_activities)
        .max_cached_workflows(if settings.workflows {
            settings.max_cached_workflows
        } else {
            0
        })
        .max_outstanding_workflow_tasks(outstanding_workflow_tasks(settings))
        .maybe_max_worker_activities_per_second(settings.max_worker_activities_per_second)
        .maybe_max_task_queue_activities_per_second(settings.max_task_queue_activities_per_second)
        .graceful_shutdown_period(settings.graceful_shutdown)
        .workflow_failure_errors(nondeterminism(settings.nondeterminism_fails_workflow))
        .workflow_types_to_failure_errors(
            settings
                .nondeterminism_fails_workflow_types
                .iter()
                .map(|workflow_type| (workflow_type.clone(), nondeterminism(true)))
                .collect(),
        )
        .build()
        .map_err(|error| format!("invalid worker settings: {error}"))
}

/// Connects, creates the worker and checks with the server that its namespace exists.
pub async fn start(settings: &WorkerSettings) -> Result<CoreWorker, String> {
    let runtime = match settings.metrics_address {
        Some(address) => core_runtime::with_prometheus(address)?,
        None => core_runtime::shared()?,
    };
    let connection = connect(&runtime.runtime, &settings.connect).await?;
    let orphans = OrphanReporter::new(
        connection.clone(),
        settings.namespace.clone(),
        settings.connect.identity.clone(),
    );
    let worker = init_worker(&runtime.runtime, config(settings)?, connection)
        .map_err(|error| format!("cannot create the Core worker: {error}"))?;
    if let Err(error) = worker.validate().await {
        // Core's shutdown waits for a poll to observe it, even on a worker never polled.
        worker.initiate_shutdown();
        let _ = worker.poll_activity_task().await;
        worker.finalize_shutdown().await;
        return Err(format!(
            "the server refused namespace {:?}: {error}",
            settings.namespace
        ));
    }
    Ok(CoreWorker {
        worker,
        runtime,
        shutdown_patience: settings.graceful_shutdown
            + settings.cancel_grace
            + Duration::from_secs(5),
        abandoned: CancellationToken::new(),
        task_queue: settings.task_queue.clone(),
        orphans: Some(orphans),
        open_activations: OpenActivations::default(),
        _counted: Held::core_worker(),
    })
}

impl CoreWorker {
    /// A Core worker with no server behind it: the replayer's (see [`super::replayer`]).
    pub fn without_connection(
        worker: Worker,
        runtime: CoreRuntimeHandle,
        task_queue: &str,
    ) -> Self {
        CoreWorker {
            worker,
            runtime,
            shutdown_patience: Duration::from_secs(5),
            abandoned: CancellationToken::new(),
            task_queue: task_queue.to_string(),
            orphans: None,
            open_activations: OpenActivations::default(),
            _counted: Held::core_worker(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(cached: usize, tasks: usize) -> WorkerSettings {
        WorkerSettings {
            connect: ConnectConfig {
                address: "localhost:7233".to_string(),
                identity: "test".to_string(),
                tls: None,
                api_key: None,
                connect_timeout: Duration::from_secs(1),
                gzip: true,
            },
            namespace: "default".to_string(),
            task_queue: "queue".to_string(),
            max_concurrent_activities: 10,
            workflows: true,
            max_cached_workflows: cached,
            max_concurrent_workflow_tasks: tasks,
            max_worker_activities_per_second: None,
            max_task_queue_activities_per_second: None,
            graceful_shutdown: Duration::from_secs(1),
            cancel_grace: Duration::from_secs(1),
            metrics_address: None,
            build_id: "test".to_string(),
            nondeterminism_fails_workflow: false,
            nondeterminism_fails_workflow_types: vec!["Strict".to_string()],
        }
    }

    fn outstanding(cached: usize, tasks: usize) -> Option<usize> {
        config(&settings(cached, tasks))
            .expect("Core accepts the settings")
            .max_outstanding_workflow_tasks
    }

    #[test]
    fn workflow_tasks_never_outnumber_the_cached_runs() {
        assert_eq!(outstanding(1_000, 100), Some(100));
        assert_eq!(outstanding(10, 100), Some(10));
        assert_eq!(outstanding(2, 100), Some(2));
    }

    #[test]
    fn core_gets_the_least_it_accepts() {
        // Core refuses fewer than 2 tasks with a cache, and 0 without one.
        assert_eq!(outstanding(1, 100), Some(2));
        assert_eq!(outstanding(1, 1), Some(2));
        assert_eq!(outstanding(0, 0), Some(1));
        assert_eq!(outstanding(0, 100), Some(100));
    }

    #[test]
    fn nondeterminism_fails_the_workflow_where_asked() {
        let strict = config(&settings(10, 10)).expect("Core accepts the settings");
        assert!(strict.workflow_failure_errors.is_empty());
        assert_eq!(
            strict.workflow_types_to_failure_errors.get("Strict"),
            Some(&HashSet::from([WorkflowErrorType::Nondeterminism]))
        );
        let everywhere = config(&WorkerSettings {
            nondeterminism_fails_workflow: true,
            ..settings(10, 10)
        })
        .expect("Core accepts the settings");
        assert!(everywhere
            .workflow_failure_errors
            .contains(&WorkflowErrorType::Nondeterminism));
    }
}
