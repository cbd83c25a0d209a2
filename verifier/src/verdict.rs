//! The answer: an overall [`Status`] and every [`Check`] by name, with a
//! human reason. Serialised as `schemas/json/verdict.schema.json`.

use loupe_schemas::token::{CwtClaims, Provenance, Token, TokenId};
use serde::Serialize;

/// The overall answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every check passed: the lab signed this token, it is in the lab's
    /// consistent log, and it is neither revoked nor superseded.
    Valid,
    /// A check failed: do not rely on this token.
    Invalid,
    /// Genuine and logged, but the lab revoked it.
    Revoked,
    /// Genuine and logged, but the lab replaced it with a newer token.
    Superseded,
    /// No answer: an untrusted host or issuer, or the log could not be
    /// reached. Nothing is claimed either way.
    Unknown,
}

impl Status {
    /// The lowercase word (`valid`, `invalid`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Revoked => "revoked",
            Self::Superseded => "superseded",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed.
    Fail,
    /// It was not made (offline, not applicable, or an earlier check
    /// failed); the reason says which.
    Skip,
}

/// The checks, by stable name (the JSON `name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// The URL's host is an issuer this verifier trusts (nothing is fetched
    /// from anywhere else).
    TrustedOrigin,
    /// The token could be fetched.
    Fetch,
    /// The URL's token id is the SHA-256 of the token served.
    UrlTokenId,
    /// The token is a well-formed COSE_Sign1 under the strict profile.
    CoseStructure,
    /// The token's issuer (`iss`) is in the trust store.
    IssuerKnown,
    /// The signing key is a trusted key of the issuer valid at `iat`, or
    /// the token's certificate chain reaches a trusted root.
    IssuerKey,
    /// The token's signature verifies.
    TokenSignature,
    /// The checkpoint is signed by the log's key.
    CheckpointSignature,
    /// The checkpoint carries the witness cosignatures the policy requires.
    Witnesses,
    /// The inclusion proof leads from the token to the checkpoint's root.
    Inclusion,
    /// The checkpoint is consistent with the newest one this verifier has
    /// seen for the log (no fork, no rollback).
    Consistency,
    /// Revocation and supersession.
    Status,
    /// A file in hand matches the digest the token certifies.
    File,
}

impl CheckName {
    /// The snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TrustedOrigin => "trusted_origin",
            Self::Fetch => "fetch",
            Self::UrlTokenId => "url_token_id",
            Self::CoseStructure => "cose_structure",
            Self::IssuerKnown => "issuer_known",
            Self::IssuerKey => "issuer_key",
            Self::TokenSignature => "token_signature",
            Self::CheckpointSignature => "checkpoint_signature",
            Self::Witnesses => "witnesses",
            Self::Inclusion => "inclusion",
            Self::Consistency => "consistency",
            Self::Status => "status",
            Self::File => "file",
        }
    }

    /// A short title for people.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::TrustedOrigin => "Trusted origin",
            Self::Fetch => "Token fetched",
            Self::UrlTokenId => "URL matches token",
            Self::CoseStructure => "Token well-formed",
            Self::IssuerKnown => "Issuer known",
            Self::IssuerKey => "Issuer key",
            Self::TokenSignature => "Lab signature",
            Self::CheckpointSignature => "Log checkpoint signature",
            Self::Witnesses => "Witness cosignatures",
            Self::Inclusion => "In the public log",
            Self::Consistency => "Log consistent (no fork, no rollback)",
            Self::Status => "Not revoked or superseded",
            Self::File => "File matches",
        }
    }
}

/// One check with its outcome and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// For [`CheckName::File`]: which file (`report`, `image:face-up`,
    /// `video:light-play`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// Why, in words.
    pub reason: String,
}

/// What the verifier learnt about the token (present once it parsed).
///
/// It shares the parsed token (no copy of the claims is made); as JSON it
/// is `{"id", "claims", "provenance"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSummary {
    /// The token id.
    pub id: TokenId,
    token: Token,
}

impl TokenSummary {
    /// The summary of a parsed token.
    #[must_use]
    pub fn new(token: &Token) -> Self {
        Self {
            id: token.id(),
            token: token.clone(),
        }
    }

    /// The CWT claims (issuer, report number, issued at, cti).
    #[must_use]
    pub fn claims(&self) -> &CwtClaims {
        self.token.claims()
    }

    /// The certified files and the stone's facts.
    #[must_use]
    pub fn provenance(&self) -> &Provenance {
        self.token.provenance()
    }

    /// The parsed token itself.
    #[must_use]
    pub fn token(&self) -> &Token {
        &self.token
    }
}

impl Serialize for TokenSummary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("TokenSummary", 3)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("claims", self.claims())?;
        s.serialize_field("provenance", self.provenance())?;
        s.end()
    }
}

/// Where the token sits in its log (present once inclusion passed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogPosition {
    /// The log origin.
    pub origin: String,
    /// The token's leaf index.
    pub leaf_index: u64,
    /// The size of the checkpoint it was proven against.
    pub tree_size: u64,
    /// That checkpoint's root hash, base64.
    pub root_hash: String,
}

/// A revocation or supersession the log proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ending {
    /// The revoking or superseding entry's id.
    pub by: TokenId,
    /// Its leaf index.
    pub leaf_index: u64,
    /// The revocation's reason, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The verifier's answer for one input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The overall answer.
    pub status: Status,
    /// One sentence for people.
    pub summary: String,
    /// The URL verified, if the input was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The token, once it parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenSummary>,
    /// Its place in the log, once inclusion passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogPosition>,
    /// The revocation or supersession, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<Ending>,
    /// Every check made, in order.
    pub checks: Vec<Check>,
    /// When the verdict was made (Unix seconds).
    pub verified_at: u64,
}

