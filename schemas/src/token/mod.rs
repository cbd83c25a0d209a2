//! Provenance tokens and revocations: COSE_Sign1 signed statements
//! (RFC 9052 §4.2, tag 18), shaped as SCITT Signed Statements.
//!
//! Implements DESIGN.md "Formats → Token" and "Revocation":
//!
//! - protected header: `alg` (1; EdDSA −8 by default, Ed25519 −19
//!   selectable, nothing else accepted), `kid` (4; first 16 bytes of
//!   SHA-256 of the raw public key, see [`Kid`]), content type (3;
//!   [`TOKEN_CONTENT_TYPE`] or [`REVOCATION_CONTENT_TYPE`]), CWT Claims
//!   (15, RFC 9597: [`CwtClaims`]) and optionally `x5chain` (33, RFC 9360);
//! - payload: a CBOR map in core deterministic encoding (RFC 8949 §4.2.1),
//!   [`Provenance`] for a token, [`Revocation`] for a revocation;
//! - unprotected header: empty when issued; may carry RFC 9942 receipts
//!   (394), which do not change the [`TokenId`].
//!
//! Parsing is strict and never panics: inputs over [`MAX_STATEMENT_SIZE`]
//! are refused before decoding; wrong or missing tag, trailing bytes,
//! indefinite lengths, non-shortest integers, unsorted or duplicate map
//! keys (anywhere: message, protected header, payload), unknown critical
//! headers, other algorithms, missing or extra claims and unknown payload
//! keys are each a typed [`TokenParseError`]. Signature checks are separate
//! ([`Token::verify`] → [`TokenVerifyError`]) and return a [`VerifiedToken`].
//!
//! ```
//! use ed25519_dalek::SigningKey;
//! use loupe_schemas::token::{
//!     FileDigest, ImageDigest, ImageRole, Provenance, Sha256Digest, Stone, Token, TokenBuilder,
//! };
//!
//! let key = SigningKey::from_bytes(&[7u8; 32]);
//! let provenance = Provenance {
//!     report: FileDigest {
//!         sha256: Sha256Digest::of(b"%PDF-1.7 report"),
//!         media_type: "application/pdf".into(),
//!         size: 15,
//!     },
//!     images: vec![ImageDigest {
//!         role: ImageRole::FaceUp,
//!         sha256: Sha256Digest::of(b"jpeg bytes"),
//!         media_type: "image/jpeg".into(),
//!         size: 10,
//!     }],
//!     videos: vec![],
//!     stone: Stone {
//!         variety: "Ruby".into(),
//!         species: "Corundum".into(),
//!         weight_mct: 1520,
//!         colour: "pigeon's blood".into(),
//!         shape: "oval".into(),
//!         cut: "mixed".into(),
//!         clarity: "VS".into(),
//!         dimensions_um: [7100, 5600, 3400],
//!         treatment: "none".into(),
//!         origin: Some("Myanmar".into()),
//!     },
//!     supersedes: None,
//! };
//!
//! // The lab signs ...
//! let token = TokenBuilder::new("lab.example", "R-2024-0001", provenance)
//!     .iat(1_700_000_000)
//!     .sign(&key)?;
//! let bytes = token.logged_bytes().to_vec();
//!
//! // ... anyone parses strictly, then verifies against the lab's key.
//! let parsed = Token::parse(&bytes)?;
//! let verified = parsed.verify(&key.verifying_key())?;
//! assert_eq!(verified.id(), token.id());
//! assert_eq!(verified.claims().sub, "R-2024-0001");
//! println!("QR path: /t/{}", verified.id());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod claims;
mod cose;
mod envelope;
mod error;
mod id;
#[cfg(test)]
mod oracle;
mod revocation;
mod statement;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use ed25519_dalek::{SigningKey, VerifyingKey};

pub use self::claims::{
    ClaimsError, CwtClaims, FileDigest, ImageDigest, ImageRole, MAX_ISSUER_LEN, MAX_MEDIA_TYPE_LEN,
    MAX_SUBJECT_LEN, MAX_TEXT_LEN, MediaDigest, MediaRole, Provenance, Stone, VideoDigest,
    VideoRole,
};
pub use self::cose::{CoseVerifyError, sign1_sig_structure, verify_cose_sign1_ed25519};
pub use self::error::{CborPart, TokenBuildError, TokenParseError, TokenVerifyError};
pub use self::id::{Cti, IdParseError, Kid, Sha256Digest, TokenId, sha256};
pub use self::revocation::{
    MAX_REASON_LEN, Revocation, RevocationBuilder, RevocationCwtClaims, SignedRevocation,
    VerifiedRevocation,
};
pub use self::statement::{Statement, VerifiedStatement};
use crate::cbor::Item;
pub use crate::cbor::{CborError, MAX_DEPTH};

use self::envelope::{Envelope, ProtectedSpec};

