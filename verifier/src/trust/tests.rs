use super::*;

const KEY: &str = "MCowBQYDK2VwAyEAX5qWRlKBGnBJDf6sAQNGHacDZU+wIpAy4njwDp6CYTU=";
const VKEY: &str = "lab.example/log+0a8f1ead+AWmh/358Q8cKp92LETCEenXK9WcJksroE4XCNZoSeqIC";

fn good() -> String {
    format!(
        r#"
[[issuer]]
origin = "lab.example"
url = "https://lab.example/loupe/"
log = "lab.example/log"
[[issuer.key]]
public_key = "{KEY}"
not_before = 2026-01-01T00:00:00Z
not_after = 2027-01-01T00:00:00+01:00

[[log]]
origin = "lab.example/log"
key = "{VKEY}"
url = "https://log.lab.example"
"#
    )
}

#[test]
fn the_example_trust_store_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example/trust.toml");
    let store = TrustStore::load(&path).expect("example trust store");
    let issuer = store.issuer("lab.example").expect("issuer");
    assert_eq!(issuer.keys.len(), 1);
    assert_eq!(
        issuer.roots.len(),
        1,
        "the root certificate is read from pem_file"
    );
    assert_eq!(
        issuer.keys.first().and_then(|k| k.not_before),
        Some(1_767_225_600)
    );
    assert!(store.log("lab.example/log").is_some());
}

#[test]
fn a_good_store_parses_with_windows_in_utc() {
    let store = TrustStore::from_toml(&good()).expect("parses");
    let issuer = store.issuer("lab.example").expect("issuer");
    let key = issuer.keys.first().expect("key");
    assert_eq!(key.not_before, Some(1_767_225_600)); // 2026-01-01T00:00:00Z
    assert_eq!(key.not_after, Some(1_798_758_000)); // 2027-01-01T00:00:00+01:00
    assert!(key.valid_at(1_767_225_600));
    assert!(!key.valid_at(1_767_225_599));
    assert!(!key.valid_at(1_798_758_000), "not_after is exclusive");
    assert_eq!(key.kid, Kid::of(&key.key));
}

#[test]
fn bad_stores_are_refused_with_a_reason() {
    let g = good();
    let rows: Vec<(&str, String, &str)> = vec![
        ("unknown field", g.replace("log = \"lab.example/log\"\n[[issuer.key]]", "log = \"lab.example/log\"\nextra = 1\n[[issuer.key]]"), "unknown field"),
        ("bad key", g.replace(KEY, "AAAA"), "not an Ed25519 public key"),
        ("unknown log", g.replace("log = \"lab.example/log\"", "log = \"other/log\""), "no [[log]] entry"),
        ("log key name", g.replace("origin = \"lab.example/log\"", "origin = \"lab.example/other\"").replace("log = \"lab.example/other\"", "log = \"lab.example/log\""), "not the origin"),
        ("local date", g.replace("2026-01-01T00:00:00Z", "2026-01-01"), "full date-time"),
        ("window reversed", g.replace("2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z"), "not before not_after"),
        ("url with query", g.replace("https://lab.example/loupe/", "https://lab.example/?x=1"), "query"),
        ("url not http", g.replace("https://lab.example/loupe/", "file:///etc"), "http(s)"),
        ("no keys", g.replace(&format!("[[issuer.key]]\npublic_key = \"{KEY}\"\nnot_before = 2026-01-01T00:00:00Z\nnot_after = 2027-01-01T00:00:00+01:00\n"), ""), "at least one"),
        ("duplicate issuer", format!("{g}\n{}", g.split("[[log]]").next().unwrap_or_default()), "listed twice"),
        ("witness min", format!("{g}\n[witnesses]\nkeys = []\nmin = 1\n"), "only 0 keys"),
        ("not toml", "[[issuer]\n".to_owned(), "trust store"),
        ("pem_file without a path", format!("{g}\n[[issuer.root]]\npem_file = \"x.pem\"\n").replace("[[log]]\norigin", "[[log]]\norigin"), "pem_file"),
    ];
    for (name, text, expect) in rows {
        let err = TrustStore::from_toml(&text)
            .err()
            .unwrap_or_else(|| panic!("row {name:?} was accepted"));
        assert!(
            err.to_string().contains(expect),
            "row {name:?}: {err} does not mention {expect:?}"
        );
    }
}

