//! The token-id index of an SQLite log (migration 0003): the table
//! `token_ids`, filled in merges, and the map of the entries above the
//! last merge that this process keeps in memory.
//!
//! Token ids are SHA-256 values: a B-tree keyed by them takes each new
//! entry at a random leaf page, so once it is larger than a batch every
//! entry dirties a page of its own, which SQLite writes whole to the WAL
//! at the commit and again to the database file at the checkpoint. So
//! the log does not index its entries one by one. Every entry below the
//! latest `token_id_merges.merged_size` is in `token_ids`; the entries
//! above it are in [`IdIndex`]'s map, which the store fills after each
//! commit. Once enough have gathered ([`DEFAULT_MERGE_AT`], or an eighth
//! of the merged index: see [`merge_size`]), a merge sorts them by id
//! (from the map when it holds exactly that range, else read back from
//! `entries`) and inserts them into `token_ids` a slice of the key space
//! per transaction ([`SLICE_ROWS`]): a slice dirties each page of its part
//! of the index once for many entries, and each transaction is short, so
//! the sequencer's batches interleave with it. The last slice records the
//! new merged size in the same transaction.
//!
//! A lookup asks the map first. An id the map does not hold is looked up
//! in `token_ids`, and in `entries` from the map's end upwards (a rowid
//! range scan, empty in the issuer itself): so a connection that did not
//! write the log, or a row written behind the store's back, still finds
//! every entry.
//!
//! A merge that stops halfway (a crash, an error) leaves its committed
//! slices; the next one skips every `(token_id, leaf_index)` pair already
//! in `token_ids`, and a second leaf index for a merged id violates its
//! primary key: the merge fails and says so, and nothing is lost.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use loupe_schemas::token::TokenId;
use sqlx::sqlite::{SqliteArguments, SqlitePool};
use sqlx::{Arguments as _, AssertSqlSafe};

use super::super::{NewEntry, StoreError, to_i64, to_token_id, to_u64, unix_now};
use super::{Uncommitted, placeholders};

/// Entries that gather above the last merge before the next merge starts.
pub const DEFAULT_MERGE_AT: u64 = 65_536;

/// Rows of `token_ids` written per merge transaction: a slice of the key
/// space, short enough that a batch waiting behind it is not held up long.
const SLICE_ROWS: usize = 1_024;

/// Rows per `INSERT` statement of a slice.
const STATEMENT_ROWS: usize = 256;

/// How long after a failed merge the next one starts.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Where a token id is, as far as the map knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Probe {
    /// A committed entry above the last merge, at this leaf index.
    Leaf(u64),
    /// Not in the map: in `token_ids`, or in `entries` at or above
    /// `from`, or not logged.
    Unmapped {
        /// The first leaf index the map does not cover.
        from: u64,
    },
}

/// The entries above the last merge.
#[derive(Debug, Default)]
struct Tail {
    /// Every entry below this is in `token_ids`.
    merged: u64,
    /// The entries of `merged .. frozen_end`, which a merge is writing (or
    /// will write again after a failure).
    frozen: Arc<HashMap<TokenId, u64>>,
    /// End of the frozen range (`merged` when nothing is frozen).
    frozen_end: u64,
    /// The entries of `frozen_end .. covered`.
    active: HashMap<TokenId, u64>,
    /// The first leaf index not in the map.
    covered: u64,
    /// Whether a merge task is running.
    merging: bool,
    /// After a failed merge: not before then.
    retry_at: Option<Instant>,
}

impl Tail {
    fn get(&self, id: &TokenId) -> Option<u64> {
        self.active.get(id).or_else(|| self.frozen.get(id)).copied()
    }
}

/// A merge to run: the entries `from .. to` into `token_ids`.
#[derive(Clone, Debug)]
pub(super) struct MergeJob {
    from: u64,
    to: u64,
    /// The map of those entries, as this store logged them.
    mapped: Arc<HashMap<TokenId, u64>>,
}

