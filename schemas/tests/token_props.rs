//! Property tests over the public token API: round trips for generated
//! claims, and no panic on arbitrary or mutated input.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use loupe_schemas::token::{
    Algorithm, Cti, FileDigest, ImageDigest, ImageRole, Provenance, Sha256Digest, Statement, Stone,
    Token, TokenBuilder, TokenId,
};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 '\\-éü]{1,40}"
}

fn provenance() -> impl Strategy<Value = Provenance> {
    (
        any::<[u8; 32]>(),
        any::<u64>(),
        proptest::sample::subsequence(
            vec![
                ImageRole::FaceUp,
                ImageRole::Table,
                ImageRole::Pavilion,
                ImageRole::Side,
                ImageRole::Girdle,
                ImageRole::Swatch,
            ],
            0..=6,
        ),
        (text(), text(), 1..u64::MAX, text(), text()),
        (
            [1..u64::MAX, 1..u64::MAX, 1..u64::MAX],
            proptest::option::of(text()),
        ),
        proptest::option::of(any::<[u8; 32]>()),
    )
        .prop_map(
            |(
                digest,
                size,
                roles,
                (variety, species, weight, colour, shape),
                (dims, origin),
                sup,
            )| {
                Provenance {
                    report: FileDigest {
                        sha256: Sha256Digest(digest),
                        media_type: "application/pdf".into(),
                        size,
                    },
                    images: roles
                        .into_iter()
                        .map(|role| ImageDigest {
                            role,
                            sha256: Sha256Digest(digest),
                            media_type: "image/jpeg".into(),
                            size,
                        })
                        .collect(),
                    videos: vec![],
                    stone: Stone {
                        variety,
                        species,
                        weight_mct: weight,
                        colour,
                        shape: shape.clone(),
                        cut: shape,
                        clarity: "VS".into(),
                        dimensions_um: dims,
                        treatment: "none".into(),
                        origin,
                    },
                    supersedes: sup.map(TokenId),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sign_parse_verify_round_trip(p in provenance(), sub in text(), iat in any::<u64>(),
                                    cti in any::<[u8; 16]>(), ed in any::<bool>()) {
        let key = SigningKey::from_bytes(&[3; 32]);
        let alg = if ed { Algorithm::Ed25519 } else { Algorithm::EdDsa };
        let token = TokenBuilder::new("lab.example", sub.clone(), p.clone())
            .iat(iat).cti(Cti(cti)).alg(alg).sign(&key).unwrap();
        let parsed = Token::parse(token.logged_bytes()).unwrap();
        // The signer builds the token from its inputs without parsing its
        // own output: the strict parser must read back exactly that token.
        prop_assert_eq!(&parsed, &token);
        prop_assert_eq!(parsed.provenance(), &p);
        prop_assert_eq!(&parsed.claims().sub, &sub);
        prop_assert_eq!(parsed.claims().iat, iat);
        prop_assert_eq!(parsed.alg(), alg);
        prop_assert!(parsed.verify(&key.verifying_key()).is_ok());
        // The JSON view round-trips too.
        let json = serde_json::to_string(&p).unwrap();
        prop_assert_eq!(serde_json::from_str::<Provenance>(&json).unwrap(), p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Statement::parse(&bytes);
        let mut tagged = vec![0xd2, 0x84];
        tagged.extend_from_slice(&bytes);
        let _ = Statement::parse(&tagged);
    }

    #[test]
    fn mutated_tokens_never_panic_and_never_verify(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let key = SigningKey::from_bytes(&[3; 32]);
        let p = Provenance {
            report: FileDigest { sha256: Sha256Digest([1; 32]), media_type: "application/pdf".into(), size: 1 },
            images: vec![],
            videos: vec![],
            stone: Stone {
                variety: "Sapphire".into(), species: "Corundum".into(), weight_mct: 2010,
                colour: "cornflower blue".into(), shape: "cushion".into(), cut: "mixed".into(),
                clarity: "VVS".into(), dimensions_um: [8000, 7000, 4500], treatment: "heated".into(),
                origin: None,
            },
            supersedes: None,
        };
        let token = TokenBuilder::new("lab.example", "R-9", p).iat(1).cti(Cti([0; 16])).sign(&key).unwrap();
        let mut bytes = token.logged_bytes().to_vec();
        for (at, value) in edits {
            let i = at % bytes.len();
            bytes[i] = value;
        }
        if bytes.as_slice() != token.logged_bytes()
            && let Ok(t) = Token::parse(&bytes)
        {
            prop_assert!(t.verify(&key.verifying_key()).is_err());
        }
    }
}
