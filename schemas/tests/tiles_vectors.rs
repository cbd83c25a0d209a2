//! Known-answer tests against public C2SP tlog-tiles examples in
//! `tests/vectors/tiles/` (origins in its `ORIGIN.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use loupe_schemas::merkle::{HASH_SIZE, MemoryHashStore};
use loupe_schemas::tiles::{
    MAX_TILE_LEVEL, TILE_WIDTH, TileCoords, TilePath, read_tile_data, tile_for_leaf, tile_in_tree,
    tiles_for_tree,
};
use serde::Deserialize;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/tiles");

fn read<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = Path::new(DIR).join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[derive(Deserialize)]
struct Spec {
    index_encodings: Vec<IndexEncoding>,
    level_range: (u8, u8),
    partial_width_range: (u16, u16),
    full_tile_hashes: u16,
    full_tile_bytes: usize,
    trees: Vec<SpecTree>,
}

#[derive(Deserialize)]
struct IndexEncoding {
    index: u64,
    encoded: String,
}

#[derive(Deserialize)]
struct SpecTree {
    tree_size: u64,
    text: String,
    full_tiles_per_level: Vec<usize>,
    partial_tiles: Vec<PartialTile>,
}

#[derive(Deserialize)]
struct PartialTile {
    level: u8,
    width: u16,
}

#[test]
fn c2sp_spec_examples() {
    let spec: Spec = read("c2sp-tlog-tiles.json");
    for e in &spec.index_encodings {
        let want = format!("tile/0/{}", e.encoded);
        assert_eq!(TileCoords::new(0, e.index, 256).unwrap().path(), want);
        assert_eq!(TilePath::parse(&want).unwrap().coords().index(), e.index);
    }

    // Levels and partial widths: inside the ranges accepted, outside refused.
    let (lo, hi) = spec.level_range;
    assert_eq!((lo, hi), (0, MAX_TILE_LEVEL));
    assert!(TilePath::parse(&format!("tile/{hi}/000")).is_ok());
    assert!(TilePath::parse(&format!("tile/{}/000", hi + 1)).is_err());
    let (wlo, whi) = spec.partial_width_range;
    assert!(TilePath::parse(&format!("tile/0/000.p/{wlo}")).is_ok());
    assert!(TilePath::parse(&format!("tile/0/000.p/{whi}")).is_ok());
    assert!(TilePath::parse(&format!("tile/0/000.p/{}", wlo - 1)).is_err());
    assert!(TilePath::parse(&format!("tile/0/000.p/{}", whi + 1)).is_err());

    // A full tile is 256 hashes, 8192 bytes.
    assert_eq!(spec.full_tile_hashes, TILE_WIDTH);
    assert_eq!(usize::from(TILE_WIDTH) * HASH_SIZE, spec.full_tile_bytes);
    let mut store = MemoryHashStore::new();
    for i in 0..256u32 {
        store.append_leaf(&i.to_be_bytes()).unwrap();
    }
    let full = TileCoords::new(0, 0, 256).unwrap();
    assert_eq!(
        read_tile_data(full, &store).unwrap().len(),
        spec.full_tile_bytes
    );

    for tree in &spec.trees {
        let tiles = tiles_for_tree(tree.tree_size);
        for (level, &count) in tree.full_tiles_per_level.iter().enumerate() {
            let got = tiles
                .iter()
                .filter(|t| usize::from(t.level()) == level && t.is_full())
                .count();
            assert_eq!(got, count, "{}: full tiles at level {level}", tree.text);
        }
        let partial: Vec<(u8, u16)> = tiles
            .iter()
            .filter(|t| !t.is_full())
            .map(|t| (t.level(), t.width()))
            .collect();
        let want: Vec<(u8, u16)> = tree
            .partial_tiles
            .iter()
            .map(|p| (p.level, p.width))
            .collect();
        assert_eq!(partial, want, "{}", tree.text);
        // "The partial tile at level l for a tree of size s has
        // floor(s / 256**l) mod 256 entries."
        for p in &tree.partial_tiles {
            let entries = (tree.tree_size >> (8 * u32::from(p.level))) % 256;
            assert_eq!(u64::from(p.width), entries);
        }
    }
}

