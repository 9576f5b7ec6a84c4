//! The Start task a native activity receives, decoded from the Elixir map with real errors.
//!
//! The map is the one `Hourglass.ActivityTask` documents; the fields of
//! [`ActivityInfo`] are read here, and any other key is left alone.

use crate::context::ActivityInfo;
use crate::nif::atoms;
use crate::nif::value::term_to_value;
use rustler::{Atom, Binary, Term, TermType};
use serde_json::Value;
use std::time::Duration;

/// What a native body knows about its attempt: its info (all but the task queue, which the
/// caller passes separately) and its arguments.
#[derive(Debug, Clone)]
pub struct NativeTask {
    pub info: ActivityInfo,
    pub input: Vec<Value>,
}

/// Decodes a Start task. The error says which field is wrong and why.
pub fn decode_task(term: Term) -> Result<NativeTask, String> {
    if term.get_type() != TermType::Map {
        return Err("the activity task must be a map".into());
    }
    let field = |key: Atom| -> Option<Term> { term.map_get(key).ok() };
    let task_token = match field(atoms::task_token()) {
        Some(token) if token.is_binary() => Binary::from_term(token)
            .map(|binary| binary.as_slice().to_vec())
            .map_err(|_| "task_token must be a binary".to_string())?,
        Some(_) => return Err("task_token must be a binary".into()),
        None => return Err("missing required key :task_token".into()),
    };
    let activity_type = match field(atoms::activity_type()) {
        Some(name) => utf8_string(name).ok_or("activity_type must be a UTF-8 string")?,
        None => return Err("missing required key :activity_type".into()),
    };
    let optional_string = |key: Atom, name: &str| -> Result<Option<String>, String> {
        match field(key) {
            None => Ok(None),
            Some(value) if is_nil(value) => Ok(None),
            Some(value) => utf8_string(value)
                .map(Some)
                .ok_or_else(|| format!("{name} must be a UTF-8 string or nil")),
        }
    };
    let milliseconds = |key: Atom, name: &str| -> Result<Option<Duration>, String> {
        match field(key) {
            None => Ok(None),
            Some(value) if is_nil(value) => Ok(None),
            Some(value) => value
                .decode::<u64>()
                .map(|millis| Some(Duration::from_millis(millis)))
                .map_err(|_| {
                    format!("{name} must be a non-negative integer of milliseconds or nil")
                }),
        }
    };
    let attempt = match field(atoms::attempt()) {
        None => 1,
        Some(attempt) => match attempt.decode::<u32>() {
            Ok(attempt) if attempt >= 1 => attempt,
            _ => return Err("attempt must be a positive integer".into()),
        },
    };
    let heartbeat_details = match field(atoms::heartbeat_details()) {
        None => Vec::new(),
        Some(details) => values(details, "heartbeat_details")?,
    };
    let input = match field(atoms::input()) {
        None => return Err("missing required key :input".into()),
        Some(input) => values(input, "input")?,
    };
    Ok(NativeTask {
        info: ActivityInfo {
            activity_type,
            activity_id: optional_string(atoms::activity_id(), "activity_id")?,
            task_queue: String::new(),
            task_token,
            workflow_id: optional_string(atoms::workflow_id(), "workflow_id")?,
            workflow_run_id: optional_string(atoms::workflow_run_id(), "workflow_run_id")?,
            workflow_type: optional_string(atoms::workflow_type(), "workflow_type")?,
            workflow_namespace: optional_string(atoms::workflow_namespace(), "workflow_namespace")?,
            attempt,
            heartbeat_timeout: milliseconds(atoms::heartbeat_timeout(), "heartbeat_timeout")?,
            start_to_close_timeout: milliseconds(
                atoms::start_to_close_timeout(),
                "start_to_close_timeout",
            )?,
            heartbeat_details,
        },
        input,
    })
}

/// A list of values, such as the arguments.
fn values(list: Term, name: &str) -> Result<Vec<Value>, String> {
    if !(list.is_list() || list.is_empty_list()) {
        return Err(format!("{name} must be a list"));
    }
    match term_to_value(list) {
        Ok(Value::Array(values)) => Ok(values),
        Ok(_) => Err(format!("{name} must be a list")),
        Err(error) => Err(format!("{name} cannot be converted: {error}")),
    }
}

fn is_nil(term: Term) -> bool {
    term.decode::<Atom>().ok() == Some(atoms::nil())
}

/// Reads a UTF-8 binary term.
pub fn utf8_string(term: Term) -> Option<String> {
    let binary = Binary::from_term(term).ok()?;
    std::str::from_utf8(binary.as_slice())
        .ok()
        .map(str::to_owned)
}
