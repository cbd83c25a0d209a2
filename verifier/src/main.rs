//! `loupe`: verify gemstone provenance tokens (see [`loupe_verifier::cli`]).

// The verification API allocates many small buffers per request on several
// threads (HTTP, JSON, the parsed token, the verdict); mimalloc's per-thread
// free lists cost less there than glibc malloc's arenas, as in the issuer.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    loupe_verifier::cli::main()
}
