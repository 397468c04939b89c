//! A loaded plugin and its instances. A [`LoadedPlugin`] holds the
//! pre-linked component (`InstancePre`) and the plugin's context; every call
//! gets a [`PluginInstance`] with a fresh `Store`, an epoch deadline and a
//! memory cap. Traps, missed deadlines and refused memory become typed
//! [`SandboxError`]s naming the plugin, and the runtime keeps serving.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::{Engine, Store, Trap};

use super::accept;
use super::adapter::{self, LegacyInstance, LegacyPre};
use super::bindings::types::PluginInfo;
use super::bindings::{gate, provider, router};
use super::cache::CacheOutcome;
use super::engine::deadline_ticks;
use super::error::SandboxError;
use super::identity::{Identity, World};
use super::state::{CallState, Phase, PluginContext};

pub use gate::exports::orch::plugin::gate::{CheckRequest, CheckResult, Finding, Severity};
pub use provider::exports::orch::plugin::provider::{
    Completion, CompletionRequest, Message, MessageRole, StopReason, Usage,
};
pub use router::exports::orch::plugin::router::{CatalogModel, ModelChoice, ModelHistory, RouteDecision, RouteRequest};

/// Slack on top of the epoch deadline for the host-side timeout that catches
/// calls stuck in host code (where epochs are not checked).
const HOST_TIMEOUT_GRACE: Duration = Duration::from_millis(250);

/// The pre-linked component of one world: of the current contract, or of
/// the previous one served through the adapter.
pub(crate) enum WorldPre {
    Router(router::RouterPluginPre<CallState>),
    Provider(provider::ProviderPluginPre<CallState>),
    Gate(gate::GatePluginPre<CallState>),
    Legacy(LegacyPre),
}

impl WorldPre {
    pub(crate) fn world(&self) -> World {
        match self {
            Self::Router(_) => World::Router,
            Self::Provider(_) => World::Provider,
            Self::Gate(_) => World::Gate,
            Self::Legacy(pre) => pre.world(),
        }
    }
}

/// A live instance's exports.
enum WorldInstance {
    Router(router::RouterPlugin),
    Provider(provider::ProviderPlugin),
    Gate(gate::GatePlugin),
    Legacy(LegacyInstance),
}

impl WorldInstance {
    fn world(&self) -> World {
        match self {
            Self::Router(_) => World::Router,
            Self::Provider(_) => World::Provider,
            Self::Gate(_) => World::Gate,
            Self::Legacy(instance) => instance.world(),
        }
    }
}

/// A pre-linked component with its context: what every instance is made from.
pub(crate) struct Prepared {
    pub(crate) pre: WorldPre,
    pub(crate) context: Arc<PluginContext>,
    pub(crate) engine: Engine,
    pub(crate) slots: Arc<Semaphore>,
}

impl Prepared {
    /// `value`, or the error naming this plugin when it is over a limit.
    pub(crate) fn accepted<T>(&self, value: Result<T, crate::untrusted::Oversized>) -> Result<T, SandboxError> {
        value.map_err(|source| SandboxError::Oversized { plugin: self.context.id(), source })
    }

    /// A fresh instance in its own `Store`, instantiated under the deadline.
    /// `workspace` is mounted read-only for this instance only.
    pub(crate) async fn instantiate(
        &self,
        phase: Phase,
        workspace: Option<&Path>,
    ) -> Result<PluginInstance, SandboxError> {
        let slot = Arc::clone(&self.slots).acquire_owned().await.expect("the slot semaphore is never closed");
        let state = CallState::new(Arc::clone(&self.context), phase, workspace).map_err(|e| SandboxError::Trap {
            plugin: self.context.id(),
            message: format!("cannot prepare the sandbox: {e:#}"),
        })?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        let context = &self.context;
        let exports = match &self.pre {
            WorldPre::Router(pre) => {
                WorldInstance::Router(guarded(&mut store, context, async |s| pre.instantiate_async(s).await).await?)
            }
            WorldPre::Provider(pre) => {
                WorldInstance::Provider(guarded(&mut store, context, async |s| pre.instantiate_async(s).await).await?)
            }
            WorldPre::Gate(pre) => {
                WorldInstance::Gate(guarded(&mut store, context, async |s| pre.instantiate_async(s).await).await?)
            }
            WorldPre::Legacy(pre) => {
                WorldInstance::Legacy(guarded(&mut store, context, async |s| pre.instantiate(s).await).await?)
            }
        };
        Ok(PluginInstance { context: Arc::clone(&self.context), store, exports, poisoned: false, _slot: slot })
    }
}

