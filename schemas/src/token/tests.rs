//! Unit tests: round trips, strictness tables, mutation sweeps.

use ciborium::Value;
use ed25519_dalek::{Signer as _, SigningKey};

use super::envelope::{HDR_ALG, HDR_CRIT, encode_sign1, sig_structure};
use super::*;
use crate::cbor::{self, CborError, int, text};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn digest(tag: &str) -> Sha256Digest {
    Sha256Digest::of(tag.as_bytes())
}

fn provenance() -> Provenance {
    Provenance {
        report: FileDigest {
            sha256: digest("report"),
            media_type: "application/pdf".into(),
            size: 123,
        },
        images: vec![
            ImageDigest {
                role: ImageRole::FaceUp,
                sha256: digest("face-up"),
                media_type: "image/jpeg".into(),
                size: 2_000_000,
            },
            ImageDigest {
                role: ImageRole::Swatch,
                sha256: digest("swatch"),
                media_type: "image/jpeg".into(),
                size: 1_500_000,
            },
        ],
        videos: vec![VideoDigest {
            role: VideoRole::LightPlay,
            sha256: digest("video"),
            media_type: "video/mp4".into(),
            size: 30_000_000,
        }],
        stone: Stone {
            variety: "Ruby".into(),
            species: "Corundum".into(),
            weight_mct: 1520,
            colour: "pigeon's blood".into(),
            shape: "oval".into(),
            cut: "mixed".into(),
            clarity: "VS".into(),
            dimensions_um: [7100, 5600, 3400],
            treatment: "none".into(),
            origin: Some("Myanmar".into()),
        },
        supersedes: None,
    }
}

fn builder() -> TokenBuilder {
    TokenBuilder::new("lab.example", "R-2024-0001", provenance())
        .iat(1_700_000_000)
        .cti(Cti([0x11; 16]))
}

fn token_bytes() -> Vec<u8> {
    builder().sign(&key(1)).unwrap().logged_bytes().to_vec()
}

/// The protected header entries `TokenBuilder` would write for `key`.
fn header_entries(k: &SigningKey) -> Vec<(Value, Value)> {
    let claims = CwtClaims {
        iss: "lab.example".into(),
        sub: "R-2024-0001".into(),
        iat: 1_700_000_000,
        cti: Cti([0x11; 16]),
    };
    vec![
        (int(1), int(-8)),
        (int(3), text(TOKEN_CONTENT_TYPE)),
        (int(4), Value::Bytes(Kid::of(&k.verifying_key()).0.to_vec())),
        (int(15), claims.to_value()),
    ]
}

/// Signs arbitrary protected-header and payload bytes correctly, so that
/// only the parser's own rules can reject the result.
fn sign_raw(protected: &[u8], payload: &[u8], k: &SigningKey) -> Vec<u8> {
    let sig = k.sign(&sig_structure(protected, &[], payload)).to_bytes();
    encode_sign1(protected, &[], payload, &sig)
}

fn payload_bytes() -> Vec<u8> {
    cbor::encode(&provenance().to_value())
}

fn with_header(entries: Vec<(Value, Value)>) -> Result<Token, TokenParseError> {
    let k = key(1);
    let bytes = sign_raw(&cbor::encode(&Value::Map(entries)), &payload_bytes(), &k);
    Token::parse(&bytes)
}

fn with_payload(payload: &[u8]) -> Result<Token, TokenParseError> {
    let k = key(1);
    let protected = cbor::encode(&Value::Map(header_entries(&k)));
    Token::parse(&sign_raw(&protected, payload, &k))
}

// ---------------------------------------------------------------- round trips

#[test]
fn round_trip_parse_and_verify() {
    let k = key(1);
    let token = builder().sign(&k).unwrap();
    let bytes = token.logged_bytes().to_vec();
    let parsed = Token::parse(&bytes).unwrap();
    assert_eq!(parsed, token);
    assert_eq!(parsed.provenance(), &provenance());
    assert_eq!(parsed.claims().iss, "lab.example");
    assert_eq!(parsed.claims().sub, "R-2024-0001");
    assert_eq!(parsed.claims().iat, 1_700_000_000);
    assert_eq!(parsed.alg(), Algorithm::EdDsa);
    assert_eq!(parsed.kid(), Kid::of(&k.verifying_key()));
    assert_eq!(parsed.x5chain(), None);
    assert!(parsed.receipts().is_empty());
    assert_eq!(parsed.to_bytes(), bytes);

    let verified = parsed.verify(&k.verifying_key()).unwrap();
    assert_eq!(verified.id(), token.id());
    assert_eq!(verified.provenance(), &provenance());
    assert_eq!(verified.key(), &k.verifying_key());

    // Token id = SHA-256 of the logged bytes, 43 chars of base64url.
    assert_eq!(token.id().0, sha256(&bytes));
    let s = token.id().to_string();
    assert_eq!(s.len(), 43);
    assert_eq!(s.parse::<TokenId>().unwrap(), token.id());
    // Our own output is deterministic CBOR all the way down.
    cbor::check(&bytes).unwrap();
    cbor::check(parsed.protected_header_bytes()).unwrap();
    cbor::check(parsed.payload_bytes()).unwrap();
    assert_eq!(bytes.first(), Some(&0xd2), "tag 18");
}

#[test]
fn signing_twice_differs_only_by_random_cti() {
    let a = TokenBuilder::new("lab.example", "R-1", provenance())
        .iat(1)
        .sign(&key(1))
        .unwrap();
    let b = TokenBuilder::new("lab.example", "R-1", provenance())
        .iat(1)
        .sign(&key(1))
        .unwrap();
    assert_ne!(a.claims().cti, b.claims().cti);
    assert_ne!(a.id(), b.id());
    let c = builder().sign(&key(1)).unwrap();
    let d = builder().sign(&key(1)).unwrap();
    assert_eq!(
        c.logged_bytes(),
        d.logged_bytes(),
        "Ed25519 is deterministic"
    );
}

#[test]
fn ed25519_alg_minus_19_round_trip() {
    let k = key(2);
    let token = builder().alg(Algorithm::Ed25519).sign(&k).unwrap();
    let parsed = Token::parse(token.logged_bytes()).unwrap();
    assert_eq!(parsed.alg(), Algorithm::Ed25519);
    // {1: -19, ...}: 0xa4 0x01 0x32
    assert_eq!(
        parsed.protected_header_bytes().get(..3),
        Some(&[0xa4, 0x01, 0x32][..])
    );
    parsed.verify(&k.verifying_key()).unwrap();
}

#[test]
fn x5chain_one_cert_is_bstr_several_are_array() {
    let one = builder()
        .x5chain(vec![vec![0x30, 0x01]])
        .sign(&key(1))
        .unwrap();
    assert_eq!(one.x5chain(), Some(&[vec![0x30, 0x01]][..]));
    let Value::Map(h) = cbor::decode(one.protected_header_bytes()).unwrap() else {
        panic!("map")
    };
    assert!(h.contains(&(int(33), Value::Bytes(vec![0x30, 0x01]))));

    let chain = vec![vec![0x30, 0x01], vec![0x30, 0x02]];
    let two = builder().x5chain(chain.clone()).sign(&key(1)).unwrap();
    assert_eq!(two.x5chain(), Some(chain.as_slice()));
    two.verify(&key(1).verifying_key()).unwrap();

    assert!(matches!(
        builder().x5chain(vec![]).sign(&key(1)),
        Err(TokenBuildError::X5chain { .. })
    ));
    // A one-element array is not the RFC 9360 form.
    let mut h = header_entries(&key(1));
    h.push((int(33), Value::Array(vec![Value::Bytes(vec![1])])));
    assert!(matches!(
        with_header(h),
        Err(TokenParseError::InvalidHeader { label: 33, .. })
    ));
}

