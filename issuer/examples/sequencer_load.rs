//! Load test of the sequencer alone (no HTTP): pre-signed tokens submitted
//! by many concurrent submitters; prints entries/s and submit latency.
//!
//! ```sh
//! cargo run --release -p loupe-issuer --example sequencer_load -- \
//!     --url sqlite:///tmp/loupe-load.db --count 200000 --submitters 256
//! createdb -h 127.0.0.1 -U postgres loupe_load
//! cargo run --release -p loupe-issuer --example sequencer_load -- \
//!     --url postgres://postgres@127.0.0.1/loupe_load --count 200000 --submitters 256
//! ```
//!
//! Measured on the 2-core development VM (shared with other builds, CPU
//! pressure 40–70 %, so ±20 %), 200,000 tokens of 1,056 bytes, 256
//! submitters, defaults: SQLite (WAL, `synchronous=FULL`) 15,000–19,000
//! entries/s, p50 11–13 ms, p99 26–40 ms; PostgreSQL 15 (`synchronous_commit
//! = on`, same machine) 31,000–37,500 entries/s, p50 7 ms, p99 11–22 ms.
//! On SQLite the writer is the bottleneck: each entry dirties about one
//! page of the random token-id index, written to the WAL at commit and
//! again at checkpoint.
//!
//! Options: `--max-batch N` (1024), `--max-delay-ms MS` (5), `--bytes`
//! (submit raw bytes, parsed by each submitter, instead of parsed
//! statements). Each run uses fresh report numbers, so it can run again on
//! the same database.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use loupe_issuer::sequencer::{Sequencer, SequencerConfig};
use loupe_issuer::store::open_store;
use loupe_schemas::checkpoint::NoteSigner;
use loupe_schemas::token::{Statement, TokenBuilder};

#[path = "support/provenance.rs"]
mod provenance;
use provenance::provenance;

// The allocator of the `loupe-issuer` binary (see src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    url: String,
    count: usize,
    submitters: usize,
    max_batch: usize,
    max_delay: Duration,
    bytes: bool,
}

fn options() -> Result<Options, Box<dyn Error>> {
    let mut o = Options {
        url: "sqlite://loupe-load.db".into(),
        count: 200_000,
        submitters: 256,
        max_batch: 1024,
        max_delay: Duration::from_millis(5),
        bytes: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => o.url = value()?,
            "--count" => o.count = value()?.parse()?,
            "--submitters" => o.submitters = value()?.parse()?,
            "--max-batch" => o.max_batch = value()?.parse()?,
            "--max-delay-ms" => o.max_delay = Duration::from_millis(value()?.parse()?),
            "--bytes" => o.bytes = true,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(o)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let o = options()?;
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let run = format!("{:08x}", rand::random::<u32>());
    println!(
        "signing {} tokens (6 photos + video each) on {} threads ...",
        o.count,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let key = SigningKey::from_bytes(&[7; 32]);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = o.count.div_ceil(threads);
    let signing = Instant::now();
    let parts: Vec<Vec<Statement>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (key, run) = (key.clone(), run.clone());
                scope.spawn(move || {
                    (t * per..((t + 1) * per).min(o.count))
                        .map(|n| {
                            TokenBuilder::new(
                                "lab.example",
                                format!("{run}-{n}"),
                                provenance(n as u64),
                            )
                            .iat(1_767_225_600)
                            .sign(&key)
                            .map(Statement::Token)
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "signing thread panicked")?
                    .map_err(Into::into)
            })
            .collect::<Result<_, Box<dyn Error>>>()
    })?;
    let statements: Vec<Statement> = parts.into_iter().flatten().collect();
    let avg_len = statements
        .iter()
        .map(|s| s.logged_bytes().len())
        .sum::<usize>()
        / statements.len().max(1);
    println!(
        "signed in {:.1} s; average token {avg_len} bytes",
        signing.elapsed().as_secs_f64()
    );

    let store = open_store(&o.url).await?;
    let start_size = store.tree_size().await?;
    let signer = NoteSigner::new("lab.example/log", SigningKey::from_bytes(&[9; 32]))?;
    let config = SequencerConfig {
        max_batch: o.max_batch,
        max_delay: o.max_delay,
    };
    let seq = Sequencer::spawn(Arc::clone(&store), signer, config).await?;

    // Deal the statements out to the submitters.
    let mut queues: Vec<Vec<Statement>> = vec![Vec::new(); o.submitters.max(1)];
    for (i, s) in statements.into_iter().enumerate() {
        queues[i % o.submitters.max(1)].push(s);
    }
    println!(
        "submitting to {} ({} submitters, max_batch {}, max_delay {:?}, {}) ...",
        o.url,
        o.submitters,
        o.max_batch,
        o.max_delay,
        if o.bytes {
            "raw bytes"
        } else {
            "parsed statements"
        }
    );
    let started = Instant::now();
    let tasks: Vec<_> = queues
        .into_iter()
        .map(|queue| {
            let seq = seq.clone();
            let bytes = o.bytes;
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(queue.len());
                for s in queue {
                    let t = Instant::now();
                    let done = if bytes {
                        seq.submit_bytes(s.logged_bytes()).await
                    } else {
                        seq.submit(s).await
                    };
                    done.map_err(|e| e.to_string())?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, String>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(o.count);
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed();
    seq.shutdown().await;
    let end_size = store.tree_size().await?;
    latencies.sort_unstable();
    let checkpoints = end_size - start_size;
    println!(
        "{} entries in {:.2} s: {:.0} entries/s; submit latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; log size {start_size} -> {end_size}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    if checkpoints != latencies.len() as u64 {
        return Err(format!("log grew by {checkpoints}, expected {}", latencies.len()).into());
    }
    store.close().await;
    Ok(())
}
