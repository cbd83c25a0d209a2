//! A real `loupe-issuer` on loopback: its own SQLite file and media
//! directory in a temporary directory, the example keys (or others), and
//! an API key to issue and revoke with.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_issuer::apikey::ApiKey;
use loupe_issuer::app::{AppError, AppState, router};
use loupe_issuer::config::ServeConfig;
use loupe_issuer::rotation::KeyHistory;
use loupe_schemas::token::{Sha256Digest, TokenId};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The tokens' `iss`.
pub const ISSUER: &str = "lab.example";
/// The log origin.
pub const LOG: &str = "lab.example/log";

/// `keys-example/{file}`.
pub fn example_key(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../keys-example")
        .join(file)
}

/// How to start a lab.
pub struct LabOptions {
    /// The public base URL its tokens and QR codes name; `None`: its own
    /// `http://127.0.0.1:{port}`.
    pub public_base_url: Option<String>,
    /// The token-signing key file.
    pub issuer_key: PathBuf,
    /// The checkpoint-signing key file.
    pub log_key: PathBuf,
    /// Earlier keys (rotation).
    pub key_history: KeyHistory,
    /// The SQLite file of the log; `None`: a fresh one in its own
    /// temporary directory.
    pub database: Option<PathBuf>,
    /// A checkpoint the log must contain to start.
    pub expect_checkpoint: Option<PathBuf>,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            public_base_url: None,
            issuer_key: example_key("issuer.key.pem"),
            log_key: example_key("log.key.pem"),
            key_history: KeyHistory::default(),
            database: None,
            expect_checkpoint: None,
        }
    }
}

/// A token the lab issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Its id.
    pub id: TokenId,
    /// The COSE bytes.
    pub token: Vec<u8>,
    /// The `tlog-proof` bundle of the issuance answer.
    pub proof: String,
    /// `{public_base_url}/t/{id}`.
    pub url: String,
}

/// A running issuer.
pub struct Lab {
    /// `http://127.0.0.1:{port}`: where it really listens.
    pub base: String,
    /// The public base URL its tokens name.
    pub public: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    key: String,
    http: reqwest::Client,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Lab {
    /// Starts a lab with the example keys at its own URL.
    pub async fn start() -> Self {
        Self::start_with(LabOptions::default()).await
    }

    /// Starts a lab.
    pub async fn start_with(options: LabOptions) -> Self {
        Self::try_start(options).await.unwrap()
    }

    /// Starts a lab, or says why it refused to start.
    pub async fn try_start(options: LabOptions) -> Result<Self, AppError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        // Bind first, so the public base URL can name the real port.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let public = options.public_base_url.unwrap_or_else(|| base.clone());
        let config = ServeConfig {
            listen: addr,
            database_url: format!(
                "sqlite://{}",
                options
                    .database
                    .unwrap_or_else(|| dir.path().join("log.db"))
                    .display()
            ),
            public_base_url: public.clone(),
            verify_url: None,
            issuer_origin: ISSUER.into(),
            log_origin: LOG.into(),
            issuer_key: options.issuer_key,
            log_key: options.log_key,
            media_dir: dir.path().join("media"),
            max_upload_size: 1 << 20,
            max_json_body: 64 << 10,
            batch_size: 64,
            batch_delay: Duration::from_millis(1),
            request_timeout: Duration::from_secs(30),
            rate_limit_per_minute: 0,
            max_concurrent_requests: 4096,
            connections: loupe_httpd::ConnectionLimits::default(),
            key_history: options.key_history,
            expect_checkpoint: options.expect_checkpoint,
        };
        let state = AppState::open(config).await?;
        let (key, hash) = ApiKey::generate();
        state
            .store()
            .create_api_key("online tests", ISSUER, hash.as_bytes())
            .await
            .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service())
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            base,
            public,
            addr,
            key: key.expose_secret().to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap(),
            state,
            stop: Some(stop),
            _dir: dir,
        })
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Issues a token for report `report_number` whose report file is
    /// `report` and face-up photo `face_up`, replacing `supersedes`.
    pub async fn issue_files(
        &self,
        report_number: &str,
        report: &[u8],
        face_up: &[u8],
        supersedes: Option<TokenId>,
    ) -> Issued {
        let mut claims = json!({
            "report_number": report_number,
            "report": {
                "sha256": Sha256Digest::of(report).to_string(),
                "media_type": "application/pdf",
                "size": report.len(),
            },
            "images": [{
                "role": "face-up",
                "sha256": Sha256Digest::of(face_up).to_string(),
                "media_type": "image/jpeg",
                "size": face_up.len(),
            }],
            "stone": {
                "variety": "Sapphire", "species": "Corundum", "weight_mct": 2030,
                "colour": "cornflower blue", "shape": "cushion", "cut": "mixed",
                "clarity": "VVS", "dimensions_um": [8100, 7000, 4600],
                "treatment": "none", "origin": "Sri Lanka"
            }
        });
        if let Some(old) = supersedes {
            claims["supersedes"] = json!(old.to_string());
        }
        let v = self.post("/v1/tokens", &claims).await;
        let token = STANDARD.decode(v["token"].as_str().unwrap()).unwrap();
        Issued {
            id: v["token_id"].as_str().unwrap().parse().unwrap(),
            token,
            proof: v["proof"].as_str().unwrap().to_owned(),
            url: v["url"].as_str().unwrap().to_owned(),
        }
    }

    /// Issues a token for report `report_number` (files made up from it).
    pub async fn issue(&self, report_number: &str) -> Issued {
        let report = format!("%PDF-1.7 report {report_number}");
        let photo = format!("JPEG face-up {report_number}");
        self.issue_files(report_number, report.as_bytes(), photo.as_bytes(), None)
            .await
    }

    /// Revokes `id`.
    pub async fn revoke(&self, id: TokenId, reason: &str) {
        self.post(
            &format!("/v1/tokens/{id}/revocations"),
            &json!({ "reason": reason }),
        )
        .await;
    }

    /// GETs `path` from the lab itself.
    pub async fn get(&self, path: &str, accept: &str) -> Vec<u8> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    }

    /// The current tree size.
    pub async fn tree_size(&self) -> u64 {
        let v: Value =
            serde_json::from_slice(&self.get("/healthz", "application/json").await).unwrap();
        v["tree_size"].as_u64().unwrap()
    }

    /// Logs statement bytes signed elsewhere (as a thief holding the lab's
    /// key and a way into its log would) through the real sequencer;
    /// returns the entry's index and its `tlog-proof` bundle.
    pub async fn submit_signed(&self, bytes: &[u8]) -> (u64, String) {
        let s = self
            .state
            .sequencer()
            .unwrap()
            .submit_bytes(bytes)
            .await
            .unwrap();
        let id = s.token_id;
        let proof = self
            .get(&format!("/v1/tokens/{id}/proof"), "text/plain")
            .await;
        (s.leaf_index, String::from_utf8(proof).unwrap())
    }

    /// Stops serving and stops the sequencer.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.state.shutdown().await;
    }
}
