//! Signed notes, log checkpoints and witness cosignatures.
//!
//! | what | spec | here |
//! | --- | --- | --- |
//! | signed notes, key ids, Ed25519 (type `0x01`) | [C2SP `signed-note`](https://c2sp.org/signed-note) | [`open_note`], [`sign_note`], [`NoteVerifier`], [`NoteSigner`] |
//! | verifier/signer key strings (`vkey`, `skey`) | [`golang.org/x/mod/sumdb/note`](https://pkg.go.dev/golang.org/x/mod/sumdb/note) | [`NoteVerifier::from_vkey`], [`NoteSigner::from_skey`] |
//! | checkpoint body | [C2SP `tlog-checkpoint`](https://c2sp.org/tlog-checkpoint) | [`Checkpoint`], [`sign_checkpoint`], [`open_checkpoint`] |
//! | witness cosignatures v1 (type `0x04`) | [C2SP `tlog-cosignature`](https://c2sp.org/tlog-cosignature) | [`CosignatureSigner`], witnesses in [`open_checkpoint`] |
//!
//! A signed note is a UTF-8 text ending in a newline, a blank line, then
//! signature lines `— <key name> base64(key id ‖ signature)`:
//!
//! ```text
//! lab.example/log
//! 42
//! 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
//!
//! — lab.example/log 2Wy5Q...
//! — witness.example/w1 i6X0b...
//! ```
//!
//! Parsing is strict and never panics: at most [`MAX_NOTE_SIZE`] bytes and
//! [`MAX_SIGNATURES`] signature lines, no control characters, canonical
//! base64, valid key names, exact checkpoint lines. Syntax errors
//! ([`NoteParseError`], [`CheckpointParseError`]) are kept apart from
//! verification failures (the other variants of [`NoteError`] and
//! [`CheckpointError`]). A verifier holds a checkpoint only as a
//! [`VerifiedCheckpoint`], which only [`open_checkpoint`] returns.
//!
//! Loupe's policy beyond the specs: the log key's name must equal the
//! origin; a failing signature by a configured key rejects the whole note;
//! two different signature lines by one configured key are rejected; witness
//! keys must be distinct public keys (the `cosignature/v1` message does not
//! commit to the witness name).
//!
//! # Example
//!
//! ```
//! use ed25519_dalek::SigningKey;
//! use loupe_schemas::checkpoint::{
//!     Checkpoint, CosignatureSigner, NoteSigner, open_checkpoint, sign_checkpoint,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The log signs a checkpoint (real keys come from a key store).
//! let log = NoteSigner::new("lab.example/log", SigningKey::from_bytes(&[1; 32]))?;
//! let checkpoint = Checkpoint::new("lab.example/log", 42, [7; 32], vec![])?;
//! let signed = sign_checkpoint(&checkpoint, &log)?;
//!
//! // A witness verifies it and adds its cosignature.
//! let witness = CosignatureSigner::new("witness.example/w1", SigningKey::from_bytes(&[2; 32]))?;
//! let now = 1_767_225_600;
//! let seen = open_checkpoint(signed.as_bytes(), "lab.example/log", &log.verifier(), &[], 0, now)?;
//! let cosigned = witness.cosign(&seen, now)?;
//!
//! // A client trusting the log key and requiring one witness opens it.
//! let opened = open_checkpoint(
//!     cosigned.as_bytes(),
//!     "lab.example/log",
//!     &log.verifier(),
//!     &[witness.verifier()],
//!     1,
//!     now,
//! )?;
//! assert_eq!(opened.size(), 42);
//! assert_eq!(opened.cosignatures()[0].timestamp(), now);
//!
//! // Keys travel as strings: `lab.example/log+<keyid>+<base64>`.
//! let vkey = log.verifier().to_vkey();
//! assert!(vkey.starts_with("lab.example/log+"));
//! # Ok(())
//! # }
//! ```

mod body;
mod cosignature;
mod keys;
mod note;
mod open;

#[cfg(test)]
mod tests;

pub use body::{Checkpoint, CheckpointParseError, MAX_CHECKPOINT_BODY_SIZE};
pub use cosignature::CosignatureSigner;
pub use keys::{
    KeyError, MAX_COSIGNATURE_TIMESTAMP, NoteSigner, NoteVerifier, SignatureType,
    is_valid_key_name, key_id,
};
pub use note::{
    MAX_NOTE_SIZE, MAX_SIGNATURES, Note, NoteError, NoteParseError, SignatureLine,
    VerifiedSignature, open_note, sign_note,
};
pub use open::{
    CheckpointError, Cosignature, MAX_COSIGNATURE_CLOCK_SKEW, VerifiedCheckpoint, open_checkpoint,
    open_checkpoint_any, sign_checkpoint, sign_checkpoint_with,
};
