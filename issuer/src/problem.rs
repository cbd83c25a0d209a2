//! Errors at the HTTP boundary: [`ApiError`], served as RFC 9457 problem
//! details (`application/problem+json`), and the axum rejections converted
//! into it.
//!
//! # Problem types
//!
//! Every problem's `type` is a stable URI, [`PROBLEM_BASE`] followed by a
//! slug; clients branch on `type` (or `status`), never on `title` or
//! `detail`. The `title` is fixed per type; `detail` explains this
//! occurrence.
//!
//! | `type` (after `https://loupe.example/problems/`) | status | when |
//! | --- | --- | --- |
//! | `bad-request` | 400 | malformed JSON, a bad path or query parameter, a broken multipart body |
//! | `validation` | 422 | well-formed input with a wrong value or type; extension `field` names it (`stone.weight_mct`, `images[2].sha256`) |
//! | `unauthorized` | 401 | no, malformed or unknown lab API key (with `WWW-Authenticate: Bearer`) |
//! | `forbidden` | 403 | a valid key that may not do this |
//! | `not-found` | 404 | no such token, media, route |
//! | `method-not-allowed` | 405 | the route exists, the method does not |
//! | `not-acceptable` | 406 | no representation matches `Accept` |
//! | `conflict` | 409 | the request conflicts with the current state |
//! | `active-token-exists` | 409 | the report number already has an active token and the request does not supersede it; extension `current_token` holds its id |
//! | `payload-too-large` | 413 | the body or an uploaded file is over its limit; extension `limit` in bytes when known |
//! | `unsupported-media-type` | 415 | wrong or missing `Content-Type` |
//! | `too-many-requests` | 429 | rate limited (with `Retry-After` when known) |
//! | `internal` | 500 | a bug or a failing dependency; details are logged with an incident id, which `instance` carries (`urn:uuid:…`), and never returned |
//! | `unavailable` | 503 | overloaded, shutting down, or not the sequencer (with `Retry-After` when known) |
//!
//! The URIs are identifiers; `loupe.example` is a reserved name and nothing
//! is served there. Every problem response carries `Cache-Control: no-store`
//! so that a CDN in front of the tiles never caches an error.
//!
//! # Rejections
//!
//! Handlers take [`ApiJson`], [`ApiPath`] and [`ApiQuery`] instead of axum's
//! `Json`, `Path` and `Query`, so that malformed JSON (400), wrong types or
//! missing fields (422 with the field), a missing JSON content type (415)
//! and bodies over `DefaultBodyLimit` (413) all come back as problems. The
//! `From` impls below do the same for multipart rejections and
//! [`axum::extract::multipart::MultipartError`] (use `?` in the handler).
//! Set body limits with `axum::extract::DefaultBodyLimit`, not
//! `tower_http::limit::RequestBodyLimitLayer`, whose 413 has no problem body.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use loupe_schemas::token::{ClaimsError, TokenId};
use serde::{Deserialize, Serialize};

/// The prefix of every problem `type` URI.
pub const PROBLEM_BASE: &str = "https://loupe.example/problems/";
/// The media type of problem details (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// The `detail` of every internal error: nothing about the cause.
pub const INTERNAL_DETAIL: &str = "The server failed to complete the request. The incident has been logged under the id in `instance`.";
/// The `realm` of `WWW-Authenticate` challenges.
pub const REALM: &str = "loupe";

/// The kinds of problem this API reports; each has a stable URI, title and
/// status (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemType {
    /// `bad-request`, 400.
    BadRequest,
    /// `validation`, 422.
    Validation,
    /// `unauthorized`, 401.
    Unauthorized,
    /// `forbidden`, 403.
    Forbidden,
    /// `not-found`, 404.
    NotFound,
    /// `method-not-allowed`, 405.
    MethodNotAllowed,
    /// `not-acceptable`, 406.
    NotAcceptable,
    /// `conflict`, 409.
    Conflict,
    /// `active-token-exists`, 409.
    ActiveTokenExists,
    /// `payload-too-large`, 413.
    PayloadTooLarge,
    /// `unsupported-media-type`, 415.
    UnsupportedMediaType,
    /// `too-many-requests`, 429.
    TooManyRequests,
    /// `internal`, 500.
    Internal,
    /// `unavailable`, 503.
    Unavailable,
}

