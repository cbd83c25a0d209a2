//! A small typed client for the issuer's HTTP API, used by the CLI
//! (`issue`, `revoke`, `demo`) and by tests.
//!
//! | method | request |
//! | --- | --- |
//! | [`IssuerClient::issue_files`] | `POST /v1/tokens`, `multipart/form-data`: a `claims` part and one file part per role, streamed from disk and hashed on the way |
//! | [`IssuerClient::issue_digests`] | `POST /v1/tokens`, JSON: the digests only (the lab hashed locally) |
//! | [`IssuerClient::revoke`] | `POST /v1/tokens/{id}/revocations` |
//! | [`IssuerClient::token`] | `GET /t/{id}` with `Accept: application/cose` |
//! | [`IssuerClient::proof`] | `GET /v1/tokens/{id}/proof` |
//! | [`IssuerClient::status`] | `GET /v1/tokens/{id}/status` |
//! | [`IssuerClient::checkpoint`], [`IssuerClient::health`] | `GET /checkpoint`, `GET /healthz` |
//!
//! Every issuance answer is checked before it is returned ([`Issued`]): the
//! token parses, its id is the `token_id` and the end of the `url`, its
//! `sub` is the report number sent, and its payload names exactly the files
//! sent, by SHA-256, size and media type. The signature is not checked here
//! (that needs the issuer's public key; see `loupe-issuer demo` and the
//! verifier).
//!
//! Errors are one line each ([`ClientError`]); an RFC 9457 problem answer
//! becomes [`ClientError::Problem`] with its type, title and detail.
//! Requests that never reached the server (connection refused) and answers
//! 429 and 503 are retried a few times, honouring `Retry-After`.
//!
//! TLS is rustls with the *ring* provider, installed once per process
//! ([`install_crypto_provider`]); certificates are checked against the
//! platform's roots.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::token::{
    FileDigest, ImageDigest, MediaRole as _, Provenance, Sha256Digest, Stone, Token, TokenId,
    VideoDigest,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt as _;

use crate::apikey::ApiKey;
use crate::problem::{PROBLEM_BASE, Problem, ProblemType};
use crate::sample::CaptureRole;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("loupe-issuer/", env!("CARGO_PKG_VERSION"));
/// Largest JSON answer read, in bytes.
pub const MAX_JSON_ANSWER: usize = 1 << 20;
/// Attempts for a request that did not reach the server or got 429/503.
pub const MAX_ATTEMPTS: u32 = 4;
/// Longest wait between attempts, whatever `Retry-After` says.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
/// Bytes read from a file per chunk while uploading or hashing.
const CHUNK: usize = 64 * 1024;

/// Installs rustls' *ring* crypto provider as the process default, once.
/// Every [`IssuerClient::new`] calls it; call it yourself before building
/// another rustls-based client.
pub fn install_crypto_provider() {
    // Err means a provider is already installed: fine either way.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A request to the issuer failed. Each variant displays as one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server URL is not an absolute `http(s)://` URL.
    #[error("{url:?} is not an http:// or https:// URL with a host")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// The request did not reach the server (refused, DNS, TLS handshake).
    #[error("cannot reach the issuer at {url}: {cause}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// Why, with the underlying causes.
        cause: String,
    },
    /// The exchange failed after the request was sent (timeout, reset).
    #[error("request to {url} failed: {cause}")]
    Transport {
        /// The URL requested.
        url: String,
        /// Why, with the underlying causes.
        cause: String,
    },
    /// The server answered with an RFC 9457 problem.
    #[error("{}", problem_line(*.status, problem))]
    Problem {
        /// The HTTP status.
        status: u16,
        /// The problem body.
        problem: Box<Problem>,
    },
    /// The server answered with an error status and no problem body.
    #[error("the issuer answered {status} to {url}{}", if .snippet.is_empty() { String::new() } else { format!(": {}", .snippet) })]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body, on one line.
        snippet: String,
    },
    /// A success answer that is not what the API promises.
    #[error("the issuer's answer to {url} is malformed: {reason}")]
    BadResponse {
        /// The URL requested.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The issued token does not certify what was sent.
    #[error("the issuer's token does not match the request: {0}")]
    Mismatch(String),
    /// A file to upload or hash cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A write request was made without an API key.
    #[error("an API key is required: pass --api-key or set LOUPE_API_KEY")]
    NoApiKey,
}

