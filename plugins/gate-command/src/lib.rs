//! `command`: a gate plugin that runs allowlisted commands (pytest, mypy,
//! ruff, eslint, cargo test, npm test, ...) in the task's workspace through
//! `host.exec` and turns what they print into findings. This module owns the
//! glue: reading config, asking for capabilities, running each check and
//! putting the verdicts together; the reading of output lives in [`junit`],
//! [`lines`] and [`verdict`] as pure functions.
//!
//! Config (`[plugins.command.config]` in `orch.toml`): `checks`, an array of
//! tables (or the same as a JSON string), run in order:
//!
//! ```toml
//! [[plugins.command.config.checks]]
//! name = "tests"
//! program = "python3"
//! args = ["-B", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1", "--junitxml={junit}"]
//! parse = "junit"
//! timeout_ms = 600000
//!
//! [[plugins.command.config.checks]]
//! name = "lint"
//! program = "ruff"
//! args = ["check", "--no-cache", "--output-format=concise", "{workspace}"]
//! parse = "lines"
//! ```
//!
//! - `args`: `{workspace}` becomes the request's workspace path; `{junit}`
//!   becomes `/dev/stdout`, where a `junit` check must write its report
//!   (pytest: `--junitxml={junit}`; add `-o junit_family=xunit1` for file
//!   and line numbers). The workspace is mounted read-only for the plugin,
//!   so it could not clear a report file before a run (a run that dies early
//!   would leave the last run's report to be read) and the file would land
//!   in the task's change; stdout comes back fresh with every run.
//! - `parse`: `junit` reads the JUnit XML report in stdout; `lines` reads
//!   `file:line[:col]: message` lines in stdout and stderr (mypy, ruff
//!   `--output-format=concise`, flake8, eslint `--format unix`, gcc, rustc
//!   `--error-format=short`); `exit` (the default) only judges the exit code.
//! - `timeout_ms`: default 600000; the host caps it too.
//!
//! The commands themselves are ordinary host processes: only the plugin's
//! view of the workspace is read-only, so a tool that writes caches there
//! (`.pytest_cache`, `__pycache__`, `.mypy_cache`, `.ruff_cache`) changes
//! the task's worktree unless told not to: `python3 -B` and `-p
//! no:cacheprovider` for pytest, `--no-cache` for ruff, `--cache-dir=/dev/null`
//! for mypy.
//!
//! Whatever is parsed, a non-zero exit, a timeout or a kill is an error
//! finding of its own. The gate passes when no finding is an error.
//!
//! Capabilities: one command per check, its arguments as patterns
//! (`{workspace}` as `*`). The operator grants them under
//! `[plugins.command.grants]`. The host mounts the task's workspace for each
//! check call, and commands run there.

pub mod junit;
pub mod lines;
pub mod settings;
pub mod text;
pub mod verdict;

use orch_sdk::gate::{CheckRequest, CheckResult, Gate, Severity};
use orch_sdk::{Capabilities, Plugin, PluginError, config, exec, log};

use settings::{Check, capabilities, checks_from_config};

/// The plugin: reads its checks from config on every call (each call runs in
/// a fresh instance) and runs them one after the other.
#[derive(Default)]
pub struct Command;

impl Plugin for Command {
    const NAME: &'static str = "command";
    const DESCRIPTION: &'static str =
        "Runs allowlisted commands (tests, type checkers, linters) in the task's workspace and reports what they find";

    /// One command per configured check. When the config is invalid nothing
    /// is requested; `check` then reports why.
    fn capabilities(&self) -> Capabilities {
        checks_from_config(config::get).map(|checks| capabilities(&checks)).unwrap_or_default()
    }
}

impl Gate for Command {
    fn check(&self, request: CheckRequest) -> Result<CheckResult, PluginError> {
        let checks = checks_from_config(config::get)?;
        let mut findings = Vec::new();
        let mut summaries = Vec::with_capacity(checks.len());
        for check in &checks {
            let output = run(check, &request.workspace)?;
            let verdict = verdict::judge(check, &output, &request.workspace);
            findings.extend(verdict.findings);
            summaries.push(verdict.summary);
        }
        let passed = !findings.iter().any(|f| f.severity == Severity::Error);
        Ok(CheckResult { passed, summary: summaries.join("; "), findings })
    }
}

/// Runs `check` in `workspace`. A refused or failed `exec` is passed on.
fn run(check: &Check, workspace: &str) -> Result<exec::Output, PluginError> {
    let args = check.args_for(workspace);
    log::debug(&format!("{}: running {} {} in {workspace}", check.name, check.program, args.join(" ")));
    exec::Command::new(check.program.clone()).args(args).cwd(workspace).timeout_ms(check.timeout_ms).run()
}

orch_sdk::register!(gate: Command);
