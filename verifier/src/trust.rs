//! The trust store: which issuers, logs and witnesses this verifier
//! believes, read from a TOML file (see `keys-example/trust.toml` and
//! `docs/verifier.md`).
//!
//! ```toml
//! [[issuer]]
//! origin = "lab.example"            # the tokens' `iss`
//! url = "https://lab.example"       # where its tokens are served (/t/{id})
//! log = "lab.example/log"           # the log it records them in
//!
//! [[issuer.key]]                     # Ed25519 keys with validity windows
//! public_key = "MCowBQYDK2VwAyEA…"   # SPKI PEM body or base64 of the raw 32 bytes
//! not_before = 2026-01-01T00:00:00Z
//! not_after = 2028-01-01T00:00:00Z  # optional; rotation: the time it was retired
//! # after a theft: the time of the compromise, and the size of the last
//! # checkpoint known good from before it (both or neither)
//! # compromised_at = 2027-03-01T12:00:00Z
//! # logged_before = 81234
//!
//! [[issuer.root]]                    # or X.509 roots the token's x5chain must reach
//! pem_file = "root-ca.cert.pem"     # relative to this file; or `pem = "…"`
//!
//! [[log]]
//! origin = "lab.example/log"
//! key = "lab.example/log+1a2b3c4d+AQ…"   # C2SP signed-note verifier key
//! # or, during a log key rotation, several (any one of them suffices):
//! # keys = ["lab.example/log+1a2b3c4d+AQ…", "lab.example/log+5e6f7a8b+AQ…"]
//! url = "https://lab.example"            # /checkpoint and /v1/consistency
//!
//! [witnesses]                        # optional: cosignatures every checkpoint needs
//! keys = ["witness.example/w1+…"]
//! min = 1
//! ```
//!
//! Parsing is strict: unknown fields, duplicate origins, malformed keys,
//! certificates or URLs and an issuer naming an unknown log are errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use loupe_schemas::bundle::LogPolicy;
use loupe_schemas::checkpoint::NoteVerifier;
use loupe_schemas::token::Kid;
use serde::Deserialize;
use url::Url;

/// The largest trust store file read (1 MiB).
pub const MAX_TRUST_STORE_SIZE: usize = 1 << 20;

/// Why a trust store was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustStoreError {
    /// The file could not be read.
    #[error("cannot read trust store {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_TRUST_STORE_SIZE`].
    #[error("trust store is {0} bytes, more than the 1 MiB allowed")]
    TooLarge(usize),
    /// The TOML is malformed or has unknown fields.
    #[error("trust store: {0}")]
    Toml(String),
    /// A value is well-formed TOML but not acceptable.
    #[error("trust store: {what}: {why}")]
    Invalid {
        /// Which entry.
        what: String,
        /// Why.
        why: String,
    },
}

fn invalid(what: impl Into<String>, why: impl Into<String>) -> TrustStoreError {
    TrustStoreError::Invalid {
        what: what.into(),
        why: why.into(),
    }
}

/// The record of a stolen issuer key: when it was compromised, and how
/// much of the log is known to predate that.
///
/// `iat` is chosen by the signer, so a thief can backdate it; the window
/// alone cannot tell a forgery from a genuine old token. The log can: it is
/// signed under another key, and a checkpoint of size `logged_before`
/// published before the compromise pins every entry below that index as
/// logged before the theft. A forgery, whatever its `iat`, can only be
/// appended after it. So a token (or revocation, or newer token) signed
/// with a compromised key is accepted only if its `iat` is before `at`
/// **and** its inclusion proof puts it at a leaf index below
/// `logged_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compromise {
    /// When the key was stolen (Unix seconds): statements claiming a later
    /// `iat` are refused outright.
    pub at: u64,
    /// The size of the last checkpoint known to have been published before
    /// the compromise: only entries at a smaller leaf index are accepted.
    pub logged_before: u64,
}

/// One Ed25519 key of an issuer, with the window in which it may sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKey {
    /// The public key.
    pub key: VerifyingKey,
    /// Its key id (first 16 bytes of SHA-256 of the raw key).
    pub kid: Kid,
    /// Tokens issued (`iat`) before this time (Unix seconds) are refused.
    pub not_before: Option<u64>,
    /// Tokens issued at or after this time are refused (rotation, or the
    /// time a key was compromised).
    pub not_after: Option<u64>,
    /// Set when the key was stolen: see [`Compromise`].
    pub compromise: Option<Compromise>,
}

