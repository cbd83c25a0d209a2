//! The log itself: the latest checkpoint, consistency proofs, and the C2SP
//! `tlog-tiles` read paths that mirrors and monitors fetch.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::tiles::TilePath;
use serde::Deserialize;
use serde_json::json;

use super::read::proof_error;
use crate::app::AppState;
use crate::problem::{ApiError, ApiPath};
use crate::proofs::{consistency_proof, entry_bundle, tile_data};

/// `GET /checkpoint`: the latest signed checkpoint (C2SP `tlog-checkpoint`).
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let cp = state
        .store()
        .latest_checkpoint()
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::Unavailable {
            detail: "The log has no checkpoint yet.".into(),
            retry_after: None,
        })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        cp.note,
    )
        .into_response())
}

/// `?old=&new=` of `GET /v1/consistency`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub old: u64,
    /// The newer tree size (at most the latest checkpoint's).
    pub new: u64,
}

/// `GET /v1/consistency?old=&new=`: the RFC 9162 consistency proof between
/// two tree sizes, as base64 hashes.
pub async fn consistency(
    State(state): State<AppState>,
    query: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let size = state
        .store()
        .tree_size()
        .await
        .map_err(ApiError::internal)?;
    if q.old > q.new || q.new > size {
        return Err(ApiError::bad_request(format!(
            "Need old <= new <= {size} (the latest checkpoint's size); got old={} new={}.",
            q.old, q.new
        )));
    }
    let proof = consistency_proof(state.store().as_ref(), q.old, q.new)
        .await
        .map_err(proof_error)?;
    let path: Vec<String> = proof.path.iter().map(|h| STANDARD.encode(h)).collect();
    Ok(axum::Json(json!({ "old": q.old, "new": q.new, "path": path })).into_response())
}

/// `GET /tile/...`: hash tiles `tile/<L>/<N>[.p/<W>]` and entry bundles
/// `tile/entries/<N>[.p/<W>]`, exactly as C2SP `tlog-tiles` lays them out.
/// Full tiles are immutable; partial ones change only by being replaced by
/// wider ones.
pub async fn tile(
    State(state): State<AppState>,
    ApiPath(rest): ApiPath<String>,
) -> Result<Response, ApiError> {
    let path = format!("tile/{rest}");
    let parsed = TilePath::parse(&path)
        .map_err(|e| ApiError::not_found(format!("Not a tile path: {e}.")))?;
    let coords = parsed.coords();
    // The store's integers are signed 64-bit: a tile or entry beyond them
    // cannot exist, and asking for it would be a store error (500).
    let first_entry = match &parsed {
        TilePath::Hashes(c) => Some(c.index()),
        TilePath::Entries(c) => c.index().checked_mul(256),
    };
    if first_entry.is_none_or(|i| i > super::MAX_STORED_SIZE) {
        return Err(ApiError::not_found(format!("The log has no {path}.")));
    }
    let store = state.store().as_ref();
    let data = match parsed {
        TilePath::Hashes(c) => tile_data(store, c.level(), c.index(), c.width()).await,
        TilePath::Entries(c) => entry_bundle(store, c.index(), c.width()).await,
    }
    .map_err(proof_error)?
    .ok_or_else(|| ApiError::not_found(format!("The log has no {path} (yet).")))?;
    let cache = if coords.is_full() {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        data,
    )
        .into_response())
}
