//! Reading stored hashes from tiles: [`TileReader`] fetches tiles,
//! [`TileHashReader`] authenticates them against a trusted tree head and
//! serves their hashes as a [`HashReader`], so a verifier or monitor can
//! compute any proof from a mirror.

use std::collections::HashMap;

use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::merkle::{
    HASH_SIZE, Hash, HashReader, MAX_TREE_SIZE, TreeError, node_hash, stored_hash_index,
    tree_hash_indexes,
};

use super::layout::{
    hash_from_tile, read_tile_data, subtree_root, tile_for_stored_hash, tile_parent,
};
use super::path::{TILE_HEIGHT, TileCoords};

/// Fetches hash tiles: from a CDN, a mirror directory, a cache or a
/// database.
pub trait TileReader {
    /// Why a fetch failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Returns the bytes of each tile in `tiles`, in the same order. Full
    /// tiles may be served where a partial one is asked for only if trimmed
    /// to the asked width; [`TileHashReader`] checks every length.
    ///
    /// # Errors
    ///
    /// Any fetch failure.
    fn read_tiles(&self, tiles: &[TileCoords]) -> Result<Vec<Vec<u8>>, Self::Error>;
}

impl<T: TileReader + ?Sized> TileReader for &T {
    type Error = T::Error;

    fn read_tiles(&self, tiles: &[TileCoords]) -> Result<Vec<Vec<u8>>, Self::Error> {
        (**self).read_tiles(tiles)
    }
}

/// Serves tiles computed from stored hashes: how the issuer produces the
/// tiles of each batch, and a test double for a tile server.
#[derive(Clone, Debug)]
pub struct StoredHashTiles<R>(pub R);

impl<R: HashReader> TileReader for StoredHashTiles<R> {
    type Error = TreeError<R::Error>;

    fn read_tiles(&self, tiles: &[TileCoords]) -> Result<Vec<Vec<u8>>, Self::Error> {
        tiles
            .iter()
            .map(|&tile| read_tile_data(tile, &self.0))
            .collect()
    }
}

/// Why [`TileHashReader`] could not return hashes.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TileHashError<E> {
    /// A requested stored hash is not part of the trusted tree.
    #[error("stored hash {index} is not in the tree of size {tree_size}")]
    IndexNotInTree {
        /// The requested stored-hash index.
        index: u64,
        /// The trusted tree size.
        tree_size: u64,
    },
    /// The trusted tree size exceeds [`MAX_TREE_SIZE`].
    #[error("tree size {size} exceeds the supported maximum of 2^62 leaves")]
    TreeTooLarge {
        /// The tree size.
        size: u64,
    },
    /// The tile reader failed.
    #[error("reading tiles failed")]
    Read(#[source] E),
    /// The tile reader returned a different number of tiles than requested.
    #[error("tile reader returned {returned} tiles for {requested}")]
    WrongTileCount {
        /// Tiles requested.
        requested: usize,
        /// Tiles returned.
        returned: usize,
    },
    /// A tile has the wrong number of bytes for its width.
    #[error("tile {tile} has {len} bytes, expected {expected}")]
    WrongTileLength {
        /// The tile.
        tile: TileCoords,
        /// Bytes returned.
        len: usize,
        /// `width * 32`.
        expected: usize,
    },
    /// Mismatch: the tiles do not hash to the trusted root, or a tile does
    /// not hash to its entry in the tile above. Some tile is forged or
    /// corrupt; nothing read is returned.
    #[error("tiles are inconsistent with the trusted tree head")]
    InconsistentTiles,
    /// The tiles needed for a hash could not be planned. This does not
    /// happen for trees within [`MAX_TREE_SIZE`]; it is reported instead of
    /// panicking.
    #[error("no tile plan for stored hash {index}")]
    NoTilePlan {
        /// The stored-hash index.
        index: u64,
    },
}

