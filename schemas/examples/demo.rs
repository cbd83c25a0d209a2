//! The Loupe demo: a lab issues a provenance token for a ruby, logs it in a
//! Merkle transparency log, and a buyer verifies it from files alone.
//!
//! ```sh
//! cargo run --release -p loupe-schemas --example demo [-- OUT_DIR]
//! ```
//!
//! Uses the example keys in `keys-example/` (never for production). Writes
//! the sample report and photos, the token, its proof bundle, its receipt and
//! the transparent token (token + receipt) to OUT_DIR (a fresh temporary
//! folder by default), then verifies everything from those files and shows
//! that a flipped byte in the token or a swapped photo is caught.
//!
//! This exercises the `loupe-schemas` formats end to end; the lab-side HTTP
//! service (`loupe-issuer`) and the `loupe` verifier build on exactly these.

use std::error::Error;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use ed25519_dalek::{SigningKey, VerifyingKey};
use image::{ImageFormat, Rgb, RgbImage};
use loupe_schemas::bundle::{LogPolicy, ProofBundle, Receipt};
use loupe_schemas::checkpoint::{
    Checkpoint, CosignatureSigner, NoteSigner, NoteVerifier, open_checkpoint, sign_checkpoint,
};
use loupe_schemas::merkle::{MemoryHashStore, prove_inclusion};
use loupe_schemas::token::{
    Algorithm, FileDigest, ImageDigest, ImageRole, MediaRole, Provenance, RevocationBuilder,
    Sha256Digest, Stone, Token, TokenBuilder, VideoDigest, VideoRole,
};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const ISSUER: &str = "lab.example";
const LOG_ORIGIN: &str = "lab.example/log";
const PUBLIC_BASE_URL: &str = "https://lab.example";

