//! C2SP tlog-tiles: the log served as static files, so that reads come from
//! any file server or CDN and monitors can mirror the whole log
//! ([c2sp.org/tlog-tiles](https://c2sp.org/tlog-tiles)).
//!
//! | piece | what | spec section |
//! | --- | --- | --- |
//! | [`TileCoords`], [`TilePath`] | `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`, parsed strictly | "Merkle Tree", "Log entries" |
//! | [`tile_for_stored_hash`], [`tiles_for_stored_hashes`], [`hash_from_tile`], [`tile_hash_indexes`], [`tile_in_tree`], [`tile_for_leaf`] | which tile holds which stored hash | "Merkle Tree" |
//! | [`tiles_for_tree`], [`new_tiles`], [`read_tile_data`] | the full and partial tiles of a tree, and those a batch adds | "Partial Tiles" |
//! | [`encode_hash_tile`], [`decode_hash_tile`], [`encode_entry_bundle`], [`decode_entry_bundle`] | tile contents | "Merkle Tree", "Log entries" |
//! | [`TileReader`], [`TileHashReader`], [`StoredHashTiles`] | proofs from tiles, authenticated against a checkpoint | — |
//!
//! Tiles are 256 hashes wide (height 8). The tile at level `l` with index
//! `n` holds the hashes at tree level `8·l` with indexes `256·n ..
//! 256·n + width`; each is the Merkle Tree Hash of `256^l` consecutive
//! leaves. They are slices of the stored-hash layout of
//! [`crate::merkle`], so an issuer that stores hashes in that layout writes
//! tiles with [`read_tile_data`].
//!
//! Parsing is strict: a level from 0 to 63, index elements of exactly three
//! digits, all but the last prefixed by `x` and no superfluous leading
//! `x000/`, a partial width from 1 to 255, all without leading zeroes,
//! nothing else (no `..`, empty elements or trailing slash), input capped at
//! [`MAX_TILE_PATH_LEN`] bytes.
//!
//! # Example
//!
//! ```
//! use loupe_schemas::tiles::{TileCoords, TilePath, tiles_for_tree};
//!
//! // The spec's example: a tree of 70,000 entries.
//! let tiles = tiles_for_tree(70_000);
//! assert_eq!(tiles.iter().filter(|t| t.level() == 0 && t.is_full()).count(), 273);
//! let partial: Vec<String> = tiles.iter().filter(|t| !t.is_full()).map(|t| t.path()).collect();
//! assert_eq!(partial, ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]);
//!
//! // Parsing a request path from a mirror.
//! let path: TilePath = "tile/0/x001/x234/067.p/89".parse()?;
//! assert_eq!(path, TilePath::Hashes(TileCoords::new(0, 1_234_067, 89)?));
//! assert!("tile/0/x001/../067".parse::<TilePath>().is_err());
//! # Ok::<(), loupe_schemas::tiles::TilePathError>(())
//! ```

mod data;
mod layout;
mod path;
mod reader;

pub use data::{
    EntryBundleError, HashTileError, decode_entry_bundle, decode_hash_tile, encode_entry_bundle,
    encode_hash_tile,
};
pub use layout::{
    hash_from_tile, new_tiles, read_tile_data, tile_for_leaf, tile_for_stored_hash,
    tile_hash_indexes, tile_in_tree, tiles_for_stored_hashes, tiles_for_tree,
};
pub use path::{
    MAX_TILE_LEVEL, MAX_TILE_PATH_LEN, TILE_HEIGHT, TILE_WIDTH, TileCoords, TilePath, TilePathError,
};
pub use reader::{StoredHashTiles, TileHashError, TileHashReader, TileReader};

#[cfg(test)]
mod tests;
