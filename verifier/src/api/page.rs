//! The buyer page: `GET /verify?url=…` verifies a token URL and renders the
//! verdict for people; `GET /` is a form to paste a URL; `GET
//! /photo/{sha256}` serves the certified photos the page just checked.
//!
//! Photos are fetched by this server (never by the browser) from the
//! issuer's content-addressed media store, `{issuer url}/media/{sha256
//! hex}` — a trusted origin — through the verifier's [`Fetcher`], hashed,
//! and compared with the digests the token certifies. Only photos whose
//! bytes hash to their certified digest, and whose certified media type is
//! a raster image type a browser shows safely (JPEG, PNG, WebP, AVIF; never
//! SVG, which can carry script), are kept in a bounded [`PhotoCache`] and
//! served under `/photo/{sha256}`. Photos are shown only for a genuine
//! token (valid, revoked or superseded): an invalid token's digests are
//! whatever its forger chose.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use loupe_schemas::token::{ImageRole, Sha256Digest};
use sha2::{Digest as _, Sha256};
use url::Url;

use super::AppState;
use super::metrics::Via;
use super::problem::ApiError;
use super::render;
use crate::fetch::{Fetcher, Freshness};
use crate::{FilesInHand, Input, Status, Verdict};

/// Media types the page shows inline (raster images only).
const SAFE_IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/avif"];

/// The outcome of checking one certified photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoView {
    /// Its role.
    pub role: ImageRole,
    /// Its certified digest.
    pub sha256: Sha256Digest,
    /// Whether the bytes served hash to the certified digest (and may be
    /// shown: `/photo/{sha256}` serves them).
    pub matches: bool,
    /// Why, in words.
    pub reason: String,
}

struct CachedPhoto {
    bytes: Arc<[u8]>,
    media_type: &'static str,
    at: Instant,
}

/// Photos that matched their certified digest, by digest, within a byte
/// budget (oldest dropped first).
#[derive(Default)]
pub struct PhotoCache {
    budget: usize,
    inner: Mutex<(HashMap<Sha256Digest, CachedPhoto>, usize)>,
}

impl std::fmt::Debug for PhotoCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhotoCache")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl PhotoCache {
    /// A cache of at most `budget` bytes.
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// Keeps a verified photo. Only call it with bytes that hash to
    /// `digest`.
    fn insert(&self, digest: Sha256Digest, bytes: Arc<[u8]>, media_type: &'static str) {
        if bytes.len() > self.budget {
            return;
        }
        let Ok(mut guard) = self.inner.lock() else {
            return;
        };
        let (map, used) = &mut *guard;
        if let Some(old) = map.get_mut(&digest) {
            old.at = Instant::now();
            return;
        }
        while *used + bytes.len() > self.budget {
            let Some(oldest) = map.iter().min_by_key(|(_, p)| p.at).map(|(d, _)| *d) else {
                break;
            };
            if let Some(p) = map.remove(&oldest) {
                *used = used.saturating_sub(p.bytes.len());
            }
        }
        *used += bytes.len();
        map.insert(
            digest,
            CachedPhoto {
                bytes,
                media_type,
                at: Instant::now(),
            },
        );
    }

    fn get(&self, digest: &Sha256Digest) -> Option<(Arc<[u8]>, &'static str)> {
        let guard = self.inner.lock().ok()?;
        guard
            .0
            .get(digest)
            .map(|p| (Arc::clone(&p.bytes), p.media_type))
    }
}

/// `GET /`: a form to paste a token URL.
pub async fn index() -> Response {
    html(StatusCode::OK, render::index_page(None))
}

/// `GET /verify?url=…`: the buyer page.
pub(crate) async fn verify_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut urls: Vec<String> = query
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == "url")
                .map(|(_, v)| v.into_owned())
                .collect()
        })
        .unwrap_or_default();
    if urls.len() > 1 {
        // `?url=a&url=b` has no single meaning: check neither.
        return html(
            StatusCode::BAD_REQUEST,
            render::index_page(Some("Give one link to check, not several.")),
        );
    }
    let url = urls.pop();
    let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
        return html(
            StatusCode::BAD_REQUEST,
            render::index_page(Some(
                "Paste the link from the QR code or certificate (it ends in /t/ and a long code).",
            )),
        );
    };
    if url.len() > super::verify::MAX_URL_BYTES {
        return html(
            StatusCode::BAD_REQUEST,
            render::index_page(Some("That link is too long to be a Loupe token link.")),
        );
    }
    let started = Instant::now();
    let verdict = state
        .verifier
        .verify(Input::Url(&url), &FilesInHand::default())
        .await;
    state
        .metrics
        .verdict(Via::Page, verdict.status, started.elapsed());
    let photos = check_photos(&state, &verdict).await;
    html(StatusCode::OK, render::verdict_page(&verdict, &photos))
}

/// Whether the verdict says the lab really signed and logged this token.
fn is_genuine(status: Status) -> bool {
    matches!(status, Status::Valid | Status::Revoked | Status::Superseded)
}

