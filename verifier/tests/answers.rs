//! The strict parsers of the issuer's JSON answers
//! (`loupe_verifier::answers`) on what a real `loupe-issuer` on loopback
//! answers — every answer parses, prints back to the very JSON the issuer
//! wrote, and parses back equal — and on malformed answers made from
//! them, each refused with its own error.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::bundle::ProofBundleParseError;
use loupe_schemas::token::{SignedRevocation, Token, TokenId};
use loupe_verifier::answers::{
    AnswerError, ConsistencyAnswer, EndedBy, EndingField, StatusAnswer, TokenStatus,
};
use serde_json::{Value, json};
use support::lab::{Issued, Lab};

/// What a real issuer answered, with what each answer is about.
struct Real {
    lab: Lab,
    /// An active token.
    active: Issued,
    /// A revoked token.
    revoked: Issued,
    /// A superseded token, and the newer one.
    superseded: (Issued, Issued),
    /// A superseded token that was then revoked, and the newer one.
    both: (Issued, Issued),
}

impl Real {
    /// A lab with one token in each status (8 log entries).
    async fn start() -> Self {
        let lab = Lab::start().await;
        let active = lab.issue("AN-1").await;
        let revoked = lab.issue("AN-2").await;
        lab.revoke(revoked.id, "report withdrawn").await;
        let old = lab.issue("AN-3").await;
        let newer = lab
            .issue_files("AN-3", b"%PDF-1.7 AN-3 v2", b"JPEG AN-3 v2", Some(old.id))
            .await;
        let both_old = lab.issue("AN-4").await;
        let both_newer = lab
            .issue_files(
                "AN-4",
                b"%PDF-1.7 AN-4 v2",
                b"JPEG AN-4 v2",
                Some(both_old.id),
            )
            .await;
        lab.revoke(both_old.id, "stone re-cut").await;
        assert_eq!(lab.tree_size().await, 8);
        Self {
            lab,
            active,
            revoked,
            superseded: (old, newer),
            both: (both_old, both_newer),
        }
    }

    async fn status(&self, id: TokenId) -> Vec<u8> {
        self.lab
            .get(&format!("/v1/tokens/{id}/status"), "application/json")
            .await
    }

    async fn consistency(&self, old: u64, new: u64) -> Vec<u8> {
        self.lab
            .get(
                &format!("/v1/consistency?old={old}&new={new}"),
                "application/json",
            )
            .await
    }
}

fn value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Parses `bytes`, checks that the answer prints back to the same JSON
/// and parses back equal.
#[track_caller]
fn status_round_trip(name: &str, bytes: &[u8]) -> StatusAnswer {
    let parsed = StatusAnswer::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        value(bytes),
        "{name}: printed back as the issuer wrote it"
    );
    let printed = serde_json::to_vec(&parsed).unwrap();
    assert_eq!(StatusAnswer::parse(&printed).unwrap(), parsed, "{name}");
    parsed
}

#[track_caller]
fn consistency_round_trip(name: &str, bytes: &[u8]) -> ConsistencyAnswer {
    let parsed = ConsistencyAnswer::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        value(bytes),
        "{name}: printed back as the issuer wrote it"
    );
    let printed = serde_json::to_vec(&parsed).unwrap();
    assert_eq!(
        ConsistencyAnswer::parse(&printed).unwrap(),
        parsed,
        "{name}"
    );
    parsed
}

/// Every strict prefix of `bytes` is refused.
#[track_caller]
fn prefixes_refused(name: &str, bytes: &[u8], parse: impl Fn(&[u8]) -> Result<(), AnswerError>) {
    for end in 0..bytes.len() {
        assert!(
            parse(&bytes[..end]).is_err(),
            "{name}: the prefix of {end} bytes parsed"
        );
    }
}

