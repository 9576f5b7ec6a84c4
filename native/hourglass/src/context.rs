//! What a native activity body knows and can do while it runs: [`ActivityContext`].
//!
//! The same semantics as an Elixir activity's `Hourglass.Activity` functions: the attempt's
//! info, heartbeats (with details the next attempt can resume from), and cancellation.

use crate::failure::ActivityFailure;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
pub use tokio_util::sync::CancellationToken;

/// The attempt being run: the fields of `Hourglass.Activity.Info` a native body can use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityInfo {
    pub activity_type: String,
    pub activity_id: Option<String>,
    pub task_queue: String,
    pub task_token: Vec<u8>,
    pub workflow_id: Option<String>,
    pub workflow_run_id: Option<String>,
    pub workflow_type: Option<String>,
    pub workflow_namespace: Option<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub heartbeat_timeout: Option<Duration>,
    pub start_to_close_timeout: Option<Duration>,
    /// The details of the last heartbeat of an earlier attempt, to resume from.
    pub heartbeat_details: Vec<Value>,
}

impl ActivityInfo {
    /// Info for a first attempt of `activity_type`, the rest empty: for tests.
    pub fn for_type(activity_type: impl Into<String>) -> Self {
        ActivityInfo {
            activity_type: activity_type.into(),
            attempt: 1,
            ..Default::default()
        }
    }
}

type HeartbeatSink = Box<dyn Fn(Vec<Value>) + Send + Sync>;

/// The context a native body receives. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ActivityContext {
    inner: Arc<Inner>,
}

struct Inner {
    info: ActivityInfo,
    cancellation: CancellationToken,
    heartbeat: HeartbeatSink,
}

impl std::fmt::Debug for ActivityContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityContext")
            .field("info", &self.inner.info)
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl ActivityContext {
    /// A context whose heartbeats go to `heartbeat` and whose cancellation is `cancellation`.
    /// Hourglass makes one per attempt; tests can use [`ActivityContext::detached`].
    pub fn new(
        info: ActivityInfo,
        cancellation: CancellationToken,
        heartbeat: impl Fn(Vec<Value>) + Send + Sync + 'static,
    ) -> Self {
        ActivityContext {
            inner: Arc::new(Inner {
                info,
                cancellation,
                heartbeat: Box::new(heartbeat),
            }),
        }
    }

    /// A context outside any worker, with a [`ContextProbe`] that records its heartbeats and
    /// can cancel it: for unit tests of activity bodies with `cargo test`.
    pub fn detached(info: ActivityInfo) -> (Self, ContextProbe) {
        let probe = ContextProbe {
            heartbeats: Arc::default(),
            cancellation: CancellationToken::new(),
        };
        let recorded = probe.heartbeats.clone();
        let context = ActivityContext::new(info, probe.cancellation.clone(), move |details| {
            recorded
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .push(details)
        });
        (context, probe)
    }

    /// The attempt being run.
    pub fn info(&self) -> &ActivityInfo {
        &self.inner.info
    }

    /// Tells the server the attempt is alive and records `details`, which the next attempt
    /// finds in [`ActivityContext::last_heartbeat`]. Core throttles heartbeats on their way to
    /// the server, but each call is still a message to the owning BEAM process: heartbeat per
    /// unit of progress (a file, a chunk), not per byte.
    ///
    /// Fails once cancellation was requested (so `ctx.heartbeat(progress)?` stops the body,
    /// like `Hourglass.Activity.heartbeat/1` raising), or when `details` cannot be serialised.
    pub fn heartbeat<T: Serialize>(&self, details: T) -> Result<(), ActivityFailure> {
        if self.is_cancelled() {
            return Err(ActivityFailure::cancelled());
        }
        let details = serde_json::to_value(details).map_err(|error| {
            ActivityFailure::non_retryable(
                "InvalidHeartbeatDetails",
                format!("heartbeat details cannot be serialised: {error}"),
            )
        })?;
        (self.inner.heartbeat)(vec![details]);
        Ok(())
    }

    /// The details of the last heartbeat of an earlier attempt, if there was one and it has the
    /// type asked for.
    pub fn last_heartbeat<T: DeserializeOwned>(&self) -> Option<T> {
        let details = self.inner.info.heartbeat_details.first()?;
        serde_json::from_value(details.clone()).ok()
    }

    /// True once the server, the worker or a test asked this attempt to stop.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancellation.is_cancelled()
    }

    /// Resolves when cancellation is requested. A body that wants to clean up selects on it;
    /// it has the activity's `cancel_grace` to do so before it is dropped.
    pub async fn cancelled(&self) {
        self.inner.cancellation.cancelled().await
    }

    /// The token behind [`ActivityContext::cancelled`], to hand to code that takes one.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.inner.cancellation.clone()
    }
}

/// The test side of a [`ActivityContext::detached`] context.
#[derive(Debug, Clone)]
pub struct ContextProbe {
    heartbeats: Arc<Mutex<Vec<Vec<Value>>>>,
    cancellation: CancellationToken,
}

impl ContextProbe {
    /// The details of every heartbeat so far, in order.
    pub fn heartbeats(&self) -> Vec<Vec<Value>> {
        self.heartbeats
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Requests cancellation, as the server would.
    pub fn cancel(&self) {
        self.cancellation.cancel()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn heartbeats_are_recorded_until_cancelled() {
        let mut info = ActivityInfo::for_type("t");
        info.heartbeat_details = vec![json!({"done": 3})];
        let (context, probe) = ActivityContext::detached(info);
        #[derive(serde::Deserialize)]
        struct Progress {
            done: u32,
        }
        assert_eq!(
            context.last_heartbeat::<Progress>().map(|p| p.done),
            Some(3)
        );
        assert!(context.last_heartbeat::<String>().is_none());

        context.heartbeat(json!({"done": 4})).unwrap();
        assert_eq!(probe.heartbeats(), vec![vec![json!({"done": 4})]]);
        assert!(!context.is_cancelled());
        probe.cancel();
        assert!(context.is_cancelled());
        let failure = context.heartbeat(5).unwrap_err();
        assert_eq!(failure, ActivityFailure::cancelled());
        assert_eq!(probe.heartbeats().len(), 1);
    }

    #[test]
    fn cancelled_resolves_on_request() {
        let (context, probe) = ActivityContext::detached(ActivityInfo::for_type("t"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let waiter = tokio::spawn({
                let context = context.clone();
                async move { context.cancelled().await }
            });
            probe.cancel();
            waiter.await.unwrap();
        });
    }
}
