//! `loupe-issuer issue`: one stone from flags or a capture folder, or a
//! batch file ([`super::batch`]), through the HTTP API.
//!
//! ```text
//! loupe-issuer issue --server https://lab.example --api-key loupe_sk_… \
//!     --report-number LX-2026-004211 --variety Ruby --species Corundum \
//!     --weight 1.52 --colour "pigeon's blood red" --shape oval --cut mixed \
//!     --clarity VS --dimensions 7.10x5.60x3.40 --treatment none --origin Myanmar \
//!     --capture captures/LX-2026-004211
//! ```
//!
//! Files are uploaded (multipart, streamed) so the issuer keeps them for the
//! buyer page; `--hash-locally` sends their digests only. Either way the
//! answer is checked: the token must name exactly the files sent.

use std::path::{Path, PathBuf};

use loupe_schemas::token::{MAX_SUBJECT_LEN, TokenId};

use super::batch::{self, BatchOptions};
use super::capture::{self, parse_role_arg};
use super::stone::StoneArgs;
use super::{CliError, ServerArgs};
use crate::client::{
    Claims, ClientError, FileHash, Issued, IssuerClient, UploadFile, hash_file, provenance_of,
};

/// Default `--concurrency` of a batch.
pub const DEFAULT_CONCURRENCY: u16 = 8;

/// Flags of `issue`.
#[derive(Debug, Clone, clap::Args)]
pub struct IssueArgs {
    /// Issuer URL and API key.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Issue every stone of a CSV or JSON Lines file (columns: see docs/issuer-cli.md).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["report_number", "stone_facts", "supersedes", "capture", "report", "image", "video", "json"]
    )]
    pub batch: Option<PathBuf>,
    /// Batch results file (report_number,token_id,url) [default: FILE.results.csv].
    #[arg(long, value_name = "FILE", requires = "batch")]
    pub results: Option<PathBuf>,
    /// Batch: stones issued at the same time.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_CONCURRENCY,
        value_parser = clap::value_parser!(u16).range(1..=256)
    )]
    pub concurrency: u16,
    /// The lab's report number (the token's subject).
    #[arg(long, value_name = "NUMBER")]
    pub report_number: Option<String>,
    /// The stone's facts.
    #[command(flatten)]
    pub stone: StoneArgs,
    /// Id of the token this one replaces (re-photography, revaluation, re-cut).
    #[arg(long, value_name = "TOKEN_ID", allow_hyphen_values = true)]
    pub supersedes: Option<TokenId>,
    /// Capture folder: report.pdf, the six shots and light-play video, by file name.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["report", "image", "video"])]
    pub capture: Option<PathBuf>,
    /// The report PDF.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// A photo: face-up, table, pavilion, side, girdle or swatch (repeatable).
    #[arg(long, value_name = "ROLE=FILE")]
    pub image: Vec<String>,
    /// A video: light-play.
    #[arg(long, value_name = "ROLE=FILE")]
    pub video: Vec<String>,
    /// Send SHA-256 digests only; the files stay here.
    #[arg(long)]
    pub hash_locally: bool,
    /// Print the issuer's answer as JSON (token, proof bundle included).
    #[arg(long)]
    pub json: bool,
}

impl IssueArgs {
    /// The claims of a single stone.
    ///
    /// # Errors
    ///
    /// [`CliError::Usage`] naming a missing or invalid flag.
    pub fn claims(&self) -> Result<Claims, CliError> {
        let report_number = self.report_number.clone().ok_or_else(|| {
            CliError::Usage("--report-number is required (or --batch FILE)".into())
        })?;
        if report_number.is_empty()
            || report_number.len() > MAX_SUBJECT_LEN
            || report_number.chars().any(char::is_control)
        {
            return Err(CliError::Usage(format!(
                "--report-number must be 1 to {MAX_SUBJECT_LEN} bytes without control characters"
            )));
        }
        let stone = self.stone.to_stone().map_err(CliError::Usage)?;
        Ok(Claims {
            report_number,
            stone,
            supersedes: self.supersedes,
        })
    }

    /// The files of a single stone: the capture folder's, or those named.
    ///
    /// # Errors
    ///
    /// [`CliError::Capture`].
    pub fn files(&self) -> Result<Vec<UploadFile>, CliError> {
        if let Some(dir) = &self.capture {
            return Ok(capture::scan(dir)?);
        }
        let mut others = Vec::new();
        for given in &self.image {
            others.push(parse_role_arg(given, false)?);
        }
        for given in &self.video {
            others.push(parse_role_arg(given, true)?);
        }
        Ok(capture::named_files(self.report.as_deref(), &others)?)
    }
}

/// Issues one stone: uploads its files (or, with `hash_locally`, hashes
/// them and sends the digests) and checks the answer.
///
/// # Errors
///
/// The [`ClientError`] of the request or of the check.
pub async fn issue_one(
    client: &IssuerClient,
    claims: &Claims,
    files: &[UploadFile],
    hash_locally: bool,
) -> Result<Issued, ClientError> {
    if hash_locally {
        let mut hashes: Vec<FileHash> = Vec::with_capacity(files.len());
        for f in files {
            hashes.push(hash_file(&f.path).await?);
        }
        let provenance = provenance_of(claims, files, &hashes)?;
        client
            .issue_digests(&claims.report_number, &provenance)
            .await
    } else {
        client.issue_files(claims, files).await
    }
}

