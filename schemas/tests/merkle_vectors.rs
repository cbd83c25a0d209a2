//! Known-answer tests against public Merkle tree vectors in
//! `tests/vectors/merkle/` (origins in its `ORIGIN.md`): every good proof
//! verifies and is the proof this crate generates; every altered one fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::merkle::{
    AppendState, ConsistencyError, EMPTY_ROOT, Hash, HashReader, InclusionError, MemoryHashStore,
    empty_root, leaf_hash, node_hash, prove_consistency, prove_inclusion, root_from_leaf_hashes,
    stored_hash_index, tree_hash, verify_consistency, verify_inclusion,
};
use serde::Deserialize;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/merkle");

fn read(name: &str) -> String {
    let path = Path::new(DIR).join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hex_hash(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn hex_hashes(v: &[String]) -> Vec<Hash> {
    v.iter().map(|s| hex_hash(s)).collect()
}

/// Decodes a base64 hash; `None` when it is not 32 bytes (the vectors use
/// short strings such as "WrongLeaf" and "" as garbage).
fn b64_hash(s: &str) -> Option<Hash> {
    STANDARD.decode(s).ok()?.try_into().ok()
}

fn flip(hash: &Hash, byte: usize, mask: u8) -> Hash {
    let mut out = *hash;
    out[byte] ^= mask;
    out
}

#[derive(Deserialize)]
struct Hasher {
    empty_root: String,
    leaf_hashes: Vec<HasherCase>,
}

#[derive(Deserialize)]
struct HasherCase {
    desc: String,
    input: String,
    hash: String,
}

#[test]
fn rfc6962_hasher_known_answers() {
    let v: Hasher = serde_json::from_str(&read("transparency-dev-rfc6962-hasher.json")).unwrap();
    assert_eq!(empty_root(), hex_hash(&v.empty_root));
    assert_eq!(EMPTY_ROOT, hex_hash(&v.empty_root));
    for case in &v.leaf_hashes {
        assert_eq!(
            leaf_hash(&hex::decode(&case.input).unwrap()),
            hex_hash(&case.hash),
            "{}",
            case.desc
        );
    }
}

#[derive(Deserialize)]
struct Constants {
    leaf_inputs: Vec<String>,
    node_hashes: Vec<Vec<String>>,
    root_hashes: Vec<String>,
    compact_trees: Vec<Vec<(usize, usize)>>,
}

#[test]
fn reference_tree_hashes_roots_and_frontiers() {
    let v: Constants = serde_json::from_str(&read("transparency-dev-constants.json")).unwrap();
    let leaves: Vec<Hash> = v
        .leaf_inputs
        .iter()
        .map(|s| leaf_hash(&hex::decode(s).unwrap()))
        .collect();
    let nodes: Vec<Vec<Hash>> = v
        .node_hashes
        .iter()
        .map(|level| hex_hashes(level))
        .collect();
    assert_eq!(leaves, nodes[0]);
    for level in 1..nodes.len() {
        for (i, node) in nodes[level].iter().enumerate() {
            assert_eq!(
                node_hash(&nodes[level - 1][2 * i], &nodes[level - 1][2 * i + 1]),
                *node
            );
        }
    }
    let mut state = AppendState::new();
    let mut store = MemoryHashStore::new();
    for (size, root) in v.root_hashes.iter().enumerate() {
        let root = hex_hash(root);
        assert_eq!(root_from_leaf_hashes(&leaves[..size]), root, "size {size}");
        assert_eq!(state.root(), root, "size {size}");
        assert_eq!(tree_hash(size as u64, &store).unwrap(), root, "size {size}");
        let frontier: Vec<Hash> = v.compact_trees[size]
            .iter()
            .map(|&(l, i)| nodes[l][i])
            .collect();
        assert_eq!(state.frontier(), frontier.as_slice(), "size {size}");
        if let Some(leaf) = leaves.get(size) {
            state.push(*leaf).unwrap();
            store.append_leaf_hash(leaf).unwrap();
        }
    }
    // Every node sits at its stored-hash index.
    for (level, row) in nodes.iter().enumerate() {
        for (i, node) in row.iter().enumerate() {
            let index = stored_hash_index(level as u8, i as u64).unwrap();
            assert_eq!(store.read_hashes(&[index]).unwrap(), vec![*node]);
        }
    }
}

#[derive(Deserialize)]
struct VerifyTest {
    sha256_some_hash: String,
    sha256_empty_tree_hash: String,
    inclusion_proofs: Vec<InclusionCase>,
    consistency_proofs: Vec<ConsistencyCase>,
    roots: Vec<String>,
    leaves: Vec<String>,
}

#[derive(Deserialize)]
struct InclusionCase {
    leaf: u64,
    size: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct ConsistencyCase {
    size1: u64,
    size2: u64,
    proof: Vec<String>,
}

fn with(path: &[Hash], f: impl FnOnce(&mut Vec<Hash>)) -> Vec<Hash> {
    let mut out = path.to_vec();
    f(&mut out);
    out
}

#[test]
fn verify_test_inclusion_proofs() {
    let v: VerifyTest = serde_json::from_str(&read("transparency-dev-verify-test.json")).unwrap();
    let some = hex_hash(&v.sha256_some_hash);
    let empty = hex_hash(&v.sha256_empty_tree_hash);
    let roots = hex_hashes(&v.roots);
    let leaves: Vec<Hash> = v
        .leaves
        .iter()
        .map(|s| leaf_hash(&hex::decode(s).unwrap()))
        .collect();
    let store = {
        let mut s = MemoryHashStore::new();
        leaves
            .iter()
            .for_each(|l| _ = s.append_leaf_hash(l).unwrap());
        s
    };
    // The source skips entry 0 ({0, 0, nil}) as invalid: no leaf of an empty tree.
    let first = &v.inclusion_proofs[0];
    assert_eq!((first.leaf, first.size), (0, 0));
    assert!(matches!(
        verify_inclusion(&some, 0, 0, &[], &empty),
        Err(InclusionError::IndexOutOfRange { .. })
    ));
    for case in &v.inclusion_proofs[1..] {
        let (index, size) = (case.leaf - 1, case.size);
        let path = hex_hashes(&case.proof);
        let root = roots[size as usize - 1];
        let leaf = leaves[index as usize];
        let name = format!("leaf {index} of {size}");
        assert_eq!(
            verify_inclusion(&leaf, index, size, &path, &root),
            Ok(()),
            "{name}"
        );
        assert_eq!(
            prove_inclusion(index, size, &store).unwrap().path,
            path,
            "{name}"
        );

        // corruptInclusionProof's probes, where a Hash can express them.
        let mut probes: Vec<(String, u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (
                "leafIndex - 1".into(),
                index.wrapping_sub(1),
                size,
                leaf,
                root,
                path.clone(),
            ),
            (
                "leafIndex + 1".into(),
                index + 1,
                size,
                leaf,
                root,
                path.clone(),
            ),
            (
                "leafIndex ^ 2".into(),
                index ^ 2,
                size,
                leaf,
                root,
                path.clone(),
            ),
            (
                "treeSize * 2".into(),
                index,
                size * 2,
                leaf,
                root,
                path.clone(),
            ),
            (
                "treeSize / 2".into(),
                index,
                size / 2,
                leaf,
                root,
                path.clone(),
            ),
            (
                "wrong leaf".into(),
                index,
                size,
                leaf_hash(b"WrongLeaf"),
                root,
                path.clone(),
            ),
            ("empty root".into(), index, size, leaf, empty, path.clone()),
            ("random root".into(), index, size, leaf, some, path.clone()),
            (
                "trailing root".into(),
                index,
                size,
                leaf,
                root,
                with(&path, |p| p.push(root)),
            ),
            (
                "preceding root".into(),
                index,
                size,
                leaf,
                root,
                with(&path, |p| p.insert(0, root)),
            ),
        ];
        for i in 0..path.len() {
            let bad = with(&path, |p| p[i] = flip(&p[i], 0, 8));
            probes.push((
                format!("modified proof[{i}] bit 3"),
                index,
                size,
                leaf,
                root,
                bad,
            ));
        }
        if !path.is_empty() {
            probes.push((
                "removed component".into(),
                index,
                size,
                leaf,
                root,
                path[..path.len() - 1].to_vec(),
            ));
        }
        if path.len() > 1 {
            probes.push((
                "inserted component".into(),
                index,
                size,
                leaf,
                root,
                with(&path, |p| p.insert(1, some)),
            ));
        }
        for (desc, index, size, leaf, root, path) in probes {
            assert!(
                verify_inclusion(&leaf, index, size, &path, &root).is_err(),
                "{name}: {desc} verified"
            );
        }
    }
}

#[test]
fn verify_test_consistency_proofs() {
    let v: VerifyTest = serde_json::from_str(&read("transparency-dev-verify-test.json")).unwrap();
    let roots = hex_hashes(&v.roots);
    let leaves: Vec<Hash> = v
        .leaves
        .iter()
        .map(|s| leaf_hash(&hex::decode(s).unwrap()))
        .collect();
    let mut store = MemoryHashStore::new();
    leaves
        .iter()
        .for_each(|l| _ = store.append_leaf_hash(l).unwrap());
    for case in &v.consistency_proofs {
        let (size1, size2) = (case.size1, case.size2);
        let path = hex_hashes(&case.proof);
        let (root1, root2) = (roots[size1 as usize - 1], roots[size2 as usize - 1]);
        let name = format!("{size1} -> {size2}");
        assert_eq!(
            verify_consistency(size1, size2, &path, &root1, &root2),
            Ok(()),
            "{name}"
        );
        assert_eq!(
            prove_consistency(size1, size2, &store).unwrap().path,
            path,
            "{name}"
        );
        // Like the source, probe only non-trivial proofs.
        if path.is_empty() {
            continue;
        }
        let wrong = leaf_hash(b"WrongRoot");
        let mut probes: Vec<(String, u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (
                "size1 - 1".into(),
                size1 - 1,
                size2,
                root1,
                root2,
                path.clone(),
            ),
            (
                "size1 + 1".into(),
                size1 + 1,
                size2,
                root1,
                root2,
                path.clone(),
            ),
            (
                "size1 ^ 2".into(),
                size1 ^ 2,
                size2,
                root1,
                root2,
                path.clone(),
            ),
            (
                "size2 * 2".into(),
                size1,
                size2 * 2,
                root1,
                root2,
                path.clone(),
            ),
            (
                "size2 / 2".into(),
                size1,
                size2 / 2,
                root1,
                root2,
                path.clone(),
            ),
            (
                "wrong root1".into(),
                size1,
                size2,
                wrong,
                root2,
                path.clone(),
            ),
            (
                "wrong root2".into(),
                size1,
                size2,
                root1,
                wrong,
                path.clone(),
            ),
            (
                "swapped roots".into(),
                size1,
                size2,
                root2,
                root1,
                path.clone(),
            ),
            ("empty proof".into(), size1, size2, root1, root2, Vec::new()),
            (
                "trailing root1".into(),
                size1,
                size2,
                root1,
                root2,
                with(&path, |p| p.push(root1)),
            ),
            (
                "trailing root2".into(),
                size1,
                size2,
                root1,
                root2,
                with(&path, |p| p.push(root2)),
            ),
            (
                "preceding root1".into(),
                size1,
                size2,
                root1,
                root2,
                with(&path, |p| p.insert(0, root1)),
            ),
            (
                "preceding root2".into(),
                size1,
                size2,
                root1,
                root2,
                with(&path, |p| p.insert(0, root2)),
            ),
            (
                "preceding proof[0]".into(),
                size1,
                size2,
                root1,
                root2,
                with(&path, |p| p.insert(0, p[0])),
            ),
            (
                "truncated proof".into(),
                size1,
                size2,
                root1,
                root2,
                path[..path.len() - 1].to_vec(),
            ),
        ];
        for i in 0..path.len() {
            let bad = with(&path, |p| p[i] = flip(&p[i], 0, 16));
            probes.push((
                format!("modified proof[{i}] bit 4"),
                size1,
                size2,
                root1,
                root2,
                bad,
            ));
        }
        for (desc, size1, size2, root1, root2, path) in probes {
            assert!(
                verify_consistency(size1, size2, &path, &root1, &root2).is_err(),
                "{name}: {desc} verified"
            );
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionFile {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyFile {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

fn json_files(kind: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let base = Path::new(DIR).join("transparency-dev-testdata").join(kind);
    for dir in fs::read_dir(&base).unwrap() {
        for file in fs::read_dir(dir.unwrap().path()).unwrap() {
            files.push(file.unwrap().path());
        }
    }
    files.sort();
    files
}

/// Decodes all hashes or returns `None` when one is not a 32-byte hash:
/// such a vector is malformed and can only be rejected.
fn b64_path(proof: &Option<Vec<String>>) -> Option<Vec<Hash>> {
    proof.iter().flatten().map(|s| b64_hash(s)).collect()
}

#[test]
fn proofgen_inclusion_files() {
    let files = json_files("inclusion");
    assert!(files.len() >= 14);
    for path in files {
        let v: InclusionFile = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let result = match (
            b64_hash(&v.leaf_hash),
            b64_hash(&v.root),
            b64_path(&v.proof),
        ) {
            (Some(leaf), Some(root), Some(proof)) => {
                verify_inclusion(&leaf, v.leaf_idx, v.tree_size, &proof, &root)
            }
            _ => Err(InclusionError::RootMismatch),
        };
        assert_eq!(
            result.is_err(),
            v.want_err,
            "{} ({}): {result:?}",
            path.display(),
            v.desc
        );
    }
}

#[test]
fn proofgen_consistency_files() {
    let files = json_files("consistency");
    assert!(files.len() >= 12);
    for path in files {
        let v: ConsistencyFile = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let result = match (b64_hash(&v.root1), b64_hash(&v.root2), b64_path(&v.proof)) {
            (Some(root1), Some(root2), Some(proof)) => {
                verify_consistency(v.size1, v.size2, &proof, &root1, &root2)
            }
            _ => Err(ConsistencyError::OldRootMismatch),
        };
        assert_eq!(
            result.is_err(),
            v.want_err,
            "{} ({}): {result:?}",
            path.display(),
            v.desc
        );
    }
}

#[derive(Deserialize)]
struct Sth {
    tree_size: u64,
    sha256_root_hash: String,
}

#[derive(Deserialize)]
struct AuditPath {
    leaf_index: u64,
    audit_path: Vec<String>,
}

#[derive(Deserialize)]
struct Consistency {
    consistency: Vec<String>,
}

#[derive(Deserialize)]
struct Entries {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    leaf_input: String,
}

fn check_ct_log(sth: &str, proof: &str, consistency: &str, leaf: Hash) {
    let sth: Sth = serde_json::from_str(&read(sth)).unwrap();
    let root = b64_hash(&sth.sha256_root_hash).unwrap();
    let proof: AuditPath = serde_json::from_str(&read(proof)).unwrap();
    let path: Vec<Hash> = proof
        .audit_path
        .iter()
        .map(|s| b64_hash(s).unwrap())
        .collect();
    let consistency: Consistency = serde_json::from_str(&read(consistency)).unwrap();
    let cpath: Vec<Hash> = consistency
        .consistency
        .iter()
        .map(|s| b64_hash(s).unwrap())
        .collect();
    let old: Sth = serde_json::from_str(&read("argon2020-golang/old-tree.json")).unwrap();
    let old_root = b64_hash(&old.sha256_root_hash).unwrap();
    let (index, size) = (proof.leaf_index, sth.tree_size);

    assert_eq!(verify_inclusion(&leaf, index, size, &path, &root), Ok(()));
    assert_eq!(
        verify_consistency(old.tree_size, size, &cpath, &old_root, &root),
        Ok(())
    );

    for i in 0..path.len() {
        let bad = with(&path, |p| p[i] = flip(&p[i], 31, 1));
        assert_eq!(
            verify_inclusion(&leaf, index, size, &bad, &root),
            Err(InclusionError::RootMismatch)
        );
    }
    for i in 0..cpath.len() {
        let bad = with(&cpath, |p| p[i] = flip(&p[i], 31, 1));
        assert!(
            verify_consistency(old.tree_size, size, &bad, &old_root, &root)
                .unwrap_err()
                .is_mismatch()
        );
    }
    assert!(verify_inclusion(&leaf, index + 1, size, &path, &root).is_err());
    // (A path for leaf i of size n has the same shape for sizes with the same
    // decomposition around i, so only a change of height must fail.)
    assert!(verify_inclusion(&leaf, index, size * 2, &path, &root).is_err());
    assert!(verify_inclusion(&flip(&leaf, 0, 1), index, size, &path, &root).is_err());
    assert!(verify_consistency(old.tree_size + 1, size, &cpath, &old_root, &root).is_err());
    assert!(
        verify_consistency(old.tree_size, size, &cpath, &flip(&old_root, 0, 1), &root).is_err()
    );
    assert!(verify_consistency(old.tree_size, size * 2, &cpath, &old_root, &root).is_err());
}

fn argon_leaf() -> Hash {
    let entries: Entries = serde_json::from_str(&read("argon2020-golang/entries.json")).unwrap();
    leaf_hash(&STANDARD.decode(&entries.entries[0].leaf_input).unwrap())
}

#[test]
fn argon2020_golang_capture() {
    check_ct_log(
        "argon2020-golang/sth.json",
        "argon2020-golang/proof.json",
        "argon2020-golang/consistency.json",
        argon_leaf(),
    );
}

#[test]
fn argon2020_azul_capture() {
    let proof = "argon2020-azul/get-proof-by-hash-tree-size-961984011-hash-nCs3mfIydh9x4CKyQ-2Bu2xtmpxmFggA5MLymHwNQSlLg-3D";
    // The file name carries the URL-encoded leaf hash the log was asked about.
    let named = "nCs3mfIydh9x4CKyQ-2Bu2xtmpxmFggA5MLymHwNQSlLg-3D"
        .replace("-2B", "+")
        .replace("-3D", "=");
    assert_eq!(b64_hash(&named), Some(argon_leaf()));
    check_ct_log(
        "argon2020-azul/get-sth",
        proof,
        "argon2020-azul/get-sth-consistency-first-3654490-second-961984011",
        argon_leaf(),
    );
}
