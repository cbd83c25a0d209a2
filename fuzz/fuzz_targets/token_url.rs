//! The verifier's QR payload / token URL parsing (`Verifier::verify_url`,
//! offline) on arbitrary text: what a QR code decodes to, or a pasted
//! `{base}/t/{id}` link. Never panics, never fetches, never says `valid`;
//! it passes `trusted_origin` exactly for the canonical token URLs of the
//! trust store's issuers (same scheme, host and port, the issuer's base
//! path, `/t/` and a 43-character token id that prints back to itself, no
//! query), checked against an oracle written independently here.
#![no_main]

use std::future::Future as _;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use loupe_fuzz::{TOKEN_URL_BASES, trust_store_toml};
use loupe_schemas::token::TokenId;
use loupe_verifier::{CheckName, FilesInHand, Outcome, Status, TrustStore, Verdict, Verifier};

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let trust = TrustStore::from_toml(&trust_store_toml()).expect("fixture trust store");
        Verifier::new(trust).at_time(loupe_fuzz::NOW)
    })
}

/// Polls the offline verification to its end: nothing in it waits.
fn verify(text: &str) -> Verdict {
    let files = FilesInHand::default();
    let mut fut = pin!(verifier().verify_url(text, &files));
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("offline verify_url did not finish");
}

/// The oracle: the token id when `text` is a canonical token URL of one of
/// the fixture issuers.
fn expected(text: &str) -> Option<TokenId> {
    let url = url::Url::parse(text.trim()).ok()?;
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    TOKEN_URL_BASES.iter().find_map(|base| {
        let base = url::Url::parse(base).ok()?;
        if base.scheme() != url.scheme()
            || base.host_str().map(str::to_ascii_lowercase)
                != url.host_str().map(str::to_ascii_lowercase)
            || base.port_or_known_default() != url.port_or_known_default()
        {
            return None;
        }
        let prefix = format!("{}/t/", base.path().trim_end_matches('/'));
        let id = url.path().strip_prefix(&prefix)?;
        let parsed: TokenId = id.parse().ok()?;
        Some(parsed)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verdict = verify(text);
    assert_ne!(verdict.status, Status::Valid, "offline, nothing is valid");
    let origin = verdict
        .check(CheckName::TrustedOrigin)
        .expect("the trusted_origin check is always made");
    let oracle = expected(text);
    match origin.outcome {
        Outcome::Pass => {
            let id = oracle.unwrap_or_else(|| panic!("accepted a non-token URL {text:?}"));
            // A token id has one spelling: the URL commits to the token.
            let url = url::Url::parse(text.trim()).expect("accepted URLs parse");
            assert!(
                url.path().ends_with(&format!("/t/{id}")),
                "id {id} is not spelled canonically in {text:?}"
            );
            assert_eq!(verdict.status, Status::Unknown, "offline: unknown");
            let fetch = verdict.check(CheckName::Fetch).expect("fetch is reported");
            assert_eq!(fetch.outcome, Outcome::Skip, "offline: nothing fetched");
        }
        Outcome::Fail => {
            assert!(oracle.is_none(), "refused the token URL {text:?}");
            assert!(
                verdict.check(CheckName::Fetch).is_none(),
                "nothing is fetched for a refused URL"
            );
        }
        Outcome::Skip => panic!("trusted_origin skipped for {text:?}"),
    }
});
