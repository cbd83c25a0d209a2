//! `Token::parse` on arbitrary bytes. Never panics; on success the token
//! round-trips exactly:
//!
//! - `to_bytes()` is the input (one accepted encoding per token) and
//!   re-parses to an equal token;
//! - `logged_bytes()` re-parses to the same token without receipts, with
//!   the same id, and its SHA-256 is the id;
//! - attaching the token's own receipts gives the input back;
//! - `Statement::parse` agrees; the id string and the JSON views of the
//!   claims and payload round-trip.
#![no_main]

use std::sync::LazyLock;

use ed25519_dalek::VerifyingKey;
use libfuzzer_sys::fuzz_target;
use loupe_schemas::token::{CwtClaims, Provenance, Statement, Token, TokenId};

static ISSUER: LazyLock<VerifyingKey> = LazyLock::new(loupe_fuzz::issuer_public);

fuzz_target!(|data: &[u8]| {
    let Ok(token) = Token::parse(data) else {
        return;
    };

    let bytes = token.to_bytes();
    assert_eq!(bytes, data, "to_bytes() is not the input");
    let again = Token::parse(&bytes).expect("to_bytes() re-parses");
    assert_eq!(again, token, "to_bytes() re-parses to another token");

    let logged = Token::parse(token.logged_bytes()).expect("logged_bytes() re-parses");
    assert_eq!(logged.id(), token.id(), "id changes without receipts");
    assert_eq!(TokenId::of_logged_bytes(token.logged_bytes()), token.id());
    assert_eq!(logged.logged_bytes(), token.logged_bytes());
    assert!(logged.receipts().is_empty());
    assert_eq!(logged.claims(), token.claims());
    assert_eq!(logged.provenance(), token.provenance());
    assert_eq!(logged.kid(), token.kid());
    assert_eq!(logged.alg(), token.alg());
    assert_eq!(logged.x5chain(), token.x5chain());
    assert_eq!(
        logged.protected_header_bytes(),
        token.protected_header_bytes()
    );
    assert_eq!(logged.payload_bytes(), token.payload_bytes());
    assert_eq!(token.without_receipts(), token.logged_bytes());
    assert_eq!(token.with_receipts(token.receipts().to_vec()), data);
    assert_eq!(token.with_receipts(vec![]), token.logged_bytes());

    match Statement::parse(data) {
        Ok(Statement::Token(t)) => assert_eq!(t, token),
        other => panic!("Statement::parse disagrees with Token::parse: {other:?}"),
    }

    let id = token.id().to_string();
    assert_eq!(id.len(), 43);
    assert_eq!(id.parse::<TokenId>(), Ok(token.id()));

    let json = serde_json::to_string(token.provenance()).expect("payload to JSON");
    let back: Provenance = serde_json::from_str(&json).expect("payload JSON parses back");
    assert_eq!(&back, token.provenance(), "payload JSON round trip");
    let json = serde_json::to_string(token.claims()).expect("claims to JSON");
    let back: CwtClaims = serde_json::from_str(&json).expect("claims JSON parses back");
    assert_eq!(&back, token.claims(), "claims JSON round trip");

    // Seeds are signed by the fixture issuer: their mutants reach the
    // signature check. Any answer is fine; a panic is not.
    let _ = token.verify(&ISSUER);
});