/// A plugin that passed every load-time check and is ready to serve calls.
pub struct LoadedPlugin {
    pub(crate) info: PluginInfo,
    pub(crate) identity: Identity,
    pub(crate) sha256: String,
    pub(crate) size_bytes: usize,
    pub(crate) source: String,
    pub(crate) cache: CacheOutcome,
    pub(crate) prepared: Prepared,
}

impl LoadedPlugin {
    /// The plugin's self-description.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The world it implements and the contract version it was built for.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// SHA-256 of the component bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Where the component came from (`builtin:NAME` or a path).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether loading used the compiled-component cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache
    }

    /// The plugin's context: grants, config and limits.
    pub fn context(&self) -> &PluginContext {
        &self.prepared.context
    }

    /// Chooses a model: one call on a fresh instance.
    pub async fn route(&self, request: &RouteRequest) -> Result<RouteDecision, SandboxError> {
        let decision = self.instantiate().await?.route(request).await?;
        self.prepared.accepted(accept::decision(decision))
    }

    /// Calls an LLM: one call on a fresh instance, which may also read the
    /// request's idempotency key (if any) as config key
    /// `orch.idempotency-key`, as plugins built for contract 0.1 do.
    pub async fn complete(&self, request: &CompletionRequest) -> Result<Completion, SandboxError> {
        let mut instance = self.instantiate().await?;
        instance.store.data_mut().idempotency_key = request.idempotency_key.clone();
        let completion = instance.complete(request).await?;
        self.prepared.accepted(accept::completion(completion))
    }

    /// Judges a change: one call on a fresh instance that sees the request's
    /// workspace (an absolute directory) read-only and may run commands in it.
    pub async fn check(&self, request: &CheckRequest) -> Result<CheckResult, SandboxError> {
        let workspace = Path::new(&request.workspace);
        let workspace = (workspace.is_absolute() && workspace.is_dir()).then_some(workspace);
        let result = self.prepared.instantiate(Phase::Call, workspace).await?.check(request).await?;
        self.prepared.accepted(accept::check(result))
    }

    /// A fresh instance for normal calls. Calls made on the same instance
    /// share the plugin's memory; the one-shot methods above do not.
    pub async fn instantiate(&self) -> Result<PluginInstance, SandboxError> {
        self.prepared.instantiate(Phase::Call, None).await
    }
}

/// One instance of a plugin with its own `Store`. After a trap or a missed
/// deadline it refuses further calls: a fresh instance is needed.
pub struct PluginInstance {
    context: Arc<PluginContext>,
    store: Store<CallState>,
    exports: WorldInstance,
    poisoned: bool,
    _slot: OwnedSemaphorePermit,
}

impl PluginInstance {
    /// Asks the plugin to describe itself.
    pub async fn describe(&mut self) -> Result<PluginInfo, SandboxError> {
        self.ready()?;
        let context = &self.context;
        let outcome = match &self.exports {
            WorldInstance::Router(r) => {
                guarded(&mut self.store, context, async |s| r.orch_plugin_router().call_describe(s).await).await
            }
            WorldInstance::Provider(p) => {
                guarded(&mut self.store, context, async |s| p.orch_plugin_provider().call_describe(s).await).await
            }
            WorldInstance::Gate(g) => {
                guarded(&mut self.store, context, async |s| g.orch_plugin_gate().call_describe(s).await).await
            }
            WorldInstance::Legacy(l) => guarded(&mut self.store, context, async |s| l.describe(s).await).await,
        };
        self.poisoned = outcome.is_err();
        outcome
    }

    /// Calls `route` (router plugins only).
    pub async fn route(&mut self, request: &RouteRequest) -> Result<RouteDecision, SandboxError> {
        self.ready()?;
        let outcome = match &self.exports {
            WorldInstance::Router(r) => {
                guarded(&mut self.store, &self.context, async |s| r.orch_plugin_router().call_route(s, request).await)
                    .await
            }
            WorldInstance::Legacy(LegacyInstance::Router(r)) => {
                guarded(&mut self.store, &self.context, async |s| adapter::route(r, s, request).await).await
            }
            _ => return Err(self.wrong_kind("route")),
        };
        self.settle(outcome)
    }

    /// Calls `complete` (provider plugins only).
    pub async fn complete(&mut self, request: &CompletionRequest) -> Result<Completion, SandboxError> {
        self.ready()?;
        let outcome = match &self.exports {
            WorldInstance::Provider(p) => {
                let call = async |s: &mut Store<CallState>| p.orch_plugin_provider().call_complete(s, request).await;
                guarded(&mut self.store, &self.context, call).await
            }
            WorldInstance::Legacy(LegacyInstance::Provider(p)) => {
                guarded(&mut self.store, &self.context, async |s| adapter::complete(p, s, request).await).await
            }
            _ => return Err(self.wrong_kind("complete")),
        };
        self.settle(outcome)
    }

