//! The COSE_Sign1 layer shared by tokens and revocations: strict parsing of
//! the envelope and headers, signing, encoding, verification.

use std::ops::Range;

#[cfg(test)]
use ciborium::Value;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::error::{CborPart, TokenParseError, TokenVerifyError};
use super::id::{Kid, TokenId};
use super::{
    Algorithm, MAX_RECEIPTS, MAX_STATEMENT_SIZE, MAX_X5CHAIN_LEN, REVOCATION_CONTENT_TYPE,
    TOKEN_CONTENT_TYPE,
};
#[cfg(test)]
use crate::cbor::int;
use crate::cbor::{self, Entries, Item, Kind};

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
pub(crate) const UNDERSTOOD_CRITICAL: [i64; 2] = [HDR_CWT_CLAIMS, HDR_X5CHAIN];

/// A parsed, well-formed COSE_Sign1 statement, before its claims are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub alg: Algorithm,
    pub kid: Kid,
    pub content_type: &'static str,
    pub x5chain: Option<Vec<Vec<u8>>>,
    pub receipts: Vec<Vec<u8>>,
    pub signature: [u8; 64],
    /// The statement with an empty unprotected header.
    pub logged: Vec<u8>,
    /// Where the serialized protected header (exactly as received) lies in
    /// `logged`.
    protected: Range<usize>,
    /// Where the serialized payload lies in `logged`.
    payload: Range<usize>,
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
    encode_sign1_ranges(protected, receipts, payload, signature).0
}

/// As [`encode_sign1`], also returning where the protected header and the
/// payload lie in the output.
fn encode_sign1_ranges(
    protected: &[u8],
    receipts: &[Vec<u8>],
    payload: &[u8],
    signature: &[u8],
) -> (Vec<u8>, Range<usize>, Range<usize>) {
    let receipts_len: usize = receipts.iter().map(|r| r.len() + 9).sum();
    let mut out =
        Vec::with_capacity(protected.len() + payload.len() + signature.len() + receipts_len + 32);
    cbor::write_head(&mut out, 6, TAG_COSE_SIGN1);
    cbor::write_head(&mut out, 4, 4);
    let protected_range = write_bytes_range(&mut out, protected);
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
    let payload_range = write_bytes_range(&mut out, payload);
    cbor::write_bytes(&mut out, signature);
    (out, protected_range, payload_range)
}

/// Writes a byte string and returns where its content lies in `out`.
fn write_bytes_range(out: &mut Vec<u8>, b: &[u8]) -> Range<usize> {
    cbor::write_head(out, 2, b.len() as u64);
    let start = out.len();
    out.extend_from_slice(b);
    start..out.len()
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
    /// The CWT claims map, already encoded (deterministically).
    pub cwt_claims: &'a [u8],
    pub x5chain: Option<&'a [Vec<u8>]>,
}

/// The protected header's bytes, written straight from `spec` in core
/// deterministic order (labels 1, 3, 4, 15, 33 ascending); the tests
/// compare it with the encoding of [`protected_value`].
pub(crate) fn protected_header(spec: &ProtectedSpec<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        64 + spec.cwt_claims.len()
            + spec
                .x5chain
                .map_or(0, |c| c.iter().map(|cert| cert.len() + 5).sum()),
    );
    cbor::write_head(&mut out, 5, if spec.x5chain.is_some() { 5 } else { 4 });
    cbor::write_int(&mut out, HDR_ALG);
    cbor::write_int(&mut out, spec.alg.cose_value());
    cbor::write_int(&mut out, HDR_CONTENT_TYPE);
    cbor::write_text(&mut out, spec.content_type);
    cbor::write_int(&mut out, HDR_KID);
    cbor::write_bytes(&mut out, &spec.kid.0);
    cbor::write_int(&mut out, HDR_CWT_CLAIMS);
    out.extend_from_slice(spec.cwt_claims);
    match spec.x5chain {
        Some([single]) => {
            cbor::write_int(&mut out, HDR_X5CHAIN);
            cbor::write_bytes(&mut out, single);
        }
        Some(chain) => {
            cbor::write_int(&mut out, HDR_X5CHAIN);
            cbor::write_head(&mut out, 4, chain.len() as u64);
            for cert in chain {
                cbor::write_bytes(&mut out, cert);
            }
        }
        None => {}
    }
    out
}

