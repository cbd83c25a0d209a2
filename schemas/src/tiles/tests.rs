#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::merkle::{
    Hash, HashReader, MemoryHashStore, leaf_hash, prove_consistency, prove_inclusion,
    stored_hash_count, stored_hash_index, tree_hash,
};

fn store(n: u64) -> MemoryHashStore {
    let mut store = MemoryHashStore::new();
    for i in 0..n {
        store.append_leaf(format!("entry {i}").as_bytes()).unwrap();
    }
    store
}

#[test]
fn paths_round_trip() {
    let indexes = [
        0,
        1,
        7,
        999,
        1000,
        1001,
        1_234_067,
        999_999,
        1_000_000,
        u64::MAX,
    ];
    for level in [0, 1, 7, 9, 10, 63] {
        for index in indexes {
            for width in [1, 2, 89, 255, 256] {
                let coords = TileCoords::new(level, index, width).unwrap();
                let path = coords.path();
                assert_eq!(
                    TilePath::parse(&path),
                    Ok(TilePath::Hashes(coords)),
                    "{path}"
                );
                if level == 0 {
                    let entries = coords.entries_path().unwrap();
                    assert_eq!(
                        TilePath::parse(&entries),
                        Ok(TilePath::Entries(coords)),
                        "{entries}"
                    );
                } else {
                    assert_eq!(coords.entries_path(), None);
                }
            }
        }
    }
    let longest = TileCoords::new(0, u64::MAX, 255)
        .unwrap()
        .entries_path()
        .unwrap();
    assert_eq!(
        longest,
        "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255"
    );
    assert!(longest.len() <= MAX_TILE_PATH_LEN);
}

#[test]
fn coordinates_are_checked() {
    assert_eq!(TileCoords::new(64, 0, 1), Err(TilePathError::BadLevel));
    assert_eq!(TileCoords::new(0, 0, 0), Err(TilePathError::BadWidth));
    assert_eq!(TileCoords::new(0, 0, 257), Err(TilePathError::BadWidth));
}

#[test]
fn malformed_paths_are_refused() {
    use TilePathError::*;
    let cases: &[(&str, TilePathError)] = &[
        ("", NotATilePath),
        ("tile", NotATilePath),
        ("tile/", NotATilePath),
        ("tile/0", NotATilePath),
        ("/tile/0/000", NotATilePath),
        ("tiles/0/000", NotATilePath),
        ("TILE/0/000", NotATilePath),
        ("tile/0/", BadIndex),
        ("tile/0/00", BadIndex),
        ("tile/0/0000", BadIndex),
        ("tile/0/1", BadIndex),
        ("tile/0/00a", BadIndex),
        ("tile/0/+01", BadIndex),
        ("tile/0/-01", BadIndex),
        ("tile/0/ 01", BadIndex),
        ("tile/0/000/", BadIndex),
        ("tile/0//000", BadIndex),
        ("tile/0/./000", BadIndex),
        ("tile/0/../000", BadIndex),
        ("tile/0/x001/./000", BadIndex),
        ("tile/0/x001/../000", BadIndex),
        ("tile/0/001/002", BadIndex),
        ("tile/0/X001/002", BadIndex),
        ("tile/0/x1/002", BadIndex),
        ("tile/0/x0001/002", BadIndex),
        ("tile/0/x001/x002", BadIndex),
        ("tile/0/x001", BadIndex),
        ("tile/0/x001/", BadIndex),
        ("tile/0/x001/.p/5", BadIndex),
        ("tile/0/\u{0660}\u{0660}\u{0660}", BadIndex),
        ("tile/0/000\n", BadIndex),
        ("tile/0/000.p/89.p/1", BadWidth),
        ("tile/0/x000/001", NonCanonical),
        ("tile/0/x000/x000/000", NonCanonical),
        ("tile/00/000", BadLevel),
        ("tile/01/000", BadLevel),
        ("tile/64/000", BadLevel),
        ("tile/100/000", BadLevel),
        ("tile/-1/000", BadLevel),
        ("tile/+1/000", BadLevel),
        ("tile/a/000", BadLevel),
        ("tile//000", BadLevel),
        ("tile/Entries/000", BadLevel),
        ("tile/entries/000.p/256", BadWidth),
        ("tile/0/000.p/0", BadWidth),
        ("tile/0/000.p/00", BadWidth),
        ("tile/0/000.p/007", BadWidth),
        ("tile/0/000.p/256", BadWidth),
        ("tile/0/000.p/", BadWidth),
        ("tile/0/000.p/+5", BadWidth),
        ("tile/0/000.p/5/", BadWidth),
        ("tile/0/000.p/1000000000000", BadWidth),
        ("tile/0/000.p", BadIndex),
        ("tile/0/x018/x446/x744/x073/x709/x551/616", IndexOverflow),
        ("tile/0/x999/x999/x999/x999/x999/x999/999", IndexOverflow),
        (
            "tile/0/x001/x001/x001/x001/x001/x001/x001/x001/x001/x001/x001/x001/001",
            TooLong { len: 70, max: 64 },
        ),
    ];
    for (path, want) in cases {
        assert_eq!(TilePath::parse(path).as_ref(), Err(want), "{path:?}");
    }
}

