//! How an attempt of a native activity ends.

use serde_json::Value;
use std::time::Duration;

/// A failed attempt, the Rust twin of `Hourglass.ApplicationError`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityFailure {
    pub error_type: String,
    pub message: String,
    pub non_retryable: bool,
    pub details: Vec<Value>,
    pub next_retry_delay: Option<Duration>,
    pub stack_trace: Option<String>,
}

impl ActivityFailure {
    /// A retryable failure of the given type.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        ActivityFailure {
            error_type: error_type.into(),
            message: message.into(),
            non_retryable: false,
            details: Vec::new(),
            next_retry_delay: None,
            stack_trace: None,
        }
    }

    /// A failure that retrying cannot fix, such as a malformed argument.
    pub fn non_retryable(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        ActivityFailure {
            non_retryable: true,
            ..Self::new(error_type, message)
        }
    }

    /// What [`crate::ActivityContext::heartbeat`] returns once cancellation was requested. A
    /// body that returns it (or anything else) after the request is reported cancelled.
    pub fn cancelled() -> Self {
        Self::non_retryable("Cancelled", "the activity was cancelled")
    }

    /// Adds details to the failure, as the values a workflow's failure handler receives.
    pub fn with_details(mut self, details: impl IntoIterator<Item = Value>) -> Self {
        self.details.extend(details);
        self
    }

    /// Asks the server to wait this long before the next attempt, instead of the retry policy's
    /// interval.
    pub fn with_next_retry_delay(mut self, delay: Duration) -> Self {
        self.next_retry_delay = Some(delay);
        self
    }
}

impl From<std::io::Error> for ActivityFailure {
    /// An IO error is worth retrying: its type is the error kind, e.g. `"NotFound"`.
    fn from(error: std::io::Error) -> Self {
        ActivityFailure::new(format!("{:?}", error.kind()), error.to_string())
    }
}

/// How a body ended. Cancellation is not here: it is decided and reported by whoever aborts the
/// body, never by the body itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Completed(Value),
    Failed(ActivityFailure),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_retryable_keeps_type_and_message() {
        let failure = ActivityFailure::non_retryable("InvalidArgument", "rounds must be >= 1");
        assert!(failure.non_retryable);
        assert_eq!(failure.error_type, "InvalidArgument");
        assert_eq!(failure.message, "rounds must be >= 1");
        assert!(failure.details.is_empty());
    }
}
