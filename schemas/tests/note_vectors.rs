//! Public signed-note, checkpoint and cosignature vectors
//! (`tests/vectors/note/`, origins in its `ORIGIN.md`): the good ones
//! verify, altered ones fail.

// Test helpers outside `#[test]` functions panic on bad vectors by design.
#![allow(clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use loupe_schemas::checkpoint::{
    Checkpoint, CheckpointError, CosignatureSigner, NoteError, NoteParseError, NoteSigner,
    NoteVerifier, SignatureType, open_checkpoint, open_note, sign_checkpoint, sign_note,
};
use sha2::{Digest as _, Sha256};

macro_rules! vector {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/note/",
            $name
        ))
    };
}

/// A time after every timestamp in the vectors.
const NOW: u64 = 1_800_000_000;

fn vkey(s: &str) -> NoteVerifier {
    NoteVerifier::from_vkey(s.trim_end()).expect("vector vkey parses")
}

fn is_malformed(r: &Result<impl std::fmt::Debug, NoteError>) -> bool {
    matches!(r, Err(NoteError::Malformed(_)))
}

/// Flipping a bit in any byte of `note` must make it fail to open with
/// `verifiers` (one bit per byte, cycling through the bit positions, to
/// keep debug-build signature checks affordable).
fn assert_every_byte_flip_fails(note: &str, verifiers: &[NoteVerifier]) {
    let bytes = note.as_bytes();
    for i in 0..bytes.len() {
        let bit = i % 8;
        let mut altered = bytes.to_vec();
        altered[i] ^= 1 << bit;
        assert!(
            open_note(&altered, verifiers).is_err(),
            "flipping bit {bit} of byte {i} still opens"
        );
    }
}

// ---- golang.org/x/mod/sumdb/note ----------------------------------------

const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";

fn go_peter_sig() -> &'static str {
    vector!("go-note-peter.note")
        .strip_prefix(GO_TEXT)
        .and_then(|s| s.strip_prefix('\n'))
        .expect("peter note layout")
}

fn go_enoch_sig() -> &'static str {
    vector!("go-note-peter-enoch.note")
        .strip_prefix(vector!("go-note-peter.note"))
        .expect("peter-enoch note layout")
}

#[test]
fn go_keys_parse_and_round_trip() {
    let peter = vkey(vector!("go-note-peter.vkey"));
    assert_eq!(peter.name(), "PeterNeumann");
    assert_eq!(peter.key_id(), 0xc74f_20a3);
    assert_eq!(peter.signature_type(), SignatureType::Ed25519);
    assert_eq!(peter.to_vkey(), vector!("go-note-peter.vkey").trim_end());

    let signer = NoteSigner::from_skey(vector!("go-note-peter.skey").trim_end()).unwrap();
    assert_eq!(signer.to_skey(), vector!("go-note-peter.skey").trim_end());
    assert_eq!(signer.verifier(), peter);

    let enoch = vkey(vector!("go-note-enoch.vkey"));
    assert_eq!((enoch.name(), enoch.key_id()), ("EnochRoot", 0xaf0c_fe78));
}

#[test]
fn go_mangled_keys_are_rejected() {
    // As TestNewVerifier / TestNewSigner: every proper substring and every
    // single-byte increment must fail.
    for (key, parse) in [
        (
            vector!("go-note-peter.vkey").trim_end(),
            (|s: &str| NoteVerifier::from_vkey(s).is_ok()) as fn(&str) -> bool,
        ),
        (vector!("go-note-peter.skey").trim_end(), |s: &str| {
            NoteSigner::from_skey(s).is_ok()
        }),
    ] {
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if (i, j) != (0, b.len()) {
                    let sub = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(!parse(sub), "substring {i}..{j} {sub:?} accepted");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let s = String::from_utf8(m).unwrap();
            assert!(!parse(&s), "increment at {i} {s:?} accepted");
        }
    }
    // The two hand-made bad keys of TestNewVerifier.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(NoteVerifier::from_vkey(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn go_sign_reproduces_the_go_output() {
    let signer = NoteSigner::from_skey(vector!("go-note-peter.skey").trim_end()).unwrap();
    assert_eq!(
        sign_note(GO_TEXT, &[&signer]).unwrap(),
        vector!("go-note-peter.note")
    );
}

