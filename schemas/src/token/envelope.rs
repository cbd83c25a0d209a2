//! The COSE_Sign1 layer shared by tokens and revocations: strict parsing of
//! the envelope and headers, signing, encoding, verification.

use ciborium::Value;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::error::{CborPart, TokenParseError, TokenVerifyError};
use super::id::{Kid, TokenId};
use super::{
    Algorithm, MAX_RECEIPTS, MAX_STATEMENT_SIZE, MAX_X5CHAIN_LEN, REVOCATION_CONTENT_TYPE,
    TOKEN_CONTENT_TYPE,
};
use crate::cbor::{self, as_i64, describe_key, int};

/// COSE header labels used here (RFC 9052 §3.1, RFC 9597, RFC 9360, RFC 9942).
pub(crate) const HDR_ALG: i64 = 1;
pub(crate) const HDR_CRIT: i64 = 2;
pub(crate) const HDR_CONTENT_TYPE: i64 = 3;
pub(crate) const HDR_KID: i64 = 4;
pub(crate) const HDR_CWT_CLAIMS: i64 = 15;
pub(crate) const HDR_X5CHAIN: i64 = 33;
pub(crate) const HDR_RECEIPTS: i64 = 394;

/// COSE_Sign1 tag (RFC 9052 §4.2).
pub(crate) const TAG_COSE_SIGN1: u64 = 18;

/// Headers that may be marked critical: the ones this implementation
/// processes beyond the generic set (which RFC 9052 §3.1 forbids in `crit`).
const UNDERSTOOD_CRITICAL: [i64; 2] = [HDR_CWT_CLAIMS, HDR_X5CHAIN];

/// A parsed, well-formed COSE_Sign1 statement, before its claims are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub alg: Algorithm,
    pub kid: Kid,
    pub content_type: &'static str,
    pub x5chain: Option<Vec<Vec<u8>>>,
    pub receipts: Vec<Vec<u8>>,
    /// The serialized protected header, exactly as received.
    pub protected: Vec<u8>,
    pub payload: Vec<u8>,
    pub signature: [u8; 64],
    /// The statement with an empty unprotected header.
    pub logged: Vec<u8>,
    pub id: TokenId,
}

fn structure(what: &'static str) -> TokenParseError {
    TokenParseError::Structure { what }
}

fn invalid(label: i64, reason: &'static str) -> TokenParseError {
    TokenParseError::InvalidHeader { label, reason }
}

/// Encodes a tagged COSE_Sign1 with the given unprotected receipts.
pub(crate) fn encode_sign1(
    protected: &[u8],
    receipts: &[Vec<u8>],
    payload: &[u8],
    signature: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + payload.len() + signature.len() + 16);
    cbor::write_head(&mut out, 6, TAG_COSE_SIGN1);
    cbor::write_head(&mut out, 4, 4);
    cbor::write_bytes(&mut out, protected);
    if receipts.is_empty() {
        cbor::write_head(&mut out, 5, 0);
    } else {
        cbor::write_head(&mut out, 5, 1);
        cbor::write_head(&mut out, 0, HDR_RECEIPTS as u64);
        cbor::write_head(&mut out, 4, receipts.len() as u64);
        for r in receipts {
            cbor::write_bytes(&mut out, r);
        }
    }
    cbor::write_bytes(&mut out, payload);
    cbor::write_bytes(&mut out, signature);
    out
}

/// The `Sig_structure` for COSE_Sign1 (RFC 9052 §4.4): the bytes signed.
pub(crate) fn sig_structure(protected: &[u8], external_aad: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + external_aad.len() + payload.len() + 24);
    cbor::write_head(&mut out, 4, 4);
    cbor::write_head(&mut out, 3, 10);
    out.extend_from_slice(b"Signature1");
    cbor::write_bytes(&mut out, protected);
    cbor::write_bytes(&mut out, external_aad);
    cbor::write_bytes(&mut out, payload);
    out
}

/// What goes into the protected header of a statement we sign.
pub(crate) struct ProtectedSpec<'a> {
    pub alg: Algorithm,
    pub kid: Kid,
    pub content_type: &'static str,
    pub cwt_claims: Value,
    pub x5chain: Option<&'a [Vec<u8>]>,
}

/// Signs `payload` under the protected header described by `spec`, and
/// returns the tagged COSE_Sign1 with an empty unprotected header.
pub(crate) fn sign(spec: ProtectedSpec<'_>, payload: &[u8], key: &SigningKey) -> Vec<u8> {
    let mut header = vec![
        (int(HDR_ALG), int(spec.alg.cose_value())),
        (
            int(HDR_CONTENT_TYPE),
            Value::Text(spec.content_type.to_owned()),
        ),
        (int(HDR_KID), Value::Bytes(spec.kid.0.to_vec())),
        (int(HDR_CWT_CLAIMS), spec.cwt_claims),
    ];
    match spec.x5chain {
        Some([single]) => header.push((int(HDR_X5CHAIN), Value::Bytes(single.clone()))),
        Some(chain) => header.push((
            int(HDR_X5CHAIN),
            Value::Array(chain.iter().map(|c| Value::Bytes(c.clone())).collect()),
        )),
        None => {}
    }
    let protected = cbor::encode(&Value::Map(header));
    let tbs = sig_structure(&protected, &[], payload);
    let signature = key.sign(&tbs).to_bytes();
    encode_sign1(&protected, &[], payload, &signature)
}

