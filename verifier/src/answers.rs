//! The issuer's JSON answers, as the verifier reads them: the status of a
//! token (`GET /v1/tokens/{id}/status`, [`StatusAnswer`]) and a consistency
//! proof between two tree sizes (`GET /v1/consistency?old=&new=`,
//! [`ConsistencyAnswer`]).
//!
//! The issuer may be hostile, so each answer is parsed strictly, once, at
//! the edge, in this order:
//!
//! 1. at most [`StatusAnswer::MAX_LEN`] or [`ConsistencyAnswer::MAX_LEN`]
//!    bytes, all of them UTF-8;
//! 2. one JSON value and nothing after it, no object naming a member twice
//!    at any depth ([`check_unique_keys`]);
//! 3. the members the issuer's OpenAPI document (`issuer/openapi.json`,
//!    schemas `status`, `ending_entry`, `consistency`) requires, with their
//!    types. Members it does not name are ignored, so that an issuer that
//!    adds one is still understood;
//! 4. the values: a status is `active`, `revoked` or `superseded`; a
//!    statement is standard base64 (padded, canonical); a proof is a C2SP
//!    `tlog-proof` bundle ([`ProofBundle::parse`]); a consistency path has
//!    at most [`ConsistencyAnswer::MAX_PATH`] hashes, each the standard
//!    base64 of 32 bytes, and `old <= new`;
//! 5. what the issuer's contract makes one answer say twice must agree:
//!    the status is the one its entries imply (`revoked` when there is a
//!    `revoked_by` entry, else `superseded` when there is a
//!    `superseded_by` entry, else `active`; a superseded token that was
//!    then revoked is `revoked` with both entries), an entry's `id` is the
//!    SHA-256 of its statement and its `leaf_index` the index its proof
//!    proves.
//!
//! Parsing verifies nothing: the verifier checks the statements' signatures
//! and the proofs against the log key itself. A refusal is an
//! [`AnswerError`]. [`Serialize`] writes an answer in the issuer's form,
//! which parses back equal.
//!
//! ```
//! use loupe_verifier::answers::{AnswerError, ConsistencyAnswer};
//!
//! let zero = format!("\"{}\"", "A".repeat(43) + "=");
//! let answer = ConsistencyAnswer::parse(format!(r#"{{"old":1,"new":3,"path":[{zero}]}}"#).as_bytes())?;
//! assert_eq!((answer.old_size(), answer.new_size(), answer.path()), (1, 3, &[[0u8; 32]][..]));
//!
//! let twice = br#"{"old":1,"new":3,"path":[],"old":2}"#;
//! assert_eq!(ConsistencyAnswer::parse(twice), Err(AnswerError::DuplicateKey("old".into())));
//! # Ok::<(), AnswerError>(())
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::bundle::{ProofBundle, ProofBundleParseError};
use loupe_schemas::json::{StrictJsonError, check_unique_keys};
use loupe_schemas::merkle::{Hash, MAX_PATH_LEN};
use loupe_schemas::token::TokenId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

/// Why an issuer's answer was refused. Every variant means the answer is
/// malformed; none is a verification failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The answer is longer than the parser's limit.
    #[error("the answer is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The answer is not UTF-8 text (RFC 8259 §8.1).
    #[error("the answer is not UTF-8 (bad byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first byte that is not part of valid UTF-8.
        offset: usize,
    },
    /// The bytes are not one JSON value (syntax, nesting deeper than 128,
    /// characters after the value).
    #[error("not valid JSON: {0}")]
    Syntax(String),
    /// An object names this member twice, so the answer has no single
    /// meaning.
    #[error("the JSON object member {0:?} appears twice")]
    DuplicateKey(String),
    /// Valid JSON, but a required member is missing or has the wrong type
    /// (`serde_json`'s message, with line and column).
    #[error("not the issuer's answer: {0}")]
    Shape(String),
    /// The status is none of `active`, `revoked`, `superseded`.
    #[error("unknown status {0:?} (expected \"active\", \"revoked\" or \"superseded\")")]
    UnknownStatus(String),
    /// The status is not the one the answer's entries imply.
    #[error(
        "the status \"{status}\" is inconsistent with the answer's revoked_by and superseded_by entries, which make it \"{implied}\""
    )]
    Inconsistent {
        /// The status the answer states.
        status: TokenStatus,
        /// The status its entries imply.
        implied: TokenStatus,
    },
    /// An entry's statement is not standard base64.
    #[error("{0}.statement is not standard base64")]
    StatementBase64(EndingField),
    /// An entry's `id` is not the SHA-256 of its statement.
    #[error("{0}.id is not the id of its statement (the SHA-256 of its bytes)")]
    EndingId(EndingField),
    /// An entry's proof is not a C2SP `tlog-proof` bundle.
    #[error("{field}.proof is malformed: {source}")]
    Proof {
        /// The entry.
        field: EndingField,
        /// Why the bundle was refused.
        source: ProofBundleParseError,
    },
    /// An entry's `leaf_index` is not the index its proof proves.
    #[error("{field}.leaf_index is {stated}, but its proof is for entry {proven}")]
    EndingIndex {
        /// The entry.
        field: EndingField,
        /// The index the entry states.
        stated: u64,
        /// The index in its proof bundle.
        proven: u64,
    },
    /// A consistency answer's `old` is larger than its `new`.
    #[error("the old tree size {old} is larger than the new one {new}")]
    SizesOutOfOrder {
        /// The older size it states.
        old: u64,
        /// The newer size it states.
        new: u64,
    },
    /// A consistency path is longer than any proof between two trees of at
    /// most 2^62 entries.
    #[error("the consistency path has {len} hashes, more than the limit of {max}")]
    PathTooLong {
        /// Its number of hashes.
        len: usize,
        /// The limit, [`ConsistencyAnswer::MAX_PATH`].
        max: usize,
    },
    /// A hash of the consistency path is not 32 bytes of standard base64.
    #[error("the hash path[{0}] in the answer is not 32 bytes of base64")]
    PathHash(usize),
}

