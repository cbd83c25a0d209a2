//! Operations: health, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::problem::ApiError;
use crate::rotation::rfc3339;

/// `GET /healthz`: 200 with the tree size and this instance's role
/// (`leader` when it sequences the log, `standby` otherwise) when the
/// database answers.
pub async fn healthz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let size = state.store().tree_size().await.map_err(|e| {
        tracing::warn!(error = %e, "health check: database");
        ApiError::Unavailable {
            detail: "The database does not answer.".into(),
            retry_after: None,
        }
    })?;
    let role = if state.leadership().is_leader() {
        "leader"
    } else {
        "standby"
    };
    Ok(axum::Json(json!({ "status": "ok", "tree_size": size, "sequencer": role })).into_response())
}

/// `GET /.well-known/loupe-issuer`: what a verifier needs to trust this
/// issuer (`loupe trust add {url}`): its origin and URL, its token-signing
/// keys (the current one and retired ones, each with its validity window
/// and any compromise record), and its log's origin, note verifier keys
/// (`key`: the current one; `keys`: every key signing checkpoints now) and
/// URL. Fetched keys prove nothing by themselves: verifiers compare the
/// fingerprints out of band.
pub async fn issuer_description(State(state): State<AppState>) -> Result<Response, ApiError> {
    let description = match state.description().get() {
        Some(d) => d.clone(),
        None => {
            let d = describe(&state).map_err(ApiError::internal)?;
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
fn key_json(
    key: &ed25519_dalek::VerifyingKey,
    not_before: Option<u64>,
    not_after: Option<u64>,
    compromise: Option<(u64, u64)>,
) -> serde_json::Value {
    let mut k = json!({
        "public_key": base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            key.as_bytes()
        ),
        "kid": hex::encode(loupe_schemas::token::Kid::of(key).as_bytes()),
    });
    if let Some(t) = not_before {
        k["not_before"] = json!(rfc3339(t));
    }
    if let Some(t) = not_after {
        k["not_after"] = json!(rfc3339(t));
    }
    if let Some((at, logged_before)) = compromise {
        k["compromised_at"] = json!(rfc3339(at));
        k["logged_before"] = json!(logged_before);
    }
    k
}

/// Builds the issuer description from the configuration and key files.
fn describe(state: &AppState) -> Result<serde_json::Value, crate::keys::KeyFileError> {
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
    let mut keys = vec![key_json(
        &state.issuer_key().verifying_key(),
        history.issuer_key_not_before,
        None,
        None,
    )];
    for retired in &history.retired_issuer_keys {
        let key = crate::keys::load_verifying_key(&retired.public_key)?;
        keys.push(key_json(
            &key,
            retired.not_before,
            Some(retired.not_after),
            retired.compromise,
        ));
    }
    Ok(json!({
        "origin": config.issuer_origin,
        "url": config.public_base_url,
        "keys": keys,
        "log": {
            "origin": config.log_origin,
            "key": log_keys[0],
            "keys": log_keys,
            "url": config.public_base_url,
        },
    }))
}

/// `GET /metrics`: Prometheus text.
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
            state
                .http_server()
                .stats()
                .write_prometheus(&mut text, "loupe");
            text
        },
    )
        .into_response())
}

/// The OpenAPI 3.1 document: `issuer/openapi.json` with the normative JSON
/// Schemas of `schemas/json/` embedded under `components/schemas`, so the
/// document is self-contained and the schemas have one source.
#[must_use]
pub fn openapi_document() -> serde_json::Value {
    const SCHEMAS: [(&str, &str); 4] = [
        (
            "provenance",
            include_str!("../../../schemas/json/provenance.schema.json"),
        ),
        (
            "token",
            include_str!("../../../schemas/json/token.schema.json"),
        ),
        (
            "issuance",
            include_str!("../../../schemas/json/issuance.schema.json"),
        ),
        (
            "problem",
            include_str!("../../../schemas/json/problem.schema.json"),
        ),
    ];
    let mut doc: serde_json::Value =
        serde_json::from_str(include_str!("../../openapi.json")).unwrap_or_else(|_| json!({}));
    if let Some(components) = doc
        .pointer_mut("/components/schemas")
        .and_then(|c| c.as_object_mut())
    {
        for (name, text) in SCHEMAS {
            if let Ok(schema) = serde_json::from_str(text) {
                components.insert(name.to_owned(), schema);
            }
        }
    }
    doc
}

/// `GET /openapi.json`: the API description (OpenAPI 3.1).
pub async fn openapi() -> Response {
    static DOC: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| openapi_document().to_string());
    ([(header::CONTENT_TYPE, "application/json")], DOC.as_str()).into_response()
}
