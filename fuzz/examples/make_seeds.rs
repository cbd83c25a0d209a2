//! Writes the seed corpora of the fuzz targets to `fuzz/seeds/<target>/`:
//! real signed tokens and revocations (several shapes, receipts attached),
//! CBOR items, signed and cosigned checkpoints, and the public note vectors
//! of `tests/vectors/note/`. Deterministic: the same files every run.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
//! ```

use std::fs;
use std::path::Path;

use base64::Engine as _;
use ciborium::Value;
use ed25519_dalek::{Signer as _, SigningKey};
use loupe_fuzz::{
    ISSUER, LOG_ORIGIN, LOGGED_ENTRY, NOW, TOKEN_URL_BASES, issuer_key, log_signer,
    trust_store_toml, witness_signer,
};
use loupe_schemas::bundle::{ProofBundle, Receipt};
use loupe_schemas::cbor;
use loupe_schemas::checkpoint::{
    Checkpoint, NoteSigner, open_checkpoint, sign_checkpoint, sign_note,
};
use loupe_schemas::merkle::{MemoryHashStore, prove_consistency, prove_inclusion};
use loupe_schemas::tiles::{TileCoords, encode_entry_bundle, encode_hash_tile};
use loupe_schemas::token::{
    Algorithm, Cti, FileDigest, ImageDigest, ImageRole, Kid, MediaRole as _, Provenance,
    RevocationBuilder, Sha256Digest, Stone, TokenBuilder, VideoDigest, VideoRole, sha256,
    sign1_sig_structure,
};
use loupe_verifier::answers::{ConsistencyAnswer, EndingAnswer, StatusAnswer};

const LAB_CERT: &[u8] = include_bytes!("../../keys-example/lab.cert.der");
const ROOT_CERT: &[u8] = include_bytes!("../../keys-example/root-ca.cert.der");

macro_rules! note_vector {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../tests/vectors/note/", $name)).as_slice(),
        )
    };
}

const NOTE_VECTORS: [(&str, &[u8]); 9] = [
    note_vector!("c2sp-signed-note-example.note"),
    note_vector!("c2sp-tlog-checkpoint-example.note"),
    note_vector!("c2sp-tlog-cosignature-example.note"),
    note_vector!("go-note-peter.note"),
    note_vector!("go-note-peter-enoch.note"),
    note_vector!("sigsum-checkpoint.note"),
    note_vector!("sumdb-tree-30055305.note"),
    note_vector!("sumdb-tree-6476701.note"),
    note_vector!("torchwood-sigsum-checkpoint.note"),
];

fn image(role: ImageRole) -> ImageDigest {
    ImageDigest {
        role,
        sha256: Sha256Digest::of(role.as_str().as_bytes()),
        media_type: "image/jpeg".into(),
        size: 2_000_000,
    }
}

fn provenance() -> Provenance {
    Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(b"%PDF-1.7 report"),
            media_type: "application/pdf".into(),
            size: 123_456,
        },
        images: vec![image(ImageRole::FaceUp)],
        videos: vec![],
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
            origin: None,
        },
        supersedes: None,
    }
}

fn builder(p: Provenance) -> TokenBuilder {
    TokenBuilder::new(ISSUER, "R-2024-0001", p)
        .iat(NOW)
        .cti(Cti([0x5e; 16]))
}

fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

/// An RFC 9942 receipt shaped as `token.cddl` says, for a one-leaf tree.
fn receipt_for(logged: &[u8], log: &SigningKey) -> Vec<u8> {
    let protected = cbor::encode(&Value::Map(vec![
        (int(1), int(-8)),
        (
            int(4),
            Value::Bytes(Kid::of(&log.verifying_key()).0.to_vec()),
        ),
        (
            int(15),
            Value::Map(vec![(int(1), Value::Text(LOG_ORIGIN.into()))]),
        ),
        (int(395), int(1)),
    ]));
    let proof = cbor::encode(&Value::Array(vec![int(1), int(0), Value::Array(vec![])]));
    let mut leaf = vec![0u8];
    leaf.extend_from_slice(logged);
    let root = sha256(&leaf);
    let signature = log.sign(&sign1_sig_structure(&protected, &[], &root));
    cbor::encode(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            Value::Map(vec![(
                int(396),
                Value::Map(vec![(int(-1), Value::Array(vec![Value::Bytes(proof)]))]),
            )]),
            Value::Null,
            Value::Bytes(signature.to_bytes().to_vec()),
        ])),
    ))
}

