//! The token-id index against real SQLite files: lookups before, during
//! and after merges, from the writing store and from another connection;
//! repeated ids refused; a merge that stopped halfway, or that meets a
//! forged index row, loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use loupe_schemas::token::TokenId;
use sha2::{Digest as _, Sha256};

use super::super::SqliteStore;
use crate::store::{EntryKind, LogBatch, NewEntry, Store, StoreError};

/// The id of the test entry `n`.
fn id(n: u64) -> TokenId {
    TokenId(Sha256::digest(n.to_be_bytes()).into())
}

/// A token entry at `leaf` with the id of `n` (the store does not parse
/// the bytes it logs).
fn entry(leaf: u64, n: u64) -> NewEntry {
    NewEntry {
        leaf_index: leaf,
        token_id: id(n),
        kind: EntryKind::Token,
        iss: "lab.example".into(),
        sub: Some(format!("R-{n}")),
        supersedes: None,
        revokes: None,
        statement: n.to_be_bytes().to_vec(),
    }
}

/// A batch of the entries `ns` on a log of `old_size`.
fn batch(old_size: u64, ns: &[u64]) -> LogBatch {
    let entries: Vec<NewEntry> = ns
        .iter()
        .enumerate()
        .map(|(i, &n)| entry(old_size + i as u64, n))
        .collect();
    let size = old_size + entries.len() as u64;
    LogBatch {
        old_size,
        entries,
        tiles: Vec::new(),
        checkpoint_size: size,
        checkpoint_root: [0; 32],
        checkpoint_note: format!("size {size}\n"),
    }
}

struct Log {
    _dir: tempfile::TempDir,
    url: String,
}

fn log() -> Log {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("log.db").display());
    Log { _dir: dir, url }
}

