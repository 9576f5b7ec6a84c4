//! Erlang's external term format (ETF), as `:erlang.term_to_binary/1` writes it and
//! `:erlang.binary_to_term/1` reads it.
//!
//! Heavy values cross between a BEAM process and the tokio pool in this form: the process
//! serialises and deserialises them with those two BIFs, which yield to other processes as
//! they go, and the pool does the rest (JSON, payloads) at a low OS priority. A NIF that made or
//! read the terms itself would hold a scheduler for the whole value, and one on a dirty
//! scheduler competes with the normal schedulers for the cores (issue 13); a tokio thread may
//! not make large maps at all (erlang/otp#8208).
//!
//! [`decode`] reads a term into a [`TermTree`], which the decoder of [`crate::term`] turns into
//! a JSON value exactly as it does a live term. [`Writer`] writes terms, JSON values the way
//! the NIF makes them (objects as maps with string keys, `null` as `nil`, ...).

use crate::term::MAX_DEPTH;
use crate::tree::TermTree;
use num_bigint::{BigInt, Sign};
use serde_json::{Number, Value};

/// The byte every external term starts with.
pub const VERSION: u8 = 131;

const NEW_FLOAT: u8 = 70;
const BIT_BINARY: u8 = 77;
const COMPRESSED: u8 = 80;
const NEW_PID: u8 = 88;
const NEW_PORT: u8 = 89;
const NEWER_REFERENCE: u8 = 90;
const SMALL_INTEGER: u8 = 97;
const INTEGER: u8 = 98;
const FLOAT: u8 = 99;
const ATOM: u8 = 100;
const REFERENCE: u8 = 101;
const PORT: u8 = 102;
const PID: u8 = 103;
const SMALL_TUPLE: u8 = 104;
const LARGE_TUPLE: u8 = 105;
const NIL: u8 = 106;
const STRING: u8 = 107;
const LIST: u8 = 108;
const BINARY: u8 = 109;
const SMALL_BIG: u8 = 110;
const LARGE_BIG: u8 = 111;
const NEW_FUN: u8 = 112;
const EXPORT: u8 = 113;
const NEW_REFERENCE: u8 = 114;
const SMALL_ATOM: u8 = 115;
const MAP: u8 = 116;
const ATOM_UTF8: u8 = 118;
const SMALL_ATOM_UTF8: u8 = 119;
const V4_PORT: u8 = 120;

