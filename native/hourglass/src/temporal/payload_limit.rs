//! The server's size limit on the payloads of one request, checked before the request is sent.
//!
//! The Temporal server refuses a result, an input, heartbeat details or a failure whose encoded
//! size is over its `limit.blobSize.error` (2 MiB by default). Sent anyway, a worker's
//! completion comes back as a gRPC error or a server-made failure long after the activity
//! returned, and a client call fails with a message about blobs. Measured here, with the same
//! protobuf sizes the server measures, the caller gets a clear error at once.

use prost::Message;
use std::fmt;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::failure::v1::{failure::FailureInfo, Failure};

/// The server's default limit, in bytes.
pub const DEFAULT_PAYLOAD_SIZE_LIMIT: usize = 2 * 1024 * 1024;

/// The longest failure message kept when a failure has to be cut down to fit.
const KEPT_MESSAGE_BYTES: usize = 4096;

/// The most bytes one request may carry in payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadLimit {
    bytes: usize,
}

impl Default for PayloadLimit {
    fn default() -> Self {
        Self::new(DEFAULT_PAYLOAD_SIZE_LIMIT)
    }
}

/// A part of a request over the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// What it was: "the result", "the input", …
    pub what: String,
    /// Its encoded size in bytes.
    pub size: usize,
    pub limit: usize,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "the result is", "the heartbeat details are".
        let verb = if self.what.ends_with("details") {
            "are"
        } else {
            "is"
        };
        write!(
            f,
            "{} {verb} {} bytes encoded, over the payload size limit of {} bytes (the server's \
             limit.blobSize.error refuses larger ones; :payload_size_limit sets the limit \
             Hourglass checks, to match a server configured otherwise)",
            self.what, self.size, self.limit
        )
    }
}

/// The encoded size of a `Payloads` message holding `payloads`: what the server measures.
pub fn payloads_size(payloads: &[Payload]) -> usize {
    prost::encoding::message::encoded_len_repeated(1, payloads)
}

