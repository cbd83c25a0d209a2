//! Configuration of `loupe-issuer serve`: [`ServeArgs`] (flags, each with a
//! `LOUPE_*` environment variable), an optional TOML file, and the
//! validated result [`ServeConfig`].
//!
//! Precedence, highest first: command-line flag, environment variable,
//! config file (`--config FILE` / `LOUPE_CONFIG`), built-in default. Every
//! setting has the same name in all three places: `--public-base-url`,
//! `LOUPE_PUBLIC_BASE_URL`, `public_base_url`. Relative paths in the config
//! file are relative to the file's directory; relative paths from flags
//! and the environment are relative to the working directory.
//!
//! | setting | default |
//! | --- | --- |
//! | `listen` | `127.0.0.1:8080` |
//! | `database_url` | `sqlite://loupe.db` (or `postgres://…`) |
//! | `public_base_url` | `http://{listen}`; required when `listen` is a wildcard address |
//! | `verify_url` | none (no redirect target) |
//! | `issuer_origin` (`iss`) | host and port of `public_base_url` |
//! | `log_origin` | `{issuer_origin}/log` |
//! | `issuer_key`, `log_key` | `keys/issuer.key.pem`, `keys/log.key.pem` (as `loupe-issuer keygen` writes them) |
//! | `media_dir` | `media` |
//! | `max_upload_size` | `256MiB` (per file) |
//! | `max_json_body` | `1MiB` |
//! | `batch_size`, `batch_delay` | `256`, `10ms` |
//! | `request_timeout` | `60s` |
//! | `rate_limit_per_minute` | `0` (off): writes per API key and minute, burst of the same size |
//! | `max_concurrent_requests` | `4096`: requests served at once; more get 503 with `Retry-After` |
//! | `max_connections` | `4096`: connections open at once; past it new ones wait in the kernel's backlog |
//! | `max_connections_per_ip` | `0` (off): connections open at once from one address; leave off behind a load balancer |
//! | `header_read_timeout` | `30s`: for a request's line and headers, and the keep-alive idle timeout |
//! | `write_timeout` | `60s`: a response write that makes no progress this long closes the connection |
//! | `expect_checkpoint` | none: a checkpoint file the log must contain to start (after a restore) |
//! | `issuer_key_not_before`, `[[retired_issuer_key]]`, `previous_log_keys` | none: key rotation, config file only (see [`crate::rotation`]) |
//!
//! Sizes take `B`, `kB`, `KiB`, `MB`, `MiB`, `GB`, `GiB` or none (bytes);
//! durations take `ms`, `s`, `m` or `h` (`0` needs none).
//!
//! ```toml
//! # loupe.toml
//! listen = "0.0.0.0:8080"
//! database_url = "postgres://loupe@db/loupe"
//! public_base_url = "https://lab.example"
//! verify_url = "https://verify.lab.example/"
//! issuer_key = "keys/issuer.key.pem"   # relative to this file
//! log_key = "keys/log.key.pem"
//! max_upload_size = "512MiB"
//! batch_delay = "5ms"
//! ```

use std::fmt;
use std::io::Read as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use loupe_schemas::token::{MAX_ISSUER_LEN, TokenId};

use crate::rotation::{KeyHistory, toml_unix_seconds};
use serde::Deserialize;

/// Largest config file read, in bytes.
pub const MAX_CONFIG_FILE_SIZE: u64 = 1024 * 1024;

/// A configuration problem, in one line that names the setting or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown or mistyped keys.
    #[error("config file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line and column.
        message: String,
    },
    /// A setting has an invalid value or is missing.
    #[error("invalid {key} (--{} / LOUPE_{}): {reason}", key.replace('_', "-"), key.to_ascii_uppercase())]
    Invalid {
        /// The setting's name in the config file.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// A size in bytes, written `1048576`, `1MiB`, `1 MB`, `512kB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at_checked(split).ok_or("not a size")?;
        let unit = unit.strip_prefix(' ').unwrap_or(unit);
        if digits.is_empty() {
            return Err(format!(
                "{s:?} is not a size such as 1048576, 512KiB or 1MB"
            ));
        }
        let n: u64 = digits.parse().map_err(|_| format!("{s:?} is too large"))?;
        let mult: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "kib" => 1 << 10,
            "mb" => 1_000_000,
            "mib" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            _ => {
                return Err(format!(
                    "unknown size unit {unit:?} (use B, kB, KiB, MB, MiB, GB or GiB)"
                ));
            }
        };
        n.checked_mul(mult)
            .map(Self)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

