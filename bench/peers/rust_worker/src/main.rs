//! Benchmark peer: a Temporal Rust SDK (`temporalio-sdk`) worker that serves one activity type,
//! "echo", which returns its argument unchanged, and the benchmark workflows (`BenchSeq3`,
//! `BenchPar10`, `BenchTimers5`, `BenchIdle`; the same in every peer, see ../README.md).
//!
//! Usage: rust_worker ADDRESS TASK_QUEUE [--max-concurrent N] [--max-cached N]
//!
//! Prints `READY` on stdout once the server has seen this worker poll the task queue, then runs
//! until SIGTERM or SIGINT, shuts the worker down and exits 0.

use std::{io::Write, str::FromStr, time::Duration};

use anyhow::{Context, anyhow, bail};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, GrpcCompression, Url,
};
use temporalio_common::protos::temporal::api::{
    enums::v1::TaskQueueType, taskqueue::v1::TaskQueue,
    workflowservice::v1::DescribeTaskQueueRequest,
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, Runtime, SyncWorkflowContext, Worker, WorkerOptions, WorkflowContext,
    WorkflowResult,
    activities::{ActivityContext, ActivityError},
    runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder},
    workflows::join_all,
};
use tokio::signal::unix::{SignalKind, signal};
use tonic::IntoRequest;

const NAMESPACE: &str = "default";
/// Slots for the task kinds this worker never runs.
const UNUSED_SLOTS: usize = 1;
/// Workflow tasks at once: the default of the Python SDK and of Hourglass.
const WORKFLOW_TASK_SLOTS: usize = 100;
const ACTIVITY_TIMEOUT: Duration = Duration::from_secs(30);
const BENCH_TIMER: Duration = Duration::from_millis(50);

struct Echo;

#[activities]
impl Echo {
    /// Without `name` the SDK would register it as "Echo::echo".
    #[activity(name = "echo")]
    #[allow(dead_code)] // the macro also emits an associated constant `Echo::echo`, unused here
    async fn echo(
        _ctx: ActivityContext,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, ActivityError> {
        Ok(input)
    }
}

fn echo_options() -> ActivityOptions {
    ActivityOptions::start_to_close_timeout(ACTIVITY_TIMEOUT)
}

/// Three echo activities, one after another; returns the last result.
#[workflow]
#[derive(Default)]
struct BenchSeq3;

#[workflow_methods]
impl BenchSeq3 {
    #[run(name = "BenchSeq3")]
    async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: serde_json::Value,
    ) -> WorkflowResult<serde_json::Value> {
        let mut value = input;
        for _ in 0..3 {
            value = ctx
                .execute_activity(Echo::echo, value, echo_options())
                .await?;
        }
        Ok(value)
    }
}

/// Ten echo activities at once; returns how many came back equal to the input.
#[workflow]
#[derive(Default)]
struct BenchPar10;

#[workflow_methods]
impl BenchPar10 {
    #[run(name = "BenchPar10")]
    async fn run(ctx: &mut WorkflowContext<Self>, input: serde_json::Value) -> WorkflowResult<u32> {
        let calls =
            (0..10).map(|_| ctx.execute_activity(Echo::echo, input.clone(), echo_options()));
        let mut same = 0;
        for result in join_all(calls).await {
            if result? == input {
                same += 1;
            }
        }
        Ok(same)
    }
}

/// Five 50 ms timers, one after another; returns the input.
#[workflow]
#[derive(Default)]
struct BenchTimers5;

#[workflow_methods]
impl BenchTimers5 {
    #[run(name = "BenchTimers5")]
    async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: serde_json::Value,
    ) -> WorkflowResult<serde_json::Value> {
        for _ in 0..5 {
            ctx.timer(BENCH_TIMER).await;
        }
        Ok(input)
    }
}

/// Waits for the signal "release", then returns the input: an idle cached run until then.
#[workflow]
#[derive(Default)]
struct BenchIdle {
    released: bool,
}

#[workflow_methods]
impl BenchIdle {
    #[run(name = "BenchIdle")]
    async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: serde_json::Value,
    ) -> WorkflowResult<serde_json::Value> {
        ctx.wait_condition(|state| state.released).await?;
        Ok(input)
    }

    #[signal(name = "release")]
    fn release(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.released = true;
    }
}

struct Args {
    address: String,
    task_queue: String,
    max_concurrent: usize,
    max_cached: usize,
    grpc_compression: GrpcCompression,
}

