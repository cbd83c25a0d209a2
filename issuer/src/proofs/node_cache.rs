//! A bounded cache of the log's interior node hashes, by stored hash index.
//!
//! A hash tile stores only the bottom row of its 256 hashes, so every
//! other hash a proof needs from it is recomputed: 1 + 2 + … + 128 = 255
//! node hashes per tile level of an inclusion proof, most of a proof's
//! CPU on a machine without SHA extensions (docs/performance.md). The
//! hash at a stored hash index never changes once the log holds its whole
//! subtree, and a proof only asks for such hashes, so they can be kept:
//! the upper tiles' nodes are in every proof.
//!
//! One cache belongs to one log (its store). Only the proof read paths use
//! it; the sequencer's start-up check of the stored tiles against the
//! checkpoint's root recomputes everything.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};

use loupe_schemas::merkle::Hash;

/// Interior node hashes kept by default: 65,536 × ≈ 60 bytes ≈ 4 MB.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// Least recently used node hashes, by stored hash index.
#[derive(Debug)]
pub struct NodeCache {
    hashes: Mutex<lru::LruCache<u64, Hash>>,
}

impl NodeCache {
    /// A cache of at most `capacity` hashes (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            hashes: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// The hash at stored hash index `index`, if kept.
    #[must_use]
    pub fn get(&self, index: u64) -> Option<Hash> {
        self.hashes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&index)
            .copied()
    }

    /// Keeps `hash` as the hash at stored hash index `index`, which the
    /// caller computed from a whole subtree of the log.
    pub fn insert(&self, index: u64, hash: Hash) {
        self.hashes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .put(index, hash);
    }

    /// How many hashes are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.hashes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for NodeCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::NodeCache;

    #[test]
    fn keeps_the_most_recently_used_hashes_up_to_its_capacity() {
        let cache = NodeCache::new(3);
        assert!(cache.is_empty());
        for i in 0..3u8 {
            cache.insert(u64::from(i), [i; 32]);
        }
        assert_eq!(cache.get(0), Some([0; 32]));
        cache.insert(9, [9; 32]);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(1), None, "the least recently used goes");
        assert_eq!(cache.get(0), Some([0; 32]));
        assert_eq!(cache.get(2), Some([2; 32]));
        assert_eq!(cache.get(9), Some([9; 32]));
        assert_eq!(NodeCache::new(0).len(), 0);
    }
}
