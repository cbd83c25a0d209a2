//! A sample stone capture for the demo and the tests: a small valid report
//! PDF, the six standard photos as PNG and a light-play video stand-in,
//! written under the file names a capture folder uses, plus the ruby's
//! [`Stone`] facts.
//!
//! Everything is deterministic: the same `variant` always gives the same
//! bytes, so digests in tests and docs stay put. Variant 0 is the demo
//! ruby (report [`SAMPLE_REPORT_NUMBER`]); other variants change the report
//! number, the weight and every file, for batch tests that need many
//! distinct stones.
//!
//! | file | role | media type |
//! | --- | --- | --- |
//! | `report.pdf` | the lab report | `application/pdf` |
//! | `face-up.png`, `table.png`, `pavilion.png`, `side.png`, `girdle.png`, `swatch.png` | the six shots | `image/png` |
//! | `light-play.mp4` | the light-play video | `video/mp4` |
//!
//! [`CaptureRole::from_file_name`] recognises these names (and the same
//! stems with other common extensions), for a capture-folder import.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let capture = loupe_issuer::sample::write_sample_capture(dir.path(), 0)?;
//! assert_eq!(capture.files.len(), 8);
//! let provenance = capture.provenance();
//! provenance.validate()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::f32::consts::PI;
use std::fmt::Write as _;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageFormat, Rgb, RgbImage};
use loupe_schemas::token::{
    FileDigest, ImageDigest, ImageRole, MediaRole, Provenance, Sha256Digest, Stone, VideoDigest,
    VideoRole,
};

/// The report number of the demo ruby (variant 0).
pub const SAMPLE_REPORT_NUMBER: &str = "LX-2026-004211";
/// File name of the report.
pub const REPORT_FILE: &str = "report.pdf";
/// File name of the light-play video.
pub const VIDEO_FILE: &str = "light-play.mp4";
/// Side of the sample photos, in pixels.
pub const PHOTO_SIZE: u32 = 128;

/// Writing the sample failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SampleError {
    /// A file or the directory cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// PNG encoding failed.
    #[error("cannot encode a sample photo: {0}")]
    Png(#[source] image::ImageError),
}

/// What a file in a capture folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureRole {
    /// The lab report.
    Report,
    /// One of the six standard photos.
    Image(ImageRole),
    /// The light-play video.
    Video(VideoRole),
}

impl CaptureRole {
    /// Every role, in capture order: report, six photos, video.
    #[must_use]
    pub fn all() -> Vec<Self> {
        let mut all = vec![Self::Report];
        all.extend(ImageRole::ALL.iter().map(|r| Self::Image(*r)));
        all.extend(VideoRole::ALL.iter().map(|r| Self::Video(*r)));
        all
    }

    /// The file name the sample uses: `report.pdf`, `face-up.png`, …,
    /// `light-play.mp4`.
    #[must_use]
    pub fn sample_file_name(self) -> String {
        match self {
            Self::Report => REPORT_FILE.to_owned(),
            Self::Image(r) => format!("{}.png", r.as_str()),
            Self::Video(r) => format!("{}.mp4", r.as_str()),
        }
    }

    /// Recognises a capture-folder file by its name: the stem `report` or a
    /// role name (`face-up`, …, `light-play`), case-insensitive, with an
    /// extension that fits the role. Returns the role and the media type.
    /// Anything else (including hidden files) is `None`.
    #[must_use]
    pub fn from_file_name(name: &str) -> Option<(Self, &'static str)> {
        let (stem, ext) = name.rsplit_once('.')?;
        let stem = stem.to_ascii_lowercase();
        let ext = ext.to_ascii_lowercase();
        if stem == "report" {
            return (ext == "pdf").then_some((Self::Report, "application/pdf"));
        }
        if let Ok(role) = ImageRole::parse(&stem) {
            let media_type = match ext.as_str() {
                "png" => "image/png",
                "jpg" | "jpeg" => "image/jpeg",
                "webp" => "image/webp",
                "heic" => "image/heic",
                "tif" | "tiff" => "image/tiff",
                _ => return None,
            };
            return Some((Self::Image(role), media_type));
        }
        if let Ok(role) = VideoRole::parse(&stem) {
            let media_type = match ext.as_str() {
                "mp4" => "video/mp4",
                "mov" => "video/quicktime",
                "webm" => "video/webm",
                _ => return None,
            };
            return Some((Self::Video(role), media_type));
        }
        None
    }
}