/// A duration, written `250ms`, `10s`, `2m`, `1h` or `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "0" {
            return Ok(Self(Duration::ZERO));
        }
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at_checked(split).ok_or("not a duration")?;
        let unit = unit.strip_prefix(' ').unwrap_or(unit);
        let bad = || format!("{s:?} is not a duration such as 250ms, 10s, 2m or 1h");
        if digits.is_empty() {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| format!("{s:?} is too long"))?;
        let secs = |m: u64| {
            n.checked_mul(m)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("{s:?} is too long"))
        };
        Ok(Self(match unit {
            "ms" => Duration::from_millis(n),
            "s" => secs(1)?,
            "m" => secs(60)?,
            "h" => secs(3600)?,
            _ => return Err(bad()),
        }))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// Deserializes `T: FromStr<Err = String>` from a TOML string (or, for
/// [`ByteSize`], an integer).
macro_rules! from_str_serde {
    ($t:ty, $expecting:literal, $int:expr) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$t, E> {
                        let int: fn(u64) -> Option<$t> = $int;
                        u64::try_from(v)
                            .ok()
                            .and_then(int)
                            .ok_or_else(|| E::custom(concat!("expected ", $expecting)))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

from_str_serde!(ByteSize, "a size such as 1048576 or \"512MiB\"", |n| Some(
    ByteSize(n)
));
from_str_serde!(
    HumanDuration,
    "a duration string such as \"10ms\" or \"30s\"",
    |n| (n == 0).then_some(HumanDuration(Duration::ZERO))
);

/// Flags of `loupe-issuer serve`. Each is optional here: unset flags fall
/// back to the environment (clap does that), then the config file, then
/// the defaults, in [`ServeArgs::resolve`].
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML config file; flags and LOUPE_* variables override it.
    #[arg(long, env = "LOUPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LOUPE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// sqlite://FILE or postgres://… [default: sqlite://loupe.db].
    #[arg(
        long,
        env = "LOUPE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Base of token URLs in QR codes, such as `https://lab.example` [default: `http://{listen}`].
    #[arg(long, env = "LOUPE_PUBLIC_BASE_URL", value_name = "URL")]
    pub public_base_url: Option<String>,
    /// Verification page browsers are redirected to from /t/{id}.
    #[arg(long, env = "LOUPE_VERIFY_URL", value_name = "URL")]
    pub verify_url: Option<String>,
    /// Issuer origin, the tokens' `iss` [default: host of the public base URL].
    #[arg(long, env = "LOUPE_ISSUER_ORIGIN", value_name = "ORIGIN")]
    pub issuer_origin: Option<String>,
    /// Log origin, the checkpoints' first line [default: {issuer_origin}/log].
    #[arg(long, env = "LOUPE_LOG_ORIGIN", value_name = "ORIGIN")]
    pub log_origin: Option<String>,
    /// Token-signing key, PKCS#8 PEM [default: keys/issuer.key.pem].
    #[arg(long, env = "LOUPE_ISSUER_KEY", value_name = "FILE")]
    pub issuer_key: Option<PathBuf>,
    /// Checkpoint-signing key, PKCS#8 PEM [default: keys/log.key.pem].
    #[arg(long, env = "LOUPE_LOG_KEY", value_name = "FILE")]
    pub log_key: Option<PathBuf>,
    /// Directory of the content-addressed media store [default: media].
    #[arg(long, env = "LOUPE_MEDIA_DIR", value_name = "DIR")]
    pub media_dir: Option<PathBuf>,
    /// Largest uploaded file [default: 256MiB].
    #[arg(long, env = "LOUPE_MAX_UPLOAD_SIZE", value_name = "SIZE")]
    pub max_upload_size: Option<ByteSize>,
    /// Largest JSON request body [default: 1MiB].
    #[arg(long, env = "LOUPE_MAX_JSON_BODY", value_name = "SIZE")]
    pub max_json_body: Option<ByteSize>,
    /// Most entries the sequencer integrates per checkpoint [default: 256].
    #[arg(long, env = "LOUPE_BATCH_SIZE", value_name = "N")]
    pub batch_size: Option<usize>,
    /// Longest a submission waits for its batch to fill [default: 10ms].
    #[arg(long, env = "LOUPE_BATCH_DELAY", value_name = "DURATION")]
    pub batch_delay: Option<HumanDuration>,
    /// Time limit of one request [default: 60s].
    #[arg(long, env = "LOUPE_REQUEST_TIMEOUT", value_name = "DURATION")]
    pub request_timeout: Option<HumanDuration>,
    /// Writes (issue, revoke) allowed per API key and minute, with a burst
    /// of the same size; 0 turns the limit off [default: 0].
    #[arg(long, env = "LOUPE_RATE_LIMIT_PER_MINUTE", value_name = "N")]
    pub rate_limit_per_minute: Option<u32>,
    /// Requests served at once; more are refused with 503 [default: 4096].
    #[arg(long, env = "LOUPE_MAX_CONCURRENT_REQUESTS", value_name = "N")]
    pub max_concurrent_requests: Option<usize>,
    /// Connections open at once; past it new ones wait in the kernel's
    /// backlog [default: 4096].
    #[arg(long, env = "LOUPE_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Connections open at once from one IP address; 0 turns the cap off.
    /// Leave it off behind a load balancer or proxy, where every
    /// connection has its address [default: 0].
    #[arg(long, env = "LOUPE_MAX_CONNECTIONS_PER_IP", value_name = "N")]
    pub max_connections_per_ip: Option<usize>,
    /// Time allowed for a request's line and headers; also how long an
    /// idle kept-alive connection stays open. Behind a load balancer, set
    /// it above the balancer's idle timeout [default: 30s].
    #[arg(long, env = "LOUPE_HEADER_READ_TIMEOUT", value_name = "DURATION")]
    pub header_read_timeout: Option<HumanDuration>,
    /// A response write that makes no progress this long closes the
    /// connection [default: 60s].
    #[arg(long, env = "LOUPE_WRITE_TIMEOUT", value_name = "DURATION")]
    pub write_timeout: Option<HumanDuration>,
    /// A signed checkpoint this log published (e.g. the last one before a
    /// restore): refuse to start unless the database holds that tree.
    #[arg(long, env = "LOUPE_EXPECT_CHECKPOINT", value_name = "FILE")]
    pub expect_checkpoint: Option<PathBuf>,
}

/// The config file: the same settings as [`ServeArgs`], all optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// See [`ServeArgs::listen`].
    pub listen: Option<SocketAddr>,
    /// See [`ServeArgs::database_url`].
    pub database_url: Option<String>,
    /// See [`ServeArgs::public_base_url`].
    pub public_base_url: Option<String>,
    /// See [`ServeArgs::verify_url`].
    pub verify_url: Option<String>,
    /// See [`ServeArgs::issuer_origin`].
    pub issuer_origin: Option<String>,
    /// See [`ServeArgs::log_origin`].
    pub log_origin: Option<String>,
    /// See [`ServeArgs::issuer_key`].
    pub issuer_key: Option<PathBuf>,
    /// See [`ServeArgs::log_key`].
    pub log_key: Option<PathBuf>,
    /// See [`ServeArgs::media_dir`].
    pub media_dir: Option<PathBuf>,
    /// See [`ServeArgs::max_upload_size`].
    pub max_upload_size: Option<ByteSize>,
    /// See [`ServeArgs::max_json_body`].
    pub max_json_body: Option<ByteSize>,
    /// See [`ServeArgs::batch_size`].
    pub batch_size: Option<usize>,
    /// See [`ServeArgs::batch_delay`].
    pub batch_delay: Option<HumanDuration>,
    /// See [`ServeArgs::request_timeout`].
    pub request_timeout: Option<HumanDuration>,
    /// See [`ServeArgs::rate_limit_per_minute`].
    pub rate_limit_per_minute: Option<u32>,
    /// See [`ServeArgs::max_concurrent_requests`].
    pub max_concurrent_requests: Option<usize>,
    /// See [`ServeArgs::max_connections`].
    pub max_connections: Option<usize>,
    /// See [`ServeArgs::max_connections_per_ip`].
    pub max_connections_per_ip: Option<usize>,
    /// See [`ServeArgs::header_read_timeout`].
    pub header_read_timeout: Option<HumanDuration>,
    /// See [`ServeArgs::write_timeout`].
    pub write_timeout: Option<HumanDuration>,
    /// See [`ServeArgs::expect_checkpoint`].
    pub expect_checkpoint: Option<PathBuf>,
    /// When the current issuer key started signing (published).
    pub issuer_key_not_before: Option<toml::value::Datetime>,
    /// Earlier token-signing keys, published with their windows.
    #[serde(default)]
    pub retired_issuer_key: Vec<crate::rotation::RetiredIssuerKeyToml>,
    /// Earlier log keys that still sign every checkpoint.
    #[serde(default)]
    pub previous_log_keys: Vec<PathBuf>,
}