fn parse_args() -> anyhow::Result<Args> {
    let usage = "usage: rust_worker ADDRESS TASK_QUEUE [--max-concurrent N] [--max-cached N] \
                 [--grpc-compression gzip|none]";
    let mut positional = Vec::new();
    let mut max_concurrent = 200;
    let mut max_cached = 1_000;
    let mut grpc_compression = GrpcCompression::Gzip;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--max-concurrent" => {
                let n = it.next().context(usage)?;
                max_concurrent = n
                    .parse()
                    .with_context(|| format!("bad --max-concurrent {n}"))?;
            }
            "--max-cached" => {
                let n = it.next().context(usage)?;
                max_cached = n.parse().with_context(|| format!("bad --max-cached {n}"))?;
            }
            "--grpc-compression" => {
                grpc_compression = match it.next().context(usage)?.as_str() {
                    "gzip" => GrpcCompression::Gzip,
                    "none" => GrpcCompression::None,
                    other => bail!("bad --grpc-compression {other}"),
                };
            }
            "-h" | "--help" => bail!(usage),
            _ => positional.push(arg),
        }
    }
    let [address, task_queue] = <[String; 2]>::try_from(positional).map_err(|_| anyhow!(usage))?;
    if max_concurrent == 0 {
        bail!("--max-concurrent must be > 0");
    }
    Ok(Args {
        address,
        task_queue,
        max_concurrent,
        max_cached,
        grpc_compression,
    })
}

/// Waits until the server lists `identity` among the activity and the workflow pollers of
/// `task_queue`, i.e. until this worker really has polls outstanding. The SDK has no "polling
/// started" hook.
async fn wait_until_polling(connection: &Connection, task_queue: &str, identity: &str) {
    for kind in [TaskQueueType::Activity, TaskQueueType::Workflow] {
        loop {
            let request = DescribeTaskQueueRequest {
                namespace: NAMESPACE.to_owned(),
                task_queue: Some(TaskQueue {
                    name: task_queue.to_owned(),
                    ..Default::default()
                }),
                task_queue_type: kind as i32,
                ..Default::default()
            };
            if let Ok(response) = connection
                .workflow_service()
                .describe_task_queue(request.into_request())
                .await
                && response
                    .get_ref()
                    .pollers
                    .iter()
                    .any(|p| p.identity == identity)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // Catch signals first, so that one arriving while connecting still exits 0.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let url = if args.address.contains("://") {
        args.address.clone()
    } else {
        format!("http://{}", args.address)
    };
    // A unique identity lets wait_until_polling find this process among the pollers.
    let identity = format!("rust-echo-{}", std::process::id());

    let runtime = Runtime::from_current_tokio(Default::default())?;
    let connection = Connection::connect(
        ConnectionOptions::new(Url::from_str(&url)?)
            .identity(identity.clone())
            .connect_timeout(Duration::from_secs(10))
            .grpc_compression(args.grpc_compression)
            .build(),
    )
    .await
    .with_context(|| format!("connecting to {url}"))?;
    let client = Client::new(connection.clone(), ClientOptions::new(NAMESPACE).build())?;

    let tuner = TunerHolder::builder()
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(args.max_concurrent))
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(WORKFLOW_TASK_SLOTS))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(UNUSED_SLOTS))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(UNUSED_SLOTS))
        .build();
    let options = WorkerOptions::new(args.task_queue.clone())
        .register_activities(Echo)
        .register_workflow::<BenchSeq3>()?
        .register_workflow::<BenchPar10>()?
        .register_workflow::<BenchTimers5>()?
        .register_workflow::<BenchIdle>()?
        .max_cached_workflows(args.max_cached)
        .tuner(tuner)
        // On shutdown, in-flight activities get this long to finish before Core cancels them
        // (echo needs far less); without it Core would wait for them indefinitely.
        .graceful_shutdown_period(Duration::from_secs(5))
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;
    let shutdown = worker.shutdown_handle();

    // run() is not Send (workflows use a LocalSet), so it is driven here rather than spawned.
    let run = worker.run();
    tokio::pin!(run);
    let ready = wait_until_polling(&connection, &args.task_queue, &identity);
    tokio::pin!(ready);
    let mut announced = false;
    loop {
        tokio::select! {
            result = &mut run => {
                result?;
                bail!("worker stopped without a signal");
            }
            _ = &mut ready, if !announced => {
                announced = true;
                let mut out = std::io::stdout().lock();
                writeln!(out, "READY")?;
                out.flush()?;
            }
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }

    shutdown();
    match tokio::time::timeout(Duration::from_secs(10), run).await {
        Ok(result) => result?,
        Err(_) => eprintln!("rust_worker: shutdown took over 10 s; exiting anyway"),
    }
    Ok(())
}