impl PayloadLimit {
    pub fn new(bytes: usize) -> Self {
        Self { bytes }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn check(&self, what: &str, size: usize) -> Result<(), TooLarge> {
        if size <= self.bytes {
            Ok(())
        } else {
            Err(TooLarge {
                what: what.to_string(),
                size,
                limit: self.bytes,
            })
        }
    }

    /// Checks payloads that travel as one `Payloads` message (an input, heartbeat details).
    pub fn check_payloads(&self, what: &str, payloads: &[Payload]) -> Result<(), TooLarge> {
        self.check(what, payloads_size(payloads))
    }

    /// Checks a single payload (a result, cancellation details), which travels as a
    /// `Payloads` message of one.
    pub fn check_payload(&self, what: &str, payload: &Payload) -> Result<(), TooLarge> {
        self.check_payloads(what, std::slice::from_ref(payload))
    }

    /// Checks a failure, its details, message, stack trace and causes included.
    pub fn check_failure(&self, what: &str, failure: &Failure) -> Result<(), TooLarge> {
        self.check(what, failure.encoded_len())
    }

    /// The failure, cut down until it fits: first its details go, then its cause and stack
    /// trace, then the message is shortened. The message says what was dropped, so that the
    /// reader of the failure knows there was more. Its type and retry settings always stay.
    pub fn fit_failure(&self, mut failure: Failure) -> Failure {
        let Err(too_large) = self.check_failure("the failure", &failure) else {
            return failure;
        };
        let mut dropped = Vec::new();
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &mut failure.failure_info {
            if info.details.take().is_some() {
                dropped.push("its details");
            }
        }
        if failure.encoded_len() > self.bytes && failure.cause.take().is_some() {
            dropped.push("its cause");
        }
        if failure.encoded_len() > self.bytes && !failure.stack_trace.is_empty() {
            failure.stack_trace.clear();
            dropped.push("its stack trace");
        }
        if failure.encoded_len() > self.bytes {
            let mut end = KEPT_MESSAGE_BYTES.min(failure.message.len());
            while !failure.message.is_char_boundary(end) {
                end -= 1;
            }
            failure.message.truncate(end);
            dropped.push("the rest of its message");
        }
        failure.message = format!(
            "{} ({} dropped: the failure was {} bytes encoded, over the payload size limit of {} \
             bytes)",
            failure.message,
            dropped.join(", "),
            too_large.size,
            too_large.limit
        );
        failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temporal::failure::ApplicationFailure;

    fn payload(bytes: usize) -> Payload {
        Payload {
            data: vec![b'x'; bytes],
            ..Default::default()
        }
    }

    #[test]
    fn measures_what_the_server_measures() {
        use temporalio_common::protos::temporal::api::common::v1::Payloads;
        let payloads = vec![payload(10), payload(300_000), Payload::default()];
        let message = Payloads {
            payloads: payloads.clone(),
        };
        assert_eq!(payloads_size(&payloads), message.encoded_len());
        assert_eq!(payloads_size(&[]), 0);
    }

    #[test]
    fn a_payload_at_the_limit_passes_and_one_byte_more_does_not() {
        let limit = PayloadLimit::new(payloads_size(&[payload(1000)]));
        assert_eq!(limit.check_payload("the result", &payload(1000)), Ok(()));
        let error = limit
            .check_payload("the result", &payload(1001))
            .unwrap_err();
        assert_eq!(error.size, limit.bytes() + 1);
        let message = error.to_string();
        assert!(
            message.starts_with("the result is 1007 bytes encoded"),
            "{message}"
        );
        assert!(message.contains("limit.blobSize.error"), "{message}");
    }

    #[test]
    fn the_default_is_the_servers() {
        assert_eq!(PayloadLimit::default().bytes(), 2_097_152);
        let two_mib = payload(2 * 1024 * 1024);
        assert!(PayloadLimit::default()
            .check_payload("the input", &two_mib)
            .is_err());
    }

    fn failure(details: usize, stack_trace: usize, message: usize) -> Failure {
        ApplicationFailure {
            error_type: "CardDeclined".into(),
            message: "é".repeat(message / 2),
            non_retryable: true,
            details: vec![payload(details)],
            stack_trace: Some("s".repeat(stack_trace)),
            ..Default::default()
        }
        .into_proto()
    }

    fn info(failure: &Failure) -> (String, bool, bool) {
        let Some(FailureInfo::ApplicationFailureInfo(info)) = &failure.failure_info else {
            panic!("not an application failure")
        };
        (
            info.r#type.clone(),
            info.non_retryable,
            info.details.is_some(),
        )
    }

    #[test]
    fn a_failure_that_fits_is_left_alone() {
        let small = failure(100, 100, 100);
        assert_eq!(PayloadLimit::default().fit_failure(small.clone()), small);
    }

    #[test]
    fn large_details_are_dropped_and_the_message_says_so() {
        let limit = PayloadLimit::new(10_000);
        let fitted = limit.fit_failure(failure(50_000, 100, 100));
        assert!(fitted.encoded_len() <= 10_000);
        assert_eq!(info(&fitted), ("CardDeclined".into(), true, false));
        assert_eq!(fitted.stack_trace.len(), 100);
        assert!(fitted.message.starts_with(&"é".repeat(50)));
        assert!(
            fitted
                .message
                .contains("(its details dropped: the failure was"),
            "{}",
            fitted.message
        );
    }

    #[test]
    fn a_huge_message_and_stack_trace_are_cut_down_to_fit() {
        let limit = PayloadLimit::new(10_000);
        let fitted = limit.fit_failure(failure(10, 50_000, 50_000));
        assert!(fitted.encoded_len() <= 10_000);
        assert!(fitted.stack_trace.is_empty());
        assert!(fitted
            .message
            .contains("its details, its stack trace, the rest of its message dropped"));
        // Cut on a character boundary: still valid UTF-8, still the same characters.
        assert!(fitted
            .message
            .starts_with(&"é".repeat(KEPT_MESSAGE_BYTES / 2)));
        assert_eq!(info(&fitted).0, "CardDeclined");
    }
}
