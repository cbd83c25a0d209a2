//! Storage of the log: entries, hash tiles, checkpoints and API keys, behind
//! one object-safe trait with a SQLite and a PostgreSQL back end.
//!
//! [`open_store`] picks the back end from the database URL (`sqlite://…` or
//! `postgres://…`), runs the embedded migrations (`migrations/sqlite`,
//! `migrations/postgres`, same semantics) and returns an
//! `Arc<dyn Store>`.
//!
//! | table | what | written by |
//! | --- | --- | --- |
//! | `entries` | every leaf: token id, kind, `iss`, `sub`, `supersedes`, `revokes`, the logged bytes | the sequencer, append-only (triggers refuse UPDATE and DELETE) |
//! | `tiles` | C2SP `tlog-tiles` hash tiles, one row per tile, partial tiles grown in place | the sequencer (a trigger refuses shrinking a tile or changing its hashes) |
//! | `checkpoints` | the signed checkpoint of every batch | the sequencer, append-only |
//! | `token_ids`, `token_id_merges` (SQLite only) | token id -> leaf index of every entry below the latest merged size (PostgreSQL indexes `entries.token_id` instead) | the SQLite store's merges, append-only |
//! | `api_keys` | lab credentials, as a hash only | the admin CLI |
//! | `pending` (PostgreSQL only) | submissions a standby instance hands to the sequencing one, and their outcomes | [`crate::handoff`] |
//!
//! The sequencer writes a whole batch (entries, tiles, checkpoint) in one
//! transaction with [`Store::append_batch`], which also checks that the log
//! still has the size the batch was built on; readers therefore always see a
//! checkpoint, the entries it covers and their tiles together.
//!
//! Integers are stored as signed 64-bit values: leaf indexes and tree sizes
//! stay below [`MAX_TREE_SIZE`](loupe_schemas::merkle::MAX_TREE_SIZE) = 2^62.
//! Times are seconds since the Unix epoch.

use std::sync::Arc;

use async_trait::async_trait;
use loupe_schemas::merkle::Hash;
use loupe_schemas::tiles::TileCoords;
use loupe_schemas::token::{Statement, TokenId};
use thiserror::Error;

mod postgres;
mod sqlite;

#[cfg(test)]
mod tests;

pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;

/// Why a storage operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names no supported back end (`sqlite:` or
    /// `postgres:`/`postgresql:`).
    #[error("unsupported database URL (expected sqlite://… or postgres://…)")]
    UnsupportedUrl,
    /// The database driver failed: connection, query or constraint.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The embedded migrations could not be applied.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A batch was built on a tree size the log no longer has: another
    /// writer appended in between. Nothing was written.
    #[error("log has size {found}, the batch was built on size {expected}")]
    SizeMismatch {
        /// The size the batch assumed.
        expected: u64,
        /// The size of the log's latest checkpoint.
        found: u64,
    },
    /// Another process holds the sequencer lock (PostgreSQL advisory lock).
    #[error("another sequencer holds the log's sequencer lock")]
    SequencerLocked,
    /// The sequencer lock was lost: the session that held it is gone, and
    /// another instance may sequence now.
    #[error("the sequencer lock was lost")]
    LockLost,
    /// A batch names a token id that the log already holds, or names one
    /// twice (SQLite, whose store checks its merged index and its map of
    /// the entries above it; PostgreSQL refuses with a unique violation).
    /// Nothing was written.
    #[error("token id {0} is already in the log")]
    DuplicateTokenId(TokenId),
    /// The database holds a value this code cannot have written (wrong
    /// length, out-of-range number, unknown kind) or contradicts itself.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the error is a violated database constraint or trigger
    /// (unique key, check, append-only refusal).
    #[must_use]
    pub fn is_constraint_violation(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(e)) => {
                e.is_unique_violation()
                    || e.is_check_violation()
                    || e.is_foreign_key_violation()
                    // PostgreSQL: restrict_violation (our triggers) and raise_exception.
                    || matches!(e.code().as_deref(), Some("23001" | "P0001"))
                    // SQLite: SQLITE_CONSTRAINT and its extended codes (RAISE(ABORT) is 19).
                    || e.code().is_some_and(|c| {
                        c.parse::<u32>().is_ok_and(|n| n & 0xff == 19)
                    })
            }
            Self::DuplicateTokenId(_) => true,
            _ => false,
        }
    }
}

/// Which back end a store uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite database file (WAL, `synchronous=FULL`).
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// What a log entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A provenance token.
    Token,
    /// A revocation of a token.
    Revocation,
}

