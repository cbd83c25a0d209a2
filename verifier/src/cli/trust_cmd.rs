//! `loupe trust`: show the trust store, add an issuer from its published
//! keys (`/.well-known/loupe-issuer`), or by hand; forget a log's
//! remembered checkpoint after a fork has been looked into.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand};
use loupe_schemas::checkpoint::NoteVerifier;
use loupe_schemas::token::Kid;
use serde::Deserialize;
use url::Url;

use super::{CliError, StoreArgs, err, memory, trust_path};
use crate::TrustStore;
use crate::trust::{Compromise, Issuer, IssuerKey, Log, parse_public_key};

/// `loupe trust …`
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// List the issuers, logs and witness policy trusted.
    Show(ShowArgs),
    /// Add an issuer and its log from the keys it publishes at
    /// {URL}/.well-known/loupe-issuer. Compare the printed fingerprints
    /// with ones the lab gave you another way.
    Add(AddArgs),
    /// Add an issuer by hand.
    AddIssuer(AddIssuerArgs),
    /// Add a log by hand.
    AddLog(AddLogArgs),
    /// Forget the checkpoint remembered for a log (after a reported fork or
    /// rollback has been investigated and resolved).
    ForgetCheckpoint(ForgetArgs),
    /// Mark an issuer key as stolen: tokens it signed count only if issued
    /// before --at and logged before entry --logged-before.
    CompromiseKey(CompromiseArgs),
}

