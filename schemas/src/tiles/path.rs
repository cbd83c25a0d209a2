//! Tile coordinates and their paths: `tile/<L>/<N>[.p/<W>]` and
//! `tile/entries/<N>[.p/<W>]` ([C2SP tlog-tiles, "Merkle Tree" and "Log
//! entries"](https://c2sp.org/tlog-tiles)).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Height of a tile: each tile is a subtree of 8 levels.
pub const TILE_HEIGHT: u8 = 8;

/// Number of hashes in a full tile (and of entries in a full bundle).
pub const TILE_WIDTH: u16 = 1 << TILE_HEIGHT;

/// Highest tile level a path may name.
pub const MAX_TILE_LEVEL: u8 = 63;

/// Longest tile path [`TilePath::parse`] looks at; longer input is refused
/// before parsing. The longest valid path,
/// `tile/entries/x018/x446/x744/x073/x709/x551/615.p/255`, has 52 bytes.
pub const MAX_TILE_PATH_LEN: usize = 64;

/// Why a tile path or tile coordinates were refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TilePathError {
    /// The path is longer than [`MAX_TILE_PATH_LEN`].
    #[error("tile path of {len} bytes is longer than {max}")]
    TooLong {
        /// Length of the input.
        len: usize,
        /// [`MAX_TILE_PATH_LEN`].
        max: usize,
    },
    /// The path does not start with `tile/` followed by a level and an index.
    #[error("not a tile path")]
    NotATilePath,
    /// The level is not a decimal integer from 0 to 63 without leading zeroes
    /// (nor `entries` where that is allowed).
    #[error("tile level is not a decimal integer from 0 to 63")]
    BadLevel,
    /// The index is not a sequence of `xDDD/` elements ending in `DDD`.
    #[error("tile index is not of the form [xDDD/]...DDD")]
    BadIndex,
    /// The index does not fit in a `u64`.
    #[error("tile index does not fit in 64 bits")]
    IndexOverflow,
    /// The width is not a decimal integer from 1 to 255 without leading
    /// zeroes (or, for coordinates, not from 1 to 256).
    #[error("tile width is out of range or not canonical")]
    BadWidth,
    /// The path has superfluous leading `x000/` elements.
    #[error("tile path is not in canonical form")]
    NonCanonical,
}

/// Coordinates of a hash tile, or (at level 0) of an entry bundle: its
/// level, its index within the level, and its width (256 for a full tile,
/// 1 to 255 for a partial one).
///
/// The tile at level `l` with index `n` holds the tree-level-`8·l` hashes
/// `n·256 .. n·256 + width`, that is `MTH(D[(n·256+i)·256^l : (n·256+i+1)·256^l])`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoords {
    level: u8,
    index: u64,
    width: u16,
}

impl TileCoords {
    /// Returns the coordinates, checking `level <= 63` and `1 <= width <= 256`.
    ///
    /// # Errors
    ///
    /// [`TilePathError::BadLevel`] or [`TilePathError::BadWidth`].
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TilePathError> {
        if level > MAX_TILE_LEVEL {
            return Err(TilePathError::BadLevel);
        }
        if width == 0 || width > TILE_WIDTH {
            return Err(TilePathError::BadWidth);
        }
        Ok(Self {
            level,
            index,
            width,
        })
    }

    /// Coordinates built by this crate's own arithmetic, already in range.
    pub(super) const fn new_unchecked(level: u8, index: u64, width: u16) -> Self {
        Self {
            level,
            index,
            width,
        }
    }

    /// The tile level (0 holds leaf hashes).
    #[must_use]
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The tile index within its level.
    #[must_use]
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of hashes (or entries) in the tile.
    #[must_use]
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is full (256 wide).
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The hash tile path, `tile/<L>/<N>[.p/<W>]`.
    ///
    /// ```
    /// use loupe_schemas::tiles::TileCoords;
    /// assert_eq!(TileCoords::new(0, 1234067, 256)?.path(), "tile/0/x001/x234/067");
    /// assert_eq!(TileCoords::new(2, 5, 17)?.path(), "tile/2/005.p/17");
    /// # Ok::<(), loupe_schemas::tiles::TilePathError>(())
    /// ```
    #[must_use]
    pub fn path(&self) -> String {
        TilePath::Hashes(*self).to_string()
    }

    /// The entry bundle path `tile/entries/<N>[.p/<W>]` of a level-0 tile,
    /// or `None` for higher levels, which have no entry bundles.
    #[must_use]
    pub fn entries_path(&self) -> Option<String> {
        (self.level == 0).then(|| TilePath::Entries(*self).to_string())
    }
}

