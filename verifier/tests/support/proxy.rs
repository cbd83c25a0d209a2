//! A lying server: an axum proxy on loopback that forwards to a real
//! issuer (which one can be switched) and, depending on its [`Mode`],
//! tampers with what it forwards or misbehaves at the HTTP level.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::SigningKey;
use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::checkpoint::{NoteSigner, sign_note};
use serde_json::Value;

use super::lab::LOG;

/// Which of the issuer's answers a misbehaviour applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/t/{id}`.
    Token,
    /// `/v1/tokens/{id}/proof`.
    Proof,
    /// `/v1/tokens/{id}/status`.
    Status,
    /// `/v1/consistency`.
    Consistency,
}

impl Endpoint {
    fn matches(self, path: &str) -> bool {
        match self {
            Self::Token => path.starts_with("/t/"),
            Self::Proof => path.ends_with("/proof"),
            Self::Status => path.ends_with("/status"),
            Self::Consistency => path == "/v1/consistency",
        }
    }
}

/// How the proxy lies.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Forwards everything unchanged.
    Honest,
    /// Serves these bytes for every `/t/{id}`.
    SwapToken(Vec<u8>),
    /// Flips a bit of the first inclusion-path hash of every proof.
    AlterInclusion,
    /// Re-signs the checkpoint of every proof with another key that has
    /// the log's name.
    ForeignCheckpoint,
    /// Answers every request to the endpoint with this JSON.
    Json(Endpoint, Value),
    /// Answers every request to the endpoint with these bytes, labelled
    /// `application/json` (for what a `Value` cannot hold: repeated
    /// members, bad UTF-8, trailing bytes).
    Raw(Endpoint, Vec<u8>),
    /// The endpoint streams zeros forever.
    Endless(Endpoint),
    /// The endpoint sends one byte every 100 ms, forever.
    Slow(Endpoint),
    /// `/t/{id}` redirects (302) to this URL.
    Redirect(String),
}

struct Shared {
    mode: Mutex<Mode>,
    upstream: Mutex<String>,
    http: reqwest::Client,
}

/// The running proxy.
pub struct Proxy {
    /// `http://127.0.0.1:{port}`.
    pub url: String,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts an honest proxy with no upstream yet (labs that name it as
    /// their public base URL are started after it).
    pub async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Honest),
            upstream: Mutex::new(String::new()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap(),
        });
        let app = Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, shared }
    }

    /// Forwards to `base` from now on.
    pub fn set_upstream(&self, base: &str) {
        base.clone_into(&mut self.shared.upstream.lock().unwrap());
    }

    /// Lies this way from now on.
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }
}

async fn forward(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let mode = shared.mode.lock().unwrap().clone();
    let path = uri.path().to_owned();
    let is_token = path.starts_with("/t/");
    let is_proof = path.ends_with("/proof");
    match &mode {
        Mode::SwapToken(bytes) if is_token => {
            return ([(header::CONTENT_TYPE, "application/cose")], bytes.clone()).into_response();
        }
        Mode::Json(e, v) if e.matches(&path) => return axum::Json(v.clone()).into_response(),
        Mode::Raw(e, bytes) if e.matches(&path) => {
            return ([(header::CONTENT_TYPE, "application/json")], bytes.clone()).into_response();
        }
        Mode::Endless(e) if e.matches(&path) => {
            let zeros = futures::stream::repeat_with(|| {
                Ok::<_, Infallible>(Bytes::from_static(&[0u8; 8192]))
            });
            return Body::from_stream(zeros).into_response();
        }
        Mode::Slow(e) if e.matches(&path) => {
            let drip = futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok::<_, Infallible>(Bytes::from_static(b"\xd2")), ()))
            });
            return Body::from_stream(drip).into_response();
        }
        Mode::Redirect(to) if is_token => {
            return (
                StatusCode::FOUND,
                [(header::LOCATION, HeaderValue::from_str(to).unwrap())],
            )
                .into_response();
        }
        _ => {}
    }
    let upstream = shared.upstream.lock().unwrap().clone();
    let target = format!(
        "{upstream}{}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut request = shared.http.get(target);
    if let Some(accept) = headers.get(header::ACCEPT) {
        request = request.header(header::ACCEPT, accept);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let mut body = answer.bytes().await.unwrap().to_vec();
    if status.is_success() && is_proof {
        match &mode {
            Mode::AlterInclusion => body = alter_inclusion(&body),
            Mode::ForeignCheckpoint => body = foreign_checkpoint(&body),
            _ => {}
        }
    }
    let mut response = (status, body).into_response();
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}

/// The bundle with one bit of its first path hash flipped.
fn alter_inclusion(bundle: &[u8]) -> Vec<u8> {
    let b = ProofBundle::parse(bundle).unwrap();
    let mut path = b.path().to_vec();
    let first = path
        .first_mut()
        .expect("a proof with a path (the tree needs 2 or more entries)");
    first[0] ^= 0x01;
    ProofBundle::new(b.index(), path, b.checkpoint_text())
        .to_text()
        .into_bytes()
}

/// The bundle with its checkpoint signed by a key that is not the log's
/// but carries the log's name.
pub fn foreign_checkpoint(bundle: &[u8]) -> Vec<u8> {
    let b = ProofBundle::parse(bundle).unwrap();
    let note = b.checkpoint_text();
    let body_end = note.find("\n\n").unwrap() + 1;
    let impostor = NoteSigner::new(LOG, SigningKey::from_bytes(&[0x66; 32])).unwrap();
    let forged = sign_note(&note[..body_end], &[&impostor]).unwrap();
    ProofBundle::new(b.index(), b.path().to_vec(), forged)
        .to_text()
        .into_bytes()
}
