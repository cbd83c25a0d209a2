//! Starts a real `loupe-issuer` (SQLite in a temporary folder) behind a
//! tampering front, issues two tokens with the sample capture (so the
//! media store holds their photos), tells the front to serve the second
//! one with a byte flipped, and starts the verification API with the
//! buyer page — all on loopback. Prints, one per line:
//!
//! ```text
//! ISSUER=http://127.0.0.1:…       the lab's public URL (the front)
//! VERIFIER=http://127.0.0.1:…     the verification API and buyer page
//! GOOD=http://127.0.0.1:…/t/…     a token URL that verifies
//! TAMPERED=http://127.0.0.1:…/t/… a token URL whose served bytes differ
//! READY
//! ```
//!
//! then serves until killed. Used by `tests/browser/run.sh`; the CLI's
//! `loupe serve` is the real way to run the API.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/api_support/mod.rs"]
mod support;

use loupe_verifier::api::ApiConfig;
use std::io::Write as _;

#[tokio::main]
async fn main() {
    let lab = support::Lab::start(true).await;
    let good = lab.issue_multipart(0).await;
    let tampered = lab.issue_multipart(1).await;
    lab.tamper_with(&tampered.id);
    let api = support::Api::start(lab.verifier(), ApiConfig::default()).await;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ISSUER={}", lab.public_base).unwrap();
    writeln!(out, "VERIFIER={}", api.base).unwrap();
    writeln!(out, "GOOD={}", good.url).unwrap();
    writeln!(out, "TAMPERED={}", tampered.url).unwrap();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    drop(out);
    let _ = tokio::signal::ctrl_c().await;
    api.stop();
    lab.stop().await;
}
