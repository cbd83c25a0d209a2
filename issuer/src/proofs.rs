//! Proofs and C2SP read paths served from the stored tiles.
//!
//! Every proof reads its hashes from the `tiles` table in one batched query
//! ([`TileHashes::fetch`]): an inclusion proof in a log of 10 million
//! entries touches at most a handful of tiles, whatever the size. Tiles are
//! prefix-stable (a partial tile only grows), so proofs at an older
//! checkpoint read the same rows, trimmed to the older widths.
//!
//! | function | serves |
//! | --- | --- |
//! | [`inclusion_proof`], [`consistency_proof`] | RFC 9162 §2.1.3 and §2.1.4 proofs at any stored tree size |
//! | [`bundle_for`] | the C2SP `tlog-proof` bundle of a token at the latest checkpoint |
//! | [`tile_data`] | `tile/<L>/<N>[.p/<W>]` |
//! | [`entry_bundle`] | `tile/entries/<N>[.p/<W>]` |
//!
//! Proofs keep the interior hashes they compute in the store's
//! [`NodeCache`], so the hashes of the upper tiles, which every proof
//! needs, are computed once.

use std::collections::HashMap;
use std::sync::Arc;

use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::merkle::{
    ConsistencyProof, HASH_SIZE, Hash, HashReader, InclusionProof, TreeError,
    consistency_proof_indexes, inclusion_proof_indexes, prove_consistency, prove_inclusion,
};
use loupe_schemas::tiles::{
    EntryBundleError, TILE_WIDTH, TileCoords, encode_entry_bundle, hash_from_tile,
    tile_for_stored_hash, tile_in_tree, tiles_for_stored_hashes,
};
use loupe_schemas::token::TokenId;
use thiserror::Error;

use crate::store::{Store, StoreError, StoredTile};

mod node_cache;

pub use self::node_cache::NodeCache;

/// A stored hash could not be read from the fetched tiles.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("tile {level}/{index} with at least {needed} hashes is not stored (stored width {stored})")]
pub struct MissingTile {
    /// Tile level.
    pub level: u8,
    /// Tile index.
    pub index: u64,
    /// Width the tree needs.
    pub needed: u16,
    /// Width stored (0 when the tile is absent).
    pub stored: u16,
}

