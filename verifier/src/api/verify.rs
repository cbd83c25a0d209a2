//! `POST /v1/verify`: a token URL or token bytes (with an optional proof
//! bundle) and optional file digests in; the [`Verdict`]
//! out, as JSON (`schemas/json/verdict.schema.json`), with status 200
//! whatever the verdict says.
//!
//! Two request shapes:
//!
//! - `application/json`: `{"url": "…"}` or `{"token": "<base64>", "proof":
//!   "<tlog-proof text>"?}`, each with an optional `"files": {"report":
//!   "<sha256 hex>", "face-up": "<hex>", …}`. Unknown fields are refused.
//! - `multipart/form-data`: a `url` part or a `token` part (the COSE file),
//!   an optional `proof` part, and file parts named by role (`report`,
//!   `face-up`, `table`, `pavilion`, `side`, `girdle`, `swatch`,
//!   `light-play`), which are hashed as they stream in and never held whole.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::extract::{FromRequest as _, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use loupe_schemas::json::{StrictJsonError, check_unique_keys};
use loupe_schemas::token::Sha256Digest;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::AppState;
use super::metrics::Via;
use super::problem::ApiError;
use crate::{FilesInHand, Input, Verdict};

/// The largest token accepted (the strict parser's limit, 64 KiB).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// The largest proof bundle accepted.
pub const MAX_PROOF_BYTES: usize = 64 * 1024;
/// The largest URL accepted.
pub const MAX_URL_BYTES: usize = 4096;

/// Standard base64, with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The JSON request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    proof: Option<String>,
    #[serde(default)]
    files: Option<BTreeMap<String, String>>,
}

/// What to verify, owned.
enum What {
    Url(String),
    Token {
        token: Vec<u8>,
        proof: Option<Vec<u8>>,
    },
}

/// `POST /v1/verify`.
pub(crate) async fn verify(State(state): State<AppState>, request: Request) -> Response {
    match read_request(&state, request).await {
        Ok((what, files)) => {
            let started = Instant::now();
            let verdict = match &what {
                What::Url(url) => state.verifier.verify(Input::Url(url), &files).await,
                What::Token { token, proof } => {
                    state
                        .verifier
                        .verify(
                            Input::Token {
                                token,
                                proof: proof.as_deref(),
                            },
                            &files,
                        )
                        .await
                }
            };
            state
                .metrics
                .verdict(Via::Api, verdict.status, started.elapsed());
            verdict_response(&verdict)
        }
        Err(e) => {
            state.metrics.problem();
            e.into_response()
        }
    }
}

/// The verdict as `application/json`, never cached (a token's status can
/// change).
fn verdict_response(verdict: &Verdict) -> Response {
    match serde_json::to_vec(verdict) {
        Ok(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("serialising a verdict: {e}")).into_response(),
    }
}

/// The media type's essence (`type/subtype`, lowercase), if any.
fn essence(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next()?.trim().to_ascii_lowercase();
    Some(essence)
}

async fn read_request(state: &AppState, request: Request) -> Result<(What, FilesInHand), ApiError> {
    match essence(request.headers()).as_deref() {
        Some("application/json") => read_json(state, request).await,
        Some("multipart/form-data") => read_multipart(state, request).await,
        _ => Err(ApiError::UnsupportedMediaType(
            "Send `Content-Type: application/json` or `multipart/form-data`.".into(),
        )),
    }
}

async fn read_json(state: &AppState, request: Request) -> Result<(What, FilesInHand), ApiError> {
    let limit = state.config.json_limit.min(state.config.body_limit);
    let too_large = || ApiError::PayloadTooLarge {
        limit: u64::try_from(limit).unwrap_or(u64::MAX),
    };
    if request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|e| {
            if is_length_limit(&e) {
                too_large()
            } else {
                ApiError::BadRequest(format!("The request body could not be read: {e}"))
            }
        })?;
    // A map (`files`) would keep the last of two equal keys, and a struct
    // reports a repeated field as a type error: refuse both alike, as a
    // document with no single meaning.
    if let Err(e @ StrictJsonError::DuplicateKey(_)) = check_unique_keys(&body) {
        return Err(ApiError::BadRequest(format!("Malformed JSON: {e}.")));
    }
    let req: VerifyRequest = serde_json::from_slice(&body).map_err(json_error)?;
    let mut files = FilesInHand::default();
    for (role, hex) in req.files.iter().flatten() {
        let field = format!("files.{role}");
        let digest = hex.parse::<Sha256Digest>().map_err(|_| {
            ApiError::validation(&field, "A digest is 64 lowercase hexadecimal characters.")
        })?;
        files
            .add(role, digest)
            .map_err(|e| ApiError::validation(&field, e.to_string()))?;
    }
    let what = match (req.url, req.token) {
        (Some(url), None) => {
            if req.proof.is_some() {
                return Err(ApiError::validation(
                    "proof",
                    "A proof bundle goes with a token, not with a URL.",
                ));
            }
            check_url_len(&url)?;
            What::Url(url)
        }
        (None, Some(token)) => {
            let token = BASE64
                .decode(token.trim())
                .map_err(|e| ApiError::BadRequest(format!("`token` is not base64: {e}")))?;
            if token.len() > MAX_TOKEN_BYTES {
                return Err(ApiError::validation(
                    "token",
                    format!("A token is at most {MAX_TOKEN_BYTES} bytes."),
                ));
            }
            if req
                .proof
                .as_ref()
                .is_some_and(|p| p.len() > MAX_PROOF_BYTES)
            {
                return Err(ApiError::validation(
                    "proof",
                    format!("A proof bundle is at most {MAX_PROOF_BYTES} bytes."),
                ));
            }
            What::Token {
                token,
                proof: req.proof.map(String::into_bytes),
            }
        }
        _ => {
            return Err(ApiError::BadRequest(
                "Give exactly one of `url` and `token`.".into(),
            ));
        }
    };
    Ok((what, files))
}

