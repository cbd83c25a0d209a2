//! The C2SP `tlog-proof` text format (`c2sp.org/tlog-proof@v1`).
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <decimal>
//! <base64 hash>            (zero or more: the inclusion path, leaf's sibling first)
//!
//! <the signed checkpoint, verbatim, with any cosignatures>
//! ```
//!
//! Spec: <https://c2sp.org/tlog-proof>. Parsing is strict: the header line is
//! exact, the index is canonical decimal, every path line is the standard
//! base64 of exactly 32 bytes, and the whole bundle is at most
//! [`ProofBundle::MAX_LEN`] bytes. Parsing does not verify anything: call
//! [`ProofBundle::verify`] with the log's key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::LogPolicy;
use crate::checkpoint::{CheckpointError, VerifiedCheckpoint, open_checkpoint};
use crate::merkle::{Hash, InclusionError, MAX_PATH_LEN, leaf_hash, verify_inclusion};

/// The first line of every proof bundle.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A proof that one entry is in a log: the C2SP `tlog-proof` text, parsed.
///
/// Holding a `ProofBundle` means the text was well formed, not that anything
/// was verified: see [`ProofBundle::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofBundle {
    extra: Option<Vec<u8>>,
    index: u64,
    path: Vec<Hash>,
    checkpoint: String,
}

/// Why a proof bundle could not be parsed (malformed text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofBundleParseError {
    /// The bundle is larger than [`ProofBundle::MAX_LEN`].
    #[error("proof bundle is {0} bytes, more than the limit of {max}", max = ProofBundle::MAX_LEN)]
    TooLarge(usize),
    /// The bundle is not UTF-8 text.
    #[error("proof bundle is not UTF-8 text")]
    NotUtf8,
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("proof bundle does not start with the line {HEADER:?}")]
    BadHeader,
    /// The `extra` line is not `extra ` followed by standard base64.
    #[error("malformed extra line")]
    BadExtra,
    /// The `index` line is missing or not a canonical decimal number.
    #[error("missing or malformed index line")]
    BadIndex,
    /// A line of the inclusion path is not the base64 of a 32-byte hash.
    #[error("inclusion path line {0} is not the base64 of a 32-byte hash")]
    BadPathHash(usize),
    /// The inclusion path has more hashes than any tree of 2^64 leaves needs.
    #[error("inclusion path has more than {max} hashes", max = ProofBundle::MAX_PATH)]
    PathTooLong,
    /// The blank line before the checkpoint is missing, or nothing follows it.
    #[error("missing checkpoint after the inclusion path")]
    MissingCheckpoint,
}

/// Why a well-formed proof bundle did not verify.
#[derive(Debug, thiserror::Error)]
pub enum ProofBundleVerifyError {
    /// The checkpoint is malformed, not signed by the log key, or lacks the
    /// witness cosignatures the policy requires.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not lead from the entry to the checkpoint's root.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] InclusionError),
}

impl ProofBundle {
    /// The largest bundle accepted by [`ProofBundle::parse`], in bytes.
    pub const MAX_LEN: usize = 64 * 1024;
    /// The most inclusion-path hashes a bundle may carry.
    pub const MAX_PATH: usize = MAX_PATH_LEN;

    /// Makes a bundle from an inclusion proof's index and path and the signed
    /// checkpoint text (note body, blank line, signature lines).
    pub fn new(index: u64, path: Vec<Hash>, signed_checkpoint: impl Into<String>) -> Self {
        Self {
            extra: None,
            index,
            path,
            checkpoint: signed_checkpoint.into(),
        }
    }

    /// Attaches opaque, unauthenticated extra data.
    #[must_use]
    pub fn with_extra(mut self, extra: Vec<u8>) -> Self {
        self.extra = Some(extra);
        self
    }

    /// The zero-based index of the entry in the log.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion path, leaf's sibling first.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }

    /// The opaque extra data, if any. It is not authenticated: never trust it.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The signed checkpoint, verbatim.
    pub fn checkpoint_text(&self) -> &str {
        &self.checkpoint
    }

