//! Unit tests for signed notes, checkpoints and cosignatures. Public
//! vectors are in `schemas/tests/note_vectors.rs`.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use proptest::prelude::*;

use super::*;

const ORIGIN: &str = "lab.example/log";
const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn log_signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, key(1)).unwrap()
}

fn witness(n: u8) -> CosignatureSigner {
    CosignatureSigner::new(&format!("witness{n}.example/w"), key(100 + n)).unwrap()
}

fn checkpoint(size: u64) -> Checkpoint {
    Checkpoint::new(ORIGIN, size, [size as u8; 32], vec![]).unwrap()
}

fn signed(size: u64) -> String {
    sign_checkpoint(&checkpoint(size), &log_signer()).unwrap()
}

fn open_plain(note: &str) -> Result<VerifiedCheckpoint, CheckpointError> {
    open_checkpoint(
        note.as_bytes(),
        ORIGIN,
        &log_signer().verifier(),
        &[],
        0,
        NOW,
    )
}

/// The checkpoint of size 42 signed by the log and cosigned by witnesses
/// 1..=n at NOW.
fn cosigned(n: u8) -> String {
    let mut note = signed(42);
    for i in 1..=n {
        let v = open_plain(&note).unwrap();
        note = witness(i).cosign(&v, NOW).unwrap();
    }
    note
}

fn witnesses(ns: &[u8]) -> Vec<NoteVerifier> {
    ns.iter().map(|&n| witness(n).verifier()).collect()
}

// ---- keys -------------------------------------------------------------

#[test]
fn key_name_table() {
    let rows: &[(&str, bool)] = &[
        ("lab.example/log", true),
        ("PeterNeumann", true),
        ("sigsum.org/v1/tree/00ff", true),
        ("ünïcødé.example", true),
        ("", false),
        ("a+b", false),
        ("a b", false),
        ("a\tb", false),
        ("a\u{00a0}b", false), // no-break space
        ("a\u{2003}b", false), // em space
        ("a\u{3000}b", false), // ideographic space
        ("a\u{1}b", false),
        ("a\nb", false),
    ];
    for (i, &(name, ok)) in rows.iter().enumerate() {
        assert_eq!(is_valid_key_name(name), ok, "row {i}: {name:?}");
        assert_eq!(
            NoteSigner::new(name, key(1)).is_ok(),
            ok,
            "row {i}: NoteSigner::new({name:?})"
        );
    }
}

#[test]
fn key_id_is_sha256_prefix() {
    use sha2::{Digest as _, Sha256};
    let k = key(7).verifying_key();
    let mut h = Sha256::new();
    h.update(b"name\n\x04");
    h.update(k.as_bytes());
    let d = h.finalize();
    assert_eq!(
        key_id("name", SignatureType::CosignatureV1, &k),
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    );
    assert_ne!(
        key_id("name", SignatureType::CosignatureV1, &k),
        key_id("name", SignatureType::Ed25519, &k)
    );
}

#[test]
fn vkey_and_skey_round_trip() {
    let s = log_signer();
    let v = NoteVerifier::from_vkey(&s.verifier().to_vkey()).unwrap();
    assert_eq!(v, s.verifier());
    assert_eq!(v.to_string(), v.to_vkey());
    assert_eq!(v.to_vkey().parse::<NoteVerifier>().unwrap(), v);
    let s2 = NoteSigner::from_skey(&s.to_skey()).unwrap();
    assert_eq!(s2.verifier(), s.verifier());

    let w = witness(1).verifier();
    let parsed = NoteVerifier::from_vkey(&w.to_vkey()).unwrap();
    assert_eq!(parsed.signature_type(), SignatureType::CosignatureV1);
    assert_eq!(parsed, w);
    // base64(0x04 ‖ key) starts with 'B'.
    assert!(w.to_vkey().split('+').nth(2).unwrap().starts_with('B'));

    // A note skey becomes a cosigner with a type-0x04 key id.
    let c = CosignatureSigner::from_skey(&NoteSigner::new("w.example", key(9)).unwrap().to_skey())
        .unwrap();
    assert_eq!(c.verifier().signature_type(), SignatureType::CosignatureV1);
    assert_eq!(
        c.key_id(),
        key_id(
            "w.example",
            SignatureType::CosignatureV1,
            &key(9).verifying_key()
        )
    );
}

