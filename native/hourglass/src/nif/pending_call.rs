//! Client calls and heavy payload conversions in flight: the work runs on tokio and answers its
//! caller with a message; the caller holds a [`PendingCall`] resource for as long as it waits.
//!
//! A caller that stops waiting — a timeout, or the process died — must not leave the work
//! running (a `result/3` long-poll would go on for as long as the activity runs) nor get an
//! answer later, into a mailbox that nothing will read. Dropping the resource (the caller lets
//! go of it, or the caller's heap is freed with it) or `client_abandon/1` aborts the work, and
//! from then on nothing is sent: the answer is sent under the same lock that abandoning takes.

use crate::nif::atoms::named as atom;
use crate::nif::deferred_term::defer;
use crate::{runtime, stats};
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, LocalPid, OwnedEnv, Resource, ResourceArc, Term};
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

/// A client call whose answer has not been given up on.
pub struct PendingCall {
    state: Arc<CallState>,
}

#[derive(Default)]
struct CallState {
    /// Set once the caller stopped waiting; held while the answer is sent.
    abandoned: Mutex<bool>,
    work: Mutex<Option<AbortHandle>>,
}

impl CallState {
    fn abandon(&self) {
        *self
            .abandoned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        if let Some(work) = self
            .work
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        {
            work.abort();
        }
    }
}

#[rustler::resource_impl]
impl Resource for PendingCall {}

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.state.abandon();
    }
}

/// Runs `work` on the io runtime and sends its answer to `reply_to` as
/// `{:"$hourglass_client_reply", reference, answer}`; returns `{:ok, pending}` for the caller
/// to hold while it waits. The answer is deferred: `answer` builds it in the receiving process
/// (see [`crate::nif::deferred_term`]), because results and descriptions carry values of any
/// width, which are not made on tokio threads.
pub(crate) fn reply_later<'e, T, F, A>(
    env: Env<'e>,
    reply_to: LocalPid,
    reference: Term,
    work: F,
    answer: A,
) -> Term<'e>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
    A: for<'a> FnOnce(Env<'a>, T) -> Term<'a> + Send + 'static,
{
    answer_later(
        env,
        runtime::io(),
        stats::Held::client_call,
        reply_to,
        reference,
        work,
        move |env, outcome| defer(env, move |env| answer(env, outcome)),
    )
}

/// Runs the CPU-bound `work` on the cpu runtime (threads at a low OS priority) and sends its
/// answer as [`reply_later`] does. `answer` makes the answer on the tokio thread, so it must hold
/// no map of more than 32 keys (see [`crate::nif::deferred_term`]). Abandoning stops `work`
/// only before it starts (it has no await point); once started, it runs to its end and its
/// answer is dropped.
pub(crate) fn compute_later<'e, T, W, A>(
    env: Env<'e>,
    reply_to: LocalPid,
    reference: Term,
    work: W,
    answer: A,
) -> Term<'e>
where
    T: Send + 'static,
    W: FnOnce() -> T + Send + 'static,
    A: for<'a> FnOnce(Env<'a>, T) -> Term<'a> + Send + 'static,
{
    answer_later(
        env,
        runtime::cpu(),
        stats::Held::conversion,
        reply_to,
        reference,
        async move { work() },
        answer,
    )
}

fn answer_later<'e, T, F, A>(
    env: Env<'e>,
    runtime: &Handle,
    counted: fn() -> stats::Held,
    reply_to: LocalPid,
    reference: Term,
    work: F,
    answer: A,
) -> Term<'e>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
    A: for<'a> FnOnce(Env<'a>, T) -> Term<'a> + Send + 'static,
{
    let mut owned = OwnedEnv::new();
    let reference = owned.save(reference);
    let state = Arc::new(CallState::default());
    let sender = state.clone();
    let task = runtime.spawn(async move {
        let _live = counted();
        let outcome = work.await;
        let abandoned = sender
            .abandoned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *abandoned {
            return;
        }
        let _ = owned.send_and_clear(&reply_to, |env| {
            make_tuple(
                env,
                &[
                    atom(env, "$hourglass_client_reply"),
                    reference.load(env),
                    answer(env, outcome),
                ],
            )
        });
    });
    *state
        .work
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(task.abort_handle());
    let pending = ResourceArc::new(PendingCall { state });
    make_tuple(env, &[atom(env, "ok"), pending.encode(env)])
}

/// The caller stops waiting: the work is aborted, and once this returns no answer is sent.
#[rustler::nif]
fn client_abandon(env: Env, pending: ResourceArc<PendingCall>) -> Term {
    pending.state.abandon();
    atom(env, "ok")
}
