//! Backups and the restore check.
//!
//! - [`backup_sqlite`] (`loupe-issuer backup --to FILE`): a consistent copy
//!   of a live SQLite log (`VACUUM INTO`), safe while serving. PostgreSQL is
//!   backed up with `pg_dump --format=custom` (see `docs/issuer.md`).
//! - [`check_expected_checkpoint`] (`serve --expect-checkpoint FILE`): on
//!   start, before anything is written, the log must contain the tree of a
//!   checkpoint it published (the last one seen before the restore, kept by
//!   a monitor, a witness or a verifier). A restore that lost entries is
//!   refused: resuming it would append different entries at indexes the
//!   world has already seen, forking the log.

use std::path::{Path, PathBuf};

use loupe_schemas::checkpoint::{NoteVerifier, open_checkpoint_any};
use loupe_schemas::merkle::verify_consistency;
use sqlx::Connection as _;

use crate::proofs::consistency_proof;
use crate::store::{Store, StoreError};

/// Largest checkpoint file read.
pub const MAX_CHECKPOINT_FILE: u64 = 64 * 1024;

/// Why the log refuses to start against an expected checkpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The checkpoint file cannot be read.
    #[error("cannot read expected checkpoint {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a checkpoint of this log signed by its keys.
    #[error("expected checkpoint {}: not a checkpoint signed by this log's keys: {reason}", path.display())]
    NotOurs {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The database holds fewer entries than were published.
    #[error(
        "the database holds {have} log entries but the log published a checkpoint of {expected}: \
         this restore lost entries; starting would fork the log (restore a newer backup)"
    )]
    LostEntries {
        /// Entries in the database.
        have: u64,
        /// The published tree size.
        expected: u64,
    },
    /// The database holds a different tree than was published.
    #[error(
        "the database's tree of size {have} is not consistent with the published checkpoint of \
         size {expected}: {reason}; this is not the log that was published"
    )]
    Inconsistent {
        /// The database's tree size.
        have: u64,
        /// The published tree size.
        expected: u64,
        /// What failed.
        reason: String,
    },
    /// The store could not be read.
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

/// What [`check_expected_checkpoint`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreCheck {
    /// The published tree size.
    pub expected: u64,
    /// The database's tree size (at least `expected`).
    pub have: u64,
}

/// Checks that the log in `store` contains the tree of the signed
/// checkpoint in `path`, which must be signed by one of `log_keys` (the
/// current and previous log keys) for `origin`.
///
/// # Errors
///
/// [`RestoreError`]: unreadable or foreign checkpoint, lost entries, or an
/// inconsistent tree.
pub async fn check_expected_checkpoint(
    store: &dyn Store,
    path: &Path,
    origin: &str,
    log_keys: &[NoteVerifier],
) -> Result<RestoreCheck, RestoreError> {
    let read_err = |source| RestoreError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() > MAX_CHECKPOINT_FILE {
        return Err(RestoreError::NotOurs {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_CHECKPOINT_FILE} bytes"),
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let expected = open_checkpoint_any(&bytes, origin, log_keys, &[], 0, 0).map_err(|e| {
        RestoreError::NotOurs {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    let (have, root) = match store.latest_checkpoint().await? {
        Some(c) => (c.tree_size, c.root),
        None => (0, loupe_schemas::merkle::EMPTY_ROOT),
    };
    let want = expected.size();
    if have < want {
        return Err(RestoreError::LostEntries {
            have,
            expected: want,
        });
    }
    let inconsistent = |reason: String| RestoreError::Inconsistent {
        have,
        expected: want,
        reason,
    };
    if have == want {
        if &root != expected.root_hash() {
            return Err(inconsistent("the root hashes differ".into()));
        }
    } else if want > 0 {
        let proof = consistency_proof(store, want, have)
            .await
            .map_err(|e| inconsistent(format!("no consistency proof: {e}")))?;
        verify_consistency(want, have, &proof.path, expected.root_hash(), &root)
            .map_err(|e| inconsistent(e.to_string()))?;
    }
    Ok(RestoreCheck {
        expected: want,
        have,
    })
}

/// Why a backup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Not a SQLite database URL.
    #[error(
        "backup --to works on SQLite; for PostgreSQL use pg_dump --format=custom (docs/issuer.md)"
    )]
    NotSqlite,
    /// The target exists.
    #[error("{} already exists; refusing to overwrite a backup", path.display())]
    Exists {
        /// The target.
        path: PathBuf,
    },
    /// The target path is not valid UTF-8 (SQLite needs a text path).
    #[error("{} is not a UTF-8 path", path.display())]
    BadPath {
        /// The target.
        path: PathBuf,
    },
    /// The database could not be read or the copy written.
    #[error("backup failed: {0}")]
    Sqlite(#[from] sqlx::Error),
}

/// What [`backup_sqlite`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// The copy.
    pub path: PathBuf,
    /// The tree size of the copy's latest checkpoint (0 if none).
    pub tree_size: u64,
}

/// Copies the SQLite log at `database_url` to a new file `to`, consistently
/// and while the issuer may be serving (`VACUUM INTO` reads one snapshot).
///
/// # Errors
///
/// [`BackupError`].
pub async fn backup_sqlite(database_url: &str, to: &Path) -> Result<BackupSummary, BackupError> {
    use std::str::FromStr as _;
    if !database_url.starts_with("sqlite:") {
        return Err(BackupError::NotSqlite);
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(BackupError::Exists {
            path: to.to_path_buf(),
        });
    }
    let target = to.to_str().ok_or_else(|| BackupError::BadPath {
        path: to.to_path_buf(),
    })?;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)?
        .read_only(true)
        .create_if_missing(false);
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(&options).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let copy = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(to)
        .read_only(true);
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(&copy).await?;
    let size: Option<i64> = sqlx::query_scalar("SELECT MAX(tree_size) FROM checkpoints")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(BackupSummary {
        path: to.to_path_buf(),
        tree_size: size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
    })
}
