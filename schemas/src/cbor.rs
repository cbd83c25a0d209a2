//! Strict CBOR for signed statements: RFC 8949 §4.2.1 core deterministic
//! encoding, checked on input and produced on output.
//!
//! [`coset`] and [`ciborium`] accept any well-formed CBOR (non-shortest
//! integers, indefinite lengths, unsorted or duplicate map keys). Loupe tokens
//! are hashed into a log, so one token must have exactly one encoding. Input
//! therefore goes through three gates:
//!
//! 1. a bounds-checked walk over the bytes ([`check`]) that rejects
//!    indefinite lengths, non-shortest arguments, unsorted or duplicate map
//!    keys, floats and unassigned simple values, nesting deeper than
//!    [`MAX_DEPTH`], and trailing bytes, each with its own error;
//! 2. decoding into a [`ciborium::Value`];
//! 3. re-encoding that value canonically ([`encode`]) and comparing the bytes
//!    with the input.
//!
//! Signed statements (the hot path of a verifier) skip gates 2 and 3: after
//! [`check`], they are read through `Item`, a borrowing, bounds-checked
//! view of the checked bytes, straight into typed structs. Gate 1 alone
//! accepts exactly the inputs that survive all three (a differential test
//! keeps it so), and reading typed fields allocates nothing but the fields.

use std::cmp::Ordering;

use ciborium::Value;

/// Deepest nesting of arrays, maps and tags accepted on input.
///
/// The deepest Loupe structure (a tagged COSE_Sign1 whose unprotected header
/// holds an array of receipts) needs 3 levels; payloads need 4.
pub const MAX_DEPTH: usize = 16;

/// A CBOR data item is malformed or not in core deterministic encoding.
///
/// Offsets are byte offsets into the CBOR item that was being checked (the
/// whole message, the protected header or the payload; see
/// [`CborPart`](crate::token::CborPart)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// The input is empty or ends in the middle of a data item.
    #[error("CBOR ends in the middle of an item")]
    Truncated,
    /// Bytes follow the single top-level data item.
    #[error("{count} trailing byte(s) after the CBOR item")]
    TrailingBytes {
        /// How many bytes follow the item.
        count: usize,
    },
    /// An indefinite-length string, array or map: deterministic encoding
    /// requires definite lengths.
    #[error("indefinite-length item at offset {offset}")]
    IndefiniteLength {
        /// Offset of the item's initial byte.
        offset: usize,
    },
    /// An integer, length or tag number not in its shortest form.
    #[error("integer or length not in shortest form at offset {offset}")]
    NonShortestForm {
        /// Offset of the item's initial byte.
        offset: usize,
    },
    /// Map keys are not in bytewise order of their encodings.
    #[error("map keys not sorted at offset {offset}")]
    UnsortedMapKeys {
        /// Offset of the first out-of-order key.
        offset: usize,
    },
    /// The same map key appears twice.
    #[error("duplicate map key at offset {offset}")]
    DuplicateMapKey {
        /// Offset of the second occurrence.
        offset: usize,
    },
    /// A floating-point number, `undefined` or an unassigned simple value:
    /// no Loupe format uses them.
    #[error("float or unsupported simple value at offset {offset}")]
    UnsupportedSimpleValue {
        /// Offset of the item's initial byte.
        offset: usize,
    },
    /// Not well-formed CBOR: a reserved additional-information value, a
    /// "break" outside an indefinite-length item, or similar.
    #[error("malformed CBOR at offset {offset}")]
    Malformed {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// Arrays, maps and tags nested deeper than [`MAX_DEPTH`].
    #[error("CBOR nested deeper than {MAX_DEPTH} levels at offset {offset}")]
    TooDeep {
        /// Offset of the item that is too deep.
        offset: usize,
    },
    /// A text string that is not valid UTF-8.
    #[error("text string is not UTF-8 at offset {offset}")]
    InvalidUtf8 {
        /// Offset of the string's initial byte.
        offset: usize,
    },
    /// A bignum tag (2 or 3): Loupe formats have no use for them, and
    /// decoders fold small ones into plain integers, changing the encoding.
    #[error("unsupported CBOR tag {tag} at offset {offset}")]
    UnsupportedTag {
        /// Offset of the tag's initial byte.
        offset: usize,
        /// The tag number.
        tag: u64,
    },
    /// The decoded value does not re-encode to the same bytes. The checks
    /// above should catch every such case first; this is the final guard.
    #[error("CBOR is not in core deterministic encoding")]
    NotDeterministic,
}

