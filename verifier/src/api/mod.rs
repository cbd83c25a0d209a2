//! The verification HTTP API for insurers and marketplaces, and the buyer
//! page.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v1/verify` | a token URL, or token bytes with an optional proof bundle, and optional file digests or files → the [`Verdict`](crate::Verdict) as JSON (`schemas/json/verdict.schema.json`), 200 whatever its status ([`verify`]) |
//! | `GET /verify?url=…` | the buyer page: the verdict in plain words, the stone, each check, the certified photos with a tick per matching digest ([`page`]); the issuer's `GET /t/{id}` redirects browsers here |
//! | `GET /` | a form to paste a token URL |
//! | `GET /photo/{sha256}` | a photo the buyer page just fetched from a trusted issuer and checked against its certified digest; nothing else |
//! | `GET /openapi.json` | the OpenAPI 3.1 description, with the verdict and problem schemas embedded |
//! | `GET /healthz`, `GET /metrics` | liveness; Prometheus text (verdicts by status, latency histogram, rate-limited requests) |
//!
//! Errors are RFC 9457 problem details ([`problem`]). `POST /v1/verify` and
//! `GET /verify` are rate limited per client address ([`rate_limit`]),
//! which needs the connection's address: [`serve`] (the connection loop of
//! `loupe-httpd`) gives every request its peer's address; with your own
//! loop, serve with `into_make_service_with_connect_info::<SocketAddr>()`.
//! Without it, requests are not limited.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use loupe_verifier::api::{ApiConfig, serve};
//! use loupe_verifier::{FetchOptions, TrustStore, Verifier};
//! let trust = TrustStore::load(std::path::Path::new("trust.toml"))?;
//! let options = FetchOptions {
//!     cache_ttl: std::time::Duration::from_secs(5),
//!     ..FetchOptions::default()
//! };
//! let verifier = Arc::new(Verifier::new(trust).online(options)?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! serve(listener, verifier, ApiConfig::default(), std::future::pending()).await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::Verifier;

pub mod metrics;
mod ops;
pub mod page;
pub mod problem;
pub mod rate_limit;
mod render;
pub mod verify;

use metrics::Metrics;
use page::PhotoCache;
use problem::{ApiError, method_not_allowed_fallback, not_found_fallback};
use rate_limit::RateLimiter;

/// Settings of the verification API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Requests per minute allowed per client address (0: unlimited), with
    /// a burst of the same size. Applies to `POST /v1/verify` and the buyer
    /// page.
    pub rate_limit_per_minute: u32,
    /// Client addresses tracked at most by the rate limiter.
    pub rate_limit_clients: usize,
    /// Largest request body accepted, in bytes (multipart with files).
    pub body_limit: usize,
    /// Largest JSON request body accepted, in bytes (also capped by
    /// `body_limit`).
    pub json_limit: usize,
    /// Longest a request may take, fetches included (then 503).
    pub request_timeout: Duration,
    /// Bytes of verified photos kept for `GET /photo/{sha256}`.
    pub photo_cache_bytes: usize,
    /// Largest photo the buyer page fetches and shows, in bytes.
    pub max_photo_bytes: u64,
    /// Connection cap and per-connection timeouts of [`serve`].
    pub connections: loupe_httpd::ConnectionLimits,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_minute: 600,
            rate_limit_clients: rate_limit::DEFAULT_MAX_CLIENTS,
            body_limit: 32 << 20,
            json_limit: 256 << 10,
            request_timeout: Duration::from_secs(30),
            photo_cache_bytes: 64 << 20,
            max_photo_bytes: 16 << 20,
            connections: loupe_httpd::ConnectionLimits::default(),
        }
    }
}

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub verifier: Arc<Verifier>,
    pub config: ApiConfig,
    pub metrics: Metrics,
    pub limiter: RateLimiter,
    pub photos: PhotoCache,
    pub http: loupe_httpd::Server,
}

/// The handlers' state.
pub(crate) type AppState = Arc<Shared>;

/// The API's router.
pub fn router(verifier: Arc<Verifier>, config: ApiConfig) -> axum::Router {
    build(verifier, config).0
}

/// The router and the connection loop whose counters its `/metrics`
/// reports.
fn build(verifier: Arc<Verifier>, config: ApiConfig) -> (axum::Router, loupe_httpd::Server) {
    let http = loupe_httpd::Server::new(config.connections.clone());
    let state: AppState = Arc::new(Shared {
        limiter: RateLimiter::new(config.rate_limit_per_minute, config.rate_limit_clients),
        photos: PhotoCache::new(config.photo_cache_bytes),
        metrics: Metrics::default(),
        http: http.clone(),
        verifier,
        config,
    });
    let timeout = state.config.request_timeout;
    let limited = Router::new()
        .route("/v1/verify", post(verify::verify))
        .route("/verify", get(page::verify_page))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            rate_limit,
        ));
    let router = Router::new()
        .merge(limited)
        .route("/", get(page::index))
        .route("/photo/{sha256}", get(page::photo))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(not_found_fallback)
        .method_not_allowed_fallback(method_not_allowed_fallback)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::Unavailable("The request took too long.".into())
                }))
                .timeout(timeout),
        )
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state);
    (router, http)
}

/// Refuses a request with 429 when its client's bucket is empty.
async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Err(wait) = state.limiter.check(addr.ip())
    {
        state.metrics.rate_limited();
        return ApiError::TooManyRequests { retry_after: wait }.into_response();
    }
    next.run(request).await
}

/// Serves the API on `listener` (with [`ApiConfig::connections`]) until
/// `shutdown` completes, then finishes the requests in flight.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    verifier: Arc<Verifier>,
    config: ApiConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let (app, http) = build(verifier, config);
    http.serve(listener, app, shutdown).await
}
