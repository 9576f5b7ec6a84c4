//! The NIF the ExUnit suite loads (`config/test.exs`): Hourglass's built-in native activities and
//! ones that misbehave on purpose, to prove how the executor treats a panicking body and what a
//! body sees through its context. A crate of its own rather than a feature of `hourglass`, so
//! that nothing that ships contains them and the suite's NIF shares the workspace's one build of
//! the `hourglass` crate.

use hourglass::tokio;
use hourglass::{ActivityFailure, NativeActivity, Workload};
use serde_json::{json, Value};
use std::time::Duration;

hourglass::nif!(
    panic(),
    panic_detached(),
    heartbeats(),
    cleanup(),
    reflect(),
    log(),
    fail()
);

/// Panics with its first argument as the message.
fn panic() -> NativeActivity {
    NativeActivity::with_arguments(
        "hourglass.test.panic",
        Workload::Io,
        |_, arguments| async move {
            let message = panic_message(&arguments);
            panic!("{message}")
        },
    )
}

/// The first argument, the message a test activity panics with.
fn panic_message(arguments: &[Value]) -> String {
    arguments
        .first()
        .and_then(Value::as_str)
        .unwrap_or("boom")
        .to_owned()
}

/// Starts a tokio task of its own that panics with its first argument as the message (no
/// executor catches that one), waits for it to end, and completes.
fn panic_detached() -> NativeActivity {
    NativeActivity::with_arguments(
        "hourglass.test.panic_detached",
        Workload::Io,
        |_, arguments| async move {
            let message = panic_message(&arguments);
            let detached = tokio::spawn(async move { panic!("{message}") });
            let panicked = detached.await.is_err_and(|error| error.is_panic());
            Ok::<_, ActivityFailure>(json!({ "panicked": panicked }))
        },
    )
}

/// Heartbeats `count` times, `every` ms apart, with its progress; resumes from the last heartbeat
/// of an earlier attempt; returns what it saw of its info.
fn heartbeats() -> NativeActivity {
    NativeActivity::new(
        "hourglass.test.heartbeats",
        Workload::Io,
        |context, (count, every): (u32, u64)| async move {
            let start = context.last_heartbeat::<u32>().unwrap_or(0);
            for done in start..count {
                context.heartbeat(done + 1)?;
                tokio::time::sleep(Duration::from_millis(every)).await;
            }
            let info = context.info();
            Ok::<_, ActivityFailure>(json!({
                "resumed_from": start,
                "attempt": info.attempt,
                "activity_id": info.activity_id,
                "task_queue": info.task_queue,
            }))
        },
    )
}

/// Waits for cancellation, then takes `cleanup` ms to clean up (within its grace of 1 s, or
/// beyond it) and writes `marker` when done.
fn cleanup() -> NativeActivity {
    NativeActivity::new(
        "hourglass.test.cleanup",
        Workload::Io,
        |context, (cleanup, marker): (u64, String)| async move {
            context.cancelled().await;
            tokio::time::sleep(Duration::from_millis(cleanup)).await;
            std::fs::write(marker, "cleaned up")?;
            Err::<Value, _>(ActivityFailure::cancelled())
        },
    )
    .cancel_grace(Duration::from_secs(1))
}

/// Sends `value` back through every way a body makes terms: a heartbeat with it as its details,
/// then a result of it, or (`"fail"`) a failure with it as its details.
fn reflect() -> NativeActivity {
    NativeActivity::new(
        "hourglass.test.reflect",
        Workload::Io,
        |context, (value, outcome): (Value, String)| async move {
            context.heartbeat(&value)?;
            // The heartbeat goes through the owner process; give it time to be recorded before
            // the completion overtakes it.
            tokio::time::sleep(Duration::from_millis(100)).await;
            match outcome.as_str() {
                "fail" => {
                    Err(ActivityFailure::new("Reflected", "failed as asked").with_details([value]))
                }
                _ => Ok(value),
            }
        },
    )
}

/// Emits `count` log events at warning level, as fast as it can.
fn log() -> NativeActivity {
    NativeActivity::new(
        "hourglass.test.log",
        Workload::Io,
        |_, count: u32| async move {
            for index in 0..count {
                tracing::warn!(index, "hourglass.test.log flood");
            }
            Ok::<_, ActivityFailure>(count)
        },
    )
}

/// Fails with every field of a failure set.
fn fail() -> NativeActivity {
    NativeActivity::new("hourglass.test.fail", Workload::Io, |_, (): ()| async {
        Err::<Value, _>(
            ActivityFailure::non_retryable("PaymentDeclined", "card expired")
                .with_details([json!({"card": "visa"}), json!(42)])
                .with_next_retry_delay(Duration::from_secs(7)),
        )
    })
}