/// Why a proof or a tile could not be served.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Reading the store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The proof's sizes are invalid (index not below the size, old size
    /// above the new one), or a needed tile is missing from the store.
    #[error("proof: {0}")]
    Tree(#[from] TreeError<MissingTile>),
    /// No entry has this token id.
    #[error("token {0} is not in the log")]
    NotFound(TokenId),
    /// The log has no checkpoint yet.
    #[error("the log has no checkpoint yet")]
    NoCheckpoint,
    /// The entry is not covered by the latest checkpoint (cannot happen:
    /// entries and their checkpoint are committed together).
    #[error("entry {leaf_index} is not in the tree of size {tree_size}")]
    NotInTree {
        /// The entry's index.
        leaf_index: u64,
        /// The checkpoint's size.
        tree_size: u64,
    },
    /// Stored entries do not fit in an entry bundle (an entry above 64 KiB).
    #[error("entry bundle: {0}")]
    EntryBundle(#[from] EntryBundleError),
}

/// Hash tiles fetched from the store for one tree size: a [`HashReader`]
/// for the stored hashes they hold.
#[derive(Clone, Debug, Default)]
pub struct TileHashes {
    tree_size: u64,
    tiles: HashMap<(u8, u64), StoredTile>,
    /// Where computed interior hashes are kept and looked up.
    cache: Option<Arc<NodeCache>>,
}

impl TileHashes {
    /// Fetches, in one query, the tiles holding the stored hashes at
    /// `indexes` in the tree of `tree_size` leaves.
    ///
    /// # Errors
    ///
    /// [`ProofError::Store`] when the query fails; [`ProofError::Tree`]
    /// when an index is not in that tree.
    pub async fn fetch(
        store: &dyn Store,
        indexes: &[u64],
        tree_size: u64,
    ) -> Result<Self, ProofError> {
        let coords = tiles_for_stored_hashes(indexes, tree_size)
            .ok_or(TreeError::TreeTooLarge { size: tree_size })?;
        let mut tiles = Self::fetch_tiles(store, &coords, tree_size).await?;
        tiles.cache = store.node_cache();
        Ok(tiles)
    }

    /// Fetches, in one query, the tiles at the coordinates of `tiles`
    /// (their widths are what the tree of `tree_size` leaves has). Every
    /// hash read from them is computed from their bytes (no cache).
    ///
    /// # Errors
    ///
    /// [`ProofError::Store`] when the query fails.
    pub async fn fetch_tiles(
        store: &dyn Store,
        tiles: &[TileCoords],
        tree_size: u64,
    ) -> Result<Self, ProofError> {
        let keys: Vec<(u8, u64)> = tiles.iter().map(|c| (c.level(), c.index())).collect();
        let stored = if keys.is_empty() {
            Vec::new()
        } else {
            store.read_tiles(&keys).await?
        };
        Ok(Self {
            tree_size,
            tiles: stored
                .into_iter()
                .map(|t| ((t.coords.level(), t.coords.index()), t))
                .collect(),
            cache: None,
        })
    }

    /// The bytes of the tile at `coords`, trimmed to `coords.width()`, if a
    /// tile at least that wide was fetched.
    #[must_use]
    pub fn tile(&self, coords: TileCoords) -> Option<&[u8]> {
        let stored = self.tiles.get(&(coords.level(), coords.index()))?;
        if stored.coords.width() < coords.width() {
            return None;
        }
        stored.data.get(..usize::from(coords.width()) * HASH_SIZE)
    }

    fn read_one(&self, index: u64) -> Result<Hash, MissingTile> {
        let (needed, range) = tile_for_stored_hash(index);
        // A hash stored as it is costs nothing to read; one computed from
        // several may be kept.
        let cache = self.cache.as_deref().filter(|_| range.len() > 1);
        if let Some(hash) = cache.and_then(|c| c.get(index)) {
            return Ok(hash);
        }
        let missing = |stored: u16, width: u16| MissingTile {
            level: needed.level(),
            index: needed.index(),
            needed: width,
            stored,
        };
        let coords = tile_in_tree(needed.level(), needed.index(), self.tree_size)
            .filter(|c| c.width() >= needed.width())
            .ok_or_else(|| missing(0, needed.width()))?;
        let stored_width = self
            .tiles
            .get(&(coords.level(), coords.index()))
            .map_or(0, |t| t.coords.width());
        let data = self
            .tile(coords)
            .ok_or_else(|| missing(stored_width, coords.width()))?;
        let hash = hash_from_tile(coords, data, index)
            .map_err(|_| missing(stored_width, coords.width()))?;
        if let Some(c) = cache {
            c.insert(index, hash);
        }
        Ok(hash)
    }
}

impl HashReader for TileHashes {
    type Error = MissingTile;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingTile> {
        indexes.iter().map(|&i| self.read_one(i)).collect()
    }
}

/// The inclusion proof of leaf `leaf_index` in the tree of `tree_size`
/// leaves, from stored tiles (one query).
///
/// # Errors
///
/// [`ProofError::Tree`] when `leaf_index >= tree_size` or a tile is
/// missing (a size beyond the log); [`ProofError::Store`] when reading
/// fails.
pub async fn inclusion_proof(
    store: &dyn Store,
    leaf_index: u64,
    tree_size: u64,
) -> Result<InclusionProof, ProofError> {
    let indexes = inclusion_proof_indexes(leaf_index, tree_size).map_err(widen)?;
    let tiles = TileHashes::fetch(store, &indexes, tree_size).await?;
    Ok(prove_inclusion(leaf_index, tree_size, &tiles)?)
}

/// The consistency proof between the trees of `old_size` and `new_size`
/// leaves, from stored tiles (one query).
///
/// # Errors
///
/// [`ProofError::Tree`] when `old_size > new_size` or a tile is missing
/// (a size beyond the log); [`ProofError::Store`] when reading fails.
pub async fn consistency_proof(
    store: &dyn Store,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof, ProofError> {
    let indexes = consistency_proof_indexes(old_size, new_size).map_err(widen)?;
    let tiles = TileHashes::fetch(store, &indexes, new_size).await?;
    Ok(prove_consistency(old_size, new_size, &tiles)?)
}

/// The C2SP `tlog-proof` bundle of the entry `token_id` at the latest
/// checkpoint: three queries (entry and checkpoint concurrently, then the
/// tiles).
///
/// # Errors
///
/// [`ProofError::NotFound`] when no entry has this id;
/// [`ProofError::NoCheckpoint`] on a log without checkpoint;
/// [`ProofError::Store`] and [`ProofError::Tree`] as for
/// [`inclusion_proof`].
pub async fn bundle_for(store: &dyn Store, token_id: &TokenId) -> Result<ProofBundle, ProofError> {
    let (entry, checkpoint) =
        tokio::join!(store.entry_by_token_id(token_id), store.latest_checkpoint());
    let entry = entry?.ok_or(ProofError::NotFound(*token_id))?;
    let checkpoint = checkpoint?.ok_or(ProofError::NoCheckpoint)?;
    if entry.leaf_index >= checkpoint.tree_size {
        return Err(ProofError::NotInTree {
            leaf_index: entry.leaf_index,
            tree_size: checkpoint.tree_size,
        });
    }
    let proof = inclusion_proof(store, entry.leaf_index, checkpoint.tree_size).await?;
    Ok(ProofBundle::new(
        entry.leaf_index,
        proof.path,
        checkpoint.note,
    ))
}

/// The bytes of hash tile `level`/`index` of width `width`
/// (`tile/<L>/<N>[.p/<W>]`): `None` when the log does not (yet) have a tile
/// that wide. A partial tile is the prefix of any wider version of it.
///
/// # Errors
///
/// [`ProofError::Store`] when reading fails.
pub async fn tile_data(
    store: &dyn Store,
    level: u8,
    index: u64,
    width: u16,
) -> Result<Option<Vec<u8>>, ProofError> {
    let Ok(coords) = TileCoords::new(level, index, width) else {
        return Ok(None);
    };
    let tiles = TileHashes::fetch_tiles(store, &[coords], u64::MAX).await?;
    Ok(tiles.tile(coords).map(<[u8]>::to_vec))
}

/// The entry bundle `index` of width `width` (`tile/entries/<N>[.p/<W>]`):
/// the logged bytes of entries `index·256 .. index·256 + width`, each
/// prefixed by its big-endian `u16` length. `None` when the log does not
/// have all of them yet or the width is not 1 to 256.
///
/// # Errors
///
/// [`ProofError::Store`] when reading fails; [`ProofError::EntryBundle`]
/// for an entry above 65535 bytes (never logged: statements are at most
/// 64 KiB).
pub async fn entry_bundle(
    store: &dyn Store,
    index: u64,
    width: u16,
) -> Result<Option<Vec<u8>>, ProofError> {
    if width == 0 || width > TILE_WIDTH {
        return Ok(None);
    }
    let Some(start) = index.checked_mul(u64::from(TILE_WIDTH)) else {
        return Ok(None);
    };
    let entries = store.entries_range(start, u32::from(width)).await?;
    if entries.len() != usize::from(width) {
        return Ok(None);
    }
    Ok(Some(encode_entry_bundle(&entries)?))
}

/// Widens a reader-independent tree error.
fn widen(e: TreeError<std::convert::Infallible>) -> TreeError<MissingTile> {
    match e {
        TreeError::IndexOutOfRange {
            leaf_index,
            tree_size,
        } => TreeError::IndexOutOfRange {
            leaf_index,
            tree_size,
        },
        TreeError::OldLargerThanNew { old_size, new_size } => {
            TreeError::OldLargerThanNew { old_size, new_size }
        }
        TreeError::ShortRead {
            requested,
            returned,
        } => TreeError::ShortRead {
            requested,
            returned,
        },
        TreeError::TreeTooLarge { size } => TreeError::TreeTooLarge { size },
        TreeError::Read(never) => match never {},
        // Any future variant: report it as the one that cannot be served.
        _ => TreeError::TreeTooLarge { size: u64::MAX },
    }
}
