//! Panics on the NIF's threads reach Logger instead of the VM's standard error.
//!
//! Rust's default panic hook writes `thread '…' panicked at …` to standard error, outside the
//! host's log format and level. Once Logger receives the NIF's log records, the hook installed
//! here logs a panic as an error through `tracing` instead (target `hourglass::panic`); before
//! that, or with errors not logged, it falls back to the default hook. A panic of a native
//! activity's body is not logged by the hook: the executor that catches it reports it once,
//! with the activity's type, and [`catch_body`] hands it where the panic happened.

use crate::nif::logging;
use futures::FutureExt;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

thread_local! {
    /// Set while a native body is polled on this thread: its panic is the caller's to report.
    static CAUGHT_BY_CALLER: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic caught by a caller happened, for [`catch_body`] to take.
    static CAUGHT_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A native body's panic: its message, and where it happened when the hook saw it.
pub struct CaughtPanic {
    pub message: String,
    pub location: Option<String>,
}

/// Installs the hook, once per OS process.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info
                .location()
                .map(|location| format!("{}:{}", location.file(), location.line()));
            if CAUGHT_BY_CALLER.get() {
                CAUGHT_AT.set(location);
            } else if logging::forwards_errors() {
                let thread = std::thread::current();
                tracing::error!(
                    target: "hourglass::panic",
                    "thread '{}' panicked at {}: {}",
                    thread.name().unwrap_or("<unnamed>"),
                    location.as_deref().unwrap_or("an unknown location"),
                    payload_message(info.payload())
                );
            } else {
                default(info);
            }
        }));
    });
}

/// Runs `body`, catching a panic: the hook leaves it to the caller, with where it happened.
pub async fn catch_body<F: Future>(body: F) -> Result<F::Output, CaughtPanic> {
    let mut caught = std::pin::pin!(AssertUnwindSafe(body).catch_unwind());
    std::future::poll_fn(|cx| {
        let outer = CAUGHT_BY_CALLER.replace(true);
        let polled = caught.as_mut().poll(cx);
        CAUGHT_BY_CALLER.set(outer);
        // Taken on the thread that panicked, right after the poll that did.
        polled.map(|outcome| {
            outcome.map_err(|payload| CaughtPanic {
                message: payload_message(payload.as_ref()),
                location: CAUGHT_AT.take(),
            })
        })
    })
    .await
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_body_panic_comes_back_with_its_message_and_location() {
        install();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let caught = runtime
            .block_on(catch_body(async { panic!("kaboom {}", 7) }))
            .expect_err("caught");
        assert_eq!(caught.message, "kaboom 7");
        let location = caught.location.expect("a location");
        assert!(location.contains("src/nif/panic_log.rs:"), "{location}");
        // The flag is down again once the body is done.
        assert!(!CAUGHT_BY_CALLER.get());
    }

    #[test]
    fn a_body_that_returns_is_untouched() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(runtime.block_on(catch_body(async { 42 })).ok(), Some(42));
    }
}
