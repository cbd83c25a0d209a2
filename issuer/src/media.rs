//! The content-addressed media store: report PDFs, photos and videos kept
//! under their SHA-256 in a directory, served as `/media/{sha256-hex}`.
//!
//! Layout: `{dir}/{hex[0..2]}/{hex}`, 64 lowercase hex digits, fanned out
//! over 256 shard directories. An upload is hashed *while* it streams into
//! a temporary file `{dir}/.tmp-{random}` (same file system, so the final
//! rename is atomic), never held in memory whole, and refused with
//! [`MediaError::TooLarge`] the moment it passes its size limit. A finished
//! upload is flushed and `fsync`ed, renamed into place and its shard
//! directory `fsync`ed, so an acknowledged file survives a crash. Storing
//! the same bytes twice — even concurrently — is harmless: both end with
//! the same file. A failed, refused or cancelled (dropped) upload removes
//! its temporary file; temporary files older than a day, left by a crash,
//! are swept when the store is opened.
//!
//! Files are immutable once stored; the store never deletes them.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use loupe_issuer::media::{MediaStore, parse_media_id};
//!
//! let dir = tempfile::tempdir()?;
//! let store = MediaStore::open(dir.path()).await?;
//! let stored = store.put_reader(&b"%PDF-1.4 ..."[..], 1 << 20).await?;
//! let id = stored.sha256.to_string(); // the {sha256-hex} of /media/{sha256-hex}
//! assert_eq!(parse_media_id(&id)?, stored.sha256);
//! let file = store.get(&stored.sha256).await?.expect("stored");
//! assert_eq!(file.size, 12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::error::Error as StdError;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::time::{Duration, SystemTime};

use futures::{Stream, StreamExt as _};
use loupe_schemas::token::Sha256Digest;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, BufWriter};

use crate::problem::ApiError;

/// Prefix of temporary upload files in the store's directory.
pub const TEMP_PREFIX: &str = ".tmp-";
/// Temporary files older than this are taken as left by a crash and
/// removed by [`MediaStore::open`].
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Size of the read buffer of [`MediaStore::put_reader`] and of the write
/// buffer in front of the temporary file.
const BUF_SIZE: usize = 64 * 1024;

/// A media operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The upload passed its size limit; nothing was stored.
    #[error("the file is larger than the limit of {max} bytes")]
    TooLarge {
        /// The limit in bytes.
        max: u64,
    },
    /// A media id is not 64 lowercase hex digits.
    #[error("a media id is a SHA-256 digest written as 64 lowercase hex digits")]
    BadDigest,
    /// The upload stream failed (client gone, malformed multipart, …);
    /// nothing was stored.
    #[error("reading the upload failed: {0}")]
    Read(#[source] Box<dyn StdError + Send + Sync>),
    /// The store's file system failed.
    #[error("media store: cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::TooLarge { max } => Self::PayloadTooLarge { limit: Some(max) },
            MediaError::BadDigest => Self::bad_request(e.to_string()),
            MediaError::Read(source) => {
                match source.downcast::<axum::extract::multipart::MultipartError>() {
                    Ok(multipart) => (*multipart).into(),
                    Err(_) => Self::bad_request("The upload could not be read to its end."),
                }
            }
            e @ MediaError::Io { .. } => Self::internal(e),
        }
    }
}

/// What [`MediaStore::put_reader`] and [`MediaStore::put_stream`] stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredMedia {
    /// SHA-256 of the bytes: the media id.
    pub sha256: Sha256Digest,
    /// Size in bytes.
    pub size: u64,
}

/// A stored file, open for reading.
#[derive(Debug)]
pub struct MediaFile {
    /// The file, at offset 0.
    pub file: tokio::fs::File,
    /// Its size in bytes.
    pub size: u64,
}

/// Parses the `{sha256-hex}` of `/media/{sha256-hex}`: exactly 64 lowercase
/// hex digits, nothing else.
///
/// # Errors
///
/// [`MediaError::BadDigest`].
pub fn parse_media_id(s: &str) -> Result<Sha256Digest, MediaError> {
    s.parse().map_err(|_| MediaError::BadDigest)
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> MediaError + use<> {
    let path = path.to_path_buf();
    move |source| MediaError::Io { op, path, source }
}

/// A content-addressed directory of media files. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaStore {
    dir: PathBuf,
}

