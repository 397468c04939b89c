//! The `orch:plugin/host` interface as plugins see it: log, config, HTTP and
//! exec, each checked against the calling plugin's grants and phase.

use super::audit::{AuditEvent, Capability};
use super::bindings::host::Host;
use super::bindings::types::{self, Command, CommandOutput, HttpRequest, HttpResponse, LogLevel, PluginError};
use super::state::{CallState, IDEMPOTENCY_KEY_CONFIG, Phase};
use super::{exec, http};

impl types::Host for CallState {}

impl Host for CallState {
    async fn log(&mut self, level: LogLevel, message: String) {
        let caps = self.plugin.services.caps;
        self.log_lines += 1;
        if self.log_lines > caps.log_lines_per_call {
            return;
        }
        let message = if self.log_lines == caps.log_lines_per_call {
            format!(
                "{} (log line limit reached; further lines of this call are dropped)",
                &message[..message.floor_char_boundary(caps.log_line_bytes)]
            )
        } else {
            message[..message.floor_char_boundary(caps.log_line_bytes)].to_owned()
        };
        self.plugin.audit(&AuditEvent::Log { plugin: self.plugin.id(), level, message });
    }

    async fn config(&mut self, key: String) -> Option<String> {
        if key == IDEMPOTENCY_KEY_CONFIG {
            return self.idempotency_key.clone();
        }
        self.plugin.config.get(&key).cloned()
    }

    async fn http_send(&mut self, request: HttpRequest) -> Result<HttpResponse, PluginError> {
        self.refuse_during_describe(Capability::Http, "http-send")?;
        http::send(&self.plugin, request, self.remaining()).await
    }

    async fn exec(&mut self, command: Command) -> Result<CommandOutput, PluginError> {
        self.refuse_during_describe(Capability::Exec, "exec")?;
        exec::run(&self.plugin, self.workspace.as_deref(), command, self.remaining()).await
    }
}

impl CallState {
    fn refuse_during_describe(&self, capability: Capability, call: &str) -> Result<(), PluginError> {
        if self.phase == Phase::Call {
            return Ok(());
        }
        Err(self.plugin.deny(capability, format!("`{call}` is not available while the plugin describes itself")))
    }
}