fn check_url_len(url: &str) -> Result<(), ApiError> {
    if url.len() > MAX_URL_BYTES {
        return Err(ApiError::validation(
            "url",
            format!("A token URL is at most {MAX_URL_BYTES} bytes."),
        ));
    }
    Ok(())
}

/// Whether a body error is the length limit (axum wraps
/// `http_body_util::LengthLimitError`).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if err.to_string().contains("length limit exceeded") {
            return true;
        }
        next = err.source();
    }
    false
}

/// A serde_json error as a problem: syntax errors are 400, data errors
/// (unknown field, wrong type) 422 with the field when serde names it.
fn json_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let text = e.to_string();
            let field = text
                .strip_prefix("unknown field `")
                .or_else(|| text.split("field `").nth(1))
                .and_then(|rest| rest.split_once('`'))
                .map(|(name, _)| name.to_owned());
            ApiError::Validation {
                field,
                detail: text,
            }
        }
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::BadRequest(format!("Malformed JSON: {e}"))
        }
    }
}

/// Reads at most `limit` bytes of a multipart field.
async fn read_part(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if out.len().saturating_add(chunk.len()) > limit {
            return Err(ApiError::validation(
                name,
                format!("The `{name}` part is over {limit} bytes."),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit: 0 }
    } else {
        ApiError::BadRequest(format!("Malformed multipart body: {}", e.body_text()))
    }
}

async fn read_multipart(
    state: &AppState,
    request: Request,
) -> Result<(What, FilesInHand), ApiError> {
    let limit = u64::try_from(state.config.body_limit).unwrap_or(u64::MAX);
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| {
        ApiError::BadRequest(format!("Malformed multipart body: {}", e.body_text()))
    })?;
    let mut url = None;
    let mut token = None;
    let mut proof = None;
    let mut files = FilesInHand::default();
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let next = multipart
            .next_field()
            .await
            .map_err(|e| match multipart_error(e) {
                ApiError::PayloadTooLarge { .. } => ApiError::PayloadTooLarge { limit },
                other => other,
            })?;
        let Some(mut field) = next else {
            break;
        };
        let name = field.name().unwrap_or_default().to_owned();
        if !seen.insert(name.clone()) {
            return Err(ApiError::validation(
                &name,
                format!("The `{name}` part is given twice."),
            ));
        }
        let result = match name.as_str() {
            "url" => read_part(&mut field, "url", MAX_URL_BYTES)
                .await
                .and_then(|b| {
                    String::from_utf8(b)
                        .map(|u| url = Some(u))
                        .map_err(|_| ApiError::validation("url", "The URL is not UTF-8."))
                }),
            "token" => read_part(&mut field, "token", MAX_TOKEN_BYTES)
                .await
                .map(|b| token = Some(b)),
            "proof" => read_part(&mut field, "proof", MAX_PROOF_BYTES)
                .await
                .map(|b| proof = Some(b)),
            role => hash_part(&mut field).await.and_then(|d| {
                files
                    .add(role, d)
                    .map_err(|e| ApiError::validation(role, e.to_string()))
            }),
        };
        result.map_err(|e| match e {
            ApiError::PayloadTooLarge { .. } => ApiError::PayloadTooLarge { limit },
            other => other,
        })?;
    }
    let what = match (url, token) {
        (Some(url), None) if proof.is_none() => What::Url(url),
        (Some(_), None) => {
            return Err(ApiError::validation(
                "proof",
                "A proof bundle goes with a token, not with a URL.",
            ));
        }
        (None, Some(token)) => What::Token { token, proof },
        _ => {
            return Err(ApiError::BadRequest(
                "Give exactly one of the parts `url` and `token`.".into(),
            ));
        }
    };
    Ok((what, files))
}

/// SHA-256 of a file part, chunk by chunk; refuses unknown roles before
/// reading anything.
async fn hash_part(
    field: &mut axum::extract::multipart::Field<'_>,
) -> Result<Sha256Digest, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    if FilesInHand::default()
        .add(&name, Sha256Digest::of(b""))
        .is_err()
    {
        return Err(ApiError::validation(
            &name,
            format!(
                "Unknown part `{name}`: expected url, token, proof, report, face-up, table, pavilion, side, girdle, swatch or light-play."
            ),
        ));
    }
    let mut hasher = Sha256::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        hasher.update(&chunk);
    }
    Ok(Sha256Digest(hasher.finalize().into()))
}