/// Which entry of a status answer an [`AnswerError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndingField {
    /// `revoked_by`.
    RevokedBy,
    /// `superseded_by`.
    SupersededBy,
}

impl fmt::Display for EndingField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RevokedBy => "revoked_by",
            Self::SupersededBy => "superseded_by",
        })
    }
}

/// A token's status as the issuer states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    /// Neither revoked nor superseded.
    Active,
    /// A revocation of it is logged.
    Revoked,
    /// A newer token naming it in `supersedes` is logged (and no
    /// revocation).
    Superseded,
}

impl TokenStatus {
    /// The word on the wire: `active`, `revoked` or `superseded`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Superseded => "superseded",
        }
    }

    /// Reads the word on the wire (exactly, lowercase).
    ///
    /// # Errors
    ///
    /// [`AnswerError::UnknownStatus`] for any other string.
    pub fn parse(word: &str) -> Result<Self, AnswerError> {
        match word {
            "active" => Ok(Self::Active),
            "revoked" => Ok(Self::Revoked),
            "superseded" => Ok(Self::Superseded),
            other => Err(AnswerError::UnknownStatus(other.to_owned())),
        }
    }
}

impl fmt::Display for TokenStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A log entry that ended a token's life (a revocation, or a newer token
/// that supersedes it), as a status answer carries it: the OpenAPI
/// `ending_entry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndingAnswer {
    id: TokenId,
    leaf_index: u64,
    reason: Option<String>,
    statement: Vec<u8>,
    proof: ProofBundle,
}

impl EndingAnswer {
    /// An entry for `statement` (its logged bytes) with its proof bundle;
    /// its id and leaf index are the ones these determine.
    #[must_use]
    pub fn new(statement: Vec<u8>, reason: Option<String>, proof: ProofBundle) -> Self {
        Self {
            id: TokenId::of_logged_bytes(&statement),
            leaf_index: proof.index(),
            reason,
            statement,
            proof,
        }
    }

    /// The entry's id: the SHA-256 of [`statement`](Self::statement).
    #[must_use]
    pub fn id(&self) -> TokenId {
        self.id
    }

    /// Its index in the log, as its proof states it.
    #[must_use]
    pub fn leaf_index(&self) -> u64 {
        self.leaf_index
    }

    /// The revocation's reason, as the issuer repeats it (unverified: the
    /// signed reason is in the statement).
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The statement's bytes (decoded from base64), not parsed yet: a
    /// COSE_Sign1 revocation or token with its unprotected header empty.
    #[must_use]
    pub fn statement(&self) -> &[u8] {
        &self.statement
    }

    /// Its inclusion proof, parsed but not verified.
    #[must_use]
    pub fn proof(&self) -> &ProofBundle {
        &self.proof
    }

    fn from_wire(wire: EndingWire, field: EndingField) -> Result<Self, AnswerError> {
        let statement = STANDARD
            .decode(&wire.statement)
            .map_err(|_| AnswerError::StatementBase64(field))?;
        let proof = ProofBundle::parse(wire.proof.as_bytes())
            .map_err(|source| AnswerError::Proof { field, source })?;
        let ending = Self::new(statement, wire.reason, proof);
        if wire.id != ending.id {
            return Err(AnswerError::EndingId(field));
        }
        if wire.leaf_index != ending.leaf_index {
            return Err(AnswerError::EndingIndex {
                field,
                stated: wire.leaf_index,
                proven: ending.leaf_index,
            });
        }
        Ok(ending)
    }
}

