//! Reading fields of an Elixir map with atom keys, with errors that name the field.

use crate::nif::task::utf8_string;
use rustler::{Atom, Binary, Term, TermType};

pub struct TermMap<'a> {
    term: Term<'a>,
}

fn is_nil(term: Term) -> bool {
    term.is_atom() && term.atom_to_string().ok().as_deref() == Some("nil")
}

impl<'a> TermMap<'a> {
    pub fn new(term: Term<'a>, what: &str) -> Result<Self, String> {
        if term.get_type() == TermType::Map {
            Ok(TermMap { term })
        } else {
            Err(format!("{what} must be a map"))
        }
    }

    /// The value under `key`, `None` when absent or nil.
    pub fn get(&self, key: &str) -> Option<Term<'a>> {
        let atom = Atom::from_str(self.term.get_env(), key).ok()?;
        self.term.map_get(atom).ok().filter(|value| !is_nil(*value))
    }

    pub fn required(&self, key: &str) -> Result<Term<'a>, String> {
        self.get(key)
            .ok_or_else(|| format!("missing required key :{key}"))
    }

    pub fn string(&self, key: &str) -> Result<String, String> {
        utf8_string(self.required(key)?).ok_or_else(|| format!(":{key} must be a UTF-8 string"))
    }

    pub fn optional_string(&self, key: &str) -> Result<Option<String>, String> {
        self.get(key)
            .map(|value| utf8_string(value).ok_or_else(|| format!(":{key} must be a UTF-8 string")))
            .transpose()
    }

    pub fn optional_atom(&self, key: &str) -> Result<Option<String>, String> {
        self.get(key)
            .map(|value| {
                value
                    .atom_to_string()
                    .map_err(|_| format!(":{key} must be an atom"))
            })
            .transpose()
    }

    pub fn optional_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.get(key)
            .map(|value| {
                Binary::from_term(value)
                    .map(|binary| binary.as_slice().to_vec())
                    .map_err(|_| format!(":{key} must be a binary"))
            })
            .transpose()
    }

    pub fn u64(&self, key: &str) -> Result<u64, String> {
        self.required(key)?
            .decode::<u64>()
            .map_err(|_| format!(":{key} must be a non-negative integer"))
    }

    pub fn optional_u64(&self, key: &str) -> Result<Option<u64>, String> {
        self.get(key)
            .map(|value| {
                value
                    .decode::<u64>()
                    .map_err(|_| format!(":{key} must be a non-negative integer"))
            })
            .transpose()
    }

    pub fn optional_f64(&self, key: &str) -> Result<Option<f64>, String> {
        self.get(key)
            .map(|value| {
                value
                    .decode::<f64>()
                    .or_else(|_| value.decode::<i64>().map(|integer| integer as f64))
                    .map_err(|_| format!(":{key} must be a number"))
            })
            .transpose()
    }

    pub fn bool(&self, key: &str) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(false),
            Some(value) => value
                .decode::<bool>()
                .map_err(|_| format!(":{key} must be a boolean")),
        }
    }
}