#[tokio::test]
async fn a_real_issuers_answers_parse_and_print_back_unchanged() {
    let real = Real::start().await;

    let active = real.status(real.active.id).await;
    let a = status_round_trip("active", &active);
    assert_eq!(a.status(), TokenStatus::Active);
    assert_eq!(a.token_id(), real.active.id);
    assert_eq!(a.leaf_index(), 0);
    assert!(a.ended_by().is_none() && a.revoked_by().is_none() && a.superseded_by().is_none());

    let revoked = real.status(real.revoked.id).await;
    let r = status_round_trip("revoked", &revoked);
    assert_eq!(r.status(), TokenStatus::Revoked);
    assert_eq!((r.token_id(), r.leaf_index()), (real.revoked.id, 1));
    let Some(EndedBy::Revoked(e)) = r.ended_by() else {
        panic!("revoked: {:?}", r.ended_by())
    };
    assert_eq!(e.leaf_index(), 2);
    assert_eq!(e.reason(), Some("report withdrawn"));
    let rev = SignedRevocation::parse(e.statement()).unwrap();
    assert_eq!(rev.revokes(), real.revoked.id);
    assert_eq!(rev.id(), e.id());
    assert_eq!(e.proof().index(), 2);
    assert!(r.superseded_by().is_none());

    let (old, newer) = &real.superseded;
    let superseded = real.status(old.id).await;
    let s = status_round_trip("superseded", &superseded);
    assert_eq!(s.status(), TokenStatus::Superseded);
    let Some(EndedBy::Superseded(e)) = s.ended_by() else {
        panic!("superseded: {:?}", s.ended_by())
    };
    assert_eq!((e.id(), e.leaf_index(), e.reason()), (newer.id, 4, None));
    assert_eq!(e.statement(), newer.token.as_slice());
    assert_eq!(Token::parse(e.statement()).unwrap().id(), newer.id);
    assert_eq!(
        status_round_trip("newer", &real.status(newer.id).await).status(),
        TokenStatus::Active
    );

    // Superseded, then revoked: revoked, and both entries are given.
    let (old, newer) = &real.both;
    let both = real.status(old.id).await;
    let b = status_round_trip("superseded then revoked", &both);
    assert_eq!(b.status(), TokenStatus::Revoked);
    assert_eq!(b.superseded_by().unwrap().id(), newer.id);
    let Some(EndedBy::Revoked(e)) = b.ended_by() else {
        panic!("both: {:?}", b.ended_by())
    };
    assert_eq!((e.leaf_index(), e.reason()), (7, Some("stone re-cut")));
    assert_eq!(
        SignedRevocation::parse(e.statement()).unwrap().revokes(),
        old.id
    );

    // Members the issuer may add later are ignored; white space around
    // the value is JSON.
    let mut extra = value(&revoked);
    extra["note"] = json!("from a newer issuer");
    extra["revoked_by"]["note"] = json!({"nested": [1, 2]});
    assert_eq!(StatusAnswer::parse(&bytes(&extra)).unwrap(), r);
    let mut spaced = b" \n\t".to_vec();
    spaced.extend_from_slice(&revoked);
    spaced.extend_from_slice(b"\r\n");
    assert_eq!(StatusAnswer::parse(&spaced).unwrap(), r);
    // Exactly at the limit.
    let mut full = revoked.clone();
    full.resize(StatusAnswer::MAX_LEN, b' ');
    assert_eq!(StatusAnswer::parse(&full).unwrap(), r);

    for (name, answer) in [("active", &active), ("revoked", &revoked), ("both", &both)] {
        prefixes_refused(name, answer, |b| StatusAnswer::parse(b).map(drop));
    }

    // Consistency proofs between sizes of the 8-entry log; an empty path
    // from the empty tree and between equal sizes.
    for (old, new, len) in [
        (1, 8, 3),
        (3, 8, 4),
        (4, 8, 1),
        (5, 7, 4),
        (8, 8, 0),
        (0, 8, 0),
    ] {
        let answer = real.consistency(old, new).await;
        let name = format!("consistency {old} -> {new}");
        let c = consistency_round_trip(&name, &answer);
        assert_eq!(
            (c.old_size(), c.new_size(), c.path().len()),
            (old, new, len),
            "{name}"
        );
        prefixes_refused(&name, &answer, |b| ConsistencyAnswer::parse(b).map(drop));
    }
    real.lab.stop().await;
}

