//! Note keys: key names, key ids, verifier keys (`vkey`) and signer keys
//! (`skey`), for the two signature types Loupe uses.
//!
//! Text formats (from `golang.org/x/mod/sumdb/note`, referenced by C2SP
//! `signed-note` and `tlog-cosignature` as "vkeys"):
//!
//! ```text
//! verifier key:  <name>+<8 lowercase hex key id>+base64(<type byte> ‖ <32-byte public key>)
//! signer key:    PRIVATE+KEY+<name>+<8 lowercase hex key id>+base64(0x01 ‖ <32-byte seed>)
//! ```

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// The prefix of the signed message of a `cosignature/v1` signature.
pub(crate) const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// Length of an Ed25519 signature.
const ED25519_SIGNATURE_LEN: usize = 64;
/// Length of a `timestamped_signature` for Ed25519 (u64 timestamp ‖ signature).
const COSIGNATURE_V1_LEN: usize = 8 + ED25519_SIGNATURE_LEN;
/// Largest timestamp a cosignature may carry (2^63 − 1, per `tlog-cosignature`).
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;

/// The signature types (C2SP `signed-note` "signature type identifier
/// bytes") this crate signs and verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureType {
    /// `0x01`: Ed25519 over the note text (log checkpoint signatures).
    Ed25519,
    /// `0x04`: timestamped Ed25519 witness cosignatures, C2SP
    /// `tlog-cosignature` v1 (`cosignature/v1`).
    CosignatureV1,
}

impl SignatureType {
    /// The identifier byte of this type, used in key ids and vkeys.
    #[must_use]
    pub const fn id(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    /// The type with identifier byte `id`, if this crate supports it.
    #[must_use]
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0x01 => Some(Self::Ed25519),
            0x04 => Some(Self::CosignatureV1),
            _ => None,
        }
    }
}

/// Why a key name, verifier key or signer key was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The verifier key is not of the form `name+keyid+base64`.
    #[error("malformed verifier key: expected <name>+<keyid>+<base64 key>")]
    MalformedVerifierKey,
    /// The signer key is not of the form `PRIVATE+KEY+name+keyid+base64`.
    #[error("malformed signer key: expected PRIVATE+KEY+<name>+<keyid>+<base64 key>")]
    MalformedSignerKey,
    /// The key name is empty or holds a `+`, a Unicode space or an ASCII
    /// control character.
    #[error("invalid key name {0:?}: must be non-empty, without '+', spaces or control characters")]
    InvalidName(String),
    /// The key id field is not exactly 8 lowercase hexadecimal digits.
    #[error("key id is not 8 lowercase hexadecimal digits")]
    MalformedKeyId,
    /// The key id field does not match the name and key.
    #[error("key id {found:08x} does not match the name and key (computed {computed:08x})")]
    KeyIdMismatch {
        /// The key id written in the key string.
        found: u32,
        /// The key id computed from the name, type and public key.
        computed: u32,
    },
    /// The key material is not canonical standard base64.
    #[error("key material is not valid base64")]
    InvalidBase64,
    /// The key material names a signature type this crate does not
    /// support (or, for a signer key, one other than Ed25519 `0x01`).
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedSignatureType(u8),
    /// The key material is not one type byte followed by 32 key bytes.
    #[error("key material is {0} bytes, expected 33 (type byte and 32-byte key)")]
    InvalidKeyLength(usize),
    /// The 32 bytes are not a valid Ed25519 public key encoding.
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
    /// The public key is of small order, so signatures by it prove nothing.
    #[error("weak (small-order) Ed25519 public key")]
    WeakPublicKey,
}

/// Whether `name` is a valid note key name: non-empty, no `+`, no Unicode
/// white space (C2SP `signed-note`), and no ASCII control characters (which
/// no note may contain).
#[must_use]
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_ascii_control())
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(KeyError::InvalidName(name.to_owned()))
    }
}

