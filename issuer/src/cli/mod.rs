//! The `loupe-issuer` command line: one module per command.
//!
//! | command | what | talks to |
//! | --- | --- | --- |
//! | `serve` | runs the issuer service until Ctrl-C or SIGTERM | [`serve`] |
//! | `keygen --out DIR --issuer ORIGIN` | writes a fresh issuer key and log key | [`keygen`] |
//! | `apikey create --name N` / `list` / `revoke ID` | lab credentials, straight in the database | [`apikey`] |
//! | `issue` | one stone (flags or `--capture DIR`) or a whole `--batch FILE` | the HTTP API, [`issue`], [`batch`] |
//! | `revoke TOKEN_ID --reason TEXT` | logs a revocation | the HTTP API, [`revoke`] |
//! | `qr URL\|TOKEN_ID` | a QR code as SVG, PNG or terminal text | nothing ([`qr`]) |
//! | `demo` | a whole round trip on a throw-away issuer | everything ([`demo`]) |
//! | `backup --to FILE` | a consistent copy of a live SQLite log | the database ([`backup`]) |
//!
//! Every error is one line on stderr (`error: …`) and a non-zero exit
//! code: 2 for wrong arguments, 1 for anything else. Results go to stdout.

pub mod apikey;
pub mod backup;
pub mod batch;
pub mod capture;
pub mod demo;
pub mod entries;
mod error;
pub mod issue;
pub mod keygen;
pub mod qr;
pub mod revoke;
pub mod serve;
pub mod stone;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use self::error::CliError;
use crate::apikey::ApiKey;
use crate::client::{IssuerClient, error_chain, one_line};
use crate::config::ServeArgs;

/// `loupe-issuer`: the lab-side Loupe service and its tools.
#[derive(Debug, Parser)]
#[command(name = "loupe-issuer", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the issuer service (HTTP API, log sequencer) until Ctrl-C or SIGTERM.
    Serve(Box<ServeArgs>),
    /// Generate a new issuer key and log key into a directory.
    Keygen(keygen::KeygenArgs),
    /// Manage lab API keys (directly in the database).
    #[command(subcommand)]
    Apikey(apikey::ApikeyCommand),
    /// Issue tokens: one stone from flags or a capture folder, or a batch file.
    Issue(Box<issue::IssueArgs>),
    /// Revoke a token.
    Revoke(revoke::RevokeArgs),
    /// Render the QR code of a token URL (SVG, PNG or the terminal).
    Qr(qr::QrArgs),
    /// Start a throw-away issuer, issue a sample stone over HTTP, verify it.
    Demo(demo::DemoArgs),
    /// Copy a live SQLite log to a new file, consistently (PostgreSQL: pg_dump).
    Backup(backup::BackupArgs),
    /// List the log's entries (directly from the database), by index range,
    /// signing key and kind: e.g. every entry a stolen key signed.
    Entries(Box<entries::EntriesArgs>),
}

/// Where the issuer is and how to authenticate: shared by `issue` and
/// `revoke`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Base URL of the issuer's HTTP API.
    #[arg(
        long,
        env = "LOUPE_SERVER",
        value_name = "URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Lab API key (loupe_sk_…), as printed by `apikey create`.
    #[arg(
        long,
        env = "LOUPE_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

impl ServerArgs {
    /// A client of the server, with the API key checked for form.
    ///
    /// # Errors
    ///
    /// [`CliError::Usage`] for a malformed key; [`CliError::Client`] for a
    /// bad URL.
    pub fn client(&self) -> Result<IssuerClient, CliError> {
        let key = self
            .api_key
            .as_deref()
            .map(|k| {
                ApiKey::parse(k.trim()).map_err(|_| {
                    CliError::Usage(
                        "the API key is not a Loupe API key (loupe_sk_ and 43 characters)".into(),
                    )
                })
            })
            .transpose()?;
        Ok(IssuerClient::new(&self.server, key)?)
    }
}

/// Parses the command line.
///
/// # Errors
///
/// clap's error, including `--help` and `--version` (kinds
/// `DisplayHelp`, `DisplayVersion`).
pub fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args)
}

/// The first paragraph of a clap error on one line, without its `error: `
/// prefix, plus a pointer to `--help`.
#[must_use]
pub fn usage_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let first: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let first = first.join(" ");
    let first = first.strip_prefix("error: ").unwrap_or(&first);
    let first = if first.is_empty() {
        "invalid arguments"
    } else {
        first
    };
    format!("{}; see --help", one_line(first))
}

/// Runs a parsed command.
///
/// # Errors
///
/// The command's [`CliError`].
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Keygen(args) => keygen::run(&args),
        Command::Apikey(cmd) => apikey::run(cmd).await,
        Command::Issue(args) => issue::run(*args).await,
        Command::Revoke(args) => revoke::run(args).await,
        Command::Qr(args) => qr::run(&args),
        Command::Demo(args) => demo::run(args).await,
        Command::Backup(args) => backup::run(&args).await,
        Command::Entries(args) => entries::run(&args).await.map(|_| ()),
    }
}

/// Sets up logging to stderr: `RUST_LOG` if set, else `default_filter`.
pub fn init_tracing(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // Colours only for a person at a terminal, not in log files.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A second call (tests) finds a subscriber in place: fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// The whole program: parse, run on a Tokio runtime, print any error as
/// one line on stderr, and return the exit code.
#[must_use]
pub fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error{at}: {}", one_line(&msg));
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    eprintln!("error: a subcommand is required; see --help");
                    ExitCode::from(2)
                }
                _ => {
                    eprintln!("error: {}", usage_line(&e));
                    ExitCode::from(2)
                }
            };
        }
    };
    let default_filter = match cli.command {
        Command::Serve(_) => "info",
        Command::Demo(_) => "error",
        _ => "warn",
    };
    init_tracing(default_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "error: cannot start the async runtime: {}",
                one_line(&e.to_string())
            );
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests;
