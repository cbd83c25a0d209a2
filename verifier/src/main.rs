//! `loupe`: verify gemstone provenance tokens (see [`loupe_verifier::cli`]).
fn main() -> std::process::ExitCode {
    loupe_verifier::cli::main()
}
