//! The claims model: what a token says ([`Provenance`]) and who said it
//! when ([`CwtClaims`]). Each type has a CBOR form (the signed bytes) and a
//! JSON form (serde, `deny_unknown_fields`).

use std::collections::BTreeSet;
use std::fmt;

#[cfg(test)]
use ciborium::Value;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::id::{Cti, Sha256Digest, TokenId};
use crate::cbor::{Item, Items, Kind, write_bytes, write_head, write_int, write_text, write_uint};
#[cfg(test)]
use crate::cbor::{int, text};

/// Longest stone text field (variety, species, colour, …), in bytes.
pub const MAX_TEXT_LEN: usize = 256;
/// Longest media type, in bytes (RFC 6838 §4.2 caps each half at 127).
pub const MAX_MEDIA_TYPE_LEN: usize = 127;
/// Longest issuer (`iss`), in bytes.
pub const MAX_ISSUER_LEN: usize = 255;
/// Longest report number (`sub`), in bytes.
pub const MAX_SUBJECT_LEN: usize = 128;

/// A claim set or payload is malformed or out of bounds.
///
/// `field` names use dotted paths such as `"stone.colour"` or
/// `"images[].sha256"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// A key that this format does not define.
    #[error("unknown field {field}")]
    UnknownField {
        /// Path of the unknown key.
        field: String,
    },
    /// A required field is absent.
    #[error("missing field {field}")]
    MissingField {
        /// Path of the missing field.
        field: &'static str,
    },
    /// A field has the wrong CBOR type.
    #[error("field {field} must be {expected}")]
    WrongType {
        /// Path of the field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A byte string or array has the wrong length.
    #[error("field {field} must have length {expected}")]
    WrongLength {
        /// Path of the field.
        field: &'static str,
        /// The required length.
        expected: usize,
    },
    /// A text field is empty.
    #[error("field {field} is empty")]
    EmptyText {
        /// Path of the field.
        field: &'static str,
    },
    /// A text field is longer than allowed.
    #[error("field {field} is longer than {max} bytes")]
    TextTooLong {
        /// Path of the field.
        field: &'static str,
        /// The limit in bytes.
        max: usize,
    },
    /// A text field holds a control character (including newlines).
    #[error("field {field} contains a control character")]
    ControlCharacter {
        /// Path of the field.
        field: &'static str,
    },
    /// A media type is not of the form `type/subtype` (RFC 6838 names).
    #[error("field {field} is not a media type of the form type/subtype")]
    InvalidMediaType {
        /// Path of the field.
        field: &'static str,
    },
    /// A number that must be positive is zero.
    #[error("field {field} must be greater than zero")]
    Zero {
        /// Path of the field.
        field: &'static str,
    },
    /// An image role outside `face-up`, `table`, `pavilion`, `side`,
    /// `girdle`, `swatch`.
    #[error("unknown image role {role:?}")]
    UnknownImageRole {
        /// The role as given.
        role: String,
    },
    /// A video role other than `light-play`.
    #[error("unknown video role {role:?}")]
    UnknownVideoRole {
        /// The role as given.
        role: String,
    },
    /// The same role appears twice in `images` or `videos`.
    #[error("role {role} appears more than once")]
    DuplicateRole {
        /// The repeated role.
        role: &'static str,
    },
    /// A list is longer than allowed.
    #[error("field {field} has more than {max} entries")]
    TooManyItems {
        /// Path of the list.
        field: &'static str,
        /// The limit.
        max: usize,
    },
}

pub(crate) fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), ClaimsError> {
    if s.is_empty() {
        return Err(ClaimsError::EmptyText { field });
    }
    if s.len() > max {
        return Err(ClaimsError::TextTooLong { field, max });
    }
    if s.chars().any(char::is_control) {
        return Err(ClaimsError::ControlCharacter { field });
    }
    Ok(())
}

fn check_media_type(field: &'static str, s: &str) -> Result<(), ClaimsError> {
    if s.len() > MAX_MEDIA_TYPE_LEN {
        return Err(ClaimsError::TextTooLong {
            field,
            max: MAX_MEDIA_TYPE_LEN,
        });
    }
    let name_ok = |part: &str| {
        !part.is_empty()
            && part.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                    )
            })
    };
    match s.split_once('/') {
        Some((t, sub)) if name_ok(t) && name_ok(sub) => Ok(()),
        _ => Err(ClaimsError::InvalidMediaType { field }),
    }
}