/// The protected header as a CBOR value (maps are sorted when encoded):
/// the reference [`protected_header`] is tested against.
#[cfg(test)]
pub(crate) fn protected_value(spec: &ProtectedSpec<'_>) -> Value {
    let mut header = vec![
        (int(HDR_ALG), int(spec.alg.cose_value())),
        (
            int(HDR_CONTENT_TYPE),
            Value::Text(spec.content_type.to_owned()),
        ),
        (int(HDR_KID), Value::Bytes(spec.kid.0.to_vec())),
        (
            int(HDR_CWT_CLAIMS),
            ciborium::from_reader(spec.cwt_claims).unwrap_or(Value::Null),
        ),
    ];
    match spec.x5chain {
        Some([single]) => header.push((int(HDR_X5CHAIN), Value::Bytes(single.clone()))),
        Some(chain) => header.push((
            int(HDR_X5CHAIN),
            Value::Array(chain.iter().map(|c| Value::Bytes(c.clone())).collect()),
        )),
        None => {}
    }
    Value::Map(header)
}

/// Signs `payload` under the protected header described by `spec`, and
/// returns the envelope of the tagged COSE_Sign1 with an empty unprotected
/// header (its logged bytes and id computed, as [`Envelope::parse`] would).
pub(crate) fn sign(spec: ProtectedSpec<'_>, payload: &[u8], key: &SigningKey) -> Envelope {
    let protected = protected_header(&spec);
    let tbs = sig_structure(&protected, &[], payload);
    let signature = key.sign(&tbs).to_bytes();
    Envelope::from_parts(
        Header {
            alg: spec.alg,
            kid: spec.kid,
            content_type: spec.content_type,
            x5chain: spec.x5chain.map(<[Vec<u8>]>::to_vec),
        },
        Vec::new(),
        &protected,
        payload,
        signature,
    )
}

/// The protected header parameters an [`Envelope`] keeps.
pub(crate) struct Header {
    pub alg: Algorithm,
    pub kid: Kid,
    pub content_type: &'static str,
    pub x5chain: Option<Vec<Vec<u8>>>,
}

/// What [`Envelope::parse`] reads from the protected header.
struct Protected<'a> {
    header: Header,
    cwt: Item<'a>,
}

impl Envelope {
    /// Builds an envelope from its parts: encodes the logged bytes (the
    /// statement with an empty unprotected header) and hashes them.
    pub(crate) fn from_parts(
        header: Header,
        receipts: Vec<Vec<u8>>,
        protected: &[u8],
        payload: &[u8],
        signature: [u8; 64],
    ) -> Self {
        let (logged, protected, payload) = encode_sign1_ranges(protected, &[], payload, &signature);
        let id = TokenId::of_logged_bytes(&logged);
        Self {
            alg: header.alg,
            kid: header.kid,
            content_type: header.content_type,
            x5chain: header.x5chain,
            receipts,
            signature,
            logged,
            protected,
            payload,
            id,
        }
    }

    /// An envelope whose message `logged` (no receipts) is already in the
    /// logged form; `protected` and `payload` are sub-slices of it.
    fn from_logged(
        header: Header,
        logged: &[u8],
        protected: &[u8],
        payload: &[u8],
        signature: [u8; 64],
    ) -> Self {
        let range = |part: &[u8]| {
            let start = (part.as_ptr() as usize).wrapping_sub(logged.as_ptr() as usize);
            start..start + part.len()
        };
        let (protected, payload) = (range(protected), range(payload));
        debug_assert!(logged.get(protected.clone()).is_some());
        debug_assert!(logged.get(payload.clone()).is_some());
        Self {
            alg: header.alg,
            kid: header.kid,
            content_type: header.content_type,
            x5chain: header.x5chain,
            receipts: Vec::new(),
            signature,
            logged: logged.to_vec(),
            protected,
            payload,
            id: TokenId::of_logged_bytes(logged),
        }
    }

