//! The completion map Elixir receives, built from an [`Outcome`].
//!
//! The shape is the one `Hourglass.BridgeHolder.complete_activity_task/2` documents:
//! `%{task_token: binary, result: {:completed, term} | {:failed, %Hourglass.ApplicationError{}}}`
//! (`{:cancelled, details}` is built in Elixir by the owner that aborted the body).

use crate::failure::{ActivityFailure, Outcome};
use crate::nif::atoms;
use crate::nif::deferred_term::has_wide_map;
use crate::nif::value::{str_to_term, value_to_term};
use rustler::types::tuple::make_tuple;
use rustler::{Atom, Encoder, Env, Term};

/// The fields of an `%Hourglass.ApplicationError{}`, as terms where they are terms.
pub struct ApplicationErrorFields<'a, 'b> {
    pub error_type: &'b str,
    pub message: &'b str,
    pub non_retryable: bool,
    pub details: Vec<Term<'a>>,
    pub next_retry_delay_ms: Option<u64>,
    pub stack_trace: Option<&'b str>,
}

/// Builds an `%Hourglass.ApplicationError{}` exception struct.
pub fn application_error_term<'a>(
    env: Env<'a>,
    fields: ApplicationErrorFields<'a, '_>,
) -> Term<'a> {
    let nil = atoms::nil().encode(env);
    let keys = [
        atoms::__struct__().encode(env),
        atoms::__exception__().encode(env),
        atoms::message().encode(env),
        atoms::r#type().encode(env),
        atoms::non_retryable().encode(env),
        atoms::details().encode(env),
        atoms::next_retry_delay().encode(env),
        atoms::stack_trace().encode(env),
    ];
    let values = [
        Atom::from_str(env, "Elixir.Hourglass.ApplicationError")
            .map(|module| module.encode(env))
            .unwrap_or(nil),
        true.encode(env),
        str_to_term(env, fields.message),
        str_to_term(env, fields.error_type),
        fields.non_retryable.encode(env),
        fields.details.encode(env),
        fields
            .next_retry_delay_ms
            .map(|delay| delay.encode(env))
            .unwrap_or(nil),
        fields
            .stack_trace
            .map(|trace| str_to_term(env, trace))
            .unwrap_or(nil),
    ];
    Term::map_from_term_arrays(env, &keys, &values).unwrap_or(nil)
}

fn failure_term<'a>(env: Env<'a>, failure: &ActivityFailure) -> Term<'a> {
    application_error_term(
        env,
        ApplicationErrorFields {
            error_type: &failure.error_type,
            message: &failure.message,
            non_retryable: failure.non_retryable,
            details: failure
                .details
                .iter()
                .map(|detail| value_to_term(env, detail))
                .collect(),
            next_retry_delay_ms: failure
                .next_retry_delay
                .map(|delay| delay.as_millis() as u64),
            stack_trace: failure.stack_trace.as_deref(),
        },
    )
}

fn outcome_term<'a>(env: Env<'a>, outcome: &Outcome) -> Term<'a> {
    match outcome {
        Outcome::Completed(value) => make_tuple(
            env,
            &[atoms::completed().encode(env), value_to_term(env, value)],
        ),
        Outcome::Failed(failure) => make_tuple(
            env,
            &[atoms::failed().encode(env), failure_term(env, failure)],
        ),
    }
}

/// Whether the outcome's term holds a map too large to be made off a scheduler.
pub fn outcome_has_wide_map(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Completed(value) => has_wide_map(value),
        Outcome::Failed(failure) => failure.details.iter().any(has_wide_map),
    }
}

/// Builds the completion map for the task with this token.
pub fn completion_term<'a>(env: Env<'a>, task_token: &[u8], outcome: &Outcome) -> Term<'a> {
    let mut token = rustler::NewBinary::new(env, task_token.len());
    token.as_mut_slice().copy_from_slice(task_token);
    let token: rustler::Binary = token.into();
    let keys = [atoms::task_token().encode(env), atoms::result().encode(env)];
    let values = [token.to_term(env), outcome_term(env, outcome)];
    Term::map_from_term_arrays(env, &keys, &values).unwrap_or_else(|_| atoms::error().encode(env))
}
