//! Lab credentials: API keys sent as `Authorization: Bearer loupe_sk_…`,
//! stored only as their SHA-256 ([`KeyHash`]).
//!
//! A key is [`API_KEY_PREFIX`] followed by 32 random bytes in unpadded
//! base64url (43 characters), 52 characters in all. The prefix makes a
//! leaked key easy to recognise (secret scanners, logs) and tells it apart
//! from any other bearer token.
//!
//! # Why plain SHA-256 and not a password hash
//!
//! Password hashes (Argon2, scrypt, bcrypt) are slow on purpose so that a
//! stolen table of hashes of *guessable* secrets cannot be searched. These
//! keys are not guessable: each holds 256 bits from the operating system's
//! CSPRNG, so a preimage search is out of reach whatever the hash costs, and
//! a salt adds nothing because no two keys are alike. A slow KDF would
//! instead cost tens of milliseconds of CPU on *every* authenticated request
//! — at the 15 000 requests/s the issuer is sized for, more cores than the
//! machine has — and would hand any client a cheap way to exhaust the
//! server. One SHA-256 costs well under a microsecond. The hash is also a
//! deterministic lookup key, so the store finds the lab by an index on it
//! and no secret-dependent comparison happens in our code.
//!
//! The plaintext ([`ApiKey`]) is shown to the operator once, when made; its
//! `Debug` is redacted and it has no `Display`, so it cannot slip into a log
//! line through `{}` or `{:?}`.
//!
//! ```
//! use loupe_issuer::apikey::{ApiKey, parse_bearer};
//!
//! let (key, hash) = ApiKey::generate();
//! // Store `hash`; show `key.expose_secret()` to the operator once.
//! let header = format!("Bearer {}", key.expose_secret());
//! assert_eq!(parse_bearer(&header)?, hash);
//! assert!(!format!("{key:?}").contains(key.expose_secret()));
//! # Ok::<(), loupe_issuer::apikey::AuthError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::problem::ApiError;

/// The prefix of every key.
pub const API_KEY_PREFIX: &str = "loupe_sk_";
/// Length of a key in characters: the prefix and 43 base64url characters.
pub const API_KEY_LEN: usize = API_KEY_PREFIX.len() + 43;

/// The `Authorization` header is absent or does not hold a well-formed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("an API key is required: send `Authorization: Bearer loupe_sk_…`")]
    Missing,
    /// Several `Authorization` headers.
    #[error("send exactly one Authorization header")]
    Duplicate,
    /// The header is not `Bearer ` followed by a token.
    #[error("the Authorization header must be `Bearer ` followed by an API key")]
    NotBearer,
    /// The token is not a Loupe API key (prefix, length or alphabet).
    #[error("the bearer token is not a well-formed Loupe API key")]
    MalformedKey,
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::Unauthorized {
            detail: e.to_string(),
            invalid_token: e != AuthError::Missing,
        }
    }
}

/// A plaintext API key. Shown once; never logged (its `Debug` is redacted
/// and it has no `Display`).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A fresh key from the thread-local CSPRNG, with its hash.
    #[must_use]
    pub fn generate() -> (Self, KeyHash) {
        use rand::Rng as _;
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let key = Self(format!(
            "{API_KEY_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(secret)
        ));
        let hash = key.hash();
        (key, hash)
    }

    /// Parses a key strictly: [`API_KEY_PREFIX`], then exactly 43 characters
    /// of canonical unpadded base64url.
    ///
    /// # Errors
    ///
    /// [`AuthError::MalformedKey`].
    pub fn parse(s: &str) -> Result<Self, AuthError> {
        check_key(s.as_bytes())?;
        Ok(Self(s.to_owned()))
    }

    /// The plaintext, to show to the operator once. Never log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The hash that is stored.
    #[must_use]
    pub fn hash(&self) -> KeyHash {
        KeyHash::of_plaintext(&self.0)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(loupe_sk_<redacted>)")
    }
}

/// SHA-256 of a key's plaintext (all of it, prefix included): what the
/// store keeps and looks labs up by. Written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// The hash of `plaintext`, which is not checked for format.
    #[must_use]
    pub fn of_plaintext(plaintext: &str) -> Self {
        Self(Sha256::digest(plaintext.as_bytes()).into())
    }

    /// The 32 raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({self})")
    }
}

/// A key hash string is not 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a key hash is 64 lowercase hex digits")]
pub struct KeyHashParseError;

impl FromStr for KeyHash {
    type Err = KeyHashParseError;