/// Bounds-checked reader over a byte slice: it cannot index out of range.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// The argument of a CBOR head.
enum Arg {
    Definite(u64),
    Indefinite,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self.buf.get(self.pos).ok_or(CborError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], CborError> {
        let len = usize::try_from(len).map_err(|_| CborError::Truncated)?;
        let end = self.pos.checked_add(len).ok_or(CborError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn uint_be(&mut self, n: u64) -> Result<u64, CborError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Reads one head; for major types 0..=6 enforces the shortest form.
    /// Returns (major type, additional info, argument).
    fn head(&mut self) -> Result<(u8, u8, Arg), CborError> {
        let offset = self.pos;
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        let arg = match info {
            0..=23 => Arg::Definite(u64::from(info)),
            24 => Arg::Definite(self.uint_be(1)?),
            25 => Arg::Definite(self.uint_be(2)?),
            26 => Arg::Definite(self.uint_be(4)?),
            27 => Arg::Definite(self.uint_be(8)?),
            31 => Arg::Indefinite,
            _ => return Err(CborError::Malformed { offset }),
        };
        if major != 7
            && let Arg::Definite(v) = arg
        {
            let shortest = match info {
                24 => v >= 24,
                25 => v > 0xff,
                26 => v > 0xffff,
                27 => v > 0xffff_ffff,
                _ => true,
            };
            if !shortest {
                return Err(CborError::NonShortestForm { offset });
            }
        }
        Ok((major, info, arg))
    }

    /// Walks one data item, checking deterministic encoding.
    fn item(&mut self, depth: usize) -> Result<(), CborError> {
        let offset = self.pos;
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep { offset });
        }
        let (major, info, arg) = self.head()?;
        let len = match (major, arg) {
            (7, _) => {
                // false, true, null only.
                return match info {
                    20..=22 => Ok(()),
                    31 => Err(CborError::Malformed { offset }),
                    24 => {
                        // Two-byte simple values below 32 are not well-formed.
                        if self.buf.get(offset + 1).is_some_and(|b| *b < 32) {
                            Err(CborError::Malformed { offset })
                        } else {
                            Err(CborError::UnsupportedSimpleValue { offset })
                        }
                    }
                    _ => Err(CborError::UnsupportedSimpleValue { offset }),
                };
            }
            (2..=5, Arg::Indefinite) => return Err(CborError::IndefiniteLength { offset }),
            (_, Arg::Indefinite) => return Err(CborError::Malformed { offset }),
            (_, Arg::Definite(len)) => len,
        };
        match major {
            0 | 1 => Ok(()),
            2 => self.take(len).map(|_| ()),
            3 => {
                let s = self.take(len)?;
                std::str::from_utf8(s)
                    .map(|_| ())
                    .map_err(|_| CborError::InvalidUtf8 { offset })
            }
            4 => {
                // Every item needs at least one byte: fail fast on absurd counts.
                if len > self.remaining() as u64 {
                    return Err(CborError::Truncated);
                }
                for _ in 0..len {
                    self.item(depth + 1)?;
                }
                Ok(())
            }
            5 => {
                if len.saturating_mul(2) > self.remaining() as u64 {
                    return Err(CborError::Truncated);
                }
                let mut previous: Option<&[u8]> = None;
                for _ in 0..len {
                    let key_start = self.pos;
                    self.item(depth + 1)?;
                    let key = self
                        .buf
                        .get(key_start..self.pos)
                        .ok_or(CborError::Truncated)?;
                    if let Some(prev) = previous {
                        match prev.cmp(key) {
                            Ordering::Less => {}
                            Ordering::Equal => {
                                return Err(CborError::DuplicateMapKey { offset: key_start });
                            }
                            Ordering::Greater => {
                                return Err(CborError::UnsortedMapKeys { offset: key_start });
                            }
                        }
                    }
                    previous = Some(key);
                    self.item(depth + 1)?;
                }
                Ok(())
            }
            // 6: a tag and its content. Tags 2 and 3 (bignums) are refused:
            // decoders fold small ones into plain integers, so their bytes
            // would not survive a decode and re-encode (found by fuzzing).
            _ if matches!(len, 2 | 3) => Err(CborError::UnsupportedTag { offset, tag: len }),
            _ => self.item(depth + 1),
        }
    }
}

