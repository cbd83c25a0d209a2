//! The API's counters, rendered as Prometheus text (`GET /metrics`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Status;

/// Upper bounds (seconds) of the verification latency histogram.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

const STATUSES: [Status; 5] = [
    Status::Valid,
    Status::Invalid,
    Status::Revoked,
    Status::Superseded,
    Status::Unknown,
];

/// Where a verification came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `POST /v1/verify`.
    Api,
    /// The buyer page, `GET /verify`.
    Page,
}

/// Counters of the verification API (lock-free).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Verdicts by via (api, page) and status.
    verdicts: [[AtomicU64; 5]; 2],
    /// Cumulative latency buckets, plus +Inf at the end.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    latency_count: AtomicU64,
    rate_limited: AtomicU64,
    problems: AtomicU64,
}

fn status_index(s: Status) -> usize {
    STATUSES.iter().position(|x| *x == s).unwrap_or(4)
}

impl Metrics {
    /// Counts one verdict and its latency.
    pub fn verdict(&self, via: Via, status: Status, took: Duration) {
        let v = usize::from(via == Via::Page);
        if let Some(c) = self
            .verdicts
            .get(v)
            .and_then(|r| r.get(status_index(status)))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = took.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request refused by the rate limiter.
    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one problem answer (4xx or 5xx) of `POST /v1/verify`.
    pub fn problem(&self) {
        self.problems.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition format 0.0.4.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP loupe_verifier_verifications_total Verdicts given, by where the request came from and the verdict's status."
        );
        let _ = writeln!(out, "# TYPE loupe_verifier_verifications_total counter");
        for (v, via) in ["api", "page"].iter().enumerate() {
            for (s, status) in STATUSES.iter().enumerate() {
                let n = self
                    .verdicts
                    .get(v)
                    .and_then(|r| r.get(s))
                    .map_or(0, |c| c.load(Ordering::Relaxed));
                let _ = writeln!(
                    out,
                    "loupe_verifier_verifications_total{{via=\"{via}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP loupe_verifier_verification_seconds Time to reach a verdict (fetches included)."
        );
        let _ = writeln!(out, "# TYPE loupe_verifier_verification_seconds histogram");
        let mut cumulative = 0u64;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets.get(i).map_or(0, |b| b.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "loupe_verifier_verification_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self
            .buckets
            .get(LATENCY_BUCKETS.len())
            .map_or(0, |b| b.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "loupe_verifier_verification_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        // Precision loss only past 2^53 µs (285 years of latency).
        #[allow(clippy::cast_precision_loss)]
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "loupe_verifier_verification_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "loupe_verifier_verification_seconds_count {}",
            self.latency_count.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP loupe_verifier_rate_limited_total Requests refused with 429 by the per-client rate limit."
        );
        let _ = writeln!(out, "# TYPE loupe_verifier_rate_limited_total counter");
        let _ = writeln!(
            out,
            "loupe_verifier_rate_limited_total {}",
            self.rate_limited.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP loupe_verifier_problems_total POST /v1/verify requests refused as malformed (4xx) or failed (5xx)."
        );
        let _ = writeln!(out, "# TYPE loupe_verifier_problems_total counter");
        let _ = writeln!(
            out,
            "loupe_verifier_problems_total {}",
            self.problems.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.verdict(Via::Api, Status::Valid, Duration::from_micros(700));
        m.verdict(Via::Api, Status::Invalid, Duration::from_millis(30));
        m.verdict(Via::Page, Status::Valid, Duration::from_secs(9));
        m.rate_limited();
        let text = m.render();
        for line in [
            "loupe_verifier_verifications_total{via=\"api\",status=\"valid\"} 1",
            "loupe_verifier_verifications_total{via=\"api\",status=\"invalid\"} 1",
            "loupe_verifier_verifications_total{via=\"page\",status=\"valid\"} 1",
            "loupe_verifier_verifications_total{via=\"page\",status=\"unknown\"} 0",
            "loupe_verifier_verification_seconds_bucket{le=\"0.001\"} 1",
            "loupe_verifier_verification_seconds_bucket{le=\"0.05\"} 2",
            "loupe_verifier_verification_seconds_bucket{le=\"5\"} 2",
            "loupe_verifier_verification_seconds_bucket{le=\"+Inf\"} 3",
            "loupe_verifier_verification_seconds_count 3",
            "loupe_verifier_rate_limited_total 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
