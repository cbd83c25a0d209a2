//! Helpers of the hostile-input and limits tests: a real `loupe-issuer
//! serve` process with its stderr in a file, the stored state to compare
//! before and after, and request builders for the raw client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod raw_http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use loupe_schemas::token::{Sha256Digest, TokenId};
use raw_http::Raw;
use serde_json::{Value, json};

use crate::cli_support::{closed_port, command, ok, run};
use crate::store_support::TestDb;

pub const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys-example");

pub fn keys(file: &str) -> String {
    format!("{KEYS}/{file}")
}

/// A `loupe-issuer serve` process whose stderr goes to a file.
pub struct Server {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    pub async fn start(dir: &Path, database_url: &str, extra: &[&str]) -> Self {
        let addr = closed_port();
        let log = dir.join("serve.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let listen = addr.to_string();
        let issuer_key = keys("issuer.key.pem");
        let log_key = keys("log.key.pem");
        let mut args = vec![
            "serve",
            "--listen",
            &listen,
            "--database-url",
            database_url,
            "--issuer-key",
            &issuer_key,
            "--log-key",
            &log_key,
            "--issuer-origin",
            "lab.example",
            "--log-origin",
            "lab.example/log",
            "--media-dir",
            "media",
            "--batch-delay",
            "2ms",
            "--max-json-body",
            "64KiB",
            "--max-upload-size",
            "1MiB",
        ];
        args.extend_from_slice(extra);
        let child = command(dir, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap();
        let server = Self { child, addr, log };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                let a = Raw::new("GET", "/healthz").send(addr).await;
                if a.status == 200 {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("serve did not start:\n{}", server.stderr());
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .unwrap();
        assert!(status.success(), "serve exit {status}:\n{}", self.stderr());
    }
}

/// What must not change: the latest checkpoint and the row counts.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub checkpoint: String,
    pub tree_size: u64,
    pub entries: i64,
    pub checkpoints: i64,
    pub api_keys: i64,
}

pub async fn snapshot(server: &Server, db: &TestDb) -> Snapshot {
    let cp = Raw::new("GET", "/checkpoint").send(server.addr).await;
    assert_eq!(cp.status, 200);
    let health = Raw::new("GET", "/healthz").send(server.addr).await;
    assert_eq!(health.status, 200, "the server still answers /healthz");
    let v: Value = serde_json::from_slice(&health.body).unwrap();
    Snapshot {
        checkpoint: String::from_utf8(cp.body).unwrap(),
        tree_size: v["tree_size"].as_u64().unwrap(),
        entries: db.count("entries").await,
        checkpoints: db.count("checkpoints").await,
        api_keys: db.count("api_keys").await,
    }
}

pub fn claims(report_number: &str) -> Value {
    let d = |s: &str| Sha256Digest::of(s.as_bytes()).to_string();
    json!({
        "report_number": report_number,
        "report": {"sha256": d("report"), "media_type": "application/pdf", "size": 1234},
        "images": [{"role": "face-up", "sha256": d("face-up"), "media_type": "image/jpeg", "size": 2000}],
        "videos": [],
        "stone": {
            "variety": "Ruby", "species": "Corundum", "weight_mct": 1520, "colour": "red",
            "shape": "oval", "cut": "mixed", "clarity": "VS", "dimensions_um": [7100, 5600, 3400],
            "treatment": "none"
        }
    })
}

pub fn bearer(req: Raw, key: &str) -> Raw {
    req.header("Authorization", format!("Bearer {key}"))
}

pub fn json_post(path: &str, key: &str, body: impl Into<Vec<u8>>) -> Raw {
    bearer(Raw::new("POST", path), key)
        .header("Content-Type", "application/json")
        .body(body)
}

/// Issues one token through the API; returns its id.
pub async fn issue_one(addr: SocketAddr, key: &str) -> TokenId {
    let body = serde_json::to_vec(&claims("HOSTILE-1")).unwrap();
    let a = json_post("/v1/tokens", key, body).send(addr).await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let v: Value = serde_json::from_slice(&a.body).unwrap();
    v["token_id"].as_str().unwrap().parse().unwrap()
}

pub async fn create_key(dir: &Path, db: &TestDb) -> String {
    let out = run(
        dir,
        &[
            "apikey",
            "create",
            "--name",
            "hostile",
            "--database-url",
            &db.url,
            "--issuer-origin",
            "lab.example",
        ],
    )
    .await;
    ok(&out).trim().to_owned()
}

/// `POST /v1/tokens` for a fresh report number; the raw answer.
pub async fn try_issue(addr: SocketAddr, key: &str, report_number: &str) -> raw_http::Answer {
    let body = serde_json::to_vec(&claims(report_number)).unwrap();
    json_post("/v1/tokens", key, body).send(addr).await
}