async fn count(store: &SqliteStore, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Waits until the store's merges have caught up with `size` entries
/// (all merged but fewer than `merge_at`).
async fn settle(store: &SqliteStore, merge_at: u64) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (merged, covered) = store.ids.bounds();
        let idle = !store.ids.tail.read().unwrap().merging;
        if idle && covered - merged < merge_at {
            return (merged, covered);
        }
        assert!(Instant::now() < deadline, "merges did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every id `0..n` resolves to leaf `n`, through each kind of lookup.
async fn assert_all_found(store: &SqliteStore, n: u64) {
    for i in 0..n {
        let e = store.entry_by_token_id(&id(i)).await.unwrap();
        assert_eq!(e.map(|e| e.leaf_index), Some(i), "entry {i}");
        let s = store.token_status(&id(i)).await.unwrap().unwrap();
        assert_eq!(s.entry.leaf_index, i);
    }
    // Known and unknown ids in one call, over several chunks.
    let ids: Vec<TokenId> = (0..n + 300).map(id).collect();
    let mut found: Vec<u64> = store
        .lookup_entries(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            assert_eq!(e.token_id, id(e.leaf_index));
            e.leaf_index
        })
        .collect();
    found.sort_unstable();
    assert_eq!(found, (0..n).collect::<Vec<_>>());
    assert!(store.entry_by_token_id(&id(n + 1)).await.unwrap().is_none());
    assert!(store.token_status(&id(n + 1)).await.unwrap().is_none());
}

#[tokio::test]
async fn lookups_find_every_entry_across_merges_and_reopening() {
    let log = log();
    let merge_at = 50;
    let store = SqliteStore::open_with_merge_at(&log.url, merge_at)
        .await
        .unwrap();
    let mut size = 0;
    for round in 0..12u64 {
        let ns: Vec<u64> = (size..size + 7 + round * 3).collect();
        store.append_batch(&batch(size, &ns)).await.unwrap();
        size += ns.len() as u64;
        // Whatever the merges are doing meanwhile.
        assert_all_found(&store, size).await;
    }
    let (merged, covered) = settle(&store, merge_at).await;
    assert_eq!(covered, size);
    assert!(merged >= size - merge_at, "merged {merged} of {size}");
    assert!(merged > 0);
    // The index holds exactly the merged entries, each at its leaf.
    let n: i64 = count(&store, "SELECT count(*) FROM token_ids").await;
    assert_eq!(n as u64, merged);
    let wrong: i64 = count(
        &store,
        "SELECT count(*) FROM token_ids t JOIN entries e ON e.leaf_index = t.leaf_index \
         WHERE e.token_id <> t.token_id",
    )
    .await;
    assert_eq!(wrong, 0);
    let recorded: i64 = count(&store, "SELECT MAX(merged_size) FROM token_id_merges").await;
    assert_eq!(recorded as u64, merged);
    assert_all_found(&store, size).await;
    store.close().await;

    // A new store maps the entries above the last merge again.
    let store = SqliteStore::open_with_merge_at(&log.url, merge_at)
        .await
        .unwrap();
    assert_eq!(store.ids.bounds(), (merged, size));
    assert_all_found(&store, size).await;
    store.close().await;
}

#[tokio::test]
async fn another_connection_finds_entries_it_did_not_map() {
    let log = log();
    let writer = SqliteStore::open_with_merge_at(&log.url, 20).await.unwrap();
    let reader = SqliteStore::open_with_merge_at(&log.url, 20).await.unwrap();
    let mut size = 0;
    for _ in 0..6 {
        let ns: Vec<u64> = (size..size + 9).collect();
        writer.append_batch(&batch(size, &ns)).await.unwrap();
        size += 9;
    }
    settle(&writer, 20).await;
    // And some the writer has not merged.
    writer
        .append_batch(&batch(size, &(size..size + 5).collect::<Vec<_>>()))
        .await
        .unwrap();
    size += 5;
    let (merged, _) = writer.ids.bounds();
    assert!(merged < size && merged > 0, "merged {merged} of {size}");
    // The reader's map is empty: everything comes from `token_ids` and
    // the scan above its (empty) map.
    assert_eq!(reader.ids.bounds(), (0, 0));
    assert_all_found(&reader, size).await;
    // It also refuses to log an id the other store logged, merged or not.
    for n in [0, size - 1] {
        let e = reader.append_batch(&batch(size, &[n])).await.unwrap_err();
        assert!(
            matches!(e, StoreError::DuplicateTokenId(d) if d == id(n)),
            "{e:?}"
        );
        assert!(e.is_constraint_violation());
    }
    writer.close().await;
    reader.close().await;
}

#[tokio::test]
async fn a_repeated_id_is_refused_and_nothing_is_written() {
    let log = log();
    let merge_at = 16;
    let store = SqliteStore::open_with_merge_at(&log.url, merge_at)
        .await
        .unwrap();
    store
        .append_batch(&batch(0, &(0..40).collect::<Vec<_>>()))
        .await
        .unwrap();
    let (merged, size) = settle(&store, merge_at).await;
    assert_eq!((merged, size), (40, 40));
    store
        .append_batch(&batch(40, &(40..45).collect::<Vec<_>>()))
        .await
        .unwrap();
    assert_eq!(store.ids.bounds(), (40, 45));
    // Merged (also past the first lookup of a large batch), not merged
    // yet, and twice in one batch.
    let mut large: Vec<u64> = (1000..1300).collect();
    large[280] = 3;
    for ns in [vec![100, 0], large, vec![100, 44], vec![100, 101, 100]] {
        let e = store.append_batch(&batch(45, &ns)).await.unwrap_err();
        assert!(
            matches!(e, StoreError::DuplicateTokenId(_)),
            "{ns:?}: {e:?}"
        );
        assert_eq!(count(&store, "SELECT count(*) FROM entries").await, 45);
        assert_eq!(
            count(&store, "SELECT MAX(tree_size) FROM checkpoints").await,
            45
        );
    }
    assert_all_found(&store, 45).await;
    // The log goes on.
    store.append_batch(&batch(45, &[100])).await.unwrap();
    assert_eq!(
        store
            .entry_by_token_id(&id(100))
            .await
            .unwrap()
            .unwrap()
            .leaf_index,
        45
    );
    store.close().await;
}

#[tokio::test]
async fn a_merge_stopped_halfway_is_finished_by_the_next() {
    let log = log();
    let store = SqliteStore::open(&log.url).await.unwrap();
    store
        .append_batch(&batch(0, &(0..30).collect::<Vec<_>>()))
        .await
        .unwrap();
    // What a merge that stopped after its first slice leaves: some pairs
    // in the index, no merged size recorded.
    sqlx::query(
        "INSERT INTO token_ids (token_id, leaf_index) \
         SELECT token_id, leaf_index FROM entries WHERE leaf_index < 10 ORDER BY token_id",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    let store = SqliteStore::open_with_merge_at(&log.url, 8).await.unwrap();
    assert_eq!(store.ids.bounds(), (0, 30));
    store.append_batch(&batch(30, &[30])).await.unwrap();
    let (merged, _) = settle(&store, 8).await;
    assert_eq!(merged, 31);
    assert_eq!(count(&store, "SELECT count(*) FROM token_ids").await, 31);
    assert_all_found(&store, 31).await;
    store.close().await;
}

#[tokio::test]
async fn a_forged_index_row_fails_the_merge_and_loses_nothing() {
    let log = log();
    let store = SqliteStore::open_with_merge_at(&log.url, 10).await.unwrap();
    // Behind the store's back: entry 5's id at another leaf.
    sqlx::query("INSERT INTO token_ids (token_id, leaf_index) VALUES (?, 999)")
        .bind(id(5).0.to_vec())
        .execute(store.pool())
        .await
        .unwrap();
    // The store refuses to log id 5 (it is "in the index")...
    let e = store
        .append_batch(&batch(0, &(0..10).collect::<Vec<_>>()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::DuplicateTokenId(d) if d == id(5)),
        "{e:?}"
    );
    // ...and a merge that meets the forged row fails whole.
    store
        .append_batch(&batch(0, &[0, 1, 2, 3, 4, 6, 7, 8, 9]))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO entries VALUES (9, ?, 'token', 'lab.example', 'R-5', NULL, NULL, x'00', 0)",
    )
    .bind(id(5).0.to_vec())
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO checkpoints VALUES (10, zeroblob(32), 'x', 0)")
        .execute(store.pool())
        .await
        .unwrap();
    store.append_batch(&batch(10, &[10])).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.ids.tail.read().unwrap().retry_at.is_none() {
        assert!(Instant::now() < deadline, "the merge did not fail");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(store.ids.bounds().0, 0, "nothing recorded as merged");
    assert_eq!(count(&store, "SELECT count(*) FROM token_ids").await, 1);
    assert_eq!(
        count(&store, "SELECT count(*) FROM token_id_merges").await,
        1
    );
    // Every entry is still found (the forged row aside, which names a
    // leaf that holds another id: a corrupt store, said so).
    for n in [0, 4, 6, 10] {
        let e = store.entry_by_token_id(&id(n)).await.unwrap().unwrap();
        assert_eq!(e.token_id, id(n));
    }
    store.close().await;
}

#[test]
fn a_merge_takes_the_map_only_when_it_holds_exactly_the_range() {
    use super::sorted_if_whole;
    use std::collections::HashMap;
    let map: HashMap<TokenId, u64> = (10..20).map(|n| (id(n), n)).collect();
    let rows = sorted_if_whole(&map, 10, 20).unwrap();
    assert_eq!(rows.len(), 10);
    assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "sorted by id");
    for (token, leaf) in &rows {
        assert_eq!(*token, id(u64::try_from(*leaf).unwrap()).0);
    }
    // A leaf missing, one outside the range, one leaf twice.
    assert!(sorted_if_whole(&map, 10, 21).is_none());
    assert!(sorted_if_whole(&map, 11, 21).is_none());
    let mut twice = map.clone();
    twice.remove(&id(12));
    twice.insert(id(99), 13);
    assert!(sorted_if_whole(&twice, 10, 20).is_none());
}
