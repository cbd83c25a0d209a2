//! `loupe-issuer issue --batch FILE`: thousands of stones from a CSV or
//! JSON Lines file ([`rows`]), several at a time, with a progress bar.
//!
//! Resumable and never half-done:
//!
//! - a stone counts as done only once the issuer has acknowledged its
//!   token; it is then appended to the results file ([`results`]);
//! - a re-run skips every report number the results file lists, and
//!   records a stone the issuer already holds (`409 active-token-exists`
//!   for the same report number) as `already issued <id>`;
//! - a bad row (unparsable, missing files, refused by the issuer) is
//!   reported with its line number and skipped; the others go on;
//! - when the issuer cannot be reached or refuses the API key, the run
//!   stops: every other row would fail the same way. Run it again later.
//!
//! The command exits non-zero when any row failed, after the summary.

pub mod results;
pub mod rows;

use std::fmt;
use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use self::results::{Done, ResultsFile, public_base};
use self::rows::{BatchRow, RowError, RowFiles, parse_batch_file};
use super::CliError;
use super::capture;
use super::issue::issue_one;
use crate::client::{ClientError, IssuerClient, UploadFile, error_chain};

/// A batch cannot run, or did not finish every row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The batch file's extension is neither `.csv` nor `.jsonl`.
    #[error("{}: batch files are .csv or .jsonl (JSON Lines)", path.display())]
    Format {
        /// The file.
        path: PathBuf,
    },
    /// The batch file cannot be read.
    #[error("cannot read batch file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The batch file is over [`rows::MAX_BATCH_FILE`].
    #[error("batch file {} is larger than {} bytes; split it", path.display(), rows::MAX_BATCH_FILE)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The CSV header is unusable.
    #[error("batch file {}: {message}", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// The results file cannot be used.
    #[error("results file {}: {message}", path.display())]
    Results {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Some rows failed (each was reported on its own line).
    #[error(
        "{failed} of {total} rows failed (reported above); fix them and run the same command again to resume"
    )]
    Incomplete {
        /// Rows that failed.
        failed: usize,
        /// Rows in the file.
        total: usize,
    },
    /// The run stopped early: the issuer is unreachable or refuses the key.
    #[error("stopped after {done} of {total} rows: {cause}; run the same command again to resume")]
    Stopped {
        /// Rows done (issued, already issued or skipped).
        done: usize,
        /// Rows in the file.
        total: usize,
        /// Why, on one line.
        cause: String,
    },
}

/// How to run a batch.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Stones issued at the same time.
    pub concurrency: usize,
    /// Send digests only.
    pub hash_locally: bool,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

/// What a batch run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Rows in the file, good and bad.
    pub total: usize,
    /// Tokens issued by this run.
    pub issued: usize,
    /// Stones the issuer already had a token for.
    pub already_issued: usize,
    /// Stones skipped because the results file lists them.
    pub skipped: usize,
    /// Rows that failed (bad rows included).
    pub failed: usize,
    /// The results file.
    pub results: PathBuf,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
}

impl BatchSummary {
    /// `Ok` when every row has a token.
    ///
    /// # Errors
    ///
    /// [`BatchError::Stopped`] or [`BatchError::Incomplete`].
    pub fn into_result(self) -> Result<(), CliError> {
        if let Some(cause) = self.stopped {
            return Err(BatchError::Stopped {
                done: self.issued + self.already_issued + self.skipped + self.failed,
                total: self.total,
                cause,
            }
            .into());
        }
        if self.failed > 0 {
            return Err(BatchError::Incomplete {
                failed: self.failed,
                total: self.total,
            }
            .into());
        }
        Ok(())
    }
}

impl fmt::Display for BatchSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} issued, {} already issued, {} skipped (listed in {}), {} failed, of {} rows",
            self.issued,
            self.already_issued,
            self.skipped,
            self.results.display(),
            self.failed,
            self.total
        )
    }
}

/// What became of one row.
enum Outcome {
    Issued {
        token_id: loupe_schemas::token::TokenId,
        url: String,
    },
    AlreadyIssued(loupe_schemas::token::TokenId),
    Failed(String),
    /// Every further row would fail the same way.
    Fatal(String),
}

