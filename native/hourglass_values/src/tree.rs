//! [`TermTree`]: Erlang terms as a plain Rust tree, for the decoder's tests and fuzz targets,
//! which have no BEAM to make real terms with, and for terms read from their external format
//! ([`crate::etf`]). With the `arbitrary` feature, a fuzzer can generate them.

use crate::term::{Integer, TermKind, TermView};

/// Every shape of term the BEAM can hand the decoder.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum TermTree {
    Atom(String),
    UnreadableAtom,
    Binary(Vec<u8>),
    Bitstring,
    Small(i64),
    Unsigned(u64),
    /// An integer beyond 64 bits, as its decimal text (which the BEAM never gets wrong; a
    /// fuzzer may).
    Big(String),
    UnreadableInteger,
    Float(f64),
    List(Vec<TermTree>),
    ImproperList,
    Map(Vec<(TermTree, TermTree)>),
    Tuple,
    Pid,
    Port,
    Reference,
    Function,
}

type Entry<'t> = &'t (TermTree, TermTree);

impl<'t> TermView<'t> for &'t TermTree {
    type Items = std::slice::Iter<'t, TermTree>;
    type Entries = std::iter::Map<
        std::slice::Iter<'t, (TermTree, TermTree)>,
        fn(Entry<'t>) -> (&'t TermTree, &'t TermTree),
    >;

    fn kind(self) -> TermKind<'t> {
        match self {
            TermTree::Atom(name) => TermKind::Atom(Some(name.clone())),
            TermTree::UnreadableAtom => TermKind::Atom(None),
            TermTree::Binary(bytes) => TermKind::Binary(bytes),
            TermTree::Bitstring => TermKind::Bitstring,
            TermTree::Small(small) => TermKind::Integer(Integer::Small(*small)),
            TermTree::Unsigned(unsigned) => TermKind::Integer(Integer::Unsigned(*unsigned)),
            TermTree::Big(digits) => TermKind::Integer(Integer::Big(digits.clone())),
            TermTree::UnreadableInteger => TermKind::Integer(Integer::Unreadable),
            TermTree::Float(float) => TermKind::Float(*float),
            TermTree::List(_) | TermTree::ImproperList => TermKind::List,
            TermTree::Map(_) => TermKind::Map,
            TermTree::Tuple => TermKind::Other("a tuple"),
            TermTree::Pid => TermKind::Other("a pid"),
            TermTree::Port => TermKind::Other("a port"),
            TermTree::Reference => TermKind::Other("a reference"),
            TermTree::Function => TermKind::Other("a function"),
        }
    }

    fn list_items(self) -> Option<(usize, Self::Items)> {
        match self {
            TermTree::List(items) => Some((items.len(), items.iter())),
            _ => None,
        }
    }

    fn map_entries(self) -> Option<Self::Entries> {
        match self {
            TermTree::Map(entries) => Some(entries.iter().map(|(key, value)| (key, value))),
            _ => None,
        }
    }
}