/// The token-id index of one SQLite log, shared by its store and the
/// merge task.
#[derive(Debug)]
pub(super) struct IdIndex {
    tail: RwLock<Tail>,
    merge_at: u64,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl IdIndex {
    /// Reads the latest merged size and maps every entry above it.
    pub(super) async fn load(pool: &SqlitePool, merge_at: u64) -> Result<Arc<Self>, StoreError> {
        let merged: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(merged_size), 0) FROM token_id_merges")
                .fetch_one(pool)
                .await?;
        let merged = to_u64(merged, "merged size")?;
        let mut tail = Tail {
            merged,
            frozen_end: merged,
            covered: merged,
            ..Tail::default()
        };
        tail.covered = Self::map_from(pool, merged, &mut tail.active)
            .await?
            .max(merged);
        Ok(Arc::new(Self {
            tail: RwLock::new(tail),
            merge_at: merge_at.max(1),
            task: Mutex::new(None),
        }))
    }

    /// Maps every entry at or above `from` into `map`; returns the end of
    /// what it mapped (`from` when there is nothing).
    async fn map_from(
        pool: &SqlitePool,
        from: u64,
        map: &mut HashMap<TokenId, u64>,
    ) -> Result<u64, StoreError> {
        let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT token_id, leaf_index FROM entries WHERE leaf_index >= ? ORDER BY leaf_index",
        )
        .bind(to_i64(from)?)
        .fetch_all(pool)
        .await?;
        let mut end = from;
        for (id, index) in rows {
            let index = to_u64(index, "leaf index")?;
            map.insert(to_token_id(&id)?, index);
            end = end.max(index + 1);
        }
        Ok(end)
    }

    /// Where `id` is, as far as the map knows.
    pub(super) fn probe(&self, id: &TokenId) -> Probe {
        let tail = self.tail.read().unwrap_or_else(PoisonError::into_inner);
        tail.get(id)
            .map_or(Probe::Unmapped { from: tail.covered }, Probe::Leaf)
    }

    /// Before a batch at `old_size` is written: maps entries that other
    /// connections wrote since (none when this store writes the log alone),
    /// then refuses a batch that repeats an id of the unmerged entries or
    /// one of its own. (Ids below the merged size are the sequencer's to
    /// refuse, and `token_ids`' primary key's.)
    pub(super) async fn check_batch(
        &self,
        readers: &SqlitePool,
        old_size: u64,
        entries: &[NewEntry],
    ) -> Result<(), StoreError> {
        let covered = self
            .tail
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .covered;
        if covered < old_size {
            let mut found = HashMap::new();
            let end = Self::map_from(readers, covered, &mut found).await?;
            let mut tail = self.tail.write().unwrap_or_else(PoisonError::into_inner);
            if tail.covered == covered {
                tail.active.extend(found);
                tail.covered = end.max(covered);
            }
        }
        let tail = self.tail.read().unwrap_or_else(PoisonError::into_inner);
        let mut seen = HashSet::with_capacity(entries.len());
        for e in entries {
            if tail.get(&e.token_id).is_some() || !seen.insert(e.token_id) {
                return Err(StoreError::DuplicateTokenId(e.token_id));
            }
        }
        Ok(())
    }

    /// After the batch of `entries` from `old_size` committed: maps them,
    /// and returns a merge to start when enough entries have gathered.
    pub(super) fn committed(&self, old_size: u64, entries: &[NewEntry]) -> Option<MergeJob> {
        let mut tail = self.tail.write().unwrap_or_else(PoisonError::into_inner);
        // A gap (another connection wrote in between) is mapped before the
        // next batch (`check_batch`); until then lookups scan it.
        if tail.covered == old_size {
            for e in entries {
                tail.active.insert(e.token_id, e.leaf_index);
                tail.covered = tail.covered.max(e.leaf_index + 1);
            }
        }
        let due = tail.retry_at.is_none_or(|t| Instant::now() >= t);
        if tail.merging
            || !due
            || tail.covered - tail.merged < merge_size(self.merge_at, tail.merged)
        {
            return None;
        }
        if tail.frozen_end == tail.merged {
            tail.frozen = Arc::new(std::mem::take(&mut tail.active));
            tail.frozen_end = tail.covered;
        }
        tail.merging = true;
        Some(MergeJob {
            from: tail.merged,
            to: tail.frozen_end,
            mapped: Arc::clone(&tail.frozen),
        })
    }

    /// Runs `job` in the background: reads the ids from `readers`, writes
    /// the slices through `writer`, and wakes `wal` after each.
    pub(super) fn start_merge(
        self: &Arc<Self>,
        job: MergeJob,
        readers: SqlitePool,
        writer: SqlitePool,
        wal: Option<Arc<tokio::sync::Notify>>,
    ) {
        let index = Arc::clone(self);
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let (from, to) = (job.from, job.to);
            let result = merge(job, &readers, &writer, wal.as_deref()).await;
            let dropped = {
                let mut tail = index.tail.write().unwrap_or_else(PoisonError::into_inner);
                tail.merging = false;
                match &result {
                    Ok(()) => {
                        tail.merged = to;
                        tail.frozen_end = to;
                        tail.retry_at = None;
                        std::mem::take(&mut tail.frozen)
                    }
                    Err(_) => {
                        tail.retry_at = Some(Instant::now() + RETRY_AFTER);
                        Arc::default()
                    }
                }
            };
            drop(dropped);
            match result {
                Ok(()) => tracing::debug!(
                    from,
                    to,
                    ms = started.elapsed().as_millis(),
                    "token ids merged"
                ),
                Err(e) => tracing::warn!(
                    error = %e,
                    from,
                    to,
                    "merging token ids failed; retrying later"
                ),
            }
        });
        let mut slot = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = slot.replace(task) {
            old.abort();
        }
    }

    /// Stops a running merge (its open slice rolls back).
    pub(super) fn stop(&self) {
        if let Some(task) = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }

    /// The merged size and the first leaf index the map does not cover.
    #[cfg(test)]
    fn bounds(&self) -> (u64, u64) {
        let tail = self.tail.read().unwrap_or_else(PoisonError::into_inner);
        (tail.merged, tail.covered)
    }
}

