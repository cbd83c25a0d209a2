//! The issuer's Ed25519 keys on disk: loading them (PKCS#8 / SPKI PEM) and
//! `loupe-issuer keygen`.
//!
//! Two keys: the **issuer key** signs tokens and revocations; the **log
//! key** signs checkpoints (C2SP signed-note, key name = the log origin).
//! [`keygen`] writes, into one directory:
//!
//! | file | what | mode |
//! | --- | --- | --- |
//! | [`ISSUER_KEY_FILE`] | issuer private key, PKCS#8 PEM | `0600` |
//! | [`ISSUER_PUB_FILE`] | issuer public key, SPKI PEM | `0644` |
//! | [`LOG_KEY_FILE`] | log private key, PKCS#8 PEM | `0600` |
//! | [`LOG_PUB_FILE`] | log public key, SPKI PEM | `0644` |
//! | [`LOG_VKEY_FILE`] | the log's note verifier key `<origin>+<key id>+<base64>` | `0644` |
//!
//! These are the same formats as `openssl genpkey -algorithm ed25519` and
//! as `keys-example/`. Error messages name the file and the problem, never
//! key material; private key text is wiped from memory after parsing.
//!
//! Loading is synchronous: keys are read once, at start-up.

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use loupe_schemas::checkpoint::{NoteSigner, NoteVerifier};
use loupe_schemas::token::Kid;

use crate::config::{check_issuer_origin, check_log_origin};

/// File name of the issuer's private key.
pub const ISSUER_KEY_FILE: &str = "issuer.key.pem";
/// File name of the issuer's public key.
pub const ISSUER_PUB_FILE: &str = "issuer.pub.pem";
/// File name of the log's private key.
pub const LOG_KEY_FILE: &str = "log.key.pem";
/// File name of the log's public key.
pub const LOG_PUB_FILE: &str = "log.pub.pem";
/// File name of the log's note verifier key.
pub const LOG_VKEY_FILE: &str = "log.vkey";
/// Largest key file read, in bytes (an Ed25519 PEM is about 120).
pub const MAX_KEY_FILE_SIZE: u64 = 16 * 1024;

/// A key file cannot be read, parsed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file cannot be read.
    #[error("cannot read key file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The file is larger than [`MAX_KEY_FILE_SIZE`].
    #[error("key file {} is larger than {MAX_KEY_FILE_SIZE} bytes: not a key", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file does not hold a key of the expected kind.
    #[error("key file {} is not {expected}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        expected: &'static str,
        /// Why it does not (never key material).
        reason: String,
    },
    /// `keygen` found the file already there and wrote nothing.
    #[error("{} already exists; refusing to overwrite keys (move them away first)", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// A file or directory cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An origin given to `keygen` or the log key loader is not valid.
    #[error("invalid {what}: {reason}")]
    Origin {
        /// `issuer origin` or `log origin`.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

const PRIVATE: &str = "an Ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)";
const PUBLIC: &str = "an Ed25519 public key in SPKI PEM (-----BEGIN PUBLIC KEY-----)";

fn read_limited(path: &Path) -> Result<Zeroizing<String>, KeyFileError> {
    let read_err = |source| KeyFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::open(path).map_err(read_err)?;
    // Room for the whole (capped) file up front: no reallocation leaves
    // copies of key text behind in freed memory.
    let mut text = Zeroizing::new(String::with_capacity(MAX_KEY_FILE_SIZE as usize + 1));
    file.take(MAX_KEY_FILE_SIZE + 1)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => KeyFileError::Malformed {
                path: path.to_path_buf(),
                expected: "a PEM text file",
                reason: "it is not UTF-8 text (a DER file? convert it with openssl pkey)".into(),
            },
            _ => read_err(e),
        })?;
    if text.len() as u64 > MAX_KEY_FILE_SIZE {
        return Err(KeyFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(text)
}

/// A hint for a PEM of the wrong kind, judged by its label only.
fn pem_hint(text: &str, want_private: bool) -> Option<&'static str> {
    let label = |l: &str| text.contains(&format!("-----BEGIN {l}-----"));
    if want_private && label("PUBLIC KEY") {
        return Some("it holds a public key; give the private key file");
    }
    if !want_private && label("PRIVATE KEY") {
        return Some("it holds a private key; give the public key file");
    }
    if label("ENCRYPTED PRIVATE KEY") {
        return Some("it is encrypted; decrypt it with `openssl pkey -in FILE -out FILE.pem`");
    }
    if label("OPENSSH PRIVATE KEY") {
        return Some(
            "it is an OpenSSH key; Loupe needs PKCS#8 PEM (`openssl genpkey -algorithm ed25519`)",
        );
    }
    if label("CERTIFICATE") {
        return Some("it holds a certificate, not a key");
    }
    if !text.contains("-----BEGIN ") {
        return Some("no PEM block found");
    }
    None
}