#[test]
fn vkey_bad_rows() {
    let good = log_signer().verifier().to_vkey();
    let (name_id, b64) = good.rsplit_once('+').unwrap();
    let id = &name_id[ORIGIN.len() + 1..];
    let upper = format!("{ORIGIN}+{}+{b64}", id.to_uppercase());
    let rows: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("no plus", ORIGIN.to_owned()),
        ("one plus", format!("{ORIGIN}+{id}")),
        ("empty name", format!("+{id}+{b64}")),
        ("name with space", format!("lab example+{id}+{b64}")),
        ("short key id", format!("{ORIGIN}+{}+{b64}", &id[1..])),
        ("uppercase key id", upper),
        ("key id mismatch", format!("{ORIGIN}+00000000+{b64}")),
        ("bad base64", format!("{ORIGIN}+{id}+!!!!")),
        ("base64 extra padding", format!("{ORIGIN}+{id}+{b64}=")),
        (
            "base64 truncated",
            format!("{ORIGIN}+{id}+{}", &b64[..b64.len() - 4]),
        ),
        ("trailing space", format!("{good} ")),
        ("leading space", format!(" {good}")),
        ("type 0x02", format!("{ORIGIN}+{id}+Ag{}", &b64[2..])),
        ("short key", format!("{ORIGIN}+{id}+AQID")),
        ("empty key", format!("{ORIGIN}+{id}+")),
        ("private prefix", format!("PRIVATE+KEY+{good}")),
    ];
    for (label, vkey) in &rows {
        assert!(
            NoteVerifier::from_vkey(vkey).is_err(),
            "row {label:?} accepted: {vkey:?}"
        );
    }
    // A small-order public key is refused.
    let mut small = vec![0x01];
    small.extend_from_slice(&[0u8; 32]); // not a valid point; identity is 01 00..
    let mut identity = vec![0x01, 0x01];
    identity.extend_from_slice(&[0u8; 31]);
    for material in [small, identity] {
        let pk: [u8; 32] = material[1..].try_into().unwrap();
        let err = NoteVerifier::from_vkey(&format!(
            "x+00000000+{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &material)
        ))
        .unwrap_err();
        assert!(
            matches!(err, KeyError::WeakPublicKey | KeyError::InvalidPublicKey),
            "{pk:?}: {err:?}"
        );
    }
}

#[test]
fn skey_bad_rows() {
    let good = log_signer().to_skey();
    let rows: Vec<(&str, String)> = vec![
        ("verifier key", log_signer().verifier().to_vkey()),
        (
            "lowercase prefix",
            good.replacen("PRIVATE+KEY", "private+key", 1),
        ),
        ("missing KEY", good.replacen("PRIVATE+KEY+", "PRIVATE+", 1)),
        ("key id mismatch", {
            let (pre, rest) = good.split_at("PRIVATE+KEY+".len() + ORIGIN.len() + 1);
            format!("{pre}00000000{}", &rest[8..])
        }),
        ("cosignature type", {
            let c = witness(1).verifier().to_vkey();
            format!("PRIVATE+KEY+{c}")
        }),
    ];
    for (label, skey) in &rows {
        assert!(
            NoteSigner::from_skey(skey).is_err(),
            "row {label:?} accepted: {skey:?}"
        );
    }
}

#[test]
fn debug_does_not_show_private_keys() {
    let s = log_signer();
    let seed_b64 = s.to_skey().rsplit_once('+').unwrap().1.to_owned();
    for dbg in [format!("{s:?}"), format!("{:?}", witness(1))] {
        assert!(!dbg.contains(&seed_b64), "{dbg}");
        assert!(!dbg.contains("SigningKey"), "{dbg}");
    }
}

// ---- notes ------------------------------------------------------------

#[test]
fn note_round_trip_with_several_signers() {
    let a = NoteSigner::new("a.example", key(1)).unwrap();
    let b = NoteSigner::new("b.example", key(2)).unwrap();
    let text = "hello\n\nworld with a blank line\n";
    let note = sign_note(text, &[&a, &b]).unwrap();
    let n = open_note(note.as_bytes(), &[a.verifier(), b.verifier()]).unwrap();
    assert_eq!(n.text(), text);
    let names: Vec<&str> = n.signatures().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["a.example", "b.example"]);
    assert!(n.signatures().iter().all(|s| s.timestamp().is_none()));

    // Only b known: a kept verbatim as unverified.
    let n = open_note(note.as_bytes(), &[b.verifier()]).unwrap();
    assert_eq!(n.unverified_signatures().len(), 1);
    let line = n.unverified_signatures()[0].to_line();
    assert!(note.contains(&line), "{line:?} not verbatim in {note:?}");
    assert_eq!(n.unverified_signatures()[0].key_id(), a.key_id());
}