impl ProblemType {
    /// Every problem type.
    pub const ALL: &'static [Self] = &[
        Self::BadRequest,
        Self::Validation,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::NotAcceptable,
        Self::Conflict,
        Self::ActiveTokenExists,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::TooManyRequests,
        Self::Internal,
        Self::Unavailable,
    ];

    /// The slug after [`PROBLEM_BASE`].
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::Validation => "validation",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::NotAcceptable => "not-acceptable",
            Self::Conflict => "conflict",
            Self::ActiveTokenExists => "active-token-exists",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::TooManyRequests => "too-many-requests",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    /// The `type` URI: [`PROBLEM_BASE`] followed by the slug.
    #[must_use]
    pub fn uri(self) -> String {
        format!("{PROBLEM_BASE}{}", self.slug())
    }

    /// The fixed, human-readable `title`.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad request",
            Self::Validation => "Invalid input",
            Self::Unauthorized => "Missing or invalid API key",
            Self::Forbidden => "Not allowed",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::NotAcceptable => "No acceptable representation",
            Self::Conflict => "Conflict with the current state",
            Self::ActiveTokenExists => "The stone already has an active token",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::TooManyRequests => "Too many requests",
            Self::Internal => "Internal server error",
            Self::Unavailable => "Service unavailable",
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::Conflict | Self::ActiveTokenExists => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A problem details object (RFC 9457 §3), as served and as a client reads
/// it. Unknown extension members are ignored when reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI under [`PROBLEM_BASE`] naming the kind of problem.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary, the same for every occurrence of the type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// This occurrence: for internal errors, `urn:uuid:<incident id>` as
    /// logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extension (`validation`): the input field at fault, as a path such as
    /// `stone.weight_mct` or `images[2].sha256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Extension (`active-token-exists`): the id of the active token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_token: Option<TokenId>,
    /// Extension (`payload-too-large`): the limit in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// Everything a handler can fail with. Converts to a [`Problem`] response;
