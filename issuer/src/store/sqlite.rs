//! The SQLite back end: one database file in WAL mode with
//! `synchronous=FULL`, so a committed batch survives a power cut.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use loupe_schemas::token::TokenId;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Arguments as _, AssertSqlSafe};

mod id_index;

use self::id_index::{DEFAULT_MERGE_AT, IdIndex, Probe};

use super::{
    ApiKey, Backend, ENTRY_COLUMNS, LogBatch, LoggedEntry, NewEntry, SequencerLease, Store,
    StoreError, StoredCheckpoint, StoredEntry, StoredTile, SubjectHead, TokenStatus,
    api_key_from_row, checkpoint_from_row, chunk_sizes, entry_columns, entry_from_row,
    head_from_row, logged_from_row, padded_rows, status_from_row, tile_from_row, to_i64,
    to_token_id, to_u64, unix_now,
};

/// Rows per multi-row statement. SQLite allows 32766 bound variables; 256
/// rows of 9 columns stay far below and keep each statement small.
const MAX_ROWS: usize = 256;

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 4 * MAX_ROWS + 64;

/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Most pooled reader connections (SQLite serialises writers: batches go
/// through one writer connection).
const MAX_CONNECTIONS: u32 = 8;

/// Page size of new database files.
const PAGE_SIZE: u32 = 8192;

/// Page cache of the writer connection. Pages it misses it reads through
/// the memory map without a copy. Not larger: when a page split renumbers
/// pages, SQLite uses the lock page's number as a temporary key, and every
/// commit after one then walks the writer's whole page cache
/// (`pcache1TruncateUnsafe`, 12 % of the writer's time with 64 MiB).
const WRITER_CACHE_KIB: i64 = 8 * 1024;

/// Page cache of each reader connection.
const READER_CACHE_KIB: i64 = 8 * 1024;

/// How much of the database file the writer connection reads through a
/// memory map (`PRAGMA mmap_size`): pages its cache misses are read without
/// a `read` call and a copy. Writes still go through the WAL with `write`
/// and `fsync`: durability is unchanged.
///
/// Reader connections do not map the file. A reader that begins a read
/// transaction after a commit drops its page cache and, with a map, unmaps
/// and maps the file again: with a batch committed every few milliseconds
/// the `munmap` (a TLB shoot-down on every core) and the page faults that
/// follow cost more than the copies they save (≈ 30 % of the readers' time
/// in a profile of 2026-11-27, docs/performance.md).
const MMAP_SIZE: u64 = 1 << 30;

/// WAL pages after which the writer connection checkpoints by itself
/// (`PRAGMA wal_autocheckpoint`). The background checkpointer normally
/// keeps the WAL copied back long before: this bounds the WAL (128 MiB of
/// 8 KiB pages) if it falls behind, and lets the WAL restart from its
/// beginning, which needs a moment when no commit races the checkpoint.
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 16_000;

/// How long the background checkpointer lets committed batches gather in
/// the WAL before it copies them back into the database file: pages that
/// several batches dirty (the token-id index) are copied once.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(100);

/// The log in an SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    /// Whether a sequencer of this process holds the lease.
    sequencing: Arc<AtomicBool>,
    /// Wakes the background checkpointer after a commit (file databases).
    checkpointer: Option<Checkpointer>,
    /// Token id -> leaf index above the last merge (see [`id_index`]).
    ids: Arc<IdIndex>,
    /// Interior node hashes the proofs computed.
    node_cache: Arc<crate::proofs::NodeCache>,
}

