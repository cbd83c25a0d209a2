//! The issuer's limits, against a real `loupe-issuer serve` process:
//! the per-API-key write rate limit (429 with `Retry-After`), the cap on
//! requests in flight (503 with `Retry-After`), the request time limit,
//! and that a client trickling its body cannot stall the sequencer. No
//! assertion is about speed: only about what is answered.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;
mod hostile_support;
#[path = "store_support/mod.rs"]
mod store_support;

use std::net::SocketAddr;
use std::time::Duration;

use hostile_support::raw_http::{Answer, Raw, parse};
use hostile_support::{Server, bearer, claims, create_key, try_issue};
use serde_json::Value;
use store_support::TestDb;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

fn problem(a: &Answer, status: u16, slug: &str) {
    let body = String::from_utf8_lossy(&a.body);
    assert_eq!(a.status, status, "{body}");
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    let p: Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(p["type"], format!("https://loupe.example/problems/{slug}"));
    assert_eq!(p["status"], status);
}

/// A request whose headers and first body bytes are sent, the rest held
/// back: the server is left waiting for the body.
struct Trickle {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl Trickle {
    async fn start(addr: SocketAddr, req: &Raw, sent: usize) -> Self {
        let bytes = req.to_bytes(&addr.to_string());
        let body_start = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let (now, rest) = bytes.split_at(body_start + sent);
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(now).await.unwrap();
        Self {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends one more byte.
    async fn drip(&mut self) {
        if !self.rest.is_empty() {
            let b = self.rest.remove(0);
            self.stream.write_all(&[b]).await.unwrap();
        }
    }

    /// Whether the server has answered already (without waiting).
    fn answered(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.stream.try_read(&mut buf), Ok(n) if n > 0)
    }

    /// Sends the rest and reads the answer.
    async fn finish(mut self) -> Answer {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut raw = Vec::new();
        self.stream.read_to_end(&mut raw).await.unwrap();
        parse(&raw).expect("an HTTP answer")
    }
}

fn issue_request(key: &str, report_number: &str) -> Raw {
    bearer(Raw::new("POST", "/v1/tokens"), key)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&claims(report_number)).unwrap())
}

