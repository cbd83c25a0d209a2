//! RFC 9942 COSE Receipts for the RFC9162_SHA256 verifiable data structure.
//!
//! A receipt is a COSE_Sign1 (tag 18) signed by the log key whose payload is
//! detached: it is the Merkle root that the verifier recomputes from the
//! logged statement and the inclusion proof the receipt carries.
//!
//! ```text
//! 18([
//!   << { 1: -8, 4: kid, 15: { 1: "lab.example/log" }, 395: 1 } >>,
//!   { 396: { -1: [ << [tree_size, leaf_index, [ hash, ... ]] >> ] } },
//!   nil,
//!   signature
//! ])
//! ```
//!
//! Receipts are attached to a token at unprotected label 394 to make a
//! *transparent token* that verifies offline (see `token`). They carry no
//! witness cosignatures; the [`super::ProofBundle`] is the richer format.
//!
//! The log's Ed25519 key signs both checkpoints (C2SP signed notes: UTF-8
//! text) and receipts (COSE `Sig_structure`, which begins with the byte 0x84,
//! never the start of UTF-8 text), so the two kinds of signed message cannot be
//! confused.

use ciborium::Value;
use coset::{CoseSign1, Label, TaggedCborSerializable as _, iana};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::cbor;
use crate::merkle::{Hash, InclusionError, InclusionProof, MAX_PATH_LEN, leaf_hash};
use crate::token::{Algorithm, Kid, sign1_sig_structure};

/// COSE header label of the receipts array in a signed statement's
/// unprotected header (RFC 9942).
pub const RECEIPTS_LABEL: i64 = 394;
/// COSE header label of the verifiable data structure (RFC 9942).
pub const VDS_LABEL: i64 = 395;
/// COSE header label of the verifiable data proofs (RFC 9942).
pub const VDP_LABEL: i64 = 396;
/// Verifiable data structure `RFC9162_SHA256` (RFC 9942 §5.1).
pub const VDS_RFC9162_SHA256: i64 = 1;
/// Key of the inclusion proofs in the proofs map (RFC 9942 §5.2).
pub const INCLUSION_PROOFS: i64 = -1;
/// CBOR tag of a COSE_Sign1 message.
const COSE_SIGN1_TAG: u64 = 18;
/// CWT Claims header (RFC 9597), carrying the log origin as `iss`.
const CWT_CLAIMS_LABEL: i64 = 15;
/// The largest receipt accepted by [`Receipt::parse`], in bytes.
pub const MAX_RECEIPT_SIZE: usize = 8 * 1024;

/// A parsed COSE Receipt of inclusion: not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    alg: Algorithm,
    kid: Kid,
    origin: String,
    proof: InclusionProof,
    protected: Vec<u8>,
    signature: [u8; 64],
}

/// A receipt whose signature verified over the root recomputed from the
/// entry and its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    origin: String,
    proof: InclusionProof,
    root: Hash,
}

impl VerifiedReceipt {
    /// The log origin the receipt names.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// Index of the entry in the log.
    pub fn leaf_index(&self) -> u64 {
        self.proof.leaf_index
    }
    /// Size of the tree the log signed.
    pub fn tree_size(&self) -> u64 {
        self.proof.tree_size
    }
    /// The Merkle root the log signed.
    pub fn root(&self) -> &Hash {
        &self.root
    }
}

/// Why a receipt could not be parsed (malformed bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptParseError {
    /// Larger than [`MAX_RECEIPT_SIZE`].
    #[error("receipt is {0} bytes, more than the limit of {MAX_RECEIPT_SIZE}")]
    TooLarge(usize),
    /// Not CBOR in core deterministic encoding.
    #[error("receipt is not deterministic CBOR: {0}")]
    Cbor(#[from] cbor::CborError),
    /// Not a tagged COSE_Sign1.
    #[error("receipt is not a tagged COSE_Sign1")]
    NotSign1,
    /// The algorithm is missing or not Ed25519 (−8 or −19).
    #[error("receipt algorithm is missing or not Ed25519")]
    Algorithm,
    /// The key id is missing or not 16 bytes.
    #[error("receipt kid is missing or not 16 bytes")]
    Kid,
    /// The verifiable data structure is missing or not RFC9162_SHA256 (1).
    #[error("receipt vds is missing or not RFC9162_SHA256")]
    Vds,
    /// The CWT claims header with the log origin (`iss`) is missing or malformed.
    #[error("receipt issuer (log origin) is missing or malformed")]
    Issuer,
    /// A header the receipt format does not define, or a critical header.
    #[error("receipt has an unexpected header {0}")]
    UnexpectedHeader(String),
    /// The payload is attached: receipts carry it detached.
    #[error("receipt payload is not detached")]
    AttachedPayload,
    /// The proofs are missing or not exactly one inclusion proof.
    #[error("receipt must carry exactly one inclusion proof")]
    Proofs,
    /// The inclusion proof is not `[tree_size, leaf_index, [* hash]]`.
    #[error("malformed inclusion proof in receipt")]
    InclusionProof,
    /// The signature is not 64 bytes.
    #[error("receipt signature is not 64 bytes")]
    Signature,
}

