use ciborium::Value;
use ed25519_dalek::SigningKey;

use super::*;
use crate::cbor;
use crate::checkpoint::{
    Checkpoint, CosignatureSigner, NoteSigner, open_checkpoint, sign_checkpoint,
};
use crate::merkle::{Hash, InclusionProof, MemoryHashStore, prove_inclusion};
use crate::token::{Algorithm, Kid};

const ORIGIN: &str = "lab.example/log";

struct Log {
    key: SigningKey,
    signer: NoteSigner,
    store: MemoryHashStore,
    entries: Vec<Vec<u8>>,
}

impl Log {
    fn new(seed: u8, n: usize) -> Self {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let signer = NoteSigner::new(ORIGIN, key.clone()).unwrap();
        let mut store = MemoryHashStore::default();
        let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
        for e in &entries {
            store.append_leaf(e).unwrap();
        }
        Self {
            key,
            signer,
            store,
            entries,
        }
    }

    fn policy(&self) -> LogPolicy {
        LogPolicy::new(ORIGIN, self.signer.verifier())
    }

    fn root(&self) -> Hash {
        self.store.root().unwrap()
    }

    fn signed_checkpoint(&self) -> String {
        let cp = Checkpoint::new(ORIGIN, self.store.tree_size(), self.root(), vec![]).unwrap();
        sign_checkpoint(&cp, &self.signer).unwrap()
    }

    fn proof(&self, index: u64) -> InclusionProof {
        prove_inclusion(index, self.store.tree_size(), &self.store).unwrap()
    }

    fn bundle(&self, index: u64) -> ProofBundle {
        ProofBundle::new(index, self.proof(index).path, self.signed_checkpoint())
    }

    fn receipt(&self, index: u64) -> Vec<u8> {
        Receipt::sign(
            &self.key,
            Algorithm::EdDsa,
            ORIGIN,
            &self.proof(index),
            &self.root(),
        )
    }
}

// ---------------------------------------------------------------- tlog-proof

#[test]
fn bundle_round_trips_and_verifies_for_every_index() {
    for n in [1usize, 2, 3, 7, 8, 9, 33] {
        let log = Log::new(1, n);
        for i in 0..n {
            let text = log.bundle(i as u64).to_text();
            let parsed = ProofBundle::parse(text.as_bytes()).unwrap();
            assert_eq!(parsed.to_text(), text, "n={n} i={i}");
            let ok = parsed.verify(&log.entries[i], &log.policy(), 0).unwrap();
            assert_eq!(ok.leaf_index(), i as u64);
            assert_eq!(ok.checkpoint().size(), n as u64);
            // Every other entry of the log is refused at this index.
            for (j, other) in log.entries.iter().enumerate().filter(|(j, _)| *j != i) {
                assert!(
                    parsed.verify(other, &log.policy(), 0).is_err(),
                    "n={n} i={i} j={j}"
                );
            }
        }
    }
}

#[test]
fn bundle_with_extra_round_trips() {
    let log = Log::new(1, 5);
    let bundle = log.bundle(3).with_extra(b"opaque \x00\xff".to_vec());
    let text = bundle.to_text();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    let parsed = ProofBundle::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed, bundle);
    assert_eq!(parsed.extra(), Some(&b"opaque \x00\xff"[..]));
    assert!(parsed.verify(&log.entries[3], &log.policy(), 0).is_ok());
}