fn main() -> Result<()> {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example");
    let out = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("loupe-demo-{}", std::process::id())),
    };
    fs::create_dir_all(&out)?;

    println!("Loupe demo — example keys from keys-example/ (NEVER for production)\n");

    // ---- The lab ---------------------------------------------------------
    let issuer_key = SigningKey::from_pkcs8_pem(&fs::read_to_string(keys.join("issuer.key.pem"))?)?;
    let log_key = SigningKey::from_pkcs8_pem(&fs::read_to_string(keys.join("log.key.pem"))?)?;
    let x5chain = vec![
        fs::read(keys.join("lab.cert.der"))?,
        fs::read(keys.join("root-ca.cert.der"))?,
    ];

    println!(
        "1. The lab captures the stone: report PDF, the six standard photos, a light-play video"
    );
    let report = write(&out, "report.pdf", &sample_pdf())?;
    let mut images = Vec::new();
    for (i, role) in <ImageRole as MediaRole>::ALL.iter().enumerate() {
        let bytes = sample_photo(i as u8)?;
        let name = format!("{role}.png");
        write(&out, &name, &bytes)?;
        images.push(ImageDigest {
            role: *role,
            sha256: Sha256Digest::of(&bytes),
            media_type: "image/png".into(),
            size: bytes.len() as u64,
        });
    }
    let video = sample_video();
    write(&out, "light-play.mp4", &video)?;
    let provenance = Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(&report),
            media_type: "application/pdf".into(),
            size: report.len() as u64,
        },
        images,
        videos: vec![VideoDigest {
            role: VideoRole::LightPlay,
            sha256: Sha256Digest::of(&video),
            media_type: "video/mp4".into(),
            size: video.len() as u64,
        }],
        stone: Stone {
            variety: "Ruby".into(),
            species: "Corundum".into(),
            weight_mct: 1_520,
            colour: "pigeon's blood red".into(),
            shape: "oval".into(),
            cut: "mixed".into(),
            clarity: "VS".into(),
            dimensions_um: [7_100, 5_600, 3_400],
            treatment: "none (no indications of heating)".into(),
            origin: Some("Myanmar (Mogok)".into()),
        },
        supersedes: None,
    };

    println!(
        "2. The lab signs a provenance token (COSE_Sign1, alg EdDSA, x5chain: lab cert + root CA)"
    );
    let token = TokenBuilder::new(ISSUER, "LX-2026-004211", provenance.clone())
        .alg(Algorithm::EdDsa)
        .x5chain(x5chain)
        .sign(&issuer_key)?;
    let url = format!("{PUBLIC_BASE_URL}/t/{}", token.id());
    println!(
        "   token id  {}\n   QR URL    {url}\n   size      {} bytes",
        token.id(),
        token.to_bytes().len()
    );

    println!("3. The token goes into the lab's append-only Merkle log (RFC 9162)");
    let mut log = MemoryHashStore::default();
    // Earlier history: two stones, one of them later revoked.
    let mut earlier = Vec::new();
    for (n, sub) in ["LX-2026-004101", "LX-2026-004150"].into_iter().enumerate() {
        let mut p = provenance.clone();
        p.stone.weight_mct += 100 * (n as u64 + 1);
        let t = TokenBuilder::new(ISSUER, sub, p).sign(&issuer_key)?;
        log.append_leaf(t.logged_bytes())?;
        earlier.push(t);
    }
    let revocation =
        RevocationBuilder::new(ISSUER, earlier[0].id(), "report reissued after re-cut")
            .sign(&issuer_key)?;
    log.append_leaf(revocation.logged_bytes())?;
    let index = log.append_leaf(token.logged_bytes())?;
    let size = log.tree_size();
    let root = log.root()?;

    let log_signer = NoteSigner::new(LOG_ORIGIN, log_key.clone())?;
    let checkpoint = sign_checkpoint(
        &Checkpoint::new(LOG_ORIGIN, size, root, vec![])?,
        &log_signer,
    )?;
    // A witness (a fresh key for the demo) checks and cosigns the checkpoint.
    let witness =
        CosignatureSigner::new("witness.example", SigningKey::generate(&mut rand::rng()))?;
    let now = unix_now();
    let seen = open_checkpoint(
        checkpoint.as_bytes(),
        LOG_ORIGIN,
        &log_signer.verifier(),
        &[],
        0,
        now,
    )?;
    let checkpoint = witness.cosign(&seen, now)?;
    println!(
        "   leaf index {index} of {size}; checkpoint signed by the log and cosigned by a witness"
    );

    let proof = prove_inclusion(index, size, &log)?;
    let bundle = ProofBundle::new(index, proof.path.clone(), checkpoint.clone());
    let receipt = Receipt::sign(&log_key, Algorithm::EdDsa, LOG_ORIGIN, &proof, &root);
    write(&out, "token.cbor", &token.to_bytes())?;
    write(&out, "token.tlog-proof", bundle.to_text().as_bytes())?;
    write(&out, "token.receipt.cbor", &receipt)?;
    write(
        &out,
        "token.transparent.cbor",
        &token.with_receipts(vec![receipt]),
    )?;
    write(&out, "checkpoint", checkpoint.as_bytes())?;
    println!(
        "   wrote token.cbor, token.tlog-proof, token.receipt.cbor, token.transparent.cbor to\n   {}",
        out.display()
    );

    // ---- The buyer: only files and the lab's published keys --------------
    println!("\n4. A buyer verifies from the files alone, trusting only the published keys:");
    let issuer_pub =
        VerifyingKey::from_public_key_pem(&fs::read_to_string(keys.join("issuer.pub.pem"))?)?;
    let policy = LogPolicy::new(
        LOG_ORIGIN,
        NoteVerifier::from_vkey(fs::read_to_string(keys.join("log.vkey"))?.trim())?,
    )
    .with_witnesses(vec![witness.verifier()], 1);
    verify_files(&out, &url, &issuer_pub, &policy)?;

    println!("\n5. Tampering is caught:");
    let mut forged = fs::read(out.join("token.cbor"))?;
    let at = forged.len() / 2;
    forged[at] ^= 0x01;
    let verdict = match Token::parse(&forged) {
        Err(e) => format!("rejected when parsing: {e}"),
        Ok(t) => match t.verify(&issuer_pub) {
            Err(e) => format!("rejected: {e}"),
            Ok(_) => "ACCEPTED".into(),
        },
    };
    println!("   one flipped bit in the token        → {verdict}");
    let other_photo = sample_photo(200)?;
    let face_up = &provenance.images[0];
    let matches = Sha256Digest::of(&other_photo) == face_up.sha256;
    println!(
        "   a different face-up photo            → {}",
        if matches {
            "ACCEPTED"
        } else {
            "digest mismatch: not the certified photo"
        }
    );
    if verdict == "ACCEPTED" || matches {
        return Err("tampering went unnoticed".into());
    }
    println!("\nDone. Everything above is in {}", out.display());
    Ok(())
}

