//! `ProofBundle::parse` (C2SP tlog-proof text) on arbitrary bytes. Never
//! panics; on success the bundle round-trips exactly (`to_text()` is the
//! input, re-parses to an equal bundle), its path fits any tree, and
//! verifying it against the fixture log (any entry) answers without
//! panicking.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use loupe_schemas::bundle::{LogPolicy, ProofBundle};

static POLICY: LazyLock<LogPolicy> = LazyLock::new(|| {
    LogPolicy::new(loupe_fuzz::LOG_ORIGIN, loupe_fuzz::log_signer().verifier())
        .with_witnesses(vec![loupe_fuzz::witness_signer().verifier()], 1)
});

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = ProofBundle::parse(data) else {
        return;
    };
    let text = bundle.to_text();
    assert_eq!(text.as_bytes(), data, "to_text() is not the input");
    let again = ProofBundle::parse(text.as_bytes()).expect("to_text() re-parses");
    assert_eq!(again, bundle);
    assert!(bundle.path().len() <= ProofBundle::MAX_PATH);
    // The seeds prove `loupe_fuzz::LOGGED_ENTRY` at a real checkpoint, so
    // mutants reach the checkpoint and inclusion checks.
    let _ = bundle.verify(loupe_fuzz::LOGGED_ENTRY, &POLICY, loupe_fuzz::NOW);
});