impl IssuerKey {
    /// Whether a statement issued at `iat` falls in this key's window (and
    /// before its compromise, if any). For a compromised key that is not
    /// enough: the statement must also be logged below
    /// [`Compromise::logged_before`].
    #[must_use]
    pub fn valid_at(&self, iat: u64) -> bool {
        self.not_before.is_none_or(|nb| iat >= nb)
            && self.not_after.is_none_or(|na| iat < na)
            && self.compromise.is_none_or(|c| iat < c.at)
    }
}

/// An issuer (a gem lab) this verifier trusts.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// Its origin, the tokens' `iss`, e.g. `lab.example`.
    pub origin: String,
    /// The base URL its tokens are served under (`{url}/t/{id}`).
    pub url: Url,
    /// The origin of the log it records tokens in.
    pub log: String,
    /// Its Ed25519 keys.
    pub keys: Vec<IssuerKey>,
    /// DER X.509 root certificates a token's `x5chain` may chain to.
    pub roots: Vec<Vec<u8>>,
}

/// A log this verifier trusts.
#[derive(Debug, Clone)]
pub struct Log {
    /// Its origin (the checkpoint's first line), e.g. `lab.example/log`.
    pub origin: String,
    /// Its note verifier keys: one, or several during a key rotation. A
    /// checkpoint signed by any of them is the log's.
    pub keys: Vec<NoteVerifier>,
    /// Its base URL (`/checkpoint`, `/v1/consistency`).
    pub url: Url,
}

/// How many witness cosignatures a checkpoint needs, and from whom.
#[derive(Debug, Clone, Default)]
pub struct WitnessPolicy {
    /// The witnesses' note verifier keys (`cosignature/v1`).
    pub keys: Vec<NoteVerifier>,
    /// How many distinct witnesses must have cosigned.
    pub min: usize,
}

