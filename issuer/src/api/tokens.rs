//! Writes: issuing tokens and revoking them (lab credential required).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest as _, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::json::{StrictJsonError, check_unique_keys};
use loupe_schemas::token::{
    FileDigest, ImageDigest, ImageRole, MediaRole as _, Provenance, RevocationBuilder, Statement,
    Stone, TokenBuilder, TokenId, VideoDigest, VideoRole,
};
use serde::{Deserialize, Serialize};

use super::parse_token_id;
use crate::apikey::BearerKey;
use crate::app::AppState;
use crate::media::StagedMedia;
use crate::problem::{ApiError, ApiPath};
use crate::sequencer::{Sequenced, SubmitError};

/// `POST /v1/tokens` with `application/json`: the provenance claims with
/// digests the lab computed, and the report number.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// The lab's report number (the token's `sub`).
    pub report_number: String,
    /// The report file.
    pub report: FileDigest,
    /// The photos, at most one per role.
    #[serde(default)]
    pub images: Vec<ImageDigest>,
    /// The videos.
    #[serde(default)]
    pub videos: Vec<VideoDigest>,
    /// The stone's facts.
    pub stone: Stone,
    /// The token this one replaces.
    #[serde(default)]
    pub supersedes: Option<TokenId>,
}

/// The `claims` part of a multipart `POST /v1/tokens`: everything but the
/// files, whose digests the service computes while storing them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultipartClaims {
    /// The lab's report number (the token's `sub`).
    pub report_number: String,
    /// The stone's facts.
    pub stone: Stone,
    /// The token this one replaces.
    #[serde(default)]
    pub supersedes: Option<TokenId>,
}

/// `201 Created` for a token (`schemas/json/issuance.schema.json`).
#[derive(Debug, Serialize)]
pub struct Issued {
    /// The token id.
    pub token_id: TokenId,
    /// `{public_base_url}/t/{token_id}`: what the QR code holds.
    pub url: String,
    /// The COSE_Sign1 token, standard base64.
    pub token: String,
    /// Its index in the log.
    pub leaf_index: u64,
    /// The C2SP `tlog-proof` bundle.
    pub proof: String,
}

/// `POST /v1/tokens/{id}/revocations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why (shown to verifiers; no personal data).
    pub reason: String,
}

/// `201 Created` for a revocation.
#[derive(Debug, Serialize)]
pub struct Revoked {
    /// The revocation's id (SHA-256 of its logged bytes).
    pub revocation_id: TokenId,
    /// The token it revokes.
    pub revokes: TokenId,
    /// Its index in the log.
    pub leaf_index: u64,
    /// The C2SP `tlog-proof` bundle of the revocation.
    pub proof: String,
}

/// `POST /v1/tokens`.
pub async fn issue(
    State(state): State<AppState>,
    BearerKey(key): BearerKey,
    request: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    state.authorize(key).await?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    // Files a multipart request stores are removed again if the request is
    // refused, dropped or fails before its token is handed to the log.
    let mut staged = state.media().stage();
    let (report_number, provenance) = if is_json(&request) {
        let body = read_limited(request, state.config().max_json_body).await?;
        let req: IssueRequest = parse_json(&body)?;
        let provenance = Provenance {
            report: req.report,
            images: req.images,
            videos: req.videos,
            stone: req.stone,
            supersedes: req.supersedes,
        };
        (req.report_number, provenance)
    } else if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &state).await?;
        receive_capture(&state, multipart, &mut staged).await?
    } else {
        return Err(ApiError::UnsupportedMediaType {
            detail: "Send application/json (digests) or multipart/form-data (files).".into(),
        });
    };
    provenance.validate()?;

    let token = TokenBuilder::new(
        state.config().issuer_origin.clone(),
        report_number.clone(),
        provenance,
    )
    .sign(state.issuer_key())
    .map_err(|e| ApiError::Validation {
        field: None,
        detail: e.to_string(),
    })?;
    let id = token.id();
    let bytes = token.to_bytes();
    // From here the token may be logged even if this request is dropped.
    staged.keep_on_drop();
    let sequenced = match state.leadership().submit(Statement::Token(token)).await {
        Ok(s) => s,
        Err(e) => {
            if e.is_refusal() {
                staged.discard();
            }
            return Err(submit_error(&state, e, Some(&report_number)));
        }
    };
    staged.keep();
    state.metrics().token_issued(started.elapsed());
    let url = state.token_url(&id);
    let body = Issued {
        token_id: id,
        url: url.clone(),
        token: STANDARD.encode(bytes),
        leaf_index: sequenced.leaf_index,
        proof: sequenced.proof_bundle().to_text(),
    };
    Ok(created(&format!("/t/{id}"), &body))
}