impl ConfigFile {
    /// Reads and parses a config file; relative paths in it are made
    /// relative to the file's directory.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`] or [`ConfigError::Parse`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(read_err)?
            .take(MAX_CONFIG_FILE_SIZE + 1)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        if text.len() as u64 > MAX_CONFIG_FILE_SIZE {
            return Err(ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("larger than {MAX_CONFIG_FILE_SIZE} bytes"),
            });
        }
        let mut file = Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        for p in [
            &mut file.issuer_key,
            &mut file.log_key,
            &mut file.media_dir,
            &mut file.expect_checkpoint,
        ]
        .into_iter()
        .flatten()
        .chain(&mut file.previous_log_keys)
        .chain(
            file.retired_issuer_key
                .iter_mut()
                .map(|k| &mut k.public_key),
        ) {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(file)
    }

    /// Parses config file text. Paths are kept as written.
    ///
    /// # Errors
    ///
    /// A one-line message with the line and column of the problem.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let message = e.message().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let before = text.get(..span.start).unwrap_or(text);
                    let line = before.matches('\n').count() + 1;
                    let col = before
                        .rfind('\n')
                        .map_or(before.len(), |i| before.len() - i - 1)
                        + 1;
                    format!("line {line}, column {col}: {}", message.trim_end())
                }
                None => message.trim_end().to_owned(),
            }
        })
    }
}

