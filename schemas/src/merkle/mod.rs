//! RFC 9162 Merkle tree math over SHA-256: hashing, roots, stored-hash
//! layout, proof generation and proof verification.
//!
//! | piece | what | spec |
//! | --- | --- | --- |
//! | [`leaf_hash`], [`node_hash`], [`EMPTY_ROOT`], [`root_from_leaf_hashes`] | hashes and the Merkle Tree Hash | [RFC 9162 §2.1.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1) |
//! | [`stored_hash_index`], [`split_stored_hash_index`], [`stored_hash_count`] | where every subtree hash is stored, as in `golang.org/x/mod/sumdb/tlog` | tiles of [C2SP tlog-tiles](https://c2sp.org/tlog-tiles) are slices of it |
//! | [`HashReader`], [`MemoryHashStore`] | reading stored hashes | — |
//! | [`tree_hash`], [`stored_hashes`], [`prove_inclusion`], [`prove_consistency`] | computing over stored hashes | [§2.1.3.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1), [§2.1.4.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1) |
//! | [`InclusionProof`], [`ConsistencyProof`], [`verify_inclusion`], [`verify_consistency`] | verification, step by step as the RFC writes it, roots compared in constant time | [§2.1.3.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2), [§2.1.4.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2) |
//! | [`AppendState`] | the sequencer's O(log n) right frontier: append, root, hashes to store | — |
//!
//! Leaf data is hashed as `SHA-256(0x00 ‖ data)`, interior nodes as
//! `SHA-256(0x01 ‖ left ‖ right)`, and the empty tree's root is `SHA-256()`.
//!
//! Verification never panics on untrusted input: an index at or beyond the
//! size, an empty tree, a path of the wrong length or longer than
//! [`MAX_PATH_LEN`], and an old size above the new one are *malformed*
//! errors, kept apart from the *mismatch* errors of a well-formed proof that
//! leads elsewhere ([`InclusionError::is_mismatch`],
//! [`ConsistencyError::is_mismatch`]). Trees are limited to
//! [`MAX_TREE_SIZE`] = 2^62 leaves, so that every index fits in a `u64` and
//! every proof in 63 hashes.
//!
//! # Example
//!
//! ```
//! use loupe_schemas::merkle::{
//!     AppendState, MemoryHashStore, leaf_hash, prove_consistency, prove_inclusion,
//! };
//!
//! // The issuer appends entries and keeps their stored hashes.
//! let mut store = MemoryHashStore::new();
//! let mut sequencer = AppendState::new();
//! for entry in [b"ruby".as_slice(), b"sapphire", b"emerald"] {
//!     store.append_leaf(entry)?;
//!     sequencer.push(leaf_hash(entry))?;
//! }
//! let old_root = store.root()?;
//! assert_eq!(sequencer.root(), old_root);
//! store.append_leaf(b"spinel")?;
//! let new_root = store.root()?;
//!
//! // A buyer checks that "sapphire" is entry 1 of the tree of 4 entries ...
//! let proof = prove_inclusion(1, 4, &store)?;
//! proof.verify(&leaf_hash(b"sapphire"), &new_root)?;
//! assert!(proof.verify(&leaf_hash(b"emerald"), &new_root).is_err());
//!
//! // ... and a monitor that the log only grew from 3 to 4 entries.
//! prove_consistency(3, 4, &store)?.verify(&old_root, &new_root)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod append;
mod error;
mod hash;
mod layout;
mod prove;
mod store;
mod verify;

pub use append::{AppendState, Appended};
pub use error::{AppendError, ConsistencyError, InclusionError, MissingHash, TreeError};
pub use hash::{
    EMPTY_ROOT, HASH_SIZE, Hash, empty_root, leaf_hash, node_hash, root_from_leaf_hashes,
};
pub use layout::{MAX_TREE_SIZE, split_stored_hash_index, stored_hash_count, stored_hash_index};
pub use prove::{
    consistency_proof_indexes, inclusion_proof_indexes, prove_consistency, prove_inclusion,
    stored_hashes, tree_hash, tree_hash_indexes,
};
pub use store::{HashReader, MemoryHashStore};
pub use verify::{
    ConsistencyProof, InclusionProof, MAX_PATH_LEN, root_from_inclusion_path, verify_consistency,
    verify_inclusion,
};

#[cfg(test)]
mod tests;
