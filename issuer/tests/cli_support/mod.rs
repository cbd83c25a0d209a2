//! Helpers of the CLI integration tests: run the built `loupe-issuer`
//! binary, check its one-line errors, and a mock issuer API ([`mock`]).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod mock;

use std::path::Path;
use std::process::Output;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_loupe-issuer");

/// Environment variables of the CLI that must not leak in from the caller.
const CLEARED: &[&str] = &[
    "LOUPE_SERVER",
    "LOUPE_API_KEY",
    "LOUPE_CONFIG",
    "LOUPE_DATABASE_URL",
    "LOUPE_PUBLIC_BASE_URL",
    "LOUPE_ISSUER_ORIGIN",
    "RUST_LOG",
];

/// A command for the binary with a clean environment, in `cwd`.
pub fn command(cwd: &Path, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(BIN);
    c.args(args).current_dir(cwd).kill_on_drop(true);
    for v in CLEARED {
        c.env_remove(v);
    }
    c
}

/// Runs the binary to completion.
pub async fn run(cwd: &Path, args: &[&str]) -> Output {
    command(cwd, args).output().await.expect("binary runs")
}

/// Runs the binary to completion, blocking (for tests without a runtime).
pub fn run_blocking(cwd: &Path, args: &[&str]) -> Output {
    let mut c = std::process::Command::new(BIN);
    c.args(args).current_dir(cwd);
    for v in CLEARED {
        c.env_remove(v);
    }
    c.output().expect("binary runs")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Asserts a failure with exit code `code` whose stderr is exactly one
/// line `error: …` containing `needle`; returns that line.
#[track_caller]
pub fn one_line_error(o: &Output, code: i32, needle: &str) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(o)
    );
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    assert!(err.contains(needle), "{err:?} should contain {needle:?}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    err.trim_end().to_owned()
}

/// A loopback address nothing listens on (bound, then released).
pub fn closed_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// The flags of `issue` describing one sample stone (everything but the
/// report number).
pub const STONE: &[&str] = &[
    "--variety",
    "Ruby",
    "--species",
    "Corundum",
    "--weight",
    "1.52",
    "--colour",
    "red",
    "--shape",
    "oval",
    "--cut",
    "mixed",
    "--clarity",
    "VS",
    "--dimensions",
    "7.10x5.60x3.40",
    "--treatment",
    "none",
];
