//! `loupe-issuer`: the lab-side service and its CLI (see
//! [`loupe_issuer::cli`]).

// The service allocates and frees many small buffers per request on
// several threads (HTTP, JSON, CBOR, SQL arguments); mimalloc's per-thread
// free lists cost a fraction of glibc malloc's arenas there (a profile of
// issuance showed a fifth of the server's CPU in glibc malloc and free).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    loupe_issuer::cli::main()
}
