//! `Hourglass.Payload`'s conversions of heavy values, on the cpu runtime (issue 13).
//!
//! A NIF that converts a 2 MB value holds its scheduler for tens of milliseconds; rescheduled
//! on a dirty CPU scheduler, it still takes a core from the normal schedulers, whose threads run
//! at the same OS priority (55 ms of lateness at p99 in the scheduler benchmark). So heavy values
//! cross to the cpu runtime, whose threads run at nice 19:
//!
//! - values to payloads: the calling process serialises the values with
//!   `:erlang.term_to_binary/1` (a BIF that yields to other processes as it goes); the runtime
//!   reads that external term, makes the payloads and answers with the external term of the
//!   payload structs (small: their data are binaries).
//! - payloads to values: the runtime decodes the payloads and makes the values' terms itself,
//!   sent as the answer (the copy into the caller's heap happens on the tokio thread, not on a
//!   scheduler), unless a value holds a map of more than 32 keys, which must not be made off a
//!   scheduler (erlang/otp#8208): then it answers with their external term, which the caller
//!   reads with `:erlang.binary_to_term/1`.
//!
//! Each NIF answers at once with `{:ok, pending}` and later with
//! `{:"$hourglass_client_reply", reference, answer}`, as client calls do (see
//! [`crate::nif::pending_call`]): `answer` is `{:ok, {:external, binary}}`, `{:ok, values}` or
//! `{:error, message}`, with the same errors as the conversions on the caller's scheduler.

use crate::nif::atoms::named as atom;
use crate::nif::deferred_term::has_wide_map;
use crate::nif::payload_nif::{payload_argument, proper_list};
use crate::nif::payload_term::payload_value_term;
use crate::nif::pending_call::compute_later;
use crate::nif::value::str_to_term;
use crate::payload::{self, PayloadValue};
use hourglass_values::etf::{self, Writer};
use hourglass_values::tree::TermTree;
use rustler::types::tuple::make_tuple;
use rustler::{Binary, Encoder, Env, NewBinary, OwnedEnv, Term};
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::common::v1::Payload;

const PAYLOAD_STRUCT: &str = "Elixir.Hourglass.Payload";

/// Values to `%Hourglass.Payload{}` structs: `values` is `:erlang.term_to_binary(values)`;
/// the answer is the external term of the list of structs.
#[rustler::nif]
fn payloads_from_values_etf<'a>(env: Env<'a>, values: Term<'a>, reference: Term<'a>) -> Term<'a> {
    offload(env, values, reference, |values| {
        let bytes = Binary::from_term(values).map_err(|_| "expected a binary".to_string())?;
        payload_structs_from_values(bytes.as_slice()).map(Converted::External)
    })
}

/// `%Hourglass.Payload{}` structs to their values (see the module docs for the answer).
#[rustler::nif]
fn payloads_to_values_etf<'a>(env: Env<'a>, payloads: Term<'a>, reference: Term<'a>) -> Term<'a> {
    offload(env, payloads, reference, values_from_payload_structs)
}

/// What a conversion answers with.
enum Converted {
    /// An external term, for `:erlang.binary_to_term/1` in the caller.
    External(Vec<u8>),
    /// Values whose terms may be made off a scheduler (no map of more than 32 keys).
    Values(Vec<PayloadValue>),
}

/// Copies `input` into an environment of its own (a binary is shared, not copied) and runs
/// `convert` on it on the cpu runtime; answers the caller as the module docs say.
fn offload<'a>(
    env: Env<'a>,
    input: Term<'a>,
    reference: Term<'a>,
    convert: for<'b> fn(Term<'b>) -> Result<Converted, String>,
) -> Term<'a> {
    let owned = OwnedEnv::new();
    let saved = owned.save(input);
    compute_later(
        env,
        env.pid(),
        reference,
        move || owned.run(|env| convert(saved.load(env))),
        |env, converted: Result<Converted, String>| match converted {
            Ok(Converted::External(bytes)) => {
                let mut binary = NewBinary::new(env, bytes.len());
                binary.as_mut_slice().copy_from_slice(&bytes);
                let external = make_tuple(
                    env,
                    &[atom(env, "external"), Binary::from(binary).to_term(env)],
                );
                make_tuple(env, &[atom(env, "ok"), external])
            }
            Ok(Converted::Values(values)) => {
                let terms: Vec<Term> = values
                    .iter()
                    .map(|value| payload_value_term(env, value))
                    .collect();
                make_tuple(env, &[atom(env, "ok"), terms.encode(env)])
            }
            Err(message) => error(env, &message),
        },
    )
}

fn error<'a>(env: Env<'a>, message: &str) -> Term<'a> {
    make_tuple(env, &[atom(env, "error"), str_to_term(env, message)])
}

