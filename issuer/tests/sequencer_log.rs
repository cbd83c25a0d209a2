//! The sequencer on real databases: proofs and tiles from the store equal
//! those of an in-memory tree, restarts resume the same tree, failed
//! transactions leave no trace, concurrent submitters, the sequencer lock.
//! Runs on SQLite always and on PostgreSQL when `LOUPE_TEST_POSTGRES_URL`
//! is set.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod store_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use loupe_issuer::proofs::{
    bundle_for, consistency_proof, entry_bundle, inclusion_proof, tile_data,
};
use loupe_issuer::sequencer::{Sequencer, SequencerConfig, SequencerHandle, SubmitError};
use loupe_issuer::store::{Store, StoreError};
use loupe_schemas::bundle::LogPolicy;
use loupe_schemas::checkpoint::open_checkpoint;
use loupe_schemas::merkle::{MemoryHashStore, leaf_hash, prove_consistency, prove_inclusion};
use loupe_schemas::tiles::{encode_entry_bundle, read_tile_data, tiles_for_tree};
use loupe_schemas::token::Statement;
use store_support::{ORIGIN, TestDb, log_signer, now, token};

fn config(max_batch: usize) -> SequencerConfig {
    SequencerConfig {
        max_batch,
        max_delay: Duration::from_millis(2),
    }
}

async fn spawn(store: &Arc<dyn Store>, max_batch: usize) -> SequencerHandle {
    Sequencer::spawn(store.clone(), log_signer(), config(max_batch))
        .await
        .unwrap()
}

/// Submits `statements` from `tasks` concurrent submitters; returns the
/// leaf indexes in statement order.
async fn submit_all(seq: &SequencerHandle, statements: &[Statement], tasks: usize) -> Vec<u64> {
    let chunks: Vec<Vec<(usize, Statement)>> = (0..tasks)
        .map(|t| {
            statements
                .iter()
                .cloned()
                .enumerate()
                .filter(|(i, _)| i % tasks == t)
                .collect()
        })
        .collect();
    let handles = chunks.into_iter().map(|chunk| {
        let seq = seq.clone();
        tokio::spawn(async move {
            let mut out = Vec::new();
            for (i, s) in chunk {
                let done = seq.submit(s.clone()).await.unwrap();
                assert_eq!(done.token_id, s.id());
                // Each answer's proof verifies against its checkpoint.
                let cp = open_checkpoint(
                    done.checkpoint.as_bytes(),
                    ORIGIN,
                    &log_signer().verifier(),
                    &[],
                    0,
                    now(),
                )
                .unwrap();
                assert_eq!(cp.size(), done.tree_size);
                loupe_schemas::merkle::verify_inclusion(
                    &leaf_hash(s.logged_bytes()),
                    done.leaf_index,
                    done.tree_size,
                    &done.inclusion_path,
                    cp.root_hash(),
                )
                .unwrap();
                out.push((i, done.leaf_index));
            }
            out
        })
    });
    let mut all: Vec<(usize, u64)> = join_all(handles)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    all.sort_unstable();
    all.into_iter().map(|(_, leaf)| leaf).collect()
}

/// The in-memory tree of the store's entries.
async fn memory_tree(store: &dyn Store) -> MemoryHashStore {
    let size = store.tree_size().await.unwrap();
    let mut mem = MemoryHashStore::new();
    let entries = store
        .entries_range(0, u32::try_from(size).unwrap())
        .await
        .unwrap();
    assert_eq!(entries.len() as u64, size);
    for e in &entries {
        mem.append_leaf(e).unwrap();
    }
    mem
}

