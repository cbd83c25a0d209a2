//! Every check the verifier makes, passing and failing, offline: tokens,
//! certificate chains, checkpoints and proofs are made here with the real
//! `loupe-schemas` code and keys, and a log kept in memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::checkpoint::{
    Checkpoint, CosignatureSigner, NoteSigner, open_checkpoint, sign_checkpoint,
};
use loupe_schemas::merkle::{MemoryHashStore, prove_inclusion};
use loupe_schemas::token::{
    Cti, FileDigest, ImageDigest, ImageRole, Kid, Provenance, Sha256Digest, Stone, Token,
    TokenBuilder,
};
use loupe_verifier::state::CheckpointMemory;
use loupe_verifier::trust::{Issuer, IssuerKey, Log, WitnessPolicy};
use loupe_verifier::{CheckName, FilesInHand, Outcome, Status, TrustStore, Verdict, Verifier};

const ISS: &str = "lab.example";
const LOG: &str = "lab.example/log";
const IAT: u64 = 1_780_000_000; // 2026-05-28
const NOW: u64 = 1_790_000_000;

fn report_bytes() -> Vec<u8> {
    b"%PDF-1.7 lab report LX-1 ... %%EOF".to_vec()
}

fn provenance() -> Provenance {
    Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(&report_bytes()),
            media_type: "application/pdf".into(),
            size: report_bytes().len() as u64,
        },
        images: vec![ImageDigest {
            role: ImageRole::FaceUp,
            sha256: Sha256Digest::of(b"face-up photo"),
            media_type: "image/jpeg".into(),
            size: 13,
        }],
        videos: vec![],
        stone: Stone {
            variety: "Ruby".into(),
            species: "Corundum".into(),
            weight_mct: 1520,
            colour: "red".into(),
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

/// A lab, its log (in memory) and a trust store that trusts them.
struct Lab {
    key: SigningKey,
    log_signer: NoteSigner,
    log: MemoryHashStore,
    trust: TrustStore,
}

fn issuer_key(key: &SigningKey, not_before: Option<u64>, not_after: Option<u64>) -> IssuerKey {
    let vk = key.verifying_key();
    IssuerKey {
        key: vk,
        kid: Kid::of(&vk),
        not_before,
        not_after,
        compromise: None,
    }
}

impl Lab {
    fn new() -> Self {
        let key = SigningKey::from_bytes(&[1; 32]);
        let log_signer = NoteSigner::new(LOG, SigningKey::from_bytes(&[2; 32])).expect("signer");
        let mut trust = TrustStore::default();
        trust.add_log(Log {
            origin: LOG.into(),
            keys: vec![log_signer.verifier()],
            url: "https://lab.example".parse().expect("url"),
        });
        trust
            .add_issuer(Issuer {
                origin: ISS.into(),
                url: "https://lab.example".parse().expect("url"),
                log: LOG.into(),
                keys: vec![issuer_key(&key, Some(1_700_000_000), None)],
                roots: vec![],
            })
            .expect("issuer");
        Self {
            key,
            log_signer,
            log: MemoryHashStore::default(),
            trust,
        }
    }

    fn set_issuer(&mut self, keys: Vec<IssuerKey>, roots: Vec<Vec<u8>>) {
        self.trust
            .add_issuer(Issuer {
                origin: ISS.into(),
                url: "https://lab.example".parse().expect("url"),
                log: LOG.into(),
                keys,
                roots,
            })
            .expect("issuer");
    }

    fn builder(&self, sub: &str) -> TokenBuilder {
        TokenBuilder::new(ISS, sub, provenance())
            .iat(IAT)
            .cti(Cti([sub.len() as u8; 16]))
    }

    fn token(&self, sub: &str) -> Token {
        self.builder(sub).sign(&self.key).expect("sign")
    }

    /// Appends `logged` and returns its proof bundle at a fresh checkpoint.
    fn append(&mut self, logged: &[u8]) -> ProofBundle {
        let index = self.log.append_leaf(logged).expect("append");
        self.prove(index)
    }

    fn prove(&self, index: u64) -> ProofBundle {
        let size = self.log.tree_size();
        let root = self.log.root().expect("root");
        let note = sign_checkpoint(
            &Checkpoint::new(LOG, size, root, vec![]).expect("checkpoint"),
            &self.log_signer,
        )
        .expect("signed");
        let proof = prove_inclusion(index, size, &self.log).expect("proof");
        ProofBundle::new(index, proof.path, note)
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(self.trust.clone()).at_time(NOW)
    }
}

fn outcome(v: &Verdict, name: CheckName) -> Option<Outcome> {
    v.check(name).map(|c| c.outcome)
}

/// Asserts the verdict and that `name` failed (with `reason_part` in its reason).
fn assert_fails(v: &Verdict, status: Status, name: CheckName, reason_part: &str) {
    assert_eq!(v.status, status, "verdict: {v:#?}");
    let c = v
        .check(name)
        .unwrap_or_else(|| panic!("no {name:?} check: {v:#?}"));
    assert_eq!(c.outcome, Outcome::Fail, "{name:?}: {c:?}");
    assert!(
        c.reason.contains(reason_part),
        "{name:?} reason {:?} lacks {reason_part:?}",
        c.reason
    );
}

#[test]
fn a_good_token_and_proof_verify_offline() {
    let mut lab = Lab::new();
    let token = lab.token("LX-1");
    let bundle = lab.append(token.logged_bytes());
    let v = lab.verifier().verify_offline(
        &token.to_bytes(),
        bundle.to_text().as_bytes(),
        &FilesInHand::default(),
    );
    assert_eq!(v.status, Status::Valid, "{v:#?}");
    for name in [
        CheckName::CoseStructure,
        CheckName::IssuerKnown,
        CheckName::IssuerKey,
        CheckName::TokenSignature,
        CheckName::CheckpointSignature,
        CheckName::Witnesses,
        CheckName::Inclusion,
        CheckName::Consistency,
    ] {
        assert_eq!(outcome(&v, name), Some(Outcome::Pass), "{name:?}: {v:#?}");
    }
    assert_eq!(outcome(&v, CheckName::Status), Some(Outcome::Skip));
    let log = v.log.as_ref().expect("log position");
    assert_eq!((log.leaf_index, log.tree_size), (0, 1));
    assert_eq!(v.token.as_ref().map(|t| t.id), Some(token.id()));
}

#[test]
fn no_single_byte_flip_of_a_token_is_ever_valid() {
    let mut lab = Lab::new();
    let token = lab.token("LX-1");
    let bundle = lab.append(token.logged_bytes()).to_text();
    let verifier = lab.verifier();
    let bytes = token.to_bytes();
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        let v = verifier.verify_offline(&t, bundle.as_bytes(), &FilesInHand::default());
        assert_ne!(v.status, Status::Valid, "flipping byte {i} still verifies");
        assert!(
            v.checks.iter().any(|c| c.outcome == Outcome::Fail),
            "byte {i}: no check failed: {v:#?}"
        );
    }
}

