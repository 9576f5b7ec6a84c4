//! Erlang terms ⇄ JSON values.
//!
//! Decoding (term to value) is `hourglass_values::term`'s decoder, which reads terms through
//! [`TermView`]; this module implements that trait for rustler's `Term`. Encoding is here.

use crate::nif::deferred_term::{may_make_map, SMALL_MAP_LIMIT};
use hourglass_values::term::{Integer, TermKind, TermView, ValueError};
use rustler::types::list::ListIterator;
use rustler::types::map::MapIterator;
use rustler::types::tuple::make_tuple;
use rustler::{BigInt, Binary, Encoder, Env, NewBinary, Term, TermType};
use serde_json::{Number, Value};

/// Decodes a term into a JSON value; see [`hourglass_values::term::term_to_value`].
pub fn term_to_value(term: Term) -> Result<Value, ValueError> {
    hourglass_values::term::term_to_value(BeamTerm(term))
}

/// A BEAM term, as the term-free decoder reads it.
#[derive(Clone, Copy)]
struct BeamTerm<'a>(Term<'a>);

type Entry<'a> = (Term<'a>, Term<'a>);

impl<'a> TermView<'a> for BeamTerm<'a> {
    type Items = std::iter::Map<ListIterator<'a>, fn(Term<'a>) -> BeamTerm<'a>>;
    type Entries = std::iter::Map<MapIterator<'a>, fn(Entry<'a>) -> (BeamTerm<'a>, BeamTerm<'a>)>;

    fn kind(self) -> TermKind<'a> {
        let BeamTerm(term) = self;
        match term.get_type() {
            TermType::Atom => TermKind::Atom(term.atom_to_string().ok()),
            TermType::Binary => match Binary::from_term(term) {
                Ok(binary) => TermKind::Binary(binary.as_slice()),
                Err(_) => TermKind::Bitstring,
            },
            TermType::Integer => TermKind::Integer(integer(term)),
            TermType::Float => match term.decode::<f64>() {
                Ok(float) => TermKind::Float(float),
                Err(_) => TermKind::Other("an unreadable float"),
            },
            TermType::List => TermKind::List,
            TermType::Map => TermKind::Map,
            TermType::Fun => TermKind::Other("a function"),
            TermType::Pid => TermKind::Other("a pid"),
            TermType::Port => TermKind::Other("a port"),
            TermType::Ref => TermKind::Other("a reference"),
            TermType::Tuple => TermKind::Other("a tuple"),
            TermType::Unknown => TermKind::Other("an unknown term"),
        }
    }

    fn list_items(self) -> Option<(usize, Self::Items)> {
        // The length first: rustler's list iterator panics on an improper tail.
        let length = self.0.list_length().ok()?;
        let items = self.0.into_list_iterator().ok()?;
        Some((length, items.map(BeamTerm as fn(Term<'a>) -> BeamTerm<'a>)))
    }

    fn map_entries(self) -> Option<Self::Entries> {
        let entries = MapIterator::new(self.0)?;
        Some(entries.map(|(key, value)| (BeamTerm(key), BeamTerm(value))))
    }
}

fn integer(term: Term) -> Integer {
    if let Ok(small) = term.decode::<i64>() {
        Integer::Small(small)
    } else if let Ok(unsigned) = term.decode::<u64>() {
        Integer::Unsigned(unsigned)
    } else {
        term.decode::<BigInt>()
            .map(|big| Integer::Big(big.to_string()))
            .unwrap_or(Integer::Unreadable)
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
