//! NIFs around a Core worker: start, poll, complete, heartbeat, shut down.
//!
//! Every call returns at once; the network conversation happens on the `io` runtime and its
//! outcome arrives as a message:
//!
//! - `worker_start/3` → `{:"$hourglass_worker_started", ref, {:ok, worker} | {:error, message}}`
//! - `worker_poll/2` → `{:"$hourglass_activity_start", task}` and
//!   `{:"$hourglass_activity_cancel", token, reason}` for each task, then
//!   `{:"$hourglass_worker_stopped", :ok | {:error, message}}` once Core has shut down.
//! - `worker_complete/3` → `{:"$hourglass_completion_failed", token, message}` when Core
//!   refuses the completion; an accepted one is not announced (a message per attempt would wake
//!   the worker process for nothing): `worker_completions_pending/1` says which are still out.
//! - For a worker with workflows, `worker_poll/2` also sends
//!   `{:"$hourglass_activation", _, token}` for each workflow activation (see
//!   [`crate::nif::workflow_activation_term`]); `worker_complete_activation/4` answers one and
//!   sends nothing back (Core refusing the commands fails the task and logs a warning).

use crate::nif::activity_task_term::{cancel_message, start_message, StartPayloads};
use crate::nif::atoms::named as atom;
use crate::nif::core_completion::decode_completion;
use crate::nif::dirty::{self, dirty_nif};
use crate::nif::payload_term::{terms_to_payloads, Form};
use crate::nif::term_map::TermMap;
use crate::nif::value::str_to_term;
use crate::nif::worker_settings::{
    decode_payload_form, decode_payload_limit, decode_worker_settings,
};
use crate::nif::workflow_activation_term::{activation_message, DecodedActivation};
use crate::nif::workflow_commands::decode_activation_completion;
use crate::runtime;
use crate::temporal::failure::ApplicationFailure;
use crate::temporal::issuers::Issuers;
use crate::temporal::payload_limit::PayloadLimit;
use crate::temporal::worker::{self as core_worker, CoreWorker};
use rustler::types::tuple::make_tuple;
use rustler::{Binary, Encoder, Env, LocalPid, NifResult, OwnedEnv, Resource, ResourceArc, Term};
use std::sync::{Arc, LazyLock};
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::activity_task::activity_task;
use temporalio_common::protos::coresdk::workflow_activation::workflow_activation_job;
use temporalio_common::protos::coresdk::workflow_activation::WorkflowActivation;
use temporalio_common::protos::coresdk::workflow_commands::{
    query_result, workflow_command, QueryResult, WorkflowCommand,
};
use temporalio_common::protos::coresdk::workflow_completion::{
    self, workflow_activation_completion, WorkflowActivationCompletion,
};
use temporalio_common::protos::coresdk::{ActivityHeartbeat, ActivityTaskCompletion};
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_sdk_core::PollError;

/// Which Core worker issued each task in flight: completions and heartbeats go there, whichever
/// worker they were handed to (see [`crate::temporal::issuers`]); those of a task no live Core
/// worker issued go to the server by task token (see [`crate::temporal::orphans`]).
static ISSUERS: LazyLock<Issuers<CoreWorker>> = LazyLock::new(Issuers::default);

/// The Core worker that issued `token`, unless it is gone or abandoned (its worker process died
/// and it stopped waiting): one may outlive its abandonment for as long as a BEAM process that
/// once held its resource keeps the term as garbage.
fn live_issuer(token: &[u8]) -> Option<Arc<CoreWorker>> {
    ISSUERS
        .issuer(token)
        .filter(|core| !core.abandoned.is_cancelled())
}

/// A Core worker, shared by the worker process and every completion in flight.
pub struct WorkerResource {
    pub(crate) core: Arc<CoreWorker>,
    /// Payloads of Start tasks reach Elixir as payloads, for the worker's payload codec.
    pub(crate) payload_form: Form,
    /// Results, failures and heartbeat details over it are not sent as they are.
    pub(crate) payload_limit: PayloadLimit,
    /// Whether it polls for workflow activations too.
    pub(crate) workflows: bool,
}

#[rustler::resource_impl]
impl Resource for WorkerResource {
    const IMPLEMENTS_DOWN: bool = true;

