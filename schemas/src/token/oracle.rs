//! The `ciborium::Value`-based parser that the single-walk reader replaced,
//! kept verbatim (as free functions) as the oracle of a differential test:
//! the fast parser must return exactly what this one returns, errors
//! included, on every input.
//!
//! Each item is checked (`cbor::check`), decoded into a `Value`, re-encoded
//! and compared (`cbor::decode`), then taken apart.

// A test oracle: helpers are called from tests only.
#![allow(clippy::unwrap_used)]

use ciborium::Value;

use super::claims::{
    CLAIM_CTI, CLAIM_IAT, CLAIM_ISS, CLAIM_SUB, ClaimsError, CwtClaims, FileDigest, ImageRole,
    MAX_ISSUER_LEN, MAX_MEDIA_TYPE_LEN, MAX_SUBJECT_LEN, MAX_TEXT_LEN, MediaDigest, MediaRole,
    Provenance, Stone, VideoRole, check_text,
};
use super::envelope::{
    Envelope, HDR_ALG, HDR_CONTENT_TYPE, HDR_CRIT, HDR_CWT_CLAIMS, HDR_KID, HDR_RECEIPTS,
    HDR_X5CHAIN, Header, TAG_COSE_SIGN1, UNDERSTOOD_CRITICAL,
};
use super::error::{CborPart, TokenParseError};
use super::id::{Cti, Kid, Sha256Digest, TokenId};
use super::revocation::{MAX_REASON_LEN, Revocation, RevocationCwtClaims, SignedRevocation};
use super::statement::Statement;
use super::{
    Algorithm, MAX_RECEIPTS, MAX_STATEMENT_SIZE, MAX_X5CHAIN_LEN, REVOCATION_CONTENT_TYPE,
    TOKEN_CONTENT_TYPE, Token,
};
use crate::cbor::{self, as_i64, as_u64, describe_key, int, text};

/// `Token::parse` as it was.
pub(super) fn token(bytes: &[u8]) -> Result<Token, TokenParseError> {
    let (envelope, cwt) = envelope(bytes)?;
    if envelope.content_type != TOKEN_CONTENT_TYPE {
        return Err(TokenParseError::WrongContentType {
            found: envelope.content_type.to_owned(),
        });
    }
    token_from(envelope, cwt)
}

fn token_from(envelope: Envelope, cwt: Value) -> Result<Token, TokenParseError> {
    let claims = cwt_claims(cwt).map_err(TokenParseError::CwtClaims)?;
    let provenance = provenance(payload_value(&envelope)?).map_err(TokenParseError::Payload)?;
    Ok(Token::from_parts(envelope, claims, provenance))
}

/// `SignedRevocation::parse` as it was.
pub(super) fn revocation(bytes: &[u8]) -> Result<SignedRevocation, TokenParseError> {
    let (envelope, cwt) = envelope(bytes)?;
    if envelope.content_type != REVOCATION_CONTENT_TYPE {
        return Err(TokenParseError::WrongContentType {
            found: envelope.content_type.to_owned(),
        });
    }
    revocation_from(envelope, cwt)
}

fn revocation_from(envelope: Envelope, cwt: Value) -> Result<SignedRevocation, TokenParseError> {
    let claims = revocation_claims(cwt).map_err(TokenParseError::CwtClaims)?;
    let revocation =
        revocation_payload(payload_value(&envelope)?).map_err(TokenParseError::Payload)?;
    SignedRevocation::from_parts(envelope, claims, revocation)
}

/// `Statement::parse` as it was.
pub(super) fn statement(bytes: &[u8]) -> Result<Statement, TokenParseError> {
    let (envelope, cwt) = envelope(bytes)?;
    match envelope.content_type {
        TOKEN_CONTENT_TYPE => token_from(envelope, cwt).map(Statement::Token),
        REVOCATION_CONTENT_TYPE => revocation_from(envelope, cwt).map(Statement::Revocation),
        other => Err(TokenParseError::WrongContentType {
            found: other.to_owned(),
        }),
    }
}

fn payload_value(envelope: &Envelope) -> Result<Value, TokenParseError> {
    cbor::decode(envelope.payload()).map_err(|source| TokenParseError::Cbor {
        part: CborPart::Payload,
        source,
    })
}

fn structure(what: &'static str) -> TokenParseError {
    TokenParseError::Structure { what }
}

fn invalid(label: i64, reason: &'static str) -> TokenParseError {
    TokenParseError::InvalidHeader { label, reason }
}

