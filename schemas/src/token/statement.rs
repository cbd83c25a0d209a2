//! [`Statement`]: a log leaf, token or revocation, told apart by content type.

use ed25519_dalek::VerifyingKey;

use super::envelope::Envelope;
use super::error::{TokenParseError, TokenVerifyError};
use super::id::{Kid, TokenId};
use super::revocation::{SignedRevocation, VerifiedRevocation};
use super::{REVOCATION_CONTENT_TYPE, TOKEN_CONTENT_TYPE, Token, VerifiedToken};

/// A signed statement as found in the log: a token or a revocation.
// Statements are handled one at a time; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// Content type [`TOKEN_CONTENT_TYPE`].
    Token(Token),
    /// Content type [`REVOCATION_CONTENT_TYPE`].
    Revocation(SignedRevocation),
}

impl Statement {
    /// Parses a log leaf strictly and dispatches on its content type.
    ///
    /// # Errors
    ///
    /// [`TokenParseError`] as for [`Token::parse`] and
    /// [`SignedRevocation::parse`].
    pub fn parse(bytes: &[u8]) -> Result<Self, TokenParseError> {
        let (envelope, cwt) = Envelope::parse(bytes)?;
        match envelope.content_type {
            TOKEN_CONTENT_TYPE => Token::from_envelope(envelope, cwt).map(Self::Token),
            REVOCATION_CONTENT_TYPE => {
                SignedRevocation::from_envelope(envelope, cwt).map(Self::Revocation)
            }
            other => Err(TokenParseError::WrongContentType {
                found: other.to_owned(),
            }),
        }
    }

    /// SHA-256 of the logged bytes.
    #[must_use]
    pub fn id(&self) -> TokenId {
        match self {
            Self::Token(t) => t.id(),
            Self::Revocation(r) => r.id(),
        }
    }

    /// The bytes that are logged (unprotected header empty): the leaf data.
    #[must_use]
    pub fn logged_bytes(&self) -> &[u8] {
        match self {
            Self::Token(t) => t.logged_bytes(),
            Self::Revocation(r) => r.logged_bytes(),
        }
    }

    /// The issuer (`iss`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        match self {
            Self::Token(t) => &t.claims().iss,
            Self::Revocation(r) => &r.claims().iss,
        }
    }

    /// The key id (header 4).
    #[must_use]
    pub fn kid(&self) -> Kid {
        match self {
            Self::Token(t) => t.kid(),
            Self::Revocation(r) => r.kid(),
        }
    }

    /// Verifies the signature against the issuer's key.
    ///
    /// # Errors
    ///
    /// [`TokenVerifyError`] as for [`Token::verify`].
    pub fn verify(&self, key: &VerifyingKey) -> Result<VerifiedStatement, TokenVerifyError> {
        match self {
            Self::Token(t) => t.verify(key).map(VerifiedStatement::Token),
            Self::Revocation(r) => r.verify(key).map(VerifiedStatement::Revocation),
        }
    }
}

/// A [`Statement`] whose signature verified.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedStatement {
    /// A verified token.
    Token(VerifiedToken),
    /// A verified revocation.
    Revocation(VerifiedRevocation),
}
