//! The data behind every plugin `Store`: the shared, read-only context of a
//! loaded plugin (identity, grants, config, limits, host services) and the
//! per-call state (WASI context, resource table, memory limiter, captured
//! stderr). A fresh `CallState` is made for every call, so nothing leaks
//! between tasks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::audit::{AuditEvent, AuditSink, Capability};
use super::bindings::types::PluginError;
use super::error::PluginId;
use super::grants::Grants;
use super::secrets::SecretSource;

/// Resource limits of one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory the plugin may use, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time one call may take, including host calls it makes.
    pub timeout: Duration,
}

/// Size caps the host applies to what flows back into a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCaps {
    /// Largest HTTP response body handed to a plugin.
    pub http_response_bytes: usize,
    /// Largest stdout (and, separately, stderr) of a command.
    pub command_output_bytes: usize,
    /// Largest stderr kept from the plugin itself (panic messages).
    pub plugin_stderr_bytes: usize,
    /// Most log lines one call may write; the rest are dropped.
    pub log_lines_per_call: u32,
    /// Longest log line kept; longer ones are cut.
    pub log_line_bytes: usize,
}

impl Default for OutputCaps {
    fn default() -> Self {
        Self {
            http_response_bytes: 16 << 20,
            command_output_bytes: 1 << 20,
            plugin_stderr_bytes: 64 << 10,
            log_lines_per_call: 1000,
            log_line_bytes: 8 << 10,
        }
    }
}

/// Services the host offers every plugin, shared by all of them.
pub struct HostServices {
    /// The HTTP client behind `http-send`, made on first use.
    pub http: OnceLock<reqwest::Client>,
    /// Where secret values come from.
    pub secrets: Arc<dyn SecretSource>,
    /// Where audit events go.
    pub audit: Arc<dyn AuditSink>,
    /// Output size caps.
    pub caps: OutputCaps,
    /// How commands are confined by the kernel.
    pub confinement: crate::confine::Confinement,
}

impl HostServices {
    /// The HTTP client: rustls, no redirects (a redirect could leave the
    /// granted origins), proxies from the environment.
    pub fn http_client(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("orch/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the TLS backend initialises")
        })
    }
}

/// Everything about a loaded plugin that calls share.
pub struct PluginContext {
    /// Config name; the version is filled in once the plugin has described itself.
    pub name: String,
    /// The version the plugin reported.
    pub version: OnceLock<String>,
    /// What the operator granted.
    pub grants: Grants,
    /// `[plugins.NAME.config]`, values rendered as strings.
    pub config: BTreeMap<String, String>,
    /// Memory and time limits.
    pub limits: Limits,
    /// Shared host services.
    pub services: Arc<HostServices>,
}

impl PluginContext {
    /// The plugin's name and (once known) version, for messages.
    pub fn id(&self) -> PluginId {
        PluginId { name: self.name.clone(), version: self.version.get().cloned() }
    }

    /// Hands `event` to the audit sink.
    pub fn audit(&self, event: &AuditEvent) {
        self.services.audit.record(event);
    }

    /// Records a refused use of `capability` and returns the `denied` error
    /// the plugin gets. `detail` quotes what the plugin asked for, so it is
    /// shortened to a line's limit.
    pub fn deny(&self, capability: Capability, detail: String) -> PluginError {
        let detail = crate::untrusted::shortened(&detail, crate::untrusted::LINE_BYTES);
        self.audit(&AuditEvent::Denied { plugin: self.id(), capability, detail: detail.clone() });
        PluginError::Denied(detail)
    }
}

/// Which phase a store is in: `describe` may read config and log, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Loading: only `log` and `config`.
    Describe,
    /// A normal call: everything the grants allow.
    Call,
}

/// Caps linear memory growth and remembers that the cap was hit, so a trap
/// can be reported as "memory limit" rather than a generic failure.
pub struct MemoryLimiter {
    limit: usize,
    /// Bytes of every linear memory of the instance, together.
    memory_bytes: usize,
    /// Elements of every table of the instance, together.
    table_elements: usize,
    /// Set when a growth beyond `limit` was refused.
    pub exceeded: bool,
}

/// Most table elements of one instance, all tables together.
const TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryLimiter {
    /// A cap of `limit` bytes for all the memories of one instance.
    pub fn new(limit: usize) -> Self {
        Self { limit, memory_bytes: 0, table_elements: 0, exceeded: false }
    }
}