#[test]
fn go_open() {
    let peter = vkey(vector!("go-note-peter.vkey"));
    let enoch = vkey(vector!("go-note-enoch.vkey"));
    let both = vector!("go-note-peter-enoch.note");

    let n = open_note(
        vector!("go-note-peter.note").as_bytes(),
        std::slice::from_ref(&peter),
    )
    .unwrap();
    assert_eq!(n.text(), GO_TEXT);
    assert_eq!(n.signatures().len(), 1);

    // One verified, one not; the unverified line is kept verbatim.
    let n = open_note(both.as_bytes(), std::slice::from_ref(&peter)).unwrap();
    assert_eq!(n.signatures()[0].name(), "PeterNeumann");
    assert_eq!(n.signatures()[0].key_id(), 0xc74f_20a3);
    assert_eq!(n.unverified_signatures().len(), 1);
    assert_eq!(n.unverified_signatures()[0].to_line(), go_enoch_sig());
    assert_eq!(n.unverified_signatures()[0].key_id(), 0xaf0c_fe78);

    // Both verified.
    let n = open_note(both.as_bytes(), &[peter.clone(), enoch.clone()]).unwrap();
    assert_eq!(n.signatures().len(), 2);
    assert!(n.unverified_signatures().is_empty());

    // Neither known.
    assert_eq!(
        open_note(both.as_bytes(), &[]),
        Err(NoteError::NoVerifiedSignature)
    );

    // Duplicated verifier.
    assert!(matches!(
        open_note(
            both.as_bytes(),
            &[enoch.clone(), peter.clone(), enoch.clone()]
        ),
        Err(NoteError::AmbiguousKey { .. })
    ));

    // Too many signatures, with or without known keys.
    let many = format!("{GO_TEXT}\n{}", go_peter_sig().repeat(101));
    for verifiers in [vec![peter.clone()], vec![]] {
        assert_eq!(
            open_note(many.as_bytes(), &verifiers),
            Err(NoteError::Malformed(NoteParseError::TooManySignatures {
                max: 100
            }))
        );
    }

    // Invalid signature (four base64 characters inserted at byte 60).
    let p = go_peter_sig();
    let bad_peter = format!("{}ABCD{}", &p[..60], &p[60..]);
    assert!(matches!(
        open_note(
            format!("{GO_TEXT}\n{bad_peter}").as_bytes(),
            std::slice::from_ref(&peter)
        ),
        Err(NoteError::InvalidSignature {
            key_id: 0xc74f_20a3,
            ..
        })
    ));

    // Duplicated verified and unverified signatures.
    let e = go_enoch_sig();
    let enoch_abcd = format!("{}ABCD{}", &e[..60], &e[60..]);
    let msg = format!("{GO_TEXT}\n{p}{p}{e}{e}{enoch_abcd}");
    let n = open_note(msg.as_bytes(), std::slice::from_ref(&peter)).unwrap();
    assert_eq!(n.signatures().len(), 1);
    let unverified: Vec<String> = n
        .unverified_signatures()
        .iter()
        .map(|s| s.to_line())
        .collect();
    assert_eq!(unverified, [e.to_owned(), enoch_abcd]);

    // TestOpen's badMsgs: all malformed.
    let bad_msgs = [
        GO_TEXT.to_owned(),
        format!("{GO_TEXT}\n"),
        format!("{GO_TEXT}\n{}", &p[..p.len() - 1]),
        format!("\x01{GO_TEXT}\n{p}"),
        format!(
            "{GO_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{GO_TEXT}\n{p}Unexpected line.\n"),
    ];
    for (i, msg) in bad_msgs.iter().enumerate() {
        assert!(
            is_malformed(&open_note(msg.as_bytes(), std::slice::from_ref(&peter))),
            "badMsgs[{i}] not rejected as malformed"
        );
    }
    let mut invalid_utf8 = b"\xff".to_vec();
    invalid_utf8.extend_from_slice(format!("{GO_TEXT}\n{p}").as_bytes());
    assert!(is_malformed(&open_note(
        &invalid_utf8,
        std::slice::from_ref(&peter)
    )));

    // A signature line under another name, or with another key id, is
    // from an unknown key.
    for altered in [
        p.replace("PeterNeumann", "CarmenSandiego"),
        p.replace("x08g", "xxxx"),
    ] {
        assert_eq!(
            open_note(
                format!("{GO_TEXT}\n{altered}").as_bytes(),
                std::slice::from_ref(&peter)
            ),
            Err(NoteError::NoVerifiedSignature)
        );
    }
}

#[test]
fn go_every_byte_flip_fails() {
    assert_every_byte_flip_fails(
        vector!("go-note-peter.note"),
        &[vkey(vector!("go-note-peter.vkey"))],
    );
}

// ---- sum.golang.org ---------------------------------------------------

