//! # loupe-verifier
//!
//! Verifies Loupe provenance tokens and trusts nothing it fetches: not the
//! server, not the URL's host, not the bytes. One call per input — a QR
//! URL, a token file (with its proof bundle, offline), or a picture of a QR
//! code — returns a [`Verdict`]: an overall [`Status`] (`valid`, `invalid`,
//! `revoked`, `superseded`, `unknown`) and every check by name with a
//! reason:
//!
//! | check | what |
//! | --- | --- |
//! | `trusted_origin` | the URL is under an issuer in the [`TrustStore`]; nothing else is fetched (no SSRF) |
//! | `url_token_id` | the URL's token id is the SHA-256 of the token served |
//! | `cose_structure` | strict COSE_Sign1 parse (RFC 9052) |
//! | `issuer_known`, `issuer_key` | the issuer is trusted; the key is valid at `iat`, or the `x5chain` reaches a trusted root |
//! | `token_signature` | Ed25519 (`verify_strict`) |
//! | `checkpoint_signature`, `witnesses` | C2SP checkpoint signed by the log key; cosignatures per policy |
//! | `inclusion` | RFC 9162 inclusion proof |
//! | `consistency` | consistent with the newest checkpoint seen ([`CheckpointMemory`]): fork and rollback are reported loudly |
//! | `status` | revocation or supersession, each proven by its own log entry |
//! | `file` | the report and photos in hand match their certified digests |
//!
//! The issuer's JSON answers the checks read (a token's status, a
//! consistency proof) are parsed strictly by [`answers`]. The crate also
//! holds the `loupe` CLI and the verification HTTP API with the buyer page
//! ([`api`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod answers;
pub mod api;
pub mod chain;
pub mod cli;
pub mod fetch;
pub mod files;
pub mod qr;
pub mod state;
pub mod trust;
pub mod verdict;
mod verifier;

pub use fetch::{FetchError, FetchOptions, Fetcher};
pub use files::{FileError, FilesInHand};
pub use state::{CheckpointMemory, StateError};
pub use trust::{TrustStore, TrustStoreError};
pub use verdict::{Check, CheckName, Outcome, Status, Verdict};
pub use verifier::{Input, Verifier};
