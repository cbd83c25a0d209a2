//! The HTTP service the CLI starts (`serve`, `demo`): `crate::app`.
//!
//! Merge bridge (see `build.rs`): this branch was written against the
//! service's contract before `src/app.rs` was merged. With `cfg(loupe_app)`
//! (set when `src/app.rs` exists) this re-exports the real service;
//! without it, a stub with the same signatures reports that the service is
//! not built in. Remove the stub and the cfg once both branches are merged.
//!
//! Contract used here:
//! `async fn spawn(ServeConfig) -> Result<Running, AppError>`,
//! `Running { addr: SocketAddr, base_url: String }` with
//! `async fn shutdown(self)`, and
//! `async fn serve(ServeConfig, impl Future<Output = ()>) -> Result<(), AppError>`;
//! `AppError: std::error::Error`.

#[cfg(loupe_app)]
pub(crate) use crate::app::{serve, spawn};

#[cfg(not(loupe_app))]
pub(crate) use self::stub::{serve, spawn};

#[cfg(not(loupe_app))]
#[allow(dead_code, clippy::unused_async)]
mod stub {
    use std::future::Future;
    use std::net::SocketAddr;

    use crate::config::ServeConfig;

    /// Stand-in for `crate::app::AppError`.
    #[derive(Debug, thiserror::Error)]
    #[error("this build has no HTTP service yet (issuer/src/app.rs is not merged)")]
    pub(crate) struct AppError;

    /// Stand-in for `crate::app::Running`.
    #[derive(Debug)]
    pub(crate) struct Running {
        pub(crate) addr: SocketAddr,
        pub(crate) base_url: String,
    }

    impl Running {
        pub(crate) async fn shutdown(self) {}
    }

    pub(crate) async fn spawn(_config: ServeConfig) -> Result<Running, AppError> {
        Err(AppError)
    }

    pub(crate) async fn serve(
        _config: ServeConfig,
        _shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        Err(AppError)
    }
}