fn envelope(bytes: &[u8]) -> Result<(Envelope, Value), TokenParseError> {
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

    let (alg, kid, content_type, x5chain, cwt) = (alg, kid, content_type, x5chain, cwt);
    let header = Header {
        alg,
        kid,
        content_type,
        x5chain,
    };
    Ok((
        Envelope::from_parts(header, receipts, &protected, &payload, signature),
        cwt,
    ))
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

/// A CBOR map being taken apart field by field; whatever is left at the end
/// is an unknown field.
struct Fields {
    entries: Vec<(Value, Value)>,
    context: &'static str,
}

impl Fields {
    fn new(v: Value, context: &'static str) -> Result<Self, ClaimsError> {
        match v {
            Value::Map(entries) => Ok(Self { entries, context }),
            _ => Err(ClaimsError::WrongType {
                field: context,
                expected: "a map",
            }),
        }
    }

    fn take(&mut self, key: &Value) -> Option<Value> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.swap_remove(pos).1)
    }

    fn require(&mut self, key: &Value, field: &'static str) -> Result<Value, ClaimsError> {
        self.take(key).ok_or(ClaimsError::MissingField { field })
    }

    fn finish(self) -> Result<(), ClaimsError> {
        match self.entries.first() {
            None => Ok(()),
            Some((k, _)) => Err(ClaimsError::UnknownField {
                field: format!("{}.{}", self.context, describe_key(k)),
            }),
        }
    }
}

fn want_text(v: Value, field: &'static str, max: usize) -> Result<String, ClaimsError> {
    match v {
        Value::Text(s) => {
            check_text(field, &s, max)?;
            Ok(s)
        }
        _ => Err(ClaimsError::WrongType {
            field,
            expected: "a text string",
        }),
    }
}

fn want_uint(v: &Value, field: &'static str) -> Result<u64, ClaimsError> {
    as_u64(v).ok_or(ClaimsError::WrongType {
        field,
        expected: "an unsigned integer",
    })
}

fn want_bytes<const N: usize>(v: Value, field: &'static str) -> Result<[u8; N], ClaimsError> {
    match v {
        Value::Bytes(b) => <[u8; N]>::try_from(b.as_slice())
            .map_err(|_| ClaimsError::WrongLength { field, expected: N }),
        _ => Err(ClaimsError::WrongType {
            field,
            expected: "a byte string",
        }),
    }
}

fn want_array(v: Value, field: &'static str, max: usize) -> Result<Vec<Value>, ClaimsError> {
    match v {
        Value::Array(a) if a.len() > max => Err(ClaimsError::TooManyItems { field, max }),
        Value::Array(a) => Ok(a),
        _ => Err(ClaimsError::WrongType {
            field,
            expected: "an array",
        }),
    }
}