/// A CBOR map being taken apart field by field; whatever is left at the end
/// is an unknown field. Entries are views into the checked bytes.
pub(crate) struct Fields<'a> {
    entries: Vec<(Item<'a>, Item<'a>)>,
    context: &'static str,
}

/// A map key this crate looks up: a text string or an integer.
#[derive(Clone, Copy)]
pub(crate) enum Key {
    Text(&'static str),
    Int(i64),
}

impl Key {
    fn matches(self, item: Item<'_>) -> bool {
        match self {
            Self::Text(t) => item.is_text(t),
            Self::Int(i) => item.as_i64() == Some(i),
        }
    }
}

impl<'a> Fields<'a> {
    pub(crate) fn new(item: Item<'a>, context: &'static str) -> Result<Self, ClaimsError> {
        match item.kind() {
            Kind::Map(entries) => Ok(Self {
                entries: entries.collect(),
                context,
            }),
            _ => Err(ClaimsError::WrongType {
                field: context,
                expected: "a map",
            }),
        }
    }

    pub(crate) fn take(&mut self, key: Key) -> Option<Item<'a>> {
        let pos = self.entries.iter().position(|(k, _)| key.matches(*k))?;
        Some(self.entries.swap_remove(pos).1)
    }

    pub(crate) fn require(
        &mut self,
        key: Key,
        field: &'static str,
    ) -> Result<Item<'a>, ClaimsError> {
        self.take(key).ok_or(ClaimsError::MissingField { field })
    }

    pub(crate) fn finish(self) -> Result<(), ClaimsError> {
        match self.entries.first() {
            None => Ok(()),
            Some((k, _)) => Err(ClaimsError::UnknownField {
                field: format!("{}.{}", self.context, k.describe()),
            }),
        }
    }
}

pub(crate) fn want_text(
    v: Item<'_>,
    field: &'static str,
    max: usize,
) -> Result<String, ClaimsError> {
    match v.kind() {
        Kind::Text(s) => {
            check_text(field, s, max)?;
            Ok(s.to_owned())
        }
        _ => Err(ClaimsError::WrongType {
            field,
            expected: "a text string",
        }),
    }
}

pub(crate) fn want_uint(v: Item<'_>, field: &'static str) -> Result<u64, ClaimsError> {
    v.as_u64().ok_or(ClaimsError::WrongType {
        field,
        expected: "an unsigned integer",
    })
}

pub(crate) fn want_bytes<const N: usize>(
    v: Item<'_>,
    field: &'static str,
) -> Result<[u8; N], ClaimsError> {
    match v.kind() {
        Kind::Bytes(b) => {
            <[u8; N]>::try_from(b).map_err(|_| ClaimsError::WrongLength { field, expected: N })
        }
        _ => Err(ClaimsError::WrongType {
            field,
            expected: "a byte string",
        }),
    }
}

fn want_array<'a>(v: Item<'a>, field: &'static str, max: usize) -> Result<Items<'a>, ClaimsError> {
    match v.kind() {
        Kind::Array(a) if a.declared_len() > max as u64 => {
            Err(ClaimsError::TooManyItems { field, max })
        }
        Kind::Array(a) => Ok(a),
        _ => Err(ClaimsError::WrongType {
            field,
            expected: "an array",
        }),
    }
}

#[cfg(test)]
fn text_map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
}

#[cfg(test)]
fn uint(v: u64) -> Value {
    Value::Integer(v.into())
}

mod sealed {
    pub trait Sealed {}
}

/// A role of a photo or video in the standard capture set. Implemented by
/// [`ImageRole`] and [`VideoRole`] only.
pub trait MediaRole: sealed::Sealed + Copy + Eq + Ord + fmt::Debug + 'static {
    /// Every role, in capture order.
    const ALL: &'static [Self];
    /// Path of the list in the payload (`"images"` or `"videos"`).
    const LIST: &'static str;
    /// The wire name, e.g. `"face-up"`.
    fn as_str(self) -> &'static str;
    /// Parses a wire name.
    ///
    /// # Errors
    ///
    /// [`ClaimsError::UnknownImageRole`] or [`ClaimsError::UnknownVideoRole`].
    fn parse(s: &str) -> Result<Self, ClaimsError>;
}