/// see the [module docs](self) for the types.
///
/// `Display` is for logs; clients see only the problem body, and for
/// [`ApiError::Internal`] not even the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("bad request: {detail}")]
    BadRequest {
        /// What is wrong.
        detail: String,
    },
    /// 422: a field has a wrong value or type.
    #[error("invalid input{}: {detail}", field.as_deref().map(|f| format!(" at {f}")).unwrap_or_default())]
    Validation {
        /// The path of the field at fault; `None` for the document as a whole.
        field: Option<String>,
        /// What is wrong with it.
        detail: String,
    },
    /// 401: no, malformed or unknown credentials.
    #[error("unauthorized: {detail}")]
    Unauthorized {
        /// What is wrong.
        detail: String,
        /// Credentials were presented but are malformed or unknown: the
        /// challenge then says `error="invalid_token"` (RFC 6750 §3.1).
        invalid_token: bool,
    },
    /// 403: authenticated, but not allowed.
    #[error("forbidden: {detail}")]
    Forbidden {
        /// What is not allowed.
        detail: String,
    },
    /// 404: nothing here.
    #[error("not found: {detail}")]
    NotFound {
        /// What was not found.
        detail: String,
    },
    /// 405: the route does not take this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 406: no representation matches the `Accept` header.
    #[error("not acceptable: {detail}")]
    NotAcceptable {
        /// What can be served.
        detail: String,
    },
    /// 409: conflicts with the current state.
    #[error("conflict: {detail}")]
    Conflict {
        /// What conflicts.
        detail: String,
    },
    /// 409: the report number already has an active token, and the new one
    /// does not name it in `supersedes`.
    #[error("report {report_number} already has the active token {current}")]
    ActiveTokenExists {
        /// The report number (`sub`).
        report_number: String,
        /// The active token's id.
        current: TokenId,
    },
    /// 413: the body or a file is too large.
    #[error("payload too large{}", limit.map(|l| format!(" (limit {l} bytes)")).unwrap_or_default())]
    PayloadTooLarge {
        /// The limit in bytes, when known.
        limit: Option<u64>,
    },
    /// 415: wrong or missing `Content-Type`.
    #[error("unsupported media type: {detail}")]
    UnsupportedMediaType {
        /// What is expected.
        detail: String,
    },
    /// 429: rate limited.
    #[error("too many requests")]
    TooManyRequests {
        /// When to retry (sent as `Retry-After` in whole seconds).
        retry_after: Option<Duration>,
    },
    /// 503: temporarily unable to serve.
    #[error("unavailable: {detail}")]
    Unavailable {
        /// Why (safe to show: say nothing internal here).
        detail: String,
        /// When to retry (sent as `Retry-After` in whole seconds).
        retry_after: Option<Duration>,
    },
    /// 500: anything else. The cause is logged with an incident id and
    /// never sent.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl ApiError {
    /// A 400 `bad-request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
        }
    }

    /// A 422 `validation` problem at `field` (a path such as `stone.colour`).
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    /// A 404 `not-found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound {
            detail: detail.into(),
        }
    }

    /// A 409 `conflict`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict {
            detail: detail.into(),
        }
    }

    /// A 500 `internal` error wrapping `cause` (logged, never sent).
    pub fn internal(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }

    /// The problem type.
    #[must_use]
    pub fn problem_type(&self) -> ProblemType {
        match self {
            Self::BadRequest { .. } => ProblemType::BadRequest,
            Self::Validation { .. } => ProblemType::Validation,
            Self::Unauthorized { .. } => ProblemType::Unauthorized,
            Self::Forbidden { .. } => ProblemType::Forbidden,
            Self::NotFound { .. } => ProblemType::NotFound,
            Self::MethodNotAllowed => ProblemType::MethodNotAllowed,
            Self::NotAcceptable { .. } => ProblemType::NotAcceptable,
            Self::Conflict { .. } => ProblemType::Conflict,
            Self::ActiveTokenExists { .. } => ProblemType::ActiveTokenExists,
            Self::PayloadTooLarge { .. } => ProblemType::PayloadTooLarge,
            Self::UnsupportedMediaType { .. } => ProblemType::UnsupportedMediaType,
            Self::TooManyRequests { .. } => ProblemType::TooManyRequests,
            Self::Internal(_) => ProblemType::Internal,
            Self::Unavailable { .. } => ProblemType::Unavailable,
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.problem_type().status()
    }

    /// The problem body. For [`ApiError::Internal`] this draws a fresh
    /// incident id; [`IntoResponse`] logs it with the cause.
    #[must_use]
    pub fn to_problem(&self) -> Problem {
        let t = self.problem_type();
        let mut p = Problem {
            type_uri: t.uri(),
            title: t.title().to_owned(),
            status: t.status().as_u16(),
            detail: None,
            instance: None,
            field: None,
            current_token: None,
            limit: None,
        };
        p.detail = match self {
            Self::BadRequest { detail }
            | Self::Unauthorized { detail, .. }
            | Self::Forbidden { detail }
            | Self::NotFound { detail }
            | Self::NotAcceptable { detail }
            | Self::Conflict { detail }
            | Self::UnsupportedMediaType { detail }
            | Self::Unavailable { detail, .. } => Some(detail.clone()),
            Self::Validation { field, detail } => {
                p.field = field.clone();
                Some(detail.clone())
            }
            Self::ActiveTokenExists {
                report_number,
                current,
            } => {
                p.current_token = Some(*current);
                Some(format!(
                    "Report {report_number} already has the active token {current}; \
                     name it in `supersedes` to replace it, or revoke it first."
                ))
            }
            Self::PayloadTooLarge { limit } => {
                p.limit = *limit;
                Some(match limit {
                    Some(l) => format!("The request body or an uploaded file exceeds {l} bytes."),
                    None => "The request body or an uploaded file is too large.".to_owned(),
                })
            }
            Self::MethodNotAllowed => Some("This resource does not support the method.".into()),
            Self::TooManyRequests { .. } => Some("Slow down and retry later.".into()),
            Self::Internal(_) => {
                p.instance = Some(incident_urn());
                Some(INTERNAL_DETAIL.to_owned())
            }
        };
        p
    }
}