#[test]
fn urls_are_trusted_only_under_a_base() {
    let store = TrustStore::from_toml(&good()).expect("parses");
    let yes = [
        "https://lab.example/loupe/t/abc",
        "https://LAB.example:443/loupe/t/abc",
        "https://log.lab.example/checkpoint",
    ];
    let no = [
        "http://lab.example/loupe/t/abc",          // scheme
        "https://lab.example:8443/loupe/t/abc",    // port
        "https://lab.example/loupeX/t/abc",        // path prefix that is not a directory
        "https://lab.example/t/abc",               // outside the base path
        "https://evil.example/loupe/t/abc",        // host
        "https://lab.example.evil.example/loupe/", // suffix trick
        "https://user@lab.example/loupe/t/abc",    // credentials
    ];
    for u in yes {
        assert!(
            store.is_trusted_url(&Url::parse(u).expect("url")),
            "{u} should be trusted"
        );
    }
    for u in no {
        assert!(
            !store.is_trusted_url(&Url::parse(u).expect("url")),
            "{u} must not be trusted"
        );
    }
}

#[test]
fn to_toml_round_trips() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example/trust.toml");
    let store = TrustStore::load(&path).expect("example trust store");
    let again = TrustStore::from_toml(&store.to_toml()).expect("re-parses");
    let (a, b) = (
        store.issuer("lab.example").expect("a"),
        again.issuer("lab.example").expect("b"),
    );
    assert_eq!(a.keys, b.keys);
    assert_eq!(a.roots, b.roots);
    assert_eq!(a.url, b.url);
    assert_eq!(
        store.log("lab.example/log").map(|l| l.keys[0].to_vkey()),
        again.log("lab.example/log").map(|l| l.keys[0].to_vkey())
    );
}

/// A second log key (rotation) and a compromised issuer key.
fn rotated() -> String {
    let new_log = loupe_schemas::checkpoint::NoteSigner::new(
        "lab.example/log",
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    )
    .expect("signer")
    .verifier()
    .to_vkey();
    good()
        .replace(
            &format!("key = \"{VKEY}\""),
            &format!("keys = [\"{VKEY}\", \"{new_log}\"]"),
        )
        .replace(
            "not_after = 2027-01-01T00:00:00+01:00",
            "not_after = 2027-01-01T00:00:00+01:00\ncompromised_at = 2026-06-01T00:00:00Z\nlogged_before = 42",
        )
}

#[test]
fn several_log_keys_and_a_compromise_parse_and_round_trip() {
    let store = TrustStore::from_toml(&rotated()).expect("rotated store");
    let log = store.log("lab.example/log").expect("log");
    assert_eq!(log.keys.len(), 2);
    assert_eq!(log.keys[0].to_vkey(), VKEY);
    let key = &store.issuer("lab.example").expect("issuer").keys[0];
    let c = key.compromise.expect("compromise");
    assert_eq!((c.at, c.logged_before), (1_780_272_000, 42));
    // The compromise ends the window, whatever not_after says.
    assert!(key.valid_at(1_780_271_999));
    assert!(!key.valid_at(1_780_272_000));

    let again = TrustStore::from_toml(&store.to_toml()).expect("round trip");
    assert_eq!(again.log("lab.example/log").expect("log").keys.len(), 2);
    assert_eq!(
        again.issuer("lab.example").expect("issuer").keys[0].compromise,
        Some(c)
    );
    // One key is still written as `key = …`, readable by older versions.
    let single = TrustStore::from_toml(&good()).expect("good");
    assert!(single.to_toml().contains(&format!("key = \"{VKEY}\"")));
}

#[test]
fn bad_rotations_and_compromises_are_refused() {
    let r = rotated();
    let other = loupe_schemas::checkpoint::NoteSigner::new(
        "other.example/log",
        ed25519_dalek::SigningKey::from_bytes(&[8; 32]),
    )
    .expect("signer")
    .verifier()
    .to_vkey();
    let rows: Vec<(&str, String, &str)> = vec![
        (
            "compromise without log bound",
            r.replace("logged_before = 42\n", ""),
            "needs logged_before",
        ),
        (
            "log bound without compromise",
            r.replace("compromised_at = 2026-06-01T00:00:00Z\n", ""),
            "needs logged_before",
        ),
        (
            "no log key",
            good().replace(&format!("key = \"{VKEY}\""), "keys = []"),
            "needs a key",
        ),
        (
            "log key twice",
            good().replace(
                &format!("key = \"{VKEY}\""),
                &format!("key = \"{VKEY}\"\nkeys = [\"{VKEY}\"]"),
            ),
            "listed twice",
        ),
        (
            "second key misnamed",
            good().replace(
                &format!("key = \"{VKEY}\""),
                &format!("key = \"{VKEY}\"\nkeys = [\"{other}\"]"),
            ),
            "not the origin",
        ),
    ];
    for (name, text, expect) in rows {
        let err = TrustStore::from_toml(&text)
            .err()
            .unwrap_or_else(|| panic!("row {name:?} was accepted"));
        assert!(
            err.to_string().contains(expect),
            "row {name:?}: {err} does not mention {expect:?}"
        );
    }
}
