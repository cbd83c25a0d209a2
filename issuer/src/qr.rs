//! QR codes for token URLs (`{public_base_url}/t/{token_id}`): SVG for the
//! web and print, PNG for labels and listings, Unicode half blocks for a
//! terminal.
//!
//! The `qrcode` crate only encodes; the three renderings are drawn here from
//! the module matrix so that they agree exactly: error correction level M
//! (about 15 % of the code may be damaged), byte mode (a token id is
//! case-sensitive base64url, so the alphanumeric mode does not apply), and a
//! quiet zone of [`QUIET_ZONE`] light modules on every side, as ISO/IEC 18004
//! asks. A typical token URL of 60–70 bytes gives a version 4 or 5 code
//! (33 or 37 modules, 41 or 45 with the quiet zone).
//!
//! ```
//! let url = "https://lab.example/t/47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";
//! let svg = loupe_issuer::qr::svg(url)?;
//! assert!(svg.starts_with("<svg"));
//! let png = loupe_issuer::qr::png(url, loupe_issuer::qr::DEFAULT_MODULE_PX)?;
//! assert!(png.starts_with(b"\x89PNG"));
//! print!("{}", loupe_issuer::qr::terminal(url)?);
//! # Ok::<(), loupe_issuer::qr::QrError>(())
//! ```

use std::fmt::Write as _;
use std::io::Cursor;

use image::{GrayImage, ImageFormat, Luma};
use qrcode::{EcLevel, QrCode};

/// Light modules around the code on every side (ISO/IEC 18004: four).
pub const QUIET_ZONE: usize = 4;
/// Longest URL accepted, in bytes. A token URL is about 70 bytes; this
/// leaves room for long base URLs while keeping codes scannable.
pub const MAX_URL_LEN: usize = 1024;
/// Pixels per module for [`png`] when the caller has no preference: a
/// 45-module code becomes 360 × 360 px.
pub const DEFAULT_MODULE_PX: u32 = 8;
/// Largest module size accepted by [`png`], in pixels.
pub const MAX_MODULE_PX: u32 = 64;
/// Size of one module in the SVG's nominal `width`/`height`, in CSS px.
const SVG_MODULE_PX: usize = 8;