/// The role of a photo in the standard 6-shot capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageRole {
    /// `face-up`: the stone face up, as a buyer sees it.
    FaceUp,
    /// `table`: looking straight down on the table facet.
    Table,
    /// `pavilion`: the underside.
    Pavilion,
    /// `side`: profile view.
    Side,
    /// `girdle`: the girdle edge (inscriptions).
    Girdle,
    /// `swatch`: the stone beside the colour-calibration card.
    Swatch,
}

impl sealed::Sealed for ImageRole {}

impl MediaRole for ImageRole {
    const ALL: &'static [Self] = &[
        Self::FaceUp,
        Self::Table,
        Self::Pavilion,
        Self::Side,
        Self::Girdle,
        Self::Swatch,
    ];
    const LIST: &'static str = "images";

    fn as_str(self) -> &'static str {
        match self {
            Self::FaceUp => "face-up",
            Self::Table => "table",
            Self::Pavilion => "pavilion",
            Self::Side => "side",
            Self::Girdle => "girdle",
            Self::Swatch => "swatch",
        }
    }

    fn parse(s: &str) -> Result<Self, ClaimsError> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ClaimsError::UnknownImageRole { role: s.to_owned() })
    }
}

/// The role of a video in the standard capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VideoRole {
    /// `light-play`: the stone rotating under light.
    LightPlay,
}

impl sealed::Sealed for VideoRole {}

impl MediaRole for VideoRole {
    const ALL: &'static [Self] = &[Self::LightPlay];
    const LIST: &'static str = "videos";

    fn as_str(self) -> &'static str {
        match self {
            Self::LightPlay => "light-play",
        }
    }

    fn parse(s: &str) -> Result<Self, ClaimsError> {
        match s {
            "light-play" => Ok(Self::LightPlay),
            _ => Err(ClaimsError::UnknownVideoRole { role: s.to_owned() }),
        }
    }
}

macro_rules! role_serde {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $t {
            type Err = ClaimsError;
            fn from_str(s: &str) -> Result<Self, ClaimsError> {
                <$t as MediaRole>::parse(s)
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                <$t as MediaRole>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

role_serde!(ImageRole);
role_serde!(VideoRole);

/// A file bound by digest: the lab report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// SHA-256 of the file's bytes.
    pub sha256: Sha256Digest,
    /// Media type, e.g. `application/pdf`.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
}

impl FileDigest {
    /// Checks the media type.
    ///
    /// # Errors
    ///
    /// [`ClaimsError::InvalidMediaType`] or [`ClaimsError::TextTooLong`].
    pub fn validate(&self) -> Result<(), ClaimsError> {
        check_media_type("report.media_type", &self.media_type)
    }

    #[cfg(test)]
    fn to_value(&self) -> Value {
        text_map(vec![
            ("sha256", Value::Bytes(self.sha256.0.to_vec())),
            ("media_type", text(&self.media_type)),
            ("size", uint(self.size)),
        ])
    }

    /// Writes what `cbor::encode(&self.to_value())` writes, without
    /// building the value: keys in core deterministic order (shorter
    /// first, then bytewise).
    fn write_cbor(&self, out: &mut Vec<u8>) {
        write_head(out, 5, 3);
        write_file_entries(out, self.size, &self.sha256, &self.media_type);
    }

    fn from_item(v: Item<'_>) -> Result<Self, ClaimsError> {
        let mut f = Fields::new(v, "report")?;
        let d = Self {
            sha256: Sha256Digest(want_bytes(
                f.require(Key::Text("sha256"), "report.sha256")?,
                "report.sha256",
            )?),
            media_type: want_text(
                f.require(Key::Text("media_type"), "report.media_type")?,
                "report.media_type",
                MAX_MEDIA_TYPE_LEN,
            )?,
            size: want_uint(f.require(Key::Text("size"), "report.size")?, "report.size")?,
        };
        f.finish()?;
        d.validate()?;
        Ok(d)
    }
}

/// The `size`, `sha256` and `media_type` entries a file's map ends with
/// (a report's, and a photo's or video's after its `role`), in core
/// deterministic order.
fn write_file_entries(out: &mut Vec<u8>, size: u64, sha256: &Sha256Digest, media_type: &str) {
    write_text(out, "size");
    write_uint(out, size);
    write_text(out, "sha256");
    write_bytes(out, &sha256.0);
    write_text(out, "media_type");
    write_text(out, media_type);
}

/// A photo or video bound by digest, with its role in the capture set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(deserialize = "R: MediaRole + Deserialize<'de>")
)]
pub struct MediaDigest<R: MediaRole> {
    /// Which shot this is.
    pub role: R,
    /// SHA-256 of the file's bytes.
    pub sha256: Sha256Digest,
    /// Media type, e.g. `image/jpeg` or `video/mp4`.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// A photo bound by digest.
pub type ImageDigest = MediaDigest<ImageRole>;
/// A video bound by digest.
pub type VideoDigest = MediaDigest<VideoRole>;

impl<R: MediaRole> MediaDigest<R> {
    #[cfg(test)]
    fn to_value(&self) -> Value {
        text_map(vec![
            ("role", text(self.role.as_str())),
            ("sha256", Value::Bytes(self.sha256.0.to_vec())),
            ("media_type", text(&self.media_type)),
            ("size", uint(self.size)),
        ])
    }