#[test]
fn every_prefix_of_a_path_fails_or_is_its_own_path() {
    for path in [
        "tile/0/x001/x234/067.p/89",
        "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255",
        "tile/63/x123/456",
    ] {
        assert!(TilePath::parse(path).is_ok());
        for end in 0..path.len() {
            let prefix = &path[..end];
            if let Ok(parsed) = TilePath::parse(prefix) {
                assert_eq!(parsed.to_string(), prefix);
            }
        }
    }
}

#[test]
fn every_stored_hash_is_readable_from_its_tile() {
    let log = store(1100);
    let tiles = StoredHashTiles(&log);
    for index in 0..stored_hash_count(1100).unwrap() {
        let (tile, _) = tile_for_stored_hash(index);
        let data = tiles.read_tiles(&[tile]).unwrap().pop().unwrap();
        let want = log.read_hashes(&[index]).unwrap()[0];
        assert_eq!(
            hash_from_tile(tile, &data, index),
            Ok(want),
            "index {index}"
        );
        // A wider version of the tile serves it too, a narrower one does not.
        if let Ok(wider) = TileCoords::new(tile.level(), tile.index(), 256)
            && let Ok(data) = tiles.read_tiles(&[wider])
        {
            assert_eq!(hash_from_tile(wider, &data[0], index), Ok(want));
        }
        if tile.width() > 1 {
            let narrower = TileCoords::new(tile.level(), tile.index(), tile.width() - 1).unwrap();
            let data = vec![0; usize::from(narrower.width()) * 32];
            assert_eq!(
                hash_from_tile(narrower, &data, index),
                Err(HashTileError::NotInTile { index })
            );
        }
    }
}

#[test]
fn new_tiles_extend_earlier_tiles() {
    let log = store(700);
    let tiles = StoredHashTiles(&log);
    let mut served = std::collections::HashMap::new();
    for size in 1..=700u64 {
        for tile in new_tiles(size - 1, size) {
            let data = read_tile_data(tile, &log).unwrap();
            if tile.width() > 1 {
                let old = TileCoords::new(tile.level(), tile.index(), tile.width() - 1).unwrap();
                let old_data: &Vec<u8> = served
                    .get(&old)
                    .expect("the narrower tile was served before");
                assert_eq!(&data[..old_data.len()], old_data.as_slice());
            }
            served.insert(tile, data);
        }
        let all = tiles_for_tree(size);
        for tile in &all {
            assert!(
                served.contains_key(tile),
                "size {size}: {tile} never served"
            );
        }
        assert_eq!(all, new_tiles(0, size));
        assert_eq!(tiles.read_tiles(&all).unwrap().len(), all.len());
    }
    assert!(new_tiles(5, 5).is_empty());
    assert!(new_tiles(6, 5).is_empty());
}

#[test]
fn tiles_of_a_tree_have_the_spec_widths() {
    for size in [
        1u64, 255, 256, 257, 65_535, 65_536, 65_537, 70_000, 16_777_217,
    ] {
        for tile in tiles_for_tree(size) {
            let hashes_at_level = size >> (8 * u32::from(tile.level()));
            if tile.is_full() {
                assert!((tile.index() + 1) * 256 <= hashes_at_level);
            } else {
                assert_eq!(tile.index(), hashes_at_level / 256);
                assert_eq!(u64::from(tile.width()), hashes_at_level % 256);
            }
            assert_eq!(tile_in_tree(tile.level(), tile.index(), size), Some(tile));
        }
        let full0 = tiles_for_tree(size)
            .iter()
            .filter(|t| t.level() == 0 && t.is_full())
            .count();
        assert_eq!(full0 as u64, size / 256);
    }
    // The right edge of the largest trees.
    assert_eq!(
        tile_in_tree(7, 0, u64::MAX),
        TileCoords::new(7, 0, 255).ok()
    );
    assert_eq!(
        tile_in_tree(0, (u64::MAX >> 8) - 1, u64::MAX),
        TileCoords::new(0, (u64::MAX >> 8) - 1, 256).ok()
    );
    assert_eq!(
        tile_in_tree(0, u64::MAX >> 8, u64::MAX),
        TileCoords::new(0, u64::MAX >> 8, 255).ok()
    );
    assert_eq!(tile_in_tree(0, u64::MAX, u64::MAX), None);
    assert_eq!(tile_in_tree(0, 1, 256), None);
    assert_eq!(tile_in_tree(8, 0, u64::MAX), None);
    assert_eq!(tile_for_leaf(0, 0), None);
    assert_eq!(tile_for_leaf(300, 301), TileCoords::new(0, 1, 45).ok());
}