    /// The worker process exited. If it died without shutting its Core worker down, stop
    /// polling, so that no task is taken for a process that cannot run it.
    ///
    /// Core's shutdown waits for every attempt the worker handed out, and with the process gone
    /// nothing may ever report some of them (an executor killed now is seen by no one): after
    /// `shutdown_patience` the Core worker is abandoned instead of waiting forever.
    fn down<'a>(&'a self, _env: Env<'a>, _pid: LocalPid, _monitor: rustler::Monitor) {
        tracing::debug!("a worker process exited; its Core worker stops polling");
        let _entered = runtime::io().enter();
        self.core.worker.initiate_shutdown();
        let (abandoned, patience) = (self.core.abandoned.clone(), self.core.shutdown_patience);
        runtime::io().spawn(async move {
            tokio::time::sleep(patience).await;
            abandoned.cancel();
        });
    }
}

fn error<'a>(env: Env<'a>, message: &str) -> Term<'a> {
    make_tuple(env, &[atom(env, "error"), str_to_term(env, message)])
}

fn ok<'a>(env: Env<'a>) -> Term<'a> {
    atom(env, "ok")
}

/// Starts a worker: connects, creates it and validates its namespace, then answers `reply_to`.
#[rustler::nif]
fn worker_start<'a>(
    env: Env<'a>,
    settings: Term<'a>,
    reply_to: LocalPid,
    reference: Term<'a>,
) -> Term<'a> {
    let decoded = TermMap::new(settings, "worker settings").and_then(|map| {
        Ok((
            decode_worker_settings(&map)?,
            decode_payload_form(&map),
            decode_payload_limit(&map)?,
        ))
    });
    let (settings, payload_form, payload_limit) = match decoded {
        Ok(decoded) => decoded,
        Err(message) => return error(env, &message),
    };
    let workflows = settings.workflows;
    let mut owned = OwnedEnv::new();
    let reference = owned.save(reference);
    runtime::io().spawn(async move {
        let started = core_worker::start(&settings).await;
        let _ = owned.send_and_clear(&reply_to, |env| {
            let outcome = match started {
                Ok(core) => {
                    let metrics = core
                        .runtime
                        .metrics_address
                        .map(|address| str_to_term(env, &address.to_string()))
                        .unwrap_or_else(|| rustler::types::atom::nil().encode(env));
                    let resource = ResourceArc::new(WorkerResource {
                        core: Arc::new(core),
                        payload_form,
                        payload_limit,
                        workflows,
                    });
                    make_tuple(env, &[ok(env), resource.encode(env), metrics])
                }
                Err(message) => error(env, &message),
            };
            make_tuple(
                env,
                &[
                    atom(env, "$hourglass_worker_started"),
                    reference.load(env),
                    outcome,
                ],
            )
        });
    });
    ok(env)
}

