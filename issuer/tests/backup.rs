//! Backups: `loupe-issuer backup` on a live SQLite log (run as a process),
//! and `pg_dump`/`pg_restore` of a PostgreSQL log (when
//! `LOUPE_TEST_POSTGRES_URL` is set and the tools are installed); each
//! restored copy passes the restore check against the checkpoint it was
//! taken at, and fails it against a later one.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;
#[path = "store_support/mod.rs"]
mod store_support;

use std::path::Path;
use std::sync::Arc;

use cli_support::{ok, one_line_error, run_blocking};
use loupe_issuer::restore::{RestoreError, check_expected_checkpoint};
use loupe_issuer::sequencer::{Sequencer, SequencerConfig, SequencerHandle};
use loupe_issuer::store::Store;
use store_support::{ORIGIN, TestDb, log_signer, token};

/// Logs tokens `from..to` through the real sequencer.
async fn log_tokens(seq: &SequencerHandle, from: u64, to: u64) {
    for n in from..to {
        seq.submit(token(n)).await.unwrap();
    }
}

/// Writes the store's latest checkpoint to `file` (as `/checkpoint`
/// would serve it).
async fn save_checkpoint(store: &dyn Store, file: &Path) {
    let cp = store.latest_checkpoint().await.unwrap().unwrap();
    std::fs::write(file, cp.note).unwrap();
}

async fn check(store: &dyn Store, file: &Path) -> Result<u64, RestoreError> {
    check_expected_checkpoint(store, file, ORIGIN, &[log_signer().verifier()])
        .await
        .map(|c| c.have)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backup_while_serving_restores_to_the_same_log() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let seq = Sequencer::spawn(Arc::clone(&store), log_signer(), SequencerConfig::default())
        .await
        .unwrap();
    log_tokens(&seq, 0, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let at_3 = dir.path().join("checkpoint-3");
    save_checkpoint(store.as_ref(), &at_3).await;

    // Online: the sequencer still holds the log.
    let out = run_blocking(
        dir.path(),
        &["backup", "--database-url", &db.url, "--to", "copy.db"],
    );
    let text = ok(&out);
    assert!(text.contains("tree size 3"), "{text}");
    // Never over an existing file; never PostgreSQL.
    let again = run_blocking(
        dir.path(),
        &["backup", "--database-url", &db.url, "--to", "copy.db"],
    );
    one_line_error(&again, 1, "already exists");
    let pg = run_blocking(
        dir.path(),
        &[
            "backup",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/x",
            "--to",
            "pg.db",
        ],
    );
    one_line_error(&pg, 1, "pg_dump");
    assert!(!dir.path().join("pg.db").exists());

    log_tokens(&seq, 3, 5).await;
    let at_5 = dir.path().join("checkpoint-5");
    save_checkpoint(store.as_ref(), &at_5).await;
    seq.shutdown().await;

    let copy = loupe_issuer::store::open_store(&format!(
        "sqlite://{}",
        dir.path().join("copy.db").display()
    ))
    .await
    .unwrap();
    assert_eq!(check(copy.as_ref(), &at_3).await.unwrap(), 3);
    assert!(matches!(
        check(copy.as_ref(), &at_5).await,
        Err(RestoreError::LostEntries {
            have: 3,
            expected: 5
        })
    ));
    // The live log passes against both: it contains the older tree.
    assert_eq!(check(store.as_ref(), &at_3).await.unwrap(), 5);
    assert_eq!(check(store.as_ref(), &at_5).await.unwrap(), 5);
    // A checkpoint file that is not a checkpoint is refused, not trusted.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "lab.example/log\n3\nAAAA\n").unwrap();
    assert!(matches!(
        check(store.as_ref(), &junk).await,
        Err(RestoreError::NotOurs { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dump_and_restore_round_trip() {
    let Some(src) = TestDb::postgres().await else {
        return;
    };
    if std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: pg_dump is not installed");
        src.cleanup().await;
        return;
    }
    let dst = TestDb::postgres().await.unwrap();
    let store = src.open().await;
    let seq = Sequencer::spawn(Arc::clone(&store), log_signer(), SequencerConfig::default())
        .await
        .unwrap();
    log_tokens(&seq, 0, 4).await;
    let dir = tempfile::tempdir().unwrap();
    let at_4 = dir.path().join("checkpoint-4");
    save_checkpoint(store.as_ref(), &at_4).await;
    let dump = dir.path().join("log.dump");
    let out = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--no-owner", "-f"])
        .arg(&dump)
        .arg(&src.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    log_tokens(&seq, 4, 6).await;
    let at_6 = dir.path().join("checkpoint-6");
    save_checkpoint(store.as_ref(), &at_6).await;
    seq.shutdown().await;

    let out = std::process::Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "-d"])
        .arg(&dst.url)
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = dst.open().await;
    assert_eq!(check(restored.as_ref(), &at_4).await.unwrap(), 4);
    assert!(matches!(
        check(restored.as_ref(), &at_6).await,
        Err(RestoreError::LostEntries {
            have: 4,
            expected: 6
        })
    ));
    // The restored log resumes: the sequencer continues from size 4.
    let seq = Sequencer::spawn(
        Arc::clone(&restored),
        log_signer(),
        SequencerConfig::default(),
    )
    .await
    .unwrap();
    let s = seq.submit(token(40)).await.unwrap();
    assert_eq!(s.leaf_index, 4);
    seq.shutdown().await;
    drop((store, restored));
    src.cleanup().await;
    dst.cleanup().await;
}