    /// Parses a COSE_Sign1 strictly. Returns the envelope and the CWT claims
    /// map (header 15), unread.
    ///
    /// The checks and their order are those of the `ciborium::Value`-based
    /// parser this replaced (kept as the test oracle in `token::oracle`):
    /// the message's deterministic encoding, then its structure, the
    /// unprotected header, the protected header's encoding and then its
    /// parameters. Nothing is decoded into a generic value, and nothing is
    /// re-encoded: [`cbor::check`] alone enforces one encoding per item.
    pub(crate) fn parse(bytes: &[u8]) -> Result<(Self, Item<'_>), TokenParseError> {
        if bytes.len() > MAX_STATEMENT_SIZE {
            return Err(TokenParseError::TooLarge { len: bytes.len() });
        }
        let message = Item::checked(bytes).map_err(|source| TokenParseError::Cbor {
            part: CborPart::Message,
            source,
        })?;
        let inner = match message.kind() {
            Kind::Tag(TAG_COSE_SIGN1, inner) => inner,
            Kind::Tag(tag, _) => return Err(TokenParseError::WrongTag { tag }),
            _ => return Err(TokenParseError::NotTagged),
        };
        let Kind::Array(mut items) = inner.kind() else {
            return Err(structure("COSE_Sign1 must be an array"));
        };
        let four = || structure("COSE_Sign1 must have exactly 4 items");
        if items.declared_len() != 4 {
            return Err(four());
        }
        let (Some(protected), Some(unprotected), Some(payload), Some(signature)) =
            (items.next(), items.next(), items.next(), items.next())
        else {
            return Err(four());
        };
        let Kind::Bytes(protected) = protected.kind() else {
            return Err(structure("protected header must be a byte string"));
        };
        let Kind::Map(unprotected) = unprotected.kind() else {
            return Err(structure("unprotected header must be a map"));
        };
        let payload = match payload.kind() {
            Kind::Bytes(p) => p,
            Kind::Null => return Err(structure("detached payloads are not supported")),
            _ => return Err(structure("payload must be a byte string")),
        };
        let Kind::Bytes(signature) = signature.kind() else {
            return Err(structure("signature must be a byte string"));
        };
        let signature: [u8; 64] =
            signature
                .try_into()
                .map_err(|_| TokenParseError::SignatureLength {
                    len: signature.len(),
                })?;

        let receipts = parse_unprotected(unprotected)?;
        let Protected { header, cwt } = parse_protected(protected)?;
        let envelope = if receipts.is_empty() {
            // With an empty unprotected header the message is already the
            // logged form: `Item::checked` admits one encoding per item, so
            // re-encoding the parts would give back exactly these bytes.
            Self::from_logged(header, bytes, protected, payload, signature)
        } else {
            Self::from_parts(header, receipts, protected, payload, signature)
        };
        Ok((envelope, cwt))
    }

    /// The serialized protected header, exactly as received.
    pub(crate) fn protected(&self) -> &[u8] {
        self.logged.get(self.protected.clone()).unwrap_or_default()
    }

    /// The serialized payload, exactly as received.
    pub(crate) fn payload(&self) -> &[u8] {
        self.logged.get(self.payload.clone()).unwrap_or_default()
    }

    /// Checks the payload's deterministic encoding and returns a view of it.
    pub(crate) fn payload_item(&self) -> Result<Item<'_>, TokenParseError> {
        Item::checked(self.payload()).map_err(|source| TokenParseError::Cbor {
            part: CborPart::Payload,
            source,
        })
    }

    /// The statement with `receipts` in its unprotected header.
    pub(crate) fn encode_with_receipts(&self, receipts: &[Vec<u8>]) -> Vec<u8> {
        if receipts.is_empty() {
            return self.logged.clone();
        }
        encode_sign1(self.protected(), receipts, self.payload(), &self.signature)
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
        let tbs = sig_structure(self.protected(), &[], self.payload());
        key.verify_strict(&tbs, &Signature::from_bytes(&self.signature))
            .map_err(|_| TokenVerifyError::BadSignature)
    }
}