/// Largest signed statement accepted, in bytes (64 KiB), receipts included.
pub const MAX_STATEMENT_SIZE: usize = 64 * 1024;
/// Most certificates accepted in an `x5chain`.
pub const MAX_X5CHAIN_LEN: usize = 8;
/// Most receipts accepted in the unprotected header.
pub const MAX_RECEIPTS: usize = 16;
/// Content type (header 3) of a provenance token.
pub const TOKEN_CONTENT_TYPE: &str = "application/vnd.loupe.token+cbor";
/// Content type (header 3) of a revocation.
pub const REVOCATION_CONTENT_TYPE: &str = "application/vnd.loupe.revocation+cbor";

/// The signature algorithm (header 1). Both mean Ed25519 here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// `EdDSA` (−8): deprecated by RFC 9864 but what most COSE libraries
    /// know; the default.
    #[default]
    EdDsa,
    /// `Ed25519` (−19), the fully specified identifier of RFC 9864.
    Ed25519,
}

impl Algorithm {
    /// The COSE algorithm identifier: −8 or −19.
    #[must_use]
    pub fn cose_value(self) -> i64 {
        match self {
            Self::EdDsa => -8,
            Self::Ed25519 => -19,
        }
    }

    /// The algorithm for a COSE identifier, if it is one we accept.
    #[must_use]
    pub fn from_cose_value(value: i64) -> Option<Self> {
        match value {
            -8 => Some(Self::EdDsa),
            -19 => Some(Self::Ed25519),
            _ => None,
        }
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn check_x5chain(chain: Option<&[Vec<u8>]>) -> Result<(), TokenBuildError> {
    let Some(chain) = chain else { return Ok(()) };
    if chain.is_empty() {
        return Err(TokenBuildError::X5chain {
            reason: "the chain is empty",
        });
    }
    if chain.len() > MAX_X5CHAIN_LEN {
        return Err(TokenBuildError::X5chain {
            reason: "the chain is too long",
        });
    }
    if chain.iter().any(Vec::is_empty) {
        return Err(TokenBuildError::X5chain {
            reason: "a certificate is empty",
        });
    }
    Ok(())
}

/// Builds and signs a provenance [`Token`].
///
/// Defaults: `alg` EdDSA (−8), `iat` now, `cti` 16 random bytes, no x5chain.
#[derive(Debug, Clone)]
#[must_use]
pub struct TokenBuilder {
    issuer: String,
    report_number: String,
    provenance: Provenance,
    alg: Algorithm,
    iat: Option<u64>,
    cti: Option<Cti>,
    x5chain: Option<Vec<Vec<u8>>>,
}

impl TokenBuilder {
    /// A token by `issuer` (an origin such as `lab.example`, claim `iss`)
    /// for the report `report_number` (claim `sub`).
    pub fn new(
        issuer: impl Into<String>,
        report_number: impl Into<String>,
        provenance: Provenance,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            report_number: report_number.into(),
            provenance,
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

    /// Sets `iat` (seconds since the Unix epoch) instead of now.
    pub fn iat(mut self, iat: u64) -> Self {
        self.iat = Some(iat);
        self
    }

    /// Sets `cti` instead of 16 random bytes.
    pub fn cti(mut self, cti: Cti) -> Self {
        self.cti = Some(cti);
        self
    }

    /// Adds the lab's DER certificate chain, leaf first (header 33). The
    /// leaf's key must be the signing key; that is checked by verifiers.
    pub fn x5chain(mut self, chain: Vec<Vec<u8>>) -> Self {
        self.x5chain = Some(chain);
        self
    }

    /// Validates the claims, signs, and returns the parsed token.
    ///
    /// # Errors
    ///
    /// [`TokenBuildError::Claims`] for out-of-bounds claims,
    /// [`TokenBuildError::X5chain`] for a bad chain, and
    /// [`TokenBuildError::Encoded`] when the token would be over
    /// [`MAX_STATEMENT_SIZE`].
    pub fn sign(self, key: &SigningKey) -> Result<Token, TokenBuildError> {
        let claims = CwtClaims {
            iss: self.issuer,
            sub: self.report_number,
            iat: self.iat.unwrap_or_else(now_unix),
            cti: self.cti.unwrap_or_else(Cti::random),
        };
        claims.validate()?;
        self.provenance.validate()?;
        check_x5chain(self.x5chain.as_deref())?;
        let payload = self.provenance.to_cbor();
        let mut cwt_claims = Vec::with_capacity(64 + claims.iss.len() + claims.sub.len());
        claims.write_cbor(&mut cwt_claims);
        let envelope = envelope::sign(
            ProtectedSpec {
                alg: self.alg,
                kid: Kid::of(&key.verifying_key()),
                content_type: TOKEN_CONTENT_TYPE,
                cwt_claims: &cwt_claims,
                x5chain: self.x5chain.as_deref(),
            },
            &payload,
            key,
        );
        if envelope.logged.len() > MAX_STATEMENT_SIZE {
            return Err(TokenBuildError::Encoded(TokenParseError::TooLarge {
                len: envelope.logged.len(),
            }));
        }
        // The parts are the validated inputs themselves: no parse of our
        // own output on the issuing path (it was ≈ 12 % of an issuance
        // request). Debug builds, and so every test that signs a token,
        // check that the strict parser reads back exactly this token;
        // `tests/token_props.rs` checks it for generated claims.
        let token = Token::from_parts(envelope, claims, self.provenance);
        debug_assert_eq!(Token::parse(token.logged_bytes()).as_ref(), Ok(&token));
        Ok(token)
    }
}

/// A parsed, well-formed provenance token. Not yet verified: call
/// [`Token::verify`].
///
/// Cloning is cheap (the parsed parts are shared), so a [`VerifiedToken`]
/// costs no copy of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(Arc<TokenParts>);

#[derive(Debug, PartialEq, Eq)]
struct TokenParts {
    envelope: Envelope,
    claims: CwtClaims,
    provenance: Provenance,
}

impl Token {
    /// Parses a token strictly (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`TokenParseError`] naming the first problem found;
    /// [`TokenParseError::WrongContentType`] for a revocation.
    pub fn parse(bytes: &[u8]) -> Result<Self, TokenParseError> {
        let (envelope, cwt) = Envelope::parse(bytes)?;
        if envelope.content_type != TOKEN_CONTENT_TYPE {
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
        let claims = CwtClaims::from_item(cwt).map_err(TokenParseError::CwtClaims)?;
        let provenance =
            Provenance::from_item(envelope.payload_item()?).map_err(TokenParseError::Payload)?;
        Ok(Self::from_parts(envelope, claims, provenance))
    }

    pub(crate) fn from_parts(
        envelope: Envelope,
        claims: CwtClaims,
        provenance: Provenance,
    ) -> Self {
        Self(Arc::new(TokenParts {
            envelope,
            claims,
            provenance,
        }))
    }

    /// The token id: SHA-256 of [`Token::logged_bytes`].
    #[must_use]
    pub fn id(&self) -> TokenId {
        self.0.envelope.id
    }

    /// The bytes that are logged: the token with an empty unprotected
    /// header, in deterministic encoding.
    #[must_use]
    pub fn logged_bytes(&self) -> &[u8] {
        &self.0.envelope.logged
    }

    /// The token as received: with its receipts, if it had any.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0
            .envelope
            .encode_with_receipts(&self.0.envelope.receipts)
    }

    /// The CWT claims (protected header 15).
    #[must_use]
    pub fn claims(&self) -> &CwtClaims {
        &self.0.claims
    }

    /// The payload.
    #[must_use]
    pub fn provenance(&self) -> &Provenance {
        &self.0.provenance
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

    /// The token with `receipts` attached at label 394 (replacing any it
    /// had); with no receipts, the logged bytes. The id does not change.
    #[must_use]
    pub fn with_receipts(&self, receipts: Vec<Vec<u8>>) -> Vec<u8> {
        self.0.envelope.encode_with_receipts(&receipts)
    }

    /// The token with its receipts stripped: the same as
    /// [`Token::logged_bytes`].
    #[must_use]
    pub fn without_receipts(&self) -> Vec<u8> {
        self.0.envelope.logged.clone()
    }

    /// The serialized protected header, as signed.
    #[must_use]
    pub fn protected_header_bytes(&self) -> &[u8] {
        self.0.envelope.protected()
    }

    /// The serialized payload, as signed.
    #[must_use]
    pub fn payload_bytes(&self) -> &[u8] {
        self.0.envelope.payload()
    }

    /// Verifies the token against the issuer's key: `kid` must be the key's
    /// [`Kid`], then the signature must pass `verify_strict`. (`alg` was
    /// restricted to −8/−19 by [`Token::parse`].)
    ///
    /// # Errors
    ///
    /// [`TokenVerifyError::KidMismatch`] or [`TokenVerifyError::BadSignature`].
    pub fn verify(&self, key: &VerifyingKey) -> Result<VerifiedToken, TokenVerifyError> {
        self.0.envelope.verify(key)?;
        Ok(VerifiedToken {
            token: self.clone(),
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
    ) -> Result<VerifiedToken, ParseOrVerifyError> {
        let token = Self::parse(bytes)?;
        token.0.envelope.verify(key)?;
        Ok(VerifiedToken { token, key: *key })
    }
}

/// Either a [`TokenParseError`] or a [`TokenVerifyError`], for
/// [`Token::parse_and_verify`] and its revocation twin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseOrVerifyError {
    /// The statement is malformed.
    #[error(transparent)]
    Parse(#[from] TokenParseError),
    /// The statement is well-formed but does not verify.
    #[error(transparent)]
    Verify(#[from] TokenVerifyError),
}

/// A token whose signature verified against a given key. Only
/// [`Token::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    token: Token,
    key: VerifyingKey,
}

impl VerifiedToken {
    /// The verified token.
    #[must_use]
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The key it verified against.
    #[must_use]
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The token id.
    #[must_use]
    pub fn id(&self) -> TokenId {
        self.token.id()
    }

    /// The CWT claims.
    #[must_use]
    pub fn claims(&self) -> &CwtClaims {
        self.token.claims()
    }

    /// The payload.
    #[must_use]
    pub fn provenance(&self) -> &Provenance {
        self.token.provenance()
    }

    /// Gives back the token.
    #[must_use]
    pub fn into_token(self) -> Token {
        self.token
    }
}
