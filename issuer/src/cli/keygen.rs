//! `loupe-issuer keygen --out DIR --issuer ORIGIN [--log-origin ORIGIN]`:
//! a fresh issuer key and log key ([`crate::keys::keygen`]). Refuses to
//! overwrite existing keys.

use std::path::PathBuf;

use super::CliError;
use crate::keys;

/// Flags of `keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// Directory to write the five key files into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Issuer origin the keys are for, such as lab.example.
    #[arg(long, value_name = "ORIGIN")]
    pub issuer: String,
    /// Log origin [default: {issuer}/log].
    #[arg(long, value_name = "ORIGIN")]
    pub log_origin: Option<String>,
}

/// Runs `keygen` and prints what was written.
///
/// # Errors
///
/// [`CliError::Keys`].
pub fn run(args: &KeygenArgs) -> Result<(), CliError> {
    let log_origin = args
        .log_origin
        .clone()
        .unwrap_or_else(|| format!("{}/log", args.issuer));
    let out = keys::keygen(&args.out, &args.issuer, &log_origin)?;
    println!("{}", out.summary());
    Ok(())
}