#[test]
fn a_flipped_signature_byte_fails_the_signature_check() {
    let mut lab = Lab::new();
    let token = lab.token("LX-1");
    let bundle = lab.append(token.logged_bytes()).to_text();
    let mut bytes = token.to_bytes();
    let last = bytes.len() - 1; // the signature is the last field
    bytes[last] ^= 0x80;
    let v = lab
        .verifier()
        .verify_offline(&bytes, bundle.as_bytes(), &FilesInHand::default());
    assert_fails(&v, Status::Invalid, CheckName::TokenSignature, "signature");
}

#[test]
fn a_token_signed_by_an_unknown_key_is_invalid() {
    let mut lab = Lab::new();
    let stranger = SigningKey::from_bytes(&[9; 32]);
    let token = lab.builder("LX-1").sign(&stranger).expect("sign");
    let bundle = lab.append(token.logged_bytes()).to_text();
    let v = lab.verifier().verify_offline(
        &token.to_bytes(),
        bundle.as_bytes(),
        &FilesInHand::default(),
    );
    assert_fails(&v, Status::Invalid, CheckName::IssuerKey, "does not list");
    assert_eq!(outcome(&v, CheckName::TokenSignature), Some(Outcome::Skip));
}

#[test]
fn a_key_outside_its_window_is_refused() {
    for (nb, na, name) in [
        (Some(IAT + 1), None, "not yet valid"),
        (None, Some(IAT), "expired at iat (not_after is exclusive)"),
        (
            Some(1_700_000_000),
            Some(IAT - 3600),
            "rotated out an hour before",
        ),
    ] {
        let mut lab = Lab::new();
        let key = issuer_key(&lab.key, nb, na);
        lab.set_issuer(vec![key], vec![]);
        let token = lab.token("LX-1");
        let bundle = lab.append(token.logged_bytes()).to_text();
        let v = lab.verifier().verify_offline(
            &token.to_bytes(),
            bundle.as_bytes(),
            &FilesInHand::default(),
        );
        assert_fails(&v, Status::Invalid, CheckName::IssuerKey, "not valid when");
        assert!(v.check(CheckName::IssuerKey).is_some(), "{name}");
    }
}

