//! Leaf and node hashing and the Merkle Tree Hash of a list of leaves
//! ([RFC 9162 §2.1.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1)).

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; HASH_SIZE];

/// Size of a [`Hash`](tyalias@Hash) in bytes.
pub const HASH_SIZE: usize = 32;

/// Root hash of the empty tree: `SHA-256()` of no input
/// ([RFC 9162 §2.1.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1)).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Domain-separation prefix of leaf hashes.
const LEAF_PREFIX: [u8; 1] = [0x00];
/// Domain-separation prefix of interior node hashes.
const NODE_PREFIX: [u8; 1] = [0x01];

/// Returns the root hash of the empty tree, [`EMPTY_ROOT`].
#[must_use]
pub fn empty_root() -> Hash {
    EMPTY_ROOT
}

/// Returns the leaf hash of `data`: `SHA-256(0x00 ‖ data)`.
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update(LEAF_PREFIX)
        .chain_update(data)
        .finalize()
        .into()
}

/// Returns the hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update(NODE_PREFIX)
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// Returns the Merkle Tree Hash (MTH) of a list of leaf hashes, as defined in
/// [RFC 9162 §2.1.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1).
///
/// The empty list hashes to [`EMPTY_ROOT`]. The computation pairs hashes level
/// by level, carrying an unpaired last hash up unchanged, which yields the
/// RFC's split at the largest power of two smaller than the size. It uses
/// O(n) time and one copy of the input.
#[must_use]
pub fn root_from_leaf_hashes(leaf_hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = leaf_hashes.to_vec();
    while level.len() > 1 {
        let next: Vec<Hash> = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => node_hash(left, right),
                [single] => *single,
                // `chunks(2)` never yields an empty or longer chunk.
                _ => EMPTY_ROOT,
            })
            .collect();
        level = next;
    }
    level.first().copied().unwrap_or(EMPTY_ROOT)
}
