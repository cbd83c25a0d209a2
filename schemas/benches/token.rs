//! Token sign / parse / verify against raw ed25519-dalek, in one run.
//!
//! `cargo bench -p loupe-schemas --bench token`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer as _, SigningKey};
use loupe_schemas::token::{
    Cti, FileDigest, ImageDigest, ImageRole, Provenance, Sha256Digest, Stone, Token, TokenBuilder,
    VideoDigest, VideoRole,
};

fn provenance() -> Provenance {
    Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(b"report"),
            media_type: "application/pdf".into(),
            size: 250_000,
        },
        images: [
            ImageRole::FaceUp,
            ImageRole::Table,
            ImageRole::Pavilion,
            ImageRole::Side,
            ImageRole::Girdle,
            ImageRole::Swatch,
        ]
        .into_iter()
        .map(|role| ImageDigest {
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

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[42; 32]);
    let vk = key.verifying_key();
    let builder = TokenBuilder::new("lab.example", "R-2024-0001", provenance())
        .iat(1_700_000_000)
        .cti(Cti([7; 16]));
    let Ok(token) = builder.clone().sign(&key) else {
        panic!("sign failed");
    };
    let bytes = token.logged_bytes().to_vec();
    // Raw Ed25519 over a message of the same size as the token's Sig_structure.
    let msg = vec![0xa5u8; bytes.len()];
    let sig = key.sign(&msg);

    let mut g = c.benchmark_group("token");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign (build+sign+self-parse)", |b| {
        b.iter(|| black_box(builder.clone()).sign(&key))
    });
    g.bench_function("parse", |b| b.iter(|| Token::parse(black_box(&bytes))));
    g.bench_function("verify (parse+verify)", |b| {
        b.iter(|| Token::parse(black_box(&bytes)).map(|t| t.verify(&vk).is_ok()))
    });
    g.bench_function("raw ed25519 sign", |b| b.iter(|| key.sign(black_box(&msg))));
    g.bench_function("raw ed25519 verify", |b| {
        use ed25519_dalek::Verifier as _;
        b.iter(|| vk.verify(black_box(&msg), &sig).is_ok())
    });
    g.bench_function("raw ed25519 verify_strict", |b| {
        b.iter(|| vk.verify_strict(black_box(&msg), &sig).is_ok())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