/// `INSERT` of `rows` `(token_id, leaf_index)` pairs into `token_ids`,
/// skipping NULL padding and pairs a stopped merge already wrote. `OR
/// ROLLBACK`: a refused row rolls the slice back, so SQLite keeps no
/// statement journal.
fn slice_insert_sql(rows: usize) -> String {
    format!(
        "INSERT OR ROLLBACK INTO token_ids (token_id, leaf_index) \
         SELECT v.column1, v.column2 FROM (VALUES {}) AS v \
         WHERE v.column1 IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM token_ids t WHERE t.token_id = v.column1 AND t.leaf_index = v.column2);\n",
        placeholders(rows, 2)
    )
}

/// The pairs of `mapped`, sorted by token id, when they are exactly the
/// entries `from .. to` (one per leaf index); `None` otherwise.
fn sorted_if_whole(
    mapped: &HashMap<TokenId, u64>,
    from: u64,
    to: u64,
) -> Option<Vec<([u8; 32], i64)>> {
    let n = usize::try_from(to - from).ok()?;
    if mapped.len() != n {
        return None;
    }
    let mut seen = vec![false; n];
    let mut rows = Vec::with_capacity(n);
    for (id, &leaf) in mapped {
        let at = usize::try_from(leaf.checked_sub(from)?).ok()?;
        if std::mem::replace(seen.get_mut(at)?, true) {
            return None;
        }
        rows.push((id.0, i64::try_from(leaf).ok()?));
    }
    rows.sort_unstable();
    Some(rows)
}