#[test]
fn supersedes_round_trip() {
    let first = builder().sign(&key(1)).unwrap();
    let mut p = provenance();
    p.supersedes = Some(first.id());
    let second = TokenBuilder::new("lab.example", "R-2024-0001", p)
        .sign(&key(1))
        .unwrap();
    let parsed = Token::parse(second.logged_bytes()).unwrap();
    assert_eq!(parsed.provenance().supersedes, Some(first.id()));
}

// ---------------------------------------------------------------- key checks

#[test]
fn wrong_key_is_kid_mismatch() {
    let token = Token::parse(&token_bytes()).unwrap();
    let err = token.verify(&key(9).verifying_key()).unwrap_err();
    assert!(matches!(err, TokenVerifyError::KidMismatch { .. }), "{err}");
}

#[test]
fn right_kid_wrong_signer_is_bad_signature() {
    // kid names key 1, but key 2 signs.
    let protected = cbor::encode(&Value::Map(header_entries(&key(1))));
    let bytes = sign_raw(&protected, &payload_bytes(), &key(2));
    let token = Token::parse(&bytes).unwrap();
    assert_eq!(
        token.verify(&key(1).verifying_key()).unwrap_err(),
        TokenVerifyError::BadSignature
    );
}

// ---------------------------------------------------------------- sweeps

#[test]
fn every_truncated_prefix_fails_to_parse() {
    let bytes = token_bytes();
    for n in 0..bytes.len() {
        assert!(
            Token::parse(&bytes[..n]).is_err(),
            "prefix of {n} bytes parsed"
        );
    }
}

#[test]
fn no_single_byte_flip_verifies() {
    let k = key(1).verifying_key();
    let bytes = token_bytes();
    let mut parsed_but_rejected = 0usize;
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80] {
            let mut m = bytes.clone();
            m[i] ^= mask;
            if let Ok(t) = Token::parse(&m) {
                parsed_but_rejected += 1;
                assert!(
                    t.verify(&k).is_err(),
                    "flip {mask:#04x} at byte {i} verified"
                );
            }
        }
    }
    // Flips inside text and byte strings parse and are caught by the signature.
    assert!(parsed_but_rejected > 0);
}

#[test]
fn receipts_attach_and_strip_keep_the_id() {
    let token = builder().sign(&key(1)).unwrap();
    let receipts = vec![vec![0xd2, 0x84, 0x01], vec![0x02; 40]];
    let transparent = token.with_receipts(receipts.clone());
    assert_ne!(transparent.as_slice(), token.logged_bytes());
    let parsed = Token::parse(&transparent).unwrap();
    assert_eq!(parsed.receipts(), receipts.as_slice());
    assert_eq!(parsed.id(), token.id());
    assert_eq!(parsed.logged_bytes(), token.logged_bytes());
    assert_eq!(parsed.to_bytes(), transparent);
    assert_eq!(parsed.without_receipts(), token.logged_bytes());
    assert_eq!(parsed.with_receipts(vec![]), token.logged_bytes());
    parsed.verify(&key(1).verifying_key()).unwrap();
}

#[test]
fn unprotected_header_only_takes_receipts() {
    let token = builder().sign(&key(1)).unwrap();
    let with = |unprotected: Vec<(Value, Value)>| {
        let v = Value::Tag(
            18,
            Box::new(Value::Array(vec![
                Value::Bytes(token.protected_header_bytes().to_vec()),
                Value::Map(unprotected),
                Value::Bytes(token.payload_bytes().to_vec()),
                Value::Bytes(token.0.envelope.signature.to_vec()),
            ])),
        );
        Token::parse(&cbor::encode(&v))
    };
    assert!(with(vec![]).is_ok());
    assert!(matches!(
        with(vec![(int(4), Value::Bytes(vec![1]))]),
        Err(TokenParseError::UnexpectedUnprotectedHeader { .. })
    ));
    assert!(matches!(
        with(vec![(int(394), Value::Array(vec![]))]),
        Err(TokenParseError::InvalidHeader { label: 394, .. })
    ));
    assert!(matches!(
        with(vec![(int(394), Value::Bytes(vec![1]))]),
        Err(TokenParseError::InvalidHeader { label: 394, .. })
    ));
}

// ---------------------------------------------------------------- envelope strictness

#[test]
fn oversize_input_is_rejected_before_decoding() {
    let big = vec![0xffu8; MAX_STATEMENT_SIZE + 1];
    assert_eq!(
        Token::parse(&big),
        Err(TokenParseError::TooLarge {
            len: MAX_STATEMENT_SIZE + 1
        })
    );
    // A valid token padded past the limit with a huge receipt.
    let token = builder().sign(&key(1)).unwrap();
    let fat = token.with_receipts(vec![vec![0; MAX_STATEMENT_SIZE]]);
    assert!(matches!(
        Token::parse(&fat),
        Err(TokenParseError::TooLarge { .. })
    ));
}

#[test]
fn tag_and_framing() {
    let bytes = token_bytes();
    // Untagged.
    assert_eq!(Token::parse(&bytes[1..]), Err(TokenParseError::NotTagged));
    // Tag 17 (COSE_Mac0) and 98 (COSE_Sign).
    let mut m = bytes.clone();
    m[0] = 0xd1;
    assert_eq!(Token::parse(&m), Err(TokenParseError::WrongTag { tag: 17 }));
    let mut m = vec![0xd8, 0x62];
    m.extend_from_slice(&bytes[1..]);
    assert_eq!(Token::parse(&m), Err(TokenParseError::WrongTag { tag: 98 }));
    // Trailing byte.
    let mut m = bytes.clone();
    m.push(0x00);
    assert!(matches!(
        Token::parse(&m),
        Err(TokenParseError::Cbor {
            part: CborPart::Message,
            source: CborError::TrailingBytes { count: 1 }
        })
    ));
    // Empty input.
    assert!(matches!(
        Token::parse(&[]),
        Err(TokenParseError::Cbor {
            source: CborError::Truncated,
            ..
        })
    ));
    // Detached payload.
    let token = Token::parse(&bytes).unwrap();
    let v = Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(token.protected_header_bytes().to_vec()),
            Value::Map(vec![]),
            Value::Null,
            Value::Bytes(token.0.envelope.signature.to_vec()),
        ])),
    );
    assert!(matches!(
        Token::parse(&cbor::encode(&v)),
        Err(TokenParseError::Structure { .. })
    ));
    // Short signature.
    let v = Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(token.protected_header_bytes().to_vec()),
            Value::Map(vec![]),
            Value::Bytes(token.payload_bytes().to_vec()),
            Value::Bytes(vec![0; 63]),
        ])),
    );
    assert_eq!(
        Token::parse(&cbor::encode(&v)),
        Err(TokenParseError::SignatureLength { len: 63 })
    );
}

#[test]
fn non_canonical_message_encodings_are_rejected() {
    let bytes = token_bytes();
    // bytes = d2 84 <protected bstr> a0 <payload> <sig>
    assert_eq!(&bytes[..2], &[0xd2, 0x84]);

    // Array length 4 written with a 1-byte argument: d2 98 04 ...
    let mut m = vec![0xd2, 0x98, 0x04];
    m.extend_from_slice(&bytes[2..]);
    assert!(matches!(
        Token::parse(&m),
        Err(TokenParseError::Cbor {
            part: CborPart::Message,
            source: CborError::NonShortestForm { offset: 1 }
        })
    ));

    // Indefinite-length array: d2 9f ... ff
    let mut m = vec![0xd2, 0x9f];
    m.extend_from_slice(&bytes[2..]);
    m.push(0xff);
    assert!(matches!(
        Token::parse(&m),
        Err(TokenParseError::Cbor {
            source: CborError::IndefiniteLength { offset: 1 },
            ..
        })
    ));

    // Tag 18 written with a 1-byte argument: d8 12 84 ...
    let mut m = vec![0xd8, 0x12];
    m.extend_from_slice(&bytes[1..]);
    assert!(matches!(
        Token::parse(&m),
        Err(TokenParseError::Cbor {
            source: CborError::NonShortestForm { offset: 0 },
            ..
        })
    ));
}

