//! Property tests of the Merkle math over random trees of up to a few
//! thousand leaves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use loupe_schemas::merkle::{
    AppendState, ConsistencyProof, Hash, InclusionProof, MemoryHashStore, leaf_hash,
    prove_consistency, prove_inclusion, root_from_leaf_hashes, stored_hashes, tree_hash,
};
use loupe_schemas::tiles::{StoredHashTiles, TileHashReader};
use proptest::prelude::*;

const MAX_LEAVES: u64 = 3000;

fn leaves(size: u64, seed: u64) -> Vec<Hash> {
    (0..size)
        .map(|i| leaf_hash(format!("{seed}/{i}").as_bytes()))
        .collect()
}

fn store_of(leaves: &[Hash]) -> MemoryHashStore {
    let mut store = MemoryHashStore::with_capacity(leaves.len());
    for leaf in leaves {
        store.append_leaf_hash(leaf).unwrap();
    }
    store
}

fn flip(path: &[Hash], bit: usize) -> Vec<Hash> {
    let mut out = path.to_vec();
    let len = out.len();
    out[(bit / 256) % len][(bit % 256) / 8] ^= 1 << (bit % 8);
    out
}

/// The sequence of decisions the RFC 9162 §2.1.3.2 loop takes for `fn`,
/// `sn`: for each path element, whether it is hashed on the left. Two
/// (index, size) pairs with the same shape compute the same root from the
/// same path, so a proof is equally valid for both.
fn inclusion_shape(mut fn_: u64, mut sn: u64) -> Vec<bool> {
    let mut shape = Vec::new();
    while sn != 0 {
        let left = fn_ & 1 == 1 || fn_ == sn;
        if left && fn_ & 1 == 0 {
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        shape.push(left);
        fn_ >>= 1;
        sn >>= 1;
    }
    shape
}

/// The decisions of the RFC 9162 §2.1.4.2 loop, plus whether the old root
/// seeds it (old size a power of two).
fn consistency_shape(old: u64, new: u64) -> (bool, Vec<bool>) {
    if old == 0 || old == new {
        return (false, Vec::new());
    }
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    (old.is_power_of_two(), inclusion_shape(fn_, sn))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// AppendState, tree_hash over stored hashes and the MTH of the leaves
    /// agree at every size, and AppendState stores what stored_hashes does.
    #[test]
    fn roots_agree(size in 0..=MAX_LEAVES, seed in any::<u64>()) {
        let leaves = leaves(size, seed);
        let mut state = AppendState::new();
        let mut store = MemoryHashStore::new();
        for (i, leaf) in leaves.iter().enumerate() {
            let appended = state.append(*leaf).unwrap();
            prop_assert_eq!(&appended.stored_hashes, &stored_hashes(i as u64, leaf, &store).unwrap());
            store.append_leaf_hash(leaf).unwrap();
            if i % 97 == 0 {
                prop_assert_eq!(state.root(), tree_hash(i as u64 + 1, &store).unwrap());
            }
        }
        let root = root_from_leaf_hashes(&leaves);
        prop_assert_eq!(state.root(), root);
        prop_assert_eq!(tree_hash(size, &store).unwrap(), root);
        prop_assert_eq!(store.root().unwrap(), root);
        prop_assert_eq!(AppendState::from_reader(size, &store).unwrap(), state);
    }

    /// Every inclusion proof of the tree verifies; a flipped bit, another
    /// index, another leaf or root fails; another size passes only when it
    /// gives the verifier the same computation.
    #[test]
    fn inclusion_proofs(size in 1..=MAX_LEAVES, seed in any::<u64>(), bit in any::<usize>(), other in any::<u64>()) {
        let leaves = leaves(size, seed);
        let store = store_of(&leaves);
        let root = store.root().unwrap();
        for (i, leaf) in leaves.iter().enumerate() {
            let proof = prove_inclusion(i as u64, size, &store).unwrap();
            prop_assert_eq!(proof.verify(leaf, &root), Ok(()));
        }
        let index = other % size;
        let leaf = leaves[index as usize];
        let proof = prove_inclusion(index, size, &store).unwrap();
        if !proof.path.is_empty() {
            let bad = InclusionProof { path: flip(&proof.path, bit), ..proof.clone() };
            prop_assert!(bad.verify(&leaf, &root).unwrap_err().is_mismatch());
        }
        let mut bad_leaf = leaf;
        bad_leaf[bit % 32] ^= 1;
        prop_assert!(proof.verify(&bad_leaf, &root).is_err());
        let mut bad_root = root;
        bad_root[bit % 32] ^= 0x80;
        prop_assert!(proof.verify(&leaf, &bad_root).is_err());
        let other_index = (index + 1 + other % (size.max(2) - 1)) % size;
        if other_index != index {
            let bad = InclusionProof { leaf_index: other_index, ..proof.clone() };
            prop_assert!(bad.verify(&leaf, &root).is_err(), "index {} accepted as {}", index, other_index);
        }
        for other_size in [size + 1 + other % 5000, size - other % size, size * 2, size / 2] {
            if other_size == size {
                continue;
            }
            let bad = InclusionProof { tree_size: other_size, ..proof.clone() };
            let same = index < other_size
                && inclusion_shape(index, other_size - 1) == inclusion_shape(index, size - 1);
            prop_assert_eq!(bad.verify(&leaf, &root).is_ok(), same, "size {} as {}", size, other_size);
        }
    }

    /// Every consistency proof into the tree verifies; a flipped bit fails;
    /// other sizes pass only when they give the verifier the same computation.
    #[test]
    fn consistency_proofs(size in 1..=MAX_LEAVES, seed in any::<u64>(), bit in any::<usize>(), other in any::<u64>()) {
        let leaves = leaves(size, seed);
        let store = store_of(&leaves);
        let root = store.root().unwrap();
        let mut roots = Vec::with_capacity(size as usize + 1);
        let mut state = AppendState::new();
        roots.push(state.root());
        for leaf in &leaves {
            state.push(*leaf).unwrap();
            roots.push(state.root());
        }
        for old in 0..=size {
            let proof = prove_consistency(old, size, &store).unwrap();
            prop_assert_eq!(proof.verify(&roots[old as usize], &root), Ok(()), "{} -> {}", old, size);
        }
        let old = if bit % 8 == 0 { 0 } else { other % (size + 1) };
        let old_root = roots[old as usize];
        let proof = prove_consistency(old, size, &store).unwrap();
        if !proof.path.is_empty() {
            let bad = ConsistencyProof { path: flip(&proof.path, bit), ..proof.clone() };
            prop_assert!(bad.verify(&old_root, &root).unwrap_err().is_mismatch());
            let mut bad_root = root;
            bad_root[bit % 32] ^= 1;
            prop_assert!(proof.verify(&old_root, &bad_root).is_err());
            let mut bad_old = old_root;
            bad_old[bit % 32] ^= 1;
            prop_assert!(proof.verify(&bad_old, &root).is_err());
        }
        let shape = consistency_shape(old, size);
        for other_old in [old + 1, old.saturating_sub(1), old ^ 2, other % (size + 1)] {
            if other_old == old || other_old > size {
                continue;
            }
            let bad = ConsistencyProof { old_size: other_old, ..proof.clone() };
            let same = consistency_shape(other_old, size) == shape && !proof.path.is_empty();
            prop_assert_eq!(bad.verify(&old_root, &root).is_ok(), same, "old {} as {}", old, other_old);
        }
        for other_new in [size + 1 + other % 5000, size * 2, size / 2] {
            if other_new == size || other_new < old {
                continue;
            }
            let bad = ConsistencyProof { new_size: other_new, ..proof.clone() };
            // The empty tree is a prefix of every tree.
            let same = old == 0 || (consistency_shape(old, other_new) == shape && !proof.path.is_empty());
            prop_assert_eq!(bad.verify(&old_root, &root).is_ok(), same, "new {} as {}", size, other_new);
        }
    }

    /// Proofs computed from tiles, authenticated against the root, are the
    /// proofs computed from the stored hashes.
    #[test]
    fn tile_proofs_equal_store_proofs(size in 1..=MAX_LEAVES, seed in any::<u64>(), picks in prop::collection::vec(any::<u64>(), 8)) {
        let leaves = leaves(size, seed);
        let store = store_of(&leaves);
        let root = store.root().unwrap();
        let mirror = TileHashReader::new(size, root, StoredHashTiles(&store));
        prop_assert_eq!(tree_hash(size, &mirror).unwrap(), root);
        for pick in picks {
            let index = pick % size;
            prop_assert_eq!(prove_inclusion(index, size, &mirror).unwrap(), prove_inclusion(index, size, &store).unwrap());
            let new = index + 1 + (pick >> 32) % (size - index);
            let old = index;
            prop_assert_eq!(prove_consistency(old, new, &mirror).unwrap(), prove_consistency(old, new, &store).unwrap());
        }
    }
}