#[test]
fn rotation_old_tokens_verify_under_the_old_key_new_ones_under_the_new() {
    let mut lab = Lab::new();
    let new_key = SigningKey::from_bytes(&[3; 32]);
    let rotation = IAT + 1000;
    lab.set_issuer(
        vec![
            issuer_key(&lab.key, Some(1_700_000_000), Some(rotation)),
            issuer_key(&new_key, Some(rotation), None),
        ],
        vec![],
    );
    let old = lab.token("LX-1");
    let new = lab
        .builder("LX-2")
        .iat(rotation + 5)
        .sign(&new_key)
        .expect("sign");
    let late_old = lab
        .builder("LX-3")
        .iat(rotation + 5)
        .sign(&lab.key)
        .expect("sign");
    let mut proofs = Vec::new();
    for t in [&old, &new, &late_old] {
        lab.log.append_leaf(t.logged_bytes()).expect("append");
    }
    for i in 0..3 {
        proofs.push(lab.prove(i).to_text());
    }
    let verifier = lab.verifier();
    let none = FilesInHand::default();
    assert_eq!(
        verifier
            .verify_offline(&old.to_bytes(), proofs[0].as_bytes(), &none)
            .status,
        Status::Valid
    );
    assert_eq!(
        verifier
            .verify_offline(&new.to_bytes(), proofs[1].as_bytes(), &none)
            .status,
        Status::Valid
    );
    // Signed with the old key after it was retired (or compromised).
    let v = verifier.verify_offline(&late_old.to_bytes(), proofs[2].as_bytes(), &none);
    assert_fails(&v, Status::Invalid, CheckName::IssuerKey, "not valid when");
}

#[test]
fn an_altered_inclusion_path_or_index_fails_inclusion() {
    let mut lab = Lab::new();
    for sub in ["A", "BB", "CCC"] {
        let t = lab.token(sub);
        lab.log.append_leaf(t.logged_bytes()).expect("append");
    }
    let token = lab.token("LX-1");
    let good = lab.append(token.logged_bytes());
    let verifier = lab.verifier();
    let mut path = good.path().to_vec();
    path[0][5] ^= 1;
    let bad_path = ProofBundle::new(good.index(), path, good.checkpoint_text());
    let bad_index = ProofBundle::new(
        good.index() - 1,
        good.path().to_vec(),
        good.checkpoint_text(),
    );
    for bad in [bad_path, bad_index] {
        let v = verifier.verify_offline(
            &token.to_bytes(),
            bad.to_text().as_bytes(),
            &FilesInHand::default(),
        );
        assert_fails(&v, Status::Invalid, CheckName::Inclusion, "does not lead");
    }
}