#[tokio::test]
async fn proofs_and_tiles_from_the_store_equal_the_memory_tree() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 64).await;
        let statements: Vec<Statement> = (0..700).map(token).collect();
        let leaves = submit_all(&seq, &statements, 16).await;
        let distinct: HashSet<u64> = leaves.iter().copied().collect();
        assert_eq!(distinct.len(), 700, "{}", db.name);
        assert_eq!(distinct.iter().max(), Some(&699));
        seq.shutdown().await;

        let size = store.tree_size().await.unwrap();
        assert_eq!(size, 700);
        let mem = memory_tree(store.as_ref()).await;
        let checkpoint = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(checkpoint.root, mem.root().unwrap(), "{}", db.name);
        let verified = open_checkpoint(
            checkpoint.note.as_bytes(),
            ORIGIN,
            &log_signer().verifier(),
            &[],
            0,
            now(),
        )
        .unwrap();
        assert_eq!(verified.root_hash(), &checkpoint.root);

        // Inclusion at the latest size and at older sizes.
        for (leaf, at) in [
            (0, 700),
            (255, 700),
            (256, 700),
            (699, 700),
            (3, 5),
            (300, 513),
            (0, 1),
        ] {
            let from_store = inclusion_proof(store.as_ref(), leaf, at).await.unwrap();
            assert_eq!(
                from_store,
                prove_inclusion(leaf, at, &mem).unwrap(),
                "{} {leaf}@{at}",
                db.name
            );
        }
        for leaf in (0..700).step_by(37) {
            let proof = inclusion_proof(store.as_ref(), leaf, 700).await.unwrap();
            let data = store.entry_by_index(leaf).await.unwrap().unwrap().statement;
            proof.verify(&leaf_hash(&data), &checkpoint.root).unwrap();
        }
        // Consistency between every pair of some sizes.
        for (old, new) in [
            (0, 700),
            (1, 700),
            (255, 256),
            (256, 700),
            (300, 699),
            (700, 700),
            (17, 513),
        ] {
            let from_store = consistency_proof(store.as_ref(), old, new).await.unwrap();
            assert_eq!(
                from_store,
                prove_consistency(old, new, &mem).unwrap(),
                "{} {old}->{new}",
                db.name
            );
        }
        // Errors are typed, not panics.
        assert!(inclusion_proof(store.as_ref(), 700, 700).await.is_err());
        assert!(consistency_proof(store.as_ref(), 701, 700).await.is_err());
        assert!(
            inclusion_proof(store.as_ref(), 1, 5000).await.is_err(),
            "beyond the log"
        );

        // Every tile of the tree, full and partial, and older partial widths.
        for tile in tiles_for_tree(700) {
            let served = tile_data(store.as_ref(), tile.level(), tile.index(), tile.width())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                served,
                read_tile_data(tile, &mem).unwrap(),
                "{} {}",
                db.name,
                tile.path()
            );
        }
        let older = tile_data(store.as_ref(), 0, 2, 10).await.unwrap().unwrap();
        assert_eq!(
            older,
            read_tile_data(
                loupe_schemas::tiles::TileCoords::new(0, 2, 10).unwrap(),
                &mem
            )
            .unwrap()
        );
        assert!(
            tile_data(store.as_ref(), 0, 2, 189)
                .await
                .unwrap()
                .is_none(),
            "wider than the log"
        );
        assert!(tile_data(store.as_ref(), 0, 3, 1).await.unwrap().is_none());
        assert!(tile_data(store.as_ref(), 1, 0, 3).await.unwrap().is_none());
        assert!(tile_data(store.as_ref(), 1, 0, 2).await.unwrap().is_some());

        // Entry bundles.
        let all = store.entries_range(0, 700).await.unwrap();
        let bundle = entry_bundle(store.as_ref(), 1, 256).await.unwrap().unwrap();
        assert_eq!(bundle, encode_entry_bundle(&all[256..512]).unwrap());
        let partial = entry_bundle(store.as_ref(), 2, 188).await.unwrap().unwrap();
        assert_eq!(partial, encode_entry_bundle(&all[512..700]).unwrap());
        assert!(
            entry_bundle(store.as_ref(), 2, 189)
                .await
                .unwrap()
                .is_none()
        );
        assert!(entry_bundle(store.as_ref(), 2, 0).await.unwrap().is_none());

        // The proof bundle of a token verifies offline.
        let policy = LogPolicy::new(ORIGIN, log_signer().verifier());
        for n in [0, 411, 699] {
            let s = &statements[n];
            let bundle = bundle_for(store.as_ref(), &s.id()).await.unwrap();
            assert_eq!(bundle.index(), leaves[n]);
            bundle.verify(s.logged_bytes(), &policy, now()).unwrap();
        }
        assert!(bundle_for(store.as_ref(), &token(5000).id()).await.is_err());
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn restart_resumes_the_same_tree() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 32).await;
        // 300 leaves: a full level-0 tile and partial tiles on two levels.
        let first: Vec<Statement> = (0..300).map(token).collect();
        submit_all(&seq, &first, 8).await;
        seq.shutdown().await;
        let old = store.latest_checkpoint().await.unwrap().unwrap();
        store.close().await;

        // A new process: a new store and sequencer on the same database.
        let store = db.open().await;
        let seq = spawn(&store, 32).await;
        let again = seq.submit(token(300)).await.unwrap();
        assert_eq!(
            (again.leaf_index, again.tree_size),
            (300, 301),
            "{}",
            db.name
        );
        let more: Vec<Statement> = (301..560).map(token).collect();
        submit_all(&seq, &more, 8).await;
        // Resubmitting from the first run is idempotent.
        let dup = seq.submit(first[42].clone()).await.unwrap();
        assert!(dup.already_logged);
        assert_eq!(dup.leaf_index, 42);
        seq.shutdown().await;

        let new = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(new.tree_size, 560);
        let proof = consistency_proof(store.as_ref(), old.tree_size, new.tree_size)
            .await
            .unwrap();
        proof.verify(&old.root, &new.root).unwrap();
        assert_eq!(new.root, memory_tree(store.as_ref()).await.root().unwrap());
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_failed_transaction_leaves_no_trace_and_the_next_batch_works() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 1024).await;
        let before: Vec<Statement> = (0..260).map(token).collect();
        submit_all(&seq, &before, 4).await;
        let entries = db.count("entries").await;
        let tiles = db.count("tiles").await;
        let checkpoint = store.latest_checkpoint().await.unwrap().unwrap();

        // The checkpoint insert, the last statement of the transaction,
        // fails after the entries and tiles were written.
        let (install, remove) = if db.is_postgres() {
            (
                "CREATE FUNCTION fail_now() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'injected failure'; END; $$; \
                 CREATE TRIGGER inject BEFORE INSERT ON checkpoints \
                 FOR EACH ROW EXECUTE FUNCTION fail_now();",
                "DROP TRIGGER inject ON checkpoints; DROP FUNCTION fail_now();",
            )
        } else {
            (
                "CREATE TRIGGER inject BEFORE INSERT ON checkpoints \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                "DROP TRIGGER inject;",
            )
        };
        db.exec(install).await.unwrap();
        let failing: Vec<Statement> = (1000..1040).map(token).collect();
        let answers = join_all(failing.iter().map(|s| seq.submit(s.clone()))).await;
        for a in &answers {
            match a {
                Err(SubmitError::Store(e)) => assert!(
                    matches!(e.as_ref(), StoreError::Database(_)),
                    "{}: {e:?}",
                    db.name
                ),
                other => panic!("{}: expected a store error, got {other:?}", db.name),
            }
        }
        assert_eq!(db.count("entries").await, entries, "{}", db.name);
        assert_eq!(db.count("tiles").await, tiles);
        assert_eq!(
            store.latest_checkpoint().await.unwrap().unwrap(),
            checkpoint
        );
        for s in &failing {
            assert!(store.entry_by_token_id(&s.id()).await.unwrap().is_none());
        }
        // Partial tiles were not grown either.
        for tile in tiles_for_tree(260) {
            let data = tile_data(store.as_ref(), tile.level(), tile.index(), tile.width())
                .await
                .unwrap();
            assert!(data.is_some());
            assert!(
                tile_data(store.as_ref(), tile.level(), tile.index(), tile.width() + 1)
                    .await
                    .unwrap()
                    .is_none()
                    || tile.is_full()
            );
        }

        db.exec(remove).await.unwrap();
        // The same submissions now succeed, right after the old tree.
        let leaves = submit_all(&seq, &failing, 4).await;
        let mut sorted = leaves.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (260..300).collect::<Vec<_>>(), "{}", db.name);
        seq.shutdown().await;
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(
            latest.root,
            memory_tree(store.as_ref()).await.root().unwrap()
        );
        consistency_proof(store.as_ref(), 260, 300)
            .await
            .unwrap()
            .verify(&checkpoint.root, &latest.root)
            .unwrap();
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn many_concurrent_submitters() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 1024).await;
        let statements: Vec<Statement> = (0..1200).map(token).collect();
        let leaves = submit_all(&seq, &statements, 64).await;
        let distinct: HashSet<u64> = leaves.into_iter().collect();
        assert_eq!(distinct, (0..1200).collect::<HashSet<_>>(), "{}", db.name);
        seq.shutdown().await;
        assert_eq!(store.tree_size().await.unwrap(), 1200);
        assert_eq!(db.count("entries").await, 1200);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn one_sequencer_at_a_time() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 8).await;
        seq.submit(token(1)).await.unwrap();

        // A second sequencer on the same store, and (the PostgreSQL case
        // of two issuer instances) on a second store of the same database.
        let second = Sequencer::spawn(store.clone(), log_signer(), config(8)).await;
        assert!(
            matches!(
                second,
                Err(loupe_issuer::sequencer::SequencerError::Store(
                    StoreError::SequencerLocked
                ))
            ),
            "{}",
            db.name
        );
        let other_store = db.open().await;
        if db.is_postgres() {
            let other = Sequencer::spawn(other_store.clone(), log_signer(), config(8)).await;
            assert!(matches!(
                other,
                Err(loupe_issuer::sequencer::SequencerError::Store(
                    StoreError::SequencerLocked
                ))
            ));
        }
        seq.shutdown().await;
        assert!(matches!(
            seq.submit(token(2)).await,
            Err(SubmitError::Stopped)
        ));

        // After the first one stopped, another instance takes over.
        let taken = Sequencer::spawn(other_store.clone(), log_signer(), config(8))
            .await
            .unwrap();
        let done = taken.submit(token(2)).await.unwrap();
        assert_eq!(done.leaf_index, 1, "{}", db.name);
        taken.shutdown().await;
        other_store.close().await;
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn resume_refuses_an_inconsistent_database() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let seq = spawn(&store, 8).await;
    seq.submit(token(1)).await.unwrap();
    seq.shutdown().await;
    // An entry behind the sequencer's back (no checkpoint covers it).
    db.exec(
        "INSERT INTO entries SELECT 1, zeroblob(32), kind, iss, 'R-x', NULL, NULL, statement, 0 \
         FROM entries WHERE leaf_index = 0",
    )
    .await
    .unwrap();
    let err = Sequencer::spawn(store.clone(), log_signer(), config(8))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            loupe_issuer::sequencer::SequencerError::EntriesMismatch { tree_size: 1 }
        ),
        "{err:?}"
    );
    store.close().await;
}

