//! C2SP `tlog-checkpoint` note text: origin, tree size, root hash,
//! optional extension lines.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Largest checkpoint body (the note text) accepted or produced: 16 KiB.
/// A real checkpoint body is three short lines; this leaves room for a
/// long origin and a few extension lines.
pub const MAX_CHECKPOINT_BODY_SIZE: usize = 16 * 1024;

/// Length of a base64-encoded 32-byte hash (with one `=` of padding).
const ROOT_HASH_BASE64_LEN: usize = 44;

/// Why a text is not a valid checkpoint body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointParseError {
    /// The body is larger than [`MAX_CHECKPOINT_BODY_SIZE`].
    #[error("checkpoint body is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// Size of the body.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The body does not end with a newline.
    #[error("checkpoint body does not end with a newline")]
    NotNewlineTerminated,
    /// Fewer than three lines (origin, size, root hash).
    #[error("checkpoint body has fewer than three lines")]
    TooFewLines,
    /// The origin line is empty.
    #[error("empty origin line")]
    EmptyOrigin,
    /// A line holds a newline (when building) or another control character.
    #[error("line {line} holds a control character")]
    ControlCharacter {
        /// 1-based line number (1 = origin).
        line: usize,
    },
    /// The size line is not a decimal u64 without leading zeros.
    #[error("tree size line is not a canonical decimal number below 2^64")]
    InvalidTreeSize,
    /// The root hash line is not the standard base64 of exactly 32 bytes.
    #[error("root hash line is not the base64 of 32 bytes")]
    InvalidRootHash,
    /// An extension line is empty.
    #[error("extension line {line} is empty")]
    EmptyExtensionLine {
        /// 1-based line number (4 = first extension line).
        line: usize,
    },
}

/// A transparency log checkpoint (signed tree head body), C2SP
/// `tlog-checkpoint`. Fields are private: every `Checkpoint` formats to a
/// body that [`Checkpoint::parse`] accepts back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root_hash: [u8; 32],
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint for the tree of `size` leaves with root `root_hash`.
    ///
    /// # Errors
    ///
    /// [`CheckpointParseError`] if the origin is empty, a line holds a
    /// newline or control character, an extension line is empty, or the
    /// body would exceed [`MAX_CHECKPOINT_BODY_SIZE`].
    pub fn new(
        origin: &str,
        size: u64,
        root_hash: [u8; 32],
        extensions: Vec<String>,
    ) -> Result<Self, CheckpointParseError> {
        let checkpoint = Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        };
        if checkpoint.origin.is_empty() {
            return Err(CheckpointParseError::EmptyOrigin);
        }
        check_line(&checkpoint.origin, 1)?;
        for (i, ext) in checkpoint.extensions.iter().enumerate() {
            let line = i.saturating_add(4);
            if ext.is_empty() {
                return Err(CheckpointParseError::EmptyExtensionLine { line });
            }
            check_line(ext, line)?;
        }
        let size = checkpoint.to_body().len();
        if size > MAX_CHECKPOINT_BODY_SIZE {
            return Err(CheckpointParseError::TooLarge {
                size,
                max: MAX_CHECKPOINT_BODY_SIZE,
            });
        }
        Ok(checkpoint)
    }

    /// Parses a checkpoint body (a note text): `origin\nsize\nbase64(root)\n`
    /// then any extension lines. Strict: non-empty origin, canonical
    /// decimal size, exact base64 of 32 bytes, non-empty extension lines,
    /// final newline, no control characters.
    ///
    /// # Errors
    ///
    /// A [`CheckpointParseError`] naming the first problem found.
    pub fn parse(body: &str) -> Result<Self, CheckpointParseError> {
        if body.len() > MAX_CHECKPOINT_BODY_SIZE {
            return Err(CheckpointParseError::TooLarge {
                size: body.len(),
                max: MAX_CHECKPOINT_BODY_SIZE,
            });
        }
        let body = body
            .strip_suffix('\n')
            .ok_or(CheckpointParseError::NotNewlineTerminated)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointParseError::TooFewLines);
        };
        if origin.is_empty() {
            return Err(CheckpointParseError::EmptyOrigin);
        }
        check_line(origin, 1)?;
        let size = parse_tree_size(size)?;
        let root_hash = parse_root_hash(root)?;
        let mut extensions = Vec::new();
        for (i, ext) in lines.enumerate() {
            let line = i.saturating_add(4);
            if ext.is_empty() {
                return Err(CheckpointParseError::EmptyExtensionLine { line });
            }
            check_line(ext, line)?;
            extensions.push(ext.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        })
    }

    /// The body text: `origin\nsize\nbase64(root)\n` and extension lines.
    #[must_use]
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root_hash)
        );
        for ext in &self.extensions {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }

    /// The log's origin line.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size (number of leaves).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962/9162 Merkle tree root hash.
    #[must_use]
    pub fn root_hash(&self) -> &[u8; 32] {
        &self.root_hash
    }

    /// The extension lines (opaque; not auditable by monitors).
    #[must_use]
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_body())
    }
}

fn check_line(line: &str, number: usize) -> Result<(), CheckpointParseError> {
    if line.bytes().any(|b| b < 0x20) {
        return Err(CheckpointParseError::ControlCharacter { line: number });
    }
    Ok(())
}

/// ASCII decimal, no sign, no leading zeros (except `0`), fits in u64.
fn parse_tree_size(s: &str) -> Result<u64, CheckpointParseError> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return Err(CheckpointParseError::InvalidTreeSize);
    }
    s.parse::<u64>()
        .map_err(|_| CheckpointParseError::InvalidTreeSize)
}

/// Standard padded base64 of exactly 32 bytes, canonical.
fn parse_root_hash(s: &str) -> Result<[u8; 32], CheckpointParseError> {
    if s.len() != ROOT_HASH_BASE64_LEN {
        return Err(CheckpointParseError::InvalidRootHash);
    }
    let decoded = STANDARD
        .decode(s)
        .map_err(|_| CheckpointParseError::InvalidRootHash)?;
    let hash: [u8; 32] = decoded
        .try_into()
        .map_err(|_| CheckpointParseError::InvalidRootHash)?;
    // The engine already rejects non-canonical trailing bits; re-encoding
    // makes the round-trip property explicit.
    if STANDARD.encode(hash) != s {
        return Err(CheckpointParseError::InvalidRootHash);
    }
    Ok(hash)
}
