//! # loupe-issuer
//!
//! The lab-side Loupe service: it signs provenance tokens for a lab's
//! stones, logs them in an append-only RFC 9162 Merkle log on SQLite or
//! PostgreSQL (C2SP checkpoints and tiles), and serves tokens, proofs, QR
//! codes and the certified files over HTTP. See `docs/issuer.md`.
//!
//! | module | what |
//! | --- | --- |
//! | [`app`] | start-up, state, the HTTP server |
//! | [`api`] | the HTTP routes |
//! | [`store`] | storage: the `Store` trait, SQLite and PostgreSQL |
//! | [`sequencer`] | the one task that owns the tree: batches, rules, checkpoints |
//! | [`leadership`], [`handoff`] | PostgreSQL scale-out: which instance sequences, fail-over, and how the others hand it their submissions |
//! | [`proofs`] | inclusion and consistency proofs, tiles, from the store |
//! | [`media`] | content-addressed file store |
//! | [`apikey`], [`keys`], [`config`] | credentials, key files, configuration |
//! | [`rotation`], [`restore`] | key rotation and compromise; backups and the restore check |
//! | [`problem`] | RFC 9457 problem details |
//! | [`qr`], [`sample`], [`metrics`] | QR codes, the sample capture, Prometheus metrics |
//! | [`cli`], [`client`] | the `loupe-issuer` command line and its HTTP client |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod apikey;
pub mod app;
pub mod cli;
pub mod client;
pub mod config;
pub mod handoff;
pub mod keys;
pub mod leadership;
pub mod media;
pub mod metrics;
pub mod problem;
pub mod proofs;
pub mod qr;
pub mod rate_limit;
pub mod restore;
pub mod rotation;
pub mod sample;
pub mod sequencer;
pub mod store;
