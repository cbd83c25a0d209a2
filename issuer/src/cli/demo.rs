//! `loupe-issuer demo`: the whole round trip on a throw-away issuer.
//!
//! 1. starts the issuer service on loopback with a fresh SQLite database,
//!    using the example keys of `keys-example/` (never for production);
//! 2. creates a lab API key in the database;
//! 3. writes the sample ruby's capture folder (report PDF, six photos,
//!    light-play video) and issues its token through the HTTP API, uploading
//!    the files (a real multipart request over loopback);
//! 4. prints the QR code, the URL, the token id and where the files are;
//! 5. fetches the token and its proof bundle back over HTTP and verifies
//!    them with `loupe-schemas`: the token's id and signature (issuer public
//!    key), the proof bundle against the log's verifier key
//!    (`keys-example/log.vkey`), the latest checkpoint, every file's digest,
//!    and the token's status; one ✓ (or ✗) line per check.
//!
//! Exits non-zero when any check fails. `--serve` keeps the issuer up until
//! Ctrl-C so the URL can be opened; by default it stops after verifying.
//! The working folder (database, media store, capture) is kept and printed.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use loupe_schemas::bundle::{LogPolicy, ProofBundle};
use loupe_schemas::checkpoint::{NoteVerifier, open_checkpoint};
use loupe_schemas::token::{Kid, Provenance, Sha256Digest, Token};

use super::serve::shutdown_signal;
use super::{CliError, capture};
use crate::apikey::ApiKey;
use crate::client::{IssuerClient, UploadFile, error_chain, hash_file};
use crate::config::{ConfigFile, ServeArgs};
use crate::keys::{
    ISSUER_KEY_FILE, ISSUER_PUB_FILE, LOG_KEY_FILE, LOG_VKEY_FILE, load_note_verifier,
    load_verifying_key,
};
use crate::sample::{self, CaptureRole};
use crate::store;

/// The example keys, found from the source tree this binary was built in.
pub const DEFAULT_KEYS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys-example");

/// Flags of `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Directory with issuer.key.pem, issuer.pub.pem, log.key.pem and log.vkey.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_KEYS_DIR)]
    pub keys: PathBuf,
    /// Working folder for the database, media store and capture; must be empty or new [default: a new folder in the system temp dir].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1 with a free port].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Keep the issuer running after verifying, until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Do not print the QR code.
    #[arg(long)]
    pub no_qr: bool,
}

/// Prints one check as it completes and remembers failures.
#[derive(Debug, Default)]
struct Checks {
    passed: usize,
    failed: Vec<String>,
}

impl Checks {
    fn check(&mut self, result: Result<String, String>) {
        match result {
            Ok(line) => {
                println!("  ✓ {line}");
                self.passed += 1;
            }
            Err(line) => {
                println!("  ✗ {line}");
                self.failed.push(line);
            }
        }
    }
}

fn working_dir(dir: Option<&Path>) -> Result<PathBuf, CliError> {
    match dir {
        Some(d) => {
            if d.exists() {
                let mut entries = std::fs::read_dir(d).map_err(|e| CliError::io("read", d, e))?;
                if entries.next().is_some() {
                    return Err(CliError::Usage(format!(
                        "--dir {} is not empty; give a new or empty folder",
                        d.display()
                    )));
                }
            } else {
                std::fs::create_dir_all(d).map_err(|e| CliError::io("create", d, e))?;
            }
            std::path::absolute(d).map_err(|e| CliError::io("resolve", d, e))
        }
        None => tempfile::Builder::new()
            .prefix("loupe-demo-")
            .tempdir()
            .map(tempfile::TempDir::keep)
            .map_err(|e| CliError::io("create", std::env::temp_dir(), e)),
    }
}

