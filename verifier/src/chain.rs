//! X.509 certificate chains (RFC 9360 `x5chain`, leaf first) checked
//! against an issuer's trusted roots with `x509-parser`:
//!
//! - every certificate parses (DER, no trailing bytes) and is valid at the
//!   time the token says it was signed (`iat`);
//! - each certificate is signed by the next one, and the last one is a
//!   trusted root or is signed by one (whose subject is its issuer);
//! - certificates above the leaf are CAs (`basicConstraints` CA:TRUE) allowed
//!   to sign certificates (`keyUsage` keyCertSign, when present), within
//!   their path length;
//! - the leaf is not a CA, may sign (`keyUsage` digitalSignature, when
//!   present), names the issuer origin in a `dNSName` (or, lacking a SAN,
//!   its common name), and holds an Ed25519 key: the token's signing key.

use ed25519_dalek::VerifyingKey;
use x509_parser::certificate::X509Certificate;

use crate::verdict::rfc3339;
use x509_parser::oid_registry::OID_SIG_ED25519;
use x509_parser::prelude::{ASN1Time, FromDer as _, GeneralName};

/// The longest chain accepted.
pub const MAX_CHAIN_LENGTH: usize = 8;

/// Why a certificate chain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The chain is empty or longer than [`MAX_CHAIN_LENGTH`].
    #[error("the certificate chain has {0} certificates (1 to 8 accepted)")]
    Length(usize),
    /// A certificate does not parse.
    #[error("certificate {index} does not parse: {why}")]
    Malformed {
        /// Position in the chain (0 = leaf).
        index: usize,
        /// Why.
        why: String,
    },
    /// A certificate is not valid at the signing time.
    #[error(
        "certificate {index} ({subject}) is not valid at the signing time {at} (valid {not_before} to {not_after})"
    )]
    Expired {
        /// Position in the chain (0 = leaf; the chain length = the root).
        index: usize,
        /// Its subject.
        subject: String,
        /// The signing time (RFC 3339).
        at: String,
        /// Start of its validity.
        not_before: String,
        /// End of its validity.
        not_after: String,
    },
    /// A signature in the chain does not verify.
    #[error("certificate {index} ({subject}) is not signed by the next certificate's key")]
    BadSignature {
        /// Position in the chain.
        index: usize,
        /// Its subject.
        subject: String,
    },
    /// The chain does not end at a trusted root.
    #[error("the chain ends at {issuer:?}, which is not a trusted root of this issuer")]
    UntrustedRoot {
        /// The last certificate's issuer name.
        issuer: String,
    },
    /// A CA certificate lacks the CA flag or the right to sign certificates,
    /// or a path length is exceeded.
    #[error("certificate {index} ({subject}) may not sign certificates: {why}")]
    NotACa {
        /// Position in the chain.
        index: usize,
        /// Its subject.
        subject: String,
        /// Why.
        why: String,
    },
    /// The leaf may not sign tokens (a CA, or no digitalSignature usage).
    #[error("the leaf certificate may not sign tokens: {0}")]
    LeafUsage(String),
    /// The leaf does not name the issuer.
    #[error("the leaf certificate is for {names:?}, not for issuer {expected:?}")]
    WrongName {
        /// The issuer origin expected.
        expected: String,
        /// The names it holds.
        names: Vec<String>,
    },
    /// The leaf key is not Ed25519.
    #[error("the leaf certificate's key is not an Ed25519 key")]
    LeafKey,
}

fn parse(index: usize, der: &[u8]) -> Result<X509Certificate<'_>, ChainError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| ChainError::Malformed {
        index,
        why: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(ChainError::Malformed {
            index,
            why: format!("{} trailing bytes", rest.len()),
        });
    }
    Ok(cert)
}

fn check_time(index: usize, cert: &X509Certificate<'_>, at: i64) -> Result<(), ChainError> {
    let when = ASN1Time::from_timestamp(at).map_err(|e| ChainError::Malformed {
        index,
        why: e.to_string(),
    })?;
    if cert.validity().is_valid_at(when) {
        return Ok(());
    }
    Err(ChainError::Expired {
        index,
        subject: cert.subject().to_string(),
        at: rfc3339(at),
        not_before: rfc3339(cert.validity().not_before.timestamp()),
        not_after: rfc3339(cert.validity().not_after.timestamp()),
    })
}