#[derive(Debug, Args)]
pub struct CompromiseArgs {
    /// The issuer origin.
    #[arg(long)]
    origin: String,
    /// The stolen key's kid (hex, as `loupe trust show` prints it).
    #[arg(long)]
    kid: String,
    /// When the key was stolen (RFC 3339); at the latest, when it could be.
    #[arg(long)]
    at: String,
    /// The size of the last checkpoint of the issuer's log known to have
    /// been published before the compromise.
    #[arg(long)]
    logged_before: u64,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The issuer's base URL, e.g. https://lab.example.
    url: String,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct AddIssuerArgs {
    /// The issuer origin (the tokens' iss), e.g. lab.example.
    #[arg(long)]
    origin: String,
    /// Its base URL (tokens at {url}/t/{id}).
    #[arg(long)]
    url: String,
    /// The origin of its log (must already be in the trust store).
    #[arg(long)]
    log: String,
    /// Its Ed25519 public key: a PEM file, or base64.
    #[arg(long)]
    key: String,
    /// The key may sign from this time (RFC 3339).
    #[arg(long)]
    not_before: Option<String>,
    /// The key may sign until this time (RFC 3339, exclusive).
    #[arg(long)]
    not_after: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct AddLogArgs {
    /// The log origin, e.g. lab.example/log.
    #[arg(long)]
    origin: String,
    /// Its C2SP note verifier key (name+keyid+base64).
    #[arg(long)]
    key: String,
    /// Its base URL (/checkpoint, /v1/consistency).
    #[arg(long)]
    url: String,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The log origin.
    origin: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// What an issuer publishes at `/.well-known/loupe-issuer`.
#[derive(Debug, Deserialize)]
struct Published {
    origin: String,
    url: String,
    log: PublishedLog,
    keys: Vec<PublishedKey>,
}

#[derive(Debug, Deserialize)]
struct PublishedLog {
    origin: String,
    key: String,
    /// Every key signing its checkpoints (a rotation: old and new).
    #[serde(default)]
    keys: Vec<String>,
    url: String,
}

#[derive(Debug, Deserialize)]
struct PublishedKey {
    public_key: String,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
    #[serde(default)]
    compromised_at: Option<String>,
    #[serde(default)]
    logged_before: Option<u64>,
}

fn open_or_new(path: &Path) -> Result<TrustStore, CliError> {
    if path.exists() {
        TrustStore::load(path).map_err(err)
    } else {
        Ok(TrustStore::default())
    }
}

fn save(path: &Path, store: &TrustStore) -> Result<(), CliError> {
    // Check that what we write reads back the same way.
    TrustStore::from_toml(&store.to_toml()).map_err(err)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
    }
    let tmp = path.with_extension("toml.tmp");
    let text = format!(
        "# Loupe trust store, written by `loupe trust`. See docs/verifier.md.\n\n{}",
        store.to_toml()
    );
    std::fs::write(&tmp, text).map_err(|e| err(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| err(format!("{}: {e}", path.display())))
}

fn rfc3339(what: &str, s: &str) -> Result<u64, CliError> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| err(format!("{what} {s:?}: {e}")))?;
    u64::try_from(t.unix_timestamp()).map_err(|_| err(format!("{what} is before 1970")))
}

fn url(s: &str) -> Result<Url, CliError> {
    let u = Url::parse(s).map_err(|e| err(format!("{s:?} is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(err(format!("{s:?} is not an http(s) URL")));
    }
    Ok(u)
}

/// Runs a `loupe trust` command.
pub async fn run(cmd: TrustCommand) -> Result<ExitCode, CliError> {
    match cmd {
        TrustCommand::Show(a) => {
            let path = trust_path(&a.store)?;
            let store = TrustStore::load(&path).map_err(err)?;
            println!("trust store {}", path.display());
            for i in store.issuers() {
                println!("issuer {}  {}  log {}", i.origin, i.url, i.log);
                for k in &i.keys {
                    println!(
                        "  key {}  kid {}{}{}",
                        STANDARD.encode(k.key.as_bytes()),
                        hex::encode(k.kid.as_bytes()),
                        k.not_before
                            .map(|t| format!("  from {}", crate::verdict::rfc3339(t)))
                            .unwrap_or_default(),
                        k.not_after
                            .map(|t| format!("  until {}", crate::verdict::rfc3339(t)))
                            .unwrap_or_default()
                    );
                    if let Some(c) = k.compromise {
                        println!(
                            "    COMPROMISED at {}: trusted only for entries before {}",
                            crate::verdict::rfc3339(c.at),
                            c.logged_before
                        );
                    }
                }
                for r in &i.roots {
                    println!("  root certificate, {} bytes DER", r.len());
                }
            }
            for l in store.logs() {
                for key in &l.keys {
                    println!("log {}  {}  {}", l.origin, l.url, key.to_vkey());
                }
            }
            let w = store.witnesses();
            println!("witnesses: {} of {} required", w.min, w.keys.len());
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::Add(a) => {
            let path = trust_path(&a.store)?;
            let mut store = open_or_new(&path)?;
            let base = url(&a.url)?;
            let mut well_known = base.clone();
            well_known.set_path(&format!(
                "{}/.well-known/loupe-issuer",
                base.path().trim_end_matches('/')
            ));
            crate::fetch::install_crypto_provider();
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(err)?;
            let response = client
                .get(well_known.clone())
                .send()
                .await
                .map_err(|e| err(format!("{well_known}: {e}")))?;
            if !response.status().is_success() {
                return Err(err(format!("{well_known} answered {}", response.status())));
            }
            let body = response.bytes().await.map_err(err)?;
            if body.len() > 64 * 1024 {
                return Err(err(format!("{well_known}: answer too large")));
            }
            let p: Published = serde_json::from_slice(&body)
                .map_err(|e| err(format!("{well_known}: not an issuer description: {e}")))?;
            let mut log_keys: Vec<NoteVerifier> = Vec::new();
            for text in std::iter::once(&p.log.key).chain(&p.log.keys) {
                let key = NoteVerifier::from_vkey(text).map_err(err)?;
                if key.name() != p.log.origin {
                    return Err(err(format!(
                        "the published log key is named {:?}, not {:?}",
                        key.name(),
                        p.log.origin
                    )));
                }
                if !log_keys
                    .iter()
                    .any(|k| k.verifying_key() == key.verifying_key())
                {
                    log_keys.push(key);
                }
            }
            let mut keys = Vec::new();
            for k in &p.keys {
                let key = parse_public_key(&k.public_key)
                    .ok_or_else(|| err("the issuer published a malformed key"))?;
                let time = |what: &str, t: &Option<String>| {
                    t.as_deref().map(|s| rfc3339(what, s)).transpose()
                };
                let compromise = match (time("compromised_at", &k.compromised_at)?, k.logged_before)
                {
                    (Some(at), Some(logged_before)) => Some(Compromise { at, logged_before }),
                    (None, None) => None,
                    _ => {
                        return Err(err(
                            "the issuer published a compromised key without both compromised_at and logged_before",
                        ));
                    }
                };
                keys.push(IssuerKey {
                    kid: Kid::of(&key),
                    key,
                    not_before: time("not_before", &k.not_before)?,
                    not_after: time("not_after", &k.not_after)?,
                    compromise,
                });
            }
            store.add_log(Log {
                origin: p.log.origin.clone(),
                keys: log_keys.clone(),
                url: url(&p.log.url)?,
            });
            store
                .add_issuer(Issuer {
                    origin: p.origin.clone(),
                    url: url(&p.url)?,
                    log: p.log.origin.clone(),
                    keys: keys.clone(),
                    roots: vec![],
                })
                .map_err(err)?;
            save(&path, &store)?;
            println!(
                "added issuer {} ({}) and log {} to {}",
                p.origin,
                p.url,
                p.log.origin,
                path.display()
            );
            for k in &keys {
                println!(
                    "  issuer key kid {}  {}{}",
                    hex::encode(k.kid.as_bytes()),
                    crate::verifier::key_window(k.not_before, k.not_after),
                    k.compromise
                        .map(|c| format!(
                            "  COMPROMISED at {}, trusted before entry {}",
                            crate::verdict::rfc3339(c.at),
                            c.logged_before
                        ))
                        .unwrap_or_default()
                );
            }
            for key in &log_keys {
                println!("  log key    {}", key.to_vkey());
            }
            println!(
                "Compare these fingerprints with what the lab gave you another way: they were fetched, not proven."
            );
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::AddIssuer(a) => {
            let path = trust_path(&a.store)?;
            let mut store = open_or_new(&path)?;
            let key_text = if Path::new(&a.key).is_file() {
                std::fs::read_to_string(&a.key).map_err(|e| err(format!("{}: {e}", a.key)))?
            } else {
                a.key.clone()
            };
            let key = parse_public_key(&key_text).ok_or_else(|| {
                err(format!(
                    "{:?} is not an Ed25519 public key (PEM or base64)",
                    a.key
                ))
            })?;
            let not_before = a
                .not_before
                .as_deref()
                .map(|s| rfc3339("--not-before", s))
                .transpose()?;
            let not_after = a
                .not_after
                .as_deref()
                .map(|s| rfc3339("--not-after", s))
                .transpose()?;
            let mut keys = store
                .issuer(&a.origin)
                .map(|i| i.keys.clone())
                .unwrap_or_default();
            let roots = store
                .issuer(&a.origin)
                .map(|i| i.roots.clone())
                .unwrap_or_default();
            keys.push(IssuerKey {
                kid: Kid::of(&key),
                key,
                not_before,
                not_after,
                compromise: None,
            });
            store
                .add_issuer(Issuer {
                    origin: a.origin.clone(),
                    url: url(&a.url)?,
                    log: a.log.clone(),
                    keys,
                    roots,
                })
                .map_err(err)?;
            save(&path, &store)?;
            println!("issuer {} now trusted in {}", a.origin, path.display());
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::AddLog(a) => {
            let path = trust_path(&a.store)?;
            let mut store = open_or_new(&path)?;
            let key = NoteVerifier::from_vkey(&a.key).map_err(err)?;
            if key.name() != a.origin {
                return Err(err(format!(
                    "the key is named {:?}, not {:?}",
                    key.name(),
                    a.origin
                )));
            }
            // Adding a key to a known log keeps its other keys (rotation).
            let mut keys = store
                .log(&a.origin)
                .map(|l| l.keys.clone())
                .unwrap_or_default();
            keys.retain(|k| k.verifying_key() != key.verifying_key());
            keys.push(key);
            store.add_log(Log {
                origin: a.origin.clone(),
                keys,
                url: url(&a.url)?,
            });
            save(&path, &store)?;
            println!("log {} now trusted in {}", a.origin, path.display());
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::CompromiseKey(a) => {
            let path = trust_path(&a.store)?;
            let mut store = TrustStore::load(&path).map_err(err)?;
            let at = rfc3339("--at", &a.at)?;
            let mut issuer = store
                .issuer(&a.origin)
                .cloned()
                .ok_or_else(|| err(format!("issuer {:?} is not in the trust store", a.origin)))?;
            let kid = a.kid.to_ascii_lowercase();
            let mut found = false;
            for k in &mut issuer.keys {
                if hex::encode(k.kid.as_bytes()) == kid {
                    k.compromise = Some(Compromise {
                        at,
                        logged_before: a.logged_before,
                    });
                    found = true;
                }
            }
            if !found {
                return Err(err(format!(
                    "issuer {} has no key with kid {kid} (see loupe trust show)",
                    a.origin
                )));
            }
            store.add_issuer(issuer).map_err(err)?;
            save(&path, &store)?;
            println!(
                "key {kid} of {} marked compromised at {}: its tokens count only if logged before entry {}",
                a.origin, a.at, a.logged_before
            );
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::ForgetCheckpoint(a) => {
            let memory = memory(&a.store)?;
            if memory.forget(&a.origin).map_err(err)? {
                println!("forgot the checkpoint remembered for {}", a.origin);
            } else {
                println!("no checkpoint remembered for {}", a.origin);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