impl Envelope {
    /// Parses a COSE_Sign1 strictly. Returns the envelope and the CWT claims
    /// map (header 15), undecoded.
    pub(crate) fn parse(bytes: &[u8]) -> Result<(Self, Value), TokenParseError> {
        if bytes.len() > MAX_STATEMENT_SIZE {
            return Err(TokenParseError::TooLarge { len: bytes.len() });
        }
        let message = cbor::decode(bytes).map_err(|source| TokenParseError::Cbor {
            part: CborPart::Message,
            source,
        })?;
        let inner = match message {
            Value::Tag(TAG_COSE_SIGN1, inner) => *inner,
            Value::Tag(tag, _) => return Err(TokenParseError::WrongTag { tag }),
            _ => return Err(TokenParseError::NotTagged),
        };
        let Value::Array(items) = inner else {
            return Err(structure("COSE_Sign1 must be an array"));
        };
        let [protected, unprotected, payload, signature]: [Value; 4] = items
            .try_into()
            .map_err(|_| structure("COSE_Sign1 must have exactly 4 items"))?;
        let Value::Bytes(protected) = protected else {
            return Err(structure("protected header must be a byte string"));
        };
        let Value::Map(unprotected) = unprotected else {
            return Err(structure("unprotected header must be a map"));
        };
        let payload = match payload {
            Value::Bytes(p) => p,
            Value::Null => return Err(structure("detached payloads are not supported")),
            _ => return Err(structure("payload must be a byte string")),
        };
        let Value::Bytes(signature) = signature else {
            return Err(structure("signature must be a byte string"));
        };
        let signature: [u8; 64] =
            signature
                .as_slice()
                .try_into()
                .map_err(|_| TokenParseError::SignatureLength {
                    len: signature.len(),
                })?;

        let receipts = parse_unprotected(unprotected)?;
        let (alg, kid, content_type, x5chain, cwt) = parse_protected(&protected)?;

        let logged = if receipts.is_empty() {
            bytes.to_vec()
        } else {
            encode_sign1(&protected, &[], &payload, &signature)
        };
        let id = TokenId::of_logged_bytes(&logged);
        Ok((
            Self {
                alg,
                kid,
                content_type,
                x5chain,
                receipts,
                protected,
                payload,
                signature,
                logged,
                id,
            },
            cwt,
        ))
    }

    /// Decodes the payload, checking deterministic encoding.
    pub(crate) fn payload_value(&self) -> Result<Value, TokenParseError> {
        cbor::decode(&self.payload).map_err(|source| TokenParseError::Cbor {
            part: CborPart::Payload,
            source,
        })
    }

    /// The statement with `receipts` in its unprotected header.
    pub(crate) fn encode_with_receipts(&self, receipts: &[Vec<u8>]) -> Vec<u8> {
        if receipts.is_empty() {
            return self.logged.clone();
        }
        encode_sign1(&self.protected, receipts, &self.payload, &self.signature)
    }

    /// Checks `kid` against the key, then the signature with `verify_strict`.
    /// (`alg` was restricted to EdDSA/Ed25519 when parsing.)
    pub(crate) fn verify(&self, key: &VerifyingKey) -> Result<(), TokenVerifyError> {
        let expected = Kid::of(key);
        if expected != self.kid {
            return Err(TokenVerifyError::KidMismatch {
                expected,
                found: self.kid,
            });
        }
        let tbs = sig_structure(&self.protected, &[], &self.payload);
        key.verify_strict(&tbs, &Signature::from_bytes(&self.signature))
            .map_err(|_| TokenVerifyError::BadSignature)
    }
}

fn parse_unprotected(entries: Vec<(Value, Value)>) -> Result<Vec<Vec<u8>>, TokenParseError> {
    let mut receipts = Vec::new();
    for (label, value) in entries {
        if as_i64(&label) != Some(HDR_RECEIPTS) {
            return Err(TokenParseError::UnexpectedUnprotectedHeader {
                label: describe_key(&label),
            });
        }
        let Value::Array(items) = value else {
            return Err(invalid(HDR_RECEIPTS, "receipts must be an array"));
        };
        if items.is_empty() {
            return Err(invalid(HDR_RECEIPTS, "receipts array is empty"));
        }
        if items.len() > MAX_RECEIPTS {
            return Err(invalid(HDR_RECEIPTS, "too many receipts"));
        }
        for item in items {
            match item {
                Value::Bytes(b) if !b.is_empty() => receipts.push(b),
                _ => {
                    return Err(invalid(
                        HDR_RECEIPTS,
                        "each receipt must be a non-empty byte string",
                    ));
                }
            }
        }
    }
    Ok(receipts)
}

