//! The [`Verifier`]: one call per input, a [`Verdict`] with every check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::checkpoint::{VerifiedCheckpoint, open_checkpoint_any};
use loupe_schemas::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use loupe_schemas::token::{Kid, SignedRevocation, Token, TokenId};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::answers::{ConsistencyAnswer, EndedBy, EndingAnswer, StatusAnswer};
use crate::chain::verify_chain;
use crate::fetch::{FetchError, FetchOptions, Fetcher, Freshness};
use crate::files::FilesInHand;
use crate::qr::decode_qr;
use crate::state::{CheckpointMemory, SeenHead};
use crate::trust::{Compromise, Issuer, Log, TrustStore};
use crate::verdict::{
    CheckName, Ending, LogPosition, Outcome, Report, Status, TokenSummary, Verdict, rfc3339,
};

/// Caps on what is fetched.
const MAX_TOKEN: usize = 64 * 1024;
const MAX_PROOF: usize = 64 * 1024;
/// The media type asked for when fetching a token.
const TOKEN_ACCEPT: &str = "application/cose";
/// The media type asked for when fetching a consistency proof.
const CONSISTENCY_ACCEPT: &str = "application/json";
/// Verified checkpoints kept (by the signed note's text).
const CHECKPOINT_CACHE: usize = 4096;

/// What to verify.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A token URL (`https://lab.example/t/{token id}`), as in a QR code.
    Url(&'a str),
    /// A token file, with its `tlog-proof` bundle for offline use.
    Token {
        /// The token (COSE_Sign1) bytes.
        token: &'a [u8],
        /// A C2SP `tlog-proof` bundle; fetched from the issuer if absent
        /// and the verifier is online.
        proof: Option<&'a [u8]>,
    },
    /// A picture of a QR code (PNG).
    QrImage(&'a [u8]),
}

/// The checks after the token is parsed, in order (for skipping).
const AFTER_PARSE: [CheckName; 8] = [
    CheckName::IssuerKnown,
    CheckName::IssuerKey,
    CheckName::TokenSignature,
    CheckName::CheckpointSignature,
    CheckName::Witnesses,
    CheckName::Inclusion,
    CheckName::Consistency,
    CheckName::Status,
];
const LOG_CHECKS: [CheckName; 5] = [
    CheckName::CheckpointSignature,
    CheckName::Witnesses,
    CheckName::Inclusion,
    CheckName::Consistency,
    CheckName::Status,
];

/// Verifies tokens against a [`TrustStore`], remembering each log's newest
/// checkpoint in a [`CheckpointMemory`].
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use loupe_verifier::{FetchOptions, FilesInHand, Input, TrustStore, Verifier};
/// let trust = TrustStore::load(std::path::Path::new("trust.toml"))?;
/// let verifier = Verifier::new(trust).online(FetchOptions::default())?;
/// let verdict = verifier
///     .verify(Input::Url("https://lab.example/t/…"), &FilesInHand::default())
///     .await;
/// println!("{}: {}", verdict.status, verdict.summary);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Verifier {
    trust: Arc<TrustStore>,
    memory: Arc<CheckpointMemory>,
    fetcher: Option<Fetcher>,
    clock: Option<u64>,
    /// Checkpoints whose log signature verified, by the note's text (a
    /// note is a few hundred bytes; hashing it with the map's SipHash is
    /// cheaper than a SHA-256 key).
    checkpoints: Mutex<HashMap<Box<str>, VerifiedCheckpoint>>,
    /// Checkpoints that met the witness policy, by the note's text.
    witnessed: Mutex<HashMap<Box<str>, ()>>,
}

/// A fetch problem becomes "unknown" (no answer), except a refused
/// redirect, which is the server misbehaving.
fn fetch_is_unknown(e: &FetchError) -> bool {
    !matches!(e, FetchError::Redirect(_))
}

impl Verifier {
    /// An offline verifier with an in-memory checkpoint memory.
    #[must_use]
    pub fn new(trust: TrustStore) -> Self {
        Self {
            trust: Arc::new(trust),
            memory: Arc::new(CheckpointMemory::in_memory()),
            fetcher: None,
            clock: None,
            checkpoints: Mutex::new(HashMap::new()),
            witnessed: Mutex::new(HashMap::new()),
        }
    }

    /// Uses `memory` (e.g. [`CheckpointMemory::open`] on a file) to
    /// remember checkpoints across runs.
    #[must_use]
    pub fn with_memory(mut self, memory: Arc<CheckpointMemory>) -> Self {
        self.memory = memory;
        self
    }

