//! The Start task a native activity receives, decoded from the Elixir map with real errors.
//!
//! The map is the one `Hourglass.ActivityTask` documents; only the fields a native body needs
//! are read here, and any other key is left alone.

use crate::value::term_to_value;
use rustler::{Binary, Term, TermType};
use serde_json::Value;

/// What a native body knows about its attempt.
#[derive(Debug, Clone)]
pub struct NativeTask {
    pub task_token: Vec<u8>,
    pub activity_type: String,
    pub input: Vec<Value>,
}

/// Decodes a Start task. The error says which field is wrong and why.
pub fn decode_task(term: Term) -> Result<NativeTask, String> {
    if term.get_type() != TermType::Map {
        return Err("the activity task must be a map".into());
    }
    let field = |name: &str| -> Option<Term> {
        let key = rustler::Atom::from_str(term.get_env(), name).ok()?;
        term.map_get(key).ok()
    };
    let task_token = match field("task_token") {
        Some(token) if token.is_binary() => Binary::from_term(token)
            .map(|binary| binary.as_slice().to_vec())
            .map_err(|_| "task_token must be a binary".to_string())?,
        Some(_) => return Err("task_token must be a binary".into()),
        None => return Err("missing required key :task_token".into()),
    };
    let activity_type = match field("activity_type") {
        Some(name) => utf8_string(name).ok_or("activity_type must be a UTF-8 string")?,
        None => return Err("missing required key :activity_type".into()),
    };
    // Read only to reject a malformed task early, as the Elixir runner does.
    if let Some(id) = field("activity_id") {
        let is_nil = id.is_atom() && id.atom_to_string().ok().as_deref() == Some("nil");
        if !is_nil && utf8_string(id).is_none() {
            return Err("activity_id must be a UTF-8 string or nil".into());
        }
    }
    if let Some(attempt) = field("attempt") {
        if !matches!(attempt.decode::<u32>(), Ok(attempt) if attempt >= 1) {
            return Err("attempt must be a positive integer".into());
        }
    }
    let input = match field("input") {
        None => return Err("missing required key :input".into()),
        Some(input) if input.is_list() || input.is_empty_list() => match term_to_value(input) {
            Ok(Value::Array(arguments)) => arguments,
            Ok(_) => return Err("input must be a list of arguments".into()),
            Err(error) => return Err(format!("input cannot be converted: {error}")),
        },
        Some(_) => return Err("input must be a list of arguments".into()),
    };
    Ok(NativeTask {
        task_token,
        activity_type,
        input,
    })
}

/// Reads a UTF-8 binary term.
pub fn utf8_string(term: Term) -> Option<String> {
    let binary = Binary::from_term(term).ok()?;
    std::str::from_utf8(binary.as_slice())
        .ok()
        .map(str::to_owned)
}
