//! Rate limiting per client: a token bucket per client address in a
//! bounded map.
//!
//! Each client may burst up to the per-minute allowance, which refills
//! continuously. IPv6 clients are keyed by their /64 (one host usually holds
//! a whole /64, so keying by full address would let it rotate freely). The
//! map holds at most [`RateLimiter::max_clients`] buckets: when it is full,
//! buckets that have refilled completely are dropped (they carry no state
//! worth keeping), and if that is not enough the map is cleared, which errs
//! towards letting requests through rather than refusing everyone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept at most by default.
pub const DEFAULT_MAX_CLIENTS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per client address.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    max_clients: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// `per_minute` requests per client and minute (0: unlimited), with a
    /// burst of the same size; at most `max_clients` buckets.
    #[must_use]
    pub fn new(per_minute: u32, max_clients: usize) -> Self {
        Self {
            per_minute,
            max_clients: max_clients.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The most buckets kept.
    #[must_use]
    pub fn max_clients(&self) -> usize {
        self.max_clients
    }

    /// Takes one token for `client`: `Ok` to go ahead, or `Err` with how
    /// long until the next token.
    ///
    /// # Errors
    /// The wait, when the bucket is empty.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        // A poisoned lock means a panic elsewhere: let traffic through.
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let key = client_key(client);
        if !buckets.contains_key(&key) && buckets.len() >= self.max_clients {
            let full_after = Duration::from_secs_f64(60.0);
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < full_after);
            if buckets.len() >= self.max_clients {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
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

    /// How many clients have a bucket now.
    #[must_use]
    pub fn clients(&self) -> usize {
        self.buckets.lock().map_or(0, |b| b.len())
    }
}

/// The bucket key: IPv4 (and IPv4-mapped IPv6) addresses as they are,
/// other IPv6 addresses by their /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_client_bursts_then_waits_for_refill() {
        let rl = RateLimiter::new(60, 10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(rl.check_at(ip, t0).is_ok());
        }
        let wait = rl.check_at(ip, t0).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another client is not affected.
        assert!(rl.check_at("192.0.2.2".parse().unwrap(), t0).is_ok());
        // One token per second comes back.
        assert!(rl.check_at(ip, t0 + Duration::from_millis(1001)).is_ok());
        assert!(rl.check_at(ip, t0 + Duration::from_millis(1002)).is_err());
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let rl = RateLimiter::new(1, 10);
        let t0 = Instant::now();
        assert!(rl.check_at("2001:db8::1".parse().unwrap(), t0).is_ok());
        assert!(rl.check_at("2001:db8::2".parse().unwrap(), t0).is_err());
        assert!(rl.check_at("2001:db8:0:1::1".parse().unwrap(), t0).is_ok());
        assert!(rl.check_at("::ffff:192.0.2.9".parse().unwrap(), t0).is_ok());
        assert!(rl.check_at("192.0.2.9".parse().unwrap(), t0).is_err());
    }

    #[test]
    fn the_map_stays_bounded() {
        let rl = RateLimiter::new(10, 100);
        let t0 = Instant::now();
        for i in 0..1000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(rl.check_at(ip, t0).is_ok());
            assert!(rl.clients() <= 100);
        }
    }

    #[test]
    fn zero_means_unlimited() {
        let rl = RateLimiter::new(0, 1);
        for _ in 0..1000 {
            assert!(rl.check("192.0.2.1".parse().unwrap()).is_ok());
        }
        assert_eq!(rl.clients(), 0);
    }
}