    /// Lets the verifier fetch (tokens, proofs, status, consistency
    /// proofs) from the trust store's origins, and only those.
    ///
    /// # Errors
    /// [`FetchError`] if the HTTP client cannot be built.
    pub fn online(mut self, options: FetchOptions) -> Result<Self, FetchError> {
        self.fetcher = Some(Fetcher::new(Arc::clone(&self.trust), options)?);
        Ok(self)
    }

    /// Fixes "now" (Unix seconds) instead of reading the clock (tests).
    #[must_use]
    pub fn at_time(mut self, now: u64) -> Self {
        self.clock = Some(now);
        self
    }

    /// The trust store.
    #[must_use]
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// The checkpoint memory.
    #[must_use]
    pub fn memory(&self) -> &CheckpointMemory {
        &self.memory
    }

    /// The fetcher, when online.
    #[must_use]
    pub fn fetcher(&self) -> Option<&Fetcher> {
        self.fetcher.as_ref()
    }

    fn now(&self) -> u64 {
        self.clock.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
    }

    /// Verifies one input and returns the verdict. Never panics on any
    /// input, and never fetches outside the trust store.
    pub async fn verify(&self, input: Input<'_>, files: &FilesInHand) -> Verdict {
        match input {
            Input::Url(url) => self.verify_url(url, files).await,
            Input::Token { token, proof } => self.verify_token(token, proof, files).await,
            Input::QrImage(image) => self.verify_qr_image(image, files).await,
        }
    }

    /// Verifies a token URL: fetches the token from it (only if it is under
    /// a trusted issuer's base URL), then everything else.
    pub async fn verify_url(&self, url: &str, files: &FilesInHand) -> Verdict {
        let mut report = Report {
            url: Some(url.to_owned()),
            ..Report::default()
        };
        let Some((issuer, id, parsed)) = self.check_url(url, &mut report) else {
            return report.finish(self.now());
        };
        let Some(fetcher) = &self.fetcher else {
            report.skip(CheckName::Fetch, "offline: a URL needs network access");
            report.unknown = Some("this verifier is offline; give the token file instead".into());
            return report.finish(self.now());
        };
        let fetched = fetcher
            .get(&parsed, TOKEN_ACCEPT, MAX_TOKEN, Freshness::Immutable)
            .await;
        let bytes = match fetched {
            Ok(b) => b,
            Err(e) => {
                report.fail(CheckName::Fetch, e.to_string());
                if fetch_is_unknown(&e) {
                    report.unknown = Some(format!("the token could not be fetched ({e})"));
                }
                return report.finish(self.now());
            }
        };
        report.pass(
            CheckName::Fetch,
            format!("fetched {} bytes from {}", bytes.len(), issuer.url),
        );
        let verdict = self
            .run(report, &bytes, Some((id, issuer)), None, files)
            .await;
        if verdict
            .check(CheckName::UrlTokenId)
            .is_some_and(|c| c.outcome == Outcome::Fail)
        {
            // Not the token the URL names: do not keep it under that URL.
            fetcher.forget(&parsed, TOKEN_ACCEPT);
        }
        verdict
    }

