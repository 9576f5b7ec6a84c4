//! `Hourglass.Payload`'s conversions of heavy values, on the cpu runtime (issue 13).
//!
//! A NIF that converts a 2 MB value holds its scheduler for tens of milliseconds; rescheduled
//! on a dirty CPU scheduler, it still takes a core from the normal schedulers, whose threads run
//! at the same OS priority (83 ms of lateness at p99 in the scheduler benchmark). So heavy values
//! cross to the cpu runtime, whose threads run at nice 19, in Erlang's external term format:
//! the calling process serialises values with `:erlang.term_to_binary/1` and reads results with
//! `:erlang.binary_to_term/1`, both of which yield to other processes as they go, and the
//! runtime does the JSON and the payloads. No term bigger than a tuple and a binary is made
//! off a scheduler (a large map made there would crash the VM: erlang/otp#8208).
//!
//! Each NIF answers at once with `{:ok, pending}` and later with
//! `{:"$hourglass_client_reply", reference, {:ok, external_term} | {:error, message}}`, as
//! client calls do (see [`crate::nif::pending_call`]); the errors are the same as those of the
//! conversions on the caller's scheduler.

use crate::nif::atoms::named as atom;
use crate::nif::payload_nif::{payload_argument, proper_list};
use crate::nif::pending_call::compute_later;
use crate::nif::value::str_to_term;
use crate::payload::{self, PayloadValue};
use hourglass_values::etf::{self, Writer};
use hourglass_values::tree::TermTree;
use rustler::types::tuple::make_tuple;
use rustler::{Binary, Env, NewBinary, OwnedEnv, Term};
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::common::v1::Payload;

const PAYLOAD_STRUCT: &str = "Elixir.Hourglass.Payload";

/// Values to `%Hourglass.Payload{}` structs: `values` is `:erlang.term_to_binary(values)`;
/// the answer's external term is the list of structs.
#[rustler::nif]
fn payloads_from_values_etf<'a>(env: Env<'a>, values: Term<'a>, reference: Term<'a>) -> Term<'a> {
    offload(env, values, reference, |values| {
        let bytes = Binary::from_term(values).map_err(|_| "expected a binary".to_string())?;
        payload_structs_from_values(bytes.as_slice())
    })
}

/// `%Hourglass.Payload{}` structs to their values; the answer's external term is the list of
/// values.
#[rustler::nif]
fn payloads_to_values_etf<'a>(env: Env<'a>, payloads: Term<'a>, reference: Term<'a>) -> Term<'a> {
    offload(env, payloads, reference, values_from_payload_structs)
}

/// Copies `input` into an environment of its own (a binary is shared, not copied) and runs
/// `convert` on it on the cpu runtime; answers the caller as the module docs say.
fn offload<'a>(
    env: Env<'a>,
    input: Term<'a>,
    reference: Term<'a>,
    convert: for<'b> fn(Term<'b>) -> Result<Vec<u8>, String>,
) -> Term<'a> {
    let owned = OwnedEnv::new();
    let saved = owned.save(input);
    compute_later(
        env,
        env.pid(),
        reference,
        move || owned.run(|env| convert(saved.load(env))),
        |env, converted: Result<Vec<u8>, String>| match converted {
            Ok(bytes) => {
                let mut binary = NewBinary::new(env, bytes.len());
                binary.as_mut_slice().copy_from_slice(&bytes);
                make_tuple(env, &[atom(env, "ok"), Binary::from(binary).to_term(env)])
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

/// The external term of the values of a list of payload structs.
fn values_from_payload_structs(payloads: Term) -> Result<Vec<u8>, String> {
    let payloads = proper_list(payloads)?;
    let mut writer = Writer::new();
    writer.list(payloads.len());
    for (index, term) in payloads.into_iter().enumerate() {
        let value = payload_argument(term)
            .and_then(|payload| payload::decode(&payload))
            .map_err(|problem| format!("payload {}: {problem}", index + 1))?;
        match value {
            PayloadValue::Json(value) => writer.value(&value),
            PayloadValue::Null => writer.atom("nil"),
            PayloadValue::Bytes(bytes) => writer.binary(&bytes),
        }
    }
    writer.nil();
    Ok(writer.finish())
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