/// `urn:uuid:` with a random (version 4) UUID.
fn incident_urn() -> String {
    use rand::Rng as _;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    // `h` is 32 ASCII hex digits: every range below is in bounds.
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The whole `source()` chain, for logs.
struct Chain<'a>(&'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let status = self.status();
        match &self {
            Self::Internal(cause) => {
                tracing::error!(
                    incident = problem.instance.as_deref().unwrap_or_default(),
                    error = %Chain(cause.as_ref()),
                    "internal error"
                );
            }
            e if status.is_server_error() => tracing::warn!(error = %e, "request failed"),
            e => tracing::debug!(error = %e, "request refused"),
        }
        let body = match serde_json::to_vec(&problem) {
            Ok(b) => b,
            // Serialising plain strings and numbers cannot fail; if it ever
            // did, send the fixed internal problem rather than panic.
            Err(_) => br#"{"type":"https://loupe.example/problems/internal","title":"Internal server error","status":500}"#.to_vec(),
        };
        let mut res = (status, body).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            Self::Unauthorized { invalid_token, .. } => {
                let challenge = if *invalid_token {
                    HeaderValue::from_static(r#"Bearer realm="loupe", error="invalid_token""#)
                } else {
                    HeaderValue::from_static(r#"Bearer realm="loupe""#)
                };
                h.insert(header::WWW_AUTHENTICATE, challenge);
            }
            Self::TooManyRequests {
                retry_after: Some(d),
            }
            | Self::Unavailable {
                retry_after: Some(d),
                ..
            } => {
                // Round up: "retry after 0 s" would invite a hot loop.
                let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
                h.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            _ => {}
        }
        res
    }
}

/// Maps a rejection by its status: 413, 415 and 422 to their problems,
/// other 4xx to `bad-request` with axum's (client-safe) text, 5xx to an
/// internal error.
fn from_rejection(status: StatusCode, text: String, cause: impl fmt::Display) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: None },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType { detail: text },
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::Validation {
            field: None,
            detail: text,
        },
        s if s.is_client_error() => ApiError::BadRequest { detail: text },
        _ => ApiError::internal(format!("extractor rejection ({status}): {cause}")),
    }
}

/// Finds serde_path_to_error's error in a rejection's source chain.
fn json_path_error<'a>(
    e: &'a (dyn StdError + 'static),
) -> Option<&'a serde_path_to_error::Error<serde_json::Error>> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// `field` and `detail` of a serde_json data error: the path where it
/// happened (for an unknown key, the key itself), plus the field named by a
/// "missing field `x`" message, which serde reports at the enclosing object.
fn json_data_problem(err: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let detail = err.inner().to_string();
    let path = err.path().to_string();
    let mut field = (path != ".").then_some(path);
    if let Some((name, _)) = detail
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
    {
        field = Some(match field {
            Some(parent) => format!("{parent}.{name}"),
            None => name.to_owned(),
        });
    }
    ApiError::Validation { field, detail }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match &r {
            JsonRejection::JsonDataError(e) => match json_path_error(e) {
                Some(err) => json_data_problem(err),
                None => from_rejection(r.status(), r.body_text(), &r),
            },
            JsonRejection::JsonSyntaxError(e) => {
                let detail = match json_path_error(e) {
                    Some(err) => format!("Malformed JSON: {}", err.inner()),
                    None => r.body_text(),
                };
                Self::BadRequest { detail }
            }
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType {
                detail: "Expected `Content-Type: application/json`.".into(),
            },
            _ => from_rejection(r.status(), r.body_text(), &r),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        from_rejection(r.status(), r.body_text(), &r)
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        from_rejection(r.status(), r.body_text(), &r)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        from_rejection(r.status(), r.body_text(), &r)
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(r: MultipartRejection) -> Self {
        from_rejection(r.status(), r.body_text(), &r)
    }
}

impl From<MultipartError> for ApiError {
    fn from(e: MultipartError) -> Self {
        from_rejection(e.status(), e.body_text(), &e)
    }
}

impl From<ClaimsError> for ApiError {
    fn from(e: ClaimsError) -> Self {
        let field = match &e {
            ClaimsError::UnknownField { field } => Some(field.clone()),
            ClaimsError::MissingField { field }
            | ClaimsError::WrongType { field, .. }
            | ClaimsError::WrongLength { field, .. }
            | ClaimsError::EmptyText { field }
            | ClaimsError::TextTooLong { field, .. }
            | ClaimsError::ControlCharacter { field }
            | ClaimsError::InvalidMediaType { field }
            | ClaimsError::Zero { field }
            | ClaimsError::TooManyItems { field, .. } => Some((*field).to_owned()),
            ClaimsError::UnknownImageRole { .. } => Some("images[].role".to_owned()),
            ClaimsError::UnknownVideoRole { .. } => Some("videos[].role".to_owned()),
            _ => None,
        };
        Self::Validation {
            field,
            detail: e.to_string(),
        }
    }
}

/// `axum::Json` whose rejection is an [`ApiError`]; as a response, plain
/// `application/json`.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejection is an [`ApiError`].
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` whose rejection is an [`ApiError`].
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The `detail` of the 404 for a path no route serves, which tells it
/// apart from a route's own 404 (no such token, media, tile).
pub const NO_ROUTE_DETAIL: &str = "There is no resource at this path.";

/// A `Router::fallback` handler: 404 `not-found` as a problem.
pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found(NO_ROUTE_DETAIL)
}

/// A `Router::method_not_allowed_fallback` handler: 405 as a problem.
pub async fn method_not_allowed_fallback() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests;