#[test]
fn non_canonical_protected_header_is_rejected_even_when_signed() {
    let k = key(1);
    let canonical = cbor::encode(&Value::Map(header_entries(&k)));
    // {1: -8, ...} with -8 written as 0x38 0x07 (two bytes).
    assert_eq!(&canonical[..3], &[0xa4, 0x01, 0x27]);
    let mut long_int = vec![0xa4, 0x01, 0x38, 0x07];
    long_int.extend_from_slice(&canonical[3..]);
    let err = Token::parse(&sign_raw(&long_int, &payload_bytes(), &k)).unwrap_err();
    assert!(
        matches!(
            err,
            TokenParseError::Cbor {
                part: CborPart::ProtectedHeader,
                source: CborError::NonShortestForm { offset: 2 }
            }
        ),
        "{err}"
    );

    // Keys out of order: {3: ..., 1: -8, ...}
    let mut entries = header_entries(&k);
    entries.swap(0, 1);
    let unsorted = encode_unsorted(&Value::Map(entries));
    let err = Token::parse(&sign_raw(&unsorted, &payload_bytes(), &k)).unwrap_err();
    assert!(
        matches!(
            err,
            TokenParseError::Cbor {
                part: CborPart::ProtectedHeader,
                source: CborError::UnsortedMapKeys { .. }
            }
        ),
        "{err}"
    );

    // Duplicate alg.
    let mut entries = header_entries(&k);
    entries.insert(1, (int(1), int(-8)));
    let dup = encode_unsorted(&Value::Map(entries));
    let err = Token::parse(&sign_raw(&dup, &payload_bytes(), &k)).unwrap_err();
    assert!(
        matches!(
            err,
            TokenParseError::Cbor {
                part: CborPart::ProtectedHeader,
                source: CborError::DuplicateMapKey { .. }
            }
        ),
        "{err}"
    );
}

/// Encodes a value keeping map entries in the given order (ciborium does).
fn encode_unsorted(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

#[test]
fn non_canonical_payload_is_rejected_even_when_signed() {
    let canonical = payload_bytes();
    assert!(with_payload(&canonical).is_ok());

    // Unsorted top-level keys (all else canonical).
    let Value::Map(mut entries) = cbor::decode(&canonical).unwrap() else {
        panic!()
    };
    entries.sort_by_key(|e| std::cmp::Reverse(cbor::encode(&e.0)));
    let err = with_payload(&encode_unsorted(&Value::Map(entries))).unwrap_err();
    assert!(
        matches!(
            err,
            TokenParseError::Cbor {
                part: CborPart::Payload,
                source: CborError::UnsortedMapKeys { .. }
            }
        ),
        "{err}"
    );

    // Duplicate key: "report" twice (all else canonical).
    let Value::Map(mut sorted) = cbor::decode(&canonical).unwrap() else {
        panic!()
    };
    let pos = sorted.iter().position(|e| e.0 == text("report")).unwrap();
    sorted.insert(pos, sorted[pos].clone());
    let dup = Value::Map(sorted);
    let err = with_payload(&encode_unsorted(&dup)).unwrap_err();
    assert!(
        matches!(
            err,
            TokenParseError::Cbor {
                part: CborPart::Payload,
                source: CborError::DuplicateMapKey { .. }
            }
        ),
        "{err}"
    );

    // size 123 (0x18 0x7b) written as 0x19 0x00 0x7b.
    let needle = [0x64, b's', b'i', b'z', b'e', 0x18, 0x7b];
    let at = canonical
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut long = canonical[..at + 5].to_vec();
    long.extend_from_slice(&[0x19, 0x00, 0x7b]);
    long.extend_from_slice(&canonical[at + 7..]);
    let err = with_payload(&long).unwrap_err();
    assert!(
        matches!(
            err,
            TokenParseError::Cbor {
                part: CborPart::Payload,
                source: CborError::NonShortestForm { .. }
            }
        ),
        "{err}"
    );

    // Indefinite-length images array.
    let images = [0x66, b'i', b'm', b'a', b'g', b'e', b's', 0x82];
    let at = canonical
        .windows(images.len())
        .position(|w| w == images)
        .unwrap();
    let report = [0x66, b'r', b'e', b'p', b'o', b'r', b't'];
    let end = canonical
        .windows(report.len())
        .position(|w| w == report)
        .unwrap();
    assert!(end > at, "images precede report in canonical order");
    let mut indef = canonical[..at + 7].to_vec();
    indef.push(0x9f);
    indef.extend_from_slice(&canonical[at + 8..end]);
    indef.push(0xff);
    indef.extend_from_slice(&canonical[end..]);
    let err = with_payload(&indef).unwrap_err();
    assert!(
        matches!(
            err,
            TokenParseError::Cbor {
                part: CborPart::Payload,
                source: CborError::IndefiniteLength { .. }
            }
        ),
        "{err}"
    );
}

// ---------------------------------------------------------------- headers

type ParseCheck = fn(&TokenParseError) -> bool;
type ClaimsCheck = fn(&ClaimsError) -> bool;

/// The nested map under a text key.
fn sub_map<'a>(m: &'a mut [(Value, Value)], key: &str) -> &'a mut Vec<(Value, Value)> {
    match m.iter_mut().find(|e| e.0 == text(key)) {
        Some((_, Value::Map(inner))) => inner,
        _ => panic!("no map at {key}"),
    }
}

#[test]
fn critical_headers() {
    let k = key(1);
    // crit naming an unknown label that is present: rejected (the label
    // itself is already outside the profile).
    let mut h = header_entries(&k);
    h.push((int(99), int(1)));
    h.push((int(HDR_CRIT), Value::Array(vec![int(99)])));
    assert_eq!(
        with_header(h).unwrap_err(),
        TokenParseError::UnknownHeader { label: "99".into() }
    );
    // crit naming an unknown label that is absent: rejected.
    let mut h = header_entries(&k);
    h.push((int(HDR_CRIT), Value::Array(vec![int(99)])));
    assert!(matches!(
        with_header(h),
        Err(TokenParseError::UnknownCriticalHeader { .. }
            | TokenParseError::InvalidHeader { label: 2, .. })
    ));
    // crit naming a text label: rejected.
    let mut h = header_entries(&k);
    h.push((text("x"), int(1)));
    h.push((int(HDR_CRIT), Value::Array(vec![text("x")])));
    assert!(matches!(
        with_header(h),
        Err(TokenParseError::UnknownHeader { .. })
    ));
    // crit naming a generic header (RFC 9052 forbids): rejected.
    let mut h = header_entries(&k);
    h.push((int(HDR_CRIT), Value::Array(vec![int(HDR_ALG)])));
    assert!(matches!(
        with_header(h),
        Err(TokenParseError::UnknownCriticalHeader { .. })
    ));
    // crit naming CWT claims, which we understand: accepted and verifies.
    let mut h = header_entries(&k);
    h.push((int(HDR_CRIT), Value::Array(vec![int(15)])));
    with_header(h).unwrap().verify(&k.verifying_key()).unwrap();
    // crit naming x5chain that is absent: rejected.
    let mut h = header_entries(&k);
    h.push((int(HDR_CRIT), Value::Array(vec![int(33)])));
    assert!(matches!(
        with_header(h),
        Err(TokenParseError::InvalidHeader { label: 2, .. })
    ));
    // Empty crit: rejected.
    let mut h = header_entries(&k);
    h.push((int(HDR_CRIT), Value::Array(vec![])));
    assert!(matches!(
        with_header(h),
        Err(TokenParseError::InvalidHeader { label: 2, .. })
    ));
    // Loupe is a closed profile: an unknown header is refused even when it
    // is not critical (RFC 9052 §3 lets a profile say so), integer or text.
    for label in [int(16), int(99), int(-65_537), text("lab-note")] {
        let mut h = header_entries(&k);
        h.push((label.clone(), int(1)));
        assert!(
            matches!(with_header(h), Err(TokenParseError::UnknownHeader { .. })),
            "{label:?}"
        );
    }
}