/// Checks that `cert` (at `index`) may sign certificates, with `below`
/// CA certificates under it in the chain.
fn check_ca(index: usize, cert: &X509Certificate<'_>, below: usize) -> Result<(), ChainError> {
    let not_ca = |why: &str| ChainError::NotACa {
        index,
        subject: cert.subject().to_string(),
        why: why.to_owned(),
    };
    let bc = cert
        .basic_constraints()
        .map_err(|_| not_ca("malformed basicConstraints"))?
        .ok_or_else(|| not_ca("no basicConstraints"))?;
    if !bc.value.ca {
        return Err(not_ca("basicConstraints CA is false"));
    }
    if let Some(len) = bc.value.path_len_constraint
        && usize::try_from(len).unwrap_or(usize::MAX) < below
    {
        return Err(not_ca("path length exceeded"));
    }
    if let Some(ku) = cert.key_usage().map_err(|_| not_ca("malformed keyUsage"))?
        && !ku.value.key_cert_sign()
    {
        return Err(not_ca("keyUsage lacks keyCertSign"));
    }
    Ok(())
}

fn leaf_names(cert: &X509Certificate<'_>) -> Vec<String> {
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        return san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect();
    }
    cert.subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect()
}

/// Verifies `chain` (DER, leaf first) for issuer `origin` at time `at`
/// (the token's `iat`) against `roots` (DER), and returns the leaf's key.
///
/// # Errors
/// [`ChainError`] for the first problem found.
pub fn verify_chain(
    chain: &[Vec<u8>],
    roots: &[Vec<u8>],
    origin: &str,
    at: u64,
) -> Result<VerifyingKey, ChainError> {
    if chain.is_empty() || chain.len() > MAX_CHAIN_LENGTH {
        return Err(ChainError::Length(chain.len()));
    }
    let at = i64::try_from(at).unwrap_or(i64::MAX);
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| parse(i, der))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, cert) in certs.iter().enumerate() {
        check_time(i, cert, at)?;
    }
    // Leaf rules.
    let leaf = certs.first().ok_or(ChainError::Length(0))?;
    if leaf.is_ca() {
        return Err(ChainError::LeafUsage("it is a CA certificate".into()));
    }
    if let Some(ku) = leaf
        .key_usage()
        .map_err(|_| ChainError::LeafUsage("malformed keyUsage".into()))?
        && !ku.value.digital_signature()
    {
        return Err(ChainError::LeafUsage(
            "keyUsage lacks digitalSignature".into(),
        ));
    }
    let names = leaf_names(leaf);
    if !names.iter().any(|n| n.eq_ignore_ascii_case(origin)) {
        return Err(ChainError::WrongName {
            expected: origin.to_owned(),
            names,
        });
    }
    let spki = leaf.public_key();
    if spki.algorithm.algorithm != OID_SIG_ED25519 {
        return Err(ChainError::LeafKey);
    }
    let raw: [u8; 32] = spki
        .subject_public_key
        .as_ref()
        .try_into()
        .map_err(|_| ChainError::LeafKey)?;
    let key = VerifyingKey::from_bytes(&raw).map_err(|_| ChainError::LeafKey)?;

    // Each certificate signed by the next; the ones above the leaf are CAs.
    for i in 0..certs.len() {
        let (Some(cert), next) = (certs.get(i), certs.get(i + 1)) else {
            break;
        };
        if i > 0 {
            check_ca(i, cert, i - 1)?;
        }
        if let Some(next) = next {
            cert.verify_signature(Some(next.public_key()))
                .map_err(|_| ChainError::BadSignature {
                    index: i,
                    subject: cert.subject().to_string(),
                })?;
        }
    }

    // The top of the chain: a trusted root itself, or signed by one.
    let top_index = certs.len() - 1;
    let top_der = chain.get(top_index).ok_or(ChainError::Length(0))?;
    let top = certs.get(top_index).ok_or(ChainError::Length(0))?;
    if roots.iter().any(|r| r == top_der) {
        return Ok(key);
    }
    for (n, root_der) in roots.iter().enumerate() {
        let Ok(root) = parse(n, root_der) else {
            continue;
        };
        if root.subject() != top.issuer() {
            continue;
        }
        if check_ca(certs.len(), &root, top_index).is_err()
            || check_time(certs.len(), &root, at).is_err()
        {
            continue;
        }
        if top.verify_signature(Some(root.public_key())).is_ok() {
            return Ok(key);
        }
    }
    Err(ChainError::UntrustedRoot {
        issuer: top.issuer().to_string(),
    })
}