    /// Checks that `url` is a token URL under a trusted issuer. Adds the
    /// `trusted_origin` check.
    fn check_url<'t>(
        &'t self,
        url: &str,
        report: &mut Report,
    ) -> Option<(&'t Issuer, TokenId, Url)> {
        let parsed = match Url::parse(url.trim()) {
            Ok(u) => u,
            Err(e) => {
                report.fail(CheckName::TrustedOrigin, format!("not a URL: {e}"));
                report.unknown = Some("the QR code or link is not a URL".into());
                return None;
            }
        };
        let Some(issuer) = self.trust.issuer_for_url(&parsed) else {
            let host = parsed.host_str().unwrap_or("(no host)").to_owned();
            report.fail(
                CheckName::TrustedOrigin,
                format!("{host} is not an issuer in your trust store; nothing was fetched"),
            );
            report.unknown = Some(format!(
                "{host} is not a lab this verifier trusts, so nothing was fetched from it"
            ));
            return None;
        };
        let base = issuer.url.path().trim_end_matches('/');
        let id = parsed
            .path()
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix("/t/"))
            .and_then(|id| id.parse::<TokenId>().ok());
        let Some(id) = id.filter(|_| parsed.query().is_none()) else {
            report.fail(
                CheckName::TrustedOrigin,
                format!(
                    "{} is at a trusted issuer but is not a token URL ({}/t/<token id>)",
                    parsed, issuer.url
                ),
            );
            report.unknown = Some("the link is not a Loupe token URL".into());
            return None;
        };
        report.pass(
            CheckName::TrustedOrigin,
            format!("{} is the trusted issuer {}", issuer.url, issuer.origin),
        );
        Some((issuer, id, parsed))
    }

    /// Verifies a token file; `proof` is its `tlog-proof` bundle (fetched
    /// from the issuer when absent and the verifier is online).
    pub async fn verify_token(
        &self,
        token: &[u8],
        proof: Option<&[u8]>,
        files: &FilesInHand,
    ) -> Verdict {
        self.run(Report::default(), token, None, proof, files).await
    }

    /// Reads the QR code in a picture, then verifies its URL.
    pub async fn verify_qr_image(&self, image: &[u8], files: &FilesInHand) -> Verdict {
        match decode_qr(image) {
            Ok(url) => self.verify_url(&url, files).await,
            Err(e) => {
                let mut report = Report::default();
                report.fail(CheckName::TrustedOrigin, format!("no URL read: {e}"));
                report.unknown = Some(format!("no QR code could be read ({e})"));
                report.finish(self.now())
            }
        }
    }

    /// Verifies a token and its proof bundle with no network at all:
    /// revocation status and (unless the sizes match) consistency are
    /// reported as skipped.
    pub fn verify_offline(&self, token: &[u8], proof: &[u8], files: &FilesInHand) -> Verdict {
        let mut report = Report::default();
        let Some(ctx) = self.verify_statement_part(&mut report, token, None) else {
            return report.finish(self.now());
        };
        self.log_part_offline(&mut report, &ctx, proof);
        if report.checks.iter().all(|c| c.name != CheckName::Status) {
            report.skip(
                CheckName::Status,
                "offline: revocation and supersession not checked",
            );
        }
        Self::files_part(&mut report, &ctx.token, files);
        report.finish(self.now())
    }

    async fn run(
        &self,
        mut report: Report,
        bytes: &[u8],
        from_url: Option<(TokenId, &Issuer)>,
        proof: Option<&[u8]>,
        files: &FilesInHand,
    ) -> Verdict {
        let Some(ctx) = self.verify_statement_part(&mut report, bytes, from_url) else {
            return report.finish(self.now());
        };
        let online = self.fetcher.is_some();
        let proof_bytes: Option<Arc<[u8]>> = match (proof, &self.fetcher) {
            (Some(p), _) => Some(p.into()),
            (None, Some(f)) => {
                let url = endpoint(&ctx.issuer.url, &format!("v1/tokens/{}/proof", ctx.id));
                match f
                    .get(&url, "text/plain", MAX_PROOF, Freshness::Changing)
                    .await
                {
                    Ok(p) => Some(p),
                    Err(e) => {
                        report.skip_rest(&LOG_CHECKS, &format!("no proof: {e}"));
                        if fetch_is_unknown(&e) {
                            report.unknown =
                                Some(format!("the log's proof could not be fetched ({e})"));
                        } else {
                            report.fail(CheckName::Fetch, e.to_string());
                        }
                        Self::files_part(&mut report, &ctx.token, files);
                        return report.finish(self.now());
                    }
                }
            }
            (None, None) => None,
        };
        let Some(proof_bytes) = proof_bytes else {
            report.skip_rest(
                &LOG_CHECKS,
                "offline and no proof bundle given: log inclusion not checked",
            );
            Self::files_part(&mut report, &ctx.token, files);
            return report.finish(self.now());
        };
        if let Some(cp) = self.log_part(&mut report, &ctx, &proof_bytes) {
            if online {
                self.consistency_online(&mut report, ctx.log, &cp).await;
                self.status_online(&mut report, &ctx).await;
            } else {
                self.consistency_offline(&mut report, &cp);
                report.skip(
                    CheckName::Status,
                    "offline: revocation and supersession not checked",
                );
            }
        }
        Self::files_part(&mut report, &ctx.token, files);
        report.finish(self.now())
    }

    /// Structure, issuer, key and signature. Returns what the log checks
    /// need, or `None` once nothing more can be checked.
    fn verify_statement_part<'t>(
        &'t self,
        report: &mut Report,
        bytes: &[u8],
        from_url: Option<(TokenId, &'t Issuer)>,
    ) -> Option<Ctx<'t>> {
        let parsed = Token::parse(bytes);
        if let Some((url_id, _)) = &from_url {
            let served = match &parsed {
                Ok(t) => t.id(),
                Err(_) => TokenId(Sha256::digest(bytes).into()),
            };
            if served == *url_id {
                report.pass(
                    CheckName::UrlTokenId,
                    "the token served is the one the URL names (its SHA-256)",
                );
            } else {
                report.fail(
                    CheckName::UrlTokenId,
                    format!(
                        "the server sent a different token: the URL names {url_id}, the token is {served}"
                    ),
                );
            }
        }
        let token = match parsed {
            Ok(t) => {
                report.pass(
                    CheckName::CoseStructure,
                    "a well-formed COSE_Sign1 provenance token",
                );
                t
            }
            Err(e) => {
                report.fail(CheckName::CoseStructure, format!("malformed token: {e}"));
                report.skip_rest(&AFTER_PARSE, "the token is malformed");
                return None;
            }
        };
        report.token = Some(TokenSummary::new(&token));
        let iss = token.claims().iss.as_str();
        let Some(issuer) = self.trust.issuer(iss) else {
            report.fail(
                CheckName::IssuerKnown,
                format!("issuer {iss:?} is not in your trust store"),
            );
            report.unknown = Some(format!("the token's issuer {iss:?} is not a lab you trust"));
            report.skip_rest(&AFTER_PARSE, "the issuer is not trusted");
            return None;
        };
        if let Some((_, url_issuer)) = &from_url
            && url_issuer.origin != issuer.origin
        {
            report.fail(
                CheckName::IssuerKnown,
                format!(
                    "served by {} but claims to be issued by {}",
                    url_issuer.origin, issuer.origin
                ),
            );
            report.skip_rest(&AFTER_PARSE, "the token is not the serving issuer's");
            return None;
        }
        report.pass(
            CheckName::IssuerKnown,
            format!("{} is in your trust store", issuer.origin),
        );
        let Some(log) = self.trust.log(&issuer.log) else {
            // TrustStore refuses issuers with unknown logs; be safe anyway.
            report.fail(
                CheckName::IssuerKnown,
                "the issuer's log is not in the trust store",
            );
            report.skip_rest(&AFTER_PARSE, "no log");
            return None;
        };
        let iat = token.claims().iat;
        let mut compromise = None;
        match resolve_key(issuer, token.kid(), token.x5chain(), iat) {
            Ok((key, how, stolen)) => {
                match stolen {
                    // Not yet decided: the log position settles it.
                    Some(c) => report.fail(CheckName::IssuerKey, compromised_unproven(c)),
                    None => report.pass(CheckName::IssuerKey, how),
                }
                compromise = stolen;
                match token.verify(&key) {
                    Ok(_) => report.pass(
                        CheckName::TokenSignature,
                        format!("signed by {}", issuer.origin),
                    ),
                    Err(e) => report.fail(CheckName::TokenSignature, e.to_string()),
                }
            }
            Err(why) => {
                report.fail(CheckName::IssuerKey, why);
                report.skip(CheckName::TokenSignature, "no trusted key to check it with");
            }
        }
        Some(Ctx {
            id: token.id(),
            token,
            issuer,
            log,
            compromise,
        })
    }

    /// Checkpoint signature, witnesses and inclusion of `ctx.token`.
    fn log_part(
        &self,
        report: &mut Report,
        ctx: &Ctx<'_>,
        proof: &[u8],
    ) -> Option<VerifiedCheckpoint> {
        let bundle = match ProofBundle::parse(proof) {
            Ok(b) => b,
            Err(e) => {
                report.fail(
                    CheckName::Inclusion,
                    format!("the proof bundle is malformed: {e}"),
                );
                report.skip_rest(&LOG_CHECKS, "no usable proof");
                return None;
            }
        };
        let cp = match self.checkpoint(ctx.log, bundle.checkpoint_text()) {
            Ok(cp) => {
                report.pass(
                    CheckName::CheckpointSignature,
                    format!(
                        "checkpoint of size {} signed by {}",
                        cp.size(),
                        ctx.log.origin
                    ),
                );
                cp
            }
            Err(why) => {
                report.fail(CheckName::CheckpointSignature, why);
                report.skip_rest(&LOG_CHECKS, "the checkpoint is not the log's");
                return None;
            }
        };
        match self.witnesses(ctx.log, bundle.checkpoint_text()) {
            Ok(why) => report.pass(CheckName::Witnesses, why),
            Err(why) => report.fail(CheckName::Witnesses, why),
        }
        match verify_inclusion(
            &leaf_hash(ctx.token.logged_bytes()),
            bundle.index(),
            cp.size(),
            bundle.path(),
            cp.root_hash(),
        ) {
            Ok(()) => {
                report.pass(
                    CheckName::Inclusion,
                    format!(
                        "entry {} of {} in {}",
                        bundle.index(),
                        cp.size(),
                        ctx.log.origin
                    ),
                );
                if let Some(c) = ctx.compromise {
                    let (outcome, why) = compromised_logged(c, bundle.index());
                    settle(report, CheckName::IssuerKey, outcome, why);
                }
                report.log = Some(LogPosition {
                    origin: ctx.log.origin.clone(),
                    leaf_index: bundle.index(),
                    tree_size: cp.size(),
                    root_hash: STANDARD.encode(cp.root_hash()),
                });
                Some(cp)
            }
            Err(e) => {
                report.fail(
                    CheckName::Inclusion,
                    format!("the inclusion proof does not lead to the checkpoint: {e}"),
                );
                report.skip_rest(&LOG_CHECKS, "the token is not proven to be in the log");
                None
            }
        }
    }

    fn log_part_offline(&self, report: &mut Report, ctx: &Ctx<'_>, proof: &[u8]) {
        if let Some(cp) = self.log_part(report, ctx, proof) {
            self.consistency_offline(report, &cp);
        }
    }

    /// Opens a checkpoint with the log key alone (cached).
    fn checkpoint(&self, log: &Log, note: &str) -> Result<VerifiedCheckpoint, String> {
        if let Some(hit) = self
            .checkpoints
            .lock()
            .ok()
            .and_then(|c| c.get(note).cloned())
            // The cache is shared by every log: a note verified for one log
            // must not stand for another's.
            .filter(|hit| hit.origin() == log.origin)
        {
            return Ok(hit);
        }
        let cp = open_checkpoint_any(note.as_bytes(), &log.origin, &log.keys, &[], 0, self.now())
            .map_err(|e| {
            format!(
                "the checkpoint is not signed by {} (by none of its trusted keys): {e}",
                log.origin
            )
        })?;
        if let Ok(mut cache) = self.checkpoints.lock() {
            if cache.len() >= CHECKPOINT_CACHE {
                cache.clear();
            }
            cache.insert(note.into(), cp.clone());
        }
        Ok(cp)
    }

    /// Checks the witness policy on a checkpoint (cached when met).
    fn witnesses(&self, log: &Log, note: &str) -> Result<String, String> {
        let policy = self.trust.witnesses();
        if policy.min == 0 {
            return Ok("no witness cosignatures required by your trust store".into());
        }
        let met = format!(
            "cosigned by at least {} of the {} trusted witnesses",
            policy.min,
            policy.keys.len()
        );
        if self
            .witnessed
            .lock()
            .ok()
            .is_some_and(|c| c.contains_key(note))
        {
            return Ok(met);
        }
        open_checkpoint_any(
            note.as_bytes(),
            &log.origin,
            &log.keys,
            &policy.keys,
            policy.min,
            self.now(),
        )
        .map_err(|e| format!("witness policy not met: {e}"))?;
        if let Ok(mut cache) = self.witnessed.lock() {
            if cache.len() >= CHECKPOINT_CACHE {
                cache.clear();
            }
            cache.insert(note.into(), ());
        }
        Ok(met)
    }

    /// Compares `cp` with the remembered checkpoint without the network.
    fn consistency_offline(&self, report: &mut Report, cp: &VerifiedCheckpoint) {
        match self.memory.get_head(cp.origin()) {
            None => {
                report.pass(
                    CheckName::Consistency,
                    format!(
                        "first checkpoint seen for {} (size {}); remembered",
                        cp.origin(),
                        cp.size()
                    ),
                );
                self.remember(report, cp);
            }
            Some(seen) if seen.size == cp.size() => self.same_size(report, cp, &seen),
            Some(seen) => report.skip(
                CheckName::Consistency,
                format!(
                    "offline: cannot prove size {} consistent with the size {} seen before",
                    cp.size(),
                    seen.size
                ),
            ),
        }
    }

    fn same_size(&self, report: &mut Report, cp: &VerifiedCheckpoint, seen: &SeenHead) {
        if seen.root.as_ref() == Some(cp.root_hash()) {
            report.pass(
                CheckName::Consistency,
                format!("the same tree of size {} seen before", cp.size()),
            );
        } else {
            report.fail(
                CheckName::Consistency,
                format!(
                    "LOG FORK: {} signed two different trees of size {} (root {} seen before, {} now); report this to the lab and your trust-store administrator",
                    cp.origin(),
                    cp.size(),
                    seen.root
                        .map_or_else(|| "unreadable".to_owned(), |r| STANDARD.encode(r)),
                    STANDARD.encode(cp.root_hash())
                ),
            );
        }
    }

    fn remember(&self, report: &mut Report, cp: &VerifiedCheckpoint) {
        if let Err(e) = self.memory.advance(cp, self.now()) {
            tracing::warn!(error = %e, "could not save the checkpoint memory");
            if let Some(c) = report.checks.last_mut()
                && c.name == CheckName::Consistency
            {
                c.reason
                    .push_str(&format!(" (but it could not be saved: {e})"));
            }
        }
    }

    /// Compares `cp` with the remembered checkpoint, fetching a
    /// consistency proof from the log when the sizes differ.
    async fn consistency_online(&self, report: &mut Report, log: &Log, cp: &VerifiedCheckpoint) {
        let Some(seen) = self.memory.get(cp.origin()) else {
            self.consistency_offline(report, cp);
            return;
        };
        if seen.size == cp.size() {
            self.same_size(report, cp, &seen.head());
            return;
        }
        let Some(seen_root) = seen.root() else {
            report.fail(
                CheckName::Consistency,
                "the remembered checkpoint is unreadable",
            );
            return;
        };
        let (old, new, old_root, new_root) = if seen.size < cp.size() {
            (seen.size, cp.size(), seen_root, *cp.root_hash())
        } else {
            (cp.size(), seen.size, *cp.root_hash(), seen_root)
        };
        let rollback = cp.size() < seen.size;
        let proof = match self.fetch_consistency(log, old, new).await {
            Ok(p) => p,
            Err(why) => {
                if rollback {
                    report.fail(
                        CheckName::Consistency,
                        format!(
                            "LOG ROLLBACK: {} now shows a tree of size {}, but this verifier saw size {} (at {}), and the log cannot prove the two consistent: {why}",
                            cp.origin(),
                            cp.size(),
                            seen.size,
                            seen.seen_at
                        ),
                    );
                } else {
                    report.skip(
                        CheckName::Consistency,
                        format!("could not fetch a consistency proof: {why}"),
                    );
                    report.unknown = Some(format!(
                        "the log could not prove that it grew honestly ({why})"
                    ));
                }
                return;
            }
        };
        match verify_consistency(old, new, &proof, &old_root, &new_root) {
            Ok(()) => {
                if rollback {
                    report.pass(
                        CheckName::Consistency,
                        format!(
                            "an older tree (size {}) than the newest seen (size {}), proven consistent with it",
                            cp.size(),
                            seen.size
                        ),
                    );
                } else {
                    report.pass(
                        CheckName::Consistency,
                        format!(
                            "the log grew from {} to {} entries, proven append-only",
                            seen.size,
                            cp.size()
                        ),
                    );
                    self.remember(report, cp);
                }
            }
            Err(e) => {
                // The proof is cached as immutable; one that does not verify
                // (a fork's, or a forgery) must not be used again.
                if let Some(fetcher) = &self.fetcher {
                    fetcher.forget(&consistency_url(log, old, new), CONSISTENCY_ACCEPT);
                }
                report.fail(
                    CheckName::Consistency,
                    format!(
                        "LOG FORK: {} cannot prove the tree of size {} consistent with the one of size {} seen before: {e}",
                        cp.origin(),
                        new,
                        old
                    ),
                );
            }
        }
    }

    async fn fetch_consistency(&self, log: &Log, old: u64, new: u64) -> Result<Vec<Hash>, String> {
        let fetcher = self.fetcher.as_ref().ok_or("offline")?;
        let url = consistency_url(log, old, new);
        let body = fetcher
            .get(
                &url,
                CONSISTENCY_ACCEPT,
                ConsistencyAnswer::MAX_LEN,
                Freshness::Immutable,
            )
            .await
            .map_err(|e| e.to_string())?;
        let parsed = parse_consistency(&body, old, new);
        if parsed.is_err() {
            fetcher.forget(&url, CONSISTENCY_ACCEPT);
        }
        parsed
    }

    /// Asks the issuer for the token's status and verifies any revocation
    /// or supersession it reports.
    async fn status_online(&self, report: &mut Report, ctx: &Ctx<'_>) {
        let Some(fetcher) = &self.fetcher else {
            return;
        };
        let url = endpoint(&ctx.issuer.url, &format!("v1/tokens/{}/status", ctx.id));
        let body = match fetcher
            .get(
                &url,
                "application/json",
                StatusAnswer::MAX_LEN,
                Freshness::Changing,
            )
            .await
        {
            Ok(b) => b,
            Err(e) => {
                report.skip(
                    CheckName::Status,
                    format!("could not fetch the status: {e}"),
                );
                report.unknown = Some(format!("the token's status could not be fetched ({e})"));
                return;
            }
        };
        let answer = match StatusAnswer::parse(&body) {
            Ok(a) => a,
            Err(e) => {
                report.fail(CheckName::Status, format!("malformed status answer: {e}"));
                return;
            }
        };
        if answer.token_id() != ctx.id {
            report.fail(
                CheckName::Status,
                format!(
                    "the status answer is about another token ({})",
                    answer.token_id()
                ),
            );
            return;
        }
        let result = match answer.ended_by() {
            None => {
                report.pass(
                    CheckName::Status,
                    "the log reports no revocation and no newer token",
                );
                return;
            }
            Some(EndedBy::Revoked(e)) => self
                .verify_revocation(ctx, e)
                .map(|ending| (Status::Revoked, ending)),
            Some(EndedBy::Superseded(e)) => self
                .verify_supersession(ctx, e)
                .map(|ending| (Status::Superseded, ending)),
        };
        match result {
            Ok((status, ending)) => {
                let why = match (&status, &ending.reason) {
                    (Status::Revoked, Some(r)) => {
                        format!("REVOKED by the lab (log entry {}): {r}", ending.leaf_index)
                    }
                    (Status::Revoked, None) => {
                        format!("REVOKED by the lab (log entry {})", ending.leaf_index)
                    }
                    _ => format!(
                        "SUPERSEDED by token {} (log entry {})",
                        ending.by, ending.leaf_index
                    ),
                };
                // The check itself passed (the evidence verifies); the
                // overall status carries the news.
                report.push(CheckName::Status, None, Outcome::Pass, why);
                report.ended_by = Some((status, ending));
            }
            Err(why) => report.fail(
                CheckName::Status,
                format!("the log reports an ending whose evidence does not verify: {why}"),
            ),
        }
    }

    /// Verifies an ending entry's inclusion in the issuer's log.
    fn ending_inclusion(
        &self,
        ctx: &Ctx<'_>,
        logged: &[u8],
        bundle: &ProofBundle,
    ) -> Result<u64, String> {
        let cp = self.checkpoint(ctx.log, bundle.checkpoint_text())?;
        self.witnesses(ctx.log, bundle.checkpoint_text())?;
        verify_inclusion(
            &leaf_hash(logged),
            bundle.index(),
            cp.size(),
            bundle.path(),
            cp.root_hash(),
        )
        .map_err(|e| format!("its inclusion proof fails: {e}"))?;
        Ok(bundle.index())
    }

    fn verify_revocation(&self, ctx: &Ctx<'_>, e: &EndingAnswer) -> Result<Ending, String> {
        let rev = SignedRevocation::parse(e.statement())
            .map_err(|e| format!("malformed revocation: {e}"))?;
        if rev.revokes() != ctx.id {
            return Err(format!(
                "the revocation is for another token ({})",
                rev.revokes()
            ));
        }
        if rev.claims().iss != ctx.issuer.origin {
            return Err(format!("the revocation is by {:?}", rev.claims().iss));
        }
        let (key, _, stolen) = resolve_key(ctx.issuer, rev.kid(), rev.x5chain(), rev.claims().iat)?;
        rev.verify(&key)
            .map_err(|e| format!("the revocation's signature: {e}"))?;
        let leaf_index = self.ending_inclusion(ctx, rev.logged_bytes(), e.proof())?;
        ending_before_compromise(stolen, leaf_index, "revocation")?;
        Ok(Ending {
            by: rev.id(),
            leaf_index,
            reason: Some(rev.revocation().reason.clone()),
        })
    }

    fn verify_supersession(&self, ctx: &Ctx<'_>, e: &EndingAnswer) -> Result<Ending, String> {
        let newer =
            Token::parse(e.statement()).map_err(|e| format!("malformed newer token: {e}"))?;
        if newer.provenance().supersedes != Some(ctx.id) {
            return Err("the newer token does not name this one in supersedes".into());
        }
        if newer.claims().iss != ctx.issuer.origin || newer.claims().sub != ctx.token.claims().sub {
            return Err("the newer token is for another issuer or report".into());
        }
        let (key, _, stolen) =
            resolve_key(ctx.issuer, newer.kid(), newer.x5chain(), newer.claims().iat)?;
        newer
            .verify(&key)
            .map_err(|e| format!("the newer token's signature: {e}"))?;
        let leaf_index = self.ending_inclusion(ctx, newer.logged_bytes(), e.proof())?;
        ending_before_compromise(stolen, leaf_index, "newer token")?;
        Ok(Ending {
            by: newer.id(),
            leaf_index,
            reason: None,
        })
    }

    fn files_part(report: &mut Report, token: &Token, files: &FilesInHand) {
        for (subject, ok, why) in files.compare(token.provenance()) {
            report.push(
                CheckName::File,
                Some(subject),
                if ok { Outcome::Pass } else { Outcome::Fail },
                why,
            );
        }
    }
}

