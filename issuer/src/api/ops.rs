//! Operations: health, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::problem::{ApiError, PROBLEM_JSON, Problem};
use crate::rotation::rfc3339;

/// Whether this instance sequences the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// This instance sequences the log.
    Leader,
    /// It hands writes to the instance that does (PostgreSQL scale-out).
    Standby,
}

/// The health of this instance: the database answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(schema_with = ok)]
    pub status: &'static str,
    /// The log's size.
    #[schema(minimum = 0)]
    pub tree_size: u64,
    /// This instance's role.
    pub sequencer: Role,
}

/// The schema of [`Health::status`].
fn ok() -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["ok"]))
}

/// `GET /healthz`: 200 with the tree size and this instance's role
/// (`leader` when it sequences the log, `standby` otherwise) when the
/// database answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "get_health",
    summary = "Health",
    responses(
        (status = 200, description = "The database answers", body = Health, content_type = "application/json"),
        (status = 503, description = "The database does not answer, or the service is unavailable", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
pub async fn healthz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let size = state.store().tree_size().await.map_err(|e| {
        tracing::warn!(error = %e, "health check: database");
        ApiError::Unavailable {
            detail: "The database does not answer.".into(),
            retry_after: None,
        }
    })?;
    let role = if state.leadership().is_leader() {
        Role::Leader
    } else {
        Role::Standby
    };
    Ok(axum::Json(Health {
        status: "ok",
        tree_size: size,
        sequencer: role,
    })
    .into_response())
}

/// What a verifier needs to trust this issuer.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerDescription {
    /// The issuer origin, the tokens' `iss`.
    pub origin: String,
    /// The public base URL (token URLs are `{url}/t/{id}`).
    pub url: String,
    /// The token-signing keys: the current one first, then retired ones.
    pub keys: Vec<PublishedKey>,
    /// The log.
    pub log: LogDescription,
}

/// One published token-signing key.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedKey {
    /// The Ed25519 public key, standard base64 of 32 bytes.
    #[schema(content_encoding = "base64")]
    pub public_key: String,
    /// Its key id: the first 16 bytes of its SHA-256, hex.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub kid: String,
    /// The start of its validity window for `iat` (RFC 3339), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    pub not_before: Option<String>,
    /// The end of its validity window for `iat` (RFC 3339), for a retired
    /// key.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    pub not_after: Option<String>,
    /// When it was stolen (RFC 3339), if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    pub compromised_at: Option<String>,
    /// With `compromised_at`: the size of the last checkpoint known to
    /// have been published before the theft.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0)]
    pub logged_before: Option<u64>,
}

/// The issuer's transparency log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogDescription {
    /// The log origin, the first line of its checkpoints.
    pub origin: String,
    /// The current note verifier key (`<name>+<hash>+<key>`).
    pub key: String,
    /// Every note verifier key signing checkpoints now, the current one
    /// first.
    pub keys: Vec<String>,
    /// Where the log is served (`{url}/checkpoint`, `{url}/tile/...`).
    pub url: String,
}

/// `GET /.well-known/loupe-issuer`: what a verifier needs to trust this
/// issuer (`loupe trust add {url}`): its origin and URL, its token-signing
/// keys (the current one and retired ones, each with its validity window
/// and any compromise record), and its log's origin, note verifier keys
/// (`key`: the current one; `keys`: every key signing checkpoints now) and
/// URL. Fetched keys prove nothing by themselves: verifiers compare the
/// fingerprints out of band.
#[utoipa::path(
    get,
    path = "/.well-known/loupe-issuer",
    tag = "operations",
    operation_id = "get_issuer_description",
    summary = "What a verifier needs to trust this issuer",
    description = "The issuer's origin and URL, its token-signing keys (the current one and retired ones, each with its validity window and any compromise record), and its log's origin, note verifier keys and URL; `loupe trust add {url}` reads it. Fetched keys prove nothing by themselves: compare the fingerprints out of band.",
    responses(
        (status = 200, description = "The description (`Cache-Control: public, max-age=300`)", body = IssuerDescription, content_type = "application/json"),
    ),
)]
pub async fn issuer_description(State(state): State<AppState>) -> Result<Response, ApiError> {
    let description = match state.description().get() {
        Some(d) => d.clone(),
        None => {
            let d = serde_json::to_value(describe(&state).map_err(ApiError::internal)?)
                .map_err(ApiError::internal)?;
            state.description().get_or_init(|| d).clone()
        }
    };
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(description),
    )
        .into_response())
}

