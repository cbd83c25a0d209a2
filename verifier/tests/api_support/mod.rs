//! A real `loupe-issuer` (SQLite in a tempdir) and the verification API,
//! both on loopback, for the API tests and the `buyer_page_server`
//! example. Optionally a *tampering front*: a reverse proxy that stands
//! where the lab's public URL points and forwards everything to the real
//! issuer, except that it swaps in altered bytes for the tokens it is told
//! to tamper with — the compromised or impostor web server the verifier
//! must not trust.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    dead_code,
    unreachable_pub
)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_issuer::apikey::ApiKey;
use loupe_issuer::app::{Running, spawn};
use loupe_issuer::config::ServeConfig;
use loupe_issuer::sample::{CaptureRole, write_sample_capture};
use loupe_schemas::token::MediaRole as _;
use loupe_verifier::api::{ApiConfig, serve};
use loupe_verifier::{FetchOptions, TrustStore, Verifier};
use serde_json::{Value, json};

pub const ISSUER: &str = "lab.example";
pub const LOG: &str = "lab.example/log";

pub fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example")
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// An issued token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: String,
    pub url: String,
    pub token: Vec<u8>,
    pub proof: String,
    /// The files issued with it (multipart), by part name.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A running issuer, optionally behind a tampering front.
pub struct Lab {
    running: Option<Running>,
    /// The issuer's own address.
    pub issuer_base: String,
    /// The lab's public base URL (the tampering front when there is one).
    pub public_base: String,
    key: String,
    pub http: reqwest::Client,
    tampered: Arc<Mutex<HashSet<String>>>,
    front: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Lab {
    /// Starts an issuer on loopback; with `front`, a tampering front
    /// becomes the lab's public URL.
    pub async fn start(front: bool) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let listen = free_port();
        let front_listener = if front {
            Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        } else {
            None
        };
        let public_base = match &front_listener {
            Some(l) => format!("http://{}", l.local_addr().unwrap()),
            None => format!("http://{listen}"),
        };
        let config = ServeConfig {
            listen,
            database_url: format!("sqlite://{}", dir.path().join("log.db").display()),
            public_base_url: public_base.clone(),
            verify_url: None,
            issuer_origin: ISSUER.into(),
            log_origin: LOG.into(),
            issuer_key: keys_dir().join("issuer.key.pem"),
            log_key: keys_dir().join("log.key.pem"),
            media_dir: dir.path().join("media"),
            max_upload_size: 4 << 20,
            max_json_body: 64 << 10,
            batch_size: 256,
            batch_delay: Duration::from_millis(2),
            request_timeout: Duration::from_secs(30),
            rate_limit_per_minute: 0,
            max_concurrent_requests: 4096,
            connections: loupe_httpd::ConnectionLimits::default(),
            key_history: Default::default(),
            expect_checkpoint: None,
        };
        let running = spawn(config).await.unwrap();
        let (key, hash) = ApiKey::generate();
        running
            .state
            .store()
            .create_api_key("tests", ISSUER, hash.as_bytes())
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let tampered = Arc::new(Mutex::new(HashSet::new()));
        let issuer_base = running.base_url.clone();
        let front = front_listener.map(|listener| {
            let state = Front {
                upstream: issuer_base.clone(),
                http: http.clone(),
                tampered: Arc::clone(&tampered),
            };
            let app = axum::Router::new().fallback(forward).with_state(state);
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            })
        });
        Self {
            running: Some(running),
            issuer_base,
            public_base,
            key: key.expose_secret().to_owned(),
            http,
            tampered,
            front,
            _dir: dir,
        }
    }

    /// A trust store that trusts this lab (by its public URL) and its log.
    pub fn trust_store(&self) -> TrustStore {
        let issuer_pub = std::fs::read_to_string(keys_dir().join("issuer.pub.pem")).unwrap();
        let body: String = issuer_pub
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let vkey = std::fs::read_to_string(keys_dir().join("log.vkey")).unwrap();
        TrustStore::from_toml(&format!(
            r#"
[[issuer]]
origin = "{ISSUER}"
url = "{base}"
log = "{LOG}"
[[issuer.key]]
public_key = "{body}"
[[log]]
origin = "{LOG}"
key = "{vkey}"
url = "{base}"
"#,
            base = self.public_base,
            vkey = vkey.trim()
        ))
        .unwrap()
    }

    /// An online verifier trusting this lab, caching proofs and status
    /// for 2 s (as a busy API would).
    pub fn verifier(&self) -> Arc<Verifier> {
        self.verifier_with_ttl(Duration::from_secs(2))
    }

    /// An online verifier trusting this lab, caching proofs and status for
    /// `cache_ttl`.
    pub fn verifier_with_ttl(&self, cache_ttl: Duration) -> Arc<Verifier> {
        Arc::new(
            Verifier::new(self.trust_store())
                .online(FetchOptions {
                    cache_ttl,
                    ..FetchOptions::default()
                })
                .unwrap(),
        )
    }

    fn parse_issued(&self, v: &Value, files: Vec<(String, Vec<u8>)>) -> Issued {
        Issued {
            id: v["token_id"].as_str().unwrap().to_owned(),
            url: v["url"].as_str().unwrap().to_owned(),
            token: STANDARD.decode(v["token"].as_str().unwrap()).unwrap(),
            proof: v["proof"].as_str().unwrap().to_owned(),
            files,
        }
    }

    /// Issues a token with digests only (no files in the media store).
    pub async fn issue_json(&self, report_number: &str) -> Issued {
        let d = |s: &str| loupe_schemas::token::Sha256Digest::of(s.as_bytes()).to_string();
        let body = json!({
            "report_number": report_number,
            "report": {"sha256": d("report"), "media_type": "application/pdf", "size": 1234},
            "images": [
                {"role": "face-up", "sha256": d("face-up"), "media_type": "image/jpeg", "size": 2000}
            ],
            "stone": {
                "variety": "Ruby", "species": "Corundum", "weight_mct": 1520, "colour": "pigeon's blood",
                "shape": "oval", "cut": "mixed", "clarity": "VS", "dimensions_um": [7100, 5600, 3400],
                "treatment": "none", "origin": "Myanmar"
            }
        });
        let r = self
            .http
            .post(format!("{}/v1/tokens", self.issuer_base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
        let v: Value = r.json().await.unwrap();
        self.parse_issued(&v, Vec::new())
    }

    /// Issues a token for the sample capture `variant` by multipart, so
    /// the media store holds the report, the six photos and the video.
    pub async fn issue_multipart(&self, variant: u32) -> Issued {
        let capture = tempfile::tempdir().unwrap();
        let sample = write_sample_capture(capture.path(), variant).unwrap();
        let mut form = reqwest::multipart::Form::new().text(
            "claims",
            json!({"report_number": sample.report_number, "stone": sample.stone}).to_string(),
        );
        let mut files = Vec::new();
        for f in &sample.files {
            let name = match f.role {
                CaptureRole::Report => "report".to_owned(),
                CaptureRole::Image(r) => r.as_str().to_owned(),
                CaptureRole::Video(r) => r.as_str().to_owned(),
            };
            let bytes = std::fs::read(&f.path).unwrap();
            files.push((name.clone(), bytes.clone()));
            let file_name = f.path.file_name().unwrap().to_string_lossy().into_owned();
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(file_name)
                .mime_str(f.media_type)
                .unwrap();
            form = form.part(name, part);
        }
        let r = self
            .http
            .post(format!("{}/v1/tokens", self.issuer_base))
            .bearer_auth(&self.key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
        let v: Value = r.json().await.unwrap();
        self.parse_issued(&v, files)
    }

    /// The lab's API key.
    pub fn api_key(&self) -> &str {
        &self.key
    }

    /// From now on the front serves `id`'s token with its last byte
    /// flipped.
    pub fn tamper_with(&self, id: &str) {
        self.tampered.lock().unwrap().insert(id.to_owned());
    }

    pub async fn stop(mut self) {
        if let Some(f) = self.front.take() {
            f.abort();
        }
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

#[derive(Clone)]
struct Front {
    upstream: String,
    http: reqwest::Client,
    tampered: Arc<Mutex<HashSet<String>>>,
}

/// Forwards a GET to the issuer; flips the last byte of tampered tokens.
async fn forward(State(front): State<Front>, request: Request) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut upstream = front.http.get(format!("{}{path}", front.upstream));
    if let Some(accept) = request.headers().get(header::ACCEPT) {
        upstream = upstream.header(header::ACCEPT, accept);
    }
    let Ok(answer) = upstream.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let location = answer.headers().get(header::LOCATION).cloned();
    let mut body = answer.bytes().await.unwrap_or_default().to_vec();
    let tamper = path
        .strip_prefix("/t/")
        .is_some_and(|id| front.tampered.lock().unwrap().contains(id));
    if tamper && let Some(last) = body.last_mut() {
        *last ^= 0x01;
    }
    let mut res = (status, body).into_response();
    if let Some(ct) = content_type {
        res.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    if let Some(l) = location {
        res.headers_mut().insert(header::LOCATION, l);
    }
    res.headers_mut()
        .insert("x-tampering-front", HeaderValue::from_static("1"));
    res
}

/// A running verification API.
pub struct Api {
    pub base: String,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Api {
    pub async fn start(verifier: Arc<Verifier>, config: ApiConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(serve(listener, verifier, config, std::future::pending()));
        Self { base, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// `{verifier}/verify?url={token url}`, percent-encoded.
pub fn page_url(api: &Api, token_url: &str) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("url", token_url)
        .finish();
    api.url(&format!("/verify?{q}"))
}