#[test]
fn hash_tiles_check_their_length() {
    let hashes: Vec<Hash> = (0..3u8).map(|i| leaf_hash(&[i])).collect();
    let data = encode_hash_tile(&hashes);
    assert_eq!(data.len(), 96);
    assert_eq!(decode_hash_tile(&data, 3), Ok(hashes));
    assert_eq!(
        decode_hash_tile(&data, 2),
        Err(HashTileError::WrongLength {
            len: 96,
            expected: 64
        })
    );
    assert_eq!(
        decode_hash_tile(&data[..95], 3),
        Err(HashTileError::WrongLength {
            len: 95,
            expected: 96
        })
    );
    assert_eq!(
        decode_hash_tile(&[], 0),
        Err(HashTileError::BadWidth { width: 0 })
    );
    assert_eq!(
        decode_hash_tile(&[0; 257 * 32], 257),
        Err(HashTileError::BadWidth { width: 257 })
    );
}

#[test]
fn entry_bundles_round_trip_and_parse_strictly() {
    let entries: Vec<Vec<u8>> = vec![b"ruby".to_vec(), Vec::new(), vec![7; 300], b"x".to_vec()];
    let data = encode_entry_bundle(&entries).unwrap();
    assert_eq!(&data[..6], &[0, 4, b'r', b'u', b'b', b'y']);
    let decoded = decode_entry_bundle(&data, 4).unwrap();
    assert_eq!(
        decoded,
        entries.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );
    // Every strict prefix is truncated; extra bytes are trailing.
    for end in 0..data.len() {
        assert!(
            matches!(
                decode_entry_bundle(&data[..end], 4),
                Err(EntryBundleError::Truncated { .. })
            ),
            "prefix of {end} bytes"
        );
    }
    let mut longer = data.clone();
    longer.extend_from_slice(&[0, 0]);
    assert_eq!(
        decode_entry_bundle(&longer, 4),
        Err(EntryBundleError::TrailingBytes { len: 2 })
    );
    assert_eq!(
        decode_entry_bundle(&data, 3),
        Err(EntryBundleError::TrailingBytes { len: 3 })
    );
    assert_eq!(
        decode_entry_bundle(&data, 5),
        Err(EntryBundleError::Truncated { entry: 4 })
    );
    assert_eq!(
        decode_entry_bundle(&data, 0),
        Err(EntryBundleError::BadWidth { width: 0 })
    );
    assert_eq!(
        decode_entry_bundle(&data, 257),
        Err(EntryBundleError::BadWidth { width: 257 })
    );
    let full: Vec<Vec<u8>> = (0..256u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let data = encode_entry_bundle(&full).unwrap();
    assert_eq!(decode_entry_bundle(&data, 256).unwrap().len(), 256);
    let too_many: Vec<&[u8]> = vec![b"a"; 257];
    assert_eq!(
        encode_entry_bundle(&too_many),
        Err(EntryBundleError::TooManyEntries { count: 257 })
    );
    let too_big = [vec![0u8; 65_536]];
    assert_eq!(
        encode_entry_bundle(&too_big),
        Err(EntryBundleError::EntryTooLarge {
            entry: 0,
            len: 65_536
        })
    );
    assert!(encode_entry_bundle(&[vec![0u8; 65_535]]).is_ok());
}

/// Serves correct tiles except for one flipped bit in every copy (any
/// width) of one tile.
struct TamperedTiles<'a> {
    log: &'a MemoryHashStore,
    level: u8,
    index: u64,
    byte: usize,
}

impl TileReader for TamperedTiles<'_> {
    type Error = crate::merkle::TreeError<crate::merkle::MissingHash>;

    fn read_tiles(&self, tiles: &[TileCoords]) -> Result<Vec<Vec<u8>>, Self::Error> {
        let mut data = StoredHashTiles(self.log).read_tiles(tiles)?;
        for (tile, bytes) in tiles.iter().zip(&mut data) {
            if tile.level() == self.level
                && tile.index() == self.index
                && let Some(b) = bytes.get_mut(self.byte)
            {
                *b ^= 0x80;
            }
        }
        Ok(data)
    }
}

