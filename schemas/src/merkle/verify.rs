//! Proof types and their verification, step by step as
//! [RFC 9162 §2.1.3.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2) and
//! [§2.1.4.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2) write them.
//! Roots are compared in constant time.

use subtle::ConstantTimeEq;

use super::error::{ConsistencyError, InclusionError};
use super::hash::{EMPTY_ROOT, Hash, node_hash};

/// Most hashes an inclusion or consistency path may have. Every proof for a
/// tree of up to [`MAX_TREE_SIZE`](super::MAX_TREE_SIZE) leaves fits; longer
/// paths are refused before any hashing.
pub const MAX_PATH_LEN: usize = 63;

/// Constant-time equality of two hashes.
fn hashes_equal(a: &Hash, b: &Hash) -> bool {
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

/// `LSB(x)` of the RFC: is the least significant bit set?
const fn lsb(x: u64) -> bool {
    x & 1 == 1
}

/// A proof that the leaf at `leaf_index` is in the tree of `tree_size`
/// leaves: the RFC 9162 `inclusion_path`, deepest sibling first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InclusionProof {
    /// 0-based index of the leaf.
    pub leaf_index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// Verifies that `leaf_hash` is the leaf at `self.leaf_index` of the tree
    /// of `self.tree_size` leaves whose root hash is `root`.
    ///
    /// # Errors
    ///
    /// See [`verify_inclusion`].
    pub fn verify(&self, leaf_hash: &Hash, root: &Hash) -> Result<(), InclusionError> {
        verify_inclusion(leaf_hash, self.leaf_index, self.tree_size, &self.path, root)
    }

    /// Returns the root hash the proof leads to from `leaf_hash`, for callers
    /// that compare it with a root themselves (COSE receipts carry it
    /// detached).
    ///
    /// # Errors
    ///
    /// The malformed cases of [`verify_inclusion`].
    pub fn root_from_leaf(&self, leaf_hash: &Hash) -> Result<Hash, InclusionError> {
        root_from_inclusion_path(leaf_hash, self.leaf_index, self.tree_size, &self.path)
    }
}

/// A proof that the tree of `old_size` leaves is a prefix of the tree of
/// `new_size` leaves: the RFC 9162 `consistency_path`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// The consistency path.
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Verifies that the tree of `self.old_size` leaves with root `old_root`
    /// is a prefix of the tree of `self.new_size` leaves with root `new_root`.
    ///
    /// # Errors
    ///
    /// See [`verify_consistency`].
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ConsistencyError> {
        verify_consistency(self.old_size, self.new_size, &self.path, old_root, new_root)
    }
}