/// Whether an error will repeat for every row: no server, or no valid key.
fn is_fatal(e: &ClientError) -> bool {
    e.is_unreachable()
        || matches!(e, ClientError::NoApiKey)
        || matches!(
            e,
            ClientError::Problem {
                status: 401 | 403,
                ..
            }
        )
}

fn row_files(files: &RowFiles) -> Result<Vec<UploadFile>, capture::CaptureError> {
    match files {
        RowFiles::Capture(dir) => capture::scan(dir),
        RowFiles::Files(named) => {
            let (report, others): (Vec<_>, Vec<_>) = named
                .iter()
                .cloned()
                .partition(|(r, _)| *r == crate::sample::CaptureRole::Report);
            capture::named_files(report.first().map(|(_, p)| p.as_path()), &others)
        }
    }
}

async fn issue_row(client: &IssuerClient, row: &BatchRow, hash_locally: bool) -> Outcome {
    let files = match row_files(&row.files) {
        Ok(f) => f,
        Err(e) => return Outcome::Failed(error_chain(&e)),
    };
    match issue_one(client, &row.claims, &files, hash_locally).await {
        Ok(issued) => Outcome::Issued {
            token_id: issued.answer.token_id,
            url: issued.answer.url,
        },
        Err(e) => match e.active_token() {
            Some(id) => Outcome::AlreadyIssued(id),
            None if is_fatal(&e) => Outcome::Fatal(error_chain(&e)),
            None => Outcome::Failed(error_chain(&e)),
        },
    }
}

fn progress_bar(len: usize, enabled: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len as u64),
        if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} stones ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Prints a line above the progress bar (or plainly on stderr).
fn report(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// Runs the batch file at `path`, recording tokens in `results_path`.
///
/// # Errors
///
/// [`CliError::Batch`] when the batch or results file cannot be used; row
/// failures are in the summary (see [`BatchSummary::into_result`]).
pub async fn run(
    client: &IssuerClient,
    path: &Path,
    results_path: &Path,
    opts: &BatchOptions,
) -> Result<BatchSummary, CliError> {
    let parsed = parse_batch_file(path)?;
    let mut results = ResultsFile::open(results_path)?;
    let mut summary = BatchSummary {
        total: parsed.rows.len() + parsed.errors.len(),
        results: results_path.to_path_buf(),
        ..BatchSummary::default()
    };
    let todo: Vec<BatchRow> = parsed
        .rows
        .into_iter()
        .filter(|r| {
            let done = results.get(&r.claims.report_number).is_some();
            if done {
                summary.skipped += 1;
            }
            !done
        })
        .collect();
    let bar = progress_bar(todo.len(), opts.progress);
    for RowError { line, message } in &parsed.errors {
        report(&bar, &format!("line {line}: {message}"));
        summary.failed += 1;
    }
    // The public base of token URLs, to write a URL for already-issued stones.
    let mut base = results.any_public_base();

    let hash_locally = opts.hash_locally;
    let mut outcomes = futures::stream::iter(todo.iter())
        .map(|row| async move { (row, issue_row(client, row, hash_locally).await) })
        .buffer_unordered(opts.concurrency.max(1));
    while let Some((row, outcome)) = outcomes.next().await {
        let rn = &row.claims.report_number;
        match outcome {
            Outcome::Issued { token_id, url } => {
                if base.is_none() {
                    base = public_base(&url, &token_id);
                }
                results.record(rn, Done { token_id, url })?;
                summary.issued += 1;
            }
            Outcome::AlreadyIssued(token_id) => {
                let url = format!(
                    "{}/t/{token_id}",
                    base.as_deref().unwrap_or(client.base_url())
                );
                results.record(rn, Done { token_id, url })?;
                report(
                    &bar,
                    &format!("line {}: {rn} already issued {token_id}", row.line),
                );
                summary.already_issued += 1;
            }
            Outcome::Failed(why) => {
                report(&bar, &format!("line {}: {rn}: {why}", row.line));
                summary.failed += 1;
            }
            Outcome::Fatal(why) => {
                summary.stopped = Some(why);
                break;
            }
        }
        bar.inc(1);
    }
    drop(outcomes);
    bar.finish_and_clear();
    Ok(summary)
}