    /// Writes what `cbor::encode(&self.to_value())` writes (see
    /// [`FileDigest::write_cbor`]).
    fn write_cbor(&self, out: &mut Vec<u8>) {
        write_head(out, 5, 4);
        write_text(out, "role");
        write_text(out, self.role.as_str());
        write_file_entries(out, self.size, &self.sha256, &self.media_type);
    }

    fn from_item(v: Item<'_>) -> Result<Self, ClaimsError> {
        let mut f = Fields::new(v, R::LIST)?;
        let role = match f.require(Key::Text("role"), "media.role")?.kind() {
            Kind::Text(s) => R::parse(s)?,
            _ => {
                return Err(ClaimsError::WrongType {
                    field: "media.role",
                    expected: "a text string",
                });
            }
        };
        let d = Self {
            role,
            sha256: Sha256Digest(want_bytes(
                f.require(Key::Text("sha256"), "media.sha256")?,
                "media.sha256",
            )?),
            media_type: want_text(
                f.require(Key::Text("media_type"), "media.media_type")?,
                "media.media_type",
                MAX_MEDIA_TYPE_LEN,
            )?,
            size: want_uint(f.require(Key::Text("size"), "media.size")?, "media.size")?,
        };
        f.finish()?;
        Ok(d)
    }
}

fn validate_media<R: MediaRole>(list: &[MediaDigest<R>]) -> Result<(), ClaimsError> {
    if list.len() > R::ALL.len() {
        return Err(ClaimsError::TooManyItems {
            field: R::LIST,
            max: R::ALL.len(),
        });
    }
    let mut seen = BTreeSet::new();
    for m in list {
        check_media_type("media.media_type", &m.media_type)?;
        if !seen.insert(m.role) {
            return Err(ClaimsError::DuplicateRole {
                role: m.role.as_str(),
            });
        }
    }
    Ok(())
}

/// Facts about the stone, as the lab report states them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stone {
    /// Trade variety, e.g. `Ruby`.
    pub variety: String,
    /// Mineral species, e.g. `Corundum`.
    pub species: String,
    /// Weight in milli-carats (1.52 ct = 1520).
    pub weight_mct: u64,
    /// Colour description, e.g. `pigeon's blood`.
    pub colour: String,
    /// Shape, e.g. `oval`.
    pub shape: String,
    /// Cutting style, e.g. `mixed`.
    pub cut: String,
    /// Clarity grade, e.g. `VS`.
    pub clarity: String,
    /// Length, width, depth in micrometres.
    pub dimensions_um: [u64; 3],
    /// Treatment, e.g. `none` or `heated`.
    pub treatment: String,
    /// Geographic origin, when the lab states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl Stone {
    /// Checks text fields (non-empty, at most [`MAX_TEXT_LEN`] bytes, no
    /// control characters) and that weight and dimensions are positive.
    ///
    /// # Errors
    ///
    /// The first [`ClaimsError`] found.
    pub fn validate(&self) -> Result<(), ClaimsError> {
        for (field, s) in [
            ("stone.variety", &self.variety),
            ("stone.species", &self.species),
            ("stone.colour", &self.colour),
            ("stone.shape", &self.shape),
            ("stone.cut", &self.cut),
            ("stone.clarity", &self.clarity),
            ("stone.treatment", &self.treatment),
        ] {
            check_text(field, s, MAX_TEXT_LEN)?;
        }
        if let Some(origin) = &self.origin {
            check_text("stone.origin", origin, MAX_TEXT_LEN)?;
        }
        if self.weight_mct == 0 {
            return Err(ClaimsError::Zero {
                field: "stone.weight_mct",
            });
        }
        if self.dimensions_um.contains(&0) {
            return Err(ClaimsError::Zero {
                field: "stone.dimensions_um",
            });
        }
        Ok(())
    }

