//! Failed attempts as Temporal `Failure` protos with `ApplicationFailureInfo`.

use std::time::Duration;
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};
use temporalio_common::protos::temporal::api::failure::v1::{
    failure::FailureInfo, ApplicationFailureInfo, Failure,
};

/// What an `Hourglass.ApplicationError` carries, with its details already encoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplicationFailure {
    pub error_type: String,
    pub message: String,
    pub non_retryable: bool,
    pub details: Vec<Payload>,
    pub next_retry_delay: Option<Duration>,
    pub stack_trace: Option<String>,
}

/// The `source` field of failures Hourglass reports.
pub const FAILURE_SOURCE: &str = "Hourglass";

impl ApplicationFailure {
    pub fn into_proto(self) -> Failure {
        Failure {
            message: self.message,
            source: FAILURE_SOURCE.to_string(),
            stack_trace: self.stack_trace.unwrap_or_default(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: self.error_type,
                    non_retryable: self.non_retryable,
                    details: (!self.details.is_empty()).then_some(Payloads {
                        payloads: self.details,
                    }),
                    next_retry_delay: self
                        .next_retry_delay
                        .and_then(|delay| delay.try_into().ok()),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_every_field() {
        let proto = ApplicationFailure {
            error_type: "CardDeclined".into(),
            message: "declined".into(),
            non_retryable: true,
            details: vec![Payload::default()],
            next_retry_delay: Some(Duration::from_millis(1500)),
            stack_trace: Some("at x".into()),
        }
        .into_proto();
        assert_eq!(proto.message, "declined");
        assert_eq!(proto.stack_trace, "at x");
        let Some(FailureInfo::ApplicationFailureInfo(info)) = proto.failure_info else {
            panic!("no application failure info")
        };
        assert_eq!(info.r#type, "CardDeclined");
        assert!(info.non_retryable);
        assert_eq!(info.details.unwrap().payloads.len(), 1);
        let delay = info.next_retry_delay.unwrap();
        assert_eq!((delay.seconds, delay.nanos), (1, 500_000_000));
    }
}