fn free_loopback_addr() -> Result<SocketAddr, CliError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| CliError::Service(format!("cannot find a free port on 127.0.0.1: {e}")))?;
    listener
        .local_addr()
        .map_err(|e| CliError::Service(format!("cannot find a free port on 127.0.0.1: {e}")))
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs `demo`.
///
/// # Errors
///
/// Any [`CliError`]; [`CliError::Verify`] when a check failed.
pub async fn run(args: DemoArgs) -> Result<(), CliError> {
    // Keys first: a missing keys folder is the likeliest mistake.
    for file in [
        ISSUER_KEY_FILE,
        ISSUER_PUB_FILE,
        LOG_KEY_FILE,
        LOG_VKEY_FILE,
    ] {
        if !args.keys.join(file).is_file() {
            return Err(CliError::Usage(format!(
                "{} has no {file}; pass --keys DIR (the repository's keys-example/ or a keygen folder)",
                args.keys.display()
            )));
        }
    }
    let keys_dir = std::fs::canonicalize(&args.keys).unwrap_or_else(|_| args.keys.clone());
    let issuer_pub = load_verifying_key(&args.keys.join(ISSUER_PUB_FILE))?;
    let log_vkey = load_note_verifier(&args.keys.join(LOG_VKEY_FILE))?;
    let log_origin = log_vkey.name().to_owned();
    let issuer_origin = log_origin
        .strip_suffix("/log")
        .unwrap_or("lab.example")
        .to_owned();

    let dir = working_dir(args.dir.as_deref())?;
    let listen = match args.listen {
        Some(a) => a,
        None => free_loopback_addr()?,
    };
    let db_path = dir.join("loupe.db");
    let config = ServeArgs {
        listen: Some(listen),
        database_url: Some(format!("sqlite://{}", db_path.display())),
        public_base_url: Some(format!("http://{listen}")),
        issuer_origin: Some(issuer_origin.clone()),
        log_origin: Some(log_origin.clone()),
        issuer_key: Some(args.keys.join(ISSUER_KEY_FILE)),
        log_key: Some(args.keys.join(LOG_KEY_FILE)),
        media_dir: Some(dir.join("media")),
        ..ServeArgs::default()
    }
    .resolve_with(ConfigFile::default())?;

    println!(
        "Loupe demo (example keys from {}: never for production)",
        keys_dir.display()
    );

    // A lab credential, straight in the database, before the service opens it.
    let db = store::open_store(&config.database_url)
        .await
        .map_err(|e| CliError::store("cannot create the demo database", e))?;
    let (api_key, hash) = ApiKey::generate();
    let created = db
        .create_api_key("demo", &issuer_origin, hash.as_bytes())
        .await
        .map_err(|e| CliError::store("cannot create the demo API key", e));
    db.close().await;
    created?;

    let capture_dir = dir.join("capture");
    let sample = sample::write_sample_capture(&capture_dir, 0)?;
    let files = capture::scan(&capture_dir)?;

    let running = crate::app::spawn(config.clone())
        .await
        .map_err(|e| CliError::Service(error_chain(&e)))?;
    println!(
        "  issuer  {issuer_origin}, log {log_origin}, serving {}",
        running.base_url
    );

    let result = round_trip(
        &running.base_url,
        api_key,
        &sample,
        &files,
        &issuer_pub,
        &log_vkey,
        &dir,
        !args.no_qr,
    )
    .await;

    if result.is_ok() && args.serve {
        println!();
        println!("Serving at {} until Ctrl-C.", running.base_url);
        shutdown_signal().await;
    }
    running.shutdown().await;
    result
}

