//! `loupe-issuer entries`: lists the log's entries straight from the
//! database, filtered by leaf index, signing key and kind.
//!
//! Written for step 5 of the stolen-key runbook (`docs/issuer.md`): every
//! entry at index ≥ N signed with the stolen key must be revoked, so
//!
//! ```sh
//! loupe-issuer entries --from N --kid KID --kind token --ids \
//!   | xargs -n1 loupe-issuer revoke --reason "signed with a stolen key"
//! ```
//!
//! The log is read in tile-sized chunks up to the latest checkpoint; each
//! entry is parsed with the same strict parser as every other reader.

use std::io::Write as _;

use loupe_schemas::token::{Kid, Statement};

use super::CliError;
use super::apikey::{StoreArgs, open};
use crate::store::{EntryKind, StoreError};

/// Entries read from the database at a time (one full tile).
const CHUNK: u32 = 256;

/// How `entries` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EntriesFormat {
    /// One line per entry: index, kind, token id, key id, iat, subject
    /// (or the revoked token), tab-separated, with a header line.
    Text,
    /// Token ids only, one per line (to pipe into `revoke`).
    Ids,
    /// One JSON object per line.
    Jsonl,
}

/// Flags of `entries`.
#[derive(Debug, Clone, clap::Args)]
pub struct EntriesArgs {
    /// First leaf index listed [default: 0].
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub from: u64,
    /// List only entries below this leaf index [default: the tree size].
    #[arg(long, value_name = "N")]
    pub until: Option<u64>,
    /// Only entries signed with this key id (32 hex digits: the first 16
    /// bytes of the SHA-256 of the public key, as `loupe inspect` and the
    /// trust store show it).
    #[arg(long, value_name = "KID", value_parser = parse_kid)]
    pub kid: Option<Kid>,
    /// Only tokens or only revocations.
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub kind: Option<EntryKind>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EntriesFormat::Text)]
    pub format: EntriesFormat,
    /// Short for `--format ids`.
    #[arg(long, conflicts_with = "format")]
    pub ids: bool,
    /// Database (as `serve` resolves it).
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_kid(s: &str) -> Result<Kid, String> {
    let bytes = hex::decode(s).map_err(|_| "a key id is 32 hex digits".to_owned())?;
    let kid: [u8; 16] = bytes
        .try_into()
        .map_err(|_| "a key id is 32 hex digits (16 bytes)".to_owned())?;
    Ok(Kid(kid))
}

fn parse_kind(s: &str) -> Result<EntryKind, String> {
    EntryKind::parse(s).map_err(|_| "the kind is `token` or `revocation`".to_owned())
}

/// Runs `entries`, printing to stdout; returns how many entries matched.
///
/// # Errors
///
/// [`CliError::Config`]; [`CliError::Usage`] for a range beyond the log;
/// [`CliError::Store`] when the database fails or holds an entry the
/// parser refuses (it was altered).
pub async fn run(args: &EntriesArgs) -> Result<u64, CliError> {
    let config = args.store.resolve()?;
    let db = open(&config).await?;
    let size = db
        .tree_size()
        .await
        .map_err(|e| CliError::store("cannot read the tree size", e))?;
    let until = args.until.unwrap_or(size);
    if until > size {
        return Err(CliError::Usage(format!(
            "--until {until} is beyond the log (tree size {size})"
        )));
    }
    let format = if args.ids {
        EntriesFormat::Ids
    } else {
        args.format
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // A closed pipe (`entries | head`) ends the listing quietly.
    let write_err = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            None
        } else {
            Some(CliError::io("write to", "standard output", e))
        }
    };
    if format == EntriesFormat::Text
        && let Err(e) = writeln!(out, "index\tkind\ttoken_id\tkid\tiat\tsubject_or_revokes")
    {
        return write_err(e).map_or(Ok(0), Err);
    }
    let mut matched = 0u64;
    let mut index = args.from;
    while index < until {
        let want = u32::try_from((until - index).min(u64::from(CHUNK))).unwrap_or(CHUNK);
        let chunk = db
            .entries_range(index, want)
            .await
            .map_err(|e| CliError::store(format!("cannot read entries from {index}"), e))?;
        if chunk.is_empty() {
            break;
        }
        for bytes in &chunk {
            let statement = Statement::parse(bytes).map_err(|e| {
                CliError::store(
                    format!("cannot read entry {index}"),
                    StoreError::Corrupt(format!("the logged statement does not parse: {e}")),
                )
            })?;
            if let Some(line) = select(args, index, &statement, format) {
                if let Err(e) = writeln!(out, "{line}") {
                    return write_err(e).map_or(Ok(matched), Err);
                }
                matched += 1;
            }
            index += 1;
        }
    }
    match out.flush() {
        Ok(()) => Ok(matched),
        Err(e) => write_err(e).map_or(Ok(matched), Err),
    }
}

/// The printed line for `statement` at `index`, or `None` when a filter
/// excludes it.
fn select(
    args: &EntriesArgs,
    index: u64,
    statement: &Statement,
    format: EntriesFormat,
) -> Option<String> {
    let kid = statement.kid();
    if args.kid.is_some_and(|want| want != kid) {
        return None;
    }
    let (kind, iat, about) = match statement {
        Statement::Token(t) => (EntryKind::Token, t.claims().iat, t.claims().sub.clone()),
        Statement::Revocation(r) => (
            EntryKind::Revocation,
            r.revocation().iat,
            r.revocation().revokes.to_string(),
        ),
    };
    if args.kind.is_some_and(|want| want != kind) {
        return None;
    }
    let id = statement.id();
    Some(match format {
        EntriesFormat::Ids => id.to_string(),
        EntriesFormat::Text => format!(
            "{index}\t{}\t{id}\t{kid}\t{iat}\t{}",
            kind.as_str(),
            about.replace(['\t', '\n', '\r'], " ")
        ),
        EntriesFormat::Jsonl => {
            let about_key = match kind {
                EntryKind::Token => "sub",
                EntryKind::Revocation => "revokes",
            };
            serde_json::json!({
                "leaf_index": index,
                "kind": kind.as_str(),
                "token_id": id.to_string(),
                "kid": kid.to_string(),
                "iat": iat,
                about_key: about,
            })
            .to_string()
        }
    })
}