/// The checks a verifier makes, from files alone.
fn verify_files(dir: &Path, url: &str, issuer: &VerifyingKey, policy: &LogPolicy) -> Result<()> {
    let token = Token::parse(&fs::read(dir.join("token.transparent.cbor"))?)?;
    check(
        "URL commits to the token",
        url.ends_with(&format!("/t/{}", token.id())),
    )?;
    let verified = token.verify(issuer)?;
    check("issuer signature (EdDSA, key from issuer.pub.pem)", true)?;
    check(
        "x5chain leaf is the signing key",
        leaf_key_matches(&token, issuer),
    )?;
    let bundle = ProofBundle::parse(&fs::read(dir.join("token.tlog-proof"))?)?;
    let included = bundle.verify(token.logged_bytes(), policy, unix_now())?;
    check(
        &format!(
            "in log {} at index {} of {} (checkpoint signature, 1 witness cosignature, inclusion proof)",
            included.checkpoint().origin(),
            included.leaf_index(),
            included.checkpoint().size()
        ),
        true,
    )?;
    let [receipt] = token.receipts() else {
        return Err("expected one receipt".into());
    };
    let receipt = Receipt::parse(receipt)?.verify(
        token.logged_bytes(),
        &policy.origin,
        policy.log.verifying_key(),
    )?;
    check(
        "COSE receipt (RFC 9942) agrees with the checkpoint",
        receipt.root() == included.checkpoint().root_hash(),
    )?;
    let p = verified.provenance();
    check(
        "report.pdf matches its certified SHA-256",
        Sha256Digest::of(&fs::read(dir.join("report.pdf"))?) == p.report.sha256,
    )?;
    for image in &p.images {
        let name = format!("{}.png", image.role);
        check(
            &format!("{name} matches"),
            Sha256Digest::of(&fs::read(dir.join(&name))?) == image.sha256,
        )?;
    }
    let s = &p.stone;
    println!(
        "   → VALID: {} {}, {:.2} ct, {}, {}, report {} by {}",
        s.variety,
        s.species.to_lowercase(),
        s.weight_mct as f64 / 1000.0,
        s.colour,
        s.shape,
        verified.claims().sub,
        verified.claims().iss
    );
    Ok(())
}

fn leaf_key_matches(token: &Token, issuer: &VerifyingKey) -> bool {
    let Some([leaf, ..]) = token.x5chain() else {
        return false;
    };
    match x509_parser::parse_x509_certificate(leaf) {
        Ok((_, cert)) => cert.public_key().subject_public_key.data.as_ref() == issuer.as_bytes(),
        Err(_) => false,
    }
}

fn check(what: &str, ok: bool) -> Result<()> {
    if ok {
        println!("   ✓ {what}");
        Ok(())
    } else {
        println!("   ✗ {what}");
        Err(format!("check failed: {what}").into())
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    fs::write(dir.join(name), bytes)?;
    Ok(bytes.to_vec())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A small but valid one-page PDF.
fn sample_pdf() -> Vec<u8> {
    let text =
        "BT /F1 14 Tf 40 140 Td (Loupe example lab report LX-2026-004211: ruby, 1.520 ct) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// A 96×96 PNG: a red oval "stone" on a tinted background, one tint per shot.
fn sample_photo(shot: u8) -> Result<Vec<u8>> {
    let img = RgbImage::from_fn(96, 96, |x, y| {
        let (dx, dy) = (x as f32 - 48.0, y as f32 - 48.0);
        if (dx * dx) / (34.0 * 34.0) + (dy * dy) / (26.0 * 26.0) <= 1.0 {
            let shade = 120 + ((x + y) % 64) as u8 + shot / 4;
            Rgb([shade.saturating_add(60), 10, 30])
        } else {
            Rgb([
                230u8.wrapping_sub(shot.wrapping_mul(9)),
                228,
                220u8.wrapping_add(shot),
            ])
        }
    });
    let mut bytes = Cursor::new(Vec::new());
    img.write_to(&mut bytes, ImageFormat::Png)?;
    Ok(bytes.into_inner())
}

/// Stand-in bytes for the light-play video (a real capture is an MP4).
fn sample_video() -> Vec<u8> {
    let mut v = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2".to_vec();
    v.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    v
}