/// Issues the sample, prints where everything is, and verifies what the
/// issuer serves back.
#[allow(clippy::too_many_arguments)]
async fn round_trip(
    base_url: &str,
    api_key: ApiKey,
    sample: &sample::SampleCapture,
    files: &[UploadFile],
    issuer_pub: &ed25519_dalek::VerifyingKey,
    log_vkey: &NoteVerifier,
    dir: &Path,
    show_qr: bool,
) -> Result<(), CliError> {
    let client = IssuerClient::new(base_url, Some(api_key))?;
    client.health().await?;
    let claims = crate::client::Claims {
        report_number: sample.report_number.clone(),
        stone: sample.stone.clone(),
        supersedes: None,
    };
    let issued = client.issue_files(&claims, files).await?;
    let id = issued.answer.token_id;
    let url = issued.answer.url.clone();

    println!();
    println!(
        "Issued a token for report {} ({} ct {}), leaf {} of the log.",
        sample.report_number,
        carats(sample.stone.weight_mct),
        sample.stone.variety,
        issued.answer.leaf_index
    );
    if show_qr {
        println!();
        print!("{}", crate::qr::terminal(&url)?);
    }
    println!();
    println!("  URL       {url}");
    println!("  token id  {id}");
    println!("  capture   {}", sample.dir.display());
    println!(
        "  media     {} (the files the issuer keeps)",
        dir.join("media").display()
    );
    println!("  database  {}", dir.join("loupe.db").display());
    println!();
    println!("Fetching the token and its proof back over HTTP and verifying them:");

    let mut checks = Checks::default();
    let token_bytes = client.token(&id).await?;
    let proof_text = client.proof(&id).await?;
    let checkpoint_text = client.checkpoint().await?;
    let status = client.status(&id).await;

    let token = Token::parse(&token_bytes);
    checks.check(match &token {
        Ok(t) if t.id() == id && url.ends_with(&format!("/t/{id}")) => Ok(format!(
            "token ({} bytes) parses strictly and hashes to the id in the URL",
            token_bytes.len()
        )),
        Ok(t) => Err(format!(
            "token hashes to {}, not to the URL's id {id}",
            t.id()
        )),
        Err(e) => Err(format!("token does not parse: {e}")),
    });
    let Ok(token) = token else {
        return finish(&checks);
    };
    checks.check(match token.verify(issuer_pub) {
        Ok(_) => Ok(format!(
            "signature by the issuer key (kid {}, {})",
            Kid::of(issuer_pub),
            alg_name(&token)
        )),
        Err(e) => Err(format!("signature: {e}")),
    });
    let claims_ok = token.claims().sub == sample.report_number
        && token.claims().iss
            == log_vkey
                .name()
                .strip_suffix("/log")
                .unwrap_or("lab.example");
    checks.check(if claims_ok {
        Ok(format!(
            "claims: issuer {}, report {}, stone {}",
            token.claims().iss,
            token.claims().sub,
            token.provenance().stone.variety
        ))
    } else {
        Err(format!(
            "claims: issuer {} report {}, expected report {}",
            token.claims().iss,
            token.claims().sub,
            sample.report_number
        ))
    });

    let now = now_unix();
    let policy = LogPolicy::new(log_vkey.name(), log_vkey.clone());
    let mut proven_size = None;
    checks.check(match ProofBundle::parse(proof_text.as_bytes()) {
        Ok(bundle) => match bundle.verify(token.logged_bytes(), &policy, now) {
            Ok(v) => {
                proven_size = Some(v.checkpoint().size());
                Ok(format!(
                    "proof bundle: leaf {} included in the tree of size {} whose checkpoint {} signed",
                    v.leaf_index(),
                    v.checkpoint().size(),
                    log_vkey.name()
                ))
            }
            Err(e) => Err(format!("proof bundle: {e}")),
        },
        Err(e) => Err(format!("proof bundle: {e}")),
    });
    checks.check(
        match open_checkpoint(
            checkpoint_text.as_bytes(),
            log_vkey.name(),
            log_vkey,
            &[],
            0,
            now,
        ) {
            Ok(c) if proven_size.is_none_or(|s| c.size() >= s) => Ok(format!(
                "latest checkpoint: size {}, signed by {}",
                c.size(),
                log_vkey.name()
            )),
            Ok(c) => Err(format!(
                "latest checkpoint has size {}, smaller than the proof's",
                c.size()
            )),
            Err(e) => Err(format!("latest checkpoint: {e}")),
        },
    );

    for f in files {
        let name = f
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let certified = certified_digest(token.provenance(), f.role);
        let local = hash_file(&f.path).await;
        checks.check(match (certified, local) {
            (Some((sha, size)), Ok(h)) if h.sha256 == sha && h.size == size => Ok(format!(
                "{name}: SHA-256 {}… ({size} bytes) is the {} digest the token certifies",
                short(&sha),
                crate::client::role_name(f.role)
            )),
            (Some((sha, _)), Ok(h)) => Err(format!(
                "{name}: SHA-256 {}… but the token certifies {}…",
                short(&h.sha256),
                short(&sha)
            )),
            (None, _) => Err(format!(
                "{name}: the token has no {} file",
                crate::client::role_name(f.role)
            )),
            (_, Err(e)) => Err(format!("{name}: {e}")),
        });
    }

    checks.check(match status {
        Ok(s) if s.status == crate::client::TokenState::Active => {
            Ok("status: active (neither revoked nor superseded)".to_owned())
        }
        Ok(s) => Err(format!("status: {}", s.status)),
        Err(e) => Err(format!("status: {e}")),
    });
    finish(&checks)?;

    // Hand over to the verifier: the token, its proof and a trust store
    // naming this demo issuer, and the command that checks them.
    write_for_verifier(
        dir,
        &token_bytes,
        &proof_text,
        base_url,
        issuer_pub,
        log_vkey,
    )?;
    println!();
    println!(
        "Now verify it as a buyer or insurer would, with the verifier `loupe` (offline, from the files):"
    );
    println!(
        "  cargo run --release -p loupe-verifier --bin loupe -- {}",
        shell_words(&verify_offline_args(dir))
    );
    println!("While `demo --serve` runs, by URL (as from the QR code):");
    println!(
        "  cargo run --release -p loupe-verifier --bin loupe -- {}",
        shell_words(&verify_url_args(dir, &url))
    );
    Ok(())
}

/// File names the demo leaves for the verifier.
pub const DEMO_TOKEN_FILE: &str = "token.cose";
/// The proof bundle (C2SP `tlog-proof`).
pub const DEMO_PROOF_FILE: &str = "token.tlog-proof";
/// A trust store naming the demo issuer at its loopback URL.
pub const DEMO_TRUST_FILE: &str = "trust.toml";

