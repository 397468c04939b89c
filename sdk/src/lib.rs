//! # orch-sdk: write orch plugins in Rust
//!
//! An orch plugin is a WebAssembly component that plays one part in the host's
//! pipeline: a **router** chooses the model for a role, a **provider** calls an
//! LLM, a **gate** judges a change. You implement one trait, register it with
//! [`register!`], and build with `cargo build --release --target wasm32-wasip2`.
//!
//! The plugin runs in a sandbox with nothing granted by default. What it may do
//! outside its own memory — HTTP to named origins, secrets injected into
//! headers, read-only paths, allowlisted commands — it asks for in
//! [`Plugin::capabilities`], and the operator grants in `orch.toml`. The
//! helpers in [`http`], [`exec`], [`config`] and [`log`] call the host.
//! [`diff`] and [`glob`] help gates read the change they judge and match its
//! paths against patterns from config. The contract's enums ([`Role`],
//! [`Risk`], [`provider::StopReason`], ...) implement `Display` with the
//! WIT's own spelling (`plan-reviewer`, `content-filter`).
//!
//! ```
//! use orch_sdk::router::{RouteDecision, RouteRequest, Router};
//! use orch_sdk::{Plugin, PluginError, Risk};
//!
//! #[derive(Default)]
//! struct Cautious;
//!
//! impl Plugin for Cautious {
//!     const NAME: &'static str = "router-cautious";
//!     const DESCRIPTION: &'static str = "Sends high-risk work to the strong model";
//! }
//!
//! impl Router for Cautious {
//!     fn route(&self, request: RouteRequest) -> Result<RouteDecision, PluginError> {
//!         let (model, reason) = match request.task.risk {
//!             Risk::High => ("claude-sonnet-4-5", "high risk needs the strongest model"),
//!             Risk::Medium | Risk::Low => ("gemini-2.5-flash", "cheap model is enough"),
//!         };
//!         Ok(RouteDecision {
//!             provider: "anthropic".into(),
//!             model: model.into(),
//!             reason: reason.into(),
//!             fallbacks: Vec::new(),
//!         })
//!     }
//! }
//!
//! orch_sdk::register!(router: Cautious);
//! ```
//!
//! The same shape works for [`provider::Provider`] (`register!(provider: T)`)
//! and [`gate::Gate`] (`register!(gate: T)`).
#![deny(missing_docs)]

pub mod api;
mod bindings;
pub mod config;
pub mod diff;
mod display;
pub mod exec;
pub mod glob;
pub mod http;
pub mod log;
mod register;
mod secret;

pub use bindings::types::{
    Capabilities, CommandRequest, Header, LogLevel, PluginError, PluginInfo, PluginKind, Risk, Role, Task,
};
pub use secret::secret;

/// The version of the WIT contract (`orch:plugin@…`) this SDK builds against.
pub const API_VERSION: &str = "0.2.0";

/// What every plugin says about itself. The plugin's version is taken from its
/// crate's `Cargo.toml` by [`register!`].
pub trait Plugin: Default {
    /// Short unique name, e.g. `router-rules`. Operators grant capabilities
    /// under `[plugins.NAME]` in `orch.toml`.
    const NAME: &'static str;
    /// One sentence on what the plugin does.
    const DESCRIPTION: &'static str;

    /// What the plugin needs from the host. Nothing by default. May read
    /// [`config`] values, e.g. to ask for the origin of a configured URL.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
}

// The type is generated from the WIT, so the derive cannot be written on it.
#[allow(clippy::derivable_impls)]
impl Default for Capabilities {
    fn default() -> Self {
        Self { http: Vec::new(), secrets: Vec::new(), read_paths: Vec::new(), commands: Vec::new() }
    }
}

impl Capabilities {
    /// Asks to call an origin such as `https://api.openai.com` (`*` wildcards
    /// allowed, e.g. `http://127.0.0.1:*`).
    pub fn http(mut self, origin: impl Into<String>) -> Self {
        self.http.push(origin.into());
        self
    }

    /// Asks for a secret to be injected where a header holds [`secret`]`(name)`.
    pub fn secret(mut self, name: impl Into<String>) -> Self {
        self.secrets.push(name.into());
        self
    }

    /// Asks to read a host path (mounted read-only at the same path).
    pub fn read_path(mut self, path: impl Into<String>) -> Self {
        self.read_paths.push(path.into());
        self
    }

    /// Asks to run `program` with arguments matching `args` (`*`-globs).
    pub fn command(mut self, program: impl Into<String>, args: &[&str]) -> Self {
        self.commands
            .push(CommandRequest { program: program.into(), args: args.iter().map(|a| (*a).to_owned()).collect() });
        self
    }
}

/// Routers choose the provider and model for a role.
pub mod router {
    pub use crate::bindings::router_world::exports::orch::plugin::router::{
        CatalogModel, ModelChoice, ModelHistory, RouteDecision, RouteRequest,
    };

    /// Implement this and `register!(router: YourType)`.
    pub trait Router: crate::Plugin {
        /// Chooses a provider and model for `request`, with a reason and fallbacks.
        fn route(&self, request: RouteRequest) -> Result<RouteDecision, crate::PluginError>;
    }
}

/// Providers call an LLM.
pub mod provider {
    pub use crate::bindings::provider_world::exports::orch::plugin::provider::{
        Completion, CompletionRequest, Message, MessageRole, StopReason, Usage,
    };

    /// Implement this and `register!(provider: YourType)`.
    pub trait Provider: crate::Plugin {
        /// Sends `request` to the model and returns its answer and token usage.
        fn complete(&self, request: CompletionRequest) -> Result<Completion, crate::PluginError>;
    }
}

/// Gates judge a change.
pub mod gate {
    pub use crate::bindings::gate_world::exports::orch::plugin::gate::{CheckRequest, CheckResult, Finding, Severity};

    /// Implement this and `register!(gate: YourType)`.
    pub trait Gate: crate::Plugin {
        /// Judges the change described by `request`.
        fn check(&self, request: CheckRequest) -> Result<CheckResult, crate::PluginError>;
    }
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::{gate_world, provider_world, router_world};
    pub use crate::register::describe;
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_version_is_the_contract_the_bindings_are_generated_from() {
        let wit = include_str!("../../wit/0.2.0/orch-plugin.wit");
        assert!(wit.contains(&format!("\npackage orch:plugin@{};", super::API_VERSION)), "{}", super::API_VERSION);
    }
}
