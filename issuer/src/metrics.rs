//! Prometheus counters of the service, served at `GET /metrics` in the
//! text exposition format (version 0.0.4). Lock-free: plain atomics.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the issuance latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    tokens_issued: AtomicU64,
    revocations: AtomicU64,
    rejected: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    /// Counts one token logged, and the time the request took.
    pub fn token_issued(&self, took: Duration) {
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
        self.observe(took);
    }

    /// Counts one revocation logged.
    pub fn revocation(&self, took: Duration) {
        self.revocations.fetch_add(1, Ordering::Relaxed);
        self.observe(took);
    }

    /// Counts one write refused by the log's rules (conflict, unknown token).
    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The exposition text, with the log's current `tree_size` and whether
    /// this instance sequences the log (`leader`).
    #[must_use]
    pub fn render(&self, tree_size: u64, leader: bool) -> String {
        let mut out = String::with_capacity(2048);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP loupe_tokens_issued_total Tokens logged by this process."
        );
        let _ = writeln!(out, "# TYPE loupe_tokens_issued_total counter");
        let _ = writeln!(
            out,
            "loupe_tokens_issued_total {}",
            get(&self.tokens_issued)
        );
        let _ = writeln!(
            out,
            "# HELP loupe_revocations_total Revocations logged by this process."
        );
        let _ = writeln!(out, "# TYPE loupe_revocations_total counter");
        let _ = writeln!(out, "loupe_revocations_total {}", get(&self.revocations));
        let _ = writeln!(
            out,
            "# HELP loupe_writes_rejected_total Writes refused by the log's rules."
        );
        let _ = writeln!(out, "# TYPE loupe_writes_rejected_total counter");
        let _ = writeln!(out, "loupe_writes_rejected_total {}", get(&self.rejected));
        let _ = writeln!(
            out,
            "# HELP loupe_tree_size Entries in the log at the latest checkpoint."
        );
        let _ = writeln!(out, "# TYPE loupe_tree_size gauge");
        let _ = writeln!(out, "loupe_tree_size {tree_size}");
        let _ = writeln!(
            out,
            "# HELP loupe_sequencer_leader 1 when this instance sequences the log, 0 on a standby."
        );
        let _ = writeln!(out, "# TYPE loupe_sequencer_leader gauge");
        let _ = writeln!(out, "loupe_sequencer_leader {}", u8::from(leader));
        let _ = writeln!(
            out,
            "# HELP loupe_write_seconds Time from request to logged answer (sign, sequence, commit)."
        );
        let _ = writeln!(out, "# TYPE loupe_write_seconds histogram");
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(
                out,
                "loupe_write_seconds_bucket{{le=\"{bound}\"}} {}",
                get(bucket)
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(out, "loupe_write_seconds_bucket{{le=\"+Inf\"}} {count}");
        #[allow(clippy::cast_precision_loss)]
        let sum = get(&self.latency_sum_us) as f64 / 1e6;
        let _ = writeln!(out, "loupe_write_seconds_sum {sum}");
        let _ = writeln!(out, "loupe_write_seconds_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_everything() {
        let m = Metrics::default();
        m.token_issued(Duration::from_millis(3));
        m.token_issued(Duration::from_millis(30));
        m.revocation(Duration::from_secs(10));
        m.rejected();
        let text = m.render(42, false);
        assert!(text.contains("loupe_tokens_issued_total 2\n"), "{text}");
        assert!(text.contains("loupe_revocations_total 1\n"));
        assert!(text.contains("loupe_writes_rejected_total 1\n"));
        assert!(text.contains("loupe_tree_size 42\n"));
        assert!(text.contains("loupe_sequencer_leader 0\n"));
        assert!(m.render(42, true).contains("loupe_sequencer_leader 1\n"));
        assert!(text.contains("loupe_write_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("loupe_write_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("loupe_write_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("loupe_write_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("loupe_write_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("loupe_write_seconds_count 3\n"));
    }
}
