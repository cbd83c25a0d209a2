//! The provenance claims as the issuer's JSON API receives them
//! (`Provenance` through serde_json, which runs `Provenance::validate`)
//! on arbitrary bytes. Never panics; accepted claims validate, print to
//! JSON that parses back equal, and — when they fit in a token — sign into
//! a token whose strict parse gives the same claims back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_fuzz::{ISSUER, NOW, issuer_key};
use loupe_schemas::token::{
    Cti, Provenance, Token, TokenBuildError, TokenBuilder, TokenParseError,
};

fuzz_target!(|data: &[u8]| {
    let Ok(claims) = serde_json::from_slice::<Provenance>(data) else {
        return;
    };
    claims.validate().expect("deserialized claims validate");
    let json = serde_json::to_vec(&claims).expect("claims print as JSON");
    let again: Provenance = serde_json::from_slice(&json).expect("printed claims parse");
    assert_eq!(again, claims, "JSON round trip");
    let token = match TokenBuilder::new(ISSUER, "R-1", claims.clone())
        .iat(NOW)
        .cti(Cti([1; 16]))
        .sign(&issuer_key())
    {
        Ok(token) => token,
        // Valid claims that do not fit in a token (the 64 KiB limit): the
        // issuer answers 422. Nothing else may stop valid claims.
        Err(TokenBuildError::Encoded(TokenParseError::TooLarge { .. })) => return,
        Err(e) => panic!("valid claims do not sign: {e}"),
    };
    let parsed = Token::parse(&token.to_bytes()).expect("a signed token parses");
    assert_eq!(parsed.provenance(), &claims, "token round trip");
    parsed
        .verify(&loupe_fuzz::issuer_public())
        .expect("and verifies");
});
