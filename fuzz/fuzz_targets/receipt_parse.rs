//! `Receipt::parse` (RFC 9942 COSE receipt) on arbitrary bytes. Never
//! panics; on success the receipt round-trips exactly (`to_bytes()` is the
//! input: one encoding per receipt) and verifying it against the fixture log
//! key answers without panicking; if it verifies, the recomputed root is
//! the root its proof leads to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_schemas::bundle::Receipt;
use loupe_schemas::merkle::leaf_hash;

fuzz_target!(|data: &[u8]| {
    let Ok(receipt) = Receipt::parse(data) else {
        return;
    };
    assert_eq!(receipt.to_bytes(), data, "to_bytes() is not the input");
    assert_eq!(Receipt::parse(&receipt.to_bytes()).as_ref(), Ok(&receipt));
    let log = loupe_fuzz::log_signer();
    if let Ok(ok) = receipt.verify(
        loupe_fuzz::LOGGED_ENTRY,
        loupe_fuzz::LOG_ORIGIN,
        log.verifier().verifying_key(),
    ) {
        let root = receipt
            .inclusion_proof()
            .root_from_leaf(&leaf_hash(loupe_fuzz::LOGGED_ENTRY))
            .expect("a verified proof is well formed");
        assert_eq!(ok.root(), &root);
        assert_eq!(ok.leaf_index(), receipt.inclusion_proof().leaf_index);
    }
});
