//! Signing checkpoints as a log, and opening them as a verifier.

use super::body::{Checkpoint, CheckpointParseError};
use super::keys::{NoteSigner, NoteVerifier, SignatureType};
use super::note::{NoteError, NoteParseError, open_note_with, sign_note};

/// How far in the future (seconds after the caller's `now`) a witness
/// cosignature's timestamp may be before [`open_checkpoint`] rejects it:
/// 10 minutes of clock skew.
pub const MAX_COSIGNATURE_CLOCK_SKEW: u64 = 600;

/// Why a checkpoint could not be signed or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The signed note is malformed or a signature in it failed; see
    /// [`NoteError`] (its `Malformed` variant is the syntax case).
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The note text is not a valid checkpoint body.
    #[error("malformed checkpoint: {0}")]
    Malformed(#[from] CheckpointParseError),
    /// The log key's name is not the checkpoint origin (C2SP
    /// `tlog-checkpoint`: the log's key name should match the origin; Loupe
    /// requires it).
    #[error("log key name {key_name:?} is not the origin {origin:?}")]
    KeyNameNotOrigin {
        /// The log key's name.
        key_name: String,
        /// The origin.
        origin: String,
    },
    /// The checkpoint is for another log.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin the caller expected.
        expected: String,
        /// The origin line of the checkpoint.
        found: String,
    },
    /// A key of the wrong signature type was given: the log key must be
    /// Ed25519 (`0x01`), witness keys `cosignature/v1` (`0x04`).
    #[error("key {name:?} has signature type {found:?}, expected {expected:?}")]
    WrongKeyType {
        /// Key name.
        name: String,
        /// The type required in this role.
        expected: SignatureType,
        /// The key's type.
        found: SignatureType,
    },
    /// Two configured keys (witnesses, or a witness and the log) share a
    /// public key. `cosignature/v1` does not commit to the witness name,
    /// so one key under two names would be counted twice.
    #[error("witness {name:?} reuses a public key already configured")]
    DuplicateWitnessKey {
        /// Name of the second key with the same public key.
        name: String,
    },
    /// The policy asks for more cosignatures than there are witnesses.
    #[error("policy needs {need} witness cosignatures but only {have} witnesses are configured")]
    ThresholdUnreachable {
        /// Configured witnesses.
        have: usize,
        /// Required cosignatures.
        need: usize,
    },
    /// The note carries no valid signature by the log key.
    #[error("no signature by the log key")]
    MissingLogSignature,
    /// Too few configured witnesses cosigned the checkpoint.
    #[error("{have} valid witness cosignatures, policy needs {need}")]
    NotEnoughCosignatures {
        /// Valid cosignatures from distinct configured witnesses.
        have: usize,
        /// Required cosignatures.
        need: usize,
    },
    /// A configured witness's cosignature is dated more than
    /// [`MAX_COSIGNATURE_CLOCK_SKEW`] after `now`.
    #[error("cosignature by {name:?} is dated {timestamp}, in the future of {now}")]
    CosignatureFromFuture {
        /// Witness name.
        name: String,
        /// The cosignature's timestamp.
        timestamp: u64,
        /// The caller's current time.
        now: u64,
    },
    /// A cosignature timestamp above 2^63 − 1 was asked for.
    #[error("cosignature timestamp {0} is above 2^63 - 1")]
    TimestampOutOfRange(u64),
}

/// A witness cosignature that a configured witness key verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    name: String,
    key_id: u32,
    timestamp: u64,
}

impl Cosignature {
    /// The witness's key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The witness's key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The POSIX time at which the witness cosigned.
    #[must_use]
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
}

/// A checkpoint whose log signature (and witness policy) has been
/// verified. Only [`open_checkpoint`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    signed_note: String,
    cosignatures: Vec<Cosignature>,
}

impl VerifiedCheckpoint {
    /// The checkpoint.
    #[must_use]
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The origin line.
    #[must_use]
    pub fn origin(&self) -> &str {
        self.checkpoint.origin()
    }

    /// The tree size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.checkpoint.size()
    }

    /// The root hash.
    #[must_use]
    pub fn root_hash(&self) -> &[u8; 32] {
        self.checkpoint.root_hash()
    }

    /// The signed note exactly as received, every signature line included
    /// (to serve it on, or to embed in a `tlog-proof`).
    #[must_use]
    pub fn signed_note(&self) -> &str {
        &self.signed_note
    }

    /// Cosignatures verified by configured witnesses, in note order.
    #[must_use]
    pub fn cosignatures(&self) -> &[Cosignature] {
        &self.cosignatures
    }
}

/// Signs `checkpoint` as its log: the result is the signed note text.
///
/// # Errors
///
/// [`CheckpointError::KeyNameNotOrigin`] unless the signer's name is the
/// checkpoint origin; [`CheckpointError::Note`] if the note would exceed
/// the size limits (cannot happen for a body within
/// [`super::MAX_CHECKPOINT_BODY_SIZE`]).
pub fn sign_checkpoint(
    checkpoint: &Checkpoint,
    signer: &NoteSigner,
) -> Result<String, CheckpointError> {
    sign_checkpoint_with(checkpoint, &[signer])
}