/// Copies the WAL back into the database file on a connection of its own,
/// off the writer's path, so that a batch's commit never waits for a WAL
/// checkpoint (`PRAGMA wal_checkpoint(PASSIVE)`: it never blocks the
/// writer or readers). Durability is the WAL's, as before: a checkpoint
/// only moves committed pages.
///
/// After each checkpoint it also flushes the database file
/// (`fdatasync`). SQLite syncs the database file only at the end of a
/// checkpoint that reached the end of the WAL, which a background
/// checkpoint under load never does (batches keep committing while it
/// copies); so the pages it copied stayed dirty in the OS's cache until
/// the writer's own checkpoint (at [`WRITER_AUTOCHECKPOINT_PAGES`]) synced
/// them all at once, inside a commit: a 20 ms stall at 100,000 entries and
/// 50 ms at 600,000, once every ≈ 11,000 tokens, which is what raised the
/// p99 of sustained runs past 50 ms (docs/performance.md). The flush costs
/// nothing in safety: syncing more often than SQLite asks is always safe.
#[derive(Debug)]
struct Checkpointer {
    pool: SqlitePool,
    committed: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Checkpointer {
    /// `file` is the database file, flushed after each checkpoint.
    fn start(pool: SqlitePool, file: std::path::PathBuf) -> Self {
        let committed = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn(Self::run(pool.clone(), Arc::clone(&committed), file));
        Self {
            pool,
            committed,
            task,
        }
    }

    async fn run(pool: SqlitePool, committed: Arc<tokio::sync::Notify>, file: std::path::PathBuf) {
        let mut database: Option<Arc<std::fs::File>> = None;
        loop {
            committed.notified().await;
            tokio::time::sleep(CHECKPOINT_DELAY).await;
            if pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_all(&pool)
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed; the writer checkpoints instead");
                continue;
            }
            // Opened once (tried again after a failure). Write access: some
            // systems (Windows) flush only a writable handle; nothing is
            // written through it.
            if database.is_none() {
                database = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&file)
                    .map(Arc::new)
                    .inspect_err(|e| {
                        tracing::warn!(error = %e, "cannot open the database file to flush it");
                    })
                    .ok();
            }
            if let Some(f) = &database {
                let f = Arc::clone(f);
                match tokio::task::spawn_blocking(move || f.sync_data()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "flushing the database file failed");
                    }
                    Err(e) => tracing::warn!(error = %e, "the flush task failed"),
                }
            }
        }
    }
}

/// The writer connection during a batch's transaction. Until
/// [`Uncommitted::committed`], dropping it (on an error, or when the future
/// is cancelled) closes the connection instead of returning it to the pool:
/// closing rolls back the transaction left open, and the pool opens a
/// fresh connection for the next batch.
struct Uncommitted {
    conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    committed: bool,
}

impl Uncommitted {
    /// The COMMIT succeeded: the connection goes back to the pool.
    fn committed(mut self) {
        self.committed = true;
    }
}

impl Drop for Uncommitted {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(c) = &self.checkpointer {
            c.task.abort();
        }
        self.ids.stop();
    }
}

static SELECT_ENTRY: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {ENTRY_COLUMNS} FROM entries"));

/// The leaf index of the token id bound to both `?`s, from an index
/// lookup in `token_ids` or a range scan of the entries from the third
/// `?` up (see [`id_index`]): a scalar subquery.
const UNMAPPED_LEAF: &str = "(SELECT leaf_index FROM token_ids WHERE token_id = ? \
     UNION ALL SELECT leaf_index FROM entries WHERE leaf_index >= ? AND token_id = ? LIMIT 1)";

/// The status query of the entry `WHERE e.leaf_index = {leaf}`.
fn status_sql(leaf: &str) -> String {
    format!(
        "SELECT {}, {}, {} FROM entries e \
         LEFT JOIN entries r ON r.revokes = e.token_id \
         LEFT JOIN entries s ON s.supersedes = e.token_id \
         WHERE e.leaf_index = {leaf}",
        entry_columns("e"),
        entry_columns("r"),
        entry_columns("s")
    )
}

/// The status of the entry at a bound leaf index.
static STATUS_BY_LEAF_SQL: LazyLock<String> = LazyLock::new(|| status_sql("?"));

/// The status of an entry the map does not hold ([`UNMAPPED_LEAF`]).
static STATUS_UNMAPPED_SQL: LazyLock<String> = LazyLock::new(|| status_sql(UNMAPPED_LEAF));

/// Binds the arguments of [`UNMAPPED_LEAF`].
fn add_unmapped(
    args: &mut SqliteArguments,
    id: &TokenId,
    from: u64,
) -> Result<(), sqlx::error::BoxDynError> {
    args.add(id.0.to_vec())?;
    args.add(to_i64(from)?)?;
    args.add(id.0.to_vec())
}

