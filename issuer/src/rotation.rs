//! Key rotation: the issuer's earlier token-signing keys (public halves,
//! with the windows in which they signed) and the log keys that sign every
//! checkpoint together during a log key rotation.
//!
//! ```toml
//! # loupe.toml, after rotating both keys on 2026-06-01
//! issuer_key = "keys-2026-06/issuer.key.pem"
//! issuer_key_not_before = 2026-06-01T00:00:00Z
//! log_key = "keys-2026-06/log.key.pem"
//! previous_log_keys = ["keys-2026-01/log.key.pem"]   # both sign, for a while
//!
//! [[retired_issuer_key]]
//! public_key = "keys-2026-01/issuer.pub.pem"
//! not_before = 2026-01-01T00:00:00Z
//! not_after = 2026-06-01T00:00:00Z
//! # after a theft, also:
//! # compromised_at = 2026-05-20T08:00:00Z
//! # logged_before = 81234     # size of the last checkpoint known good
//! ```
//!
//! `GET /.well-known/loupe-issuer` publishes all of it, and
//! `loupe trust add URL` imports it with the windows. See `docs/issuer.md`
//! ("Rotating keys", "A stolen key") for the procedures.

use std::path::PathBuf;

use ed25519_dalek::VerifyingKey;
use loupe_schemas::checkpoint::{Checkpoint, CheckpointError, NoteSigner, sign_checkpoint_with};
use serde::Deserialize;

/// A token-signing key the issuer no longer signs with, as written in the
/// config file (`[[retired_issuer_key]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetiredIssuerKeyToml {
    /// Its public key, SPKI PEM file (relative to the config file).
    pub public_key: PathBuf,
    /// When it started signing.
    #[serde(default)]
    pub not_before: Option<toml::value::Datetime>,
    /// When it stopped signing (the rotation time).
    pub not_after: toml::value::Datetime,
    /// When it was stolen, if it was.
    #[serde(default)]
    pub compromised_at: Option<toml::value::Datetime>,
    /// With `compromised_at`: the size of the last checkpoint known to
    /// have been published before the compromise.
    #[serde(default)]
    pub logged_before: Option<u64>,
}

/// A retired token-signing key, validated (times in Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredIssuerKey {
    /// Its public key file.
    pub public_key: PathBuf,
    /// When it started signing.
    pub not_before: Option<u64>,
    /// When it stopped signing.
    pub not_after: u64,
    /// `(compromised_at, logged_before)` if it was stolen.
    pub compromise: Option<(u64, u64)>,
}

/// The issuer's key history: what is published besides the current keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyHistory {
    /// When the current issuer key started signing (published as its
    /// `not_before`); `None`: no lower bound.
    pub issuer_key_not_before: Option<u64>,
    /// Earlier token-signing keys.
    pub retired_issuer_keys: Vec<RetiredIssuerKey>,
    /// Earlier log keys (private, PKCS#8 PEM) that still sign every
    /// checkpoint beside the current one, until verifiers trust the new key.
    pub previous_log_keys: Vec<PathBuf>,
}

/// Seconds since the Unix epoch of a TOML offset date-time.
///
/// # Errors
///
/// Why it is not a full RFC 3339 date-time after 1970.
pub fn toml_unix_seconds(dt: &toml::value::Datetime) -> Result<u64, String> {
    if dt.offset.is_none() || dt.date.is_none() || dt.time.is_none() {
        return Err(format!(
            "{dt} must be a full date-time with an offset, such as 2026-01-01T00:00:00Z"
        ));
    }
    let parsed = time::OffsetDateTime::parse(
        &dt.to_string(),
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| format!("{dt}: {e}"))?;
    u64::try_from(parsed.unix_timestamp()).map_err(|_| format!("{dt} is before 1970"))
}