    #[cfg(test)]
    fn to_value(&self) -> Value {
        let mut entries = vec![
            ("variety", text(&self.variety)),
            ("species", text(&self.species)),
            ("weight_mct", uint(self.weight_mct)),
            ("colour", text(&self.colour)),
            ("shape", text(&self.shape)),
            ("cut", text(&self.cut)),
            ("clarity", text(&self.clarity)),
            (
                "dimensions_um",
                Value::Array(self.dimensions_um.iter().map(|d| uint(*d)).collect()),
            ),
            ("treatment", text(&self.treatment)),
        ];
        if let Some(origin) = &self.origin {
            entries.push(("origin", text(origin)));
        }
        text_map(entries)
    }

    /// Writes what `cbor::encode(&self.to_value())` writes (see
    /// [`FileDigest::write_cbor`]).
    fn write_cbor(&self, out: &mut Vec<u8>) {
        write_head(out, 5, if self.origin.is_some() { 10 } else { 9 });
        write_text(out, "cut");
        write_text(out, &self.cut);
        write_text(out, "shape");
        write_text(out, &self.shape);
        write_text(out, "colour");
        write_text(out, &self.colour);
        if let Some(origin) = &self.origin {
            write_text(out, "origin");
            write_text(out, origin);
        }
        write_text(out, "clarity");
        write_text(out, &self.clarity);
        write_text(out, "species");
        write_text(out, &self.species);
        write_text(out, "variety");
        write_text(out, &self.variety);
        write_text(out, "treatment");
        write_text(out, &self.treatment);
        write_text(out, "weight_mct");
        write_uint(out, self.weight_mct);
        write_text(out, "dimensions_um");
        write_head(out, 4, self.dimensions_um.len() as u64);
        for d in self.dimensions_um {
            write_uint(out, d);
        }
    }

    fn from_item(v: Item<'_>) -> Result<Self, ClaimsError> {
        let mut f = Fields::new(v, "stone")?;
        let mut t = |key: &'static str, field: &'static str| {
            f.require(Key::Text(key), field)
                .and_then(|v| want_text(v, field, MAX_TEXT_LEN))
        };
        let variety = t("variety", "stone.variety")?;
        let species = t("species", "stone.species")?;
        let colour = t("colour", "stone.colour")?;
        let shape = t("shape", "stone.shape")?;
        let cut = t("cut", "stone.cut")?;
        let clarity = t("clarity", "stone.clarity")?;
        let treatment = t("treatment", "stone.treatment")?;
        let weight_mct = want_uint(
            f.require(Key::Text("weight_mct"), "stone.weight_mct")?,
            "stone.weight_mct",
        )?;
        let mut dims = want_array(
            f.require(Key::Text("dimensions_um"), "stone.dimensions_um")?,
            "stone.dimensions_um",
            3,
        )?;
        let dimensions_um = match (dims.declared_len(), dims.next(), dims.next(), dims.next()) {
            (3, Some(l), Some(w), Some(d)) => [
                want_uint(l, "stone.dimensions_um")?,
                want_uint(w, "stone.dimensions_um")?,
                want_uint(d, "stone.dimensions_um")?,
            ],
            _ => {
                return Err(ClaimsError::WrongLength {
                    field: "stone.dimensions_um",
                    expected: 3,
                });
            }
        };
        let origin = f
            .take(Key::Text("origin"))
            .map(|v| want_text(v, "stone.origin", MAX_TEXT_LEN))
            .transpose()?;
        f.finish()?;
        let stone = Self {
            variety,
            species,
            weight_mct,
            colour,
            shape,
            cut,
            clarity,
            dimensions_um,
            treatment,
            origin,
        };
        stone.validate()?;
        Ok(stone)
    }
}