impl ClientError {
    /// The problem body, if the server answered with one.
    #[must_use]
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Problem { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The id of the active token, when the server refused an issuance
    /// because the report number already has one (`active-token-exists`).
    #[must_use]
    pub fn active_token(&self) -> Option<TokenId> {
        let p = self.problem()?;
        (p.type_uri == ProblemType::ActiveTokenExists.uri())
            .then_some(p.current_token)
            .flatten()
    }

    /// Whether the request never reached a server that could answer.
    #[must_use]
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

fn problem_line(status: u16, p: &Problem) -> String {
    let slug = p.type_uri.strip_prefix(PROBLEM_BASE).unwrap_or(&p.type_uri);
    let mut line = format!(
        "the issuer refused ({status} {slug}): {}",
        one_line(&p.title)
    );
    if let Some(detail) = &p.detail {
        line.push_str(": ");
        line.push_str(&one_line(detail));
    }
    if let Some(field) = &p.field
        && !p
            .detail
            .as_deref()
            .is_some_and(|d| d.contains(field.as_str()))
    {
        line.push_str(&format!(" (field {})", one_line(field)));
    }
    if let Some(instance) = &p.instance {
        line.push_str(&format!(" [{}]", one_line(instance)));
    }
    line
}

/// `s` with line breaks and other control characters replaced by spaces.
#[must_use]
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// An error and its sources, joined with `: `, on one line.
#[must_use]
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    one_line(&out)
}

/// The claims part of an issuance: what is not a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// The lab's report number, the token's `sub`.
    pub report_number: String,
    /// The stone's facts.
    pub stone: Stone,
    /// The token this one replaces, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<TokenId>,
}

/// A file to send with an issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    /// What it is; the multipart part's name is the role's wire name
    /// (`report`, `face-up`, …, `light-play`).
    pub role: CaptureRole,
    /// Where it is.
    pub path: PathBuf,
    /// Its media type, sent as the part's `Content-Type`.
    pub media_type: String,
}

impl UploadFile {
    /// The multipart part name of this file's role.
    #[must_use]
    pub fn part_name(&self) -> &'static str {
        role_name(self.role)
    }
}

/// The wire name of a capture role: `report`, `face-up`, …, `light-play`.
#[must_use]
pub fn role_name(role: CaptureRole) -> &'static str {
    match role {
        CaptureRole::Report => "report",
        CaptureRole::Image(r) => r.as_str(),
        CaptureRole::Video(r) => r.as_str(),
    }
}

/// SHA-256 and size of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHash {
    /// SHA-256 of the bytes.
    pub sha256: Sha256Digest,
    /// Number of bytes.
    pub size: u64,
}

/// Hashes a file by streaming it.
///
/// # Errors
///
/// [`ClientError::File`].
pub async fn hash_file(path: &Path) -> Result<FileHash, ClientError> {
    let file_err = |source| ClientError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut file = tokio::fs::File::open(path).await.map_err(file_err)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).await.map_err(file_err)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        size += n as u64;
    }
    Ok(FileHash {
        sha256: Sha256Digest(hasher.finalize().into()),
        size,
    })
}

