//! `loupe-issuer serve`: runs the issuer service with the settings of
//! [`ServeArgs`] (flags, `LOUPE_*` environment, `--config` TOML file) until
//! Ctrl-C or SIGTERM, then shuts down gracefully (in-flight requests and
//! the sequencer's current batch finish).

use super::CliError;
use crate::client::error_chain;
use crate::config::ServeArgs;

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed: never complete on this branch.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

/// Runs `serve`.
///
/// # Errors
///
/// [`CliError::Config`] or [`CliError::Service`].
pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    let config = args.resolve()?;
    tracing::info!(
        listen = %config.listen,
        database = %config.database_url_redacted(),
        public_base_url = %config.public_base_url,
        issuer = %config.issuer_origin,
        "starting loupe-issuer"
    );
    crate::app::serve(config, shutdown_signal())
        .await
        .map_err(|e| CliError::Service(error_chain(&e)))
}