/// Checks the entry that the token-id map or index gave for `id`: they
/// only ever name an entry with this id, so another id is a corrupt
/// store, never another token.
fn found_for(id: &TokenId, entry: &StoredEntry) -> Result<(), StoreError> {
    if entry.token_id == *id {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "the token-id index names leaf {} for {id}",
            entry.leaf_index
        )))
    }
}

/// `?, ?, …` groups: `rows` groups of `per_row` placeholders.
fn placeholders(rows: usize, per_row: usize) -> String {
    let group = format!("({})", vec!["?"; per_row].join(", "));
    vec![group; rows].join(", ")
}

/// A multi-row insert of `rows` rows into `table (columns)` that skips the
/// rows whose first value is NULL: a batch's rows are padded up to a power
/// of two with NULL rows, so that its inserts come in a few shapes that
/// stay prepared. (`WHERE` also keeps an upsert's `ON CONFLICT` from being
/// read as a join constraint.)
fn padded_insert(
    verb: &str,
    table_columns: &str,
    rows: usize,
    per_row: usize,
    tail: &str,
) -> String {
    format!(
        "{verb} INTO {table_columns} SELECT * FROM (VALUES {}) WHERE column1 IS NOT NULL{tail};\n",
        placeholders(rows, per_row)
    )
}

/// `{head}(SELECT token_id FROM token_ids WHERE token_id IN (…) LIMIT 1)`
/// over the ids of `entries` (at most [`MAX_ROWS`]), padded with NULLs to
/// a power of two: the first of them already in the merged index, if any.
fn id_probe(head: &str, entries: &[NewEntry]) -> Result<(String, SqliteArguments), StoreError> {
    let rows = padded_rows(entries.len().max(1));
    let sql = format!(
        "{head}(SELECT token_id FROM token_ids WHERE token_id IN ({}) LIMIT 1)",
        vec!["?"; rows].join(", ")
    );
    let mut args = SqliteArguments::default();
    (|| {
        for e in entries {
            args.add(e.token_id.0.to_vec())?;
        }
        for _ in entries.len()..rows {
            args.add(None::<Vec<u8>>)?;
        }
        Ok::<_, sqlx::error::BoxDynError>(())
    })()
    .map_err(sqlx::Error::Encode)?;
    Ok((sql, args))
}

/// Values per row of [`entries_insert_sql`] (the [`ENTRY_COLUMNS`]).
const ENTRY_ARITY: usize = 9;

/// Values per row of [`tiles_insert_sql`].
const TILE_ARITY: usize = 4;

/// `items` as its full chunks of [`MAX_ROWS`], and the rest.
fn full_chunks<T>(items: &[T]) -> (std::slice::Chunks<'_, T>, &[T]) {
    let (full, rest) = items.split_at(items.len() - items.len() % MAX_ROWS);
    (full.chunks(MAX_ROWS), rest)
}

/// Binds `rows` rows of `per_row` NULLs: the padding [`padded_insert`]
/// skips.
fn add_null_rows(
    args: &mut SqliteArguments,
    rows: usize,
    per_row: usize,
) -> Result<(), sqlx::error::BoxDynError> {
    for _ in 0..rows * per_row {
        args.add(None::<i64>)?;
    }
    Ok(())
}

/// [`padded_insert`] of `rows` entries. `OR ROLLBACK`: a refused row
/// (which the sequencer's checks make a bug) rolls the whole transaction
/// back, which the batch's connection is closed after anyway; so SQLite
/// need not copy every index page the insert touches into a statement
/// journal first (9 % of the writer's time).
fn entries_insert_sql(rows: usize) -> String {
    padded_insert(
        "INSERT OR ROLLBACK",
        &format!("entries ({ENTRY_COLUMNS})"),
        rows,
        ENTRY_ARITY,
        "",
    )
}

/// [`padded_insert`] of `rows` tiles: a partial tile grows in place.
fn tiles_insert_sql(rows: usize) -> String {
    padded_insert(
        "INSERT",
        "tiles (level, tile_index, width, data)",
        rows,
        TILE_ARITY,
        " ON CONFLICT (level, tile_index) DO UPDATE \
         SET width = excluded.width, data = excluded.data",
    )
}

