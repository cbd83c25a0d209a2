//! Error types, one per operation. Variants documented as *malformed* mean
//! the input could never be a valid proof for the stated sizes; variants
//! documented as *mismatch* mean a well-formed proof does not lead to the
//! trusted hash.

use thiserror::Error;

/// Why an inclusion proof failed to verify
/// ([RFC 9162 §2.1.3.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2)).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InclusionError {
    /// Malformed: the leaf index is not below the tree size (which includes
    /// every proof for the empty tree).
    #[error("leaf index {leaf_index} is not below tree size {tree_size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        leaf_index: u64,
        /// The claimed tree size.
        tree_size: u64,
    },
    /// Malformed: the path has more hashes than any supported tree needs.
    #[error("inclusion path has {len} hashes, more than the limit of {max}")]
    PathTooLong {
        /// Number of hashes in the path.
        len: usize,
        /// The limit, [`MAX_PATH_LEN`](super::MAX_PATH_LEN).
        max: usize,
    },
    /// Malformed: the path length does not fit the leaf index and tree size.
    #[error("inclusion path has {len} hashes, but index and size need {expected}")]
    WrongPathLength {
        /// Number of hashes in the path.
        len: usize,
        /// Number of hashes the leaf index and tree size require.
        expected: usize,
    },
    /// Mismatch: the path does not lead from the leaf hash to the root hash.
    #[error("inclusion proof does not lead to the expected root hash")]
    RootMismatch,
}

impl InclusionError {
    /// Returns `true` for a well-formed proof that led to another root.
    #[must_use]
    pub fn is_mismatch(&self) -> bool {
        matches!(self, Self::RootMismatch)
    }
}

/// Why a consistency proof failed to verify
/// ([RFC 9162 §2.1.4.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2)).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsistencyError {
    /// Malformed: the old tree is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldLargerThanNew {
        /// The claimed old size.
        old_size: u64,
        /// The claimed new size.
        new_size: u64,
    },
    /// Malformed: the path has more hashes than any supported tree needs.
    #[error("consistency path has {len} hashes, more than the limit of {max}")]
    PathTooLong {
        /// Number of hashes in the path.
        len: usize,
        /// The limit, [`MAX_PATH_LEN`](super::MAX_PATH_LEN).
        max: usize,
    },
    /// Malformed: the path length does not fit the two sizes (including a
    /// non-empty path where the sizes are equal or the old tree is empty,
    /// and an empty path where one is required).
    #[error("consistency path has {len} hashes, but the sizes need {expected}")]
    WrongPathLength {
        /// Number of hashes in the path.
        len: usize,
        /// Number of hashes the two sizes require.
        expected: usize,
    },
    /// Mismatch: the path does not reproduce the old root hash (for an
    /// empty old tree: the old root is not [`EMPTY_ROOT`](super::EMPTY_ROOT)).
    #[error("consistency proof does not lead to the old root hash")]
    OldRootMismatch,
    /// Mismatch: the path does not lead to the new root hash (for equal
    /// sizes: the two roots differ).
    #[error("consistency proof does not lead to the new root hash")]
    NewRootMismatch,
}

impl ConsistencyError {
    /// Returns `true` for a well-formed proof that led to other roots.
    #[must_use]
    pub fn is_mismatch(&self) -> bool {
        matches!(self, Self::OldRootMismatch | Self::NewRootMismatch)
    }
}

/// Why a computation over stored hashes failed: [`tree_hash`](super::tree_hash),
/// [`stored_hashes`](super::stored_hashes), [`prove_inclusion`](super::prove_inclusion),
/// [`prove_consistency`](super::prove_consistency). `E` is the
/// [`HashReader`](super::HashReader)'s error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TreeError<E> {
    /// The leaf index is not below the tree size.
    #[error("leaf index {leaf_index} is not below tree size {tree_size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        leaf_index: u64,
        /// The requested tree size.
        tree_size: u64,
    },
    /// The old tree size is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldLargerThanNew {
        /// The requested old size.
        old_size: u64,
        /// The requested new size.
        new_size: u64,
    },
    /// The tree size exceeds [`MAX_TREE_SIZE`](super::MAX_TREE_SIZE).
    #[error("tree size {size} exceeds the supported maximum of 2^62 leaves")]
    TreeTooLarge {
        /// The requested size.
        size: u64,
    },
    /// The reader returned a different number of hashes than requested.
    #[error("hash reader returned {returned} hashes for {requested} indexes")]
    ShortRead {
        /// Number of indexes requested.
        requested: usize,
        /// Number of hashes returned.
        returned: usize,
    },
    /// The reader failed.
    #[error("reading stored hashes failed")]
    Read(#[source] E),
}

impl TreeError<std::convert::Infallible> {
    /// Converts a reader-independent error into one for any reader.
    pub(super) fn widen<E>(self) -> TreeError<E> {
        match self {
            Self::IndexOutOfRange {
                leaf_index,
                tree_size,
            } => TreeError::IndexOutOfRange {
                leaf_index,
                tree_size,
            },
            Self::OldLargerThanNew { old_size, new_size } => {
                TreeError::OldLargerThanNew { old_size, new_size }
            }
            Self::TreeTooLarge { size } => TreeError::TreeTooLarge { size },
            Self::ShortRead {
                requested,
                returned,
            } => TreeError::ShortRead {
                requested,
                returned,
            },
            Self::Read(never) => match never {},
        }
    }
}

/// Why [`AppendState`](super::AppendState) refused an operation.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppendError {
    /// The tree already holds [`MAX_TREE_SIZE`](super::MAX_TREE_SIZE) leaves,
    /// or a resumed size exceeds it.
    #[error("tree size {size} is at or beyond the supported maximum of 2^62 leaves")]
    TreeFull {
        /// The tree size.
        size: u64,
    },
    /// A resumed frontier does not have one hash per set bit of the size.
    #[error("a tree of size {size} needs {expected} frontier hashes, got {got}")]
    FrontierMismatch {
        /// The tree size.
        size: u64,
        /// Number of hashes given.
        got: usize,
        /// `popcount(size)`.
        expected: usize,
    },
}

/// A [`MemoryHashStore`](super::MemoryHashStore) or hash slice was asked for
/// an index it does not hold.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("stored hash index {index} is beyond the {stored} stored hashes")]
pub struct MissingHash {
    /// The requested stored-hash index.
    pub index: u64,
    /// How many hashes the store holds.
    pub stored: u64,
}