impl ResourceLimiter for MemoryLimiter {
    /// The cap holds for the sum of every memory: a component with many
    /// memories gets no more than one with a single memory.
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_bytes - current.min(self.memory_bytes) + desired;
        if total > self.limit {
            self.exceeded = true;
            return Err(wasmtime::format_err!("memory limit of {} bytes reached", self.limit));
        }
        self.memory_bytes = total;
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.table_elements - current.min(self.table_elements) + desired;
        if total > TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_elements = total;
        Ok(true)
    }
}

/// The data of one call's `Store`.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The memory cap of this call.
    pub limiter: MemoryLimiter,
    /// The loaded plugin's shared context.
    pub plugin: Arc<PluginContext>,
    /// What the plugin wrote to stderr (panic messages end up here).
    pub stderr: MemoryOutputPipe,
    /// Describe or call.
    pub phase: Phase,
    /// When the call must be over; host calls shorten their own timeouts to it.
    pub deadline: Instant,
    /// Log lines written so far in this call.
    pub log_lines: u32,
    /// The task workspace a gate call judges, mounted read-only for this call
    /// only; commands may run in it.
    pub workspace: Option<PathBuf>,
    /// The host's idempotency key for this call (completions), which the
    /// plugin reads as config key [`IDEMPOTENCY_KEY_CONFIG`].
    pub idempotency_key: Option<String>,
}

/// The config key under which a provider reads the idempotency key of the
/// call it serves: the same every time the host makes that call again (after
/// a kill, or a transient error), different for every other call. Set by the
/// host, never by `orch.toml`.
pub const IDEMPOTENCY_KEY_CONFIG: &str = "orch.idempotency-key";

impl CallState {
    /// Fresh state for one call of `plugin`: no environment, no arguments, no
    /// network sockets, stdin closed, stdout discarded, stderr captured, and
    /// the granted read paths (and the call's `workspace`, if any) mounted
    /// read-only at their own paths.
    pub fn new(plugin: Arc<PluginContext>, phase: Phase, workspace: Option<&Path>) -> anyhow::Result<Self> {
        let stderr = MemoryOutputPipe::new(plugin.services.caps.plugin_stderr_bytes);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone()).allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        if phase == Phase::Call {
            for path in plugin.grants.read_paths.iter().map(PathBuf::as_path).chain(workspace) {
                let guest = path.to_string_lossy();
                wasi.preopened_dir(path, guest.as_ref(), FsPerms::ReadOnly)
                    .map_err(|e| anyhow::anyhow!("{e:#}"))
                    .with_context(|| format!("mounting granted read path {}", path.display()))?;
            }
        }
        let limit = usize::try_from(plugin.limits.memory_bytes).unwrap_or(usize::MAX);
        let deadline = Instant::now() + plugin.limits.timeout;
        Ok(Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limit),
            plugin,
            stderr,
            phase,
            deadline,
            log_lines: 0,
            workspace: workspace.map(Path::to_owned),
            idempotency_key: None,
        })
    }

    /// Time left before the call's deadline (zero when it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// What the plugin wrote to stderr, as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_cap_holds_for_all_memories_together() {
        let mib = 1 << 20;
        let mut limiter = MemoryLimiter::new(128 * mib);
        // 48 memories of 2 MiB each were fine on their own; together they stop at the cap.
        let grown = (0..100).take_while(|_| limiter.memory_growing(0, 2 * mib, None).is_ok()).count();
        assert_eq!(grown, 64);
        assert!(limiter.exceeded);
        // Growing one memory counts only the difference.
        let mut limiter = MemoryLimiter::new(128 * mib);
        assert!(limiter.memory_growing(0, 64 * mib, None).unwrap());
        assert!(limiter.memory_growing(64 * mib, 120 * mib, None).unwrap());
        assert!(limiter.memory_growing(0, 16 * mib, None).is_err(), "120 + 16 > 128");
        assert!(!limiter.table_growing(0, TABLE_ELEMENTS + 1, None).unwrap());
        assert!(limiter.table_growing(0, TABLE_ELEMENTS / 2, None).unwrap());
        assert!(!limiter.table_growing(0, TABLE_ELEMENTS / 2 + 1, None).unwrap(), "tables are summed too");
    }
}