#[test]
fn a_checkpoint_signed_by_another_key_fails() {
    let mut lab = Lab::new();
    let token = lab.token("LX-1");
    let good = lab.append(token.logged_bytes());
    let impostor = NoteSigner::new(LOG, SigningKey::from_bytes(&[7; 32])).expect("signer");
    let note = sign_checkpoint(
        &Checkpoint::new(
            LOG,
            lab.log.tree_size(),
            lab.log.root().expect("root"),
            vec![],
        )
        .expect("cp"),
        &impostor,
    )
    .expect("signed");
    let bad = ProofBundle::new(good.index(), good.path().to_vec(), note);
    let v = lab.verifier().verify_offline(
        &token.to_bytes(),
        bad.to_text().as_bytes(),
        &FilesInHand::default(),
    );
    assert_fails(
        &v,
        Status::Invalid,
        CheckName::CheckpointSignature,
        "not signed by",
    );
    assert_eq!(outcome(&v, CheckName::Inclusion), Some(Outcome::Skip));
}

#[test]
fn a_forked_log_is_reported_loudly() {
    // Two logs under the same key and origin, with different contents of
    // the same size: the verifier remembers the first and refuses the second.
    let mut lab = Lab::new();
    let mut fork = Lab::new();
    let a = lab.token("LX-A");
    let b = fork.token("LX-B");
    let pa = lab.append(a.logged_bytes()).to_text();
    let pb = fork.append(b.logged_bytes()).to_text();
    let verifier = lab.verifier();
    let none = FilesInHand::default();
    assert_eq!(
        verifier
            .verify_offline(&a.to_bytes(), pa.as_bytes(), &none)
            .status,
        Status::Valid
    );
    let v = verifier.verify_offline(&b.to_bytes(), pb.as_bytes(), &none);
    assert_fails(&v, Status::Invalid, CheckName::Consistency, "LOG FORK");
    // The same (honest) checkpoint again is fine.
    assert_eq!(
        verifier
            .verify_offline(&a.to_bytes(), pa.as_bytes(), &none)
            .status,
        Status::Valid
    );
}

#[test]
fn offline_a_larger_checkpoint_cannot_be_proven_and_is_skipped_not_trusted_blindly() {
    let mut lab = Lab::new();
    let a = lab.token("LX-A");
    let pa = lab.append(a.logged_bytes()).to_text();
    let b = lab.token("LX-BB");
    let pb = lab.append(b.logged_bytes()).to_text();
    let verifier = lab.verifier();
    let none = FilesInHand::default();
    assert_eq!(
        verifier
            .verify_offline(&a.to_bytes(), pa.as_bytes(), &none)
            .status,
        Status::Valid
    );
    let v = verifier.verify_offline(&b.to_bytes(), pb.as_bytes(), &none);
    assert_eq!(
        outcome(&v, CheckName::Consistency),
        Some(Outcome::Skip),
        "{v:#?}"
    );
    // The memory still holds size 1: it only advances on a proven step.
    assert_eq!(verifier.memory().get(LOG).map(|s| s.size), Some(1));
}

#[test]
fn the_witness_policy_is_enforced() {
    let mut lab = Lab::new();
    let witness =
        CosignatureSigner::new("witness.example", SigningKey::from_bytes(&[5; 32])).expect("w");
    lab.trust.set_witnesses(WitnessPolicy {
        keys: vec![witness.verifier()],
        min: 1,
    });
    let token = lab.token("LX-1");
    let bundle = lab.append(token.logged_bytes());
    let none = FilesInHand::default();
    let v = lab
        .verifier()
        .verify_offline(&token.to_bytes(), bundle.to_text().as_bytes(), &none);
    assert_fails(
        &v,
        Status::Invalid,
        CheckName::Witnesses,
        "witness policy not met",
    );

    let seen = open_checkpoint(
        bundle.checkpoint_text().as_bytes(),
        LOG,
        &lab.log_signer.verifier(),
        &[],
        0,
        NOW,
    )
    .expect("open");
    let cosigned = witness.cosign(&seen, NOW - 10).expect("cosign");
    let with = ProofBundle::new(bundle.index(), bundle.path().to_vec(), cosigned);
    let v = lab
        .verifier()
        .verify_offline(&token.to_bytes(), with.to_text().as_bytes(), &none);
    assert_eq!(v.status, Status::Valid, "{v:#?}");
    assert_eq!(outcome(&v, CheckName::Witnesses), Some(Outcome::Pass));
}

