//! # loupe-schemas
//!
//! Every wire format of Loupe, and the Merkle log math, with strict parsers.
//! This crate is pure: no I/O, no async, no HTTP, no storage.
//!
//! | module | what | standard |
//! | --- | --- | --- |
//! | [`token`] | provenance tokens and revocations (COSE_Sign1, SCITT-shaped) | RFC 9052, RFC 9597, RFC 9360 |
//! | [`merkle`] | leaf/node hashing, roots, inclusion and consistency proofs | RFC 9162 §2.1 |
//! | [`checkpoint`] | signed notes, checkpoints, witness cosignatures | C2SP `signed-note`, `tlog-checkpoint`, `tlog-cosignature` |
//! | [`tiles`] | tile paths, hash tiles, entry bundles | C2SP `tlog-tiles` |
//! | [`cbor`] | strict core deterministic CBOR (check, decode, encode) | RFC 8949 §4.2.1 |
//! | [`bundle`] | proof bundles and COSE receipts | C2SP `tlog-proof`, RFC 9942 |
//! | [`json`] | strict JSON: no member named twice in an object | RFC 8259 §4, RFC 7493 §2.3 |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bundle;
pub mod cbor;
pub mod checkpoint;
pub mod json;
pub mod merkle;
pub mod tiles;
pub mod token;
