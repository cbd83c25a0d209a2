//! Runs one token operation in a loop, for counting instructions with
//! callgrind when wall-clock benchmarks are too noisy (a shared machine).
//!
//! ```sh
//! cargo build --release -p loupe-schemas --example token_ops
//! for op in parse verify raw; do for n in 0 1000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/token_ops $op $n 2>&1 | grep refs
//! done; done
//! ```
//!
//! Instructions per operation = (refs at 1000 − refs at 0) / 1000. The
//! token is the one `benches/token.rs` measures (six photos, a video, no
//! x5chain); `raw` is `verify_strict` over a message of the same size.

use std::error::Error;
use std::hint::black_box;

use ed25519_dalek::{Signer as _, SigningKey};
use loupe_schemas::token::{
    Cti, FileDigest, ImageDigest, ImageRole, MediaRole as _, Provenance, Sha256Digest, Stone,
    Token, TokenBuilder, VideoDigest, VideoRole,
};

fn provenance() -> Provenance {
    Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(b"report"),
            media_type: "application/pdf".into(),
            size: 250_000,
        },
        images: ImageRole::ALL
            .iter()
            .map(|&role| ImageDigest {
                role,
                sha256: Sha256Digest::of(role.to_string().as_bytes()),
                media_type: "image/jpeg".into(),
                size: 2_000_000,
            })
            .collect(),
        videos: vec![VideoDigest {
            role: VideoRole::LightPlay,
            sha256: Sha256Digest::of(b"video"),
            media_type: "video/mp4".into(),
            size: 30_000_000,
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
        supersedes: None,
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: token_ops parse|verify|raw COUNT";
    let op = args.next().ok_or(usage)?;
    let count: u64 = args.next().ok_or(usage)?.parse()?;

    let key = SigningKey::from_bytes(&[42; 32]);
    let vk = key.verifying_key();
    let token = TokenBuilder::new("lab.example", "R-2024-0001", provenance())
        .iat(1_700_000_000)
        .cti(Cti([7; 16]))
        .sign(&key)?;
    let bytes = token.logged_bytes().to_vec();
    let msg = vec![0xa5u8; bytes.len()];
    let sig = key.sign(&msg);

    let mut ok = 0u64;
    for _ in 0..count {
        let pass = match op.as_str() {
            "parse" => Token::parse(black_box(&bytes)).is_ok(),
            "verify" => Token::parse(black_box(&bytes)).is_ok_and(|t| t.verify(&vk).is_ok()),
            "raw" => vk.verify_strict(black_box(&msg), &sig).is_ok(),
            _ => return Err(usage.into()),
        };
        ok += u64::from(pass);
    }
    println!("{op}: {ok}/{count} ok ({} token bytes)", bytes.len());
    Ok(())
}