impl Serialize for EndingAnswer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            id: TokenId,
            leaf_index: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
            statement: String,
            proof: String,
        }
        Out {
            id: self.id,
            leaf_index: self.leaf_index,
            reason: self.reason.as_deref(),
            statement: STANDARD.encode(&self.statement),
            proof: self.proof.to_text(),
        }
        .serialize(s)
    }
}

/// The entry that decides a [`StatusAnswer`] that is not `active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy<'a> {
    /// Revoked by this revocation.
    Revoked(&'a EndingAnswer),
    /// Superseded by this newer token.
    Superseded(&'a EndingAnswer),
}

/// The answer of `GET /v1/tokens/{id}/status` (the OpenAPI `status`):
/// `active`, `revoked` or `superseded`, with the entries that ended the
/// token. Its status always agrees with its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusAnswer {
    token_id: TokenId,
    status: TokenStatus,
    leaf_index: u64,
    revoked_by: Option<EndingAnswer>,
    superseded_by: Option<EndingAnswer>,
}

impl StatusAnswer {
    /// Longest answer parsed: two entries, each with a statement (a token
    /// is at most 64 KiB, a third more in base64) and a proof bundle (at
    /// most 64 KiB), with room to spare.
    pub const MAX_LEN: usize = 512 * 1024;

    /// The answer about token `token_id`, logged at `leaf_index`, with the
    /// entries that ended it; the status is the one they imply, as the
    /// issuer computes it.
    #[must_use]
    pub fn new(
        token_id: TokenId,
        leaf_index: u64,
        revoked_by: Option<EndingAnswer>,
        superseded_by: Option<EndingAnswer>,
    ) -> Self {
        let status = implied_status(revoked_by.is_some(), superseded_by.is_some());
        Self {
            token_id,
            status,
            leaf_index,
            revoked_by,
            superseded_by,
        }
    }

    /// Parses an answer strictly (see the [module](self) documentation).
    ///
    /// # Errors
    ///
    /// An [`AnswerError`] naming the first thing wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self, AnswerError> {
        let wire: StatusWire = strict_json(bytes, Self::MAX_LEN)?;
        let status = TokenStatus::parse(&wire.status)?;
        let implied = implied_status(wire.revoked_by.is_some(), wire.superseded_by.is_some());
        if status != implied {
            return Err(AnswerError::Inconsistent { status, implied });
        }
        let revoked_by = wire
            .revoked_by
            .map(|e| EndingAnswer::from_wire(e, EndingField::RevokedBy))
            .transpose()?;
        let superseded_by = wire
            .superseded_by
            .map(|e| EndingAnswer::from_wire(e, EndingField::SupersededBy))
            .transpose()?;
        Ok(Self {
            token_id: wire.token_id,
            status,
            leaf_index: wire.leaf_index,
            revoked_by,
            superseded_by,
        })
    }

    /// The token the answer is about.
    #[must_use]
    pub fn token_id(&self) -> TokenId {
        self.token_id
    }

    /// The status the issuer states (and its entries imply).
    #[must_use]
    pub fn status(&self) -> TokenStatus {
        self.status
    }

    /// The token's index in the log, as the issuer states it.
    #[must_use]
    pub fn leaf_index(&self) -> u64 {
        self.leaf_index
    }

    /// The revocation, if the token is revoked.
    #[must_use]
    pub fn revoked_by(&self) -> Option<&EndingAnswer> {
        self.revoked_by.as_ref()
    }

    /// The newer token that names this one in `supersedes`, if any (also
    /// when it was revoked afterwards).
    #[must_use]
    pub fn superseded_by(&self) -> Option<&EndingAnswer> {
        self.superseded_by.as_ref()
    }

    /// The entry that decides the status: the revocation when there is
    /// one, else the newer token; `None` when the token is active.
    #[must_use]
    pub fn ended_by(&self) -> Option<EndedBy<'_>> {
        match (&self.revoked_by, &self.superseded_by) {
            (Some(e), _) => Some(EndedBy::Revoked(e)),
            (None, Some(e)) => Some(EndedBy::Superseded(e)),
            (None, None) => None,
        }
    }
}

/// The answer of `GET /v1/consistency?old=&new=` (the OpenAPI
/// `consistency`): the RFC 9162 §2.1.4 consistency path between two tree
/// sizes, parsed but not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyAnswer {
    old: u64,
    new: u64,
    path: Vec<Hash>,
}

impl ConsistencyAnswer {
    /// Longest answer parsed: [`MAX_PATH`](Self::MAX_PATH) hashes of 47
    /// characters with room to spare.
    pub const MAX_LEN: usize = 64 * 1024;