#[test]
fn every_truncated_prefix_fails() {
    // A note with one signature: no proper prefix is a note.
    let note = signed(42);
    let log = log_signer().verifier();
    for len in 0..note.len() {
        let prefix = &note.as_bytes()[..len];
        assert!(
            open_note(prefix, std::slice::from_ref(&log)).is_err(),
            "prefix of {len} bytes opens as a note"
        );
    }
    // With cosignatures, a prefix ending between signature lines is a
    // valid note with fewer signatures, so a policy needing both
    // witnesses must refuse every proper prefix.
    let note = cosigned(2);
    let ws = witnesses(&[1, 2]);
    for len in 0..note.len() {
        let prefix = &note.as_bytes()[..len];
        assert!(
            open_checkpoint(prefix, ORIGIN, &log, &ws, 2, NOW).is_err(),
            "prefix of {len} bytes opens as a checkpoint"
        );
    }
    assert!(open_checkpoint(note.as_bytes(), ORIGIN, &log, &ws, 2, NOW).is_ok());
}

#[test]
fn tampering_fails() {
    let note = signed(42);
    let v = [log_signer().verifier()];
    let (text, sig_line) = note.split_once("\n\n").unwrap();
    let b64 = sig_line.rsplit_once(' ').unwrap().1.trim_end();
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
    let reencode = |raw: &[u8]| {
        let b = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw);
        note.replacen(b64, &b, 1)
    };

    // Text.
    let t = note.replacen("42", "43", 1);
    assert!(matches!(
        open_note(t.as_bytes(), &v),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Signature bytes.
    let mut r = raw.clone();
    r[10] ^= 1;
    assert!(matches!(
        open_note(reencode(&r).as_bytes(), &v),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Key id: the line is then from an unknown key.
    let mut r = raw.clone();
    r[0] ^= 1;
    assert_eq!(
        open_note(reencode(&r).as_bytes(), &v),
        Err(NoteError::NoVerifiedSignature)
    );
    // Truncated or extended signature from the known key.
    for r in [&raw[..raw.len() - 1], &[raw.as_slice(), &[0]].concat()[..]] {
        assert!(matches!(
            open_note(reencode(r).as_bytes(), &v),
            Err(NoteError::InvalidSignature { .. })
        ));
    }
    // Extra text line.
    let extra = format!("{text}\nextension\n\n{sig_line}");
    assert!(open_note(extra.as_bytes(), &v).is_err());
    // Non-canonical base64 (trailing bits) is malformed, not a new key.
    let last = b64.trim_end_matches('=').chars().last().unwrap();
    let bumped = char::from_u32(last as u32 + 1).unwrap();
    let noncanon = note.replacen(b64, &format!("{}{bumped}=", &b64[..b64.len() - 2]), 1);
    assert!(open_note(noncanon.as_bytes(), &v).is_err());
}

#[test]
fn wrong_key_fails() {
    let note = signed(42);
    // Another key under the same name has another key id: unknown.
    let other = NoteSigner::new(ORIGIN, key(2)).unwrap().verifier();
    assert_eq!(
        open_note(note.as_bytes(), std::slice::from_ref(&other)),
        Err(NoteError::NoVerifiedSignature)
    );
    assert_eq!(
        open_checkpoint(note.as_bytes(), ORIGIN, &other, &[], 0, NOW),
        Err(CheckpointError::MissingLogSignature)
    );
    // A line claiming the log's name and key id but signed by another key.
    let forged_body = checkpoint(42).to_body();
    let forger = NoteSigner::new(ORIGIN, key(2)).unwrap();
    let forged = sign_note(&forged_body, &[&forger]).unwrap();
    let real_id = format!("{:08x}", log_signer().key_id());
    let forged_raw = forged.rsplit_once(' ').unwrap().1.trim_end();
    let mut raw =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, forged_raw).unwrap();
    raw[..4].copy_from_slice(&log_signer().key_id().to_be_bytes());
    let forged = forged.replacen(
        forged_raw,
        &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw),
        1,
    );
    assert!(
        matches!(
            open_note(forged.as_bytes(), &[log_signer().verifier()]),
            Err(NoteError::InvalidSignature { .. })
        ),
        "forged line with key id {real_id}"
    );
}

#[test]
fn duplicate_and_conflicting_lines() {
    let note = signed(42);
    let line = note.split_once("\n\n").unwrap().1;
    let v = [log_signer().verifier()];
    // Identical repeat: counted once.
    let twice = format!("{note}{line}");
    let n = open_note(twice.as_bytes(), &v).unwrap();
    assert_eq!(n.signatures().len(), 1);
    // Unknown repeats are listed once.
    let n = open_note(twice.as_bytes(), &[witness(1).verifier(), v[0].clone()]).unwrap();
    assert_eq!(n.signatures().len(), 1);
    let stranger = NoteSigner::new("stranger", key(3)).unwrap();
    let s_line = sign_note(&checkpoint(42).to_body(), &[&stranger]).unwrap();
    let s_line = s_line.split_once("\n\n").unwrap().1;
    let with_dupes = format!("{note}{s_line}{s_line}");
    let n = open_note(with_dupes.as_bytes(), &v).unwrap();
    assert_eq!(n.unverified_signatures().len(), 1);
    // A second, different line under the log's name and key id.
    let other_line = sign_note(&checkpoint(43).to_body(), &[&log_signer()]).unwrap();
    let other_line = other_line.split_once("\n\n").unwrap().1;
    let conflict = format!("{note}{other_line}");
    assert_eq!(
        open_note(conflict.as_bytes(), &v),
        Err(NoteError::ConflictingSignatures {
            name: ORIGIN.to_owned(),
            key_id: log_signer().key_id()
        })
    );
}

#[test]
fn note_bad_rows() {
    let good = signed(42);
    let (text, line) = good.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let b64 = line.rsplit_once(' ').unwrap().1.trim_end();
    let big = "x".repeat(MAX_NOTE_SIZE);
    let rows: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("text only", text.clone()),
        ("no signature lines", format!("{text}\n")),
        ("no final newline", good.trim_end().to_owned()),
        ("carriage return", good.replacen('\n', "\r\n", 1)),
        ("tab in text", good.replacen("lab", "l\tb", 1)),
        ("NUL", format!("{good}\0")),
        (
            "hyphen instead of em dash",
            good.replacen('\u{2014}', "-", 1),
        ),
        ("en dash", good.replacen('\u{2014}', "\u{2013}", 1)),
        (
            "no space after dash",
            good.replacen("\u{2014} ", "\u{2014}", 1),
        ),
        (
            "two spaces after dash",
            good.replacen("\u{2014} ", "\u{2014}  ", 1),
        ),
        ("no signature", format!("{text}\n\u{2014} {ORIGIN}\n")),
        ("empty signature", format!("{text}\n\u{2014} {ORIGIN} \n")),
        (
            "space in base64",
            good.replacen(b64, &format!("{} {}", &b64[..4], &b64[4..]), 1),
        ),
        ("trailing space", good.replacen(b64, &format!("{b64} "), 1)),
        (
            "plus in name",
            good.replacen(&format!(" {ORIGIN} "), " a+b ", 1),
        ),
        (
            "4-byte signature",
            format!("{text}\n\u{2014} {ORIGIN} AAAAAA==\n"),
        ),
        ("blank line after signatures", format!("{good}\n")),
        ("text line after signatures", format!("{good}text\n")),
        ("too large", format!("{big}\n\n{line}")),
    ];
    for (label, note) in &rows {
        let r = open_note(note.as_bytes(), &[log_signer().verifier()]);
        assert!(
            matches!(r, Err(NoteError::Malformed(_))),
            "row {label:?}: {r:?}"
        );
    }
    // 100 signature lines are accepted, 101 are not.
    let others: Vec<NoteSigner> = (0..99)
        .map(|i| NoteSigner::new(&format!("s{i}"), key(i)).unwrap())
        .collect();
    let mut signers: Vec<&NoteSigner> = others.iter().collect();
    let log = log_signer();
    signers.push(&log);
    let hundred = sign_note(&text, &signers).unwrap();
    assert!(open_note(hundred.as_bytes(), &[log.verifier()]).is_ok());
    let extra = NoteSigner::new("s-extra", key(200)).unwrap();
    signers.push(&extra);
    assert_eq!(
        sign_note(&text, &signers),
        Err(NoteError::Malformed(NoteParseError::TooManySignatures {
            max: MAX_SIGNATURES
        }))
    );
    let hundred_one = format!("{hundred}{line}");
    assert!(matches!(
        open_note(hundred_one.as_bytes(), &[log.verifier()]),
        Err(NoteError::Malformed(
            NoteParseError::TooManySignatures { .. }
        ))
    ));
}

