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
use crate::trust::{Issuer, IssuerKey, Log, parse_public_key};

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
    url: String,
}

#[derive(Debug, Deserialize)]
struct PublishedKey {
    public_key: String,
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
                            .map(|t| format!("  from {t}"))
                            .unwrap_or_default(),
                        k.not_after
                            .map(|t| format!("  until {t}"))
                            .unwrap_or_default()
                    );
                }
                for r in &i.roots {
                    println!("  root certificate, {} bytes DER", r.len());
                }
            }
            for l in store.logs() {
                println!("log {}  {}  {}", l.origin, l.url, l.key.to_vkey());
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
            let log_key = NoteVerifier::from_vkey(&p.log.key).map_err(err)?;
            let mut keys = Vec::new();
            for k in &p.keys {
                let key = parse_public_key(&k.public_key)
                    .ok_or_else(|| err("the issuer published a malformed key"))?;
                keys.push(IssuerKey {
                    kid: Kid::of(&key),
                    key,
                    not_before: None,
                    not_after: None,
                });
            }
            store.add_log(Log {
                origin: p.log.origin.clone(),
                key: log_key.clone(),
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
                println!("  issuer key kid {}", hex::encode(k.kid.as_bytes()));
            }
            println!("  log key    {}", log_key.to_vkey());
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
            store.add_log(Log {
                origin: a.origin.clone(),
                key,
                url: url(&a.url)?,
            });
            save(&path, &store)?;
            println!("log {} now trusted in {}", a.origin, path.display());
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
