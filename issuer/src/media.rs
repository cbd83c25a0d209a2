//! The content-addressed media store: report PDFs, photos and videos kept
//! under their SHA-256 in a directory, served as `/media/{sha256-hex}`.
//!
//! Layout: `{dir}/{hex[0..2]}/{hex}`, 64 lowercase hex digits, fanned out
//! over 256 shard directories. An upload is hashed *while* it streams into
//! a temporary file `{dir}/.tmp-{random}` (same file system, so putting it
//! in place is atomic), never held in memory whole, and refused with
//! [`MediaError::TooLarge`] the moment it passes its size limit. A finished
//! upload is flushed and `fsync`ed, linked into place and its shard
//! directory `fsync`ed, so an acknowledged file survives a crash. Storing
//! the same bytes twice — even concurrently — is harmless: both end with
//! the same file. A failed, refused or cancelled (dropped) upload removes
//! its temporary file; temporary files older than a day, left by a crash,
//! are swept when the store is opened.
//!
//! # Files of a refused request
//!
//! An issuance request stores its files while it streams them in, before
//! it knows whether it will be accepted. It does so through a
//! [`StagedMedia`], which removes again the files the request *created* if
//! the request is refused (dropped or [`StagedMedia::discard`]ed), and
//! leaves every file that was already there. The store is content-addressed:
//! the same bytes may be certified by another token, or be on their way
//! into one through a concurrent request, possibly of another issuer
//! instance sharing the directory. The rule, which holds across processes
//! on one POSIX file system:
//!
//! - A request *creates* a file when none is in place: it hard-links its
//!   temporary file to the final path, which fails if another request got
//!   there first (then it uses that one). A file placed by a request that
//!   may still be refused is *provisional*: mode `0600`. Every other file
//!   is *kept*: mode `0644` (the store is public by design), set before it
//!   is put in place.
//! - A request that finds a provisional file of another request makes it
//!   kept (`chmod` by path) *before* relying on it. If the file is gone by
//!   then, it puts its own copy in place instead.
//! - An accepted request makes the files it created kept.
//! - A refused request removes a file it created only while it is still
//!   provisional: it first renames it out of place (to
//!   `{dir}/.taken-{hex}-{random}`), so that nobody can start relying on it,
//!   then looks at the mode of what it took. Provisional: nobody relied on
//!   it, it is deleted (and its shard directory, if now empty). Kept:
//!   another request relied on it between its creation and now, and it is
//!   renamed back.
//!
//! So a file that any accepted token references is kept, and a kept file
//! is never deleted. What the rule allows is the other way round: a file
//! that another request relied on and that was then refused too stays,
//! referenced by nothing; and so does a file whose request crashed or
//! whose outcome is unknown (the log may have taken the token: a failed
//! write of the log, a cancelled request waiting for the sequencer). While
//! a refused request looks at a file it took, that file is missing from
//! its place for a moment (a `GET` in that instant is a 404). A crash in
//! that moment leaves the `.taken-` file, which [`MediaStore::open`] puts
//! back (kept) or deletes (provisional). On platforms without Unix file
//! modes nothing is ever removed.
//!
//! Apart from that, files are immutable once stored and the store never
//! deletes them.
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
/// Prefix of a file that a refused request has taken out of place to
/// decide whether to delete it (see the [module](self) documentation).
pub const TAKEN_PREFIX: &str = ".taken-";
/// Size of the read buffer of [`MediaStore::put_reader`] and of the write
/// buffer in front of the temporary file.
const BUF_SIZE: usize = 64 * 1024;
/// Mode of a file placed by a request that may still be refused.
#[cfg(unix)]
const PROVISIONAL_MODE: u32 = 0o600;
/// Mode of every other stored file.
#[cfg(unix)]
const KEPT_MODE: u32 = 0o644;
/// How often putting a file in place is tried again when another request
/// moves the same file at the same moment.
const PLACE_ATTEMPTS: usize = 8;

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
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(rest) = name.strip_prefix(TAKEN_PREFIX) {
                self.settle_taken(&entry.path(), rest);
                continue;
            }
            if !name.starts_with(TEMP_PREFIX) {
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

    /// A `.taken-{hex}-{random}` file left by a crash in the middle of
    /// [`StagedMedia::discard`]: deleted if provisional, else put back.
    fn settle_taken(&self, taken: &Path, rest: &str) {
        let digest = rest
            .split('-')
            .next()
            .and_then(|hex| parse_media_id(hex).ok());
        let provisional = std::fs::metadata(taken).is_ok_and(|m| is_provisional(&m));
        let result = match digest {
            Some(d) if !provisional => put_back(taken, &self.path_for(&d)),
            _ => std::fs::remove_file(taken),
        };
        match result {
            Ok(()) => tracing::info!(path = %taken.display(), provisional,
                "settled a file taken out of place before a crash"),
            Err(e) => tracing::warn!(path = %taken.display(), error = %e,
                "cannot settle a file taken out of place"),
        }
    }

    /// A new, empty set of files for one request: see [`StagedMedia`].
    #[must_use]
    pub fn stage(&self) -> StagedMedia {
        StagedMedia {
            store: self.clone(),
            created: Vec::new(),
            keep_on_drop: false,
        }
    }

    /// Removes the file `sha256` that a refused request created, unless
    /// another request relied on it meanwhile (the rule of the
    /// [module](self) documentation). Synchronous: it also runs when the
    /// request's future is dropped.
    #[cfg(unix)]
    fn discard_created(&self, sha256: &Sha256Digest) {
        use rand::Rng as _;
        let dest = self.path_for(sha256);
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let taken = self
            .dir
            .join(format!("{TAKEN_PREFIX}{sha256}-{}", hex::encode(nonce)));
        match std::fs::rename(&dest, &taken) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(path = %dest.display(), error = %e,
                    "cannot take a refused upload out of place; it stays");
                return;
            }
        }
        let provisional = std::fs::metadata(&taken).is_ok_and(|m| is_provisional(&m));
        if provisional {
            match std::fs::remove_file(&taken) {
                Ok(()) => {
                    // Only if empty; a request putting a file there now
                    // creates the directory again.
                    if let Some(shard) = dest.parent() {
                        let _ = std::fs::remove_dir(shard);
                    }
                }
                Err(e) => tracing::warn!(path = %taken.display(), error = %e,
                    "cannot remove a refused upload"),
            }
        } else if let Err(e) = put_back(&taken, &dest) {
            tracing::warn!(path = %taken.display(), error = %e,
                "cannot put back a file another request relies on; the next start will");
        }
    }

    /// Without Unix file modes, nothing is removed.
    #[cfg(not(unix))]
    fn discard_created(&self, _sha256: &Sha256Digest) {}

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
        upload.finish(self, &[], false).await.map(|(m, _)| m)
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
        Upload::from_stream(&self.dir, stream, max_size)
            .await?
            .finish(self, &[], false)
            .await
            .map(|(m, _)| m)
    }
}

