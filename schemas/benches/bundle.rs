//! What a verifier does per token besides the token signature: open a proof
//! bundle (checkpoint signature, one witness cosignature, inclusion proof in
//! a 1M-leaf log) or a COSE receipt.
//!
//! `cargo bench -p loupe-schemas --bench bundle` (add `-- --quick` for a
//! short run).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use loupe_schemas::bundle::{LogPolicy, ProofBundle, Receipt};
use loupe_schemas::checkpoint::{
    Checkpoint, CosignatureSigner, NoteSigner, open_checkpoint, sign_checkpoint,
};
use loupe_schemas::merkle::{MemoryHashStore, prove_inclusion};
use loupe_schemas::token::Algorithm;

const LEAVES: u64 = 1_000_000;
const ORIGIN: &str = "lab.example/log";
const NOW: u64 = 1_790_000_000;

fn bench(c: &mut Criterion) {
    let mut store = MemoryHashStore::with_capacity(LEAVES as usize);
    for i in 0..LEAVES {
        store.append_leaf(&i.to_be_bytes()).unwrap();
    }
    let root = store.root().unwrap();
    let log_key = SigningKey::from_bytes(&[1; 32]);
    let log = NoteSigner::new(ORIGIN, log_key.clone()).unwrap();
    let witness =
        CosignatureSigner::new("witness.example", SigningKey::from_bytes(&[2; 32])).unwrap();
    let signed = sign_checkpoint(
        &Checkpoint::new(ORIGIN, LEAVES, root, vec![]).unwrap(),
        &log,
    )
    .unwrap();
    let opened = open_checkpoint(signed.as_bytes(), ORIGIN, &log.verifier(), &[], 0, NOW).unwrap();
    let cosigned = witness.cosign(&opened, NOW).unwrap();

    let index = 777_777u64;
    let entry = index.to_be_bytes();
    let proof = prove_inclusion(index, LEAVES, &store).unwrap();
    let text = ProofBundle::new(index, proof.path.clone(), cosigned).to_text();
    let policy = LogPolicy::new(ORIGIN, log.verifier()).with_witnesses(vec![witness.verifier()], 1);
    let receipt = Receipt::sign(&log_key, Algorithm::EdDsa, ORIGIN, &proof, &root);
    let log_public = log_key.verifying_key();

    let mut g = c.benchmark_group("bundle");
    g.bench_function("tlog-proof parse+verify (1M leaves, 1 witness)", |b| {
        b.iter(|| {
            ProofBundle::parse(black_box(text.as_bytes()))
                .unwrap()
                .verify(black_box(&entry), &policy, NOW)
                .unwrap()
        })
    });
    g.bench_function("receipt parse+verify (1M leaves)", |b| {
        b.iter(|| {
            Receipt::parse(black_box(&receipt))
                .unwrap()
                .verify(black_box(&entry), ORIGIN, &log_public)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