/// The key id of a key: the first four bytes, big-endian, of
/// SHA-256(name ‖ 0x0A ‖ type byte ‖ 32-byte public key).
#[must_use]
pub fn key_id(name: &str, signature_type: SignatureType, public_key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', signature_type.id()]);
    h.update(public_key.as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    let [a, b, c, d, ..] = digest;
    u32::from_be_bytes([a, b, c, d])
}

/// Parses exactly 8 lowercase hex digits.
fn parse_key_id(hex8: &str) -> Result<u32, KeyError> {
    if hex8.len() != 8 || !hex8.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(KeyError::MalformedKeyId);
    }
    u32::from_str_radix(hex8, 16).map_err(|_| KeyError::MalformedKeyId)
}

/// Splits `name+hex8+base64` (the base64 part may itself hold `+`) and
/// decodes it to (name, key id, type byte, 32 key bytes).
fn split_key_string(s: &str, malformed: KeyError) -> Result<(&str, u32, u8, [u8; 32]), KeyError> {
    let (name, rest) = s.split_once('+').ok_or_else(|| malformed.clone())?;
    let (hex8, b64) = rest.split_once('+').ok_or(malformed)?;
    check_name(name)?;
    let id = parse_key_id(hex8)?;
    let material = STANDARD.decode(b64).map_err(|_| KeyError::InvalidBase64)?;
    let Some((&type_byte, key)) = material.split_first() else {
        return Err(KeyError::InvalidKeyLength(0));
    };
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| KeyError::InvalidKeyLength(material.len()))?;
    Ok((name, id, type_byte, key))
}

fn checked_public_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPublicKey)?;
    if key.is_weak() {
        return Err(KeyError::WeakPublicKey);
    }
    Ok(key)
}

fn format_key_string(name: &str, id: u32, type_byte: u8, key: &[u8; 32]) -> String {
    let mut material = Vec::with_capacity(33);
    material.push(type_byte);
    material.extend_from_slice(key);
    format!("{name}+{id:08x}+{}", STANDARD.encode(material))
}

