//! Payloads ⇄ terms: `json/plain` ⇄ maps, lists, numbers, strings, booleans, nil;
//! `binary/null` ⇄ nil; `binary/plain` ⇄ binaries that are not UTF-8 text.
//!
//! A payload can also cross as itself, a `%Hourglass.Payload{metadata: %{String => binary},
//! data: binary}`: that is how payload codecs (in Elixir) see payloads. Where a term becomes a
//! payload, such a struct is taken as it is (already encoded); where a payload becomes a term,
//! the caller chooses [`Form::Raw`] to get the struct instead of its value.

use crate::nif::value::{term_to_value, value_to_term};
use crate::payload::{self, PayloadValue};
use rustler::types::map::map_new;
use rustler::{Binary, Encoder, Env, NewBinary, Term, TermType};
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::common::v1::Payload;

const PAYLOAD_STRUCT: &str = "Elixir.Hourglass.Payload";

/// How payloads become terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Their values, decoded by the default converter.
    Value,
    /// `%Hourglass.Payload{}` structs, for a payload codec to decode first.
    Raw,
}

/// A payload as a `%Hourglass.Payload{}` struct.
pub fn payload_struct<'a>(env: Env<'a>, payload: &Payload) -> Term<'a> {
    let mut metadata = map_new(env);
    for (key, value) in &payload.metadata {
        if let Ok(with) = metadata.map_put(key.as_str().encode(env), bytes_to_term(env, value)) {
            metadata = with;
        }
    }
    let atom = |name: &str| crate::nif::atoms::named(env, name);
    Term::map_from_term_arrays(
        env,
        &[atom("__struct__"), atom("metadata"), atom("data")],
        &[
            atom(PAYLOAD_STRUCT),
            metadata,
            bytes_to_term(env, &payload.data),
        ],
    )
    .unwrap_or_else(|_| rustler::types::atom::nil().encode(env))
}

/// The payload a `%Hourglass.Payload{}` struct stands for; `None` when `term` is not one.
pub fn decode_payload_struct(term: Term) -> Option<Result<Payload, String>> {
    if term.get_type() != TermType::Map {
        return None;
    }
    let env = term.get_env();
    let field = |name: &str| {
        rustler::Atom::from_str(env, name)
            .ok()
            .and_then(|key| term.map_get(key).ok())
    };
    let name = field("__struct__")?.atom_to_string().ok()?;
    if name != PAYLOAD_STRUCT {
        return None;
    }
    Some(payload_from_fields(field("metadata"), field("data")))
}

fn payload_from_fields(metadata: Option<Term>, data: Option<Term>) -> Result<Payload, String> {
    let data = data
        .and_then(|data| Binary::from_term(data).ok())
        .ok_or("a Hourglass.Payload's :data must be a binary")?
        .as_slice()
        .to_vec();
    let metadata = metadata
        .filter(|metadata| metadata.get_type() == TermType::Map)
        .ok_or("a Hourglass.Payload's :metadata must be a map")?;
    let mut decoded = HashMap::new();
    for (key, value) in metadata
        .decode::<rustler::MapIterator>()
        .map_err(|_| "a Hourglass.Payload's :metadata must be a map")?
    {
        let key = crate::nif::task::utf8_string(key)
            .ok_or("a Hourglass.Payload's metadata keys must be UTF-8 strings")?;
        let value = Binary::from_term(value).map_err(|_| {
            format!("the Hourglass.Payload metadata value of {key:?} must be a binary")
        })?;
        decoded.insert(key, value.as_slice().to_vec());
    }
    Ok(Payload {
        metadata: decoded,
        data,
        ..Default::default()
    })
}

/// A payload as a term of the given form.
pub fn payload_term<'a>(env: Env<'a>, payload: &Payload, form: Form) -> Result<Term<'a>, String> {
    match form {
        Form::Value => payload_to_term(env, payload),
        Form::Raw => Ok(payload_struct(env, payload)),
    }
}

/// Payloads as a list of terms of the given form.
pub fn payloads_terms<'a>(
    env: Env<'a>,
    payloads: &[Payload],
    form: Form,
) -> Result<Vec<Term<'a>>, String> {
    match form {
        Form::Value => payloads_to_terms(env, payloads),
        Form::Raw => Ok(payloads
            .iter()
            .map(|payload| payload_struct(env, payload))
            .collect()),
    }
}

/// Decodes a payload into a term.
pub fn payload_to_term<'a>(env: Env<'a>, payload: &Payload) -> Result<Term<'a>, String> {
    Ok(match payload::decode(payload)? {
        PayloadValue::Json(value) => value_to_term(env, &value),
        PayloadValue::Null => rustler::types::atom::nil().encode(env),
        PayloadValue::Bytes(bytes) => bytes_to_term(env, &bytes),
    })
}

/// Decodes payloads into a list of terms.
pub fn payloads_to_terms<'a>(env: Env<'a>, payloads: &[Payload]) -> Result<Vec<Term<'a>>, String> {
    payloads
        .iter()
        .enumerate()
        .map(|(index, payload)| {
            payload_to_term(env, payload)
                .map_err(|error| format!("argument {}: {error}", index + 1))
        })
        .collect()
}

/// Encodes a term as a payload; a `%Hourglass.Payload{}` is taken as it is.
pub fn term_to_payload(term: Term) -> Result<Payload, String> {
    if let Some(payload) = decode_payload_struct(term) {
        return payload;
    }
    let value = if term.is_atom() && term.atom_to_string().ok().as_deref() == Some("nil") {
        PayloadValue::Null
    } else if term.is_binary() {
        match Binary::from_term(term) {
            Ok(binary) if std::str::from_utf8(binary.as_slice()).is_err() => {
                PayloadValue::Bytes(binary.as_slice().to_vec())
            }
            _ => PayloadValue::Json(term_to_value(term).map_err(|error| error.to_string())?),
        }
    } else {
        PayloadValue::Json(term_to_value(term).map_err(|error| error.to_string())?)
    };
    payload::encode(&value)
}

/// Encodes a list of terms as payloads.
pub fn terms_to_payloads(list: Term) -> Result<Vec<Payload>, String> {
    let length = list
        .list_length()
        .map_err(|_| "expected a proper list".to_string())?;
    let mut payloads = Vec::with_capacity(length);
    for item in list
        .into_list_iterator()
        .map_err(|_| "expected a proper list".to_string())?
    {
        payloads.push(term_to_payload(item)?);
    }
    Ok(payloads)
}

fn bytes_to_term<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    let mut binary = NewBinary::new(env, bytes.len());
    binary.as_mut_slice().copy_from_slice(bytes);
    Binary::from(binary).to_term(env)
}