/// A [`HashReader`] that reads stored hashes from the tiles of a tree whose
/// size and root hash the caller trusts (from a verified checkpoint).
///
/// Every read fetches, in one [`TileReader::read_tiles`] call, the tiles
/// holding the requested hashes plus the tiles needed to authenticate them:
/// the partial tiles that hash to the root, and the parents of full tiles up
/// to an authenticated tile. Any tile that does not fit is refused with
/// [`TileHashError::InconsistentTiles`], so every returned hash is in the
/// trusted tree. Proofs computed with it are therefore the log's proofs:
///
/// ```
/// use loupe_schemas::merkle::{MemoryHashStore, leaf_hash, prove_inclusion};
/// use loupe_schemas::tiles::{StoredHashTiles, TileHashReader};
///
/// let mut log = MemoryHashStore::new();
/// for i in 0..1000u32 {
///     log.append_leaf(&i.to_be_bytes())?;
/// }
/// let root = log.root()?; // from the verified checkpoint, in real use
/// let mirror = TileHashReader::new(1000, root, StoredHashTiles(&log));
/// let proof = prove_inclusion(600, 1000, &mirror)?;
/// proof.verify(&leaf_hash(&600u32.to_be_bytes()), &root)?;
/// assert_eq!(proof, prove_inclusion(600, 1000, &log)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TileHashReader<T> {
    tree_size: u64,
    root: Hash,
    tiles: T,
}

impl<T: TileReader> TileHashReader<T> {
    /// Returns a reader for the tree of `tree_size` leaves with root hash
    /// `root`, fetching tiles with `tiles`. The size and root must come from
    /// a verified checkpoint: they are what the tiles are checked against.
    pub fn new(tree_size: u64, root: Hash, tiles: T) -> Self {
        Self {
            tree_size,
            root,
            tiles,
        }
    }

    /// The trusted tree size.
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// The trusted root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }
}

/// Tiles to fetch, in an order where each tile's parent comes first.
#[derive(Default)]
struct TilePlan {
    tiles: Vec<TileCoords>,
    position: HashMap<TileCoords, usize>,
}

impl TilePlan {
    fn add(&mut self, tile: TileCoords) -> usize {
        *self.position.entry(tile).or_insert_with(|| {
            self.tiles.push(tile);
            self.tiles.len() - 1
        })
    }
}

impl<T: TileReader> HashReader for TileHashReader<T> {
    type Error = TileHashError<T::Error>;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let size = self.tree_size;
        if size > MAX_TREE_SIZE {
            return Err(TileHashError::TreeTooLarge { size });
        }
        let end = stored_hash_index(0, size).ok_or(TileHashError::TreeTooLarge { size })?;
        if let Some(&index) = indexes.iter().find(|&&index| index >= end) {
            return Err(TileHashError::IndexNotInTree {
                index,
                tree_size: size,
            });
        }

        // Plan the tiles that recompute the root hash: the partial tiles of
        // the tree's right edge. Authenticating them against the root
        // authenticates every hash they hold.
        let mut plan = TilePlan::default();
        let root_indexes =
            tree_hash_indexes(size).map_err(|_| TileHashError::TreeTooLarge { size })?;
        let mut root_tiles = Vec::with_capacity(root_indexes.len());
        for &index in &root_indexes {
            let (tile, _) = tile_for_stored_hash(index);
            let tile = tile_parent(tile, 0, size).ok_or(TileHashError::NoTilePlan { index })?;
            root_tiles.push(plan.add(tile));
        }
        let authenticated_by_root = plan.tiles.len();

