//! Computations over stored hashes: tree hashes, the hashes an append
//! stores, and proof generation
//! ([RFC 9162 §2.1.3.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1),
//! [§2.1.4.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1)).
//!
//! Each computation first plans the stored-hash indexes it needs, reads them
//! with a single [`HashReader::read_hashes`] call (in increasing order), then
//! assembles the result from the hashes in the same order.

use std::convert::Infallible;

use super::error::TreeError;
use super::hash::{EMPTY_ROOT, Hash, node_hash};
use super::layout::{MAX_TREE_SIZE, largest_pow2_at_most, largest_pow2_below, stored_hash_index};
use super::store::HashReader;
use super::verify::{ConsistencyProof, InclusionProof};

/// Consumes planned hashes in order.
struct Cursor<'a> {
    rest: &'a [Hash],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [Hash]> {
        let (taken, rest) = self.rest.split_at_checked(count)?;
        self.rest = rest;
        Some(taken)
    }
}

/// Appends the indexes of the perfect subtrees that make up leaves
/// `lo..hi`, largest (leftmost) first. `lo` must be a multiple of the
/// largest power of two not above `hi - lo`, which holds for every range
/// the RFC 9162 recursion produces.
fn subtree_indexes(mut lo: u64, hi: u64, out: &mut Vec<u64>) -> Option<()> {
    while lo < hi {
        let width = largest_pow2_at_most(hi - lo);
        let level = width.trailing_zeros();
        out.push(stored_hash_index(level as u8, lo >> level)?);
        lo += width;
    }
    Some(())
}

/// Computes MTH(D[lo:hi]) from the hashes [`subtree_indexes`] planned.
fn subtree_hash(mut lo: u64, hi: u64, hashes: &mut Cursor<'_>) -> Option<Hash> {
    let mut count = 0;
    while lo < hi {
        lo += largest_pow2_at_most(hi - lo);
        count += 1;
    }
    let (last, rest) = hashes.take(count)?.split_last()?;
    Some(
        rest.iter()
            .rev()
            .fold(*last, |acc, left| node_hash(left, &acc)),
    )
}

/// Plans the audit path of leaf `n` within leaves `lo..hi` (RFC 9162 PATH).
fn inclusion_indexes(lo: u64, hi: u64, n: u64, out: &mut Vec<u64>) -> Option<()> {
    if hi - lo <= 1 {
        return Some(());
    }
    let k = largest_pow2_below(hi - lo);
    if n < lo + k {
        inclusion_indexes(lo, lo + k, n, out)?;
        subtree_indexes(lo + k, hi, out)
    } else {
        subtree_indexes(lo, lo + k, out)?;
        inclusion_indexes(lo + k, hi, n, out)
    }
}

/// Assembles the audit path planned by [`inclusion_indexes`], deepest first.
fn inclusion_path(
    lo: u64,
    hi: u64,
    n: u64,
    hashes: &mut Cursor<'_>,
    path: &mut Vec<Hash>,
) -> Option<()> {
    if hi - lo <= 1 {
        return Some(());
    }
    let k = largest_pow2_below(hi - lo);
    if n < lo + k {
        inclusion_path(lo, lo + k, n, hashes, path)?;
        path.push(subtree_hash(lo + k, hi, hashes)?);
    } else {
        let left = subtree_hash(lo, lo + k, hashes)?;
        inclusion_path(lo + k, hi, n, hashes, path)?;
        path.push(left);
    }
    Some(())
}

/// Plans the consistency proof of the first `m` leaves within leaves
/// `lo..hi` (RFC 9162 SUBPROOF; `lo == 0` plays the role of `b = true`).
fn consistency_indexes(lo: u64, hi: u64, m: u64, out: &mut Vec<u64>) -> Option<()> {
    if m == hi {
        if lo == 0 {
            return Some(());
        }
        return subtree_indexes(lo, hi, out);
    }
    let k = largest_pow2_below(hi - lo);
    if m <= lo + k {
        consistency_indexes(lo, lo + k, m, out)?;
        subtree_indexes(lo + k, hi, out)
    } else {
        subtree_indexes(lo, lo + k, out)?;
        consistency_indexes(lo + k, hi, m, out)
    }
}