/// What a malformed row must be refused with.
enum Want {
    /// Exactly this error.
    Is(AnswerError),
    /// An error this accepts (`serde_json`'s messages are not ours).
    Like(fn(&AnswerError) -> bool),
}
use Want::{Is, Like};

/// A malformed answer: its name, its bytes, its refusal.
type Row = (&'static str, Vec<u8>, Want);

/// `bytes` with `insert` put right after the first `after`.
fn insert_after(bytes: &[u8], after: &str, insert: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let at = text.find(after).unwrap() + after.len();
    format!("{}{insert}{}", &text[..at], &text[at..]).into_bytes()
}

/// `bytes` without its last byte (the closing brace) and with `tail`.
fn reopen(bytes: &[u8], tail: &str) -> Vec<u8> {
    let mut out = bytes[..bytes.len() - 1].to_vec();
    out.extend_from_slice(tail.as_bytes());
    out
}

#[tokio::test]
async fn malformed_status_answers_are_refused_with_their_error() {
    let real = Real::start().await;
    let revoked = bytes(&value(&real.status(real.revoked.id).await));
    let superseded = bytes(&value(&real.status(real.superseded.0.id).await));
    let both = bytes(&value(&real.status(real.both.0.id).await));
    let r = value(&revoked);
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut v = r.clone();
        edit(&mut v);
        bytes(&v)
    };
    let statement = r["revoked_by"]["statement"].as_str().unwrap().to_owned();
    let stated_index = r["revoked_by"]["leaf_index"].as_u64().unwrap();
    let too_big_index = String::from_utf8(revoked.clone()).unwrap().replacen(
        "\"leaf_index\":1,",
        "\"leaf_index\":18446744073709551616,",
        1,
    );
    assert_ne!(too_big_index.as_bytes(), revoked.as_slice());
    let reason_at = revoked
        .windows(b"report withdrawn".len())
        .position(|w| w == b"report withdrawn")
        .unwrap();

    let rows: Vec<Row> = vec![
        // Size and encoding.
        (
            "one byte over the limit",
            {
                let mut b = revoked.clone();
                b.resize(StatusAnswer::MAX_LEN + 1, b' ');
                b
            },
            Is(AnswerError::TooLarge {
                len: StatusAnswer::MAX_LEN + 1,
                max: StatusAnswer::MAX_LEN,
            }),
        ),
        (
            "non-UTF-8 in a string",
            {
                let mut b = revoked.clone();
                b[reason_at] = 0xff;
                b
            },
            Is(AnswerError::NotUtf8 { offset: reason_at }),
        ),
        (
            "a lone lead byte at the end",
            {
                let mut b = revoked.clone();
                b.push(0xc3);
                b
            },
            Is(AnswerError::NotUtf8 {
                offset: revoked.len(),
            }),
        ),
        // JSON syntax.
        (
            "empty",
            Vec::new(),
            Like(|e| matches!(e, AnswerError::Syntax(_))),
        ),
        (
            "trailing garbage",
            [&revoked[..], b"x"].concat(),
            Like(|e| matches!(e, AnswerError::Syntax(_))),
        ),
        (
            "a second value",
            [&revoked[..], b"{}"].concat(),
            Like(|e| matches!(e, AnswerError::Syntax(_))),
        ),
        (
            "truncated",
            revoked[..revoked.len() / 2].to_vec(),
            Like(|e| matches!(e, AnswerError::Syntax(_))),
        ),
        (
            "nested 200 deep",
            reopen(
                &revoked,
                &format!(",\"x\":{}{}}}", "[".repeat(200), "]".repeat(200)),
            ),
            Like(|e| matches!(e, AnswerError::Syntax(_))),
        ),
        // Duplicate members, at the top and inside an entry.
        (
            "status twice",
            reopen(&revoked, ",\"status\":\"active\"}"),
            Is(AnswerError::DuplicateKey("status".into())),
        ),
        (
            "revoked_by.reason twice",
            insert_after(&revoked, "\"revoked_by\":{", "\"reason\":\"forged\","),
            Is(AnswerError::DuplicateKey("reason".into())),
        ),
        (
            "a duplicate in an ignored member",
            reopen(&revoked, ",\"note\":{\"a\":1,\"a\":2}}"),
            Is(AnswerError::DuplicateKey("a".into())),
        ),
        // Missing members and wrong types.
        (
            "an array",
            b"[]".to_vec(),
            Like(|e| matches!(e, AnswerError::Shape(_))),
        ),
        (
            "null",
            b"null".to_vec(),
            Like(|e| matches!(e, AnswerError::Shape(_))),
        ),
        (
            "no token_id",
            with(&|v| drop(v.as_object_mut().unwrap().remove("token_id"))),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("token_id"))),
        ),
        (
            "a token_id that is not one",
            with(&|v| v["token_id"] = json!("AAAA")),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("43 characters"))),
        ),
        (
            "no status",
            with(&|v| drop(v.as_object_mut().unwrap().remove("status"))),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("status"))),
        ),
        (
            "status as a number",
            with(&|v| v["status"] = json!(1)),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid type"))),
        ),
        (
            "leaf_index as a string",
            with(&|v| v["leaf_index"] = json!("1")),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid type"))),
        ),
        (
            "a negative leaf_index",
            with(&|v| v["leaf_index"] = json!(-1)),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid value"))),
        ),
        (
            "a fractional leaf_index",
            with(&|v| v["leaf_index"] = json!(1.5)),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid type"))),
        ),
        (
            "leaf_index 2^64",
            too_big_index.into_bytes(),
            Like(|e| matches!(e, AnswerError::Shape(_))),
        ),
        (
            "revoked_by as a string",
            with(&|v| v["revoked_by"] = json!("x")),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid type"))),
        ),
        (
            "revoked_by without its statement",
            with(&|v| drop(v["revoked_by"].as_object_mut().unwrap().remove("statement"))),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("statement"))),
        ),
        (
            "revoked_by.statement as bytes",
            with(&|v| v["revoked_by"]["statement"] = json!([1, 2, 3])),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid type"))),
        ),
        // Unknown status words.
        (
            "status pending",
            with(&|v| v["status"] = json!("pending")),
            Is(AnswerError::UnknownStatus("pending".into())),
        ),
        (
            "status Revoked",
            with(&|v| v["status"] = json!("Revoked")),
            Is(AnswerError::UnknownStatus("Revoked".into())),
        ),
        (
            "status empty",
            with(&|v| v["status"] = json!("")),
            Is(AnswerError::UnknownStatus(String::new())),
        ),
        // A status its entries contradict.
        (
            "active with a revocation",
            with(&|v| v["status"] = json!("active")),
            Is(AnswerError::Inconsistent {
                status: TokenStatus::Active,
                implied: TokenStatus::Revoked,
            }),
        ),
        (
            "revoked with no entry",
            with(&|v| v["revoked_by"] = Value::Null),
            Is(AnswerError::Inconsistent {
                status: TokenStatus::Revoked,
                implied: TokenStatus::Active,
            }),
        ),
        (
            "revoked with the member left out",
            with(&|v| drop(v.as_object_mut().unwrap().remove("revoked_by"))),
            Is(AnswerError::Inconsistent {
                status: TokenStatus::Revoked,
                implied: TokenStatus::Active,
            }),
        ),
        (
            "revoked with only a newer token",
            {
                let mut v = value(&superseded);
                v["status"] = json!("revoked");
                bytes(&v)
            },
            Is(AnswerError::Inconsistent {
                status: TokenStatus::Revoked,
                implied: TokenStatus::Superseded,
            }),
        ),
        (
            "superseded with a revocation too",
            {
                let mut v = value(&both);
                v["status"] = json!("superseded");
                bytes(&v)
            },
            Is(AnswerError::Inconsistent {
                status: TokenStatus::Superseded,
                implied: TokenStatus::Revoked,
            }),
        ),
        // Entries: base64, id, proof, index.
        (
            "a statement that is not base64",
            with(&|v| v["revoked_by"]["statement"] = json!("!!!!")),
            Is(AnswerError::StatementBase64(EndingField::RevokedBy)),
        ),
        (
            "a statement with a line break",
            with(&|v| {
                v["revoked_by"]["statement"] =
                    json!(format!("{}\n{}", &statement[..40], &statement[40..]));
            }),
            Is(AnswerError::StatementBase64(EndingField::RevokedBy)),
        ),
        (
            "a statement in base64url",
            with(&|v| v["revoked_by"]["statement"] = json!("-_-_")),
            Is(AnswerError::StatementBase64(EndingField::RevokedBy)),
        ),
        (
            "a statement with non-canonical trailing bits",
            with(&|v| v["revoked_by"]["statement"] = json!("AB==")),
            Is(AnswerError::StatementBase64(EndingField::RevokedBy)),
        ),
        (
            "a statement without its padding",
            {
                let mut v = value(&superseded);
                let s = v["superseded_by"]["statement"].as_str().unwrap().to_owned();
                let unpadded = s.trim_end_matches('=');
                // The newer token's base64 needs padding (else this row
                // would test nothing).
                assert_ne!(unpadded.len(), s.len());
                v["superseded_by"]["statement"] = json!(unpadded);
                bytes(&v)
            },
            Is(AnswerError::StatementBase64(EndingField::SupersededBy)),
        ),
        (
            "an id that is not the statement's",
            with(&|v| v["revoked_by"]["id"] = json!(real.active.id.to_string())),
            Is(AnswerError::EndingId(EndingField::RevokedBy)),
        ),
        (
            "a proof that is not a tlog-proof",
            with(&|v| v["revoked_by"]["proof"] = json!("not a proof")),
            Is(AnswerError::Proof {
                field: EndingField::RevokedBy,
                source: ProofBundleParseError::BadHeader,
            }),
        ),
        (
            "a leaf_index its proof does not state",
            with(&|v| v["revoked_by"]["leaf_index"] = json!(stated_index + 1)),
            Is(AnswerError::EndingIndex {
                field: EndingField::RevokedBy,
                stated: stated_index + 1,
                proven: stated_index,
            }),
        ),
    ];
    for (name, input, want) in rows {
        let got = StatusAnswer::parse(&input);
        match (&got, want) {
            (Err(e), Is(want)) => assert_eq!(*e, want, "{name}"),
            (Err(e), Like(check)) => assert!(check(e), "{name}: {e:?}"),
            (Ok(a), _) => panic!("{name}: parsed as {a:?}"),
        }
        // Whatever is refused has a readable reason.
        assert!(!got.unwrap_err().to_string().is_empty(), "{name}");
    }
    real.lab.stop().await;
}