#[test]
fn sign_note_rejects_bad_input() {
    let s = log_signer();
    for (label, text) in [
        ("empty", ""),
        ("no final newline", "abc"),
        ("control character", "a\u{7}b\n"),
        ("carriage return", "a\r\n"),
    ] {
        assert!(
            matches!(sign_note(text, &[&s]), Err(NoteError::Malformed(_))),
            "row {label:?}"
        );
    }
    assert_eq!(sign_note("a\n", &[]), Err(NoteError::NoSigners));
    assert!(matches!(
        sign_note("a\n", &[&s, &s]),
        Err(NoteError::AmbiguousKey { .. })
    ));
    let too_big = format!("{}\n", "x".repeat(MAX_NOTE_SIZE));
    assert!(matches!(
        sign_note(&too_big, &[&s]),
        Err(NoteError::Malformed(NoteParseError::TooLarge { .. }))
    ));
}

// ---- checkpoint body --------------------------------------------------

#[test]
fn checkpoint_body_good_rows() {
    let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let rows: &[(&str, u64, usize)] = &[
        ("o\n0\n{root}\n", 0, 0),
        ("o\n1\n{root}\n", 1, 0),
        (
            "example.com/log with space\n18446744073709551615\n{root}\n",
            u64::MAX,
            0,
        ),
        ("o\n10\n{root}\next one\n— ext two\n", 10, 2),
    ];
    for (i, &(tmpl, size, exts)) in rows.iter().enumerate() {
        let body = tmpl.replace("{root}", root);
        let cp = Checkpoint::parse(&body).unwrap_or_else(|e| panic!("row {i}: {e}"));
        assert_eq!(cp.size(), size, "row {i}");
        assert_eq!(cp.extensions().len(), exts, "row {i}");
        assert_eq!(cp.to_body(), body, "row {i}: round trip");
        assert_eq!(cp.to_string(), body, "row {i}: Display");
    }
}

