//! The running service: state, start-up, and the HTTP server.
//!
//! [`AppState::open`] opens the store (running its migrations), loads the
//! keys, opens the media store and starts the sequencer; [`router`] builds
//! the axum application over a state (tests call it without a socket);
//! [`spawn`] binds a listener and serves in a task; [`serve`] serves until a
//! shutdown signal.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use ed25519_dalek::SigningKey;
use loupe_schemas::checkpoint::NoteSigner;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::apikey::KeyHash;
use crate::config::ServeConfig;
use crate::keys::{KeyFileError, load_log_signer, load_signing_key};
use crate::leadership::Leadership;
use crate::media::{MediaError, MediaStore};
use crate::metrics::Metrics;
use crate::problem::{ApiError, method_not_allowed_fallback, not_found_fallback};
use crate::rate_limit::KeyRateLimiter;
use crate::restore::check_expected_checkpoint;
use crate::rotation::LogSigner;
use crate::sequencer::{Sequencer, SequencerConfig, SequencerError, SequencerHandle};
use crate::store::{ApiKey, PostgresStore, Store, StoreError, open_store};

/// How long a looked-up API key is trusted before the store is asked again
/// (so a revoked key stops working within this time).
pub const API_KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// A key file could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The media directory could not be opened.
    #[error("media store: {0}")]
    Media(#[from] MediaError),
    /// The sequencer could not start (another one holds the log, or the
    /// stored log is inconsistent).
    #[error("sequencer: {0}")]
    Sequencer(#[from] SequencerError),
    /// A previous log key does not fit the current one.
    #[error("previous_log_keys: {0}")]
    Rotation(String),
    /// The log does not contain the expected (published) checkpoint: a
    /// lossy or foreign restore.
    #[error("refusing to start: {0}")]
    Restore(#[from] crate::restore::RestoreError),
    /// The listen address could not be bound, or serving failed.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// With `expect_checkpoint` set, checks (before anything is written) that
/// the log holds the tree of that published checkpoint.
async fn expect_checkpoint(
    store: &dyn Store,
    config: &ServeConfig,
    log_signer: &LogSigner,
) -> Result<(), AppError> {
    let Some(path) = &config.expect_checkpoint else {
        return Ok(());
    };
    let keys: Vec<_> = log_signer.all().iter().map(NoteSigner::verifier).collect();
    let seen = check_expected_checkpoint(store, path, &config.log_origin, &keys).await?;
    tracing::info!(
        expected = seen.expected,
        tree_size = seen.have,
        "the log contains the expected checkpoint"
    );
    Ok(())
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServeConfig,
    store: Arc<dyn Store>,
    leadership: Leadership,
    media: MediaStore,
    issuer_key: SigningKey,
    metrics: Metrics,
    api_keys: Mutex<HashMap<KeyHash, (Option<ApiKey>, Instant)>>,
    write_limiter: KeyRateLimiter,
    /// `/.well-known/loupe-issuer`, built from the key files on first use.
    description: std::sync::OnceLock<serde_json::Value>,
    /// The connection loop's slots and counters.
    http: loupe_httpd::Server,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print keys.
        f.debug_struct("AppState")
            .field("public_base_url", &self.inner.config.public_base_url)
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens the store (migrating it), loads both keys, opens the media
    /// directory and starts the sequencer. On PostgreSQL, when another
    /// instance already sequences the log, this one starts as a standby
    /// (see [`crate::leadership`]).
    ///
    /// # Errors
    /// [`AppError`] naming what failed.
    pub async fn open(config: ServeConfig) -> Result<Self, AppError> {
        let issuer_key = load_signing_key(&config.issuer_key)?;
        let log_signer: NoteSigner = load_log_signer(&config.log_key, &config.log_origin)?;
        let mut previous = Vec::new();
        for path in &config.key_history.previous_log_keys {
            previous.push(load_log_signer(path, &config.log_origin)?);
        }
        let log_signer = LogSigner::new(log_signer, previous).map_err(AppError::Rotation)?;
        let sequencer_config = SequencerConfig {
            max_batch: config.batch_size,
            max_delay: config.batch_delay,
        };
        let url = config.database_url.as_str();
        let (store, leadership) = if url.starts_with("postgres:") || url.starts_with("postgresql:")
        {
            let pg = PostgresStore::open(url).await?;
            let pool = pg.pool().clone();
            let store: Arc<dyn Store> = Arc::new(pg);
            expect_checkpoint(store.as_ref(), &config, &log_signer).await?;
            let leadership = Leadership::start(
                Arc::clone(&store),
                pool,
                &instance_id(),
                log_signer,
                sequencer_config,
            )
            .await?;
            (store, leadership)
        } else {
            let store = open_store(url).await?;
            expect_checkpoint(store.as_ref(), &config, &log_signer).await?;
            let sequencer =
                Sequencer::spawn(Arc::clone(&store), log_signer, sequencer_config).await?;
            let leadership = Leadership::fixed(Arc::clone(&store), sequencer);
            (store, leadership)
        };
        let media = MediaStore::open(&config.media_dir).await?;
        Ok(Self::with_leadership(
            config, store, leadership, media, issuer_key,
        ))
    }

    /// A state from parts already opened (tests, embedding), sequencing
    /// with `sequencer`.
    #[must_use]
    pub fn from_parts(
        config: ServeConfig,
        store: Arc<dyn Store>,
        sequencer: SequencerHandle,
        media: MediaStore,
        issuer_key: SigningKey,
    ) -> Self {
        let leadership = Leadership::fixed(Arc::clone(&store), sequencer);
        Self::with_leadership(config, store, leadership, media, issuer_key)
    }

    fn with_leadership(
        config: ServeConfig,
        store: Arc<dyn Store>,
        leadership: Leadership,
        media: MediaStore,
        issuer_key: SigningKey,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                write_limiter: KeyRateLimiter::new(config.rate_limit_per_minute),
                http: loupe_httpd::Server::new(config.connections.clone()),
                config,
                store,
                leadership,
                media,
                issuer_key,
                metrics: Metrics::default(),
                api_keys: Mutex::new(HashMap::new()),
                description: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The sequencer, while this instance sequences the log (always on
    /// SQLite; on PostgreSQL only the leader has one).
    #[must_use]
    pub fn sequencer(&self) -> Option<SequencerHandle> {
        self.inner.leadership.sequencer()
    }

    /// Whether this instance sequences the log, and how it submits.
    #[must_use]
    pub fn leadership(&self) -> &Leadership {
        &self.inner.leadership
    }

    /// The media store.
    #[must_use]
    pub fn media(&self) -> &MediaStore {
        &self.inner.media
    }

    /// The issuer's token-signing key.
    pub(crate) fn issuer_key(&self) -> &SigningKey {
        &self.inner.issuer_key
    }

    /// The cached issuer description, once built.
    pub(crate) fn description(&self) -> &std::sync::OnceLock<serde_json::Value> {
        &self.inner.description
    }

    /// The service's counters.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The HTTP connection loop (its limits and counters).
    #[must_use]
    pub fn http_server(&self) -> &loupe_httpd::Server {
        &self.inner.http
    }

    /// The URL of a token: `{public_base_url}/t/{id}`.
    #[must_use]
    pub fn token_url(&self, id: &loupe_schemas::token::TokenId) -> String {
        format!("{}/t/{id}", self.inner.config.public_base_url)
    }

    /// Checks a lab credential: the key must be known, not revoked, and
    /// scoped to this issuer. Answers from a short-lived cache
    /// ([`API_KEY_CACHE_TTL`]) so the write path costs no extra query.
    ///
    /// Each authorized call takes one write from the key's rate limit
    /// (`rate_limit_per_minute`).
    ///
    /// # Errors
    /// 401 for an unknown or revoked key, 403 for another issuer's key,
    /// 429 when the key has used up its writes for now, 500 when the store
    /// fails.
    pub async fn authorize(&self, hash: KeyHash) -> Result<ApiKey, ApiError> {
        let cached = {
            let cache = self
                .inner
                .api_keys
                .lock()
                .map_err(|_| ApiError::internal("API key cache poisoned"))?;
            cache
                .get(&hash)
                .filter(|(_, at)| at.elapsed() < API_KEY_CACHE_TTL)
                .map(|(k, _)| k.clone())
        };
        let key = match cached {
            Some(k) => k,
            None => {
                let found = self
                    .inner
                    .store
                    .api_key_by_hash(hash.as_bytes())
                    .await
                    .map_err(ApiError::internal)?;
                let mut cache = self
                    .inner
                    .api_keys
                    .lock()
                    .map_err(|_| ApiError::internal("API key cache poisoned"))?;
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(hash, (found.clone(), Instant::now()));
                found
            }
        };
        let unknown = || ApiError::Unauthorized {
            detail: "The API key is unknown or revoked.".into(),
            invalid_token: true,
        };
        let key = key.ok_or_else(unknown)?;
        if key.revoked_at.is_some() {
            return Err(unknown());
        }
        if key.issuer != self.inner.config.issuer_origin {
            return Err(ApiError::Forbidden {
                detail: format!("This API key is scoped to the issuer {:?}.", key.issuer),
            });
        }
        if let Err(wait) = self.inner.write_limiter.check(&hash) {
            self.inner.metrics.rejected();
            return Err(ApiError::TooManyRequests {
                retry_after: Some(wait),
            });
        }
        Ok(key)
    }

    /// Stops the sequencer (after its batch in progress), releasing the
    /// lock for a standby instance, and stops standing by.
    pub async fn shutdown(&self) {
        self.inner.leadership.shutdown().await;
    }
}

/// The whole HTTP application over `state`: the API routes, problem+json
/// fallbacks, body limits, the cap on requests in flight (503 beyond it),
/// the request timeout and tracing.
pub fn router(state: AppState) -> Router {
    let timeout = state.config().request_timeout;
    let max_concurrent = state.config().max_concurrent_requests.max(1);
    let max_json = state.config().max_json_body;
    // A capture: eight files at most (report, six photos, a video), each up
    // to the upload limit, plus the claims part and multipart framing.
    let upload = usize::try_from(state.config().max_upload_size)
        .unwrap_or(usize::MAX)
        .saturating_mul(8)
        .saturating_add(max_json)
        .saturating_add(64 * 1024);
    crate::api::router(upload)
        .fallback(not_found_fallback)
        .method_not_allowed_fallback(method_not_allowed_fallback)
        // One stack, applied once: every `Router::layer` call boxes each
        // route again, and each box is cloned (one allocation) and its
        // future boxed on every request. Outermost first.
        .layer(
            ServiceBuilder::new()
                .layer(TraceLayer::new_for_http())
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(DefaultBodyLimit::max(max_json))
                .layer(HandleErrorLayer::new(|e: tower::BoxError| async move {
                    if e.is::<tower::load_shed::error::Overloaded>() {
                        ApiError::Unavailable {
                            detail: "Too many requests in progress; retry shortly.".into(),
                            retry_after: Some(Duration::from_secs(1)),
                        }
                    } else {
                        ApiError::Unavailable {
                            detail: "The request took too long.".into(),
                            retry_after: None,
                        }
                    }
                }))
                // Beyond `max_concurrent_requests` in flight, refuse at
                // once (503) rather than queue without bound. The global
                // layer shares one semaphore between all routes (axum
                // layers each route separately).
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(max_concurrent))
                .timeout(timeout),
        )
        .with_state(state)
}

/// A service running in a background task.
#[derive(Debug)]
pub struct Running {
    /// The address it listens on (the real port when `listen` had port 0).
    pub addr: SocketAddr,
    /// `http://{addr}`.
    pub base_url: String,
    /// Its state (store, sequencer…), for tests and the CLI.
    pub state: AppState,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), std::io::Error>>,
}

impl Running {
    /// Stops accepting connections, finishes the requests in flight, then
    /// stops the sequencer.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        self.state.shutdown().await;
    }
}

/// A unique id of this process among the instances sharing a database:
/// its pid and 64 random bits.
fn instance_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        hex::encode(rand::random::<[u8; 8]>())
    )
}

/// Starts the service on `config.listen` in a background task.
///
/// # Errors
/// [`AppError`] when the state cannot be opened or the address bound.
pub async fn spawn(config: ServeConfig) -> Result<Running, AppError> {
    let listen = config.listen;
    let state = AppState::open(config).await?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| AppError::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| AppError::Listen {
        addr: listen,
        source,
    })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(state.clone());
    let server = state.http_server().clone();
    let task = tokio::spawn(async move {
        server
            .serve(listener, app, async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        base_url: format!("http://{addr}"),
        state,
        stop,
        task,
    })
}

/// Serves on `config.listen` until `shutdown` completes, then drains the
/// requests in flight and stops the sequencer.
///
/// # Errors
/// [`AppError`] when the state cannot be opened, the address bound, or
/// serving fails.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let listen = config.listen;
    let state = AppState::open(config).await?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| AppError::Listen {
            addr: listen,
            source,
        })?;
    tracing::info!(addr = %listen, "loupe-issuer listening");
    let result = state
        .http_server()
        .serve(listener, router(state.clone()), shutdown)
        .await;
    state.shutdown().await;
    result.map_err(|source| AppError::Listen {
        addr: listen,
        source,
    })
}