/// The files one request stores ([`MediaStore::stage`]), provisional until
/// the request is accepted ([`StagedMedia::keep`]). Dropped or
/// [`discard`](StagedMedia::discard)ed, it removes the files the request
/// created and nobody else relied on, and only those (the rule of the
/// [module](self) documentation); after
/// [`keep_on_drop`](StagedMedia::keep_on_drop), dropping it keeps them.
#[derive(Debug)]
pub struct StagedMedia {
    store: MediaStore,
    created: Vec<Sha256Digest>,
    keep_on_drop: bool,
}

impl StagedMedia {
    /// Stores the chunks of `stream` as [`MediaStore::put_stream`] does,
    /// but a file it creates is provisional.
    ///
    /// # Errors
    ///
    /// As for [`MediaStore::put_stream`].
    pub async fn put_stream<S, B, E>(
        &mut self,
        stream: S,
        max_size: u64,
    ) -> Result<StoredMedia, MediaError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let (stored, created) = Upload::from_stream(&self.store.dir, stream, max_size)
            .await?
            .finish(&self.store, &self.created, true)
            .await?;
        if created {
            self.created.push(stored.sha256);
        }
        Ok(stored)
    }

    /// The digests of the files this request created (none was in place
    /// before it).
    #[must_use]
    pub fn created(&self) -> &[Sha256Digest] {
        &self.created
    }

    /// From now on, dropping keeps the files instead of removing them: call
    /// it once the request's outcome may no longer be a refusal (its token
    /// is handed to the log).
    pub fn keep_on_drop(&mut self) {
        self.keep_on_drop = true;
    }

    /// The request was accepted: its files are kept for good.
    pub fn keep(mut self) {
        self.settle(true);
    }

    /// The request was refused: removes the files it created that nobody
    /// else relied on.
    pub fn discard(mut self) {
        self.settle(false);
    }

    fn settle(&mut self, keep: bool) {
        for sha256 in std::mem::take(&mut self.created) {
            if keep {
                let path = self.store.path_for(&sha256);
                if let Err(e) = set_kept_sync(&path) {
                    // Still served by the issuer, and never removed (only
                    // this request could have, and it will not).
                    tracing::warn!(path = %path.display(), error = %e,
                        "cannot mark a stored file kept");
                }
            } else {
                self.store.discard_created(&sha256);
            }
        }
    }
}

impl Drop for StagedMedia {
    fn drop(&mut self) {
        self.settle(self.keep_on_drop);
    }
}