/// The validated configuration of `loupe-issuer serve`. Its `Debug` hides
/// the database password.
#[derive(Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite:…` or `postgres://…`.
    pub database_url: String,
    /// `http(s)://host[:port][/path]`, without a trailing slash.
    pub public_base_url: String,
    /// Where browsers opening `/t/{id}` are sent, if anywhere.
    pub verify_url: Option<String>,
    /// The tokens' `iss`.
    pub issuer_origin: String,
    /// The log's origin (checkpoint first line, note key name).
    pub log_origin: String,
    /// Token-signing key file.
    pub issuer_key: PathBuf,
    /// Checkpoint-signing key file.
    pub log_key: PathBuf,
    /// Media store directory.
    pub media_dir: PathBuf,
    /// Largest uploaded file, bytes.
    pub max_upload_size: u64,
    /// Largest JSON body, bytes.
    pub max_json_body: usize,
    /// Most entries per sequencer batch.
    pub batch_size: usize,
    /// Longest wait for a batch to fill.
    pub batch_delay: Duration,
    /// Time limit of one request.
    pub request_timeout: Duration,
    /// Writes allowed per API key and minute (burst of the same size);
    /// 0: unlimited.
    pub rate_limit_per_minute: u32,
    /// Requests served at once (at least 1); more get 503.
    pub max_concurrent_requests: usize,
    /// Connection cap and per-connection timeouts.
    pub connections: loupe_httpd::ConnectionLimits,
    /// Earlier keys: published, and previous log keys co-sign checkpoints.
    pub key_history: KeyHistory,
    /// A published checkpoint the log must contain to start.
    pub expect_checkpoint: Option<PathBuf>,
}

/// Default `listen`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
/// Default `database_url`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://loupe.db";
/// Default `max_upload_size`.
pub const DEFAULT_MAX_UPLOAD_SIZE: u64 = 256 << 20;
/// Default `max_json_body`.
pub const DEFAULT_MAX_JSON_BODY: u64 = 1 << 20;
/// Default `batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 256;
/// Default `batch_delay`.
pub const DEFAULT_BATCH_DELAY: Duration = Duration::from_millis(10);
/// Default `request_timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `rate_limit_per_minute`: off, so that a lab's batch runs and
/// the load benchmarks are not throttled; set it where API keys are handed
/// to less trusted clients.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 0;
/// Default `max_concurrent_requests`.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 4096;
/// Largest `max_concurrent_requests` accepted.
pub const MAX_CONCURRENT_REQUESTS_LIMIT: usize = 1 << 20;
/// Largest `batch_size` accepted.
pub const MAX_BATCH_SIZE: usize = 65_536;
/// Largest `max_json_body` accepted.
pub const MAX_JSON_BODY_LIMIT: u64 = 64 << 20;