#[test]
fn files_in_hand_must_match_byte_for_byte() {
    let mut lab = Lab::new();
    let token = lab.token("LX-1");
    let proof = lab.append(token.logged_bytes()).to_text();
    let verifier = lab.verifier();

    let mut good = FilesInHand::default();
    good.add("report", Sha256Digest::of(&report_bytes()))
        .expect("role");
    good.add("face-up", Sha256Digest::of(b"face-up photo"))
        .expect("role");
    let v = verifier.verify_offline(&token.to_bytes(), proof.as_bytes(), &good);
    assert_eq!(v.status, Status::Valid, "{v:#?}");
    assert_eq!(
        v.file_check("report").map(|c| c.outcome),
        Some(Outcome::Pass)
    );
    assert_eq!(
        v.file_check("image:face-up").map(|c| c.outcome),
        Some(Outcome::Pass)
    );

    let mut pdf = report_bytes();
    let mid = pdf.len() / 2;
    pdf[mid] ^= 0x20;
    let mut bad = FilesInHand::default();
    bad.add("report", Sha256Digest::of(&pdf)).expect("role");
    let v = verifier.verify_offline(&token.to_bytes(), proof.as_bytes(), &bad);
    assert_eq!(v.status, Status::Invalid);
    let c = v.file_check("report").expect("file check");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(c.reason.contains("not the certified one"), "{c:?}");

    let mut absent = FilesInHand::default();
    absent
        .add("pavilion", Sha256Digest::of(b"x"))
        .expect("role");
    let v = verifier.verify_offline(&token.to_bytes(), proof.as_bytes(), &absent);
    assert_eq!(v.status, Status::Invalid);
    assert!(
        FilesInHand::default()
            .add("bottom", Sha256Digest::of(b"x"))
            .is_err()
    );
}

#[test]
fn an_unknown_issuer_is_unknown_not_invalid() {
    let mut lab = Lab::new();
    let token = TokenBuilder::new("other-lab.example", "X-1", provenance())
        .iat(IAT)
        .sign(&lab.key)
        .expect("sign");
    let proof = lab.append(token.logged_bytes()).to_text();
    let v =
        lab.verifier()
            .verify_offline(&token.to_bytes(), proof.as_bytes(), &FilesInHand::default());
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert_eq!(outcome(&v, CheckName::IssuerKnown), Some(Outcome::Fail));
}

#[test]
fn without_a_proof_offline_the_answer_is_unknown() {
    let lab = Lab::new();
    let token = lab.token("LX-1");
    let verifier = lab.verifier();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    let v = rt.block_on(verifier.verify_token(&token.to_bytes(), None, &FilesInHand::default()));
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert_eq!(outcome(&v, CheckName::Inclusion), Some(Outcome::Skip));
    assert_eq!(outcome(&v, CheckName::TokenSignature), Some(Outcome::Pass));
}

#[test]
fn a_malformed_proof_bundle_is_invalid() {
    let lab = Lab::new();
    let token = lab.token("LX-1");
    let v = lab.verifier().verify_offline(
        &token.to_bytes(),
        b"c2sp.org/tlog-proof@v1\nindex x\n",
        &FilesInHand::default(),
    );
    assert_fails(&v, Status::Invalid, CheckName::Inclusion, "malformed");
}

#[test]
fn the_checkpoint_memory_survives_a_restart_and_refuses_a_corrupt_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state/checkpoints.json");
    let mut lab = Lab::new();
    let token = lab.token("LX-1");
    let proof = lab.append(token.logged_bytes()).to_text();
    let memory = Arc::new(CheckpointMemory::open(&path).expect("open"));
    let v = lab.verifier().with_memory(memory).verify_offline(
        &token.to_bytes(),
        proof.as_bytes(),
        &FilesInHand::default(),
    );
    assert_eq!(v.status, Status::Valid);
    let again = CheckpointMemory::open(&path).expect("reopen");
    assert_eq!(again.get(LOG).map(|s| s.size), Some(1));

    // A fork seen by the restarted verifier is still caught.
    let mut fork = Lab::new();
    let b = fork.token("LX-B");
    let pb = fork.append(b.logged_bytes()).to_text();
    let v = lab.verifier().with_memory(Arc::new(again)).verify_offline(
        &b.to_bytes(),
        pb.as_bytes(),
        &FilesInHand::default(),
    );
    assert_fails(&v, Status::Invalid, CheckName::Consistency, "LOG FORK");

    std::fs::write(&path, b"{\"logs\": 5}").expect("write");
    assert!(CheckpointMemory::open(&path).is_err());
}