fn write_for_verifier(
    dir: &Path,
    token: &[u8],
    proof: &str,
    base_url: &str,
    issuer_pub: &ed25519_dalek::VerifyingKey,
    log_vkey: &NoteVerifier,
) -> Result<(), CliError> {
    use base64::Engine as _;
    let issuer = log_vkey
        .name()
        .strip_suffix("/log")
        .unwrap_or("lab.example");
    let trust = format!(
        "# Trust store for the Loupe demo: it trusts the PUBLIC example keys.\n\
         # NEVER use it for real stones. See docs/verifier.md.\n\n\
         [[issuer]]\norigin = \"{issuer}\"\nurl = \"{base_url}\"\nlog = \"{log}\"\n\n\
         [[issuer.key]]\npublic_key = \"{key}\"\n\n\
         [[log]]\norigin = \"{log}\"\nkey = \"{vkey}\"\nurl = \"{base_url}\"\n",
        log = log_vkey.name(),
        key = base64::engine::general_purpose::STANDARD.encode(issuer_pub.as_bytes()),
        vkey = log_vkey.to_vkey(),
    );
    for (name, bytes) in [
        (DEMO_TOKEN_FILE, token),
        (DEMO_PROOF_FILE, proof.as_bytes()),
        (DEMO_TRUST_FILE, trust.as_bytes()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

/// The `loupe` arguments that verify the demo token offline, with its
/// report and face-up photo in hand (the files the demo wrote).
#[must_use]
pub fn verify_offline_args(dir: &Path) -> Vec<String> {
    let p = |name: &str| dir.join(name).display().to_string();
    vec![
        "verify".into(),
        "--trust".into(),
        p(DEMO_TRUST_FILE),
        "--state".into(),
        p("checkpoints.json"),
        "--offline".into(),
        "--proof".into(),
        p(DEMO_PROOF_FILE),
        "--report".into(),
        p("capture/report.pdf"),
        "--image".into(),
        format!("face-up={}", p("capture/face-up.png")),
        p(DEMO_TOKEN_FILE),
    ]
}

/// The `loupe` arguments that verify the demo token by its URL.
#[must_use]
pub fn verify_url_args(dir: &Path, url: &str) -> Vec<String> {
    vec![
        "verify".into(),
        "--trust".into(),
        dir.join(DEMO_TRUST_FILE).display().to_string(),
        "--state".into(),
        dir.join("checkpoints.json").display().to_string(),
        url.into(),
    ]
}

/// Joins arguments for pasting into a POSIX shell.
fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn finish(checks: &Checks) -> Result<(), CliError> {
    println!();
    if checks.failed.is_empty() {
        println!("All {} checks passed.", checks.passed);
        Ok(())
    } else {
        let mut msg = format!(
            "{} of {} checks failed",
            checks.failed.len(),
            checks.failed.len() + checks.passed
        );
        if let Some(first) = checks.failed.first() {
            let _ = write!(msg, ", first: {first}");
        }
        Err(CliError::Verify(msg))
    }
}

fn certified_digest(p: &Provenance, role: CaptureRole) -> Option<(Sha256Digest, u64)> {
    match role {
        CaptureRole::Report => Some((p.report.sha256, p.report.size)),
        CaptureRole::Image(r) => p
            .images
            .iter()
            .find(|i| i.role == r)
            .map(|i| (i.sha256, i.size)),
        CaptureRole::Video(r) => p
            .videos
            .iter()
            .find(|v| v.role == r)
            .map(|v| (v.sha256, v.size)),
    }
}

fn short(d: &Sha256Digest) -> String {
    d.to_string().chars().take(16).collect()
}

fn carats(mct: u64) -> String {
    format!("{}.{:02}", mct / 1000, mct % 1000 / 10)
}

fn alg_name(token: &Token) -> &'static str {
    match token.alg() {
        loupe_schemas::token::Algorithm::EdDsa => "EdDSA",
        loupe_schemas::token::Algorithm::Ed25519 => "Ed25519",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keys_dir_holds_the_example_keys() {
        let keys = Path::new(DEFAULT_KEYS_DIR);
        for f in [
            ISSUER_KEY_FILE,
            ISSUER_PUB_FILE,
            LOG_KEY_FILE,
            LOG_VKEY_FILE,
        ] {
            assert!(keys.join(f).is_file(), "{f}");
        }
        let vkey = load_note_verifier(&keys.join(LOG_VKEY_FILE)).expect("vkey");
        assert_eq!(vkey.name(), "lab.example/log");
    }

    #[test]
    fn a_demo_dir_must_be_new_or_empty() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let fresh = tmp.path().join("new");
        assert!(working_dir(Some(&fresh)).is_ok());
        assert!(working_dir(Some(&fresh)).is_ok(), "empty is fine");
        std::fs::write(fresh.join("x"), b"x").expect("write");
        assert!(matches!(working_dir(Some(&fresh)), Err(CliError::Usage(_))));
    }

    #[test]
    fn small_helpers() {
        assert_eq!(carats(1520), "1.52");
        assert_eq!(carats(12_345), "12.34");
    }
}
