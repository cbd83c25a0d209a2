//! Shared pieces of the verifier's online tests: real issuers on loopback
//! ([`lab`]), a lying proxy in front of them ([`proxy`]), trust stores
//! that name their actual URLs, a listener that must never be connected
//! to ([`Trap`]), and assertions that name the failing check.
#![allow(dead_code)]

pub mod lab;
pub mod proxy;

use std::time::Duration;

use loupe_verifier::{CheckName, FetchOptions, Outcome, Status, TrustStore, Verdict, Verifier};

use lab::{ISSUER, LOG, example_key};

/// Timeouts for honest servers: generous, the machine is shared.
pub const HONEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole-request timeout used against misbehaving servers.
pub const SHORT_TIMEOUT: Duration = Duration::from_millis(1500);

/// A trust store TOML naming the example issuer key (with `window`, e.g.
/// `not_after = 2021-01-01T00:00:00Z`) at `issuer_url` and the example log
/// key at `log_url`.
pub fn trust_toml(issuer_url: &str, log_url: &str, window: &str) -> String {
    let issuer_pub = std::fs::read_to_string(example_key("issuer.pub.pem")).unwrap();
    let log_vkey = std::fs::read_to_string(example_key("log.vkey")).unwrap();
    format!(
        r#"
[[issuer]]
origin = "{ISSUER}"
url = "{issuer_url}"
log = "{LOG}"

[[issuer.key]]
public_key = '''
{}'''
{window}

[[log]]
origin = "{LOG}"
key = "{}"
url = "{log_url}"
"#,
        issuer_pub.trim(),
        log_vkey.trim()
    )
}

/// The example trust store with the issuer and its log at `url`.
pub fn trust(url: &str) -> TrustStore {
    TrustStore::from_toml(&trust_toml(url, url, "not_before = 2026-01-01T00:00:00Z")).unwrap()
}

/// An online verifier with generous timeouts.
pub fn online(trust: TrustStore) -> Verifier {
    Verifier::new(trust)
        .online(FetchOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: HONEST_TIMEOUT,
            ..FetchOptions::default()
        })
        .unwrap()
}

/// An online verifier with short timeouts, for servers that stall.
pub fn impatient(trust: TrustStore) -> Verifier {
    Verifier::new(trust)
        .online(FetchOptions {
            connect_timeout: Duration::from_millis(500),
            timeout: SHORT_TIMEOUT,
            ..FetchOptions::default()
        })
        .unwrap()
}

/// A loopback listener that nothing may connect to.
pub struct Trap {
    listener: std::net::TcpListener,
    /// Its port.
    pub port: u16,
}

impl Trap {
    /// Listens on a free loopback port.
    pub fn new() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        Self { listener, port }
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many connections reached it (the kernel completes the handshake
    /// and queues them even before `accept`, so none are missed).
    pub fn connections(&self) -> usize {
        let mut n = 0;
        loop {
            match self.listener.accept() {
                Ok(_) => n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return n,
                Err(e) => panic!("accept on the trap: {e}"),
            }
        }
    }
}

/// The verdict as JSON, for failure messages.
pub fn dump(v: &Verdict) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// The outcome of the first check named `name`.
pub fn outcome(v: &Verdict, name: CheckName) -> Option<Outcome> {
    v.check(name).map(|c| c.outcome)
}

/// Asserts the overall status and that `name` failed with a reason
/// containing `why`.
#[track_caller]
pub fn assert_failed(v: &Verdict, status: Status, name: CheckName, why: &str) {
    assert_eq!(v.status, status, "status; verdict: {}", dump(v));
    let check = v
        .check(name)
        .unwrap_or_else(|| panic!("no {} check; verdict: {}", name.as_str(), dump(v)));
    assert_eq!(
        check.outcome,
        Outcome::Fail,
        "{} should fail; verdict: {}",
        name.as_str(),
        dump(v)
    );
    assert!(
        check.reason.contains(why),
        "{} reason {:?} should mention {why:?}",
        name.as_str(),
        check.reason
    );
}

/// Asserts that every check passed except those in `skipped`, which were
/// skipped.
#[track_caller]
pub fn assert_passes_except(v: &Verdict, skipped: &[CheckName]) {
    for c in &v.checks {
        let want = if skipped.contains(&c.name) {
            Outcome::Skip
        } else {
            Outcome::Pass
        };
        assert_eq!(
            c.outcome,
            want,
            "check {} ({}); verdict: {}",
            c.name.as_str(),
            c.reason,
            dump(v)
        );
    }
    for name in skipped {
        assert!(v.check(*name).is_some(), "{} missing", name.as_str());
    }
}

/// Asserts that the checks named are all present.
#[track_caller]
pub fn assert_has_checks(v: &Verdict, names: &[CheckName]) {
    for name in names {
        assert!(
            v.check(*name).is_some(),
            "{} missing; verdict: {}",
            name.as_str(),
            dump(v)
        );
    }
}
