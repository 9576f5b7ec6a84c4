//! A native activity body running on tokio, owned by a BEAM process.
//!
//! The owner (the executor process under `Hourglass.ActivityExecutor.DynamicSupervisor`) holds a
//! resource for the task and is monitored by it: when the owner dies for any reason the task is
//! aborted and sends nothing. Exactly one of "the body finished" and "the task was aborted" wins
//! the right to settle the attempt, so a completion is shipped at most once.
//!
//! The body gets an [`ActivityContext`]: its heartbeats go to the owner as
//! `{:"$hourglass_native_heartbeat", id, details}`, and a cancellation request trips its token.
//! An activity with a cancel grace keeps running for that long to clean up; once cancellation
//! was requested, the attempt is reported cancelled whatever the body returns, and the owner
//! learns it from `{:"$hourglass_native_cancelled", id}`.

use crate::activity::{NativeActivity, Workload};
use crate::context::{ActivityContext, CancellationToken};
use crate::failure::{ActivityFailure, Outcome};
use crate::nif::atoms;
use crate::nif::completion::completion_term;
use crate::nif::completion::outcome_has_wide_map;
use crate::nif::deferred_term::{build_or_defer, has_wide_map};
use crate::nif::dirty::{self, dirty_nif};
use crate::nif::panic_log::{self, CaughtPanic};
use crate::nif::task::{decode_task, utf8_string, NativeTask};
use crate::nif::value::{str_to_term, value_to_term};
use crate::registry;
use crate::runtime;
use crate::stats::{self, LiveGuard};
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, LocalPid, Monitor, NifResult, OwnedEnv, Resource, ResourceArc, Term};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::task::AbortHandle;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

enum AbortState {
    NotSpawned,
    Running(AbortHandle),
    Aborted,
}

/// Shared by the resource and the running future.
struct Control {
    settled: AtomicBool,
    abort: Mutex<AbortState>,
    cancellation: CancellationToken,
}

impl Control {
    /// True for the one caller that settles the attempt.
    fn settle(&self) -> bool {
        !self.settled.swap(true, Ordering::AcqRel)
    }

    /// Aborts the body unless it already settled. True when the abort won.
    fn abort(&self) -> bool {
        if !self.settle() {
            return false;
        }
        let mut state = self
            .abort
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let AbortState::Running(handle) = std::mem::replace(&mut *state, AbortState::Aborted) {
            handle.abort();
        }
        stats::count_aborted();
        true
    }

    fn attach(&self, handle: AbortHandle) {
        let mut state = self
            .abort
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match *state {
            // Aborted before the handle arrived: the owner died while we were spawning.
            AbortState::Aborted => handle.abort(),
            _ => *state = AbortState::Running(handle),
        }
    }
}

/// The resource an owner holds for its native task.
pub struct NativeTaskResource {
    control: Arc<Control>,
    id: u64,
    cancel_grace: std::time::Duration,
}

#[rustler::resource_impl]
impl Resource for NativeTaskResource {
    const IMPLEMENTS_DOWN: bool = true;

    fn down<'a>(&'a self, _env: Env<'a>, _pid: LocalPid, _monitor: Monitor) {
        self.control.abort();
    }
}

impl Drop for NativeTaskResource {
    fn drop(&mut self) {
        self.control.abort();
    }
}

/// A task checked and decoded by `native_task_prepare/2` in the caller of
/// `Hourglass.Native.start_child/1`, spawned later by its owner: decoded once, and the
/// supervisor that starts the owner never waits for the decoding.
pub struct PreparedTaskResource {
    prepared: Mutex<Option<Prepared>>,
}

#[rustler::resource_impl]
impl Resource for PreparedTaskResource {}

/// What spawning needs: the decoded task, its activity and its task queue.
type Prepared = (NativeTask, &'static NativeActivity, String);

/// Checks and decodes `task`: `{:ok, prepared}` for `native_task_spawn_prepared/2`, or the
/// `{:error, reason}` that `native_task_spawn/3` would return.
#[rustler::nif]
fn native_task_prepare<'a>(
    env: Env<'a>,
    task: Term<'a>,
    task_queue: Term<'a>,
) -> NifResult<Term<'a>> {
    dirty::run(
        env,
        &[task, task_queue],
        dirty::is_heavy(&[task]),
        c"native_task_prepare",
        native_task_prepare_dirty,
        native_task_prepare_body,
    )
}