#[test]
fn header_table() {
    let k = key(1);
    type Edit = fn(&mut Vec<(Value, Value)>);
    let rows: &[(&str, Edit, ParseCheck)] = &[
        (
            "alg ES256",
            |h| h[0].1 = int(-7),
            |e| matches!(e, TokenParseError::UnsupportedAlgorithm { .. }),
        ),
        (
            "alg text",
            |h| h[0].1 = text("EdDSA"),
            |e| matches!(e, TokenParseError::UnsupportedAlgorithm { .. }),
        ),
        (
            "no alg",
            |h| {
                h.remove(0);
            },
            |e| *e == TokenParseError::MissingHeader { label: 1 },
        ),
        (
            "no content type",
            |h| {
                h.remove(1);
            },
            |e| *e == TokenParseError::MissingHeader { label: 3 },
        ),
        (
            "content type int",
            |h| h[1].1 = int(60),
            |e| matches!(e, TokenParseError::WrongContentType { .. }),
        ),
        (
            "content type other",
            |h| h[1].1 = text("application/cose"),
            |e| matches!(e, TokenParseError::WrongContentType { .. }),
        ),
        (
            "revocation type",
            |h| h[1].1 = text(REVOCATION_CONTENT_TYPE),
            |e| matches!(e, TokenParseError::WrongContentType { .. }),
        ),
        (
            "no kid",
            |h| {
                h.remove(2);
            },
            |e| *e == TokenParseError::MissingHeader { label: 4 },
        ),
        (
            "kid 15 bytes",
            |h| h[2].1 = Value::Bytes(vec![0; 15]),
            |e| matches!(e, TokenParseError::InvalidHeader { label: 4, .. }),
        ),
        (
            "kid text",
            |h| h[2].1 = text("kid"),
            |e| matches!(e, TokenParseError::InvalidHeader { label: 4, .. }),
        ),
        (
            "no cwt claims",
            |h| {
                h.remove(3);
            },
            |e| *e == TokenParseError::MissingHeader { label: 15 },
        ),
        (
            "cwt claims not a map",
            |h| h[3].1 = int(1),
            |e| matches!(e, TokenParseError::CwtClaims(ClaimsError::WrongType { .. })),
        ),
    ];
    for (name, edit, expected) in rows {
        let mut h = header_entries(&k);
        edit(&mut h);
        let err = with_header(h).expect_err(name);
        assert!(expected(&err), "row {name:?}: got {err:?}");
    }
}

#[test]
fn cwt_claims_table() {
    let k = key(1);
    let base = || match header_entries(&k).remove(3).1 {
        Value::Map(m) => m,
        _ => unreachable!(),
    };
    type Edit = fn(&mut Vec<(Value, Value)>);
    let rows: &[(&str, Edit, ClaimsError)] = &[
        (
            "extra exp",
            |c| c.push((int(4), int(1))),
            ClaimsError::UnknownField {
                field: "cwt.4".into(),
            },
        ),
        (
            "extra text claim",
            |c| c.push((text("nonce"), int(1))),
            ClaimsError::UnknownField {
                field: "cwt.\"nonce\"".into(),
            },
        ),
        (
            "no iss",
            |c| {
                c.remove(0);
            },
            ClaimsError::MissingField { field: "cwt.iss" },
        ),
        (
            "no sub",
            |c| {
                c.remove(1);
            },
            ClaimsError::MissingField { field: "cwt.sub" },
        ),
        (
            "no iat",
            |c| {
                c.remove(2);
            },
            ClaimsError::MissingField { field: "cwt.iat" },
        ),
        (
            "no cti",
            |c| {
                c.remove(3);
            },
            ClaimsError::MissingField { field: "cwt.cti" },
        ),
        (
            "negative iat",
            |c| c[2].1 = int(-1),
            ClaimsError::WrongType {
                field: "cwt.iat",
                expected: "an unsigned integer",
            },
        ),
        (
            "cti 8 bytes",
            |c| c[3].1 = Value::Bytes(vec![0; 8]),
            ClaimsError::WrongLength {
                field: "cwt.cti",
                expected: 16,
            },
        ),
        (
            "empty sub",
            |c| c[1].1 = text(""),
            ClaimsError::EmptyText { field: "cwt.sub" },
        ),
        (
            "newline in iss",
            |c| c[0].1 = text("lab\n.example"),
            ClaimsError::ControlCharacter { field: "cwt.iss" },
        ),
    ];
    for (name, edit, expected) in rows {
        let mut claims = base();
        edit(&mut claims);
        let mut h = header_entries(&k);
        h[3].1 = Value::Map(claims);
        assert_eq!(
            with_header(h).expect_err(name),
            TokenParseError::CwtClaims(expected.clone()),
            "row {name:?}"
        );
    }
}

#[test]
fn payload_table() {
    type Edit = fn(&mut Provenance);
    let rows: &[(&str, Edit, ClaimsError)] = &[
        (
            "dup role",
            |p| p.images[1].role = ImageRole::FaceUp,
            ClaimsError::DuplicateRole { role: "face-up" },
        ),
        (
            "bad media type",
            |p| p.report.media_type = "pdf".into(),
            ClaimsError::InvalidMediaType {
                field: "report.media_type",
            },
        ),
        (
            "empty colour",
            |p| p.stone.colour = String::new(),
            ClaimsError::EmptyText {
                field: "stone.colour",
            },
        ),
        (
            "long variety",
            |p| p.stone.variety = "x".repeat(MAX_TEXT_LEN + 1),
            ClaimsError::TextTooLong {
                field: "stone.variety",
                max: MAX_TEXT_LEN,
            },
        ),
        (
            "zero weight",
            |p| p.stone.weight_mct = 0,
            ClaimsError::Zero {
                field: "stone.weight_mct",
            },
        ),
        (
            "zero depth",
            |p| p.stone.dimensions_um[2] = 0,
            ClaimsError::Zero {
                field: "stone.dimensions_um",
            },
        ),
    ];
    for (name, edit, expected) in rows {
        let mut p = provenance();
        edit(&mut p);
        // The builder refuses it ...
        let built = TokenBuilder::new("lab.example", "R-1", p.clone()).sign(&key(1));
        assert_eq!(
            built.unwrap_err(),
            TokenBuildError::Claims(expected.clone()),
            "row {name:?}"
        );
        // ... and so does the parser, even when it is properly signed.
        let err = with_payload(&cbor::encode(&p.to_value())).expect_err(name);
        assert_eq!(
            err,
            TokenParseError::Payload(expected.clone()),
            "row {name:?}"
        );
    }
}

