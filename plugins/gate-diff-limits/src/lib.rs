//! `diff-limits`: a gate plugin that fails a change touching forbidden paths
//! (workflows, `.env`, keys by default) or changing more files or lines than
//! allowed, and warns near the limits. The judging lives in [`limits`].
//!
//! Config (`[plugins.diff-limits.config]`): `max_files` (50), `max_lines`
//! (2000, added plus removed), `forbidden_paths` (a list of `*`/`**`
//! patterns), `warn_ratio` (0.8: over 80 % of a limit is a warning).

pub mod limits;

use orch_sdk::gate::{CheckRequest, CheckResult, Finding, Gate, Severity};
use orch_sdk::{Plugin, PluginError, config};

/// The plugin.
#[derive(Default)]
pub struct DiffLimits;

impl Plugin for DiffLimits {
    const NAME: &'static str = "diff-limits";
    const DESCRIPTION: &'static str = "Fails a change that touches forbidden paths or is too big";
}

impl Gate for DiffLimits {
    fn check(&self, request: CheckRequest) -> Result<CheckResult, PluginError> {
        let limits = limits::Limits::from_config(config::get)?;
        let verdict = limits::judge(&request.diff, &limits);
        let errors = verdict.errors.into_iter().map(|(file, message)| Finding {
            severity: Severity::Error,
            file,
            line: None,
            message,
        });
        let warnings = verdict.warnings.into_iter().map(|message| Finding {
            severity: Severity::Warning,
            file: None,
            line: None,
            message,
        });
        let findings: Vec<Finding> = errors.chain(warnings).collect();
        let passed = !findings.iter().any(|f| f.severity == Severity::Error);
        let state = match (passed, findings.is_empty()) {
            (false, _) => "over the limits",
            (true, false) => "close to the limits",
            (true, true) => "within limits",
        };
        Ok(CheckResult {
            passed,
            summary: format!("{} files, {} lines: {state}", verdict.files, verdict.lines),
            findings,
        })
    }
}

orch_sdk::register!(gate: DiffLimits);