/// Assembles the consistency proof planned by [`consistency_indexes`].
fn consistency_path(
    lo: u64,
    hi: u64,
    m: u64,
    hashes: &mut Cursor<'_>,
    path: &mut Vec<Hash>,
) -> Option<()> {
    if m == hi {
        if lo != 0 {
            path.push(subtree_hash(lo, hi, hashes)?);
        }
        return Some(());
    }
    let k = largest_pow2_below(hi - lo);
    if m <= lo + k {
        consistency_path(lo, lo + k, m, hashes, path)?;
        path.push(subtree_hash(lo + k, hi, hashes)?);
    } else {
        let left = subtree_hash(lo, lo + k, hashes)?;
        consistency_path(lo + k, hi, m, hashes, path)?;
        path.push(left);
    }
    Some(())
}

fn check_size(size: u64) -> Result<(), TreeError<Infallible>> {
    if size > MAX_TREE_SIZE {
        return Err(TreeError::TreeTooLarge { size });
    }
    Ok(())
}

/// Returns the stored-hash indexes [`tree_hash`] reads for a tree of
/// `tree_size` leaves: the roots of its perfect subtrees, largest first
/// (empty for the empty tree).
///
/// Callers that fetch hashes asynchronously can plan with this, fetch, and
/// then call [`tree_hash`] with a reader over the fetched hashes.
///
/// # Errors
///
/// [`TreeError::TreeTooLarge`] above [`MAX_TREE_SIZE`].
pub fn tree_hash_indexes(tree_size: u64) -> Result<Vec<u64>, TreeError<Infallible>> {
    check_size(tree_size)?;
    let mut out = Vec::new();
    subtree_indexes(0, tree_size, &mut out).ok_or(TreeError::TreeTooLarge { size: tree_size })?;
    Ok(out)
}

