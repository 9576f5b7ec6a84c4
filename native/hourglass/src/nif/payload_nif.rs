//! NIFs behind `Hourglass.Payload` and `Hourglass.PayloadCodec`: values ⇄ payload structs with
//! the default converter, and a payload ⇄ its protobuf bytes (what the official SDKs' codecs
//! encrypt or compress whole).

use crate::nif::atoms::named as atom;
use crate::nif::dirty;
use crate::nif::payload_term::{
    decode_payload_struct, payload_struct, payload_to_term, term_to_payload,
};
use crate::nif::value::str_to_term;
use prost::Message;
use rustler::types::tuple::make_tuple;
use rustler::{Binary, Encoder, Env, NewBinary, NifResult, Term};
use temporalio_common::protos::temporal::api::common::v1::Payload;

fn ok<'a>(env: Env<'a>, value: Term<'a>) -> Term<'a> {
    make_tuple(env, &[atom(env, "ok"), value])
}

fn error<'a>(env: Env<'a>, message: &str) -> Term<'a> {
    make_tuple(env, &[atom(env, "error"), str_to_term(env, message)])
}

pub(crate) fn proper_list(term: Term) -> Result<Vec<Term>, String> {
    term.list_length()
        .map_err(|_| "expected a proper list".to_string())?;
    term.decode::<Vec<Term>>()
        .map_err(|_| "expected a proper list".to_string())
}

pub(crate) fn payload_argument(term: Term) -> Result<Payload, String> {
    decode_payload_struct(term).unwrap_or_else(|| Err("expected a %Hourglass.Payload{}".into()))
}

/// Values to `%Hourglass.Payload{}` structs: `{:ok, payloads}` or `{:error, message}`; `:heavy`
/// when the values weigh more than a normal scheduler converts in about a millisecond
/// (`Hourglass.Payload` then converts them on tokio: see [`crate::nif::payload_offload`]).
#[rustler::nif]
fn payloads_from_values<'a>(env: Env<'a>, values: Term<'a>) -> NifResult<Term<'a>> {
    if dirty::is_heavy(&[values]) {
        return Ok(atom(env, "heavy"));
    }
    payloads_from_values_body(env, &[values])
}

pub(crate) fn payloads_from_values_body<'a>(
    env: Env<'a>,
    args: &[Term<'a>],
) -> NifResult<Term<'a>> {
    let encoded: Result<Vec<Term>, String> = proper_list(args[0]).and_then(|values| {
        values
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                term_to_payload(value)
                    .map(|payload| payload_struct(env, &payload))
                    .map_err(|problem| format!("value {}: {problem}", index + 1))
            })
            .collect()
    });
    Ok(match encoded {
        Ok(payloads) => ok(env, payloads.encode(env)),
        Err(message) => error(env, &message),
    })
}

/// `%Hourglass.Payload{}` structs to their values: `{:ok, values}` or `{:error, message}`;
/// `:heavy` as for [`payloads_from_values`].
#[rustler::nif]
fn payloads_to_values<'a>(env: Env<'a>, payloads: Term<'a>) -> NifResult<Term<'a>> {
    if dirty::is_heavy(&[payloads]) {
        return Ok(atom(env, "heavy"));
    }
    payloads_to_values_body(env, &[payloads])
}

pub(crate) fn payloads_to_values_body<'a>(env: Env<'a>, args: &[Term<'a>]) -> NifResult<Term<'a>> {
    let decoded: Result<Vec<Term>, String> = proper_list(args[0]).and_then(|payloads| {
        payloads
            .into_iter()
            .enumerate()
            .map(|(index, term)| {
                payload_argument(term)
                    .and_then(|payload| payload_to_term(env, &payload))
                    .map_err(|problem| format!("payload {}: {problem}", index + 1))
            })
            .collect()
    });
    Ok(match decoded {
        Ok(values) => ok(env, values.encode(env)),
        Err(message) => error(env, &message),
    })
}

/// A `%Hourglass.Payload{}` as the bytes of the `temporal.api.common.v1.Payload` message.
#[rustler::nif]
fn payload_to_protobuf<'a>(env: Env<'a>, payload: Term<'a>) -> Term<'a> {
    match payload_argument(payload) {
        Ok(payload) => {
            let bytes = payload.encode_to_vec();
            let mut binary = NewBinary::new(env, bytes.len());
            binary.as_mut_slice().copy_from_slice(&bytes);
            ok(env, Binary::from(binary).to_term(env))
        }
        Err(message) => error(env, &message),
    }
}

/// The `%Hourglass.Payload{}` a `temporal.api.common.v1.Payload` message's bytes encode.
#[rustler::nif]
fn payload_from_protobuf<'a>(env: Env<'a>, bytes: Binary<'a>) -> Term<'a> {
    match Payload::decode(bytes.as_slice()) {
        Ok(payload) => ok(env, payload_struct(env, &payload)),
        Err(problem) => error(env, &format!("not a protobuf Payload: {problem}")),
    }
}