/// What the log checks need about a parsed token.
struct Ctx<'t> {
    id: TokenId,
    token: Token,
    issuer: &'t Issuer,
    log: &'t Log,
    /// The signing key was stolen: the token counts only if logged before
    /// the compromise.
    compromise: Option<Compromise>,
}

/// The `issuer_key` reason of a token signed with a compromised key before
/// its log position is known.
fn compromised_unproven(c: Compromise) -> String {
    format!(
        "key compromised at {}: a token signed with it counts only if the log shows it before entry {}, and no inclusion proof shows that",
        rfc3339(c.at),
        c.logged_before
    )
}

/// The `issuer_key` verdict of a token signed with a compromised key and
/// proven at `leaf_index` of the log.
fn compromised_logged(c: Compromise, leaf_index: u64) -> (Outcome, String) {
    if leaf_index < c.logged_before {
        (
            Outcome::Pass,
            format!(
                "key compromised at {}, but this token was logged at entry {}, before entry {} (the last checkpoint known good from before the compromise): issued before the theft",
                rfc3339(c.at),
                leaf_index,
                c.logged_before
            ),
        )
    } else {
        (
            Outcome::Fail,
            format!(
                "key compromised at {}: this token was logged at entry {}, after the last entry known good from before the compromise ({}), so it may be a forgery whatever its iat says",
                rfc3339(c.at),
                leaf_index,
                c.logged_before.saturating_sub(1)
            ),
        )
    }
}