/// `POST /v1/tokens/{id}/revocations`.
pub async fn revoke(
    State(state): State<AppState>,
    BearerKey(key): BearerKey,
    ApiPath(id): ApiPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    state.authorize(key).await?;
    let id = parse_token_id(&id)?;
    if !is_json(&request) {
        return Err(ApiError::UnsupportedMediaType {
            detail: "Send the revocation as application/json.".into(),
        });
    }
    let body = read_limited(request, state.config().max_json_body).await?;
    let req: RevokeRequest = parse_json(&body)?;
    let revocation = RevocationBuilder::new(state.config().issuer_origin.clone(), id, req.reason)
        .sign(state.issuer_key())
        .map_err(|e| ApiError::validation("reason", e.to_string()))?;
    let sequenced: Sequenced = state
        .leadership()
        .submit(Statement::Revocation(revocation))
        .await
        .map_err(|e| submit_error(&state, e, None))?;
    state.metrics().revocation(started.elapsed());
    let body = Revoked {
        revocation_id: sequenced.token_id,
        revokes: id,
        leaf_index: sequenced.leaf_index,
        proof: sequenced.proof_bundle().to_text(),
    };
    Ok(created(&format!("/v1/tokens/{id}/status"), &body))
}

fn created(location: &str, body: &impl Serialize) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location.to_owned())],
        axum::Json(body),
    )
        .into_response()
}

/// Whether the request says its body is JSON: `application/json`, with
/// parameters (`; charset=utf-8`) or none.
fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads a body of at most `limit` bytes (413 beyond).
async fn read_limited(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: u64::try_from(limit).ok(),
        })
}

/// Parses JSON strictly: a syntax error or an object naming a member twice
/// is a 400 (the document has no single meaning), a wrong field (type,
/// value, unknown key) a 422 naming the field.
///
/// Well-formed bodies take the plain `serde_json` path; only a body it
/// refuses is parsed again with path tracking, which costs an allocation
/// per field and is needed only to name the field at fault. Both paths
/// accept exactly the same bodies. The request types are derived structs,
/// which `serde_json` already refuses to read with a repeated field, so the
/// duplicate check runs on the refusal path only.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    if let Err(e @ StrictJsonError::DuplicateKey(_)) = check_unique_keys(body) {
        return Err(ApiError::bad_request(format!(
            "The body is not valid JSON: {e}."
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            ApiError::validation(path, inner.to_string())
        } else {
            ApiError::bad_request(format!("The body is not valid JSON: {inner}"))
        }
    })?;
    de.end().map_err(|e| {
        ApiError::bad_request(format!("Trailing characters after the JSON value: {e}"))
    })?;
    Ok(value)
}