/// The token payload for `claims` and `files` with these hashes (in the
/// same order as `files`).
///
/// # Errors
///
/// [`ClientError::Mismatch`] when `hashes` and `files` differ in length.
pub fn provenance_of(
    claims: &Claims,
    files: &[UploadFile],
    hashes: &[FileHash],
) -> Result<Provenance, ClientError> {
    if files.len() != hashes.len() {
        return Err(ClientError::Mismatch("a file was not hashed".into()));
    }
    let mut report = None;
    let mut images = Vec::new();
    let mut videos = Vec::new();
    for (f, h) in files.iter().zip(hashes) {
        match f.role {
            CaptureRole::Report => {
                report = Some(FileDigest {
                    sha256: h.sha256,
                    media_type: f.media_type.clone(),
                    size: h.size,
                });
            }
            CaptureRole::Image(role) => images.push(ImageDigest {
                role,
                sha256: h.sha256,
                media_type: f.media_type.clone(),
                size: h.size,
            }),
            CaptureRole::Video(role) => videos.push(VideoDigest {
                role,
                sha256: h.sha256,
                media_type: f.media_type.clone(),
                size: h.size,
            }),
        }
    }
    let report = report.ok_or_else(|| ClientError::Mismatch("no report file".into()))?;
    Ok(Provenance {
        report,
        images,
        videos,
        stone: claims.stone.clone(),
        supersedes: claims.supersedes,
    })
}

/// The JSON body of a digests-only issuance: the provenance claims and the
/// report number.
#[derive(Serialize)]
struct JsonIssuance<'a> {
    report_number: &'a str,
    #[serde(flatten)]
    provenance: &'a Provenance,
}

/// The 201 answer to `POST /v1/tokens` (`schemas/json/issuance.schema.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuance {
    /// The token id.
    pub token_id: TokenId,
    /// The QR URL, `{public_base_url}/t/{token_id}`.
    pub url: String,
    /// The token bytes, standard base64.
    pub token: String,
    /// The token's position in the log.
    pub leaf_index: u64,
    /// The proof bundle, C2SP `tlog-proof` text.
    pub proof: String,
}

/// A checked issuance: the answer and the parsed token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The answer as received.
    pub answer: Issuance,
    /// The token it carries, parsed (not signature-checked).
    pub token: Token,
}

impl Issuance {
    /// Checks the answer against the request: the token parses, its id is
    /// `token_id` and ends the `url`, its `sub` is the report number, and,
    /// when `expected` is given, its payload equals it (up to the order of
    /// the images and videos).
    ///
    /// # Errors
    ///
    /// [`ClientError::Mismatch`] or [`ClientError::BadResponse`] (with an
    /// empty URL; the caller knows it).
    pub fn check(
        self,
        report_number: &str,
        expected: Option<&Provenance>,
    ) -> Result<Issued, ClientError> {
        let bad = |reason: String| ClientError::BadResponse {
            url: String::new(),
            reason,
        };
        let bytes = STANDARD
            .decode(self.token.as_bytes())
            .map_err(|e| bad(format!("token is not base64: {e}")))?;
        let token = Token::parse(&bytes).map_err(|e| bad(format!("token does not parse: {e}")))?;
        if token.id() != self.token_id {
            return Err(bad(format!(
                "token_id {} is not the id of the token ({})",
                self.token_id,
                token.id()
            )));
        }
        if !self.url.ends_with(&format!("/t/{}", self.token_id)) {
            return Err(bad(format!(
                "url {} does not end with /t/{}",
                self.url, self.token_id
            )));
        }
        if token.claims().sub != report_number {
            return Err(ClientError::Mismatch(format!(
                "sent report number {report_number}, the token says {}",
                token.claims().sub
            )));
        }
        if let Some(expected) = expected {
            compare_provenance(expected, token.provenance())?;
        }
        Ok(Issued {
            answer: self,
            token,
        })
    }
}

fn sorted(p: &Provenance) -> Provenance {
    let mut p = p.clone();
    p.images.sort_by_key(|i| i.role);
    p.videos.sort_by_key(|v| v.role);
    p
}