/// Refuses an ending (revocation, newer token) signed with a compromised
/// key unless it was logged before the compromise.
fn ending_before_compromise(
    stolen: Option<Compromise>,
    leaf_index: u64,
    what: &str,
) -> Result<(), String> {
    match stolen {
        Some(c) if leaf_index >= c.logged_before => Err(format!(
            "the {what} is signed with a key compromised at {} and was logged at entry {}, not before entry {}",
            rfc3339(c.at),
            leaf_index,
            c.logged_before
        )),
        _ => Ok(()),
    }
}

/// Replaces the outcome and reason of the first check named `name`.
fn settle(report: &mut Report, name: CheckName, outcome: Outcome, reason: String) {
    if let Some(check) = report.checks.iter_mut().find(|c| c.name == name) {
        check.outcome = outcome;
        check.reason = reason;
    }
}

/// `{log url}/v1/consistency?old=&new=`.
fn consistency_url(log: &Log, old: u64, new: u64) -> Url {
    let mut url = endpoint(&log.url, "v1/consistency");
    url.query_pairs_mut()
        .append_pair("old", &old.to_string())
        .append_pair("new", &new.to_string());
    url
}

/// The path of a consistency answer for `old` → `new`.
fn parse_consistency(body: &[u8], old: u64, new: u64) -> Result<Vec<Hash>, String> {
    let answer = ConsistencyAnswer::parse(body).map_err(|e| format!("malformed answer: {e}"))?;
    if answer.old_size() != old || answer.new_size() != new {
        return Err("the answer is for other tree sizes".into());
    }
    Ok(answer.into_path())
}

