//! # loupe-issuer
//!
//! The lab-side Loupe service (under construction).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod apikey;
pub mod cli;
pub mod client;
pub mod config;
pub mod keys;
pub mod media;
pub mod problem;
pub mod proofs;
pub mod qr;
pub mod sample;
pub mod sequencer;
pub mod store;
