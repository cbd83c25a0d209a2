//! Shared helpers of the tests that run real `loupe-issuer serve`
//! processes: spawning one on a database, an API key, waiting for health,
//! sample claims, and the example log's verification policy.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loupe_schemas::bundle::LogPolicy;
use loupe_schemas::checkpoint::NoteVerifier;
use loupe_schemas::token::Sha256Digest;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_loupe-issuer");
pub const ORIGIN: &str = "lab.example/log";

pub fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example")
}

/// Verifies checkpoints of the example log key.
pub fn policy() -> LogPolicy {
    let vkey = std::fs::read_to_string(keys().join("log.vkey")).unwrap();
    LogPolicy::new(ORIGIN, NoteVerifier::from_vkey(vkey.trim()).unwrap())
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Creates a lab API key in `db` with the CLI and returns the secret.
pub fn api_key(db: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "apikey",
            "create",
            "--name",
            "e2e test",
            "--database-url",
            db,
            "--issuer-origin",
            "lab.example",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apikey create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("loupe_sk_"))
        .unwrap_or_else(|| panic!("no key in {stdout:?}"))
        .to_owned()
}

/// Starts `loupe-issuer serve` on `db` at `127.0.0.1:port` with the
/// example keys; its stderr (warnings and up) goes to `log` when given.
pub fn serve(db: &str, port: u16, media: &Path, log: Option<&Path>) -> Child {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    };
    Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            db,
        ])
        .args([
            "--public-base-url",
            "https://lab.example",
            "--issuer-origin",
            "lab.example",
            "--log-origin",
            ORIGIN,
        ])
        .arg("--issuer-key")
        .arg(keys().join("issuer.key.pem"))
        .arg("--log-key")
        .arg(keys().join("log.key.pem"))
        .arg("--media-dir")
        .arg(media)
        .args(["--batch-delay", "2ms"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Waits (up to 30 s) until `GET {base}/healthz` answers 200; returns its
/// JSON.
pub async fn wait_healthy(http: &reqwest::Client, base: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
            && let Ok(v) = r.json::<Value>().await
        {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the issuer did not become healthy at {base}");
}

/// JSON issuance claims for report `{prefix}-{n}`.
pub fn claims(prefix: &str, n: usize) -> Value {
    let d = |s: String| Sha256Digest::of(s.as_bytes()).to_string();
    json!({
        "report_number": format!("{prefix}-{n}"),
        "report": {"sha256": d(format!("report {prefix} {n}")), "media_type": "application/pdf", "size": 1000},
        "images": [{"role": "face-up", "sha256": d(format!("img {prefix} {n}")), "media_type": "image/png", "size": 2000}],
        "stone": {
            "variety": "Sapphire", "species": "Corundum", "weight_mct": 1000, "colour": "blue", "shape": "cushion",
            "cut": "mixed", "clarity": "VS", "dimensions_um": [6000, 5000, 3000], "treatment": "heated"
        }
    })
}
