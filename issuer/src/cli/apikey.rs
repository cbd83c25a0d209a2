//! `loupe-issuer apikey create|list|revoke`: lab API keys, written straight
//! to the issuer's database (the same `--database-url` / `--config` /
//! `LOUPE_*` settings as `serve`). Only the key's SHA-256 is stored; the
//! key itself is printed once, by `create`.

use std::path::PathBuf;

use super::CliError;
use crate::apikey::ApiKey;
use crate::config::{ServeArgs, ServeConfig};
use crate::store::{self, Store};

/// Where the database is and which issuer keys are for: a subset of the
/// `serve` settings, read the same way (flag, `LOUPE_*`, config file).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StoreArgs {
    /// TOML config file of `serve`.
    #[arg(long, env = "LOUPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// sqlite://FILE or postgres://… [default: sqlite://loupe.db].
    #[arg(
        long,
        env = "LOUPE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Issuer origin the key may sign for [default: as `serve` resolves it].
    #[arg(long, env = "LOUPE_ISSUER_ORIGIN", value_name = "ORIGIN")]
    pub issuer_origin: Option<String>,
    /// Public base URL of `serve` (its host is the default issuer origin).
    #[arg(long, env = "LOUPE_PUBLIC_BASE_URL", value_name = "URL")]
    pub public_base_url: Option<String>,
}

impl StoreArgs {
    /// Resolves these settings as `serve` would.
    ///
    /// # Errors
    ///
    /// [`CliError::Config`].
    pub fn resolve(&self) -> Result<ServeConfig, CliError> {
        Ok(ServeArgs {
            config: self.config.clone(),
            database_url: self.database_url.clone(),
            issuer_origin: self.issuer_origin.clone(),
            public_base_url: self.public_base_url.clone(),
            ..ServeArgs::default()
        }
        .resolve()?)
    }
}

/// The `apikey` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApikeyCommand {
    /// Create a key and print it (once: only its hash is stored).
    Create {
        /// A label, such as the lab bench or service using the key.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Database and issuer.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List keys, revoked ones included.
    List {
        /// Database.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its id (from `list`).
    Revoke {
        /// The key's id.
        #[arg(value_name = "ID")]
        id: i64,
        /// Database.
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(super) async fn open(config: &ServeConfig) -> Result<std::sync::Arc<dyn Store>, CliError> {
    store::open_store(&config.database_url).await.map_err(|e| {
        CliError::store(
            format!(
                "cannot open the database {}",
                config.database_url_redacted()
            ),
            e,
        )
    })
}

/// `YYYY-MM-DD HH:MM:SSZ` for Unix seconds (UTC).
#[must_use]
pub fn utc_time(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Runs an `apikey` subcommand.
///
/// # Errors
///
/// [`CliError::Config`], [`CliError::Store`], or [`CliError::Usage`] for
/// a bad name or an unknown id.
pub async fn run(cmd: ApikeyCommand) -> Result<(), CliError> {
    match cmd {
        ApikeyCommand::Create { name, store } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
                return Err(CliError::Usage(
                    "--name must be 1 to 256 bytes without control characters".into(),
                ));
            }
            let config = store.resolve()?;
            let db = open(&config).await?;
            let (key, hash) = ApiKey::generate();
            let created = db
                .create_api_key(&name, &config.issuer_origin, hash.as_bytes())
                .await
                .map_err(|e| CliError::store("cannot store the API key", e));
            db.close().await;
            let created = created?;
            println!("{}", key.expose_secret());
            eprintln!(
                "created API key {} ({name}) for issuer {}; it is shown only this once: store it now",
                created.id, created.issuer
            );
        }
        ApikeyCommand::List { store } => {
            let config = store.resolve()?;
            let db = open(&config).await?;
            let keys = db.list_api_keys().await;
            db.close().await;
            let keys = keys.map_err(|e| CliError::store("cannot list API keys", e))?;
            if keys.is_empty() {
                eprintln!("no API keys; create one with `loupe-issuer apikey create --name NAME`");
            }
            for k in keys {
                let state = match k.revoked_at {
                    Some(t) => format!("revoked {}", utc_time(t)),
                    None => "active".to_owned(),
                };
                let hash_prefix: String = hex::encode(&k.key_hash).chars().take(12).collect();
                println!(
                    "{}\t{}\t{}\tcreated {}\t{state}\tsha256 {hash_prefix}…",
                    k.id,
                    k.name,
                    k.issuer,
                    utc_time(k.created_at)
                );
            }
        }
        ApikeyCommand::Revoke { id, store } => {
            let config = store.resolve()?;
            let db = open(&config).await?;
            let revoked = db.revoke_api_key(id).await;
            db.close().await;
            if !revoked.map_err(|e| CliError::store("cannot revoke the API key", e))? {
                return Err(CliError::NotFound(format!(
                    "no active API key has id {id} (see `loupe-issuer apikey list`)"
                )));
            }
            println!("revoked API key {id}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00Z");
        assert_eq!(utc_time(1_700_000_000), "2023-11-14 22:13:20Z");
        assert_eq!(utc_time(-1), "1969-12-31 23:59:59Z");
    }
}
