//! The `loupe` command line: `verify`, `inspect`, `trust`, `serve`.
//!
//! Exit codes of `loupe verify`: 0 valid, 1 invalid, 3 revoked,
//! 4 superseded, 5 unknown; 2 for a usage or set-up error (one line on
//! stderr), as for every other command.

mod output;
mod trust_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::api::ApiConfig;
use crate::state::CheckpointMemory;
use crate::{FetchOptions, FilesInHand, Input, Status, TrustStore, Verifier};

/// Verify gemstone provenance tokens: the lab's signature, the public log,
/// revocation, and the files in hand.
#[derive(Debug, Parser)]
#[command(name = "loupe", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a token: a URL (as in its QR code), a token file, or a PNG of
    /// the QR code. Exit code 0 only for a valid token.
    Verify(VerifyArgs),
    /// Print a token's claims without verifying anything.
    Inspect(InspectArgs),
    /// Show or edit the trust store.
    #[command(subcommand)]
    Trust(trust_cmd::TrustCommand),
    /// Run the verification API and the buyer page.
    Serve(ServeArgs),
}

/// Where the trust store and the checkpoint memory are.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The trust store (TOML). Default: $LOUPE_TRUST, else
    /// ~/.config/loupe/trust.toml.
    #[arg(long, env = "LOUPE_TRUST", value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// The checkpoint memory (JSON) used to catch forks and rollbacks.
    /// Default: $LOUPE_STATE, else ~/.local/state/loupe/checkpoints.json.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Remember nothing between runs (fork and rollback checks then only
    /// compare within this run).
    #[arg(long, conflicts_with = "state")]
    pub no_state: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// A token URL (https://lab.example/t/…), a token file, or a PNG
    /// picture of the QR code.
    input: String,
    /// The lab report file in hand.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// A photo or video in hand, by role (face-up, table, pavilion, side,
    /// girdle, swatch, light-play); repeatable.
    #[arg(long = "image", value_name = "ROLE=FILE")]
    images: Vec<String>,
    /// Print the verdict as JSON (schemas/json/verdict.schema.json).
    #[arg(long)]
    json: bool,
    /// Use no network at all (needs a token file and --proof).
    #[arg(long)]
    offline: bool,
    /// The token's proof bundle (C2SP tlog-proof), for offline use.
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
    /// Seconds to wait for each request.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    timeout: u64,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The token file.
    token: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LOUPE_LISTEN", default_value = "127.0.0.1:8090")]
    listen: String,
    /// Seconds that issuers' proof and status answers are cached (tokens
    /// and photos, being content-addressed, are cached regardless).
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    cache_ttl: u64,
    /// Requests per minute allowed per client address (0: unlimited).
    #[arg(long, default_value_t = 600)]
    rate_limit: u32,
    /// Connections open at once; past it new ones wait in the kernel's
    /// backlog.
    #[arg(long, default_value_t = loupe_httpd::DEFAULT_MAX_CONNECTIONS, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1 << 20))]
    max_connections: usize,
    /// Connections open at once from one IP address (0: no cap; leave it
    /// off behind a load balancer or proxy).
    #[arg(long, default_value_t = 0, value_name = "N")]
    max_connections_per_ip: usize,
    /// Seconds allowed for a request's line and headers; also how long an
    /// idle kept-alive connection stays open.
    #[arg(long, default_value_t = 30, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_read_timeout: u64,
    #[command(flatten)]
    store: StoreArgs,
}

/// Why a command failed: printed as one line, exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Anything, already in words.
    #[error("{0}")]
    Message(String),
}

/// The first paragraph of a clap error on one line, without its `error: `
/// prefix, plus a pointer to `--help`.
fn usage_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let first: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let first = first.join(" ");
    let first = first.strip_prefix("error: ").unwrap_or(&first);
    if first.is_empty() {
        "invalid arguments; see --help".to_owned()
    } else {
        format!("{first}; see --help")
    }
}

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::Message(e.to_string())
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
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
                    eprintln!("loupe: error: a subcommand is required; see --help");
                    ExitCode::from(2)
                }
                // A usage error is one line too (clap's own is several).
                _ => {
                    eprintln!("loupe: error: {}", usage_line(&e));
                    ExitCode::from(2)
                }
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loupe: error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loupe: error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Verify(args) => verify(args).await,
        Command::Inspect(args) => inspect(&args),
        Command::Trust(cmd) => trust_cmd::run(cmd).await,
        Command::Serve(args) => serve(args).await,
    }
}

/// The trust store path: the flag, else the default location.
pub(crate) fn trust_path(args: &StoreArgs) -> Result<PathBuf, CliError> {
    if let Some(p) = &args.trust {
        return Ok(p.clone());
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| err("no trust store: give --trust FILE or set LOUPE_TRUST"))?;
    Ok(base.join("loupe").join("trust.toml"))
}

