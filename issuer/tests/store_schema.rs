//! The store on real databases: migrations, append-only enforcement by the
//! database, API keys, reads. Runs on SQLite always and on PostgreSQL when
//! `LOUPE_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod store_support;

use std::str::FromStr as _;

use loupe_schemas::token::Statement;

use loupe_issuer::sequencer::{Sequencer, SequencerConfig};
use loupe_issuer::store::{Backend, EntryKind, StoreError, open_store};
use store_support::{TestDb, log_signer, revocation, token, token_for};

#[tokio::test]
async fn migrations_apply_and_reopen() {
    for db in TestDb::all().await {
        let store = db.open().await;
        assert_eq!(
            store.backend(),
            if db.is_postgres() {
                Backend::Postgres
            } else {
                Backend::Sqlite
            }
        );
        assert_eq!(store.tree_size().await.unwrap(), 0, "{}", db.name);
        assert!(store.latest_checkpoint().await.unwrap().is_none());
        store.close().await;
        // Opening again runs no migration twice.
        let store = db.open().await;
        for table in ["entries", "tiles", "checkpoints", "api_keys"] {
            assert_eq!(db.count(table).await, 0, "{} {table}", db.name);
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    assert!(matches!(
        open_store("mysql://localhost/x").await,
        Err(StoreError::UnsupportedUrl)
    ));
}

#[tokio::test]
async fn entries_checkpoints_and_tiles_are_append_only() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = Sequencer::spawn(store.clone(), log_signer(), SequencerConfig::default())
            .await
            .unwrap();
        for n in 0..3 {
            seq.submit(token(n)).await.unwrap();
        }
        seq.shutdown().await;
        let entries = db.count("entries").await;
        let checkpoints = db.count("checkpoints").await;
        assert_eq!(entries, 3, "{}", db.name);
        let refused = [
            "UPDATE entries SET iss = 'evil.example' WHERE leaf_index = 1",
            "UPDATE entries SET statement = statement",
            "DELETE FROM entries WHERE leaf_index = 2",
            "DELETE FROM entries",
            "UPDATE checkpoints SET note = 'forged'",
            "DELETE FROM checkpoints",
            "DELETE FROM tiles",
            // A tile may grow, never shrink or change its hashes.
            "UPDATE tiles SET width = 1, data = substr(data, 1, 32) WHERE level = 0",
            "UPDATE tiles SET data = zeroblob(length(data)) WHERE level = 0",
        ];
        for sql in refused {
            let sql = if db.is_postgres() {
                sql.replace("substr(data, 1, 32)", "substring(data FROM 1 FOR 32)")
                    .replace(
                        "zeroblob(length(data))",
                        "decode(repeat('00', length(data)), 'hex')",
                    )
            } else {
                sql.to_owned()
            };
            let err = db
                .exec(&sql)
                .await
                .expect_err(&format!("{}: {sql}", db.name));
            let text = err.to_string();
            assert!(
                text.contains("append-only") || text.contains("only grow"),
                "{}: {sql}: {text}",
                db.name
            );
        }
        if !db.is_postgres() {
            // SQLite's merged token-id index (migration 0003): what a merge
            // writes cannot be changed or taken back either.
            db.exec(
                "INSERT INTO token_ids (token_id, leaf_index) \
                 SELECT token_id, leaf_index FROM entries ORDER BY token_id",
            )
            .await
            .unwrap();
            for sql in [
                "UPDATE token_ids SET leaf_index = leaf_index + 1",
                "DELETE FROM token_ids",
                "UPDATE token_id_merges SET merged_size = 3",
                "DELETE FROM token_id_merges",
            ] {
                let err = db.exec(sql).await.expect_err(sql).to_string();
                assert!(err.contains("append-only"), "{sql}: {err}");
            }
            // One leaf per id.
            assert!(
                db.exec("INSERT INTO token_ids SELECT token_id, 7 FROM entries LIMIT 1")
                    .await
                    .is_err()
            );
        }
        if db.is_postgres() {
            for table in ["entries", "checkpoints", "tiles"] {
                let sql = format!("TRUNCATE {table}");
                assert!(db.exec(&sql).await.is_err(), "{sql}");
            }
        }
        assert_eq!(db.count("entries").await, entries);
        assert_eq!(db.count("checkpoints").await, checkpoints);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn database_constraints_back_the_rules() {
    for db in TestDb::all().await {
        let store = db.open().await;
        // Kinds are known, a token has a subject, a revocation a target;
        // on PostgreSQL token ids are 32 bytes (SQLite: see
        // `sqlite_reads_an_id_of_another_length_as_corrupt`).
        let wrong_length =
            "INSERT INTO entries VALUES (0, x'00', 'token', 'i', 's', NULL, NULL, x'00', 0)";
        let checks = if db.is_postgres() {
            &[wrong_length][..]
        } else {
            &[][..]
        };
        for sql in checks.iter().copied().chain([
            "INSERT INTO entries VALUES (0, zeroblob(32), 'other', 'i', 's', NULL, NULL, x'00', 0)",
            "INSERT INTO entries VALUES (0, zeroblob(32), 'token', 'i', NULL, NULL, NULL, x'00', 0)",
            "INSERT INTO entries VALUES (0, zeroblob(32), 'revocation', 'i', NULL, NULL, NULL, x'00', 0)",
            "INSERT INTO tiles VALUES (0, 0, 2, zeroblob(32))",
        ]) {
            let sql = if db.is_postgres() {
                sql.replace("zeroblob(32)", "decode(repeat('00', 32), 'hex')")
                    .replace("x'00'", "'\\x00'::bytea")
            } else {
                sql.to_owned()
            };
            assert!(db.exec(&sql).await.is_err(), "{}: {sql}", db.name);
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn api_keys_create_list_revoke_lookup() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let a = store
            .create_api_key("batch uploader", "lab.example", &[1; 32])
            .await
            .unwrap();
        let b = store
            .create_api_key("desk", "lab.example", &[2; 32])
            .await
            .unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.name, "batch uploader");
        assert_eq!(a.revoked_at, None);
        let dup = store
            .create_api_key("again", "lab.example", &[1; 32])
            .await
            .unwrap_err();
        assert!(dup.is_constraint_violation(), "{}: {dup:?}", db.name);

        let found = store.api_key_by_hash(&[2; 32]).await.unwrap().unwrap();
        assert_eq!(found, b);
        assert!(store.api_key_by_hash(&[3; 32]).await.unwrap().is_none());

        assert!(store.revoke_api_key(a.id).await.unwrap());
        assert!(!store.revoke_api_key(a.id).await.unwrap(), "revoking twice");
        assert!(!store.revoke_api_key(9999).await.unwrap());
        let listed = store.list_api_keys().await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, a.id);
        assert!(listed[0].revoked_at.is_some());
        assert!(listed[1].revoked_at.is_none());
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn reads_by_id_index_subject_revokes_supersedes() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = Sequencer::spawn(store.clone(), log_signer(), SequencerConfig::default())
            .await
            .unwrap();
        let first = token_for("R-7", 1, None);
        let second = token_for("R-7", 2, Some(first.id()));
        let other = token(3);
        let revoke = revocation(other.id());
        for s in [&first, &second, &other, &revoke] {
            seq.submit(s.clone()).await.unwrap();
        }
        seq.shutdown().await;

        let e = store
            .entry_by_token_id(&second.id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.leaf_index, 1);
        assert_eq!(e.kind, EntryKind::Token);
        assert_eq!(e.sub.as_deref(), Some("R-7"));
        assert_eq!(e.supersedes, Some(first.id()));
        assert_eq!(e.statement, second.logged_bytes());
        assert_eq!(
            store.entry_by_index(3).await.unwrap().unwrap().token_id,
            revoke.id()
        );
        assert!(store.entry_by_index(4).await.unwrap().is_none());

        let range = store.entries_range(1, 10).await.unwrap();
        assert_eq!(range.len(), 3);
        assert_eq!(range[0], second.logged_bytes());

        let current = store
            .current_token("lab.example", "R-7")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current.token_id, second.id());
        assert!(
            store
                .current_token("lab.example", "R-8")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store
                .superseder_of(&first.id())
                .await
                .unwrap()
                .unwrap()
                .token_id,
            second.id()
        );
        assert!(store.superseder_of(&second.id()).await.unwrap().is_none());
        let r = store.revocation_of(&other.id()).await.unwrap().unwrap();
        assert_eq!(
            (r.kind, r.revokes),
            (EntryKind::Revocation, Some(other.id()))
        );

        let status = store.token_status(&first.id()).await.unwrap().unwrap();
        assert_eq!(status.superseded_by.unwrap().token_id, second.id());
        assert!(status.revoked_by.is_none());
        let status = store.token_status(&other.id()).await.unwrap().unwrap();
        assert_eq!(status.revoked_by.unwrap().token_id, revoke.id());
        assert!(status.superseded_by.is_none());

        let logged = store
            .lookup_entries(&[first.id(), revoke.id(), token(99).id()])
            .await
            .unwrap();
        assert_eq!(logged.len(), 2);
        let heads = store
            .subject_heads(&[
                ("lab.example".into(), "R-7".into()),
                ("lab.example".into(), "R-3".into()),
                ("lab.example".into(), "R-404".into()),
            ])
            .await
            .unwrap();
        assert_eq!(heads.len(), 2, "{}", db.name);
        for h in heads {
            if h.sub == "R-7" {
                assert_eq!(
                    (h.token_id, h.leaf_index, h.revoked_by),
                    (second.id(), 1, None)
                );
            } else {
                assert_eq!((h.token_id, h.revoked_by), (other.id(), Some(revoke.id())));
            }
        }
        let cp = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(cp.tree_size, 4);
        assert_eq!(store.checkpoint_at(0).await.unwrap().unwrap().tree_size, 0);
        assert!(store.checkpoint_at(17).await.unwrap().is_none());
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_batch_built_on_another_size_writes_nothing() {
    use loupe_issuer::store::{LogBatch, NewEntry};
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = Sequencer::spawn(store.clone(), log_signer(), SequencerConfig::default())
            .await
            .unwrap();
        seq.submit(token(1)).await.unwrap();
        seq.shutdown().await;
        for old_size in [0, 2, 7] {
            let batch = LogBatch {
                old_size,
                entries: vec![NewEntry::from_statement(old_size, &token(50 + old_size))],
                tiles: Vec::new(),
                checkpoint_size: old_size + 1,
                checkpoint_root: [0; 32],
                checkpoint_note: "forged\n".into(),
            };
            match store.append_batch(&batch).await {
                Err(StoreError::SizeMismatch { expected, found: 1 }) => {
                    assert_eq!(expected, old_size)
                }
                Err(e) if old_size == 0 => assert!(e.is_constraint_violation(), "{e:?}"),
                other => panic!("{} old size {old_size}: {other:?}", db.name),
            }
        }
        assert_eq!(db.count("entries").await, 1, "{}", db.name);
        assert_eq!(db.count("checkpoints").await, 2);

        // A batch whose entries go in but whose checkpoint is refused (size
        // 1 exists): the whole transaction is rolled back.
        let batch = LogBatch {
            old_size: 1,
            entries: vec![NewEntry::from_statement(1, &token(60))],
            tiles: Vec::new(),
            checkpoint_size: 1,
            checkpoint_root: [0; 32],
            checkpoint_note: "forged\n".into(),
        };
        let e = store.append_batch(&batch).await.unwrap_err();
        assert!(e.is_constraint_violation(), "{}: {e:?}", db.name);
        assert_eq!(db.count("entries").await, 1, "{}", db.name);
        assert_eq!(db.count("checkpoints").await, 2);

        // No failed batch left a transaction open: the next one is logged.
        let seq = Sequencer::spawn(store.clone(), log_signer(), SequencerConfig::default())
            .await
            .unwrap();
        assert_eq!(seq.submit(token(2)).await.unwrap().leaf_index, 1);
        seq.shutdown().await;
        assert_eq!(db.count("entries").await, 2, "{}", db.name);
        assert_eq!(db.count("checkpoints").await, 3);
        store.close().await;
        db.cleanup().await;
    }
}

/// Batches of every kind of size the writers split or pad (one row, sizes
/// around a full chunk of 256, several chunks and a remainder) are stored
/// whole: every entry at its index with its bytes, one checkpoint per
/// batch, and tiles from which a restarted sequencer rebuilds the same tree
/// (it checks the stored root when it loads) and goes on appending.
#[tokio::test]
async fn batches_of_any_size_are_stored_whole() {
    use std::time::Duration;
    for db in TestDb::all().await {
        let store = db.open().await;
        let mut next = 0u64;
        let mut batches = 0;
        let mut all = Vec::new();
        for size in [1usize, 3, 255, 256, 257, 600] {
            let config = SequencerConfig {
                max_batch: size,
                max_delay: Duration::from_secs(5),
            };
            let seq = Sequencer::spawn(store.clone(), log_signer(), config)
                .await
                .unwrap();
            let statements: Vec<_> = (next..next + size as u64).map(token).collect();
            let logged =
                futures::future::join_all(statements.iter().map(|s| seq.submit(s.clone()))).await;
            for (s, l) in statements.iter().zip(&logged) {
                let l = l.as_ref().unwrap();
                assert_eq!(l.token_id, s.id());
                assert_eq!(l.tree_size, next + size as u64, "{}: one batch", db.name);
                all.push((l.leaf_index, s.logged_bytes().to_vec()));
            }
            seq.shutdown().await;
            next += size as u64;
            batches += 1;
            assert_eq!(db.count("entries").await, next as i64, "{}", db.name);
            assert_eq!(db.count("checkpoints").await, batches + 1, "{}", db.name);
        }
        all.sort();
        let bytes = store.entries_range(0, 2000).await.unwrap();
        assert_eq!(bytes.len(), all.len());
        for (i, (index, logged)) in all.iter().enumerate() {
            assert_eq!(*index, i as u64, "{}: every index once", db.name);
            assert_eq!(&bytes[i], logged, "{}: entry {i}", db.name);
        }
        // A restart loads the tree from the stored tiles and checks its root.
        let seq = Sequencer::spawn(store.clone(), log_signer(), SequencerConfig::default())
            .await
            .unwrap();
        let last = seq.submit(token(9_999)).await.unwrap();
        assert_eq!(last.leaf_index, next, "{}", db.name);
        seq.shutdown().await;
        store.close().await;
        db.cleanup().await;
    }
}

/// SQLite checks the length of stored ids when it reads them, not in a
/// CHECK (migration 0002 says why): a row of another length written behind
/// the store's back reads as a corrupt store, never as a token id.
#[tokio::test]
async fn sqlite_reads_an_id_of_another_length_as_corrupt() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    db.exec("INSERT INTO entries VALUES (0, x'0102', 'token', 'i', 's', NULL, NULL, x'00', 0)")
        .await
        .unwrap();
    assert!(matches!(
        store.entry_by_index(0).await,
        Err(StoreError::Corrupt(_))
    ));
    store.close().await;
    db.cleanup().await;
}