impl EntryKind {
    /// The value of the `kind` column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Revocation => "revocation",
        }
    }

    /// Parses the value of the `kind` column.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for any other value.
    pub fn parse(kind: &str) -> Result<Self, StoreError> {
        match kind {
            "token" => Ok(Self::Token),
            "revocation" => Ok(Self::Revocation),
            other => Err(StoreError::Corrupt(format!("unknown entry kind {other:?}"))),
        }
    }
}

/// An entry to append: the leaf and the facts the log indexes about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// Position in the log.
    pub leaf_index: u64,
    /// SHA-256 of `statement`.
    pub token_id: TokenId,
    /// Token or revocation.
    pub kind: EntryKind,
    /// The issuer (`iss` claim).
    pub iss: String,
    /// The report number (`sub` claim) of a token; `None` for a revocation.
    pub sub: Option<String>,
    /// The token a token replaces.
    pub supersedes: Option<TokenId>,
    /// The token a revocation revokes.
    pub revokes: Option<TokenId>,
    /// The logged bytes: the leaf data.
    pub statement: Vec<u8>,
}

impl NewEntry {
    /// Describes `statement` as the entry at `leaf_index`.
    #[must_use]
    pub fn from_statement(leaf_index: u64, statement: &Statement) -> Self {
        match statement {
            Statement::Token(t) => Self {
                leaf_index,
                token_id: t.id(),
                kind: EntryKind::Token,
                iss: t.claims().iss.clone(),
                sub: Some(t.claims().sub.clone()),
                supersedes: t.provenance().supersedes,
                revokes: None,
                statement: t.logged_bytes().to_vec(),
            },
            Statement::Revocation(r) => Self {
                leaf_index,
                token_id: r.id(),
                kind: EntryKind::Revocation,
                iss: r.claims().iss.clone(),
                sub: None,
                supersedes: None,
                revokes: Some(r.revokes()),
                statement: r.logged_bytes().to_vec(),
            },
        }
    }
}

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Position in the log.
    pub leaf_index: u64,
    /// SHA-256 of `statement`.
    pub token_id: TokenId,
    /// Token or revocation.
    pub kind: EntryKind,
    /// The issuer (`iss` claim).
    pub iss: String,
    /// The report number of a token.
    pub sub: Option<String>,
    /// The token a token replaces.
    pub supersedes: Option<TokenId>,
    /// The token a revocation revokes.
    pub revokes: Option<TokenId>,
    /// The logged bytes.
    pub statement: Vec<u8>,
    /// When the entry was appended (Unix seconds).
    pub created_at: i64,
}

/// A token and the entries that end its life, read in one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenStatus {
    /// The entry itself (a token or a revocation).
    pub entry: StoredEntry,
    /// The revocation that revokes it, if logged.
    pub revoked_by: Option<StoredEntry>,
    /// The token that supersedes it, if logged.
    pub superseded_by: Option<StoredEntry>,
}

/// What the sequencer needs to know about a logged entry named by a
/// submission (itself, the token it revokes or supersedes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedEntry {
    /// The entry's token id.
    pub token_id: TokenId,
    /// Its position in the log.
    pub leaf_index: u64,
    /// Token or revocation.
    pub kind: EntryKind,
    /// Its issuer.
    pub iss: String,
    /// Its report number (tokens only).
    pub sub: Option<String>,
    /// The revocation of it, if one is logged.
    pub revoked_by: Option<TokenId>,
}

/// The latest token logged for one `(iss, sub)`: the stone's current token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectHead {
    /// The issuer.
    pub iss: String,
    /// The report number.
    pub sub: String,
    /// The latest token for them.
    pub token_id: TokenId,
    /// Its position in the log.
    pub leaf_index: u64,
    /// The revocation of it, if one is logged.
    pub revoked_by: Option<TokenId>,
}

/// A hash tile as stored: its coordinates (with the stored width) and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTile {
    /// Level, index and the width stored.
    pub coords: TileCoords,
    /// `width * 32` bytes of hashes.
    pub data: Vec<u8>,
}

/// A signed checkpoint as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size it commits to.
    pub tree_size: u64,
    /// The root hash of that tree.
    pub root: Hash,
    /// The signed note text (C2SP `tlog-checkpoint` in a `signed-note`).
    pub note: String,
    /// When it was stored (Unix seconds).
    pub created_at: i64,
}

