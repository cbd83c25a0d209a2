//! [`CliError`]: everything a command can fail with, printed as one line
//! on stderr with a non-zero exit code.

use std::path::PathBuf;

use crate::client::ClientError;
use crate::config::ConfigError;
use crate::keys::KeyFileError;
use crate::qr::QrError;
use crate::sample::SampleError;
use crate::store::StoreError;

use super::batch::BatchError;
use super::capture::CaptureError;

/// Why a command failed. `Display` plus the sources (see
/// [`crate::client::error_chain`]) make the one line printed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The arguments are wrong in a way clap cannot tell (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The server configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A key file cannot be read, parsed or written.
    #[error(transparent)]
    Keys(#[from] KeyFileError),
    /// The database failed.
    #[error("{context}")]
    Store {
        /// What was being done.
        context: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// A request to the issuer failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A capture folder or an input file is not usable.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A batch file cannot be read, or some of its rows failed.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A QR code cannot be made.
    #[error(transparent)]
    Qr(#[from] QrError),
    /// The sample capture cannot be written.
    #[error(transparent)]
    Sample(#[from] SampleError),
    /// A file or directory cannot be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// `read`, `write`, `create`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP service failed to start or stopped with an error.
    #[error("issuer service: {0}")]
    Service(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A backup could not be made.
    #[error(transparent)]
    Backup(#[from] crate::restore::BackupError),
    /// A verification step of the demo failed.
    #[error("{0}")]
    Verify(String),
}

impl CliError {
    /// The process exit code: 2 for usage errors, 1 otherwise.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }

    /// A database error while doing `context`.
    pub fn store(context: impl Into<String>, source: StoreError) -> Self {
        Self::Store {
            context: context.into(),
            source,
        }
    }

    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