/// A log written before migrations 0002 and 0003 (which rebuild SQLite's
/// entries table, and move its token-id index into `token_ids`) keeps every
/// entry, and every rule of the table, after them.
#[tokio::test]
async fn sqlite_log_from_before_0002_keeps_its_entries_and_rules() {
    let db = TestDb::sqlite();
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
        .unwrap()
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate!("./migrations/sqlite")
        .run_to(1, &pool)
        .await
        .unwrap();
    // Three entries as the old schema took them.
    let first = token(0);
    let statements = [first.clone(), token(1), revocation(first.id())];
    for (i, s) in statements.iter().enumerate() {
        let (kind, sub, revokes) = match s {
            Statement::Token(t) => ("token", Some(t.claims().sub.clone()), None),
            Statement::Revocation(r) => ("revocation", None, Some(r.revokes().0.to_vec())),
        };
        sqlx::query("INSERT INTO entries VALUES (?, ?, ?, 'lab.example', ?, NULL, ?, ?, 0)")
            .bind(i64::try_from(i).unwrap())
            .bind(s.id().0.to_vec())
            .bind(kind)
            .bind(sub)
            .bind(revokes)
            .bind(s.logged_bytes().to_vec())
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    // Opening the store applies 0002 and 0003.
    let store = db.open().await;
    for (i, s) in statements.iter().enumerate() {
        let e = store
            .entry_by_index(u64::try_from(i).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.token_id, s.id());
        assert_eq!(e.statement, s.logged_bytes());
        let by_id = store.entry_by_token_id(&s.id()).await.unwrap().unwrap();
        assert_eq!(by_id.leaf_index, u64::try_from(i).unwrap());
    }
    let status = store
        .token_status(&statements[0].id())
        .await
        .unwrap()
        .unwrap();
    assert!(status.revoked_by.is_some(), "the revocation still joins");
    // The log's ids went into the merged token-id index (0003).
    assert_eq!(db.count("token_ids").await, 3);
    assert_eq!(db.count("token_id_merges WHERE merged_size = 3").await, 1);
    // The rules came along: append-only, unique ids, known kinds.
    for sql in [
        "UPDATE entries SET iss = 'evil.example' WHERE leaf_index = 1",
        "DELETE FROM entries WHERE leaf_index = 2",
        "INSERT INTO token_ids SELECT token_id, 3 FROM entries WHERE leaf_index = 0",
        "INSERT INTO entries VALUES (3, zeroblob(32), 'other', 'i', 's', NULL, NULL, x'00', 0)",
        "INSERT INTO entries VALUES (3, zeroblob(32), 'token', 'i', NULL, NULL, NULL, x'00', 0)",
    ] {
        assert!(db.exec(sql).await.is_err(), "{sql}");
    }
    assert_eq!(db.count("entries").await, 3);
    store.close().await;
    db.cleanup().await;
}
