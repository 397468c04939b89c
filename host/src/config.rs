//! `orch.toml`: the operator's configuration, merged over the built-in
//! defaults (`default-orch.toml`). Owns the file format, its validation with
//! file-and-line errors, and turning plugin sections into [`PluginSpec`]s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cost::{Budget, Price};
use crate::engine::{GatePolicy, PipelineConfig, Prompts, Settings};
use crate::limits::RateLimit;
use crate::replay::ReplayConfig;
use crate::retry::RetryConfig;
use crate::sandbox::{Grants, PluginSource, PluginSpec, builtin};
use crate::store::Synchronous;

/// The built-in defaults, merged under every `orch.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("default-orch.toml");

/// The name of the config file looked up in the current directory.
pub const CONFIG_FILE: &str = "orch.toml";

/// A configuration problem, with the file it is in.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` does not exist or cannot be read.
    #[error("cannot read config {path}: {message}")]
    Read { path: PathBuf, message: String },
    /// The file is not valid TOML or does not fit the schema.
    #[error("invalid config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// A plugin section is inconsistent.
    #[error("invalid config {path}: [plugins.{plugin}]: {message}")]
    Plugin { path: PathBuf, plugin: String, message: String },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrchConfig {
    /// Plugins by the name they are referred to by.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Rounds, limits and router of the pipeline.
    pub pipeline: PipelineConfig,
    /// Retry policy for plugin calls.
    pub retry: RetryConfig,
    /// Where and how state is kept.
    pub store: StoreConfig,
    /// Prompt templates per role.
    pub prompts: Prompts,
    /// Prices in USD per million tokens, by model.
    #[serde(default)]
    pub pricing: BTreeMap<String, Price>,
    /// Which gate plugins judge a change.
    pub gates: GatePolicy,
    /// Spending limits per task and per run.
    #[serde(default)]
    pub budget: Budget,
    /// When LLM replies come from a cassette.
    #[serde(default)]
    pub replay: ReplayConfig,
    /// How the commands plugins run are confined.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// The implementer's edit format by model name pattern (for `[pipeline]
    /// edit_format = "auto"`).
    #[serde(default)]
    pub edit_formats: BTreeMap<String, orch_edits::Format>,
    /// The models routers may choose from, by name.
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
}

/// One `[models."NAME"]`: a model the operator offers routers, shown to
/// them in the catalog with its price (from `[pricing]` and the built-in
/// table).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The provider plugin that serves it.
    pub provider: String,
    /// Free-form tags: `strong`, `cheap`, `local`, …
    #[serde(default)]
    pub tags: Vec<String>,
    /// Most tokens of prompt and answer together.
    pub context_window: Option<u32>,
}

/// `[sandbox]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// `enforce` (Landlock, seccomp, a cgroup; refuse what cannot be
    /// enforced) or `off` (plain host processes, said in the run log).
    #[serde(default)]
    pub os: crate::confine::OsSandbox,
}