/// Fetches, hashes and compares every certified photo of a genuine token
/// (concurrently), keeping the matching ones for `/photo/{sha256}`.
async fn check_photos(state: &AppState, verdict: &Verdict) -> Vec<PhotoView> {
    let Some(token) = verdict
        .token
        .as_ref()
        .filter(|_| is_genuine(verdict.status))
    else {
        return Vec::new();
    };
    let (Some(fetcher), Some(issuer)) = (
        state.verifier.fetcher(),
        state.verifier.trust().issuer(&token.claims().iss),
    ) else {
        return Vec::new();
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (i, image) in token.provenance().images.iter().enumerate() {
        let fetcher = fetcher.clone();
        let url = media_url(&issuer.url, &image.sha256);
        let digest = image.sha256;
        let size = image.size;
        let media_type = image.media_type.clone();
        let max = state.config.max_photo_bytes;
        tasks.spawn(async move {
            (
                i,
                fetch_photo(&fetcher, &url, digest, size, &media_type, max).await,
            )
        });
    }
    let mut results: Vec<(usize, PhotoResult)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(r) = joined {
            results.push(r);
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let mut views = Vec::new();
    for (i, result) in results {
        let Some(image) = token.provenance().images.get(i) else {
            continue;
        };
        let (matches, reason) = match result {
            PhotoResult::Matches(bytes, media_type) => {
                state.photos.insert(image.sha256, bytes, media_type);
                (true, "matches the photo the lab certified".to_owned())
            }
            PhotoResult::Differs(got) => (
                false,
                format!(
                    "the file served is NOT the certified photo (sha256 {}… instead of {}…)",
                    short(&got),
                    short(&image.sha256)
                ),
            ),
            PhotoResult::NotShown(why) => (false, why),
        };
        views.push(PhotoView {
            role: image.role,
            sha256: image.sha256,
            matches,
            reason,
        });
    }
    views
}

enum PhotoResult {
    Matches(Arc<[u8]>, &'static str),
    Differs(Sha256Digest),
    NotShown(String),
}

async fn fetch_photo(
    fetcher: &Fetcher,
    url: &Url,
    digest: Sha256Digest,
    size: u64,
    media_type: &str,
    max: u64,
) -> PhotoResult {
    let Some(safe_type) = SAFE_IMAGE_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(media_type))
    else {
        return PhotoResult::NotShown(format!(
            "certified as {media_type}, which this page does not display"
        ));
    };
    if size > max {
        return PhotoResult::NotShown(format!(
            "certified as {size} bytes, larger than this page shows"
        ));
    }
    // The certified size is the limit: a larger answer is not the photo.
    let limit = usize::try_from(size).unwrap_or(usize::MAX);
    match fetcher
        .get(url, "image/*", limit, Freshness::Immutable)
        .await
    {
        Ok(bytes) => {
            let got = Sha256Digest(Sha256::digest(&bytes).into());
            if got == digest {
                PhotoResult::Matches(bytes, safe_type)
            } else {
                PhotoResult::Differs(got)
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "photo fetch");
            PhotoResult::NotShown(format!("could not be fetched from the lab: {e}"))
        }
    }
}

/// `{issuer url}/media/{sha256 hex}`, keeping the base URL's path.
fn media_url(base: &Url, digest: &Sha256Digest) -> Url {
    let mut url = base.clone();
    let path = format!("{}/media/{digest}", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

fn short(d: &Sha256Digest) -> String {
    let hex = d.to_string();
    hex.get(..12).unwrap_or(&hex).to_owned()
}

/// `GET /photo/{sha256}`: a photo the buyer page verified, or 404.
pub(crate) async fn photo(
    State(state): State<AppState>,
    digest: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    // A segment that is not even UTF-8 names no photo either.
    let digest: Sha256Digest = digest
        .ok()
        .and_then(|Path(d)| d.parse().ok())
        .ok_or_else(|| ApiError::NotFound("No such photo.".into()))?;
    let (bytes, media_type) = state
        .photos
        .get(&digest)
        .ok_or_else(|| ApiError::NotFound("No such verified photo here.".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
        ],
        axum::body::Bytes::from_owner(bytes),
    )
        .into_response())
}

/// An HTML answer with the page's security headers.
fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
                ),
            ),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_photo_cache_keeps_to_its_budget() {
        let cache = PhotoCache::new(10);
        let a = Sha256Digest::of(b"a");
        let b = Sha256Digest::of(b"b");
        cache.insert(a, Arc::from(vec![0u8; 6]), "image/png");
        cache.insert(b, Arc::from(vec![0u8; 6]), "image/png");
        assert!(cache.get(&a).is_none(), "the oldest went");
        assert_eq!(cache.get(&b).unwrap().0.len(), 6);
        cache.insert(
            Sha256Digest::of(b"c"),
            Arc::from(vec![0u8; 11]),
            "image/png",
        );
        assert!(cache.get(&Sha256Digest::of(b"c")).is_none(), "too large");
    }

    #[test]
    fn media_urls_keep_the_base_path() {
        let d = Sha256Digest::of(b"x");
        let u = media_url(&Url::parse("https://lab.example/issuer/").unwrap(), &d);
        assert_eq!(u.as_str(), format!("https://lab.example/issuer/media/{d}"));
        let u = media_url(&Url::parse("http://127.0.0.1:9/").unwrap(), &d);
        assert_eq!(u.as_str(), format!("http://127.0.0.1:9/media/{d}"));
    }
}
