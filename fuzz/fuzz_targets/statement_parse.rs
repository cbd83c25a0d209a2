//! `Statement::parse`, `Token::parse` and `SignedRevocation::parse` on the
//! same bytes. Never panics; the three agree (a statement is a token or a
//! revocation, never both; when all fail, the statement error is one of the
//! other two); a revocation round-trips like a token does (receipts
//! re-attach to the input, logged bytes re-parse with the same id, the JSON
//! view of the payload round-trips).
#![no_main]

use std::sync::LazyLock;

use ed25519_dalek::VerifyingKey;
use libfuzzer_sys::fuzz_target;
use loupe_schemas::token::{Revocation, SignedRevocation, Statement, Token, TokenId};

static ISSUER: LazyLock<VerifyingKey> = LazyLock::new(loupe_fuzz::issuer_public);

fuzz_target!(|data: &[u8]| {
    let statement = Statement::parse(data);
    let token = Token::parse(data);
    let revocation = SignedRevocation::parse(data);

    match &statement {
        Ok(Statement::Token(t)) => {
            assert_eq!(token.as_ref(), Ok(t));
            assert!(revocation.is_err(), "a token also parses as a revocation");
        }
        Ok(Statement::Revocation(r)) => {
            assert_eq!(revocation.as_ref(), Ok(r));
            assert!(token.is_err(), "a revocation also parses as a token");
        }
        Err(e) => {
            assert!(token.is_err() && revocation.is_err());
            assert!(
                token.as_ref().err() == Some(e) || revocation.as_ref().err() == Some(e),
                "Statement::parse error {e:?} is neither {token:?} nor {revocation:?}"
            );
        }
    }

    let Ok(statement) = statement else { return };
    let logged = Statement::parse(statement.logged_bytes()).expect("logged bytes re-parse");
    assert_eq!(logged.id(), statement.id());
    assert_eq!(logged.logged_bytes(), statement.logged_bytes());
    assert_eq!(
        TokenId::of_logged_bytes(statement.logged_bytes()),
        statement.id()
    );
    assert_eq!(logged.issuer(), statement.issuer());
    assert_eq!(logged.kid(), statement.kid());

    if let Statement::Revocation(r) = &statement {
        assert_eq!(r.with_receipts(r.receipts().to_vec()), data);
        assert_eq!(r.with_receipts(vec![]), r.logged_bytes());
        let bare = SignedRevocation::parse(r.logged_bytes()).expect("logged revocation");
        assert!(bare.receipts().is_empty());
        assert_eq!(bare.revocation(), r.revocation());
        assert_eq!(bare.claims(), r.claims());
        assert_eq!(bare.payload_bytes(), r.payload_bytes());
        assert_eq!(bare.x5chain(), r.x5chain());
        assert_eq!(r.revocation().iat, r.claims().iat, "iat mismatch accepted");
        assert_eq!(r.revokes(), r.revocation().revokes);
        let json = serde_json::to_string(r.revocation()).expect("revocation to JSON");
        let back: Revocation = serde_json::from_str(&json).expect("revocation JSON parses");
        assert_eq!(&back, r.revocation());
    }
    if let Statement::Token(t) = &statement {
        assert_eq!(t.to_bytes(), data);
    }
    let _ = statement.verify(&ISSUER);
});