#[test]
fn bundle_verify_rejects_tampering() {
    let log = Log::new(1, 10);
    let good = log.bundle(6);
    let entry = &log.entries[6];
    assert!(good.verify(entry, &log.policy(), 0).is_ok());

    // Another index.
    let moved = ProofBundle::new(5, good.path().to_vec(), good.checkpoint_text());
    assert!(matches!(
        moved.verify(entry, &log.policy(), 0),
        Err(ProofBundleVerifyError::Inclusion(_))
    ));
    // One bit of one path hash.
    for k in 0..good.path().len() {
        let mut path = good.path().to_vec();
        path[k][0] ^= 1;
        let bad = ProofBundle::new(6, path, good.checkpoint_text());
        assert!(
            matches!(
                bad.verify(entry, &log.policy(), 0),
                Err(ProofBundleVerifyError::Inclusion(_))
            ),
            "hash {k}"
        );
    }
    // A path hash dropped or added.
    let mut short = good.path().to_vec();
    short.pop();
    assert!(
        ProofBundle::new(6, short, good.checkpoint_text())
            .verify(entry, &log.policy(), 0)
            .is_err()
    );
    let mut long = good.path().to_vec();
    long.push([0; 32]);
    assert!(
        ProofBundle::new(6, long, good.checkpoint_text())
            .verify(entry, &log.policy(), 0)
            .is_err()
    );
    // The checkpoint of another log key, the same origin.
    let impostor = Log::new(2, 10);
    let forged = ProofBundle::new(6, good.path().to_vec(), impostor.signed_checkpoint());
    assert!(matches!(
        forged.verify(entry, &log.policy(), 0),
        Err(ProofBundleVerifyError::Checkpoint(_))
    ));
    // A policy for another origin.
    let other = NoteSigner::new("other.example/log", log.key.clone()).unwrap();
    let policy = LogPolicy::new("other.example/log", other.verifier());
    assert!(matches!(
        good.verify(entry, &policy, 0),
        Err(ProofBundleVerifyError::Checkpoint(_))
    ));
}

#[test]
fn every_byte_flip_of_a_bundle_fails_to_parse_or_verify() {
    let log = Log::new(1, 6);
    let text = log.bundle(4).to_text().into_bytes();
    for i in 0..text.len() {
        for bit in [0x01u8, 0x20, 0x80] {
            let mut bad = text.clone();
            bad[i] ^= bit;
            if let Ok(parsed) = ProofBundle::parse(&bad) {
                assert!(
                    parsed.verify(&log.entries[4], &log.policy(), 0).is_err(),
                    "byte {i} bit {bit:#x} verified"
                );
            }
        }
    }
}

#[test]
fn every_truncated_bundle_fails_to_parse_or_verify() {
    let log = Log::new(1, 6);
    let text = log.bundle(4).to_text().into_bytes();
    for len in 0..text.len() {
        if let Ok(parsed) = ProofBundle::parse(&text[..len]) {
            assert!(
                parsed.verify(&log.entries[4], &log.policy(), 0).is_err(),
                "prefix of {len} verified"
            );
        }
    }
}

#[test]
fn witness_policy_is_enforced_through_the_bundle() {
    let log = Log::new(1, 4);
    let witness =
        CosignatureSigner::new("witness.example", SigningKey::from_bytes(&[9; 32])).unwrap();
    let policy = log.policy().with_witnesses(vec![witness.verifier()], 1);

    let plain = log.bundle(2);
    assert!(matches!(
        plain.verify(&log.entries[2], &policy, 1_000),
        Err(ProofBundleVerifyError::Checkpoint(_))
    ));

    let verified = open_checkpoint(
        plain.checkpoint_text().as_bytes(),
        ORIGIN,
        &log.signer.verifier(),
        &[],
        0,
        0,
    )
    .unwrap();
    let cosigned = witness.cosign(&verified, 1_000).unwrap();
    let bundle = ProofBundle::new(2, plain.path().to_vec(), cosigned);
    let ok = ProofBundle::parse(bundle.to_text().as_bytes())
        .unwrap()
        .verify(&log.entries[2], &policy, 1_000)
        .unwrap();
    assert_eq!(ok.checkpoint().cosignatures().len(), 1);
}