fn parse_unprotected(entries: Entries<'_>) -> Result<Vec<Vec<u8>>, TokenParseError> {
    let mut receipts = Vec::new();
    for (label, value) in entries {
        if label.as_i64() != Some(HDR_RECEIPTS) {
            return Err(TokenParseError::UnexpectedUnprotectedHeader {
                label: label.describe(),
            });
        }
        let Kind::Array(items) = value.kind() else {
            return Err(invalid(HDR_RECEIPTS, "receipts must be an array"));
        };
        if items.declared_len() == 0 {
            return Err(invalid(HDR_RECEIPTS, "receipts array is empty"));
        }
        if items.declared_len() > MAX_RECEIPTS as u64 {
            return Err(invalid(HDR_RECEIPTS, "too many receipts"));
        }
        for item in items {
            match item.kind() {
                Kind::Bytes(b) if !b.is_empty() => receipts.push(b.to_vec()),
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

fn parse_protected(bytes: &[u8]) -> Result<Protected<'_>, TokenParseError> {
    let header = Item::checked(bytes).map_err(|source| TokenParseError::Cbor {
        part: CborPart::ProtectedHeader,
        source,
    })?;
    let Kind::Map(entries) = header.kind() else {
        return Err(structure("protected header must be a map"));
    };
    let mut alg = None;
    let mut crit = None;
    let mut content_type = None;
    let mut kid = None;
    let mut cwt = None;
    let mut x5chain = None;
    for (label, value) in entries {
        // Loupe is a closed profile of COSE_Sign1: a header parameter it
        // does not define is refused, critical or not. The logged bytes are
        // what the log commits to, so nothing may ride along unexamined.
        let Some(l) = label.as_i64() else {
            return Err(TokenParseError::UnknownHeader {
                label: label.describe(),
            });
        };
        match l {
            HDR_ALG => alg = Some(parse_alg(value)?),
            HDR_CRIT => crit = Some(value),
            HDR_CONTENT_TYPE => {
                content_type = Some(match value.kind() {
                    Kind::Text(TOKEN_CONTENT_TYPE) => TOKEN_CONTENT_TYPE,
                    Kind::Text(REVOCATION_CONTENT_TYPE) => REVOCATION_CONTENT_TYPE,
                    Kind::Text(t) => {
                        return Err(TokenParseError::WrongContentType {
                            found: t.to_owned(),
                        });
                    }
                    _ => {
                        return Err(TokenParseError::WrongContentType {
                            found: value.describe(),
                        });
                    }
                });
            }
            HDR_KID => {
                let Kind::Bytes(b) = value.kind() else {
                    return Err(invalid(HDR_KID, "kid must be a byte string"));
                };
                let k: [u8; 16] = b
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
        check_crit(crit, cwt.is_some(), x5chain.is_some())?;
    }
    let alg = alg.ok_or(TokenParseError::MissingHeader { label: HDR_ALG })?;
    let content_type = content_type.ok_or(TokenParseError::MissingHeader {
        label: HDR_CONTENT_TYPE,
    })?;
    let kid = kid.ok_or(TokenParseError::MissingHeader { label: HDR_KID })?;
    let cwt = cwt.ok_or(TokenParseError::MissingHeader {
        label: HDR_CWT_CLAIMS,
    })?;
    Ok(Protected {
        header: Header {
            alg,
            kid,
            content_type,
            x5chain,
        },
        cwt,
    })
}

fn parse_alg(value: Item<'_>) -> Result<Algorithm, TokenParseError> {
    value
        .as_i64()
        .and_then(Algorithm::from_cose_value)
        .ok_or_else(|| TokenParseError::UnsupportedAlgorithm {
            alg: value.describe(),
        })
}

/// `crit` may name only the headers in [`UNDERSTOOD_CRITICAL`], and only
/// when they are present.
fn check_crit(crit: Item<'_>, has_cwt: bool, has_x5chain: bool) -> Result<(), TokenParseError> {
    let Kind::Array(labels) = crit.kind() else {
        return Err(invalid(HDR_CRIT, "crit must be an array"));
    };
    if labels.declared_len() == 0 {
        return Err(invalid(HDR_CRIT, "crit must not be empty"));
    }
    for label in labels {
        let present = match label.as_i64() {
            Some(l) if UNDERSTOOD_CRITICAL.contains(&l) => {
                if l == HDR_CWT_CLAIMS {
                    has_cwt
                } else {
                    has_x5chain
                }
            }
            _ => {
                return Err(TokenParseError::UnknownCriticalHeader {
                    label: label.describe(),
                });
            }
        };
        if !present {
            return Err(invalid(HDR_CRIT, "crit names a header that is absent"));
        }
    }
    Ok(())
}

fn parse_x5chain(value: Item<'_>) -> Result<Vec<Vec<u8>>, TokenParseError> {
    match value.kind() {
        Kind::Bytes(cert) if !cert.is_empty() => Ok(vec![cert.to_vec()]),
        Kind::Array(items) => {
            // RFC 9360 §2: one certificate is a bstr, several are an array.
            if items.declared_len() < 2 {
                return Err(invalid(
                    HDR_X5CHAIN,
                    "a single certificate must be a bare byte string",
                ));
            }
            if items.declared_len() > MAX_X5CHAIN_LEN as u64 {
                return Err(invalid(HDR_X5CHAIN, "certificate chain too long"));
            }
            items
                .map(|item| match item.kind() {
                    Kind::Bytes(cert) if !cert.is_empty() => Ok(cert.to_vec()),
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