/// One published token-signing key.
fn published_key(
    key: &ed25519_dalek::VerifyingKey,
    not_before: Option<u64>,
    not_after: Option<u64>,
    compromise: Option<(u64, u64)>,
) -> PublishedKey {
    PublishedKey {
        public_key: base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            key.as_bytes(),
        ),
        kid: hex::encode(loupe_schemas::token::Kid::of(key).as_bytes()),
        not_before: not_before.map(rfc3339),
        not_after: not_after.map(rfc3339),
        compromised_at: compromise.map(|(at, _)| rfc3339(at)),
        logged_before: compromise.map(|(_, logged_before)| logged_before),
    }
}

/// Builds the issuer description from the configuration and key files.
fn describe(state: &AppState) -> Result<IssuerDescription, crate::keys::KeyFileError> {
    let config = state.config();
    let history = &config.key_history;
    let mut log_keys = vec![
        crate::keys::load_log_signer(&config.log_key, &config.log_origin)?
            .verifier()
            .to_vkey(),
    ];
    for path in &history.previous_log_keys {
        log_keys.push(
            crate::keys::load_log_signer(path, &config.log_origin)?
                .verifier()
                .to_vkey(),
        );
    }
    let mut keys = vec![published_key(
        &state.issuer_key().verifying_key(),
        history.issuer_key_not_before,
        None,
        None,
    )];
    for retired in &history.retired_issuer_keys {
        let key = crate::keys::load_verifying_key(&retired.public_key)?;
        keys.push(published_key(
            &key,
            retired.not_before,
            Some(retired.not_after),
            retired.compromise,
        ));
    }
    Ok(IssuerDescription {
        origin: config.issuer_origin.clone(),
        url: config.public_base_url.clone(),
        keys,
        log: LogDescription {
            origin: config.log_origin.clone(),
            key: log_keys.first().cloned().unwrap_or_default(),
            keys: log_keys,
            url: config.public_base_url.clone(),
        },
    })
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "get_metrics",
    summary = "Prometheus metrics",
    description = "Tokens issued, revocations, rejected writes, tree size, `loupe_sequencer_leader` (1 or 0), write latency histogram; on the instance that sequences, batch sizes (`loupe_batch_entries`), batch commit times (`loupe_batch_commit_seconds`) and `loupe_batches_failed_total`; HTTP connection counters.",
    responses(
        (status = 200, description = "Prometheus exposition text, version 0.0.4", body = String, content_type = "text/plain"),
    ),
)]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let size = state
        .store()
        .tree_size()
        .await
        .map_err(ApiError::internal)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut text = state.metrics().render(size, state.leadership().is_leader());
            if let Some(sequencer) = state.leadership().sequencer() {
                sequencer.batch_stats().write_prometheus(&mut text);
            }
            state
                .http_server()
                .stats()
                .write_prometheus(&mut text, "loupe");
            text
        },
    )
        .into_response())
}

/// `GET /openapi.json`: this document, generated from the code (see
/// [`super::openapi`]).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "get_openapi",
    summary = "This document (OpenAPI 3.1)",
    description = "Generated from the code; the normative JSON Schemas of the token claims are embedded under `components/schemas`.",
    responses(
        (status = 200, description = "OpenAPI 3.1", body = Object, content_type = "application/json"),
    ),
)]
pub async fn openapi() -> Response {
    static DOC: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| super::openapi_document().to_string());
    ([(header::CONTENT_TYPE, "application/json")], DOC.as_str()).into_response()
}
