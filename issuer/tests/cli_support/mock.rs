//! A mock of the issuer's write API, enough to drive the CLI over loopback
//! before the real service is merged: `POST /v1/tokens` (multipart or
//! JSON) signs a real token with a test key and answers per
//! `issuance.schema.json`; a second token for an active report number gets
//! `409 active-token-exists`; `POST /v1/tokens/{id}/revocations` answers
//! 201. Authorisation is one API key. Nothing is sequenced or stored
//! beyond memory; proofs are placeholders.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use loupe_issuer::apikey::{ApiKey, KeyHash, parse_bearer};
use loupe_issuer::problem::ApiError;
use loupe_schemas::token::{
    FileDigest, ImageDigest, ImageRole, MediaRole as _, Provenance, Sha256Digest, Stone,
    TokenBuilder, TokenId, VideoDigest, VideoRole,
};
use serde::Deserialize;

/// The mock's state.
struct MockState {
    key: SigningKey,
    api_key: KeyHash,
    base: Mutex<String>,
    /// Report number → active token.
    active: Mutex<HashMap<String, TokenId>>,
    /// Every token issued.
    tokens: Mutex<HashMap<TokenId, String>>,
    leaves: AtomicU64,
    /// Tokens issued (201 answers).
    pub issued: AtomicUsize,
    /// Issuance requests received.
    pub requests: AtomicUsize,
}

/// A running mock issuer.
pub struct Mock {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The one API key it accepts.
    pub api_key: String,
    state: Arc<MockState>,
}

impl Mock {
    /// Starts a mock on a free loopback port.
    pub async fn start() -> Self {
        let (key, hash) = ApiKey::generate();
        let state = Arc::new(MockState {
            key: SigningKey::from_bytes(&[42; 32]),
            api_key: hash,
            base: Mutex::new(String::new()),
            active: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            leaves: AtomicU64::new(0),
            issued: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/v1/tokens", post(issue))
            .route("/v1/tokens/{id}/revocations", post(revoke))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        *state.base.lock().expect("lock") = base.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            base,
            api_key: key.expose_secret().to_owned(),
            state,
        }
    }

    /// Tokens issued so far.
    pub fn issued(&self) -> usize {
        self.state.issued.load(Ordering::SeqCst)
    }

    /// Issuance requests received so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The active token of a report number.
    pub fn active(&self, report_number: &str) -> Option<TokenId> {
        self.state
            .active
            .lock()
            .expect("lock")
            .get(report_number)
            .copied()
    }
}

fn authorise(state: &MockState, headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(loupe_issuer::apikey::AuthError::Missing)?;
    if parse_bearer(value)? != state.api_key {
        return Err(ApiError::Unauthorized {
            detail: "unknown API key".into(),
            invalid_token: true,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct ClaimsPart {
    report_number: String,
    stone: Stone,
    #[serde(default)]
    supersedes: Option<TokenId>,
}

#[derive(Deserialize)]
struct JsonBody {
    report_number: String,
    #[serde(flatten)]
    provenance: serde_json::Value,
}

async fn read_request(req: Request) -> Result<(String, Provenance), ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let body: JsonBody =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let p: Provenance = serde_json::from_value(body.provenance)
            .map_err(|e| ApiError::validation("provenance", e.to_string()))?;
        return Ok((body.report_number, p));
    }
    let mut form = Multipart::from_request(req, &()).await?;
    let mut claims = None;
    let mut report = None;
    let mut images = Vec::new();
    let mut videos = Vec::new();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        let media_type = field.content_type().unwrap_or_default().to_owned();
        let bytes = field.bytes().await?;
        let (sha256, size) = (Sha256Digest::of(&bytes), bytes.len() as u64);
        match name.as_str() {
            "claims" => {
                claims = Some(
                    serde_json::from_slice::<ClaimsPart>(&bytes)
                        .map_err(|e| ApiError::validation("claims", e.to_string()))?,
                );
            }
            "report" => {
                report = Some(FileDigest {
                    sha256,
                    media_type,
                    size,
                });
            }
            other => {
                if let Ok(role) = ImageRole::parse(other) {
                    images.push(ImageDigest {
                        role,
                        sha256,
                        media_type,
                        size,
                    });
                } else if let Ok(role) = VideoRole::parse(other) {
                    videos.push(VideoDigest {
                        role,
                        sha256,
                        media_type,
                        size,
                    });
                } else {
                    return Err(ApiError::validation(other, "unknown role"));
                }
            }
        }
    }
    let claims = claims.ok_or_else(|| ApiError::validation("claims", "missing"))?;
    let report = report.ok_or_else(|| ApiError::validation("report", "missing"))?;
    let p = Provenance {
        report,
        images,
        videos,
        stone: claims.stone,
        supersedes: claims.supersedes,
    };
    p.validate()
        .map_err(|e| ApiError::validation("provenance", e.to_string()))?;
    Ok((claims.report_number, p))
}

async fn issue(State(state): State<Arc<MockState>>, req: Request) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    match issue_inner(&state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn issue_inner(state: &MockState, req: Request) -> Result<Response, ApiError> {
    authorise(state, req.headers())?;
    let (report_number, provenance) = read_request(req).await?;
    let supersedes = provenance.supersedes;
    let token = TokenBuilder::new("lab.example", &report_number, provenance)
        .sign(&state.key)
        .map_err(|e| ApiError::validation("token", e.to_string()))?;
    let id = token.id();
    {
        let mut active = state.active.lock().expect("lock");
        if let Some(current) = active.get(&report_number)
            && supersedes != Some(*current)
        {
            return Err(ApiError::ActiveTokenExists {
                report_number,
                current: *current,
            });
        }
        active.insert(report_number.clone(), id);
    }
    state.tokens.lock().expect("lock").insert(id, report_number);
    let leaf = state.leaves.fetch_add(1, Ordering::SeqCst);
    state.issued.fetch_add(1, Ordering::SeqCst);
    let base = state.base.lock().expect("lock").clone();
    let body = serde_json::json!({
        "token_id": id,
        "url": format!("{base}/t/{id}"),
        "token": STANDARD.encode(token.logged_bytes()),
        "leaf_index": leaf,
        "proof": format!("c2sp.org/tlog-proof@v1\nindex {leaf}\n\nmock\n"),
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn revoke(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    revoke_inner(&state, &id, &headers).unwrap_or_else(IntoResponse::into_response)
}

fn revoke_inner(state: &MockState, id: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    authorise(state, headers)?;
    let id: TokenId = id
        .parse()
        .map_err(|_| ApiError::bad_request("not a token id"))?;
    let Some(report_number) = state.tokens.lock().expect("lock").get(&id).cloned() else {
        return Err(ApiError::not_found(format!("no token {id}")));
    };
    state
        .active
        .lock()
        .expect("lock")
        .retain(|rn, t| !(rn == &report_number && *t == id));
    let leaf = state.leaves.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::json!({
        "revocation_id": TokenId(Sha256Digest::of(id.as_bytes()).0),
        "leaf_index": leaf,
        "proof": format!("c2sp.org/tlog-proof@v1\nindex {leaf}\n\nmock\n"),
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}