/// Number of hashes the RFC 9162 §2.1.3.2 loop consumes for `fn`, `sn`
/// before `sn` reaches 0: the only valid inclusion path length.
fn inclusion_len(mut fn_: u64, mut sn: u64) -> usize {
    let mut len = 0;
    while sn != 0 {
        if !lsb(fn_) && fn_ == sn {
            while !lsb(fn_) && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        fn_ >>= 1;
        sn >>= 1;
        len += 1;
    }
    len
}

/// Runs RFC 9162 §2.1.3.2 steps 1 to 5 except the final root comparison,
/// returning the computed root `r`.
///
/// # Errors
///
/// The malformed cases: [`InclusionError::PathTooLong`],
/// [`InclusionError::IndexOutOfRange`], [`InclusionError::WrongPathLength`].
pub fn root_from_inclusion_path(
    leaf_hash: &Hash,
    leaf_index: u64,
    tree_size: u64,
    path: &[Hash],
) -> Result<Hash, InclusionError> {
    if path.len() > MAX_PATH_LEN {
        return Err(InclusionError::PathTooLong {
            len: path.len(),
            max: MAX_PATH_LEN,
        });
    }
    // 1. If leaf_index is greater than or equal to tree_size, fail.
    if leaf_index >= tree_size {
        return Err(InclusionError::IndexOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    let wrong_length = || InclusionError::WrongPathLength {
        len: path.len(),
        expected: inclusion_len(leaf_index, tree_size - 1),
    };
    // 2. Set fn to leaf_index and sn to tree_size - 1.
    let mut fn_ = leaf_index;
    let mut sn = tree_size - 1;
    // 3. Set r to hash.
    let mut r = *leaf_hash;
    // 4. For each value p in the inclusion_path array:
    for p in path {
        // a. If sn is 0, stop the iteration and fail.
        if sn == 0 {
            return Err(wrong_length());
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if lsb(fn_) || fn_ == sn {
            // i. Set r to HASH(0x01 || p || r).
            r = node_hash(p, &r);
            // ii. If LSB(fn) is not set, right-shift both fn and sn equally
            //     until either LSB(fn) is set or fn is 0.
            if !lsb(fn_) {
                while !lsb(fn_) && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            // Otherwise: i. Set r to HASH(0x01 || r || p).
            r = node_hash(&r, p);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Compare sn to 0 ...
    if sn != 0 {
        return Err(wrong_length());
    }
    Ok(r)
}

/// Verifies an inclusion proof: that `leaf_hash` is the leaf at `leaf_index`
/// of the tree of `tree_size` leaves with root hash `root`, following
/// [RFC 9162 §2.1.3.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2).
///
/// # Errors
///
/// Malformed: [`InclusionError::PathTooLong`] beyond [`MAX_PATH_LEN`],
/// [`InclusionError::IndexOutOfRange`] unless `leaf_index < tree_size`,
/// [`InclusionError::WrongPathLength`]. Mismatch:
/// [`InclusionError::RootMismatch`].
pub fn verify_inclusion(
    leaf_hash: &Hash,
    leaf_index: u64,
    tree_size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<(), InclusionError> {
    let r = root_from_inclusion_path(leaf_hash, leaf_index, tree_size, path)?;
    // 5. ... and r against root_hash.
    if hashes_equal(&r, root) {
        Ok(())
    } else {
        Err(InclusionError::RootMismatch)
    }
}

/// Number of hashes a consistency path for `0 < first < second` must have:
/// the one the RFC 9162 §2.1.4.2 loop consumes before `sn` reaches 0, plus
/// the seed unless `first` is a power of two.
fn consistency_len(first: u64, second: u64) -> usize {
    let mut fn_ = first - 1;
    let mut sn = second - 1;
    while lsb(fn_) {
        fn_ >>= 1;
        sn >>= 1;
    }
    let seed = usize::from(!first.is_power_of_two());
    seed + inclusion_len(fn_, sn)
}

/// Verifies a consistency proof: that the tree of `old_size` leaves with root
/// `old_root` is a prefix of the tree of `new_size` leaves with root
/// `new_root`, following
/// [RFC 9162 §2.1.4.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2)
/// for `0 < old_size < new_size`.
///
/// Outside the RFC's range: equal sizes need an empty path and equal roots;
/// an empty old tree needs an empty path and `old_root` equal to
/// [`EMPTY_ROOT`] (it is a prefix of every tree).
///
/// # Errors
///
/// Malformed: [`ConsistencyError::PathTooLong`] beyond [`MAX_PATH_LEN`],
/// [`ConsistencyError::OldLargerThanNew`], [`ConsistencyError::WrongPathLength`].
/// Mismatch: [`ConsistencyError::OldRootMismatch`],
/// [`ConsistencyError::NewRootMismatch`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    path: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ConsistencyError> {
    if path.len() > MAX_PATH_LEN {
        return Err(ConsistencyError::PathTooLong {
            len: path.len(),
            max: MAX_PATH_LEN,
        });
    }
    if old_size > new_size {
        return Err(ConsistencyError::OldLargerThanNew { old_size, new_size });
    }
    if old_size == new_size || old_size == 0 {
        if !path.is_empty() {
            return Err(ConsistencyError::WrongPathLength {
                len: path.len(),
                expected: 0,
            });
        }
        if old_size == 0 && !hashes_equal(old_root, &EMPTY_ROOT) {
            return Err(ConsistencyError::OldRootMismatch);
        }
        if old_size == new_size && !hashes_equal(old_root, new_root) {
            return Err(ConsistencyError::NewRootMismatch);
        }
        return Ok(());
    }
    let (first, second) = (old_size, new_size);
    let wrong_length = || ConsistencyError::WrongPathLength {
        len: path.len(),
        expected: consistency_len(first, second),
    };
    // 1. If consistency_path is an empty array, stop and fail.
    if path.is_empty() {
        return Err(wrong_length());
    }
    // 2. If first is an exact power of 2, prepend first_hash to the
    //    consistency_path array. (Done by taking the seed of step 5 from
    //    first_hash instead of from the array.)
    let (seed, rest) = if first.is_power_of_two() {
        (old_root, path)
    } else {
        path.split_first().ok_or_else(wrong_length)?
    };
    // 3. Set fn to first - 1 and sn to second - 1.
    let mut fn_ = first - 1;
    let mut sn = second - 1;
    // 4. If LSB(fn) is set, right-shift both fn and sn equally until LSB(fn)
    //    is not set.
    while lsb(fn_) {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Set both fr and sr to the first value in the consistency_path array.
    let mut fr = *seed;
    let mut sr = *seed;
    // 6. For each subsequent value c in the consistency_path array:
    for c in rest {
        // a. If sn is 0, stop the iteration and fail.
        if sn == 0 {
            return Err(wrong_length());
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if lsb(fn_) || fn_ == sn {
            // i. Set fr to HASH(0x01 || c || fr).
            fr = node_hash(c, &fr);
            // ii. Set sr to HASH(0x01 || c || sr).
            sr = node_hash(c, &sr);
            // iii. If LSB(fn) is not set, right-shift both fn and sn equally
            //      until either LSB(fn) is set or fn is 0.
            if !lsb(fn_) {
                while !lsb(fn_) && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            // Otherwise: i. Set sr to HASH(0x01 || sr || c).
            sr = node_hash(&sr, c);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. Verify that fr is equal to first_hash, sr is equal to second_hash
    //    and sn is 0.
    if sn != 0 {
        return Err(wrong_length());
    }
    let old_ok = hashes_equal(&fr, old_root);
    let new_ok = hashes_equal(&sr, new_root);
    if !old_ok {
        return Err(ConsistencyError::OldRootMismatch);
    }
    if !new_ok {
        return Err(ConsistencyError::NewRootMismatch);
    }
    Ok(())
}