/// Loads an Ed25519 private key from a PKCS#8 PEM file (as written by
/// [`keygen`] or `openssl genpkey -algorithm ed25519`). On Unix, warns in
/// the log if the file is readable by group or others.
///
/// # Errors
///
/// [`KeyFileError::Read`], [`KeyFileError::TooLarge`] or
/// [`KeyFileError::Malformed`], each naming the file.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyFileError> {
    let text = read_limited(path)?;
    warn_if_exposed(path);
    SigningKey::from_pkcs8_pem(&text).map_err(|e| KeyFileError::Malformed {
        path: path.to_path_buf(),
        expected: PRIVATE,
        // The pkcs8 error names the structure that failed, not its bytes.
        reason: pem_hint(&text, true).map_or_else(|| e.to_string(), str::to_owned),
    })
}

/// Loads an Ed25519 public key from an SPKI PEM file.
///
/// # Errors
///
/// [`KeyFileError::Read`], [`KeyFileError::TooLarge`] or
/// [`KeyFileError::Malformed`], each naming the file.
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, KeyFileError> {
    let text = read_limited(path)?;
    VerifyingKey::from_public_key_pem(&text).map_err(|e| KeyFileError::Malformed {
        path: path.to_path_buf(),
        expected: PUBLIC,
        reason: pem_hint(&text, false).map_or_else(|| e.to_string(), str::to_owned),
    })
}

/// Loads the log's private key and makes its note signer for `log_origin`.
///
/// # Errors
///
/// As for [`load_signing_key`], and [`KeyFileError::Origin`] for an
/// invalid origin.
pub fn load_log_signer(path: &Path, log_origin: &str) -> Result<NoteSigner, KeyFileError> {
    check_log_origin(log_origin).map_err(|reason| KeyFileError::Origin {
        what: "log origin",
        reason,
    })?;
    let key = load_signing_key(path)?;
    NoteSigner::new(log_origin, key).map_err(|e| KeyFileError::Origin {
        what: "log origin",
        reason: e.to_string(),
    })
}

/// Loads a note verifier key file (`log.vkey`: one line).
///
/// # Errors
///
/// [`KeyFileError::Read`], [`KeyFileError::TooLarge`] or
/// [`KeyFileError::Malformed`].
pub fn load_note_verifier(path: &Path) -> Result<NoteVerifier, KeyFileError> {
    let text = read_limited(path)?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    NoteVerifier::from_vkey(line).map_err(|e| KeyFileError::Malformed {
        path: path.to_path_buf(),
        expected: "a note verifier key (<name>+<key id>+<base64>)",
        reason: e.to_string(),
    })
}

#[cfg(unix)]
fn warn_if_exposed(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            file = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "private key file is readable by group or others; run chmod 600 on it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_exposed(_path: &Path) {}

/// What [`keygen`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeygenOutput {
    /// The directory.
    pub dir: PathBuf,
    /// The issuer origin the keys are for.
    pub issuer_origin: String,
    /// The issuer key's `kid` (first 16 bytes of SHA-256 of the public key).
    pub issuer_kid: Kid,
    /// The log's note verifier key, as in [`LOG_VKEY_FILE`].
    pub log_vkey: String,
    /// The five files, in the order of the [module docs](self).
    pub files: Vec<PathBuf>,
}

