//! The yardstick of issue 3's throughput target: a *bare* loop that signs
//! tokens, batches them (a 5 ms window, one multi-row INSERT per batch in
//! one transaction) and signs a checkpoint per batch, with none of the
//! service around it: no HTTP, no JSON, no validation, no hash tiles, no
//! proofs, no lookups. The issue asks the full service to keep ≥ 60 % of
//! this loop's rate on the same machine, so run both on one machine and
//! compare (docs/performance.md records the pairs).
//!
//! ```sh
//! cargo run --release -p loupe-issuer --example bare_loop -- \
//!     --url sqlite:///tmp/bare.db --count 200000
//! cargo run --release -p loupe-issuer --example bare_loop -- \
//!     --url postgres://postgres@127.0.0.1:5432/test --count 200000
//! ```
//!
//! Signing runs on one thread per core and feeds the batching loop through
//! a bounded channel, so the rate is what the machine sustains for signing,
//! batching and durable commits together. Storage is durable as the
//! service's: SQLite in WAL with `synchronous=FULL`, PostgreSQL with
//! `synchronous_commit=on`. Each run writes fresh tables (SQLite: a file of
//! its own is best; PostgreSQL: a schema of its own, dropped at the end).
//!
//! Options: `--window-ms MS` (5), `--max-batch N` (1024), `--signers N`
//! (one per core), `--id-index` (also keep the UNIQUE token-id index a real
//! log needs to refuse a repeated token: the cost this loop otherwise
//! leaves out).

use std::error::Error;
use std::str::FromStr;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use loupe_schemas::checkpoint::{Checkpoint, NoteSigner, sign_checkpoint};
use loupe_schemas::merkle::{AppendState, leaf_hash};
use loupe_schemas::token::TokenBuilder;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, PgConnection, QueryBuilder, SqliteConnection};
use tokio::sync::mpsc;

#[path = "support/provenance.rs"]
mod provenance;
use provenance::provenance;

// The allocator of the `loupe-issuer` binary (see src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    url: String,
    count: usize,
    window: Duration,
    max_batch: usize,
    signers: usize,
    id_index: bool,
}

fn options() -> Result<Options, Box<dyn Error>> {
    let mut o = Options {
        url: "sqlite://bare-loop.db".into(),
        count: 200_000,
        window: Duration::from_millis(5),
        max_batch: 1024,
        signers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        id_index: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => o.url = value()?,
            "--count" => o.count = value()?.parse()?,
            "--window-ms" => o.window = Duration::from_millis(value()?.parse()?),
            "--max-batch" => o.max_batch = value()?.parse()?,
            "--signers" => o.signers = value()?.parse()?,
            "--id-index" => o.id_index = true,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if o.max_batch == 0 || o.signers == 0 {
        return Err("--max-batch and --signers must be at least 1".into());
    }
    Ok(o)
}

/// One signed token: its id (SHA-256 of the logged bytes) and the bytes.
struct Signed {
    id: [u8; 32],
    bytes: Vec<u8>,
}

/// The two stores, each with one connection: the loop is a single writer.
enum Db {
    Sqlite(SqliteConnection),
    Postgres(PgConnection, String),
}

/// Appends one batch of entries and its checkpoint in one transaction.
macro_rules! append_batch {
    ($conn:expr, $db:ty, $first:expr, $batch:expr, $size:expr, $note:expr) => {{
        let mut tx = $conn.begin().await?;
        let mut insert =
            QueryBuilder::<$db>::new("INSERT INTO bare_entries (leaf_index, token_id, statement) ");
        insert.push_values($batch.iter().zip($first..), |mut row, (s, i)| {
            row.push_bind(i)
                .push_bind(&s.id[..])
                .push_bind(&s.bytes[..]);
        });
        insert.build().execute(&mut *tx).await?;
        sqlx::query("INSERT INTO bare_checkpoints (tree_size, note) VALUES ($1, $2)")
            .bind($size)
            .bind($note)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }};
}

impl Db {
    async fn open(url: &str, id_index: bool) -> Result<Self, Box<dyn Error>> {
        let unique = if id_index { "UNIQUE" } else { "" };
        if url.starts_with("postgres") {
            let mut conn = PgConnection::connect(url).await?;
            let schema = format!("bare_loop_{:08x}", rand::random::<u32>());
            for statement in [
                format!("CREATE SCHEMA {schema}"),
                format!("SET search_path TO {schema}"),
                "SET synchronous_commit TO on".to_owned(),
                format!(
                    "CREATE TABLE bare_entries (leaf_index BIGINT PRIMARY KEY, \
                     token_id BYTEA NOT NULL {unique}, statement BYTEA NOT NULL)"
                ),
                "CREATE TABLE bare_checkpoints (tree_size BIGINT PRIMARY KEY, note TEXT NOT NULL)"
                    .to_owned(),
            ] {
                sqlx::raw_sql(AssertSqlSafe(statement))
                    .execute(&mut conn)
                    .await?;
            }
            Ok(Self::Postgres(conn, schema))
        } else {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .pragma("temp_store", "MEMORY");
            let mut conn = SqliteConnection::connect_with(&options).await?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP TABLE IF EXISTS bare_entries; DROP TABLE IF EXISTS bare_checkpoints;
                 CREATE TABLE bare_entries (leaf_index INTEGER PRIMARY KEY,
                     token_id BLOB NOT NULL {unique}, statement BLOB NOT NULL);
                 CREATE TABLE bare_checkpoints (tree_size INTEGER PRIMARY KEY, note TEXT NOT NULL);"
            )))
            .execute(&mut conn)
            .await?;
            Ok(Self::Sqlite(conn))
        }
    }

    async fn append(
        &mut self,
        first: i64,
        batch: &[Signed],
        note: &str,
    ) -> Result<(), Box<dyn Error>> {
        let size = first + i64::try_from(batch.len())?;
        match self {
            Self::Sqlite(conn) => append_batch!(conn, sqlx::Sqlite, first, batch, size, note),
            Self::Postgres(conn, _) => {
                append_batch!(conn, sqlx::Postgres, first, batch, size, note);
            }
        }
        Ok(())
    }

    async fn close(self) -> Result<(), Box<dyn Error>> {
        match self {
            Self::Sqlite(conn) => conn.close().await?,
            Self::Postgres(mut conn, schema) => {
                sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
            }
        }
        Ok(())
    }
}

