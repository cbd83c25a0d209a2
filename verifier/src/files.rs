//! The files in hand (the lab report PDF, photos, video) that a verdict
//! compares with the digests the token certifies, by role.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use loupe_schemas::token::{ImageRole, Provenance, Sha256Digest, VideoRole};
use sha2::{Digest as _, Sha256};

/// SHA-256 digests of files in hand, by what they claim to be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilesInHand {
    /// The lab report file.
    pub report: Option<Sha256Digest>,
    /// Photos by role.
    pub images: BTreeMap<ImageRole, Sha256Digest>,
    /// Videos by role.
    pub videos: BTreeMap<VideoRole, Sha256Digest>,
}

/// Why a file in hand could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `ROLE=FILE` names no known role.
    #[error(
        "{0:?} is not a photo or video role (face-up, table, pavilion, side, girdle, swatch, light-play)"
    )]
    UnknownRole(String),
    /// `ROLE=FILE` is not of that form.
    #[error("{0:?} is not ROLE=FILE")]
    Syntax(String),
}

/// SHA-256 of a file, read in 64 KiB chunks (never whole in memory).
///
/// # Errors
/// [`FileError::Read`].
pub fn hash_file(path: &Path) -> Result<Sha256Digest, FileError> {
    let err = |source| FileError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(Sha256Digest(hasher.finalize().into()))
}

impl FilesInHand {
    /// Whether no file was given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.report.is_none() && self.images.is_empty() && self.videos.is_empty()
    }

    /// Adds `digest` under `role` (`report`, a photo role such as
    /// `face-up`, or a video role such as `light-play`).
    ///
    /// # Errors
    /// [`FileError::UnknownRole`].
    pub fn add(&mut self, role: &str, digest: Sha256Digest) -> Result<(), FileError> {
        if role == "report" {
            self.report = Some(digest);
        } else if let Ok(r) = role.parse::<ImageRole>() {
            self.images.insert(r, digest);
        } else if let Ok(r) = role.parse::<VideoRole>() {
            self.videos.insert(r, digest);
        } else {
            return Err(FileError::UnknownRole(role.to_owned()));
        }
        Ok(())
    }

    /// Hashes `ROLE=PATH` and adds it.
    ///
    /// # Errors
    /// [`FileError`].
    pub fn add_file_arg(&mut self, arg: &str) -> Result<(), FileError> {
        let (role, path) = arg
            .split_once('=')
            .ok_or_else(|| FileError::Syntax(arg.to_owned()))?;
        // Check the role before reading a possibly large file.
        if role != "report"
            && role.parse::<ImageRole>().is_err()
            && role.parse::<VideoRole>().is_err()
        {
            return Err(FileError::UnknownRole(role.to_owned()));
        }
        let digest = hash_file(Path::new(path))?;
        self.add(role, digest)
    }

    /// Compares each file in hand with the token: `(subject, matched,
    /// reason)` per file, in a stable order.
    #[must_use]
    pub fn compare(&self, provenance: &Provenance) -> Vec<(String, bool, String)> {
        let mut out = Vec::new();
        if let Some(d) = &self.report {
            let want = &provenance.report.sha256;
            out.push(if want == d {
                (
                    "report".to_owned(),
                    true,
                    format!("the report matches ({})", short(d)),
                )
            } else {
                (
                    "report".to_owned(),
                    false,
                    format!(
                        "the report in hand ({}) is not the certified one ({})",
                        short(d),
                        short(want)
                    ),
                )
            });
        }
        for (role, d) in &self.images {
            let subject = format!("image:{role}");
            out.push(match provenance.images.iter().find(|i| i.role == *role) {
                Some(i) if i.sha256 == *d => (subject, true, format!("the {role} photo matches")),
                Some(i) => (
                    subject,
                    false,
                    format!(
                        "the {role} photo in hand ({}) is not the certified one ({})",
                        short(d),
                        short(&i.sha256)
                    ),
                ),
                None => (
                    subject,
                    false,
                    format!("the token certifies no {role} photo"),
                ),
            });
        }
        for (role, d) in &self.videos {
            let subject = format!("video:{role}");
            out.push(match provenance.videos.iter().find(|v| v.role == *role) {
                Some(v) if v.sha256 == *d => (subject, true, format!("the {role} video matches")),
                Some(v) => (
                    subject,
                    false,
                    format!(
                        "the {role} video in hand ({}) is not the certified one ({})",
                        short(d),
                        short(&v.sha256)
                    ),
                ),
                None => (
                    subject,
                    false,
                    format!("the token certifies no {role} video"),
                ),
            });
        }
        out
    }
}

fn short(d: &Sha256Digest) -> String {
    let hex = hex::encode(d.as_bytes());
    format!("sha256 {}…", hex.get(..12).unwrap_or(&hex))
}