/// Writes the entries `job.from .. job.to` into `token_ids`, slice by
/// slice, the last slice with the new merged size. The pairs come from
/// the store's map when it holds exactly those entries (it was filled
/// from the batches as they were written), else from `entries`.
async fn merge(
    job: MergeJob,
    readers: &SqlitePool,
    writer: &SqlitePool,
    wal: Option<&tokio::sync::Notify>,
) -> Result<(), StoreError> {
    let read = Instant::now();
    let (mapped, from, to) = (job.mapped, job.from, job.to);
    let sorted = tokio::task::spawn_blocking(move || sorted_if_whole(&mapped, from, to))
        .await
        .map_err(|e| StoreError::Corrupt(format!("sorting token ids: {e}")))?;
    let rows = match sorted {
        Some(rows) => rows,
        None => read_sorted(readers, from, to).await?,
    };
    tracing::debug!(
        rows = rows.len(),
        us = read.elapsed().as_micros(),
        "token ids to merge sorted"
    );
    let slices = rows.chunks(SLICE_ROWS);
    let last = slices.len().saturating_sub(1);
    for (n, slice) in slices.enumerate() {
        let mut sql = String::from("BEGIN IMMEDIATE;\n");
        let mut args = SqliteArguments::default();
        for chunk in slice.chunks(STATEMENT_ROWS) {
            let padded = chunk.len().next_power_of_two();
            sql.push_str(&slice_insert_sql(padded));
            (|| {
                for (id, index) in chunk {
                    args.add(&id[..])?;
                    args.add(*index)?;
                }
                for _ in chunk.len()..padded {
                    args.add(None::<&[u8]>)?;
                    args.add(None::<i64>)?;
                }
                Ok::<_, sqlx::error::BoxDynError>(())
            })()
            .map_err(sqlx::Error::Encode)?;
        }
        if n == last {
            sql.push_str("INSERT INTO token_id_merges (merged_size, created_at) VALUES (?, ?);\n");
            (|| {
                args.add(to_i64(to)?)?;
                args.add(unix_now())
            })()
            .map_err(sqlx::Error::Encode)?;
        }
        sql.push_str("COMMIT");
        let mut guard = Uncommitted {
            conn: writer.acquire().await?,
            committed: false,
        };
        let held = Instant::now();
        sqlx::query_with(AssertSqlSafe(sql), args)
            .execute(&mut *guard.conn)
            .await?;
        guard.committed();
        tracing::debug!(
            slice = n,
            rows = slice.len(),
            us = held.elapsed().as_micros(),
            "token-id slice merged"
        );
        if let Some(wal) = wal {
            wal.notify_one();
        }
        // Let a batch waiting for the writer go first.
        tokio::task::yield_now().await;
    }
    Ok(())
}

/// The entries `from .. to` as `(token_id, leaf_index)`, sorted by token
/// id, read from `entries` (all of them, or an error).
async fn read_sorted(
    readers: &SqlitePool,
    from: u64,
    to: u64,
) -> Result<Vec<([u8; 32], i64)>, StoreError> {
    let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(
        "SELECT token_id, leaf_index FROM entries \
         WHERE leaf_index >= ? AND leaf_index < ? ORDER BY token_id",
    )
    .bind(to_i64(from)?)
    .bind(to_i64(to)?)
    .fetch_all(readers)
    .await?;
    if u64::try_from(rows.len()).ok() != Some(to - from) {
        return Err(StoreError::Corrupt(format!(
            "{} entries between leaf indexes {from} and {to}",
            rows.len()
        )));
    }
    rows.into_iter()
        .map(|(id, leaf)| Ok((to_token_id(&id)?.0, leaf)))
        .collect()
}

/// How many entries gather above `merged` before a merge: `merge_at`, or
/// an eighth of the merged index when that is more. A merge dirties
/// about every page of `token_ids` once the index has fewer pages than
/// the merge has entries, so growing the merge with the index keeps the
/// pages written per entry flat (an eighth: about one page per 20 entries
/// with 8 KiB pages), at the cost of a larger map: about 50 bytes per
/// entry, so 3 MB up to 65,536 entries and 60 MB at 10 million (twice
/// that while a merge runs).
fn merge_size(merge_at: u64, merged: u64) -> u64 {
    merge_at.max(merged / 8)
}

#[cfg(test)]
mod tests;