impl SandboxConfig {
    /// How the plugin runtime starts commands under this setting.
    pub fn confinement(&self) -> crate::confine::Confinement {
        match self.os {
            crate::confine::OsSandbox::Enforce => crate::confine::Confinement::this_executable(),
            crate::confine::OsSandbox::Off => crate::confine::Confinement::Off,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The database file (default `.orch/orch.db` in the current directory).
    pub path: Option<PathBuf>,
    /// `normal` or `full`.
    pub synchronous: Synchronous,
}

/// One `[plugins.NAME]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// A builtin plugin to use; defaults to NAME when NAME is a builtin.
    pub builtin: Option<String>,
    /// A `.wasm` component file, relative to the config file.
    pub path: Option<PathBuf>,
    /// Refuse to load the component unless its SHA-256 is this.
    pub sha256: Option<String>,
    /// Memory cap in MiB.
    pub memory_mb: Option<u64>,
    /// Time limit per call in milliseconds.
    pub timeout_ms: Option<u64>,
    /// A provider's calls in flight at once, across all tasks.
    pub max_concurrency: Option<usize>,
    /// A provider's calls started in any 60 seconds, across all tasks.
    pub requests_per_minute: Option<u32>,
    /// What the plugin may do.
    #[serde(default)]
    pub grants: Grants,
    /// Values the plugin reads with `host.config(key)`.
    #[serde(default)]
    pub config: toml::Table,
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The merged configuration.
    pub config: OrchConfig,
    /// The user's file, if there was one.
    pub path: Option<PathBuf>,
}

impl LoadedConfig {
    /// Loads `explicit` (which must exist), else `./orch.toml` if present,
    /// else the defaults alone.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match explicit {
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from(CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let user = match &path {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::Read { path: path.clone(), message: e.to_string() })?,
            ),
            None => None,
        };
        Self::from_text(user.as_deref(), path)
    }

    /// Parses `user` (the text of `path`) over the defaults.
    pub fn from_text(user: Option<&str>, path: Option<PathBuf>) -> Result<Self, ConfigError> {
        let mut merged: toml::Table = toml::from_str(DEFAULT_CONFIG).expect("the built-in defaults are valid TOML");
        if let Some(text) = user {
            let shown = path.clone().unwrap_or_else(|| PathBuf::from(CONFIG_FILE));
            let table: toml::Table = toml::from_str(text)
                .map_err(|e| ConfigError::Invalid { path: shown.clone(), message: e.to_string() })?;
            merge(&mut merged, table);
        }
        // The merged document has no positions; point at the user's line that
        // holds the offending key when there is one.
        let config = OrchConfig::deserialize(toml::Value::Table(merged)).map_err(|e| {
            let message = e.to_string().trim().to_owned();
            let line = user.and_then(|text| line_of_key(text, &message));
            ConfigError::Invalid {
                path: path.clone().unwrap_or_else(|| PathBuf::from(CONFIG_FILE)),
                message: match line {
                    Some(line) => format!("line {line}: {message}"),
                    None => message,
                },
            }
        })?;
        let loaded = Self { config, path };
        loaded.settings()?;
        Ok(loaded)
    }

    /// The engine settings, validated.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: self.shown_path(), message };
        let config = &self.config;
        config.pipeline.validate().map_err(invalid)?;
        config.prompts.validate().map_err(invalid)?;
        config.budget.validate().map_err(invalid)?;
        Ok(Settings {
            pipeline: config.pipeline.clone(),
            retry: config.retry.policy().map_err(invalid)?,
            prompts: config.prompts.clone(),
            gates: config.gates.clone(),
            budget: config.budget,
            rate_limits: self.rate_limits()?,
            models: config.models.clone(),
            edit_formats: crate::engine::edit_format::EditFormats::new(
                &config.pipeline.edit_format,
                config.edit_formats.clone(),
            )
            .map_err(invalid)?,
            workspaces: None,
        })
    }

    /// The rate limits of every plugin section that sets any.
    fn rate_limits(&self) -> Result<BTreeMap<String, RateLimit>, ConfigError> {
        let mut limits = BTreeMap::new();
        for (name, section) in &self.config.plugins {
            let limit = RateLimit {
                max_concurrency: section.max_concurrency,
                requests_per_minute: section.requests_per_minute,
            };
            limit.validate().map_err(|message| ConfigError::Plugin {
                path: self.shown_path(),
                plugin: name.clone(),
                message,
            })?;
            if limit != RateLimit::default() {
                limits.insert(name.clone(), limit);
            }
        }
        Ok(limits)
    }

    /// The display name of the config file, for messages.
    pub fn shown_path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| PathBuf::from("(built-in defaults)"))
    }

    /// The directory relative plugin paths are resolved against.
    fn base_dir(&self) -> PathBuf {
        self.path.as_deref().and_then(Path::parent).map(Path::to_owned).unwrap_or_default()
    }

    /// `path` as written in the config file: relative to the file's directory.
    pub fn relative_to_config(&self, path: &Path) -> PathBuf {
        self.base_dir().join(path)
    }

    /// The load spec of every configured plugin, by name.
    pub fn plugin_specs(&self) -> Result<Vec<PluginSpec>, ConfigError> {
        self.config.plugins.iter().map(|(name, section)| self.plugin_spec(name, section)).collect()
    }

    /// The load spec of plugin `name`.
    pub fn plugin_spec(&self, name: &str, section: &PluginConfig) -> Result<PluginSpec, ConfigError> {
        let error = |message: String| ConfigError::Plugin { path: self.shown_path(), plugin: name.to_owned(), message };
        let source = match (&section.path, &section.builtin) {
            (Some(_), Some(_)) => return Err(error("set either `path` or `builtin`, not both".into())),
            (Some(path), None) => PluginSource::File(self.base_dir().join(path)),
            (None, Some(builtin)) if builtin::get(builtin).is_some() => PluginSource::Builtin(builtin.clone()),
            (None, Some(builtin)) => {
                return Err(error(format!(
                    "builtin = \"{builtin}\" is not a builtin plugin ({}); set `path` to a .wasm component instead",
                    builtin::names().collect::<Vec<_>>().join(", ")
                )));
            }
            (None, None) if builtin::get(name).is_some() => PluginSource::Builtin(name.to_owned()),
            (None, None) => {
                return Err(error(format!(
                    "`{name}` is not a builtin plugin ({}); set `path` to a .wasm component",
                    builtin::names().collect::<Vec<_>>().join(", ")
                )));
            }
        };
        section.grants.validate().map_err(|m| error(format!("grants: {m}")))?;
        if section.memory_mb == Some(0) || section.timeout_ms == Some(0) {
            return Err(error("memory_mb and timeout_ms must be greater than 0".into()));
        }
        let mut grants = section.grants.clone();
        for path in &mut grants.read_paths {
            if path.is_relative() {
                *path = std::path::absolute(self.base_dir().join(&*path))
                    .map_err(|e| error(format!("read path {}: {e}", path.display())))?;
            }
        }
        Ok(PluginSpec {
            name: name.to_owned(),
            source,
            sha256: section.sha256.clone(),
            grants,
            config: section.config.iter().map(|(k, v)| (k.clone(), render_value(v))).collect(),
            memory_bytes: section.memory_mb.map(|mb| mb << 20),
            timeout: section.timeout_ms.map(Duration::from_millis),
        })
    }
}

