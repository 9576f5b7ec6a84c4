//! Erlang terms to JSON values, with real errors.
//!
//! Native activity arguments and results are JSON values, because that is what a Temporal
//! `json/plain` payload carries. Terms come from users and from the network, so decoding never
//! panics: an unsupported term, an over-deep or oversized value yields a [`ValueError`] that names
//! the problem and where it was found.
//!
//! The decoder reads terms through [`TermView`]: the NIF implements it for `rustler::Term`, the
//! fuzz targets for a term tree of their own, so one decoder is what runs and what is fuzzed.

use serde_json::{Map, Number, Value};
use std::fmt;

/// Deepest nesting accepted, both ways. serde_json refuses more than 128 levels when it parses
/// a payload, so anything deeper could never travel as `json/plain` anyway.
pub const MAX_DEPTH: usize = 100;

/// Stack a conversion leaves untouched: below this much, it stops with an error rather than
/// recurse further (see [`crate::stack`]). Room for the error's own path, the callers' frames
/// and the thread's guard page.
const STACK_RED_ZONE: usize = 64 * 1024;

/// The key by which serde_json, with the arbitrary precision that big integers need, marks a
/// number inside a map: an object with this key alone would not read back as an object.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Largest value accepted, counted roughly as string bytes plus a few bytes per node.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// An integer term as the BEAM can hand it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integer {
    Small(i64),
    Unsigned(u64),
    /// Larger than 64 bits: its decimal digits, with a leading `-` when negative.
    Big(String),
    Unreadable,
}

/// What a term is, as far as the decoder needs to know.
#[derive(Debug, Clone, PartialEq)]
pub enum TermKind<'t> {
    /// An atom and its name; `None` when the name cannot be read.
    Atom(Option<String>),
    Binary(&'t [u8]),
    /// A bitstring whose length is not a whole number of bytes.
    Bitstring,
    Integer(Integer),
    Float(f64),
    List,
    Map,
    /// Anything JSON has no room for, named for the error: "a pid", "a tuple", ...
    Other(&'static str),
}

/// Read access to a term.
pub trait TermView<'t>: Copy {
    type Items: Iterator<Item = Self>;
    type Entries: Iterator<Item = (Self, Self)>;

    fn kind(self) -> TermKind<'t>;
    /// A proper list's length and items; `None` for an improper list (or a non-list).
    fn list_items(self) -> Option<(usize, Self::Items)>;
    /// A map's entries; `None` for a non-map.
    fn map_entries(self) -> Option<Self::Entries>;
}

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

/// Decodes a term into a JSON value.
///
/// Accepted: maps with string or atom keys, proper lists, integers of any size, floats,
/// UTF-8 binaries, `true`, `false`, `nil`, and other atoms (as strings, like Jason does).
pub fn term_to_value<'t, T: TermView<'t>>(term: T) -> Result<Value, ValueError> {
    Decoder { bytes: 0 }.decode(term, &mut String::from("$"), 0)
}

struct Decoder {
    bytes: usize,
}

