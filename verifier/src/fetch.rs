//! Fetching from the issuers and logs the trust store names, and nowhere
//! else: every URL (and every redirect) is checked against the trust store
//! before a connection is made; connect and total timeouts; a size cap on
//! every body, enforced while reading.
//!
//! Responses that never change (a token by id, a certified file) are cached
//! without expiry; answers that change (proofs, status, checkpoints) are
//! cached for a short, configurable time (default 0: not cached) — the
//! verification API turns it on so that a burst of verifications of one
//! token costs the issuer one request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

use crate::trust::TrustStore;

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL is not under any origin in the trust store; nothing was
    /// requested.
    #[error("{0} is not an origin this verifier trusts; nothing was fetched")]
    Untrusted(String),
    /// A redirect pointed outside the trusted origins.
    #[error("redirect to an untrusted place refused: {0}")]
    Redirect(String),
    /// Connecting, sending or reading failed (or timed out).
    #[error("could not fetch {url}: {why}")]
    Network {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body was larger than allowed.
    #[error("{url}: the answer is larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        limit: usize,
    },
}

/// Bodies larger than this (256 KiB) are never cached.
pub const MAX_CACHED_BODY: usize = 256 * 1024;

/// Timeouts, size caps and cache lifetimes for a [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// TCP (and TLS) connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for the whole request, body included.
    pub timeout: Duration,
    /// How long proofs, status and checkpoints are cached (0: not at all).
    pub cache_ttl: Duration,
    /// Most cached responses kept (oldest dropped first).
    pub cache_entries: usize,
    /// The `User-Agent` sent.
    pub user_agent: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            cache_ttl: Duration::ZERO,
            cache_entries: 10_000,
            user_agent: format!("loupe-verifier/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// How long a response may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// It can never change (content-addressed).
    Immutable,
    /// It may change: keep it only for the configured TTL.
    Changing,
}

#[derive(Debug, Clone)]
struct Cached {
    at: Instant,
    freshness: Freshness,
    body: Arc<[u8]>,
}

/// An HTTP client that only talks to trusted origins.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    trust: Arc<TrustStore>,
    options: FetchOptions,
    cache: Arc<Mutex<HashMap<(String, &'static str), Cached>>>,
}

/// Installs the ring crypto provider for rustls once (reqwest is built
/// without a default provider).
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Fetcher {
    /// A fetcher limited to the origins of `trust`.
    ///
    /// # Errors
    /// [`FetchError::Network`] if the HTTP client cannot be built.
    pub fn new(trust: Arc<TrustStore>, options: FetchOptions) -> Result<Self, FetchError> {
        install_crypto_provider();
        let policy_trust = Arc::clone(&trust);
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 {
                attempt.error(FetchError::Redirect("more than 3 redirects".into()))
            } else if policy_trust.is_trusted_url(attempt.url()) {
                attempt.follow()
            } else {
                let to = attempt.url().to_string();
                attempt.error(FetchError::Redirect(to))
            }
        });
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .redirect(redirect)
            .user_agent(options.user_agent.clone())
            .no_proxy()
            .build()
            .map_err(|e| FetchError::Network {
                url: String::new(),
                why: e.to_string(),
            })?;
        Ok(Self {
            client,
            trust,
            options,
            cache: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The trust store this fetcher is limited to.
    #[must_use]
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// GETs `url` with `Accept: accept`, reading at most `limit` bytes.
    ///
    /// # Errors
    /// [`FetchError`]: untrusted URL (nothing requested), network,
    /// non-2xx status, or a body over `limit`.
    pub async fn get(
        &self,
        url: &Url,
        accept: &'static str,
        limit: usize,
        freshness: Freshness,
    ) -> Result<Arc<[u8]>, FetchError> {
        if !self.trust.is_trusted_url(url) {
            return Err(FetchError::Untrusted(url.to_string()));
        }
        let key = (url.to_string(), accept);
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let body = self.get_uncached(url, accept, limit).await?;
        self.store(key, freshness, Arc::clone(&body));
        Ok(body)
    }

    /// Drops the cached answer for `url` and `accept`, if any. The caller
    /// verifies what it fetched; an answer that failed verification must
    /// not be served again from the cache (for an [`Freshness::Immutable`]
    /// one: never again), or one lie would stick to the URL for good.
    pub fn forget(&self, url: &Url, accept: &'static str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&(url.to_string(), accept));
        }
    }

    fn cached(&self, key: &(String, &'static str)) -> Option<Arc<[u8]>> {
        let cache = self.cache.lock().ok()?;
        let hit = cache.get(key)?;
        let fresh = match hit.freshness {
            Freshness::Immutable => true,
            Freshness::Changing => hit.at.elapsed() < self.options.cache_ttl,
        };
        fresh.then(|| Arc::clone(&hit.body))
    }

    fn store(&self, key: (String, &'static str), freshness: Freshness, body: Arc<[u8]>) {
        if (freshness == Freshness::Changing && self.options.cache_ttl.is_zero())
            || body.len() > MAX_CACHED_BODY
        {
            // Large bodies (photos) are not kept: the cache is bounded by
            // entries × this size, and the buyer page keeps its own
            // byte-budgeted photo cache.
            return;
        }
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= self.options.cache_entries {
            // Drop what has expired; if that is not enough, drop everything
            // (simple, bounded, and a refill costs one request per URL).
            let ttl = self.options.cache_ttl;
            cache.retain(|_, c| c.freshness == Freshness::Immutable || c.at.elapsed() < ttl);
            if cache.len() >= self.options.cache_entries {
                cache.clear();
            }
        }
        cache.insert(
            key,
            Cached {
                at: Instant::now(),
                freshness,
                body,
            },
        );
    }

    async fn get_uncached(
        &self,
        url: &Url,
        accept: &'static str,
        limit: usize,
    ) -> Result<Arc<[u8]>, FetchError> {
        let network = |e: reqwest::Error| {
            // A refused redirect surfaces as a reqwest error wrapping ours.
            let mut source: Option<&dyn std::error::Error> = Some(&e);
            while let Some(s) = source {
                if let Some(fe) = s.downcast_ref::<FetchError>() {
                    return fe.clone();
                }
                source = s.source();
            }
            FetchError::Network {
                url: url.to_string(),
                why: if e.is_timeout() {
                    "timed out".into()
                } else if e.is_connect() {
                    "connection failed".into()
                } else {
                    e.to_string()
                },
            }
        };
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(network)?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }
}
