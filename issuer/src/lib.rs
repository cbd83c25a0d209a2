//! # loupe-issuer
//!
//! The lab-side Loupe service (under construction).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod proofs;
pub mod sequencer;
pub mod store;