    /// Most hashes a path may have: [`MAX_PATH_LEN`], enough for every
    /// consistency proof between trees of up to 2^62 entries (the most the
    /// Merkle code handles); a longer path could never verify.
    pub const MAX_PATH: usize = MAX_PATH_LEN;

    /// The proof from tree size `old` to `new`.
    ///
    /// # Errors
    ///
    /// [`AnswerError::SizesOutOfOrder`] if `old > new`,
    /// [`AnswerError::PathTooLong`] beyond [`MAX_PATH`](Self::MAX_PATH).
    pub fn new(old: u64, new: u64, path: Vec<Hash>) -> Result<Self, AnswerError> {
        if old > new {
            return Err(AnswerError::SizesOutOfOrder { old, new });
        }
        if path.len() > Self::MAX_PATH {
            return Err(AnswerError::PathTooLong {
                len: path.len(),
                max: Self::MAX_PATH,
            });
        }
        Ok(Self { old, new, path })
    }

    /// Parses an answer strictly (see the [module](self) documentation).
    ///
    /// # Errors
    ///
    /// An [`AnswerError`] naming the first thing wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self, AnswerError> {
        let wire: ConsistencyWire = strict_json(bytes, Self::MAX_LEN)?;
        if wire.old > wire.new {
            return Err(AnswerError::SizesOutOfOrder {
                old: wire.old,
                new: wire.new,
            });
        }
        if wire.path.len() > Self::MAX_PATH {
            return Err(AnswerError::PathTooLong {
                len: wire.path.len(),
                max: Self::MAX_PATH,
            });
        }
        let path = wire
            .path
            .iter()
            .enumerate()
            .map(|(i, h)| {
                STANDARD
                    .decode(h)
                    .ok()
                    .and_then(|b| Hash::try_from(b).ok())
                    .ok_or(AnswerError::PathHash(i))
            })
            .collect::<Result<_, _>>()?;
        Self::new(wire.old, wire.new, path)
    }

    /// The older tree size.
    #[must_use]
    pub fn old_size(&self) -> u64 {
        self.old
    }

    /// The newer tree size (at least the older one).
    #[must_use]
    pub fn new_size(&self) -> u64 {
        self.new
    }

    /// The consistency path, at most [`MAX_PATH`](Self::MAX_PATH) hashes.
    #[must_use]
    pub fn path(&self) -> &[Hash] {
        &self.path
    }

    /// The path, owned.
    #[must_use]
    pub fn into_path(self) -> Vec<Hash> {
        self.path
    }
}

impl Serialize for ConsistencyAnswer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out {
            old: u64,
            new: u64,
            path: Vec<String>,
        }
        Out {
            old: self.old,
            new: self.new,
            path: self.path.iter().map(|h| STANDARD.encode(h)).collect(),
        }
        .serialize(s)
    }
}

/// The status the issuer gives a token with these entries
/// (`issuer/src/api/read.rs`: a revocation wins).
fn implied_status(revoked: bool, superseded: bool) -> TokenStatus {
    if revoked {
        TokenStatus::Revoked
    } else if superseded {
        TokenStatus::Superseded
    } else {
        TokenStatus::Active
    }
}

/// Steps 1–3 of the module documentation: size, UTF-8, one JSON value
/// with unique member names, then the members `T` requires.
fn strict_json<T: DeserializeOwned>(bytes: &[u8], max: usize) -> Result<T, AnswerError> {
    if bytes.len() > max {
        return Err(AnswerError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    std::str::from_utf8(bytes).map_err(|e| AnswerError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    check_unique_keys(bytes).map_err(|e| match e {
        StrictJsonError::DuplicateKey(key) => AnswerError::DuplicateKey(key),
        StrictJsonError::Syntax(why) => AnswerError::Syntax(why),
        other => AnswerError::Syntax(other.to_string()),
    })?;
    serde_json::from_slice(bytes).map_err(|e| AnswerError::Shape(e.to_string()))
}

/// The status answer as the issuer writes it.
#[derive(Deserialize)]
struct StatusWire {
    token_id: TokenId,
    status: String,
    leaf_index: u64,
    #[serde(default)]
    revoked_by: Option<EndingWire>,
    #[serde(default)]
    superseded_by: Option<EndingWire>,
}

/// An `ending_entry` as the issuer writes it.
#[derive(Deserialize)]
struct EndingWire {
    id: TokenId,
    leaf_index: u64,
    #[serde(default)]
    reason: Option<String>,
    statement: String,
    proof: String,
}

/// The consistency answer as the issuer writes it.
#[derive(Deserialize)]
struct ConsistencyWire {
    old: u64,
    new: u64,
    path: Vec<String>,
}