/// Binds `entries` as rows of [`entries_insert_sql`], then NULL rows up to
/// `rows`.
fn add_entries(
    args: &mut SqliteArguments,
    entries: &[NewEntry],
    rows: usize,
    now: i64,
) -> Result<(), StoreError> {
    (|| {
        for e in entries {
            args.add(to_i64(e.leaf_index)?)?;
            args.add(e.token_id.0.to_vec())?;
            args.add(e.kind.as_str())?;
            args.add(e.iss.clone())?;
            args.add(e.sub.clone())?;
            args.add(e.supersedes.map(|t| t.0.to_vec()))?;
            args.add(e.revokes.map(|t| t.0.to_vec()))?;
            args.add(e.statement.clone())?;
            args.add(now)?;
        }
        add_null_rows(args, rows - entries.len(), ENTRY_ARITY)
    })()
    .map_err(|e| sqlx::Error::Encode(e).into())
}

/// Binds `tiles` as rows of [`tiles_insert_sql`], then NULL rows up to
/// `rows`.
fn add_tiles(
    args: &mut SqliteArguments,
    tiles: &[StoredTile],
    rows: usize,
) -> Result<(), StoreError> {
    (|| {
        for t in tiles {
            args.add(i64::from(t.coords.level()))?;
            args.add(to_i64(t.coords.index())?)?;
            args.add(i64::from(t.coords.width()))?;
            args.add(t.data.clone())?;
        }
        add_null_rows(args, rows - tiles.len(), TILE_ARITY)
    })()
    .map_err(|e| sqlx::Error::Encode(e).into())
}

impl SqliteStore {
    /// Opens (creating it if missing) and migrates the database at `url`
    /// (`sqlite://path` or `sqlite::memory:`), in WAL mode with
    /// `synchronous=FULL`, a busy timeout and foreign keys on.
    ///
    /// Batches are written through a connection of their own with a large
    /// page cache; reads use a pool of reader connections. An in-memory
    /// database lives in one connection, which then serves both.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] for a bad URL or when opening fails;
    /// [`StoreError::Migrate`] when the migrations fail.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with_merge_at(url, DEFAULT_MERGE_AT).await
    }

    /// [`SqliteStore::open`], merging the token-id index whenever
    /// `merge_at` entries have gathered above the last merge (65,536 with
    /// [`SqliteStore::open`]; an eighth of the merged index when that is
    /// more): smaller keeps less in memory and writes more pages per entry.
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    pub async fn open_with_merge_at(url: &str, merge_at: u64) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // Larger pages halve the pages a batch dirties in the random
            // token-id index (only takes effect when the file is created).
            .page_size(PAGE_SIZE)
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Multi-row statements of every size from 1 to MAX_ROWS, for
            // each kind of batch statement.
            .statement_cache_capacity(STATEMENT_CACHE)
            // Statement journals of multi-row inserts stay in memory.
            .pragma("temp_store", "MEMORY");
        let pool = |connections: u32, writer: bool| {
            let cache_kib = if writer {
                WRITER_CACHE_KIB
            } else {
                READER_CACHE_KIB
            };
            let mut options = options
                .clone()
                .pragma("cache_size", (-cache_kib).to_string());
            if writer {
                options = options.pragma("mmap_size", MMAP_SIZE.to_string());
                if !in_memory {
                    options = options.pragma(
                        "wal_autocheckpoint",
                        WRITER_AUTOCHECKPOINT_PAGES.to_string(),
                    );
                }
            } else {
                options = options.pragma("mmap_size", "0");
            }
            SqlitePoolOptions::new()
                .max_connections(connections)
                .min_connections(1)
                // sqlx pings a pooled connection before handing it out by
                // default: for SQLite that is one more request to the
                // connection's thread, and two more thread wake-ups, on
                // every acquire (every batch of the writer). An SQLite
                // connection cannot be dropped by a server; one that
                // failed a batch is closed, not returned (`Uncommitted`).
                .test_before_acquire(false)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
        };
        // A file database is checkpointed in the background (see
        // `Checkpointer`); the writer only steps in if that falls behind.
        let writer = pool(1, true).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        // An in-memory database lives in its one connection.
        let readers = if in_memory {
            writer.clone()
        } else {
            pool(MAX_CONNECTIONS, false).await?
        };
        let checkpointer = if in_memory {
            None
        } else {
            Some(Checkpointer::start(
                pool(1, false).await?,
                options.get_filename().to_path_buf(),
            ))
        };
        let ids = IdIndex::load(&writer, merge_at).await?;
        Ok(Self {
            pool: readers,
            writer,
            sequencing: Arc::new(AtomicBool::new(false)),
            checkpointer,
            ids,
            node_cache: Arc::default(),
        })
    }

    /// The connection pool, for tests and maintenance tools.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn fetch_entry(
        &self,
        condition: &str,
        bind: impl FnOnce(&mut SqliteArguments) -> Result<(), sqlx::error::BoxDynError>,
    ) -> Result<Option<StoredEntry>, StoreError> {
        let mut args = SqliteArguments::default();
        bind(&mut args).map_err(sqlx::Error::Encode)?;
        let sql = format!("{} WHERE {condition}", *SELECT_ENTRY);
        let row = sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => entry_from_row(&row, 0),
            None => Ok(None),
        }
    }
}

