//! Erlang terms ⇄ JSON values.
//!
//! Decoding (term to value) is `hourglass_values::term`'s decoder, reading rustler's `Term`
//! through `hourglass_values::beam`. Encoding is here.

use crate::nif::deferred_term::{may_make_map, SMALL_MAP_LIMIT};
use rustler::types::tuple::make_tuple;
use rustler::{BigInt, Binary, Encoder, Env, NewBinary, Term};
use serde_json::{Number, Value};

/// Decodes a term into a JSON value (in `hourglass_values`, so that the recursive decoder is
/// compiled there, optimised even in debug builds: see the workspace's Cargo.toml).
pub use hourglass_values::beam::term_to_value;

/// Encodes a JSON value as a term: objects become maps with string keys, numbers become integers
/// (of any size) or floats, `null` becomes `nil`.
pub fn value_to_term<'a>(env: Env<'a>, value: &Value) -> Term<'a> {
    match value {
        Value::Null => rustler::types::atom::nil().encode(env),
        Value::Bool(flag) => flag.encode(env),
        Value::Number(number) => number_to_term(env, number),
        Value::String(text) => str_to_term(env, text),
        Value::Array(items) => {
            let terms: Vec<Term<'a>> = items.iter().map(|item| value_to_term(env, item)).collect();
            terms.encode(env)
        }
        Value::Object(object) if !may_make_map(object.len()) => wide_map_off_scheduler(env),
        Value::Object(object) => {
            let keys: Vec<Term<'a>> = object.keys().map(|key| str_to_term(env, key)).collect();
            let values: Vec<Term<'a>> = object
                .values()
                .map(|item| value_to_term(env, item))
                .collect();
            Term::map_from_term_arrays(env, &keys, &values).unwrap_or_else(|_| make_tuple(env, &[]))
        }
    }
}

/// What stands in for a map that must not be made on this thread: a caller forgot to defer a
/// wide term (see [`crate::nif::deferred_term`]). Losing the value is a bug, but crashing the
/// VM, which making the map would, is worse.
pub fn wide_map_off_scheduler<'a>(env: Env<'a>) -> Term<'a> {
    tracing::error!(
        "a map of more than {SMALL_MAP_LIMIT} keys was about to be made off a scheduler; \
         it was replaced by :\"$hourglass_wide_map_off_scheduler\" (a bug in Hourglass)"
    );
    crate::nif::atoms::named(env, "$hourglass_wide_map_off_scheduler")
}

/// Makes a binary term holding `text`.
pub fn str_to_term<'a>(env: Env<'a>, text: &str) -> Term<'a> {
    let mut binary = NewBinary::new(env, text.len());
    binary.as_mut_slice().copy_from_slice(text.as_bytes());
    Binary::from(binary).to_term(env)
}

fn number_to_term<'a>(env: Env<'a>, number: &Number) -> Term<'a> {
    if let Some(small) = number.as_i64() {
        return small.encode(env);
    }
    if let Some(unsigned) = number.as_u64() {
        return unsigned.encode(env);
    }
    let text = number.to_string();
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(big) = text.parse::<BigInt>() {
            return big.encode(env);
        }
    }
    match number.as_f64().filter(|float| float.is_finite()) {
        Some(float) => float.encode(env),
        // The BEAM has no infinite floats; keep every digit rather than invent a value.
        None => str_to_term(env, &text),
    }
}
