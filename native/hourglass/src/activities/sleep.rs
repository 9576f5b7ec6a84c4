//! `hourglass.sleep`: waits the given milliseconds on a tokio timer and returns them.
//! Cancelling it drops the timer.

use crate::activity::{argument, NativeActivity, Workload};
use crate::context::ActivityContext;
use crate::failure::ActivityFailure;
use serde_json::Value;
use std::time::Duration;

pub fn activity() -> NativeActivity {
    NativeActivity::with_arguments("hourglass.sleep", Workload::Io, body)
}

async fn body(_context: ActivityContext, arguments: Vec<Value>) -> Result<Value, ActivityFailure> {
    let millis = argument(&arguments, 0, "milliseconds to sleep")?
        .as_u64()
        .ok_or_else(|| {
            ActivityFailure::non_retryable(
                "InvalidArgument",
                "hourglass.sleep takes a non-negative integer of milliseconds",
            )
        })?;
    tokio::time::sleep(Duration::from_millis(millis)).await;
    Ok(Value::from(millis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ActivityInfo;

    fn run(arguments: Vec<Value>) -> Result<Value, ActivityFailure> {
        let (context, _) = ActivityContext::detached(ActivityInfo::for_type("hourglass.sleep"));
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(body(context, arguments))
    }

    #[test]
    fn sleeps_and_returns_the_milliseconds() {
        assert_eq!(run(vec![Value::from(1500)]), Ok(Value::from(1500)));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [vec![], vec![Value::from(-1)], vec![Value::from("10")]] {
            let failure = run(bad).unwrap_err();
            assert_eq!(failure.error_type, "InvalidArgument");
            assert!(failure.non_retryable);
        }
    }
}
