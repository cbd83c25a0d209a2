//! The verifier's memory: for each log, the newest checkpoint it has
//! verified, so a later answer from that log can be checked for a fork
//! (same size, different root; or no consistency proof) or a rollback
//! (a smaller tree than one already seen).
//!
//! Kept as a small JSON file, replaced atomically (write a temporary file,
//! then rename) on every change. A missing file is an empty memory; a
//! malformed one is an error, never silently forgotten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::checkpoint::VerifiedCheckpoint;
use serde::{Deserialize, Serialize};

/// The largest state file read (16 MiB).
pub const MAX_STATE_SIZE: u64 = 16 << 20;

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("checkpoint state {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a state file.
    #[error("checkpoint state {path} is malformed: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// The newest checkpoint seen for one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash, standard base64.
    pub root_hash: String,
    /// When it was first seen (Unix seconds).
    pub seen_at: u64,
    /// The signed checkpoint as received, kept as evidence.
    pub note: String,
}

impl SeenCheckpoint {
    /// The root hash as bytes (`None` if the stored text is not 32 bytes
    /// of base64).
    #[must_use]
    pub fn root(&self) -> Option<[u8; 32]> {
        STANDARD.decode(&self.root_hash).ok()?.try_into().ok()
    }

    /// Its size and root.
    #[must_use]
    pub fn head(&self) -> SeenHead {
        SeenHead {
            size: self.size,
            root: self.root(),
        }
    }
}

/// The size and root of a remembered checkpoint
/// ([`CheckpointMemory::get_head`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenHead {
    /// Tree size.
    pub size: u64,
    /// Root hash (`None` if the stored text is not 32 bytes of base64).
    pub root: Option<[u8; 32]>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    /// Log origin → newest checkpoint.
    logs: BTreeMap<String, SeenCheckpoint>,
}

/// The per-log memory of the newest verified checkpoint.
#[derive(Debug)]
pub struct CheckpointMemory {
    path: Option<PathBuf>,
    logs: Mutex<BTreeMap<String, SeenCheckpoint>>,
}

impl CheckpointMemory {
    /// A memory that lives only as long as this value (tests, one-shot
    /// servers that are fed a state file elsewhere).
    #[must_use]
    pub fn in_memory() -> Self {
        Self {
            path: None,
            logs: Mutex::new(BTreeMap::new()),
        }
    }

    /// Opens the state file at `path` (created on the first change).
    ///
    /// # Errors
    /// [`StateError`] if it exists but cannot be read or parsed.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let io = |source| StateError::Io {
            path: path.to_owned(),
            source,
        };
        let logs = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io(e)),
            Ok(meta) if meta.len() > MAX_STATE_SIZE => {
                return Err(StateError::Malformed {
                    path: path.to_owned(),
                    why: format!("{} bytes is more than the 16 MiB allowed", meta.len()),
                });
            }
            Ok(_) => {
                let bytes = std::fs::read(path).map_err(io)?;
                let file: FileFormat =
                    serde_json::from_slice(&bytes).map_err(|e| StateError::Malformed {
                        path: path.to_owned(),
                        why: e.to_string(),
                    })?;
                for (origin, seen) in &file.logs {
                    if seen.root().is_none() {
                        return Err(StateError::Malformed {
                            path: path.to_owned(),
                            why: format!("log {origin:?}: root_hash is not 32 bytes of base64"),
                        });
                    }
                }
                file.logs
            }
        };
        Ok(Self {
            path: Some(path.to_owned()),
            logs: Mutex::new(logs),
        })
    }

    /// The default location: `$LOUPE_STATE`, else
    /// `$XDG_STATE_HOME/loupe/checkpoints.json`, else
    /// `~/.local/state/loupe/checkpoints.json`.
    #[must_use]
    pub fn default_path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("LOUPE_STATE") {
            return Some(PathBuf::from(p));
        }
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
        Some(base.join("loupe").join("checkpoints.json"))
    }

    /// The file this memory is kept in, if any.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The newest checkpoint seen for `origin`.
    #[must_use]
    pub fn get(&self, origin: &str) -> Option<SeenCheckpoint> {
        self.lock().get(origin).cloned()
    }

    /// The size and root hash of the newest checkpoint remembered for
    /// `origin`, without copying the stored note (the hot path of a
    /// verification that finds the tree it saw before).
    #[must_use]
    pub fn get_head(&self, origin: &str) -> Option<SeenHead> {
        let logs = self.lock();
        let seen = logs.get(origin)?;
        let mut root = [0u8; 33];
        let root = match STANDARD.decode_slice(&seen.root_hash, &mut root) {
            Ok(32) => root[..32].try_into().ok(),
            _ => None,
        };
        Some(SeenHead {
            size: seen.size,
            root,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SeenCheckpoint>> {
        // A poisoned lock only means another thread panicked mid-update of
        // a plain map; the map itself is still whole.
        self.logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `checkpoint` as the newest seen for its log if it is larger
    /// than the one remembered (the caller has checked consistency), and
    /// writes the file.
    ///
    /// # Errors
    /// [`StateError::Io`] if the file cannot be written.
    pub fn advance(&self, checkpoint: &VerifiedCheckpoint, now: u64) -> Result<bool, StateError> {
        // The file is written under the lock so that two concurrent
        // advances cannot leave the older one on disk.
        let mut logs = self.lock();
        if logs
            .get(checkpoint.origin())
            .is_some_and(|seen| seen.size >= checkpoint.size())
        {
            return Ok(false);
        }
        let previous = logs.insert(
            checkpoint.origin().to_owned(),
            SeenCheckpoint {
                size: checkpoint.size(),
                root_hash: STANDARD.encode(checkpoint.root_hash()),
                seen_at: now,
                note: checkpoint.signed_note().to_owned(),
            },
        );
        if let Some(path) = &self.path
            && let Err(e) = write_atomically(path, &logs)
        {
            // Keep memory and file in step: undo.
            match previous {
                Some(p) => logs.insert(checkpoint.origin().to_owned(), p),
                None => logs.remove(checkpoint.origin()),
            };
            return Err(e);
        }
        Ok(true)
    }

    /// Forgets what was seen for `origin` (after an operator has looked
    /// into a reported fork and decided which log to trust).
    ///
    /// # Errors
    /// [`StateError::Io`] if the file cannot be written.
    pub fn forget(&self, origin: &str) -> Result<bool, StateError> {
        let mut logs = self.lock();
        if !logs.contains_key(origin) {
            return Ok(false);
        }
        let mut after = logs.clone();
        after.remove(origin);
        if let Some(path) = &self.path {
            write_atomically(path, &after)?;
        }
        *logs = after;
        Ok(true)
    }
}

fn write_atomically(
    path: &Path,
    logs: &BTreeMap<String, SeenCheckpoint>,
) -> Result<(), StateError> {
    let file = FileFormat { logs: logs.clone() };
    let io = |source| StateError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let json = serde_json::to_vec_pretty(&file).map_err(|e| StateError::Malformed {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
