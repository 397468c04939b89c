//! The command line: argument definitions, where the configuration and the
//! store are found, dispatch to one module per command group, error printing
//! and exit codes (0 ok, 1 something failed, 2 usage or configuration error,
//! 130 interrupted).

mod clean;
mod cost;
mod init;
mod log;
mod output;
mod plugin;
mod progress;
mod retry;
mod review;
mod run;
mod scaffold;
mod status;
mod task;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::config::{ConfigError, LoadedConfig};
use crate::store::{STORE_DIR, STORE_FILE, SqliteStore, StoreError};
use crate::tasks::TasksError;

/// Runs LLM coding tasks through a durable pipeline with sandboxed plugins.
#[derive(Debug, Parser)]
#[command(name = "orch", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    globals: Globals,

    #[command(subcommand)]
    command: Command,
}

/// The flags every command takes.
#[derive(Debug, clap::Args)]
pub struct Globals {
    /// Configuration file (default: orch.toml in the current directory or the repository root).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    /// State database (default: [store] path, else .orch/orch.db at the repository root).
    #[arg(long, global = true, value_name = "PATH")]
    store: Option<PathBuf>,

    /// Colour the output: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    color: output::ColorChoice,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a commented orch.toml and an example tasks file here.
    Init(init::InitArgs),
    /// Add the tasks of a file to the store and drive them through the pipeline.
    Run(run::RunArgs),
    /// Continue every unfinished task in the store.
    Resume(run::RunOptions),
    /// Totals by state, active tasks, tasks needing review, total cost.
    Summary(JsonFlag),
    /// The tasks waiting for a person: why, what was found, what they cost.
    Review(JsonFlag),
    /// Show one task, or approve or reject a task that waits for a person.
    Task(task::TaskArgs),
    /// Put a FAILED (or AWAITING_HUMAN) task back into the pipeline.
    Retry(retry::RetryArgs),
    /// The tasks being worked on.
    Active(JsonFlag),
    /// The tasks in the store, optionally only those in some states.
    #[command(alias = "list-tasks")]
    List(status::ListArgs),
    /// A run's events (default: the latest run), optionally following it live.
    Log(log::LogArgs),
    /// What was spent, by task, model or role.
    Cost(cost::CostArgs),
    /// Delete the store and the task worktrees (branches and the run log stay).
    CleanState(clean::CleanArgs),
    /// Restore a task exported with `orch task ID --json`.
    Import(task::ImportArgs),
    /// Inspect, list and create plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `--json` for commands that take nothing else.
#[derive(Debug, clap::Args)]
pub struct JsonFlag {
    /// Print JSON (shape documented in README.md) instead of text.
    #[arg(long)]
    json: bool,
}

/// Exit codes.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

/// Parses the arguments, runs the command and maps errors to exit codes.
pub fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    output::init_color(cli.globals.color);
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{} {err:#}", output::paint("error:", output::Tone::Bad));
            ExitCode::from(if is_usage(&err) { EXIT_USAGE } else { EXIT_FAILED })
        }
    };
    // Everything the command writes is awaited before it returns. A blocking
    // thread still busy then (a plugin's file read on a slow or hung mount,
    // after its call timed out; FIFOs and devices are refused before they
    // are opened) must not keep orch alive.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    code
}

/// How long the blocking threads get to finish once a command is done.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// A closed stdout (`orch log | head`) ends the process quietly with the
/// usual 141 (128 + SIGPIPE), as other Unix tools do, instead of a panic.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>().map_or("", String::as_str);
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// Whether anything in the cause chain is the user's mistake (exit 2).
fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<ConfigError>().is_some()
            || cause.downcast_ref::<UsageError>().is_some()
            || cause.downcast_ref::<TasksError>().is_some()
            || cause.downcast_ref::<StoreError>().is_some_and(StoreError::is_usage)
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let globals = &cli.globals;
    match cli.command {
        Command::Init(args) => init::init(args),
        Command::Run(args) => run::run(args, globals).await,
        Command::Resume(options) => run::run(run::RunArgs { tasks: None, task_id: None, options }, globals).await,
        Command::Summary(flag) => status::summary(globals, flag.json),
        Command::Review(flag) => review::review(globals, flag.json),
        Command::Task(args) => task::task(args, globals),
        Command::Retry(args) => retry::retry(args, globals),
        Command::Active(flag) => status::active(globals, flag.json),
        Command::List(args) => status::list(args, globals),
        Command::Log(args) => log::log(args, globals).await,
        Command::Cost(args) => cost::cost(args, globals),
        Command::CleanState(args) => clean::clean(args, globals),
        Command::Import(args) => task::import(args, globals),
        Command::Plugin(command) => plugin::run(command, globals).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "orch", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

impl Globals {
    /// `--config`, else `orch.toml` here or at the repository root, else the defaults.
    fn config(&self) -> Result<LoadedConfig, ConfigError> {
        match &self.config {
            Some(path) => LoadedConfig::load(Some(path)),
            None => {
                let here = PathBuf::from(crate::config::CONFIG_FILE);
                let root = repo_root().map(|dir| dir.join(crate::config::CONFIG_FILE));
                let found = [Some(here), root].into_iter().flatten().find(|path| path.is_file());
                match found {
                    Some(path) => LoadedConfig::load(Some(&path)),
                    None => LoadedConfig::load(None),
                }
            }
        }
    }

    /// The store file: `--store`, else `[store] path`, else `.orch/orch.db`
    /// at the root of the repository holding the current directory (or here).
    fn store_path(&self, config: &LoadedConfig) -> PathBuf {
        self.store
            .clone()
            .or_else(|| config.config.store.path.as_ref().map(|p| config.relative_to_config(p)))
            .unwrap_or_else(|| repo_root().unwrap_or_else(|| PathBuf::from(".")).join(STORE_DIR).join(STORE_FILE))
    }

    /// The store, for a command that only reads: it must exist, and nothing is changed.
    fn read_store(&self) -> anyhow::Result<SqliteStore> {
        let config = self.config()?;
        Ok(SqliteStore::open_existing(&self.store_path(&config))?)
    }

    /// The store, for a command that writes (created if missing).
    fn write_store(&self, config: &LoadedConfig) -> Result<SqliteStore, StoreError> {
        SqliteStore::open(&self.store_path(config), config.config.store.synchronous)
    }
}

/// The root of the git repository holding the current directory.
fn repo_root() -> Option<PathBuf> {
    repo_root_of(&std::env::current_dir().ok()?)
}

/// The nearest directory at or above `dir` (an absolute path) holding `.git`.
fn repo_root_of(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|d| d.join(".git").exists()).map(Path::to_path_buf)
}

/// A mistake in how a command was invoked (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Logs go to stderr, filtered by `ORCH_LOG` (default: warnings and errors).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