fn file_digest(v: Value) -> Result<FileDigest, ClaimsError> {
    let mut f = Fields::new(v, "report")?;
    let d = FileDigest {
        sha256: Sha256Digest(want_bytes(
            f.require(&text("sha256"), "report.sha256")?,
            "report.sha256",
        )?),
        media_type: want_text(
            f.require(&text("media_type"), "report.media_type")?,
            "report.media_type",
            MAX_MEDIA_TYPE_LEN,
        )?,
        size: want_uint(&f.require(&text("size"), "report.size")?, "report.size")?,
    };
    f.finish()?;
    d.validate()?;
    Ok(d)
}
fn media_digest<R: MediaRole>(v: Value) -> Result<MediaDigest<R>, ClaimsError> {
    let mut f = Fields::new(v, R::LIST)?;
    let role = match f.require(&text("role"), "media.role")? {
        Value::Text(s) => R::parse(&s)?,
        _ => {
            return Err(ClaimsError::WrongType {
                field: "media.role",
                expected: "a text string",
            });
        }
    };
    let d = MediaDigest {
        role,
        sha256: Sha256Digest(want_bytes(
            f.require(&text("sha256"), "media.sha256")?,
            "media.sha256",
        )?),
        media_type: want_text(
            f.require(&text("media_type"), "media.media_type")?,
            "media.media_type",
            MAX_MEDIA_TYPE_LEN,
        )?,
        size: want_uint(&f.require(&text("size"), "media.size")?, "media.size")?,
    };
    f.finish()?;
    Ok(d)
}
fn stone(v: Value) -> Result<Stone, ClaimsError> {
    let mut f = Fields::new(v, "stone")?;
    let mut t = |key: &'static str, field: &'static str| {
        f.require(&text(key), field)
            .and_then(|v| want_text(v, field, MAX_TEXT_LEN))
    };
    let variety = t("variety", "stone.variety")?;
    let species = t("species", "stone.species")?;
    let colour = t("colour", "stone.colour")?;
    let shape = t("shape", "stone.shape")?;
    let cut = t("cut", "stone.cut")?;
    let clarity = t("clarity", "stone.clarity")?;
    let treatment = t("treatment", "stone.treatment")?;
    let weight_mct = want_uint(
        &f.require(&text("weight_mct"), "stone.weight_mct")?,
        "stone.weight_mct",
    )?;
    let dims = want_array(
        f.require(&text("dimensions_um"), "stone.dimensions_um")?,
        "stone.dimensions_um",
        3,
    )?;
    let dimensions_um = match dims.as_slice() {
        [l, w, d] => [
            want_uint(l, "stone.dimensions_um")?,
            want_uint(w, "stone.dimensions_um")?,
            want_uint(d, "stone.dimensions_um")?,
        ],
        _ => {
            return Err(ClaimsError::WrongLength {
                field: "stone.dimensions_um",
                expected: 3,
            });
        }
    };
    let origin = f
        .take(&text("origin"))
        .map(|v| want_text(v, "stone.origin", MAX_TEXT_LEN))
        .transpose()?;
    f.finish()?;
    let stone = Stone {
        variety,
        species,
        weight_mct,
        colour,
        shape,
        cut,
        clarity,
        dimensions_um,
        treatment,
        origin,
    };
    stone.validate()?;
    Ok(stone)
}
fn provenance(v: Value) -> Result<Provenance, ClaimsError> {
    let mut f = Fields::new(v, "payload")?;
    let report = file_digest(f.require(&text("report"), "report")?)?;
    let images = want_array(
        f.require(&text("images"), "images")?,
        "images",
        ImageRole::ALL.len(),
    )?
    .into_iter()
    .map(media_digest)
    .collect::<Result<Vec<_>, _>>()?;
    let videos = want_array(
        f.require(&text("videos"), "videos")?,
        "videos",
        VideoRole::ALL.len(),
    )?
    .into_iter()
    .map(media_digest)
    .collect::<Result<Vec<_>, _>>()?;
    let stone = stone(f.require(&text("stone"), "stone")?)?;
    let supersedes = f
        .take(&text("supersedes"))
        .map(|v| want_bytes(v, "supersedes").map(TokenId))
        .transpose()?;
    f.finish()?;
    let p = Provenance {
        report,
        images,
        videos,
        stone,
        supersedes,
    };
    p.validate()?;
    Ok(p)
}
fn cwt_claims(v: Value) -> Result<CwtClaims, ClaimsError> {
    let mut f = Fields::new(v, "cwt")?;
    let iss = want_text(
        f.require(&int(CLAIM_ISS), "cwt.iss")?,
        "cwt.iss",
        MAX_ISSUER_LEN,
    )?;
    let sub = want_text(
        f.require(&int(CLAIM_SUB), "cwt.sub")?,
        "cwt.sub",
        MAX_SUBJECT_LEN,
    )?;
    let iat = want_uint(&f.require(&int(CLAIM_IAT), "cwt.iat")?, "cwt.iat")?;
    let cti = Cti(want_bytes(
        f.require(&int(CLAIM_CTI), "cwt.cti")?,
        "cwt.cti",
    )?);
    f.finish()?;
    Ok(CwtClaims { iss, sub, iat, cti })
}
fn revocation_payload(v: Value) -> Result<Revocation, ClaimsError> {
    let mut f = Fields::new(v, "payload")?;
    let revokes = TokenId(want_bytes(
        f.require(&text("revokes"), "revokes")?,
        "revokes",
    )?);
    let reason = want_text(
        f.require(&text("reason"), "reason")?,
        "reason",
        MAX_REASON_LEN,
    )?;
    let iat = want_uint(&f.require(&int(CLAIM_IAT), "iat")?, "iat")?;
    f.finish()?;
    Ok(Revocation {
        revokes,
        reason,
        iat,
    })
}
fn revocation_claims(v: Value) -> Result<RevocationCwtClaims, ClaimsError> {
    let mut f = Fields::new(v, "cwt")?;
    let iss = want_text(
        f.require(&int(CLAIM_ISS), "cwt.iss")?,
        "cwt.iss",
        MAX_ISSUER_LEN,
    )?;
    let iat = want_uint(&f.require(&int(CLAIM_IAT), "cwt.iat")?, "cwt.iat")?;
    let cti = Cti(want_bytes(
        f.require(&int(CLAIM_CTI), "cwt.cti")?,
        "cwt.cti",
    )?);
    f.finish()?;
    Ok(RevocationCwtClaims { iss, iat, cti })
}