/// Whether a stored file is provisional (see the [module](self)
/// documentation).
#[cfg(unix)]
fn is_provisional(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o7777 == PROVISIONAL_MODE
}

#[cfg(not(unix))]
fn is_provisional(_meta: &std::fs::Metadata) -> bool {
    false
}

/// `chmod 0644`.
fn set_kept_sync(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(KEPT_MODE))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

async fn set_kept(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(KEPT_MODE)).await
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Renames a file taken out of place back to `dest` (replacing a copy put
/// there meanwhile: the same bytes), creating its shard directory again if
/// it was removed meanwhile.
fn put_back(taken: &Path, dest: &Path) -> io::Result<()> {
    match std::fs::rename(taken, dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && taken.exists() => {
            if let Some(shard) = dest.parent() {
                std::fs::create_dir_all(shard)?;
            }
            std::fs::rename(taken, dest)
        }
        other => other,
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
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // Provisional until it is known to be kept (writable all the same:
        // the mode is checked when a file is opened, not created).
        #[cfg(unix)]
        options.mode(PROVISIONAL_MODE);
        let file = options.open(&path).await.map_err(io_err("create", &path))?;
        Ok(Self {
            file: BufWriter::with_capacity(BUF_SIZE, file),
            temp: TempPath { path, armed: true },
            hasher: Sha256::new(),
            size: 0,
            max_size,
        })
    }

    /// An upload of everything `stream` yields (not put in place yet).
    async fn from_stream<S, B, E>(dir: &Path, stream: S, max_size: u64) -> Result<Self, MediaError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let mut upload = Self::begin(dir, max_size).await?;
        let mut stream = pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| MediaError::Read(e.into()))?;
            upload.write(chunk.as_ref()).await?;
        }
        Ok(upload)
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

    /// Puts the upload in place: a provisional file when `provisional`,
    /// else a kept one. `mine` are the files this request created already
    /// (it does not make those kept when it meets them again). Returns
    /// whether it created the file (none was in place).
    async fn finish(
        mut self,
        store: &MediaStore,
        mine: &[Sha256Digest],
        provisional: bool,
    ) -> Result<(StoredMedia, bool), MediaError> {
        let temp = self.temp.path.clone();
        self.file.flush().await.map_err(io_err("write", &temp))?;
        if !provisional {
            set_kept(&temp).await.map_err(io_err("chmod", &temp))?;
        }
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
        for _ in 0..PLACE_ATTEMPTS {
            let new_shard = !tokio::fs::try_exists(&shard)
                .await
                .map_err(io_err("check", &shard))?;
            if new_shard {
                tokio::fs::create_dir_all(&shard)
                    .await
                    .map_err(io_err("create", &shard))?;
                sync_dir(&store.dir).await?;
            }
            match tokio::fs::metadata(&dest).await {
                // Already there: rely on it once it is kept (the guard
                // drops our copy). Gone meanwhile: try again.
                Ok(meta) if meta.len() == self.size => {
                    if mine.contains(&sha256) || !is_provisional(&meta) {
                        return Ok((stored, false));
                    }
                    match set_kept(&dest).await {
                        Ok(()) => return Ok((stored, false)),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_err("chmod", &dest)(e)),
                    }
                }
                // A file of another size under this name was damaged:
                // replace it with ours, kept (tokens may name it).
                Ok(_) => {
                    set_kept(&temp).await.map_err(io_err("chmod", &temp))?;
                    return self.rename_into_place(stored, &dest, &shard).await;
                }
                // None there: create it, unless another request does so
                // first (then rely on theirs).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    match tokio::fs::hard_link(&temp, &dest).await {
                        Ok(()) => {
                            sync_dir(&shard).await?;
                            // The guard unlinks the temporary name.
                            return Ok((stored, true));
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::AlreadyExists | io::ErrorKind::NotFound
                            ) => {}
                        // No hard links here: rename, kept (never removed).
                        Err(_) => {
                            set_kept(&temp).await.map_err(io_err("chmod", &temp))?;
                            return self.rename_into_place(stored, &dest, &shard).await;
                        }
                    }
                }
                Err(e) => return Err(io_err("check", &dest)(e)),
            }
        }
        Err(io_err("put in place", &dest)(io::Error::other(
            "other requests kept moving the same file",
        )))
    }

    async fn rename_into_place(
        mut self,
        stored: StoredMedia,
        dest: &Path,
        shard: &Path,
    ) -> Result<(StoredMedia, bool), MediaError> {
        tokio::fs::rename(&self.temp.path, dest)
            .await
            .map_err(io_err("rename into place", dest))?;
        self.temp.armed = false;
        sync_dir(shard).await?;
        Ok((stored, false))
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
