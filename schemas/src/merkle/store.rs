//! The [`HashReader`] storage trait and the in-memory [`MemoryHashStore`].

use super::error::{MissingHash, TreeError};
use super::hash::{Hash, leaf_hash};
use super::layout::stored_hash_count;
use super::prove::{stored_hashes, tree_hash};

/// Reads stored hashes by their [`stored_hash_index`](super::stored_hash_index).
///
/// The issuer backs it with its database, tests and benches with a
/// [`MemoryHashStore`], and verifiers with a
/// [`TileHashReader`](crate::tiles::TileHashReader) over a log's tiles.
pub trait HashReader {
    /// Why a read failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Returns the hashes at `indexes`, in the same order.
    ///
    /// The functions of this module ask for indexes in increasing order and
    /// check that exactly `indexes.len()` hashes come back.
    ///
    /// # Errors
    ///
    /// Any storage failure, including an index that is not stored.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        (**self).read_hashes(indexes)
    }
}

/// A slice is a hash store: the hash with stored index `i` is at position `i`.
impl HashReader for [Hash] {
    type Error = MissingHash;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or(MissingHash {
                        index,
                        stored: self.len() as u64,
                    })
            })
            .collect()
    }
}

/// A `Vec`-backed hash store in the stored-hash layout, for tests, benches
/// and small tools. It holds `stored_hash_count(tree_size)` hashes, about
/// two per leaf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryHashStore {
    hashes: Vec<Hash>,
    tree_size: u64,
}

impl MemoryHashStore {
    /// Returns an empty store (tree size 0).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            hashes: Vec::new(),
            tree_size: 0,
        }
    }

    /// Returns an empty store with room for `leaves` leaves.
    #[must_use]
    pub fn with_capacity(leaves: usize) -> Self {
        Self {
            hashes: Vec::with_capacity(leaves.saturating_mul(2)),
            tree_size: 0,
        }
    }

    /// Builds a store from the stored hashes of a tree of `tree_size` leaves,
    /// or returns `None` when `hashes` is not exactly
    /// [`stored_hash_count(tree_size)`](super::stored_hash_count) long.
    #[must_use]
    pub fn from_stored(tree_size: u64, hashes: Vec<Hash>) -> Option<Self> {
        (stored_hash_count(tree_size) == Some(hashes.len() as u64))
            .then_some(Self { hashes, tree_size })
    }

    /// Number of leaves in the tree.
    #[must_use]
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// All stored hashes, in stored-index order.
    #[must_use]
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf by its leaf hash and returns its leaf index.
    ///
    /// # Errors
    ///
    /// [`TreeError::TreeTooLarge`] when the tree is full.
    pub fn append_leaf_hash(&mut self, leaf_hash: &Hash) -> Result<u64, TreeError<MissingHash>> {
        let index = self.tree_size;
        let new = stored_hashes(index, leaf_hash, self.hashes.as_slice())?;
        self.hashes.extend_from_slice(&new);
        self.tree_size += 1;
        Ok(index)
    }

    /// Appends a leaf by its data (hashed with [`leaf_hash`]) and returns
    /// its leaf index.
    ///
    /// # Errors
    ///
    /// [`TreeError::TreeTooLarge`] when the tree is full.
    pub fn append_leaf(&mut self, data: &[u8]) -> Result<u64, TreeError<MissingHash>> {
        self.append_leaf_hash(&leaf_hash(data))
    }

    /// Returns the root hash of the whole tree.
    ///
    /// # Errors
    ///
    /// None in practice: the store always holds the hashes its size needs.
    pub fn root(&self) -> Result<Hash, TreeError<MissingHash>> {
        tree_hash(self.tree_size, self.hashes.as_slice())
    }
}

impl HashReader for MemoryHashStore {
    type Error = MissingHash;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        self.hashes.as_slice().read_hashes(indexes)
    }
}
