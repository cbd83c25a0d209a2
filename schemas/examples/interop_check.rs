//! Checks COSE_Sign1 messages made by an independent implementation (pycose;
//! see `tests/interop/cose_interop.py`) with this crate.
//!
//! `cargo run -p loupe-schemas --example interop_check -- DIR` reads from DIR:
//! - `pycose_pubkey.hex`: the raw Ed25519 public key pycose signed with;
//! - `pycose_sign1.cbor` and `pycose_payload.bin`: a plain COSE_Sign1
//!   (alg −8), verified with [`verify_cose_sign1_ed25519`];
//! - `pycose_token.cbor` and `pycose_token_id.txt`: a full Loupe token built
//!   with pycose and cbor2 from `provenance.json`, parsed strictly with
//!   `Token::parse` and verified.
//!
//! Exits non-zero on any mismatch.

use std::error::Error;
use std::fs;
use std::path::PathBuf;

use ed25519_dalek::VerifyingKey;
use loupe_schemas::token::{Provenance, Token, TokenId, verify_cose_sign1_ed25519};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: interop_check DIR")?);
    let key_bytes: [u8; 32] =
        hex::decode(fs::read_to_string(dir.join("pycose_pubkey.hex"))?.trim())?
            .try_into()
            .map_err(|_| "public key is not 32 bytes")?;
    let key = VerifyingKey::from_bytes(&key_bytes)?;

    // (1) A plain COSE_Sign1 from pycose.
    let sign1 = fs::read(dir.join("pycose_sign1.cbor"))?;
    let payload = verify_cose_sign1_ed25519(&sign1, &key, &[])?;
    if payload != fs::read(dir.join("pycose_payload.bin"))? {
        return Err("pycose COSE_Sign1: payload differs".into());
    }
    let mut flipped = sign1.clone();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    if verify_cose_sign1_ed25519(&flipped, &key, &[]).is_ok() {
        return Err("pycose COSE_Sign1 with a flipped signature byte verified".into());
    }
    println!(
        "ok: pycose COSE_Sign1 verifies ({} bytes of payload)",
        payload.len()
    );

    // (2) A Loupe token made by pycose + cbor2: strict parse, then verify.
    let bytes = fs::read(dir.join("pycose_token.cbor"))?;
    let token = Token::parse(&bytes)?;
    let verified = token.verify(&key)?;
    let expected: Provenance =
        serde_json::from_str(&fs::read_to_string(dir.join("provenance.json"))?)?;
    if verified.provenance() != &expected {
        return Err("pycose token: provenance differs from provenance.json".into());
    }
    let python_id: TokenId = fs::read_to_string(dir.join("pycose_token_id.txt"))?
        .trim()
        .parse()?;
    if verified.id() != python_id {
        return Err(format!("token id: rust {} python {python_id}", verified.id()).into());
    }
    println!("ok: pycose-built Loupe token parses strictly and verifies, id {python_id}");
    Ok(())
}