fn fail(path: &str, problem: impl Into<String>) -> ValueError {
    ValueError {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

impl Decoder {
    fn charge(&mut self, path: &str, bytes: usize) -> Result<(), ValueError> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > MAX_BYTES {
            Err(fail(path, format!("value larger than {MAX_BYTES} bytes")))
        } else {
            Ok(())
        }
    }

    fn decode<'t, T: TermView<'t>>(
        &mut self,
        term: T,
        path: &mut String,
        depth: usize,
    ) -> Result<Value, ValueError> {
        if depth > MAX_DEPTH {
            return Err(fail(
                path,
                format!("value nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        if crate::stack::remaining().is_some_and(|left| left < STACK_RED_ZONE) {
            return Err(fail(
                path,
                format!(
                    "value nested too deeply ({depth} levels) for the stack of the thread \
                     converting it"
                ),
            ));
        }
        self.charge(path, 8)?;
        match term.kind() {
            TermKind::Atom(None) => Err(fail(path, "unreadable atom")),
            TermKind::Atom(Some(name)) => Ok(match name.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "nil" => Value::Null,
                _ => Value::String(name),
            }),
            TermKind::Binary(bytes) => {
                let text = utf8(bytes, path)?;
                self.charge(path, text.len())?;
                Ok(Value::String(text.to_owned()))
            }
            TermKind::Bitstring => Err(fail(path, "bitstring that is not a binary")),
            TermKind::Integer(integer) => integer_to_value(integer, path),
            TermKind::Float(float) => Number::from_f64(float)
                .map(Value::Number)
                .ok_or_else(|| fail(path, "float is not finite")),
            TermKind::List => {
                let (length, items) = term
                    .list_items()
                    .ok_or_else(|| fail(path, "improper list"))?;
                // A length is only a hint: never reserve more than the size limit allows.
                let mut values = Vec::with_capacity(length.min(MAX_BYTES / 8));
                for (index, item) in items.enumerate() {
                    let mark = path.len();
                    path.push_str(&format!("[{index}]"));
                    values.push(self.decode(item, path, depth + 1)?);
                    path.truncate(mark);
                }
                Ok(Value::Array(values))
            }
            TermKind::Map => {
                let entries = term
                    .map_entries()
                    .ok_or_else(|| fail(path, "unreadable map"))?;
                let mut object = Map::new();
                for (key, value) in entries {
                    let key = map_key(key, path)?;
                    if key == NUMBER_TOKEN {
                        return Err(fail(
                            path,
                            format!(
                                "map key {NUMBER_TOKEN:?} is reserved: serde_json, which \
                                 Hourglass's JSON goes through, reads such a map back as a \
                                 number"
                            ),
                        ));
                    }
                    self.charge(path, key.len())?;
                    let mark = path.len();
                    path.push_str(&format!("[{key:?}]"));
                    let value = self.decode(value, path, depth + 1)?;
                    path.truncate(mark);
                    if object.insert(key.clone(), value).is_some() {
                        return Err(fail(
                            path,
                            format!(
                                "duplicate key {key:?} (an atom and a string with the same name)"
                            ),
                        ));
                    }
                }
                Ok(Value::Object(object))
            }
            TermKind::Other(name) => Err(fail(path, format!("{name} cannot be converted to JSON"))),
        }
    }
}

fn utf8<'b>(bytes: &'b [u8], path: &str) -> Result<&'b str, ValueError> {
    std::str::from_utf8(bytes).map_err(|_| fail(path, "binary is not valid UTF-8"))
}

fn map_key<'t, T: TermView<'t>>(key: T, path: &str) -> Result<String, ValueError> {
    match key.kind() {
        TermKind::Binary(bytes) => utf8(bytes, path).map(str::to_owned),
        TermKind::Atom(name) => name.ok_or_else(|| fail(path, "unreadable atom key")),
        other => Err(fail(
            path,
            format!(
                "map key of type {} (keys must be strings or atoms)",
                kind_name(&other)
            ),
        )),
    }
}

fn integer_to_value(integer: Integer, path: &str) -> Result<Value, ValueError> {
    match integer {
        Integer::Small(small) => Ok(Value::Number(small.into())),
        Integer::Unsigned(unsigned) => Ok(Value::Number(unsigned.into())),
        // With serde_json's arbitrary_precision, a Number keeps every digit of its source text;
        // the digits are checked, since the parser would also take a float's text.
        Integer::Big(digits)
            if !digits.is_empty()
                && digits
                    .strip_prefix('-')
                    .unwrap_or(&digits)
                    .bytes()
                    .all(|byte| byte.is_ascii_digit()) =>
        {
            digits
                .parse::<Number>()
                .map(Value::Number)
                .map_err(|_| fail(path, "integer cannot be represented"))
        }
        Integer::Big(_) => Err(fail(path, "integer cannot be represented")),
        Integer::Unreadable => Err(fail(path, "unreadable integer")),
    }
}

/// The name of a kind of term, for errors.
pub fn kind_name(kind: &TermKind) -> &'static str {
    match kind {
        TermKind::Atom(_) => "an atom",
        TermKind::Binary(_) => "a binary",
        TermKind::Bitstring => "a bitstring",
        TermKind::Integer(_) => "an integer",
        TermKind::Float(_) => "a float",
        TermKind::List => "a list",
        TermKind::Map => "a map",
        TermKind::Other(name) => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::TermTree as T;
    use serde_json::json;

    fn text(value: &str) -> T {
        T::Binary(value.as_bytes().to_vec())
    }

    #[test]
    fn decodes_nested_values() {
        let term = T::Map(vec![
            (
                T::Atom("a".into()),
                T::List(vec![
                    T::Atom("nil".into()),
                    T::Atom("true".into()),
                    T::Atom("ok".into()),
                ]),
            ),
            (
                text("big"),
                T::Big("-123456789012345678901234567890".into()),
            ),
            (text("n"), T::Small(-3)),
            (text("u"), T::Unsigned(u64::MAX)),
            (text("f"), T::Float(1.5)),
        ]);
        let value = term_to_value(&term).unwrap();
        assert_eq!(value["a"], json!([null, true, "ok"]));
        assert_eq!(value["big"].to_string(), "-123456789012345678901234567890");
        assert_eq!(value["n"], json!(-3));
        assert_eq!(value["u"], json!(u64::MAX));
        assert_eq!(value["f"], json!(1.5));
    }

    #[test]
    fn errors_name_the_problem_and_the_place() {
        let pid = T::List(vec![T::Atom("x".into()), T::Map(vec![(text("k"), T::Pid)])]);
        assert_eq!(
            term_to_value(&pid).unwrap_err().to_string(),
            "a pid cannot be converted to JSON at $[1][\"k\"]"
        );
        let duplicate = T::Map(vec![
            (T::Atom("k".into()), T::Atom("a".into())),
            (text("k"), T::Atom("b".into())),
        ]);
        assert!(term_to_value(&duplicate)
            .unwrap_err()
            .problem
            .contains("duplicate key"));
        // Found by the fuzzer: it would encode, and read back as the number 1.5.
        let reserved = T::Map(vec![(text("$serde_json::private::Number"), T::Float(1.5))]);
        assert!(term_to_value(&reserved)
            .unwrap_err()
            .problem
            .contains("reserved"));
        let bad_key = T::Map(vec![(T::Float(1.0), T::Atom("a".into()))]);
        assert!(term_to_value(&bad_key)
            .unwrap_err()
            .problem
            .contains("map key of type a float"));
        assert!(term_to_value(&T::ImproperList)
            .unwrap_err()
            .problem
            .contains("improper"));
        assert!(term_to_value(&T::Binary(vec![0xff]))
            .unwrap_err()
            .problem
            .contains("UTF-8"));
        assert!(term_to_value(&T::Float(f64::NAN))
            .unwrap_err()
            .problem
            .contains("finite"));
        let float_text = T::Big("1.5e3".into());
        assert!(term_to_value(&float_text).is_err());
    }

    #[test]
    fn limits_depth_and_size() {
        let mut deep = T::List(vec![]);
        for _ in 0..=MAX_DEPTH {
            deep = T::List(vec![deep]);
        }
        assert!(term_to_value(&deep)
            .unwrap_err()
            .problem
            .contains("deeper than"));
        let big = T::List(
            (0..3)
                .map(|_| T::Binary(vec![b'x'; MAX_BYTES / 2]))
                .collect(),
        );
        assert!(term_to_value(&big)
            .unwrap_err()
            .problem
            .contains("larger than"));
    }

    #[test]
    fn a_stack_too_small_for_the_nesting_is_an_error_not_an_overflow() {
        let mut deep = T::List(vec![]);
        for _ in 0..MAX_DEPTH {
            deep = T::List(vec![deep]);
        }
        // Fits on an ordinary thread.
        assert!(term_to_value(&deep).is_ok());
        // Not within 40 KiB: without the check this overflows the stack (the process aborts,
        // as a BEAM would take a SIGSEGV); with it, the red zone is reached at once.
        let on_a_small_stack = std::thread::Builder::new()
            .stack_size(40 * 1024)
            .spawn(move || term_to_value(&deep))
            .unwrap();
        let error = on_a_small_stack.join().unwrap().unwrap_err();
        assert!(error.problem.contains("for the stack"), "{error}");
    }
}
