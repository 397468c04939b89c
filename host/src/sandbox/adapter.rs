//! Plugins built for the previous contract, `orch:plugin@0.1.0`, served
//! through the current one: the one place that maps 0.2 requests down to
//! 0.1 and 0.1 answers up to 0.2, and serves the 0.1 `host` interface by
//! delegating to the 0.2 one. The two versions share their `types`, so only
//! the records of the world interfaces are mapped. What 0.1 cannot carry is
//! dropped on the way down (a router's catalog and history, a response
//! schema); the idempotency key still reaches a 0.1 provider as config key
//! `orch.idempotency-key`.

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::bindings::types::{Command, CommandOutput, HttpRequest, HttpResponse, LogLevel, PluginError, PluginInfo};
use super::bindings::v0_1::{gate, host, provider, router};
use super::bindings::{gate as current_gate, provider as current_provider, router as current_router};
use super::identity::World;
use super::state::CallState;

type RouteRequest = current_router::exports::orch::plugin::router::RouteRequest;
type RouteDecision = current_router::exports::orch::plugin::router::RouteDecision;
type CompletionRequest = current_provider::exports::orch::plugin::provider::CompletionRequest;
type Completion = current_provider::exports::orch::plugin::provider::Completion;
type CheckRequest = current_gate::exports::orch::plugin::gate::CheckRequest;
type CheckResult = current_gate::exports::orch::plugin::gate::CheckResult;

impl host::Host for CallState {
    async fn log(&mut self, level: LogLevel, message: String) {
        super::bindings::host::Host::log(self, level, message).await
    }

    async fn config(&mut self, key: String) -> Option<String> {
        super::bindings::host::Host::config(self, key).await
    }

    async fn http_send(&mut self, request: HttpRequest) -> Result<HttpResponse, PluginError> {
        super::bindings::host::Host::http_send(self, request).await
    }

    async fn exec(&mut self, command: Command) -> Result<CommandOutput, PluginError> {
        super::bindings::host::Host::exec(self, command).await
    }
}

/// Serves the 0.1 `host` interface (under its 0.1 name) in `linker`.
pub(crate) fn link(linker: &mut wasmtime::component::Linker<CallState>) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    router::RouterPlugin::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)
}

/// The pre-linked component of a 0.1 world.
pub(crate) enum LegacyPre {
    Router(router::RouterPluginPre<CallState>),
    Provider(provider::ProviderPluginPre<CallState>),
    Gate(gate::GatePluginPre<CallState>),
}

impl LegacyPre {
    pub(crate) fn new(world: World, pre: InstancePre<CallState>) -> wasmtime::Result<Self> {
        Ok(match world {
            World::Router => Self::Router(router::RouterPluginPre::new(pre)?),
            World::Provider => Self::Provider(provider::ProviderPluginPre::new(pre)?),
            World::Gate => Self::Gate(gate::GatePluginPre::new(pre)?),
        })
    }

    pub(crate) fn world(&self) -> World {
        match self {
            Self::Router(_) => World::Router,
            Self::Provider(_) => World::Provider,
            Self::Gate(_) => World::Gate,
        }
    }

    pub(crate) async fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<LegacyInstance> {
        Ok(match self {
            Self::Router(pre) => LegacyInstance::Router(pre.instantiate_async(store).await?),
            Self::Provider(pre) => LegacyInstance::Provider(pre.instantiate_async(store).await?),
            Self::Gate(pre) => LegacyInstance::Gate(pre.instantiate_async(store).await?),
        })
    }
}

/// A live 0.1 instance's exports.
pub(crate) enum LegacyInstance {
    Router(router::RouterPlugin),
    Provider(provider::ProviderPlugin),
    Gate(gate::GatePlugin),
}

impl LegacyInstance {
    pub(crate) fn world(&self) -> World {
        match self {
            Self::Router(_) => World::Router,
            Self::Provider(_) => World::Provider,
            Self::Gate(_) => World::Gate,
        }
    }

    pub(crate) async fn describe(&self, store: &mut Store<CallState>) -> wasmtime::Result<PluginInfo> {
        match self {
            Self::Router(r) => r.orch_plugin_router().call_describe(store).await,
            Self::Provider(p) => p.orch_plugin_provider().call_describe(store).await,
            Self::Gate(g) => g.orch_plugin_gate().call_describe(store).await,
        }
    }
}