#[test]
fn sumdb_checkpoints_verify() {
    let key = vkey(vector!("sumdb.vkey"));
    for (note, size) in [
        (vector!("sumdb-tree-6476701.note"), 6_476_701),
        (vector!("sumdb-tree-30055305.note"), 30_055_305),
    ] {
        let n = open_note(note.as_bytes(), std::slice::from_ref(&key)).unwrap();
        let cp = Checkpoint::parse(n.text()).unwrap();
        assert_eq!(cp.origin(), "go.sum database tree");
        assert_eq!(cp.size(), size);
        assert_eq!(cp.to_body(), n.text());

        // Loupe requires key name = origin: the sumdb layout is refused.
        assert!(matches!(
            open_checkpoint(note.as_bytes(), "go.sum database tree", &key, &[], 0, NOW),
            Err(CheckpointError::KeyNameNotOrigin { .. })
        ));

        // Another tree size under the same signature fails.
        let altered = note.replacen(&size.to_string(), &(size + 1).to_string(), 1);
        assert!(matches!(
            open_note(altered.as_bytes(), std::slice::from_ref(&key)),
            Err(NoteError::InvalidSignature { .. })
        ));
        assert_every_byte_flip_fails(note, std::slice::from_ref(&key));
    }
}

// ---- Sigsum -----------------------------------------------------------

/// `crypto.PrivateKey{17}` of sigsum-go's tests.
fn sigsum_test_key() -> SigningKey {
    let mut seed = [0u8; 32];
    seed[0] = 17;
    SigningKey::from_bytes(&seed)
}

#[test]
fn sigsum_checkpoint_opens() {
    let note = vector!("sigsum-checkpoint.note");
    let origin = note.lines().next().unwrap();
    // Sigsum's origin commits to the log key: sigsum.org/v1/tree/<hex sha256(key)>.
    let public = sigsum_test_key().verifying_key();
    assert_eq!(
        origin,
        format!(
            "sigsum.org/v1/tree/{}",
            hex::encode(Sha256::digest(public.as_bytes()))
        )
    );
    let log = NoteVerifier::new(origin, SignatureType::Ed25519, public).unwrap();
    let cp = open_checkpoint(note.as_bytes(), origin, &log, &[], 0, NOW).unwrap();
    assert_eq!(cp.size(), 10);
    let mut root = [0u8; 32];
    root[..3].copy_from_slice(&[28, 14, 71]);
    assert_eq!(cp.root_hash(), &root);
    assert_eq!(cp.signed_note(), note);

    // Re-signing the same body with the same key reproduces the note.
    let signer = NoteSigner::new(origin, sigsum_test_key()).unwrap();
    assert_eq!(sign_checkpoint(cp.checkpoint(), &signer).unwrap(), note);

    // Every altered byte fails to open as a checkpoint too.
    let bytes = note.as_bytes();
    for i in 0..bytes.len() {
        let mut altered = bytes.to_vec();
        altered[i] ^= 0x01;
        assert!(
            open_checkpoint(&altered, origin, &log, &[], 0, NOW).is_err(),
            "altered byte {i} still opens"
        );
    }
}

#[test]
fn sigsum_cosignatures() {
    let body = vector!("sigsum-cosigned-body.txt");
    let lines: Vec<&str> = vector!("sigsum-cosignature-lines.txt")
        .split_inclusive('\n')
        .collect();
    assert_eq!(lines.len(), 4);
    let witness = NoteVerifier::new(
        "example.org/witness",
        SignatureType::CosignatureV1,
        sigsum_test_key().verifying_key(),
    )
    .unwrap();

    // Lines 1-3: line 2 verifies (timestamp 1234); lines 1 and 3 are from
    // unknown keys (other key id, other name) and kept.
    let note = format!("{body}\n{}{}{}", lines[0], lines[1], lines[2]);
    let n = open_note(note.as_bytes(), std::slice::from_ref(&witness)).unwrap();
    assert_eq!(n.signatures().len(), 1);
    assert_eq!(n.signatures()[0].timestamp(), Some(1234));
    assert_eq!(n.signatures()[0].line().to_line(), lines[1]);
    let kept: Vec<String> = n
        .unverified_signatures()
        .iter()
        .map(|s| s.to_line())
        .collect();
    assert_eq!(kept, [lines[0], lines[2]]);

    // Line 4 (same key, other signature size) fails alone, and conflicts
    // with line 2.
    let note4 = format!("{body}\n{}", lines[3]);
    assert!(matches!(
        open_note(note4.as_bytes(), std::slice::from_ref(&witness)),
        Err(NoteError::InvalidSignature { .. })
    ));
    let note24 = format!("{body}\n{}{}", lines[1], lines[3]);
    assert!(matches!(
        open_note(note24.as_bytes(), std::slice::from_ref(&witness)),
        Err(NoteError::ConflictingSignatures { .. })
    ));

    // The same key as an Ed25519 (0x01) key has another key id: unknown.
    let plain = NoteVerifier::new(
        "example.org/witness",
        SignatureType::Ed25519,
        sigsum_test_key().verifying_key(),
    )
    .unwrap();
    let single = format!("{body}\n{}", lines[1]);
    assert_eq!(
        open_note(single.as_bytes(), &[plain]),
        Err(NoteError::NoVerifiedSignature)
    );
    assert_every_byte_flip_fails(&single, std::slice::from_ref(&witness));

    // Our cosigner produces sigsum's line byte for byte. (The log signature
    // needed to get a VerifiedCheckpoint is made here with a local key; the
    // cosignature covers only the body.)
    let log_signer = NoteSigner::new("example.org/log", SigningKey::from_bytes(&[3; 32])).unwrap();
    let cp = Checkpoint::parse(body).unwrap();
    let signed = sign_checkpoint(&cp, &log_signer).unwrap();
    let verified = open_checkpoint(
        signed.as_bytes(),
        "example.org/log",
        &log_signer.verifier(),
        &[],
        0,
        NOW,
    )
    .unwrap();
    let cosigner = CosignatureSigner::new("example.org/witness", sigsum_test_key()).unwrap();
    assert_eq!(cosigner.verifier(), witness);
    assert_eq!(
        cosigner.cosignature_line(&verified, 1234).unwrap(),
        lines[1]
    );
}