#[test]
fn checkpoint_body_bad_rows() {
    let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let rows: &[(&str, &str)] = &[
        ("empty", ""),
        ("no final newline", "o\n1\n{root}"),
        ("two lines", "o\n1\n"),
        ("empty origin", "\n1\n{root}\n"),
        ("leading zero", "o\n01\n{root}\n"),
        ("double zero", "o\n00\n{root}\n"),
        ("plus sign", "o\n+1\n{root}\n"),
        ("minus sign", "o\n-1\n{root}\n"),
        ("empty size", "o\n\n{root}\n"),
        ("space in size", "o\n1 \n{root}\n"),
        ("hex size", "o\n0x1\n{root}\n"),
        ("size overflow", "o\n18446744073709551616\n{root}\n"),
        (
            "root unpadded",
            "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n",
        ),
        (
            "root 31 bytes",
            "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
        ),
        (
            "root 33 bytes",
            "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        ),
        (
            "root urlsafe",
            "o\n1\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        ),
        (
            "root trailing bits",
            "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n",
        ),
        (
            "root hex",
            "o\n1\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
        ),
        ("empty extension", "o\n1\n{root}\n\n"),
        ("empty middle extension", "o\n1\n{root}\na\n\nb\n"),
        ("tab in origin", "o\tx\n1\n{root}\n"),
        ("carriage return", "o\r\n1\n{root}\n"),
    ];
    for (label, tmpl) in rows {
        let body = tmpl.replace("{root}", root);
        assert!(
            Checkpoint::parse(&body).is_err(),
            "row {label:?} accepted: {body:?}"
        );
    }
    let huge = format!("o\n1\n{root}\n{}\n", "x".repeat(MAX_CHECKPOINT_BODY_SIZE));
    assert!(matches!(
        Checkpoint::parse(&huge),
        Err(CheckpointParseError::TooLarge { .. })
    ));
}

#[test]
fn checkpoint_new_validates() {
    let ok = Checkpoint::new("o", 5, [1; 32], vec!["ext".into()]).unwrap();
    assert_eq!(Checkpoint::parse(&ok.to_body()).unwrap(), ok);
    for (label, r) in [
        ("empty origin", Checkpoint::new("", 1, [0; 32], vec![])),
        (
            "newline in origin",
            Checkpoint::new("a\nb", 1, [0; 32], vec![]),
        ),
        (
            "empty extension",
            Checkpoint::new("o", 1, [0; 32], vec![String::new()]),
        ),
        (
            "newline in extension",
            Checkpoint::new("o", 1, [0; 32], vec!["a\nb".into()]),
        ),
        (
            "too large",
            Checkpoint::new("o", 1, [0; 32], vec!["x".repeat(MAX_CHECKPOINT_BODY_SIZE)]),
        ),
    ] {
        assert!(r.is_err(), "row {label:?}");
    }
}

// ---- checkpoints and witnesses -----------------------------------------

#[test]
fn checkpoint_round_trip() {
    let cp = Checkpoint::new(ORIGIN, 7, [9; 32], vec!["note: example".into()]).unwrap();
    let note = sign_checkpoint(&cp, &log_signer()).unwrap();
    let v = open_plain(&note).unwrap();
    assert_eq!(v.checkpoint(), &cp);
    assert_eq!((v.origin(), v.size(), v.root_hash()), (ORIGIN, 7, &[9; 32]));
    assert_eq!(v.signed_note(), note);
    assert!(v.cosignatures().is_empty());
}

#[test]
fn checkpoint_origin_and_key_rules() {
    let note = signed(42);
    let log = log_signer().verifier();
    // The caller expects another log.
    let other = NoteSigner::new("other.example/log", key(1)).unwrap();
    assert!(matches!(
        open_checkpoint(
            note.as_bytes(),
            "other.example/log",
            &other.verifier(),
            &[],
            0,
            NOW
        ),
        Err(CheckpointError::MissingLogSignature)
    ));
    // A log key not named after the origin.
    assert!(matches!(
        open_checkpoint(note.as_bytes(), "other.example/log", &log, &[], 0, NOW),
        Err(CheckpointError::KeyNameNotOrigin { .. })
    ));
    // A body whose origin differs from the log key's name, signed anyway.
    let foreign = Checkpoint::new("other.example/log", 1, [0; 32], vec![]).unwrap();
    let foreign_note = sign_note(&foreign.to_body(), &[&log_signer()]).unwrap();
    assert!(matches!(
        open_checkpoint(foreign_note.as_bytes(), ORIGIN, &log, &[], 0, NOW),
        Err(CheckpointError::OriginMismatch { .. })
    ));
    assert!(matches!(
        sign_checkpoint(&foreign, &log_signer()),
        Err(CheckpointError::KeyNameNotOrigin { .. })
    ));
    // A signed note that is not a checkpoint.
    let text_note = sign_note("hello\n", &[&log_signer()]).unwrap();
    assert!(matches!(
        open_checkpoint(text_note.as_bytes(), ORIGIN, &log, &[], 0, NOW),
        Err(CheckpointError::Malformed(_))
    ));
    // Wrong key roles.
    let w = witness(1).verifier();
    assert!(matches!(
        open_checkpoint(note.as_bytes(), ORIGIN, &w, &[], 0, NOW),
        Err(CheckpointError::WrongKeyType { .. })
    ));
    assert!(matches!(
        open_checkpoint(
            note.as_bytes(),
            ORIGIN,
            &log,
            std::slice::from_ref(&log),
            0,
            NOW
        ),
        Err(CheckpointError::WrongKeyType { .. })
    ));
}

#[test]
fn witness_threshold() {
    let log = log_signer().verifier();
    let note = cosigned(2);
    let all = witnesses(&[1, 2, 3]);
    for (need, ok) in [(0, true), (1, true), (2, true), (3, false)] {
        let r = open_checkpoint(note.as_bytes(), ORIGIN, &log, &all, need, NOW);
        assert_eq!(r.is_ok(), ok, "need {need}: {r:?}");
        if let Ok(v) = r {
            assert_eq!(v.cosignatures().len(), 2);
            assert!(v.cosignatures().iter().all(|c| c.timestamp() == NOW));
        }
    }
    assert_eq!(
        open_checkpoint(note.as_bytes(), ORIGIN, &log, &all, 3, NOW),
        Err(CheckpointError::NotEnoughCosignatures { have: 2, need: 3 })
    );
    // Only configured witnesses count; others are ignored but kept.
    let v = open_checkpoint(note.as_bytes(), ORIGIN, &log, &witnesses(&[2, 3]), 1, NOW).unwrap();
    assert_eq!(v.cosignatures().len(), 1);
    assert_eq!(v.cosignatures()[0].name(), "witness2.example/w");
    assert_eq!(v.signed_note(), note);
    assert_eq!(
        open_checkpoint(note.as_bytes(), ORIGIN, &log, &witnesses(&[3]), 1, NOW),
        Err(CheckpointError::NotEnoughCosignatures { have: 0, need: 1 })
    );
    assert_eq!(
        open_checkpoint(note.as_bytes(), ORIGIN, &log, &witnesses(&[1]), 2, NOW),
        Err(CheckpointError::ThresholdUnreachable { have: 1, need: 2 })
    );
}

#[test]
fn witness_policy_misconfiguration() {
    let log = log_signer().verifier();
    let note = cosigned(1);
    // The same witness twice.
    let twice = witnesses(&[1, 1]);
    assert!(matches!(
        open_checkpoint(note.as_bytes(), ORIGIN, &log, &twice, 2, NOW),
        Err(CheckpointError::DuplicateWitnessKey { .. })
    ));
    // One key under two names would double-count a copied cosignature.
    let alias = NoteVerifier::new(
        "alias.example/w",
        SignatureType::CosignatureV1,
        *witness(1).verifier().verifying_key(),
    )
    .unwrap();
    let ws = vec![witness(1).verifier(), alias];
    assert!(matches!(
        open_checkpoint(note.as_bytes(), ORIGIN, &log, &ws, 2, NOW),
        Err(CheckpointError::DuplicateWitnessKey { .. })
    ));
    // The log key reused as a witness key.
    let log_as_witness = NoteVerifier::new(
        "w.example",
        SignatureType::CosignatureV1,
        *log.verifying_key(),
    )
    .unwrap();
    assert!(matches!(
        open_checkpoint(note.as_bytes(), ORIGIN, &log, &[log_as_witness], 1, NOW),
        Err(CheckpointError::DuplicateWitnessKey { .. })
    ));
}

#[test]
fn cosignature_checks() {
    let log = log_signer().verifier();
    let v = open_plain(&signed(42)).unwrap();
    let w = witness(1);

    // Future timestamps beyond the skew are rejected; within it, accepted.
    for (ts, ok) in [
        (NOW + MAX_COSIGNATURE_CLOCK_SKEW, true),
        (NOW + MAX_COSIGNATURE_CLOCK_SKEW + 1, false),
        (0, true),
    ] {
        let note = w.cosign(&v, ts).unwrap();
        let r = open_checkpoint(note.as_bytes(), ORIGIN, &log, &witnesses(&[1]), 1, NOW);
        assert_eq!(r.is_ok(), ok, "timestamp {ts}: {r:?}");
    }
    assert_eq!(
        w.cosign(&v, MAX_COSIGNATURE_TIMESTAMP + 1),
        Err(CheckpointError::TimestampOutOfRange(
            MAX_COSIGNATURE_TIMESTAMP + 1
        ))
    );

    // Re-cosigning replaces the witness's earlier line.
    let first = w.cosign(&v, NOW - 10).unwrap();
    let v1 = open_plain(&first).unwrap();
    let second = w.cosign(&v1, NOW).unwrap();
    assert_eq!(second.matches('\u{2014}').count(), 2);
    let opened =
        open_checkpoint(second.as_bytes(), ORIGIN, &log, &witnesses(&[1]), 1, NOW).unwrap();
    assert_eq!(opened.cosignatures()[0].timestamp(), NOW);

    // A cosignature line with a tampered timestamp fails, as does a
    // cosignature over another checkpoint.
    let line = w.cosignature_line(&v, NOW).unwrap();
    let b64 = line.trim_end().rsplit_once(' ').unwrap().1;
    let mut raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
    raw[11] ^= 1;
    let bad = line.replacen(
        b64,
        &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw),
        1,
    );
    let tampered = format!("{}{bad}", signed(42));
    assert!(matches!(
        open_checkpoint(tampered.as_bytes(), ORIGIN, &log, &witnesses(&[1]), 1, NOW),
        Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
    ));
    let other = open_plain(&signed(43)).unwrap();
    let other_line = w.cosignature_line(&other, NOW).unwrap();
    let mixed = format!("{}{other_line}", signed(42));
    assert!(matches!(
        open_checkpoint(mixed.as_bytes(), ORIGIN, &log, &witnesses(&[1]), 1, NOW),
        Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
    ));
    // A witness cosignature alone, without the log's signature.
    let body = checkpoint(42).to_body();
    let only_witness = format!("{body}\n{line}");
    assert_eq!(
        open_checkpoint(
            only_witness.as_bytes(),
            ORIGIN,
            &log,
            &witnesses(&[1]),
            1,
            NOW
        ),
        Err(CheckpointError::MissingLogSignature)
    );
}

#[test]
fn cosign_respects_note_limits() {
    // A checkpoint already carrying 100 signature lines cannot take one more.
    let body = checkpoint(42).to_body();
    let strangers: Vec<NoteSigner> = (0..99)
        .map(|i| NoteSigner::new(&format!("s{i}"), key(i)).unwrap())
        .collect();
    let log = log_signer();
    let mut signers: Vec<&NoteSigner> = vec![&log];
    signers.extend(strangers.iter());
    let full = sign_note(&body, &signers).unwrap();
    let v = open_plain(&full).unwrap();
    assert!(matches!(
        witness(1).cosign(&v, NOW),
        Err(CheckpointError::Note(NoteError::Malformed(
            NoteParseError::TooManySignatures { .. }
        )))
    ));
}

// ---- the committed example keys -----------------------------------------

#[test]
fn keys_example_log_vkey_matches_log_key() {
    let pem = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../keys-example/log.key.pem"
    ));
    let vkey = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../keys-example/log.vkey"
    ));
    let key = SigningKey::from_pkcs8_pem(pem).unwrap();
    let signer = NoteSigner::new(ORIGIN, key).unwrap();
    assert_eq!(signer.verifier().to_vkey(), vkey.trim_end());
    assert_eq!(
        NoteVerifier::from_vkey(vkey.trim_end()).unwrap(),
        signer.verifier()
    );
}

