//! Error types: malformed input ([`TokenParseError`]) is kept apart from
//! verification failures ([`TokenVerifyError`]) and from signing
//! ([`TokenBuildError`]).

use super::MAX_STATEMENT_SIZE;
use super::claims::ClaimsError;
use super::id::Kid;
use crate::cbor::CborError;

/// Which CBOR item of a COSE_Sign1 failed the deterministic-encoding check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CborPart {
    /// The whole tagged COSE_Sign1.
    Message,
    /// The serialized protected header (the content of its byte string).
    ProtectedHeader,
    /// The serialized payload (the content of its byte string).
    Payload,
}

impl std::fmt::Display for CborPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Message => "message",
            Self::ProtectedHeader => "protected header",
            Self::Payload => "payload",
        })
    }
}

/// A signed statement (token or revocation) is malformed: it was rejected
/// before any signature check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenParseError {
    /// The input is larger than [`MAX_STATEMENT_SIZE`]; nothing was decoded.
    #[error("statement is {len} bytes, more than the {MAX_STATEMENT_SIZE}-byte limit")]
    TooLarge {
        /// Size of the input.
        len: usize,
    },
    /// A CBOR item is malformed or not in core deterministic encoding
    /// (this includes trailing bytes, indefinite lengths and duplicate keys).
    #[error("{part}: {source}")]
    Cbor {
        /// Which item.
        part: CborPart,
        /// What is wrong with it.
        source: CborError,
    },
    /// The message does not start with a CBOR tag; COSE_Sign1 tag 18 is required.
    #[error("not a tagged COSE_Sign1 (tag 18 missing)")]
    NotTagged,
    /// The message carries a tag other than 18 (COSE_Sign1).
    #[error("CBOR tag {tag}, expected 18 (COSE_Sign1)")]
    WrongTag {
        /// The tag found.
        tag: u64,
    },
    /// The COSE_Sign1 structure is wrong (not a 4-array, wrong item types,
    /// detached payload, …).
    #[error("malformed COSE_Sign1: {what}")]
    Structure {
        /// What is wrong.
        what: &'static str,
    },
    /// A required protected header parameter is missing.
    #[error("protected header {label} is missing")]
    MissingHeader {
        /// The missing label.
        label: i64,
    },
    /// A protected header parameter has the wrong type or value.
    #[error("protected header {label}: {reason}")]
    InvalidHeader {
        /// The label.
        label: i64,
        /// What is wrong.
        reason: &'static str,
    },
    /// `alg` is neither EdDSA (−8) nor Ed25519 (−19).
    #[error("unsupported algorithm {alg}; only EdDSA (-8) and Ed25519 (-19) are accepted")]
    UnsupportedAlgorithm {
        /// The algorithm as found.
        alg: String,
    },
    /// `crit` (header 2) names a header this implementation does not
    /// understand, or one that is absent.
    #[error("critical header {label} is not understood")]
    UnknownCriticalHeader {
        /// The label as found.
        label: String,
    },
    /// A protected header parameter this profile does not define. Loupe
    /// statements carry exactly alg, content type, kid, CWT claims, and
    /// optionally x5chain and crit; anything else is refused.
    #[error("protected header {label} is not part of a Loupe statement")]
    UnknownHeader {
        /// The label as found.
        label: String,
    },
    /// The content type (header 3) is not the one expected.
    #[error("content type {found:?} is not a Loupe statement of the expected kind")]
    WrongContentType {
        /// The content type found.
        found: String,
    },
    /// The unprotected header holds something other than receipts (394).
    #[error("unprotected header {label} is not allowed (only receipts, 394)")]
    UnexpectedUnprotectedHeader {
        /// The label as found.
        label: String,
    },
    /// The signature is not 64 bytes.
    #[error("signature is {len} bytes, an Ed25519 signature is 64")]
    SignatureLength {
        /// Its length.
        len: usize,
    },
    /// The CWT claims (header 15) are missing a claim, have an extra one,
    /// or a bad value.
    #[error("CWT claims: {0}")]
    CwtClaims(ClaimsError),
    /// The payload is missing a field, has an unknown one, or a bad value.
    #[error("payload: {0}")]
    Payload(ClaimsError),
    /// A revocation's payload `iat` differs from its CWT `iat`.
    #[error("payload iat {payload} differs from CWT iat {cwt}")]
    IatMismatch {
        /// CWT claim 6.
        cwt: u64,
        /// Payload key 6.
        payload: u64,
    },
}

/// A well-formed statement failed verification against a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenVerifyError {
    /// The statement's `kid` is not the key id of the key offered.
    #[error("kid {found} does not match the key's kid {expected}")]
    KidMismatch {
        /// The key id of the key offered.
        expected: Kid,
        /// The kid in the statement.
        found: Kid,
    },
    /// The Ed25519 signature does not verify (RFC 8032 with the strict
    /// checks of `verify_strict`).
    #[error("signature does not verify")]
    BadSignature,
}

/// A statement could not be built and signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenBuildError {
    /// The claims or payload are out of bounds.
    #[error("invalid claims: {0}")]
    Claims(#[from] ClaimsError),
    /// The certificate chain is empty, has an empty certificate, or is
    /// longer than [`MAX_X5CHAIN_LEN`](super::MAX_X5CHAIN_LEN).
    #[error("invalid x5chain: {reason}")]
    X5chain {
        /// What is wrong.
        reason: &'static str,
    },
    /// The signed bytes would be rejected by the strict parser (for
    /// example, larger than [`MAX_STATEMENT_SIZE`]).
    #[error("the signed statement would not parse: {0}")]
    Encoded(TokenParseError),
}
