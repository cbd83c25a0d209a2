//! `loupe`: verify provenance tokens.
fn main() {}
