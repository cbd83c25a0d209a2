//! The verifier against real `loupe-issuer` servers on loopback, honest
//! and lying: every scenario asserts the verdict's status and the check
//! that decided it. Nothing of our own HTTP, crypto or storage is mocked;
//! the lies come from a proxy ([`support::proxy`]) that tampers with what
//! a real issuer answers, or from a second real issuer with the same log
//! key behind it (a fork).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::token::{RevocationBuilder, Sha256Digest, TokenId};
use loupe_verifier::{CheckName, FilesInHand, Input, Outcome, Status, TrustStore, Verifier};
use serde_json::{Value, json};
use support::lab::{ISSUER, Lab, LabOptions, example_key};
use support::proxy::{Endpoint, Mode, Proxy};
use support::{
    SHORT_TIMEOUT, Trap, assert_failed, assert_has_checks, assert_passes_except, dump, impatient,
    online, trust, trust_toml,
};

/// Every check an online verification by URL makes (no files given).
const URL_CHECKS: [CheckName; 12] = [
    CheckName::TrustedOrigin,
    CheckName::Fetch,
    CheckName::UrlTokenId,
    CheckName::CoseStructure,
    CheckName::IssuerKnown,
    CheckName::IssuerKey,
    CheckName::TokenSignature,
    CheckName::CheckpointSignature,
    CheckName::Witnesses,
    CheckName::Inclusion,
    CheckName::Consistency,
    CheckName::Status,
];

fn no_files() -> FilesInHand {
    FilesInHand::default()
}

/// A lab behind a proxy: tokens and QR codes name the proxy, and the trust
/// store names the proxy (the only server the verifier ever talks to).
async fn lab_behind_proxy() -> (Proxy, Lab) {
    let proxy = Proxy::start().await;
    let lab = Lab::start_with(LabOptions {
        public_base_url: Some(proxy.url.clone()),
        ..LabOptions::default()
    })
    .await;
    proxy.set_upstream(&lab.base);
    (proxy, lab)
}

// ---------------------------------------------------------------------------
// 1. An honest lab.