    /// Calls `check` (gate plugins only).
    pub async fn check(&mut self, request: &CheckRequest) -> Result<CheckResult, SandboxError> {
        self.ready()?;
        let outcome = match &self.exports {
            WorldInstance::Gate(g) => {
                guarded(&mut self.store, &self.context, async |s| g.orch_plugin_gate().call_check(s, request).await)
                    .await
            }
            WorldInstance::Legacy(LegacyInstance::Gate(g)) => {
                guarded(&mut self.store, &self.context, async |s| adapter::check(g, s, request).await).await
            }
            _ => return Err(self.wrong_kind("check")),
        };
        self.settle(outcome)
    }

    fn ready(&self) -> Result<(), SandboxError> {
        if self.poisoned {
            return Err(SandboxError::Trap {
                plugin: self.context.id(),
                message: "this instance trapped earlier and cannot be entered again; use a fresh one".into(),
            });
        }
        Ok(())
    }

    fn wrong_kind(&self, call: &'static str) -> SandboxError {
        SandboxError::WrongKind { plugin: self.context.id(), kind: self.exports.world().interface(), call }
    }

    /// Splits the trap level from the plugin's own typed error.
    fn settle<T>(
        &mut self,
        outcome: Result<Result<T, super::error::PluginError>, SandboxError>,
    ) -> Result<T, SandboxError> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(SandboxError::Plugin { plugin: self.context.id(), error: accept::error(error) }),
            Err(trap) => {
                self.poisoned = true;
                Err(trap)
            }
        }
    }
}

/// Runs `call` against `store` under the plugin's deadline: an epoch deadline
/// for time spent in wasm, and a host timeout for time spent in host calls.
/// Failures are classified into typed errors.
async fn guarded<R>(
    store: &mut Store<CallState>,
    plugin: &PluginContext,
    call: impl AsyncFnOnce(&mut Store<CallState>) -> wasmtime::Result<R>,
) -> Result<R, SandboxError> {
    let limit = time_limit(store.data().phase, plugin);
    store.data_mut().deadline = Instant::now() + limit;
    store.set_epoch_deadline(deadline_ticks(limit));
    let outcome = tokio::time::timeout(limit + HOST_TIMEOUT_GRACE, call(&mut *store)).await;
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(classify(store.data(), plugin, limit, &error)),
        Err(_elapsed) => Err(SandboxError::Deadline { plugin: plugin.id(), limit_ms: millis(limit), spinning: false }),
    }
}

/// How long a plugin may take to describe itself: it only reads config and
/// logs, so a loop there must not hold every load for the world's timeout.
pub const DESCRIBE_LIMIT: Duration = Duration::from_secs(2);

/// The time limit of a call in `phase`.
fn time_limit(phase: Phase, plugin: &PluginContext) -> Duration {
    match phase {
        Phase::Describe => plugin.limits.timeout.min(DESCRIBE_LIMIT),
        Phase::Call => plugin.limits.timeout,
    }
}

/// Turns a wasmtime error into the most specific typed error.
fn classify(state: &CallState, plugin: &PluginContext, limit: Duration, error: &wasmtime::Error) -> SandboxError {
    let id = plugin.id();
    if state.limiter.exceeded {
        return SandboxError::MemoryLimit { plugin: id, limit_mib: plugin.limits.memory_bytes >> 20 };
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return SandboxError::Deadline { plugin: id, limit_ms: millis(limit), spinning: true };
    }
    if let Some(message) = panic_message(&state.stderr_text()) {
        return SandboxError::Panic { plugin: id, message };
    }
    SandboxError::Trap { plugin: id, message: format!("{error:#}") }
}

/// The message of a Rust panic as written to stderr
/// (`thread '…' panicked at FILE:LINE:COL:\nMESSAGE\nnote: …`).
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at ")?;
    let rest = &stderr[start + "panicked at ".len()..];
    let (location, body) = rest.split_once('\n').unwrap_or((rest, ""));
    let location = location.trim_end_matches(':');
    let message: Vec<&str> = body.lines().take_while(|l| !l.starts_with("note: ")).collect();
    Some(format!("{} (at {location})", message.join("\n").trim()))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn extracts_rust_panic_messages() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:12:9:\nthe plugin gave up\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(panic_message(stderr).as_deref(), Some("the plugin gave up (at src/lib.rs:12:9)"));
        assert_eq!(panic_message("plain stderr output"), None);
    }
}