#[test]
fn malformed_bundles_are_rejected() {
    let log = Log::new(1, 3);
    let cp = log.signed_checkpoint();
    let h = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=";
    let rows: Vec<(&str, String, ProofBundleParseError)> = vec![
        ("empty", String::new(), ProofBundleParseError::BadHeader),
        (
            "other version",
            format!("c2sp.org/tlog-proof@v2\nindex 0\n\n{cp}"),
            ProofBundleParseError::BadHeader,
        ),
        (
            "CRLF header",
            format!("c2sp.org/tlog-proof@v1\r\nindex 0\n\n{cp}"),
            ProofBundleParseError::BadHeader,
        ),
        (
            "no index",
            format!("c2sp.org/tlog-proof@v1\n\n{cp}"),
            ProofBundleParseError::BadIndex,
        ),
        (
            "leading zero",
            format!("c2sp.org/tlog-proof@v1\nindex 01\n\n{cp}"),
            ProofBundleParseError::BadIndex,
        ),
        (
            "negative",
            format!("c2sp.org/tlog-proof@v1\nindex -1\n\n{cp}"),
            ProofBundleParseError::BadIndex,
        ),
        (
            "plus sign",
            format!("c2sp.org/tlog-proof@v1\nindex +1\n\n{cp}"),
            ProofBundleParseError::BadIndex,
        ),
        (
            "overflow",
            format!("c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n{cp}"),
            ProofBundleParseError::BadIndex,
        ),
        (
            "two spaces",
            format!("c2sp.org/tlog-proof@v1\nindex  1\n\n{cp}"),
            ProofBundleParseError::BadIndex,
        ),
        (
            "trailing space",
            format!("c2sp.org/tlog-proof@v1\nindex 1 \n\n{cp}"),
            ProofBundleParseError::BadIndex,
        ),
        (
            "extra after index",
            format!("c2sp.org/tlog-proof@v1\nindex 1\nextra AA==\n\n{cp}"),
            ProofBundleParseError::BadPathHash(0),
        ),
        (
            "extra not base64",
            format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n{cp}"),
            ProofBundleParseError::BadExtra,
        ),
        (
            "extra stray bits",
            format!("c2sp.org/tlog-proof@v1\nextra AB==\nindex 1\n\n{cp}"),
            ProofBundleParseError::BadExtra,
        ),
        (
            "hash with stray bits",
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{}\n\n{cp}", stray_bits(h)),
            ProofBundleParseError::BadPathHash(0),
        ),
        (
            "hash without padding",
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{}A\n\n{cp}", &h[..43]),
            ProofBundleParseError::BadPathHash(0),
        ),
        (
            "short hash",
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{}\n\n{cp}", &h[..40]),
            ProofBundleParseError::BadPathHash(0),
        ),
        (
            "hash of 33 bytes",
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\nAAAA{h}\n\n{cp}"),
            ProofBundleParseError::BadPathHash(1),
        ),
        (
            "url-safe base64",
            format!(
                "c2sp.org/tlog-proof@v1\nindex 1\nB95lDa8R83lS8n0eG-o0buTxRKQTYFi__1U8anccXmA=\n\n{cp}"
            ),
            ProofBundleParseError::BadPathHash(0),
        ),
        (
            "no blank line",
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}"),
            ProofBundleParseError::MissingCheckpoint,
        ),
        (
            "no checkpoint",
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n\n"),
            ProofBundleParseError::MissingCheckpoint,
        ),
        (
            "too many hashes",
            format!(
                "c2sp.org/tlog-proof@v1\nindex 1\n{}\n{cp}",
                format!("{h}\n").repeat(64)
            ),
            ProofBundleParseError::PathTooLong,
        ),
        (
            "too large",
            format!(
                "c2sp.org/tlog-proof@v1\nindex 1\n\n{}",
                "x".repeat(ProofBundle::MAX_LEN)
            ),
            ProofBundleParseError::TooLarge(ProofBundle::MAX_LEN + 32),
        ),
    ];
    for (name, text, want) in rows {
        assert_eq!(
            ProofBundle::parse(text.as_bytes()),
            Err(want),
            "row {name:?}"
        );
    }
    assert_eq!(
        ProofBundle::parse(b"c2sp.org/tlog-proof@v1\nindex 1\n\n\xff\xfe"),
        Err(ProofBundleParseError::NotUtf8)
    );
}

// ---------------------------------------------------------------- receipts

#[test]
fn receipt_round_trips_and_verifies_for_every_index() {
    for n in [1usize, 2, 5, 16, 17] {
        let log = Log::new(3, n);
        for i in 0..n {
            let bytes = log.receipt(i as u64);
            cbor::check(&bytes).unwrap();
            let receipt = Receipt::parse(&bytes).unwrap();
            assert_eq!(receipt.to_bytes(), bytes);
            assert_eq!(receipt.origin(), ORIGIN);
            assert_eq!(receipt.kid(), Kid::of(&log.key.verifying_key()));
            assert_eq!(receipt.inclusion_proof(), &log.proof(i as u64));
            let ok = receipt
                .verify(&log.entries[i], ORIGIN, &log.key.verifying_key())
                .unwrap();
            assert_eq!(
                (ok.leaf_index(), ok.tree_size(), *ok.root()),
                (i as u64, n as u64, log.root())
            );
            for (j, other) in log.entries.iter().enumerate().filter(|(j, _)| *j != i) {
                assert!(
                    receipt
                        .verify(other, ORIGIN, &log.key.verifying_key())
                        .is_err(),
                    "n={n} i={i} j={j}"
                );
            }
        }
    }
}