/// RFC 3339 (UTC) of Unix seconds, for publishing.
#[must_use]
pub fn rfc3339(t: u64) -> String {
    i64::try_from(t)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

impl RetiredIssuerKeyToml {
    /// Validates the times.
    ///
    /// # Errors
    ///
    /// Why the entry is not acceptable.
    pub fn resolve(&self) -> Result<RetiredIssuerKey, String> {
        let not_before = self
            .not_before
            .as_ref()
            .map(toml_unix_seconds)
            .transpose()?;
        let not_after = toml_unix_seconds(&self.not_after)?;
        if not_before.is_some_and(|nb| nb >= not_after) {
            return Err("not_before is not before not_after".into());
        }
        let compromise = match (&self.compromised_at, self.logged_before) {
            (None, None) => None,
            (Some(at), Some(n)) => Some((toml_unix_seconds(at)?, n)),
            _ => {
                return Err(
                    "compromised_at and logged_before go together (a thief can backdate iat; \
                     only the log bound is sound)"
                        .into(),
                );
            }
        };
        Ok(RetiredIssuerKey {
            public_key: self.public_key.clone(),
            not_before,
            not_after,
            compromise,
        })
    }
}

/// The log's checkpoint signers: the current log key first, then any
/// previous keys still signing during a rotation. All share the log origin
/// as their name.
#[derive(Debug, Clone)]
pub struct LogSigner {
    signers: Vec<NoteSigner>,
}

impl From<NoteSigner> for LogSigner {
    fn from(signer: NoteSigner) -> Self {
        Self {
            signers: vec![signer],
        }
    }
}

impl LogSigner {
    /// The current signer and the previous ones.
    ///
    /// # Errors
    ///
    /// A message when a previous key is named other than the current one,
    /// or is the current key again.
    pub fn new(current: NoteSigner, previous: Vec<NoteSigner>) -> Result<Self, String> {
        let mut signers = vec![current];
        for p in previous {
            if p.name() != signers[0].name() {
                return Err(format!(
                    "a previous log key is for {:?}, not {:?}",
                    p.name(),
                    signers[0].name()
                ));
            }
            if signers.iter().any(|s| s.key_id() == p.key_id()) {
                return Err("a previous log key is the current one (or listed twice)".into());
            }
            signers.push(p);
        }
        Ok(Self { signers })
    }

    /// The log origin.
    #[must_use]
    pub fn name(&self) -> &str {
        self.signers[0].name()
    }

    /// The current signer.
    #[must_use]
    pub fn current(&self) -> &NoteSigner {
        &self.signers[0]
    }

    /// Every signer, the current one first.
    #[must_use]
    pub fn all(&self) -> &[NoteSigner] {
        &self.signers
    }

    /// The public keys of every signer.
    #[must_use]
    pub fn verifying_keys(&self) -> Vec<VerifyingKey> {
        self.signers
            .iter()
            .map(|s| *s.verifier().verifying_key())
            .collect()
    }

    /// Signs `checkpoint` with every key: one signature line each.
    ///
    /// # Errors
    ///
    /// As [`sign_checkpoint_with`].
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<String, CheckpointError> {
        let refs: Vec<&NoteSigner> = self.signers.iter().collect();
        sign_checkpoint_with(checkpoint, &refs)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use loupe_schemas::checkpoint::open_checkpoint;

    use super::*;

    #[test]
    fn both_keys_sign_and_misfits_are_refused() {
        let origin = "lab.example/log";
        let old = NoteSigner::new(origin, SigningKey::from_bytes(&[1; 32])).unwrap();
        let new = NoteSigner::new(origin, SigningKey::from_bytes(&[2; 32])).unwrap();
        let (old_v, new_v) = (old.verifier(), new.verifier());
        let signer = LogSigner::new(new, vec![old]).unwrap();
        let note = signer
            .sign(&Checkpoint::new(origin, 3, [3; 32], vec![]).unwrap())
            .unwrap();
        for v in [&old_v, &new_v] {
            assert!(open_checkpoint(note.as_bytes(), origin, v, &[], 0, 0).is_ok());
        }
        let other = NoteSigner::new("other/log", SigningKey::from_bytes(&[3; 32])).unwrap();
        let again = NoteSigner::new(origin, SigningKey::from_bytes(&[2; 32])).unwrap();
        let current = NoteSigner::new(origin, SigningKey::from_bytes(&[2; 32])).unwrap();
        assert!(LogSigner::new(current, vec![other]).is_err());
        let current = NoteSigner::new(origin, SigningKey::from_bytes(&[2; 32])).unwrap();
        assert!(LogSigner::new(current, vec![again]).is_err());
    }

    #[test]
    fn a_compromise_needs_its_log_bound() {
        let entry: RetiredIssuerKeyToml = toml::from_str(
            "public_key = \"old.pub.pem\"\nnot_after = 2026-06-01T00:00:00Z\ncompromised_at = 2026-05-01T00:00:00Z\n",
        )
        .unwrap();
        assert!(entry.resolve().unwrap_err().contains("logged_before"));
        let entry: RetiredIssuerKeyToml = toml::from_str(
            "public_key = \"old.pub.pem\"\nnot_before = 2026-07-01T00:00:00Z\nnot_after = 2026-06-01T00:00:00Z\n",
        )
        .unwrap();
        assert!(entry.resolve().unwrap_err().contains("not_before"));
        let entry: RetiredIssuerKeyToml = toml::from_str(
            "public_key = \"old.pub.pem\"\nnot_after = 2026-06-01T00:00:00Z\ncompromised_at = 2026-05-01T00:00:00Z\nlogged_before = 7\n",
        )
        .unwrap();
        let k = entry.resolve().unwrap();
        assert_eq!(k.compromise, Some((1_777_593_600, 7)));
        assert_eq!(rfc3339(k.not_after), "2026-06-01T00:00:00Z");
    }
}