/// `{base}/{path}`, keeping the base URL's own path.
fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{path}", base.path().trim_end_matches('/'));
    url.set_path(&joined);
    url.set_query(None);
    url
}

/// The key that signed a statement: from the certificate chain when the
/// statement carries one and the issuer has roots, else the issuer key
/// with this kid, which must be valid at `iat`; with the key's compromise
/// record, if it was stolen (the caller must then check the log position).
fn resolve_key(
    issuer: &Issuer,
    kid: Kid,
    x5chain: Option<&[Vec<u8>]>,
    iat: u64,
) -> Result<(VerifyingKey, String, Option<Compromise>), String> {
    if let Some(chain) = x5chain
        && !issuer.roots.is_empty()
    {
        let key = verify_chain(chain, &issuer.roots, &issuer.origin, iat)
            .map_err(|e| format!("certificate chain refused: {e}"))?;
        return Ok((
            key,
            format!(
                "certificate chain to a trusted root of {}, valid at signing",
                issuer.origin
            ),
            None,
        ));
    }
    let mut candidates = issuer.keys.iter().filter(|k| k.kid == kid).peekable();
    if candidates.peek().is_none() {
        return Err(format!(
            "signed with a key ({}) that {} does not list in your trust store",
            hex::encode(kid.as_bytes()),
            issuer.origin
        ));
    }
    let mut windows = Vec::new();
    let mut stolen = None;
    for k in candidates {
        if k.valid_at(iat) {
            return Ok((
                k.key,
                format!("a key of {} valid when the token was issued", issuer.origin),
                k.compromise,
            ));
        }
        windows.push(key_window(k.not_before, k.not_after));
        stolen = stolen.or(k.compromise.filter(|c| iat >= c.at));
    }
    if let Some(c) = stolen {
        return Err(format!(
            "key compromised at {}: the token claims to be issued at {}, after the compromise",
            rfc3339(c.at),
            rfc3339(iat)
        ));
    }
    Err(format!(
        "the key was not valid when the token says it was issued ({}); key window {}",
        rfc3339(iat),
        windows.join(", ")
    ))
}

/// A key's validity window in words: `{from} to {until}`.
pub(crate) fn key_window(nb: Option<u64>, na: Option<u64>) -> String {
    format!(
        "{} to {}",
        nb.map_or_else(|| "the beginning".into(), rfc3339),
        na.map_or_else(|| "no end".into(), rfc3339)
    )
}