/// The token payload: what the lab certifies.
///
/// JSON form (keys exactly these; `origin` and `supersedes` optional,
/// `videos` may be omitted for an empty list):
///
/// ```json
/// {"report":{"sha256":"<64 hex>","media_type":"application/pdf","size":123},
///  "images":[{"role":"face-up","sha256":"<64 hex>","media_type":"image/jpeg","size":456}],
///  "videos":[{"role":"light-play","sha256":"<64 hex>","media_type":"video/mp4","size":789}],
///  "stone":{"variety":"Ruby","species":"Corundum","weight_mct":1520,
///           "colour":"pigeon's blood","shape":"oval","cut":"mixed","clarity":"VS",
///           "dimensions_um":[7100,5600,3400],"treatment":"none","origin":"Myanmar"},
///  "supersedes":"<43-char token id>"}
/// ```
///
/// Deserializing JSON also runs [`Provenance::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProvenanceJson")]
pub struct Provenance {
    /// The lab report file.
    pub report: FileDigest,
    /// Photos, each role at most once.
    pub images: Vec<ImageDigest>,
    /// Videos, each role at most once.
    pub videos: Vec<VideoDigest>,
    /// Facts about the stone.
    pub stone: Stone,
    /// The token this one replaces (re-photography, revaluation, re-cut).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<TokenId>,
}

/// Mirror of [`Provenance`] for JSON input, validated on conversion.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvenanceJson {
    report: FileDigest,
    images: Vec<ImageDigest>,
    #[serde(default)]
    videos: Vec<VideoDigest>,
    stone: Stone,
    #[serde(default)]
    supersedes: Option<TokenId>,
}

impl TryFrom<ProvenanceJson> for Provenance {
    type Error = ClaimsError;

    fn try_from(j: ProvenanceJson) -> Result<Self, ClaimsError> {
        let p = Self {
            report: j.report,
            images: j.images,
            videos: j.videos,
            stone: j.stone,
            supersedes: j.supersedes,
        };
        p.validate()?;
        Ok(p)
    }
}

impl Provenance {
    /// Checks every bound: media types, roles unique, list lengths, stone
    /// fields.
    ///
    /// # Errors
    ///
    /// The first [`ClaimsError`] found.
    pub fn validate(&self) -> Result<(), ClaimsError> {
        self.report.validate()?;
        validate_media(&self.images)?;
        validate_media(&self.videos)?;
        self.stone.validate()
    }

    /// The payload as a CBOR value (maps are sorted when encoded): the
    /// reference [`Provenance::to_cbor`] is tested against.
    #[cfg(test)]
    pub(crate) fn to_value(&self) -> Value {
        let mut entries = vec![
            ("report", self.report.to_value()),
            (
                "images",
                Value::Array(self.images.iter().map(MediaDigest::to_value).collect()),
            ),
            (
                "videos",
                Value::Array(self.videos.iter().map(MediaDigest::to_value).collect()),
            ),
            ("stone", self.stone.to_value()),
        ];
        if let Some(id) = &self.supersedes {
            entries.push(("supersedes", Value::Bytes(id.0.to_vec())));
        }
        text_map(entries)
    }