/// One batch of the sequencer: everything written in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogBatch {
    /// The tree size the batch was built on; the write fails with
    /// [`StoreError::SizeMismatch`] unless it is the latest checkpoint's
    /// size (or 0 on an empty log).
    pub old_size: u64,
    /// The new entries, at leaf indexes `old_size..` in order.
    pub entries: Vec<NewEntry>,
    /// Every tile that is new or wider, with its full bytes.
    pub tiles: Vec<StoredTile>,
    /// The checkpoint of the new tree: its size, root and signed note.
    pub checkpoint_size: u64,
    /// Root hash of the new tree.
    pub checkpoint_root: Hash,
    /// Signed note text of the new checkpoint.
    pub checkpoint_note: String,
}

/// A lab API key as stored (the secret itself is never stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Database id.
    pub id: i64,
    /// A human label.
    pub name: String,
    /// The issuer (`iss`) the key may sign for.
    pub issuer: String,
    /// The hash of the secret, as computed by the caller.
    pub key_hash: Vec<u8>,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// Held by the one process that sequences the log; dropping it releases
/// the lock.
#[async_trait]
pub trait SequencerLease: Send + Sync + std::fmt::Debug {
    /// Checks that the lock is still held (the PostgreSQL session that
    /// holds the advisory lock is alive and holds it).
    ///
    /// # Errors
    ///
    /// [`StoreError::LockLost`] when it is not.
    async fn check(&self) -> Result<(), StoreError>;
}

/// The log's storage. Implemented by [`SqliteStore`] and [`PostgresStore`];
/// used as `Arc<dyn Store>`.
///
/// Every method is one query (or one transaction) unless noted. Every
/// method fails with [`StoreError::Database`] when the database does, and
/// with [`StoreError::Corrupt`] when it returns what this code never writes.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which back end this is.
    fn backend(&self) -> Backend;

    /// Takes the sequencer lock: on PostgreSQL a session advisory lock on a
    /// dedicated connection (`pg_try_advisory_lock`); on SQLite, where one
    /// process owns the file, a lease that always holds.
    ///
    /// # Errors
    ///
    /// [`StoreError::SequencerLocked`] when another session holds it.
    async fn lock_sequencer(&self) -> Result<Box<dyn SequencerLease>, StoreError>;

    /// Waits until the sequencer lock is free and takes it, trying every
    /// `poll` (a standby instance waiting to take over). PostgreSQL keeps one
    /// connection for the whole wait; the default tries
    /// [`Store::lock_sequencer`] again and again.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the database cannot be reached (the
    /// caller retries).
    async fn wait_for_sequencer_lock(
        &self,
        poll: std::time::Duration,
    ) -> Result<Box<dyn SequencerLease>, StoreError> {
        loop {
            match self.lock_sequencer().await {
                Err(StoreError::SequencerLocked) => tokio::time::sleep(poll).await,
                other => return other,
            }
        }
    }

    /// Writes a batch in one transaction: checks the log size, inserts the
    /// entries, upserts the tiles, inserts the checkpoint. All or nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError::SizeMismatch`] when the log's size is not
    /// `batch.old_size`; [`StoreError::Database`] for any failure,
    /// including a violated constraint. Nothing is written on error.
    async fn append_batch(&self, batch: &LogBatch) -> Result<(), StoreError>;

    /// Size of the tree at the latest checkpoint (0 for an empty log).
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn tree_size(&self) -> Result<u64, StoreError>;

    /// The latest checkpoint, if any.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// The checkpoint of the tree of `tree_size` leaves, if one was stored.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn checkpoint_at(&self, tree_size: u64) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// The entry with this token id.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn entry_by_token_id(&self, id: &TokenId) -> Result<Option<StoredEntry>, StoreError>;

    /// The entry at `leaf_index`.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn entry_by_index(&self, leaf_index: u64) -> Result<Option<StoredEntry>, StoreError>;

    /// The logged bytes of entries `start .. start + count`, in order; fewer
    /// when the log ends earlier.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn entries_range(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError>;

    /// The entry with this token id together with its revocation and its
    /// superseding token, if logged: the status answer in one query.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn token_status(&self, id: &TokenId) -> Result<Option<TokenStatus>, StoreError>;

    /// The logged revocation of the token `id`.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn revocation_of(&self, id: &TokenId) -> Result<Option<StoredEntry>, StoreError>;

    /// The logged token that supersedes the token `id`.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn superseder_of(&self, id: &TokenId) -> Result<Option<StoredEntry>, StoreError>;

    /// The current token of a stone: the latest token for `(iss, sub)`,
    /// revoked or not.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn current_token(&self, iss: &str, sub: &str) -> Result<Option<StoredEntry>, StoreError>;

    /// For the sequencer: what the log knows about each of `ids` (those not
    /// logged are absent), in one query per chunk of ids.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn lookup_entries(&self, ids: &[TokenId]) -> Result<Vec<LoggedEntry>, StoreError>;

    /// For the sequencer: the latest token for each `(iss, sub)` (those
    /// without any token are absent), in one query per chunk.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn subject_heads(
        &self,
        subjects: &[(String, String)],
    ) -> Result<Vec<SubjectHead>, StoreError>;

    /// The stored tiles at `(level, index)` for each of `tiles`, with the
    /// widest width stored (absent when not stored), in one query.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn read_tiles(&self, tiles: &[(u8, u64)]) -> Result<Vec<StoredTile>, StoreError>;

    /// Stores a new API key.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`], a unique violation when the hash exists.
    async fn create_api_key(
        &self,
        name: &str,
        issuer: &str,
        key_hash: &[u8],
    ) -> Result<ApiKey, StoreError>;

    /// All API keys, revoked ones included, oldest first.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes the API key `id`; returns `false` when there is no such
    /// unrevoked key.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn revoke_api_key(&self, id: i64) -> Result<bool, StoreError>;

    /// The API key with this hash, revoked or not.
    ///
    /// # Errors
    ///
    /// See the trait documentation.
    async fn api_key_by_hash(&self, key_hash: &[u8]) -> Result<Option<ApiKey>, StoreError>;

    /// The cache of this log's interior node hashes that proofs use
    /// ([`crate::proofs::NodeCache`]); `None`: every proof computes them.
    fn node_cache(&self) -> Option<Arc<crate::proofs::NodeCache>> {
        None
    }

    /// Closes the connections; later calls fail.
    async fn close(&self);
}