dirty_nif!(native_task_prepare_dirty, native_task_prepare_body);

fn native_task_prepare_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    Ok(match check(env, args[0], args[1]) {
        Ok(prepared) => {
            let resource = ResourceArc::new(PreparedTaskResource {
                prepared: Mutex::new(Some(prepared)),
            });
            make_tuple(env, &[atoms::ok().encode(env), resource.encode(env)])
        }
        Err(reason) => make_tuple(env, &[atoms::error().encode(env), reason]),
    })
}

/// Spawns a prepared task, owned by the calling process; see `native_task_spawn/3`. A prepared
/// task spawns once: `{:error, :already_spawned}` after that.
#[rustler::nif]
fn native_task_spawn_prepared<'a>(
    env: Env<'a>,
    prepared: ResourceArc<PreparedTaskResource>,
) -> Term<'a> {
    let taken = prepared
        .prepared
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .take();
    match taken {
        Some(prepared) => spawn(env, prepared),
        None => make_tuple(
            env,
            &[
                atoms::error().encode(env),
                atoms::already_spawned().encode(env),
            ],
        ),
    }
}

/// The decoded task and its activity, or the error term saying why it cannot run.
fn check<'a>(env: Env<'a>, task: Term<'a>, task_queue: Term<'a>) -> Result<Prepared, Term<'a>> {
    let task_queue =
        utf8_string(task_queue).ok_or_else(|| atoms::invalid_task_queue().encode(env))?;
    let task = decode_task(task).map_err(|message| {
        make_tuple(
            env,
            &[
                atoms::invalid_activity_task().encode(env),
                str_to_term(env, &message),
            ],
        )
    })?;
    let activity = registry::find(&task.info.activity_type).ok_or_else(|| {
        make_tuple(
            env,
            &[
                atoms::unknown_activity_type().encode(env),
                str_to_term(env, &task.info.activity_type),
            ],
        )
    })?;
    Ok((task, activity, task_queue))
}

/// Starts the native body for `task`, owned by the calling process.
///
/// Returns `{:ok, resource, id}`, or `{:error, reason}` with reason one of
/// `{:invalid_activity_task, message}`, `{:unknown_activity_type, type}`, `:invalid_task_queue`.
#[rustler::nif]
fn native_task_spawn<'a>(
    env: Env<'a>,
    task: Term<'a>,
    task_queue: Term<'a>,
) -> NifResult<Term<'a>> {
    dirty::run(
        env,
        &[task, task_queue],
        dirty::is_heavy(&[task]),
        c"native_task_spawn",
        native_task_spawn_dirty,
        native_task_spawn_body,
    )
}

dirty_nif!(native_task_spawn_dirty, native_task_spawn_body);

fn native_task_spawn_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    Ok(match check(env, args[0], args[1]) {
        Ok(prepared) => spawn(env, prepared),
        Err(reason) => make_tuple(env, &[atoms::error().encode(env), reason]),
    })
}

fn spawn<'a>(env: Env<'a>, prepared: Prepared) -> Term<'a> {
    let (task, activity, task_queue) = prepared;
    let error = |reason: Term<'a>| make_tuple(env, &[atoms::error().encode(env), reason]);

    let owner = env.pid();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let control = Arc::new(Control {
        settled: AtomicBool::new(false),
        abort: Mutex::new(AbortState::NotSpawned),
        cancellation: CancellationToken::new(),
    });
    let resource = ResourceArc::new(NativeTaskResource {
        control: control.clone(),
        id,
        cancel_grace: activity.grace(),
    });
    if env.monitor(&resource, &owner).is_none() {
        return error(atoms::owner_not_alive().encode(env));
    }

    let live = LiveGuard::start();
    let NativeTask { mut info, input } = task;
    info.task_queue = task_queue;
    let activity_type = info.activity_type.clone();
    let task_token = info.task_token.clone();
    let context = ActivityContext::new(info, control.cancellation.clone(), move |details| {
        send_heartbeat(owner, id, details)
    });
    let future = async move {
        let _live = live;
        // The body is made here, on tokio, not in the NIF: whatever a body's constructor does
        // (and any panic in it) stays off the BEAM's schedulers.
        let body = async move { activity.start(context, input).await };
        let outcome = match panic_log::catch_body(body).await {
            Ok(Ok(value)) => Outcome::Completed(value),
            Ok(Err(failure)) => Outcome::Failed(failure),
            Err(CaughtPanic { message, location }) => {
                stats::count_panicked();
                tracing::error!(
                    activity_type = %activity_type,
                    "native activity panicked: {message} (at {})",
                    location.as_deref().unwrap_or("an unknown location")
                );
                Outcome::Failed(ActivityFailure::new(
                    "Panic",
                    format!("native activity {activity_type} panicked: {message}"),
                ))
            }
        };
        if control.cancellation.is_cancelled() {
            // Cancellation was requested while the body ran: it ended within its grace, and the
            // attempt is reported cancelled whatever it returned.
            if control.abort() {
                send_cancelled(owner, id);
            }
        } else if control.settle() {
            match &outcome {
                Outcome::Completed(_) => stats::count_completed(),
                Outcome::Failed(_) => stats::count_failed(),
            }
            deliver(owner, id, task_token, outcome);
        }
    };
    let handle = match activity.workload() {
        Workload::Io => runtime::io().spawn(future),
        Workload::Cpu => runtime::cpu().spawn(future),
    };
    resource.control.attach(handle.abort_handle());

    make_tuple(
        env,
        &[
            atoms::ok().encode(env),
            resource.encode(env),
            id.encode(env),
        ],
    )
}

