//! Temporal's `Payload` message ⇄ values: the protobuf side of [`hourglass_values::payload`],
//! which holds the rules (and their tests and fuzz target).

pub use hourglass_values::payload::PayloadValue;
use hourglass_values::payload::ENCODING;
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// Decodes one payload. The error says which encoding or which JSON problem it was.
pub fn decode(payload: &Payload) -> Result<PayloadValue, String> {
    hourglass_values::payload::decode(
        payload.metadata.get(ENCODING).map(Vec::as_slice),
        &payload.data,
    )
}

/// Encodes one value.
pub fn encode(value: &PayloadValue) -> Result<Payload, String> {
    let (encoding, data) = hourglass_values::payload::encode(value)?;
    Ok(Payload {
        metadata: HashMap::from([(ENCODING.to_string(), encoding.as_bytes().to_vec())]),
        data,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_message_round_trips() {
        let value = PayloadValue::Json(serde_json::json!({"a": [1, "b"]}));
        let payload = encode(&value).unwrap();
        assert_eq!(payload.metadata[ENCODING], b"json/plain");
        assert_eq!(decode(&payload).unwrap(), value);
        assert!(decode(&Payload::default())
            .unwrap_err()
            .contains("without an encoding"));
    }
}
