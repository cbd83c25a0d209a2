//! The verifier's trust store parser (`TrustStore::from_toml`) on arbitrary
//! text. Never panics; an accepted store renders (`to_toml`) to text that
//! parses back to a store with the same issuers, keys, roots, logs and
//! witness policy, and rendering that again gives the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_verifier::TrustStore;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(store) = TrustStore::from_toml(text) else {
        return;
    };
    let rendered = store.to_toml();
    let again = TrustStore::from_toml(&rendered)
        .unwrap_or_else(|e| panic!("to_toml output is refused: {e}\n{rendered}"));
    assert_eq!(again.to_toml(), rendered, "to_toml is not a fixed point");
    assert_eq!(again.issuers().count(), store.issuers().count());
    assert_eq!(again.logs().count(), store.logs().count());
    for issuer in store.issuers() {
        let other = again.issuer(&issuer.origin).expect("issuer kept");
        assert_eq!(other.url, issuer.url);
        assert_eq!(other.log, issuer.log);
        assert_eq!(other.keys, issuer.keys, "keys and their windows kept");
        assert_eq!(other.roots, issuer.roots, "roots kept byte for byte");
        // Every issuer names a log of the store.
        assert!(
            store.log(&issuer.log).is_some(),
            "issuer names an unknown log"
        );
        assert!(store.issuer_for_url(&issuer.url).is_some());
    }
    for log in store.logs() {
        let other = again.log(&log.origin).expect("log kept");
        assert_eq!(other.url, log.url);
        let vkeys =
            |l: &loupe_verifier::trust::Log| l.keys.iter().map(|k| k.to_vkey()).collect::<Vec<_>>();
        assert_eq!(vkeys(other), vkeys(log), "log keys kept, in order");
    }
    assert_eq!(
        again.witnesses().min,
        store.witnesses().min,
        "witness minimum kept"
    );
    assert_eq!(again.witnesses().keys.len(), store.witnesses().keys.len());
});