// ---------------------------------------------------------------------------
// X.509 chains (RFC 9360 x5chain)

struct Pki {
    root_der: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

fn ed25519_keypair(key: &SigningKey) -> rcgen::KeyPair {
    let pem = key.to_pkcs8_pem(Default::default()).expect("pem");
    rcgen::KeyPair::from_pem(&pem).expect("keypair")
}

fn ts(t: u64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t as i64).expect("time")
}

/// A root CA and a leaf for `name` with the lab's key, valid `from..to`.
fn pki(lab_key: &SigningKey, name: &str, from: u64, to: u64, leaf_is_ca: bool) -> Pki {
    pki_with_root(11, lab_key, name, from, to, leaf_is_ca)
}

fn pki_with_root(
    root_seed: u8,
    lab_key: &SigningKey,
    name: &str,
    from: u64,
    to: u64,
    leaf_is_ca: bool,
) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyUsagePurpose};
    let root_key = ed25519_keypair(&SigningKey::from_bytes(&[root_seed; 32]));
    let mut root = CertificateParams::new(Vec::<String>::new()).expect("params");
    root.distinguished_name
        .push(DnType::CommonName, "Example Root");
    root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    root.not_before = ts(1_600_000_000);
    root.not_after = ts(2_000_000_000);
    let root_cert = root.self_signed(&root_key).expect("root");
    let issuer = Issuer::new(root, root_key);
    let mut leaf = CertificateParams::new(vec![name.to_owned()]).expect("params");
    leaf.distinguished_name.push(DnType::CommonName, name);
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if leaf_is_ca {
        leaf.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    leaf.not_before = ts(from);
    leaf.not_after = ts(to);
    let leaf_cert = leaf
        .signed_by(&ed25519_keypair(lab_key), &issuer)
        .expect("leaf");
    Pki {
        root_der: root_cert.der().to_vec(),
        chain: vec![leaf_cert.der().to_vec(), root_cert.der().to_vec()],
    }
}

fn verify_with_chain(lab: &mut Lab, chain: Vec<Vec<u8>>, roots: Vec<Vec<u8>>) -> Verdict {
    lab.set_issuer(vec![], roots);
    let token = lab
        .builder("LX-1")
        .x5chain(chain)
        .sign(&lab.key)
        .expect("sign");
    let proof = lab.append(token.logged_bytes()).to_text();
    lab.verifier()
        .verify_offline(&token.to_bytes(), proof.as_bytes(), &FilesInHand::default())
}

#[test]
fn a_certificate_chain_to_a_trusted_root_verifies() {
    let mut lab = Lab::new();
    let p = pki(&lab.key, ISS, IAT - 1000, IAT + 1000, false);
    let v = verify_with_chain(&mut lab, p.chain.clone(), vec![p.root_der.clone()]);
    assert_eq!(v.status, Status::Valid, "{v:#?}");
    assert!(
        v.check(CheckName::IssuerKey)
            .is_some_and(|c| c.reason.contains("certificate chain"))
    );
    // The leaf alone (root not in the x5chain) also reaches the root.
    let mut lab = Lab::new();
    let v = verify_with_chain(&mut lab, vec![p.chain[0].clone()], vec![p.root_der]);
    assert_eq!(v.status, Status::Valid, "{v:#?}");
}

