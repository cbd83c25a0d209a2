//! C2SP `signed-note`: parsing, signing and verifying notes.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::keys::{NoteSigner, NoteVerifier, SignatureType};

/// Largest signed note accepted or produced, in bytes: 128 KiB.
///
/// `signed-note` requires verifiers to accept at least 16 signatures and
/// warns that post-quantum ones approach 5 kB each; 16 × 5 kB plus a
/// checkpoint body fits with room to spare, while keeping the cost of a
/// hostile input small. (A checkpoint body alone is capped much lower, at
/// [`crate::checkpoint::MAX_CHECKPOINT_BODY_SIZE`].)
pub const MAX_NOTE_SIZE: usize = 128 * 1024;

/// Most signature lines accepted in one note (counting duplicates), as in
/// `golang.org/x/mod/sumdb/note`. The spec asks for at least 16.
pub const MAX_SIGNATURES: usize = 100;

/// The signature line prefix: em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why some bytes are not a well-formed signed note (or a text cannot be
/// signed). These are syntax errors, found before any signature is checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteParseError {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("note is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8 (at byte {offset})")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The note holds an ASCII control character other than newline.
    #[error("note holds control character 0x{byte:02x} at byte {offset}")]
    ControlCharacter {
        /// The offending byte.
        byte: u8,
        /// Its offset.
        offset: usize,
    },
    /// The text is empty or does not end with a newline.
    #[error("note text is empty or does not end with a newline")]
    TextNotNewlineTerminated,
    /// There is no blank line separating the text from the signatures.
    #[error("no blank line separating the text from the signatures")]
    MissingSeparator,
    /// No signature line follows the blank line.
    #[error("no signature lines")]
    NoSignatures,
    /// The last signature line does not end with a newline.
    #[error("the last signature line does not end with a newline")]
    SignatureNotNewlineTerminated,
    /// A signature line does not start with an em dash and a space, or has
    /// no space between key name and signature.
    #[error("signature line {line} is not of the form '— <name> <base64>'")]
    MalformedSignatureLine {
        /// 1-based number of the signature line.
        line: usize,
    },
    /// A signature line's key name is invalid.
    #[error("signature line {line} has an invalid key name")]
    InvalidKeyName {
        /// 1-based number of the signature line.
        line: usize,
    },
    /// A signature line's signature is not canonical standard base64.
    #[error("signature line {line} has invalid base64")]
    InvalidBase64 {
        /// 1-based number of the signature line.
        line: usize,
    },
    /// A signature line decodes to fewer than 5 bytes (key id and at least
    /// one signature byte).
    #[error("signature line {line} is too short")]
    SignatureTooShort {
        /// 1-based number of the signature line.
        line: usize,
    },
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("more than {max} signature lines")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
}

/// Why a note could not be opened or signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The input is not a well-formed note (syntax; no signature was
    /// checked).
    #[error("malformed note: {0}")]
    Malformed(#[from] NoteParseError),
    /// A signature line from a known key (name and key id match) does not
    /// verify. The whole note is rejected.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key id.
        key_id: u32,
    },
    /// Two different signature lines carry the same known key's name and
    /// key id.
    #[error("conflicting signatures for key {name}+{key_id:08x}")]
    ConflictingSignatures {
        /// Key name.
        name: String,
        /// Key id.
        key_id: u32,
    },
    /// No signature from a known key: the text must not be trusted.
    #[error("note has no signature from a known key")]
    NoVerifiedSignature,
    /// Two verifiers (or two signers) share a name and key id.
    #[error("ambiguous key {name}+{key_id:08x}: given twice")]
    AmbiguousKey {
        /// Key name.
        name: String,
        /// Key id.
        key_id: u32,
    },
    /// [`sign_note`] was given no signer.
    #[error("no signer given")]
    NoSigners,
}

/// One signature line as received: key name, key id, and the base64 text
/// (kept verbatim, key id included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    name: String,
    key_id: u32,
    base64: String,
}

