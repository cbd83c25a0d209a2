//! Merkle benchmarks at a million leaves.
//!
//! `cargo bench -p loupe-schemas --bench merkle` (add `-- --quick` for a
//! short run).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use loupe_schemas::merkle::{
    AppendState, Hash, MemoryHashStore, leaf_hash, prove_consistency, prove_inclusion,
};
use loupe_schemas::tiles::{StoredHashTiles, TileHashReader};

const LEAVES: u64 = 1_000_000;

fn leaves() -> Vec<Hash> {
    (0..LEAVES).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn store(leaves: &[Hash]) -> MemoryHashStore {
    let mut store = MemoryHashStore::with_capacity(leaves.len());
    for leaf in leaves {
        store.append_leaf_hash(leaf).unwrap();
    }
    store
}

fn proofs(c: &mut Criterion) {
    let leaves = leaves();
    let store = store(&leaves);
    let root = store.root().unwrap();
    let half = LEAVES / 2;
    let half_root = loupe_schemas::merkle::tree_hash(half, &store).unwrap();
    let index = 777_777;

    let inclusion = prove_inclusion(index, LEAVES, &store).unwrap();
    let leaf = leaves[index as usize];
    c.bench_function("verify_inclusion/1M", |b| {
        b.iter(|| {
            black_box(&inclusion)
                .verify(black_box(&leaf), black_box(&root))
                .unwrap()
        });
    });

    let consistency = prove_consistency(half, LEAVES, &store).unwrap();
    c.bench_function("verify_consistency/500k->1M", |b| {
        b.iter(|| {
            black_box(&consistency)
                .verify(black_box(&half_root), black_box(&root))
                .unwrap()
        });
    });

    c.bench_function("prove_inclusion/1M/memory", |b| {
        b.iter(|| prove_inclusion(black_box(index), LEAVES, &store).unwrap());
    });
    c.bench_function("prove_consistency/500k->1M/memory", |b| {
        b.iter(|| prove_consistency(black_box(half + 3), LEAVES, &store).unwrap());
    });

    let mirror = TileHashReader::new(LEAVES, root, StoredHashTiles(&store));
    c.bench_function("prove_inclusion/1M/tiles", |b| {
        b.iter(|| prove_inclusion(black_box(index), LEAVES, &mirror).unwrap());
    });
}

fn appends(c: &mut Criterion) {
    let leaves = leaves();
    let mut group = c.benchmark_group("append_1M");
    group.sample_size(10);
    group.bench_function("append_state_push", |b| {
        b.iter(|| {
            let mut state = AppendState::new();
            for leaf in &leaves {
                state.push(*leaf).unwrap();
            }
            black_box(state.root())
        });
    });
    group.bench_function("append_state_append", |b| {
        b.iter(|| {
            let mut state = AppendState::new();
            let mut stored = 0;
            for leaf in &leaves {
                stored += state.append(*leaf).unwrap().stored_hashes.len();
            }
            black_box((state.root(), stored))
        });
    });
    group.bench_function("memory_hash_store", |b| {
        b.iter(|| black_box(store(&leaves).tree_size()));
    });
    group.finish();
}

criterion_group!(benches, proofs, appends);
criterion_main!(benches);