impl ServeArgs {
    /// Reads the config file (if `--config` or `LOUPE_CONFIG` names one),
    /// merges it under the flags and environment, fills in defaults and
    /// validates.
    ///
    /// # Errors
    ///
    /// The first [`ConfigError`].
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        self.resolve_with(file)
    }

    /// Merges `file` under these flags, fills in defaults and validates.
    ///
    /// # Errors
    ///
    /// The first [`ConfigError`].
    pub fn resolve_with(self, file: ConfigFile) -> Result<ServeConfig, ConfigError> {
        let listen = self.listen.or(file.listen).unwrap_or(DEFAULT_LISTEN);

        let database_url = self
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        check_database_url(&database_url).map_err(|r| invalid("database_url", r))?;

        let public_base_url = match self.public_base_url.or(file.public_base_url) {
            Some(u) => u,
            None if listen.ip().is_unspecified() => {
                return Err(invalid(
                    "public_base_url",
                    format!(
                        "required when listening on {listen}: QR codes need the address buyers reach"
                    ),
                ));
            }
            None => format!("http://{listen}"),
        };
        let public_base_url =
            check_http_url(&public_base_url, false).map_err(|r| invalid("public_base_url", r))?;

        let verify_url = self
            .verify_url
            .or(file.verify_url)
            .map(|u| check_http_url(&u, true).map_err(|r| invalid("verify_url", r)))
            .transpose()?;

        let issuer_origin = match self.issuer_origin.or(file.issuer_origin) {
            Some(o) => o,
            None => authority(&public_base_url).to_owned(),
        };
        check_issuer_origin(&issuer_origin).map_err(|r| invalid("issuer_origin", r))?;

        let log_origin = self
            .log_origin
            .or(file.log_origin)
            .unwrap_or_else(|| format!("{issuer_origin}/log"));
        check_log_origin(&log_origin).map_err(|r| invalid("log_origin", r))?;

        let issuer_key = self
            .issuer_key
            .or(file.issuer_key)
            .unwrap_or_else(|| PathBuf::from("keys/issuer.key.pem"));
        let log_key = self
            .log_key
            .or(file.log_key)
            .unwrap_or_else(|| PathBuf::from("keys/log.key.pem"));
        if issuer_key == log_key {
            return Err(invalid(
                "log_key",
                "must be another file than issuer_key: the log and the issuer sign with different keys",
            ));
        }
        let media_dir = self
            .media_dir
            .or(file.media_dir)
            .unwrap_or_else(|| PathBuf::from("media"));
        for (key, p) in [
            ("issuer_key", &issuer_key),
            ("log_key", &log_key),
            ("media_dir", &media_dir),
        ] {
            if p.as_os_str().is_empty() {
                return Err(invalid(key, "is empty"));
            }
        }

        let max_upload_size = self
            .max_upload_size
            .or(file.max_upload_size)
            .map_or(DEFAULT_MAX_UPLOAD_SIZE, |b| b.0);
        if max_upload_size == 0 {
            return Err(invalid("max_upload_size", "must be greater than 0"));
        }
        let max_json_body = self
            .max_json_body
            .or(file.max_json_body)
            .map_or(DEFAULT_MAX_JSON_BODY, |b| b.0);
        if !(1024..=MAX_JSON_BODY_LIMIT).contains(&max_json_body) {
            return Err(invalid(
                "max_json_body",
                format!("must be between 1KiB and {}", ByteSize(MAX_JSON_BODY_LIMIT)),
            ));
        }
        let max_json_body = usize::try_from(max_json_body)
            .map_err(|_| invalid("max_json_body", "too large for this platform"))?;

        let batch_size = self
            .batch_size
            .or(file.batch_size)
            .unwrap_or(DEFAULT_BATCH_SIZE);
        if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(invalid(
                "batch_size",
                format!("must be between 1 and {MAX_BATCH_SIZE}"),
            ));
        }
        let batch_delay = self
            .batch_delay
            .or(file.batch_delay)
            .map_or(DEFAULT_BATCH_DELAY, |d| d.0);
        if batch_delay > Duration::from_secs(10) {
            return Err(invalid("batch_delay", "must be at most 10s"));
        }
        let request_timeout = self
            .request_timeout
            .or(file.request_timeout)
            .map_or(DEFAULT_REQUEST_TIMEOUT, |d| d.0);
        if !(Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&request_timeout) {
            return Err(invalid("request_timeout", "must be between 1s and 24h"));
        }
        if request_timeout <= batch_delay {
            return Err(invalid(
                "request_timeout",
                "must be longer than batch_delay",
            ));
        }

        let rate_limit_per_minute = self
            .rate_limit_per_minute
            .or(file.rate_limit_per_minute)
            .unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE);
        let max_concurrent_requests = self
            .max_concurrent_requests
            .or(file.max_concurrent_requests)
            .unwrap_or(DEFAULT_MAX_CONCURRENT_REQUESTS);
        if !(1..=MAX_CONCURRENT_REQUESTS_LIMIT).contains(&max_concurrent_requests) {
            return Err(invalid(
                "max_concurrent_requests",
                format!("must be between 1 and {MAX_CONCURRENT_REQUESTS_LIMIT}"),
            ));
        }
        let connections = resolve_connection_limits(
            ConnectionSettings {
                max_connections: self.max_connections,
                max_connections_per_ip: self.max_connections_per_ip,
                header_read_timeout: self.header_read_timeout,
                write_timeout: self.write_timeout,
            },
            ConnectionSettings {
                max_connections: file.max_connections,
                max_connections_per_ip: file.max_connections_per_ip,
                header_read_timeout: file.header_read_timeout,
                write_timeout: file.write_timeout,
            },
        )?;
        let issuer_key_not_before = file
            .issuer_key_not_before
            .as_ref()
            .map(toml_unix_seconds)
            .transpose()
            .map_err(|r| invalid("issuer_key_not_before", r))?;
        let mut retired_issuer_keys = Vec::new();
        for k in &file.retired_issuer_key {
            retired_issuer_keys.push(k.resolve().map_err(|r| {
                invalid(
                    "retired_issuer_key",
                    format!("{}: {r}", k.public_key.display()),
                )
            })?);
        }
        if file.previous_log_keys.contains(&log_key) {
            return Err(invalid(
                "previous_log_keys",
                "lists the current log_key; list only the keys it replaced",
            ));
        }
        let key_history = KeyHistory {
            issuer_key_not_before,
            retired_issuer_keys,
            previous_log_keys: file.previous_log_keys,
        };
        let expect_checkpoint = self.expect_checkpoint.or(file.expect_checkpoint);

        Ok(ServeConfig {
            listen,
            database_url,
            public_base_url,
            verify_url,
            issuer_origin,
            log_origin,
            issuer_key,
            log_key,
            media_dir,
            max_upload_size,
            max_json_body,
            batch_size,
            batch_delay,
            request_timeout,
            rate_limit_per_minute,
            max_concurrent_requests,
            connections,
            key_history,
            expect_checkpoint,
        })
    }
}

