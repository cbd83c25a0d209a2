//! Starts an issuer for benchmarks: the example keys, a database URL and a
//! listen address from the command line, a fresh API key printed on stdout
//! (`API_KEY=…`), then serves until killed. The same code path as
//! `loupe-issuer serve`, without the set-up steps.
//!
//! ```sh
//! cargo run --release -p loupe-issuer --example bench_server -- sqlite:///tmp/bench/log.db 127.0.0.1:8080 /tmp/bench/media
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::time::Duration;

use loupe_issuer::apikey::ApiKey;
use loupe_issuer::config::ServeConfig;

// The allocator of the `loupe-issuer` binary (see src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    // `RUST_LOG=loupe_issuer::sequencer=debug` logs every batch's timings
    // (validation, build, write, answers) on stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let mut args = std::env::args().skip(1);
    let database_url = args.next().expect("database URL");
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let media = args
        .next()
        .unwrap_or_else(|| "/tmp/loupe-bench-media".into());
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example");
    let config = ServeConfig {
        listen: listen.parse().expect("listen address"),
        database_url,
        public_base_url: "https://lab.example".into(),
        verify_url: None,
        issuer_origin: "lab.example".into(),
        log_origin: "lab.example/log".into(),
        issuer_key: keys.join("issuer.key.pem"),
        log_key: keys.join("log.key.pem"),
        media_dir: media.into(),
        max_upload_size: 256 << 20,
        max_json_body: 1 << 20,
        batch_size: std::env::var("LOUPE_BATCH_SIZE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1024),
        batch_delay: Duration::from_millis(
            std::env::var("LOUPE_BATCH_DELAY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(5),
        ),
        request_timeout: Duration::from_secs(60),
        rate_limit_per_minute: 0,
        max_concurrent_requests: 4096,
        connections: loupe_httpd::ConnectionLimits::default(),
        key_history: Default::default(),
        expect_checkpoint: None,
    };
    let running = loupe_issuer::app::spawn(config).await.expect("start");
    let (key, hash) = ApiKey::generate();
    running
        .state
        .store()
        .create_api_key("bench", "lab.example", hash.as_bytes())
        .await
        .expect("api key");
    println!("API_KEY={}", key.expose_secret());
    println!("listening on {}", running.base_url);
    tokio::signal::ctrl_c().await.ok();
    running.shutdown().await;
}
