//! The `orch` command: parses arguments and hands over to the library's CLI.

fn main() -> std::process::ExitCode {
    orch_host::cli::main()
}
