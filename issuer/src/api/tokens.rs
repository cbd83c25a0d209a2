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
use utoipa::ToSchema;

use super::openapi::{self as doc, CaptureForm};
use super::{TokenPath, parse_token_id};
use crate::apikey::BearerKey;
use crate::app::AppState;
use crate::media::StagedMedia;
use crate::problem::{ApiError, ApiPath, PROBLEM_JSON, Problem};
use crate::sequencer::{Sequenced, SubmitError};

/// `POST /v1/tokens` with `application/json`: the provenance claims with
/// digests the lab computed (as in `provenance.schema.json`; `images` and
/// `videos` may be left out), and the report number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "report_number": "LX-2026-0001",
    "report": {"sha256": "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", "media_type": "application/pdf", "size": 184320},
    "images": [{"role": "face-up", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "media_type": "image/jpeg", "size": 2104331}],
    "videos": [],
    "stone": {
        "variety": "Ruby", "species": "Corundum", "weight_mct": 1520, "colour": "pigeon's blood red",
        "shape": "oval", "cut": "mixed", "clarity": "VS", "dimensions_um": [7100, 5600, 3400],
        "treatment": "none", "origin": "Myanmar"
    }
}))]
pub struct IssueRequest {
    /// The lab's report number (the token's `sub`).
    #[schema(schema_with = doc::report_number)]
    pub report_number: String,
    /// The report file.
    #[schema(schema_with = doc::file_digest)]
    pub report: FileDigest,
    /// The photos, at most one per role.
    #[serde(default)]
    #[schema(schema_with = doc::images)]
    pub images: Vec<ImageDigest>,
    /// The videos.
    #[serde(default)]
    #[schema(schema_with = doc::videos)]
    pub videos: Vec<VideoDigest>,
    /// The stone's facts.
    #[schema(schema_with = doc::stone)]
    pub stone: Stone,
    /// The token this one replaces.
    #[serde(default)]
    #[schema(schema_with = doc::token_id)]
    pub supersedes: Option<TokenId>,
}

/// The `claims` part of a multipart `POST /v1/tokens`: everything but the
/// files, whose digests the service computes while storing them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MultipartClaims {
    /// The lab's report number (the token's `sub`).
    #[schema(schema_with = doc::report_number)]
    pub report_number: String,
    /// The stone's facts.
    #[schema(schema_with = doc::stone)]
    pub stone: Stone,
    /// The token this one replaces.
    #[serde(default)]
    #[schema(schema_with = doc::token_id)]
    pub supersedes: Option<TokenId>,
}

/// `201 Created` for a token. Its schema is the normative
/// `schemas/json/issuance.schema.json`, which the document embeds. The
/// body is written by [`Issued::to_json`]; the `serde` form exists only as
/// the reference its test compares with.
#[derive(Debug)]
#[cfg_attr(test, derive(Serialize))]
pub struct Issued<'a> {
    /// The token id.
    pub token_id: TokenId,
    /// `{public_base_url}/t/{token_id}`: what the QR code holds.
    pub url: String,
    /// The COSE_Sign1 token, written as standard base64.
    #[cfg_attr(test, serde(serialize_with = "base64_standard"))]
    pub token: &'a [u8],
    /// Its index in the log.
    pub leaf_index: u64,
    /// The C2SP `tlog-proof` bundle.
    pub proof: String,
}

#[cfg(test)]
fn base64_standard<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&STANDARD.encode(bytes))
}

impl Issued<'_> {
    /// The body, byte for byte what `serde_json::to_vec(self)` writes (a
    /// test keeps them equal), without its costs on the issuing path: the
    /// token's base64 goes straight into the body instead of through a
    /// string that the serializer then scans for characters to escape
    /// (neither base64 alphabet nor a token id has any). The URL and the
    /// proof, which can, are escaped by `serde_json`.
    pub fn to_json(&self) -> Vec<u8> {
        let b64 = base64::encoded_len(self.token.len(), true).unwrap_or(0);
        let mut out = Vec::with_capacity(b64 + self.proof.len() + 2 * self.url.len() + 128);
        out.extend_from_slice(b"{\"token_id\":\"");
        out.extend_from_slice(self.token_id.to_string().as_bytes());
        out.extend_from_slice(b"\",\"url\":");
        // Writing a `&str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, &self.url);
        out.extend_from_slice(b",\"token\":\"");
        let at = out.len();
        out.resize(at + b64, 0);
        let written = STANDARD
            .encode_slice(self.token, &mut out[at..])
            .unwrap_or(0);
        out.truncate(at + written);
        out.extend_from_slice(b"\",\"leaf_index\":");
        out.extend_from_slice(self.leaf_index.to_string().as_bytes());
        out.extend_from_slice(b",\"proof\":");
        let _ = serde_json::to_writer(&mut out, &self.proof);
        out.push(b'}');
        out
    }
}

/// The body of `POST /v1/tokens/{id}/revocations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "report withdrawn: the stone was re-examined"}))]
pub struct RevokeRequest {
    /// Why (shown to verifiers; no personal data): 1 to 1024 bytes of
    /// UTF-8 (the schema counts characters), no control characters.
    #[schema(
        min_length = 1,
        max_length = 1024,
        pattern = "^[^\\u0000-\\u001f\\u007f]+$"
    )]
    pub reason: String,
}