/// Compares what was sent with what the token certifies, naming the first
/// difference.
///
/// # Errors
///
/// [`ClientError::Mismatch`].
pub fn compare_provenance(sent: &Provenance, got: &Provenance) -> Result<(), ClientError> {
    let (sent, got) = (sorted(sent), sorted(got));
    if sent == got {
        return Ok(());
    }
    let what = if sent.report != got.report {
        format!(
            "report sent as {} ({} bytes), certified as {} ({} bytes)",
            sent.report.sha256, sent.report.size, got.report.sha256, got.report.size
        )
    } else if sent.images != got.images {
        let names = |v: &[ImageDigest]| {
            v.iter()
                .map(|i| format!("{} {}", i.role, i.sha256))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "images sent [{}], certified [{}]",
            names(&sent.images),
            names(&got.images)
        )
    } else if sent.videos != got.videos {
        "the videos differ".to_owned()
    } else if sent.stone != got.stone {
        "the stone's facts differ".to_owned()
    } else {
        "supersedes differs".to_owned()
    };
    Err(ClientError::Mismatch(what))
}

/// The 201 answer to `POST /v1/tokens/{id}/revocations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationReceipt {
    /// The revocation's id (the hash of its logged bytes).
    pub revocation_id: TokenId,
    /// Its position in the log.
    pub leaf_index: u64,
    /// Its proof bundle, C2SP `tlog-proof` text.
    pub proof: String,
}

/// The state of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenState {
    /// Neither revoked nor superseded.
    Active,
    /// A revocation of it is logged.
    Revoked,
    /// A later token for the same stone names it in `supersedes`.
    Superseded,
}

impl fmt::Display for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Superseded => "superseded",
        })
    }
}

/// The answer to `GET /v1/tokens/{id}/status`: the state and whatever else
/// the server says about it (the revoking or superseding entry and its
/// proof).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusAnswer {
    /// The state.
    pub status: TokenState,
    /// The other members, as sent.
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// Progress of the bytes hashed while a file streams out.
#[derive(Debug, Default)]
struct StreamHash {
    hasher: Sha256,
    size: u64,
}

/// A client of one issuer.
#[derive(Debug, Clone)]
pub struct IssuerClient {
    http: reqwest::Client,
    base: String,
    api_key: Option<ApiKey>,
}

