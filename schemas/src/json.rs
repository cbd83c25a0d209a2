//! Strict JSON: refuse objects that name a member twice.
//!
//! RFC 8259 §4 only says names "SHOULD be unique" and leaves the meaning
//! of duplicates to the parser; I-JSON (RFC 7493 §2.3) forbids them.
//! `serde_json` refuses a repeated field of a derived struct, but a map
//! (`BTreeMap`, `serde_json::Value`) silently keeps the last value, so
//! `{"report": "a…", "report": "b…"}` could mean either. Loupe's APIs call
//! [`check_unique_keys`] so that a duplicate is refused the same way
//! everywhere, whatever type the body is read into.
//!
//! ```
//! use loupe_schemas::json::check_unique_keys;
//!
//! assert!(check_unique_keys(br#"{"a": 1, "b": {"a": 2}}"#).is_ok());
//! let e = check_unique_keys(br#"{"a": 1, "b": {"c": 2, "c": 3}}"#).unwrap_err();
//! assert_eq!(e.to_string(), "the JSON object member \"c\" appears twice");
//! ```

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Why [`check_unique_keys`] refused a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StrictJsonError {
    /// An object names this member twice.
    #[error("the JSON object member {0:?} appears twice")]
    DuplicateKey(String),
    /// The bytes are not one JSON value (syntax, nesting deeper than
    /// `serde_json`'s limit of 128, trailing characters).
    #[error("not valid JSON: {0}")]
    Syntax(String),
}

/// Checks that no object in the JSON document `bytes` names a member
/// twice, at any depth.
///
/// # Errors
///
/// [`StrictJsonError::DuplicateKey`] naming the first repeated member, or
/// [`StrictJsonError::Syntax`] when `bytes` is not JSON.
pub fn check_unique_keys(bytes: &[u8]) -> Result<(), StrictJsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = Unique
        .deserialize(&mut de)
        .map_err(|e| StrictJsonError::Syntax(e.to_string()))?;
    de.end()
        .map_err(|e| StrictJsonError::Syntax(e.to_string()))?;
    match found {
        Some(key) => Err(StrictJsonError::DuplicateKey(key)),
        None => Ok(()),
    }
}

/// Walks one value; yields the first duplicate key found in it.
#[derive(Clone, Copy)]
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut first = None;
        while let Some(found) = seq.next_element_seed(Unique)? {
            first = first.or(found);
        }
        Ok(first)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = HashSet::new();
        let mut first = None;
        while let Some(key) = map.next_key::<String>()? {
            let inner = map.next_value_seed(Unique)?;
            if first.is_none() {
                first = inner;
            }
            if first.is_none() && !seen.insert(key.clone()) {
                first = Some(key);
            }
        }
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn duplicates_are_found_at_any_depth() {
        for (doc, dup) in [
            (r#"{"a":1,"a":1}"#, "a"),
            (r#"{"a":{"b":[{"c":1,"c":2}]}}"#, "c"),
            (r#"[1,{"x":null,"y":0,"x":true}]"#, "x"),
            // Escapes name the same member.
            (r#"{"a":1,"\u0061":2}"#, "a"),
        ] {
            assert_eq!(
                check_unique_keys(doc.as_bytes()),
                Err(StrictJsonError::DuplicateKey(dup.into())),
                "{doc}"
            );
        }
    }

    #[test]
    fn distinct_keys_pass_and_bad_json_is_a_syntax_error() {
        for doc in [r#"{"a":1,"b":{"a":1}}"#, "[]", "1", r#"[{"a":1},{"a":1}]"#] {
            assert_eq!(check_unique_keys(doc.as_bytes()), Ok(()), "{doc}");
        }
        for doc in ["", "{", "{}}", "\u{ff}", &"[".repeat(10_000)] {
            assert!(
                matches!(
                    check_unique_keys(doc.as_bytes()),
                    Err(StrictJsonError::Syntax(_))
                ),
                "{doc:.20}"
            );
        }
    }
}