/// Largest `max_connections` (and `max_connections_per_ip`) accepted.
pub const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;

/// The connection settings of one source (flags and environment, or the
/// config file).
struct ConnectionSettings {
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    header_read_timeout: Option<HumanDuration>,
    write_timeout: Option<HumanDuration>,
}

/// The connection settings of `args` over `file`, defaulted and checked.
fn resolve_connection_limits(
    args: ConnectionSettings,
    file: ConnectionSettings,
) -> Result<loupe_httpd::ConnectionLimits, ConfigError> {
    let max_connections = args
        .max_connections
        .or(file.max_connections)
        .unwrap_or(loupe_httpd::DEFAULT_MAX_CONNECTIONS);
    if !(1..=MAX_CONNECTIONS_LIMIT).contains(&max_connections) {
        return Err(invalid(
            "max_connections",
            format!("must be between 1 and {MAX_CONNECTIONS_LIMIT}"),
        ));
    }
    let max_connections_per_ip = args
        .max_connections_per_ip
        .or(file.max_connections_per_ip)
        .unwrap_or(0);
    if max_connections_per_ip > max_connections {
        return Err(invalid(
            "max_connections_per_ip",
            "must be at most max_connections (0 turns it off)",
        ));
    }
    let timeout = |name: &'static str,
                   flag: Option<HumanDuration>,
                   from_file: Option<HumanDuration>,
                   default| {
        let d = flag.or(from_file).map_or(default, |d| d.0);
        if (Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&d) {
            Ok(d)
        } else {
            Err(invalid(name, "must be between 100ms and 1h"))
        }
    };
    Ok(loupe_httpd::ConnectionLimits {
        max_connections,
        max_connections_per_ip,
        header_read_timeout: timeout(
            "header_read_timeout",
            args.header_read_timeout,
            file.header_read_timeout,
            loupe_httpd::DEFAULT_HEADER_READ_TIMEOUT,
        )?,
        write_timeout: timeout(
            "write_timeout",
            args.write_timeout,
            file.write_timeout,
            loupe_httpd::DEFAULT_WRITE_TIMEOUT,
        )?,
        ..loupe_httpd::ConnectionLimits::default()
    })
}

