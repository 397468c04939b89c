//! What plugins did through the host, as events: their log lines, refused
//! capability uses, HTTP requests and commands. The runtime hands every event
//! to an [`AuditSink`]; the default one writes them to `tracing`, and `orch
//! run` also writes refusals into its run log (`runlog::RunLogAudit`).

use std::sync::Mutex;

use super::bindings::types::LogLevel;
use super::error::PluginId;

/// Which capability a refused call wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// An HTTP request.
    Http,
    /// A secret injected into a request.
    Secret,
    /// A command.
    Exec,
    /// A file opened through a granted read path.
    File,
}

/// One thing a plugin did, or tried to do, through the host.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditEvent {
    /// The plugin wrote a log line.
    Log { plugin: PluginId, level: LogLevel, message: String },
    /// A host call was refused because nothing granted it.
    Denied { plugin: PluginId, capability: Capability, detail: String },
    /// An HTTP request went out (secret values never appear here).
    HttpSent { plugin: PluginId, method: String, url: String, status: Option<u16> },
    /// A command ran.
    CommandRun { plugin: PluginId, program: String, args: Vec<String>, exit_code: Option<i32> },
    /// A command ran unconfined, as `[sandbox] os = "off"` asks.
    Unconfined { plugin: PluginId, program: String },
}

/// Receives audit events. Must be cheap: it is called on the call path.
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: &AuditEvent);
}

/// Writes events to `tracing`: denials as warnings, the rest at debug or the
/// plugin's own level.
#[derive(Debug, Default)]
pub struct TracingAudit;

impl AuditSink for TracingAudit {
    fn record(&self, event: &AuditEvent) {
        match event {
            AuditEvent::Log { plugin, level, message } => match level {
                LogLevel::Error => tracing::error!(%plugin, "{message}"),
                LogLevel::Warn => tracing::warn!(%plugin, "{message}"),
                LogLevel::Info => tracing::info!(%plugin, "{message}"),
                LogLevel::Debug => tracing::debug!(%plugin, "{message}"),
                LogLevel::Trace => tracing::trace!(%plugin, "{message}"),
            },
            AuditEvent::Denied { plugin, capability, detail } => {
                tracing::warn!(%plugin, ?capability, "denied: {detail}");
            }
            AuditEvent::HttpSent { plugin, method, url, status } => {
                tracing::debug!(%plugin, %method, %url, ?status, "http request");
            }
            AuditEvent::CommandRun { plugin, program, args, exit_code } => {
                tracing::debug!(%plugin, %program, ?args, ?exit_code, "command");
            }
            AuditEvent::Unconfined { plugin, program } => {
                tracing::warn!(%plugin, %program, "command runs unconfined ([sandbox] os = \"off\")");
            }
        }
    }
}

/// Keeps every event in memory (and forwards it to `tracing`); for tests and
/// for callers that render events themselves.
#[derive(Debug, Default)]
pub struct RecordingAudit {
    events: Mutex<Vec<AuditEvent>>,
}

impl RecordingAudit {
    /// The events recorded so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl AuditSink for RecordingAudit {
    fn record(&self, event: &AuditEvent) {
        TracingAudit.record(event);
        self.events.lock().unwrap_or_else(|e| e.into_inner()).push(event.clone());
    }
}
