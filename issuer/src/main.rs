//! `loupe-issuer`: the lab-side service and its CLI (see
//! [`loupe_issuer::cli`]).
fn main() -> std::process::ExitCode {
    loupe_issuer::cli::main()
}
