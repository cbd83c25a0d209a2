//! The PostgreSQL back end, for production and scale-out. Batches are
//! written with array parameters (`UNNEST`), one statement per table, and
//! the sequencer is kept unique by a session advisory lock, which standby
//! instances poll to take over when its session ends.

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use loupe_schemas::token::TokenId;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};
use tokio::sync::Mutex;

use super::{
    ApiKey, Backend, ENTRY_COLUMNS, LogBatch, LoggedEntry, SequencerLease, Store, StoreError,
    StoredCheckpoint, StoredEntry, StoredTile, SubjectHead, TokenStatus, api_key_from_row,
    checkpoint_from_row, entry_columns, entry_from_row, head_from_row, logged_from_row,
    status_from_row, tile_from_row, to_i64, to_u64, unix_now,
};

/// The advisory lock key of the sequencer: the bytes of `loupe_sq`.
pub const SEQUENCER_LOCK_KEY: i64 = 0x6c6f_7570_655f_7371;

/// Most pooled connections: ten for queries, and two that the scale-out
/// hand-off keeps for LISTEN (one on every instance, one more on the
/// leader; see [`crate::handoff`]).
const MAX_CONNECTIONS: u32 = 12;

/// The log in a PostgreSQL database.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    options: PgConnectOptions,
    /// Interior node hashes the proofs computed.
    node_cache: Arc<crate::proofs::NodeCache>,
}

static STATUS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {} FROM entries e \
         LEFT JOIN entries r ON r.revokes = e.token_id \
         LEFT JOIN entries s ON s.supersedes = e.token_id \
         WHERE e.token_id = $1",
        entry_columns("e"),
        entry_columns("r"),
        entry_columns("s")
    )
});

static BY_TOKEN_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE token_id = $1"));
static BY_INDEX: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE leaf_index = $1"));
static BY_REVOKES: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE revokes = $1"));
static BY_SUPERSEDES: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE supersedes = $1"));
static CURRENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ENTRY_COLUMNS} FROM entries WHERE iss = $1 AND sub = $2 \
         ORDER BY leaf_index DESC LIMIT 1"
    )
});
/// A whole batch in one statement, so one round trip: PostgreSQL runs a
/// statement with data-modifying CTEs atomically, and every part is
/// guarded by the log size the batch was built on (all parts see the same
/// snapshot; a concurrent writer is stopped by the primary keys).
static APPEND_BATCH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH guard AS (SELECT COALESCE(MAX(tree_size), 0) = $10 AS ok FROM checkpoints), \
         new_entries AS (INSERT INTO entries ({ENTRY_COLUMNS}) \
             SELECT t.*, $9 FROM UNNEST($1::bigint[], $2::bytea[], $3::text[], $4::text[], \
                 $5::text[], $6::bytea[], $7::bytea[], $8::bytea[]) AS t \
             WHERE (SELECT ok FROM guard) RETURNING 1), \
         new_tiles AS (INSERT INTO tiles (level, tile_index, width, data) \
             SELECT * FROM UNNEST($11::smallint[], $12::bigint[], $13::int[], $14::bytea[]) \
             WHERE (SELECT ok FROM guard) \
             ON CONFLICT (level, tile_index) DO UPDATE \
             SET width = EXCLUDED.width, data = EXCLUDED.data RETURNING 1) \
         INSERT INTO checkpoints (tree_size, root, note, created_at) \
         SELECT $15, $16, $17, $9 WHERE (SELECT ok FROM guard) RETURNING tree_size"
    )
});

impl PostgresStore {
    /// Connects to and migrates the database at `url`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] for a bad URL or when connecting fails;
    /// [`StoreError::Migrate`] when the migrations fail.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self {
            pool,
            options,
            node_cache: Arc::default(),
        })
    }

    /// The connection pool, for tests and maintenance tools.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn fetch_entry(
        &self,
        sql: &'static str,
        bind: impl FnOnce(
            sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
        )
            -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Option<StoredEntry>, StoreError> {
        let row = bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => entry_from_row(&row, 0),
            None => Ok(None),
        }
    }
}

/// A session advisory lock held on a dedicated connection; dropping the
/// lease closes the connection, which releases the lock.
#[derive(Debug)]
struct PgLease(Mutex<PgConnection>);

