//! NIFs of `Hourglass.Client`'s asynchronous completion: the outcome or a heartbeat of an
//! attempt whose activity returned `complete_async()`, reported by task token or by ids.
//!
//! Like the other client NIFs, each returns `{:ok, pending}` at once (or `{:error, message}` for
//! a malformed request) and answers `reply_to` with `{:"$hourglass_client_reply", ref, answer}`.

use crate::nif::atoms::named as atom;
use crate::nif::client_nif::{error_message, error_term, too_large_term, ClientResource};
use crate::nif::core_completion::decode_failure;
use crate::nif::dirty::{self, dirty_nif};
use crate::nif::payload_term::term_to_payload;
use crate::nif::pending_call::reply_later;
use crate::temporal::async_completion::{AsyncOutcome, AsyncTarget};
use rustler::types::tuple::make_tuple;
use rustler::{Binary, Encoder, Env, LocalPid, NifResult, ResourceArc, Term};

fn tag(term: Term) -> Option<String> {
    term.atom_to_string().ok()
}

/// `{:token, binary}` or `{:ids, workflow_id, run_id, activity_id}` (Elixir checks the shape,
/// this only decodes it).
fn decode_target(term: Term) -> Result<AsyncTarget, String> {
    let elements = rustler::types::tuple::get_tuple(term)
        .map_err(|_| "the target must be a task token or ids".to_string())?;
    match (
        elements.first().and_then(|first| tag(*first)).as_deref(),
        elements.len(),
    ) {
        (Some("token"), 2) => Ok(AsyncTarget::Token(
            Binary::from_term(elements[1])
                .map_err(|_| "the task token must be a binary".to_string())?
                .as_slice()
                .to_vec(),
        )),
        (Some("ids"), 4) => {
            let text = |term: Term, what: &str| {
                term.decode::<String>()
                    .map_err(|_| format!("{what} must be a string"))
            };
            Ok(AsyncTarget::Ids {
                workflow_id: text(elements[1], "the workflow id")?,
                run_id: text(elements[2], "the run id")?,
                activity_id: text(elements[3], "the activity id")?,
            })
        }
        _ => Err("the target must be a task token or ids".to_string()),
    }
}

/// `{:completed, value}`, `{:failed, %ApplicationError{}}` or `{:cancelled, details}`.
fn decode_outcome(term: Term) -> Result<AsyncOutcome, String> {
    let (kind, value): (rustler::Atom, Term) = term
        .decode()
        .map_err(|_| "the outcome must be {:completed | :failed | :cancelled, value}")?;
    match tag(kind.to_term(term.get_env())).as_deref() {
        Some("completed") => term_to_payload(value)
            .map(AsyncOutcome::Completed)
            .map_err(|error| format!("the result cannot be encoded as a payload: {error}")),
        Some("failed") => decode_failure(value)
            .map(|failure| AsyncOutcome::Failed(Box::new(failure.into_proto()))),
        Some("cancelled") => term_to_payload(value)
            .map(AsyncOutcome::Cancelled)
            .map_err(|error| format!("the details cannot be encoded as a payload: {error}")),
        _ => Err("the outcome must be {:completed | :failed | :cancelled, value}".to_string()),
    }
}

#[rustler::nif]
fn client_respond_async<'a>(
    env: Env<'a>,
    client: Term<'a>,
    target: Term<'a>,
    outcome: Term<'a>,
    reply_to: Term<'a>,
    reference: Term<'a>,
) -> NifResult<Term<'a>> {
    dirty::run(
        env,
        &[client, target, outcome, reply_to, reference],
        dirty::is_heavy(&[outcome]),
        c"client_respond_async",
        client_respond_async_dirty,
        client_respond_async_body,
    )
}

dirty_nif!(client_respond_async_dirty, client_respond_async_body);

fn client_respond_async_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let client: ResourceArc<ClientResource> = args[0].decode()?;
    let reply_to: LocalPid = args[3].decode()?;
    let reference = args[4];
    let (target, outcome) = match decode_target(args[1])
        .and_then(|target| decode_outcome(args[2]).map(|outcome| (target, outcome)))
    {
        Ok(decoded) => decoded,
        Err(message) => return Ok(error_message(env, &message)),
    };
    if let Err(too_large) = outcome.check_size(&client.payload_limit) {
        return Ok(too_large_term(env, &too_large));
    }
    let client = client.client.clone();
    let pending = reply_later(
        env,
        reply_to,
        reference,
        async move { client.respond_async(target, outcome).await },
        |env, responded| match responded {
            Ok(()) => atom(env, "ok"),
            Err(error) => error_term(env, &error),
        },
    );
    Ok(pending)
}

/// `details` is `[]` for a bare heartbeat or `[term]`.
#[rustler::nif]
fn client_heartbeat_async<'a>(
    env: Env<'a>,
    client: Term<'a>,
    target: Term<'a>,
    details: Term<'a>,
    reply_to: Term<'a>,
    reference: Term<'a>,
) -> NifResult<Term<'a>> {
    dirty::run(
        env,
        &[client, target, details, reply_to, reference],
        dirty::is_heavy(&[details]),
        c"client_heartbeat_async",
        client_heartbeat_async_dirty,
        client_heartbeat_async_body,
    )
}

dirty_nif!(client_heartbeat_async_dirty, client_heartbeat_async_body);

fn client_heartbeat_async_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let client: ResourceArc<ClientResource> = args[0].decode()?;
    let reply_to: LocalPid = args[3].decode()?;
    let reference = args[4];
    let target = match decode_target(args[1]) {
        Ok(target) => target,
        Err(message) => return Ok(error_message(env, &message)),
    };
    let details = match args[2].decode::<Vec<Term>>().as_deref() {
        Ok([]) => None,
        Ok([single]) => match term_to_payload(*single) {
            Ok(payload) => match client
                .payload_limit
                .check_payload("the heartbeat details", &payload)
            {
                Ok(()) => Some(payload),
                Err(too_large) => return Ok(too_large_term(env, &too_large)),
            },
            Err(error) => {
                return Ok(error_message(
                    env,
                    &format!("the details cannot be encoded as a payload: {error}"),
                ))
            }
        },
        _ => return Ok(error_message(env, "the details must be [] or [term]")),
    };
    let client = client.client.clone();
    let pending = reply_later(
        env,
        reply_to,
        reference,
        async move { client.heartbeat_async(target, details).await },
        |env, answered| match answered {
            Ok(answer) => make_tuple(
                env,
                &[
                    atom(env, "ok"),
                    rustler::types::map::map_new(env)
                        .map_put(
                            atom(env, "cancel_requested"),
                            answer.cancel_requested.encode(env),
                        )
                        .and_then(|map| map.map_put(atom(env, "paused"), answer.paused.encode(env)))
                        .and_then(|map| map.map_put(atom(env, "reset"), answer.reset.encode(env)))
                        .unwrap_or_else(|_| rustler::types::map::map_new(env)),
                ],
            ),
            Err(error) => error_term(env, &error),
        },
    );
    Ok(pending)
}
