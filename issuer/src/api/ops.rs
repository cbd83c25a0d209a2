//! Operations: health, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::problem::ApiError;

/// `GET /healthz`: 200 with the tree size when the database answers.
pub async fn healthz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let size = state.store().tree_size().await.map_err(|e| {
        tracing::warn!(error = %e, "health check: database");
        ApiError::Unavailable {
            detail: "The database does not answer.".into(),
            retry_after: None,
        }
    })?;
    Ok(axum::Json(json!({ "status": "ok", "tree_size": size })).into_response())
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
        state.metrics().render(size),
    )
        .into_response())
}

/// `GET /openapi.json`: the API description (OpenAPI 3.1).
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../../openapi.json"),
    )
        .into_response()
}