struct Seeds {
    dir: std::path::PathBuf,
    count: usize,
}

impl Seeds {
    fn new(root: &Path, target: &str) -> Self {
        let dir = root.join(target);
        if dir.exists() {
            fs::remove_dir_all(&dir).expect("clear old seeds");
        }
        fs::create_dir_all(&dir).expect("create seed directory");
        Self { dir, count: 0 }
    }

    fn add(&mut self, name: &str, bytes: &[u8]) {
        assert!(
            bytes.len() < 8 * 1024,
            "seed {name} is {} bytes",
            bytes.len()
        );
        self.count += 1;
        assert!(
            self.count <= 20,
            "more than 20 seeds in {}",
            self.dir.display()
        );
        fs::write(self.dir.join(name), bytes).expect("write seed");
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let key = issuer_key();
    let log = SigningKey::from_bytes(&[0x22; 32]);

    // ---- statements
    let plain = builder(provenance()).sign(&key).expect("plain token");
    let mut full = provenance();
    full.images = ImageRole::ALL.iter().map(|r| image(*r)).collect();
    full.videos = vec![VideoDigest {
        role: VideoRole::LightPlay,
        sha256: Sha256Digest::of(b"light-play"),
        media_type: "video/mp4".into(),
        size: 30_000_000,
    }];
    full.stone.origin = Some("Myanmar".into());
    let full = builder(full).sign(&key).expect("full token");
    let mut sup = provenance();
    sup.supersedes = Some(plain.id());
    let supersedes = builder(sup).sign(&key).expect("superseding token");
    let ed25519 = builder(provenance())
        .alg(Algorithm::Ed25519)
        .sign(&key)
        .expect("-19 token");
    let x5_one = builder(provenance())
        .x5chain(vec![LAB_CERT.to_vec()])
        .sign(&key)
        .expect("x5chain token");
    let x5_two = builder(provenance())
        .x5chain(vec![LAB_CERT.to_vec(), ROOT_CERT.to_vec()])
        .sign(&key)
        .expect("x5chain-2 token");
    let receipt = receipt_for(plain.logged_bytes(), &log);
    let with_receipt = plain.with_receipts(vec![receipt.clone()]);
    let with_two = plain.with_receipts(vec![receipt.clone(), vec![0x01]]);
    let revocation = RevocationBuilder::new(ISSUER, plain.id(), "report withdrawn")
        .iat(NOW)
        .cti(Cti([0x7e; 16]))
        .sign(&key)
        .expect("revocation");
    let revocation_19 = RevocationBuilder::new(ISSUER, plain.id(), "re-cut")
        .iat(NOW)
        .cti(Cti([0x7f; 16]))
        .alg(Algorithm::Ed25519)
        .x5chain(vec![LAB_CERT.to_vec()])
        .sign(&key)
        .expect("revocation -19");
    let revocation_receipt =
        revocation.with_receipts(vec![receipt_for(revocation.logged_bytes(), &log)]);

    let mut s = Seeds::new(&root, "token_parse");
    s.add("token-plain.cbor", plain.logged_bytes());
    s.add("token-full.cbor", full.logged_bytes());
    s.add("token-supersedes.cbor", supersedes.logged_bytes());
    s.add("token-alg-19.cbor", ed25519.logged_bytes());
    s.add("token-x5chain-1.cbor", x5_one.logged_bytes());
    s.add("token-x5chain-2.cbor", x5_two.logged_bytes());
    s.add("token-receipt.cbor", &with_receipt);
    s.add("token-receipts-2.cbor", &with_two);
    s.add("revocation.cbor", revocation.logged_bytes());

    let mut s = Seeds::new(&root, "statement_parse");
    s.add("token-plain.cbor", plain.logged_bytes());
    s.add("token-full.cbor", full.logged_bytes());
    s.add("token-receipt.cbor", &with_receipt);
    s.add("revocation.cbor", revocation.logged_bytes());
    s.add(
        "revocation-alg-19-x5chain.cbor",
        revocation_19.logged_bytes(),
    );
    s.add("revocation-receipt.cbor", &revocation_receipt);

    // ---- CBOR items: Loupe's own, then small canonical and non-canonical ones
    let mut s = Seeds::new(&root, "cbor_check");
    s.add("token.cbor", full.logged_bytes());
    s.add("token-protected.cbor", x5_two.protected_header_bytes());
    s.add("token-payload.cbor", full.payload_bytes());
    s.add("revocation-payload.cbor", revocation.payload_bytes());
    s.add("receipt.cbor", &receipt);
    let small: [(&str, &[u8]); 12] = [
        (
            "uint-max.cbor",
            &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            "nint-min.cbor",
            &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        ("simple.cbor", &[0x83, 0xf4, 0xf5, 0xf6]),
        ("text-utf8.cbor", &[0x63, 0xc3, 0xa9, 0x21]),
        (
            "map-int-text-keys.cbor",
            &[0xa3, 0x01, 0x00, 0x20, 0x00, 0x61, 0x61, 0x40],
        ),
        ("nested-tags.cbor", &[0xd8, 0x20, 0xd2, 0x82, 0x80, 0xa0]),
        ("non-canonical-indefinite.cbor", &[0x9f, 0x01, 0xff]),
        ("non-canonical-long-head.cbor", &[0x18, 0x01]),
        (
            "non-canonical-unsorted.cbor",
            &[0xa2, 0x02, 0x00, 0x01, 0x00],
        ),
        (
            "non-canonical-duplicate.cbor",
            &[0xa2, 0x01, 0x00, 0x01, 0x00],
        ),
        ("float16.cbor", &[0xf9, 0x3c, 0x00]),
        ("trailing.cbor", &[0x00, 0x00]),
    ];
    for (name, bytes) in small {
        s.add(name, bytes);
    }

    // ---- checkpoints
    let log_note = log_signer();
    let witness = witness_signer();
    let log_key = log_note.verifier();
    let signed = |size: u64, extensions: Vec<String>| {
        let c = Checkpoint::new(LOG_ORIGIN, size, sha256(&size.to_be_bytes()), extensions)
            .expect("checkpoint");
        sign_checkpoint(&c, &log_note).expect("sign checkpoint")
    };
    let cosign = |note: &str| {
        let opened = open_checkpoint(note.as_bytes(), LOG_ORIGIN, &log_key, &[], 0, NOW)
            .expect("open to cosign");
        witness.cosign(&opened, NOW).expect("cosign")
    };
    let empty = signed(0, vec![]);
    let small_tree = signed(1, vec![]);
    let big_tree = signed(u64::MAX, vec![]);
    let extended = signed(42, vec!["lab.example/extension 1".into()]);
    let cosigned = cosign(&signed(42, vec![]));
    // A cosigned checkpoint that also carries a signature by a key the
    // verifier does not know (kept, ignored).
    let other = NoteSigner::new("other.example/w", SigningKey::from_bytes(&[0x44; 32]))
        .expect("other signer");
    let body = Checkpoint::new(LOG_ORIGIN, 7, [7; 32], vec![])
        .expect("checkpoint")
        .to_body();
    let foreign = sign_note(&body, &[&log_note, &other]).expect("two signatures");
    let foreign_cosigned = cosign(&foreign);

    let mut s = Seeds::new(&root, "checkpoint_open");
    s.add("checkpoint-size-0.note", empty.as_bytes());
    s.add("checkpoint-size-1.note", small_tree.as_bytes());
    s.add("checkpoint-size-max.note", big_tree.as_bytes());
    s.add("checkpoint-extension.note", extended.as_bytes());
    s.add("checkpoint-cosigned.note", cosigned.as_bytes());
    s.add(
        "checkpoint-cosigned-foreign.note",
        foreign_cosigned.as_bytes(),
    );
    s.add("c2sp-tlog-cosignature-example.note", NOTE_VECTORS[2].1);

    let mut s = Seeds::new(&root, "note_open");
    s.add("checkpoint-size-1.note", small_tree.as_bytes());
    s.add("checkpoint-extension.note", extended.as_bytes());
    s.add(
        "checkpoint-cosigned-foreign.note",
        foreign_cosigned.as_bytes(),
    );
    for (name, bytes) in NOTE_VECTORS {
        s.add(name, bytes);
    }
    // ---- proof bundles and receipts for LOGGED_ENTRY at index 5 of 11
    let mut store = MemoryHashStore::default();
    for i in 0..11u32 {
        if i == 5 {
            store.append_leaf(LOGGED_ENTRY).expect("append");
        } else {
            store
                .append_leaf(format!("entry {i}").as_bytes())
                .expect("append");
        }
    }
    let root_hash = store.root().expect("root");
    let signed = sign_checkpoint(
        &Checkpoint::new(LOG_ORIGIN, 11, root_hash, vec![]).expect("checkpoint"),
        &log_signer(),
    )
    .expect("sign checkpoint");
    let opened = open_checkpoint(
        signed.as_bytes(),
        LOG_ORIGIN,
        &log_signer().verifier(),
        &[],
        0,
        NOW,
    )
    .expect("open checkpoint");
    let cosigned_cp = witness_signer().cosign(&opened, NOW).expect("cosign");
    let proof = prove_inclusion(5, 11, &store).expect("proof");
    let first = prove_inclusion(0, 11, &store).expect("proof");

    let mut s = Seeds::new(&root, "bundle_parse");
    s.add(
        "bundle-cosigned.tlog-proof",
        ProofBundle::new(5, proof.path.clone(), cosigned_cp.clone())
            .to_text()
            .as_bytes(),
    );
    s.add(
        "bundle-log-only.tlog-proof",
        ProofBundle::new(5, proof.path.clone(), signed.clone())
            .to_text()
            .as_bytes(),
    );
    s.add(
        "bundle-extra.tlog-proof",
        ProofBundle::new(5, proof.path.clone(), cosigned_cp.clone())
            .with_extra(b"extra data".to_vec())
            .to_text()
            .as_bytes(),
    );
    s.add(
        "bundle-index-0.tlog-proof",
        ProofBundle::new(0, first.path.clone(), cosigned_cp.clone())
            .to_text()
            .as_bytes(),
    );
    s.add(
        "c2sp-spec-example.tlog-proof",
        include_bytes!("../../tests/vectors/tlog-proof/c2sp-spec-example.tlog-proof"),
    );

    let log_key = SigningKey::from_bytes(&[0x22; 32]);
    let mut s = Seeds::new(&root, "receipt_parse");
    s.add(
        "receipt-eddsa.cbor",
        &Receipt::sign(&log_key, Algorithm::EdDsa, LOG_ORIGIN, &proof, &root_hash),
    );
    s.add(
        "receipt-ed25519.cbor",
        &Receipt::sign(&log_key, Algorithm::Ed25519, LOG_ORIGIN, &proof, &root_hash),
    );
    s.add(
        "receipt-index-0.cbor",
        &Receipt::sign(&log_key, Algorithm::EdDsa, LOG_ORIGIN, &first, &root_hash),
    );

    // ---- the issuer's JSON answers the verifier reads (status, consistency)
    // The entries' proofs are the fixture bundles above (whether they
    // verify does not matter to the parser; their index is the entry's).
    let revoked_by = EndingAnswer::new(
        revocation.logged_bytes().to_vec(),
        Some("report withdrawn".into()),
        ProofBundle::new(5, proof.path.clone(), cosigned_cp.clone()),
    );
    let superseded_by = EndingAnswer::new(
        supersedes.logged_bytes().to_vec(),
        None,
        ProofBundle::new(0, first.path.clone(), signed.clone()),
    );
    let status = |revoked: Option<&EndingAnswer>, superseded: Option<&EndingAnswer>| {
        StatusAnswer::new(plain.id(), 3, revoked.cloned(), superseded.cloned())
    };
    let mut s = Seeds::new(&root, "issuer_answers");
    s.add(
        "status-active.json",
        &serde_json::to_vec(&status(None, None)).expect("answer JSON"),
    );
    s.add(
        "status-revoked.json",
        &serde_json::to_vec(&status(Some(&revoked_by), None)).expect("answer JSON"),
    );
    s.add(
        "status-superseded.json",
        &serde_json::to_vec(&status(None, Some(&superseded_by))).expect("answer JSON"),
    );
    s.add(
        "status-superseded-then-revoked.json",
        &serde_json::to_vec(&status(Some(&revoked_by), Some(&superseded_by))).expect("answer JSON"),
    );
    // Pretty-printed, members the issuer may add later, reason absent.
    let mut extra = serde_json::to_value(status(Some(&revoked_by), None)).expect("status JSON");
    extra["note"] = serde_json::json!({"added": [1, 2.5, null, true]});
    extra["revoked_by"]["note"] = serde_json::json!("later");
    extra["revoked_by"]
        .as_object_mut()
        .expect("an entry")
        .remove("reason");
    s.add(
        "status-revoked-extra-members.json",
        &serde_json::to_vec_pretty(&extra).expect("status JSON"),
    );
    // Refused: a status its entries contradict, an unknown word, a
    // repeated member, a statement that is not base64.
    let mut inconsistent = serde_json::to_value(status(Some(&revoked_by), None)).expect("JSON");
    inconsistent["status"] = "active".into();
    s.add(
        "status-inconsistent.json",
        &serde_json::to_vec(&inconsistent).expect("JSON"),
    );
    s.add(
        "status-unknown-word.json",
        format!(
            r#"{{"token_id":"{}","status":"pending","leaf_index":0}}"#,
            plain.id()
        )
        .as_bytes(),
    );
    s.add(
        "status-duplicate.json",
        format!(
            r#"{{"token_id":"{}","status":"active","leaf_index":0,"status":"revoked"}}"#,
            plain.id()
        )
        .as_bytes(),
    );
    let mut not_base64 = serde_json::to_value(status(None, Some(&superseded_by))).expect("JSON");
    not_base64["superseded_by"]["statement"] = "AB==".into();
    s.add(
        "status-statement-not-base64.json",
        &serde_json::to_vec(&not_base64).expect("JSON"),
    );
    for (old, new) in [(1, 11), (5, 11), (8, 11), (11, 11), (0, 11)] {
        let path = prove_consistency(old, 11, &store)
            .map(|p| p.path)
            .expect("consistency proof");
        assert_eq!(new, 11);
        let answer = ConsistencyAnswer::new(old, new, path).expect("consistency answer");
        s.add(
            &format!("consistency-{old}-{new}.json"),
            &serde_json::to_vec(&answer).expect("answer JSON"),
        );
    }
    let zero = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
    s.add(
        "consistency-path-too-long.json",
        format!(
            r#"{{"old":1,"new":11,"path":[{}]}}"#,
            vec![format!("\"{zero}\""); 64].join(",")
        )
        .as_bytes(),
    );
    s.add(
        "consistency-old-above-new.json",
        br#"{"old":12,"new":11,"path":[]}"#,
    );
    s.add(
        "consistency-short-hash.json",
        br#"{"old":1,"new":11,"path":["AAAA"]}"#,
    );

    // ---- the verifier's trust store (TOML)
    let mut s = Seeds::new(&root, "trust_toml");
    s.add("fixture.toml", trust_store_toml().as_bytes());
    s.add(
        "keys-example-inline-root.toml",
        include_str!("../../keys-example/trust.toml")
            .replace(
                "pem_file = \"root-ca.cert.pem\"",
                &format!(
                    "pem = \"\"\"\n{}\"\"\"",
                    include_str!("../../keys-example/root-ca.cert.pem")
                ),
            )
            .as_bytes(),
    );
    s.add(
        "pem-file-refused.toml",
        include_bytes!("../../keys-example/trust.toml"),
    );
    s.add("empty.toml", b"");
    s.add(
        "unknown-log.toml",
        b"[[issuer]]\norigin = \"a.example\"\nurl = \"https://a.example\"\nlog = \"nope\"\n",
    );

    // ---- token URLs as a QR code holds them
    let id = plain.id();
    let mut s = Seeds::new(&root, "token_url");
    for (name, url) in [
        ("root.txt", format!("{}/t/{id}", TOKEN_URL_BASES[0])),
        ("path-port.txt", format!("{}/t/{id}", TOKEN_URL_BASES[1])),
        ("spaces.txt", format!("  {}/t/{id}\n", TOKEN_URL_BASES[0])),
        ("query.txt", format!("{}/t/{id}?x=1", TOKEN_URL_BASES[0])),
        ("userinfo.txt", format!("https://u:p@lab.example/t/{id}")),
        ("untrusted.txt", format!("https://evil.example/t/{id}")),
        ("traversal.txt", format!("https://lab.example/x/../t/{id}")),
        ("short-id.txt", "https://lab.example/t/AAAA".to_owned()),
        ("not-a-url.txt", "lab.example/t/".to_owned()),
    ] {
        s.add(name, url.as_bytes());
    }

    // ---- provenance claims as JSON (the issuer's API)
    let mut s = Seeds::new(&root, "claims_json");
    for (name, p) in [
        ("minimal.json", provenance()),
        ("full.json", full.provenance().clone()),
        ("supersedes.json", supersedes.provenance().clone()),
    ] {
        s.add(name, &serde_json::to_vec_pretty(&p).expect("claims JSON"));
    }
    s.add(
        "duplicate-key.json",
        br#"{"report":{"sha256":"00","media_type":"application/pdf","size":1},"report":{},"images":[],"stone":{}}"#,
    );

    // ---- strict JSON (duplicate members)
    let mut s = Seeds::new(&root, "json_strict");
    for (name, doc) in [
        (
            "claims.json",
            serde_json::to_string(&provenance()).expect("claims JSON"),
        ),
        ("duplicate-top.json", r#"{"url":"a","url":"b"}"#.to_owned()),
        (
            "duplicate-nested.json",
            r#"{"files":{"report":"a","report":"b"}}"#.to_owned(),
        ),
        ("duplicate-escaped.json", r#"{"a":1,"\u0061":2}"#.to_owned()),
        (
            "deep.json",
            format!("{}{}", "[".repeat(200), "]".repeat(200)),
        ),
        ("scalars.json", r#"[1,-2,3.5e10,true,null,"x"]"#.to_owned()),
    ] {
        s.add(name, doc.as_bytes());
    }

    // ---- tiles: paths (text), then width byte (w - 1) + tile data
    let mut s = Seeds::new(&root, "tile_parse");
    for (name, path) in [
        ("path-c2sp-example.txt", "tile/0/x001/x234/067"),
        ("path-partial.txt", "tile/0/x001/x234/067.p/8"),
        ("path-level-2.txt", "tile/2/000"),
        ("path-entries.txt", "tile/entries/x001/234.p/255"),
    ] {
        s.add(name, path.as_bytes());
    }
    let hashes: Vec<[u8; 32]> = (0..3u8).map(|i| sha256(&[i])).collect();
    let mut tile = vec![2u8];
    tile.extend(encode_hash_tile(&hashes));
    s.add("hash-tile-width-3.bin", &tile);
    let mut bundle = vec![2u8];
    bundle.extend(encode_entry_bundle(&[&b"alpha"[..], b"", b"gamma"]).expect("entry bundle"));
    s.add("entry-bundle-width-3.bin", &bundle);
    let full = TileCoords::new(0, 0, 256).expect("tile coords");
    s.add("path-full-level-0.txt", full.path().as_bytes());

    println!("seeds written to {}", root.display());
}
