//! Rows of a batch file: CSV or JSON Lines, one stone per row.
//!
//! # CSV (`.csv`)
//!
//! A header line, then one stone per record (RFC 4180 quoting). Column
//! names are case-insensitive and may come in any order:
//!
//! | column | required | what |
//! | --- | --- | --- |
//! | `report_number` | yes | the lab's report number (the token's `sub`) |
//! | `variety`, `species`, `colour`, `shape`, `cut`, `clarity`, `treatment` | yes | text, 1 to 256 bytes |
//! | `weight_ct` | yes | carats, at most three decimals: `1.52` |
//! | `dimensions_mm` | yes | length x width x depth in mm: `7.10x5.60x3.40` |
//! | `origin` | no | geographic origin; empty for none |
//! | `supersedes` | no | id of the token this one replaces |
//! | `capture` | one of these | a capture folder (see [`super::super::capture`]) |
//! | `report`, `face-up`, `table`, `pavilion`, `side`, `girdle`, `swatch`, `light-play` | … or these | one file per role; `report` required, the others optional |
//!
//! Paths are relative to the batch file's folder. An unknown column
//! refuses the whole file; a bad value refuses only its row.
//!
//! ```csv
//! report_number,variety,species,weight_ct,colour,shape,cut,clarity,dimensions_mm,treatment,origin,capture
//! LX-1,Ruby,Corundum,1.52,red,oval,mixed,VS,7.10x5.60x3.40,none,Myanmar,captures/LX-1
//! ```
//!
//! # JSON Lines (`.jsonl`, `.ndjson`)
//!
//! One JSON object per line (blank lines are skipped); `stone` is the
//! token's stone object, in milli-carats and micrometres:
//!
//! ```json
//! {"report_number":"LX-1","stone":{"variety":"Ruby","species":"Corundum","weight_mct":1520,"colour":"red","shape":"oval","cut":"mixed","clarity":"VS","dimensions_um":[7100,5600,3400],"treatment":"none"},"capture":"captures/LX-1"}
//! {"report_number":"LX-2","stone":{…},"files":{"report":"r/LX-2.pdf","face-up":"p/LX-2.jpg"},"supersedes":"<token id>"}
//! ```
//!
//! A report number that appears twice refuses the later row.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use loupe_schemas::token::{ImageRole, MediaRole as _, Stone, TokenId, VideoRole};
use serde::Deserialize;

use super::BatchError;
use crate::cli::stone::{parse_carats, parse_dimensions_mm};
use crate::client::{Claims, role_name};
use crate::sample::CaptureRole;

/// Largest batch file read, in bytes.
pub const MAX_BATCH_FILE: u64 = 512 << 20;

/// Where a row's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowFiles {
    /// A capture folder, recognised by file name when the row is issued.
    Capture(PathBuf),
    /// Files by role; the report is first.
    Files(Vec<(CaptureRole, PathBuf)>),
}

/// One stone of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// The line it starts on (1-based; the CSV header is line 1).
    pub line: u64,
    /// Report number, stone, supersedes.
    pub claims: Claims,
    /// Its files, resolved against the batch file's folder.
    pub files: RowFiles,
}

/// A row that cannot be issued, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The line it starts on.
    pub line: u64,
    /// Why, on one line.
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A parsed batch file: the good rows and the bad ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedBatch {
    /// Rows to issue, in file order.
    pub rows: Vec<BatchRow>,
    /// Rows refused, in file order.
    pub errors: Vec<RowError>,
}

/// The format of a batch file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// `.csv`
    Csv,
    /// `.jsonl` or `.ndjson`
    JsonLines,
}

impl BatchFormat {
    /// The format of `path` by extension (case-insensitive).
    #[must_use]
    pub fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::JsonLines),
            _ => None,
        }
    }
}

