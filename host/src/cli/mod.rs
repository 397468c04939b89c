//! The command line: argument definitions, dispatch to one module per
//! command group, error printing and exit codes (0 ok, 1 something failed,
//! 2 usage or configuration error).

mod output;
mod plugin;
mod run;
mod scaffold;
mod task;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::ConfigError;
use crate::store::StoreError;
use crate::tasks::TasksError;

/// Runs LLM coding tasks through a durable pipeline with sandboxed plugins.
#[derive(Debug, Parser)]
#[command(name = "orch", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: ./orch.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    /// State database (default: [store] path, else .orch/orch.db).
    #[arg(long, global = true, value_name = "PATH")]
    store: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add the tasks of a file to the store and drive them through the pipeline.
    Run(run::RunArgs),
    /// Continue every unfinished task in the store.
    Resume(run::RunOptions),
    /// Show one task, or approve or reject a task that waits for a person.
    Task(task::TaskArgs),
    /// Restore a task exported with `orch task ID --json`.
    Import(task::ImportArgs),
    /// Inspect, list and create plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// Exit codes.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Parses the arguments, runs the command and maps errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            let usage = err.chain().any(|cause| {
                cause.downcast_ref::<ConfigError>().is_some()
                    || cause.downcast_ref::<UsageError>().is_some()
                    || cause.downcast_ref::<TasksError>().is_some()
            });
            ExitCode::from(if usage { EXIT_USAGE } else { EXIT_FAILED })
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args, cli.config.as_deref(), cli.store.as_deref()).await,
        Command::Resume(options) => {
            let args = run::RunArgs { tasks: None, task_id: None, options };
            run::run(args, cli.config.as_deref(), cli.store.as_deref()).await
        }
        Command::Task(args) => task::task(args, cli.config.as_deref(), cli.store.as_deref()),
        Command::Import(args) => task::import(args, cli.config.as_deref(), cli.store.as_deref()),
        Command::Plugin(command) => plugin::run(command, cli.config.as_deref()).await,
    }
}

/// A mistake in how a command was invoked (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Store errors about the task the user named are usage errors (exit 2).
fn store_usage(err: StoreError) -> anyhow::Error {
    match err {
        StoreError::UnknownTask(_) | StoreError::NotAwaiting { .. } => UsageError(err.to_string()).into(),
        other => other.into(),
    }
}

/// Logs go to stderr, filtered by `ORCH_LOG` (default: warnings and errors).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