fn percentile(sorted: &[usize], p: f64) -> usize {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let o = options()?;
    let mut db = Db::open(&o.url, o.id_index).await?;
    let run = format!("{:08x}", rand::random::<u32>());
    let (tx, mut rx) = mpsc::channel::<Signed>(4 * o.max_batch);

    // Signers: one thread per core, each signing its share of the tokens.
    let key = SigningKey::from_bytes(&[7; 32]);
    let started = Instant::now();
    let signers: Vec<_> = (0..o.signers)
        .map(|t| {
            let (key, run, tx) = (key.clone(), run.clone(), tx.clone());
            let (count, step) = (o.count, o.signers);
            std::thread::spawn(move || -> Result<(), String> {
                for n in (t..count).step_by(step) {
                    let token = TokenBuilder::new(
                        "lab.example",
                        format!("{run}-{n}"),
                        provenance(n as u64),
                    )
                    .iat(1_767_225_600)
                    .sign(&key)
                    .map_err(|e| e.to_string())?;
                    let signed = Signed {
                        id: token.id().0,
                        bytes: token.logged_bytes().to_vec(),
                    };
                    tx.blocking_send(signed).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    drop(tx);

    // The loop: a 5 ms window, one transaction and one checkpoint per batch.
    let signer = NoteSigner::new("lab.example/log", SigningKey::from_bytes(&[9; 32]))?;
    let mut tree = AppendState::new();
    let mut batch_sizes = Vec::new();
    let mut batch = Vec::with_capacity(o.max_batch);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + o.window;
        while batch.len() < o.max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(s)) => batch.push(s),
                Ok(None) | Err(_) => break,
            }
        }
        let first_index = i64::try_from(tree.size())?;
        for s in &batch {
            tree.push(leaf_hash(&s.bytes))?;
        }
        let body = Checkpoint::new(signer.name(), tree.size(), tree.root(), vec![])?;
        let note = sign_checkpoint(&body, &signer)?;
        db.append(first_index, &batch, &note).await?;
        batch_sizes.push(batch.len());
        batch.clear();
    }
    let elapsed = started.elapsed();
    for s in signers {
        s.join().map_err(|_| "a signing thread panicked")??;
    }
    db.close().await?;

    batch_sizes.sort_unstable();
    println!(
        "{} entries in {:.2} s: {:.0} entries/s ({} batches; batch size p50 {}, p99 {}; {}{})",
        tree.size(),
        elapsed.as_secs_f64(),
        tree.size() as f64 / elapsed.as_secs_f64(),
        batch_sizes.len(),
        percentile(&batch_sizes, 0.5),
        percentile(&batch_sizes, 0.99),
        o.url.split(':').next().unwrap_or("?"),
        if o.id_index {
            ", UNIQUE token-id index"
        } else {
            ""
        },
    );
    if tree.size() != o.count as u64 {
        return Err(format!("logged {} entries, expected {}", tree.size(), o.count).into());
    }
    Ok(())
}
