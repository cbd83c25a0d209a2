//! The results file of a batch: CSV with the header
//! `report_number,token_id,url`, one line per stone that has a token.
//!
//! It is what makes a batch resumable: a re-run reads it and skips every
//! report number it lists. A line is appended (one `write`) only after the
//! issuer has acknowledged the token, so the file never lists a stone
//! without a token. The reverse can happen (the process dies between the
//! acknowledgement and the write); the re-run then gets
//! `active-token-exists` from the issuer and records the stone as
//! already issued. A torn last line (no newline) is cut off on open.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use loupe_schemas::token::TokenId;

use super::BatchError;

/// The header line.
pub const RESULTS_HEADER: &str = "report_number,token_id,url";

/// A stone listed in the results file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// Its token.
    pub token_id: TokenId,
    /// The token's URL.
    pub url: String,
}

/// An open results file: what it lists, and the handle to append to it.
#[derive(Debug)]
pub struct ResultsFile {
    path: PathBuf,
    file: File,
    done: HashMap<String, Done>,
}

impl ResultsFile {
    /// Opens (creating it with its header if missing) the results file at
    /// `path`, reads what it lists, and cuts off a torn last line.
    ///
    /// # Errors
    ///
    /// [`BatchError::Results`] when it cannot be read or written, or holds
    /// something else than a results file.
    pub fn open(path: &Path) -> Result<Self, BatchError> {
        let io_err = |e: std::io::Error| BatchError::Results {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err)?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| BatchError::Results {
                path: path.to_path_buf(),
                message: format!("not a results file ({e})"),
            })?;
        let complete = match text.rfind('\n') {
            Some(i) => i + 1,
            None => 0,
        };
        if complete < text.len() {
            // A line without its newline: the write was interrupted.
            file.set_len(complete as u64).map_err(io_err)?;
            file.seek(SeekFrom::End(0)).map_err(io_err)?;
            text.truncate(complete);
        }
        let done = parse_results(&text).map_err(|message| BatchError::Results {
            path: path.to_path_buf(),
            message,
        })?;
        if text.is_empty() {
            file.write_all(format!("{RESULTS_HEADER}\n").as_bytes())
                .map_err(io_err)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            done,
        })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file lists for `report_number`.
    #[must_use]
    pub fn get(&self, report_number: &str) -> Option<&Done> {
        self.done.get(report_number)
    }

    /// Number of stones listed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.done.len()
    }

    /// Whether no stone is listed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// A listed URL's base (the part before `/t/{id}`), to guess the URL of
    /// a token the issuer reports as already issued.
    #[must_use]
    pub fn any_public_base(&self) -> Option<String> {
        self.done
            .values()
            .find_map(|d| public_base(&d.url, &d.token_id))
    }

    /// Appends a line (one write) and remembers it.
    ///
    /// # Errors
    ///
    /// [`BatchError::Results`] when the write fails.
    pub fn record(&mut self, report_number: &str, done: Done) -> Result<(), BatchError> {
        let line = results_line(report_number, &done)?;
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| BatchError::Results {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        self.done.insert(report_number.to_owned(), done);
        Ok(())
    }
}

/// `https://lab.example/t/ID` → `https://lab.example` for that `id`.
#[must_use]
pub fn public_base(url: &str, id: &TokenId) -> Option<String> {
    url.strip_suffix(&format!("/t/{id}")).map(str::to_owned)
}

/// One CSV line (with its newline) for a results row.
fn results_line(report_number: &str, done: &Done) -> Result<String, BatchError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let bad = |e: &dyn std::fmt::Display| BatchError::Results {
        path: PathBuf::new(),
        message: e.to_string(),
    };
    w.write_record([report_number, &done.token_id.to_string(), &done.url])
        .map_err(|e| bad(&e))?;
    let bytes = w.into_inner().map_err(|e| bad(&e))?;
    String::from_utf8(bytes).map_err(|e| bad(&e))
}

