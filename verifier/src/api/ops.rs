//! Operations: health, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// `GET /healthz`: 200 while the server answers, with the number of
/// trusted issuers and whether the verifier may fetch.
pub async fn healthz(State(state): State<AppState>) -> Response {
    axum::Json(json!({
        "status": "ok",
        "issuers": state.verifier.trust().issuers().count(),
        "online": state.verifier.fetcher().is_some(),
    }))
    .into_response()
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut text = state.metrics.render();
            state
                .http
                .stats()
                .write_prometheus(&mut text, "loupe_verifier");
            text
        },
    )
        .into_response()
}

/// The OpenAPI 3.1 document: `verifier/openapi.json` with the normative
/// JSON Schemas of `schemas/json/` embedded under `components/schemas`
/// (each keeps its `$id`, so their relative references resolve inside the
/// document).
#[must_use]
pub fn openapi_document() -> serde_json::Value {
    const SCHEMAS: [(&str, &str); 4] = [
        (
            "verdict",
            include_str!("../../../schemas/json/verdict.schema.json"),
        ),
        (
            "provenance",
            include_str!("../../../schemas/json/provenance.schema.json"),
        ),
        (
            "token",
            include_str!("../../../schemas/json/token.schema.json"),
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

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    static DOC: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| openapi_document().to_string());
    ([(header::CONTENT_TYPE, "application/json")], DOC.as_str()).into_response()
}