impl KeygenOutput {
    /// A few lines for the operator: what was written and what to publish.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "wrote {n} files to {dir}\n\
             issuer {iss}: kid {kid} (publish {ipub})\n\
             log verifier key: {vkey} (publish {lvk})\n\
             keep {ikey} and {lkey} secret and backed up",
            n = self.files.len(),
            dir = self.dir.display(),
            iss = self.issuer_origin,
            kid = self.issuer_kid,
            ipub = ISSUER_PUB_FILE,
            vkey = self.log_vkey,
            lvk = LOG_VKEY_FILE,
            ikey = ISSUER_KEY_FILE,
            lkey = LOG_KEY_FILE,
        )
    }
}

/// Generates a fresh issuer key and log key and writes the five files of
/// the [module docs](self) into `dir` (created, mode `0700`, if missing).
/// Private keys get mode `0600`. Refuses if any of the five files exists,
/// and then writes none; if writing fails midway, removes what it wrote.
///
/// # Errors
///
/// [`KeyFileError::Origin`], [`KeyFileError::Exists`] naming the first
/// existing file, or [`KeyFileError::Write`].
pub fn keygen(
    dir: &Path,
    issuer_origin: &str,
    log_origin: &str,
) -> Result<KeygenOutput, KeyFileError> {
    check_issuer_origin(issuer_origin).map_err(|reason| KeyFileError::Origin {
        what: "issuer origin",
        reason,
    })?;
    check_log_origin(log_origin).map_err(|reason| KeyFileError::Origin {
        what: "log origin",
        reason,
    })?;
    let issuer = SigningKey::generate(&mut rand::rng());
    let log_key = SigningKey::generate(&mut rand::rng());
    let log = NoteSigner::new(log_origin, log_key.clone()).map_err(|e| KeyFileError::Origin {
        what: "log origin",
        reason: e.to_string(),
    })?;
    let log_public = log_key.verifying_key();

    let encode_err = |file: &str, e: &dyn std::fmt::Display| KeyFileError::Write {
        path: dir.join(file),
        source: io::Error::other(format!("encoding failed: {e}")),
    };
    let issuer_pem = issuer
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| encode_err(ISSUER_KEY_FILE, &e))?;
    let issuer_pub = issuer
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| encode_err(ISSUER_PUB_FILE, &e))?;
    let log_pem = log_key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| encode_err(LOG_KEY_FILE, &e))?;
    let log_pub = log_public
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| encode_err(LOG_PUB_FILE, &e))?;
    let log_vkey = log.verifier().to_vkey();
    let vkey_line = format!("{log_vkey}\n");

    let plan: [(&str, &[u8], bool); 5] = [
        (ISSUER_KEY_FILE, issuer_pem.as_bytes(), true),
        (ISSUER_PUB_FILE, issuer_pub.as_bytes(), false),
        (LOG_KEY_FILE, log_pem.as_bytes(), true),
        (LOG_PUB_FILE, log_pub.as_bytes(), false),
        (LOG_VKEY_FILE, vkey_line.as_bytes(), false),
    ];
    for (name, _, _) in &plan {
        let path = dir.join(name);
        // `symlink_metadata`: a dangling symlink also counts as existing.
        if fs::symlink_metadata(&path).is_ok() {
            return Err(KeyFileError::Exists { path });
        }
    }
    create_private_dir(dir)?;
    let mut written: Vec<PathBuf> = Vec::new();
    for (name, bytes, private) in plan {
        let path = dir.join(name);
        if let Err(e) = write_new(&path, bytes, private) {
            for p in &written {
                let _ = fs::remove_file(p);
            }
            // Remove a partly written file, but never one that was there.
            if !matches!(e, KeyFileError::Exists { .. }) {
                let _ = fs::remove_file(&path);
            }
            return Err(e);
        }
        written.push(path);
    }
    sync_dir(dir);
    Ok(KeygenOutput {
        dir: dir.to_path_buf(),
        issuer_origin: issuer_origin.to_owned(),
        issuer_kid: Kid::of(&issuer.verifying_key()),
        log_vkey,
        files: written,
    })
}

fn create_private_dir(dir: &Path) -> Result<(), KeyFileError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir).map_err(|source| KeyFileError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), KeyFileError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(path).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            KeyFileError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            KeyFileError::Write {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let write_err = |source| KeyFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    f.write_all(bytes).map_err(write_err)?;
    f.sync_all().map_err(write_err)?;
    Ok(())
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot sync key directory");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests;