/// Returns the stored-hash indexes [`prove_inclusion`] reads.
///
/// # Errors
///
/// As [`prove_inclusion`], without the reader errors.
pub fn inclusion_proof_indexes(
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<u64>, TreeError<Infallible>> {
    check_size(tree_size)?;
    if leaf_index >= tree_size {
        return Err(TreeError::IndexOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    let mut out = Vec::new();
    inclusion_indexes(0, tree_size, leaf_index, &mut out)
        .ok_or(TreeError::TreeTooLarge { size: tree_size })?;
    Ok(out)
}

/// Returns the stored-hash indexes [`prove_consistency`] reads.
///
/// # Errors
///
/// As [`prove_consistency`], without the reader errors.
pub fn consistency_proof_indexes(
    old_size: u64,
    new_size: u64,
) -> Result<Vec<u64>, TreeError<Infallible>> {
    check_size(new_size)?;
    if old_size > new_size {
        return Err(TreeError::OldLargerThanNew { old_size, new_size });
    }
    let mut out = Vec::new();
    if old_size > 0 {
        consistency_indexes(0, new_size, old_size, &mut out)
            .ok_or(TreeError::TreeTooLarge { size: new_size })?;
    }
    Ok(out)
}

/// Reads exactly `indexes.len()` hashes.
fn read_exact<R: HashReader + ?Sized>(
    reader: &R,
    indexes: &[u64],
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader.read_hashes(indexes).map_err(TreeError::Read)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::ShortRead {
            requested: indexes.len(),
            returned: hashes.len(),
        });
    }
    Ok(hashes)
}

/// Maps an assembly failure, which only a reader returning the wrong count
/// can cause and [`read_exact`] already excludes.
fn assembly_failed<E>(requested: usize) -> TreeError<E> {
    TreeError::ShortRead {
        requested,
        returned: 0,
    }
}

/// Returns the root hash (MTH) of the first `tree_size` leaves, reading the
/// roots of its perfect subtrees from `reader`. The empty tree has root
/// [`EMPTY_ROOT`].
///
/// # Errors
///
/// [`TreeError::TreeTooLarge`] above [`MAX_TREE_SIZE`]; [`TreeError::Read`]
/// and [`TreeError::ShortRead`] when the reader fails.
pub fn tree_hash<R: HashReader + ?Sized>(
    tree_size: u64,
    reader: &R,
) -> Result<Hash, TreeError<R::Error>> {
    if tree_size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let indexes = tree_hash_indexes(tree_size).map_err(TreeError::widen)?;
    let hashes = read_exact(reader, &indexes)?;
    subtree_hash(0, tree_size, &mut Cursor { rest: &hashes })
        .ok_or_else(|| assembly_failed(indexes.len()))
}

/// Returns the hashes to store when appending leaf `n` (0-based) with leaf
/// hash `leaf_hash` to a tree of `n` leaves: the leaf hash, then the root of
/// every perfect subtree the leaf completes, bottom up. They go at
/// [`stored_hash_index(0, n)`](super::stored_hash_index) and the following
/// indexes. It reads up to `trailing_ones(n)` earlier hashes.
///
/// [`AppendState`](super::AppendState) produces the same hashes without
/// reading anything.
///
/// # Errors
///
/// [`TreeError::TreeTooLarge`] when the tree would exceed [`MAX_TREE_SIZE`];
/// [`TreeError::Read`] and [`TreeError::ShortRead`] when the reader fails.
pub fn stored_hashes<R: HashReader + ?Sized>(
    n: u64,
    leaf_hash: &Hash,
    reader: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if n >= MAX_TREE_SIZE {
        return Err(TreeError::TreeTooLarge {
            size: n.saturating_add(1),
        });
    }
    // Each trailing one bit of n completes a subtree whose left sibling is
    // already stored: the sibling at level i is node (i, (n >> i) - 1).
    let completed = n.trailing_ones();
    let mut indexes = Vec::with_capacity(completed as usize);
    for level in (0..completed).rev() {
        let index = stored_hash_index(level as u8, (n >> level) - 1)
            .ok_or(TreeError::TreeTooLarge { size: n + 1 })?;
        indexes.push(index);
    }
    let siblings = read_exact(reader, &indexes)?;
    let mut out = Vec::with_capacity(siblings.len() + 1);
    let mut hash = *leaf_hash;
    out.push(hash);
    for sibling in siblings.iter().rev() {
        hash = node_hash(sibling, &hash);
        out.push(hash);
    }
    Ok(out)
}

/// Generates the inclusion proof (audit path) of leaf `leaf_index` in the
/// tree of the first `tree_size` leaves
/// ([RFC 9162 §2.1.3.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1)).
///
/// # Errors
///
/// [`TreeError::IndexOutOfRange`] unless `leaf_index < tree_size`;
/// [`TreeError::TreeTooLarge`] above [`MAX_TREE_SIZE`]; [`TreeError::Read`]
/// and [`TreeError::ShortRead`] when the reader fails.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    leaf_index: u64,
    tree_size: u64,
    reader: &R,
) -> Result<InclusionProof, TreeError<R::Error>> {
    let indexes = inclusion_proof_indexes(leaf_index, tree_size).map_err(TreeError::widen)?;
    let hashes = read_exact(reader, &indexes)?;
    let mut path = Vec::with_capacity(indexes.len().min(64));
    inclusion_path(
        0,
        tree_size,
        leaf_index,
        &mut Cursor { rest: &hashes },
        &mut path,
    )
    .ok_or_else(|| assembly_failed(indexes.len()))?;
    Ok(InclusionProof {
        leaf_index,
        tree_size,
        path,
    })
}

/// Generates the consistency proof between the trees of the first
/// `old_size` and `new_size` leaves
/// ([RFC 9162 §2.1.4.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1)).
/// The proof is empty when `old_size` is 0 or equal to `new_size`.
///
/// # Errors
///
/// [`TreeError::OldLargerThanNew`] when `old_size > new_size`;
/// [`TreeError::TreeTooLarge`] above [`MAX_TREE_SIZE`]; [`TreeError::Read`]
/// and [`TreeError::ShortRead`] when the reader fails.
pub fn prove_consistency<R: HashReader + ?Sized>(
    old_size: u64,
    new_size: u64,
    reader: &R,
) -> Result<ConsistencyProof, TreeError<R::Error>> {
    let indexes = consistency_proof_indexes(old_size, new_size).map_err(TreeError::widen)?;
    let hashes = read_exact(reader, &indexes)?;
    let mut path = Vec::with_capacity(indexes.len().min(64));
    if old_size > 0 {
        consistency_path(
            0,
            new_size,
            old_size,
            &mut Cursor { rest: &hashes },
            &mut path,
        )
        .ok_or_else(|| assembly_failed(indexes.len()))?;
    }
    Ok(ConsistencyProof {
        old_size,
        new_size,
        path,
    })
}
