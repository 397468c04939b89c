//! The `orch` command: parses arguments and hands over to the library's CLI.

/// mimalloc: the host allocates many short-lived strings and buffers per
/// pipeline node (prompts, request bodies, rows); it is measurably cheaper
/// than the system allocator for that (see `benches/pipeline.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // The confinement helper runs before anything else, single-threaded.
    if std::env::args_os().nth(1).is_some_and(|arg| arg == orch_host::confine::HELPER_ARG) {
        return orch_host::confine::helper::main();
    }
    orch_host::cli::main()
}