/// The SQLite lease: SQLite files belong to one process, so it only keeps
/// a second sequencer of the same process out.
#[derive(Debug)]
struct SqliteLease(Arc<AtomicBool>);

#[async_trait]
impl SequencerLease for SqliteLease {
    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Drop for SqliteLease {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn lock_sequencer(&self) -> Result<Box<dyn SequencerLease>, StoreError> {
        if self
            .sequencing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(StoreError::SequencerLocked);
        }
        Ok(Box::new(SqliteLease(Arc::clone(&self.sequencing))))
    }

    async fn append_batch(&self, batch: &LogBatch) -> Result<(), StoreError> {
        let now = unix_now();
        // Every statement of the batch is one request to the connection's
        // worker thread, and each request costs two thread wake-ups: on a
        // busy machine the writer spent longer waiting to be scheduled than
        // running. So a batch is two requests: BEGIN IMMEDIATE (which takes
        // the write lock up front, so the size check and the writes see the
        // same database) with the size check, then every insert and the
        // COMMIT as one multi-statement query. Everything the requests
        // carry is encoded before the first, so the write lock is held
        // only while SQLite works.
        //
        // Full chunks of MAX_ROWS rows go one statement per request; the
        // rest of the batch, padded to a power of two (see `padded_insert`),
        // goes with the checkpoint and the COMMIT as one query. Every shape
        // is prepared once and stays in the connection's statement cache:
        // a query of a new shape for every batch cost the writer a sixth of
        // its time in SQLite's parser.
        let (full, rest) = full_chunks(&batch.entries);
        let (full_tiles, rest_tiles) = full_chunks(&batch.tiles);
        let mut chunks = Vec::new();
        for chunk in full {
            let mut args = SqliteArguments::default();
            add_entries(&mut args, chunk, MAX_ROWS, now)?;
            chunks.push((entries_insert_sql(MAX_ROWS), args));
        }
        for chunk in full_tiles {
            let mut args = SqliteArguments::default();
            add_tiles(&mut args, chunk, MAX_ROWS)?;
            chunks.push((tiles_insert_sql(MAX_ROWS), args));
        }
        let mut sql = String::new();
        let mut args = SqliteArguments::default();
        if !rest.is_empty() {
            let rows = padded_rows(rest.len());
            sql.push_str(&entries_insert_sql(rows));
            add_entries(&mut args, rest, rows, now)?;
        }
        if !rest_tiles.is_empty() {
            let rows = padded_rows(rest_tiles.len());
            sql.push_str(&tiles_insert_sql(rows));
            add_tiles(&mut args, rest_tiles, rows)?;
        }
        sql.push_str(
            "INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES (?, ?, ?, ?);\n\
             COMMIT",
        );
        (|| {
            args.add(to_i64(batch.checkpoint_size)?)?;
            args.add(batch.checkpoint_root.to_vec())?;
            args.add(batch.checkpoint_note.clone())?;
            args.add(now)
        })()
        .map_err(sqlx::Error::Encode)?;

        // The first request also looks the batch's ids up in the merged
        // index, under the write lock: with the map's check of the entries
        // above it, no id is logged twice.
        self.ids
            .check_batch(&self.pool, batch.old_size, &batch.entries)
            .await?;
        // The ids go MAX_ROWS to a lookup: the first lookup rides with the
        // size check, any further ones (batches larger than MAX_ROWS) are
        // requests of their own.
        let mut id_chunks = batch.entries.chunks(MAX_ROWS);
        let (first_sql, first_args) = id_probe(
            "BEGIN IMMEDIATE; SELECT (SELECT MAX(tree_size) FROM checkpoints), ",
            id_chunks.next().unwrap_or_default(),
        )?;
        let mut guard = Uncommitted {
            conn: self.writer.acquire().await?,
            committed: false,
        };
        let conn = &mut *guard.conn;
        let (size, mut repeated): (Option<i64>, Option<Vec<u8>>) =
            sqlx::query_as_with(AssertSqlSafe(first_sql), first_args)
                .fetch_one(&mut *conn)
                .await?;
        let found = size.map_or(Ok(0), |s| to_u64(s, "tree size"))?;
        if found != batch.old_size {
            return Err(StoreError::SizeMismatch {
                expected: batch.old_size,
                found,
            });
        }
        for chunk in id_chunks {
            if repeated.is_some() {
                break;
            }
            let (sql, args) = id_probe("SELECT NULL, ", chunk)?;
            (_, repeated) = sqlx::query_as_with::<_, (Option<i64>, Option<Vec<u8>>), _>(
                AssertSqlSafe(sql),
                args,
            )
            .fetch_one(&mut *conn)
            .await?;
        }
        if let Some(id) = repeated {
            return Err(StoreError::DuplicateTokenId(to_token_id(&id)?));
        }
        for (chunk_sql, chunk_args) in chunks {
            sqlx::query_with(AssertSqlSafe(chunk_sql), chunk_args)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query_with(AssertSqlSafe(sql), args)
            .execute(&mut *conn)
            .await?;
        guard.committed();
        if let Some(c) = &self.checkpointer {
            c.committed.notify_one();
        }
        if let Some(job) = self.ids.committed(batch.old_size, &batch.entries) {
            self.ids.start_merge(
                job,
                self.pool.clone(),
                self.writer.clone(),
                self.checkpointer.as_ref().map(|c| Arc::clone(&c.committed)),
            );
        }
        Ok(())
    }

    async fn tree_size(&self) -> Result<u64, StoreError> {
        let size: Option<i64> = sqlx::query_scalar("SELECT MAX(tree_size) FROM checkpoints")
            .fetch_one(&self.pool)
            .await?;
        size.map_or(Ok(0), |s| to_u64(s, "tree size"))
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT tree_size, root, note, created_at FROM checkpoints \
             ORDER BY tree_size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| checkpoint_from_row(&r)).transpose()
    }

