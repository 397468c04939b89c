//! `secrets`: a gate plugin that fails a change whose added lines carry a
//! credential — provider API keys, cloud and forge tokens, private key
//! blocks, random-looking values assigned to key/secret/token/password
//! names — with one finding per line, the value redacted. The scanning lives
//! in [`scan`].
//!
//! Config (`[plugins.secrets.config]`): `ignore_paths`, `*`/`**` patterns of
//! files not to scan (e.g. `["tests/fixtures/**"]`).

pub mod scan;

use orch_sdk::gate::{CheckRequest, CheckResult, Finding, Gate, Severity};
use orch_sdk::{Plugin, PluginError, config, diff};

/// The plugin.
#[derive(Default)]
pub struct Secrets;

impl Plugin for Secrets {
    const NAME: &'static str = "secrets";
    const DESCRIPTION: &'static str = "Fails a change that adds credentials: API keys, tokens, private keys";
}

/// `ignore_paths` from config.
fn ignore_paths() -> Result<Vec<String>, PluginError> {
    match config::get("ignore_paths") {
        None => Ok(Vec::new()),
        Some(raw) => serde_json::from_str(&raw).map_err(|e| {
            PluginError::InvalidInput(format!("config key `ignore_paths` must be a list of path patterns: {e}"))
        }),
    }
}

impl Gate for Secrets {
    fn check(&self, request: CheckRequest) -> Result<CheckResult, PluginError> {
        let ignored = ignore_paths()?;
        let leaks = scan::scan(&request.diff, |path| ignored.iter().any(|p| diff::matches(p, path)));
        let files = {
            let mut files: Vec<&str> = leaks.iter().map(|l| l.file.as_str()).collect();
            files.dedup();
            files.len()
        };
        let summary = match leaks.len() {
            0 => format!("no secrets in {} changed file(s)", request.changed_files.len()),
            n => format!("{n} possible secret(s) in {files} file(s)"),
        };
        let findings = leaks
            .into_iter()
            .map(|leak| Finding {
                severity: Severity::Error,
                message: format!(
                    "{} {}; keep credentials out of the code (read them from the environment)",
                    leak.kind,
                    if leak.redacted.is_empty() { String::new() } else { format!("({})", leak.redacted) }
                ),
                file: Some(leak.file),
                line: Some(leak.line),
            })
            .collect::<Vec<_>>();
        Ok(CheckResult { passed: findings.is_empty(), summary, findings })
    }
}

orch_sdk::register!(gate: Secrets);
