//! `secrets`: a gate plugin that reads the lines a change adds and fails it
//! when one holds a credential. This module is the glue: it reads the
//! config and turns the scan's report into the gate's verdict; the scanning
//! itself lives in [`scan`] and its detectors as pure functions.
//!
//! What counts as a credential:
//!
//! - provider keys and tokens by their shape ([`shapes`]): OpenAI (`sk-`,
//!   `sk-proj-`), Anthropic (`sk-ant-`), Google (`AIza…`), AWS access key ids
//!   (`AKIA…`, `ASIA…`), GitHub (`ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_`,
//!   `github_pat_`), Slack (`xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`), Stripe
//!   (`sk_live_`, `rk_live_`);
//! - private key blocks (`-----BEGIN … PRIVATE KEY-----` followed by key
//!   data);
//! - a random-looking value of 16 characters or more assigned to a key whose
//!   name says secret (`password = "…"`, `api_key: '…'`, `SECRET=…`), see
//!   [`assignment`].
//!
//! Placeholders (`xxx`, `your-api-key`, `<token>`, `${VAR}`,
//! `os.environ[…]`, a value of one repeated character) are not credentials.
//! Findings never quote a secret: they show a redacted form such as
//! `sk-ant-…(redacted, 48 chars)`.
//!
//! Config (`[plugins.secrets.config]` in `orch.toml`), read on every call:
//!
//! ```toml
//! [plugins.secrets.config]
//! # Files not scanned: `*` matches within a path segment, `**` across them.
//! ignore_paths = ["tests/fixtures/**", "**/*.snap"]
//! ```
//!
//! Capabilities: none. The gate reads only the request's diff.

pub mod assignment;
pub mod scan;
pub mod settings;
pub mod shapes;
pub mod value;

use orch_sdk::gate::{CheckRequest, CheckResult, Gate};
use orch_sdk::{Plugin, PluginError, config};

use settings::Settings;

/// The plugin: no state, its settings are read on every call.
#[derive(Default)]
pub struct Secrets;

impl Plugin for Secrets {
    const NAME: &'static str = "secrets";
    const DESCRIPTION: &'static str =
        "Fails a change whose added lines hold credentials: API keys, private keys, secret-looking values";
}

impl Gate for Secrets {
    fn check(&self, request: CheckRequest) -> Result<CheckResult, PluginError> {
        let settings = Settings::from_config(config::get)?;
        Ok(scan::scan(&request.diff, &settings).into_result())
    }
}

orch_sdk::register!(gate: Secrets);
