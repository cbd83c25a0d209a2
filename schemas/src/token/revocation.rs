//! Revocations (DESIGN.md "Revocation"): a COSE_Sign1 by the same issuer,
//! same header shape as a token, content type
//! [`REVOCATION_CONTENT_TYPE`], CWT claims `{1 iss, 6 iat, 7 cti}`, payload
//! `{6: iat, "reason": text, "revokes": token id}`.

use std::sync::Arc;

use ciborium::Value;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::claims::{
    CLAIM_CTI, CLAIM_IAT, CLAIM_ISS, ClaimsError, Fields, Key, MAX_ISSUER_LEN, check_text,
    want_bytes, want_text, want_uint,
};
use super::envelope::{self, Envelope, ProtectedSpec};
use super::error::{TokenBuildError, TokenParseError, TokenVerifyError};
use super::id::{Cti, Kid, TokenId};
use super::{Algorithm, ParseOrVerifyError, REVOCATION_CONTENT_TYPE, check_x5chain, now_unix};
use crate::cbor::{self, Item, int, text};

/// Longest revocation reason, in bytes.
pub const MAX_REASON_LEN: usize = 1024;

/// The revocation payload.
///
/// JSON: `{"revokes":"<43-char token id>","reason":"report withdrawn","iat":1700000000}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// The token revoked.
    pub revokes: TokenId,
    /// Why, in words.
    pub reason: String,
    /// Payload key 6: when, seconds since the Unix epoch (equal to the CWT `iat`).
    pub iat: u64,
}

impl Revocation {
    /// Checks the reason (non-empty, at most [`MAX_REASON_LEN`] bytes, no
    /// control characters).
    ///
    /// # Errors
    ///
    /// The [`ClaimsError`] found.
    pub fn validate(&self) -> Result<(), ClaimsError> {
        check_text("reason", &self.reason, MAX_REASON_LEN)
    }

    fn to_value(&self) -> Value {
        Value::Map(vec![
            (text("revokes"), Value::Bytes(self.revokes.0.to_vec())),
            (text("reason"), text(&self.reason)),
            (int(CLAIM_IAT), Value::Integer(self.iat.into())),
        ])
    }

    fn from_item(v: Item<'_>) -> Result<Self, ClaimsError> {
        let mut f = Fields::new(v, "payload")?;
        let revokes = TokenId(want_bytes(
            f.require(Key::Text("revokes"), "revokes")?,
            "revokes",
        )?);
        let reason = want_text(
            f.require(Key::Text("reason"), "reason")?,
            "reason",
            MAX_REASON_LEN,
        )?;
        let iat = want_uint(f.require(Key::Int(CLAIM_IAT), "iat")?, "iat")?;
        f.finish()?;
        Ok(Self {
            revokes,
            reason,
            iat,
        })
    }
}

/// The CWT claims of a revocation: no `sub`.
///
/// JSON: `{"iss":"lab.example","iat":1700000000,"cti":"<32 hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationCwtClaims {
    /// Claim 1: the issuer's origin.
    pub iss: String,
    /// Claim 6: issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Claim 7: 16 random bytes.
    pub cti: Cti,
}

impl RevocationCwtClaims {
    fn to_value(&self) -> Value {
        Value::Map(vec![
            (int(CLAIM_ISS), text(&self.iss)),
            (int(CLAIM_IAT), Value::Integer(self.iat.into())),
            (int(CLAIM_CTI), Value::Bytes(self.cti.0.to_vec())),
        ])
    }

    fn from_item(v: Item<'_>) -> Result<Self, ClaimsError> {
        let mut f = Fields::new(v, "cwt")?;
        let iss = want_text(
            f.require(Key::Int(CLAIM_ISS), "cwt.iss")?,
            "cwt.iss",
            MAX_ISSUER_LEN,
        )?;
        let iat = want_uint(f.require(Key::Int(CLAIM_IAT), "cwt.iat")?, "cwt.iat")?;
        let cti = Cti(want_bytes(
            f.require(Key::Int(CLAIM_CTI), "cwt.cti")?,
            "cwt.cti",
        )?);
        f.finish()?;
        Ok(Self { iss, iat, cti })
    }
}