/// A public key that verifies note signatures of one [`SignatureType`]
/// under one key name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    signature_type: SignatureType,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`, for signatures of `signature_type`.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidName`] for an invalid key name,
    /// [`KeyError::WeakPublicKey`] for a small-order key.
    pub fn new(
        name: &str,
        signature_type: SignatureType,
        key: VerifyingKey,
    ) -> Result<Self, KeyError> {
        check_name(name)?;
        if key.is_weak() {
            return Err(KeyError::WeakPublicKey);
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, signature_type, &key),
            signature_type,
            key,
        })
    }

    /// Parses a verifier key string `name+keyid+base64(type ‖ key)`.
    /// Type `0x01` gives an Ed25519 note verifier, `0x04` a
    /// `cosignature/v1` witness verifier.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] naming the first problem found; the key id must be
    /// lowercase hex and must match the name, type and key.
    pub fn from_vkey(vkey: &str) -> Result<Self, KeyError> {
        let (name, id, type_byte, key) = split_key_string(vkey, KeyError::MalformedVerifierKey)?;
        let signature_type = SignatureType::from_id(type_byte)
            .ok_or(KeyError::UnsupportedSignatureType(type_byte))?;
        let key = checked_public_key(&key)?;
        let verifier = Self::new(name, signature_type, key)?;
        if verifier.key_id != id {
            return Err(KeyError::KeyIdMismatch {
                found: id,
                computed: verifier.key_id,
            });
        }
        Ok(verifier)
    }

    /// The verifier key string, `name+keyid+base64(type ‖ key)`.
    #[must_use]
    pub fn to_vkey(&self) -> String {
        format_key_string(
            &self.name,
            self.key_id,
            self.signature_type.id(),
            self.key.as_bytes(),
        )
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (see [`key_id`]).
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type this verifier checks.
    #[must_use]
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The Ed25519 public key.
    #[must_use]
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// A verifier from parts a signer already validated (a valid name, the
    /// key id computed for it, a key derived from a seed).
    pub(crate) fn from_parts(
        name: &str,
        key_id: u32,
        signature_type: SignatureType,
        key: VerifyingKey,
    ) -> Self {
        Self {
            name: name.to_owned(),
            key_id,
            signature_type,
            key,
        }
    }

    /// Whether `(name, key_id)` names this key.
    pub(crate) fn matches(&self, name: &str, key_id: u32) -> bool {
        self.key_id == key_id && self.name == name
    }

    /// Verifies `signature` (the bytes after the key id) over the note
    /// `text`. Returns the cosignature timestamp for `cosignature/v1`.
    pub(crate) fn verify(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, ()> {
        match self.signature_type {
            SignatureType::Ed25519 => {
                let sig: &[u8; ED25519_SIGNATURE_LEN] = signature.try_into().map_err(|_| ())?;
                self.key
                    .verify_strict(text.as_bytes(), &Signature::from_bytes(sig))
                    .map_err(|_| ())?;
                Ok(None)
            }
            SignatureType::CosignatureV1 => {
                let blob: &[u8; COSIGNATURE_V1_LEN] = signature.try_into().map_err(|_| ())?;
                let (ts, sig) = blob.split_at(8);
                let ts = u64::from_be_bytes(ts.try_into().map_err(|_| ())?);
                let sig: &[u8; ED25519_SIGNATURE_LEN] = sig.try_into().map_err(|_| ())?;
                if ts > MAX_COSIGNATURE_TIMESTAMP {
                    return Err(());
                }
                let message = cosignature_v1_message(ts, text);
                self.key
                    .verify_strict(message.as_bytes(), &Signature::from_bytes(sig))
                    .map_err(|_| ())?;
                Ok(Some(ts))
            }
        }
    }
}

impl FromStr for NoteVerifier {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_vkey(s)
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

/// The message a `cosignature/v1` signs: `cosignature/v1\ntime <ts>\n` then
/// the checkpoint body.
pub(crate) fn cosignature_v1_message(timestamp: u64, body: &str) -> String {
    format!("{COSIGNATURE_V1_HEADER}time {timestamp}\n{body}")
}

/// A private Ed25519 key that signs notes (type `0x01`) under one key name,
/// such as a log signing its checkpoints. Its `Debug` output never shows
/// the key.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl NoteSigner {
    /// A signer for `key` under `name`.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidName`] for an invalid key name.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, KeyError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, SignatureType::Ed25519, &key.verifying_key()),
            key,
        })
    }

    /// Parses a signer key string `PRIVATE+KEY+name+keyid+base64(0x01 ‖ seed)`.
    ///
    /// # Errors
    ///
    /// A [`KeyError`]: wrong prefix or layout, a type other than `0x01`, or
    /// a key id that does not match the key derived from the seed.
    pub fn from_skey(skey: &str) -> Result<Self, KeyError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::MalformedSignerKey)?;
        let (name, id, type_byte, seed) = split_key_string(rest, KeyError::MalformedSignerKey)?;
        if type_byte != SignatureType::Ed25519.id() {
            return Err(KeyError::UnsupportedSignatureType(type_byte));
        }
        let signer = Self::new(name, SigningKey::from_bytes(&seed))?;
        if signer.key_id != id {
            return Err(KeyError::KeyIdMismatch {
                found: id,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The signer key string. It holds the private key: keep it secret.
    #[must_use]
    pub fn to_skey(&self) -> String {
        format!(
            "PRIVATE+KEY+{}",
            format_key_string(
                &self.name,
                self.key_id,
                SignatureType::Ed25519.id(),
                self.key.as_bytes()
            )
        )
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (see [`key_id`]).
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier::from_parts(
            &self.name,
            self.key_id,
            SignatureType::Ed25519,
            self.key.verifying_key(),
        )
    }

    /// The private key, e.g. to build a [`crate::checkpoint::CosignatureSigner`]
    /// from the same seed.
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The raw Ed25519 signature of `text`.
    pub(crate) fn sign_bytes(&self, text: &str) -> [u8; 64] {
        self.key.sign(text.as_bytes()).to_bytes()
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}
