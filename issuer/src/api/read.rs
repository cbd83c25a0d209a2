//! Reads about one token: the token itself, its proof, its status, its QR
//! code, and the certified files.

use std::io::SeekFrom;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::token::{Token, TokenId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;
use utoipa::{IntoParams, ToSchema};

use super::openapi as doc;
use super::{TokenPath, parse_token_id};
use crate::app::AppState;
use crate::media::parse_media_id;
use crate::problem::{ApiError, ApiPath, PROBLEM_JSON, Problem};
use crate::proofs::{ProofError, bundle_for, inclusion_proof};
use crate::store::{EntryKind, StoredEntry};

/// `Content-Type` of a token as COSE bytes (RFC 9052 §9.1).
pub const COSE_SIGN1: &str = "application/cose; cose-type=\"cose-sign1\"";
/// Tokens and full tiles never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What the client asked for in `Accept`.
enum Wanted {
    Cose,
    Json,
    Html,
}

fn wanted(headers: &HeaderMap) -> Wanted {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*")
        .to_ascii_lowercase();
    // The first listed type that we serve wins; browsers list text/html first.
    for item in accept.split(',') {
        let media = item.split(';').next().unwrap_or_default().trim();
        match media {
            "application/cose" | "application/octet-stream" | "*/*" | "application/*" => {
                return Wanted::Cose;
            }
            "application/json" => return Wanted::Json,
            "text/html" | "application/xhtml+xml" | "text/*" => return Wanted::Html,
            _ => {}
        }
    }
    Wanted::Cose
}

async fn token_entry(state: &AppState, id: &TokenId) -> Result<StoredEntry, ApiError> {
    match state
        .store()
        .entry_by_token_id(id)
        .await
        .map_err(ApiError::internal)?
    {
        Some(e) if e.kind == EntryKind::Token => Ok(e),
        _ => Err(ApiError::not_found(format!("No token {id} in this log."))),
    }
}

/// The JSON view of a token, `GET /t/{id}` with `Accept: application/json`.
#[derive(Debug, Serialize, ToSchema)]
// Serde ignores this when serialising; utoipa reads it as
// `additionalProperties: false`: the answer has no other members.
#[serde(deny_unknown_fields)]
pub struct TokenView {
    /// The decoded token (`schemas/json/token.schema.json`).
    #[schema(schema_with = doc::decoded_token)]
    pub token: serde_json::Value,
    /// Its index in the log.
    #[schema(minimum = 0)]
    pub leaf_index: u64,
    /// Whether it is active, revoked or superseded.
    pub status: TokenStatus,
    /// Its C2SP `tlog-proof` bundle at the latest checkpoint.
    #[schema(schema_with = doc::proof_bundle)]
    pub proof: String,
}

/// `GET /t/{id}`: COSE bytes for machines, the decoded token with its status
/// and proof as JSON, or a redirect to the verification page for browsers.
#[utoipa::path(
    get,
    path = "/t/{id}",
    tag = "tokens",
    operation_id = "get_token",
    summary = "The token (what the QR code resolves to)",
    description = "Content negotiation on `Accept` (the first listed type served wins): application/cose, application/octet-stream and */* give the COSE_Sign1 bytes, immutable; application/json the decoded token with its status and proof; a browser (text/html) is redirected (303) to the verification page for this URL when the issuer has one, and gets the JSON otherwise.",
    params(TokenPath),
    responses(
        (status = 200, description = "The token",
            content(
                ("application/cose"),
                (TokenView = "application/json"),
            ),
            headers(
                ("Cache-Control" = String, description = "`public, max-age=31536000, immutable` for the COSE bytes"),
                ("Vary" = String, description = "accept"),
            )),
        (status = 303, description = "Redirect to the verification page for this token URL",
            headers(("Location" = String, description = "{verify_url}?url={token URL}"))),
        (status = 404, description = "No such token in this log (or a malformed id)", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
pub async fn token(
    State(state): State<AppState>,
    ApiPath(TokenPath { id }): ApiPath<TokenPath>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_token_id(&id)?;
    let entry = token_entry(&state, &id).await?;
    match wanted(&headers) {
        Wanted::Cose => Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(COSE_SIGN1)),
                (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
                (header::VARY, HeaderValue::from_static("accept")),
            ],
            entry.statement,
        )
            .into_response()),
        Wanted::Html if state.config().verify_url.is_some() => {
            let verify = state.config().verify_url.clone().unwrap_or_default();
            let sep = if verify.contains('?') { '&' } else { '?' };
            let target = format!("{verify}{sep}url={}", percent_encode(&state.token_url(&id)));
            Ok(Redirect::to(&target).into_response())
        }
        Wanted::Json | Wanted::Html => {
            let token = Token::parse(&entry.statement).map_err(ApiError::internal)?;
            let status = status_view(&state, &id).await?;
            let proof = bundle_for(state.store().as_ref(), &id)
                .await
                .map_err(proof_error)?;
            let body = TokenView {
                token: token_view(&token),
                leaf_index: entry.leaf_index,
                status,
                proof: proof.to_text(),
            };
            Ok((
                [(header::VARY, HeaderValue::from_static("accept"))],
                axum::Json(body),
            )
                .into_response())
        }
    }
}