#[test]
fn tile_hash_reader_serves_authenticated_hashes() {
    for size in [1u64, 2, 3, 7, 255, 256, 257, 300, 511, 512, 513, 1000] {
        let log = store(size);
        let root = log.root().unwrap();
        let reader = TileHashReader::new(size, root, StoredHashTiles(&log));
        let all: Vec<u64> = (0..stored_hash_count(size).unwrap()).collect();
        assert_eq!(reader.read_hashes(&all).unwrap(), log.stored());
        assert_eq!(tree_hash(size, &reader).unwrap(), root);
        for leaf in [0, size / 2, size - 1] {
            assert_eq!(
                prove_inclusion(leaf, size, &reader).unwrap(),
                prove_inclusion(leaf, size, &log).unwrap()
            );
            assert_eq!(
                prove_consistency(leaf, size, &reader).unwrap(),
                prove_consistency(leaf, size, &log).unwrap()
            );
        }
        assert!(matches!(
            reader.read_hashes(&[stored_hash_index(0, size).unwrap()]),
            Err(TileHashError::IndexNotInTree { .. })
        ));
        // A reader for a different root refuses everything.
        let wrong = TileHashReader::new(size, leaf_hash(b"forged"), StoredHashTiles(&log));
        assert!(matches!(
            wrong.read_hashes(&[0]),
            Err(TileHashError::InconsistentTiles)
        ));
    }
}

#[test]
fn tile_hash_reader_detects_any_tampered_tile() {
    for size in [7u64, 256, 300, 513] {
        let log = store(size);
        let root = log.root().unwrap();
        for index in 0..stored_hash_count(size).unwrap() {
            // Tamper with the bottom-row hashes this stored hash comes from.
            let (tile, range) = tile_for_stored_hash(index);
            for byte in [range.start * 32, range.end * 32 - 1] {
                let tampered = TamperedTiles {
                    log: &log,
                    level: tile.level(),
                    index: tile.index(),
                    byte,
                };
                let reader = TileHashReader::new(size, root, tampered);
                assert!(
                    matches!(
                        reader.read_hashes(&[index]),
                        Err(TileHashError::InconsistentTiles)
                    ),
                    "size {size}, stored hash {index}, tile {tile}, byte {byte}"
                );
            }
        }
    }
}

/// Returns tiles with a wrong count or length.
struct BrokenTiles {
    drop_one: bool,
}

impl TileReader for BrokenTiles {
    type Error = std::io::Error;

    fn read_tiles(&self, tiles: &[TileCoords]) -> Result<Vec<Vec<u8>>, std::io::Error> {
        let mut data: Vec<Vec<u8>> = tiles.iter().map(|_| vec![0; 31]).collect();
        if self.drop_one {
            data.pop();
        }
        Ok(data)
    }
}

#[test]
fn tile_hash_reader_checks_the_shape_of_what_it_reads() {
    let root = leaf_hash(b"x");
    let reader = TileHashReader::new(10, root, BrokenTiles { drop_one: true });
    assert!(matches!(
        reader.read_hashes(&[0]),
        Err(TileHashError::WrongTileCount { .. })
    ));
    let reader = TileHashReader::new(10, root, BrokenTiles { drop_one: false });
    assert!(matches!(
        reader.read_hashes(&[0]),
        Err(TileHashError::WrongTileLength {
            len: 31,
            expected: 320,
            ..
        })
    ));
    assert_eq!(reader.read_hashes(&[]).unwrap(), Vec::<Hash>::new());
    let empty = TileHashReader::new(0, root, BrokenTiles { drop_one: false });
    assert!(matches!(
        empty.read_hashes(&[0]),
        Err(TileHashError::IndexNotInTree { .. })
    ));
    let huge = TileHashReader::new(u64::MAX, root, BrokenTiles { drop_one: false });
    assert!(matches!(
        huge.read_hashes(&[0]),
        Err(TileHashError::TreeTooLarge { .. })
    ));
}

#[test]
fn tiles_for_stored_hashes_lists_each_tile_once() {
    let size = 70_000;
    let leaf = |i| stored_hash_index(0, i).unwrap();
    let tiles = tiles_for_stored_hashes(
        &[
            leaf(0),
            leaf(1),
            leaf(69_999),
            stored_hash_index(8, 1).unwrap(),
        ],
        size,
    )
    .unwrap();
    let paths: Vec<String> = tiles.iter().map(TileCoords::path).collect();
    assert_eq!(paths, ["tile/0/000", "tile/0/273.p/112", "tile/1/000"]);
    assert_eq!(tiles_for_stored_hashes(&[leaf(70_000)], size), None);
    assert_eq!(tiles_for_stored_hashes(&[], size), Some(Vec::new()));
}