/// Reads and parses a batch file; paths in it are resolved against its
/// folder.
///
/// # Errors
///
/// [`BatchError`] when the file cannot be read, has an unknown extension,
/// is too large, or (CSV) has a bad header. Bad rows are not errors here:
/// they are in [`ParsedBatch::errors`].
pub fn parse_batch_file(path: &Path) -> Result<ParsedBatch, BatchError> {
    let format = BatchFormat::of(path).ok_or_else(|| BatchError::Format {
        path: path.to_path_buf(),
    })?;
    let read_err = |source| BatchError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read_err)?
        .take(MAX_BATCH_FILE + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_BATCH_FILE {
        return Err(BatchError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let base = path.parent().unwrap_or(Path::new(""));
    match format {
        BatchFormat::Csv => parse_csv(&text, base).map_err(|message| BatchError::Header {
            path: path.to_path_buf(),
            message,
        }),
        BatchFormat::JsonLines => Ok(parse_jsonl(&text, base)),
    }
}

/// The CSV columns, as documented in the [module docs](self).
const REQUIRED: &[&str] = &[
    "report_number",
    "variety",
    "species",
    "weight_ct",
    "colour",
    "shape",
    "cut",
    "clarity",
    "dimensions_mm",
    "treatment",
];
const OPTIONAL: &[&str] = &["origin", "supersedes", "capture"];

fn file_columns() -> Vec<(&'static str, CaptureRole)> {
    CaptureRole::all()
        .into_iter()
        .map(|r| (role_name(r), r))
        .collect()
}

/// Parses CSV text; `base` resolves relative paths.
///
/// # Errors
///
/// A one-line message for a header that is missing, has an unknown,
/// repeated or missing required column.
pub fn parse_csv(text: &str, base: &Path) -> Result<ParsedBatch, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("line 1: {e}"))?
        .clone();
    let files = file_columns();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
        let known = REQUIRED.contains(&name.as_str())
            || OPTIONAL.contains(&name.as_str())
            || files.iter().any(|(n, _)| *n == name);
        if !known {
            return Err(format!("line 1: unknown column {name:?}"));
        }
        if index.insert(name.clone(), i).is_some() {
            return Err(format!("line 1: column {name:?} appears twice"));
        }
    }
    if let Some(missing) = REQUIRED.iter().find(|c| !index.contains_key(**c)) {
        return Err(format!(
            "line 1: the required column {missing:?} is missing"
        ));
    }

    let mut out = ParsedBatch::default();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(text, p.byte()));
                out.errors.push(RowError {
                    line,
                    message: format!("not CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cells = Cells {
            index: &index,
            record: &record,
        };
        match csv_row(&cells, &files, base) {
            Ok((claims, files)) => out.rows.push(BatchRow {
                line,
                claims,
                files,
            }),
            Err(message) => out.errors.push(RowError { line, message }),
        }
    }
    refuse_repeats(&mut out);
    Ok(out)
}

