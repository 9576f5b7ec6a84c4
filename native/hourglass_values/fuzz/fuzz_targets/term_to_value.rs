//! Arbitrary term trees into the term decoder Hourglass runs on every native activity's
//! arguments and results. It must never panic; what it accepts must be a value that survives
//! the trip through a `json/plain` payload unchanged, within the depth limit.
#![no_main]

use hourglass_values::payload::{self, PayloadValue};
use hourglass_values::term::{term_to_value, MAX_DEPTH};
use hourglass_values::tree::TermTree;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(object) => 1 + object.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|term: TermTree| {
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