/// Checks that `bytes` is exactly one CBOR data item in core deterministic
/// encoding, without decoding it.
///
/// # Errors
///
/// The first [`CborError`] found, walking the bytes in order.
pub fn check(bytes: &[u8]) -> Result<(), CborError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    r.item(0)?;
    match r.remaining() {
        0 => Ok(()),
        count => Err(CborError::TrailingBytes { count }),
    }
}

/// Decodes exactly one CBOR data item in core deterministic encoding.
///
/// # Errors
///
/// [`CborError`] if the bytes are malformed, not deterministic, or do not
/// re-encode to themselves.
pub fn decode(bytes: &[u8]) -> Result<Value, CborError> {
    check(bytes)?;
    let value: Value =
        ciborium::de::from_reader(bytes).map_err(|_| CborError::Malformed { offset: 0 })?;
    if encode(&value) != bytes {
        return Err(CborError::NotDeterministic);
    }
    Ok(value)
}

/// Encodes a value in core deterministic encoding: shortest heads, definite
/// lengths, map entries sorted by the bytes of their encoded keys.
///
/// Infallible: floats (never produced by Loupe) are written as 64-bit floats.
#[must_use]
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value);
    out
}

/// Writes a CBOR head with the shortest argument.
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if let Ok(v) = u8::try_from(arg) {
        out.push(m | 24);
        out.push(v);
    } else if let Ok(v) = u16::try_from(arg) {
        out.push(m | 25);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(arg) {
        out.push(m | 26);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

pub(crate) fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

/// Writes a text string.
pub(crate) fn write_text(out: &mut Vec<u8>, t: &str) {
    write_head(out, 3, t.len() as u64);
    out.extend_from_slice(t.as_bytes());
}

/// Writes an unsigned integer.
pub(crate) fn write_uint(out: &mut Vec<u8>, v: u64) {
    write_head(out, 0, v);
}

/// Writes an integer: major type 0 at or above zero, 1 below it.
pub(crate) fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_head(out, 0, v.unsigned_abs());
    } else {
        // -1 - v, without overflow at i64::MIN.
        write_head(out, 1, (v + 1).unsigned_abs());
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Integer(i) => {
            let i = i128::from(*i);
            if i >= 0 {
                write_head(out, 0, u64::try_from(i).unwrap_or(u64::MAX));
            } else {
                write_head(out, 1, u64::try_from(-1 - i).unwrap_or(u64::MAX));
            }
        }
        Value::Bytes(b) => write_bytes(out, b),
        Value::Text(t) => {
            write_head(out, 3, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        Value::Array(items) => {
            write_head(out, 4, items.len() as u64);
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(entries) => {
            let mut encoded: Vec<(Vec<u8>, &Value)> =
                entries.iter().map(|(k, v)| (encode(k), v)).collect();
            encoded.sort_by(|a, b| a.0.cmp(&b.0));
            write_head(out, 5, encoded.len() as u64);
            for (k, v) in encoded {
                out.extend_from_slice(&k);
                write_value(out, v);
            }
        }
        Value::Tag(tag, inner) => {
            write_head(out, 6, *tag);
            write_value(out, inner);
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Float(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        // `Value` is non-exhaustive; anything new is written as null.
        _ => out.push(0xf6),
    }
}

/// Shorthand for an integer value.
pub(crate) fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

/// Shorthand for a text value.
pub(crate) fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// The value of an integer, if `v` is one that fits in an `i64`.
#[cfg(test)]
pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    }
}

/// The value of an unsigned integer, if `v` is one.
#[cfg(test)]
pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

/// A short human-readable rendering of a map key, for error messages.
#[cfg(test)]
pub(crate) fn describe_key(v: &Value) -> String {
    match v {
        Value::Integer(i) => i128::from(*i).to_string(),
        Value::Text(t) => format!("{t:?}"),
        Value::Bytes(_) => "a byte string".to_owned(),
        _ => "a non-scalar key".to_owned(),
    }
}

// ------------------------------------------------------------------ views

/// A view of exactly one data item inside bytes that passed [`check`].
///
/// Only [`Item::checked`] makes one, so the bytes are well-formed and
/// deterministic. Reading is still bounds-checked and never panics: if that
/// invariant were ever broken, the offending item reads as
/// [`Kind::Invalid`], which no reader accepts, so a broken invariant fails
/// closed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<'a> {
    bytes: &'a [u8],
}

/// What a data item is, read from its head.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind<'a> {
    /// Major type 0.
    Uint(u64),
    /// Major type 1: the integer −1 − n.
    Nint(u64),
    /// A byte string.
    Bytes(&'a [u8]),
    /// A text string (UTF-8, as checked).
    Text(&'a str),
    /// An array.
    Array(Items<'a>),
    /// A map.
    Map(Entries<'a>),
    /// A tag and its content.
    Tag(u64, Item<'a>),
    /// `false` or `true` (no Loupe field is a boolean, so which is not kept).
    Bool,
    /// `null`.
    Null,
    /// Not a valid item: only if the invariant of [`Item`] were broken.
    Invalid,
}

/// Reads a head without judging it: (major type, argument, rest). `None`
/// for an indefinite length, a reserved value or truncation.
fn read_head(buf: &[u8]) -> Option<(u8, u64, &[u8])> {
    let (&initial, rest) = buf.split_first()?;
    let n = match initial & 0x1f {
        info @ 0..=23 => return Some((initial >> 5, u64::from(info), rest)),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return None,
    };
    let (arg, rest) = rest.split_at_checked(n)?;
    let arg = arg.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    Some((initial >> 5, arg, rest))
}

/// Splits one data item off the front of `buf`. Iterative: a running count
/// of items still to read replaces recursion.
fn split_item(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut rest = buf;
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let (major, arg, after) = read_head(rest)?;
        rest = match major {
            2 | 3 => after.get(usize::try_from(arg).ok()?..)?,
            4 => {
                pending = pending.checked_add(arg)?;
                after
            }
            5 => {
                pending = pending.checked_add(arg.checked_mul(2)?)?;
                after
            }
            6 => {
                pending = pending.checked_add(1)?;
                after
            }
            _ => after,
        };
    }
    let used = buf.len().checked_sub(rest.len())?;
    Some((buf.get(..used)?, rest))
}

/// Splits the next item off `rest`; on failure yields an empty item (which
/// reads as [`Kind::Invalid`]) and empties `rest`.
fn next_item<'a>(rest: &mut &'a [u8]) -> Item<'a> {
    match split_item(rest) {
        Some((bytes, after)) => {
            *rest = after;
            Item { bytes }
        }
        None => {
            *rest = &[];
            Item { bytes: &[] }
        }
    }
}

impl<'a> Item<'a> {
    /// Checks `bytes` with [`check`] and returns a view of the item.
    ///
    /// # Errors
    ///
    /// As [`check`].
    pub(crate) fn checked(bytes: &'a [u8]) -> Result<Self, CborError> {
        check(bytes)?;
        Ok(Self { bytes })
    }

    /// Reads the item's head.
    pub(crate) fn kind(self) -> Kind<'a> {
        let Some((major, arg, rest)) = read_head(self.bytes) else {
            return Kind::Invalid;
        };
        let len = usize::try_from(arg).ok();
        match major {
            0 => Kind::Uint(arg),
            1 => Kind::Nint(arg),
            2 => len
                .and_then(|l| rest.get(..l))
                .map_or(Kind::Invalid, Kind::Bytes),
            3 => len
                .and_then(|l| rest.get(..l))
                .and_then(|s| std::str::from_utf8(s).ok())
                .map_or(Kind::Invalid, Kind::Text),
            4 => Kind::Array(Items {
                remaining: arg,
                rest,
            }),
            5 => Kind::Map(Entries {
                remaining: arg,
                rest,
            }),
            6 => {
                let mut rest = rest;
                Kind::Tag(arg, next_item(&mut rest))
            }
            _ => match arg {
                20 | 21 => Kind::Bool,
                22 => Kind::Null,
                _ => Kind::Invalid,
            },
        }
    }

    /// Whether the item is the text string `s` (compared as bytes, which for
    /// a checked item is the same as comparing values).
    pub(crate) fn is_text(self, s: &str) -> bool {
        matches!(read_head(self.bytes), Some((3, _, rest)) if rest == s.as_bytes())
    }

    /// The integer's value, if the item is one that fits in an `i64`.
    pub(crate) fn as_i64(self) -> Option<i64> {
        match self.kind() {
            Kind::Uint(n) => i64::try_from(n).ok(),
            Kind::Nint(n) => i64::try_from(n).ok().map(|n| -1 - n),
            _ => None,
        }
    }

    /// The unsigned integer's value, if the item is one.
    pub(crate) fn as_u64(self) -> Option<u64> {
        match self.kind() {
            Kind::Uint(n) => Some(n),
            _ => None,
        }
    }

    /// A short human-readable rendering, for error messages; the same as
    /// [`describe_key`] gives for the decoded value.
    pub(crate) fn describe(self) -> String {
        match self.kind() {
            Kind::Uint(n) => n.to_string(),
            Kind::Nint(n) => (-1 - i128::from(n)).to_string(),
            Kind::Text(t) => format!("{t:?}"),
            Kind::Bytes(_) => "a byte string".to_owned(),
            _ => "a non-scalar key".to_owned(),
        }
    }
}

/// The items of an array, in order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Items<'a> {
    remaining: u64,
    rest: &'a [u8],
}

impl Items<'_> {
    /// How many items the array holds (from its head).
    pub(crate) fn declared_len(&self) -> u64 {
        self.remaining
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        let item = next_item(&mut self.rest);
        if item.bytes.is_empty() {
            // Unreachable for checked bytes. Yield the invalid item (every
            // reader rejects it) and stop.
            self.remaining = 0;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        // Every item takes at least one byte.
        (n.min(self.rest.len()), Some(n))
    }
}

/// The entries of a map, in order: (key, value).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entries<'a> {
    remaining: u64,
    rest: &'a [u8],
}

impl<'a> Iterator for Entries<'a> {
    type Item = (Item<'a>, Item<'a>);

    fn next(&mut self) -> Option<(Item<'a>, Item<'a>)> {
        self.remaining = self.remaining.checked_sub(1)?;
        let key = next_item(&mut self.rest);
        let value = next_item(&mut self.rest);
        if value.bytes.is_empty() {
            // Unreachable for checked bytes: as for arrays, yield and stop.
            self.remaining = 0;
        }
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n.min(self.rest.len() / 2), Some(n))
    }
}