/// The cells of one CSV record, by column name.
struct Cells<'a> {
    index: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl<'a> Cells<'a> {
    /// The trimmed cell of `name`; `None` when the column is absent or the
    /// cell empty.
    fn get(&self, name: &str) -> Option<&'a str> {
        self.index
            .get(name)
            .and_then(|i| self.record.get(*i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn need(&self, name: &str) -> Result<&'a str, String> {
        self.get(name).ok_or_else(|| format!("{name} is empty"))
    }
}

/// The 1-based line of the record starting at byte offset `byte` in
/// `text`. The csv crate's own count, and its offset, include the blank
/// lines it skips before a record: skip them here too.
pub(super) fn line_at(text: &str, byte: u64) -> u64 {
    let mut end = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
    while matches!(text.as_bytes().get(end), Some(b'\n' | b'\r')) {
        end += 1;
    }
    let before = text.as_bytes().get(..end).unwrap_or_default();
    before.iter().filter(|b| **b == b'\n').count() as u64 + 1
}

fn csv_row(
    cells: &Cells<'_>,
    files: &[(&'static str, CaptureRole)],
    base: &Path,
) -> Result<(Claims, RowFiles), String> {
    let need = |name: &str| cells.need(name);
    let cell = |name: &str| cells.get(name);
    let report_number = need("report_number")?.to_owned();
    let stone = Stone {
        variety: need("variety")?.to_owned(),
        species: need("species")?.to_owned(),
        weight_mct: parse_carats(need("weight_ct")?).map_err(|e| format!("weight_ct: {e}"))?,
        colour: need("colour")?.to_owned(),
        shape: need("shape")?.to_owned(),
        cut: need("cut")?.to_owned(),
        clarity: need("clarity")?.to_owned(),
        dimensions_um: parse_dimensions_mm(need("dimensions_mm")?)
            .map_err(|e| format!("dimensions_mm: {e}"))?,
        treatment: need("treatment")?.to_owned(),
        origin: cell("origin").map(str::to_owned),
    };
    let supersedes = cell("supersedes")
        .map(|s| {
            s.parse::<TokenId>()
                .map_err(|_| format!("supersedes: {s:?} is not a token id"))
        })
        .transpose()?;
    let claims = check_claims(report_number, stone, supersedes)?;
    let named: Vec<(CaptureRole, PathBuf)> = files
        .iter()
        .filter_map(|(name, role)| cell(name).map(|p| (*role, base.join(p))))
        .collect();
    let row_files = row_files(cell("capture").map(|c| base.join(c)), named)?;
    Ok((claims, row_files))
}

fn check_claims(
    report_number: String,
    stone: Stone,
    supersedes: Option<TokenId>,
) -> Result<Claims, String> {
    if report_number.len() > loupe_schemas::token::MAX_SUBJECT_LEN
        || report_number.chars().any(char::is_control)
    {
        return Err(format!(
            "report_number: at most {} bytes without control characters",
            loupe_schemas::token::MAX_SUBJECT_LEN
        ));
    }
    stone.validate().map_err(|e| e.to_string())?;
    Ok(Claims {
        report_number,
        stone,
        supersedes,
    })
}

fn row_files(
    capture: Option<PathBuf>,
    mut named: Vec<(CaptureRole, PathBuf)>,
) -> Result<RowFiles, String> {
    match (capture, named.is_empty()) {
        (Some(_), false) => Err("give either capture or file columns, not both".into()),
        (Some(dir), true) => Ok(RowFiles::Capture(dir)),
        (None, true) => Err("no files: give a capture folder or a report file".into()),
        (None, false) => {
            if !named.iter().any(|(r, _)| *r == CaptureRole::Report) {
                return Err("report is empty: every stone needs its report file".into());
            }
            let all = CaptureRole::all();
            named.sort_by_key(|(r, _)| all.iter().position(|x| x == r));
            Ok(RowFiles::Files(named))
        }
    }
}

/// One JSON Lines row.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    report_number: String,
    stone: Stone,
    #[serde(default)]
    supersedes: Option<TokenId>,
    #[serde(default)]
    capture: Option<PathBuf>,
    #[serde(default)]
    files: BTreeMap<String, PathBuf>,
}

/// Parses JSON Lines text; `base` resolves relative paths. Blank lines
/// are skipped.
#[must_use]
pub fn parse_jsonl(text: &str, base: &Path) -> ParsedBatch {
    let mut out = ParsedBatch::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match jsonl_row(line, base) {
            Ok((claims, files)) => out.rows.push(BatchRow {
                line: line_no,
                claims,
                files,
            }),
            Err(message) => out.errors.push(RowError {
                line: line_no,
                message,
            }),
        }
    }
    refuse_repeats(&mut out);
    out
}

fn jsonl_row(line: &str, base: &Path) -> Result<(Claims, RowFiles), String> {
    let de = &mut serde_json::Deserializer::from_str(line);
    let row: JsonRow = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = crate::client::one_line(&e.into_inner().to_string());
        if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })?;
    let claims = check_claims(row.report_number, row.stone, row.supersedes)?;
    let mut named = Vec::new();
    for (role, path) in row.files {
        let role = parse_role(&role).ok_or_else(|| {
            format!(
                "files: unknown role {role:?} (report, {}, light-play)",
                ImageRole::ALL
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        named.push((role, base.join(path)));
    }
    let files = row_files(row.capture.map(|c| base.join(c)), named)?;
    Ok((claims, files))
}

fn parse_role(name: &str) -> Option<CaptureRole> {
    if name == "report" {
        return Some(CaptureRole::Report);
    }
    ImageRole::parse(name)
        .map(CaptureRole::Image)
        .or_else(|_| VideoRole::parse(name).map(CaptureRole::Video))
        .ok()
}

/// Moves every row whose report number an earlier row has to the errors.
fn refuse_repeats(batch: &mut ParsedBatch) {
    let mut first: HashMap<String, u64> = HashMap::new();
    let rows = std::mem::take(&mut batch.rows);
    for row in rows {
        if let Some(line) = first.get(&row.claims.report_number) {
            batch.errors.push(RowError {
                line: row.line,
                message: format!(
                    "report number {} repeats line {line}",
                    row.claims.report_number
                ),
            });
        } else {
            first.insert(row.claims.report_number.clone(), row.line);
            batch.rows.push(row);
        }
    }
    batch.errors.sort_by_key(|e| e.line);
}

#[cfg(test)]
mod tests;