        // Plan the tiles holding the requested hashes, each after the chain
        // of full tiles linking it to an already planned tile above.
        let mut hash_tiles = Vec::with_capacity(indexes.len());
        for &index in indexes {
            let (tile, _) = tile_for_stored_hash(index);
            let mut k = 0;
            while tile_parent(tile, k, size)
                .is_none_or(|parent| !plan.position.contains_key(&parent))
            {
                k += 1;
                if k > 64 / TILE_HEIGHT {
                    return Err(TileHashError::NoTilePlan { index });
                }
            }
            for j in (0..k).rev() {
                let chain_tile =
                    tile_parent(tile, j, size).ok_or(TileHashError::NoTilePlan { index })?;
                if !chain_tile.is_full() {
                    // Only full tiles are hashed into a parent tile.
                    return Err(TileHashError::NoTilePlan { index });
                }
                plan.add(chain_tile);
            }
            let own = tile_parent(tile, 0, size).ok_or(TileHashError::NoTilePlan { index })?;
            hash_tiles.push(plan.add(own));
        }

        // Fetch and check the shape of what came back.
        let data = self
            .tiles
            .read_tiles(&plan.tiles)
            .map_err(TileHashError::Read)?;
        if data.len() != plan.tiles.len() {
            return Err(TileHashError::WrongTileCount {
                requested: plan.tiles.len(),
                returned: data.len(),
            });
        }
        for (tile, bytes) in plan.tiles.iter().zip(&data) {
            let expected = usize::from(tile.width()) * HASH_SIZE;
            if bytes.len() != expected {
                return Err(TileHashError::WrongTileLength {
                    tile: *tile,
                    len: bytes.len(),
                    expected,
                });
            }
        }
        let tile_hash = |position: usize, index: u64| -> Result<Hash, Self::Error> {
            match (plan.tiles.get(position), data.get(position)) {
                (Some(&tile), Some(bytes)) => hash_from_tile(tile, bytes, index)
                    .map_err(|_| TileHashError::NoTilePlan { index }),
                _ => Err(TileHashError::NoTilePlan { index }),
            }
        };

        // Authenticate the right-edge tiles against the trusted root.
        let mut subtree_roots = root_indexes
            .iter()
            .zip(&root_tiles)
            .map(|(&index, &position)| tile_hash(position, index))
            .rev();
        let mut computed = subtree_roots
            .next()
            .ok_or(TileHashError::InconsistentTiles)??;
        for left in subtree_roots {
            computed = node_hash(&left?, &computed);
        }
        if !bool::from(computed.as_slice().ct_eq(self.root.as_slice())) {
            return Err(TileHashError::InconsistentTiles);
        }

        // Authenticate every other tile against its parent, which comes
        // earlier in the plan and so is already authenticated. This starts
        // after the *distinct* right-edge tiles: starting after one tile per
        // root subtree (as the tlog code this follows does) would skip, for
        // example, the leaf tile of leaf 0 in a tree of 300 leaves; the test
        // `tile_hash_reader_detects_any_tampered_tile` covers that case.
        for (position, (&tile, bytes)) in plan
            .tiles
            .iter()
            .zip(&data)
            .enumerate()
            .skip(authenticated_by_root)
        {
            let index_in_parent = tile
                .level()
                .checked_add(1)
                .and_then(|level| level.checked_mul(TILE_HEIGHT))
                .and_then(|level| stored_hash_index(level, tile.index()))
                .ok_or(TileHashError::NoTilePlan { index: 0 })?;
            let parent = tile_parent(tile, 1, size)
                .and_then(|parent| plan.position.get(&parent).copied())
                .filter(|&parent| parent < position)
                .ok_or(TileHashError::NoTilePlan {
                    index: index_in_parent,
                })?;
            let expected = tile_hash(parent, index_in_parent)?;
            let actual = subtree_root(bytes).ok_or(TileHashError::InconsistentTiles)?;
            if !bool::from(actual.as_slice().ct_eq(expected.as_slice())) {
                return Err(TileHashError::InconsistentTiles);
            }
        }

        // Every planned tile is authenticated: pull out the hashes.
        indexes
            .iter()
            .zip(&hash_tiles)
            .map(|(&index, &position)| tile_hash(position, index))
            .collect()
    }
}
