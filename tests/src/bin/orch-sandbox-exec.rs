//! The command-confinement helper for the integration tests, whose plugin
//! runtimes live in a test binary that cannot re-run itself as the helper:
//! the same entry point `orch __sandbox-exec` calls.

fn main() -> std::process::ExitCode {
    orch_host::confine::helper::main()
}