/// Signs `checkpoint` with several keys of its log at once, one signature
/// line each, in the order given: during a log key rotation the old and the
/// new key both sign, so verifiers trusting either accept the checkpoint.
///
/// # Errors
///
/// [`CheckpointError::KeyNameNotOrigin`] unless every signer's name is the
/// checkpoint origin; [`CheckpointError::Note`] for no signers, two signers
/// with one key id, or a note over the size limits.
pub fn sign_checkpoint_with(
    checkpoint: &Checkpoint,
    signers: &[&NoteSigner],
) -> Result<String, CheckpointError> {
    if let Some(signer) = signers.iter().find(|s| s.name() != checkpoint.origin()) {
        return Err(CheckpointError::KeyNameNotOrigin {
            key_name: signer.name().to_owned(),
            origin: checkpoint.origin().to_owned(),
        });
    }
    Ok(sign_note(&checkpoint.to_body(), signers)?)
}

fn require_type(v: &NoteVerifier, expected: SignatureType) -> Result<(), CheckpointError> {
    if v.signature_type() == expected {
        Ok(())
    } else {
        Err(CheckpointError::WrongKeyType {
            name: v.name().to_owned(),
            expected,
            found: v.signature_type(),
        })
    }
}

/// Opens a signed checkpoint of the log `origin`.
///
/// Checks, in order: the key roles and policy (`log` is an Ed25519 key
/// named `origin`; `witnesses` are distinct `cosignature/v1` keys; at least
/// `min_witnesses` of them), the note syntax and every signature by a
/// configured key ([`super::open_note`] rules), a valid log signature, the
/// checkpoint body, the origin line, cosignature timestamps no later than
/// `now` + [`MAX_COSIGNATURE_CLOCK_SKEW`], and at least `min_witnesses`
/// distinct witnesses' valid cosignatures. Signature lines of other keys
/// are ignored and kept in [`VerifiedCheckpoint::signed_note`].
///
/// `now` is the caller's POSIX time in seconds.
///
/// # Errors
///
/// A [`CheckpointError`] for the first check that fails.
pub fn open_checkpoint(
    signed_note: &[u8],
    origin: &str,
    log: &NoteVerifier,
    witnesses: &[NoteVerifier],
    min_witnesses: usize,
    now: u64,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    open_checkpoint_any(
        signed_note,
        origin,
        std::slice::from_ref(log),
        witnesses,
        min_witnesses,
        now,
    )
}

/// [`open_checkpoint`] for a log with several trusted keys (a key
/// rotation): the checkpoint needs a valid signature by at least one of
/// `logs`. Every key in `logs` is a configured key, so a failing signature
/// by any of them still rejects the note.
///
/// # Errors
///
/// As [`open_checkpoint`]; [`CheckpointError::MissingLogSignature`] for an
/// empty `logs` or a note none of them signed.
pub fn open_checkpoint_any(
    signed_note: &[u8],
    origin: &str,
    logs: &[NoteVerifier],
    witnesses: &[NoteVerifier],
    min_witnesses: usize,
    now: u64,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    if logs.is_empty() {
        return Err(CheckpointError::MissingLogSignature);
    }
    for log in logs {
        require_type(log, SignatureType::Ed25519)?;
        if log.name() != origin {
            return Err(CheckpointError::KeyNameNotOrigin {
                key_name: log.name().to_owned(),
                origin: origin.to_owned(),
            });
        }
    }
    for (i, w) in witnesses.iter().enumerate() {
        require_type(w, SignatureType::CosignatureV1)?;
        let earlier = witnesses.get(..i).unwrap_or_default();
        if logs.iter().any(|l| w.verifying_key() == l.verifying_key())
            || earlier
                .iter()
                .any(|e| e.verifying_key() == w.verifying_key())
        {
            return Err(CheckpointError::DuplicateWitnessKey {
                name: w.name().to_owned(),
            });
        }
    }
    if min_witnesses > witnesses.len() {
        return Err(CheckpointError::ThresholdUnreachable {
            have: witnesses.len(),
            need: min_witnesses,
        });
    }

    let verifiers: Vec<&NoteVerifier> = logs.iter().chain(witnesses).collect();
    let note = match open_note_with(signed_note, &verifiers) {
        Ok(note) => note,
        Err(NoteError::NoVerifiedSignature) => return Err(CheckpointError::MissingLogSignature),
        Err(e) => return Err(e.into()),
    };
    if !note
        .signatures()
        .iter()
        .any(|s| logs.iter().any(|log| log.matches(s.name(), s.key_id())))
    {
        return Err(CheckpointError::MissingLogSignature);
    }
    let checkpoint = Checkpoint::parse(note.text())?;
    if checkpoint.origin() != origin {
        return Err(CheckpointError::OriginMismatch {
            expected: origin.to_owned(),
            found: checkpoint.origin().to_owned(),
        });
    }

    let latest = now.saturating_add(MAX_COSIGNATURE_CLOCK_SKEW);
    let mut cosignatures = Vec::new();
    for s in note.signatures() {
        let Some(timestamp) = s.timestamp() else {
            continue;
        };
        if timestamp > latest {
            return Err(CheckpointError::CosignatureFromFuture {
                name: s.name().to_owned(),
                timestamp,
                now,
            });
        }
        cosignatures.push(Cosignature {
            name: s.name().to_owned(),
            key_id: s.key_id(),
            timestamp,
        });
    }
    // open_note counts each (name, key id) once and keys are distinct, so
    // every entry is a different witness.
    if cosignatures.len() < min_witnesses {
        return Err(CheckpointError::NotEnoughCosignatures {
            have: cosignatures.len(),
            need: min_witnesses,
        });
    }

    let signed_note = std::str::from_utf8(signed_note)
        .map_err(|e| {
            NoteError::Malformed(NoteParseError::InvalidUtf8 {
                offset: e.valid_up_to(),
            })
        })?
        .to_owned();
    Ok(VerifiedCheckpoint {
        checkpoint,
        signed_note,
        cosignatures,
    })
}
