//! Load generator for the issuance API: N concurrent clients POST distinct
//! stones to `/v1/tokens` (JSON digests, as a lab that hashes locally does)
//! for a fixed number of requests, then report throughput and latency
//! percentiles. Every answer must be `201`, or the run fails.
//!
//! ```sh
//! cargo run --release -p loupe-issuer --example loadgen -- \
//!     --server http://127.0.0.1:8080 --api-key loupe_sk_… \
//!     --concurrency 256 --requests 200000
//! ```
//!
//! The generator runs on one thread (a current-thread Tokio runtime): it
//! shares the machine with the server, and one thread spends ≈ 12 % less
//! CPU per request than two that hand connections between them. Each
//! client is one keep-alive HTTP/1.1 connection driven by `hyper`'s
//! connection-level client (no pool, no redirect or header machinery):
//! about a third less CPU per request than `reqwest` (docs/performance.md).
//!
//! Only loopback targets are accepted: this is a benchmark of our own
//! service on this machine, never a load test of anyone else's.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use loupe_schemas::token::Sha256Digest;
use serde_json::json;
use tokio::net::TcpStream;

// The allocator of the `loupe-issuer` binary (see src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    server: String,
    api_key: String,
    concurrency: usize,
    requests: u64,
    prefix: String,
}

fn args() -> Args {
    let mut a = Args {
        server: "http://127.0.0.1:8080".into(),
        api_key: std::env::var("LOUPE_API_KEY").unwrap_or_default(),
        concurrency: 256,
        requests: 100_000,
        prefix: format!("LOAD-{}", std::process::id()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => a.server = value,
            "--api-key" => a.api_key = value,
            "--concurrency" => a.concurrency = value.parse().expect("--concurrency N"),
            "--requests" => a.requests = value.parse().expect("--requests N"),
            "--prefix" => a.prefix = value,
            other => panic!("unknown flag {other}"),
        }
    }
    let host = a
        .server
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        host == "127.0.0.1" || host == "localhost" || host == "[::1]",
        "loadgen only targets loopback, not {host}"
    );
    a
}

fn body(prefix: &str, n: u64) -> Vec<u8> {
    let d = |s: String| Sha256Digest::of(s.as_bytes()).to_string();
    serde_json::to_vec(&json!({
        "report_number": format!("{prefix}-{n}"),
        "report": {"sha256": d(format!("report {n}")), "media_type": "application/pdf", "size": 180_000},
        "images": [
            {"role": "face-up", "sha256": d(format!("face-up {n}")), "media_type": "image/jpeg", "size": 2_400_000},
            {"role": "table", "sha256": d(format!("table {n}")), "media_type": "image/jpeg", "size": 2_300_000},
            {"role": "pavilion", "sha256": d(format!("pavilion {n}")), "media_type": "image/jpeg", "size": 2_200_000},
            {"role": "side", "sha256": d(format!("side {n}")), "media_type": "image/jpeg", "size": 2_100_000},
            {"role": "girdle", "sha256": d(format!("girdle {n}")), "media_type": "image/jpeg", "size": 2_000_000},
            {"role": "swatch", "sha256": d(format!("swatch {n}")), "media_type": "image/jpeg", "size": 1_900_000}
        ],
        "videos": [{"role": "light-play", "sha256": d(format!("video {n}")), "media_type": "video/mp4", "size": 28_000_000}],
        "stone": {
            "variety": "Ruby", "species": "Corundum", "weight_mct": 1000 + n % 5000, "colour": "red",
            "shape": "oval", "cut": "mixed", "clarity": "VS", "dimensions_um": [7100, 5600, 3400],
            "treatment": "none"
        }
    }))
    .unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = args();
    // Bodies are built before the clock starts: the generator should cost
    // as little as possible of the machine the server shares.
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        (0..a.requests)
            .map(|n| Bytes::from(body(&a.prefix, n)))
            .collect(),
    );
    let next = Arc::new(AtomicU64::new(0));
    let authority = a
        .server
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let bearer = format!("Bearer {}", a.api_key);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (bodies, next, authority, bearer) = (
            bodies.clone(),
            next.clone(),
            authority.clone(),
            bearer.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(&authority).await.expect("connect");
            stream.set_nodelay(true).unwrap();
            let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
                .await
                .expect("HTTP/1.1 handshake");
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(usize::try_from(n).unwrap()) else {
                    break;
                };
                let request = Request::post("/v1/tokens")
                    .header(HOST, &authority)
                    .header(AUTHORIZATION, &bearer)
                    .header(CONTENT_TYPE, "application/json")
                    .body(Full::new(body.clone()))
                    .unwrap();
                let t = Instant::now();
                sender.ready().await.expect("connection ready");
                let r = sender.send_request(request).await.expect("request");
                let status = r.status();
                let answer = r.into_body().collect().await.expect("answer body");
                assert_eq!(
                    status.as_u16(),
                    201,
                    "request {n}: {}",
                    String::from_utf8_lossy(&answer.to_bytes())
                );
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    let pct = |p: f64| {
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all.get(i).copied().unwrap_or_default()
    };
    println!(
        "{} tokens in {:.2} s = {:.0} tokens/s; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (concurrency {})",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.90).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        a.concurrency
    );
}
