//! Benchmark peer: a Temporal Rust SDK (`temporalio-sdk`) worker that serves one activity type,
//! "echo", which returns its argument unchanged.
//!
//! Usage: rust_worker ADDRESS TASK_QUEUE [--max-concurrent N]
//!
//! Prints `READY` on stdout once the server has seen this worker poll the task queue, then runs
//! until SIGTERM or SIGINT, shuts the worker down and exits 0.

use std::{io::Write, str::FromStr, time::Duration};

use anyhow::{Context, anyhow, bail};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
use temporalio_common::protos::temporal::api::{
    enums::v1::TaskQueueType, taskqueue::v1::TaskQueue,
    workflowservice::v1::DescribeTaskQueueRequest,
};
use temporalio_macros::activities;
use temporalio_sdk::{
    Runtime, Worker, WorkerOptions,
    activities::{ActivityContext, ActivityError},
    runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder},
};
use tokio::signal::unix::{SignalKind, signal};
use tonic::IntoRequest;

const NAMESPACE: &str = "default";
/// Slots for the task kinds this worker never runs; only the activity slots matter.
const UNUSED_SLOTS: usize = 1;

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

struct Args {
    address: String,
    task_queue: String,
    max_concurrent: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let usage = "usage: rust_worker ADDRESS TASK_QUEUE [--max-concurrent N]";
    let mut positional = Vec::new();
    let mut max_concurrent = 200;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--max-concurrent" => {
                let n = it.next().context(usage)?;
                max_concurrent = n.parse().with_context(|| format!("bad --max-concurrent {n}"))?;
            }
            "-h" | "--help" => bail!(usage),
            _ => positional.push(arg),
        }
    }
    let [address, task_queue] = <[String; 2]>::try_from(positional).map_err(|_| anyhow!(usage))?;
    if max_concurrent == 0 {
        bail!("--max-concurrent must be > 0");
    }
    Ok(Args { address, task_queue, max_concurrent })
}

/// Waits until the server lists `identity` among the activity pollers of `task_queue`, i.e. until
/// this worker really has a poll outstanding. The SDK has no "polling started" hook.
async fn wait_until_polling(connection: &Connection, task_queue: &str, identity: &str) {
    loop {
        let request = DescribeTaskQueueRequest {
            namespace: NAMESPACE.to_owned(),
            task_queue: Some(TaskQueue { name: task_queue.to_owned(), ..Default::default() }),
            task_queue_type: TaskQueueType::Activity as i32,
            ..Default::default()
        };
        if let Ok(response) =
            connection.workflow_service().describe_task_queue(request.into_request()).await
        {
            if response.get_ref().pollers.iter().any(|p| p.identity == identity) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
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
            .build(),
    )
    .await
    .with_context(|| format!("connecting to {url}"))?;
    let client = Client::new(connection.clone(), ClientOptions::new(NAMESPACE).build())?;

    let tuner = TunerHolder::builder()
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(args.max_concurrent))
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(UNUSED_SLOTS))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(UNUSED_SLOTS))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(UNUSED_SLOTS))
        .build();
    let options = WorkerOptions::new(args.task_queue.clone())
        .register_activities(Echo)
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
