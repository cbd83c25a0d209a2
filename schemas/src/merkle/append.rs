//! [`AppendState`]: the right frontier of a growing tree (a compact range
//! over `0..size`), enough to append leaves and compute the root with
//! O(log n) memory.

use super::error::{AppendError, TreeError};
use super::hash::{EMPTY_ROOT, Hash, node_hash};
use super::layout::{MAX_TREE_SIZE, stored_hash_index};
use super::prove::tree_hash_indexes;
use super::store::HashReader;

/// The state a sequencer keeps to append leaves: the tree size and the roots
/// of the perfect subtrees that make up the tree (one per set bit of the
/// size, largest first).
///
/// ```
/// use loupe_schemas::merkle::{AppendState, EMPTY_ROOT, leaf_hash, node_hash};
/// let mut state = AppendState::new();
/// assert_eq!(state.root(), EMPTY_ROOT);
/// let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
/// state.push(a)?;
/// let appended = state.append(b)?;
/// assert_eq!(appended.leaf_index, 1);
/// // Leaf 1 completes the subtree of leaves 0..2: both are stored.
/// assert_eq!(appended.stored_hashes, vec![b, node_hash(&a, &b)]);
/// assert_eq!(state.root(), node_hash(&a, &b));
/// # Ok::<(), loupe_schemas::merkle::AppendError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendState {
    size: u64,
    frontier: Vec<Hash>,
}

/// What one [`AppendState::append`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Index of the appended leaf.
    pub leaf_index: u64,
    /// Stored-hash index of the first of `stored_hashes`
    /// (`stored_hash_index(0, leaf_index)`); the others follow it.
    pub first_stored_index: u64,
    /// The leaf hash, then the roots of the subtrees it completed, bottom up:
    /// exactly what [`stored_hashes`](super::stored_hashes) returns.
    pub stored_hashes: Vec<Hash>,
}

impl AppendState {
    /// Returns the state of the empty tree.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            size: 0,
            frontier: Vec::new(),
        }
    }

    /// Resumes from a saved size and frontier (as returned by
    /// [`AppendState::frontier`]).
    ///
    /// # Errors
    ///
    /// [`AppendError::TreeFull`] above [`MAX_TREE_SIZE`];
    /// [`AppendError::FrontierMismatch`] unless the frontier has
    /// `popcount(size)` hashes.
    pub fn from_frontier(size: u64, frontier: Vec<Hash>) -> Result<Self, AppendError> {
        if size > MAX_TREE_SIZE {
            return Err(AppendError::TreeFull { size });
        }
        let expected = size.count_ones() as usize;
        if frontier.len() != expected {
            return Err(AppendError::FrontierMismatch {
                size,
                got: frontier.len(),
                expected,
            });
        }
        Ok(Self { size, frontier })
    }

    /// Resumes from stored hashes: reads the frontier of the tree of `size`
    /// leaves (the same hashes [`tree_hash`](super::tree_hash) reads).
    ///
    /// # Errors
    ///
    /// [`TreeError::TreeTooLarge`] above [`MAX_TREE_SIZE`];
    /// [`TreeError::Read`] and [`TreeError::ShortRead`] when the reader fails.
    pub fn from_reader<R: HashReader + ?Sized>(
        size: u64,
        reader: &R,
    ) -> Result<Self, TreeError<R::Error>> {
        let indexes = tree_hash_indexes(size).map_err(TreeError::widen)?;
        if indexes.is_empty() {
            return Ok(Self::new());
        }
        let frontier = reader.read_hashes(&indexes).map_err(TreeError::Read)?;
        if frontier.len() != indexes.len() {
            return Err(TreeError::ShortRead {
                requested: indexes.len(),
                returned: frontier.len(),
            });
        }
        Ok(Self { size, frontier })
    }

    /// Number of leaves appended so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Roots of the perfect subtrees making up the tree, largest first.
    #[must_use]
    pub fn frontier(&self) -> &[Hash] {
        &self.frontier
    }

    /// Root hash of the current tree ([`EMPTY_ROOT`] when empty). Costs
    /// `popcount(size) - 1` node hashes.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut subtrees = self.frontier.iter().rev();
        match subtrees.next() {
            None => EMPTY_ROOT,
            Some(last) => subtrees.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// Appends a leaf hash, calling `store` with each hash the append
    /// completes (the leaf hash first), and returns the leaf index.
    fn push_with(
        &mut self,
        leaf_hash: Hash,
        mut store: impl FnMut(Hash),
    ) -> Result<u64, AppendError> {
        let index = self.size;
        if index >= MAX_TREE_SIZE {
            return Err(AppendError::TreeFull { size: index });
        }
        let mut hash = leaf_hash;
        store(hash);
        // Each trailing one bit of the index is a subtree of equal size on
        // the left that this leaf's subtree now completes.
        for _ in 0..index.trailing_ones() {
            // The frontier holds popcount(index) >= trailing_ones(index)
            // hashes, an invariant of every constructor.
            let Some(left) = self.frontier.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            store(hash);
        }
        self.frontier.push(hash);
        self.size = index + 1;
        Ok(index)
    }

    /// Appends a leaf hash and returns its leaf index, without collecting the
    /// hashes to store.
    ///
    /// # Errors
    ///
    /// [`AppendError::TreeFull`] at [`MAX_TREE_SIZE`] leaves.
    pub fn push(&mut self, leaf_hash: Hash) -> Result<u64, AppendError> {
        self.push_with(leaf_hash, |_| {})
    }

    /// Appends a leaf hash and returns where it went and the hashes to store.
    ///
    /// # Errors
    ///
    /// [`AppendError::TreeFull`] at [`MAX_TREE_SIZE`] leaves.
    pub fn append(&mut self, leaf_hash: Hash) -> Result<Appended, AppendError> {
        let leaf_index = self.size;
        let first_stored_index =
            stored_hash_index(0, leaf_index).ok_or(AppendError::TreeFull { size: leaf_index })?;
        let mut stored_hashes = Vec::with_capacity(leaf_index.trailing_ones() as usize + 1);
        self.push_with(leaf_hash, |hash| stored_hashes.push(hash))?;
        Ok(Appended {
            leaf_index,
            first_stored_index,
            stored_hashes,
        })
    }
}