#[async_trait]
impl SequencerLease for PgLease {
    async fn check(&self) -> Result<(), StoreError> {
        let mut conn = self.0.lock().await;
        // The lock lives as long as the session: a live session holds it.
        let held: Result<bool, _> = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
             AND pid = pg_backend_pid() AND granted \
             AND classid = ($1 >> 32)::oid AND objid = ($1 & 4294967295)::oid)",
        )
        .bind(SEQUENCER_LOCK_KEY)
        .fetch_one(&mut *conn)
        .await;
        match held {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => Err(StoreError::LockLost),
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn lock_sequencer(&self) -> Result<Box<dyn SequencerLease>, StoreError> {
        let mut conn = PgConnection::connect_with(&self.options).await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(SEQUENCER_LOCK_KEY)
            .fetch_one(&mut conn)
            .await?;
        if !locked {
            // Best effort: the connection closes on drop anyway.
            let _ = conn.close().await;
            return Err(StoreError::SequencerLocked);
        }
        Ok(Box::new(PgLease(Mutex::new(conn))))
    }

    async fn wait_for_sequencer_lock(
        &self,
        poll: Duration,
    ) -> Result<Box<dyn SequencerLease>, StoreError> {
        let mut conn = PgConnection::connect_with(&self.options).await?;
        loop {
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(SEQUENCER_LOCK_KEY)
                .fetch_one(&mut conn)
                .await?;
            if locked {
                return Ok(Box::new(PgLease(Mutex::new(conn))));
            }
            tokio::time::sleep(poll).await;
        }
    }

    async fn append_batch(&self, batch: &LogBatch) -> Result<(), StoreError> {
        let n = batch.entries.len();
        let mut leaf_index = Vec::with_capacity(n);
        let mut token_id = Vec::with_capacity(n);
        let mut kind = Vec::with_capacity(n);
        let mut iss = Vec::with_capacity(n);
        let mut sub = Vec::with_capacity(n);
        let mut supersedes = Vec::with_capacity(n);
        let mut revokes = Vec::with_capacity(n);
        let mut statement = Vec::with_capacity(n);
        for e in &batch.entries {
            leaf_index.push(to_i64(e.leaf_index)?);
            token_id.push(e.token_id.0.as_slice());
            kind.push(e.kind.as_str());
            iss.push(e.iss.as_str());
            sub.push(e.sub.as_deref());
            supersedes.push(e.supersedes.as_ref().map(|t| t.0.as_slice()));
            revokes.push(e.revokes.as_ref().map(|t| t.0.as_slice()));
            statement.push(e.statement.as_slice());
        }
        let t = batch.tiles.len();
        let mut level = Vec::with_capacity(t);
        let mut index = Vec::with_capacity(t);
        let mut width = Vec::with_capacity(t);
        let mut data = Vec::with_capacity(t);
        for tile in &batch.tiles {
            level.push(i16::from(tile.coords.level()));
            index.push(to_i64(tile.coords.index())?);
            width.push(i32::from(tile.coords.width()));
            data.push(tile.data.as_slice());
        }
        let written: Option<i64> = sqlx::query_scalar(AssertSqlSafe(APPEND_BATCH.as_str()))
            .bind(leaf_index)
            .bind(token_id)
            .bind(kind)
            .bind(iss)
            .bind(sub)
            .bind(supersedes)
            .bind(revokes)
            .bind(statement)
            .bind(unix_now())
            .bind(to_i64(batch.old_size)?)
            .bind(level)
            .bind(index)
            .bind(width)
            .bind(data)
            .bind(to_i64(batch.checkpoint_size)?)
            .bind(batch.checkpoint_root.as_slice())
            .bind(batch.checkpoint_note.as_str())
            .fetch_optional(&self.pool)
            .await?;
        if written.is_some() {
            return Ok(());
        }
        // The guard refused: nothing was written.
        Err(StoreError::SizeMismatch {
            expected: batch.old_size,
            found: self.tree_size().await?,
        })
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
            "SELECT tree_size, root, note, created_at FROM checkpoints WHERE tree_size = $1",
        )
        .bind(to_i64(tree_size)?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| checkpoint_from_row(&r)).transpose()
    }

    async fn entry_by_token_id(&self, id: &TokenId) -> Result<Option<StoredEntry>, StoreError> {
        self.fetch_entry(BY_TOKEN_ID.as_str(), |q| q.bind(id.0.as_slice()))
            .await
    }

    async fn entry_by_index(&self, leaf_index: u64) -> Result<Option<StoredEntry>, StoreError> {
        let index = to_i64(leaf_index)?;
        self.fetch_entry(BY_INDEX.as_str(), |q| q.bind(index)).await
    }

    async fn entries_range(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        let start = to_i64(start)?;
        let rows = sqlx::query_scalar(
            "SELECT statement FROM entries WHERE leaf_index >= $1 AND leaf_index < $2 \
             ORDER BY leaf_index",
        )
        .bind(start)
        .bind(start.saturating_add(i64::from(count)))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn token_status(&self, id: &TokenId) -> Result<Option<TokenStatus>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(STATUS_SQL.as_str()))
            .bind(id.0.as_slice())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => status_from_row(&row),
            None => Ok(None),
        }
    }

    async fn revocation_of(&self, id: &TokenId) -> Result<Option<StoredEntry>, StoreError> {
        self.fetch_entry(BY_REVOKES.as_str(), |q| q.bind(id.0.as_slice()))
            .await
    }

    async fn superseder_of(&self, id: &TokenId) -> Result<Option<StoredEntry>, StoreError> {
        self.fetch_entry(BY_SUPERSEDES.as_str(), |q| q.bind(id.0.as_slice()))
            .await
    }

    async fn current_token(&self, iss: &str, sub: &str) -> Result<Option<StoredEntry>, StoreError> {
        self.fetch_entry(CURRENT.as_str(), |q| q.bind(iss).bind(sub))
            .await
    }

    async fn lookup_entries(&self, ids: &[TokenId]) -> Result<Vec<LoggedEntry>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&[u8]> = ids.iter().map(|id| id.0.as_slice()).collect();
        sqlx::query(
            "SELECT e.token_id, e.leaf_index, e.kind, e.iss, e.sub, r.token_id \
             FROM entries e LEFT JOIN entries r ON r.revokes = e.token_id \
             WHERE e.token_id = ANY($1::bytea[])",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(logged_from_row)
        .collect()
    }

    async fn subject_heads(
        &self,
        subjects: &[(String, String)],
    ) -> Result<Vec<SubjectHead>, StoreError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let iss: Vec<&str> = subjects.iter().map(|(i, _)| i.as_str()).collect();
        let sub: Vec<&str> = subjects.iter().map(|(_, s)| s.as_str()).collect();
        sqlx::query(
            "SELECT q.iss, q.sub, h.token_id, h.leaf_index, r.token_id \
             FROM UNNEST($1::text[], $2::text[]) AS q(iss, sub) \
             CROSS JOIN LATERAL (SELECT x.token_id, x.leaf_index FROM entries x \
                 WHERE x.iss = q.iss AND x.sub = q.sub \
                 ORDER BY x.leaf_index DESC LIMIT 1) h \
             LEFT JOIN entries r ON r.revokes = h.token_id",
        )
        .bind(iss)
        .bind(sub)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(head_from_row)
        .collect()
    }

    async fn read_tiles(&self, tiles: &[(u8, u64)]) -> Result<Vec<StoredTile>, StoreError> {
        if tiles.is_empty() {
            return Ok(Vec::new());
        }
        let level: Vec<i16> = tiles.iter().map(|&(l, _)| i16::from(l)).collect();
        let index = tiles
            .iter()
            .map(|&(_, i)| to_i64(i))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "SELECT t.level::bigint, t.tile_index, t.width::bigint, t.data FROM tiles t \
             JOIN UNNEST($1::smallint[], $2::bigint[]) AS q(level, tile_index) \
             ON t.level = q.level AND t.tile_index = q.tile_index",
        )
        .bind(level)
        .bind(index)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(tile_from_row)
        .collect()
    }

    async fn create_api_key(
        &self,
        name: &str,
        issuer: &str,
        key_hash: &[u8],
    ) -> Result<ApiKey, StoreError> {
        let row = sqlx::query(
            "INSERT INTO api_keys (name, issuer, key_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, name, issuer, key_hash, created_at, revoked_at",
        )
        .bind(name)
        .bind(issuer)
        .bind(key_hash)
        .bind(unix_now())
        .fetch_one(&self.pool)
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
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(unix_now())
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn api_key_by_hash(&self, key_hash: &[u8]) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, issuer, key_hash, created_at, revoked_at FROM api_keys \
             WHERE key_hash = $1",
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
        self.pool.close().await;
    }
}