/// Opens (creating an SQLite file if missing) and migrates the store named
/// by `url`: `sqlite://path/to/file.db` (or `sqlite::memory:` for a
/// throw-away database) or `postgres://user@host/db`.
///
/// # Errors
///
/// [`StoreError::UnsupportedUrl`] for another scheme;
/// [`StoreError::Database`] when connecting fails;
/// [`StoreError::Migrate`] when the migrations fail.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// The current time in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Converts a stored signed integer to an index or size.
pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}: {value}")))
}

/// Converts an index or size to the stored signed integer.
pub(crate) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} does not fit in i64")))
}

/// Converts stored bytes to a token id.
pub(crate) fn to_token_id(bytes: &[u8]) -> Result<TokenId, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenId)
        .map_err(|_| StoreError::Corrupt(format!("token id of {} bytes", bytes.len())))
}

/// Converts optional stored bytes to a token id.
pub(crate) fn to_opt_token_id(bytes: Option<Vec<u8>>) -> Result<Option<TokenId>, StoreError> {
    bytes.as_deref().map(to_token_id).transpose()
}

/// Converts stored bytes to a hash.
pub(crate) fn to_hash(bytes: &[u8]) -> Result<Hash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| StoreError::Corrupt(format!("hash of {} bytes", bytes.len())))
}