#[tokio::test]
async fn malformed_consistency_answers_are_refused_with_their_error() {
    let real = Real::start().await;
    let answer = bytes(&value(&real.consistency(1, 8).await));
    let c = value(&answer);
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut v = c.clone();
        edit(&mut v);
        bytes(&v)
    };
    let hash = |b: u8| STANDARD.encode([b; 32]);
    let path = |n: usize| json!((0..n).map(|i| hash(i as u8)).collect::<Vec<_>>());

    // The longest path allowed parses (it would not verify: parsing does
    // not verify).
    let longest = ConsistencyAnswer::parse(&with(&|v| v["path"] = path(63))).unwrap();
    assert_eq!(longest.path().len(), ConsistencyAnswer::MAX_PATH);
    assert_eq!(ConsistencyAnswer::MAX_PATH, 63);
    // Equal sizes are fine.
    assert!(ConsistencyAnswer::parse(br#"{"old":5,"new":5,"path":[]}"#).is_ok());

    let rows: Vec<Row> = vec![
        (
            "one byte over the limit",
            {
                let mut b = answer.clone();
                b.resize(ConsistencyAnswer::MAX_LEN + 1, b' ');
                b
            },
            Is(AnswerError::TooLarge {
                len: ConsistencyAnswer::MAX_LEN + 1,
                max: ConsistencyAnswer::MAX_LEN,
            }),
        ),
        (
            "non-UTF-8",
            b"{\"old\":1,\"new\":8,\"path\":[\"\xfe\"]}".to_vec(),
            Is(AnswerError::NotUtf8 {
                offset: br#"{"old":1,"new":8,"path":[""#.len(),
            }),
        ),
        (
            "trailing garbage",
            [&answer[..], b"]"].concat(),
            Like(|e| matches!(e, AnswerError::Syntax(_))),
        ),
        (
            "a comment",
            [&answer[..], b" // proof"].concat(),
            Like(|e| matches!(e, AnswerError::Syntax(_))),
        ),
        (
            "new twice",
            reopen(&answer, ",\"new\":9}"),
            Is(AnswerError::DuplicateKey("new".into())),
        ),
        (
            "no path",
            with(&|v| drop(v.as_object_mut().unwrap().remove("path"))),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("path"))),
        ),
        (
            "a path that is a string",
            with(&|v| v["path"] = json!(hash(0))),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid type"))),
        ),
        (
            "a hash that is a number",
            with(&|v| v["path"] = json!([1])),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid type"))),
        ),
        (
            "a negative size",
            with(&|v| v["old"] = json!(-1)),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid value"))),
        ),
        (
            "a size as a string",
            with(&|v| v["new"] = json!("8")),
            Like(|e| matches!(e, AnswerError::Shape(m) if m.contains("invalid type"))),
        ),
        (
            "old above new",
            with(&|v| v["old"] = json!(9)),
            Is(AnswerError::SizesOutOfOrder { old: 9, new: 8 }),
        ),
        (
            "a path of 64 hashes",
            with(&|v| v["path"] = path(64)),
            Is(AnswerError::PathTooLong { len: 64, max: 63 }),
        ),
        (
            "a path of 10,000 empty strings",
            with(&|v| v["path"] = json!(vec![""; 10_000])),
            Is(AnswerError::PathTooLong {
                len: 10_000,
                max: 63,
            }),
        ),
        (
            "a hash of 3 bytes",
            with(&|v| v["path"][1] = json!("AAAA")),
            Is(AnswerError::PathHash(1)),
        ),
        (
            "a hash of 33 bytes",
            with(&|v| v["path"][0] = json!(STANDARD.encode([0u8; 33]))),
            Is(AnswerError::PathHash(0)),
        ),
        (
            "a hash without padding",
            with(&|v| v["path"][2] = json!(hash(7).trim_end_matches('='))),
            Is(AnswerError::PathHash(2)),
        ),
        (
            "a hash in hex",
            with(&|v| v["path"][0] = json!(hex::encode([0u8; 32]))),
            Is(AnswerError::PathHash(0)),
        ),
    ];
    for (name, input, want) in rows {
        let got = ConsistencyAnswer::parse(&input);
        match (&got, want) {
            (Err(e), Is(want)) => assert_eq!(*e, want, "{name}"),
            (Err(e), Like(check)) => assert!(check(e), "{name}: {e:?}"),
            (Ok(a), _) => panic!("{name}: parsed as {a:?}"),
        }
    }
    real.lab.stop().await;
}

/// Constructors make only answers their parsers accept.
#[test]
fn constructed_answers_print_to_what_parses_back_equal() {
    assert_eq!(
        ConsistencyAnswer::new(3, 2, vec![]),
        Err(AnswerError::SizesOutOfOrder { old: 3, new: 2 })
    );
    assert_eq!(
        ConsistencyAnswer::new(1, 2, vec![[0; 32]; 64]),
        Err(AnswerError::PathTooLong { len: 64, max: 63 })
    );
    let c = ConsistencyAnswer::new(1, 2, vec![[7; 32]]).unwrap();
    assert_eq!(
        ConsistencyAnswer::parse(&serde_json::to_vec(&c).unwrap()).unwrap(),
        c
    );
    let id = TokenId([9; 32]);
    let active = StatusAnswer::new(id, 4, None, None);
    assert_eq!(active.status(), TokenStatus::Active);
    assert_eq!(
        serde_json::to_value(&active).unwrap(),
        json!({"token_id": id.to_string(), "status": "active", "leaf_index": 4, "revoked_by": null, "superseded_by": null})
    );
    assert_eq!(
        StatusAnswer::parse(&serde_json::to_vec(&active).unwrap()).unwrap(),
        active
    );
}
