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

/// The base URLs of the issuers in [`trust_store_toml`]: one at the root of
/// its host, one under a path and a port (tokens at `{base}/t/{id}`).
pub const TOKEN_URL_BASES: [&str; 2] = ["https://lab.example", "http://cdn.example:8443/labs/gem"];

/// A trust store (TOML) with two issuers at [`TOKEN_URL_BASES`], the
/// fixture issuer key, the fixture log, and the fixture witness required:
/// what `token_url` verifies against and a `trust_toml` seed.
#[must_use]
pub fn trust_store_toml() -> String {
    use base64::Engine as _;
    let issuer = base64::engine::general_purpose::STANDARD.encode(issuer_public().as_bytes());
    let log = log_signer().verifier().to_vkey();
    let witness = witness_signer().verifier().to_vkey();
    format!(
        "[[log]]\norigin = \"{LOG_ORIGIN}\"\nkey = \"{log}\"\nurl = \"https://lab.example\"\n\n\
         [[issuer]]\norigin = \"{ISSUER}\"\nurl = \"{}\"\nlog = \"{LOG_ORIGIN}\"\n\n\
         [[issuer.key]]\npublic_key = \"{issuer}\"\nnot_before = 2026-01-01T00:00:00Z\n\n\
         [[issuer]]\norigin = \"gem.example\"\nurl = \"{}\"\nlog = \"{LOG_ORIGIN}\"\n\n\
         [[issuer.key]]\npublic_key = \"{issuer}\"\nnot_after = 2030-01-01T00:00:00Z\n\n\
         [witnesses]\nkeys = [\"{witness}\"]\nmin = 1\n",
        TOKEN_URL_BASES[0], TOKEN_URL_BASES[1]
    )
}