    /// The payload's bytes: what `cbor::encode(&self.to_value())` gives,
    /// written straight from the fields. The value tree cost ≈ 200
    /// allocations per token on the issuing path; `to_value` stays the
    /// reference the tests compare this with.
    pub(crate) fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        write_head(&mut out, 5, if self.supersedes.is_some() { 5 } else { 4 });
        write_text(&mut out, "stone");
        self.stone.write_cbor(&mut out);
        write_text(&mut out, "images");
        write_head(&mut out, 4, self.images.len() as u64);
        for image in &self.images {
            image.write_cbor(&mut out);
        }
        write_text(&mut out, "report");
        self.report.write_cbor(&mut out);
        write_text(&mut out, "videos");
        write_head(&mut out, 4, self.videos.len() as u64);
        for video in &self.videos {
            video.write_cbor(&mut out);
        }
        if let Some(id) = &self.supersedes {
            write_text(&mut out, "supersedes");
            write_bytes(&mut out, &id.0);
        }
        out
    }

    /// Reads the payload from a view of its checked CBOR.
    pub(crate) fn from_item(v: Item<'_>) -> Result<Self, ClaimsError> {
        let mut f = Fields::new(v, "payload")?;
        let report = FileDigest::from_item(f.require(Key::Text("report"), "report")?)?;
        let images = want_array(
            f.require(Key::Text("images"), "images")?,
            "images",
            ImageRole::ALL.len(),
        )?
        .map(MediaDigest::from_item)
        .collect::<Result<Vec<_>, _>>()?;
        let videos = want_array(
            f.require(Key::Text("videos"), "videos")?,
            "videos",
            VideoRole::ALL.len(),
        )?
        .map(MediaDigest::from_item)
        .collect::<Result<Vec<_>, _>>()?;
        let stone = Stone::from_item(f.require(Key::Text("stone"), "stone")?)?;
        let supersedes = f
            .take(Key::Text("supersedes"))
            .map(|v| want_bytes(v, "supersedes").map(TokenId))
            .transpose()?;
        f.finish()?;
        let p = Self {
            report,
            images,
            videos,
            stone,
            supersedes,
        };
        p.validate()?;
        Ok(p)
    }
}

/// The CWT claims of a token (protected header 15, RFC 9597).
///
/// JSON: `{"iss":"lab.example","sub":"R-2024-0001","iat":1700000000,"cti":"<32 hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CwtClaims {
    /// Claim 1: the issuer's origin, e.g. `lab.example`.
    pub iss: String,
    /// Claim 2: the lab's report number.
    pub sub: String,
    /// Claim 6: issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Claim 7: 16 random bytes.
    pub cti: Cti,
}

/// CWT claim labels (RFC 8392 §4).
pub(crate) const CLAIM_ISS: i64 = 1;
pub(crate) const CLAIM_SUB: i64 = 2;
pub(crate) const CLAIM_IAT: i64 = 6;
pub(crate) const CLAIM_CTI: i64 = 7;

impl CwtClaims {
    /// Checks `iss` and `sub` (non-empty, bounded, no control characters).
    ///
    /// # Errors
    ///
    /// The first [`ClaimsError`] found.
    pub fn validate(&self) -> Result<(), ClaimsError> {
        check_text("cwt.iss", &self.iss, MAX_ISSUER_LEN)?;
        check_text("cwt.sub", &self.sub, MAX_SUBJECT_LEN)
    }

    /// Writes what `cbor::encode(&self.to_value())` writes: the four
    /// claims, keys in ascending order.
    pub(crate) fn write_cbor(&self, out: &mut Vec<u8>) {
        write_head(out, 5, 4);
        write_int(out, CLAIM_ISS);
        write_text(out, &self.iss);
        write_int(out, CLAIM_SUB);
        write_text(out, &self.sub);
        write_int(out, CLAIM_IAT);
        write_uint(out, self.iat);
        write_int(out, CLAIM_CTI);
        write_bytes(out, &self.cti.0);
    }

    /// The claims as a CBOR value: the reference
    /// [`CwtClaims::write_cbor`] is tested against.
    #[cfg(test)]
    pub(crate) fn to_value(&self) -> Value {
        Value::Map(vec![
            (int(CLAIM_ISS), text(&self.iss)),
            (int(CLAIM_SUB), text(&self.sub)),
            (int(CLAIM_IAT), uint(self.iat)),
            (int(CLAIM_CTI), Value::Bytes(self.cti.0.to_vec())),
        ])
    }

    pub(crate) fn from_item(v: Item<'_>) -> Result<Self, ClaimsError> {
        let mut f = Fields::new(v, "cwt")?;
        let iss = want_text(
            f.require(Key::Int(CLAIM_ISS), "cwt.iss")?,
            "cwt.iss",
            MAX_ISSUER_LEN,
        )?;
        let sub = want_text(
            f.require(Key::Int(CLAIM_SUB), "cwt.sub")?,
            "cwt.sub",
            MAX_SUBJECT_LEN,
        )?;
        let iat = want_uint(f.require(Key::Int(CLAIM_IAT), "cwt.iat")?, "cwt.iat")?;
        let cti = Cti(want_bytes(
            f.require(Key::Int(CLAIM_CTI), "cwt.cti")?,
            "cwt.cti",
        )?);
        f.finish()?;
        Ok(Self { iss, sub, iat, cti })
    }
}