    /// Parses a bundle strictly.
    ///
    /// # Errors
    /// [`ProofBundleParseError`] names the first thing that is malformed.
    pub fn parse(bytes: &[u8]) -> Result<Self, ProofBundleParseError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(ProofBundleParseError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ProofBundleParseError::NotUtf8)?;
        let rest = text
            .strip_prefix(HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(ProofBundleParseError::BadHeader)?;

        let (mut line, mut rest) = rest
            .split_once('\n')
            .ok_or(ProofBundleParseError::BadIndex)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(decode_canonical_base64(b64).ok_or(ProofBundleParseError::BadExtra)?);
            (line, rest) = rest
                .split_once('\n')
                .ok_or(ProofBundleParseError::BadIndex)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical_u64)
            .ok_or(ProofBundleParseError::BadIndex)?;

        let mut path = Vec::new();
        loop {
            let (line, after) = rest
                .split_once('\n')
                .ok_or(ProofBundleParseError::MissingCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if path.len() == Self::MAX_PATH {
                return Err(ProofBundleParseError::PathTooLong);
            }
            let hash = decode_hash(line).ok_or(ProofBundleParseError::BadPathHash(path.len()))?;
            path.push(hash);
        }
        if rest.is_empty() {
            return Err(ProofBundleParseError::MissingCheckpoint);
        }
        Ok(Self {
            extra,
            index,
            path,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verifies that `entry` (the exact logged bytes) is at [`Self::index`]
    /// of the log that `policy` trusts: the checkpoint must be signed by the
    /// log key (and cosigned by the witnesses the policy requires, no later
    /// than `now` plus the allowed clock skew), and the inclusion path must
    /// lead from the entry's leaf hash to the checkpoint's root.
    ///
    /// # Errors
    /// [`ProofBundleVerifyError`] for the first check that fails.
    pub fn verify(
        &self,
        entry: &[u8],
        policy: &LogPolicy,
        now: u64,
    ) -> Result<VerifiedInclusion, ProofBundleVerifyError> {
        let checkpoint = open_checkpoint(
            self.checkpoint.as_bytes(),
            &policy.origin,
            &policy.log,
            &policy.witnesses,
            policy.min_witnesses,
            now,
        )?;
        verify_inclusion(
            &leaf_hash(entry),
            self.index,
            checkpoint.size(),
            &self.path,
            checkpoint.root_hash(),
        )?;
        Ok(VerifiedInclusion {
            checkpoint,
            leaf_index: self.index,
        })
    }

    /// Encodes the bundle as `tlog-proof` text.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(64 + 45 * self.path.len() + self.checkpoint.len());
        out.push_str(HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            STANDARD.encode_string(extra, &mut out);
            out.push('\n');
        }
        out.push_str("index ");
        out.push_str(&self.index.to_string());
        out.push('\n');
        for hash in &self.path {
            STANDARD.encode_string(hash, &mut out);
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }
}

/// An entry proven to be in a log at a verified checkpoint. Only
/// [`ProofBundle::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedInclusion {
    checkpoint: VerifiedCheckpoint,
    leaf_index: u64,
}

impl VerifiedInclusion {
    /// The verified checkpoint the entry is included in (keep it to check
    /// the log's consistency later).
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }

    /// Index of the entry in the log.
    pub fn leaf_index(&self) -> u64 {
        self.leaf_index
    }
}

/// Standard base64 that re-encodes to itself (no stray padding bits).
fn decode_canonical_base64(s: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(s).ok()?;
    (STANDARD.encode(&bytes) == s).then_some(bytes)
}

/// A 32-byte hash in canonical padded base64 (44 characters), decoded
/// without allocating. `STANDARD` already refuses non-canonical padding and
/// stray trailing bits, so a successful decode is the canonical one.
fn decode_hash(s: &str) -> Option<Hash> {
    if s.len() != 44 {
        return None;
    }
    // The decoder's size estimate for 44 characters is 33 bytes.
    let mut buf = [0u8; 33];
    match STANDARD.decode_slice(s, &mut buf) {
        Ok(32) => buf[..32].try_into().ok(),
        _ => None,
    }
}

/// A decimal u64 with no sign and no leading zeros (except "0" itself).
fn parse_canonical_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}