    /// Parses exactly 64 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(KeyHashParseError);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| KeyHashParseError)?;
        Ok(Self(out))
    }
}

fn check_key(key: &[u8]) -> Result<(), AuthError> {
    let Some(body) = key.strip_prefix(API_KEY_PREFIX.as_bytes()) else {
        return Err(AuthError::MalformedKey);
    };
    if key.len() != API_KEY_LEN {
        return Err(AuthError::MalformedKey);
    }
    // Canonical unpadded base64url of exactly 32 bytes (the decoder refuses
    // padding, other alphabets and non-zero trailing bits).
    let mut out = [0u8; 32];
    match URL_SAFE_NO_PAD.decode_slice(body, &mut out) {
        Ok(32) => Ok(()),
        _ => Err(AuthError::MalformedKey),
    }
}

/// Parses an `Authorization` header value: the scheme `Bearer` (matched
/// case-insensitively, RFC 9110 §11.1), exactly one space, then a
/// well-formed API key and nothing else. Returns the key's hash, for the
/// store to look up.
///
/// Accepts `&str`, `&[u8]` or an `http::HeaderValue`.
///
/// # Errors
///
/// [`AuthError::NotBearer`] or [`AuthError::MalformedKey`].
pub fn parse_bearer(header_value: impl AsRef<[u8]>) -> Result<KeyHash, AuthError> {
    let v = header_value.as_ref();
    let Some((scheme, key)) = v.split_at_checked(7) else {
        return Err(AuthError::NotBearer);
    };
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return Err(AuthError::NotBearer);
    }
    check_key(key)?;
    // `check_key` admitted only ASCII.
    let key = std::str::from_utf8(key).map_err(|_| AuthError::MalformedKey)?;
    Ok(KeyHash::of_plaintext(key))
}

/// Extractor: the hash of the well-formed bearer key of a request. It does
/// not say the key is known; look the hash up in the store and answer
/// `ApiError::Unauthorized { invalid_token: true, .. }` if it is not.
/// Rejects with a 401 problem and a `WWW-Authenticate: Bearer` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BearerKey(pub KeyHash);