/// Parses the text of a results file (complete lines only).
///
/// # Errors
///
/// A one-line message naming the line.
pub fn parse_results(text: &str) -> Result<HashMap<String, Done>, String> {
    let mut done = HashMap::new();
    if text.is_empty() {
        return Ok(done);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("line 1: {e}"))?
        .iter()
        .collect::<Vec<_>>()
        .join(",");
    if header != RESULTS_HEADER {
        return Err(format!(
            "not a results file: line 1 is {header:?}, expected {RESULTS_HEADER:?}"
        ));
    }
    for record in reader.records() {
        let record = record.map_err(|e| format!("not CSV: {e}"))?;
        let line = record
            .position()
            .map_or(0, |p| super::rows::line_at(text, p.byte()));
        let (Some(rn), Some(id), Some(url), None) =
            (record.get(0), record.get(1), record.get(2), record.get(3))
        else {
            return Err(format!("line {line}: expected 3 columns"));
        };
        let token_id = id
            .parse::<TokenId>()
            .map_err(|_| format!("line {line}: {id:?} is not a token id"))?;
        done.insert(
            rn.to_owned(),
            Done {
                token_id,
                url: url.to_owned(),
            },
        );
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> TokenId {
        TokenId([n; 32])
    }

    #[test]
    fn a_new_file_gets_its_header_and_lines_round_trip() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("r.csv");
        let mut r = ResultsFile::open(&path).expect("open");
        assert!(r.is_empty());
        let odd = "LX-1, \"quoted\", comma";
        r.record(
            odd,
            Done {
                token_id: id(1),
                url: format!("https://lab.example/t/{}", id(1)),
            },
        )
        .expect("record");
        r.record(
            "LX-2",
            Done {
                token_id: id(2),
                url: format!("https://lab.example/t/{}", id(2)),
            },
        )
        .expect("record");
        drop(r);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("report_number,token_id,url\n"), "{text}");
        assert_eq!(text.lines().count(), 3);
        let r = ResultsFile::open(&path).expect("reopen");
        assert_eq!(r.len(), 2);
        assert_eq!(r.get(odd).map(|d| d.token_id), Some(id(1)));
        assert_eq!(r.any_public_base().as_deref(), Some("https://lab.example"));
        // Reopening does not add a second header.
        drop(r);
        let again = std::fs::read_to_string(&path).expect("read");
        assert_eq!(again, text);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_appending_goes_on() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("r.csv");
        let good = format!("{RESULTS_HEADER}\nLX-1,{},https://l/t/{}\n", id(1), id(1));
        std::fs::write(&path, format!("{good}LX-2,{}", &id(2).to_string()[..10])).expect("write");
        let mut r = ResultsFile::open(&path).expect("open");
        assert_eq!(r.len(), 1);
        assert!(r.get("LX-2").is_none(), "the torn row is not done");
        r.record(
            "LX-2",
            Done {
                token_id: id(2),
                url: "u".into(),
            },
        )
        .expect("record");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("{good}LX-2,{},u\n", id(2)));
    }

    #[test]
    fn other_files_are_refused_not_clobbered() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("stones.csv");
        let original = "report_number,variety\nLX-1,Ruby\n";
        std::fs::write(&path, original).expect("write");
        let err = ResultsFile::open(&path).expect_err("not a results file");
        assert!(err.to_string().contains("not a results file"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), original);

        for (text, want) in [
            (
                format!("{RESULTS_HEADER}\nLX-1,nope,u\n"),
                "line 2: \"nope\" is not a token id",
            ),
            (
                format!("{RESULTS_HEADER}\nLX-1,{}\n", id(1)),
                "line 2: expected 3 columns",
            ),
        ] {
            let err = parse_results(&text).expect_err("bad row");
            assert_eq!(err, want);
        }
    }

    #[test]
    fn public_base_strips_the_token_path() {
        let t = id(3);
        assert_eq!(
            public_base(&format!("http://127.0.0.1:9/x/t/{t}"), &t).as_deref(),
            Some("http://127.0.0.1:9/x")
        );
        assert_eq!(public_base("http://h/t/other", &t), None);
    }
}
