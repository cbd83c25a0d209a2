//! Fixtures shared by the Loupe fuzz targets and `examples/make_seeds.rs`:
//! fixed keys, names and time, so that the generated seeds verify inside
//! the targets and the fuzzer starts from inputs that reach the deep paths.
//!
//! Every key here is derived from a constant seed: public test material,
//! never for production.

#![forbid(unsafe_code)]

use ed25519_dalek::{SigningKey, VerifyingKey};
use loupe_schemas::checkpoint::{CosignatureSigner, NoteSigner, NoteVerifier};

/// Issuer origin (`iss`) of the seed tokens and revocations.
pub const ISSUER: &str = "lab.example";
/// Origin line and log key name of the seed checkpoints.
pub const LOG_ORIGIN: &str = "lab.example/log";
/// Key name of the seed witness.
pub const WITNESS_NAME: &str = "witness.example/w1";
/// The fuzzers' "now" (2026-01-01T00:00:00Z), and the seeds' timestamps.
pub const NOW: u64 = 1_767_225_600;

/// The issuer's token-signing key.
#[must_use]
pub fn issuer_key() -> SigningKey {
    SigningKey::from_bytes(&[0x11; 32])
}

/// The issuer's public key.
#[must_use]
pub fn issuer_public() -> VerifyingKey {
    issuer_key().verifying_key()
}

/// The log's checkpoint signer (Ed25519 note key named [`LOG_ORIGIN`]).
///
/// # Panics
///
/// Never: the name is a valid key name.
#[must_use]
pub fn log_signer() -> NoteSigner {
    NoteSigner::new(LOG_ORIGIN, SigningKey::from_bytes(&[0x22; 32]))
        .unwrap_or_else(|e| panic!("log signer: {e}"))
}

/// The witness's cosigner (`cosignature/v1` key named [`WITNESS_NAME`]).
///
/// # Panics
///
/// Never: the name is a valid key name.
#[must_use]
pub fn witness_signer() -> CosignatureSigner {
    CosignatureSigner::new(WITNESS_NAME, SigningKey::from_bytes(&[0x33; 32]))
        .unwrap_or_else(|e| panic!("witness signer: {e}"))
}

/// Public `vkey`s of the note vectors in `tests/vectors/note/` (Go's
/// `sumdb/note` tests and the Go checksum database), so that those seeds
/// verify too.
pub const VECTOR_VKEYS: [&str; 3] = [
    include_str!("../../tests/vectors/note/go-note-peter.vkey"),
    include_str!("../../tests/vectors/note/go-note-enoch.vkey"),
    include_str!("../../tests/vectors/note/sumdb.vkey"),
];

/// The verifiers `note_open` opens notes with: the log, the witness, and
/// the vector keys.
///
/// # Panics
///
/// Never: the vector keys parse (`schemas/tests/note_vectors.rs`).
#[must_use]
pub fn note_verifiers() -> Vec<NoteVerifier> {
    let mut v = vec![log_signer().verifier(), witness_signer().verifier()];
    v.extend(VECTOR_VKEYS.iter().map(|k| {
        NoteVerifier::from_vkey(k.trim_end()).unwrap_or_else(|e| panic!("vector vkey: {e}"))
    }));
    v
}

/// The entry the seed proof bundles and receipts prove: index 5 of a log of
/// 11 entries (see `examples/make_seeds.rs`).
pub const LOGGED_ENTRY: &[u8] = b"loupe fuzz: the logged entry";
