//! `loupe-issuer backup --to FILE`: a consistent copy of a live SQLite log
//! ([`crate::restore::backup_sqlite`]). Restore: stop the issuer, copy the
//! file back, start with `serve --expect-checkpoint` (see `docs/issuer.md`).

use std::path::PathBuf;

use super::CliError;
use super::apikey::StoreArgs;
use crate::restore::backup_sqlite;

/// Flags of `backup`.
#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// The new backup file (must not exist).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// Database (as `serve` resolves it).
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `backup` and prints what was written.
///
/// # Errors
///
/// [`CliError::Config`] or [`CliError::Backup`].
pub async fn run(args: &BackupArgs) -> Result<(), CliError> {
    let config = args.store.resolve()?;
    let summary = backup_sqlite(&config.database_url, &args.to).await?;
    println!(
        "backed up the log (tree size {}) to {}",
        summary.tree_size,
        summary.path.display()
    );
    Ok(())
}