impl MediaStore {
    /// Opens the store in `dir`, creating the directory if needed, and
    /// removes temporary files older than [`STALE_TEMP_AGE`].
    ///
    /// # Errors
    ///
    /// [`MediaError::Io`] if the directory cannot be created or listed.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, MediaError> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_err("create", &dir))?;
        let store = Self { dir };
        store.sweep_stale_temps().await?;
        Ok(store)
    }

    async fn sweep_stale_temps(&self) -> Result<(), MediaError> {
        let mut entries = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(io_err("list", &self.dir))?;
        let now = SystemTime::now();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(io_err("list", &self.dir))?
        {
            if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                continue;
            }
            let stale = entry
                .metadata()
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMP_AGE);
            if stale {
                let path = entry.path();
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => tracing::info!(path = %path.display(), "removed stale upload"),
                    Err(e) => tracing::warn!(path = %path.display(), error = %e,
                        "cannot remove stale upload"),
                }
            }
        }
        Ok(())
    }

    /// The store's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the file with digest `sha256` is (or would be) stored:
    /// `{dir}/{hex[0..2]}/{hex}`.
    #[must_use]
    pub fn path_for(&self, sha256: &Sha256Digest) -> PathBuf {
        let hex = sha256.to_string();
        // `hex` is 64 ASCII digits: the range is in bounds.
        self.dir.join(&hex[..2]).join(hex)
    }

    /// Whether a file with digest `sha256` is stored.
    ///
    /// # Errors
    ///
    /// [`MediaError::Io`] if the file system cannot tell.
    pub async fn contains(&self, sha256: &Sha256Digest) -> Result<bool, MediaError> {
        let path = self.path_for(sha256);
        tokio::fs::try_exists(&path)
            .await
            .map_err(io_err("check", &path))
    }

    /// Opens the file with digest `sha256` for reading; `None` if it is not
    /// stored.
    ///
    /// # Errors
    ///
    /// [`MediaError::Io`] for failures other than "not found".
    pub async fn get(&self, sha256: &Sha256Digest) -> Result<Option<MediaFile>, MediaError> {
        let path = self.path_for(sha256);
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let size = file.metadata().await.map_err(io_err("stat", &path))?.len();
        Ok(Some(MediaFile { file, size }))
    }

    /// Stores everything `reader` yields, up to `max_size` bytes inclusive.
    ///
    /// # Errors
    ///
    /// [`MediaError::TooLarge`] past `max_size`, [`MediaError::Read`] if
    /// the reader fails, [`MediaError::Io`] if the store does. Nothing is
    /// stored and no temporary file is left in any of these cases.
    pub async fn put_reader<R: AsyncRead + Unpin>(
        &self,
        mut reader: R,
        max_size: u64,
    ) -> Result<StoredMedia, MediaError> {
        let mut upload = Upload::begin(&self.dir, max_size).await?;
        let mut buf = vec![0u8; BUF_SIZE];
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| MediaError::Read(Box::new(e)))?;
            let Some(chunk) = buf.get(..n) else {
                return Err(MediaError::Read("reader returned a bad length".into()));
            };
            if chunk.is_empty() {
                break;
            }
            upload.write(chunk).await?;
        }
        upload.finish(self).await
    }

    /// Stores the chunks of `stream` (an axum multipart field, a request
    /// body's data stream, …), up to `max_size` bytes inclusive.
    ///
    /// # Errors
    ///
    /// As for [`MediaStore::put_reader`]; a stream error becomes
    /// [`MediaError::Read`] holding it (so that, for example, a multipart
    /// size-limit error still maps to 413).
    pub async fn put_stream<S, B, E>(
        &self,
        stream: S,
        max_size: u64,
    ) -> Result<StoredMedia, MediaError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let mut upload = Upload::begin(&self.dir, max_size).await?;
        let mut stream = pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| MediaError::Read(e.into()))?;
            upload.write(chunk.as_ref()).await?;
        }
        upload.finish(self).await
    }
}

/// A temporary file that removes itself when dropped, unless disarmed.
struct TempPath {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            // Synchronous, but a single unlink; it must also run when the
            // upload future is cancelled, where no async code can.
            if let Err(e) = std::fs::remove_file(&self.path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %self.path.display(), error = %e,
                    "cannot remove temporary upload");
            }
        }
    }
}

/// An upload in progress: the temporary file, the running hash and size.
struct Upload {
    // Field order matters: the file is closed before the guard unlinks it.
    file: BufWriter<tokio::fs::File>,
    temp: TempPath,
    hasher: Sha256,
    size: u64,
    max_size: u64,
}

impl Upload {
    async fn begin(dir: &Path, max_size: u64) -> Result<Self, MediaError> {
        use rand::Rng as _;
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let path = dir.join(format!("{TEMP_PREFIX}{}", hex::encode(nonce)));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(io_err("create", &path))?;
        Ok(Self {
            file: BufWriter::with_capacity(BUF_SIZE, file),
            temp: TempPath { path, armed: true },
            hasher: Sha256::new(),
            size: 0,
            max_size,
        })
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), MediaError> {
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        let size = self.size.saturating_add(len);
        if size > self.max_size {
            return Err(MediaError::TooLarge { max: self.max_size });
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(io_err("write", &self.temp.path))?;
        self.size = size;
        Ok(())
    }

    async fn finish(mut self, store: &MediaStore) -> Result<StoredMedia, MediaError> {
        let temp = self.temp.path.clone();
        self.file.flush().await.map_err(io_err("write", &temp))?;
        self.file
            .get_ref()
            .sync_all()
            .await
            .map_err(io_err("sync", &temp))?;
        let sha256 = Sha256Digest(self.hasher.clone().finalize().into());
        let stored = StoredMedia {
            sha256,
            size: self.size,
        };
        let dest = store.path_for(&sha256);
        let shard = dest.parent().unwrap_or(&store.dir).to_path_buf();
        let new_shard = !tokio::fs::try_exists(&shard)
            .await
            .map_err(io_err("check", &shard))?;
        if new_shard {
            tokio::fs::create_dir_all(&shard)
                .await
                .map_err(io_err("create", &shard))?;
            sync_dir(&store.dir).await?;
        }
        // Already there with the same size: keep it (the guard drops ours).
        // A file of another size under this name was damaged: replace it.
        if let Ok(meta) = tokio::fs::metadata(&dest).await
            && meta.len() == self.size
        {
            return Ok(stored);
        }
        tokio::fs::rename(&temp, &dest)
            .await
            .map_err(io_err("rename into place", &dest))?;
        self.temp.armed = false;
        sync_dir(&shard).await?;
        Ok(stored)
    }
}

/// Makes a directory's entries (a rename, a new subdirectory) durable.
async fn sync_dir(dir: &Path) -> Result<(), MediaError> {
    #[cfg(unix)]
    {
        let d = tokio::fs::File::open(dir)
            .await
            .map_err(io_err("open", dir))?;
        d.sync_all().await.map_err(io_err("sync", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests;