// ---- Torchwood / litewitness -----------------------------------------

#[test]
fn torchwood_sigsum_checkpoint_opens() {
    let note = vector!("torchwood-sigsum-checkpoint.note");
    let key: [u8; 32] = hex::decode(vector!("torchwood-sigsum-log.hex").trim_end())
        .unwrap()
        .try_into()
        .unwrap();
    let key = VerifyingKey::from_bytes(&key).unwrap();
    let origin = note.lines().next().unwrap();
    assert_eq!(
        origin,
        format!(
            "sigsum.org/v1/tree/{}",
            hex::encode(Sha256::digest(key.as_bytes()))
        )
    );
    let log = NoteVerifier::new(origin, SignatureType::Ed25519, key).unwrap();
    let cp = open_checkpoint(note.as_bytes(), origin, &log, &[], 0, NOW).unwrap();
    assert_eq!(cp.size(), 1);
    assert_eq!(cp.root_hash()[0], 0x2a);
    assert_every_byte_flip_fails(note, std::slice::from_ref(&log));

    // A witness policy this note cannot meet.
    let w = CosignatureSigner::new("witness.example/w", SigningKey::from_bytes(&[9; 32])).unwrap();
    assert_eq!(
        open_checkpoint(note.as_bytes(), origin, &log, &[w.verifier()], 1, NOW),
        Err(CheckpointError::NotEnoughCosignatures { have: 0, need: 1 })
    );
}

// ---- C2SP spec examples (no keys published: parse only) -----------------

#[test]
fn c2sp_examples_are_well_formed() {
    for note in [
        vector!("c2sp-signed-note-example.note"),
        vector!("c2sp-tlog-checkpoint-example.note"),
        vector!("c2sp-tlog-cosignature-example.note"),
    ] {
        // Well-formed, but no key is known: not Malformed.
        assert_eq!(
            open_note(note.as_bytes(), &[]),
            Err(NoteError::NoVerifiedSignature)
        );
        // Truncating the final newline makes it malformed.
        assert!(is_malformed(&open_note(
            &note.as_bytes()[..note.len() - 1],
            &[]
        )));
    }

    // A key with the example's name but (necessarily) another key id is
    // ignored, as the spec requires.
    let same_name = NoteSigner::new(
        "quasimodo.example/salvatore",
        SigningKey::from_bytes(&[5; 32]),
    )
    .unwrap()
    .verifier();
    assert_eq!(
        open_note(
            vector!("c2sp-signed-note-example.note").as_bytes(),
            &[same_name]
        ),
        Err(NoteError::NoVerifiedSignature)
    );

    for note in [
        vector!("c2sp-tlog-checkpoint-example.note"),
        vector!("c2sp-tlog-cosignature-example.note"),
    ] {
        let (body, _) = note.split_once("\n\n").unwrap();
        let cp = Checkpoint::parse(&format!("{body}\n")).unwrap();
        assert_eq!(cp.origin(), "example.com/behind-the-sofa");
        assert_eq!(cp.size(), 20_852_163);
    }

    // The cosignature example's line: key id ‖ u64 timestamp ‖ 64-byte sig,
    // timestamp 1679315147 as in the spec's signed-message example.
    let line = vector!("c2sp-tlog-cosignature-example.note")
        .lines()
        .last()
        .unwrap();
    let b64 = line
        .strip_prefix("\u{2014} witness.example.com/w1 ")
        .unwrap();
    let raw = STANDARD.decode(b64).unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(
        u64::from_be_bytes(raw[4..12].try_into().unwrap()),
        1_679_315_147
    );
}
