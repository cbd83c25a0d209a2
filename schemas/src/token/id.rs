//! Identifiers and digests: [`TokenId`], [`Sha256Digest`], [`Cti`], [`Kid`].

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// SHA-256 of `data`.
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// An identifier or digest string is not in its one accepted form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdParseError {
    /// A token id is not 43 characters of unpadded base64url.
    #[error("a token id is 43 characters of base64url without padding")]
    TokenId,
    /// A hex string has the wrong length or is not lowercase hex.
    #[error("expected {expected} lowercase hex digits")]
    Hex {
        /// Number of hex digits expected.
        expected: usize,
    },
}

/// Lowercase hex only, in one pass: an issuance request carries eight
/// digests, and checking the alphabet then decoding with `hex` was two.
fn parse_lower_hex<const N: usize>(s: &str) -> Result<[u8; N], IdParseError> {
    let err = IdParseError::Hex { expected: 2 * N };
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        _ => Err(err.clone()),
    };
    if s.len() != 2 * N {
        return Err(err);
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        if let [hi, lo] = *pair {
            *byte = (nibble(hi)? << 4) | nibble(lo)?;
        }
    }
    Ok(out)
}

macro_rules! string_serde {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

/// A token id: SHA-256 of the token's logged bytes (the COSE_Sign1 with its
/// unprotected header empty). Written as 43 characters of base64url without
/// padding; this is the `{token_id}` of the QR URL `/t/{token_id}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(pub [u8; 32]);

impl TokenId {
    /// The id of a statement whose logged bytes are `logged_bytes`.
    #[must_use]
    pub fn of_logged_bytes(logged_bytes: &[u8]) -> Self {
        Self(sha256(logged_bytes))
    }

    /// The 32 raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

impl FromStr for TokenId {
    type Err = IdParseError;

    /// Parses exactly 43 base64url characters (no padding, no whitespace,
    /// canonical trailing bits).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 43 {
            return Err(IdParseError::TokenId);
        }
        let mut out = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(s, &mut out) {
            Ok(32) => Ok(Self(out)),
            _ => Err(IdParseError::TokenId),
        }
    }
}

string_serde!(TokenId, "a token id (43 characters of base64url)");

/// A SHA-256 digest of a file (report PDF, photo, video). JSON: 64 lowercase
/// hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `data`.
    #[must_use]
    pub fn of(data: &[u8]) -> Self {
        Self(sha256(data))
    }

    /// The 32 raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl FromStr for Sha256Digest {
    type Err = IdParseError;

    /// Parses exactly 64 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_lower_hex(s).map(Self)
    }
}

string_serde!(Sha256Digest, "a SHA-256 digest (64 lowercase hex digits)");

/// A CWT id (`cti`, claim 7): 16 random bytes. JSON: 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cti(pub [u8; 16]);

impl Cti {
    /// 16 fresh random bytes from the thread-local CSPRNG.
    #[must_use]
    pub fn random() -> Self {
        use rand::Rng as _;
        let mut b = [0u8; 16];
        rand::rng().fill_bytes(&mut b);
        Self(b)
    }
}

impl fmt::Display for Cti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Cti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cti({self})")
    }
}

impl FromStr for Cti {
    type Err = IdParseError;

    /// Parses exactly 32 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_lower_hex(s).map(Self)
    }
}

string_serde!(Cti, "a CWT id (32 lowercase hex digits)");

/// A key id (`kid`, header 4): the first 16 bytes of SHA-256 of the issuer's
/// raw 32-byte Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(pub [u8; 16]);

impl Kid {
    /// The key id of `key`.
    #[must_use]
    pub fn of(key: &VerifyingKey) -> Self {
        let d = sha256(key.as_bytes());
        let mut kid = [0u8; 16];
        kid.copy_from_slice(&d[..16]); // `d` is [u8; 32]: in bounds
        Self(kid)
    }

    /// The 16 raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({self})")
    }
}
