//! Payloads ⇄ terms: `json/plain` ⇄ maps, lists, numbers, strings, booleans, nil;
//! `binary/null` ⇄ nil; `binary/plain` ⇄ binaries that are not UTF-8 text.

use crate::value::{term_to_value, value_to_term};
use hourglass::payload::{self, PayloadValue};
use rustler::{Binary, Encoder, Env, NewBinary, Term};
use temporalio_common::protos::temporal::api::common::v1::Payload;

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

/// Encodes a term as a payload.
pub fn term_to_payload(term: Term) -> Result<Payload, String> {
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
