//! Writes tokens made by this crate for an independent implementation to
//! check (see `tests/interop/cose_interop.py`).
//!
//! `cargo run -p loupe-schemas --example interop_emit -- DIR` writes into DIR:
//! `token.cbor` (alg −8), `token_ed25519.cbor` (alg −19),
//! `token_receipts.cbor` (token.cbor with two receipts attached),
//! `pubkey.hex` (raw 32-byte Ed25519 key), `token_id.txt`,
//! `provenance.json` and `claims.json` (the JSON views).

use std::error::Error;
use std::fs;
use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use loupe_schemas::token::{
    Algorithm, FileDigest, ImageDigest, ImageRole, Provenance, Sha256Digest, Stone, TokenBuilder,
    TokenId, VideoDigest, VideoRole,
};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: interop_emit DIR")?);
    fs::create_dir_all(&dir)?;

    let key = SigningKey::generate(&mut rand::rng());
    let provenance = Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(b"%PDF-1.7 interop report"),
            media_type: "application/pdf".into(),
            size: 23,
        },
        images: [ImageRole::FaceUp, ImageRole::Table, ImageRole::Swatch]
            .into_iter()
            .map(|role| ImageDigest {
                role,
                sha256: Sha256Digest::of(role.to_string().as_bytes()),
                media_type: "image/jpeg".into(),
                size: 1_000_000,
            })
            .collect(),
        videos: vec![VideoDigest {
            role: VideoRole::LightPlay,
            sha256: Sha256Digest::of(b"video"),
            media_type: "video/mp4".into(),
            size: 25_000_000,
        }],
        stone: Stone {
            variety: "Ruby".into(),
            species: "Corundum".into(),
            weight_mct: 1520,
            colour: "pigeon's blood".into(),
            shape: "oval".into(),
            cut: "mixed".into(),
            clarity: "VS".into(),
            dimensions_um: [7100, 5600, 3400],
            treatment: "none".into(),
            origin: Some("Myanmar".into()),
        },
        supersedes: Some(TokenId(loupe_schemas::token::sha256(b"an earlier token"))),
    };

    let token = TokenBuilder::new("lab.example", "R-2024-0042", provenance.clone()).sign(&key)?;
    let token_19 = TokenBuilder::new("lab.example", "R-2024-0043", provenance.clone())
        .alg(Algorithm::Ed25519)
        .sign(&key)?;

    fs::write(dir.join("token.cbor"), token.logged_bytes())?;
    fs::write(dir.join("token_ed25519.cbor"), token_19.logged_bytes())?;
    fs::write(
        dir.join("token_receipts.cbor"),
        token.with_receipts(vec![b"receipt one".to_vec(), b"receipt two".to_vec()]),
    )?;
    fs::write(
        dir.join("pubkey.hex"),
        hex::encode(key.verifying_key().as_bytes()),
    )?;
    fs::write(dir.join("token_id.txt"), token.id().to_string())?;
    fs::write(
        dir.join("provenance.json"),
        serde_json::to_string_pretty(&provenance)?,
    )?;
    fs::write(
        dir.join("claims.json"),
        serde_json::to_string_pretty(token.claims())?,
    )?;
    println!("wrote token {} to {}", token.id(), dir.display());
    Ok(())
}