/// The external term of the payload structs for the external term of a list of values.
fn payload_structs_from_values(values: &[u8]) -> Result<Vec<u8>, String> {
    let TermTree::List(values) = etf::decode(values)? else {
        return Err("expected a proper list".into());
    };
    let mut writer = Writer::new();
    writer.list(values.len());
    for (index, value) in values.iter().enumerate() {
        let payload =
            tree_to_payload(value).map_err(|problem| format!("value {}: {problem}", index + 1))?;
        write_payload_struct(&mut writer, &payload);
    }
    writer.nil();
    Ok(writer.finish())
}

/// The values of a list of payload structs: as they are, unless one holds a map too wide to be
/// made off a scheduler; then their external term.
fn values_from_payload_structs(payloads: Term) -> Result<Converted, String> {
    let values = proper_list(payloads)?
        .into_iter()
        .enumerate()
        .map(|(index, term)| {
            payload_argument(term)
                .and_then(|payload| payload::decode(&payload))
                .map_err(|problem| format!("payload {}: {problem}", index + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let wide = values
        .iter()
        .any(|value| matches!(value, PayloadValue::Json(json) if has_wide_map(json)));
    if !wide {
        return Ok(Converted::Values(values));
    }
    let mut writer = Writer::new();
    writer.list(values.len());
    for value in &values {
        match value {
            PayloadValue::Json(value) => writer.value(value),
            PayloadValue::Null => writer.atom("nil"),
            PayloadValue::Bytes(bytes) => writer.binary(bytes),
        }
    }
    writer.nil();
    Ok(Converted::External(writer.finish()))
}

/// A value as a payload, as `crate::nif::payload_term::term_to_payload` makes it from a live
/// term: a `%Hourglass.Payload{}` as it is, `nil` as `binary/null`, a binary that is not UTF-8
/// as `binary/plain`, anything else as `json/plain`.
fn tree_to_payload(value: &TermTree) -> Result<Payload, String> {
    if let Some(payload) = payload_struct_fields(value) {
        return payload;
    }
    let value = match value {
        TermTree::Atom(name) if name == "nil" => PayloadValue::Null,
        TermTree::Binary(bytes) if std::str::from_utf8(bytes).is_err() => {
            PayloadValue::Bytes(bytes.clone())
        }
        _ => PayloadValue::Json(
            hourglass_values::term::term_to_value(value).map_err(|error| error.to_string())?,
        ),
    };
    payload::encode(&value)
}

/// The payload a `%Hourglass.Payload{}` struct stands for; `None` when `value` is not one.
fn payload_struct_fields(value: &TermTree) -> Option<Result<Payload, String>> {
    let TermTree::Map(entries) = value else {
        return None;
    };
    let field = |name: &str| {
        entries
            .iter()
            .find(|(key, _)| matches!(key, TermTree::Atom(key) if key == name))
            .map(|(_, value)| value)
    };
    match field("__struct__") {
        Some(TermTree::Atom(name)) if name == PAYLOAD_STRUCT => {}
        _ => return None,
    }
    let data = match field("data") {
        Some(TermTree::Binary(data)) => data.clone(),
        _ => return Some(Err("a Hourglass.Payload's :data must be a binary".into())),
    };
    let Some(TermTree::Map(metadata)) = field("metadata") else {
        return Some(Err("a Hourglass.Payload's :metadata must be a map".into()));
    };
    let mut decoded = HashMap::new();
    for (key, value) in metadata {
        let key = match key {
            TermTree::Binary(key) => match String::from_utf8(key.clone()) {
                Ok(key) => key,
                Err(_) => {
                    return Some(Err(
                        "a Hourglass.Payload's metadata keys must be UTF-8 strings".into(),
                    ))
                }
            },
            _ => {
                return Some(Err(
                    "a Hourglass.Payload's metadata keys must be UTF-8 strings".into(),
                ))
            }
        };
        let TermTree::Binary(value) = value else {
            return Some(Err(format!(
                "the Hourglass.Payload metadata value of {key:?} must be a binary"
            )));
        };
        decoded.insert(key, value.clone());
    }
    Some(Ok(Payload {
        metadata: decoded,
        data,
        ..Default::default()
    }))
}

fn write_payload_struct(writer: &mut Writer, payload: &Payload) {
    writer.map(3);
    writer.atom("__struct__");
    writer.atom(PAYLOAD_STRUCT);
    writer.atom("metadata");
    writer.map(payload.metadata.len());
    for (key, value) in &payload.metadata {
        writer.binary(key.as_bytes());
        writer.binary(value);
    }
    writer.atom("data");
    writer.binary(&payload.data);
}
