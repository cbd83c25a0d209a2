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
//! | `GET /healthz`, `GET /metrics`, `GET /openapi.json` | operations |

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::app::AppState;

mod log;
mod ops;
mod read;
mod tokens;

/// The API routes, without state or middleware (see [`crate::app::router`]).
///
/// `upload_body_limit` bounds a whole `POST /v1/tokens` body: a multipart
/// capture carries up to eight files, each also bounded on its own by the
/// media store, so this route needs more than the JSON limit that applies
/// everywhere else (its JSON form still enforces the JSON limit itself).
pub fn router(upload_body_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/tokens",
            post(tokens::issue).layer(DefaultBodyLimit::max(upload_body_limit)),
        )
        .route("/v1/tokens/{id}/revocations", post(tokens::revoke))
        .route("/t/{id}", get(read::token))
        .route("/v1/tokens/{id}/proof", get(read::proof))
        .route("/v1/tokens/{id}/status", get(read::status))
        .route("/v1/tokens/{id}/qr.svg", get(read::qr_svg))
        .route("/v1/tokens/{id}/qr.png", get(read::qr_png))
        .route("/media/{sha256}", get(read::media))
        .route("/checkpoint", get(log::checkpoint))
        .route("/v1/consistency", get(log::consistency))
        .route("/tile/{*path}", get(log::tile))
        .route("/.well-known/loupe-issuer", get(ops::issuer_description))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
}

/// The largest tree size, leaf or tile index the store can hold (SQL
/// `BIGINT` is signed): larger numbers in a request name nothing, and are
/// answered 404 before the store is asked.
const MAX_STORED_SIZE: u64 = u64::MAX >> 1;

/// Parses a token id from a path segment: a malformed id cannot name
/// anything, so it is a 404 like an unknown one (with a clearer detail).
fn parse_token_id(s: &str) -> Result<loupe_schemas::token::TokenId, crate::problem::ApiError> {
    s.parse().map_err(|_| {
        crate::problem::ApiError::not_found(
            "No such token: a token id is 43 characters of base64url (SHA-256 of the token).",
        )
    })
}
