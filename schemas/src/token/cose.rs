//! Low-level COSE_Sign1 verification for Ed25519, with no Loupe-specific
//! rules: used to check this crate's signature path against public COSE
//! vectors (cose-wg/Examples) and against other implementations.

use coset::{CborSerializable as _, CoseSign1, TaggedCborSerializable as _, iana};
use ed25519_dalek::{Signature, VerifyingKey};

use super::MAX_STATEMENT_SIZE;
use super::envelope::sig_structure;

/// A COSE_Sign1 failed [`verify_cose_sign1_ed25519`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoseVerifyError {
    /// The input is larger than [`MAX_STATEMENT_SIZE`].
    #[error("message larger than {MAX_STATEMENT_SIZE} bytes")]
    TooLarge,
    /// Not a COSE_Sign1 (tagged 18 or untagged), as judged by `coset`.
    #[error("not a COSE_Sign1: {0}")]
    Malformed(String),
    /// The protected header's `alg` is absent or is neither EdDSA (−8) nor
    /// Ed25519 (−19).
    #[error("protected alg is not EdDSA (-8) or Ed25519 (-19)")]
    UnsupportedAlgorithm,
    /// The payload is detached (nil).
    #[error("detached payload")]
    DetachedPayload,
    /// The signature is not 64 bytes (an Ed448 signature is 114).
    #[error("signature is {len} bytes, not an Ed25519 signature")]
    SignatureLength {
        /// The signature's length.
        len: usize,
    },
    /// The signature does not verify (`verify_strict`).
    #[error("signature does not verify")]
    BadSignature,
}

/// Verifies any COSE_Sign1 signed with Ed25519 (`alg` −8 or −19 in the
/// protected header) with `external_aad`, and returns its payload.
///
/// Unlike [`Token::parse`](super::Token::parse) this applies no
/// deterministic-encoding or Loupe header rules; the `Sig_structure` is
/// built by the same code that signs and verifies tokens.
///
/// # Errors
///
/// [`CoseVerifyError`] naming the first problem.
pub fn verify_cose_sign1_ed25519(
    bytes: &[u8],
    key: &VerifyingKey,
    external_aad: &[u8],
) -> Result<Vec<u8>, CoseVerifyError> {
    if bytes.len() > MAX_STATEMENT_SIZE {
        return Err(CoseVerifyError::TooLarge);
    }
    let sign1 = match CoseSign1::from_tagged_slice(bytes) {
        Ok(s) => s,
        Err(tagged) => CoseSign1::from_slice(bytes)
            .map_err(|_| CoseVerifyError::Malformed(tagged.to_string()))?,
    };
    let alg_ok = matches!(
        sign1.protected.header.alg,
        Some(coset::Algorithm::Assigned(
            iana::Algorithm::EdDSA | iana::Algorithm::Ed25519
        ))
    );
    if !alg_ok {
        return Err(CoseVerifyError::UnsupportedAlgorithm);
    }
    let payload = sign1.payload.ok_or(CoseVerifyError::DetachedPayload)?;
    let signature: [u8; 64] =
        sign1
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| CoseVerifyError::SignatureLength {
                len: sign1.signature.len(),
            })?;
    // The protected header exactly as received (empty if it was empty).
    let protected = sign1.protected.original_data.unwrap_or_default();
    let tbs = sig_structure(&protected, external_aad, &payload);
    key.verify_strict(&tbs, &Signature::from_bytes(&signature))
        .map_err(|_| CoseVerifyError::BadSignature)?;
    Ok(payload)
}

/// The bytes a COSE_Sign1 signature covers (RFC 9052 §4.4): the
/// deterministic encoding of `["Signature1", protected, external_aad,
/// payload]`, where `protected` is the serialized protected header exactly
/// as carried in the message. Tokens are signed and verified over this.
#[must_use]
pub fn sign1_sig_structure(protected: &[u8], external_aad: &[u8], payload: &[u8]) -> Vec<u8> {
    sig_structure(protected, external_aad, payload)
}