/// One written file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleFile {
    /// What it is.
    pub role: CaptureRole,
    /// Where it is.
    pub path: PathBuf,
    /// Its media type.
    pub media_type: &'static str,
    /// SHA-256 of its bytes.
    pub sha256: Sha256Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// A written sample capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleCapture {
    /// The folder.
    pub dir: PathBuf,
    /// The report number (the token's `sub`).
    pub report_number: String,
    /// The stone's facts.
    pub stone: Stone,
    /// The report, the six photos and the video, in that order.
    pub files: Vec<SampleFile>,
}

impl SampleCapture {
    /// The token payload for this capture (no `supersedes`).
    #[must_use]
    pub fn provenance(&self) -> Provenance {
        let mut report = None;
        let mut images = Vec::new();
        let mut videos = Vec::new();
        for f in &self.files {
            match f.role {
                CaptureRole::Report => {
                    report = Some(FileDigest {
                        sha256: f.sha256,
                        media_type: f.media_type.to_owned(),
                        size: f.size,
                    });
                }
                CaptureRole::Image(role) => images.push(ImageDigest {
                    role,
                    sha256: f.sha256,
                    media_type: f.media_type.to_owned(),
                    size: f.size,
                }),
                CaptureRole::Video(role) => videos.push(VideoDigest {
                    role,
                    sha256: f.sha256,
                    media_type: f.media_type.to_owned(),
                    size: f.size,
                }),
            }
        }
        let report = report.unwrap_or_else(|| FileDigest {
            sha256: Sha256Digest::of(b""),
            media_type: "application/pdf".to_owned(),
            size: 0,
        });
        Provenance {
            report,
            images,
            videos,
            stone: self.stone.clone(),
            supersedes: None,
        }
    }

    /// The file of `role`, if written.
    #[must_use]
    pub fn file(&self, role: CaptureRole) -> Option<&SampleFile> {
        self.files.iter().find(|f| f.role == role)
    }
}

/// The report number of `variant`: [`SAMPLE_REPORT_NUMBER`] for 0.
#[must_use]
pub fn sample_report_number(variant: u32) -> String {
    if variant == 0 {
        SAMPLE_REPORT_NUMBER.to_owned()
    } else {
        format!("LX-2026-S{variant:06}")
    }
}

/// The demo ruby (variant 0) or a sibling of it: 1.520 ct, oval, mixed
/// cut, Burmese, unheated; other variants weigh 10 mct more per step.
#[must_use]
pub fn sample_stone(variant: u32) -> Stone {
    Stone {
        variety: "Ruby".into(),
        species: "Corundum".into(),
        weight_mct: 1_520 + 10 * u64::from(variant),
        colour: "pigeon's blood red".into(),
        shape: "oval".into(),
        cut: "mixed".into(),
        clarity: "VS".into(),
        dimensions_um: [7_100, 5_600, 3_400],
        treatment: "none (no indications of heating)".into(),
        origin: Some("Myanmar (Mogok)".into()),
    }
}