#[test]
fn payload_shape_table() {
    let base = || match provenance().to_value() {
        Value::Map(m) => m,
        _ => unreachable!(),
    };
    let set = |m: &mut Vec<(Value, Value)>, key: &str, v: Value| {
        for e in m.iter_mut() {
            if e.0 == text(key) {
                e.1 = v.clone();
            }
        }
    };
    let image = |role: &str| {
        Value::Map(vec![
            (text("role"), text(role)),
            (text("sha256"), Value::Bytes(vec![0; 32])),
            (text("media_type"), text("image/jpeg")),
            (text("size"), int(1)),
        ])
    };
    let mut rows: Vec<(&str, Value, ClaimsCheck)> = Vec::new();

    let mut m = base();
    m.push((text("price"), int(1)));
    rows.push((
        "unknown top-level key",
        Value::Map(m),
        |e| matches!(e, ClaimsError::UnknownField { field } if field == "payload.\"price\""),
    ));

    let mut m = base();
    m.retain(|e| e.0 != text("videos"));
    rows.push(("missing videos", Value::Map(m), |e| {
        *e == ClaimsError::MissingField { field: "videos" }
    }));

    let mut m = base();
    set(&mut m, "images", Value::Array(vec![image("top")]));
    rows.push((
        "unknown image role",
        Value::Map(m),
        |e| matches!(e, ClaimsError::UnknownImageRole { role } if role == "top"),
    ));

    let mut m = base();
    set(&mut m, "videos", Value::Array(vec![image("spin")]));
    rows.push((
        "unknown video role",
        Value::Map(m),
        |e| matches!(e, ClaimsError::UnknownVideoRole { role } if role == "spin"),
    ));

    let mut m = base();
    set(
        &mut m,
        "images",
        Value::Array((0..7).map(|_| image("table")).collect()),
    );
    rows.push(("seven images", Value::Map(m), |e| {
        matches!(
            e,
            ClaimsError::TooManyItems {
                field: "images",
                max: 6
            }
        )
    }));

    let mut m = base();
    sub_map(&mut m, "report").push((text("url"), text("https://x")));
    rows.push(("unknown report key", Value::Map(m), |e| {
        matches!(e, ClaimsError::UnknownField { .. })
    }));

    let mut m = base();
    set(
        sub_map(&mut m, "report"),
        "sha256",
        Value::Bytes(vec![0; 31]),
    );
    rows.push(("short digest", Value::Map(m), |e| {
        *e == ClaimsError::WrongLength {
            field: "report.sha256",
            expected: 32,
        }
    }));

    let mut m = base();
    set(
        sub_map(&mut m, "stone"),
        "dimensions_um",
        Value::Array(vec![int(1), int(2)]),
    );
    rows.push(("two dimensions", Value::Map(m), |e| {
        matches!(
            e,
            ClaimsError::WrongLength {
                field: "stone.dimensions_um",
                ..
            }
        )
    }));

    let mut m = base();
    m.push((text("supersedes"), Value::Bytes(vec![0; 16])));
    rows.push(("short supersedes", Value::Map(m), |e| {
        matches!(
            e,
            ClaimsError::WrongLength {
                field: "supersedes",
                ..
            }
        )
    }));

    let mut m = base();
    m.push((int(1), int(1)));
    rows.push(("integer key", Value::Map(m), |e| {
        matches!(e, ClaimsError::UnknownField { .. })
    }));

    rows.push(("not a map", Value::Array(vec![]), |e| {
        matches!(e, ClaimsError::WrongType { .. })
    }));

    for (name, v, expected) in rows {
        let err = with_payload(&cbor::encode(&v)).expect_err(name);
        match err {
            TokenParseError::Payload(e) => assert!(expected(&e), "row {name:?}: got {e:?}"),
            other => panic!("row {name:?}: got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- JSON view

#[test]
fn provenance_json_view() {
    let mut p = provenance();
    p.images.truncate(1);
    p.supersedes = Some(TokenId([0xfb; 32]));
    let json = serde_json::to_string(&p).unwrap();
    let expected = format!(
        concat!(
            r#"{{"report":{{"sha256":"{}","media_type":"application/pdf","size":123}},"#,
            r#""images":[{{"role":"face-up","sha256":"{}","media_type":"image/jpeg","size":2000000}}],"#,
            r#""videos":[{{"role":"light-play","sha256":"{}","media_type":"video/mp4","size":30000000}}],"#,
            r#""stone":{{"variety":"Ruby","species":"Corundum","weight_mct":1520,"colour":"pigeon's blood","#,
            r#""shape":"oval","cut":"mixed","clarity":"VS","dimensions_um":[7100,5600,3400],"#,
            r#""treatment":"none","origin":"Myanmar"}},"supersedes":"{}"}}"#
        ),
        digest("report"),
        digest("face-up"),
        digest("video"),
        "-_v7".repeat(10) + "-_s"
    );
    assert_eq!(TokenId([0xfb; 32]).to_string(), "-_v7".repeat(10) + "-_s");
    assert_eq!(json, expected);
    let back: Provenance = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
}

#[test]
fn provenance_json_is_strict() {
    let json = serde_json::to_value(provenance()).unwrap();
    let reject = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut j = json.clone();
        edit(&mut j);
        serde_json::from_value::<Provenance>(j)
            .unwrap_err()
            .to_string()
    };
    assert!(reject(&|j| j["extra"] = 1.into()).contains("unknown field"));
    assert!(reject(&|j| j["stone"]["carat"] = 1.into()).contains("unknown field"));
    assert!(reject(&|j| j["images"][0]["role"] = "top".into()).contains("unknown image role"));
    assert!(reject(&|j| j["images"][1]["role"] = "face-up".into()).contains("more than once"));
    let upper = digest("report").to_string().to_uppercase();
    assert!(reject(&|j| j["report"]["sha256"] = upper.clone().into()).contains("lowercase hex"));
    assert!(reject(&|j| j["supersedes"] = "abc".into()).contains("43 characters"));
    // `videos` may be omitted; `origin` too.
    let mut j = json.clone();
    j.as_object_mut().unwrap().remove("videos");
    j["stone"].as_object_mut().unwrap().remove("origin");
    let p: Provenance = serde_json::from_value(j).unwrap();
    assert!(p.videos.is_empty() && p.stone.origin.is_none());
}

#[test]
fn cwt_claims_json_view() {
    let c = CwtClaims {
        iss: "lab.example".into(),
        sub: "R-1".into(),
        iat: 1_700_000_000,
        cti: Cti([0xab; 16]),
    };
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(
        json,
        r#"{"iss":"lab.example","sub":"R-1","iat":1700000000,"cti":"abababababababababababababababab"}"#
    );
    assert_eq!(serde_json::from_str::<CwtClaims>(&json).unwrap(), c);
    assert!(serde_json::from_str::<CwtClaims>(&json.replace("}", r#","exp":1}"#)).is_err());
}

#[test]
fn token_id_strings() {
    let id = TokenId([0; 32]);
    assert_eq!(id.to_string(), "A".repeat(43));
    for bad in [
        "",
        &"A".repeat(42),
        &"A".repeat(44),
        &format!("{}=", "A".repeat(43)),
        &format!("{}+", "A".repeat(42)),
        &format!("{}B", "A".repeat(42)),
    ] {
        assert_eq!(
            bad.parse::<TokenId>(),
            Err(IdParseError::TokenId),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------- revocations

#[test]
fn revocation_round_trip_and_statement_dispatch() {
    let k = key(1);
    let token = builder().sign(&k).unwrap();
    let rev = RevocationBuilder::new("lab.example", token.id(), "report withdrawn")
        .iat(1_700_000_100)
        .alg(Algorithm::Ed25519)
        .sign(&k)
        .unwrap();
    let parsed = SignedRevocation::parse(rev.logged_bytes()).unwrap();
    assert_eq!(parsed.revokes(), token.id());
    assert_eq!(parsed.revocation().reason, "report withdrawn");
    assert_eq!(parsed.claims().iat, 1_700_000_100);
    assert_eq!(parsed.revocation().iat, 1_700_000_100);
    let verified = parsed.verify(&k.verifying_key()).unwrap();
    assert_eq!(verified.revokes(), token.id());
    assert!(matches!(
        parsed.verify(&key(2).verifying_key()),
        Err(TokenVerifyError::KidMismatch { .. })
    ));

    // Content types keep the two apart.
    assert!(matches!(
        Token::parse(rev.logged_bytes()),
        Err(TokenParseError::WrongContentType { .. })
    ));
    assert!(matches!(
        SignedRevocation::parse(token.logged_bytes()),
        Err(TokenParseError::WrongContentType { .. })
    ));
    match Statement::parse(rev.logged_bytes()).unwrap() {
        Statement::Revocation(r) => assert_eq!(r, parsed),
        other => panic!("{other:?}"),
    }
    let st = Statement::parse(token.logged_bytes()).unwrap();
    assert_eq!(st.id(), token.id());
    assert_eq!(st.logged_bytes(), token.logged_bytes());
    assert!(matches!(
        st.verify(&k.verifying_key()),
        Ok(VerifiedStatement::Token(_))
    ));

    // Payload is {6: iat, "reason": .., "revokes": ..} in that (encoded) order.
    let Value::Map(p) = cbor::decode(parsed.payload_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(p[0].0, int(6));
    assert_eq!(p[1].0, text("reason"));
    assert_eq!(p[2].0, text("revokes"));

    // JSON view.
    let json = serde_json::to_value(parsed.revocation()).unwrap();
    assert_eq!(json["revokes"], token.id().to_string());
    assert_eq!(json["iat"], 1_700_000_100);
}

#[test]
fn revocation_strictness() {
    let k = key(1);
    let claims = || {
        Value::Map(vec![
            (int(1), text("lab.example")),
            (int(6), int(100)),
            (int(7), Value::Bytes(vec![1; 16])),
        ])
    };
    let header = |cwt: Value| {
        cbor::encode(&Value::Map(vec![
            (int(1), int(-8)),
            (int(3), text(REVOCATION_CONTENT_TYPE)),
            (int(4), Value::Bytes(Kid::of(&k.verifying_key()).0.to_vec())),
            (int(15), cwt),
        ]))
    };
    let payload = |iat: i64, extra: bool| {
        let mut m = vec![
            (int(6), int(iat)),
            (text("reason"), text("withdrawn")),
            (text("revokes"), Value::Bytes(vec![7; 32])),
        ];
        if extra {
            m.push((text("note"), text("x")));
        }
        cbor::encode(&Value::Map(m))
    };
    let ok = sign_raw(&header(claims()), &payload(100, false), &k);
    SignedRevocation::parse(&ok)
        .unwrap()
        .verify(&k.verifying_key())
        .unwrap();

    let bad_iat = sign_raw(&header(claims()), &payload(101, false), &k);
    assert_eq!(
        SignedRevocation::parse(&bad_iat),
        Err(TokenParseError::IatMismatch {
            cwt: 100,
            payload: 101
        })
    );
    let extra = sign_raw(&header(claims()), &payload(100, true), &k);
    assert!(matches!(
        SignedRevocation::parse(&extra),
        Err(TokenParseError::Payload(ClaimsError::UnknownField { .. }))
    ));
    // A revocation with a `sub` claim has an extra claim.
    let Value::Map(mut c) = claims() else {
        panic!()
    };
    c.push((int(2), text("R-1")));
    let with_sub = sign_raw(&header(Value::Map(c)), &payload(100, false), &k);
    assert!(matches!(
        SignedRevocation::parse(&with_sub),
        Err(TokenParseError::CwtClaims(ClaimsError::UnknownField { .. }))
    ));
    assert!(matches!(
        RevocationBuilder::new("lab.example", TokenId([0; 32]), "").sign(&k),
        Err(TokenBuildError::Claims(ClaimsError::EmptyText { .. }))
    ));
}

// ---------------------------------------------------------------- CBOR checker

#[test]
fn cbor_check_table() {
    use CborError::*;
    let rows: &[(&str, &[u8], Result<(), CborError>)] = &[
        ("uint 0", &[0x00], Ok(())),
        ("uint 24 in 1 byte", &[0x18, 0x18], Ok(())),
        (
            "uint 23 in 1 byte",
            &[0x18, 0x17],
            Err(NonShortestForm { offset: 0 }),
        ),
        (
            "uint 255 in 2 bytes",
            &[0x19, 0x00, 0xff],
            Err(NonShortestForm { offset: 0 }),
        ),
        (
            "uint 65535 in 4 bytes",
            &[0x1a, 0x00, 0x00, 0xff, 0xff],
            Err(NonShortestForm { offset: 0 }),
        ),
        (
            "uint 2^32-1 in 8 bytes",
            &[0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
            Err(NonShortestForm { offset: 0 }),
        ),
        ("nint -1", &[0x20], Ok(())),
        (
            "nint -1 long",
            &[0x38, 0x00],
            Err(NonShortestForm { offset: 0 }),
        ),
        (
            "bstr len long",
            &[0x58, 0x01, 0xaa],
            Err(NonShortestForm { offset: 0 }),
        ),
        ("bstr truncated", &[0x42, 0xaa], Err(Truncated)),
        (
            "bstr huge len",
            &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            Err(Truncated),
        ),
        (
            "indef bstr",
            &[0x5f, 0x41, 0xaa, 0xff],
            Err(IndefiniteLength { offset: 0 }),
        ),
        (
            "indef text",
            &[0x7f, 0xff],
            Err(IndefiniteLength { offset: 0 }),
        ),
        (
            "indef array",
            &[0x9f, 0xff],
            Err(IndefiniteLength { offset: 0 }),
        ),
        (
            "indef map",
            &[0xbf, 0xff],
            Err(IndefiniteLength { offset: 0 }),
        ),
        ("indef uint", &[0x1f], Err(Malformed { offset: 0 })),
        ("reserved ai", &[0x1c], Err(Malformed { offset: 0 })),
        ("lone break", &[0xff], Err(Malformed { offset: 0 })),
        (
            "bad utf8",
            &[0x62, 0xc3, 0x28],
            Err(InvalidUtf8 { offset: 0 }),
        ),
        ("sorted map", &[0xa2, 0x01, 0x00, 0x02, 0x00], Ok(())),
        (
            "unsorted map",
            &[0xa2, 0x02, 0x00, 0x01, 0x00],
            Err(UnsortedMapKeys { offset: 3 }),
        ),
        (
            "dup key",
            &[0xa2, 0x01, 0x00, 0x01, 0x00],
            Err(DuplicateMapKey { offset: 3 }),
        ),
        (
            "short text key before long",
            &[0xa2, 0x61, 0x7a, 0x00, 0x62, 0x61, 0x61, 0x00],
            Ok(()),
        ),
        (
            "int key before text key",
            &[0xa2, 0x06, 0x00, 0x61, 0x61, 0x00],
            Ok(()),
        ),
        ("map count too big", &[0xa2, 0x01, 0x00], Err(Truncated)),
        ("array count too big", &[0x83, 0x01], Err(Truncated)),
        (
            "float16",
            &[0xf9, 0x3c, 0x00],
            Err(UnsupportedSimpleValue { offset: 0 }),
        ),
        (
            "float64",
            &[0xfb, 0, 0, 0, 0, 0, 0, 0, 0],
            Err(UnsupportedSimpleValue { offset: 0 }),
        ),
        (
            "undefined",
            &[0xf7],
            Err(UnsupportedSimpleValue { offset: 0 }),
        ),
        (
            "simple 16",
            &[0xf0],
            Err(UnsupportedSimpleValue { offset: 0 }),
        ),
        (
            "two-byte simple < 32",
            &[0xf8, 0x10],
            Err(Malformed { offset: 0 }),
        ),
        ("true", &[0xf5], Ok(())),
        ("null", &[0xf6], Ok(())),
        (
            "tag 18 long",
            &[0xd8, 0x12, 0x00],
            Err(NonShortestForm { offset: 0 }),
        ),
        ("trailing", &[0x00, 0x00], Err(TrailingBytes { count: 1 })),
        ("empty", &[], Err(Truncated)),
    ];
    for (name, bytes, expected) in rows {
        assert_eq!(&cbor::check(bytes), expected, "row {name:?}");
    }
}

#[test]
fn cbor_depth_is_bounded() {
    let mut deep = vec![0x81u8; MAX_DEPTH];
    deep.push(0x00);
    assert_eq!(cbor::check(&deep), Ok(()));
    let mut deeper = vec![0x81u8; MAX_DEPTH + 1];
    deeper.push(0x00);
    assert!(matches!(
        cbor::check(&deeper),
        Err(CborError::TooDeep { .. })
    ));
    // Very deep input errors, never overflows the stack.
    let mut bomb = vec![0x81u8; 100_000];
    bomb.push(0x00);
    assert!(matches!(cbor::check(&bomb), Err(CborError::TooDeep { .. })));
    assert!(matches!(
        Token::parse(&bomb),
        Err(TokenParseError::TooLarge { .. })
    ));
}

#[test]
fn cbor_decode_round_trips_canonical_values() {
    let v = Value::Map(vec![
        (text("b"), int(1)),
        (int(-300), Value::Bytes(vec![1, 2, 3])),
        (
            text("a"),
            Value::Array(vec![
                int(0),
                int(23),
                int(24),
                int(u32::MAX as i64 + 1),
                Value::Bool(true),
                Value::Null,
            ]),
        ),
        (int(10), Value::Tag(5, Box::new(text("x")))),
    ]);
    let bytes = cbor::encode(&v);
    let back = cbor::decode(&bytes).unwrap();
    assert_eq!(cbor::encode(&back), bytes);
}

#[test]
fn bignum_tags_are_refused_by_check_and_decode_alike() {
    // Found by the `cbor_check` fuzz target: tag 2 around an empty byte
    // string passed `check` but `decode` folded it into the integer 0.
    let found = include_bytes!("../../../fuzz/regressions/cbor_check/tag2-empty-bignum-c240");
    for bytes in [
        &found[..],
        &[0xc2, 0x41, 0x01],
        &[0xc3, 0x40],
        &[0x82, 0x0c, 0xc2, 0x40],
    ] {
        assert!(
            matches!(
                cbor::check(bytes),
                Err(CborError::UnsupportedTag { tag: 2 | 3, .. })
            ),
            "{bytes:02x?}"
        );
        assert!(cbor::decode(bytes).is_err(), "{bytes:02x?}");
    }
    // Other tags are still walked (tag 18 is COSE_Sign1).
    assert_eq!(cbor::check(&[0xd2, 0x80]), Ok(()));
}

// ---------------------------------------------------------------- differential

/// The fast parsers return exactly what the `Value`-based oracle returns
/// (the same token, or the same error) for `bytes`; true if accepted.
fn same_as_oracle(bytes: &[u8]) -> bool {
    let token = Token::parse(bytes);
    assert_eq!(
        token,
        oracle::token(bytes),
        "Token::parse differs on {}",
        hex::encode(bytes)
    );
    assert_eq!(
        SignedRevocation::parse(bytes),
        oracle::revocation(bytes),
        "SignedRevocation::parse differs on {}",
        hex::encode(bytes)
    );
    let statement = Statement::parse(bytes);
    assert_eq!(
        statement,
        oracle::statement(bytes),
        "Statement::parse differs on {}",
        hex::encode(bytes)
    );
    statement.is_ok()
}

/// Statements that between them reach every header and payload rule:
/// plain token; alg −19 with crit, a two-certificate x5chain and
/// `supersedes`; a token with receipts; a revocation with one certificate;
/// a revocation with a receipt.
fn differential_seeds() -> Vec<Vec<u8>> {
    let k = key(1);
    let token = builder().sign(&k).unwrap();
    let mut h = header_entries(&k);
    h[0].1 = int(-19);
    h.push((int(HDR_CRIT), Value::Array(vec![int(15), int(33)])));
    h.push((
        int(33),
        Value::Array(vec![
            Value::Bytes(vec![0x30, 1]),
            Value::Bytes(vec![0x30, 2]),
        ]),
    ));
    let mut p = provenance();
    p.supersedes = Some(token.id());
    p.stone.origin = None;
    let rich = sign_raw(
        &cbor::encode(&Value::Map(h)),
        &cbor::encode(&p.to_value()),
        &k,
    );
    let rev = RevocationBuilder::new("lab.example", token.id(), "report withdrawn")
        .iat(1_700_000_100)
        .x5chain(vec![vec![0x30, 0x03]])
        .sign(&k)
        .unwrap();
    vec![
        token.logged_bytes().to_vec(),
        rich,
        token.with_receipts(vec![vec![0xd2, 0x84], vec![0x01; 20]]),
        rev.logged_bytes().to_vec(),
        rev.with_receipts(vec![vec![0xa0]]),
    ]
}

/// Which part of a statement a mutation edits: the whole message, or the
/// content of the protected-header or payload byte string (re-wrapped, so
/// that the envelope stays well-formed and the inner rules are reached).
#[derive(Debug, Clone, Copy)]
enum Part {
    Message,
    Protected,
    Payload,
}

fn mutate_part(seed: &[u8], part: Part, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    if let Part::Message = part {
        let mut m = seed.to_vec();
        edit(&mut m);
        return m;
    }
    let t = Statement::parse(seed).unwrap();
    let (envelope, receipts) = match &t {
        Statement::Token(t) => (&t.0.envelope, t.receipts()),
        Statement::Revocation(r) => (r.envelope(), r.receipts()),
    };
    let mut protected = envelope.protected().to_vec();
    let mut payload = envelope.payload().to_vec();
    edit(match part {
        Part::Protected => &mut protected,
        _ => &mut payload,
    });
    encode_sign1(&protected, receipts, &payload, &envelope.signature)
}

#[test]
fn differential_seeds_parse() {
    for seed in differential_seeds() {
        assert!(same_as_oracle(&seed));
    }
}

#[test]
fn differential_every_prefix_and_single_byte_edit() {
    let seeds = differential_seeds();
    let mut accepted = 0usize;
    let mut tried = 0usize;
    for (i, seed) in seeds.iter().enumerate() {
        // Every prefix of every seed, tokens and revocations alike.
        for n in 0..seed.len() {
            assert!(!same_as_oracle(&seed[..n]), "seed {i}: prefix {n} parsed");
        }
        // The plain token and the revocation: every byte of every part,
        // flipped, replaced by an interesting head, deleted, or preceded by
        // a new byte. (The other seeds get random edits below.)
        if i != 0 && i != 3 {
            continue;
        }
        for part in [Part::Message, Part::Protected, Part::Payload] {
            let len = mutate_part(seed, part, |_| {}).len();
            for at in 0..len {
                for op in 0..9u8 {
                    let m = mutate_part(seed, part, |b| {
                        let Some(byte) = b.get_mut(at) else { return };
                        match op {
                            0 => *byte ^= 0x01,
                            1 => *byte ^= 0x20,
                            2 => *byte ^= 0x80,
                            3 => *byte = byte.wrapping_add(1),
                            4 => *byte = 0x18,
                            5 => *byte = 0xf6,
                            6 => *byte = 0xc2,
                            7 => {
                                b.remove(at);
                            }
                            _ => b.insert(at, 0x00),
                        }
                    });
                    tried += 1;
                    accepted += usize::from(same_as_oracle(&m));
                }
            }
        }
    }
    // Edits inside strings survive parsing; the sweep reaches accept paths.
    assert!(accepted > 100, "{accepted} of {tried} accepted");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Random multi-byte edits of any seed and part: the fast parsers
    /// accept exactly what the oracle accepts, and fail the same way.
    #[test]
    fn differential_random_edits(
        seed in 0usize..5,
        part in 0u8..3,
        edits in proptest::collection::vec((0u8..5, proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..5),
    ) {
        let seeds = differential_seeds();
        let part = [Part::Message, Part::Protected, Part::Payload][usize::from(part)];
        let m = mutate_part(&seeds[seed], part, |b| {
            for (op, at, v) in edits {
                if b.is_empty() {
                    b.push(v);
                    continue;
                }
                let at = at % b.len();
                match op {
                    0 => b[at] = v,
                    1 => b[at] ^= v,
                    2 => b.insert(at, v),
                    3 => {
                        b.remove(at);
                    }
                    // Duplicate a run: repeats keys, items, heads.
                    _ => {
                        let end = (at + usize::from(v % 16) + 1).min(b.len());
                        let run = b[at..end].to_vec();
                        b.splice(at..at, run);
                    }
                }
            }
        });
        same_as_oracle(&m);
    }
}

/// The signer no longer parses its own output, so it checks the size limit
/// itself: a token that would exceed [`MAX_STATEMENT_SIZE`] (here through a
/// large certificate chain) is refused, and one just under it is built and
/// reads back equal.
#[test]
fn the_signer_refuses_a_token_over_the_size_limit() {
    // Between 256 bytes and 64 KiB the CBOR heads keep their width, so the
    // token grows by exactly the certificate's growth.
    let with = |len: usize| builder().x5chain(vec![vec![0x30; len]]);
    let base = with(1000).sign(&key(1)).unwrap().logged_bytes().len() - 1000;
    let room = MAX_STATEMENT_SIZE - base;
    let over = with(room + 1).sign(&key(1));
    assert!(
        matches!(
            over,
            Err(TokenBuildError::Encoded(TokenParseError::TooLarge { len })) if len == MAX_STATEMENT_SIZE + 1
        ),
        "{over:?}"
    );
    let fits = with(room).sign(&key(1)).unwrap();
    assert_eq!(fits.logged_bytes().len(), MAX_STATEMENT_SIZE);
    assert_eq!(Token::parse(fits.logged_bytes()).unwrap(), fits);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// The issuing path writes the payload straight from the fields
    /// (`Provenance::to_cbor`); it must give exactly the bytes of the
    /// reference encoding of the value tree, which sorts map keys itself,
    /// for any subset of roles, text lengths either side of the one-byte
    /// head (23/24 bytes), any integer width, and each optional field.
    #[test]
    fn the_direct_payload_writer_matches_the_reference_encoding(
        images in proptest::sample::subsequence(ImageRole::ALL.to_vec(), 0..=6),
        video in proptest::prelude::any::<bool>(),
        texts in proptest::collection::vec("[a-z0-9 é]{1,30}", 8),
        numbers in proptest::collection::vec(proptest::prelude::any::<u64>(), 6),
        origin in proptest::option::of("[A-Za-z ]{1,30}"),
        supersedes in proptest::option::of(proptest::prelude::any::<[u8; 32]>()),
    ) {
        let media = |i: usize| format!("image/{}", texts[i % texts.len()].replace(' ', "-"));
        let p = Provenance {
            report: FileDigest {
                sha256: digest(&texts[0]),
                media_type: "application/pdf".into(),
                size: numbers[0],
            },
            images: images
                .iter()
                .enumerate()
                .map(|(i, role)| ImageDigest {
                    role: *role,
                    sha256: digest(role.as_str()),
                    media_type: media(i),
                    size: numbers[i % numbers.len()],
                })
                .collect(),
            videos: if video {
                vec![VideoDigest {
                    role: VideoRole::LightPlay,
                    sha256: digest("video"),
                    media_type: "video/mp4".into(),
                    size: numbers[5],
                }]
            } else {
                Vec::new()
            },
            stone: Stone {
                variety: texts[1].clone(),
                species: texts[2].clone(),
                weight_mct: numbers[1],
                colour: texts[3].clone(),
                shape: texts[4].clone(),
                cut: texts[5].clone(),
                clarity: texts[6].clone(),
                dimensions_um: [numbers[2], numbers[3], numbers[4]],
                treatment: texts[7].clone(),
                origin,
            },
            supersedes: supersedes.map(TokenId),
        };
        let direct = p.to_cbor();
        proptest::prop_assert_eq!(&direct, &cbor::encode(&p.to_value()));
        proptest::prop_assert!(cbor::check(&direct).is_ok());
    }
}

proptest::proptest! {
    /// Digest parsing (one pass, lowercase only) agrees with the `hex`
    /// crate on every string of the right length drawn from an alphabet
    /// with upper-case and non-hex letters, and round-trips with Display.
    #[test]
    fn digest_hex_parsing_agrees_with_the_hex_crate(
        mixed_case in "[0-9a-fA-F]{64}",
        past_f in "[0-9a-z]{64}",
        bytes in proptest::prelude::any::<[u8; 32]>(),
        cut in 0usize..64,
        bad in "[g-zA-Z/:@`{ ]",
    ) {
        for s in [mixed_case, past_f] {
            let lower = s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            let expected = lower.then(|| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(&s, &mut out).map(|()| out).ok()
            }).flatten();
            proptest::prop_assert_eq!(s.parse::<Sha256Digest>().ok().map(|d| d.0), expected);
        }
        let shown = Sha256Digest(bytes).to_string();
        proptest::prop_assert_eq!(shown.parse::<Sha256Digest>().map(|d| d.0), Ok(bytes));
        proptest::prop_assert!(shown[..cut].parse::<Sha256Digest>().is_err());
        // One character outside the alphabet anywhere is refused.
        let mut one_off = shown.clone();
        one_off.replace_range(cut..=cut, &bad);
        proptest::prop_assert!(one_off.parse::<Sha256Digest>().is_err(), "{one_off}");
        let mut long = shown.clone();
        long.push('0');
        proptest::prop_assert!(long.parse::<Sha256Digest>().is_err());
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// The protected header is written straight from its parts
    /// (`envelope::protected_header`); it must give exactly the bytes of
    /// the reference value's encoding, for both algorithms, either content
    /// type, no certificate, one (a byte string) or several (an array),
    /// claims of any length and any `iat`, including the claims a
    /// revocation carries.
    #[test]
    fn the_direct_protected_header_writer_matches_the_reference_encoding(
        eddsa in proptest::prelude::any::<bool>(),
        token in proptest::prelude::any::<bool>(),
        iss in "[a-z.]{1,40}",
        sub in "[A-Z0-9-]{1,40}",
        iat in proptest::prelude::any::<u64>(),
        cti in proptest::prelude::any::<[u8; 16]>(),
        chain in proptest::option::of(proptest::collection::vec(
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 1..4)),
    ) {
        let claims = CwtClaims { iss, sub, iat, cti: Cti(cti) };
        let mut written = Vec::new();
        claims.write_cbor(&mut written);
        proptest::prop_assert_eq!(&written, &cbor::encode(&claims.to_value()));
        let spec = super::envelope::ProtectedSpec {
            alg: if eddsa { Algorithm::EdDsa } else { Algorithm::Ed25519 },
            kid: Kid::of(&key(3).verifying_key()),
            content_type: if token { TOKEN_CONTENT_TYPE } else { REVOCATION_CONTENT_TYPE },
            cwt_claims: &written,
            x5chain: chain.as_deref(),
        };
        let direct = super::envelope::protected_header(&spec);
        proptest::prop_assert_eq!(&direct, &cbor::encode(&super::envelope::protected_value(&spec)));
        proptest::prop_assert!(cbor::check(&direct).is_ok());
    }
}