/// The 1-based line of `text` where the key an error `message` is about is
/// set or opens a table: the unknown field it names, else the last part of
/// the key path it gives (``in `retry.strategy` ``).
fn line_of_key(text: &str, message: &str) -> Option<usize> {
    let path = message.rsplit_once("in `").and_then(|(_, rest)| rest.split('`').next());
    let key = match path {
        Some(path) if !message.starts_with("unknown field") => path.rsplit('.').next()?,
        _ => message.split('`').nth(1)?,
    };
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let assigned = line.strip_prefix(key).or_else(|| line.strip_prefix(&format!("\"{key}\"")));
            assigned.is_some_and(|rest| rest.trim_start().starts_with('='))
                || (line.starts_with('[') && line.split(['[', ']', '.']).any(|part| part.trim() == key))
        })
        .map(|i| i + 1)
}

/// Strings as they are; everything else as JSON, which plugins parse.
fn render_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => serde_json::to_string(other).expect("TOML values serialise to JSON"),
    }
}

/// Deep-merges `over` into `base`: tables merge key by key, anything else
/// (including arrays, such as a rule list) replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(over_table)) => merge(base_table, over_table),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_configure_the_router_models() {
        let loaded = LoadedConfig::from_text(None, None).unwrap();
        let specs = loaded.plugin_specs().unwrap();
        let router = specs.iter().find(|s| s.name == "router-rules").unwrap();
        let models: serde_json::Value = serde_json::from_str(&router.config["models"]).unwrap();
        assert_eq!(models["strong"]["model"], "claude-sonnet-5-5");
        assert_eq!(router.timeout, Some(Duration::from_millis(2000)));
    }

    #[test]
    fn user_keys_override_defaults_one_by_one() {
        let user = r#"
[plugins.router-rules.config.models]
strong = { provider = "openai", model = "gpt-5" }
"#;
        let loaded = LoadedConfig::from_text(Some(user), Some("orch.toml".into())).unwrap();
        let specs = loaded.plugin_specs().unwrap();
        let router = specs.iter().find(|s| s.name == "router-rules").unwrap();
        let models: serde_json::Value = serde_json::from_str(&router.config["models"]).unwrap();
        assert_eq!(models["strong"]["model"], "gpt-5");
        assert_eq!(models["cheap"]["model"], "gemini-3.5-flash-lite", "untouched aliases keep their defaults");
    }

    #[test]
    fn unknown_keys_are_reported_with_file_and_line() {
        let user = "[plugins.router-rules]\ntimeout_ms = 10\nmemroy_mb = 5\n";
        let err = LoadedConfig::from_text(Some(user), Some("conf/orch.toml".into())).unwrap_err().to_string();
        assert!(err.contains("conf/orch.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("memroy_mb"), "{err}");
    }

    #[test]
    fn pipeline_and_retry_sections_are_checked() {
        let user = "[pipeline]\nrouter = \"x\"\n\n[retry]\nstrategy = \"linear\"\n";
        let err = LoadedConfig::from_text(Some(user), Some("orch.toml".into())).unwrap_err().to_string();
        assert!(err.contains("line 5") && err.contains("linear"), "{err}");
        let err = LoadedConfig::from_text(Some("[pipeline]\nmax_plan_rounds = 0\n"), None).unwrap_err().to_string();
        assert!(err.contains("[pipeline] max_plan_rounds must be at least 1"), "{err}");
        let err =
            LoadedConfig::from_text(Some("[prompts.planner]\nuser = \"{{gaol}}\"\n"), None).unwrap_err().to_string();
        assert!(err.contains("unknown placeholder {{gaol}}"), "{err}");
        let user = "[pipeline]\nconcurrency = 7\n[retry]\nmax_attempts = 5\n";
        let settings = LoadedConfig::from_text(Some(user), None).unwrap().settings().unwrap();
        assert_eq!((settings.pipeline.concurrency, settings.retry.max_attempts), (7, 5));
        assert_eq!(settings.pipeline.max_review_rounds, 3, "untouched keys keep their defaults");
    }

    #[test]
    fn rate_limits_come_from_plugin_sections() {
        let user = "[plugins.router-rules]\nmax_concurrency = 2\nrequests_per_minute = 50\n";
        let settings = LoadedConfig::from_text(Some(user), None).unwrap().settings().unwrap();
        let expected = RateLimit { max_concurrency: Some(2), requests_per_minute: Some(50) };
        assert_eq!(settings.rate_limits, BTreeMap::from([("router-rules".to_owned(), expected)]));
        let err = LoadedConfig::from_text(Some("[plugins.router-rules]\nrequests_per_minute = 0\n"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[plugins.router-rules]") && err.contains("at least 1"), "{err}");
    }

    #[test]
    fn budgets_must_be_non_negative() {
        let settings = LoadedConfig::from_text(Some("[budget]\ntask_usd = 1.5\n"), None).unwrap().settings().unwrap();
        assert_eq!((settings.budget.task_usd, settings.budget.run_usd), (Some(1.5), None));
        let err = LoadedConfig::from_text(Some("[budget]\nrun_usd = -1.0\n"), None).unwrap_err().to_string();
        assert!(err.contains("[budget] run_usd must be a non-negative number"), "{err}");
    }

    #[test]
    fn bad_grants_and_sources_name_the_plugin() {
        let user = "[plugins.mine]\npath = \"mine.wasm\"\n[plugins.mine.grants]\nhttp = [\"api.example.com\"]\n";
        let loaded = LoadedConfig::from_text(Some(user), Some("orch.toml".into())).unwrap();
        let err = loaded.plugin_specs().unwrap_err().to_string();
        assert!(err.contains("[plugins.mine]") && err.contains("api.example.com"), "{err}");

        let user = "[plugins.nowhere]\ntimeout_ms = 5\n";
        let loaded = LoadedConfig::from_text(Some(user), Some("orch.toml".into())).unwrap();
        let err = loaded.plugin_specs().unwrap_err().to_string();
        assert!(err.contains("not a builtin plugin") && err.contains("router-rules"), "{err}");
    }
}
