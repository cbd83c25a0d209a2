//! The stored-hash layout of `golang.org/x/mod/sumdb/tlog`: every complete
//! subtree hash of the log gets a dense sequential index, in the order in
//! which appends complete them (Crosby and Wallach, "Efficient Data
//! Structures for Tamper-Evident Logging", §3.3).
//!
//! Appending leaf `n` stores its leaf hash at `stored_hash_index(0, n)`,
//! immediately followed by the roots of the `trailing_ones(n)` perfect
//! subtrees that leaf completes. Tiles ([`crate::tiles`]) are slices of
//! exactly these hashes, so a store written in this layout serves tiles
//! without recomputation.

/// Largest tree size this crate computes over: 2^62 leaves.
///
/// Within this bound every stored-hash index fits in a `u64`, and every
/// inclusion or consistency proof has at most [`MAX_PATH_LEN`](super::MAX_PATH_LEN)
/// hashes. Sizes above it are refused with a typed error, never wrapped.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Returns the stored-hash index of the node at `level` (0 = leaves) whose
/// subtree is the `n`-th of that level, i.e. covers leaves
/// `n·2^level .. (n+1)·2^level`.
///
/// Returns `None` when the index does not fit in a `u64` (or `level >= 64`).
///
/// ```
/// use loupe_schemas::merkle::stored_hash_index;
/// // leaf 0, leaf 1, then their parent; then leaf 2, leaf 3, their parent, the root of 4.
/// assert_eq!(stored_hash_index(0, 0), Some(0));
/// assert_eq!(stored_hash_index(0, 1), Some(1));
/// assert_eq!(stored_hash_index(1, 0), Some(2));
/// assert_eq!(stored_hash_index(2, 0), Some(6));
/// ```
#[must_use]
pub fn stored_hash_index(level: u8, n: u64) -> Option<u64> {
    if level >= 64 {
        return None;
    }
    let shift = u32::from(level);
    let end = n.checked_add(1)?;
    if end > (u64::MAX >> shift) {
        return None;
    }
    // The node is stored right after the last leaf it covers and the nodes
    // that leaf completes below it.
    let last_leaf = (end << shift) - 1;
    leaf_stored_index(last_leaf)?.checked_add(u64::from(level))
}

/// Stored index of leaf `n`: `n + n/2 + n/4 + …`, which is `2n - popcount(n)`.
fn leaf_stored_index(n: u64) -> Option<u64> {
    n.checked_mul(2)?.checked_sub(u64::from(n.count_ones()))
}

/// Inverse of [`stored_hash_index`]: returns the `(level, n)` coordinates of
/// the node stored at `index`. Every `u64` is the index of some node.
///
/// ```
/// use loupe_schemas::merkle::{split_stored_hash_index, stored_hash_index};
/// assert_eq!(split_stored_hash_index(6), (2, 0));
/// assert_eq!(stored_hash_index(3, 5).map(split_stored_hash_index), Some((3, 5)));
/// ```
#[must_use]
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // Leaf n is stored at 2n - popcount(n) <= 2n, so the leaf that was
    // appended when this hash was stored is at least index/2; walk forward.
    let mut n = index / 2;
    let mut leaf_index = 2 * n - u64::from(n.count_ones());
    loop {
        // Appending leaf n stores 1 + trailing_ones(n) hashes.
        let stored = 1 + u64::from(n.trailing_ones());
        match leaf_index.checked_add(stored) {
            Some(next) if next <= index => {
                n += 1;
                leaf_index = next;
            }
            _ => break,
        }
    }
    // The hash is one of (0, n), (1, n/2), (2, n/4), … stored with leaf n;
    // the difference is at most trailing_ones(n) <= 63.
    let level = (index - leaf_index) as u8;
    (level, n >> level)
}

/// Returns how many hashes a store holds for a tree of `tree_size` leaves,
/// or `None` when that count does not fit in a `u64`.
///
/// ```
/// use loupe_schemas::merkle::stored_hash_count;
/// assert_eq!(stored_hash_count(0), Some(0));
/// assert_eq!(stored_hash_count(4), Some(7));
/// assert_eq!(stored_hash_count(5), Some(8));
/// ```
#[must_use]
pub fn stored_hash_count(tree_size: u64) -> Option<u64> {
    let Some(last) = tree_size.checked_sub(1) else {
        return Some(0);
    };
    leaf_stored_index(last)?
        .checked_add(1)?
        .checked_add(u64::from(last.trailing_ones()))
}

/// Largest power of two that is `<= n`; `n` must be at least 1.
pub(super) fn largest_pow2_at_most(n: u64) -> u64 {
    1 << (63 - n.max(1).leading_zeros())
}

/// Largest power of two that is `< n`; `n` must be at least 2.
pub(super) fn largest_pow2_below(n: u64) -> u64 {
    largest_pow2_at_most(n.saturating_sub(1))
}