impl<S: Send + Sync> FromRequestParts<S> for BearerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(AUTHORIZATION).iter();
        let value = values.next().ok_or(AuthError::Missing)?;
        if values.next().is_some() {
            return Err(AuthError::Duplicate.into());
        }
        Ok(Self(parse_bearer(value)?))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let (key, hash) = ApiKey::generate();
            let s = key.expose_secret();
            assert_eq!(s.len(), API_KEY_LEN);
            assert_eq!(API_KEY_LEN, 52);
            assert!(s.starts_with("loupe_sk_"));
            assert!(
                s[9..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(hash, KeyHash(Sha256::digest(s.as_bytes()).into()));
            assert_eq!(ApiKey::parse(s), Ok(key.clone()));
            assert_eq!(parse_bearer(format!("Bearer {s}")), Ok(hash));
            assert!(seen.insert(hash), "keys are unique");
        }
    }

    #[test]
    fn debug_never_shows_the_plaintext() {
        let (key, hash) = ApiKey::generate();
        let secret = key.expose_secret();
        for shown in [
            format!("{key:?}"),
            format!("{key:#?}"),
            format!("{:?}", (&key, hash)),
        ] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(!shown.contains(&secret[9..20]), "{shown}");
        }
    }

    #[test]
    fn bearer_parsing_is_strict() {
        let (key, hash) = ApiKey::generate();
        let k = key.expose_secret();
        let good = [
            format!("Bearer {k}"),
            format!("bearer {k}"),
            format!("BEARER {k}"),
        ];
        for g in &good {
            assert_eq!(parse_bearer(g), Ok(hash), "{g}");
        }
        // A known key whose last character carries non-zero trailing bits.
        let zero = format!("loupe_sk_{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert!(zero.ends_with('A'));
        let non_canonical = format!("{}B", &zero[..zero.len() - 1]);
        let bad: Vec<(&str, String, AuthError)> = vec![
            ("empty", String::new(), AuthError::NotBearer),
            ("scheme only", "Bearer".into(), AuthError::NotBearer),
            ("basic", format!("Basic {k}"), AuthError::NotBearer),
            ("no space", format!("Bearer{k}"), AuthError::NotBearer),
            (
                "two spaces",
                format!("Bearer  {k}"),
                AuthError::MalformedKey,
            ),
            ("tab", format!("Bearer\t{k}"), AuthError::NotBearer),
            ("bare key", k.to_owned(), AuthError::NotBearer),
            (
                "trailing space",
                format!("Bearer {k} "),
                AuthError::MalformedKey,
            ),
            (
                "trailing junk",
                format!("Bearer {k}x"),
                AuthError::MalformedKey,
            ),
            (
                "short",
                format!("Bearer {}", &k[..k.len() - 1]),
                AuthError::MalformedKey,
            ),
            (
                "other prefix",
                format!("Bearer loupe_pk_{}", &k[9..]),
                AuthError::MalformedKey,
            ),
            (
                "upper prefix",
                format!("Bearer LOUPE_SK_{}", &k[9..]),
                AuthError::MalformedKey,
            ),
            (
                "padding",
                format!("Bearer {}=", &k[..k.len() - 1]),
                AuthError::MalformedKey,
            ),
            (
                "std alphabet",
                format!("Bearer loupe_sk_{}", "+".repeat(43)),
                AuthError::MalformedKey,
            ),
            (
                "non-canonical",
                format!("Bearer {non_canonical}"),
                AuthError::MalformedKey,
            ),
            (
                "non-ascii",
                format!("Bearer loupe_sk_{}é", "A".repeat(41)),
                AuthError::MalformedKey,
            ),
        ];
        for (name, v, want) in bad {
            assert_eq!(parse_bearer(&v), Err(want), "row {name}: {v:?}");
        }
        assert_eq!(
            parse_bearer(format!("Bearer {zero}")),
            Ok(KeyHash::of_plaintext(&zero))
        );
    }

    #[test]
    fn every_truncation_is_refused_and_no_byte_flip_panics() {
        let (key, hash) = ApiKey::generate();
        let full = format!("Bearer {}", key.expose_secret()).into_bytes();
        for n in 0..full.len() {
            assert!(parse_bearer(&full[..n]).is_err(), "prefix of {n} bytes");
        }
        for i in 0..full.len() {
            for bit in 0..8 {
                let mut v = full.clone();
                v[i] ^= 1 << bit;
                // Flipping the case bit of the scheme is still the same key;
                // a flip in the random part may give another well-formed key.
                if let Ok(h) = parse_bearer(&v) {
                    let scheme_case = i < 6 && bit == 5 && h == hash;
                    let other_key = i >= 16 && h != hash;
                    assert!(scheme_case || other_key, "byte {i} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn key_hash_hex_round_trips_strictly() {
        let (_, hash) = ApiKey::generate();
        assert_eq!(hash.to_string().parse::<KeyHash>(), Ok(hash));
        for bad in [
            "",
            "00",
            &hash.to_string().to_uppercase(),
            &format!("{hash}0"),
            &"g".repeat(64),
        ] {
            assert_eq!(bad.parse::<KeyHash>(), Err(KeyHashParseError), "{bad}");
        }
    }

    async fn who(BearerKey(h): BearerKey) -> String {
        h.to_string()
    }

    #[tokio::test]
    async fn extractor_answers_401_problems_with_a_challenge() {
        let app = Router::new().route("/", get(who));
        let (key, hash) = ApiKey::generate();
        let ok = app
            .clone()
            .oneshot(
                Request::get("/")
                    .header(
                        header::AUTHORIZATION,
                        format!("Bearer {}", key.expose_secret()),
                    )
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(ok.status(), StatusCode::OK);
        let body = axum::body::to_bytes(ok.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(body, hash.to_string().as_bytes());

        let cases: [(Vec<String>, &str); 3] = [
            (vec![], r#"Bearer realm="loupe""#),
            (
                vec!["Bearer nope".into()],
                r#"Bearer realm="loupe", error="invalid_token""#,
            ),
            (
                vec![format!("Bearer {}", key.expose_secret()); 2],
                r#"Bearer realm="loupe", error="invalid_token""#,
            ),
        ];
        for (headers, challenge) in cases {
            let mut req = Request::get("/");
            for h in &headers {
                req = req.header(header::AUTHORIZATION, h);
            }
            let res = app
                .clone()
                .oneshot(req.body(Body::empty()).expect("request"))
                .await
                .expect("infallible");
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                res.headers()
                    .get(header::WWW_AUTHENTICATE)
                    .map(|v| v.as_bytes()),
                Some(challenge.as_bytes()),
                "{headers:?}"
            );
            assert_eq!(
                res.headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.as_bytes()),
                Some(&b"application/problem+json"[..])
            );
        }
    }
}
