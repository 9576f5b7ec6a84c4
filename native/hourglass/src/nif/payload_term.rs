//! Payloads ⇄ terms: `json/plain` ⇄ maps, lists, numbers, strings, booleans, nil;
//! `binary/null` ⇄ nil; `binary/plain` ⇄ binaries that are not UTF-8 text.
//!
//! A payload can also cross as itself, a `%Hourglass.Payload{metadata: %{String => binary},
//! data: binary}`: that is how payload codecs (in Elixir) see payloads. Where a term becomes a
//! payload, such a struct is taken as it is (already encoded); where a payload becomes a term,
//! the caller chooses [`Form::Raw`] to get the struct instead of its value.

use crate::nif::deferred_term::{has_wide_map, may_make_map, SMALL_MAP_LIMIT};
use crate::nif::value::wide_map_off_scheduler;
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
    if !may_make_map(payload.metadata.len()) {
        return wide_map_off_scheduler(env);
    }
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

/// A payload decoded as far as it can be without making terms: what a tokio thread prepares
/// before it decides whether the terms may be made there (see [`crate::nif::deferred_term`]).
pub enum DecodedPayload {
    /// The payload's value, by the default converter.
    Value(PayloadValue),
    /// The payload itself, for a payload codec.
    Raw(Payload),
}

impl DecodedPayload {
    /// Decodes `payload` into the given form.
    pub fn decode(payload: &Payload, form: Form) -> Result<Self, String> {
        Ok(match form {
            Form::Value => DecodedPayload::Value(payload::decode(payload)?),
            Form::Raw => DecodedPayload::Raw(payload.clone()),
        })
    }

    /// Decodes payloads, naming the argument that cannot be decoded.
    pub fn decode_all(payloads: &[Payload], form: Form) -> Result<Vec<Self>, String> {
        payloads
            .iter()
            .enumerate()
            .map(|(index, payload)| {
                Self::decode(payload, form)
                    .map_err(|error| format!("argument {}: {error}", index + 1))
            })
            .collect()
    }

    /// Whether its term holds a map too large to be made off a scheduler.
    pub fn has_wide_map(&self) -> bool {
        match self {
            DecodedPayload::Value(PayloadValue::Json(value)) => has_wide_map(value),
            DecodedPayload::Value(_) => false,
            DecodedPayload::Raw(payload) => payload.metadata.len() > SMALL_MAP_LIMIT,
        }
    }

    /// The term.
    pub fn to_term<'a>(&self, env: Env<'a>) -> Term<'a> {
        match self {
            DecodedPayload::Value(value) => payload_value_term(env, value),
            DecodedPayload::Raw(payload) => payload_struct(env, payload),
        }
    }
}

/// A payload as a term of the given form.
pub fn payload_term<'a>(env: Env<'a>, payload: &Payload, form: Form) -> Result<Term<'a>, String> {
    DecodedPayload::decode(payload, form).map(|decoded| decoded.to_term(env))
}

pub(crate) fn payload_value_term<'a>(env: Env<'a>, value: &PayloadValue) -> Term<'a> {
    match value {
        PayloadValue::Json(value) => value_to_term(env, value),
        PayloadValue::Null => rustler::types::atom::nil().encode(env),
        PayloadValue::Bytes(bytes) => bytes_to_term(env, bytes),
    }
}

/// Decodes a payload into a term.
pub fn payload_to_term<'a>(env: Env<'a>, payload: &Payload) -> Result<Term<'a>, String> {
    Ok(payload_value_term(env, &payload::decode(payload)?))
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