/// A QR code could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The URL is longer than [`MAX_URL_LEN`].
    #[error("the URL is {len} bytes long; at most {MAX_URL_LEN} are accepted")]
    TooLong {
        /// Length of the URL in bytes.
        len: usize,
    },
    /// The encoder refused the data.
    #[error("cannot encode the URL as a QR code: {0}")]
    Encode(#[source] qrcode::types::QrError),
    /// The module size is 0 or over [`MAX_MODULE_PX`].
    #[error("module size {0} px is outside 1..={MAX_MODULE_PX}")]
    ModuleSize(u32),
    /// PNG encoding failed.
    #[error("cannot encode the PNG: {0}")]
    Png(#[source] image::ImageError),
}

/// The module matrix with its quiet zone.
struct Matrix {
    /// Modules per side, quiet zone excluded.
    width: usize,
    dark: Vec<bool>,
}

impl Matrix {
    fn encode(url: &str) -> Result<Self, QrError> {
        if url.len() > MAX_URL_LEN {
            return Err(QrError::TooLong { len: url.len() });
        }
        let code = QrCode::with_error_correction_level(url, EcLevel::M).map_err(QrError::Encode)?;
        let width = code.width();
        let dark = code
            .into_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect();
        Ok(Self { width, dark })
    }

    /// Modules per side, quiet zone included.
    fn size(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }

    /// Whether the module at (`x`, `y`) is dark; coordinates include the
    /// quiet zone, and anything outside the code is light.
    fn is_dark(&self, x: usize, y: usize) -> bool {
        let (Some(x), Some(y)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return false;
        };
        if x >= self.width || y >= self.width {
            return false;
        }
        self.dark.get(y * self.width + x).copied().unwrap_or(false)
    }
}

/// An SVG image of the QR code for `url`: black modules on a white
/// background, `viewBox="0 0 N N"` in modules (quiet zone included), a
/// nominal size of 8 px per module, `shape-rendering="crispEdges"`, and a
/// `<title>` holding the URL for screen readers.
///
/// # Errors
///
/// [`QrError::TooLong`] or [`QrError::Encode`].
pub fn svg(url: &str) -> Result<String, QrError> {
    let m = Matrix::encode(url)?;
    let n = m.size();
    let px = n * SVG_MODULE_PX;
    let mut out = String::with_capacity(256 + 16 * m.width * m.width / 2);
    // `write!` to a String cannot fail; the results are ignored on purpose.
    let _ = write!(
        out,
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" "#,
            r#"width="{px}" height="{px}" viewBox="0 0 {n} {n}" "#,
            r#"shape-rendering="crispEdges" role="img" aria-label="QR code">"#,
            "<title>{title}</title>",
            r##"<rect width="{n}" height="{n}" fill="#ffffff"/><path fill="#000000" d=""##,
        ),
        px = px,
        n = n,
        title = xml_escape(url),
    );
    for y in 0..n {
        let mut x = 0;
        while x < n {
            if !m.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < n && m.is_dark(x, y) {
                x += 1;
            }
            let _ = write!(out, "M{start} {y}h{}v1h-{}z", x - start, x - start);
        }
    }
    out.push_str(r#""/></svg>"#);
    Ok(out)
}

/// A PNG image (8-bit greyscale) of the QR code for `url`, `module_px`
/// pixels per module, quiet zone included. [`DEFAULT_MODULE_PX`] suits
/// screens and most prints.
///
/// # Errors
///
/// [`QrError::TooLong`], [`QrError::Encode`], [`QrError::ModuleSize`] for a
/// module size outside `1..=MAX_MODULE_PX`, or [`QrError::Png`].
pub fn png(url: &str, module_px: u32) -> Result<Vec<u8>, QrError> {
    if !(1..=MAX_MODULE_PX).contains(&module_px) {
        return Err(QrError::ModuleSize(module_px));
    }
    let m = Matrix::encode(url)?;
    let px = module_px as usize;
    // At most (177 + 8) × 64 = 11 840 px a side: fits u32 comfortably.
    let side = u32::try_from(m.size() * px).map_err(|_| QrError::ModuleSize(module_px))?;
    let img = GrayImage::from_fn(side, side, |x, y| {
        let dark = m.is_dark(x as usize / px, y as usize / px);
        Luma([if dark { 0 } else { 255 }])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(QrError::Png)?;
    Ok(out.into_inner())
}

/// The QR code for `url` as text for a terminal: Unicode half blocks, two
/// module rows per line, one module per column, quiet zone included.
///
/// Every line sets an explicit black foreground on a white background
/// (xterm 256-colour indices 16 and 231, which colour themes leave alone)
/// and resets at its end, so the code reads the same on dark and light
/// terminals. Lines end with `\n`.
///
/// # Errors
///
/// [`QrError::TooLong`] or [`QrError::Encode`].
pub fn terminal(url: &str) -> Result<String, QrError> {
    const START: &str = "\x1b[38;5;16;48;5;231m";
    const RESET: &str = "\x1b[0m";
    let m = Matrix::encode(url)?;
    let n = m.size();
    let mut out = String::with_capacity((n / 2 + 1) * (n * 3 + START.len() + RESET.len() + 1));
    for y in (0..n).step_by(2) {
        out.push_str(START);
        for x in 0..n {
            // Past the last row (n is odd) counts as light quiet zone.
            out.push(match (m.is_dark(x, y), m.is_dark(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push_str(RESET);
        out.push('\n');
    }
    Ok(out)
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most C0 controls even when escaped.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_URL: &str = "https://lab.example/t/47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

    fn urls() -> Vec<String> {
        vec![
            TOKEN_URL.to_owned(),
            "http://127.0.0.1:8080/t/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            "https://certificates.some-long-gem-lab-name.example.com/loupe/t/_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_".to_owned(),
            "https://x.example/".to_owned(),
            format!("https://lab.example/t/{}?q=a&b=<c>", "Z".repeat(43)),
        ]
    }

    fn decode_png(bytes: &[u8]) -> String {
        let img = image::load_from_memory_with_format(bytes, ImageFormat::Png)
            .expect("PNG decodes")
            .to_luma8();
        let (w, h) = img.dimensions();
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
                img.get_pixel(x as u32, y as u32).0[0]
            });
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "exactly one QR code found");
        let (_, content) = grids[0].decode().expect("rqrr decodes the grid");
        content
    }

    #[test]
    fn png_decodes_to_exactly_the_url_with_rqrr() {
        let token_id = &TOKEN_URL[TOKEN_URL.len() - 43..];
        assert_eq!(token_id.len(), 43);
        for url in urls() {
            for px in [3, DEFAULT_MODULE_PX] {
                let png = png(&url, px).expect("encodes");
                assert_eq!(decode_png(&png), url, "url {url:?} at {px} px/module");
            }
        }
    }

    #[test]
    fn png_has_quiet_zone_and_expected_size() {
        let png = png(TOKEN_URL, 4).expect("encodes");
        let img = image::load_from_memory(&png).expect("decodes").to_luma8();
        // 65 bytes at level M in byte mode: version 5, 37 modules.
        assert_eq!(img.dimensions(), ((37 + 8) * 4, (37 + 8) * 4));
        let light_border = (0..img.width()).all(|i| {
            [(i, 0), (0, i), (i, img.height() - 1), (img.width() - 1, i)]
                .iter()
                .all(|&(x, y)| img.get_pixel(x, y).0[0] == 255)
        });
        assert!(light_border);
        // The finder pattern starts right after the quiet zone.
        assert_eq!(img.get_pixel(16, 16).0[0], 0);
        assert_eq!(img.get_pixel(15, 15).0[0], 255);
    }

    #[test]
    fn png_refuses_bad_module_sizes() {
        for px in [0, MAX_MODULE_PX + 1, u32::MAX] {
            assert!(matches!(png(TOKEN_URL, px), Err(QrError::ModuleSize(p)) if p == px));
        }
        assert!(png(TOKEN_URL, 1).is_ok());
    }

    #[test]
    fn too_long_urls_are_refused_not_panicking() {
        let long = format!("https://lab.example/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(svg(&long), Err(QrError::TooLong { .. })));
        assert!(matches!(png(&long, 4), Err(QrError::TooLong { .. })));
        assert!(matches!(terminal(&long), Err(QrError::TooLong { .. })));
        // Within our cap but beyond what level M holds (2331 bytes) is not
        // reachable; the encoder's own refusal is still mapped.
        assert!(svg(&"a".repeat(MAX_URL_LEN)).is_ok());
    }

    #[test]
    fn svg_is_well_formed_xml_with_the_right_view_box() {
        for url in urls() {
            let svg = svg(&url).expect("encodes");
            let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "svg");
            assert_eq!(
                root.tag_name().namespace(),
                Some("http://www.w3.org/2000/svg")
            );
            let n = QrCode::with_error_correction_level(&url, EcLevel::M)
                .expect("encodes")
                .width()
                + 2 * QUIET_ZONE;
            assert_eq!(root.attribute("viewBox"), Some(&*format!("0 0 {n} {n}")));
            let title = root
                .children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|t| t.text());
            assert_eq!(
                title,
                Some(url.as_str()),
                "title round-trips through escaping"
            );
            let path = root
                .children()
                .find(|c| c.has_tag_name("path"))
                .expect("one path");
            assert!(path.attribute("d").is_some_and(|d| d.starts_with("M4 4h7")));
        }
    }

    #[test]
    fn svg_modules_match_the_png() {
        // Rasterise the SVG path (only "M x y h w v1 h-w z" runs) and
        // compare with the PNG at one pixel per module.
        let svg = svg(TOKEN_URL).expect("encodes");
        let doc = roxmltree::Document::parse(&svg).expect("XML");
        let d = doc
            .descendants()
            .find(|c| c.has_tag_name("path"))
            .and_then(|p| p.attribute("d"))
            .expect("path");
        let img = image::load_from_memory(&png(TOKEN_URL, 1).expect("png"))
            .expect("decodes")
            .to_luma8();
        let n = img.width() as usize;
        let mut grid = vec![false; n * n];
        for run in d.split('M').filter(|r| !r.is_empty()) {
            let (xy, rest) = run.split_once('h').expect("h");
            let (x, y) = xy.split_once(' ').expect("x y");
            let len = rest.split_once('v').expect("v").0;
            let (x, y, len): (usize, usize, usize) = (
                x.parse().expect("x"),
                y.parse().expect("y"),
                len.parse().expect("len"),
            );
            for i in x..x + len {
                grid[y * n + i] = true;
            }
        }
        for (i, p) in img.pixels().enumerate() {
            assert_eq!(grid[i], p.0[0] == 0, "module {} {}", i % n, i / n);
        }
    }

    #[test]
    fn terminal_draws_half_blocks_on_an_explicit_light_background() {
        let text = terminal(TOKEN_URL).expect("encodes");
        let lines: Vec<&str> = text.lines().collect();
        let n = 37 + 2 * QUIET_ZONE;
        assert_eq!(lines.len(), n.div_ceil(2));
        for line in &lines {
            let body = line
                .strip_prefix("\x1b[38;5;16;48;5;231m")
                .and_then(|l| l.strip_suffix("\x1b[0m"))
                .expect("every line sets colours and resets");
            assert_eq!(body.chars().count(), n);
            assert!(body.chars().all(|c| " ▀▄█".contains(c)));
        }
        // Quiet zone: the first two lines are blank (4 module rows).
        assert!(lines[..2].iter().all(|l| !l.contains(['▀', '▄', '█'])));
        // Reassemble the modules and compare with the PNG.
        let img = image::load_from_memory(&png(TOKEN_URL, 1).expect("png"))
            .expect("decodes")
            .to_luma8();
        for (row, line) in lines.iter().enumerate() {
            let body: Vec<char> = line
                .trim_start_matches("\x1b[38;5;16;48;5;231m")
                .trim_end_matches("\x1b[0m")
                .chars()
                .collect();
            for (x, c) in body.iter().enumerate() {
                let top = img.get_pixel(x as u32, 2 * row as u32).0[0] == 0;
                let bottom =
                    (2 * row + 1 < n) && img.get_pixel(x as u32, 2 * row as u32 + 1).0[0] == 0;
                assert_eq!(
                    (top || bottom, *c),
                    match (top, bottom) {
                        (true, true) => (true, '█'),
                        (true, false) => (true, '▀'),
                        (false, true) => (true, '▄'),
                        (false, false) => (false, ' '),
                    }
                );
            }
        }
    }
}
