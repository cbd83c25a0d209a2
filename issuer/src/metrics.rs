//! Prometheus counters of the service, served at `GET /metrics` in the
//! text exposition format (version 0.0.4). Lock-free: plain atomics.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the issuance latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Upper bounds of the batch size histogram buckets (entries per batch).
pub const BATCH_SIZE_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Upper bounds (seconds) of the batch commit time histogram buckets.
pub const COMMIT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A Prometheus histogram over fixed bucket bounds, lock-free. The sum is
/// kept in millionths, so a sum of seconds keeps microseconds and a sum
/// of counts stays exact.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_millionths: AtomicU64,
}

impl Histogram {
    /// An empty histogram with these (ascending) bucket upper bounds.
    #[must_use]
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_millionths: AtomicU64::new(0),
        }
    }

    /// Counts one observation of `value` (negative values count as 0).
    pub fn observe(&self, value: f64) {
        let value = value.max(0.0);
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            if value <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        // Saturating float-to-int conversion: a huge value cannot wrap.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let millionths = (value * 1e6).round() as u64;
        self.sum_millionths.fetch_add(millionths, Ordering::Relaxed);
    }

    /// Observations so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Appends the histogram as the metric family `name`, with its help
    /// text, to `out`.
    pub fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        #[allow(clippy::cast_precision_loss)]
        let sum = self.sum_millionths.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// What the sequencer's writer records of the batches it commits: how
/// many entries each held, how long its transaction took, and how many
/// failed. Shared by the sequencer (which writes) and `GET /metrics`.
#[derive(Debug)]
pub struct BatchStats {
    entries: Histogram,
    commit_seconds: Histogram,
    failed: AtomicU64,
}

impl Default for BatchStats {
    fn default() -> Self {
        Self {
            entries: Histogram::new(&BATCH_SIZE_BUCKETS),
            commit_seconds: Histogram::new(&COMMIT_BUCKETS),
            failed: AtomicU64::new(0),
        }
    }
}

impl BatchStats {
    /// Counts one committed batch of `entries` entries whose transaction
    /// took `took`.
    pub fn committed(&self, entries: usize, took: Duration) {
        #[allow(clippy::cast_precision_loss)]
        self.entries.observe(entries as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// Counts one batch the store did not persist.
    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Batches committed so far.
    #[must_use]
    pub fn batches(&self) -> u64 {
        self.entries.count()
    }

    /// Appends the batch metric families to `out`.
    pub fn write_prometheus(&self, out: &mut String) {
        self.entries.write(
            out,
            "loupe_batch_entries",
            "Entries per committed batch (one transaction, one checkpoint).",
        );
        self.commit_seconds.write(
            out,
            "loupe_batch_commit_seconds",
            "Time to write and commit one batch (entries, tiles, checkpoint).",
        );
        let _ = writeln!(
            out,
            "# HELP loupe_batches_failed_total Batches the store did not persist."
        );
        let _ = writeln!(out, "# TYPE loupe_batches_failed_total counter");
        let _ = writeln!(
            out,
            "loupe_batches_failed_total {}",
            self.failed.load(Ordering::Relaxed)
        );
    }
}

/// The service's counters.
#[derive(Debug)]
pub struct Metrics {
    tokens_issued: AtomicU64,
    revocations: AtomicU64,
    rejected: AtomicU64,
    latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            tokens_issued: AtomicU64::new(0),
            revocations: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            latency: Histogram::new(&LATENCY_BUCKETS),
        }
    }
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
        self.latency.observe(took.as_secs_f64());
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
        self.latency.write(
            &mut out,
            "loupe_write_seconds",
            "Time from request to logged answer (sign, sequence, commit).",
        );
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
        assert!(text.contains("loupe_write_seconds_sum 10.033\n"), "{text}");
    }

    #[test]
    fn batch_stats_count_sizes_commit_times_and_failures() {
        let b = BatchStats::default();
        b.committed(1, Duration::from_micros(300));
        b.committed(300, Duration::from_millis(4));
        b.committed(1024, Duration::from_millis(40));
        b.failed();
        assert_eq!(b.batches(), 3);
        let mut text = String::new();
        b.write_prometheus(&mut text);
        assert!(
            text.contains("# TYPE loupe_batch_entries histogram\n"),
            "{text}"
        );
        assert!(
            text.contains("loupe_batch_entries_bucket{le=\"1\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("loupe_batch_entries_bucket{le=\"256\"} 1\n"));
        assert!(text.contains("loupe_batch_entries_bucket{le=\"512\"} 2\n"));
        assert!(text.contains("loupe_batch_entries_bucket{le=\"1024\"} 3\n"));
        assert!(text.contains("loupe_batch_entries_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("loupe_batch_entries_sum 1325\n"), "{text}");
        assert!(text.contains("loupe_batch_commit_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("loupe_batch_commit_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("loupe_batch_commit_seconds_bucket{le=\"0.05\"} 3\n"));
        assert!(text.contains("loupe_batch_commit_seconds_count 3\n"));
        assert!(text.contains("loupe_batches_failed_total 1\n"));
    }
}
