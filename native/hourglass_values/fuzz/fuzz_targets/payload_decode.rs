//! Arbitrary payloads, as they arrive from the server, into the payload decoder. It must never
//! panic, and whatever it decodes must encode and decode again to the same value.
#![no_main]

use hourglass_values::payload::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: (Option<Vec<u8>>, Vec<u8>)| {
    let (encoding, data) = payload;
    match decode(encoding.as_deref(), &data) {
        Ok(value) => {
            let (encoding, data) = encode(&value).expect("a decoded value encodes");
            let again = decode(Some(encoding.as_bytes()), &data).expect("and decodes");
            assert_eq!(again, value);
        }
        Err(error) => assert!(!error.is_empty()),
    }
});
