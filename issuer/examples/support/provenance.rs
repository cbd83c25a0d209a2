//! The sample token the load examples sign: a report, the six standard
//! photos and a light-play video, as a lab would issue them. Shared by the
//! examples with `#[path = "support/provenance.rs"] mod provenance;`.

use loupe_schemas::token::{
    FileDigest, ImageDigest, ImageRole, MediaRole, Provenance, Sha256Digest, Stone, VideoDigest,
    VideoRole,
};

/// A realistic token: report, the six standard photos, a video.
pub fn provenance(n: u64) -> Provenance {
    let digest = |k: u64| Sha256Digest::of(&[n.to_be_bytes(), k.to_be_bytes()].concat());
    Provenance {
        report: FileDigest {
            sha256: digest(0),
            media_type: "application/pdf".into(),
            size: 180_000 + n,
        },
        images: <ImageRole as MediaRole>::ALL
            .iter()
            .zip(1..)
            .map(|(role, k)| ImageDigest {
                role: *role,
                sha256: digest(k),
                media_type: "image/jpeg".into(),
                size: 2_000_000 + k,
            })
            .collect(),
        videos: vec![VideoDigest {
            role: VideoRole::LightPlay,
            sha256: digest(99),
            media_type: "video/mp4".into(),
            size: 30_000_000,
        }],
        stone: Stone {
            variety: "Ruby".into(),
            species: "Corundum".into(),
            weight_mct: 1_000 + n % 5_000,
            colour: "pigeon's blood red".into(),
            shape: "oval".into(),
            cut: "mixed".into(),
            clarity: "VS".into(),
            dimensions_um: [7_100, 5_600, 3_400],
            treatment: "none".into(),
            origin: Some("Myanmar".into()),
        },
        supersedes: None,
    }
}