fn load_trust(args: &StoreArgs) -> Result<TrustStore, CliError> {
    let path = trust_path(args)?;
    if !path.exists() {
        return Err(err(format!(
            "no trust store at {} (give --trust FILE; see keys-example/trust.toml and `loupe trust add`)",
            path.display()
        )));
    }
    TrustStore::load(&path).map_err(err)
}

fn memory(args: &StoreArgs) -> Result<Arc<CheckpointMemory>, CliError> {
    if args.no_state {
        return Ok(Arc::new(CheckpointMemory::in_memory()));
    }
    let path = match &args.state {
        Some(p) => p.clone(),
        None => CheckpointMemory::default_path()
            .ok_or_else(|| err("no place for the checkpoint memory: give --state FILE"))?,
    };
    CheckpointMemory::open(&path).map(Arc::new).map_err(err)
}

/// Reads a small input file (token, proof, image), capped.
fn read_capped(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, CliError> {
    let meta = std::fs::metadata(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    if meta.len() > limit {
        return Err(err(format!(
            "{} is {} bytes: too large for a {what} (at most {limit})",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| err(format!("{}: {e}", path.display())))
}

fn exit_code(status: Status) -> ExitCode {
    ExitCode::from(match status {
        Status::Valid => 0,
        Status::Invalid => 1,
        Status::Revoked => 3,
        Status::Superseded => 4,
        Status::Unknown => 5,
    })
}

async fn verify(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let trust = load_trust(&args.store)?;
    let mut files = FilesInHand::default();
    if let Some(report) = &args.report {
        files
            .add_file_arg(&format!("report={}", report.display()))
            .map_err(err)?;
    }
    for image in &args.images {
        files.add_file_arg(image).map_err(err)?;
    }
    let mut verifier = Verifier::new(trust).with_memory(memory(&args.store)?);
    if !args.offline {
        let timeout = Duration::from_secs(args.timeout.max(1));
        verifier = verifier
            .online(FetchOptions {
                connect_timeout: timeout.min(Duration::from_secs(5)),
                timeout,
                ..FetchOptions::default()
            })
            .map_err(err)?;
    }
    let is_url = args.input.starts_with("https://") || args.input.starts_with("http://");
    let proof = match &args.proof {
        Some(p) => Some(read_capped(p, 64 * 1024, "proof bundle")?),
        None => None,
    };
    let verdict = if is_url {
        if args.offline {
            return Err(err("--offline needs a token file (and --proof), not a URL"));
        }
        if proof.is_some() {
            return Err(err("--proof goes with a token file, not a URL"));
        }
        verifier.verify(Input::Url(&args.input), &files).await
    } else {
        let path = Path::new(&args.input);
        let bytes = read_capped(path, crate::qr::MAX_IMAGE_SIZE as u64, "token or QR image")?;
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            if proof.is_some() {
                return Err(err("--proof goes with a token file, not a QR image"));
            }
            verifier.verify(Input::QrImage(&bytes), &files).await
        } else if args.offline {
            let proof = proof.ok_or_else(|| err("--offline needs --proof FILE"))?;
            verifier.verify_offline(&bytes, &proof, &files)
        } else {
            verifier
                .verify(
                    Input::Token {
                        token: &bytes,
                        proof: proof.as_deref(),
                    },
                    &files,
                )
                .await
        }
    };
    if args.json {
        let json = serde_json::to_string_pretty(&verdict).map_err(err)?;
        println!("{json}");
    } else {
        print!("{}", output::human(&verdict, output::use_colour()));
    }
    Ok(exit_code(verdict.status))
}

fn inspect(args: &InspectArgs) -> Result<ExitCode, CliError> {
    let bytes = read_capped(&args.token, 64 * 1024, "token")?;
    let token = loupe_schemas::token::Token::parse(&bytes)
        .map_err(|e| err(format!("{}: not a valid token: {e}", args.token.display())))?;
    if args.json {
        let view = output::token_json(&token);
        println!("{}", serde_json::to_string_pretty(&view).map_err(err)?);
    } else {
        print!("{}", output::token_text(&token));
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
    let trust = load_trust(&args.store)?;
    let verifier = Verifier::new(trust)
        .with_memory(memory(&args.store)?)
        .online(FetchOptions {
            cache_ttl: Duration::from_secs(args.cache_ttl),
            ..FetchOptions::default()
        })
        .map_err(err)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| err(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr().map_err(err)?;
    eprintln!("loupe: verification API and buyer page on http://{addr}/");
    let config = ApiConfig {
        rate_limit_per_minute: args.rate_limit,
        connections: loupe_httpd::ConnectionLimits {
            max_connections: args.max_connections,
            max_connections_per_ip: args.max_connections_per_ip,
            header_read_timeout: Duration::from_secs(args.header_read_timeout),
            ..loupe_httpd::ConnectionLimits::default()
        },
        ..ApiConfig::default()
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("loupe: stopping (finishing the requests in flight)");
    };
    crate::api::serve(listener, Arc::new(verifier), config, stop)
        .await
        .map_err(err)?;
    Ok(ExitCode::SUCCESS)
}