impl Verdict {
    /// The check with this name (the first, for [`CheckName::File`]).
    #[must_use]
    pub fn check(&self, name: CheckName) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The file check for `subject` (`report`, `image:face-up`, …).
    #[must_use]
    pub fn file_check(&self, subject: &str) -> Option<&Check> {
        self.checks
            .iter()
            .find(|c| c.name == CheckName::File && c.subject.as_deref() == Some(subject))
    }

    /// Whether the overall answer is [`Status::Valid`].
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.status == Status::Valid
    }
}

/// Collects checks while a verification runs, then decides the status.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub checks: Vec<Check>,
    pub url: Option<String>,
    pub token: Option<TokenSummary>,
    pub log: Option<LogPosition>,
    pub ended_by: Option<(Status, Ending)>,
    /// Set when the answer cannot be decided (untrusted origin, unknown
    /// issuer, network failure), with why.
    pub unknown: Option<String>,
}

impl Report {
    pub fn pass(&mut self, name: CheckName, reason: impl Into<String>) {
        self.push(name, None, Outcome::Pass, reason);
    }
    pub fn fail(&mut self, name: CheckName, reason: impl Into<String>) {
        self.push(name, None, Outcome::Fail, reason);
    }
    pub fn skip(&mut self, name: CheckName, reason: impl Into<String>) {
        self.push(name, None, Outcome::Skip, reason);
    }
    pub fn push(
        &mut self,
        name: CheckName,
        subject: Option<String>,
        outcome: Outcome,
        reason: impl Into<String>,
    ) {
        if self.checks.capacity() == 0 {
            // Every check a verification can make, in one allocation.
            self.checks.reserve(16);
        }
        self.checks.push(Check {
            name,
            subject,
            outcome,
            reason: reason.into(),
        });
    }
    /// Marks every check in `names` that was not made as skipped.
    pub fn skip_rest(&mut self, names: &[CheckName], reason: &str) {
        for &name in names {
            if !self.checks.iter().any(|c| c.name == name) {
                self.skip(name, reason);
            }
        }
    }

    fn outcome(&self, name: CheckName) -> Option<Outcome> {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.outcome)
    }

    /// Decides the overall status:
    /// any failure → invalid (unless the failure is that nothing could be
    /// decided: unknown); the core checks (structure, issuer key,
    /// signature, checkpoint, inclusion) must all pass for anything better
    /// than unknown; then revoked / superseded / valid.
    pub fn finish(self, now: u64) -> Verdict {
        let failed = self.checks.iter().any(|c| c.outcome == Outcome::Fail);
        let core = [
            CheckName::CoseStructure,
            CheckName::IssuerKnown,
            CheckName::IssuerKey,
            CheckName::TokenSignature,
            CheckName::CheckpointSignature,
            CheckName::Witnesses,
            CheckName::Inclusion,
        ];
        let core_passed = core.iter().all(|&n| self.outcome(n) == Some(Outcome::Pass));
        let (status, summary) = if let Some(why) = self
            .unknown
            .as_ref()
            .filter(|_| !failed_other_than_unknown(&self.checks))
        {
            (Status::Unknown, format!("No answer: {why}"))
        } else if failed {
            (
                Status::Invalid,
                format!(
                    "Do not rely on this token: {}",
                    first_reason(&self.checks, Outcome::Fail).unwrap_or("a check failed.")
                ),
            )
        } else if !core_passed {
            (
                Status::Unknown,
                format!(
                    "Not enough to decide: {}",
                    core.iter()
                        .filter_map(|&n| self
                            .checks
                            .iter()
                            .find(|c| c.name == n && c.outcome != Outcome::Pass))
                        .map(|c| c.reason.as_str())
                        .next()
                        .unwrap_or("a core check was not made.")
                ),
            )
        } else if let Some((status, ending)) = &self.ended_by {
            let what = if *status == Status::Revoked {
                "revoked"
            } else {
                "superseded by a newer token"
            };
            (
                *status,
                format!(
                    "Genuine, but the lab {what} (log entry {}).",
                    ending.leaf_index
                ),
            )
        } else {
            let who = self.token.as_ref().map_or("", |t| t.claims().iss.as_str());
            (
                Status::Valid,
                format!("Genuine: signed by {who} and recorded in its public log."),
            )
        };
        Verdict {
            status,
            summary,
            url: self.url,
            token: self.token,
            log: self.log,
            ended_by: self.ended_by.map(|(_, e)| e),
            checks: self.checks,
            verified_at: now,
        }
    }
}

/// Whether any check failed that is not one of the "cannot decide" kind.
fn failed_other_than_unknown(checks: &[Check]) -> bool {
    checks.iter().any(|c| {
        c.outcome == Outcome::Fail
            && !matches!(
                c.name,
                CheckName::TrustedOrigin | CheckName::Fetch | CheckName::IssuerKnown
            )
    })
}

fn first_reason(checks: &[Check], outcome: Outcome) -> Option<&str> {
    checks
        .iter()
        .find(|c| c.outcome == outcome)
        .map(|c| c.reason.as_str())
}

/// A Unix time as RFC 3339 (UTC), for reasons and output; the bare number
/// if it is out of range.
pub(crate) fn rfc3339(t: impl Into<i128> + Copy) -> String {
    i64::try_from(t.into())
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.into().to_string())
}