impl IssuerClient {
    /// A client of the issuer at `base_url` (`http(s)://host[:port][/path]`),
    /// authenticating write requests with `api_key`.
    ///
    /// # Errors
    ///
    /// [`ClientError::BadUrl`], or [`ClientError::Transport`] if the HTTP
    /// client cannot be built.
    pub fn new(base_url: &str, api_key: Option<ApiKey>) -> Result<Self, ClientError> {
        let base = check_base_url(base_url)?;
        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120));
        if is_loopback(&base) {
            // No proxy can reach this machine's loopback.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| ClientError::Transport {
            url: base.clone(),
            cause: error_chain(&e),
        })?;
        Ok(Self {
            http,
            base,
            api_key,
        })
    }

    /// The base URL, without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn bearer(&self) -> Result<String, ClientError> {
        self.api_key
            .as_ref()
            .map(|k| format!("Bearer {}", k.expose_secret()))
            .ok_or(ClientError::NoApiKey)
    }

    /// Sends the request `make` builds, again (rebuilt) when it did not
    /// reach the server or the answer is 429 or 503, at most
    /// [`MAX_ATTEMPTS`] times. Returns a success answer; an error status
    /// becomes [`ClientError::Problem`] or [`ClientError::Status`].
    async fn send(
        &self,
        url: &str,
        mut make: impl FnMut() -> Result<RequestBuilder, ClientError>,
    ) -> Result<Response, ClientError> {
        let mut attempt = 1;
        loop {
            let wait = match make()?.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let retry = matches!(
                        status,
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                    );
                    if !retry || attempt >= MAX_ATTEMPTS {
                        return Err(error_answer(url, resp).await);
                    }
                    retry_after(resp.headers().get(RETRY_AFTER)).unwrap_or_else(|| backoff(attempt))
                }
                Err(e) if e.is_connect() && attempt < MAX_ATTEMPTS => backoff(attempt),
                Err(e) => return Err(transport_error(url, &e)),
            };
            tokio::time::sleep(wait.min(MAX_RETRY_WAIT)).await;
            attempt += 1;
        }
    }

    /// `GET /healthz`: succeeds when the issuer answers 2xx.
    ///
    /// # Errors
    ///
    /// Any [`ClientError`] of a request.
    pub async fn health(&self) -> Result<(), ClientError> {
        let url = self.url("/healthz");
        self.send(&url, || Ok(self.http.get(&url))).await?;
        Ok(())
    }

    /// `POST /v1/tokens` as multipart: `claims` then each file, streamed from
    /// disk and hashed as it goes out. The answer is checked against the
    /// claims and the hashes of the bytes actually sent.
    ///
    /// # Errors
    ///
    /// [`ClientError::File`] for an unreadable file; any request error; a
    /// [`ClientError::Mismatch`] or [`ClientError::BadResponse`] from the
    /// check.
    pub async fn issue_files(
        &self,
        claims: &Claims,
        files: &[UploadFile],
    ) -> Result<Issued, ClientError> {
        let url = self.url("/v1/tokens");
        let bearer = self.bearer()?;
        let claims_json =
            serde_json::to_vec(claims).map_err(|e| ClientError::Mismatch(e.to_string()))?;
        // Open every file up front: a missing one fails before anything is sent.
        let mut lengths = Vec::with_capacity(files.len());
        for f in files {
            let meta = tokio::fs::metadata(&f.path)
                .await
                .map_err(|source| ClientError::File {
                    path: f.path.clone(),
                    source,
                })?;
            lengths.push(meta.len());
        }
        let mut states: Vec<Arc<Mutex<StreamHash>>> = Vec::new();
        let resp = self
            .send(&url, || {
                states.clear();
                let mut form = reqwest::multipart::Form::new().part(
                    "claims",
                    reqwest::multipart::Part::bytes(claims_json.clone())
                        .mime_str("application/json")
                        .map_err(|e| ClientError::Mismatch(e.to_string()))?,
                );
                for (f, len) in files.iter().zip(&lengths) {
                    let state = Arc::new(Mutex::new(StreamHash::default()));
                    states.push(Arc::clone(&state));
                    let body =
                        reqwest::Body::wrap_stream(hashing_stream(f.path.clone(), *len, state));
                    let file_name = f.path.file_name().map_or_else(
                        || f.part_name().to_owned(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    let part = reqwest::multipart::Part::stream_with_length(body, *len)
                        .file_name(file_name)
                        .mime_str(&f.media_type)
                        .map_err(|_| {
                            ClientError::Mismatch(format!("{:?} is not a media type", f.media_type))
                        })?;
                    form = form.part(f.part_name(), part);
                }
                Ok(self
                    .http
                    .post(&url)
                    .header(reqwest::header::AUTHORIZATION, bearer.as_str())
                    .multipart(form))
            })
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e @ ClientError::Transport { .. }) => {
                return Err(self.explain_upload_failure(e, &url, &bearer).await);
            }
            Err(e) => return Err(e),
        };
        let answer: Issuance = read_json(&url, resp).await?;
        let hashes = states
            .iter()
            .map(|s| {
                let s = s
                    .lock()
                    .map_err(|_| ClientError::Mismatch("hash state lost".into()))?;
                Ok(FileHash {
                    sha256: Sha256Digest(s.hasher.clone().finalize().into()),
                    size: s.size,
                })
            })
            .collect::<Result<Vec<_>, ClientError>>()?;
        let mut hashes = hashes;
        for ((f, h), len) in files.iter().zip(hashes.iter_mut()).zip(&lengths) {
            if h.size != *len {
                // The server answered before reading the whole file: judge
                // the token against the file on disk instead.
                *h = hash_file(&f.path).await?;
            }
        }
        let expected = provenance_of(claims, files, &hashes)?;
        answer
            .check(&claims.report_number, Some(&expected))
            .map_err(|e| with_url(e, &url))
    }

    /// A server that refuses an upload early (a bad API key, a file over
    /// its limit) may close the connection before reading the body, and
    /// the client then sees only a broken pipe. Ask again without the files
    /// (an empty JSON body, which issues nothing): a credential problem
    /// shows there. Otherwise say what probably happened.
    async fn explain_upload_failure(
        &self,
        upload_error: ClientError,
        url: &str,
        bearer: &str,
    ) -> ClientError {
        let probe = self
            .http
            .post(url)
            .header(reqwest::header::AUTHORIZATION, bearer)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body("{}")
            .send()
            .await;
        if let Ok(resp) = probe
            && matches!(
                resp.status(),
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            )
        {
            return error_answer(url, resp).await;
        }
        match upload_error {
            ClientError::Transport { url, cause } => ClientError::Transport {
                url,
                cause: format!(
                    "{cause} (the issuer closed the connection during the upload: is a file over its upload limit?)"
                ),
            },
            other => other,
        }
    }

    /// `POST /v1/tokens` as JSON with digests only (`--hash-locally`). The
    /// answer is checked against `provenance`.
    ///
    /// # Errors
    ///
    /// Any request error; a [`ClientError::Mismatch`] or
    /// [`ClientError::BadResponse`] from the check.
    pub async fn issue_digests(
        &self,
        report_number: &str,
        provenance: &Provenance,
    ) -> Result<Issued, ClientError> {
        let url = self.url("/v1/tokens");
        let bearer = self.bearer()?;
        let body = JsonIssuance {
            report_number,
            provenance,
        };
        let resp = self
            .send(&url, || {
                Ok(self
                    .http
                    .post(&url)
                    .header(reqwest::header::AUTHORIZATION, bearer.as_str())
                    .json(&body))
            })
            .await?;
        let answer: Issuance = read_json(&url, resp).await?;
        answer
            .check(report_number, Some(provenance))
            .map_err(|e| with_url(e, &url))
    }

    /// `POST /v1/tokens/{id}/revocations` with the reason.
    ///
    /// # Errors
    ///
    /// Any request error.
    pub async fn revoke(
        &self,
        id: &TokenId,
        reason: &str,
    ) -> Result<RevocationReceipt, ClientError> {
        let url = self.url(&format!("/v1/tokens/{id}/revocations"));
        let bearer = self.bearer()?;
        let body = serde_json::json!({ "reason": reason });
        let resp = self
            .send(&url, || {
                Ok(self
                    .http
                    .post(&url)
                    .header(reqwest::header::AUTHORIZATION, bearer.as_str())
                    .json(&body))
            })
            .await?;
        read_json(&url, resp).await
    }

    /// `GET /t/{id}` as `application/cose`: the token bytes, checked to
    /// hash to `id`.
    ///
    /// # Errors
    ///
    /// Any request error; [`ClientError::BadResponse`] when the bytes are
    /// not the token `id`.
    pub async fn token(&self, id: &TokenId) -> Result<Vec<u8>, ClientError> {
        let url = self.url(&format!("/t/{id}"));
        let resp = self
            .send(&url, || {
                Ok(self
                    .http
                    .get(&url)
                    .header(ACCEPT, HeaderValue::from_static("application/cose")))
            })
            .await?;
        let bytes = read_capped(&url, resp, loupe_schemas::token::MAX_STATEMENT_SIZE).await?;
        Ok(bytes)
    }

    /// `GET /v1/tokens/{id}/proof`: the proof bundle text.
    ///
    /// # Errors
    ///
    /// Any request error.
    pub async fn proof(&self, id: &TokenId) -> Result<String, ClientError> {
        let url = self.url(&format!("/v1/tokens/{id}/proof"));
        self.get_text(&url, loupe_schemas::bundle::ProofBundle::MAX_LEN)
            .await
    }

    /// `GET /v1/tokens/{id}/status`.
    ///
    /// # Errors
    ///
    /// Any request error.
    pub async fn status(&self, id: &TokenId) -> Result<StatusAnswer, ClientError> {
        let url = self.url(&format!("/v1/tokens/{id}/status"));
        let resp = self.send(&url, || Ok(self.http.get(&url))).await?;
        read_json(&url, resp).await
    }

    /// `GET /checkpoint`: the latest signed checkpoint text.
    ///
    /// # Errors
    ///
    /// Any request error.
    pub async fn checkpoint(&self) -> Result<String, ClientError> {
        let url = self.url("/checkpoint");
        self.get_text(&url, loupe_schemas::checkpoint::MAX_NOTE_SIZE)
            .await
    }

    async fn get_text(&self, url: &str, cap: usize) -> Result<String, ClientError> {
        let resp = self.send(url, || Ok(self.http.get(url))).await?;
        let bytes = read_capped(url, resp, cap).await?;
        String::from_utf8(bytes).map_err(|_| ClientError::BadResponse {
            url: url.to_owned(),
            reason: "not UTF-8 text".into(),
        })
    }
}

