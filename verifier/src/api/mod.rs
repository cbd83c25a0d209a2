//! The verification HTTP API for insurers and marketplaces, and the buyer
//! page.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::Verifier;

/// Settings of the verification API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Requests per minute allowed per client address (0: unlimited).
    pub rate_limit_per_minute: u32,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_minute: 600,
            body_limit: 32 << 20,
        }
    }
}

/// The API's router.
pub fn router(verifier: Arc<Verifier>, config: ApiConfig) -> axum::Router {
    let _ = (verifier, config);
    axum::Router::new()
}

/// Serves the API on `listener` until the process ends.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    verifier: Arc<Verifier>,
    config: ApiConfig,
) -> std::io::Result<()> {
    let app = router(verifier, config);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