#[test]
fn bad_certificate_chains_are_refused() {
    let lab0 = Lab::new();
    let good = pki(&lab0.key, ISS, IAT - 1000, IAT + 1000, false);
    let other_root = pki(
        &SigningKey::from_bytes(&[12; 32]),
        ISS,
        IAT - 1000,
        IAT + 1000,
        false,
    );
    let cases: Vec<(&str, Pki, Vec<Vec<u8>>, &str)> = vec![
        (
            "expired before iat",
            pki(&lab0.key, ISS, IAT - 2000, IAT - 1000, false),
            vec![good.root_der.clone()],
            "not valid at the signing time",
        ),
        (
            "not yet valid at iat",
            pki(&lab0.key, ISS, IAT + 10, IAT + 1000, false),
            vec![good.root_der.clone()],
            "not valid at the signing time",
        ),
        (
            "wrong name",
            pki(&lab0.key, "evil.example", IAT - 1000, IAT + 1000, false),
            vec![good.root_der.clone()],
            "not for issuer",
        ),
        (
            "leaf is a CA",
            pki(&lab0.key, ISS, IAT - 1000, IAT + 1000, true),
            vec![good.root_der.clone()],
            "CA certificate",
        ),
        (
            "leaf key is not the signing key",
            other_root,
            vec![good.root_der.clone()],
            "does not match the key",
        ),
    ];
    for (name, p, roots, expect) in cases {
        let mut lab = Lab::new();
        let v = verify_with_chain(&mut lab, p.chain, roots);
        assert_eq!(v.status, Status::Invalid, "{name}: {v:#?}");
        let failed: Vec<_> = v
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .collect();
        assert!(
            failed.iter().any(|c| c.reason.contains(expect)),
            "{name}: no failure mentions {expect:?}: {failed:#?}"
        );
    }
    // A wrongly-chained leaf: signed by a root the store does not list
    // (same name, other key), with and without that root in the x5chain.
    let rogue = pki_with_root(14, &lab0.key, ISS, IAT - 1000, IAT + 1000, false);
    for chain in [rogue.chain.clone(), vec![rogue.chain[0].clone()]] {
        let mut lab = Lab::new();
        let v = verify_with_chain(&mut lab, chain, vec![good.root_der.clone()]);
        assert_fails(
            &v,
            Status::Invalid,
            CheckName::IssuerKey,
            "certificate chain refused",
        );
    }
}

#[test]
fn a_checkpoint_of_another_trusted_log_is_refused_even_when_cached() {
    // Two trusted labs, each with its own log. A token of the second lab
    // that was slipped into the first lab's log is not in its own lab's
    // log, so its proof must not pass — not even when the first lab's
    // checkpoint is already in the verifier's cache.
    const OTHER: &str = "other.example";
    const OTHER_LOG: &str = "other.example/log";
    let mut lab = Lab::new();
    let other_key = SigningKey::from_bytes(&[5; 32]);
    let other_log = NoteSigner::new(OTHER_LOG, SigningKey::from_bytes(&[6; 32])).expect("signer");
    lab.trust.add_log(Log {
        origin: OTHER_LOG.into(),
        keys: vec![other_log.verifier()],
        url: "https://other.example".parse().expect("url"),
    });
    lab.trust
        .add_issuer(Issuer {
            origin: OTHER.into(),
            url: "https://other.example".parse().expect("url"),
            log: OTHER_LOG.into(),
            keys: vec![issuer_key(&other_key, None, None)],
            roots: vec![],
        })
        .expect("issuer");
    let ours = lab.token("LX-1");
    let theirs = TokenBuilder::new(OTHER, "OX-1", provenance())
        .iat(IAT)
        .cti(Cti([7; 16]))
        .sign(&other_key)
        .expect("sign");
    lab.log.append_leaf(ours.logged_bytes()).expect("append");
    let smuggled = lab.append(theirs.logged_bytes());
    let verifier = lab.verifier();
    let none = FilesInHand::default();

    // Warm the cache with the first lab's checkpoint.
    let v = verifier.verify_offline(&ours.to_bytes(), lab.prove(0).to_text().as_bytes(), &none);
    assert_eq!(v.status, Status::Valid, "{v:#?}");

    let v = verifier.verify_offline(&theirs.to_bytes(), smuggled.to_text().as_bytes(), &none);
    assert_fails(
        &v,
        Status::Invalid,
        CheckName::CheckpointSignature,
        "not signed by other.example/log",
    );
}
