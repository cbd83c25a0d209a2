//! Tile contents: hash tiles (concatenated 32-byte hashes) and entry
//! bundles (big-endian `u16` length-prefixed entries)
//! ([C2SP tlog-tiles](https://c2sp.org/tlog-tiles)).

use thiserror::Error;

use crate::merkle::{HASH_SIZE, Hash};

use super::path::TILE_WIDTH;

/// Why hash tile bytes were refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashTileError {
    /// The tile is not `width * 32` bytes.
    #[error("hash tile has {len} bytes, expected {expected}")]
    WrongLength {
        /// Length of the data.
        len: usize,
        /// `width * 32`.
        expected: usize,
    },
    /// The width is not from 1 to 256.
    #[error("hash tile width {width} is not from 1 to 256")]
    BadWidth {
        /// The requested width.
        width: usize,
    },
    /// The stored hash is not in (or computable from) this tile.
    #[error("stored hash {index} is not in this tile")]
    NotInTile {
        /// The stored-hash index.
        index: u64,
    },
}

/// Returns the bytes of a hash tile: the hashes concatenated.
#[must_use]
pub fn encode_hash_tile(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// Splits hash tile bytes of a tile `width` hashes wide into its hashes.
///
/// # Errors
///
/// [`HashTileError::BadWidth`] unless `1 <= width <= 256`;
/// [`HashTileError::WrongLength`] unless `data` is exactly `width * 32` bytes.
pub fn decode_hash_tile(data: &[u8], width: u16) -> Result<Vec<Hash>, HashTileError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(HashTileError::BadWidth {
            width: usize::from(width),
        });
    }
    let expected = usize::from(width) * HASH_SIZE;
    if data.len() != expected {
        return Err(HashTileError::WrongLength {
            len: data.len(),
            expected,
        });
    }
    Ok(data
        .chunks_exact(HASH_SIZE)
        .filter_map(|chunk| Hash::try_from(chunk).ok())
        .collect())
}

/// Why an entry bundle was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryBundleError {
    /// The expected entry count is not from 1 to 256.
    #[error("entry bundle width {width} is not from 1 to 256")]
    BadWidth {
        /// The requested width.
        width: usize,
    },
    /// More than 256 entries to encode.
    #[error("{count} entries do not fit in one bundle of at most 256")]
    TooManyEntries {
        /// Number of entries.
        count: usize,
    },
    /// An entry longer than a `u16` length prefix can describe.
    #[error("entry {entry} has {len} bytes, more than 65535")]
    EntryTooLarge {
        /// Position of the entry in the bundle.
        entry: usize,
        /// Its length.
        len: usize,
    },
    /// The data ends inside an entry's length prefix or body.
    #[error("entry bundle ends inside entry {entry}")]
    Truncated {
        /// Position of the incomplete entry.
        entry: usize,
    },
    /// Bytes remain after the expected number of entries.
    #[error("{len} bytes follow the last entry of the bundle")]
    TrailingBytes {
        /// Number of extra bytes.
        len: usize,
    },
}

/// Returns the bytes of an entry bundle: each entry as a big-endian `u16`
/// length followed by its bytes. Zero-length entries are allowed; the spec
/// does not forbid them.
///
/// # Errors
///
/// [`EntryBundleError::TooManyEntries`] above 256 entries;
/// [`EntryBundleError::EntryTooLarge`] for an entry above 65535 bytes.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, EntryBundleError> {
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(EntryBundleError::TooManyEntries {
            count: entries.len(),
        });
    }
    let total: usize = entries.iter().map(|e| 2 + e.as_ref().len()).sum();
    let mut out = Vec::with_capacity(total);
    for (entry, data) in entries.iter().enumerate() {
        let data = data.as_ref();
        let len = u16::try_from(data.len()).map_err(|_| EntryBundleError::EntryTooLarge {
            entry,
            len: data.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(data);
    }
    Ok(out)
}

/// Splits an entry bundle of `width` entries (256 for a full bundle, the
/// `.p/<W>` width for a partial one) into its entries, borrowing from `data`.
///
/// # Errors
///
/// [`EntryBundleError::BadWidth`] unless `1 <= width <= 256`;
/// [`EntryBundleError::Truncated`] when fewer than `width` complete entries
/// are present; [`EntryBundleError::TrailingBytes`] when bytes follow them.
pub fn decode_entry_bundle(data: &[u8], width: u16) -> Result<Vec<&[u8]>, EntryBundleError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(EntryBundleError::BadWidth {
            width: usize::from(width),
        });
    }
    let mut entries = Vec::with_capacity(usize::from(width));
    let mut rest = data;
    for entry in 0..usize::from(width) {
        let Some((&[high, low], after)) = rest.split_first_chunk::<2>() else {
            return Err(EntryBundleError::Truncated { entry });
        };
        let len = u16::from_be_bytes([high, low]);
        let (body, after) = after
            .split_at_checked(usize::from(len))
            .ok_or(EntryBundleError::Truncated { entry })?;
        entries.push(body);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(EntryBundleError::TrailingBytes { len: rest.len() });
    }
    Ok(entries)
}
