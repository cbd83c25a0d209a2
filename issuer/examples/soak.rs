//! The long crash-and-soak run of `docs/reliability.md`: a steady rate of
//! issuance requests to a real `loupe-issuer serve` that is SIGKILLed and
//! restarted on the same database every `--kill-every` seconds; then every
//! acknowledged token must be in the log exactly once with a verifying
//! proof, no report number twice, and every checkpoint a client saw
//! consistent with the final one. Prints a summary with the server's RSS
//! per life; exits 1 on any problem. The checks are those of
//! `tests/soak.rs` (shared in `tests/soak_support`).
//!
//! ```sh
//! cargo build --release -p loupe-issuer --bin loupe-issuer --example soak
//! target/release/examples/soak --db sqlite --secs 180 --kill-every 20 --rate 200
//! LOUPE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     target/release/examples/soak --db postgres --secs 180 --kill-every 20 --rate 200
//! ```
//!
//! `--bin` defaults to the `loupe-issuer` built beside the example
//! (`target/<profile>/loupe-issuer`). PostgreSQL runs get a fresh database
//! under `LOUPE_TEST_POSTGRES_URL`, dropped at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/serve_support/mod.rs"]
mod serve_support;
#[path = "../tests/soak_support/mod.rs"]
mod soak_support;
#[path = "../tests/store_support/mod.rs"]
mod store_support;

use std::path::PathBuf;
use std::time::Duration;

use soak_support::{SoakConfig, run};
use store_support::TestDb;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut backend = "sqlite".to_owned();
    let mut secs = 180u64;
    let mut kill_every = 20u64;
    let mut rate = 200u32;
    let mut clients = 8usize;
    let mut warmup = 10u64;
    let mut bin = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|examples| examples.parent())
        .unwrap()
        .join("loupe-issuer");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => backend = value,
            "--secs" => secs = value.parse().expect("--secs N"),
            "--kill-every" => kill_every = value.parse().expect("--kill-every SECONDS"),
            "--rate" => rate = value.parse().expect("--rate TOKENS_PER_SECOND"),
            "--clients" => clients = value.parse().expect("--clients N"),
            "--warmup" => warmup = value.parse().expect("--warmup SECONDS"),
            "--bin" => bin = PathBuf::from(value),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(bin.is_file(), "no loupe-issuer at {}", bin.display());
    let db = match backend.as_str() {
        "sqlite" => TestDb::sqlite(),
        "postgres" => TestDb::postgres()
            .await
            .expect("--db postgres needs LOUPE_TEST_POSTGRES_URL"),
        other => panic!("--db sqlite|postgres, not {other}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = SoakConfig {
        bin: bin.clone(),
        database_url: db.url.clone(),
        label: db.name.to_owned(),
        duration: Duration::from_secs(secs),
        kill_every: Duration::from_secs(kill_every),
        rate,
        clients,
        warmup: Duration::from_secs(warmup),
        work_dir: dir.path().to_owned(),
    };
    println!(
        "soak: {} on {}, {secs} s at {rate} tokens/s over {clients} clients, SIGKILL every {kill_every} s",
        bin.display(),
        db.name
    );
    let report = run(&cfg).await;
    println!("{report}");
    db.cleanup().await;
    let problems = report.problems();
    if !problems.is_empty() {
        eprintln!("soak FAILED: {} problems", problems.len());
        std::process::exit(1);
    }
    println!("soak passed: lost=0 duplicates=0 inconsistent=0");
}