/// The default results file of a batch file: `stones.csv` →
/// `stones.results.csv`.
#[must_use]
pub fn default_results_path(batch: &Path) -> PathBuf {
    let stem = batch
        .file_stem()
        .map_or_else(|| "batch".into(), |s| s.to_string_lossy().into_owned());
    batch.with_file_name(format!("{stem}.results.csv"))
}

/// Runs `issue`.
///
/// # Errors
///
/// Any [`CliError`]; for a batch, [`super::batch::BatchError::Incomplete`]
/// when some rows failed.
pub async fn run(args: IssueArgs) -> Result<(), CliError> {
    let client = args.server.client()?;
    if let Some(path) = &args.batch {
        let results = args
            .results
            .clone()
            .unwrap_or_else(|| default_results_path(path));
        let opts = BatchOptions {
            concurrency: usize::from(args.concurrency),
            hash_locally: args.hash_locally,
            progress: true,
        };
        let summary = batch::run(&client, path, &results, &opts).await?;
        println!("{summary}");
        return summary.into_result();
    }
    let claims = args.claims()?;
    let files = args.files()?;
    let issued = issue_one(&client, &claims, &files, args.hash_locally).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&issued.answer)
            .map_err(|e| CliError::Verify(e.to_string()))?;
        println!("{text}");
    } else {
        println!(
            "issued token {} for report {}",
            issued.answer.token_id, claims.report_number
        );
        println!("url:        {}", issued.answer.url);
        println!("leaf index: {}", issued.answer.leaf_index);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, parse_args};

    fn issue(args: &[&str]) -> Result<IssueArgs, clap::Error> {
        let mut all = vec!["loupe-issuer", "issue"];
        all.extend_from_slice(args);
        match parse_args(all)?.command {
            Command::Issue(a) => Ok(*a),
            other => panic!("parsed as {other:?}"),
        }
    }

    const STONE: &[&str] = &[
        "--report-number",
        "LX-1",
        "--variety",
        "Ruby",
        "--species",
        "Corundum",
        "--weight",
        "1.52",
        "--colour",
        "red",
        "--shape",
        "oval",
        "--cut",
        "mixed",
        "--clarity",
        "VS",
        "--dimensions",
        "7.1x5.6x3.4",
        "--treatment",
        "none",
    ];

    #[test]
    fn single_stone_flags_parse_into_claims() {
        let mut args = STONE.to_vec();
        args.extend(["--capture", "cap", "--api-key", "loupe_sk_x"]);
        let a = issue(&args).expect("parses");
        let claims = a.claims().expect("claims");
        assert_eq!(claims.report_number, "LX-1");
        assert_eq!(claims.stone.weight_mct, 1520);
        assert_eq!(claims.stone.dimensions_um, [7100, 5600, 3400]);
        assert_eq!(claims.stone.origin, None);
        assert_eq!(a.capture.as_deref(), Some(Path::new("cap")));
        assert_eq!(a.concurrency, DEFAULT_CONCURRENCY);
        assert!(!a.hash_locally);
    }

    #[test]
    fn missing_and_bad_flags_are_named() {
        let a = issue(&STONE[2..]).expect("clap leaves these to us");
        let err = a.claims().expect_err("no report number");
        assert!(err.to_string().contains("--report-number"), "{err}");
        let mut no_cut: Vec<&str> = STONE.to_vec();
        let i = no_cut.iter().position(|s| *s == "--cut").expect("cut");
        no_cut.drain(i..i + 2);
        let err = issue(&no_cut)
            .expect("parses")
            .claims()
            .expect_err("no cut");
        assert_eq!(err.to_string(), "--cut is required");
        for bad in [
            vec!["--weight", "1.5205"],
            vec!["--dimensions", "7x5"],
            vec!["--supersedes", "not-a-token-id"],
            vec!["--concurrency", "0"],
            vec!["--nonsense"],
        ] {
            let e = issue(&bad).expect_err("clap refuses");
            assert!(!crate::cli::usage_line(&e).contains('\n'));
        }
    }

    #[test]
    fn batch_conflicts_with_single_stone_flags() {
        assert!(issue(&["--batch", "b.csv", "--concurrency", "32", "--hash-locally"]).is_ok());
        for extra in [
            &["--report-number", "LX-1"][..],
            &["--variety", "Ruby"],
            &["--capture", "d"],
            &["--report", "r.pdf"],
            &["--image", "face-up=f.jpg"],
        ] {
            let mut args = vec!["--batch", "b.csv"];
            args.extend_from_slice(extra);
            assert!(issue(&args).is_err(), "--batch with {extra:?}");
        }
        assert!(
            issue(&["--results", "r.csv"]).is_err(),
            "--results needs --batch"
        );
        assert!(
            issue(&["--capture", "d", "--report", "r.pdf"]).is_err(),
            "capture or files, not both"
        );
    }

    #[test]
    fn results_path_defaults_beside_the_batch_file() {
        assert_eq!(
            default_results_path(Path::new("in/stones.csv")),
            Path::new("in/stones.results.csv")
        );
        assert_eq!(
            default_results_path(Path::new("s.jsonl")),
            Path::new("s.results.csv")
        );
    }
}
