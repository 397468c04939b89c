//! `diff-limits`: a gate plugin that fails a change which touches a
//! forbidden path or is too big to review. This module is the glue: it reads
//! the config and hands the request's diff to [`limits`], where the change
//! is measured and judged as pure functions.
//!
//! Config (`[plugins.diff-limits.config]` in `orch.toml`), read on every
//! call, every key optional:
//!
//! ```toml
//! [plugins.diff-limits.config]
//! max_files = 50     # files changed (a rename is one file)
//! max_lines = 2000   # lines added plus lines removed
//! # `*` matches within a path segment, `**` across segments.
//! forbidden_paths = [".github/workflows/**", "**/.env", "**/*.pem", "**/id_rsa"]
//! warn_ratio = 0.8   # over 80 % of a limit: a warning (passes, but no clean merge)
//! ```
//!
//! A forbidden path is checked on both sides of a rename, so moving
//! `.env` away is caught as well as creating one. Capabilities: none.

pub mod limits;
pub mod settings;

use orch_sdk::gate::{CheckRequest, CheckResult, Gate};
use orch_sdk::{Plugin, PluginError, config};

use limits::Change;
use settings::Limits;

/// The plugin: no state, its limits are read on every call.
#[derive(Default)]
pub struct DiffLimits;

impl Plugin for DiffLimits {
    const NAME: &'static str = "diff-limits";
    const DESCRIPTION: &'static str = "Fails a change that touches forbidden paths or changes too many files or lines";
}

impl Gate for DiffLimits {
    fn check(&self, request: CheckRequest) -> Result<CheckResult, PluginError> {
        let limits = Limits::from_config(config::get)?;
        let change = Change::measure(&request.diff, &request.changed_files);
        Ok(limits::judge(&change, &limits))
    }
}

orch_sdk::register!(gate: DiffLimits);