impl ServeConfig {
    /// The URL a QR code carries for `id`: `{public_base_url}/t/{id}`.
    #[must_use]
    pub fn token_url(&self, id: &TokenId) -> String {
        format!("{}/t/{id}", self.public_base_url)
    }

    /// The database URL with any password replaced by `***`, for logs.
    #[must_use]
    pub fn database_url_redacted(&self) -> String {
        redact_password(&self.database_url)
    }
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("database_url", &self.database_url_redacted())
            .field("public_base_url", &self.public_base_url)
            .field("verify_url", &self.verify_url)
            .field("issuer_origin", &self.issuer_origin)
            .field("log_origin", &self.log_origin)
            .field("issuer_key", &self.issuer_key)
            .field("log_key", &self.log_key)
            .field("media_dir", &self.media_dir)
            .field("max_upload_size", &self.max_upload_size)
            .field("max_json_body", &self.max_json_body)
            .field("batch_size", &self.batch_size)
            .field("batch_delay", &self.batch_delay)
            .field("request_timeout", &self.request_timeout)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("key_history", &self.key_history)
            .field("expect_checkpoint", &self.expect_checkpoint)
            .finish()
    }
}

/// `scheme://user:password@host…` → `scheme://user:***@host…`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn check_database_url(url: &str) -> Result<(), String> {
    let ok = ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|p| url.len() > p.len() && url.starts_with(p));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?} is neither sqlite:… nor postgres://…",
            redact_password(url)
        ))
    }
}

/// The host and port of a checked `http(s)://` URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Checks an absolute `http://` or `https://` URL with a host, no user
/// info, no fragment, and (unless `query_ok`) no query; returns it without
/// a trailing `/` (when it has no query).
fn check_http_url(url: &str, query_ok: bool) -> Result<String, String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) || !url.is_ascii() {
        return Err(format!(
            "{url:?} has spaces, control or non-ASCII characters"
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} must start with http:// or https://"))?;
    let host = authority(url);
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if host.contains('@') {
        return Err(format!("{url:?} must not contain user info"));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
    {
        return Err(format!("{url:?} has an invalid host"));
    }
    if rest.contains('#') {
        return Err(format!("{url:?} must not have a #fragment"));
    }
    if rest.contains('?') {
        if !query_ok {
            return Err(format!("{url:?} must not have a ?query"));
        }
        return Ok(url.to_owned());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Checks an issuer origin (`iss`), such as `lab.example`: 1 to 255 bytes
/// of printable ASCII without spaces, and not a URL.
///
/// # Errors
///
/// Why it is not valid.
pub fn check_issuer_origin(origin: &str) -> Result<(), String> {
    if origin.is_empty() || origin.len() > MAX_ISSUER_LEN {
        return Err(format!("must be 1 to {MAX_ISSUER_LEN} bytes"));
    }
    if !origin.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("{origin:?} must be printable ASCII without spaces"));
    }
    if origin.contains("://") {
        return Err(format!(
            "{origin:?} is a URL; give the origin alone, such as lab.example"
        ));
    }
    Ok(())
}

/// Checks a log origin, such as `lab.example/log`: a valid C2SP note key
/// name (no `+`), printable ASCII without spaces, and not a URL.
///
/// # Errors
///
/// Why it is not valid.
pub fn check_log_origin(origin: &str) -> Result<(), String> {
    check_issuer_origin(origin)?;
    if !loupe_schemas::checkpoint::is_valid_key_name(origin) {
        return Err(format!("{origin:?} must not contain '+'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