#[tokio::test]
async fn writes_are_rate_limited_per_api_key_with_retry_after() {
    let db = TestDb::sqlite();
    let tmp = tempfile::tempdir().unwrap();
    let a = create_key(tmp.path(), &db).await;
    let b = create_key(tmp.path(), &db).await;
    let server = Server::start(tmp.path(), &db.url, &["--rate-limit-per-minute", "3"]).await;
    for i in 0..3 {
        let r = try_issue(server.addr, &a, &format!("RL-A-{i}")).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = try_issue(server.addr, &a, "RL-A-3").await;
    problem(&r, 429, "too-many-requests");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "Retry-After {wait}");
    // A revocation is a write too.
    let r = Raw::new(
        "POST",
        format!(
            "/v1/tokens/{}/revocations",
            loupe_schemas::token::TokenId([1; 32])
        ),
    )
    .header("Authorization", format!("Bearer {a}"))
    .header("Content-Type", "application/json")
    .body(br#"{"reason":"x"}"#.to_vec())
    .send(server.addr)
    .await;
    problem(&r, 429, "too-many-requests");
    // Another key has its own budget; reads are not limited.
    let r = try_issue(server.addr, &b, "RL-B-0").await;
    assert_eq!(r.status, 201);
    assert_eq!(
        Raw::new("GET", "/checkpoint")
            .send(server.addr)
            .await
            .status,
        200
    );
    let health: Value =
        serde_json::from_slice(&Raw::new("GET", "/healthz").send(server.addr).await.body).unwrap();
    assert_eq!(health["tree_size"], 4, "the refused writes logged nothing");
    server.stop().await;
}

#[tokio::test]
async fn requests_beyond_the_concurrency_cap_get_503_until_one_finishes() {
    let db = TestDb::sqlite();
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key(tmp.path(), &db).await;
    let server = Server::start(tmp.path(), &db.url, &["--max-concurrent-requests", "2"]).await;
    // Two uploads in progress hold both slots. (A slot is released just
    // after its answer is sent, so one of them may still be refused by the
    // request before it: start it again then.)
    let addr = server.addr;
    let start = |n: &'static str| {
        let req = issue_request(&key, n);
        async move { Trickle::start(addr, &req, 10).await }
    };
    let mut slow1 = start("CC-1").await;
    let mut slow2 = start("CC-2").await;
    let mut refused = None;
    for _ in 0..100 {
        if slow1.answered() {
            slow1 = start("CC-1").await;
        }
        if slow2.answered() {
            slow2 = start("CC-2").await;
        }
        let r = Raw::new("GET", "/healthz").send(server.addr).await;
        if r.status == 503 && !slow1.answered() && !slow2.answered() {
            refused = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = refused.expect("a third request is refused while two are in flight");
    problem(&refused, 503, "unavailable");
    assert!(refused.header("retry-after").is_some());
    slow1.drip().await;
    assert!(!slow1.answered());
    // The held uploads complete normally once their bodies arrive.
    let done = slow2.finish().await;
    assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
    let done = slow1.finish().await;
    assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(
        Raw::new("GET", "/healthz").send(server.addr).await.status,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn a_stalled_upload_is_cut_by_the_request_timeout() {
    let db = TestDb::sqlite();
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key(tmp.path(), &db).await;
    let server = Server::start(tmp.path(), &db.url, &["--request-timeout", "1s"]).await;
    let mut stalled = Trickle::start(server.addr, &issue_request(&key, "TO-1"), 5).await;
    let mut raw = Vec::new();
    stalled.stream.read_to_end(&mut raw).await.unwrap();
    let a = parse(&raw).expect("an answer without the body");
    problem(&a, 503, "unavailable");
    let health: Value =
        serde_json::from_slice(&Raw::new("GET", "/healthz").send(server.addr).await.body).unwrap();
    assert_eq!(health["tree_size"], 0);
    server.stop().await;
}

/// The sequencer never waits for a client: while two clients trickle their
/// bodies (JSON and multipart) a byte at a time, other clients' tokens are
/// issued and acknowledged; the slow ones are still unanswered then, and
/// complete when their bodies do.
#[tokio::test]
async fn a_slow_client_does_not_stall_the_sequencer() {
    for db in TestDb::all().await {
        let tmp = tempfile::tempdir().unwrap();
        let key = create_key(tmp.path(), &db).await;
        let server = Server::start(tmp.path(), &db.url, &[]).await;
        let mut slow_json = Trickle::start(server.addr, &issue_request(&key, "SLOW-JSON"), 1).await;
        let c = claims("SLOW-MP");
        let claims_part = serde_json::to_vec(
            &serde_json::json!({"report_number": c["report_number"], "stone": c["stone"]}),
        )
        .unwrap();
        let boundary = "slowB0undary";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"claims\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(&claims_part);
        body.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"report\"; filename=\"r.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 slow report\r\n--{boundary}--\r\n").as_bytes());
        let mp = bearer(Raw::new("POST", "/v1/tokens"), &key)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        // The claims part and half of the file are in; the rest trickles.
        let mut slow_mp = Trickle::start(server.addr, &mp, claims_part.len() + 150).await;

        let dripping = async {
            for _ in 0..10 {
                slow_json.drip().await;
                slow_mp.drip().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let issuing = async {
            let mut ok = 0;
            let all = futures::future::join_all((0..20).map(|i| {
                let key = key.clone();
                async move { try_issue(server.addr, &key, &format!("FAST-{i}")).await }
            }))
            .await;
            for a in all {
                assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
                ok += 1;
            }
            ok
        };
        let ((), issued) = tokio::join!(dripping, issuing);
        assert_eq!(issued, 20);
        assert!(
            !slow_json.answered(),
            "[{}] the slow JSON client is still sending",
            db.name
        );
        assert!(
            !slow_mp.answered(),
            "[{}] the slow upload is still sending",
            db.name
        );
        let health: Value =
            serde_json::from_slice(&Raw::new("GET", "/healthz").send(server.addr).await.body)
                .unwrap();
        assert_eq!(
            health["tree_size"], 20,
            "[{}] every fast token is in the log",
            db.name
        );
        let a = slow_json.finish().await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
        let a = slow_mp.finish().await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
        server.stop().await;
        db.cleanup().await;
    }
}

/// A client trickling its request headers (Slowloris) is disconnected
/// once `header_read_timeout` has passed, while other clients are served;
/// `/metrics` counts the connection that ended so. Without the timeout
/// the trickle would hold its connection (and, at `max_connections`,
/// everyone else's slot) for as long as it liked.
#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected() {
    let db = TestDb::sqlite();
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key(tmp.path(), &db).await;
    let server = Server::start(
        tmp.path(),
        &db.url,
        &["--header-read-timeout", "500ms", "--max-connections", "64"],
    )
    .await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: lab.test\r\n")
        .await
        .unwrap();
    let trickle = async {
        // A header byte every 50 ms: always progress, never a whole head.
        for b in b"X-Slow: ".iter().chain([b'a'; 1000].iter()) {
            if s.write_all(&[*b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    let issuing = async {
        let a = try_issue(server.addr, &key, "WHILE-TRICKLING").await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    };
    let (cut, ()) = tokio::join!(trickle, issuing);
    assert!(cut, "the trickling client was never disconnected");
    let metrics = Raw::new("GET", "/metrics").send(server.addr).await;
    let text = String::from_utf8_lossy(&metrics.body);
    let errored = text
        .lines()
        .find_map(|l| l.strip_prefix("loupe_http_connections_errored_total "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(matches!(errored, Some(n) if n >= 1), "{text}");
    assert!(text.contains("loupe_http_connections_open "), "{text}");
    server.stop().await;
}