// ---- properties -------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = open_note(&bytes, &[log_signer().verifier()]);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = Checkpoint::parse(s);
            let _ = NoteVerifier::from_vkey(s);
            let _ = NoteSigner::from_skey(s);
        }
    }

    #[test]
    fn checkpoint_body_round_trips(
        origin in "[a-z0-9./-]{1,40}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        exts in proptest::collection::vec("[ -~]{1,20}", 0..3),
    ) {
        let cp = Checkpoint::new(&origin, size, root, exts).unwrap();
        prop_assert_eq!(Checkpoint::parse(&cp.to_body()).unwrap(), cp);
    }

    #[test]
    fn text_round_trips(lines in proptest::collection::vec("[^\\x00-\\x1f]{0,30}", 1..5)) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let note = sign_note(&text, &[&log_signer()]).unwrap();
        let n = open_note(note.as_bytes(), &[log_signer().verifier()]).unwrap();
        prop_assert_eq!(n.text(), text.as_str());
    }
}

/// Log key rotation: a checkpoint signed by the old and the new log key
/// opens with either key alone and with both; one signed by the old key
/// alone opens only where the old key is trusted.
#[test]
fn rotation_two_log_keys() {
    let old = log_signer();
    let new = NoteSigner::new(ORIGIN, key(2)).unwrap();
    let both = sign_checkpoint_with(&checkpoint(5), &[&old, &new]).unwrap();
    assert_eq!(both.matches("\u{2014} lab.example/log ").count(), 2);
    for trusted in [
        vec![old.verifier()],
        vec![new.verifier()],
        vec![new.verifier(), old.verifier()],
    ] {
        let cp = open_checkpoint_any(both.as_bytes(), ORIGIN, &trusted, &[], 0, NOW).unwrap();
        assert_eq!(cp.size(), 5);
    }
    let old_only = signed(4);
    assert!(
        open_checkpoint_any(
            old_only.as_bytes(),
            ORIGIN,
            &[new.verifier(), old.verifier()],
            &[],
            0,
            NOW
        )
        .is_ok()
    );
    assert_eq!(
        open_checkpoint_any(old_only.as_bytes(), ORIGIN, &[new.verifier()], &[], 0, NOW),
        Err(CheckpointError::MissingLogSignature)
    );
    assert_eq!(
        open_checkpoint_any(old_only.as_bytes(), ORIGIN, &[], &[], 0, NOW),
        Err(CheckpointError::MissingLogSignature)
    );
    // A wrong-named signer is refused; so is a trusted key of another name.
    let other = NoteSigner::new("other.example/log", key(3)).unwrap();
    assert!(matches!(
        sign_checkpoint_with(&checkpoint(5), &[&old, &other]),
        Err(CheckpointError::KeyNameNotOrigin { .. })
    ));
    assert!(matches!(
        open_checkpoint_any(
            both.as_bytes(),
            ORIGIN,
            &[old.verifier(), other.verifier()],
            &[],
            0,
            NOW
        ),
        Err(CheckpointError::KeyNameNotOrigin { .. })
    ));
    // A bad signature by any trusted key still rejects the note.
    // (Past the 4-byte key id, so the line still names the new key.)
    let at = both.rfind(' ').unwrap() + 20;
    let flipped = if &both[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &both[..at], &both[at + 1..]);
    assert!(
        open_checkpoint_any(
            forged.as_bytes(),
            ORIGIN,
            &[old.verifier(), new.verifier()],
            &[],
            0,
            NOW
        )
        .is_err()
    );
}
