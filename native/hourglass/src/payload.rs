//! Temporal payloads ⇄ values, the way the official SDKs' default data converter does it.
//!
//! - `json/plain`: JSON text ⇄ a JSON value (objects, arrays, numbers of any size, strings,
//!   booleans, null).
//! - `binary/null`: no data ⇄ nil.
//! - `binary/plain`: raw bytes ⇄ a binary that is not UTF-8 text (UTF-8 text goes as a JSON
//!   string, like a Python `str`, so every SDK reads it back as a string).
//!
//! Anything else is an error that names the encoding: Hourglass never guesses.

use serde_json::Value;
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::common::v1::Payload;

const ENCODING: &str = "encoding";
const JSON_PLAIN: &str = "json/plain";
const BINARY_NULL: &str = "binary/null";
const BINARY_PLAIN: &str = "binary/plain";

/// A decoded payload.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadValue {
    Json(Value),
    Null,
    Bytes(Vec<u8>),
}

/// Decodes one payload. The error says which encoding or which JSON problem it was.
pub fn decode(payload: &Payload) -> Result<PayloadValue, String> {
    let encoding = payload
        .metadata
        .get(ENCODING)
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .unwrap_or_default();
    match encoding.as_str() {
        JSON_PLAIN => serde_json::from_slice(&payload.data)
            .map(PayloadValue::Json)
            .map_err(|error| format!("invalid json/plain payload: {error}")),
        BINARY_NULL => Ok(PayloadValue::Null),
        BINARY_PLAIN => Ok(PayloadValue::Bytes(payload.data.clone())),
        "" => Err("payload without an encoding in its metadata".to_string()),
        other => Err(format!(
            "payload encoding {other:?} is not supported (json/plain, binary/plain, binary/null; \
             an encrypted or compressed payload needs a payload codec)"
        )),
    }
}

/// Encodes one value.
pub fn encode(value: &PayloadValue) -> Result<Payload, String> {
    let (encoding, data) = match value {
        PayloadValue::Null => (BINARY_NULL, Vec::new()),
        PayloadValue::Bytes(bytes) => (BINARY_PLAIN, bytes.clone()),
        PayloadValue::Json(json) => (
            JSON_PLAIN,
            serde_json::to_vec(json).map_err(|error| format!("cannot encode as JSON: {error}"))?,
        ),
    };
    Ok(Payload {
        metadata: HashMap::from([(ENCODING.to_string(), encoding.as_bytes().to_vec())]),
        data,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(encoding: &str, data: &[u8]) -> Payload {
        Payload {
            metadata: HashMap::from([(ENCODING.to_string(), encoding.as_bytes().to_vec())]),
            data: data.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn json_round_trips_with_big_integers() {
        let text =
            br#"{"big":123456789012345678901234567890,"f":1.5,"s":"\u00e9","l":[null,true]}"#;
        let decoded = decode(&payload("json/plain", text)).unwrap();
        let PayloadValue::Json(value) = &decoded else {
            panic!("not json")
        };
        assert_eq!(value["big"].to_string(), "123456789012345678901234567890");
        assert_eq!(value["s"], json!("é"));
        let encoded = encode(&decoded).unwrap();
        assert_eq!(decode(&encoded).unwrap(), decoded);
    }

    #[test]
    fn null_and_bytes() {
        assert_eq!(
            decode(&payload("binary/null", b"")).unwrap(),
            PayloadValue::Null
        );
        assert_eq!(
            decode(&payload("binary/plain", &[0, 255])).unwrap(),
            PayloadValue::Bytes(vec![0, 255])
        );
        let encoded = encode(&PayloadValue::Bytes(vec![1, 2])).unwrap();
        assert_eq!(encoded.metadata[ENCODING], b"binary/plain");
    }

    #[test]
    fn bad_payloads_are_clear_errors() {
        let invalid_utf8 = decode(&payload("json/plain", b"\"\xff\"")).unwrap_err();
        assert!(
            invalid_utf8.contains("invalid json/plain payload"),
            "{invalid_utf8}"
        );
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let too_deep = decode(&payload("json/plain", deep.as_bytes())).unwrap_err();
        assert!(too_deep.contains("recursion limit"), "{too_deep}");
        let unknown = decode(&payload("binary/encrypted", b"x")).unwrap_err();
        assert!(unknown.contains("binary/encrypted"));
        assert!(decode(&Payload::default())
            .unwrap_err()
            .contains("without an encoding"));
    }
}
