//! A warm verifier and 1,024 logged tokens with their proof bundles, shared
//! by the criterion bench (`benches/verify.rs`) and the callgrind example
//! (`examples/verify_ops.rs`).

use ed25519_dalek::{SigningKey, VerifyingKey};
use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::checkpoint::{Checkpoint, NoteSigner, sign_checkpoint};
use loupe_schemas::merkle::{MemoryHashStore, prove_inclusion};
use loupe_schemas::token::{
    Cti, FileDigest, ImageDigest, ImageRole, Kid, Provenance, Sha256Digest, Stone, TokenBuilder,
    VideoDigest, VideoRole,
};
use loupe_verifier::trust::{Issuer, IssuerKey, Log};
use loupe_verifier::{FilesInHand, Status, TrustStore, Verifier};

/// What the benchmarks run against.
pub struct Fixture {
    /// The lab's signing key (to sign a token-sized message for the raw rate).
    pub key: SigningKey,
    /// Its public half.
    pub vk: VerifyingKey,
    /// (token bytes, proof bundle bytes) for every leaf.
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
    /// A verifier that has already verified the log's checkpoint once.
    pub verifier: Verifier,
}

fn provenance(n: u64) -> Provenance {
    Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(&n.to_be_bytes()),
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

/// Builds the log, the bundles and a warm verifier.
pub fn fixture() -> Fixture {
    let key = SigningKey::from_bytes(&[42; 32]);
    let log_signer = NoteSigner::new("lab.example/log", SigningKey::from_bytes(&[43; 32]))
        .unwrap_or_else(|e| panic!("{e}"));
    // A log of 1M-ish shape is not needed: 1,024 tokens give a 10-hash path.
    let mut log = MemoryHashStore::default();
    let mut tokens = Vec::new();
    for n in 0..1024u64 {
        let t = TokenBuilder::new("lab.example", format!("R-{n}"), provenance(n))
            .iat(1_780_000_000)
            .cti(Cti([n as u8; 16]))
            .sign(&key)
            .unwrap_or_else(|e| panic!("{e}"));
        log.append_leaf(t.logged_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        tokens.push(t);
    }
    let size = log.tree_size();
    let root = log.root().unwrap_or_else(|e| panic!("{e}"));
    let note = sign_checkpoint(
        &Checkpoint::new("lab.example/log", size, root, vec![]).unwrap_or_else(|e| panic!("{e}")),
        &log_signer,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let items: Vec<(Vec<u8>, Vec<u8>)> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let proof = prove_inclusion(i as u64, size, &log).unwrap_or_else(|e| panic!("{e}"));
            let bundle = ProofBundle::new(i as u64, proof.path, note.clone());
            (t.to_bytes(), bundle.to_text().into_bytes())
        })
        .collect();

    let mut trust = TrustStore::default();
    trust.add_log(Log {
        origin: "lab.example/log".into(),
        keys: vec![log_signer.verifier()],
        url: "https://lab.example"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    });
    let vk = key.verifying_key();
    trust
        .add_issuer(Issuer {
            origin: "lab.example".into(),
            url: "https://lab.example"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            log: "lab.example/log".into(),
            keys: vec![IssuerKey {
                key: vk,
                kid: Kid::of(&vk),
                not_before: None,
                not_after: None,
                compromise: None,
            }],
            roots: vec![],
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let verifier = Verifier::new(trust).at_time(1_790_000_000);
    let none = FilesInHand::default();
    // Warm: the checkpoint is verified once here.
    let (t0, p0) = &items[0];
    assert_eq!(verifier.verify_offline(t0, p0, &none).status, Status::Valid);

    Fixture {
        key,
        vk,
        items,
        verifier,
    }
}
