//! Arbitrary term trees into the term decoder Hourglass runs on every native activity's
//! arguments and results. It must never panic; what it accepts must be a value that survives
//! the trip through a `json/plain` payload unchanged, within the depth limit.
#![no_main]

use arbitrary::Arbitrary;
use hourglass_values::payload::{self, PayloadValue};
use hourglass_values::term::{term_to_value, Integer, TermKind, TermView, MAX_DEPTH};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The terms the BEAM can hand the decoder, shapes and all.
#[derive(Debug, Arbitrary)]
enum Term {
    Atom(String),
    UnreadableAtom,
    Binary(Vec<u8>),
    Bitstring,
    Small(i64),
    Unsigned(u64),
    Big(String),
    UnreadableInteger,
    Float(f64),
    List(Vec<Term>),
    ImproperList,
    Map(Vec<(Term, Term)>),
    Tuple,
    Pid,
}

type Entry<'t> = &'t (Term, Term);

impl<'t> TermView<'t> for &'t Term {
    type Items = std::slice::Iter<'t, Term>;
    type Entries =
        std::iter::Map<std::slice::Iter<'t, (Term, Term)>, fn(Entry<'t>) -> (&'t Term, &'t Term)>;

    fn kind(self) -> TermKind<'t> {
        match self {
            Term::Atom(name) => TermKind::Atom(Some(name.clone())),
            Term::UnreadableAtom => TermKind::Atom(None),
            Term::Binary(bytes) => TermKind::Binary(bytes),
            Term::Bitstring => TermKind::Bitstring,
            Term::Small(small) => TermKind::Integer(Integer::Small(*small)),
            Term::Unsigned(unsigned) => TermKind::Integer(Integer::Unsigned(*unsigned)),
            Term::Big(digits) => TermKind::Integer(Integer::Big(digits.clone())),
            Term::UnreadableInteger => TermKind::Integer(Integer::Unreadable),
            Term::Float(float) => TermKind::Float(*float),
            Term::List(_) | Term::ImproperList => TermKind::List,
            Term::Map(_) => TermKind::Map,
            Term::Tuple => TermKind::Other("a tuple"),
            Term::Pid => TermKind::Other("a pid"),
        }
    }

    fn list_items(self) -> Option<(usize, Self::Items)> {
        match self {
            Term::List(items) => Some((items.len(), items.iter())),
            _ => None,
        }
    }

    fn map_entries(self) -> Option<Self::Entries> {
        match self {
            Term::Map(entries) => Some(entries.iter().map(|(key, value)| (key, value))),
            _ => None,
        }
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(object) => 1 + object.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|term: Term| {
    match term_to_value(&term) {
        Ok(value) => {
            assert!(depth(&value) <= MAX_DEPTH + 1, "too deep: {value}");
            let decoded = PayloadValue::Json(value);
            let (encoding, data) = payload::encode(&decoded).expect("an accepted value encodes");
            let again = payload::decode(Some(encoding.as_bytes()), &data)
                .expect("an encoded value decodes");
            assert_eq!(again, decoded, "json/plain changed the value");
        }
        Err(error) => {
            assert!(error.path.starts_with('$'), "{error}");
            assert!(!error.problem.is_empty());
        }
    }
});