/// Builds and signs a revocation.
///
/// Defaults: `alg` EdDSA (−8), `iat` now, `cti` 16 random bytes.
#[derive(Debug, Clone)]
#[must_use]
pub struct RevocationBuilder {
    issuer: String,
    revokes: TokenId,
    reason: String,
    alg: Algorithm,
    iat: Option<u64>,
    cti: Option<Cti>,
    x5chain: Option<Vec<Vec<u8>>>,
}

impl RevocationBuilder {
    /// A revocation by `issuer` of the token `revokes`, for `reason`.
    pub fn new(issuer: impl Into<String>, revokes: TokenId, reason: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            revokes,
            reason: reason.into(),
            alg: Algorithm::default(),
            iat: None,
            cti: None,
            x5chain: None,
        }
    }

    /// Sets the algorithm identifier.
    pub fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    /// Sets `iat` (both the CWT claim and payload key 6) instead of now.
    pub fn iat(mut self, iat: u64) -> Self {
        self.iat = Some(iat);
        self
    }

    /// Sets `cti` instead of 16 random bytes.
    pub fn cti(mut self, cti: Cti) -> Self {
        self.cti = Some(cti);
        self
    }

    /// Adds the lab's DER certificate chain, leaf first.
    pub fn x5chain(mut self, chain: Vec<Vec<u8>>) -> Self {
        self.x5chain = Some(chain);
        self
    }

    /// Validates, signs, and returns the parsed revocation.
    ///
    /// # Errors
    ///
    /// As [`TokenBuilder::sign`](super::TokenBuilder::sign).
    pub fn sign(self, key: &SigningKey) -> Result<SignedRevocation, TokenBuildError> {
        let iat = self.iat.unwrap_or_else(now_unix);
        let claims = RevocationCwtClaims {
            iss: self.issuer,
            iat,
            cti: self.cti.unwrap_or_else(Cti::random),
        };
        check_text("cwt.iss", &claims.iss, MAX_ISSUER_LEN)?;
        let revocation = Revocation {
            revokes: self.revokes,
            reason: self.reason,
            iat,
        };
        revocation.validate()?;
        check_x5chain(self.x5chain.as_deref())?;
        let payload = cbor::encode(&revocation.to_value());
        let envelope = envelope::sign(
            ProtectedSpec {
                alg: self.alg,
                kid: Kid::of(&key.verifying_key()),
                content_type: REVOCATION_CONTENT_TYPE,
                cwt_claims: &cbor::encode(&claims.to_value()),
                x5chain: self.x5chain.as_deref(),
            },
            &payload,
            key,
        );
        SignedRevocation::parse(&envelope.logged).map_err(TokenBuildError::Encoded)
    }
}

/// A parsed, well-formed revocation. Not yet verified: call
/// [`SignedRevocation::verify`].
///
/// Cloning is cheap (the parsed parts are shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRevocation(Arc<RevocationParts>);

#[derive(Debug, PartialEq, Eq)]
struct RevocationParts {
    envelope: Envelope,
    claims: RevocationCwtClaims,
    revocation: Revocation,
}

impl SignedRevocation {
    /// Parses a revocation strictly.
    ///
    /// # Errors
    ///
    /// [`TokenParseError`] naming the first problem found;
    /// [`TokenParseError::WrongContentType`] for a token;
    /// [`TokenParseError::IatMismatch`] if payload and CWT `iat` differ.
    pub fn parse(bytes: &[u8]) -> Result<Self, TokenParseError> {
        let (envelope, cwt) = Envelope::parse(bytes)?;
        if envelope.content_type != REVOCATION_CONTENT_TYPE {
            return Err(TokenParseError::WrongContentType {
                found: envelope.content_type.to_owned(),
            });
        }
        Self::from_envelope(envelope, cwt)
    }

    pub(crate) fn from_envelope(
        envelope: Envelope,
        cwt: Item<'_>,
    ) -> Result<Self, TokenParseError> {
        let claims = RevocationCwtClaims::from_item(cwt).map_err(TokenParseError::CwtClaims)?;
        let revocation =
            Revocation::from_item(envelope.payload_item()?).map_err(TokenParseError::Payload)?;
        Self::from_parts(envelope, claims, revocation)
    }

