//! Arbitrary payloads, as they arrive from the server, into the payload decoder. It must never
//! panic, and whatever it decodes must encode and decode again to the same value, also through
//! the external term format heavy values cross in (`hourglass_values::etf`). The same bytes, read
//! as an external term, must never make that reader panic either.
#![no_main]

use hourglass_values::etf;
use hourglass_values::payload::{decode, encode, PayloadValue};
use hourglass_values::term::term_to_value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: (Option<Vec<u8>>, Vec<u8>)| {
    let (encoding, data) = payload;
    match decode(encoding.as_deref(), &data) {
        Ok(value) => {
            let (encoding, data) = encode(&value).expect("a decoded value encodes");
            let again = decode(Some(encoding.as_bytes()), &data).expect("and decodes");
            assert_eq!(again, value);
            if let PayloadValue::Json(json) = &value {
                // Numbers take their canonical form as terms (1.50 is the float 1.5), so the
                // property is that a second trip changes nothing.
                // Values beyond the converter's depth or size limits are refused on the way.
                let written = write(json);
                match etf::decode(&written)
                    .and_then(|term| term_to_value(&term).map_err(|error| error.to_string()))
                {
                    Ok(read) => assert_eq!(write(&read), written),
                    Err(error) => assert!(
                        error.contains("deeper than") || error.contains("larger than"),
                        "{error}"
                    ),
                }
            }
        }
        Err(error) => assert!(!error.is_empty()),
    }
    if let Err(error) = etf::decode(&data) {
        assert!(!error.is_empty());
    }
});

fn write(value: &serde_json::Value) -> Vec<u8> {
    let mut writer = etf::Writer::new();
    writer.value(value);
    writer.finish()
}
