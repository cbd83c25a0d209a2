//! Runs one operation N times, for instruction counts under callgrind
//! (repeatable whatever else the machine is doing):
//!
//! ```sh
//! cargo build --release -p loupe-verifier --example verify_ops
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/verify_ops offline 200
//! # … and `raw 200`, and each with 0 to subtract the set-up
//! ```

#[path = "../benches/fixture.rs"]
mod fixture;

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
                eprintln!("unknown operation {other:?}: raw | offline");
                std::process::exit(2);
            }
        };
        valid += usize::from(ok);
    }
    println!("{op}: {valid} of {n} valid");
}
