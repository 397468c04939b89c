//! Errors of the plugin runtime. A plugin's own typed error (the WIT
//! `plugin-error`) travels inside [`SandboxError::Plugin`]; everything the host
//! detects itself (traps, deadlines, memory, refused grants) has its own case.
//! Every message names the plugin and, once known, its version.

use std::fmt;

pub use super::bindings::types::PluginError;

/// A plugin's name and, once it has described itself, its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginId {
    /// The name the plugin is configured under in `orch.toml`.
    pub name: String,
    /// The version the plugin reported, if it got that far.
    pub version: Option<String>,
}

impl PluginId {
    pub(crate) fn unnamed(name: &str) -> Self {
        Self { name: name.to_owned(), version: None }
    }
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "plugin `{}` {v}", self.name),
            None => write!(f, "plugin `{}`", self.name),
        }
    }
}

/// Why loading or calling a plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The component file could not be read or compiled.
    #[error("{plugin}: cannot load {source_desc}: {message}")]
    Load { plugin: PluginId, source_desc: String, message: String },
    /// The component targets a contract version this host does not speak.
    #[error("{plugin} was built for orch:plugin@{found}; this host supports {supported}")]
    ApiVersion { plugin: PluginId, found: String, supported: String },
    /// The component exports none of the contract's worlds.
    #[error("{plugin} is not an orch plugin: it exports none of orch:plugin/router, provider or gate ({exports})")]
    NotAPlugin { plugin: PluginId, exports: String },
    /// The plugin asked for a capability the operator did not grant.
    #[error(
        "{plugin} asks for {capability}, which is not granted; to allow it add {hint} under [plugins.{config_name}.grants] in orch.toml"
    )]
    MissingGrant { plugin: PluginId, config_name: String, capability: String, hint: String },
    /// The plugin's grants in `orch.toml` are malformed or name a missing path.
    #[error("{plugin}: invalid grant: {message}")]
    InvalidGrant { plugin: PluginId, message: String },
    /// The plugin's self-description does not fit how it was built or configured.
    #[error("{plugin}: {message}")]
    BadDescription { plugin: PluginId, message: String },
    /// A call ran past the plugin's time limit and was stopped.
    #[error("{plugin} ran past its deadline of {limit_ms} ms and was stopped{}", if *spinning { " (in its own code)" } else { "" })]
    Deadline {
        plugin: PluginId,
        limit_ms: u64,
        /// The time ran out in the plugin's own code (a loop), not while it
        /// waited on the host (an HTTP answer, a command): trying again
        /// would spin again.
        spinning: bool,
    },
    /// The plugin tried to grow its memory beyond its cap.
    #[error("{plugin} exceeded its memory limit of {limit_mib} MiB and was stopped")]
    MemoryLimit { plugin: PluginId, limit_mib: u64 },
    /// The plugin panicked.
    #[error("{plugin} panicked: {message}")]
    Panic { plugin: PluginId, message: String },
    /// The plugin trapped for another reason (or its instance is unusable).
    #[error("{plugin} trapped: {message}")]
    Trap { plugin: PluginId, message: String },
    /// The plugin ran and returned its own typed error.
    #[error("{plugin} returned an error: {}", describe_plugin_error(error))]
    Plugin { plugin: PluginId, error: PluginError },
    /// The plugin returned a value over its size limit.
    #[error("{plugin} {source}")]
    Oversized { plugin: PluginId, source: crate::untrusted::Oversized },
    /// The call does not exist in the plugin's world (e.g. `route` on a gate).
    #[error("{plugin} is a {kind} plugin and has no `{call}` function")]
    WrongKind { plugin: PluginId, kind: &'static str, call: &'static str },
}

impl SandboxError {
    /// The plugin's own typed error, when the failure came from the plugin's logic.
    pub fn plugin_error(&self) -> Option<&PluginError> {
        match self {
            Self::Plugin { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A one-line rendering of a plugin's typed error.
pub fn describe_plugin_error(error: &PluginError) -> String {
    match error {
        PluginError::Transient(m) => format!("transient: {m}"),
        PluginError::RateLimited(Some(ms)) => format!("rate limited: retry after {ms} ms"),
        PluginError::RateLimited(None) => "rate limited".to_owned(),
        PluginError::Fatal(m) => format!("fatal: {m}"),
        PluginError::InvalidInput(m) => format!("invalid input: {m}"),
        PluginError::Denied(m) => format!("denied: {m}"),
        PluginError::BudgetExceeded(m) => format!("budget exceeded: {m}"),
    }
}