type Protected = (Algorithm, Kid, &'static str, Option<Vec<Vec<u8>>>, Value);

fn parse_protected(bytes: &[u8]) -> Result<Protected, TokenParseError> {
    let header = cbor::decode(bytes).map_err(|source| TokenParseError::Cbor {
        part: CborPart::ProtectedHeader,
        source,
    })?;
    let Value::Map(entries) = header else {
        return Err(structure("protected header must be a map"));
    };
    let mut alg = None;
    let mut crit = None;
    let mut content_type = None;
    let mut kid = None;
    let mut cwt = None;
    let mut x5chain = None;
    let mut present = Vec::with_capacity(entries.len());
    for (label, value) in entries {
        // Loupe is a closed profile of COSE_Sign1: a header parameter it
        // does not define is refused, critical or not. The logged bytes are
        // what the log commits to, so nothing may ride along unexamined.
        let Some(l) = as_i64(&label) else {
            return Err(TokenParseError::UnknownHeader {
                label: describe_key(&label),
            });
        };
        present.push(l);
        match l {
            HDR_ALG => alg = Some(parse_alg(&value)?),
            HDR_CRIT => crit = Some(value),
            HDR_CONTENT_TYPE => {
                content_type = Some(match value {
                    Value::Text(t) if t == TOKEN_CONTENT_TYPE => TOKEN_CONTENT_TYPE,
                    Value::Text(t) if t == REVOCATION_CONTENT_TYPE => REVOCATION_CONTENT_TYPE,
                    Value::Text(t) => return Err(TokenParseError::WrongContentType { found: t }),
                    other => {
                        return Err(TokenParseError::WrongContentType {
                            found: describe_key(&other),
                        });
                    }
                });
            }
            HDR_KID => {
                let Value::Bytes(b) = value else {
                    return Err(invalid(HDR_KID, "kid must be a byte string"));
                };
                let k: [u8; 16] = b
                    .as_slice()
                    .try_into()
                    .map_err(|_| invalid(HDR_KID, "kid must be 16 bytes"))?;
                kid = Some(Kid(k));
            }
            HDR_CWT_CLAIMS => cwt = Some(value),
            HDR_X5CHAIN => x5chain = Some(parse_x5chain(value)?),
            _ => {
                return Err(TokenParseError::UnknownHeader {
                    label: l.to_string(),
                });
            }
        }
    }
    if let Some(crit) = crit {
        check_crit(crit, &present)?;
    }
    let alg = alg.ok_or(TokenParseError::MissingHeader { label: HDR_ALG })?;
    let content_type = content_type.ok_or(TokenParseError::MissingHeader {
        label: HDR_CONTENT_TYPE,
    })?;
    let kid = kid.ok_or(TokenParseError::MissingHeader { label: HDR_KID })?;
    let cwt = cwt.ok_or(TokenParseError::MissingHeader {
        label: HDR_CWT_CLAIMS,
    })?;
    Ok((alg, kid, content_type, x5chain, cwt))
}

fn parse_alg(value: &Value) -> Result<Algorithm, TokenParseError> {
    as_i64(value)
        .and_then(Algorithm::from_cose_value)
        .ok_or_else(|| TokenParseError::UnsupportedAlgorithm {
            alg: describe_key(value),
        })
}

fn check_crit(crit: Value, present: &[i64]) -> Result<(), TokenParseError> {
    let Value::Array(labels) = crit else {
        return Err(invalid(HDR_CRIT, "crit must be an array"));
    };
    if labels.is_empty() {
        return Err(invalid(HDR_CRIT, "crit must not be empty"));
    }
    for label in &labels {
        match as_i64(label) {
            Some(l) if UNDERSTOOD_CRITICAL.contains(&l) => {
                if !present.contains(&l) {
                    return Err(invalid(HDR_CRIT, "crit names a header that is absent"));
                }
            }
            _ => {
                return Err(TokenParseError::UnknownCriticalHeader {
                    label: describe_key(label),
                });
            }
        }
    }
    Ok(())
}

fn parse_x5chain(value: Value) -> Result<Vec<Vec<u8>>, TokenParseError> {
    match value {
        Value::Bytes(cert) if !cert.is_empty() => Ok(vec![cert]),
        Value::Array(items) => {
            // RFC 9360 §2: one certificate is a bstr, several are an array.
            if items.len() < 2 {
                return Err(invalid(
                    HDR_X5CHAIN,
                    "a single certificate must be a bare byte string",
                ));
            }
            if items.len() > MAX_X5CHAIN_LEN {
                return Err(invalid(HDR_X5CHAIN, "certificate chain too long"));
            }
            items
                .into_iter()
                .map(|item| match item {
                    Value::Bytes(cert) if !cert.is_empty() => Ok(cert),
                    _ => Err(invalid(
                        HDR_X5CHAIN,
                        "each certificate must be a non-empty byte string",
                    )),
                })
                .collect()
        }
        _ => Err(invalid(
            HDR_X5CHAIN,
            "x5chain must be a byte string or an array of them",
        )),
    }
}
