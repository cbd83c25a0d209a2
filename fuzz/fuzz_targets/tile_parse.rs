//! C2SP tlog-tiles parsers on arbitrary bytes: tile paths (as UTF-8),
//! hash tiles and entry bundles (the first byte picks the width, the rest
//! is the data). Never panics; everything accepted round-trips exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_schemas::tiles::{
    TilePath, decode_entry_bundle, decode_hash_tile, encode_entry_bundle, encode_hash_tile,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(path) = TilePath::parse(text) {
            assert_eq!(path.to_string(), text, "tile path does not round-trip");
            assert_eq!(TilePath::parse(&path.to_string()), Ok(path));
        }
    }
    let Some((&w, body)) = data.split_first() else {
        return;
    };
    let width = u16::from(w) + 1; // 1..=256
    if let Ok(hashes) = decode_hash_tile(body, width) {
        assert_eq!(hashes.len(), usize::from(width));
        assert_eq!(encode_hash_tile(&hashes), body, "hash tile round trip");
    }
    if let Ok(entries) = decode_entry_bundle(body, width) {
        assert_eq!(entries.len(), usize::from(width));
        let again = encode_entry_bundle(&entries).expect("decoded entries re-encode");
        assert_eq!(again, body, "entry bundle round trip");
    }
});