/// Everything this verifier trusts. Build it with [`TrustStore::from_toml`]
/// or [`TrustStore::load`].
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    issuers: BTreeMap<String, Issuer>,
    logs: BTreeMap<String, Log>,
    witnesses: WitnessPolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    issuer: Vec<IssuerToml>,
    #[serde(default)]
    log: Vec<LogToml>,
    #[serde(default)]
    witnesses: Option<WitnessesToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerToml {
    origin: String,
    url: String,
    log: String,
    #[serde(default)]
    key: Vec<KeyToml>,
    #[serde(default)]
    root: Vec<RootToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyToml {
    public_key: String,
    #[serde(default)]
    not_before: Option<toml::value::Datetime>,
    #[serde(default)]
    not_after: Option<toml::value::Datetime>,
    #[serde(default)]
    compromised_at: Option<toml::value::Datetime>,
    #[serde(default)]
    logged_before: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RootToml {
    #[serde(default)]
    pem: Option<String>,
    #[serde(default)]
    pem_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogToml {
    origin: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    keys: Vec<String>,
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessesToml {
    #[serde(default)]
    keys: Vec<String>,
    min: usize,
}

/// Seconds since the Unix epoch of a TOML offset date-time.
fn unix_seconds(what: &str, dt: &toml::value::Datetime) -> Result<u64, TrustStoreError> {
    if dt.offset.is_none() || dt.date.is_none() || dt.time.is_none() {
        return Err(invalid(
            what,
            format!("{dt} must be a full date-time with an offset, e.g. 2026-01-01T00:00:00Z"),
        ));
    }
    let parsed = time::OffsetDateTime::parse(
        &dt.to_string(),
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| invalid(what, format!("{dt}: {e}")))?;
    u64::try_from(parsed.unix_timestamp())
        .map_err(|_| invalid(what, format!("{dt} is before 1970")))
}

/// Parses a public key: SPKI PEM, the base64 body of one, or base64 of the
/// raw 32 bytes.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text).ok();
    }
    let bytes = STANDARD.decode(text).ok()?;
    match bytes.len() {
        32 => VerifyingKey::from_bytes(&bytes.try_into().ok()?).ok(),
        _ => VerifyingKey::from_public_key_der(&bytes).ok(),
    }
}

/// DER certificates from PEM text (every `CERTIFICATE` block).
fn pem_certificates(what: &str, text: &str) -> Result<Vec<Vec<u8>>, TrustStoreError> {
    let mut out = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
        let pem = pem.map_err(|e| invalid(what, format!("bad PEM: {e}")))?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        x509_parser::parse_x509_certificate(&pem.contents)
            .map_err(|e| invalid(what, format!("bad certificate: {e}")))?;
        out.push(pem.contents);
    }
    if out.is_empty() {
        return Err(invalid(what, "no CERTIFICATE block"));
    }
    Ok(out)
}

fn base_url(what: &str, text: &str) -> Result<Url, TrustStoreError> {
    let url = Url::parse(text).map_err(|e| invalid(what, format!("url {text:?}: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(invalid(
            what,
            format!("url {text:?} must be http(s) with a host"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid(
            what,
            format!("url {text:?} must not carry a query, fragment or user"),
        ));
    }
    Ok(url)
}

impl TrustStore {
    /// Reads a trust store file; `pem_file` paths are relative to it.
    ///
    /// # Errors
    /// [`TrustStoreError`] if it cannot be read or is not acceptable.
    pub fn load(path: &Path) -> Result<Self, TrustStoreError> {
        let read = |p: &Path| -> Result<Vec<u8>, TrustStoreError> {
            let meta = std::fs::metadata(p).map_err(|source| TrustStoreError::Read {
                path: p.to_owned(),
                source,
            })?;
            let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
            if len > MAX_TRUST_STORE_SIZE {
                return Err(TrustStoreError::TooLarge(len));
            }
            std::fs::read(p).map_err(|source| TrustStoreError::Read {
                path: p.to_owned(),
                source,
            })
        };
        let bytes = read(path)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| TrustStoreError::Toml("the file is not UTF-8".into()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, |file| {
            let bytes = read(&dir.join(file))?;
            String::from_utf8(bytes).map_err(|_| invalid(file, "not UTF-8"))
        })
    }

    /// Parses a trust store from TOML text; `pem_file` entries are refused
    /// (there is no directory to resolve them in): use `pem`.
    ///
    /// # Errors
    /// [`TrustStoreError`] if it is not acceptable.
    pub fn from_toml(text: &str) -> Result<Self, TrustStoreError> {
        Self::parse(text, |file| {
            Err(invalid(
                file,
                "pem_file needs TrustStore::load (a file path); use pem = \"…\"",
            ))
        })
    }

    fn parse(
        text: &str,
        mut read_file: impl FnMut(&str) -> Result<String, TrustStoreError>,
    ) -> Result<Self, TrustStoreError> {
        if text.len() > MAX_TRUST_STORE_SIZE {
            return Err(TrustStoreError::TooLarge(text.len()));
        }
        let file: File = toml::from_str(text).map_err(|e| {
            TrustStoreError::Toml(e.to_string().lines().collect::<Vec<_>>().join(" "))
        })?;
        let mut store = TrustStore::default();
        for log in file.log {
            let what = format!("log {:?}", log.origin);
            let mut keys: Vec<NoteVerifier> = Vec::new();
            for text in log.key.iter().chain(&log.keys) {
                let key = NoteVerifier::from_vkey(text.trim())
                    .map_err(|e| invalid(&what, format!("key: {e}")))?;
                if key.name() != log.origin {
                    return Err(invalid(
                        &what,
                        format!("the key is named {:?}, not the origin", key.name()),
                    ));
                }
                if keys
                    .iter()
                    .any(|k| k.verifying_key() == key.verifying_key())
                {
                    return Err(invalid(&what, "a key is listed twice"));
                }
                keys.push(key);
            }
            if keys.is_empty() {
                return Err(invalid(
                    &what,
                    "needs a key (key = \"…\" or keys = [\"…\"])",
                ));
            }
            let url = base_url(&what, &log.url)?;
            if store.logs.contains_key(&log.origin) {
                return Err(invalid(&what, "listed twice"));
            }
            store.logs.insert(
                log.origin.clone(),
                Log {
                    origin: log.origin,
                    keys,
                    url,
                },
            );
        }
        for issuer in file.issuer {
            let what = format!("issuer {:?}", issuer.origin);
            if issuer.origin.is_empty() {
                return Err(invalid(&what, "empty origin"));
            }
            if !store.logs.contains_key(&issuer.log) {
                return Err(invalid(
                    &what,
                    format!("names log {:?}, which has no [[log]] entry", issuer.log),
                ));
            }
            let url = base_url(&what, &issuer.url)?;
            let mut keys = Vec::new();
            for (i, k) in issuer.key.iter().enumerate() {
                let kwhat = format!("{what} key {}", i + 1);
                let key = parse_public_key(&k.public_key)
                    .ok_or_else(|| invalid(&kwhat, "not an Ed25519 public key"))?;
                let not_before = k
                    .not_before
                    .as_ref()
                    .map(|d| unix_seconds(&kwhat, d))
                    .transpose()?;
                let not_after = k
                    .not_after
                    .as_ref()
                    .map(|d| unix_seconds(&kwhat, d))
                    .transpose()?;
                if let (Some(a), Some(b)) = (not_before, not_after)
                    && a >= b
                {
                    return Err(invalid(&kwhat, "not_before is not before not_after"));
                }
                let compromise = match (&k.compromised_at, k.logged_before) {
                    (None, None) => None,
                    (Some(at), Some(logged_before)) => Some(Compromise {
                        at: unix_seconds(&kwhat, at)?,
                        logged_before,
                    }),
                    _ => {
                        return Err(invalid(
                            &kwhat,
                            "compromised_at needs logged_before (the size of the last checkpoint \
                             known good from before the compromise) and the other way round: \
                             a thief can backdate iat, only the log bound is sound",
                        ));
                    }
                };
                keys.push(IssuerKey {
                    kid: Kid::of(&key),
                    key,
                    not_before,
                    not_after,
                    compromise,
                });
            }
            let mut roots = Vec::new();
            for (i, r) in issuer.root.iter().enumerate() {
                let rwhat = format!("{what} root {}", i + 1);
                let text = match (&r.pem, &r.pem_file) {
                    (Some(pem), None) => pem.clone(),
                    (None, Some(file)) => read_file(file)?,
                    _ => return Err(invalid(&rwhat, "give exactly one of pem or pem_file")),
                };
                roots.extend(pem_certificates(&rwhat, &text)?);
            }
            if keys.is_empty() && roots.is_empty() {
                return Err(invalid(
                    &what,
                    "needs at least one [[issuer.key]] or [[issuer.root]]",
                ));
            }
            if store.issuers.contains_key(&issuer.origin) {
                return Err(invalid(&what, "listed twice"));
            }
            store.issuers.insert(
                issuer.origin.clone(),
                Issuer {
                    origin: issuer.origin,
                    url,
                    log: issuer.log,
                    keys,
                    roots,
                },
            );
        }
        if let Some(w) = file.witnesses {
            let mut keys = Vec::new();
            for k in &w.keys {
                keys.push(
                    NoteVerifier::from_vkey(k.trim())
                        .map_err(|e| invalid("witnesses", format!("key {k:?}: {e}")))?,
                );
            }
            if w.min > keys.len() {
                return Err(invalid(
                    "witnesses",
                    format!("min = {} but only {} keys", w.min, keys.len()),
                ));
            }
            store.witnesses = WitnessPolicy { keys, min: w.min };
        }
        Ok(store)
    }

    /// Adds (or replaces) an issuer. Its log must already be present.
    ///
    /// # Errors
    /// [`TrustStoreError::Invalid`] if its log is unknown.
    pub fn add_issuer(&mut self, issuer: Issuer) -> Result<(), TrustStoreError> {
        if !self.logs.contains_key(&issuer.log) {
            return Err(invalid(
                format!("issuer {:?}", issuer.origin),
                format!("names unknown log {:?}", issuer.log),
            ));
        }
        self.issuers.insert(issuer.origin.clone(), issuer);
        Ok(())
    }

    /// Adds (or replaces) a log.
    pub fn add_log(&mut self, log: Log) {
        self.logs.insert(log.origin.clone(), log);
    }

    /// Sets the witness policy.
    pub fn set_witnesses(&mut self, policy: WitnessPolicy) {
        self.witnesses = policy;
    }

    /// The issuer with this origin (`iss`).
    #[must_use]
    pub fn issuer(&self, origin: &str) -> Option<&Issuer> {
        self.issuers.get(origin)
    }

    /// Every issuer.
    pub fn issuers(&self) -> impl Iterator<Item = &Issuer> {
        self.issuers.values()
    }

    /// The log with this origin.
    #[must_use]
    pub fn log(&self, origin: &str) -> Option<&Log> {
        self.logs.get(origin)
    }

    /// Every log.
    pub fn logs(&self) -> impl Iterator<Item = &Log> {
        self.logs.values()
    }

    /// The witness policy.
    #[must_use]
    pub fn witnesses(&self) -> &WitnessPolicy {
        &self.witnesses
    }

    /// The issuer whose base URL `url` lies under (same scheme, host and
    /// port, and a path below the base path).
    #[must_use]
    pub fn issuer_for_url(&self, url: &Url) -> Option<&Issuer> {
        self.issuers.values().find(|i| under(&i.url, url))
    }

    /// Whether `url` is under the base URL of an issuer or a log: the only
    /// places this verifier fetches from.
    #[must_use]
    pub fn is_trusted_url(&self, url: &Url) -> bool {
        self.issuers.values().any(|i| under(&i.url, url))
            || self.logs.values().any(|l| under(&l.url, url))
    }

    /// The checkpoint policy for a log with its first key, and the witness
    /// policy. (A [`LogPolicy`] holds one log key; the [`Verifier`] accepts
    /// a checkpoint signed by any of [`Log::keys`].)
    ///
    /// [`Verifier`]: crate::Verifier
    #[must_use]
    pub fn log_policy(&self, log: &Log) -> Option<LogPolicy> {
        let key = log.keys.first()?;
        Some(
            LogPolicy::new(log.origin.clone(), key.clone())
                .with_witnesses(self.witnesses.keys.clone(), self.witnesses.min),
        )
    }

    /// Renders this store as TOML (roots inline as PEM), e.g. after
    /// `loupe trust add-issuer`.
    #[must_use]
    pub fn to_toml(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for log in self.logs.values() {
            let keys: Vec<String> = log.keys.iter().map(|k| quote(&k.to_vkey())).collect();
            let keys = match keys.as_slice() {
                [one] => format!("key = {one}"),
                _ => format!("keys = [{}]", keys.join(", ")),
            };
            let _ = writeln!(
                out,
                "[[log]]\norigin = {}\n{keys}\nurl = {}\n",
                quote(&log.origin),
                quote(log.url.as_str())
            );
        }
        for issuer in self.issuers.values() {
            let _ = writeln!(
                out,
                "[[issuer]]\norigin = {}\nurl = {}\nlog = {}\n",
                quote(&issuer.origin),
                quote(issuer.url.as_str()),
                quote(&issuer.log)
            );
            for key in &issuer.keys {
                let _ = writeln!(out, "[[issuer.key]]");
                let _ = writeln!(
                    out,
                    "public_key = {}",
                    quote(&STANDARD.encode(key.key.as_bytes()))
                );
                for (name, t) in [
                    ("not_before", key.not_before),
                    ("not_after", key.not_after),
                    ("compromised_at", key.compromise.map(|c| c.at)),
                ] {
                    if let Some(t) = t.and_then(|t| i64::try_from(t).ok())
                        && let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(t)
                        && let Ok(s) = dt.format(&time::format_description::well_known::Rfc3339)
                    {
                        let _ = writeln!(out, "{name} = {s}");
                    }
                }
                if let Some(c) = key.compromise {
                    let _ = writeln!(out, "logged_before = {}", c.logged_before);
                }
                out.push('\n');
            }
            for root in &issuer.roots {
                let pem = format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    STANDARD
                        .encode(root)
                        .as_bytes()
                        .chunks(64)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                let _ = writeln!(out, "[[issuer.root]]\npem = \"\"\"\n{pem}\"\"\"\n");
            }
        }
        if !self.witnesses.keys.is_empty() {
            let keys: Vec<String> = self
                .witnesses
                .keys
                .iter()
                .map(|k| quote(&k.to_vkey()))
                .collect();
            let _ = writeln!(
                out,
                "[witnesses]\nkeys = [{}]\nmin = {}",
                keys.join(", "),
                self.witnesses.min
            );
        }
        out
    }
}

/// A TOML basic string (JSON string escapes are valid TOML escapes).
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Whether `url` is `base` or below it: same scheme, host, port, and the
/// path starts with the base path (taken as a directory).
pub(crate) fn under(base: &Url, url: &Url) -> bool {
    if base.scheme() != url.scheme()
        || base.host_str().map(str::to_ascii_lowercase)
            != url.host_str().map(str::to_ascii_lowercase)
        || base.port_or_known_default() != url.port_or_known_default()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return false;
    }
    let base_path = base.path().trim_end_matches('/');
    let path = url.path();
    path == base_path
        || path
            .strip_prefix(base_path)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests;
