//! Hostile input, table-driven, against the verification API (in process,
//! over loopback, in front of a real `loupe-issuer`) and the `loupe` CLI.
//!
//! A malformed *request* gets its 4xx as RFC 9457 problem+json with the
//! expected `type`, `title` and `status`. A well-formed request carrying
//! hostile *token bytes* (bad CBOR, a wrong COSE tag, truncated, an
//! untrusted URL) gets what the API promises for any token: 200 and a
//! verdict that is not `valid` (a verdict is never an error). The buyer
//! page, being for people, answers HTML: the form with what to fix (400)
//! or a verdict in words (200). Every row
//! must be answered (a panicking handler would drop the connection), no
//! panic may be recorded, and the API still answers `/healthz` and
//! verifies a genuine token afterwards. CLI rows get one `error: …` line
//! and exit 2 for usage errors, or a non-valid verdict's exit code.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../issuer/tests/hostile_support/raw_http.rs"]
mod raw_http;
#[path = "api_support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::token::{Sha256Digest, TokenId};
use loupe_verifier::api::ApiConfig;
use raw_http::{Answer, Raw};
use serde_json::{Value, json};
use support::{Api, Lab};

const SQL: &str = "'; DROP TABLE entries; --";
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
}

/// What a row must get.
enum Want {
    /// A problem: status and `type` slug.
    Problem(u16, &'static str),
    /// 200 with a verdict whose status is this (never `valid`).
    Verdict(&'static str),
    /// An HTML page with this status (the buyer page, for people: the
    /// form with what to fix, or a verdict in words).
    Html(u16),
}

struct Case {
    name: String,
    req: Raw,
    want: Want,
}

fn case(name: impl Into<String>, req: Raw, want: Want) -> Case {
    Case {
        name: name.into(),
        req,
        want,
    }
}

fn json(body: impl Into<Vec<u8>>) -> Raw {
    Raw::new("POST", "/v1/verify")
        .header("Content-Type", "application/json")
        .body(body)
}

fn json_value(v: &Value) -> Raw {
    json(serde_json::to_vec(v).unwrap())
}

const BOUNDARY: &str = "verifierHOSTILE42";

fn multipart(parts: &[(&str, &[u8])]) -> Raw {
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Raw::new("POST", "/v1/verify")
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The table. `token` is a genuine token, `proof` its bundle, `url` its URL.
#[allow(clippy::too_many_lines)]
fn cases(token: &[u8], proof: &str, url: &str) -> Vec<Case> {
    use Want::{Problem, Verdict};
    let mut c = Vec::new();
    let t = b64(token);
    let mut wrong_tag = token.to_vec();
    wrong_tag[0] = 0xd1; // tag 17 (COSE_Mac0) instead of 18
    let mut flipped = token.to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let unknown_id = TokenId([0x5a; 32]);
    let base = url.rsplit_once("/t/").unwrap().0;

    // ---- request shape
    c.push(case(
        "no content type",
        Raw::new("POST", "/v1/verify").body(b"{}".to_vec()),
        Problem(415, "unsupported-media-type"),
    ));
    c.push(case(
        "text/plain",
        Raw::new("POST", "/v1/verify")
            .header("Content-Type", "text/plain")
            .body(b"{}".to_vec()),
        Problem(415, "unsupported-media-type"),
    ));
    c.push(case(
        "application/cbor",
        Raw::new("POST", "/v1/verify")
            .header("Content-Type", "application/cbor")
            .body(token.to_vec()),
        Problem(415, "unsupported-media-type"),
    ));
    c.push(case(
        "non-UTF-8 content type",
        Raw::new("POST", "/v1/verify")
            .header("Content-Type", b"application/json\xff".to_vec())
            .body(b"{}".to_vec()),
        Problem(415, "unsupported-media-type"),
    ));
    c.push(case(
        "empty JSON body",
        json(Vec::new()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "truncated JSON",
        json(br#"{"url": "https://lab"#.to_vec()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "non-UTF-8 JSON",
        json(b"{\"url\":\"\xff\xfe\"}".to_vec()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "raw COSE as JSON",
        json(token.to_vec()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "trailing garbage",
        json(format!("{{\"url\":\"{url}\"}}{{}}").into_bytes()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "nested 60000 deep",
        json("[".repeat(60_000).into_bytes()),
        Problem(422, "validation"),
    ));
    c.push(case(
        "JSON array",
        json(b"[]".to_vec()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "neither url nor token",
        json(b"{}".to_vec()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "both url and token",
        json_value(&json!({"url": url, "token": t})),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "unknown field",
        json_value(&json!({"url": url, "x": 1})),
        Problem(422, "validation"),
    ));
    c.push(case(
        "url a number",
        json_value(&json!({"url": 42})),
        Problem(422, "validation"),
    ));
    c.push(case(
        "duplicate url",
        json(format!("{{\"url\":\"{url}\",\"url\":\"https://evil.example/t/x\"}}").into_bytes()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "duplicate file role",
        json(
            format!(
                "{{\"url\":\"{url}\",\"files\":{{\"report\":\"{}\",\"report\":\"{}\"}}}}",
                Sha256Digest::of(b"a"),
                Sha256Digest::of(b"b")
            )
            .into_bytes(),
        ),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "proof with a URL",
        json_value(&json!({"url": url, "proof": proof})),
        Problem(422, "validation"),
    ));
    c.push(case(
        "token not base64",
        json_value(&json!({"token": "!!!not base64!!!"})),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "token over 64 KiB",
        json_value(&json!({"token": b64(&vec![0u8; 65 * 1024])})),
        Problem(422, "validation"),
    ));
    c.push(case(
        "body over the JSON limit",
        json(vec![b' '; 300 * 1024]),
        Problem(413, "payload-too-large"),
    ));
    c.push(case(
        "lying Content-Length",
        json(b"{}".to_vec()).header("Content-Length", "99999999999"),
        Problem(413, "payload-too-large"),
    ));
    c.push(case(
        "URL over 4 KiB",
        json_value(&json!({"url": format!("{base}/t/{}", "A".repeat(5000))})),
        Problem(422, "validation"),
    ));
    c.push(case(
        "SQL file role",
        json_value(&json!({"url": url, "files": {SQL: Sha256Digest::of(b"a").to_string()}})),
        Problem(422, "validation"),
    ));
    c.push(case(
        "SQL digest",
        json_value(&json!({"url": url, "files": {"report": SQL}})),
        Problem(422, "validation"),
    ));
    c.push(case("uppercase digest", json_value(&json!({"url": url, "files": {"report": Sha256Digest::of(b"a").to_string().to_uppercase()}})), Problem(422, "validation")));

    // ---- hostile token bytes and URLs: verdicts, never valid
    c.push(case(
        "bad CBOR",
        json_value(&json!({"token": b64(b"\xff\xff\xff")})),
        Verdict("invalid"),
    ));
    c.push(case(
        "empty token",
        json_value(&json!({"token": ""})),
        Verdict("invalid"),
    ));
    c.push(case(
        "wrong COSE tag",
        json_value(&json!({"token": b64(&wrong_tag), "proof": proof})),
        Verdict("invalid"),
    ));
    c.push(case(
        "truncated token",
        json_value(&json!({"token": b64(&token[..token.len() / 2]), "proof": proof})),
        Verdict("invalid"),
    ));
    c.push(case(
        "token with trailing bytes",
        json_value(&json!({"token": b64(&[token, b"\x00"].concat()), "proof": proof})),
        Verdict("invalid"),
    ));
    c.push(case(
        "flipped signature bit",
        json_value(&json!({"token": b64(&flipped), "proof": proof})),
        Verdict("invalid"),
    ));
    c.push(case(
        "garbage proof",
        json_value(
            &json!({"token": t, "proof": "c2sp.org/tlog-proof@v1\nindex 18446744073709551615\n"}),
        ),
        Verdict("invalid"),
    ));
    c.push(case(
        "SQL as proof",
        json_value(&json!({"token": t, "proof": SQL})),
        Verdict("invalid"),
    ));
    c.push(case(
        "untrusted host",
        json_value(&json!({"url": format!("https://evil.example/t/{unknown_id}")})),
        Verdict("unknown"),
    ));
    c.push(case(
        "not a URL",
        json_value(&json!({"url": SQL})),
        Verdict("unknown"),
    ));
    c.push(case(
        "file URL",
        json_value(&json!({"url": "file:///etc/passwd"})),
        Verdict("unknown"),
    ));
    c.push(case(
        "traversal under the issuer",
        json_value(&json!({"url": format!("{base}/t/../../media/x")})),
        Verdict("unknown"),
    ));
    c.push(case(
        "encoded traversal under the issuer",
        json_value(&json!({"url": format!("{base}/t/%2e%2e%2fcheckpoint")})),
        Verdict("unknown"),
    ));
    c.push(case(
        "query on a token URL",
        json_value(&json!({"url": format!("{url}?x=1")})),
        Verdict("unknown"),
    ));
    c.push(case(
        "userinfo on a token URL",
        json_value(&json!({"url": url.replacen("://", "://user:pw@", 1)})),
        Verdict("unknown"),
    ));
    c.push(case(
        "unknown token id at the issuer",
        json_value(&json!({"url": format!("{base}/t/{unknown_id}")})),
        Verdict("unknown"),
    ));

    // ---- multipart
    c.push(case(
        "multipart: no boundary",
        Raw::new("POST", "/v1/verify")
            .header("Content-Type", "multipart/form-data")
            .body(b"--x--".to_vec()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "multipart: garbage",
        multipart(&[]).body(b"\x00\xffnot multipart".to_vec()),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "multipart: empty form",
        multipart(&[]),
        Problem(400, "bad-request"),
    ));
    c.push(case(
        "multipart: url twice",
        multipart(&[("url", url.as_bytes()), ("url", url.as_bytes())]),
        Problem(422, "validation"),
    ));
    c.push(case(
        "multipart: url not UTF-8",
        multipart(&[("url", b"\xff\xfe")]),
        Problem(422, "validation"),
    ));
    c.push(case(
        "multipart: unknown part",
        multipart(&[("url", url.as_bytes()), ("../../etc/passwd", b"x")]),
        Problem(422, "validation"),
    ));
    c.push(case(
        "multipart: SQL part name",
        multipart(&[("url", url.as_bytes()), (SQL, b"x")]),
        Problem(422, "validation"),
    ));
    c.push(case(
        "multipart: token over 64 KiB",
        multipart(&[("token", &vec![0u8; 65 * 1024])]),
        Problem(422, "validation"),
    ));
    c.push(case(
        "multipart: bad CBOR token",
        multipart(&[("token", b"\xd2\x84garbage")]),
        Verdict("invalid"),
    ));
    c.push(case(
        "multipart: wrong tag, proof",
        multipart(&[("token", &wrong_tag), ("proof", proof.as_bytes())]),
        Verdict("invalid"),
    ));

    // ---- GET /verify?url= (the buyer page), /photo, others
    c.push(case(
        "page: no url (the form)",
        Raw::new("GET", "/verify"),
        Want::Html(400),
    ));
    c.push(case(
        "page: untrusted url",
        Raw::new("GET", "/verify?url=https%3A%2F%2Fevil.example%2Ft%2Fx"),
        Want::Html(200),
    ));
    c.push(case(
        "page: SQL url",
        Raw::new("GET", "/verify?url=%27%3B%20DROP%20TABLE%20entries%3B%20--"),
        Want::Html(200),
    ));
    c.push(case(
        "page: url twice",
        Raw::new("GET", "/verify?url=a&url=b"),
        Want::Html(400),
    ));
    c.push(case(
        "page: non-UTF-8 url",
        Raw::new("GET", "/verify?url=%ff%fe"),
        Want::Html(200),
    ));
    c.push(case(
        "page: url over 4 KiB",
        Raw::new("GET", format!("/verify?url={}", "A".repeat(5000))),
        Want::Html(400),
    ));
    for (what, seg) in [
        (
            "encoded traversal",
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_owned(),
        ),
        ("absolute path", "%2fetc%2fpasswd".to_owned()),
        ("short", "abc".to_owned()),
        (
            "uppercase",
            Sha256Digest::of(b"x").to_string().to_uppercase(),
        ),
        ("SQL", "%27%3B%20DROP%20TABLE%20entries%3B%20--".to_owned()),
        ("unknown", Sha256Digest::of(b"never verified").to_string()),
    ] {
        c.push(case(
            format!("photo: {what}"),
            Raw::new("GET", format!("/photo/{seg}")),
            Problem(404, "not-found"),
        ));
    }
    c.push(case(
        "photo: non-UTF-8",
        Raw::new("GET", "/photo/%ff%fe"),
        Problem(404, "not-found"),
    ));
    c.push(case(
        "GET /v1/verify",
        Raw::new("GET", "/v1/verify"),
        Problem(405, "method-not-allowed"),
    ));
    c.push(case(
        "no such route",
        Raw::new("GET", "/..%2f..%2fetc%2fpasswd"),
        Problem(404, "not-found"),
    ));
    c
}

fn check(case: &Case, a: &Answer) -> Option<String> {
    let body = String::from_utf8_lossy(&a.body);
    match case.want {
        Want::Problem(status, slug) => {
            if a.status != status {
                return Some(format!("status {} (want {status}): {body}", a.status));
            }
            if a.header("content-type").as_deref() != Some("application/problem+json") {
                return Some(format!(
                    "content type {:?}: {body}",
                    a.header("content-type")
                ));
            }
            let p: Value = serde_json::from_slice(&a.body).ok()?;
            if p["type"] != format!("https://loupe.example/problems/{slug}")
                || p["status"] != status
                || p["title"].as_str().is_none_or(str::is_empty)
            {
                return Some(format!("problem: {body}"));
            }
        }
        Want::Html(status) => {
            let html = a
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/html"));
            if a.status != status || !html || body.contains("<script") {
                return Some(format!(
                    "status {} {:?}",
                    a.status,
                    a.header("content-type")
                ));
            }
        }
        Want::Verdict(status) => {
            if a.status != 200 {
                return Some(format!(
                    "status {} (want 200 and a verdict): {body}",
                    a.status
                ));
            }
            let Ok(v) = serde_json::from_slice::<Value>(&a.body) else {
                return Some(format!("not a verdict: {body}"));
            };
            if v["status"] != status {
                return Some(format!(
                    "verdict {} (want {status}): {}",
                    v["status"], v["summary"]
                ));
            }
        }
    }
    None
}

fn addr(api: &Api) -> SocketAddr {
    api.base.trim_start_matches("http://").parse().unwrap()
}

#[tokio::test]
async fn hostile_requests_to_the_verification_api() {
    count_panics();
    let lab = Lab::start(false).await;
    let issued = lab.issue_json("HOSTILE-V1").await;
    let api = Api::start(
        lab.verifier(),
        ApiConfig {
            rate_limit_per_minute: 0,
            ..ApiConfig::default()
        },
    )
    .await;
    let at = addr(&api);
    let rows = cases(&issued.token, &issued.proof, &issued.url);
    assert!(rows.len() >= 60, "{} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let a = row.req.send(at).await;
        if let Some(why) = check(row, &a) {
            failures.push(format!("{}: {why}", row.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a handler panicked");
    // Still up, and still right about a genuine token.
    assert_eq!(Raw::new("GET", "/healthz").send(at).await.status, 200);
    let good = json_value(&json!({"url": issued.url})).send(at).await;
    let v: Value = serde_json::from_slice(&good.body).unwrap();
    assert_eq!(v["status"], "valid", "{}", v["summary"]);
    api.stop();
    lab.stop().await;
}

// ------------------------------------------------------------- the CLI

fn loupe(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", dir)
        .env_remove("LOUPE_TRUST")
        .env_remove("LOUPE_STATE")
        .output()
        .expect("run loupe")
}

#[test]
fn hostile_cli_input_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    let trust = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example/trust.toml"),
    )
    .unwrap()
    .replace("[[issuer.root]]\npem_file = \"root-ca.cert.pem\"\n", "");
    w("trust.toml", trust.as_bytes());
    w("garbage.toml", b"[[issuer]\norigin = ");
    w("binary.toml", b"\xff\xfe\x00\x01");
    w(
        "sql.toml",
        format!("[[issuer]]\norigin = \"{SQL}\"\nurl = \"{SQL}\"\nlog = \"{SQL}\"\n").as_bytes(),
    );
    w("traversal.toml", b"[[issuer]]\norigin = \"a\"\nurl = \"https://a.example\"\nlog = \"a/log\"\n[[issuer.root]]\npem_file = \"../../../../etc/passwd\"\n");
    w("bad.cbor", b"\xff\xff\xff\xff");
    w("empty.cbor", b"");
    w("tag17.cbor", b"\xd1\x84\x40\xa0\xf6\x40");
    w("big.cbor", &vec![0u8; 20 << 20]);
    w("proof.txt", b"\xff\xfe not a proof");
    std::fs::create_dir(dir.join("a-dir")).unwrap();
    let unknown = TokenId([0x5a; 32]).to_string();
    let t = ["--trust", "trust.toml", "--no-state"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v: Vec<&'static str> = extra.to_vec();
        v.extend_from_slice(&["--trust", "trust.toml", "--no-state"]);
        v
    };
    let _ = t;
    let usage: Vec<(&str, Vec<&str>)> = vec![
        (
            "verify: missing trust store",
            vec!["verify", "bad.cbor", "--trust", "nope.toml"],
        ),
        (
            "verify: trust store not TOML",
            vec!["verify", "bad.cbor", "--trust", "garbage.toml"],
        ),
        (
            "verify: trust store not UTF-8",
            vec!["verify", "bad.cbor", "--trust", "binary.toml"],
        ),
        (
            "verify: SQL in the trust store",
            vec!["verify", "bad.cbor", "--trust", "sql.toml"],
        ),
        (
            "verify: pem_file traversal",
            vec!["verify", "bad.cbor", "--trust", "traversal.toml"],
        ),
        ("verify: missing file", with(&["verify", "nope.cbor"])),
        ("verify: a directory", with(&["verify", "a-dir"])),
        (
            "verify: 20 MiB input",
            with(&["verify", "big.cbor", "--offline", "--proof", "proof.txt"]),
        ),
        (
            "verify: SQL role",
            with(&[
                "verify",
                "bad.cbor",
                "--image",
                "'; DROP TABLE x; --=bad.cbor",
            ]),
        ),
        (
            "verify: missing photo",
            with(&["verify", "bad.cbor", "--image", "face-up=/nonexistent.jpg"]),
        ),
        (
            "verify: timeout not a number",
            with(&["verify", "bad.cbor", "--timeout", "abc"]),
        ),
        (
            "verify: negative timeout",
            with(&["verify", "bad.cbor", "--timeout", "-1"]),
        ),
        ("inspect: missing file", vec!["inspect", "nope.cbor"]),
        ("inspect: bad CBOR", vec!["inspect", "bad.cbor"]),
        ("inspect: empty file", vec!["inspect", "empty.cbor"]),
        ("inspect: wrong COSE tag", vec!["inspect", "tag17.cbor"]),
        ("inspect: a directory", vec!["inspect", "a-dir"]),
        (
            "trust show: not TOML",
            vec!["trust", "show", "--trust", "garbage.toml"],
        ),
        (
            "trust add: untrusted scheme",
            with(&["trust", "add", "file:///etc/passwd"]),
        ),
        (
            "trust add-issuer: bad key",
            with(&[
                "trust",
                "add-issuer",
                "--origin",
                "x.example",
                "--url",
                "https://x.example",
                "--log",
                "lab.example/log",
                "--key",
                "'; DROP TABLE x; --",
            ]),
        ),
        (
            "trust add-issuer: unknown log",
            with(&[
                "trust",
                "add-issuer",
                "--origin",
                "x.example",
                "--url",
                "https://x.example",
                "--log",
                "../../log",
                "--key",
                "MCowBQYDK2VwAyEAX5qWRlKBGnBJDf6sAQNGHacDZU+wIpAy4njwDp6CYTU=",
            ]),
        ),
        (
            "trust add-issuer: bad URL",
            with(&[
                "trust",
                "add-issuer",
                "--origin",
                "x.example",
                "--url",
                "not a url",
                "--log",
                "lab.example/log",
                "--key",
                "MCowBQYDK2VwAyEAX5qWRlKBGnBJDf6sAQNGHacDZU+wIpAy4njwDp6CYTU=",
            ]),
        ),
        (
            "trust add-issuer: bad time",
            with(&[
                "trust",
                "add-issuer",
                "--origin",
                "x.example",
                "--url",
                "https://x.example",
                "--log",
                "lab.example/log",
                "--key",
                "MCowBQYDK2VwAyEAX5qWRlKBGnBJDf6sAQNGHacDZU+wIpAy4njwDp6CYTU=",
                "--not-before",
                "yesterday",
            ]),
        ),
        (
            "trust add-log: bad key",
            with(&[
                "trust",
                "add-log",
                "--origin",
                "x.example/log",
                "--key",
                "'; DROP TABLE x; --",
                "--url",
                "https://x.example",
            ]),
        ),
        ("no subcommand", vec![]),
        ("unknown subcommand", vec!["'; DROP TABLE entries; --"]),
        (
            "serve: bad listen address",
            with(&["serve", "--listen", "999.0.0.1:80"]),
        ),
    ];
    let trust_before = std::fs::read(dir.join("trust.toml")).unwrap();
    let mut failures = Vec::new();
    for (name, args) in &usage {
        let o = loupe(args, dir);
        let err = String::from_utf8_lossy(&o.stderr);
        if o.status.code() != Some(2)
            || err.lines().count() != 1
            || !err.starts_with("loupe: error: ")
            || err.contains("panicked")
        {
            failures.push(format!(
                "{name}: exit {:?}, stderr {err:?}",
                o.status.code()
            ));
        }
    }
    // Hostile token bytes are a verdict (exit 1 invalid, 5 unknown), never
    // a crash.
    let verdicts: Vec<(&str, Vec<&str>, i32)> = vec![
        (
            "verify: bad CBOR offline",
            with(&["verify", "bad.cbor", "--offline", "--proof", "proof.txt"]),
            1,
        ),
        (
            "verify: empty token offline",
            with(&["verify", "empty.cbor", "--offline", "--proof", "proof.txt"]),
            1,
        ),
        (
            "verify: wrong COSE tag offline",
            with(&["verify", "tag17.cbor", "--offline", "--proof", "proof.txt"]),
            1,
        ),
        (
            "verify: untrusted URL",
            with(&["verify", "https://evil.example/t/AAAA"]),
            5,
        ),
        (
            "verify: SQL as URL",
            with(&["verify", "https://lab.example/t/'; DROP TABLE entries; --"]),
            5,
        ),
    ];
    for (name, args, code) in &verdicts {
        let mut args = args.clone();
        if args[1].starts_with("https://evil") {
            let u = format!("https://evil.example/t/{unknown}");
            args[1] = Box::leak(u.into_boxed_str());
        }
        let o = loupe(&args, dir);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if o.status.code() != Some(*code) || all.contains("panicked") {
            failures.push(format!(
                "{name}: exit {:?} (want {code}): {all}",
                o.status.code()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        std::fs::read(dir.join("trust.toml")).unwrap(),
        trust_before,
        "the trust store is unchanged"
    );
}
