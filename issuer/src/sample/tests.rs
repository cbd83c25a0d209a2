use std::collections::HashSet;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use loupe_schemas::token::{Token, TokenBuilder};

use super::*;

#[test]
fn writes_the_eight_capture_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = write_sample_capture(dir.path(), 0).expect("writes");
    assert_eq!(capture.report_number, SAMPLE_REPORT_NUMBER);
    let names: Vec<String> = capture
        .files
        .iter()
        .map(|f| {
            f.path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "report.pdf",
            "face-up.png",
            "table.png",
            "pavilion.png",
            "side.png",
            "girdle.png",
            "swatch.png",
            "light-play.mp4"
        ]
    );
    for f in &capture.files {
        let bytes = std::fs::read(&f.path).expect("read");
        assert_eq!(Sha256Digest::of(&bytes), f.sha256, "{}", f.path.display());
        assert_eq!(bytes.len() as u64, f.size);
        let name = f.path.file_name().expect("name").to_string_lossy();
        assert_eq!(
            CaptureRole::from_file_name(&name),
            Some((f.role, f.media_type)),
            "the importer recognises {name}"
        );
    }
    let digests: HashSet<_> = capture.files.iter().map(|f| f.sha256).collect();
    assert_eq!(digests.len(), 8, "every file differs");
}

#[test]
fn photos_are_small_distinct_pngs() {
    let mut pixels = HashSet::new();
    for role in ImageRole::ALL {
        let png = sample_photo(*role, 0).expect("encodes");
        assert!(png.len() < 40_000, "{role}: {} bytes", png.len());
        let img = image::load_from_memory_with_format(&png, ImageFormat::Png)
            .expect("decodes")
            .to_rgb8();
        assert_eq!(img.dimensions(), (PHOTO_SIZE, PHOTO_SIZE));
        assert!(pixels.insert(img.into_raw()), "{role} differs in content");
    }
}

#[test]
fn provenance_validates_and_signs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = write_sample_capture(dir.path(), 0).expect("writes");
    let p = capture.provenance();
    p.validate().expect("valid provenance");
    assert_eq!(p.images.len(), 6);
    assert_eq!(p.videos.len(), 1);
    assert_eq!(p.report.media_type, "application/pdf");
    assert_eq!(
        Some(p.report.sha256),
        capture.file(CaptureRole::Report).map(|f| f.sha256)
    );
    let pem = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example/issuer.key.pem"),
    )
    .expect("example key");
    let key = SigningKey::from_pkcs8_pem(&pem).expect("key");
    let token = TokenBuilder::new("lab.example", &capture.report_number, p.clone())
        .iat(1_700_000_000)
        .sign(&key)
        .expect("signs");
    let parsed = Token::parse(token.logged_bytes()).expect("parses");
    assert_eq!(parsed.provenance(), &p);
    // Also through the JSON view.
    let json = serde_json::to_string(&p).expect("json");
    let back: Provenance = serde_json::from_str(&json).expect("json back");
    assert_eq!(back, p);
}

#[test]
fn output_is_deterministic_and_variants_differ() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let c = tempfile::tempdir().expect("tempdir");
    let first = write_sample_capture(a.path(), 0).expect("writes");
    let again = write_sample_capture(b.path(), 0).expect("writes");
    let other = write_sample_capture(c.path(), 1).expect("writes");
    let digests = |s: &SampleCapture| s.files.iter().map(|f| f.sha256).collect::<Vec<_>>();
    assert_eq!(digests(&first), digests(&again));
    assert_ne!(first.report_number, other.report_number);
    assert_ne!(first.stone, other.stone);
    let shared: Vec<_> = digests(&first)
        .into_iter()
        .filter(|d| digests(&other).contains(d))
        .collect();
    assert!(shared.is_empty(), "every file of a variant differs");
    // Rewriting in place replaces the files.
    write_sample_capture(a.path(), 0).expect("rewrites");
}

