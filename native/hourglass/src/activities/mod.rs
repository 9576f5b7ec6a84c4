//! The native activities this NIF ships, found by their Temporal activity type.

mod echo;
pub mod sha256;
mod sleep;
#[cfg(feature = "test-activities")]
mod test_support;

use crate::failure::ActivityFailure;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// What a body eventually returns: the result value or a failed attempt.
pub type BodyFuture = Pin<Box<dyn Future<Output = Result<Value, ActivityFailure>> + Send>>;

/// Where a body runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Waits on timers or IO; runs on the `io` pool.
    Io,
    /// Burns CPU; runs on the low-priority `cpu` pool and yields regularly.
    Cpu,
}

/// A native activity: its type name, where it runs, and its body.
pub struct NativeActivity {
    pub name: &'static str,
    pub workload: Workload,
    pub body: fn(Vec<Value>) -> BodyFuture,
}

const BUILT_INS: &[NativeActivity] = &[echo::ACTIVITY, sleep::ACTIVITY, sha256::ACTIVITY];

/// Every native activity this NIF knows.
pub fn all() -> impl Iterator<Item = &'static NativeActivity> {
    let extra: &'static [NativeActivity] = {
        #[cfg(feature = "test-activities")]
        {
            test_support::ACTIVITIES
        }
        #[cfg(not(feature = "test-activities"))]
        {
            &[]
        }
    };
    BUILT_INS.iter().chain(extra.iter())
}

/// Finds a native activity by its type.
pub fn find(name: &str) -> Option<&'static NativeActivity> {
    all().find(|activity| activity.name == name)
}

/// The argument at `index`, or a non-retryable failure naming what is missing.
fn argument<'a>(
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

    #[test]
    fn built_ins_are_found_by_type() {
        for name in ["hourglass.echo", "hourglass.sleep", "hourglass.sha256"] {
            assert_eq!(find(name).map(|activity| activity.name), Some(name));
        }
        assert!(find("hourglass.nope").is_none());
    }
}
