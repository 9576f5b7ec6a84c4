//! Elixir completions (`Hourglass.BridgeHolder.completion/0`) as Core's `ActivityTaskCompletion`.
//!
//! A result that cannot be encoded as a payload does not lose the attempt: it becomes a failed
//! completion, non-retryable (the same value would fail again), whose message says why. So does
//! a result over the server's payload size limit; a failure over it is cut down to fit and
//! cancellation details over it are dropped, so the attempt still ends as it did.

use crate::nif::payload_term::{term_to_payload, terms_to_payloads};
use crate::nif::term_map::TermMap;
use crate::temporal::failure::ApplicationFailure;
use crate::temporal::payload_limit::{PayloadLimit, TooLarge};
use rustler::{Binary, Term};
use std::time::Duration;
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::ActivityTaskCompletion;

/// Decodes a completion. Errors only for a malformed completion (no token, unknown result
/// shape); payload problems, sizes over `limit` included, become failed attempts.
pub fn decode_completion(
    term: Term,
    limit: &PayloadLimit,
) -> Result<ActivityTaskCompletion, String> {
    let map = TermMap::new(term, "the completion")?;
    let task_token = Binary::from_term(map.required("task_token")?)
        .map_err(|_| ":task_token must be a binary".to_string())?
        .as_slice()
        .to_vec();
    let result = map.required("result")?;
    Ok(ActivityTaskCompletion {
        task_token,
        result: Some(decode_result(result, limit)?),
    })
}

fn decode_result(result: Term, limit: &PayloadLimit) -> Result<ActivityExecutionResult, String> {
    if result.is_atom() && result.atom_to_string().ok().as_deref() == Some("will_complete_async") {
        return Ok(ActivityExecutionResult::will_complete_async());
    }
    let (tag, value): (rustler::Atom, Term) = result.decode().map_err(|_| {
        "the result must be {:completed, value}, {:failed, error} or {:cancelled, details}"
            .to_string()
    })?;
    let tag = tag
        .to_term(result.get_env())
        .atom_to_string()
        .unwrap_or_default();
    Ok(match tag.as_str() {
        "completed" => match term_to_payload(value) {
            Ok(payload) => match limit.check_payload("the result of the activity", &payload) {
                Ok(()) => ActivityExecutionResult::ok(payload),
                Err(too_large) => over_the_limit(&too_large),
            },
            Err(error) => unencodable("the result", &error),
        },
        "failed" => match decode_failure(value) {
            Ok(failure) => ActivityExecutionResult::fail(limit.fit_failure(failure.into_proto())),
            Err(error) => unencodable("the failure", &error),
        },
        "cancelled" => match term_to_payload(value) {
            Ok(details) => match limit.check_payload("the cancellation details", &details) {
                Ok(()) => ActivityExecutionResult::cancel_from_details(Some(details)),
                Err(too_large) => {
                    tracing::warn!("cancellation details dropped: {too_large}");
                    ActivityExecutionResult::cancel_from_details(None)
                }
            },
            Err(error) => unencodable("the cancellation details", &error),
        },
        other => return Err(format!("unknown result tag :{other}")),
    })
}

fn unencodable(what: &str, error: &str) -> ActivityExecutionResult {
    ActivityExecutionResult::fail(
        ApplicationFailure {
            error_type: "PayloadEncodingError".into(),
            message: format!("{what} of the activity cannot be encoded as a payload: {error}"),
            non_retryable: true,
            ..Default::default()
        }
        .into_proto(),
    )
}

/// A result the server would refuse: the attempt fails instead, not retryably, as the server
/// itself fails an attempt whose result is over its limit.
fn over_the_limit(too_large: &TooLarge) -> ActivityExecutionResult {
    ActivityExecutionResult::fail(
        ApplicationFailure {
            error_type: "PayloadSizeError".into(),
            message: too_large.to_string(),
            non_retryable: true,
            ..Default::default()
        }
        .into_proto(),
    )
}

/// An `Hourglass.ApplicationError` as the failure Core and the server take.
pub fn decode_failure(error: Term) -> Result<ApplicationFailure, String> {
    let map = TermMap::new(error, "the failure")?;
    let details = match map.get("details") {
        None => Vec::new(),
        Some(details) => terms_to_payloads(details).map_err(|error| format!("details: {error}"))?,
    };
    Ok(ApplicationFailure {
        error_type: map.optional_string("type")?.unwrap_or_default(),
        message: map.optional_string("message")?.unwrap_or_default(),
        non_retryable: map.bool("non_retryable")?,
        details,
        next_retry_delay: map
            .optional_u64("next_retry_delay")?
            .map(Duration::from_millis),
        stack_trace: map.optional_string("stack_trace")?,
    })
}