    /// Joins the parts, checking that the two `iat` agree.
    pub(crate) fn from_parts(
        envelope: Envelope,
        claims: RevocationCwtClaims,
        revocation: Revocation,
    ) -> Result<Self, TokenParseError> {
        if revocation.iat != claims.iat {
            return Err(TokenParseError::IatMismatch {
                cwt: claims.iat,
                payload: revocation.iat,
            });
        }
        Ok(Self(Arc::new(RevocationParts {
            envelope,
            claims,
            revocation,
        })))
    }

    #[cfg(test)]
    pub(crate) fn envelope(&self) -> &Envelope {
        &self.0.envelope
    }

    /// SHA-256 of the logged bytes (the same construction as a token id).
    #[must_use]
    pub fn id(&self) -> TokenId {
        self.0.envelope.id
    }

    /// The bytes that are logged: unprotected header empty.
    #[must_use]
    pub fn logged_bytes(&self) -> &[u8] {
        &self.0.envelope.logged
    }

    /// The CWT claims.
    #[must_use]
    pub fn claims(&self) -> &RevocationCwtClaims {
        &self.0.claims
    }

    /// The serialized payload, as signed.
    #[must_use]
    pub fn payload_bytes(&self) -> &[u8] {
        self.0.envelope.payload()
    }

    /// The payload.
    #[must_use]
    pub fn revocation(&self) -> &Revocation {
        &self.0.revocation
    }

    /// The token this revokes.
    #[must_use]
    pub fn revokes(&self) -> TokenId {
        self.0.revocation.revokes
    }

    /// The key id (header 4).
    #[must_use]
    pub fn kid(&self) -> Kid {
        self.0.envelope.kid
    }

    /// The algorithm identifier (header 1).
    #[must_use]
    pub fn alg(&self) -> Algorithm {
        self.0.envelope.alg
    }

    /// The DER certificate chain (header 33), leaf first, if present.
    #[must_use]
    pub fn x5chain(&self) -> Option<&[Vec<u8>]> {
        self.0.envelope.x5chain.as_deref()
    }

    /// The receipts (unprotected header 394); empty if none.
    #[must_use]
    pub fn receipts(&self) -> &[Vec<u8>] {
        &self.0.envelope.receipts
    }

    /// The revocation with `receipts` attached at label 394.
    #[must_use]
    pub fn with_receipts(&self, receipts: Vec<Vec<u8>>) -> Vec<u8> {
        self.0.envelope.encode_with_receipts(&receipts)
    }

    /// Verifies against the issuer's key: `kid`, then `verify_strict`.
    ///
    /// # Errors
    ///
    /// [`TokenVerifyError::KidMismatch`] or [`TokenVerifyError::BadSignature`].
    pub fn verify(&self, key: &VerifyingKey) -> Result<VerifiedRevocation, TokenVerifyError> {
        self.0.envelope.verify(key)?;
        Ok(VerifiedRevocation {
            revocation: self.clone(),
            key: *key,
        })
    }

    /// Parses and verifies in one step.
    ///
    /// # Errors
    ///
    /// [`ParseOrVerifyError::Parse`] if the bytes are malformed,
    /// [`ParseOrVerifyError::Verify`] if they do not verify.
    pub fn parse_and_verify(
        bytes: &[u8],
        key: &VerifyingKey,
    ) -> Result<VerifiedRevocation, ParseOrVerifyError> {
        let revocation = Self::parse(bytes)?;
        revocation.0.envelope.verify(key)?;
        Ok(VerifiedRevocation {
            revocation,
            key: *key,
        })
    }
}

/// A revocation whose signature verified. Only
/// [`SignedRevocation::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRevocation {
    revocation: SignedRevocation,
    key: VerifyingKey,
}

impl VerifiedRevocation {
    /// The verified statement.
    #[must_use]
    pub fn statement(&self) -> &SignedRevocation {
        &self.revocation
    }

    /// The key it verified against.
    #[must_use]
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The token revoked.
    #[must_use]
    pub fn revokes(&self) -> TokenId {
        self.revocation.revokes()
    }

    /// The payload.
    #[must_use]
    pub fn revocation(&self) -> &Revocation {
        self.revocation.revocation()
    }

    /// The CWT claims.
    #[must_use]
    pub fn claims(&self) -> &RevocationCwtClaims {
        self.revocation.claims()
    }
}