/// Why a well-formed receipt did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptVerifyError {
    /// The receipt's kid is not the log key's.
    #[error("receipt kid does not match the log key")]
    KidMismatch,
    /// The receipt names another log.
    #[error("receipt is from log {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin the caller trusts.
        expected: String,
        /// The origin the receipt names.
        found: String,
    },
    /// The inclusion proof is not well formed for its tree size and index.
    #[error("receipt inclusion proof: {0}")]
    Inclusion(#[from] InclusionError),
    /// The log's signature does not cover the recomputed root: the entry,
    /// the proof or the signature was altered, or another key signed.
    #[error("receipt signature does not verify")]
    BadSignature,
}

impl Receipt {
    /// Signs a receipt of inclusion as the log `origin`.
    ///
    /// `root` must be the root of the tree of `proof.tree_size` leaves; it is
    /// the detached payload.
    pub fn sign(
        key: &SigningKey,
        alg: Algorithm,
        origin: &str,
        proof: &InclusionProof,
        root: &Hash,
    ) -> Vec<u8> {
        // Built as a CBOR value and encoded by `cbor::encode`, so the bytes
        // are core deterministic (coset's encoder does not promise that).
        let protected = cbor::encode(&Value::Map(vec![
            (Value::from(1), Value::from(alg.cose_value())),
            (
                Value::from(4),
                Value::Bytes(Kid::of(&key.verifying_key()).as_bytes().to_vec()),
            ),
            (
                Value::from(CWT_CLAIMS_LABEL),
                Value::Map(vec![(Value::from(1), Value::Text(origin.to_owned()))]),
            ),
            (Value::from(VDS_LABEL), Value::from(VDS_RFC9162_SHA256)),
        ]));
        let signature = key
            .sign(&sign1_sig_structure(&protected, b"", root))
            .to_bytes();
        encode_receipt(&protected, proof, &signature)
    }
}

impl Receipt {
    /// Parses a receipt strictly: deterministic CBOR, tag 18, exactly the
    /// headers above, a detached payload and one inclusion proof.
    ///
    /// # Errors
    /// [`ReceiptParseError`] names the first thing that is malformed.
    pub fn parse(bytes: &[u8]) -> Result<Self, ReceiptParseError> {
        if bytes.len() > MAX_RECEIPT_SIZE {
            return Err(ReceiptParseError::TooLarge(bytes.len()));
        }
        cbor::check(bytes)?;
        let sign1 = CoseSign1::from_tagged_slice(bytes).map_err(|_| ReceiptParseError::NotSign1)?;
        let protected_bytes = sign1.protected.original_data.clone().unwrap_or_default();
        cbor::check(&protected_bytes)?;
        let p = &sign1.protected.header;
        let alg = match p.alg {
            Some(coset::Algorithm::Assigned(iana::Algorithm::EdDSA)) => Algorithm::EdDsa,
            Some(coset::Algorithm::Assigned(iana::Algorithm::Ed25519)) => Algorithm::Ed25519,
            _ => return Err(ReceiptParseError::Algorithm),
        };
        let kid: [u8; 16] = p
            .key_id
            .as_slice()
            .try_into()
            .map_err(|_| ReceiptParseError::Kid)?;
        if !p.crit.is_empty()
            || p.content_type.is_some()
            || !p.iv.is_empty()
            || !p.partial_iv.is_empty()
            || !p.counter_signatures.is_empty()
        {
            return Err(ReceiptParseError::UnexpectedHeader("protected".into()));
        }
        let mut vds = None;
        let mut origin = None;
        for (label, value) in &p.rest {
            match label {
                Label::Int(VDS_LABEL) => vds = Some(value),
                Label::Int(CWT_CLAIMS_LABEL) => origin = Some(parse_issuer(value)?),
                other => return Err(ReceiptParseError::UnexpectedHeader(format!("{other:?}"))),
            }
        }
        if vds != Some(&Value::from(VDS_RFC9162_SHA256)) {
            return Err(ReceiptParseError::Vds);
        }
        let origin = origin.ok_or(ReceiptParseError::Issuer)?;

        let u = &sign1.unprotected;
        if u.alg.is_some()
            || !u.crit.is_empty()
            || u.content_type.is_some()
            || !u.key_id.is_empty()
            || !u.iv.is_empty()
            || !u.partial_iv.is_empty()
            || !u.counter_signatures.is_empty()
        {
            return Err(ReceiptParseError::UnexpectedHeader("unprotected".into()));
        }
        let [(Label::Int(VDP_LABEL), Value::Map(proofs))] = u.rest.as_slice() else {
            return Err(ReceiptParseError::Proofs);
        };
        let [(key, Value::Array(inclusions))] = proofs.as_slice() else {
            return Err(ReceiptParseError::Proofs);
        };
        if *key != Value::from(INCLUSION_PROOFS) {
            return Err(ReceiptParseError::Proofs);
        }
        let [Value::Bytes(encoded)] = inclusions.as_slice() else {
            return Err(ReceiptParseError::Proofs);
        };
        let proof = decode_inclusion_proof(encoded)?;

        if sign1.payload.is_some() {
            return Err(ReceiptParseError::AttachedPayload);
        }
        let signature: [u8; 64] = sign1
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| ReceiptParseError::Signature)?;
        Ok(Self {
            alg,
            kid: Kid(kid),
            origin,
            proof,
            protected: protected_bytes,
            signature,
        })
    }

    /// The receipt's bytes. Parsing is strict (one encoding per receipt),
    /// so these are exactly the bytes [`Receipt::parse`] was given.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_receipt(&self.protected, &self.proof, &self.signature)
    }

    /// The signature algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }
    /// The key id of the log key that signed.
    pub fn kid(&self) -> Kid {
        self.kid
    }
    /// The log origin the receipt names (not yet verified).
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The inclusion proof the receipt carries (not yet verified).
    pub fn inclusion_proof(&self) -> &InclusionProof {
        &self.proof
    }

    /// Verifies that `entry` (the logged statement bytes) is in the log
    /// `origin` whose key is `log_key`: recomputes the root from the entry's
    /// leaf hash and the inclusion path, then checks the log's signature
    /// over that root.
    ///
    /// # Errors
    /// [`ReceiptVerifyError`] for the first check that fails.
    pub fn verify(
        &self,
        entry: &[u8],
        origin: &str,
        log_key: &VerifyingKey,
    ) -> Result<VerifiedReceipt, ReceiptVerifyError> {
        if self.origin != origin {
            return Err(ReceiptVerifyError::OriginMismatch {
                expected: origin.to_owned(),
                found: self.origin.clone(),
            });
        }
        if self.kid != Kid::of(log_key) {
            return Err(ReceiptVerifyError::KidMismatch);
        }
        let root = self.proof.root_from_leaf(&leaf_hash(entry))?;
        let tbs = sign1_sig_structure(&self.protected, b"", &root);
        log_key
            .verify_strict(&tbs, &Signature::from_bytes(&self.signature))
            .map_err(|_| ReceiptVerifyError::BadSignature)?;
        Ok(VerifiedReceipt {
            origin: self.origin.clone(),
            proof: self.proof.clone(),
            root,
        })
    }
}