/// The decoded token (`schemas/json/token.schema.json`).
pub fn token_view(token: &Token) -> serde_json::Value {
    let mut view = json!({
        "id": token.id(),
        "alg": token.alg().cose_value(),
        "kid": hex::encode(token.kid().as_bytes()),
        "claims": token.claims(),
        "provenance": token.provenance(),
    });
    if let (Some(chain), Some(obj)) = (token.x5chain(), view.as_object_mut()) {
        obj.insert(
            "x5chain".into(),
            chain.iter().map(|c| STANDARD.encode(c)).collect(),
        );
    }
    view
}

/// `?tree_size=N` of `GET /v1/tokens/{id}/proof`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProofQuery {
    /// Prove inclusion at this stored checkpoint instead of the latest.
    #[param(minimum = 1)]
    pub tree_size: Option<u64>,
}

/// `GET /v1/tokens/{id}/proof`: the C2SP `tlog-proof` bundle, at the
/// latest checkpoint or at `?tree_size=` (a checkpoint the log stored).
#[utoipa::path(
    get,
    path = "/v1/tokens/{id}/proof",
    tag = "tokens",
    operation_id = "get_proof",
    summary = "Proof bundle (C2SP tlog-proof)",
    description = "The token's inclusion proof with the signed checkpoint it leads to, at the latest checkpoint or at `tree_size` (a checkpoint the log stored). Works for revocations too (by their id).",
    params(TokenPath, ProofQuery),
    responses(
        (status = 200, description = "tlog-proof text", body = doc::ProofBundle, content_type = "text/plain"),
        (status = 400, description = "Malformed query", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such entry, no checkpoint of that size, or the entry is not in that tree", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
pub async fn proof(
    State(state): State<AppState>,
    ApiPath(TokenPath { id }): ApiPath<TokenPath>,
    query: Result<Query<ProofQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let id = parse_token_id(&id)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let store = state.store().as_ref();
    let text = match query.tree_size {
        None => bundle_for(store, &id).await.map_err(proof_error)?.to_text(),
        Some(size) if size > super::MAX_STORED_SIZE => {
            return Err(ApiError::not_found(format!(
                "The log has no checkpoint of size {size}."
            )));
        }
        Some(size) => {
            let entry = store
                .entry_by_token_id(&id)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::not_found(format!("No entry {id} in this log.")))?;
            let checkpoint = store
                .checkpoint_at(size)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| {
                    ApiError::not_found(format!("The log has no checkpoint of size {size}."))
                })?;
            if entry.leaf_index >= size {
                return Err(ApiError::not_found(format!(
                    "Entry {id} is at index {}, not in the tree of size {size}.",
                    entry.leaf_index
                )));
            }
            let proof = inclusion_proof(store, entry.leaf_index, size)
                .await
                .map_err(proof_error)?;
            loupe_schemas::bundle::ProofBundle::new(entry.leaf_index, proof.path, checkpoint.note)
                .to_text()
        }
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// One entry that ended a token's life, with its proof.
#[derive(Debug, Serialize, ToSchema)]
// Serde ignores this when serialising; utoipa reads it as
// `additionalProperties: false`: the answer has no other members.
#[serde(deny_unknown_fields)]
pub struct EndingEntry {
    /// Its id: of the revocation, or of the newer token.
    #[schema(schema_with = doc::token_id)]
    pub id: TokenId,
    /// Its index in the log.
    #[schema(minimum = 0)]
    pub leaf_index: u64,
    /// Why, for a revocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    /// The entry itself (COSE_Sign1, standard base64), so a client can
    /// check it.
    #[schema(schema_with = statement_bytes)]
    pub statement: String,
    /// Its C2SP `tlog-proof` bundle.
    #[schema(schema_with = doc::proof_bundle)]
    pub proof: String,
}

/// The schema of [`EndingEntry::statement`].
fn statement_bytes() -> utoipa::openapi::schema::ObjectBuilder {
    doc::base64_bytes("The COSE_Sign1 entry, standard base64")
}

/// Where a token is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// Neither revoked nor superseded.
    Active,
    /// A revocation of it is logged.
    Revoked,
    /// A newer token for the same report names it in `supersedes`.
    Superseded,
}

/// A token's status, with the proof of what ended it.
#[derive(Debug, Serialize, ToSchema)]
// Serde ignores this when serialising; utoipa reads it as
// `additionalProperties: false`: the answer has no other members.
#[serde(deny_unknown_fields)]
pub struct TokenStatus {
    /// The token.
    #[schema(schema_with = doc::token_id)]
    pub token_id: TokenId,
    /// `revoked` when a revocation is logged (even if it was superseded
    /// too), else `superseded` when a newer token replaces it, else
    /// `active`.
    pub status: Lifecycle,
    /// Its index in the log.
    #[schema(minimum = 0)]
    pub leaf_index: u64,
    /// The revocation, or `null`.
    #[schema(required = true)]
    pub revoked_by: Option<EndingEntry>,
    /// The superseding token, or `null`.
    #[schema(required = true)]
    pub superseded_by: Option<EndingEntry>,
}

async fn status_view(state: &AppState, id: &TokenId) -> Result<TokenStatus, ApiError> {
    let store = state.store().as_ref();
    let status = store
        .token_status(id)
        .await
        .map_err(ApiError::internal)?
        .filter(|s| s.entry.kind == EntryKind::Token)
        .ok_or_else(|| ApiError::not_found(format!("No token {id} in this log.")))?;
    let ending = |entry: StoredEntry, reason: Option<String>| async move {
        let proof = bundle_for(store, &entry.token_id)
            .await
            .map_err(proof_error)?;
        Ok::<_, ApiError>(EndingEntry {
            id: entry.token_id,
            leaf_index: entry.leaf_index,
            reason,
            statement: STANDARD.encode(&entry.statement),
            proof: proof.to_text(),
        })
    };
    let revoked_by = match status.revoked_by {
        Some(e) => {
            let reason = loupe_schemas::token::SignedRevocation::parse(&e.statement)
                .ok()
                .map(|r| r.revocation().reason.clone());
            Some(ending(e, reason).await?)
        }
        None => None,
    };
    let superseded_by = match status.superseded_by {
        Some(e) => Some(ending(e, None).await?),
        None => None,
    };
    let word = if revoked_by.is_some() {
        Lifecycle::Revoked
    } else if superseded_by.is_some() {
        Lifecycle::Superseded
    } else {
        Lifecycle::Active
    };
    Ok(TokenStatus {
        token_id: *id,
        status: word,
        leaf_index: status.entry.leaf_index,
        revoked_by,
        superseded_by,
    })
}

/// `GET /v1/tokens/{id}/status`: `active`, `revoked` or `superseded`, with
/// the revoking or superseding entry and its proof.
#[utoipa::path(
    get,
    path = "/v1/tokens/{id}/status",
    tag = "tokens",
    operation_id = "get_status",
    summary = "Active, revoked or superseded, with the proof of what ended it",
    params(TokenPath),
    responses(
        (status = 200, description = "Status (`Cache-Control: no-cache`)", body = TokenStatus, content_type = "application/json"),
        (status = 404, description = "No such token in this log (or a malformed id)", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
pub async fn status(
    State(state): State<AppState>,
    ApiPath(TokenPath { id }): ApiPath<TokenPath>,
) -> Result<Response, ApiError> {
    let id = parse_token_id(&id)?;
    let view = status_view(&state, &id).await?;
    Ok(([(header::CACHE_CONTROL, "no-cache")], axum::Json(view)).into_response())
}

/// `GET /v1/tokens/{id}/qr.svg`.
#[utoipa::path(
    get,
    path = "/v1/tokens/{id}/qr.svg",
    tag = "tokens",
    operation_id = "get_qr_svg",
    summary = "QR code of the token URL (SVG)",
    params(TokenPath),
    responses(
        (status = 200, description = "SVG, immutable", body = String, content_type = "image/svg+xml"),
        (status = 404, description = "No such token in this log (or a malformed id)", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
pub async fn qr_svg(
    State(state): State<AppState>,
    ApiPath(TokenPath { id }): ApiPath<TokenPath>,
) -> Result<Response, ApiError> {
    let id = parse_token_id(&id)?;
    token_entry(&state, &id).await?;
    let svg = crate::qr::svg(&state.token_url(&id)).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, IMMUTABLE),
        ],
        svg,
    )
        .into_response())
}

/// `GET /v1/tokens/{id}/qr.png`.
#[utoipa::path(
    get,
    path = "/v1/tokens/{id}/qr.png",
    tag = "tokens",
    operation_id = "get_qr_png",
    summary = "QR code of the token URL (PNG)",
    params(TokenPath),
    responses(
        (status = 200, description = "PNG, immutable", content(("image/png"))),
        (status = 404, description = "No such token in this log (or a malformed id)", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
pub async fn qr_png(
    State(state): State<AppState>,
    ApiPath(TokenPath { id }): ApiPath<TokenPath>,
) -> Result<Response, ApiError> {
    let id = parse_token_id(&id)?;
    token_entry(&state, &id).await?;
    let png = crate::qr::png(&state.token_url(&id), 8).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, IMMUTABLE),
        ],
        png,
    )
        .into_response())
}

