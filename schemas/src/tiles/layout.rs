//! Which tiles hold which stored hashes, and which tiles make up a tree
//! (after `golang.org/x/mod/sumdb/tlog`'s `TileForIndex`, `HashFromTile`
//! and `NewTiles`, at the fixed height 8 of C2SP tlog-tiles).

use std::ops::Range;

use crate::merkle::{
    HASH_SIZE, Hash, HashReader, MAX_TREE_SIZE, TreeError, node_hash, split_stored_hash_index,
    stored_hash_index,
};

use super::data::{HashTileError, encode_hash_tile};
use super::path::{TILE_HEIGHT, TILE_WIDTH, TileCoords};

/// Returns the narrowest tile holding, or able to recompute, the stored hash
/// at `index`, and the range of that tile's hashes the hash is the Merkle
/// Tree Hash of.
///
/// A hash at a tree level that is a multiple of 8 is itself in the tile (a
/// range of one); a hash between such levels is recomputed from the
/// `2^(level mod 8)` tile hashes below it.
#[must_use]
pub fn tile_for_stored_hash(index: u64) -> (TileCoords, Range<usize>) {
    let (level, n) = split_stored_hash_index(index);
    let tile_level = level / TILE_HEIGHT;
    let level_in_tile = level % TILE_HEIGHT;
    // First hash of the tile's bottom row below the node. No bits are lost:
    // the node's subtree ends within 2^64 leaves.
    let first = n << level_in_tile;
    let tile_index = first >> TILE_HEIGHT;
    let start = (first % u64::from(TILE_WIDTH)) as usize;
    let end = start + (1 << level_in_tile);
    // end <= 256: start is a multiple of 2^level_in_tile below 256.
    let coords = TileCoords::new_unchecked(tile_level, tile_index, end as u16);
    (coords, start..end)
}

/// Returns the tiles, as a tree of `tree_size` leaves has them, that hold
/// the stored hashes at `indexes`: each once, in order of first need. `None`
/// when an index is not in that tree.
///
/// This is what a reader fetches for those hashes, before the extra tiles
/// [`TileHashReader`](super::TileHashReader) adds to authenticate them.
#[must_use]
pub fn tiles_for_stored_hashes(indexes: &[u64], tree_size: u64) -> Option<Vec<TileCoords>> {
    let end = stored_hash_index(0, tree_size)?;
    let mut tiles: Vec<TileCoords> = Vec::new();
    for &index in indexes {
        if index >= end {
            return None;
        }
        let (tile, _) = tile_for_stored_hash(index);
        let tile = tile_in_tree(tile.level(), tile.index(), tree_size)?;
        if !tiles.contains(&tile) {
            tiles.push(tile);
        }
    }
    Some(tiles)
}

/// Returns the tile holding leaf `leaf_index`'s hash, widened to what a tree
/// of `tree_size` leaves holds; `None` unless `leaf_index < tree_size`.
/// Its level-0 coordinates are also those of the leaf's entry bundle.
#[must_use]
pub fn tile_for_leaf(leaf_index: u64, tree_size: u64) -> Option<TileCoords> {
    if leaf_index >= tree_size {
        return None;
    }
    tile_in_tree(0, leaf_index >> TILE_HEIGHT, tree_size)
}

/// Returns the tile at `level` and `index` as a tree of `tree_size` leaves
/// has it: full, partial (width `floor(tree_size / 256^level) mod 256`), or
/// `None` when the tree has no such tile.
#[must_use]
pub fn tile_in_tree(level: u8, index: u64, tree_size: u64) -> Option<TileCoords> {
    let shift = u32::from(level).checked_mul(u32::from(TILE_HEIGHT))?;
    let hashes_at_level = tree_size.checked_shr(shift).unwrap_or(0);
    let start = index.checked_mul(u64::from(TILE_WIDTH))?;
    let available = hashes_at_level.checked_sub(start).filter(|&a| a > 0)?;
    let width = available.min(u64::from(TILE_WIDTH)) as u16;
    TileCoords::new(level, index, width).ok()
}

/// Returns the tile `k` levels above `tile`, as a tree of `tree_size` leaves
/// has it.
pub(super) fn tile_parent(tile: TileCoords, k: u8, tree_size: u64) -> Option<TileCoords> {
    let level = tile.level().checked_add(k)?;
    let shift = u32::from(k) * u32::from(TILE_HEIGHT);
    tile_in_tree(
        level,
        tile.index().checked_shr(shift).unwrap_or(0),
        tree_size,
    )
}

/// Returns every tile of a tree of `tree_size` leaves, full and partial,
/// level by level: what a mirror fetches, or what a log serves.
///
/// ```
/// use loupe_schemas::tiles::tiles_for_tree;
/// let paths: Vec<String> = tiles_for_tree(300).iter().map(|t| t.path()).collect();
/// assert_eq!(paths, ["tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1"]);
/// ```
#[must_use]
pub fn tiles_for_tree(tree_size: u64) -> Vec<TileCoords> {
    new_tiles(0, tree_size)
}

