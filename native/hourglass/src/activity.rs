//! A native activity: its Temporal activity type, the pool it runs on, and its body — an async
//! Rust function of an [`ActivityContext`] and its arguments.
//!
//! ```ignore
//! use hourglass::{ActivityContext, ActivityFailure, NativeActivity, Workload};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Order { id: String, lines: u32 }
//!
//! #[derive(Serialize)]
//! struct Invoice { order_id: String, total_cents: u64 }
//!
//! async fn invoice(ctx: ActivityContext, order: Order) -> Result<Invoice, ActivityFailure> {
//!     if order.lines == 0 {
//!         return Err(ActivityFailure::non_retryable("EmptyOrder", "an order without lines"));
//!     }
//!     ctx.heartbeat(order.lines)?;
//!     Ok(Invoice { order_id: order.id, total_cents: 250 * u64::from(order.lines) })
//! }
//!
//! let activity = NativeActivity::new("billing.invoice", Workload::Io, invoice);
//! assert_eq!(activity.name(), "billing.invoice");
//! ```
//!
//! ## Arguments
//!
//! A Temporal activity takes a list of arguments. A typed body ([`NativeActivity::new`]) gets
//! them deserialised (with serde, from JSON values) into its one argument type: no argument is
//! `null` (so `()` or an `Option` fits), one argument is that argument, several are a JSON array
//! (so a tuple fits). [`NativeActivity::with_arguments`] hands the list over as it is.
//!
//! An argument that does not deserialise, and a result that does not serialise, fail the
//! attempt without retry (`InvalidArgument`, `InvalidResult`): retrying cannot fix them.

use crate::context::ActivityContext;
use crate::failure::ActivityFailure;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What a body eventually returns: the result value or a failed attempt.
pub type BodyFuture = Pin<Box<dyn Future<Output = Result<Value, ActivityFailure>> + Send>>;

type Body = Arc<dyn Fn(ActivityContext, Vec<Value>) -> BodyFuture + Send + Sync>;

/// Where a body runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Waits on timers or IO; runs on the `io` pool, which must stay responsive.
    Io,
    /// Burns CPU; runs on the low-priority `cpu` pool. Such a body should yield now and then
    /// (`tokio::task::yield_now().await`) so that a cancellation lands promptly.
    Cpu,
}

/// A native activity, ready to be registered with [`crate::nif!`].
#[derive(Clone)]
pub struct NativeActivity {
    name: &'static str,
    workload: Workload,
    cancel_grace: Duration,
    body: Body,
}

impl std::fmt::Debug for NativeActivity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeActivity")
            .field("name", &self.name)
            .field("workload", &self.workload)
            .field("cancel_grace", &self.cancel_grace)
            .finish_non_exhaustive()
    }
}

impl NativeActivity {
    /// An activity whose body takes one typed input and returns a typed result (see the
    /// module's notes on arguments).
    pub fn new<F, Fut, A, R>(name: &'static str, workload: Workload, body: F) -> Self
    where
        F: Fn(ActivityContext, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ActivityFailure>> + Send + 'static,
        A: DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
    {
        let body = Arc::new(body);
        Self::with_arguments(name, workload, move |context, arguments| {
            let body = body.clone();
            async move {
                let input = typed_input::<A>(name, arguments)?;
                let result = body(context, input).await?;
                serde_json::to_value(result).map_err(|error| {
                    ActivityFailure::non_retryable(
                        "InvalidResult",
                        format!("the result of {name} cannot be serialised: {error}"),
                    )
                })
            }
        })
    }

    /// An activity whose body takes the argument list as it arrived.
    pub fn with_arguments<F, Fut>(name: &'static str, workload: Workload, body: F) -> Self
    where
        F: Fn(ActivityContext, Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, ActivityFailure>> + Send + 'static,
    {
        NativeActivity {
            name,
            workload,
            cancel_grace: Duration::ZERO,
            body: Arc::new(move |context, arguments| Box::pin(body(context, arguments))),
        }
    }

    /// How long the body may go on after its cancellation was requested, to notice it
    /// ([`ActivityContext::cancelled`]) and clean up, before it is dropped. The attempt is
    /// reported cancelled either way. Default: zero, dropped at once.
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// The Temporal activity type.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The pool the body runs on.
    pub fn workload(&self) -> Workload {
        self.workload
    }

    /// See [`NativeActivity::cancel_grace`].
    pub fn grace(&self) -> Duration {
        self.cancel_grace
    }

    /// Starts the body (nothing runs until the future is polled).
    pub fn start(&self, context: ActivityContext, arguments: Vec<Value>) -> BodyFuture {
        (self.body)(context, arguments)
    }
}

fn typed_input<A: DeserializeOwned>(
    name: &str,
    mut arguments: Vec<Value>,
) -> Result<A, ActivityFailure> {
    let value = match arguments.len() {
        0 => Value::Null,
        1 => arguments.pop().unwrap_or(Value::Null),
        _ => Value::Array(arguments),
    };
    serde_json::from_value(value).map_err(|error| {
        ActivityFailure::non_retryable(
            "InvalidArgument",
            format!("the arguments of {name} do not fit its input type: {error}"),
        )
    })
}

/// The argument at `index`, or a non-retryable failure naming what is missing.
pub fn argument<'a>(
    arguments: &'a [Value],
    index: usize,
    what: &str,
) -> Result<&'a Value, ActivityFailure> {
    arguments.get(index).ok_or_else(|| {
        ActivityFailure::non_retryable(
            "InvalidArgument",
            format!("missing argument {}: {what}", index + 1),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ActivityInfo;
    use serde_json::json;

    fn run(activity: &NativeActivity, arguments: Vec<Value>) -> Result<Value, ActivityFailure> {
        let (context, _probe) = ActivityContext::detached(ActivityInfo::for_type(activity.name()));
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(activity.start(context, arguments))
    }

    async fn add((a, b): (i64, i64)) -> Result<i64, ActivityFailure> {
        Ok(a + b)
    }

    #[test]
    fn typed_inputs_follow_the_argument_convention() {
        let sum = NativeActivity::new("t.add", Workload::Io, |_, pair| add(pair));
        assert_eq!(run(&sum, vec![json!(2), json!(3)]), Ok(json!(5)));
        let unit = NativeActivity::new("t.unit", Workload::Io, |_, (): ()| async {
            Ok::<_, ActivityFailure>("done")
        });
        assert_eq!(run(&unit, vec![]), Ok(json!("done")));
        let one = NativeActivity::new("t.one", Workload::Io, |_, text: String| async move {
            Ok::<_, ActivityFailure>(text.len())
        });
        assert_eq!(run(&one, vec![json!("four")]), Ok(json!(4)));
    }

    #[test]
    fn bad_arguments_and_results_fail_without_retry() {
        let sum = NativeActivity::new("t.add", Workload::Io, |_, pair| add(pair));
        let failure = run(&sum, vec![json!("x")]).unwrap_err();
        assert_eq!(failure.error_type, "InvalidArgument");
        assert!(failure.non_retryable);
        assert!(failure.message.contains("t.add"), "{}", failure.message);

        let unserialisable = NativeActivity::new("t.map", Workload::Io, |_, (): ()| async {
            let mut map = std::collections::HashMap::new();
            map.insert((1, 2), 3);
            Ok::<_, ActivityFailure>(map)
        });
        let failure = run(&unserialisable, vec![]).unwrap_err();
        assert_eq!(failure.error_type, "InvalidResult");
        assert!(failure.non_retryable);
    }
}