/// Reads one external term (starting with [`VERSION`]) into a tree. Terms that JSON has no
/// room for (pids, tuples, ...) are read past and kept as what they are, for the decoder's
/// error; a term nested deeper than the decoder accepts, or malformed, is an error here.
pub fn decode(bytes: &[u8]) -> Result<TermTree, String> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.u8()? != VERSION {
        return Err("not an external term (it must start with byte 131)".into());
    }
    let term = reader.term(0)?;
    if reader.at != bytes.len() {
        return Err(format!(
            "{} bytes after the external term",
            bytes.len() - reader.at
        ));
    }
    Ok(term)
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn take(&mut self, count: usize) -> Result<&'b [u8], String> {
        let end = self
            .at
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len())
            .ok_or("external term cut short")?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, String> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]) as usize)
    }

    fn u32(&mut self) -> Result<usize, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
    }

    /// Room for `count` items of at least one byte each: a length is only a claim.
    fn capacity(&self, count: usize) -> usize {
        count.min(self.bytes.len() - self.at)
    }

    fn term(&mut self, depth: usize) -> Result<TermTree, String> {
        // The decoder refuses anything deeper than MAX_DEPTH, with an error that names where;
        // below that, the tree only needs a stand-in.
        if depth > MAX_DEPTH + 1 {
            self.skip()?;
            return Ok(TermTree::Tuple);
        }
        let tag = self.u8()?;
        Ok(match tag {
            SMALL_INTEGER => TermTree::Small(self.u8()?.into()),
            INTEGER => {
                let bytes = self.take(4)?;
                TermTree::Small(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]).into())
            }
            SMALL_BIG | LARGE_BIG => {
                let count = if tag == SMALL_BIG {
                    self.u8()?.into()
                } else {
                    self.u32()?
                };
                let sign = if self.u8()? == 0 {
                    Sign::Plus
                } else {
                    Sign::Minus
                };
                integer(BigInt::from_bytes_le(sign, self.take(count)?))
            }
            NEW_FLOAT => {
                let bytes = self.take(8)?;
                TermTree::Float(f64::from_be_bytes(bytes.try_into().unwrap_or([0; 8])))
            }
            FLOAT => {
                let text = self.take(31)?;
                let text = String::from_utf8_lossy(text);
                match text.trim_end_matches('\0').trim().parse::<f64>() {
                    Ok(float) => TermTree::Float(float),
                    Err(_) => return Err("unreadable float in external term".into()),
                }
            }
            ATOM | SMALL_ATOM | ATOM_UTF8 | SMALL_ATOM_UTF8 => self.atom_body(tag)?,
            BINARY => {
                let length = self.u32()?;
                TermTree::Binary(self.take(length)?.to_vec())
            }
            BIT_BINARY => {
                let length = self.u32()?;
                self.take(1 + length)?;
                TermTree::Bitstring
            }
            NIL => TermTree::List(Vec::new()),
            STRING => {
                let length = self.u16()?;
                let bytes = self.take(length)?;
                TermTree::List(
                    bytes
                        .iter()
                        .map(|byte| TermTree::Small((*byte).into()))
                        .collect(),
                )
            }
            LIST => {
                let count = self.u32()?;
                let mut items = Vec::with_capacity(self.capacity(count));
                for _ in 0..count {
                    items.push(self.term(depth + 1)?);
                }
                // The tail: [] for a proper list; anything else is read past (a crafted chain
                // of tails must not recurse).
                if self.bytes.get(self.at) == Some(&NIL) {
                    self.at += 1;
                    TermTree::List(items)
                } else {
                    self.skip()?;
                    TermTree::ImproperList
                }
            }
            MAP => {
                let count = self.u32()?;
                let mut entries = Vec::with_capacity(self.capacity(count));
                for _ in 0..count {
                    let key = self.term(depth + 1)?;
                    let value = self.term(depth + 1)?;
                    entries.push((key, value));
                }
                TermTree::Map(entries)
            }
            SMALL_TUPLE | LARGE_TUPLE => {
                let count = if tag == SMALL_TUPLE {
                    self.u8()?.into()
                } else {
                    self.u32()?
                };
                for _ in 0..count {
                    self.term(depth + 1)?;
                }
                TermTree::Tuple
            }
            PID | NEW_PID => {
                self.atom()?;
                self.take(if tag == PID { 9 } else { 12 })?;
                TermTree::Pid
            }
            PORT | NEW_PORT | V4_PORT => {
                self.atom()?;
                self.take(match tag {
                    PORT => 5,
                    NEW_PORT => 8,
                    _ => 12,
                })?;
                TermTree::Port
            }
            REFERENCE => {
                self.atom()?;
                self.take(5)?;
                TermTree::Reference
            }
            NEW_REFERENCE | NEWER_REFERENCE => {
                let words = self.u16()?;
                self.atom()?;
                self.take(if tag == NEW_REFERENCE { 1 } else { 4 })?;
                self.take(4 * words)?;
                TermTree::Reference
            }
            NEW_FUN => {
                // Its size counts the size field itself.
                let size = self.u32()?;
                self.take(
                    size.checked_sub(4)
                        .ok_or("malformed fun in external term")?,
                )?;
                TermTree::Function
            }
            EXPORT => {
                self.atom()?;
                self.atom()?;
                self.term(depth + 1)?;
                TermTree::Function
            }
            COMPRESSED => return Err("compressed external terms are not read here".into()),
            other => return Err(format!("unknown tag {other} in external term")),
        })
    }

    /// Reads past one term, however deep, without recursing.
    fn skip(&mut self) -> Result<(), String> {
        let mut pending: usize = 1;
        while pending > 0 {
            pending -= 1;
            let nested = match self.u8()? {
                LIST => self.u32()?.saturating_add(1),
                MAP => self.u32()?.saturating_mul(2),
                SMALL_TUPLE => self.u8()?.into(),
                LARGE_TUPLE => self.u32()?,
                // The module's atom, the function's, and the arity.
                EXPORT => 3,
                _ => {
                    // Every other term holds no term but atoms: reading it does not recurse.
                    self.at -= 1;
                    self.term(0)?;
                    0
                }
            };
            pending = pending.saturating_add(nested);
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<TermTree, String> {
        let tag = self.u8()?;
        match tag {
            ATOM | SMALL_ATOM | ATOM_UTF8 | SMALL_ATOM_UTF8 => self.atom_body(tag),
            _ => Err("expected an atom in external term".into()),
        }
    }

    fn atom_body(&mut self, tag: u8) -> Result<TermTree, String> {
        let length = if tag == SMALL_ATOM || tag == SMALL_ATOM_UTF8 {
            self.u8()?.into()
        } else {
            self.u16()?
        };
        let bytes = self.take(length)?;
        Ok(if tag == ATOM || tag == SMALL_ATOM {
            // Latin-1: each byte is the code point.
            TermTree::Atom(bytes.iter().map(|byte| char::from(*byte)).collect())
        } else {
            match std::str::from_utf8(bytes) {
                Ok(name) => TermTree::Atom(name.to_owned()),
                Err(_) => TermTree::UnreadableAtom,
            }
        })
    }
}

/// An integer as the BEAM hands it over: 64-bit when it fits, else its digits.
fn integer(big: BigInt) -> TermTree {
    if let Ok(small) = i64::try_from(&big) {
        TermTree::Small(small)
    } else if let Ok(unsigned) = u64::try_from(&big) {
        TermTree::Unsigned(unsigned)
    } else {
        TermTree::Big(big.to_string())
    }
}

/// Writes external terms; [`Writer::finish`] gives the bytes for `binary_to_term/1`.
pub struct Writer {
    bytes: Vec<u8>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// A writer for one term.
    pub fn new() -> Self {
        Writer {
            bytes: vec![VERSION],
        }
    }

    /// The external term written.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }

    fn length(&mut self, length: usize) {
        // Values are limited far below 4 GiB (`crate::term::MAX_BYTES`, the server's blob
        // limit); saturating keeps a broken caller from writing a wrapped length.
        self.bytes
            .extend_from_slice(&u32::try_from(length).unwrap_or(u32::MAX).to_be_bytes());
    }

    /// The start of a list of `length` items: write them, then [`Writer::nil`]. An empty list
    /// is [`Writer::nil`] alone.
    pub fn list(&mut self, length: usize) {
        if length > 0 {
            self.bytes.push(LIST);
            self.length(length);
        }
    }

    /// The empty list, also the tail of a list.
    pub fn nil(&mut self) {
        self.bytes.push(NIL);
    }

    /// The start of a map of `size` entries: write each key, then its value.
    pub fn map(&mut self, size: usize) {
        self.bytes.push(MAP);
        self.length(size);
    }

    /// An atom (UTF-8).
    pub fn atom(&mut self, name: &str) {
        match u8::try_from(name.len()) {
            Ok(length) => {
                self.bytes.push(SMALL_ATOM_UTF8);
                self.bytes.push(length);
            }
            Err(_) => {
                self.bytes.push(ATOM_UTF8);
                let length = u16::try_from(name.len()).unwrap_or(u16::MAX);
                self.bytes.extend_from_slice(&length.to_be_bytes());
            }
        }
        self.bytes.extend_from_slice(name.as_bytes());
    }

    /// A binary.
    pub fn binary(&mut self, bytes: &[u8]) {
        self.bytes.push(BINARY);
        self.length(bytes.len());
        self.bytes.extend_from_slice(bytes);
    }

    /// A JSON value as the NIF makes it a term: objects as maps with string keys, arrays as
    /// lists, numbers as integers (of any size) or floats, strings as binaries, `null` as `nil`.
    /// A number that is neither (beyond a float's range) keeps its digits as a string.
    pub fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.atom("nil"),
            Value::Bool(flag) => self.atom(if *flag { "true" } else { "false" }),
            Value::Number(number) => self.number(number),
            Value::String(text) => self.binary(text.as_bytes()),
            Value::Array(items) => {
                self.list(items.len());
                for item in items {
                    self.value(item);
                }
                self.nil();
            }
            Value::Object(object) => {
                self.map(object.len());
                for (key, item) in object {
                    self.binary(key.as_bytes());
                    self.value(item);
                }
            }
        }
    }

    fn number(&mut self, number: &Number) {
        if let Some(small) = number.as_i64() {
            return self.integer(small);
        }
        if let Some(unsigned) = number.as_u64() {
            return self.big(&BigInt::from(unsigned));
        }
        let text = number.to_string();
        if !text.contains(['.', 'e', 'E']) {
            if let Ok(big) = text.parse::<BigInt>() {
                return self.big(&big);
            }
        }
        match number.as_f64().filter(|float| float.is_finite()) {
            Some(float) => {
                self.bytes.push(NEW_FLOAT);
                self.bytes.extend_from_slice(&float.to_be_bytes());
            }
            None => self.binary(text.as_bytes()),
        }
    }

    fn integer(&mut self, integer: i64) {
        if let Ok(byte) = u8::try_from(integer) {
            self.bytes.extend_from_slice(&[SMALL_INTEGER, byte]);
        } else if let Ok(word) = i32::try_from(integer) {
            self.bytes.push(INTEGER);
            self.bytes.extend_from_slice(&word.to_be_bytes());
        } else {
            self.big(&BigInt::from(integer));
        }
    }

    fn big(&mut self, big: &BigInt) {
        let (sign, digits) = big.to_bytes_le();
        match u8::try_from(digits.len()) {
            Ok(count) => self.bytes.extend_from_slice(&[SMALL_BIG, count]),
            Err(_) => {
                self.bytes.push(LARGE_BIG);
                self.length(digits.len());
            }
        }
        self.bytes.push(u8::from(sign == Sign::Minus));
        self.bytes.extend_from_slice(&digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::term_to_value;
    use serde_json::json;

    fn round_trip(value: &Value) -> Value {
        let mut writer = Writer::new();
        writer.value(value);
        term_to_value(&decode(&writer.finish()).unwrap()).unwrap()
    }

    // What OTP 25's term_to_binary/1 wrote for
    // %{"a" => [1, 2.5, nil, true, 300, -5, 123456789012345678901234567890, -70000000000]}.
    const FROM_OTP: [u8; 76] = [
        131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 97, 108, 0, 0, 0, 8, 97, 1, 70, 64, 4, 0, 0, 0, 0,
        0, 0, 100, 0, 3, 110, 105, 108, 100, 0, 4, 116, 114, 117, 101, 98, 0, 0, 1, 44, 98, 255,
        255, 255, 251, 110, 13, 0, 210, 10, 63, 78, 238, 224, 115, 195, 246, 15, 233, 142, 1, 110,
        5, 1, 0, 60, 83, 76, 16, 106,
    ];

    #[test]
    fn reads_what_the_beam_writes() {
        let value = term_to_value(&decode(&FROM_OTP).unwrap()).unwrap();
        assert_eq!(
            value.to_string(),
            r#"{"a":[1,2.5,null,true,300,-5,123456789012345678901234567890,-70000000000]}"#
        );
        // [1, 2, 3] travels as a string of bytes; `ok` as a Latin-1 atom.
        assert_eq!(
            decode(&[131, 107, 0, 3, 1, 2, 3]).unwrap(),
            TermTree::List(vec![
                TermTree::Small(1),
                TermTree::Small(2),
                TermTree::Small(3)
            ])
        );
        assert_eq!(
            decode(&[131, 100, 0, 2, 111, 107]).unwrap(),
            TermTree::Atom("ok".into())
        );
        // %{k: <<255>>}
        assert_eq!(
            decode(&[131, 116, 0, 0, 0, 1, 100, 0, 1, 107, 109, 0, 0, 0, 1, 255]).unwrap(),
            TermTree::Map(vec![(
                TermTree::Atom("k".into()),
                TermTree::Binary(vec![255])
            )])
        );
    }

    #[test]
    fn reads_past_what_json_has_no_room_for() {
        // [self()], [<<1::3>>], [:a | :b], a reference, &:erlang.self/0, {:a, 1}.
        let pid = [
            131, 108, 0, 0, 0, 1, 88, 100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104,
            111, 115, 116, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 106,
        ];
        assert_eq!(decode(&pid).unwrap(), TermTree::List(vec![TermTree::Pid]));
        let bits = [131, 108, 0, 0, 0, 1, 77, 0, 0, 0, 1, 3, 32, 106];
        assert_eq!(
            decode(&bits).unwrap(),
            TermTree::List(vec![TermTree::Bitstring])
        );
        let improper = [131, 108, 0, 0, 0, 1, 100, 0, 1, 97, 100, 0, 1, 98];
        assert_eq!(decode(&improper).unwrap(), TermTree::ImproperList);
        let reference = [
            131, 90, 0, 3, 100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115,
            116, 0, 0, 0, 0, 0, 0, 4, 44, 204, 24, 0, 2, 7, 219, 158, 247,
        ];
        assert_eq!(decode(&reference).unwrap(), TermTree::Reference);
        let export = [
            131, 113, 100, 0, 6, 101, 114, 108, 97, 110, 103, 100, 0, 4, 115, 101, 108, 102, 97, 0,
        ];
        assert_eq!(decode(&export).unwrap(), TermTree::Function);
        assert_eq!(
            decode(&[131, 104, 2, 100, 0, 1, 97, 97, 1]).unwrap(),
            TermTree::Tuple
        );
        let error = term_to_value(&decode(&pid).unwrap()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a pid cannot be converted to JSON at $[0]"
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[130, 106]).unwrap_err().contains("131"));
        assert!(decode(&[131, 108, 255, 255, 255, 255])
            .unwrap_err()
            .contains("cut short"));
        assert!(decode(&[131, 106, 106]).unwrap_err().contains("after"));
        assert!(decode(&[131, 1]).unwrap_err().contains("unknown tag"));
        assert!(decode(&[131, 80, 0, 0, 0, 1])
            .unwrap_err()
            .contains("compressed"));
    }

    #[test]
    fn a_term_too_deep_is_read_past_and_the_decoder_names_where() {
        // [[[...]]] 100,000 levels deep: read without recursing that far.
        let mut deep = vec![131];
        for _ in 0..100_000 {
            deep.extend_from_slice(&[LIST, 0, 0, 0, 1]);
        }
        deep.extend(std::iter::repeat_n(NIL, 100_001));
        let error = term_to_value(&decode(&deep).unwrap()).unwrap_err();
        assert!(error.problem.contains("deeper than"), "{error}");
        assert_eq!(error.path, format!("${}", "[0]".repeat(MAX_DEPTH + 1)));
        // A crafted chain of improper tails, [1 | [1 | [1 | ... | 1]]]: read past, not recursed.
        let mut chain = vec![131];
        for _ in 0..100_000 {
            chain.extend_from_slice(&[LIST, 0, 0, 0, 1, SMALL_INTEGER, 1]);
        }
        chain.extend_from_slice(&[SMALL_INTEGER, 1]);
        assert_eq!(decode(&chain).unwrap(), TermTree::ImproperList);
        // Deep maps too, and a tuple below the limit.
        let mut deep = vec![131];
        for _ in 0..10_000 {
            deep.extend_from_slice(&[MAP, 0, 0, 0, 1, BINARY, 0, 0, 0, 1, b'k']);
        }
        deep.extend_from_slice(&[SMALL_TUPLE, 2, NIL, NIL]);
        assert!(term_to_value(&decode(&deep).unwrap())
            .unwrap_err()
            .problem
            .contains("deeper than"));
    }

    #[test]
    fn writes_values_that_read_back_the_same() {
        let wide: serde_json::Map<String, Value> =
            (0..1_000).map(|i| (format!("k{i}"), json!(i))).collect();
        for value in [
            json!(null),
            json!([]),
            json!({}),
            json!([
                true,
                false,
                0,
                255,
                256,
                -1,
                2147483647,
                -2147483648,
                2147483648_i64
            ]),
            json!([i64::MIN, i64::MAX, u64::MAX, 1.5, -0.25, 1e300]),
            json!({"ünï": "cödé ✓", "nested": [[[{"deep": [1, "two"]}]]]}),
            Value::Object(wide),
        ] {
            assert_eq!(round_trip(&value), value);
        }
        let huge: Value =
            serde_json::from_str(&format!("[{}, -{}]", "9".repeat(700), "1".repeat(30))).unwrap();
        assert_eq!(round_trip(&huge), huge);
        // Beyond a float's range: its digits, as a string.
        let beyond: Value = serde_json::from_str("[1e999]").unwrap();
        assert_eq!(round_trip(&beyond), json!([beyond[0].to_string()]));
    }

    #[test]
    fn writes_lists_maps_atoms_and_binaries() {
        let mut writer = Writer::new();
        writer.list(2);
        writer.map(1);
        writer.atom("data");
        writer.binary(&[0, 255]);
        writer.atom(&"a".repeat(300));
        writer.nil();
        assert_eq!(
            decode(&writer.finish()).unwrap(),
            TermTree::List(vec![
                TermTree::Map(vec![(
                    TermTree::Atom("data".into()),
                    TermTree::Binary(vec![0, 255])
                )]),
                TermTree::Atom("a".repeat(300)),
            ])
        );
    }
}