/// Returns the tiles a log writes when it grows from `old_size` to
/// `new_size` leaves: every tile that is new or wider. Empty unless
/// `old_size < new_size`.
///
/// ```
/// use loupe_schemas::tiles::new_tiles;
/// let paths: Vec<String> = new_tiles(250, 260).iter().map(|t| t.path()).collect();
/// assert_eq!(paths, ["tile/0/000", "tile/0/001.p/4", "tile/1/000.p/1"]);
/// ```
#[must_use]
pub fn new_tiles(old_size: u64, new_size: u64) -> Vec<TileCoords> {
    let mut tiles = Vec::new();
    if old_size >= new_size {
        return tiles;
    }
    for level in 0..=MAX_LEVEL_FOR_U64 {
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        let old_n = old_size >> shift;
        let new_n = new_size >> shift;
        if new_n == 0 {
            break;
        }
        if old_n == new_n {
            continue;
        }
        let width = u64::from(TILE_WIDTH);
        for index in (old_n / width)..(new_n / width) {
            tiles.push(TileCoords::new_unchecked(level, index, TILE_WIDTH));
        }
        let partial = new_n % width;
        if partial > 0 {
            tiles.push(TileCoords::new_unchecked(
                level,
                new_n / width,
                partial as u16,
            ));
        }
    }
    tiles
}

/// A `u64` tree size has hashes up to tile level 7 (`256^8 = 2^64`).
const MAX_LEVEL_FOR_U64: u8 = 7;

/// Returns the stored-hash indexes of the hashes in `tile`, in tile order,
/// or `None` when they do not fit in a `u64`.
#[must_use]
pub fn tile_hash_indexes(tile: TileCoords) -> Option<Vec<u64>> {
    let level = tile.level().checked_mul(TILE_HEIGHT)?;
    let start = tile.index().checked_mul(u64::from(TILE_WIDTH))?;
    (0..u64::from(tile.width()))
        .map(|i| stored_hash_index(level, start.checked_add(i)?))
        .collect()
}

/// Reads the hashes of `tile` from stored hashes and returns the tile's
/// bytes: what the issuer writes for each tile of a batch.
///
/// # Errors
///
/// [`TreeError::TreeTooLarge`] when the tile lies beyond
/// [`MAX_TREE_SIZE`] leaves; [`TreeError::Read`] and
/// [`TreeError::ShortRead`] when the reader fails.
pub fn read_tile_data<R: HashReader + ?Sized>(
    tile: TileCoords,
    reader: &R,
) -> Result<Vec<u8>, TreeError<R::Error>> {
    let indexes = tile_hash_indexes(tile).ok_or(TreeError::TreeTooLarge {
        size: MAX_TREE_SIZE,
    })?;
    let hashes = reader.read_hashes(&indexes).map_err(TreeError::Read)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::ShortRead {
            requested: indexes.len(),
            returned: hashes.len(),
        });
    }
    Ok(encode_hash_tile(&hashes))
}

/// Returns the stored hash at `index` from the bytes `data` of `tile`, which
/// must be [`tile_for_stored_hash(index)`](tile_for_stored_hash)'s tile or a
/// wider version of it.
///
/// # Errors
///
/// [`HashTileError::WrongLength`] unless `data` is `tile.width() * 32`
/// bytes; [`HashTileError::NotInTile`] when the hash is not in this tile.
pub fn hash_from_tile(tile: TileCoords, data: &[u8], index: u64) -> Result<Hash, HashTileError> {
    let expected = usize::from(tile.width()) * HASH_SIZE;
    if data.len() != expected {
        return Err(HashTileError::WrongLength {
            len: data.len(),
            expected,
        });
    }
    let (needed, range) = tile_for_stored_hash(index);
    if needed.level() != tile.level()
        || needed.index() != tile.index()
        || needed.width() > tile.width()
    {
        return Err(HashTileError::NotInTile { index });
    }
    let bytes = data
        .get(range.start * HASH_SIZE..range.end * HASH_SIZE)
        .ok_or(HashTileError::NotInTile { index })?;
    subtree_root(bytes).ok_or(HashTileError::NotInTile { index })
}

/// Merkle Tree Hash of a power-of-two number of concatenated hashes.
pub(super) fn subtree_root(bytes: &[u8]) -> Option<Hash> {
    if !bytes.len().is_multiple_of(HASH_SIZE) || !(bytes.len() / HASH_SIZE).is_power_of_two() {
        return None;
    }
    let mut level: Vec<Hash> = bytes
        .chunks_exact(HASH_SIZE)
        .map(|chunk| chunk.try_into().ok())
        .collect::<Option<_>>()?;
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| match pair {
                [left, right] => node_hash(left, right),
                _ => [0; HASH_SIZE],
            })
            .collect();
    }
    level.first().copied()
}
