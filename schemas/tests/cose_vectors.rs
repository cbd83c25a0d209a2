//! Public COSE vectors (cose-wg/Examples; see tests/vectors/cose/ORIGIN.md)
//! checked against this crate's COSE_Sign1 Ed25519 code path.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use loupe_schemas::token::{CoseVerifyError, sign1_sig_structure, verify_cose_sign1_ed25519};

fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors/cose")
        .join(name)
}

fn read_json(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(vector_path(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hex_field(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// `key=value` lines of the quoted eddsa-sig-01 values.
fn quoted(name: &str, key: &str) -> String {
    let text = std::fs::read_to_string(vector_path(name)).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
        .unwrap_or_else(|| panic!("{key} missing from {name}"))
}

fn key32(hex_str: &str) -> [u8; 32] {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

const SIG01: &str = "eddsa-examples/eddsa-sig-01.quoted.txt";

#[test]
fn eddsa_sig_01_verifies() {
    let bytes = hex::decode(quoted(SIG01, "cbor")).unwrap();
    let key = VerifyingKey::from_bytes(&key32(&quoted(SIG01, "x_hex"))).unwrap();
    let payload = verify_cose_sign1_ed25519(&bytes, &key, &[]).unwrap();
    assert_eq!(payload, quoted(SIG01, "plaintext").as_bytes());
}

#[test]
fn eddsa_sig_01_private_key_matches_and_resigning_reproduces_the_message() {
    let bytes = hex::decode(quoted(SIG01, "cbor")).unwrap();
    let sk = SigningKey::from_bytes(&key32(&quoted(SIG01, "d_hex")));
    assert_eq!(
        sk.verifying_key().to_bytes(),
        key32(&quoted(SIG01, "x_hex"))
    );
    // Message layout: d2 84 45 <protected: a2 01 27 03 00> a1 04 42 31 31
    // 54 <payload> 58 40 <signature>.
    let protected = hex::decode("A201270300").unwrap();
    let payload = quoted(SIG01, "plaintext").into_bytes();
    let tbs = sign1_sig_structure(&protected, &[], &payload);
    let sig = sk.sign(&tbs).to_bytes();
    assert_eq!(bytes.get(bytes.len() - 64..), Some(&sig[..]));
}

#[test]
fn eddsa_sig_01_flipped_bytes_fail() {
    let bytes = hex::decode(quoted(SIG01, "cbor")).unwrap();
    let key = VerifyingKey::from_bytes(&key32(&quoted(SIG01, "x_hex"))).unwrap();
    for i in 0..bytes.len() {
        let mut m = bytes.clone();
        m[i] ^= 0x01;
        // Flips in the unprotected header (bytes 8..=12: a1 04 42 31 31) are
        // not covered by the signature; every other flip must fail.
        let unprotected = (8..=12).contains(&i);
        let result = verify_cose_sign1_ed25519(&m, &key, &[]);
        if !unprotected {
            assert!(result.is_err(), "flip at byte {i} still verifies");
        }
    }
    // A non-empty external AAD changes the signed bytes.
    assert_eq!(
        verify_cose_sign1_ed25519(&bytes, &key, b"aad"),
        Err(CoseVerifyError::BadSignature)
    );
}

#[test]
fn eddsa_sig_02_ed448_is_refused_and_sig_structure_matches() {
    let v = read_json("eddsa-examples/eddsa-sig-02.json");
    assert_eq!(v["input"]["sign0"]["key"]["crv"], "Ed448");
    let bytes = hex_field(&v["output"]["cbor"]);
    // Any Ed25519 key: the message is refused before any curve arithmetic.
    let key = SigningKey::from_bytes(&[1; 32]).verifying_key();
    assert_eq!(
        verify_cose_sign1_ed25519(&bytes, &key, &[]),
        Err(CoseVerifyError::SignatureLength { len: 114 })
    );
    // The published Sig_structure equals ours for the same inputs.
    let plaintext = v["input"]["plaintext"].as_str().unwrap().as_bytes();
    let protected = hex::decode("A10127").unwrap();
    assert_eq!(
        sign1_sig_structure(&protected, &[], plaintext),
        hex_field(&v["intermediates"]["ToBeSign_hex"])
    );
}

#[test]
fn countersign_signed_01_is_not_a_sign1_but_its_ed25519_signatures_verify() {
    let v = read_json("countersign/signed-01.json");
    let signer = &v["input"]["sign"]["signers"][0];
    assert_eq!(signer["key"]["crv"], "Ed25519");
    let key = VerifyingKey::from_bytes(&key32(signer["key"]["x_hex"].as_str().unwrap())).unwrap();
    let sk = SigningKey::from_bytes(&key32(signer["key"]["d_hex"].as_str().unwrap()));
    assert_eq!(sk.verifying_key(), key);

    let bytes = hex_field(&v["output"]["cbor"]);
    assert_eq!(bytes.get(..2), Some(&[0xd8, 0x62][..]), "tag 98, COSE_Sign");
    assert!(matches!(
        verify_cose_sign1_ed25519(&bytes, &key, &[]),
        Err(CoseVerifyError::Malformed(_))
    ));

    // The signer's and the counter-signer's signatures, taken from the
    // published message, verify over the published ToBeSign bytes.
    let inter = &v["intermediates"]["signers"][0];
    let tbs = hex_field(&inter["ToBeSign_hex"]);
    let counter_tbs = hex_field(&inter["countersigners"][0]["ToBeSign_hex"]);
    let sig: [u8; 64] = bytes[bytes.len() - 64..].try_into().unwrap();
    key.verify_strict(&tbs, &Signature::from_bytes(&sig))
        .unwrap();
    // The counter signature is the first 64-byte bstr (58 40) in the message.
    let at = bytes.windows(2).position(|w| w == [0x58, 0x40]).unwrap() + 2;
    let counter: [u8; 64] = bytes[at..at + 64].try_into().unwrap();
    key.verify_strict(&counter_tbs, &Signature::from_bytes(&counter))
        .unwrap();
    // Ed25519 is deterministic: re-signing reproduces the published signature.
    assert_eq!(sk.sign(&tbs).to_bytes(), sig);
}