/// Requests cancellation of the task, unless its body already finished (then `false`: its
/// completion stands). Without a cancel grace the body is aborted at once: `true`, and the
/// caller reports the cancellation itself. With one, the body's token trips and `:pending` is
/// returned; `{:"$hourglass_native_cancelled", id}` follows when the body ends or its grace
/// runs out, and the caller reports the cancellation then.
#[rustler::nif]
fn native_task_cancel(env: Env, resource: ResourceArc<NativeTaskResource>) -> Term {
    let control = &resource.control;
    if control.settled.load(Ordering::Acquire) {
        return false.encode(env);
    }
    control.cancellation.cancel();
    if resource.cancel_grace.is_zero() {
        return control.abort().encode(env);
    }
    let (control, grace, owner, id) = (
        control.clone(),
        resource.cancel_grace,
        env.pid(),
        resource.id,
    );
    runtime::io().spawn(async move {
        tokio::time::sleep(grace).await;
        if control.abort() {
            send_cancelled(owner, id);
        }
    });
    atoms::pending().encode(env)
}

/// `{:"$hourglass_native_heartbeat", id, details}` to the owner, which records it; `details`
/// are deferred to the owner when they hold a wide map.
fn send_heartbeat(owner: LocalPid, id: u64, details: Vec<Value>) {
    let details = Value::Array(details);
    let _ = OwnedEnv::new().send_and_clear(&owner, |env| {
        let details = build_or_defer(env, has_wide_map(&details), move |env| {
            value_to_term(env, &details)
        });
        make_tuple(
            env,
            &[
                atoms::hourglass_native_heartbeat().encode(env),
                id.encode(env),
                details,
            ],
        )
    });
}

/// `{:"$hourglass_native_cancelled", id}` to the owner, which reports the attempt cancelled.
fn send_cancelled(owner: LocalPid, id: u64) {
    let _ = OwnedEnv::new().send_and_clear(&owner, |env| {
        make_tuple(
            env,
            &[
                atoms::hourglass_native_cancelled().encode(env),
                id.encode(env),
            ],
        )
    });
}

/// `{:"$hourglass_native_completion", id, completion}` to the owner, which converts the value
/// (when it was deferred), encodes it with the task queue's codec and completes the attempt, all
/// in its own process: no process that serves every attempt does that work.
fn deliver(owner: LocalPid, id: u64, task_token: Vec<u8>, outcome: Outcome) {
    let _ = OwnedEnv::new().send_and_clear(&owner, |env| {
        make_tuple(
            env,
            &[
                atoms::hourglass_native_completion().encode(env),
                id.encode(env),
                completion_part(env, task_token, outcome),
            ],
        )
    });
}

/// The completion, deferred to its receiver when it holds a wide map.
fn completion_part<'a>(env: Env<'a>, task_token: Vec<u8>, outcome: Outcome) -> Term<'a> {
    build_or_defer(env, outcome_has_wide_map(&outcome), move |env| {
        completion_term(env, &task_token, &outcome)
    })
}
