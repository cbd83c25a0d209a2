//! Verifications per second through the library, against raw Ed25519
//! `verify_strict` measured in the same run.
//!
//! `cargo bench -p loupe-verifier --bench verify`
//!
//! "warm" means the trust store is loaded and the log's checkpoint has been
//! verified once (the verifier caches verified checkpoints by their bytes),
//! as for an insurer checking a portfolio of tokens from one log.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;
use loupe_verifier::{FilesInHand, Status};

#[path = "fixture.rs"]
mod fixture;

// The allocator of the `loupe` binary (see `src/main.rs`); run with
// `--no-default-features` for the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let fixture::Fixture {
        key,
        vk,
        items,
        verifier,
    } = fixture::fixture();
    let none = FilesInHand::default();
    let msg = vec![0xa5u8; items[0].0.len() + 40];
    let sig = key.sign(&msg);

    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw ed25519 verify_strict (token-sized message)", |b| {
        b.iter(|| vk.verify_strict(black_box(&msg), black_box(&sig)).is_ok())
    });
    let mut i = 0usize;
    g.bench_function("library: token + proof, warm trust store", |b| {
        b.iter(|| {
            let (t, p) = &items[i % items.len()];
            i += 1;
            let v = verifier.verify_offline(black_box(t), black_box(p), &none);
            debug_assert_eq!(v.status, Status::Valid);
            v.status
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
