//! Proofs that travel: the C2SP `tlog-proof` bundle and the RFC 9942 COSE
//! receipt.
//!
//! A [`ProofBundle`] is what a verifier fetches and what a holder keeps for
//! offline use: the entry's index, its RFC 9162 inclusion path, and the
//! log's signed checkpoint verbatim with any witness cosignatures
//! (<https://c2sp.org/tlog-proof>). A [`Receipt`] carries the same inclusion
//! proof as a COSE_Sign1 signed by the log key over the detached Merkle root
//! (RFC 9942, verifiable data structure `RFC9162_SHA256`), so SCITT tooling
//! can use it; attached to a token at unprotected header 394 it makes a
//! *transparent token*.
//!
//! Both verify against a [`LogPolicy`]: the log's origin, its key, and the
//! witnesses whose cosignatures are required.
//!
//! ```
//! use ed25519_dalek::SigningKey;
//! use loupe_schemas::bundle::{LogPolicy, ProofBundle, Receipt};
//! use loupe_schemas::checkpoint::{Checkpoint, NoteSigner, sign_checkpoint};
//! use loupe_schemas::merkle::{MemoryHashStore, prove_inclusion};
//! use loupe_schemas::token::Algorithm;
//!
//! let log_key = SigningKey::from_bytes(&[7; 32]);
//! let signer = NoteSigner::new("lab.example/log", log_key.clone()).unwrap();
//! let policy = LogPolicy::new("lab.example/log", signer.verifier());
//!
//! let mut log = MemoryHashStore::default();
//! for entry in [&b"first"[..], b"second", b"third"] {
//!     log.append_leaf(entry).unwrap();
//! }
//! let root = log.root().unwrap();
//! let checkpoint = Checkpoint::new("lab.example/log", 3, root, vec![]).unwrap();
//! let signed = sign_checkpoint(&checkpoint, &signer).unwrap();
//!
//! let proof = prove_inclusion(1, 3, &log).unwrap();
//! let text = ProofBundle::new(1, proof.path.clone(), signed).to_text();
//! let bundle = ProofBundle::parse(text.as_bytes()).unwrap();
//! assert!(bundle.verify(b"second", &policy, 0).is_ok());
//! assert!(bundle.verify(b"Second", &policy, 0).is_err());
//!
//! let receipt = Receipt::sign(&log_key, Algorithm::EdDsa, "lab.example/log", &proof, &root);
//! let receipt = Receipt::parse(&receipt).unwrap();
//! assert!(receipt.verify(b"second", &policy.origin, &log_key.verifying_key()).is_ok());
//! ```

mod proof;
mod receipt;
#[cfg(test)]
mod tests;

pub use proof::{
    HEADER, ProofBundle, ProofBundleParseError, ProofBundleVerifyError, VerifiedInclusion,
};
pub use receipt::{
    INCLUSION_PROOFS, MAX_RECEIPT_SIZE, RECEIPTS_LABEL, Receipt, ReceiptParseError,
    ReceiptVerifyError, VDP_LABEL, VDS_LABEL, VDS_RFC9162_SHA256, VerifiedReceipt,
};

use crate::checkpoint::NoteVerifier;

/// What a verifier trusts about one log: its origin (the checkpoint's first
/// line), the log's note key, and the witnesses whose cosignatures it
/// requires.
#[derive(Debug, Clone)]
pub struct LogPolicy {
    /// The log origin, e.g. `lab.example/log`.
    pub origin: String,
    /// The log's Ed25519 note verifier; its name must be the origin.
    pub log: NoteVerifier,
    /// Witness `cosignature/v1` verifiers.
    pub witnesses: Vec<NoteVerifier>,
    /// How many distinct witnesses must have cosigned.
    pub min_witnesses: usize,
}

impl LogPolicy {
    /// A policy that trusts the log key alone, with no witnesses required.
    pub fn new(origin: impl Into<String>, log: NoteVerifier) -> Self {
        Self {
            origin: origin.into(),
            log,
            witnesses: Vec::new(),
            min_witnesses: 0,
        }
    }

    /// Requires `min` cosignatures from `witnesses`.
    #[must_use]
    pub fn with_witnesses(mut self, witnesses: Vec<NoteVerifier>, min: usize) -> Self {
        self.witnesses = witnesses;
        self.min_witnesses = min;
        self
    }
}
