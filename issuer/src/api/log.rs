//! The log itself: the latest checkpoint, consistency proofs, and the C2SP
//! `tlog-tiles` read paths that mirrors and monitors fetch.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::tiles::TilePath;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::read::proof_error;
use crate::app::AppState;
use crate::problem::{ApiError, ApiPath, PROBLEM_JSON, Problem};
use crate::proofs::{consistency_proof, entry_bundle, tile_data};

/// `GET /checkpoint`: the latest signed checkpoint (C2SP `tlog-checkpoint`).
#[utoipa::path(
    get,
    path = "/checkpoint",
    tag = "log",
    operation_id = "get_checkpoint",
    summary = "Latest signed checkpoint (C2SP tlog-checkpoint in a signed note)",
    responses(
        (status = 200, description = "Signed note (`Cache-Control: no-cache`)", body = String, content_type = "text/plain"),
        (status = 503, description = "The log has no checkpoint yet, or the service is unavailable", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
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
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree size.
    #[param(minimum = 0)]
    pub old: u64,
    /// The newer tree size (at most the latest checkpoint's).
    #[param(minimum = 0)]
    pub new: u64,
}

/// An RFC 9162 consistency proof.
#[derive(Debug, Serialize, ToSchema)]
// Serde ignores this when serialising; utoipa reads it as
// `additionalProperties: false`: the answer has no other members.
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older tree size.
    #[schema(minimum = 0)]
    pub old: u64,
    /// The newer tree size.
    #[schema(minimum = 0)]
    pub new: u64,
    /// The proof's hashes (RFC 9162 §2.1.4), each standard base64 of 32
    /// bytes.
    #[schema(schema_with = proof_path)]
    pub path: Vec<String>,
}

/// The schema of [`ConsistencyProof::path`].
fn proof_path() -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new().items(
        super::openapi::base64_bytes("A SHA-256 node hash, standard base64")
            .pattern(Some("^[A-Za-z0-9+/]{43}=$")),
    )
}

/// `GET /v1/consistency?old=&new=`: the RFC 9162 consistency proof between
/// two tree sizes, as base64 hashes.
#[utoipa::path(
    get,
    path = "/v1/consistency",
    tag = "log",
    operation_id = "get_consistency",
    summary = "RFC 9162 consistency proof between two tree sizes",
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "Proof", body = ConsistencyProof, content_type = "application/json"),
        (status = 400, description = "Malformed query, or not old <= new <= the latest checkpoint's size", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
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
    Ok(axum::Json(ConsistencyProof {
        old: q.old,
        new: q.new,
        path,
    })
    .into_response())
}

/// `GET /tile/...`: hash tiles `tile/<L>/<N>[.p/<W>]` and entry bundles
/// `tile/entries/<N>[.p/<W>]`, exactly as C2SP `tlog-tiles` lays them out.
/// Full tiles are immutable; partial ones change only by being replaced by
/// wider ones.
#[utoipa::path(
    get,
    path = "/tile/{path}",
    tag = "log",
    operation_id = "get_tile",
    summary = "C2SP tlog-tiles: hash tiles tile/<L>/<N>[.p/<W>] and entry bundles tile/entries/<N>[.p/<W>]",
    description = "The tiles that mirrors and monitors fetch, exactly as C2SP tlog-tiles lays them out. Full tiles are immutable; partial ones change only by being replaced by wider ones.",
    params(("path" = String, Path, description = "The rest of the path, slashes included: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, with N in groups of three digits (`x001/234`)", example = "0/000.p/5")),
    responses(
        (status = 200, description = "Tile bytes (`Cache-Control` immutable for full tiles, a minute for partial ones)", content(("application/octet-stream"))),
        (status = 404, description = "Not a tile path, or the log has no such tile (yet)", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
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
