//! The crash-and-soak run, short: a steady stream of issuance requests to a
//! real `loupe-issuer serve` that is SIGKILLed and restarted twice, then
//! zero acknowledged tokens lost, zero duplicates, every checkpoint a client
//! saw consistent with the final one (see `soak_support`). On SQLite, and
//! on PostgreSQL when `LOUPE_TEST_POSTGRES_URL` is set. The long run is
//! `examples/soak.rs` (`docs/reliability.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "serve_support/mod.rs"]
mod serve_support;
#[path = "soak_support/mod.rs"]
mod soak_support;
#[path = "store_support/mod.rs"]
mod store_support;

use std::path::PathBuf;
use std::time::Duration;

use soak_support::{SoakConfig, run};
use store_support::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_issuance_through_sigkills_loses_and_duplicates_nothing() {
    for db in TestDb::all().await {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SoakConfig {
            bin: PathBuf::from(serve_support::BIN),
            database_url: db.url.clone(),
            label: db.name.to_owned(),
            duration: Duration::from_secs(16),
            kill_every: Duration::from_secs(5),
            rate: 100,
            clients: 6,
            warmup: Duration::from_secs(2),
            work_dir: dir.path().to_owned(),
        };
        let report = run(&cfg).await;
        println!("{report}");
        assert_eq!(report.problems(), Vec::<String>::new(), "{report}");
        assert!(report.kills >= 2, "{report}");
        assert_eq!(report.lives.len() as u32, report.kills + 1, "{report}");
        // Enough traffic that the kills landed on requests in flight.
        assert!(report.acknowledged >= 300, "{report}");
        assert!(report.retries > 0, "{report}");
        assert!(
            report.log_size >= report.acknowledged
                && report.log_size == report.acknowledged + report.logged_unacknowledged,
            "{report}"
        );
        db.cleanup().await;
    }
}