impl SignatureLine {
    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (first four bytes of the decoded signature, big-endian).
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The base64 signature text, exactly as received.
    #[must_use]
    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// The signature bytes after the 4-byte key id.
    #[must_use]
    pub fn signature_bytes(&self) -> Vec<u8> {
        STANDARD
            .decode(&self.base64)
            .ok()
            .and_then(|raw| raw.get(4..).map(<[u8]>::to_vec))
            .unwrap_or_default()
    }

    /// The whole line, `— <name> <base64>\n`.
    #[must_use]
    pub fn to_line(&self) -> String {
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, self.base64)
    }
}

/// A signature line that a known key verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    line: SignatureLine,
    signature_type: SignatureType,
    timestamp: Option<u64>,
}

impl VerifiedSignature {
    /// The signature line.
    #[must_use]
    pub fn line(&self) -> &SignatureLine {
        &self.line
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.line.name
    }

    /// The key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.line.key_id
    }

    /// The signature type of the key that verified it.
    #[must_use]
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// For a `cosignature/v1`, the signed POSIX timestamp.
    #[must_use]
    pub fn timestamp(&self) -> Option<u64> {
        self.timestamp
    }
}

/// An opened note: its text, the signatures known keys verified, and the
/// other (unknown-key) signature lines, kept verbatim. Identical repeated
/// lines are listed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<VerifiedSignature>,
    unverified: Vec<SignatureLine>,
}

impl Note {
    /// The note text, final newline included.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Signatures verified by a known key, in note order (at least one).
    #[must_use]
    pub fn signatures(&self) -> &[VerifiedSignature] {
        &self.signatures
    }

    /// Signature lines from keys not given to [`open_note`], in note order.
    #[must_use]
    pub fn unverified_signatures(&self) -> &[SignatureLine] {
        &self.unverified
    }
}

/// A syntactically valid note, not yet verified.
pub(crate) struct ParsedNote<'a> {
    pub(crate) text: &'a str,
    pub(crate) lines: Vec<ParsedLine<'a>>,
}

/// One parsed signature line.
pub(crate) struct ParsedLine<'a> {
    /// The line without its prefix and newline: `<name> <base64>`.
    pub(crate) raw: &'a str,
    pub(crate) name: &'a str,
    pub(crate) base64: &'a str,
    pub(crate) key_id: u32,
    /// The signature bytes after the key id.
    pub(crate) signature: Vec<u8>,
}