/// `18([protected, {396: {-1: [proof]}}, nil, signature])`, deterministic.
fn encode_receipt(protected: &[u8], proof: &InclusionProof, signature: &[u8; 64]) -> Vec<u8> {
    let unprotected = Value::Map(vec![(
        Value::from(VDP_LABEL),
        Value::Map(vec![(
            Value::from(INCLUSION_PROOFS),
            Value::Array(vec![Value::Bytes(encode_inclusion_proof(proof))]),
        )]),
    )]);
    cbor::encode(&Value::Tag(
        COSE_SIGN1_TAG,
        Box::new(Value::Array(vec![
            Value::Bytes(protected.to_vec()),
            unprotected,
            Value::Null,
            Value::Bytes(signature.to_vec()),
        ])),
    ))
}

fn parse_issuer(value: &Value) -> Result<String, ReceiptParseError> {
    match value {
        Value::Map(entries) => match entries.as_slice() {
            [(k, Value::Text(iss))] if *k == Value::from(1) && !iss.is_empty() => Ok(iss.clone()),
            _ => Err(ReceiptParseError::Issuer),
        },
        _ => Err(ReceiptParseError::Issuer),
    }
}

/// `bstr .cbor [tree_size, leaf_index, [* hash]]`, deterministic.
fn encode_inclusion_proof(proof: &InclusionProof) -> Vec<u8> {
    let value = Value::Array(vec![
        Value::from(proof.tree_size),
        Value::from(proof.leaf_index),
        Value::Array(
            proof
                .path
                .iter()
                .map(|h| Value::Bytes(h.to_vec()))
                .collect(),
        ),
    ]);
    cbor::encode(&value)
}

fn decode_inclusion_proof(bytes: &[u8]) -> Result<InclusionProof, ReceiptParseError> {
    let value = cbor::decode(bytes).map_err(|_| ReceiptParseError::InclusionProof)?;
    let Value::Array(items) = value else {
        return Err(ReceiptParseError::InclusionProof);
    };
    let [
        Value::Integer(size),
        Value::Integer(index),
        Value::Array(path),
    ] = items.as_slice()
    else {
        return Err(ReceiptParseError::InclusionProof);
    };
    let tree_size = u64::try_from(*size).map_err(|_| ReceiptParseError::InclusionProof)?;
    let leaf_index = u64::try_from(*index).map_err(|_| ReceiptParseError::InclusionProof)?;
    if path.len() > MAX_PATH_LEN {
        return Err(ReceiptParseError::InclusionProof);
    }
    let path = path
        .iter()
        .map(|h| match h {
            Value::Bytes(b) => {
                Hash::try_from(b.as_slice()).map_err(|_| ReceiptParseError::InclusionProof)
            }
            _ => Err(ReceiptParseError::InclusionProof),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(InclusionProof {
        leaf_index,
        tree_size,
        path,
    })
}
