//! Conversion between Erlang terms and JSON values, with real errors.
//!
//! Native activity arguments and results are JSON values, because that is what a Temporal
//! `json/plain` payload carries. Terms come from users and from the network, so decoding never
//! panics: an unsupported term, an over-deep or oversized value yields a [`ValueError`] that names
//! the problem and where it was found.

use rustler::types::tuple::make_tuple;
use rustler::{BigInt, Binary, Encoder, Env, NewBinary, Term, TermType};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Deepest nesting accepted, both ways. serde_json refuses more than 128 levels when it parses
/// a payload, so anything deeper could never travel as `json/plain` anyway.
pub const MAX_DEPTH: usize = 100;

/// Largest value accepted, counted roughly as string bytes plus a few bytes per node.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Why a term could not become a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// Where in the value the problem sits, e.g. `$[0]["data"]`.
    pub path: String,
    pub problem: String,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.problem, self.path)
    }
}

impl std::error::Error for ValueError {}

struct Decoder {
    bytes: usize,
}

/// Decodes a term into a JSON value.
///
/// Accepted: maps with string or atom keys, proper lists, integers of any size, floats,
/// UTF-8 binaries, `true`, `false`, `nil`, and other atoms (as strings, like Jason does).
pub fn term_to_value(term: Term) -> Result<Value, ValueError> {
    Decoder { bytes: 0 }.decode(term, &mut String::from("$"), 0)
}

impl Decoder {
    fn fail(path: &str, problem: impl Into<String>) -> ValueError {
        ValueError {
            path: path.to_owned(),
            problem: problem.into(),
        }
    }

    fn charge(&mut self, path: &str, bytes: usize) -> Result<(), ValueError> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > MAX_BYTES {
            Err(Self::fail(
                path,
                format!("value larger than {MAX_BYTES} bytes"),
            ))
        } else {
            Ok(())
        }
    }

    fn decode(&mut self, term: Term, path: &mut String, depth: usize) -> Result<Value, ValueError> {
        if depth > MAX_DEPTH {
            return Err(Self::fail(
                path,
                format!("value nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.charge(path, 8)?;
        match term.get_type() {
            TermType::Atom => {
                let name = term
                    .atom_to_string()
                    .map_err(|_| Self::fail(path, "unreadable atom"))?;
                Ok(match name.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "nil" => Value::Null,
                    _ => Value::String(name),
                })
            }
            TermType::Binary => {
                let text = binary_to_str(term, path)?;
                self.charge(path, text.len())?;
                Ok(Value::String(text.to_owned()))
            }
            TermType::Integer => integer_to_value(term, path),
            TermType::Float => {
                let float: f64 = term
                    .decode()
                    .map_err(|_| Self::fail(path, "unreadable float"))?;
                Number::from_f64(float)
                    .map(Value::Number)
                    .ok_or_else(|| Self::fail(path, "float is not finite"))
            }
            TermType::List => {
                // Check the length first: rustler's list iterator panics on an improper tail.
                let length = term
                    .list_length()
                    .map_err(|_| Self::fail(path, "improper list"))?;
                let items = term
                    .into_list_iterator()
                    .map_err(|_| Self::fail(path, "improper list"))?;
                let mut values = Vec::with_capacity(length.min(MAX_BYTES / 8));
                for (index, item) in items.enumerate() {
                    let mark = path.len();
                    path.push_str(&format!("[{index}]"));
                    values.push(self.decode(item, path, depth + 1)?);
                    path.truncate(mark);
                }
                Ok(Value::Array(values))
            }
            TermType::Map => {
                let entries = rustler::types::map::MapIterator::new(term)
                    .ok_or_else(|| Self::fail(path, "unreadable map"))?;
                let mut object = Map::new();
                for (key, value) in entries {
                    let key = map_key(key, path)?;
                    self.charge(path, key.len())?;
                    let mark = path.len();
                    path.push_str(&format!("[{key:?}]"));
                    let value = self.decode(value, path, depth + 1)?;
                    path.truncate(mark);
                    if object.insert(key.clone(), value).is_some() {
                        return Err(Self::fail(
                            path,
                            format!(
                                "duplicate key {key:?} (an atom and a string with the same name)"
                            ),
                        ));
                    }
                }
                Ok(Value::Object(object))
            }
            other => Err(Self::fail(
                path,
                format!("{} cannot be converted to JSON", type_name(other)),
            )),
        }
    }
}

fn binary_to_str<'a>(term: Term<'a>, path: &str) -> Result<&'a str, ValueError> {
    let binary = Binary::from_term(term)
        .map_err(|_| Decoder::fail(path, "bitstring that is not a binary"))?;
    std::str::from_utf8(binary.as_slice())
        .map_err(|_| Decoder::fail(path, "binary is not valid UTF-8"))
}

fn map_key(key: Term, path: &str) -> Result<String, ValueError> {
    match key.get_type() {
        TermType::Binary => binary_to_str(key, path).map(str::to_owned),
        TermType::Atom => key
            .atom_to_string()
            .map_err(|_| Decoder::fail(path, "unreadable atom key")),
        other => Err(Decoder::fail(
            path,
            format!(
                "map key of type {} (keys must be strings or atoms)",
                type_name(other)
            ),
        )),
    }
}

fn integer_to_value(term: Term, path: &str) -> Result<Value, ValueError> {
    if let Ok(small) = term.decode::<i64>() {
        return Ok(Value::Number(small.into()));
    }
    if let Ok(unsigned) = term.decode::<u64>() {
        return Ok(Value::Number(unsigned.into()));
    }
    let big: BigInt = term
        .decode()
        .map_err(|_| Decoder::fail(path, "unreadable integer"))?;
    // With serde_json's arbitrary_precision, a Number keeps every digit of its source text.
    big.to_string()
        .parse::<Number>()
        .map(Value::Number)
        .map_err(|_| Decoder::fail(path, "integer cannot be represented"))
}

fn type_name(term_type: TermType) -> &'static str {
    match term_type {
        TermType::Atom => "an atom",
        TermType::Binary => "a binary",
        TermType::Fun => "a function",
        TermType::List => "a list",
        TermType::Map => "a map",
        TermType::Integer => "an integer",
        TermType::Float => "a float",
        TermType::Pid => "a pid",
        TermType::Port => "a port",
        TermType::Ref => "a reference",
        TermType::Tuple => "a tuple",
        TermType::Unknown => "an unknown term",
    }
}

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