    async fn checkpoint_at(&self, tree_size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT tree_size, root, note, created_at FROM checkpoints WHERE tree_size = ?",
        )
        .bind(to_i64(tree_size)?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| checkpoint_from_row(&r)).transpose()
    }

    async fn entry_by_token_id(&self, id: &TokenId) -> Result<Option<StoredEntry>, StoreError> {
        let entry = match self.ids.probe(id) {
            Probe::Leaf(index) => self.entry_by_index(index).await?,
            Probe::Unmapped { from } => {
                let condition = format!("leaf_index = {UNMAPPED_LEAF}");
                self.fetch_entry(&condition, |a| add_unmapped(a, id, from))
                    .await?
            }
        };
        if let Some(e) = &entry {
            found_for(id, e)?;
        }
        Ok(entry)
    }

    async fn entry_by_index(&self, leaf_index: u64) -> Result<Option<StoredEntry>, StoreError> {
        let index = to_i64(leaf_index)?;
        self.fetch_entry("leaf_index = ?", |a| a.add(index)).await
    }

    async fn entries_range(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        let start = to_i64(start)?;
        let rows = sqlx::query_scalar(
            "SELECT statement FROM entries WHERE leaf_index >= ? AND leaf_index < ? \
             ORDER BY leaf_index",
        )
        .bind(start)
        .bind(start.saturating_add(i64::from(count)))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn token_status(&self, id: &TokenId) -> Result<Option<TokenStatus>, StoreError> {
        let mut args = SqliteArguments::default();
        let sql = match self.ids.probe(id) {
            Probe::Leaf(index) => {
                args.add(to_i64(index)?).map_err(sqlx::Error::Encode)?;
                STATUS_BY_LEAF_SQL.as_str()
            }
            Probe::Unmapped { from } => {
                add_unmapped(&mut args, id, from).map_err(sqlx::Error::Encode)?;
                STATUS_UNMAPPED_SQL.as_str()
            }
        };
        let row = sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_optional(&self.pool)
            .await?;
        let status = match row {
            Some(row) => status_from_row(&row)?,
            None => None,
        };
        if let Some(s) = &status {
            found_for(id, &s.entry)?;
        }
        Ok(status)
    }

    async fn revocation_of(&self, id: &TokenId) -> Result<Option<StoredEntry>, StoreError> {
        let id = id.0.to_vec();
        self.fetch_entry("revokes = ?", |a| a.add(id)).await
    }

    async fn superseder_of(&self, id: &TokenId) -> Result<Option<StoredEntry>, StoreError> {
        let id = id.0.to_vec();
        self.fetch_entry("supersedes = ?", |a| a.add(id)).await
    }

    async fn current_token(&self, iss: &str, sub: &str) -> Result<Option<StoredEntry>, StoreError> {
        let (iss, sub) = (iss.to_owned(), sub.to_owned());
        self.fetch_entry(
            "iss = ? AND sub = ? ORDER BY leaf_index DESC LIMIT 1",
            |a| {
                a.add(iss)?;
                a.add(sub)
            },
        )
        .await
    }

    async fn lookup_entries(&self, ids: &[TokenId]) -> Result<Vec<LoggedEntry>, StoreError> {
        // Ids the map holds are read by leaf index; the others through
        // `token_ids` and a scan of the range the map does not cover.
        let mut leaves = Vec::new();
        let mut unmapped = Vec::new();
        let mut from = u64::MAX;
        for id in ids {
            match self.ids.probe(id) {
                Probe::Leaf(index) => leaves.push(to_i64(index)?),
                Probe::Unmapped { from: f } => {
                    unmapped.push(id.0.to_vec());
                    from = from.min(f);
                }
            }
        }
        let select = "SELECT e.token_id, e.leaf_index, e.kind, e.iss, e.sub, r.token_id \
             FROM entries e LEFT JOIN entries r ON r.revokes = e.token_id \
             WHERE e.leaf_index IN";
        let mut out = Vec::new();
        for chunk in leaves.chunks(MAX_ROWS) {
            let rows = padded_rows(chunk.len());
            let sql = format!("{select} ({})", vec!["?"; rows].join(", "));
            // The padding repeats the last index: IN ignores duplicates.
            let mut args = SqliteArguments::default();
            let padding = chunk.last().into_iter().cycle();
            for index in chunk.iter().chain(padding.take(rows - chunk.len())) {
                args.add(*index).map_err(sqlx::Error::Encode)?;
            }
            for row in sqlx::query_with(AssertSqlSafe(sql), args)
                .fetch_all(&self.pool)
                .await?
            {
                out.push(logged_from_row(&row)?);
            }
        }
        for chunk in unmapped.chunks(MAX_ROWS) {
            let rows = padded_rows(chunk.len());
            let list = vec!["?"; rows].join(", ");
            let sql = format!(
                "{select} (SELECT leaf_index FROM token_ids WHERE token_id IN ({list}) \
                 UNION ALL SELECT leaf_index FROM entries \
                 WHERE leaf_index >= ? AND token_id IN ({list}))"
            );
            // The padding repeats the last id: IN ignores duplicates.
            let mut args = SqliteArguments::default();
            let padded = || {
                let padding = chunk.last().into_iter().cycle();
                chunk.iter().chain(padding.take(rows - chunk.len()))
            };
            (|| {
                for id in padded() {
                    args.add(id.as_slice())?;
                }
                args.add(to_i64(from)?)?;
                for id in padded() {
                    args.add(id.as_slice())?;
                }
                Ok::<_, sqlx::error::BoxDynError>(())
            })()
            .map_err(sqlx::Error::Encode)?;
            for row in sqlx::query_with(AssertSqlSafe(sql), args)
                .fetch_all(&self.pool)
                .await?
            {
                out.push(logged_from_row(&row)?);
            }
        }
        Ok(out)
    }

    async fn subject_heads(
        &self,
        subjects: &[(String, String)],
    ) -> Result<Vec<SubjectHead>, StoreError> {
        let mut out = Vec::new();
        let mut rest = subjects;
        for rows in chunk_sizes(rest.len(), MAX_ROWS) {
            let (chunk, tail) = rest.split_at(rows);
            rest = tail;
            let sql = format!(
                "WITH q(iss, sub) AS (VALUES {}) \
                 SELECT e.iss, e.sub, e.token_id, e.leaf_index, r.token_id FROM q \
                 JOIN entries e ON e.leaf_index = (SELECT x.leaf_index FROM entries x \
                     WHERE x.iss = q.iss AND x.sub = q.sub ORDER BY x.leaf_index DESC LIMIT 1) \
                 LEFT JOIN entries r ON r.revokes = e.token_id",
                placeholders(padded_rows(rows), 2)
            );
            // The padding is (NULL, NULL), which matches no entry.
            let mut args = SqliteArguments::default();
            for (iss, sub) in chunk {
                (|| {
                    args.add(iss.as_str())?;
                    args.add(sub.as_str())
                })()
                .map_err(sqlx::Error::Encode)?;
            }
            for _ in rows..padded_rows(rows) {
                (|| {
                    args.add(None::<&str>)?;
                    args.add(None::<&str>)
                })()
                .map_err(sqlx::Error::Encode)?;
            }
            for row in sqlx::query_with(AssertSqlSafe(sql), args)
                .fetch_all(&self.pool)
                .await?
            {
                out.push(head_from_row(&row)?);
            }
        }
        Ok(out)
    }

    async fn read_tiles(&self, tiles: &[(u8, u64)]) -> Result<Vec<StoredTile>, StoreError> {
        let mut out = Vec::with_capacity(tiles.len());
        let mut rest = tiles;
        for rows in chunk_sizes(rest.len(), MAX_ROWS) {
            let (chunk, tail) = rest.split_at(rows);
            rest = tail;
            let sql = format!(
                "SELECT level, tile_index, width, data FROM tiles \
                 WHERE (level, tile_index) IN (VALUES {})",
                placeholders(padded_rows(rows), 2)
            );
            // The padding repeats the last tile: IN ignores duplicates.
            let mut args = SqliteArguments::default();
            let padding = chunk.last().into_iter().cycle();
            for &(level, index) in chunk.iter().chain(padding.take(padded_rows(rows) - rows)) {
                (|| {
                    args.add(i64::from(level))?;
                    args.add(to_i64(index)?)
                })()
                .map_err(sqlx::Error::Encode)?;
            }
            for row in sqlx::query_with(AssertSqlSafe(sql), args)
                .fetch_all(&self.pool)
                .await?
            {
                out.push(tile_from_row(&row)?);
            }
        }
        Ok(out)
    }

    async fn create_api_key(
        &self,
        name: &str,
        issuer: &str,
        key_hash: &[u8],
    ) -> Result<ApiKey, StoreError> {
        let row = sqlx::query(
            "INSERT INTO api_keys (name, issuer, key_hash, created_at) VALUES (?, ?, ?, ?) \
             RETURNING id, name, issuer, key_hash, created_at, revoked_at",
        )
        .bind(name)
        .bind(issuer)
        .bind(key_hash)
        .bind(unix_now())
        .fetch_one(&self.writer)
        .await?;
        api_key_from_row(&row)
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        sqlx::query(
            "SELECT id, name, issuer, key_hash, created_at, revoked_at FROM api_keys ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(api_key_from_row)
        .collect()
    }

    async fn revoke_api_key(&self, id: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(unix_now())
                .bind(id)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn api_key_by_hash(&self, key_hash: &[u8]) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, issuer, key_hash, created_at, revoked_at FROM api_keys \
             WHERE key_hash = ?",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| api_key_from_row(&r)).transpose()
    }

    fn node_cache(&self) -> Option<Arc<crate::proofs::NodeCache>> {
        Some(Arc::clone(&self.node_cache))
    }

    async fn close(&self) {
        self.ids.stop();
        if let Some(c) = &self.checkpointer {
            c.task.abort();
            c.pool.close().await;
        }
        self.pool.close().await;
        self.writer.close().await;
    }
}