/// Starts the poll loop, which sends each task to `worker_pid` until Core shuts down.
#[rustler::nif]
fn worker_poll(env: Env, worker: ResourceArc<WorkerResource>, worker_pid: LocalPid) -> Term {
    if env.monitor(&worker, &worker_pid).is_none() {
        return error(env, "the worker process is not alive");
    }
    let core = worker.core.clone();
    let form = worker.payload_form;
    if worker.workflows {
        poll_activations(core.clone(), form, worker_pid);
    }
    runtime::io().spawn(async move {
        let mut owned = OwnedEnv::new();
        let outcome = loop {
            let polled = tokio::select! {
                polled = core.worker.poll_activity_task() => polled,
                () = core.abandoned.cancelled() => break Err("the worker process is gone".into()),
            };
            match polled {
                Ok(task) => {
                    let token = task.task_token;
                    match task.variant {
                        Some(activity_task::Variant::Start(start)) => {
                            // Decoded here, on tokio: a Start whose payloads cannot be decoded
                            // never reaches Elixir.
                            match StartPayloads::decode(&start, form) {
                                Ok(payloads) => {
                                    tracing::debug!(
                                        activity_type = start.activity_type,
                                        activity_id = start.activity_id,
                                        attempt = start.attempt,
                                        task = token_tag(&token),
                                        "activity task received"
                                    );
                                    ISSUERS.issued(&token, &core);
                                    let activity_type = start.activity_type.clone();
                                    let undelivered = token.clone();
                                    let sent = owned.send_and_clear(&worker_pid, |env| {
                                        start_message(env, token, start, payloads)
                                    });
                                    // The worker process is gone: nothing will run the
                                    // attempt, and Core holds a slot until it is completed.
                                    if sent.is_err() {
                                        fail_attempt(
                                            &core,
                                            undelivered,
                                            "WorkerGone",
                                            format!(
                                                "the worker process was gone when activity \
                                                 {activity_type} arrived"
                                            ),
                                            false,
                                        )
                                        .await
                                    }
                                }
                                Err(problem) => {
                                    tracing::warn!(
                                        activity_type = start.activity_type,
                                        "cannot decode the activity's payloads: {problem}"
                                    );
                                    // Not retryable: the same payloads would fail again.
                                    fail_attempt(
                                        &core,
                                        token,
                                        "PayloadDecodingError",
                                        format!(
                                            "cannot decode the input of activity {}: {problem}",
                                            start.activity_type
                                        ),
                                        true,
                                    )
                                    .await
                                }
                            }
                        }
                        Some(activity_task::Variant::Cancel(cancel)) => {
                            tracing::debug!(reason = cancel.reason, "activity cancel received");
                            let _ = owned.send_and_clear(&worker_pid, |env| {
                                cancel_message(env, &token, &cancel)
                            });
                        }
                        None => tracing::warn!("Core returned an activity task without a variant"),
                    }
                }
                Err(PollError::ShutDown) => break Ok(()),
                Err(other) => {
                    tracing::error!("activity polling stopped: {other}");
                    core.worker.initiate_shutdown();
                    break Err(other.to_string());
                }
            }
        };
        // Core finishes shutting down once every outstanding activity has been completed. If
        // the worker process died, or polling failed, some may never be, not through this Core
        // worker: give up when a live worker process would have stopped waiting too. Their
        // executors, which outlive the worker, report to the server by task token when they end.
        let gave_up = core.abandoned.is_cancelled()
            || tokio::time::timeout(core.shutdown_patience, core.worker.shutdown())
                .await
                .is_err();
        tracing::debug!(
            task_queue = core.task_queue,
            "activity polling ended: {outcome:?}"
        );
        if gave_up {
            tracing::warn!(
                task_queue = core.task_queue,
                "Core worker shutdown gave up with activities still outstanding; their \
                 completions will be reported by task token"
            );
        }
        let _ = owned.send_and_clear(&worker_pid, |env| {
            let outcome = match &outcome {
                Ok(()) => ok(env),
                Err(message) => error(env, message),
            };
            make_tuple(env, &[atom(env, "$hourglass_worker_stopped"), outcome])
        });
    });
    ok(env)
}

/// The workflow poll loop: sends each activation to `worker_pid` until Core shuts down. Every
/// activation must be answered, or its run is stuck: one that cannot reach a run (its payloads
/// cannot be decoded, or the worker process is gone) is answered here.
fn poll_activations(core: Arc<CoreWorker>, form: Form, worker_pid: LocalPid) {
    poll_activations_then(core, form, worker_pid, None);
}