/// Receives a multipart capture: a `claims` JSON part and one file part
/// per role, each streamed into the media store (through `staged`, so that
/// a refusal removes them again) while it is hashed.
async fn receive_capture(
    state: &AppState,
    mut multipart: Multipart,
    staged: &mut StagedMedia,
) -> Result<(String, Provenance), ApiError> {
    let max = state.config().max_upload_size;
    let mut claims: Option<MultipartClaims> = None;
    let mut report: Option<FileDigest> = None;
    let mut images: Vec<ImageDigest> = Vec::new();
    let mut videos: Vec<VideoDigest> = Vec::new();
    while let Some(field) = multipart.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "claims" {
            if claims.is_some() {
                return Err(ApiError::validation("claims", "more than one claims part"));
            }
            // Read in chunks so an oversize part is refused before it is
            // held in memory.
            let limit = state.config().max_json_body;
            let mut field = field;
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await? {
                if bytes.len().saturating_add(chunk.len()) > limit {
                    return Err(ApiError::PayloadTooLarge {
                        limit: u64::try_from(limit).ok(),
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            claims = Some(parse_json(&bytes)?);
            continue;
        }
        enum Slot {
            Report,
            Image(ImageRole),
            Video(VideoRole),
        }
        let slot = if name == "report" {
            Slot::Report
        } else if let Ok(role) = ImageRole::parse(&name) {
            Slot::Image(role)
        } else if let Ok(role) = VideoRole::parse(&name) {
            Slot::Video(role)
        } else {
            return Err(ApiError::validation(
                name.clone(),
                "unknown part: expected claims, report, face-up, table, pavilion, side, girdle, swatch or light-play",
            ));
        };
        let media_type = field
            .content_type()
            .map(str::to_owned)
            .filter(|t| t.contains('/') && t != "application/octet-stream")
            .ok_or_else(|| {
                ApiError::validation(
                    name.clone(),
                    "each file part needs its media type as Content-Type",
                )
            })?;
        let duplicate = match &slot {
            Slot::Report => report.is_some(),
            Slot::Image(role) => images.iter().any(|i| i.role == *role),
            Slot::Video(role) => videos.iter().any(|v| v.role == *role),
        };
        if duplicate {
            return Err(ApiError::validation(name, "this part appears twice"));
        }
        let stored = staged.put_stream(field, max).await?;
        match slot {
            Slot::Report => {
                report = Some(FileDigest {
                    sha256: stored.sha256,
                    media_type,
                    size: stored.size,
                });
            }
            Slot::Image(role) => images.push(ImageDigest {
                role,
                sha256: stored.sha256,
                media_type,
                size: stored.size,
            }),
            Slot::Video(role) => videos.push(VideoDigest {
                role,
                sha256: stored.sha256,
                media_type,
                size: stored.size,
            }),
        }
    }
    let claims =
        claims.ok_or_else(|| ApiError::validation("claims", "the claims part is missing"))?;
    let report =
        report.ok_or_else(|| ApiError::validation("report", "the report file is missing"))?;
    images.sort_by_key(|i| i.role);
    Ok((
        claims.report_number,
        Provenance {
            report,
            images,
            videos,
            stone: claims.stone,
            supersedes: claims.supersedes,
        },
    ))
}

/// Maps a refusal of the log to the problem the client sees.
fn submit_error(state: &AppState, e: SubmitError, report_number: Option<&str>) -> ApiError {
    let rule = |detail: String| {
        state.metrics().rejected();
        ApiError::Conflict { detail }
    };
    match e {
        SubmitError::ActiveTokenExists { current } => {
            state.metrics().rejected();
            ApiError::ActiveTokenExists {
                report_number: report_number.unwrap_or_default().to_owned(),
                current,
            }
        }
        SubmitError::RevokesUnknownToken { revokes } => {
            state.metrics().rejected();
            ApiError::not_found(format!("No token {revokes} in this log."))
        }
        e @ (SubmitError::SupersedesNotCurrent { .. }
        | SubmitError::RevokesRevocation { .. }
        | SubmitError::RevokesOtherIssuer { .. }
        | SubmitError::AlreadyRevoked { .. }) => rule(e.to_string()),
        SubmitError::Parse(e) => ApiError::validation("token", e.to_string()),
        SubmitError::Stopped | SubmitError::LogFull => ApiError::Unavailable {
            detail: "The log is not accepting entries right now.".into(),
            retry_after: None,
        },
        other => ApiError::internal(other),
    }
}