#[derive(Deserialize)]
struct Tessera {
    entries_path_for_log_index: Vec<SeqRow>,
    entries_path: Vec<EntriesRow>,
    tile_path: Vec<TileRow>,
    parse_tile_level_index_width: Vec<ParseRow>,
}

#[derive(Deserialize)]
struct SeqRow {
    seq: u64,
    log_size: u64,
    want_path: String,
}

#[derive(Deserialize)]
struct EntriesRow {
    n: u64,
    log_size: u64,
    want_path: String,
}

#[derive(Deserialize)]
struct TileRow {
    level: u8,
    index: u64,
    log_size: u64,
    want_path: String,
}

#[derive(Deserialize)]
struct ParseRow {
    path_level: String,
    path_index: String,
    want_level: Option<u8>,
    want_index: Option<u64>,
    want_width: Option<u16>,
    want_err: bool,
}

/// Checks that `want_path` parses to tile (`level`, `index`), formats back
/// identically, and has the width a tree of `log_size` gives that tile; or,
/// when the tree has no such tile, that it is indeed outside the tree.
fn check_tile_row(row: &str, level: u8, index: u64, log_size: u64, want_path: &str, entries: bool) {
    let parsed = TilePath::parse(want_path).unwrap_or_else(|e| panic!("{row}: {e}"));
    let coords = parsed.coords();
    assert_eq!((coords.level(), coords.index()), (level, index), "{row}");
    assert_eq!(matches!(parsed, TilePath::Entries(_)), entries, "{row}");
    let formatted = if entries {
        coords.entries_path().unwrap()
    } else {
        coords.path()
    };
    assert_eq!(formatted, want_path, "{row}");
    match tile_in_tree(level, index, log_size) {
        Some(tile) => assert_eq!(tile, coords, "{row}"),
        None => {
            let hashes_at_level = log_size.checked_shr(8 * u32::from(level)).unwrap_or(0);
            assert!(hashes_at_level <= index * 256, "{row}: tile should exist");
        }
    }
}

#[test]
fn tessera_paths() {
    let t: Tessera = read("tessera-paths.json");
    for r in &t.entries_path_for_log_index {
        let row = format!("entries for seq {} of {}", r.seq, r.log_size);
        check_tile_row(&row, 0, r.seq / 256, r.log_size, &r.want_path, true);
        assert_eq!(
            tile_for_leaf(r.seq, r.log_size).and_then(|t| t.entries_path()),
            Some(r.want_path.clone())
        );
    }
    for r in &t.entries_path {
        let row = format!("entries {} of {}", r.n, r.log_size);
        check_tile_row(&row, 0, r.n, r.log_size, &r.want_path, true);
    }
    for r in &t.tile_path {
        let row = format!("tile {}/{} of {}", r.level, r.index, r.log_size);
        check_tile_row(&row, r.level, r.index, r.log_size, &r.want_path, false);
    }
    for r in &t.parse_tile_level_index_width {
        let path = format!("tile/{}/{}", r.path_level, r.path_index);
        let got = TilePath::parse(&path);
        if r.want_err {
            assert!(got.is_err(), "{path} parsed as {got:?}");
        } else {
            let coords = got.unwrap_or_else(|e| panic!("{path}: {e}")).coords();
            let want = (
                r.want_level.unwrap(),
                r.want_index.unwrap(),
                r.want_width.unwrap(),
            );
            assert_eq!(
                (coords.level(), coords.index(), coords.width()),
                want,
                "{path}"
            );
        }
    }
}

#[derive(Deserialize)]
struct Azul {
    paths: Vec<AzulRow>,
}

#[derive(Deserialize)]
struct AzulRow {
    path: String,
    valid: bool,
    comment: String,
}

#[test]
fn azul_paths() {
    let a: Azul = read("azul-tile-paths.json");
    for r in &a.paths {
        assert_eq!(
            TilePath::parse(&r.path).is_ok(),
            r.valid,
            "{}: {}",
            r.path,
            r.comment
        );
    }
}
