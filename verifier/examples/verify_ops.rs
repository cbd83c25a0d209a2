//! Runs one operation N times, for instruction counts under callgrind
//! (repeatable whatever else the machine is doing):
//!
//! ```sh
//! cargo build --release -p loupe-verifier --example verify_ops
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/verify_ops offline 200
//! # … and `raw 200`, and each with 0 to subtract the set-up
//! ```
//!
//! `verify_ops paired ROUNDS` times the two in alternating blocks of 200
//! and prints the median of each and their ratio: both see the same load,
//! so the ratio holds on a busy machine where criterion's figures drift.

#[path = "../benches/fixture.rs"]
mod fixture;

// The allocator of the `loupe` binary (see `src/main.rs`); build with
// `--no-default-features` for the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use ed25519_dalek::Signer as _;
use loupe_verifier::{FilesInHand, Status};

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "offline".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);
    let f = fixture::fixture();
    let none = FilesInHand::default();
    let msg = vec![0xa5u8; f.items[0].0.len() + 40];
    let sig = f.key.sign(&msg);
    if op == "paired" {
        paired(&f, &msg, &sig, n.max(1));
        return;
    }
    let mut valid = 0usize;
    for i in 0..n {
        let ok = match op.as_str() {
            "raw" => f.vk.verify_strict(black_box(&msg), black_box(&sig)).is_ok(),
            "offline" => {
                let (t, p) = &f.items[i % f.items.len()];
                f.verifier
                    .verify_offline(black_box(t), black_box(p), &none)
                    .status
                    == Status::Valid
            }
            other => {
                eprintln!("unknown operation {other:?}: raw | offline | paired");
                std::process::exit(2);
            }
        };
        valid += usize::from(ok);
    }
    println!("{op}: {valid} of {n} valid");
}

/// Alternating blocks of raw `verify_strict` and library verifications.
fn paired(f: &fixture::Fixture, msg: &[u8], sig: &ed25519_dalek::Signature, rounds: usize) {
    const BLOCK: usize = 200;
    let none = FilesInHand::default();
    let mut raw = Vec::with_capacity(rounds);
    let mut lib = Vec::with_capacity(rounds);
    let mut i = 0usize;
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        for _ in 0..BLOCK {
            assert!(f.vk.verify_strict(black_box(msg), black_box(sig)).is_ok());
        }
        raw.push(t.elapsed().as_secs_f64() / BLOCK as f64);
        let t = std::time::Instant::now();
        for _ in 0..BLOCK {
            let (tok, p) = &f.items[i % f.items.len()];
            i += 1;
            let v = f
                .verifier
                .verify_offline(black_box(tok), black_box(p), &none);
            assert_eq!(v.status, Status::Valid);
        }
        lib.push(t.elapsed().as_secs_f64() / BLOCK as f64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (r, l) = (median(&mut raw), median(&mut lib));
    println!(
        "raw verify_strict {:.1} µs ({:.0}/s), library token + proof {:.1} µs ({:.0}/s): {:.2} × raw",
        r * 1e6,
        1.0 / r,
        l * 1e6,
        1.0 / l,
        r / l
    );
}