#[test]
fn receipt_with_alg_minus_19_verifies() {
    let log = Log::new(3, 4);
    let bytes = Receipt::sign(
        &log.key,
        Algorithm::Ed25519,
        ORIGIN,
        &log.proof(1),
        &log.root(),
    );
    let receipt = Receipt::parse(&bytes).unwrap();
    assert_eq!(receipt.alg(), Algorithm::Ed25519);
    assert!(
        receipt
            .verify(&log.entries[1], ORIGIN, &log.key.verifying_key())
            .is_ok()
    );
}

#[test]
fn receipt_rejects_wrong_key_origin_and_root() {
    let log = Log::new(3, 4);
    let receipt = Receipt::parse(&log.receipt(2)).unwrap();
    let other = SigningKey::from_bytes(&[4; 32]).verifying_key();
    assert_eq!(
        receipt.verify(&log.entries[2], ORIGIN, &other),
        Err(ReceiptVerifyError::KidMismatch)
    );
    assert!(matches!(
        receipt.verify(
            &log.entries[2],
            "other.example/log",
            &log.key.verifying_key()
        ),
        Err(ReceiptVerifyError::OriginMismatch { .. })
    ));
    // Signed over the root of another tree: the recomputed root differs.
    let lying = Receipt::sign(&log.key, Algorithm::EdDsa, ORIGIN, &log.proof(2), &[0; 32]);
    assert_eq!(
        Receipt::parse(&lying)
            .unwrap()
            .verify(&log.entries[2], ORIGIN, &log.key.verifying_key()),
        Err(ReceiptVerifyError::BadSignature)
    );
}

#[test]
fn every_byte_flip_of_a_receipt_fails_to_parse_or_verify() {
    let log = Log::new(3, 6);
    let bytes = log.receipt(5);
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x10, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            if let Ok(r) = Receipt::parse(&bad) {
                assert!(
                    r.verify(&log.entries[5], ORIGIN, &log.key.verifying_key())
                        .is_err(),
                    "byte {i} bit {bit:#x}"
                );
            }
        }
    }
    for len in 0..bytes.len() {
        assert!(
            Receipt::parse(&bytes[..len]).is_err(),
            "prefix of {len} parsed"
        );
    }
}

/// Rebuilds a receipt from its parts as CBOR values, so single rules can be
/// broken one at a time.
fn receipt_value(bytes: &[u8]) -> (Vec<(Value, Value)>, Value, Value, Value) {
    let Value::Tag(18, inner) = cbor::decode(bytes).unwrap() else {
        panic!("not tag 18")
    };
    let Value::Array(items) = *inner else {
        panic!("not an array")
    };
    let [Value::Bytes(p), u, payload, sig] = <[Value; 4]>::try_from(items).unwrap() else {
        panic!("shape")
    };
    let Value::Map(protected) = cbor::decode(&p).unwrap() else {
        panic!("protected")
    };
    (protected, u, payload, sig)
}

fn encode_receipt(
    protected: Vec<(Value, Value)>,
    unprotected: Value,
    payload: Value,
    sig: Value,
) -> Vec<u8> {
    cbor::encode(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(cbor::encode(&Value::Map(protected))),
            unprotected,
            payload,
            sig,
        ])),
    ))
}

