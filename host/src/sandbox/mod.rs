//! The plugin runtime: strategies (routers, providers, gates) run as
//! WebAssembly components under wasmtime, each in a fresh `Store` per call
//! with an epoch deadline, a memory cap and only the capabilities the
//! operator granted. Named apart from the top-level `plugins/` folder, which
//! holds the plugin crates themselves.

mod accept;
mod adapter;
pub mod arg_patterns;
pub mod audit;
mod bindings;
pub mod builtin;
pub mod cache;
pub mod engine;
pub mod error;
mod exec;
pub(crate) mod glob;
pub mod grants;
mod host_impl;
mod http;
pub mod identity;
mod plugin;
mod runtime;
pub mod secrets;
mod special_files;
mod state;

pub use audit::{AuditEvent, AuditSink, Capability, RecordingAudit, TracingAudit};
pub use bindings::types::{
    Capabilities, CommandRequest, LogLevel, PluginError, PluginInfo, PluginKind, Risk, Role, Task,
};
pub use cache::{CacheOutcome, ComponentCache};
pub use error::{PluginId, SandboxError};
pub use grants::{CommandGrant, Grants, SecretGrants};
pub use identity::{API_VERSION, Identity, SUPPORTED_VERSIONS, World};
pub use plugin::{
    CatalogModel, CheckRequest, CheckResult, Completion, CompletionRequest, Finding, LoadedPlugin, Message,
    MessageRole, ModelChoice, ModelHistory, PluginInstance, RouteDecision, RouteRequest, Severity, StopReason, Usage,
};
pub use runtime::{
    Inspection, LOAD_LIMIT, MAX_COMPONENT_BYTES, PluginSource, PluginSpec, Runtime, RuntimeBuilder, default_limits,
};
pub use secrets::{EnvSecrets, SecretSource, StaticSecrets};
pub use state::{Limits, OutputCaps, PluginContext};