/// Parses the xref table and checks every offset, `startxref` and the
/// stream `/Length`.
#[test]
fn the_pdf_is_structurally_valid() {
    let pdf = sample_report_pdf(SAMPLE_REPORT_NUMBER, &sample_stone(0));
    assert!(pdf.starts_with(b"%PDF-1.4\n"));
    assert!(pdf.ends_with(b"%%EOF\n"));
    let text = String::from_utf8_lossy(&pdf).into_owned();
    let startxref: usize = text
        .rsplit("startxref\n")
        .next()
        .and_then(|t| t.lines().next())
        .and_then(|n| n.parse().ok())
        .expect("startxref");
    assert!(pdf[startxref..].starts_with(b"xref\n0 8\n"));
    let tail = String::from_utf8(pdf[startxref..].to_vec()).expect("ASCII tail");
    let table: Vec<&str> = tail.lines().skip(2).take(8).collect();
    assert_eq!(table[0], "0000000000 65535 f ");
    for (i, line) in table.iter().enumerate().skip(1) {
        assert_eq!(line.len(), 19, "xref lines are 20 bytes with the newline");
        let off: usize = line[..10].parse().expect("offset");
        assert!(
            pdf[off..].starts_with(format!("{i} 0 obj\n").as_bytes()),
            "object {i}"
        );
    }
    let len_at = text.find("/Length ").expect("length") + 8;
    let len: usize = text[len_at..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("length value");
    let start = text.find("stream\n").expect("stream") + 7;
    assert_eq!(&text[start + len..start + len + 9], "endstream");
    assert!(text.contains("(Report number: LX-2026-004211) Tj"));
    assert!(
        text.contains("(Origin: Myanmar \\(Mogok\\)) Tj"),
        "parentheses escaped"
    );
    assert!(text.contains("(Weight: 1.520 ct) Tj"));
    assert!(text.contains("(Measurements: 7.10 x 5.60 x 3.40 mm) Tj"));
}

#[test]
fn pdf_text_escapes() {
    assert_eq!(pdf_text(r"a(b)c\d"), r"a\(b\)c\\d");
    assert_eq!(
        pdf_text("Sri Lanka – Ratnapura\n"),
        "Sri Lanka ? Ratnapura?"
    );
}

#[test]
fn the_video_is_a_well_formed_iso_bmff_file() {
    let v = sample_video(0);
    let ftyp = u32::from_be_bytes(v[0..4].try_into().expect("4 bytes")) as usize;
    assert_eq!((ftyp, &v[4..8]), (24, &b"ftyp"[..]));
    let mdat = u32::from_be_bytes(v[24..28].try_into().expect("4 bytes")) as usize;
    assert_eq!(&v[28..32], b"mdat");
    assert_eq!(ftyp + mdat, v.len(), "boxes cover the file exactly");
    assert_ne!(sample_video(0), sample_video(1));
}

#[test]
fn capture_file_names_are_recognised_strictly() {
    let rows: &[(&str, Option<(CaptureRole, &str)>)] = &[
        ("report.pdf", Some((CaptureRole::Report, "application/pdf"))),
        ("REPORT.PDF", Some((CaptureRole::Report, "application/pdf"))),
        (
            "face-up.jpg",
            Some((CaptureRole::Image(ImageRole::FaceUp), "image/jpeg")),
        ),
        (
            "Swatch.JPEG",
            Some((CaptureRole::Image(ImageRole::Swatch), "image/jpeg")),
        ),
        (
            "girdle.png",
            Some((CaptureRole::Image(ImageRole::Girdle), "image/png")),
        ),
        (
            "light-play.mov",
            Some((CaptureRole::Video(VideoRole::LightPlay), "video/quicktime")),
        ),
        ("report.png", None),
        ("face-up.pdf", None),
        ("light-play.png", None),
        ("faceup.png", None),
        ("face-up", None),
        (".face-up.png", None),
        ("notes.txt", None),
        ("", None),
        (".", None),
    ];
    for (name, want) in rows {
        assert_eq!(CaptureRole::from_file_name(name), *want, "{name:?}");
    }
    assert_eq!(CaptureRole::all().len(), 8);
}