#[test]
fn malformed_receipts_are_rejected() {
    let log = Log::new(3, 4);
    let good = log.receipt(1);
    let (p, u, payload, sig) = receipt_value(&good);
    assert_eq!(
        encode_receipt(p.clone(), u.clone(), payload.clone(), sig.clone()),
        good
    );

    let set = |label: i64, v: Value| {
        let mut p = p.clone();
        p.retain(|(k, _)| *k != Value::from(label));
        p.push((Value::from(label), v));
        p.sort_by_key(|(k, _)| cbor::encode(k));
        p
    };
    let without = |label: i64| {
        p.iter()
            .filter(|(k, _)| *k != Value::from(label))
            .cloned()
            .collect::<Vec<_>>()
    };
    let proof_bytes = |v: Value| {
        Value::Map(vec![(
            Value::from(VDP_LABEL),
            Value::Map(vec![(
                Value::from(INCLUSION_PROOFS),
                Value::Array(vec![Value::Bytes(cbor::encode(&v))]),
            )]),
        )])
    };

    let rows: Vec<(&str, Vec<u8>, ReceiptParseError)> = vec![
        (
            "vds 2",
            encode_receipt(
                set(VDS_LABEL, Value::from(2)),
                u.clone(),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::Vds,
        ),
        (
            "no vds",
            encode_receipt(without(VDS_LABEL), u.clone(), payload.clone(), sig.clone()),
            ReceiptParseError::Vds,
        ),
        (
            "alg ES256",
            encode_receipt(
                set(1, Value::from(-7)),
                u.clone(),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::Algorithm,
        ),
        (
            "no kid",
            encode_receipt(without(4), u.clone(), payload.clone(), sig.clone()),
            ReceiptParseError::Kid,
        ),
        (
            "short kid",
            encode_receipt(
                set(4, Value::Bytes(vec![0; 8])),
                u.clone(),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::Kid,
        ),
        (
            "no issuer",
            encode_receipt(without(15), u.clone(), payload.clone(), sig.clone()),
            ReceiptParseError::Issuer,
        ),
        (
            "empty issuer",
            encode_receipt(
                set(
                    15,
                    Value::Map(vec![(Value::from(1), Value::Text(String::new()))]),
                ),
                u.clone(),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::Issuer,
        ),
        (
            "unknown header",
            encode_receipt(
                set(99, Value::from(0)),
                u.clone(),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::UnexpectedHeader("Int(99)".into()),
        ),
        (
            "content type",
            encode_receipt(
                set(3, Value::Text("x/y".into())),
                u.clone(),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::UnexpectedHeader("protected".into()),
        ),
        (
            "attached payload",
            encode_receipt(
                p.clone(),
                u.clone(),
                Value::Bytes(log.root().to_vec()),
                sig.clone(),
            ),
            ReceiptParseError::AttachedPayload,
        ),
        (
            "short signature",
            encode_receipt(
                p.clone(),
                u.clone(),
                payload.clone(),
                Value::Bytes(vec![0; 63]),
            ),
            ReceiptParseError::Signature,
        ),
        (
            "no proofs",
            encode_receipt(p.clone(), Value::Map(vec![]), payload.clone(), sig.clone()),
            ReceiptParseError::Proofs,
        ),
        (
            "two proofs",
            encode_receipt(
                p.clone(),
                Value::Map(vec![(
                    Value::from(VDP_LABEL),
                    Value::Map(vec![(
                        Value::from(INCLUSION_PROOFS),
                        Value::Array(vec![Value::Bytes(vec![0x80]), Value::Bytes(vec![0x80])]),
                    )]),
                )]),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::Proofs,
        ),
        (
            "consistency proofs only",
            encode_receipt(
                p.clone(),
                Value::Map(vec![(
                    Value::from(VDP_LABEL),
                    Value::Map(vec![(Value::from(-2), Value::Array(vec![]))]),
                )]),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::Proofs,
        ),
        (
            "proof of 2 items",
            encode_receipt(
                p.clone(),
                proof_bytes(Value::Array(vec![Value::from(4), Value::from(1)])),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::InclusionProof,
        ),
        (
            "negative size",
            encode_receipt(
                p.clone(),
                proof_bytes(Value::Array(vec![
                    Value::from(-4),
                    Value::from(1),
                    Value::Array(vec![]),
                ])),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::InclusionProof,
        ),
        (
            "hash of 31 bytes",
            encode_receipt(
                p.clone(),
                proof_bytes(Value::Array(vec![
                    Value::from(4),
                    Value::from(1),
                    Value::Array(vec![Value::Bytes(vec![0; 31])]),
                ])),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::InclusionProof,
        ),
        (
            "64 hashes",
            encode_receipt(
                p.clone(),
                proof_bytes(Value::Array(vec![
                    Value::from(4),
                    Value::from(1),
                    Value::Array(vec![Value::Bytes(vec![0; 32]); 64]),
                ])),
                payload.clone(),
                sig.clone(),
            ),
            ReceiptParseError::InclusionProof,
        ),
    ];
    for (name, bytes, want) in rows {
        assert_eq!(Receipt::parse(&bytes), Err(want), "row {name:?}");
    }

    // Not deterministic CBOR: the tag written in two bytes.
    let mut long_tag = vec![0xd8, 18];
    long_tag.extend_from_slice(&good[1..]);
    assert!(matches!(
        Receipt::parse(&long_tag),
        Err(ReceiptParseError::Cbor(_))
    ));
    // Untagged.
    assert!(Receipt::parse(&good[1..]).is_err());
    // Trailing byte.
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        Receipt::parse(&trailing),
        Err(ReceiptParseError::Cbor(_))
    ));
    // Too large.
    assert_eq!(
        Receipt::parse(&vec![0; MAX_RECEIPT_SIZE + 1]),
        Err(ReceiptParseError::TooLarge(MAX_RECEIPT_SIZE + 1))
    );
}

#[test]
fn receipt_attached_to_a_token_keeps_its_id_and_verifies_offline() {
    use crate::token::{FileDigest, Provenance, Sha256Digest, Stone, Token, TokenBuilder};
    let issuer = SigningKey::from_bytes(&[5; 32]);
    let provenance = Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(b"report"),
            media_type: "application/pdf".into(),
            size: 6,
        },
        images: vec![],
        videos: vec![],
        stone: Stone {
            variety: "Sapphire".into(),
            species: "Corundum".into(),
            weight_mct: 2_010,
            colour: "cornflower blue".into(),
            shape: "cushion".into(),
            cut: "mixed".into(),
            clarity: "eye clean".into(),
            dimensions_um: [7_000, 6_500, 4_100],
            treatment: "none".into(),
            origin: None,
        },
        supersedes: None,
    };
    let token = TokenBuilder::new("lab.example", "R-1", provenance)
        .iat(1_790_000_000)
        .sign(&issuer)
        .unwrap();

    let log_key = SigningKey::from_bytes(&[6; 32]);
    let mut store = MemoryHashStore::default();
    store.append_leaf(b"an earlier entry").unwrap();
    store.append_leaf(token.logged_bytes()).unwrap();
    let proof = prove_inclusion(1, 2, &store).unwrap();
    let receipt = Receipt::sign(
        &log_key,
        Algorithm::EdDsa,
        ORIGIN,
        &proof,
        &store.root().unwrap(),
    );

    let transparent = Token::parse(&token.with_receipts(vec![receipt])).unwrap();
    assert_eq!(transparent.id(), token.id());
    let [attached] = transparent.receipts() else {
        panic!("one receipt")
    };
    let verified = Receipt::parse(attached)
        .unwrap()
        .verify(transparent.logged_bytes(), ORIGIN, &log_key.verifying_key())
        .unwrap();
    assert_eq!(verified.leaf_index(), 1);
}

#[test]
fn c2sp_spec_example_parses_and_re_encodes() {
    let text = include_str!("../../../tests/vectors/tlog-proof/c2sp-spec-example.tlog-proof");
    let bundle = ProofBundle::parse(text.as_bytes()).unwrap();
    assert_eq!(bundle.index(), 73894);
    assert_eq!(bundle.path().len(), 5);
    assert!(
        bundle
            .extra()
            .unwrap()
            .starts_with(b"age-v1.2.1-darwin-arm64.tar.gz")
    );
    assert!(bundle.checkpoint_text().starts_with("example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— example.com/fancylog "));
    assert_eq!(bundle.to_text(), text);
}

/// `h` (canonical base64 of 32 bytes, ending `X=`) with the last data
/// character's two unused low bits set: the same bytes, non-canonically.
fn stray_bits(h: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let last = h.as_bytes()[42];
    let v = ALPHABET.iter().position(|&c| c == last).unwrap_or(0);
    let mut out = h[..42].to_owned();
    out.push(ALPHABET[v | 0b11] as char);
    out.push('=');
    out
}
