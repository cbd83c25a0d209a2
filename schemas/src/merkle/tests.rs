#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)]

use super::*;

/// RFC 9162 §2.1.1 MTH, written as the recursive definition.
fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = largest_pow2_below(n);
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

fn largest_pow2_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]).
fn reference_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = largest_pow2_below(n);
    if m < k {
        let mut p = reference_path(m, &leaves[..k]);
        p.push(reference_root(&leaves[k..]));
        p
    } else {
        let mut p = reference_path(m - k, &leaves[k..]);
        p.push(reference_root(&leaves[..k]));
        p
    }
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
fn reference_subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete {
            Vec::new()
        } else {
            vec![reference_root(leaves)]
        };
    }
    let k = largest_pow2_below(n);
    if m <= k {
        let mut p = reference_subproof(m, &leaves[..k], complete);
        p.push(reference_root(&leaves[k..]));
        p
    } else {
        let mut p = reference_subproof(m - k, &leaves[k..], false);
        p.push(reference_root(&leaves[..k]));
        p
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

fn store_of(leaves: &[Hash]) -> MemoryHashStore {
    let mut store = MemoryHashStore::new();
    for leaf in leaves {
        store.append_leaf_hash(leaf).unwrap();
    }
    store
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

#[test]
fn hashes_are_domain_separated() {
    assert_eq!(empty_root(), EMPTY_ROOT);
    let data: Vec<u8> = (0..64).collect();
    let (left, right) = data.split_at(32);
    let left: Hash = left.try_into().unwrap();
    let right: Hash = right.try_into().unwrap();
    assert_ne!(leaf_hash(&data), node_hash(&left, &right));
    assert_ne!(node_hash(&left, &right), node_hash(&right, &left));
    assert_ne!(leaf_hash(b""), EMPTY_ROOT);
}

#[test]
fn roots_agree_with_the_rfc_definition() {
    let all = leaves(130);
    let mut state = AppendState::new();
    let mut store = MemoryHashStore::new();
    for n in 0..=all.len() {
        let want = reference_root(&all[..n]);
        assert_eq!(root_from_leaf_hashes(&all[..n]), want, "n={n}");
        assert_eq!(state.root(), want, "append state n={n}");
        assert_eq!(store.root().unwrap(), want, "store n={n}");
        assert_eq!(tree_hash(n as u64, &store).unwrap(), want);
        if let Some(leaf) = all.get(n) {
            state.push(*leaf).unwrap();
            store.append_leaf_hash(leaf).unwrap();
        }
    }
}

#[test]
fn stored_hash_layout_round_trips() {
    for level in 0..12u8 {
        for n in 0..300u64 {
            let index = stored_hash_index(level, n).unwrap();
            assert_eq!(split_stored_hash_index(index), (level, n));
        }
    }
    for index in 0..5000u64 {
        let (level, n) = split_stored_hash_index(index);
        assert_eq!(stored_hash_index(level, n), Some(index));
    }
    // Large coordinates stay exact and never wrap.
    let top = stored_hash_index(62, 0).unwrap();
    assert_eq!(split_stored_hash_index(top), (62, 0));
    assert!(split_stored_hash_index(u64::MAX).0 < 64);
    assert_eq!(stored_hash_index(64, 0), None);
    assert_eq!(stored_hash_index(0, u64::MAX), None);
    assert_eq!(stored_hash_index(63, 2), None);
    assert_eq!(stored_hash_count(u64::MAX), None);
    assert!(stored_hash_count(MAX_TREE_SIZE).is_some());
}

#[test]
fn stored_hash_count_matches_the_store() {
    let mut store = MemoryHashStore::new();
    for (i, leaf) in leaves(600).iter().enumerate() {
        assert_eq!(
            stored_hash_count(i as u64),
            Some(store.stored().len() as u64)
        );
        store.append_leaf_hash(leaf).unwrap();
    }
}

#[test]
fn append_state_produces_the_stored_hashes() {
    let all = leaves(300);
    let mut state = AppendState::new();
    let mut store = MemoryHashStore::new();
    for (i, leaf) in all.iter().enumerate() {
        let want = stored_hashes(i as u64, leaf, &store).unwrap();
        let appended = state.append(*leaf).unwrap();
        assert_eq!(appended.leaf_index, i as u64);
        assert_eq!(appended.first_stored_index, store.stored().len() as u64);
        assert_eq!(appended.stored_hashes, want, "leaf {i}");
        store.append_leaf_hash(leaf).unwrap();
        // Resuming from the frontier or from storage gives the same state.
        let size = i as u64 + 1;
        assert_eq!(AppendState::from_reader(size, &store).unwrap(), state);
        assert_eq!(
            AppendState::from_frontier(size, state.frontier().to_vec()).unwrap(),
            state
        );
    }
}

#[test]
fn append_state_refuses_bad_resumes_and_a_full_tree() {
    assert_eq!(
        AppendState::from_frontier(3, vec![EMPTY_ROOT]),
        Err(AppendError::FrontierMismatch {
            size: 3,
            got: 1,
            expected: 2
        })
    );
    assert_eq!(
        AppendState::from_frontier(MAX_TREE_SIZE + 1, vec![EMPTY_ROOT; 2]),
        Err(AppendError::TreeFull {
            size: MAX_TREE_SIZE + 1
        })
    );
    let mut full = AppendState::from_frontier(MAX_TREE_SIZE, vec![EMPTY_ROOT]).unwrap();
    assert_eq!(
        full.push(EMPTY_ROOT),
        Err(AppendError::TreeFull {
            size: MAX_TREE_SIZE
        })
    );
    assert_eq!(full.size(), MAX_TREE_SIZE);
}

#[test]
fn inclusion_proofs_match_the_rfc_and_verify() {
    let all = leaves(70);
    let store = store_of(&all);
    for n in 1..=all.len() {
        let root = reference_root(&all[..n]);
        for m in 0..n {
            let proof = prove_inclusion(m as u64, n as u64, &store).unwrap();
            assert_eq!(proof.path, reference_path(m, &all[..n]), "m={m} n={n}");
            assert_eq!(proof.verify(&all[m], &root), Ok(()));
            assert_eq!(proof.root_from_leaf(&all[m]), Ok(root));
            let indexes = inclusion_proof_indexes(m as u64, n as u64).unwrap();
            assert!(indexes.windows(2).all(|w| w[0] < w[1]), "indexes increase");
        }
    }
}

#[test]
fn consistency_proofs_match_the_rfc_and_verify() {
    let all = leaves(70);
    let store = store_of(&all);
    for n in 0..=all.len() {
        let new_root = reference_root(&all[..n]);
        for m in 0..=n {
            let old_root = reference_root(&all[..m]);
            let proof = prove_consistency(m as u64, n as u64, &store).unwrap();
            let want = if m == 0 {
                Vec::new()
            } else {
                reference_subproof(m, &all[..n], true)
            };
            assert_eq!(proof.path, want, "m={m} n={n}");
            assert_eq!(proof.verify(&old_root, &new_root), Ok(()), "m={m} n={n}");
        }
    }
}

#[test]
fn altered_inclusion_proofs_fail() {
    let all = leaves(37);
    let store = store_of(&all);
    for n in 1..=all.len() {
        let root = reference_root(&all[..n]);
        for m in 0..n {
            let proof = prove_inclusion(m as u64, n as u64, &store).unwrap();
            for i in 0..proof.path.len() {
                let mut bad = proof.clone();
                bad.path[i] = flip(&bad.path[i], (i * 37) % 256);
                assert_eq!(
                    bad.verify(&all[m], &root),
                    Err(InclusionError::RootMismatch)
                );
            }
            assert!(
                proof
                    .verify(&flip(&all[m], 3), &root)
                    .unwrap_err()
                    .is_mismatch()
            );
            assert!(
                proof
                    .verify(&all[m], &flip(&root, 255))
                    .unwrap_err()
                    .is_mismatch()
            );
            // (A proof for leaf m of size n can also be one for size n+1 in
            // the tree that has the same root, so only other heights count.)
            for (index, size) in [
                (m as u64 + 1, n as u64),
                (m as u64 ^ 1, n as u64),
                (m as u64 ^ 2, n as u64),
                (m as u64, n as u64 * 2),
                (m as u64, n as u64 / 2),
            ] {
                if (index, size) == (m as u64, n as u64) {
                    continue;
                }
                let mut bad = proof.clone();
                bad.leaf_index = index;
                bad.tree_size = size;
                assert!(
                    bad.verify(&all[m], &root).is_err(),
                    "m={m} n={n} -> {index}/{size}"
                );
            }
        }
    }
}

#[test]
fn malformed_inclusion_proofs_are_typed_errors() {
    let leaf = leaf_hash(b"x");
    assert_eq!(
        verify_inclusion(&leaf, 0, 0, &[], &EMPTY_ROOT),
        Err(InclusionError::IndexOutOfRange {
            leaf_index: 0,
            tree_size: 0
        })
    );
    assert_eq!(
        verify_inclusion(&leaf, 5, 5, &[], &leaf),
        Err(InclusionError::IndexOutOfRange {
            leaf_index: 5,
            tree_size: 5
        })
    );
    assert_eq!(verify_inclusion(&leaf, 0, 1, &[], &leaf), Ok(()));
    assert_eq!(
        verify_inclusion(&leaf, 0, 1, &[leaf], &leaf),
        Err(InclusionError::WrongPathLength {
            len: 1,
            expected: 0
        })
    );
    assert_eq!(
        verify_inclusion(&leaf, 2, 8, &[leaf, leaf], &leaf),
        Err(InclusionError::WrongPathLength {
            len: 2,
            expected: 3
        })
    );
    let long = vec![leaf; 64];
    assert_eq!(
        verify_inclusion(&leaf, 0, u64::MAX, &long, &leaf),
        Err(InclusionError::PathTooLong { len: 64, max: 63 })
    );
    // Leaf 0 of the largest tree needs 64 hashes: more than any accepted path.
    assert_eq!(
        verify_inclusion(&leaf, 0, u64::MAX, &long[..63], &leaf),
        Err(InclusionError::WrongPathLength {
            len: 63,
            expected: 64
        })
    );
    assert!(
        !InclusionError::WrongPathLength {
            len: 0,
            expected: 1
        }
        .is_mismatch()
    );
}

#[test]
fn malformed_consistency_proofs_are_typed_errors() {
    let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
    assert_eq!(
        verify_consistency(2, 1, &[], &a, &b),
        Err(ConsistencyError::OldLargerThanNew {
            old_size: 2,
            new_size: 1
        })
    );
    assert_eq!(
        verify_consistency(0, 0, &[], &EMPTY_ROOT, &EMPTY_ROOT),
        Ok(())
    );
    assert_eq!(verify_consistency(0, 7, &[], &EMPTY_ROOT, &b), Ok(()));
    assert_eq!(
        verify_consistency(0, 7, &[], &a, &b),
        Err(ConsistencyError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(0, 7, &[a], &EMPTY_ROOT, &b),
        Err(ConsistencyError::WrongPathLength {
            len: 1,
            expected: 0
        })
    );
    assert_eq!(verify_consistency(3, 3, &[], &a, &a), Ok(()));
    assert_eq!(
        verify_consistency(3, 3, &[], &a, &b),
        Err(ConsistencyError::NewRootMismatch)
    );
    assert_eq!(
        verify_consistency(3, 3, &[a], &a, &a),
        Err(ConsistencyError::WrongPathLength {
            len: 1,
            expected: 0
        })
    );
    assert_eq!(
        verify_consistency(1, 2, &[], &a, &b),
        Err(ConsistencyError::WrongPathLength {
            len: 0,
            expected: 1
        })
    );
    assert_eq!(
        verify_consistency(3, 8, &[a, b], &a, &b),
        Err(ConsistencyError::WrongPathLength {
            len: 2,
            expected: 4
        })
    );
    assert_eq!(
        verify_consistency(1, u64::MAX, &vec![a; 64], &a, &b),
        Err(ConsistencyError::PathTooLong { len: 64, max: 63 })
    );
    let root2 = node_hash(&a, &b);
    assert_eq!(verify_consistency(1, 2, &[b], &a, &root2), Ok(()));
    // For a power-of-two old size the old root seeds the computation, so a
    // wrong old root shows up as a new-root mismatch.
    assert_eq!(
        verify_consistency(1, 2, &[b], &b, &root2),
        Err(ConsistencyError::NewRootMismatch)
    );
    let all = leaves(4);
    let store = store_of(&all);
    let proof = prove_consistency(3, 4, &store).unwrap();
    let (old, new) = (reference_root(&all[..3]), reference_root(&all));
    assert_eq!(proof.verify(&old, &new), Ok(()));
    assert_eq!(
        proof.verify(&flip(&old, 9), &new),
        Err(ConsistencyError::OldRootMismatch)
    );
    assert_eq!(
        proof.verify(&old, &flip(&new, 9)),
        Err(ConsistencyError::NewRootMismatch)
    );
    assert_eq!(
        verify_consistency(1, 2, &[b], &a, &a),
        Err(ConsistencyError::NewRootMismatch)
    );
    assert!(ConsistencyError::NewRootMismatch.is_mismatch());
}

#[test]
fn proof_generation_refuses_bad_requests() {
    let store = store_of(&leaves(5));
    assert!(matches!(
        prove_inclusion(5, 5, &store),
        Err(TreeError::IndexOutOfRange {
            leaf_index: 5,
            tree_size: 5
        })
    ));
    assert!(matches!(
        prove_inclusion(0, 0, &store),
        Err(TreeError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        prove_consistency(4, 3, &store),
        Err(TreeError::OldLargerThanNew { .. })
    ));
    assert!(matches!(
        prove_inclusion(0, MAX_TREE_SIZE + 1, &store),
        Err(TreeError::TreeTooLarge { .. })
    ));
    assert!(matches!(
        tree_hash(u64::MAX, &store),
        Err(TreeError::TreeTooLarge { .. })
    ));
    // Beyond what the store holds: a read error, not a panic.
    assert!(matches!(
        prove_inclusion(3, 9, &store),
        Err(TreeError::Read(MissingHash { .. }))
    ));
    assert!(matches!(tree_hash(6, &store), Err(TreeError::Read(_))));
    assert_eq!(
        prove_consistency(0, 5, &store).unwrap().path,
        Vec::<Hash>::new()
    );
    assert_eq!(
        prove_consistency(5, 5, &store).unwrap().path,
        Vec::<Hash>::new()
    );
}

/// A reader that drops the last hash.
struct ShortReader(MemoryHashStore);

impl HashReader for ShortReader {
    type Error = MissingHash;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        let mut hashes = self.0.read_hashes(indexes)?;
        hashes.pop();
        Ok(hashes)
    }
}

#[test]
fn a_reader_returning_too_few_hashes_is_an_error() {
    let reader = ShortReader(store_of(&leaves(11)));
    assert!(matches!(
        prove_inclusion(3, 11, &reader),
        Err(TreeError::ShortRead { .. })
    ));
    assert!(matches!(
        prove_consistency(3, 11, &reader),
        Err(TreeError::ShortRead { .. })
    ));
    assert!(matches!(
        tree_hash(11, &reader),
        Err(TreeError::ShortRead { .. })
    ));
    assert!(matches!(
        stored_hashes(11, &EMPTY_ROOT, &reader),
        Err(TreeError::ShortRead { .. })
    ));
    assert!(matches!(
        AppendState::from_reader(11, &reader),
        Err(TreeError::ShortRead { .. })
    ));
}

#[test]
fn memory_store_from_stored_checks_the_count() {
    let store = store_of(&leaves(9));
    let copy = MemoryHashStore::from_stored(9, store.stored().to_vec()).unwrap();
    assert_eq!(copy, store);
    assert!(MemoryHashStore::from_stored(8, store.stored().to_vec()).is_none());
    assert_eq!(
        store.stored().read_hashes(&[1000]),
        Err(MissingHash {
            index: 1000,
            stored: store.stored().len() as u64
        })
    );
}
