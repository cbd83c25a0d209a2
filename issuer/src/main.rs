//! `loupe-issuer`: the lab-side service and its CLI.
fn main() {}