/// Writes the report, the six photos and the video of `variant` into
/// `dir` (created if missing; existing sample files are replaced).
///
/// # Errors
///
/// [`SampleError`].
pub fn write_sample_capture(dir: &Path, variant: u32) -> Result<SampleCapture, SampleError> {
    std::fs::create_dir_all(dir).map_err(|source| SampleError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let report_number = sample_report_number(variant);
    let stone = sample_stone(variant);
    let mut files = Vec::new();
    for role in CaptureRole::all() {
        let (bytes, media_type) = match role {
            CaptureRole::Report => (sample_report_pdf(&report_number, &stone), "application/pdf"),
            CaptureRole::Image(r) => (sample_photo(r, variant)?, "image/png"),
            CaptureRole::Video(_) => (sample_video(variant), "video/mp4"),
        };
        let path = dir.join(role.sample_file_name());
        std::fs::write(&path, &bytes).map_err(|source| SampleError::Write {
            path: path.clone(),
            source,
        })?;
        files.push(SampleFile {
            role,
            path,
            media_type,
            sha256: Sha256Digest::of(&bytes),
            size: bytes.len() as u64,
        });
    }
    Ok(SampleCapture {
        dir: dir.to_path_buf(),
        report_number,
        stone,
        files,
    })
}

/// A PDF string literal body: `(`, `)` and `\` escaped, non-ASCII and
/// control characters replaced by `?` (the standard Helvetica encoding has
/// no room for them).
fn pdf_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// A small, valid one-page PDF 1.4 report (Helvetica text, exact xref
/// offsets) stating the report number and the stone's facts.
#[must_use]
pub fn sample_report_pdf(report_number: &str, stone: &Stone) -> Vec<u8> {
    let weight = format!(
        "{}.{:03} ct",
        stone.weight_mct / 1000,
        stone.weight_mct % 1000
    );
    let [l, w, d] = stone
        .dimensions_um
        .map(|v| format!("{}.{:02}", v / 1000, v % 1000 / 10));
    let lines = [
        (
            "F2",
            16,
            "Loupe Example Gem Lab - Identification Report".to_owned(),
        ),
        ("F1", 9, "EXAMPLE DOCUMENT - NOT A REAL REPORT".to_owned()),
        ("F1", 11, format!("Report number: {report_number}")),
        (
            "F1",
            11,
            format!("Variety: {} ({})", stone.variety, stone.species),
        ),
        ("F1", 11, format!("Weight: {weight}")),
        (
            "F1",
            11,
            format!("Shape and cut: {}, {}", stone.shape, stone.cut),
        ),
        ("F1", 11, format!("Measurements: {l} x {w} x {d} mm")),
        ("F1", 11, format!("Colour: {}", stone.colour)),
        ("F1", 11, format!("Clarity: {}", stone.clarity)),
        ("F1", 11, format!("Treatment: {}", stone.treatment)),
        (
            "F1",
            11,
            format!(
                "Origin: {}",
                stone.origin.as_deref().unwrap_or("not determined")
            ),
        ),
    ];
    let mut content = String::from("BT\n50 340 Td\n");
    for (i, (font, size, text)) in lines.iter().enumerate() {
        if i > 0 {
            content.push_str("0 -24 Td\n");
        }
        let _ = writeln!(content, "/{font} {size} Tf ({}) Tj", pdf_text(text));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 400] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>".to_owned(),
        format!(
            "<< /Title ({}) /Producer (loupe-issuer sample) >>",
            pdf_text(&format!("Report {report_number}"))
        ),
    ];
    // A binary comment line tells tools the file holds 8-bit data.
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        let _ = writeln!(tail, "{o:010} 00000 n ");
    }
    let _ = write!(
        tail,
        "trailer\n<< /Size {} /Root 1 0 R /Info 7 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    pdf.extend_from_slice(tail.as_bytes());
    pdf
}

/// Ruby red, shaded by `t` in 0..=1 (dark to bright), nudged by `variant`.
fn ruby(t: f32, variant: u32) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0);
    let v = (variant % 8) as f32;
    Rgb([
        (90.0 + 160.0 * t) as u8,
        (5.0 + 40.0 * t * t + v) as u8,
        (25.0 + 45.0 * t + 2.0 * v) as u8,
    ])
}

/// Inside an ellipse centred at (`cx`, `cy`) with radii `rx`, `ry`:
/// the normalised radius (< 1 inside).
fn ellipse(x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32) -> f32 {
    let (dx, dy) = ((x - cx) / rx, (y - cy) / ry);
    (dx * dx + dy * dy).sqrt()
}

/// Facet brightness for a point at angle `a` and normalised radius `r`:
/// alternating wedges, like the brilliance of a faceted stone.
fn facets(a: f32, r: f32, wedges: f32) -> f32 {
    let wedge = ((a / (2.0 * PI) * wedges).floor() as i32).rem_euclid(2) as f32;
    0.35 + 0.4 * wedge * (1.0 - r) + 0.25 * (1.0 - r)
}

