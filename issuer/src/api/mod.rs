//! The HTTP API: one module per resource.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v1/tokens` | issue a token (JSON digests, or multipart with the files); lab credential |
//! | `POST /v1/tokens/{id}/revocations` | revoke a token; lab credential |
//! | `GET /t/{id}` | the token: COSE bytes, decoded JSON, or a redirect to the verification page |
//! | `GET /v1/tokens/{id}/proof` | its C2SP `tlog-proof` bundle (`?tree_size=` for an older checkpoint) |
//! | `GET /v1/tokens/{id}/status` | active, revoked or superseded, with the proof of what ended it |
//! | `GET /v1/tokens/{id}/qr.svg`, `qr.png` | the QR code of its URL |
//! | `GET /media/{sha256}` | a certified file, content-addressed |
//! | `GET /checkpoint`, `GET /v1/consistency?old=&new=`, `GET /tile/...` | the log (C2SP checkpoint and tiles) |
//! | `GET /.well-known/loupe-issuer` | what a verifier needs to trust this issuer |
//! | `GET /healthz`, `GET /metrics`, `GET /openapi.json` | operations; the OpenAPI document is generated from the handlers ([`ApiDoc`]) |

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};
use utoipa::openapi::path::HttpMethod;

use crate::app::AppState;

mod log;
mod openapi;
mod ops;
mod read;
mod tokens;

pub use openapi::{ApiDoc, openapi_document};

/// The API routes, without state or middleware (see [`crate::app::router`]).
///
/// `upload_body_limit` bounds a whole `POST /v1/tokens` body: a multipart
/// capture carries up to eight files, each also bounded on its own by the
/// media store, so this route needs more than the JSON limit that applies
/// everywhere else (its JSON form still enforces the JSON limit itself).
pub fn router(upload_body_limit: usize) -> Router<AppState> {
    routes(upload_body_limit)
        .into_iter()
        .fold(Router::new(), |router, route| {
            router.route(&route.router_path(), route.service)
        })
}

/// The method and OpenAPI path (`/v1/tokens/{id}/proof`) of every route
/// [`router`] serves, in the order it registers them. The paths and
/// methods come from the handlers' `#[utoipa::path]` attributes, the same
/// ones [`ApiDoc`] documents; tests compare the two lists.
#[must_use]
pub fn operations() -> Vec<(Method, String)> {
    routes(0)
        .into_iter()
        .flat_map(|route| {
            let path = route.path;
            route
                .methods
                .into_iter()
                .map(move |m| (http_method(&m), path.clone()))
        })
        .collect()
}

/// Every route: add one here and its handler to `paths(...)` of [`ApiDoc`].
fn routes(upload_body_limit: usize) -> Vec<Route> {
    vec![
        Route::new::<tokens::__path_issue, _, _>(tokens::issue).layer_body_limit(upload_body_limit),
        Route::new::<tokens::__path_revoke, _, _>(tokens::revoke),
        Route::new::<read::__path_token, _, _>(read::token),
        Route::new::<read::__path_proof, _, _>(read::proof),
        Route::new::<read::__path_status, _, _>(read::status),
        Route::new::<read::__path_qr_svg, _, _>(read::qr_svg),
        Route::new::<read::__path_qr_png, _, _>(read::qr_png),
        Route::new::<read::__path_media, _, _>(read::media),
        Route::new::<log::__path_checkpoint, _, _>(log::checkpoint),
        Route::new::<log::__path_consistency, _, _>(log::consistency),
        Route::new::<log::__path_tile, _, _>(log::tile).catch_all(),
        Route::new::<ops::__path_issuer_description, _, _>(ops::issuer_description),
        Route::new::<ops::__path_healthz, _, _>(ops::healthz),
        Route::new::<ops::__path_metrics, _, _>(ops::metrics),
        Route::new::<ops::__path_openapi, _, _>(ops::openapi),
    ]
}

/// One route: a handler served at the path and methods of its
/// `#[utoipa::path]` operation `P`.
struct Route {
    /// The OpenAPI path, `{name}` for each parameter.
    path: String,
    /// The methods of the operation.
    methods: Vec<HttpMethod>,
    /// The last parameter takes the rest of the path, slashes included
    /// (`{*name}` in the router; OpenAPI has no such parameter).
    catch_all: bool,
    /// The handler.
    service: MethodRouter<AppState>,
}

impl Route {
    /// `handler` at the path and methods of the operation `P`.
    fn new<P, H, T>(handler: H) -> Self
    where
        P: utoipa::Path,
        H: Handler<T, AppState>,
        T: 'static,
    {
        let methods = P::methods();
        let filter = methods
            .iter()
            .map(method_filter)
            .reduce(MethodFilter::or)
            .unwrap_or(MethodFilter::GET);
        Self {
            path: P::path(),
            methods,
            catch_all: false,
            service: on(filter, handler),
        }
    }

    /// Makes the last path parameter take the rest of the path.
    fn catch_all(mut self) -> Self {
        self.catch_all = true;
        self
    }

    /// Bounds request bodies of this route at `limit` bytes.
    fn layer_body_limit(mut self, limit: usize) -> Self {
        self.service = self.service.layer(DefaultBodyLimit::max(limit));
        self
    }

    /// The path in axum's syntax: `/tile/{*path}` for a catch-all.
    fn router_path(&self) -> String {
        match self.path.rsplit_once("/{") {
            Some((head, last)) if self.catch_all => format!("{head}/{{*{last}"),
            _ => self.path.clone(),
        }
    }
}

/// The axum filter of an OpenAPI method.
fn method_filter(m: &HttpMethod) -> MethodFilter {
    match m {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Delete => MethodFilter::DELETE,
        HttpMethod::Options => MethodFilter::OPTIONS,
        HttpMethod::Head => MethodFilter::HEAD,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Trace => MethodFilter::TRACE,
    }
}

/// The HTTP method of an OpenAPI method.
fn http_method(m: &HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// The largest tree size, leaf or tile index the store can hold (SQL
/// `BIGINT` is signed): larger numbers in a request name nothing, and are
/// answered 404 before the store is asked.
const MAX_STORED_SIZE: u64 = u64::MAX >> 1;

/// The `{id}` of the routes about one token.
#[derive(Debug, serde::Deserialize)]
struct TokenPath {
    /// The token id, as sent (parsed by [`parse_token_id`]).
    id: String,
}

/// Written out because a derived `IntoParams` drops the description and
/// `required` of a parameter whose schema is a reference.
impl utoipa::IntoParams for TokenPath {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            utoipa::openapi::path::ParameterBuilder::new()
                .name("id")
                .parameter_in(utoipa::openapi::path::ParameterIn::Path)
                .required(utoipa::openapi::Required::True)
                .description(Some(
                    "Token id: base64url SHA-256 of the logged token bytes (43 characters). A malformed id names nothing: 404.",
                ))
                .schema(Some(openapi::token_id()))
                .build(),
        ]
    }
}

/// Parses a token id from a path segment: a malformed id cannot name
/// anything, so it is a 404 like an unknown one (with a clearer detail).
fn parse_token_id(s: &str) -> Result<loupe_schemas::token::TokenId, crate::problem::ApiError> {
    s.parse().map_err(|_| {
        crate::problem::ApiError::not_found(
            "No such token: a token id is 43 characters of base64url (SHA-256 of the token).",
        )
    })
}
