//! The `orch` command: parses arguments and hands over to the library's CLI.

/// mimalloc: the host allocates many short-lived strings and buffers per
/// pipeline node (prompts, request bodies, rows); it is measurably cheaper
/// than the system allocator for that (see `benches/pipeline.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    orch_host::cli::main()
}
