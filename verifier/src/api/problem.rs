//! Errors at the HTTP boundary: [`ApiError`], served as RFC 9457 problem
//! details (`application/problem+json`), in the same shape and with the same
//! `type` URIs as the issuer's (`schemas/json/problem.schema.json`).
//!
//! | `type` (after `https://loupe.example/problems/`) | status | when |
//! | --- | --- | --- |
//! | `bad-request` | 400 | malformed JSON or multipart body, bad base64, neither or both of `url` and `token` |
//! | `validation` | 422 | well-formed JSON with an unknown or mistyped field, an unknown file role, a malformed digest; extension `field` names it |
//! | `not-found` | 404 | no such route (or photo) |
//! | `method-not-allowed` | 405 | the route exists, the method does not |
//! | `payload-too-large` | 413 | the body is over its limit; extension `limit` in bytes |
//! | `unsupported-media-type` | 415 | neither `application/json` nor `multipart/form-data` |
//! | `too-many-requests` | 429 | rate limited, with `Retry-After` |
//! | `internal` | 500 | a bug; logged with the incident id that `instance` carries, never returned |
//! | `unavailable` | 503 | the request took too long |
//!
//! A verdict is never an error: `POST /v1/verify` answers 200 with the
//! verdict whatever its status (`invalid` included).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// The prefix of every problem `type` URI (the issuer's too).
pub const PROBLEM_BASE: &str = "https://loupe.example/problems/";
/// The media type of problem details (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details object (RFC 9457 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A URI under [`PROBLEM_BASE`] naming the kind of problem.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary, the same for every occurrence of the type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For internal errors: `urn:uuid:<incident id>` as logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extension (`validation`): the input field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Extension (`payload-too-large`): the limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// Everything a handler can fail with; converts to a [`Problem`] response.
/// `Display` is for logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 422: a field is unknown or has a wrong value.
    #[error("invalid input{}: {detail}", field.as_deref().map(|f| format!(" at {f}")).unwrap_or_default())]
    Validation {
        /// The field at fault, when known.
        field: Option<String>,
        /// What is wrong with it.
        detail: String,
    },
    /// 404: nothing here.
    #[error("not found: {0}")]
    NotFound(String),
    /// 405: the route does not take this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the body is over `limit` bytes.
    #[error("payload too large (limit {limit} bytes)")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// 415: wrong or missing `Content-Type`.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 429: rate limited.
    #[error("too many requests")]
    TooManyRequests {
        /// When a request will be accepted again (`Retry-After`, rounded up
        /// to whole seconds).
        retry_after: Duration,
    },
    /// 503: the request took too long.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: anything else; the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 422 at `field`.
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Self::Validation { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
            ),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The problem body (for [`ApiError::Internal`], with a fresh incident
    /// id in `instance`).
    #[must_use]
    pub fn to_problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        let mut p = Problem {
            type_uri: format!("{PROBLEM_BASE}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            instance: None,
            field: None,
            limit: None,
        };
        p.detail = Some(match self {
            Self::BadRequest(d)
            | Self::NotFound(d)
            | Self::UnsupportedMediaType(d)
            | Self::Unavailable(d) => d.clone(),
            Self::Validation { field, detail } => {
                p.field = field.clone();
                detail.clone()
            }
            Self::MethodNotAllowed => "This resource does not support the method.".into(),
            Self::PayloadTooLarge { limit } => {
                p.limit = Some(*limit);
                format!("The request body exceeds {limit} bytes.")
            }
            Self::TooManyRequests { .. } => "Slow down and retry later.".into(),
            Self::Internal(_) => {
                p.instance = Some(incident_urn());
                "The server failed to complete the request. The incident has been logged under the id in `instance`.".into()
            }
        });
        p
    }
}

/// `urn:uuid:` with a version-4-shaped id derived from the clock and a
/// counter (unique per process; not a secret).
fn incident_urn() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(nanos.to_be_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    let mut b: [u8; 32] = h.finalize().into();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(&b[..16]);
    let part = |r: std::ops::Range<usize>| hex.get(r).unwrap_or_default();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let status = self.status();
        match &self {
            Self::Internal(cause) => tracing::error!(
                incident = problem.instance.as_deref().unwrap_or_default(),
                error = %cause,
                "internal error"
            ),
            e if status.is_server_error() => tracing::warn!(error = %e, "request failed"),
            e => tracing::debug!(error = %e, "request refused"),
        }
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| {
            br#"{"type":"https://loupe.example/problems/internal","title":"Internal server error","status":500}"#.to_vec()
        });
        let mut res = (status, body).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Self::TooManyRequests { retry_after } = &self {
            // Round up: "retry after 0 s" would invite a hot loop.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        res
    }
}

/// A `Router::fallback` handler: 404 as a problem.
pub async fn not_found_fallback() -> ApiError {
    ApiError::NotFound("There is no resource at this path.".into())
}

/// A `Router::method_not_allowed_fallback` handler: 405 as a problem.
pub async fn method_not_allowed_fallback() -> ApiError {
    ApiError::MethodNotAllowed
}