#[tokio::test]
async fn a_sequencer_that_lost_its_lock_stops_instead_of_forking() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store_a = db.open().await;
    let a = spawn(&store_a, 8).await;
    a.submit(token(1)).await.unwrap();

    // A's lock session dies (network partition, server restart of the
    // session): another instance takes over and appends.
    let killed = db
        .exec(
            "SELECT pg_terminate_backend(pid) FROM pg_locks \
             WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await
        .unwrap();
    assert_eq!(killed, 1);
    let store_b = db.open().await;
    let mut b = None;
    for _ in 0..50 {
        match Sequencer::spawn(store_b.clone(), log_signer(), config(8)).await {
            Ok(seq) => {
                b = Some(seq);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let b = b.expect("the lock is free once its session is gone");
    assert_eq!(b.submit(token(2)).await.unwrap().leaf_index, 1);

    // A still believes it sequences: its next batch is refused by the
    // database (the log moved on), it finds its lock gone and stops.
    match a.submit(token(3)).await {
        Err(SubmitError::Store(e)) => {
            assert!(
                matches!(
                    e.as_ref(),
                    StoreError::SizeMismatch {
                        expected: 1,
                        found: 2
                    }
                ),
                "{e:?}"
            );
        }
        other => panic!("expected a store error, got {other:?}"),
    }
    assert!(matches!(
        a.submit(token(4)).await,
        Err(SubmitError::Stopped)
    ));
    assert_eq!(b.submit(token(3)).await.unwrap().leaf_index, 2);
    b.shutdown().await;
    let mem = memory_tree(store_b.as_ref()).await;
    assert_eq!(
        store_b.latest_checkpoint().await.unwrap().unwrap().root,
        mem.root().unwrap()
    );
    store_a.close().await;
    store_b.close().await;
    db.cleanup().await;
}
