//! Rate limiting of the write API per credential: a token bucket per API
//! key (by its hash), in a bounded map.
//!
//! Each key may burst up to its per-minute allowance, which refills
//! continuously; an empty bucket answers 429 `too-many-requests` with
//! `Retry-After`. The limit is per credential, not per address: a lab's
//! intake desks behind one NAT do not share a budget, and a leaked key
//! cannot flood the log faster than its allowance from any number of
//! addresses. The map holds at most [`MAX_TRACKED_KEYS`] buckets; when it
//! is full, buckets that have refilled (which carry no state) are dropped,
//! and if that is not enough the map is cleared, erring towards letting
//! requests through. `0` per minute turns the limiter off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::apikey::KeyHash;

/// Buckets kept at most.
pub const MAX_TRACKED_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per API key.
#[derive(Debug)]
pub struct KeyRateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<KeyHash, Bucket>>,
}

impl KeyRateLimiter {
    /// `per_minute` writes per key and minute (0: unlimited), with a burst
    /// of the same size.
    #[must_use]
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`: `Ok` to go ahead, or `Err` with how long
    /// until the next token.
    ///
    /// # Errors
    /// The wait, when the key's bucket is empty.
    pub fn check(&self, key: &KeyHash) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &KeyHash, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        // A poisoned lock means a panic elsewhere: let traffic through.
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if !buckets.contains_key(key) && buckets.len() >= MAX_TRACKED_KEYS {
            let full_after = Duration::from_secs(60);
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < full_after);
            if buckets.len() >= MAX_TRACKED_KEYS {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(*key).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_key_bursts_then_waits_for_refill_and_others_are_not_affected() {
        let rl = KeyRateLimiter::new(60);
        let (a, b) = (KeyHash([1; 32]), KeyHash([2; 32]));
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(rl.check_at(&a, t0).is_ok());
        }
        let wait = rl.check_at(&a, t0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            rl.check_at(&b, t0).is_ok(),
            "another key has its own bucket"
        );
        assert!(rl.check_at(&a, t0 + Duration::from_millis(1001)).is_ok());
        assert!(rl.check_at(&a, t0 + Duration::from_millis(1002)).is_err());
    }

    #[test]
    fn zero_is_unlimited_and_the_map_stays_bounded() {
        let off = KeyRateLimiter::new(0);
        for _ in 0..10_000 {
            assert!(off.check(&KeyHash([0; 32])).is_ok());
        }
        let rl = KeyRateLimiter::new(1);
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED_KEYS as u32 + 10) {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            assert!(rl.check_at(&KeyHash(k), t0).is_ok());
            assert!(rl.buckets.lock().unwrap().len() <= MAX_TRACKED_KEYS);
        }
    }
}