impl fmt::Display for TileCoords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// A parsed tile path: a hash tile or an entry bundle.
///
/// ```
/// use loupe_schemas::tiles::{TileCoords, TilePath};
/// let path: TilePath = "tile/entries/x001/x234/067.p/89".parse()?;
/// assert_eq!(path, TilePath::Entries(TileCoords::new(0, 1234067, 89)?));
/// assert!("tile/0/x001/1234".parse::<TilePath>().is_err());
/// # Ok::<(), loupe_schemas::tiles::TilePathError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hashes(TileCoords),
    /// `tile/entries/<N>[.p/<W>]`; the coordinates have level 0.
    Entries(TileCoords),
}

impl TilePath {
    /// The coordinates named by the path.
    #[must_use]
    pub fn coords(&self) -> TileCoords {
        match self {
            Self::Hashes(coords) | Self::Entries(coords) => *coords,
        }
    }

    /// Parses a tile path relative to the log prefix, strictly: canonical
    /// numbers only, no empty, `.`, `..` or extra elements, nothing after the
    /// width.
    ///
    /// # Errors
    ///
    /// A [`TilePathError`] naming what is wrong.
    pub fn parse(path: &str) -> Result<Self, TilePathError> {
        if path.len() > MAX_TILE_PATH_LEN {
            return Err(TilePathError::TooLong {
                len: path.len(),
                max: MAX_TILE_PATH_LEN,
            });
        }
        let rest = path
            .strip_prefix("tile/")
            .ok_or(TilePathError::NotATilePath)?;
        let (level, rest) = rest.split_once('/').ok_or(TilePathError::NotATilePath)?;
        let entries = level == "entries";
        let level = if entries { 0 } else { parse_level(level)? };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => (index, parse_width(width)?),
            None => (rest, TILE_WIDTH),
        };
        let index = parse_index(index)?;
        let coords = TileCoords::new(level, index, width)?;
        let parsed = if entries {
            Self::Entries(coords)
        } else {
            Self::Hashes(coords)
        };
        // Every element was checked above; this catches anything that
        // slipped through, such as superfluous `x000/` elements.
        if parsed.to_string() != path {
            return Err(TilePathError::NonCanonical);
        }
        Ok(parsed)
    }
}

/// Parses a canonical decimal number of at most `max_digits` digits.
fn parse_decimal(s: &str, max_digits: usize) -> Option<u64> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > max_digits || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes.first() == Some(&b'0') {
        return None;
    }
    s.parse().ok()
}

fn parse_level(s: &str) -> Result<u8, TilePathError> {
    parse_decimal(s, 2)
        .and_then(|l| u8::try_from(l).ok())
        .filter(|&l| l <= MAX_TILE_LEVEL)
        .ok_or(TilePathError::BadLevel)
}

fn parse_width(s: &str) -> Result<u16, TilePathError> {
    parse_decimal(s, 3)
        .and_then(|w| u16::try_from(w).ok())
        .filter(|&w| (1..TILE_WIDTH).contains(&w))
        .ok_or(TilePathError::BadWidth)
}

/// Parses `[xDDD/]...DDD`.
fn parse_index(s: &str) -> Result<u64, TilePathError> {
    let mut elements = s.split('/').peekable();
    let mut index: u64 = 0;
    let mut first = true;
    while let Some(element) = elements.next() {
        let last = elements.peek().is_none();
        let digits = if last {
            element
        } else {
            element.strip_prefix('x').ok_or(TilePathError::BadIndex)?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TilePathError::BadIndex);
        }
        let group: u64 = digits.parse().map_err(|_| TilePathError::BadIndex)?;
        if first && !last && group == 0 {
            return Err(TilePathError::NonCanonical);
        }
        first = false;
        index = index
            .checked_mul(1000)
            .and_then(|i| i.checked_add(group))
            .ok_or(TilePathError::IndexOverflow)?;
    }
    Ok(index)
}

impl FromStr for TilePath {
    type Err = TilePathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let coords = self.coords();
        match self {
            Self::Hashes(_) => write!(f, "tile/{}/", coords.level)?,
            Self::Entries(_) => f.write_str("tile/entries/")?,
        }
        // Base-1000 digits, most significant first: at most 7 for a u64.
        let mut groups = [0u64; 7];
        let mut count = 0;
        let mut n = coords.index;
        for slot in &mut groups {
            *slot = n % 1000;
            n /= 1000;
            count += 1;
            if n == 0 {
                break;
            }
        }
        for (i, group) in groups.iter().take(count).rev().enumerate() {
            if i + 1 < count {
                write!(f, "x{group:03}/")?;
            } else {
                write!(f, "{group:03}")?;
            }
        }
        if !coords.is_full() {
            write!(f, ".p/{}", coords.width)?;
        }
        Ok(())
    }
}