fn with_url(e: ClientError, url: &str) -> ClientError {
    match e {
        ClientError::BadResponse { url: u, reason } if u.is_empty() => ClientError::BadResponse {
            url: url.to_owned(),
            reason,
        },
        other => other,
    }
}

/// Checks and normalises a server base URL: `http(s)://host…`, no query or
/// fragment, without a trailing slash.
///
/// # Errors
///
/// [`ClientError::BadUrl`].
pub fn check_base_url(url: &str) -> Result<String, ClientError> {
    let bad = || ClientError::BadUrl {
        url: url.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none_or(str::is_empty)
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
    {
        return Err(bad());
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Whether a checked base URL names this machine (`localhost`,
/// `127.0.0.0/8`, `[::1]`).
fn is_loopback(base: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A stream of the first `len` bytes of `path`, hashed into `state` as
/// they are read.
fn hashing_stream(
    path: PathBuf,
    len: u64,
    state: Arc<Mutex<StreamHash>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, io::Error>> + Send + 'static {
    futures::stream::try_unfold(
        (None::<tokio::fs::File>, path, len, state),
        |(file, path, left, state)| async move {
            let mut file = match file {
                Some(f) => f,
                None => tokio::fs::File::open(&path).await?,
            };
            if left == 0 {
                return Ok(None);
            }
            let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            let mut buf = vec![0u8; want];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{} shrank while it was uploaded", path.display()),
                ));
            }
            buf.truncate(n);
            {
                let mut s = state
                    .lock()
                    .map_err(|_| io::Error::other("hash state poisoned"))?;
                s.hasher.update(&buf);
                s.size += n as u64;
            }
            Ok(Some((buf, (Some(file), path, left - n as u64, state))))
        },
    )
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.min(5))
}

fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let secs: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

fn transport_error(url: &str, e: &reqwest::Error) -> ClientError {
    let cause = error_chain(e);
    if e.is_connect() {
        ClientError::Unreachable {
            url: url.to_owned(),
            cause,
        }
    } else {
        ClientError::Transport {
            url: url.to_owned(),
            cause,
        }
    }
}

/// Reads at most `cap` bytes of the body.
async fn read_capped(url: &str, mut resp: Response, cap: usize) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(url, &e))? {
        if out.len() + chunk.len() > cap {
            return Err(ClientError::BadResponse {
                url: url.to_owned(),
                reason: format!("the answer is larger than {cap} bytes"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn read_json<T: serde::de::DeserializeOwned>(
    url: &str,
    resp: Response,
) -> Result<T, ClientError> {
    let bytes = read_capped(url, resp, MAX_JSON_ANSWER).await?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse {
        url: url.to_owned(),
        reason: one_line(&e.to_string()),
    })
}

/// Turns an error answer into [`ClientError::Problem`] (a problem+json or
/// JSON body that parses as a problem) or [`ClientError::Status`].
async fn error_answer(url: &str, resp: Response) -> ClientError {
    let status = resp.status().as_u16();
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let body = read_capped(url, resp, 64 * 1024).await.unwrap_or_default();
    if is_json && let Ok(problem) = serde_json::from_slice::<Problem>(&body) {
        return ClientError::Problem {
            status,
            problem: Box::new(problem),
        };
    }
    let text = one_line(&String::from_utf8_lossy(&body));
    let snippet: String = text.chars().take(200).collect();
    ClientError::Status {
        url: url.to_owned(),
        status,
        snippet,
    }
}

#[cfg(test)]
mod tests;
