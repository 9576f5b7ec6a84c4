//! Temporal payloads ⇄ values, the way the official SDKs' default data converter does it.
//!
//! - `json/plain`: JSON text ⇄ a JSON value (objects, arrays, numbers of any size, strings,
//!   booleans, null).
//! - `binary/null`: no data ⇄ nil.
//! - `binary/plain`: raw bytes ⇄ a binary that is not UTF-8 text (UTF-8 text goes as a JSON
//!   string, like a Python `str`, so every SDK reads it back as a string).
//!
//! Anything else is an error that names the encoding: Hourglass never guesses. A payload is seen
//! here as its `encoding` metadata and its data; the protobuf message lives in `hourglass`.

use serde_json::Value;

/// The metadata key that names a payload's encoding.
pub const ENCODING: &str = "encoding";
pub const JSON_PLAIN: &str = "json/plain";
pub const BINARY_NULL: &str = "binary/null";
pub const BINARY_PLAIN: &str = "binary/plain";

/// A decoded payload.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadValue {
    Json(Value),
    Null,
    Bytes(Vec<u8>),
}

/// Decodes a payload from its `encoding` metadata (absent: `None`) and its data. The error says
/// which encoding or which JSON problem it was.
pub fn decode(encoding: Option<&[u8]>, data: &[u8]) -> Result<PayloadValue, String> {
    let encoding = encoding.map(String::from_utf8_lossy).unwrap_or_default();
    match encoding.as_ref() {
        JSON_PLAIN => serde_json::from_slice(data)
            .map(PayloadValue::Json)
            .map_err(|error| format!("invalid json/plain payload: {error}")),
        BINARY_NULL => Ok(PayloadValue::Null),
        BINARY_PLAIN => Ok(PayloadValue::Bytes(data.to_vec())),
        "" => Err("payload without an encoding in its metadata".to_string()),
        other => Err(format!(
            "payload encoding {other:?} is not supported (json/plain, binary/plain, binary/null; \
             an encrypted or compressed payload needs a payload codec)"
        )),
    }
}

/// Encodes one value: its encoding and its data.
pub fn encode(value: &PayloadValue) -> Result<(&'static str, Vec<u8>), String> {
    Ok(match value {
        PayloadValue::Null => (BINARY_NULL, Vec::new()),
        PayloadValue::Bytes(bytes) => (BINARY_PLAIN, bytes.clone()),
        PayloadValue::Json(json) => (
            JSON_PLAIN,
            serde_json::to_vec(json).map_err(|error| format!("cannot encode as JSON: {error}"))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_with_big_integers() {
        let text =
            br#"{"big":123456789012345678901234567890,"f":1.5,"s":"\u00e9","l":[null,true]}"#;
        let decoded = decode(Some(b"json/plain"), text).unwrap();
        let PayloadValue::Json(value) = &decoded else {
            panic!("not json")
        };
        assert_eq!(value["big"].to_string(), "123456789012345678901234567890");
        assert_eq!(value["s"], json!("é"));
        let (encoding, data) = encode(&decoded).unwrap();
        assert_eq!(decode(Some(encoding.as_bytes()), &data).unwrap(), decoded);
    }

    #[test]
    fn null_and_bytes() {
        assert_eq!(
            decode(Some(b"binary/null"), b"").unwrap(),
            PayloadValue::Null
        );
        assert_eq!(
            decode(Some(b"binary/plain"), &[0, 255]).unwrap(),
            PayloadValue::Bytes(vec![0, 255])
        );
        let (encoding, data) = encode(&PayloadValue::Bytes(vec![1, 2])).unwrap();
        assert_eq!((encoding, data), (BINARY_PLAIN, vec![1, 2]));
    }

    #[test]
    fn bad_payloads_are_clear_errors() {
        let invalid_utf8 = decode(Some(b"json/plain"), b"\"\xff\"").unwrap_err();
        assert!(
            invalid_utf8.contains("invalid json/plain payload"),
            "{invalid_utf8}"
        );
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let too_deep = decode(Some(b"json/plain"), deep.as_bytes()).unwrap_err();
        assert!(too_deep.contains("recursion limit"), "{too_deep}");
        let unknown = decode(Some(b"binary/encrypted"), b"x").unwrap_err();
        assert!(unknown.contains("binary/encrypted"));
        assert!(decode(None, b"")
            .unwrap_err()
            .contains("without an encoding"));
    }
}