/// Checks the rules every part of a note obeys: size, UTF-8, no control
/// characters but newline.
fn check_note_chars(bytes: &[u8]) -> Result<&str, NoteParseError> {
    if bytes.len() > MAX_NOTE_SIZE {
        return Err(NoteParseError::TooLarge {
            size: bytes.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    let s = std::str::from_utf8(bytes).map_err(|e| NoteParseError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    // UTF-8 continuation and lead bytes are all ≥ 0x80, so a byte scan is exact.
    if let Some((offset, &byte)) = bytes
        .iter()
        .enumerate()
        .find(|&(_, &b)| b < 0x20 && b != b'\n')
    {
        return Err(NoteParseError::ControlCharacter { byte, offset });
    }
    Ok(s)
}

/// Parses the note syntax (no signature is checked).
pub(crate) fn parse_note(bytes: &[u8]) -> Result<ParsedNote<'_>, NoteParseError> {
    let s = check_note_chars(bytes)?;
    // The text is separated from the signatures by the last blank line.
    let split = s.rfind("\n\n").ok_or(NoteParseError::MissingSeparator)?;
    let (text, rest) = split
        .checked_add(1)
        .and_then(|at| s.split_at_checked(at))
        .ok_or(NoteParseError::MissingSeparator)?;
    let sigs = rest
        .strip_prefix('\n')
        .ok_or(NoteParseError::MissingSeparator)?;
    if sigs.is_empty() {
        return Err(NoteParseError::NoSignatures);
    }
    let sigs = sigs
        .strip_suffix('\n')
        .ok_or(NoteParseError::SignatureNotNewlineTerminated)?;
    let mut lines = Vec::new();
    for (index, line) in sigs.split('\n').enumerate() {
        let number = index.saturating_add(1);
        if number > MAX_SIGNATURES {
            return Err(NoteParseError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        lines.push(parse_signature_line(line, number)?);
    }
    Ok(ParsedNote { text, lines })
}

/// Parses one signature line (without its newline).
fn parse_signature_line(line: &str, number: usize) -> Result<ParsedLine<'_>, NoteParseError> {
    let raw = line
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(NoteParseError::MalformedSignatureLine { line: number })?;
    let (name, base64) = raw
        .split_once(' ')
        .ok_or(NoteParseError::MalformedSignatureLine { line: number })?;
    if !super::keys::is_valid_key_name(name) {
        return Err(NoteParseError::InvalidKeyName { line: number });
    }
    let decoded = STANDARD
        .decode(base64)
        .map_err(|_| NoteParseError::InvalidBase64 { line: number })?;
    let Some((id, signature)) = decoded.split_first_chunk::<4>() else {
        return Err(NoteParseError::SignatureTooShort { line: number });
    };
    if signature.is_empty() {
        return Err(NoteParseError::SignatureTooShort { line: number });
    }
    Ok(ParsedLine {
        raw,
        name,
        base64,
        key_id: u32::from_be_bytes(*id),
        signature: signature.to_vec(),
    })
}

/// Checks that no two keys share a name and key id.
fn check_unambiguous<'a>(keys: impl IntoIterator<Item = (&'a str, u32)>) -> Result<(), NoteError> {
    let mut seen = HashSet::new();
    for (name, key_id) in keys {
        if !seen.insert((name, key_id)) {
            return Err(NoteError::AmbiguousKey {
                name: name.to_owned(),
                key_id,
            });
        }
    }
    Ok(())
}

/// Opens a signed note: parses it strictly, then checks every signature
/// line whose key name and key id match one of `verifiers`.
///
/// Lines from unknown keys are kept, unverified, in
/// [`Note::unverified_signatures`] (identical repeats once). An identical
/// repeated line from a known key is counted once; a different line with
/// the same known name and key id is an error.
///
/// # Errors
///
/// - [`NoteError::Malformed`] if the bytes are not a well-formed note
///   (over [`MAX_NOTE_SIZE`], not UTF-8, control characters, bad signature
///   lines, more than [`MAX_SIGNATURES`] lines); nothing is verified then.
/// - [`NoteError::AmbiguousKey`] if two verifiers share a name and key id.
/// - [`NoteError::InvalidSignature`] if a known key's signature fails.
/// - [`NoteError::ConflictingSignatures`] for two different lines by one
///   known key.
/// - [`NoteError::NoVerifiedSignature`] if no known key signed the note.
pub fn open_note(bytes: &[u8], verifiers: &[NoteVerifier]) -> Result<Note, NoteError> {
    let refs: Vec<&NoteVerifier> = verifiers.iter().collect();
    open_note_with(bytes, &refs)
}

/// [`open_note`] over borrowed verifiers.
pub(crate) fn open_note_with(bytes: &[u8], verifiers: &[&NoteVerifier]) -> Result<Note, NoteError> {
    check_unambiguous(verifiers.iter().map(|v| (v.name(), v.key_id())))?;
    let parsed = parse_note(bytes)?;

    let mut signatures = Vec::new();
    let mut unverified = Vec::new();
    let mut known_seen: HashMap<(&str, u32), &str> = HashMap::new();
    let mut unknown_seen: HashSet<&str> = HashSet::new();
    for line in &parsed.lines {
        let signature_line = || SignatureLine {
            name: line.name.to_owned(),
            key_id: line.key_id,
            base64: line.base64.to_owned(),
        };
        let Some(verifier) = verifiers.iter().find(|v| v.matches(line.name, line.key_id)) else {
            if unknown_seen.insert(line.raw) {
                unverified.push(signature_line());
            }
            continue;
        };
        if let Some(&previous) = known_seen.get(&(line.name, line.key_id)) {
            if previous == line.base64 {
                continue;
            }
            return Err(NoteError::ConflictingSignatures {
                name: line.name.to_owned(),
                key_id: line.key_id,
            });
        }
        known_seen.insert((line.name, line.key_id), line.base64);
        let timestamp = verifier
            .verify(parsed.text, &line.signature)
            .map_err(|()| NoteError::InvalidSignature {
                name: line.name.to_owned(),
                key_id: line.key_id,
            })?;
        signatures.push(VerifiedSignature {
            line: signature_line(),
            signature_type: verifier.signature_type(),
            timestamp,
        });
    }
    if signatures.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok(Note {
        text: parsed.text.to_owned(),
        signatures,
        unverified,
    })
}

/// Checks that `text` can be the text of a note: within size, UTF-8
/// without control characters but newline, non-empty, newline-terminated.
pub(crate) fn check_text(text: &str) -> Result<(), NoteParseError> {
    check_note_chars(text.as_bytes())?;
    if !text.ends_with('\n') {
        return Err(NoteParseError::TextNotNewlineTerminated);
    }
    Ok(())
}

/// Formats one signature line: `— <name> base64(key id ‖ signature)\n`.
pub(crate) fn format_signature_line(name: &str, key_id: u32, signature: &[u8]) -> String {
    let mut blob = Vec::with_capacity(signature.len().saturating_add(4));
    blob.extend_from_slice(&key_id.to_be_bytes());
    blob.extend_from_slice(signature);
    format!("{SIGNATURE_PREFIX}{name} {}\n", STANDARD.encode(blob))
}

/// Checks the limits on a finished note.
pub(crate) fn check_limits(note: &str, signature_lines: usize) -> Result<(), NoteParseError> {
    if signature_lines > MAX_SIGNATURES {
        return Err(NoteParseError::TooManySignatures {
            max: MAX_SIGNATURES,
        });
    }
    if note.len() > MAX_NOTE_SIZE {
        return Err(NoteParseError::TooLarge {
            size: note.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    Ok(())
}

/// Signs `text` with each signer (Ed25519, type `0x01`) and returns the
/// signed note: the text, a blank line, one signature line per signer in
/// the order given.
///
/// # Errors
///
/// - [`NoteError::Malformed`] if `text` is empty, does not end with a
///   newline, holds control characters, or the result would exceed
///   [`MAX_NOTE_SIZE`] or [`MAX_SIGNATURES`].
/// - [`NoteError::NoSigners`] for an empty `signers`.
/// - [`NoteError::AmbiguousKey`] if two signers share a name and key id.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::NoSigners);
    }
    check_unambiguous(signers.iter().map(|s| (s.name(), s.key_id())))?;
    let mut note =
        String::with_capacity(text.len().saturating_add(signers.len().saturating_mul(128)));
    note.push_str(text);
    note.push('\n');
    for signer in signers {
        note.push_str(&format_signature_line(
            signer.name(),
            signer.key_id(),
            &signer.sign_bytes(text),
        ));
    }
    check_limits(&note, signers.len())?;
    Ok(note)
}

/// Splits a note already known to be well-formed into its text and its
/// signature lines (each without prefix or newline). Used to rebuild a note
/// with an extra signature line.
pub(crate) fn split_signed_note(note: &str) -> Result<(&str, Vec<ParsedLine<'_>>), NoteParseError> {
    let parsed = parse_note(note.as_bytes())?;
    Ok((parsed.text, parsed.lines))
}

/// Rebuilds a note line from its parsed form.
pub(crate) fn raw_line(line: &ParsedLine<'_>) -> String {
    format!("{SIGNATURE_PREFIX}{}\n", line.raw)
}