/// Calls a 0.1 router's `route`.
pub(crate) async fn route(
    r: &router::RouterPlugin,
    store: &mut Store<CallState>,
    request: &RouteRequest,
) -> wasmtime::Result<Result<RouteDecision, PluginError>> {
    let request = router::exports::orch::plugin::router::RouteRequest {
        role: request.role,
        task: request.task.clone(),
        attempt: request.attempt,
        step_kind: request.step_kind.clone(),
        step_complexity: request.step_complexity.clone(),
        author_model: request.author_model.clone(),
    };
    let outcome = r.orch_plugin_router().call_route(store, &request).await;
    outcome.map(|answer| answer.map(decision))
}

/// Calls a 0.1 provider's `complete`.
pub(crate) async fn complete(
    p: &provider::ProviderPlugin,
    store: &mut Store<CallState>,
    request: &CompletionRequest,
) -> wasmtime::Result<Result<Completion, PluginError>> {
    use provider::exports::orch::plugin::provider as old;
    let request = old::CompletionRequest {
        model: request.model.clone(),
        messages: request
            .messages
            .iter()
            .map(|m| old::Message { role: message_role(m.role), content: m.content.clone() })
            .collect(),
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        stop: request.stop.clone(),
        json_mode: request.json_mode,
    };
    let outcome = p.orch_plugin_provider().call_complete(store, &request).await;
    outcome.map(|answer| answer.map(completion))
}

/// Calls a 0.1 gate's `check`.
pub(crate) async fn check(
    g: &gate::GatePlugin,
    store: &mut Store<CallState>,
    request: &CheckRequest,
) -> wasmtime::Result<Result<CheckResult, PluginError>> {
    let request = gate::exports::orch::plugin::gate::CheckRequest {
        task: request.task.clone(),
        workspace: request.workspace.clone(),
        changed_files: request.changed_files.clone(),
        diff: request.diff.clone(),
        change_size: request.change_size.clone(),
    };
    let outcome = g.orch_plugin_gate().call_check(store, &request).await;
    outcome.map(|answer| answer.map(check_result))
}

fn decision(d: router::exports::orch::plugin::router::RouteDecision) -> RouteDecision {
    use current_router::exports::orch::plugin::router::ModelChoice;
    RouteDecision {
        provider: d.provider,
        model: d.model,
        reason: d.reason,
        fallbacks: d.fallbacks.into_iter().map(|f| ModelChoice { provider: f.provider, model: f.model }).collect(),
    }
}

fn message_role(
    role: current_provider::exports::orch::plugin::provider::MessageRole,
) -> provider::exports::orch::plugin::provider::MessageRole {
    use current_provider::exports::orch::plugin::provider::MessageRole as New;
    use provider::exports::orch::plugin::provider::MessageRole as Old;
    match role {
        New::System => Old::System,
        New::User => Old::User,
        New::Assistant => Old::Assistant,
    }
}

fn completion(c: provider::exports::orch::plugin::provider::Completion) -> Completion {
    use current_provider::exports::orch::plugin::provider::{StopReason as New, Usage};
    use provider::exports::orch::plugin::provider::StopReason as Old;
    Completion {
        text: c.text,
        usage: Usage {
            input_tokens: c.usage.input_tokens,
            output_tokens: c.usage.output_tokens,
            cached_input_tokens: c.usage.cached_input_tokens,
            cache_write_tokens: 0,
        },
        stop_reason: match c.stop_reason {
            Old::EndTurn => New::EndTurn,
            Old::MaxTokens => New::MaxTokens,
            Old::StopSequence => New::StopSequence,
            Old::ContentFilter => New::ContentFilter,
            Old::Other => New::Other,
        },
        model: c.model,
    }
}

fn check_result(r: gate::exports::orch::plugin::gate::CheckResult) -> CheckResult {
    use current_gate::exports::orch::plugin::gate::{Finding, Severity as New};
    use gate::exports::orch::plugin::gate::Severity as Old;
    CheckResult {
        passed: r.passed,
        summary: r.summary,
        findings: r
            .findings
            .into_iter()
            .map(|f| Finding {
                severity: match f.severity {
                    Old::Error => New::Error,
                    Old::Warning => New::Warning,
                    Old::Info => New::Info,
                },
                file: f.file,
                line: f.line,
                message: f.message,
            })
            .collect(),
    }
}
