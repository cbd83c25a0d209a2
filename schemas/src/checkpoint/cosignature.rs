//! C2SP `tlog-cosignature` v1 (Ed25519, type `0x04`): the witness side.

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey};

use super::keys::{
    KeyError, MAX_COSIGNATURE_TIMESTAMP, NoteSigner, NoteVerifier, SignatureType,
    cosignature_v1_message, is_valid_key_name, key_id,
};
use super::note::{NoteError, check_limits, format_signature_line, raw_line, split_signed_note};
use super::open::{CheckpointError, VerifiedCheckpoint};

/// A witness's private Ed25519 key producing `cosignature/v1` signatures
/// under one key name. Its `Debug` output never shows the key.
///
/// A witness must only cosign checkpoints it verified and found consistent
/// with the largest one it saw before; the consistency check is the
/// caller's (this type only takes a [`VerifiedCheckpoint`]).
#[derive(Clone)]
pub struct CosignatureSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl CosignatureSigner {
    /// A cosigner for `key` under `name`. Use a key for nothing else: the
    /// signed message does not commit to the name.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidName`] for an invalid key name.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, SignatureType::CosignatureV1, &key.verifying_key()),
            key,
        })
    }

    /// A cosigner from an Ed25519 note signer key string
    /// (`PRIVATE+KEY+name+keyid+base64(0x01 ‖ seed)`, key id of type
    /// `0x01`), as witness tools generate them; the cosigner's own key id
    /// is recomputed with type `0x04`.
    ///
    /// # Errors
    ///
    /// As [`NoteSigner::from_skey`].
    pub fn from_skey(skey: &str) -> Result<Self, KeyError> {
        let signer = NoteSigner::from_skey(skey)?;
        Self::new(signer.name(), signer.signing_key().clone())
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (type `0x04`).
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching `cosignature/v1` verifier.
    #[must_use]
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier::from_parts(
            &self.name,
            self.key_id,
            SignatureType::CosignatureV1,
            self.key.verifying_key(),
        )
    }

    /// The cosignature line (`— <name> base64(keyid ‖ timestamp ‖ sig)\n`)
    /// over `checkpoint` at POSIX time `timestamp`, as a witness returns it
    /// from `add-checkpoint`.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::TimestampOutOfRange`] above 2^63 − 1.
    pub fn cosignature_line(
        &self,
        checkpoint: &VerifiedCheckpoint,
        timestamp: u64,
    ) -> Result<String, CheckpointError> {
        if timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(CheckpointError::TimestampOutOfRange(timestamp));
        }
        let message = cosignature_v1_message(timestamp, &checkpoint.checkpoint().to_body());
        let signature = self.key.sign(message.as_bytes()).to_bytes();
        let mut blob = Vec::with_capacity(72);
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature);
        Ok(format_signature_line(&self.name, self.key_id, &blob))
    }

    /// The signed checkpoint with this witness's cosignature added: every
    /// signature line received is kept verbatim, except an earlier line by
    /// this same witness key, which the new one replaces.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::TimestampOutOfRange`] above 2^63 − 1;
    /// [`CheckpointError::Note`] if the result would exceed
    /// [`super::MAX_NOTE_SIZE`] or [`super::MAX_SIGNATURES`].
    pub fn cosign(
        &self,
        checkpoint: &VerifiedCheckpoint,
        timestamp: u64,
    ) -> Result<String, CheckpointError> {
        let new_line = self.cosignature_line(checkpoint, timestamp)?;
        let (text, lines) = split_signed_note(checkpoint.signed_note()).map_err(NoteError::from)?;
        let mut note = String::with_capacity(
            checkpoint
                .signed_note()
                .len()
                .saturating_add(new_line.len()),
        );
        note.push_str(text);
        note.push('\n');
        let mut count: usize = 1;
        for line in lines
            .iter()
            .filter(|l| !(l.name == self.name && l.key_id == self.key_id))
        {
            note.push_str(&raw_line(line));
            count = count.saturating_add(1);
        }
        note.push_str(&new_line);
        check_limits(&note, count).map_err(NoteError::from)?;
        Ok(note)
    }
}

impl fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}