/// [`poll_activations`], then, once Core has shut down, `done` to `worker_pid` (if any).
pub(crate) fn poll_activations_then(
    core: Arc<CoreWorker>,
    form: Form,
    worker_pid: LocalPid,
    done: Option<&'static str>,
) {
    runtime::io().spawn(async move {
        let mut owned = OwnedEnv::new();
        loop {
            let polled = tokio::select! {
                polled = core.worker.poll_workflow_activation() => polled,
                () = core.abandoned.cancelled() => break,
            };
            let activation = match polled {
                Ok(activation) => activation,
                Err(PollError::ShutDown) => break,
                // Core shuts down after such an error; polling goes on, to answer the
                // evictions it still sends, until it says it has shut down.
                Err(other) => {
                    tracing::error!("workflow polling failed: {other}");
                    core.worker.initiate_shutdown();
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let run_id = activation.run_id.clone();
            let unrun = Unrun::of(&activation);
            let problem = match DecodedActivation::decode(activation, form) {
                Ok(decoded) => {
                    // Open before it is sent: the answer may come back before send returns.
                    let token = core.open_activations.open(&run_id);
                    let sent = owned
                        .send_and_clear(&worker_pid, |env| activation_message(env, decoded, token));
                    sent.is_err().then(|| {
                        core.open_activations.close(&run_id, token);
                        "the worker process is gone".to_string()
                    })
                }
                Err(problem) => Some(format!(
                    "cannot decode the activation's payloads: {problem}"
                )),
            };
            if let Some(problem) = problem {
                answer_unrun(&core, run_id, unrun, problem).await;
            }
        }
        if let Some(done) = done {
            // Every activation was answered: Core's shutdown has nothing left to wait for.
            let finished = std::time::Duration::from_secs(5);
            let _ = tokio::time::timeout(finished, core.worker.shutdown()).await;
            let _ = owned.send_and_clear(&worker_pid, |env| atom(env, done));
        }
    });
}

/// What an activation no run will see asks for.
enum Unrun {
    /// Only evictions: nothing to do.
    Eviction,
    /// Only queries (they come alone): each is answered with an error, and the run goes on.
    Queries(Vec<String>),
    /// Anything else fails the workflow task: Core evicts the run, the server retries the task.
    Task,
}

impl Unrun {
    fn of(activation: &WorkflowActivation) -> Self {
        use workflow_activation_job::Variant;
        let variants = || activation.jobs.iter().map(|job| job.variant.as_ref());
        if variants().all(|job| matches!(job, Some(Variant::RemoveFromCache(_)))) {
            Unrun::Eviction
        } else if variants().all(|job| matches!(job, Some(Variant::QueryWorkflow(_)))) {
            Unrun::Queries(
                variants()
                    .filter_map(|job| match job {
                        Some(Variant::QueryWorkflow(query)) => Some(query.query_id.clone()),
                        _ => None,
                    })
                    .collect(),
            )
        } else {
            Unrun::Task
        }
    }
}

fn failed_task(run_id: String, message: String) -> WorkflowActivationCompletion {
    WorkflowActivationCompletion {
        run_id,
        status: Some(workflow_activation_completion::Status::Failed(
            workflow_completion::Failure {
                failure: Some(Failure {
                    message,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// Answers an activation no run will see (see [`Unrun`]).
async fn answer_unrun(core: &CoreWorker, run_id: String, unrun: Unrun, problem: String) {
    let success = |commands| {
        Some(workflow_activation_completion::Status::Successful(
            workflow_completion::Success {
                commands,
                ..Default::default()
            },
        ))
    };
    let completion = match unrun {
        Unrun::Eviction => WorkflowActivationCompletion {
            run_id,
            status: success(Vec::new()),
            ..Default::default()
        },
        Unrun::Queries(query_ids) => WorkflowActivationCompletion {
            run_id,
            status: success(
                query_ids
                    .into_iter()
                    .map(|query_id| WorkflowCommand {
                        variant: Some(workflow_command::Variant::RespondToQuery(QueryResult {
                            query_id,
                            variant: Some(query_result::Variant::Failed(Failure {
                                message: problem.clone(),
                                ..Default::default()
                            })),
                        })),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        },
        Unrun::Task => {
            tracing::warn!(
                run_id,
                "a workflow activation failed before it ran: {problem}"
            );
            failed_task(run_id, problem)
        }
    };
    if let Err(error) = core.worker.complete_workflow_activation(completion).await {
        tracing::error!("cannot answer a workflow activation: {error}");
    }
}

/// Answers the workflow activation of `run_id` that came with `token` (see
/// [`crate::nif::workflow_commands`] for the answer's shape). Returns `:ok` once it is on its
/// way; an answer that cannot be sent (malformed, a value that cannot be encoded or is over the
/// payload size limit) is refused at once with `{:error, message}`, and the caller fails the
/// task instead. An answer to an activation that is not open — answered already, or an earlier
/// one than the run's open activation — is refused with `{:error, :already_answered}` (see
/// [`crate::temporal::open_activations`]). Nobody is told when Core takes the answer; if Core
/// refuses the commands, the task is failed here and a warning logged.
#[rustler::nif]
fn worker_complete_activation<'a>(
    env: Env<'a>,
    worker: Term<'a>,
    run_id: Term<'a>,
    token: Term<'a>,
    completion: Term<'a>,
) -> NifResult<Term<'a>> {
    dirty::run(
        env,
        &[worker, run_id, token, completion],
        dirty::is_heavy(&[completion]),
        c"worker_complete_activation",
        worker_complete_activation_dirty,
        worker_complete_activation_body,
    )
}

dirty_nif!(
    worker_complete_activation_dirty,
    worker_complete_activation_body
);

fn worker_complete_activation_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let worker: ResourceArc<WorkerResource> = args[0].decode()?;
    let run_id: String = args[1].decode()?;
    let token: u64 = args[2].decode()?;
    let completion =
        match decode_activation_completion(run_id.clone(), args[3], &worker.payload_limit) {
            Ok(completion) => completion,
            Err(message) => return Ok(error(env, &message)),
        };
    let core = worker.core.clone();
    if !core.open_activations.close(&run_id, token) {
        return Ok(make_tuple(
            env,
            &[atom(env, "error"), atom(env, "already_answered")],
        ));
    }
    runtime::io().spawn(async move {
        let successful = matches!(
            completion.status,
            Some(workflow_activation_completion::Status::Successful(_))
        );
        match core.worker.complete_workflow_activation(completion).await {
            Ok(()) => {}
            // Core refuses a malformed answer without taking it: the activation is still open,
            // and a failed task (which Core always takes) closes it.
            Err(refusal) if successful => {
                tracing::warn!(
                    task_queue = core.task_queue,
                    run_id,
                    "Core refused the commands of a workflow activation; the task is failed: \
                     {refusal}"
                );
                let failed = failed_task(
                    run_id,
                    format!("Core refused the workflow's commands: {refusal}"),
                );
                if let Err(error) = core.worker.complete_workflow_activation(failed).await {
                    tracing::error!("cannot answer a workflow activation: {error}");
                }
            }
            Err(refusal) => tracing::warn!(
                task_queue = core.task_queue,
                run_id,
                "Core refused the answer of a workflow activation: {refusal}"
            ),
        }
    });
    Ok(ok(env))
}

/// Completes an attempt that never reaches Elixir (its payloads cannot be decoded, or the
/// worker process is gone) as failed, so that Core frees its slot and the server knows.
async fn fail_attempt(
    core: &CoreWorker,
    task_token: Vec<u8>,
    error_type: &str,
    message: String,
    non_retryable: bool,
) {
    let failure = ApplicationFailure {
        error_type: error_type.into(),
        message,
        non_retryable,
        ..Default::default()
    };
    let completion = ActivityTaskCompletion {
        task_token,
        result: Some(ActivityExecutionResult::fail(failure.into_proto())),
    };
    let token = completion.task_token.clone();
    if let Err(error) = core.worker.complete_activity_task(completion).await {
        tracing::error!("cannot report an attempt that never ran: {error}");
    }
    ISSUERS.completed(&token);
}

/// Reports a completion to Core. Returns `:ok` once it is on its way; `reply_to` gets
/// `{:"$hourglass_completion_failed", token, message}` if Core refuses it. Until Core has
/// answered, `worker_completions_pending/1` lists the token.
#[rustler::nif]
fn worker_complete<'a>(
    env: Env<'a>,
    worker: Term<'a>,
    completion: Term<'a>,
    reply_to: Term<'a>,
) -> NifResult<Term<'a>> {
    dirty::run(
        env,
        &[worker, completion, reply_to],
        dirty::is_heavy(&[completion]),
        c"worker_complete",
        worker_complete_dirty,
        worker_complete_body,
    )
}

dirty_nif!(worker_complete_dirty, worker_complete_body);

fn worker_complete_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let worker: ResourceArc<WorkerResource> = args[0].decode()?;
    let reply_to: LocalPid = args[2].decode()?;
    let completion = match decode_completion(args[1], &worker.payload_limit) {
        Ok(completion) => completion,
        Err(message) => return Ok(error(env, &message)),
    };
    let issuer = live_issuer(&completion.task_token);
    let orphans = worker.core.orphans.clone();
    runtime::io().spawn(async move {
        let token = completion.task_token.clone();
        let outcome = match issuer {
            Some(core) => core
                .worker
                .complete_activity_task(completion)
                .await
                .map_err(|failure| failure.to_string()),
            None => {
                tracing::warn!(
                    "no live Core worker tracks this attempt (the one that handed it out is gone \
                     with its worker process, or the attempt was completed already); its \
                     completion goes to the server by task token"
                );
                match orphans {
                    Some(orphans) => orphans.complete(completion).await.map_err(|status| {
                        format!(
                            "the server refused the completion of an attempt whose worker is \
                             gone: {}",
                            status.message()
                        )
                    }),
                    None => Err("this worker has no server to report the attempt to".into()),
                }
            }
        };
        ISSUERS.completed(&token);
        tracing::debug!(
            task = token_tag(&token),
            "activity completion reported: {outcome:?}"
        );
        if let Err(message) = outcome {
            let _ = OwnedEnv::new().send_and_clear(&reply_to, |env| {
                let mut binary = rustler::NewBinary::new(env, token.len());
                binary.as_mut_slice().copy_from_slice(&token);
                make_tuple(
                    env,
                    &[
                        atom(env, "$hourglass_completion_failed"),
                        Binary::from(binary).to_term(env),
                        str_to_term(env, &message),
                    ],
                )
            });
        }
    });
    Ok(ok(env))
}

/// A short tag for a task token in debug lines: the same for the task's arrival and its
/// completion.
fn token_tag(token: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Those of `tokens` (task tokens handed out by a Core worker) whose completion Core has not
/// answered yet: still running, on their way, or lost before they were sent.
#[rustler::nif]
fn worker_completions_pending<'a>(env: Env<'a>, tokens: Vec<Binary<'a>>) -> Term<'a> {
    ISSUERS
        .pending(tokens.iter().map(|token| token.as_slice()))
        .into_iter()
        .map(|pending| {
            let mut binary = rustler::NewBinary::new(env, pending.len());
            binary.as_mut_slice().copy_from_slice(pending);
            Binary::from(binary).to_term(env)
        })
        .collect::<Vec<_>>()
        .encode(env)
}

/// Records a heartbeat; Core throttles and sends it. `details` is a list of terms; details
/// that cannot be encoded or are over the payload size limit are refused with
/// `{:error, message}`.
#[rustler::nif]
fn worker_heartbeat<'a>(
    env: Env<'a>,
    worker: Term<'a>,
    task_token: Term<'a>,
    details: Term<'a>,
) -> NifResult<Term<'a>> {
    dirty::run(
        env,
        &[worker, task_token, details],
        dirty::is_heavy(&[details]),
        c"worker_heartbeat",
        worker_heartbeat_dirty,
        worker_heartbeat_body,
    )
}

dirty_nif!(worker_heartbeat_dirty, worker_heartbeat_body);

fn worker_heartbeat_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let worker: ResourceArc<WorkerResource> = args[0].decode()?;
    let task_token: Binary = args[1].decode()?;
    let details = match terms_to_payloads(args[2]) {
        Ok(details) => details,
        Err(message) => return Ok(error(env, &format!("heartbeat details: {message}"))),
    };
    if let Err(too_large) = worker
        .payload_limit
        .check_payloads("the heartbeat details", &details)
    {
        return Ok(error(env, &too_large.to_string()));
    }
    let heartbeat = ActivityHeartbeat {
        task_token: task_token.as_slice().to_vec(),
        details,
    };
    let _entered = runtime::io().enter();
    match live_issuer(&heartbeat.task_token) {
        Some(core) => core.worker.record_activity_heartbeat(heartbeat),
        None => {
            if let Some(orphans) = &worker.core.orphans {
                orphans.heartbeat(heartbeat)
            }
        }
    }
    Ok(ok(env))
}

/// Stops polling; in-flight activities get the graceful period, then Cancel tasks.
#[rustler::nif]
fn worker_initiate_shutdown(env: Env, worker: ResourceArc<WorkerResource>) -> Term {
    // Core spawns onto the current tokio runtime; enter ours (this never blocks).
    let _entered = runtime::io().enter();
    worker.core.worker.initiate_shutdown();
    ok(env)
}
