//! Writes the issuer's OpenAPI 3.1 document (the one `GET /openapi.json`
//! serves) to a file, or to stdout without an argument: for validators
//! that run without a server, such as `tests/interop/run.sh`.
//!
//! ```sh
//! cargo run -p loupe-issuer --example openapi_emit -- issuer.openapi.json
//! ```

#![allow(missing_docs)]

use std::io::Write as _;

fn main() -> std::io::Result<()> {
    let doc = loupe_issuer::api::openapi_document();
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    match std::env::args_os().nth(1) {
        Some(path) => std::fs::write(path, text + "\n"),
        None => writeln!(std::io::stdout(), "{text}"),
    }
}