/// A 128×128 PNG of `role`: each shot draws its own view of the oval
/// ruby, so the six files differ in content, not just in tint.
///
/// # Errors
///
/// [`SampleError::Png`] if encoding fails.
pub fn sample_photo(role: ImageRole, variant: u32) -> Result<Vec<u8>, SampleError> {
    let s = PHOTO_SIZE as f32;
    let c = s / 2.0;
    let background = Rgb([236u8, 234, 228]);
    let img = RgbImage::from_fn(PHOTO_SIZE, PHOTO_SIZE, |x, y| {
        let (x, y) = (x as f32 + 0.5, y as f32 + 0.5);
        let a = (y - c).atan2(x - c);
        match role {
            // Face up: the oval with crown facets.
            ImageRole::FaceUp => {
                let r = ellipse(x, y, c, c, 44.0, 34.0);
                if r <= 1.0 {
                    ruby(facets(a, r, 16.0), variant)
                } else {
                    background
                }
            }
            // Table: straight down on the octagonal table facet.
            ImageRole::Table => {
                let r = ellipse(x, y, c, c, 44.0, 34.0);
                let oct = (x - c).abs() / 24.0 + (y - c).abs() / 18.0;
                let box_ = ((x - c).abs() / 22.0).max((y - c).abs() / 16.0);
                if r > 1.0 {
                    background
                } else if oct.max(box_ * 0.8) <= 1.0 {
                    ruby(0.95, variant)
                } else {
                    ruby(facets(a, r, 8.0) * 0.8, variant)
                }
            }
            // Pavilion: the underside, facets converging on the culet.
            ImageRole::Pavilion => {
                let r = ellipse(x, y, c, c, 44.0, 34.0);
                if r <= 1.0 {
                    let culet = if r < 0.06 { 0.1 } else { 0.0 };
                    ruby(facets(a + 0.2, r, 8.0) * 0.7 - culet, variant)
                } else {
                    Rgb([40, 40, 46])
                }
            }
            // Side: profile, crown trapezoid over pavilion triangle.
            ImageRole::Side => {
                let girdle = 58.0;
                let half = 50.0;
                let crown = y <= girdle && y >= 40.0 && (x - c).abs() <= half - (girdle - y) * 1.4;
                let pavilion = y > girdle && (x - c).abs() <= half * (1.0 - (y - girdle) / 46.0);
                if crown || pavilion {
                    let t = if crown { 0.8 } else { 0.45 } + 0.2 * ((x / 9.0).floor() % 2.0);
                    ruby(t, variant)
                } else if y > 106.0 {
                    Rgb([200, 198, 190])
                } else {
                    background
                }
            }
            // Girdle: a close-up band with an inscription-like dot row.
            ImageRole::Girdle => {
                let band = (y - c).abs() <= 14.0;
                let dots = (y - c).abs() <= 2.0
                    && (x as u32 / 6).is_multiple_of(2)
                    && (20.0..108.0).contains(&x);
                if dots {
                    Rgb([250, 250, 250])
                } else if band {
                    ruby(0.55 + 0.1 * ((x / 3.0).sin()), variant)
                } else if y < c {
                    ruby(0.8, variant)
                } else {
                    ruby(0.4, variant)
                }
            }
            // Swatch: the stone beside a six-patch colour card.
            ImageRole::Swatch => {
                const CARD: [[u8; 3]; 6] = [
                    [255, 255, 255],
                    [128, 128, 128],
                    [20, 20, 20],
                    [200, 30, 40],
                    [40, 160, 60],
                    [40, 70, 190],
                ];
                if (8.0..40.0).contains(&x) && (8.0..120.0).contains(&y) {
                    let patch = ((y - 8.0) / (112.0 / 6.0)) as usize;
                    Rgb(CARD.get(patch).copied().unwrap_or([0, 0, 0]))
                } else {
                    let r = ellipse(x, y, 84.0, c, 30.0, 24.0);
                    if r <= 1.0 {
                        ruby(facets(a, r, 12.0), variant)
                    } else {
                        Rgb([250, 250, 250])
                    }
                }
            }
        }
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(SampleError::Png)?;
    Ok(out.into_inner())
}

/// Stand-in bytes for the light-play video: a well-formed ISO base media
/// file (`ftyp` box, then an `mdat` box of 8 KiB of deterministic data), so
/// tools see an MP4 container; it holds no playable track.
#[must_use]
pub fn sample_video(variant: u32) -> Vec<u8> {
    const PAYLOAD: u32 = 8 * 1024;
    let mut v = Vec::with_capacity(PAYLOAD as usize + 40);
    v.extend_from_slice(&24u32.to_be_bytes());
    v.extend_from_slice(b"ftypisom");
    v.extend_from_slice(&0x200u32.to_be_bytes());
    v.extend_from_slice(b"isomiso2");
    v.extend_from_slice(&(PAYLOAD + 8).to_be_bytes());
    v.extend_from_slice(b"mdat");
    let mut x = (0x9e37_79b9u32 ^ variant.wrapping_mul(0x85eb_ca6b)) | 1;
    for _ in 0..PAYLOAD {
        // xorshift32: deterministic, dependency-free filler.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push((x >> 24) as u8);
    }
    v
}

#[cfg(test)]
mod tests;