/// `GET /media/{sha256}`: a certified file, streamed, cached forever (its
/// name is its digest). The media type is recognised from the content.
#[utoipa::path(
    get,
    path = "/media/{sha256}",
    tag = "media",
    operation_id = "get_media",
    summary = "A certified file, by its SHA-256",
    description = "A file uploaded with a multipart issuance, immutable (its name is its digest). The media type is recognised from the content: PDF, PNG, JPEG, MP4, WebP, or application/octet-stream.",
    params(("sha256" = String, Path, pattern = "^[0-9a-f]{64}$", description = "The file's SHA-256, 64 lowercase hex digits")),
    responses(
        (status = 200, description = "The file",
            content(
                ("application/pdf"),
                ("image/png"),
                ("image/jpeg"),
                ("video/mp4"),
                ("image/webp"),
                ("application/octet-stream"),
            ),
            headers(("ETag" = String, description = "The SHA-256 in quotes"))),
        (status = 404, description = "No such file here (or a malformed name)", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
pub async fn media(
    State(state): State<AppState>,
    ApiPath(sha): ApiPath<String>,
) -> Result<Response, ApiError> {
    let digest = parse_media_id(&sha).map_err(|_| {
        ApiError::not_found("A media name is the 64 lowercase hex digits of its SHA-256.")
    })?;
    let mut found = state
        .media()
        .get(&digest)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No file {sha} here.")))?;
    let mut head = [0u8; 16];
    let n = found
        .file
        .read(&mut head)
        .await
        .map_err(ApiError::internal)?;
    found
        .file
        .seek(SeekFrom::Start(0))
        .await
        .map_err(ApiError::internal)?;
    let content_type = sniff(head.get(..n).unwrap_or_default());
    let body = Body::from_stream(ReaderStream::new(found.file));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_LENGTH, found.size.to_string()),
            (header::CACHE_CONTROL, IMMUTABLE.to_owned()),
            (header::ETAG, format!("\"{sha}\"")),
        ],
        body,
    )
        .into_response())
}

/// The media type of a certified file, from its first bytes.
fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(b"%PDF-") {
        "application/pdf"
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if head.len() >= 12 && head.get(4..8) == Some(b"ftyp") {
        "video/mp4"
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        "image/webp"
    } else {
        "application/octet-stream"
    }
}

/// Percent-encodes a URL for use as a query value.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn proof_error(e: ProofError) -> ApiError {
    match e {
        ProofError::NotFound(id) => ApiError::not_found(format!("No entry {id} in this log.")),
        other => ApiError::internal(other),
    }
}