/// The revocation, logged (`201 Created`).
#[derive(Debug, Serialize, ToSchema)]
// Serde ignores this when serialising; utoipa reads it as
// `additionalProperties: false`: the answer has no other members.
#[serde(deny_unknown_fields)]
pub struct Revoked {
    /// The revocation's id (SHA-256 of its logged bytes).
    #[schema(schema_with = doc::token_id)]
    pub revocation_id: TokenId,
    /// The token it revokes.
    #[schema(schema_with = doc::token_id)]
    pub revokes: TokenId,
    /// Its index in the log.
    #[schema(minimum = 0)]
    pub leaf_index: u64,
    /// The C2SP `tlog-proof` bundle of the revocation.
    #[schema(schema_with = doc::proof_bundle)]
    pub proof: String,
}

/// `POST /v1/tokens`.
#[utoipa::path(
    post,
    path = "/v1/tokens",
    tag = "tokens",
    operation_id = "issue_token",
    summary = "Issue a token",
    description = "Signs a token for one stone, waits until it is sequenced into the log (one transaction with its tiles and a new checkpoint), and answers with its id, URL, bytes and proof. JSON carries digests the lab computed; multipart carries the files, hashed while streaming and kept content-addressed at /media/{sha256}. One stone, one active token: a second token for a report number must name the current one in `supersedes`.",
    security(("apiKey" = [])),
    request_body(
        description = "The claims with the files' digests (JSON), or with the files themselves (multipart)",
        content(
            (IssueRequest = "application/json"),
            (CaptureForm = "multipart/form-data"),
        ),
    ),
    responses(
        (status = 201, description = "Logged: the token is in a committed batch and a signed checkpoint", body = ref("https://loupe.example/schemas/issuance.schema.json"), content_type = "application/json",
            headers(("Location" = String, description = "/t/{token_id}"))),
        (status = 400, description = "Malformed request: not JSON, a member named twice, a broken multipart body", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = Problem, content_type = PROBLEM_JSON,
            headers(("WWW-Authenticate" = String, description = "Bearer realm=\"loupe\""))),
        (status = 403, description = "The API key belongs to another issuer", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "Conflicts with the log: `active-token-exists` (the report number has an active token and `supersedes` does not name it; `current_token` holds its id), or `supersedes` names a token that is not current", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, description = "Body or file too large", body = Problem, content_type = PROBLEM_JSON),
        (status = 415, description = "Neither application/json nor multipart/form-data", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "A field has a wrong type or value (the problem's `field` names it)", body = Problem, content_type = PROBLEM_JSON),
        (status = 429, description = "This API key has used up its writes for now (rate_limit_per_minute)", body = Problem, content_type = PROBLEM_JSON,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
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
    // A new token has no receipts: its bytes are the logged bytes, which
    // a clone (a reference count) keeps without a copy.
    let issued = token.clone();
    // From here the token may be logged even if this request is dropped.
    staged.keep_on_drop();
    let sequenced = match state.leadership().submit_new(token).await {
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
        url,
        token: issued.logged_bytes(),
        leaf_index: sequenced.leaf_index,
        proof: sequenced.proof_bundle().to_text(),
    };
    Ok(created(
        &format!("/t/{id}"),
        ([(header::CONTENT_TYPE, "application/json")], body.to_json()),
    ))
}

/// `POST /v1/tokens/{id}/revocations`.
#[utoipa::path(
    post,
    path = "/v1/tokens/{id}/revocations",
    tag = "tokens",
    operation_id = "revoke_token",
    summary = "Revoke a token",
    description = "Signs a revocation of the token, logs it, and answers once it is in a committed batch. Verifiers then report the token as revoked, with this reason.",
    security(("apiKey" = [])),
    params(TokenPath),
    request_body(content = RevokeRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Revocation logged", body = Revoked, content_type = "application/json",
            headers(("Location" = String, description = "/v1/tokens/{id}/status"))),
        (status = 400, description = "Malformed request: not JSON, a member named twice", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = Problem, content_type = PROBLEM_JSON,
            headers(("WWW-Authenticate" = String, description = "Bearer realm=\"loupe\""))),
        (status = 403, description = "The API key belongs to another issuer", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such token in this log", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "Conflicts with the log: already revoked, a revocation, or another issuer's token", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, description = "Body over the JSON limit", body = Problem, content_type = PROBLEM_JSON),
        (status = 415, description = "Not application/json", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "A field has a wrong type or value (the problem's `field` names it)", body = Problem, content_type = PROBLEM_JSON),
        (status = 429, description = "This API key has used up its writes for now (rate_limit_per_minute)", body = Problem, content_type = PROBLEM_JSON,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    BearerKey(key): BearerKey,
    ApiPath(TokenPath { id }): ApiPath<TokenPath>,
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
    Ok(created(
        &format!("/v1/tokens/{id}/status"),
        axum::Json(&body),
    ))
}

fn created(location: &str, body: impl IntoResponse) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location.to_owned())],
        body,
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The hand-written issuance body is exactly what `serde_json`
        /// writes for the same answer: any id, index and token bytes, and
        /// URLs and proofs with quotes, backslashes, control characters,
        /// newlines and non-ASCII text.
        #[test]
        fn the_issued_body_is_byte_for_byte_what_serde_json_writes(
            id in any::<[u8; 32]>(),
            url in "(?s).{0,80}",
            token in proptest::collection::vec(any::<u8>(), 0..1500),
            leaf_index in any::<u64>(),
            proof in "(?s).{0,400}",
        ) {
            let issued = Issued {
                token_id: TokenId(id),
                url,
                token: &token,
                leaf_index,
                proof,
            };
            let fast = issued.to_json();
            prop_assert_eq!(&fast, &serde_json::to_vec(&issued).unwrap());
            let back: serde_json::Value = serde_json::from_slice(&fast).unwrap();
            prop_assert_eq!(back["token"].as_str().map(|t| STANDARD.decode(t).unwrap()), Some(token.clone()));
        }
    }
}
