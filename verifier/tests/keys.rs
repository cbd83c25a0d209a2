//! Key rotation, key compromise, backup and restore, end to end: real
//! `loupe-issuer` instances on loopback restarted over one SQLite log
//! (behind a pass-through proxy so the URL verifiers trust stays put), the
//! real `loupe` CLI for the trust store, and the verifier library.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use loupe_issuer::app::AppError;
use loupe_issuer::keys::{ISSUER_KEY_FILE, ISSUER_PUB_FILE, LOG_KEY_FILE, keygen};
use loupe_issuer::restore::{RestoreError, backup_sqlite};
use loupe_issuer::rotation::{KeyHistory, RetiredIssuerKey};
use loupe_schemas::token::{Cti, Token, TokenBuilder};
use loupe_verifier::state::CheckpointMemory;
use loupe_verifier::{CheckName, FilesInHand, Outcome, Status, TrustStore, Verifier};
use support::lab::{ISSUER, LOG, Lab, LabOptions, example_key};
use support::proxy::Proxy;
use support::{assert_failed, dump, online};

fn no_files() -> FilesInHand {
    FilesInHand::default()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Sleeps until the clock has passed Unix second `t` (tokens' `iat` has a
/// one-second resolution). Not an assertion on time: ordering only.
async fn wait_past(t: u64) {
    while now() <= t {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rfc3339(t: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(t).unwrap())
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Runs `loupe` with `args`; panics with its stderr unless it succeeds.
/// (It blocks a worker thread: the tests run multi-threaded so the labs
/// keep answering.)
fn loupe(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(args)
        .env_remove("LOUPE_TRUST")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "loupe {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `loupe trust add URL --trust FILE`, then the store it wrote.
fn trust_add(url: &str, file: &Path) -> TrustStore {
    let _ = std::fs::remove_file(file);
    loupe(&["trust", "add", url, "--trust", file.to_str().unwrap()]);
    TrustStore::load(file).unwrap()
}

/// A lab on `db` behind `proxy`.
async fn lab_on(proxy: &Proxy, db: &Path, mut options: LabOptions) -> Lab {
    options.public_base_url = Some(proxy.url.clone());
    options.database = Some(db.to_path_buf());
    let lab = Lab::start_with(options).await;
    proxy.set_upstream(&lab.base);
    lab
}

/// A fresh key set (`keygen`) in `dir`.
fn fresh_keys(dir: &Path) -> PathBuf {
    keygen(dir, ISSUER, LOG).unwrap();
    dir.to_path_buf()
}

fn verifier(trust: TrustStore) -> Verifier {
    online(trust)
}

// ---------------------------------------------------------------------------
// 1. Rotating the token-signing key.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_key_rotation_keeps_old_tokens_and_refuses_the_old_key_after_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let new_keys = fresh_keys(&dir.path().join("new"));
    let proxy = Proxy::start().await;

    // Before: the example key signs.
    let lab = lab_on(&proxy, &db, LabOptions::default()).await;
    let before = lab.issue("SL-ROT-1").await;
    lab.stop().await;
    let iat_before = Token::parse(&before.token).unwrap().claims().iat;
    let rotated_at = iat_before + 1;
    wait_past(rotated_at).await;

    // Rotate: the new key is current from T, the old one retired at T.
    let history = KeyHistory {
        issuer_key_not_before: Some(rotated_at),
        retired_issuer_keys: vec![RetiredIssuerKey {
            public_key: example_key("issuer.pub.pem"),
            not_before: None,
            not_after: rotated_at,
            compromise: None,
        }],
        previous_log_keys: vec![],
    };
    let lab = lab_on(
        &proxy,
        &db,
        LabOptions {
            issuer_key: new_keys.join(ISSUER_KEY_FILE),
            key_history: history,
            ..LabOptions::default()
        },
    )
    .await;
    let after = lab.issue("SL-ROT-2").await;

    // `loupe trust add` imports both keys with their windows.
    let store = trust_add(&proxy.url, &dir.path().join("trust.toml"));
    let keys = &store.issuer(ISSUER).unwrap().keys;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let new_pub = std::fs::read_to_string(new_keys.join(ISSUER_PUB_FILE)).unwrap();
    let new_pub = loupe_verifier::trust::parse_public_key(&new_pub).unwrap();
    let current = keys.iter().find(|k| k.key == new_pub).unwrap();
    let old = keys.iter().find(|k| k.key != new_pub).unwrap();
    assert_eq!(
        (current.not_before, current.not_after),
        (Some(rotated_at), None)
    );
    assert_eq!(old.not_after, Some(rotated_at));
    lab.stop().await;

    // Someone restarts with the old key after the rotation.
    let lab = lab_on(&proxy, &db, LabOptions::default()).await;
    let stale = lab.issue("SL-ROT-3").await;

    let v = verifier(store);
    for t in [&before, &after] {
        let verdict = v.verify_url(&t.url, &no_files()).await;
        assert_eq!(verdict.status, Status::Valid, "{}", dump(&verdict));
    }
    let verdict = v.verify_url(&stale.url, &no_files()).await;
    assert_failed(
        &verdict,
        Status::Invalid,
        CheckName::IssuerKey,
        "not valid when the token says it was issued",
    );
    lab.stop().await;
}

// ---------------------------------------------------------------------------
// 2. Rotating the log key.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_key_rotation_cosigns_during_the_transition_and_old_bundles_keep_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let new_keys = fresh_keys(&dir.path().join("new"));
    let proxy = Proxy::start().await;

    // Old log key only; a verifier trusting it (from the well-known).
    let lab = lab_on(&proxy, &db, LabOptions::default()).await;
    let old_token = lab.issue("SL-LOG-1").await;
    let old_only = trust_add(&proxy.url, &dir.path().join("old.toml"));
    assert_eq!(old_only.log(LOG).unwrap().keys.len(), 1);
    lab.stop().await;

    // Transition: the new key signs, the old one co-signs.
    let transition = LabOptions {
        log_key: new_keys.join(LOG_KEY_FILE),
        key_history: KeyHistory {
            previous_log_keys: vec![example_key("log.key.pem")],
            ..KeyHistory::default()
        },
        ..LabOptions::default()
    };
    let lab = lab_on(&proxy, &db, transition).await;
    let mid_token = lab.issue("SL-LOG-2").await;
    assert_eq!(
        mid_token.proof.matches("\u{2014} lab.example/log ").count(),
        2
    );
    let both = trust_add(&proxy.url, &dir.path().join("both.toml"));
    assert_eq!(
        both.log(LOG).unwrap().keys.len(),
        2,
        "both log keys imported"
    );
    let mut new_only = both.clone();
    let mut log = both.log(LOG).unwrap().clone();
    log.keys
        .retain(|k| k.to_vkey() != old_only.log(LOG).unwrap().keys[0].to_vkey());
    assert_eq!(log.keys.len(), 1);
    new_only.add_log(log);

    // During the transition every verifier accepts the new checkpoints.
    for (name, trust) in [("old", &old_only), ("new", &new_only), ("both", &both)] {
        let v = verifier(trust.clone());
        let verdict = v.verify_url(&mid_token.url, &no_files()).await;
        assert_eq!(verdict.status, Status::Valid, "{name}: {}", dump(&verdict));
    }
    lab.stop().await;

    // After: the new key alone.
    let lab = lab_on(
        &proxy,
        &db,
        LabOptions {
            log_key: new_keys.join(LOG_KEY_FILE),
            ..LabOptions::default()
        },
    )
    .await;
    let new_token = lab.issue("SL-LOG-3").await;
    let v = verifier(both.clone());
    let verdict = v.verify_url(&new_token.url, &no_files()).await;
    assert_eq!(verdict.status, Status::Valid, "{}", dump(&verdict));
    // The log's consistency holds across the key change.
    assert_eq!(
        verdict.check(CheckName::Consistency).unwrap().outcome,
        Outcome::Pass
    );
    // A verifier that never learned the new key refuses the new checkpoint.
    let verdict = verifier(old_only.clone())
        .verify_url(&new_token.url, &no_files())
        .await;
    assert_failed(
        &verdict,
        Status::Invalid,
        CheckName::CheckpointSignature,
        "not signed by lab.example/log (by none of its trusted keys)",
    );
    // The old bundle (old key's signature alone) still verifies offline
    // while the old key is trusted, and not once it is dropped.
    let offline = Verifier::new(both.clone());
    let verdict = offline.verify_offline(&old_token.token, old_token.proof.as_bytes(), &no_files());
    assert_eq!(
        verdict
            .check(CheckName::CheckpointSignature)
            .unwrap()
            .outcome,
        Outcome::Pass,
        "{}",
        dump(&verdict)
    );
    assert_eq!(
        verdict.check(CheckName::Inclusion).unwrap().outcome,
        Outcome::Pass
    );
    let verdict = Verifier::new(new_only).verify_offline(
        &old_token.token,
        old_token.proof.as_bytes(),
        &no_files(),
    );
    assert_failed(
        &verdict,
        Status::Invalid,
        CheckName::CheckpointSignature,
        "no signature by the log key",
    );
    lab.stop().await;
}

// ---------------------------------------------------------------------------
// 3. A stolen issuer key.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compromised_key_accepts_only_tokens_logged_before_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let proxy = Proxy::start().await;
    let lab = lab_on(&proxy, &db, LabOptions::default()).await;
    let genuine = lab.issue("SL-KEY-1").await;
    let genuine_2 = lab.issue("SL-KEY-2").await;
    // The last checkpoint known good from before the theft: size 2.
    let known_good = lab.tree_size().await;
    assert_eq!(known_good, 2);
    let iat = Token::parse(&genuine.token).unwrap().claims().iat;
    let stolen_at = iat + 100;

    // The thief holds the key and gets forgeries into the log: one
    // backdated to before the theft, one dated after it.
    let key = SigningKey::from_pkcs8_pem(
        &std::fs::read_to_string(example_key("issuer.key.pem")).unwrap(),
    )
    .unwrap();
    let provenance = Token::parse(&genuine.token).unwrap().provenance().clone();
    let forge = |sub: &str, iat: u64, cti: u8| {
        TokenBuilder::new(ISSUER, sub, provenance.clone())
            .iat(iat)
            .cti(Cti([cti; 16]))
            .sign(&key)
            .unwrap()
            .to_bytes()
    };
    let backdated = forge("SL-FORGED-1", iat - 10, 1);
    let (backdated_index, backdated_proof) = lab.submit_signed(&backdated).await;
    let late = forge("SL-FORGED-2", stolen_at + 5, 2);
    let (_, late_proof) = lab.submit_signed(&late).await;
    assert!(backdated_index >= known_good);

    // The trust store marks the key: `loupe trust compromise-key`.
    let file = dir.path().join("trust.toml");
    let store = trust_add(&proxy.url, &file);
    let kid = hex::encode(store.issuer(ISSUER).unwrap().keys[0].kid.as_bytes());
    let out = loupe(&[
        "trust",
        "compromise-key",
        "--origin",
        ISSUER,
        "--kid",
        &kid,
        "--at",
        &rfc3339(stolen_at),
        "--logged-before",
        &known_good.to_string(),
        "--trust",
        file.to_str().unwrap(),
    ]);
    assert!(out.contains("compromised"), "{out}");
    let store = TrustStore::load(&file).unwrap();
    let v = verifier(store);
    let marker = format!("key compromised at {}", rfc3339(stolen_at));

    // Genuine tokens logged before the last good checkpoint still count.
    for t in [&genuine, &genuine_2] {
        let verdict = v.verify_url(&t.url, &no_files()).await;
        assert_eq!(verdict.status, Status::Valid, "{}", dump(&verdict));
        let check = verdict.check(CheckName::IssuerKey).unwrap();
        assert!(check.reason.contains(&marker), "{}", check.reason);
    }
    // The backdated forgery has a valid signature and an iat before the
    // theft, but the log places it after the last good checkpoint.
    let verdict = v
        .verify_token(&backdated, Some(backdated_proof.as_bytes()), &no_files())
        .await;
    assert_failed(&verdict, Status::Invalid, CheckName::IssuerKey, &marker);
    assert_eq!(
        verdict.check(CheckName::TokenSignature).unwrap().outcome,
        Outcome::Pass,
        "the forgery's signature is genuine: only the log gives it away"
    );
    // The one dated after the theft is refused on its iat.
    let verdict = v
        .verify_token(&late, Some(late_proof.as_bytes()), &no_files())
        .await;
    assert_failed(&verdict, Status::Invalid, CheckName::IssuerKey, &marker);
    assert!(
        verdict
            .check(CheckName::IssuerKey)
            .unwrap()
            .reason
            .contains("after the compromise")
    );
    // Without a proof of its log position a token of the stolen key is not
    // accepted (offline, no bundle).
    let verdict = Verifier::new(TrustStore::load(&file).unwrap())
        .verify_token(&genuine.token, None, &no_files())
        .await;
    assert_failed(&verdict, Status::Invalid, CheckName::IssuerKey, &marker);

    // The thief also "revokes" a genuine token with the stolen key: the
    // revocation is logged after the last good checkpoint, so its evidence
    // is refused and the genuine token is not reported revoked.
    lab.revoke(genuine_2.id, "forged by the thief").await;
    let verdict = v.verify_url(&genuine_2.url, &no_files()).await;
    assert_failed(&verdict, Status::Invalid, CheckName::Status, &marker);
    assert!(verdict.ended_by.is_none(), "{}", dump(&verdict));
    lab.stop().await;

    // The runbook: rotate to a new key, publish the stolen one as retired
    // and compromised, verifiers re-import, the lab revokes the forgery.
    let new_keys = fresh_keys(&dir.path().join("new"));
    let lab = lab_on(
        &proxy,
        &db,
        LabOptions {
            issuer_key: new_keys.join(ISSUER_KEY_FILE),
            // (T is ahead of the clock in this test, so the new key gets
            // no not_before: the revocation it signs now must verify.)
            key_history: KeyHistory {
                issuer_key_not_before: None,
                retired_issuer_keys: vec![RetiredIssuerKey {
                    public_key: example_key("issuer.pub.pem"),
                    not_before: None,
                    not_after: stolen_at,
                    compromise: Some((stolen_at, known_good)),
                }],
                previous_log_keys: vec![],
            },
            ..LabOptions::default()
        },
    )
    .await;
    let store = trust_add(&proxy.url, &dir.path().join("published.toml"));
    let stolen = store
        .issuer(ISSUER)
        .unwrap()
        .keys
        .iter()
        .find(|k| hex::encode(k.kid.as_bytes()) == kid)
        .unwrap()
        .compromise
        .unwrap();
    assert_eq!((stolen.at, stolen.logged_before), (stolen_at, known_good));
    let forged_id = Token::parse(&backdated).unwrap().id();
    lab.revoke(forged_id, "signed with a stolen key").await;
    let v = verifier(store);
    let verdict = v
        .verify_token(&backdated, Some(backdated_proof.as_bytes()), &no_files())
        .await;
    assert_failed(&verdict, Status::Invalid, CheckName::IssuerKey, &marker);
    let status = verdict.check(CheckName::Status).unwrap();
    assert!(status.reason.contains("REVOKED"), "{}", dump(&verdict));
    let verdict = v.verify_url(&genuine.url, &no_files()).await;
    assert_eq!(verdict.status, Status::Valid, "{}", dump(&verdict));
    lab.stop().await;
}

// ---------------------------------------------------------------------------
// 4. Backup and restore.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_restore_continues_the_log_and_a_lossy_restore_is_refused_or_caught() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start().await;
    let db = dir.path().join("live.db");
    let lab = lab_on(&proxy, &db, LabOptions::default()).await;
    let t1 = lab.issue("SL-BAK-1").await;
    let t2 = lab.issue("SL-BAK-2").await;

    // A verifier with a memory sees size 2.
    let trust = trust_add(&proxy.url, &dir.path().join("trust.toml"));
    let memory_file = dir.path().join("seen.json");
    let v = verifier(trust.clone()).with_memory(std::sync::Arc::new(
        CheckpointMemory::open(&memory_file).unwrap(),
    ));
    let verdict = v.verify_url(&t2.url, &no_files()).await;
    assert_eq!(verdict.status, Status::Valid, "{}", dump(&verdict));

    // Back up online; keep the last published checkpoint beside it.
    let backup = dir.path().join("backup-2.db");
    let summary = backup_sqlite(&format!("sqlite://{}", db.display()), &backup)
        .await
        .unwrap();
    assert_eq!(summary.tree_size, 2);
    let published_2 = dir.path().join("checkpoint-2.txt");
    std::fs::write(&published_2, lab.get("/checkpoint", "text/plain").await).unwrap();
    // A second backup to the same file is refused, nothing overwritten.
    assert!(
        backup_sqlite(&format!("sqlite://{}", db.display()), &backup)
            .await
            .unwrap_err()
            .to_string()
            .contains("already exists")
    );
    lab.stop().await;

    // (a) Restore the full backup (stop, copy back) and check it against
    // the last published checkpoint: it starts, and issuance continues.
    let restored = dir.path().join("restored.db");
    std::fs::copy(&backup, &restored).unwrap();
    let lab = lab_on(
        &proxy,
        &restored,
        LabOptions {
            expect_checkpoint: Some(published_2.clone()),
            ..LabOptions::default()
        },
    )
    .await;
    let t3 = lab.issue("SL-BAK-3").await;
    let t4 = lab.issue("SL-BAK-4").await;
    let verdict = v.verify_url(&t4.url, &no_files()).await;
    assert_eq!(verdict.status, Status::Valid, "{}", dump(&verdict));
    let consistency = verdict.check(CheckName::Consistency).unwrap();
    assert!(
        consistency.reason.contains("grew from 2 to 4"),
        "{}",
        consistency.reason
    );
    let published_4 = dir.path().join("checkpoint-4.txt");
    std::fs::write(&published_4, lab.get("/checkpoint", "text/plain").await).unwrap();
    lab.stop().await;

    // (b) Restore the old backup (size 2) after size 4 was published.
    let lossy = dir.path().join("lossy.db");
    std::fs::copy(&backup, &lossy).unwrap();
    let refused = Lab::try_start(LabOptions {
        public_base_url: Some(proxy.url.clone()),
        database: Some(lossy.clone()),
        expect_checkpoint: Some(published_4.clone()),
        ..LabOptions::default()
    })
    .await;
    match refused {
        Err(AppError::Restore(RestoreError::LostEntries { have, expected })) => {
            assert_eq!((have, expected), (2, 4));
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a lossy restore started"),
    }
    // A checkpoint of another log (another key) is refused too.
    let foreign = dir.path().join("foreign");
    fresh_keys(&foreign);
    let refused = Lab::try_start(LabOptions {
        public_base_url: Some(proxy.url.clone()),
        database: Some(lossy.clone()),
        log_key: foreign.join(LOG_KEY_FILE),
        expect_checkpoint: Some(published_2.clone()),
        ..LabOptions::default()
    })
    .await;
    assert!(matches!(
        refused,
        Err(AppError::Restore(RestoreError::NotOurs { .. }))
    ));

    // An operator who starts it anyway. Its old tree is a prefix of the
    // published one, so an old token still proves consistent...
    let lab = lab_on(&proxy, &lossy, LabOptions::default()).await;
    let verdict = v.verify_url(&t1.url, &no_files()).await;
    assert_eq!(verdict.status, Status::Valid, "{}", dump(&verdict));
    assert!(
        verdict
            .check(CheckName::Consistency)
            .unwrap()
            .reason
            .contains("older tree"),
        "{}",
        dump(&verdict)
    );
    // ...but the first new entry reuses an index the world has seen, and
    // the verifier that saw size 4 reports the rollback loudly.
    let t5 = lab.issue("SL-BAK-5").await;
    let verdict = v.verify_url(&t5.url, &no_files()).await;
    assert_failed(
        &verdict,
        Status::Invalid,
        CheckName::Consistency,
        "LOG ROLLBACK",
    );
    // And the tokens it lost are gone from it: t3 is not served.
    let verdict = v.verify_url(&t3.url, &no_files()).await;
    assert_ne!(verdict.status, Status::Valid, "{}", dump(&verdict));
    lab.stop().await;
}