/// Converts stored tile coordinates.
pub(crate) fn to_tile(
    level: i64,
    index: i64,
    width: i64,
    data: Vec<u8>,
) -> Result<StoredTile, StoreError> {
    let bad = || StoreError::Corrupt(format!("tile {level}/{index} width {width}"));
    let coords = TileCoords::new(
        u8::try_from(level).map_err(|_| bad())?,
        u64::try_from(index).map_err(|_| bad())?,
        u16::try_from(width).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    if data.len() != usize::from(coords.width()) * 32 {
        return Err(bad());
    }
    Ok(StoredTile { coords, data })
}

/// Splits `n` items into chunks of `max` and one remainder, for multi-row
/// statements: one statement per chunk, each distinct size prepared once
/// and kept in the connection's statement cache.
pub(crate) fn chunk_sizes(n: usize, max: usize) -> Vec<usize> {
    let max = max.max(1);
    let mut sizes = vec![max; n / max];
    if !n.is_multiple_of(max) {
        sizes.push(n % max);
    }
    sizes
}

/// The number of rows a multi-row statement of `rows` rows binds: the next
/// power of two (a lookup's extra slots repeat a key or match nothing; an
/// insert's are NULL rows it skips), so statements come in a few shapes
/// that stay prepared.
pub(crate) fn padded_rows(rows: usize) -> usize {
    rows.next_power_of_two()
}

/// The entry columns, in the order [`entry_from_row`] reads them.
pub(crate) const ENTRY_COLUMNS: &str =
    "leaf_index, token_id, kind, iss, sub, supersedes, revokes, statement, created_at";

/// [`ENTRY_COLUMNS`] qualified by a table alias: `e.leaf_index, …`.
pub(crate) fn entry_columns(alias: &str) -> String {
    ENTRY_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Number of columns in [`ENTRY_COLUMNS`].
pub(crate) const ENTRY_WIDTH: usize = 9;

/// Reads an entry from the [`ENTRY_WIDTH`] columns of `row` starting at
/// `at`; `None` when its `leaf_index` is NULL (an outer join found nothing).
pub(crate) fn entry_from_row<R>(row: &R, at: usize) -> Result<Option<StoredEntry>, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let Some(leaf_index) = row.try_get::<Option<i64>, _>(at)? else {
        return Ok(None);
    };
    let token_id: Vec<u8> = row.try_get(at + 1)?;
    let kind: String = row.try_get(at + 2)?;
    Ok(Some(StoredEntry {
        leaf_index: to_u64(leaf_index, "leaf index")?,
        token_id: to_token_id(&token_id)?,
        kind: EntryKind::parse(&kind)?,
        iss: row.try_get(at + 3)?,
        sub: row.try_get(at + 4)?,
        supersedes: to_opt_token_id(row.try_get(at + 5)?)?,
        revokes: to_opt_token_id(row.try_get(at + 6)?)?,
        statement: row.try_get(at + 7)?,
        created_at: row.try_get(at + 8)?,
    }))
}

/// Reads `tree_size, root, note, created_at`.
pub(crate) fn checkpoint_from_row<R>(row: &R) -> Result<StoredCheckpoint, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let root: Vec<u8> = row.try_get(1)?;
    Ok(StoredCheckpoint {
        tree_size: to_u64(row.try_get(0)?, "tree size")?,
        root: to_hash(&root)?,
        note: row.try_get(2)?,
        created_at: row.try_get(3)?,
    })
}

/// Reads `id, name, issuer, key_hash, created_at, revoked_at`.
pub(crate) fn api_key_from_row<R>(row: &R) -> Result<ApiKey, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ApiKey {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        issuer: row.try_get(2)?,
        key_hash: row.try_get(3)?,
        created_at: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
    })
}

/// Reads `token_id, leaf_index, kind, iss, sub, revoked_by`.
pub(crate) fn logged_from_row<R>(row: &R) -> Result<LoggedEntry, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let token_id: Vec<u8> = row.try_get(0)?;
    let kind: String = row.try_get(2)?;
    Ok(LoggedEntry {
        token_id: to_token_id(&token_id)?,
        leaf_index: to_u64(row.try_get(1)?, "leaf index")?,
        kind: EntryKind::parse(&kind)?,
        iss: row.try_get(3)?,
        sub: row.try_get(4)?,
        revoked_by: to_opt_token_id(row.try_get(5)?)?,
    })
}

/// Reads `iss, sub, token_id, leaf_index, revoked_by`.
pub(crate) fn head_from_row<R>(row: &R) -> Result<SubjectHead, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let token_id: Vec<u8> = row.try_get(2)?;
    Ok(SubjectHead {
        iss: row.try_get(0)?,
        sub: row.try_get(1)?,
        token_id: to_token_id(&token_id)?,
        leaf_index: to_u64(row.try_get(3)?, "leaf index")?,
        revoked_by: to_opt_token_id(row.try_get(4)?)?,
    })
}

/// Reads `level, tile_index, width, data`.
pub(crate) fn tile_from_row<R>(row: &R) -> Result<StoredTile, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    to_tile(
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    )
}

/// Builds the `TokenStatus` from a row of three [`ENTRY_WIDTH`] groups:
/// the entry, its revocation, its superseder.
pub(crate) fn status_from_row<R>(row: &R) -> Result<Option<TokenStatus>, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let Some(entry) = entry_from_row(row, 0)? else {
        return Ok(None);
    };
    Ok(Some(TokenStatus {
        entry,
        revoked_by: entry_from_row(row, ENTRY_WIDTH)?,
        superseded_by: entry_from_row(row, 2 * ENTRY_WIDTH)?,
    }))
}
