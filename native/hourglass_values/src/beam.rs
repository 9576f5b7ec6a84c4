//! rustler's `Term` as the decoder of [`crate::term`] reads it (the `beam` feature, which the
//! NIF's crate enables; the fuzz targets build without it).
//!
//! It lives here rather than in the NIF's crate so that the decoder, generic over
//! [`TermView`], is instantiated for BEAM terms in this crate, which debug builds optimise: the
//! decoder recurses once per level of nesting on a dirty scheduler's small stack, and its
//! unoptimised frames would hold a value only half as deep.

use crate::term::{Integer, TermKind, TermView, ValueError};
use rustler::types::list::ListIterator;
use rustler::types::map::MapIterator;
use rustler::{BigInt, Binary, Term, TermType};
use serde_json::Value;

/// Decodes a term into a JSON value; see [`crate::term::term_to_value`].
pub fn term_to_value(term: Term) -> Result<Value, ValueError> {
    crate::term::term_to_value(BeamTerm(term))
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