#[tokio::test]
async fn honest_lab_by_url_by_token_file_offline_and_by_qr_png() {
    let lab = Lab::start().await;
    let first = lab.issue("SL-1").await;
    let token = lab.issue("SL-2").await;
    assert_eq!(token.url, format!("{}/t/{}", lab.base, token.id));
    let verifier = online(trust(&lab.base));

    // By URL: every check passes.
    let v = verifier.verify_url(&token.url, &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert_has_checks(&v, &URL_CHECKS);
    assert_passes_except(&v, &[]);
    let log = v.log.as_ref().unwrap();
    assert_eq!((log.leaf_index, log.tree_size), (1, 2));
    assert_eq!(v.token.as_ref().unwrap().id, token.id);
    assert!(v.ended_by.is_none());
    assert_eq!(verifier.memory().get(support::lab::LOG).unwrap().size, 2);

    // By a PNG of the QR code the issuer serves.
    let png = lab
        .get(&format!("/v1/tokens/{}/qr.png", token.id), "image/png")
        .await;
    let v = verifier.verify(Input::QrImage(&png), &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert_eq!(v.url.as_deref(), Some(token.url.as_str()));
    assert_passes_except(&v, &[]);

    // The token file with the proof bundle of the issuance answer, with no
    // network at all: valid; only the status is (legitimately) skipped.
    let offline = Verifier::new(trust(&lab.base));
    assert!(offline.fetcher().is_none());
    let v = offline.verify_offline(&token.token, token.proof.as_bytes(), &no_files());
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert_passes_except(&v, &[CheckName::Status]);
    // The same through `verify_token` on the offline verifier, for the
    // first token with the proof its issuer serves now (same tree size as
    // remembered: the consistency check compares roots).
    let proof = lab
        .get(&format!("/v1/tokens/{}/proof", first.id), "text/plain")
        .await;
    let v = offline
        .verify(
            Input::Token {
                token: &first.token,
                proof: Some(&proof),
            },
            &no_files(),
        )
        .await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert_passes_except(&v, &[CheckName::Status]);
    assert_eq!(v.log.as_ref().unwrap().leaf_index, 0);

    // A token file online without a bundle: the proof and status are fetched.
    let v = verifier.verify_token(&first.token, None, &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert_passes_except(&v, &[]);
    lab.stop().await;
}

#[tokio::test]
async fn files_in_hand_match_and_a_pdf_one_byte_off_is_invalid() {
    let lab = Lab::start().await;
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec();
    let photo = b"\xff\xd8\xff\xe0 face-up photo".to_vec();
    let token = lab.issue_files("SL-9", &pdf, &photo, None).await;
    let verifier = online(trust(&lab.base));

    let mut files = FilesInHand::default();
    files.add("report", Sha256Digest::of(&pdf)).unwrap();
    files.add("face-up", Sha256Digest::of(&photo)).unwrap();
    let v = verifier.verify_url(&token.url, &files).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert_passes_except(&v, &[]);
    assert_eq!(v.file_check("report").unwrap().outcome, Outcome::Pass);
    assert_eq!(
        v.file_check("image:face-up").unwrap().outcome,
        Outcome::Pass
    );

    let mut tampered = pdf.clone();
    tampered[20] ^= 0x20;
    let mut files = FilesInHand::default();
    files.add("report", Sha256Digest::of(&tampered)).unwrap();
    files.add("face-up", Sha256Digest::of(&photo)).unwrap();
    let v = verifier.verify_url(&token.url, &files).await;
    assert_failed(
        &v,
        Status::Invalid,
        CheckName::File,
        "not the certified one",
    );
    assert_eq!(v.file_check("report").unwrap().outcome, Outcome::Fail);
    assert_eq!(
        v.file_check("image:face-up").unwrap().outcome,
        Outcome::Pass
    );
    // Everything about the token itself still holds.
    for name in URL_CHECKS {
        assert_eq!(
            v.check(name).unwrap().outcome,
            Outcome::Pass,
            "{}",
            name.as_str()
        );
    }
    // Offline, the same file check decides.
    let v = Verifier::new(trust(&lab.base)).verify_offline(
        &token.token,
        token.proof.as_bytes(),
        &files,
    );
    assert_failed(
        &v,
        Status::Invalid,
        CheckName::File,
        "not the certified one",
    );
    lab.stop().await;
}

#[tokio::test]
async fn revoked_and_superseded_tokens() {
    let lab = Lab::start().await;
    let doomed = lab.issue("SL-20").await;
    let old = lab.issue("SL-21").await;
    let verifier = online(trust(&lab.base));
    assert_eq!(
        verifier.verify_url(&doomed.url, &no_files()).await.status,
        Status::Valid
    );

    lab.revoke(doomed.id, "report withdrawn").await;
    let v = verifier.verify_url(&doomed.url, &no_files()).await;
    assert_eq!(v.status, Status::Revoked, "{}", dump(&v));
    // The status check passed: the revocation's evidence verified.
    assert_passes_except(&v, &[]);
    assert!(
        v.check(CheckName::Status)
            .unwrap()
            .reason
            .contains("REVOKED")
    );
    let ending = v.ended_by.as_ref().unwrap();
    assert_eq!(ending.reason.as_deref(), Some("report withdrawn"));
    assert_eq!(ending.leaf_index, 2);

    let newer = lab
        .issue_files("SL-21", b"%PDF re-cut", b"JPEG re-cut", Some(old.id))
        .await;
    let v = verifier.verify_url(&old.url, &no_files()).await;
    assert_eq!(v.status, Status::Superseded, "{}", dump(&v));
    assert_passes_except(&v, &[]);
    let ending = v.ended_by.as_ref().unwrap();
    assert_eq!(ending.by, newer.id);
    assert_eq!(ending.leaf_index, 3);
    assert!(ending.reason.is_none());
    // The newer token is the valid one.
    let v = verifier.verify_url(&newer.url, &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    lab.stop().await;
}

// ---------------------------------------------------------------------------
// 2. A lying server.

#[tokio::test]
async fn a_different_token_for_the_url_fails_url_token_id() {
    let (proxy, lab) = lab_behind_proxy().await;
    let asked = lab.issue("LIE-1").await;
    let other = lab.issue("LIE-2").await;
    // One verifier throughout: what a liar served must not stick to it.
    let verifier = online(trust(&proxy.url));
    // A genuine, logged token, just not the one the URL names.
    proxy.set_mode(Mode::SwapToken(other.token.clone()));
    let v = verifier.verify_url(&asked.url, &no_files()).await;
    assert_failed(
        &v,
        Status::Invalid,
        CheckName::UrlTokenId,
        "different token",
    );
    assert_eq!(v.token.as_ref().unwrap().id, other.id);
    // Garbage instead of a token: the id still does not match.
    proxy.set_mode(Mode::SwapToken(b"not a token".to_vec()));
    let v = verifier.verify_url(&asked.url, &no_files()).await;
    assert_failed(
        &v,
        Status::Invalid,
        CheckName::UrlTokenId,
        "different token",
    );
    assert_eq!(
        v.check(CheckName::CoseStructure).unwrap().outcome,
        Outcome::Fail
    );
    // The server stops lying: the right token verifies (the wrong ones
    // were not cached under the URL of the right one).
    proxy.set_mode(Mode::Honest);
    let v = verifier.verify_url(&asked.url, &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    lab.stop().await;
}

#[tokio::test]
async fn an_altered_inclusion_path_fails_inclusion() {
    let (proxy, lab) = lab_behind_proxy().await;
    let token = lab.issue("LIE-3").await;
    lab.issue("LIE-4").await;
    proxy.set_mode(Mode::AlterInclusion);
    let v = online(trust(&proxy.url))
        .verify_url(&token.url, &no_files())
        .await;
    assert_failed(&v, Status::Invalid, CheckName::Inclusion, "does not lead");
    assert_eq!(
        v.check(CheckName::CheckpointSignature).unwrap().outcome,
        Outcome::Pass
    );
    assert!(v.log.is_none(), "no log position without inclusion");
    lab.stop().await;
}

#[tokio::test]
async fn a_checkpoint_signed_by_another_key_fails_checkpoint_signature() {
    let (proxy, lab) = lab_behind_proxy().await;
    let token = lab.issue("LIE-5").await;
    proxy.set_mode(Mode::ForeignCheckpoint);
    let verifier = online(trust(&proxy.url));
    let v = verifier.verify_url(&token.url, &no_files()).await;
    assert_failed(
        &v,
        Status::Invalid,
        CheckName::CheckpointSignature,
        "not signed by",
    );
    // The forged checkpoint was not remembered.
    assert!(verifier.memory().get(support::lab::LOG).is_none());
    // Offline, with the forged bundle in hand: the same.
    let forged = support::proxy::foreign_checkpoint(token.proof.as_bytes());
    let v = Verifier::new(trust(&proxy.url)).verify_offline(&token.token, &forged, &no_files());
    assert_failed(
        &v,
        Status::Invalid,
        CheckName::CheckpointSignature,
        "not signed by",
    );
    lab.stop().await;
}

/// Two real issuers with the same log key and origin but different
/// databases: two different trees that both carry valid log signatures.
async fn two_logs_behind_proxy() -> (Proxy, Lab, Lab) {
    let proxy = Proxy::start().await;
    let options = || LabOptions {
        public_base_url: Some(proxy.url.clone()),
        ..LabOptions::default()
    };
    let a = Lab::start_with(options()).await;
    let b = Lab::start_with(options()).await;
    proxy.set_upstream(&a.base);
    (proxy, a, b)
}

#[tokio::test]
async fn a_fork_of_the_same_size_or_larger_fails_consistency() {
    let (proxy, a, b) = two_logs_behind_proxy().await;
    a.issue("FORK-A1").await;
    let a2 = a.issue("FORK-A2").await;
    let b1 = b.issue("FORK-B1").await;
    b.issue("FORK-B2").await;
    let verifier = online(trust(&proxy.url));

    let v = verifier.verify_url(&a2.url, &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    let seen = verifier.memory().get(support::lab::LOG).unwrap();
    assert_eq!(seen.size, 2);

    // Same size, another root.
    proxy.set_upstream(&b.base);
    let v = verifier.verify_url(&b1.url, &no_files()).await;
    assert_failed(&v, Status::Invalid, CheckName::Consistency, "FORK");
    // Everything else about B's token holds: only the fork is wrong.
    for name in [
        CheckName::TokenSignature,
        CheckName::CheckpointSignature,
        CheckName::Inclusion,
    ] {
        assert_eq!(
            v.check(name).unwrap().outcome,
            Outcome::Pass,
            "{}",
            name.as_str()
        );
    }

    // Larger: B's consistency proof from 2 to 3 is for B's tree, not A's.
    let b3 = b.issue("FORK-B3").await;
    let v = verifier.verify_url(&b3.url, &no_files()).await;
    assert_failed(&v, Status::Invalid, CheckName::Consistency, "FORK");
    // The memory still holds A's tree: a fork never advances it.
    assert_eq!(verifier.memory().get(support::lab::LOG).unwrap(), seen);

    // Back on A, which grew honestly: valid again.
    proxy.set_upstream(&a.base);
    let a3 = a.issue("FORK-A3").await;
    let v = verifier.verify_url(&a3.url, &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert!(
        v.check(CheckName::Consistency)
            .unwrap()
            .reason
            .contains("append-only")
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_rollback_to_a_smaller_tree_fails_consistency() {
    let (proxy, a, b) = two_logs_behind_proxy().await;
    let a1 = a.issue("RB-A1").await;
    a.issue("RB-A2").await;
    let a3 = a.issue("RB-A3").await;
    let b1 = b.issue("RB-B1").await;
    b.issue("RB-B2").await;
    let verifier = online(trust(&proxy.url));
    let v = verifier.verify_url(&a3.url, &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert_eq!(verifier.memory().get(support::lab::LOG).unwrap().size, 3);

    // An old but consistent checkpoint of the same log is no rollback: the
    // first token's issuance proof (size 1), proven consistent with size 3.
    let v = verifier
        .verify_token(&a1.token, Some(a1.proof.as_bytes()), &no_files())
        .await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert!(
        v.check(CheckName::Consistency)
            .unwrap()
            .reason
            .contains("older tree")
    );

    // B's tree of size 2 cannot be proven a prefix of A's size 3.
    proxy.set_upstream(&b.base);
    let v = verifier.verify_url(&b1.url, &no_files()).await;
    assert_failed(&v, Status::Invalid, CheckName::Consistency, "ROLLBACK");
    assert_eq!(verifier.memory().get(support::lab::LOG).unwrap().size, 3);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn forged_endings_fail_status_and_a_true_revocation_is_reported() {
    let (proxy, lab) = lab_behind_proxy().await;
    let token = lab.issue("ST-1").await;
    let elsewhere = lab.issue("ST-2").await;
    let unrelated = lab.issue("ST-3").await;
    lab.revoke(elsewhere.id, "another stone's report").await;
    let elsewhere_status: Value = serde_json::from_slice(
        &lab.get(
            &format!("/v1/tokens/{}/status", elsewhere.id),
            "application/json",
        )
        .await,
    )
    .unwrap();
    let proof_now = String::from_utf8(
        lab.get(&format!("/v1/tokens/{}/proof", token.id), "text/plain")
            .await,
    )
    .unwrap();
    let revocation = |key: &SigningKey| {
        RevocationBuilder::new(ISSUER, token.id, "forged")
            .sign(key)
            .unwrap()
            .logged_bytes()
            .to_vec()
    };
    let lab_key = loupe_issuer::keys::load_signing_key(&example_key("issuer.key.pem")).unwrap();
    // An entry as the issuer writes one: its id and index are those of its
    // statement and proof (the strict parse checks that much).
    let ending = |statement: &[u8], proof: &str| {
        json!({
            "id": TokenId::of_logged_bytes(statement).to_string(),
            "leaf_index": ProofBundle::parse(proof.as_bytes()).unwrap().index(),
            "statement": STANDARD.encode(statement),
            "proof": proof,
        })
    };
    let answer = |status: &str, entries: Value| {
        let mut v = json!({"token_id": token.id.to_string(), "status": status, "leaf_index": 0});
        v.as_object_mut()
            .unwrap()
            .extend(entries.as_object().unwrap().clone());
        v
    };
    let rows = [
        (
            "a revocation signed by a key the trust store does not list",
            answer(
                "revoked",
                json!({"revoked_by": ending(&revocation(&SigningKey::from_bytes(&[0x13; 32])), &proof_now)}),
            ),
            "does not list",
        ),
        (
            "a revocation with the lab's key that is not in the log",
            answer(
                "revoked",
                json!({"revoked_by": ending(&revocation(&lab_key), &proof_now)}),
            ),
            "inclusion proof fails",
        ),
        (
            "a real, logged revocation of another token",
            answer(
                "revoked",
                json!({"revoked_by": elsewhere_status["revoked_by"].clone()}),
            ),
            "another token",
        ),
        (
            "a newer token that does not name this one",
            answer(
                "superseded",
                json!({"superseded_by": ending(&unrelated.token, &unrelated.proof)}),
            ),
            "does not name this one",
        ),
        (
            "revoked, with no evidence",
            answer("revoked", json!({})),
            "malformed status answer: the status \"revoked\" is inconsistent",
        ),
        (
            "a status the issuer never gives",
            answer("on hold", json!({})),
            "malformed status answer: unknown status \"on hold\"",
        ),
        (
            "a revocation whose statement is not base64",
            answer(
                "revoked",
                json!({"revoked_by": {
                    "id": token.id.to_string(), "leaf_index": 0,
                    "statement": "not base64!", "proof": proof_now,
                }}),
            ),
            "malformed status answer: revoked_by.statement is not standard base64",
        ),
        (
            "the whole status of another token",
            elsewhere_status.clone(),
            "the status answer is about another token",
        ),
        (
            "active, about another token",
            {
                let mut v = answer("active", json!({}));
                v["token_id"] = json!(unrelated.id.to_string());
                v
            },
            "the status answer is about another token",
        ),
    ];
    for (name, answer, why) in rows {
        proxy.set_mode(Mode::Json(Endpoint::Status, answer));
        let v = online(trust(&proxy.url))
            .verify_url(&token.url, &no_files())
            .await;
        assert_eq!(v.status, Status::Invalid, "{name}: {}", dump(&v));
        let check = v.check(CheckName::Status).unwrap();
        assert_eq!(check.outcome, Outcome::Fail, "{name}: {}", dump(&v));
        assert!(check.reason.contains(why), "{name}: {}", check.reason);
        assert!(v.ended_by.is_none(), "{name}");
    }
    // Bytes no JSON value prints: each fails the status check, naming why.
    let honest = serde_json::to_vec(&answer("active", json!({}))).unwrap();
    let mut doubled = honest[..honest.len() - 1].to_vec();
    doubled.extend_from_slice(br#","status":"revoked"}"#);
    let mut not_utf8 = honest.clone();
    not_utf8.push(0xff);
    for (name, bytes, why) in [
        ("an honest active answer", honest.clone(), None),
        (
            "status twice",
            doubled,
            Some("malformed status answer: the JSON object member \"status\" appears twice"),
        ),
        (
            "trailing garbage",
            [&honest[..], b"}"].concat(),
            Some("malformed status answer: not valid JSON: trailing characters"),
        ),
        (
            "not UTF-8",
            not_utf8,
            Some("malformed status answer: the answer is not UTF-8"),
        ),
    ] {
        proxy.set_mode(Mode::Raw(Endpoint::Status, bytes));
        let v = online(trust(&proxy.url))
            .verify_url(&token.url, &no_files())
            .await;
        let check = v.check(CheckName::Status).unwrap();
        match why {
            None => {
                assert_eq!(v.status, Status::Valid, "{name}: {}", dump(&v));
                assert_eq!(check.outcome, Outcome::Pass, "{name}");
            }
            Some(why) => {
                assert_eq!(v.status, Status::Invalid, "{name}: {}", dump(&v));
                assert_eq!(check.outcome, Outcome::Fail, "{name}: {}", dump(&v));
                assert!(check.reason.contains(why), "{name}: {}", check.reason);
            }
        }
    }

    // A proxy that hides nothing passes a true revocation through.
    proxy.set_mode(Mode::Honest);
    lab.revoke(token.id, "stone re-certified").await;
    let v = online(trust(&proxy.url))
        .verify_url(&token.url, &no_files())
        .await;
    assert_eq!(v.status, Status::Revoked, "{}", dump(&v));
    assert_passes_except(&v, &[]);
    assert_eq!(
        v.ended_by.as_ref().unwrap().reason.as_deref(),
        Some("stone re-certified")
    );
    lab.stop().await;
}

#[tokio::test]
async fn a_bad_consistency_answer_is_not_kept() {
    let (proxy, lab) = lab_behind_proxy().await;
    let first = lab.issue("CA-1").await;
    let verifier = online(trust(&proxy.url));
    let v = verifier.verify_url(&first.url, &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    let second = lab.issue("CA-2").await;
    let zeros = STANDARD.encode([0u8; 32]);
    let rows = [
        (
            "a hash that is not 32 bytes",
            json!({"old": 1, "new": 2, "path": ["AAAA"]}),
            Status::Unknown,
            Outcome::Skip,
            "not 32 bytes",
        ),
        (
            "an answer for other sizes",
            json!({"old": 0, "new": 2, "path": []}),
            Status::Unknown,
            Outcome::Skip,
            "other tree sizes",
        ),
        (
            "a path longer than any proof",
            json!({"old": 1, "new": 2, "path": vec![zeros.clone(); 64]}),
            Status::Unknown,
            Outcome::Skip,
            "malformed answer: the consistency path has 64 hashes, more than the limit of 63",
        ),
        (
            "old above new",
            json!({"old": 2, "new": 1, "path": []}),
            Status::Unknown,
            Outcome::Skip,
            "malformed answer: the old tree size 2 is larger than the new one 1",
        ),
        (
            "a path that does not prove it",
            json!({"old": 1, "new": 2, "path": [zeros]}),
            Status::Invalid,
            Outcome::Fail,
            "FORK",
        ),
    ];
    for (name, answer, status, outcome, why) in rows {
        proxy.set_mode(Mode::Json(Endpoint::Consistency, answer));
        let v = verifier.verify_url(&second.url, &no_files()).await;
        assert_eq!(v.status, status, "{name}: {}", dump(&v));
        let check = v.check(CheckName::Consistency).unwrap();
        assert_eq!(check.outcome, outcome, "{name}: {}", dump(&v));
        assert!(check.reason.contains(why), "{name}: {}", check.reason);
        assert_eq!(verifier.memory().get(support::lab::LOG).unwrap().size, 1);
    }
    // The log answers honestly again: none of the bad answers was kept
    // under the consistency URL (it is cached as immutable once verified).
    proxy.set_mode(Mode::Honest);
    let v = verifier.verify_url(&second.url, &no_files()).await;
    assert_eq!(v.status, Status::Valid, "{}", dump(&v));
    assert!(
        v.check(CheckName::Consistency)
            .unwrap()
            .reason
            .contains("append-only")
    );
    assert_eq!(verifier.memory().get(support::lab::LOG).unwrap().size, 2);
    lab.stop().await;
}

/// The verdict for `url` with an impatient verifier, and how long it took.
async fn timed(trust: TrustStore, url: &str) -> (loupe_verifier::Verdict, Duration) {
    let verifier = impatient(trust);
    let start = Instant::now();
    let v = verifier.verify_url(url, &no_files()).await;
    (v, start.elapsed())
}

/// Checks a verdict against a stalling or flooding `endpoint`: unknown,
/// and the check that needed the answer says why.
#[track_caller]
fn assert_no_answer(v: &loupe_verifier::Verdict, endpoint: Endpoint, what: &str) {
    assert_eq!(v.status, Status::Unknown, "{what}: {}", dump(v));
    match endpoint {
        Endpoint::Token => {
            assert_eq!(
                v.check(CheckName::Fetch).unwrap().outcome,
                Outcome::Fail,
                "{what}"
            );
            assert!(v.check(CheckName::CoseStructure).is_none(), "{what}");
        }
        Endpoint::Proof => {
            assert_eq!(
                v.check(CheckName::TokenSignature).unwrap().outcome,
                Outcome::Pass,
                "{what}"
            );
            assert_eq!(
                v.check(CheckName::Inclusion).unwrap().outcome,
                Outcome::Skip,
                "{what}"
            );
        }
        Endpoint::Status => {
            assert_eq!(
                v.check(CheckName::Inclusion).unwrap().outcome,
                Outcome::Pass,
                "{what}"
            );
            assert_eq!(
                v.check(CheckName::Status).unwrap().outcome,
                Outcome::Skip,
                "{what}"
            );
        }
        Endpoint::Consistency => {
            assert_eq!(
                v.check(CheckName::Consistency).unwrap().outcome,
                Outcome::Skip,
                "{what}"
            );
        }
    }
}

/// A body that never ends is cut off by the size cap of the endpoint
/// (64 KiB for a token or proof, 512 KiB for a status), well within the
/// timeout.
#[tokio::test]
async fn an_endless_body_is_cut_off_and_unknown() {
    let (proxy, lab) = lab_behind_proxy().await;
    let token = lab.issue("EB-1").await;
    for endpoint in [Endpoint::Token, Endpoint::Proof, Endpoint::Status] {
        proxy.set_mode(Mode::Endless(endpoint));
        let (v, took) = timed(trust(&proxy.url), &token.url).await;
        assert_no_answer(&v, endpoint, &format!("endless {endpoint:?}"));
        assert!(
            v.checks.iter().any(|c| c.reason.contains("larger than")),
            "endless {endpoint:?}: {}",
            dump(&v)
        );
        assert!(
            took < SHORT_TIMEOUT + Duration::from_secs(3),
            "endless {endpoint:?} took {took:?}"
        );
    }
    lab.stop().await;
}

/// A body dripped a byte at a time stays under the size cap forever: the
/// whole-request timeout ends it.
#[tokio::test]
async fn a_slow_body_times_out_and_is_unknown() {
    let (proxy, lab) = lab_behind_proxy().await;
    let token = lab.issue("SB-1").await;
    for endpoint in [Endpoint::Token, Endpoint::Proof, Endpoint::Status] {
        proxy.set_mode(Mode::Slow(endpoint));
        let (v, took) = timed(trust(&proxy.url), &token.url).await;
        assert_no_answer(&v, endpoint, &format!("slow {endpoint:?}"));
        assert!(
            v.checks.iter().any(|c| c.reason.contains("timed out")),
            "slow {endpoint:?}: {}",
            dump(&v)
        );
        assert!(
            took >= SHORT_TIMEOUT && took < SHORT_TIMEOUT + Duration::from_secs(3),
            "slow {endpoint:?} took {took:?}"
        );
    }
    lab.stop().await;
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_without_connecting() {
    let (proxy, lab) = lab_behind_proxy().await;
    let token = lab.issue("RD-1").await;
    let trap = Trap::new();
    proxy.set_mode(Mode::Redirect(format!("{}/t/{}", trap.url(), token.id)));
    let v = online(trust(&proxy.url))
        .verify_url(&token.url, &no_files())
        .await;
    // A server that redirects a token URL off its origin is misbehaving.
    assert_failed(&v, Status::Invalid, CheckName::Fetch, "redirect");
    assert!(
        v.check(CheckName::Fetch)
            .unwrap()
            .reason
            .contains(&trap.url())
    );
    assert_eq!(trap.connections(), 0, "a request reached the other host");
    lab.stop().await;
}

// ---------------------------------------------------------------------------
// 3. A QR code that points at an untrusted host.

#[tokio::test]
async fn an_untrusted_host_is_unknown_and_never_contacted() {
    let lab = Lab::start().await;
    let token = lab.issue("UH-1").await;
    let trap = Trap::new();
    let verifier = online(trust(&lab.base));
    let port = lab.addr.port();
    let urls = [
        format!("{}/t/{}", trap.url(), token.id),
        // The trusted origin as user info: the host is the trap.
        format!(
            "http://127.0.0.1:{port}@127.0.0.1:{}/t/{}",
            trap.port, token.id
        ),
        format!("http://localhost:{}/t/{}", trap.port, token.id),
        format!("https://127.0.0.1:{}/t/{}", trap.port, token.id),
    ];
    for url in &urls {
        let v = verifier.verify_url(url, &no_files()).await;
        assert_failed(
            &v,
            Status::Unknown,
            CheckName::TrustedOrigin,
            "nothing was fetched",
        );
        assert_eq!(v.checks.len(), 1, "{url}: {}", dump(&v));
    }
    // The same URL in a QR code picture.
    let png = qr_png(&urls[0]);
    let v = verifier.verify(Input::QrImage(&png), &no_files()).await;
    assert_failed(
        &v,
        Status::Unknown,
        CheckName::TrustedOrigin,
        "nothing was fetched",
    );
    assert_eq!(v.url.as_deref(), Some(urls[0].as_str()));
    assert_eq!(
        trap.connections(),
        0,
        "a request reached the untrusted host"
    );
    lab.stop().await;
}

/// A PNG of a QR code holding `text`.
fn qr_png(text: &str) -> Vec<u8> {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let img = code.render::<image::Luma<u8>>().build();
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

// ---------------------------------------------------------------------------
// 4. Keys.

#[tokio::test]
async fn a_key_outside_its_validity_window_fails_issuer_key() {
    let lab = Lab::start().await;
    let token = lab.issue("KW-1").await;
    let windows = [
        (
            "retired",
            "not_before = 2020-01-01T00:00:00Z\nnot_after = 2021-01-01T00:00:00Z",
        ),
        ("not yet valid", "not_before = 2099-01-01T00:00:00Z"),
    ];
    for (name, window) in windows {
        let store = || TrustStore::from_toml(&trust_toml(&lab.base, &lab.base, window)).unwrap();
        let v = online(store()).verify_url(&token.url, &no_files()).await;
        assert_failed(&v, Status::Invalid, CheckName::IssuerKey, "was not valid");
        assert_eq!(
            v.check(CheckName::TokenSignature).unwrap().outcome,
            Outcome::Skip,
            "{name}"
        );
        let v = Verifier::new(store()).verify_offline(
            &token.token,
            token.proof.as_bytes(),
            &no_files(),
        );
        assert_failed(&v, Status::Invalid, CheckName::IssuerKey, "was not valid");
    }
    lab.stop().await;
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_fails_issuer_key() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("rogue.key.pem");
    let pem = SigningKey::from_bytes(&[0x42; 32])
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(&key_file, pem.as_bytes()).unwrap();
    let lab = Lab::start_with(LabOptions {
        issuer_key: key_file,
        ..LabOptions::default()
    })
    .await;
    let token = lab.issue("UK-1").await;
    let v = online(trust(&lab.base))
        .verify_url(&token.url, &no_files())
        .await;
    assert_failed(&v, Status::Invalid, CheckName::IssuerKey, "does not list");
    // The log is the lab's real log: only the key is wrong.
    assert_eq!(
        v.check(CheckName::Inclusion).unwrap().outcome,
        Outcome::Pass
    );
    lab.stop().await;
}
