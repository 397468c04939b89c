//! The strategies the engine calls — a router, providers by name, gates by
//! name — behind one small trait, so the pipeline is tested with fakes and run
//! with sandboxed components ([`SandboxPlugins`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;

use super::GatePolicy;
use crate::config::{ConfigError, LoadedConfig};
use crate::retry::{CallError, ErrorKind};
use crate::sandbox::{
    CheckRequest, CheckResult, Completion, CompletionRequest, LoadedPlugin, PluginKind, RouteDecision, RouteRequest,
    Runtime, SecretSource,
};

/// A result and the plugin (name and version) that produced it.
#[derive(Debug, Clone)]
pub struct Served<T> {
    /// The result.
    pub value: T,
    /// `name version` of the plugin.
    pub plugin: String,
}

/// What the engine needs from its strategies.
pub trait Plugins: Send + Sync + 'static {
    /// Picks a model for a role.
    fn route(&self, request: &RouteRequest) -> impl Future<Output = Result<Served<RouteDecision>, CallError>> + Send;
    /// Asks provider plugin `provider` for a completion; a provider whose API
    /// takes an idempotency key may send the request's as one.
    fn complete(
        &self,
        provider: &str,
        request: &CompletionRequest,
    ) -> impl Future<Output = Result<Served<Completion>, CallError>> + Send;
    /// Who gate `gate` is and how it is configured, as text that changes
    /// when either does (its recorded results then no longer hold).
    fn gate_identity(&self, _gate: &str) -> String {
        String::new()
    }
    /// Runs gate plugin `gate`.
    fn check(
        &self,
        gate: &str,
        request: &CheckRequest,
    ) -> impl Future<Output = Result<Served<CheckResult>, CallError>> + Send;
}

/// Plugins loaded from `orch.toml` into the sandbox.
pub struct SandboxPlugins {
    router: Arc<LoadedPlugin>,
    providers: BTreeMap<String, Arc<LoadedPlugin>>,
    gates: BTreeMap<String, Arc<LoadedPlugin>>,
    /// Every configured plugin's kind, by name: what a slot naming a plugin
    /// of another kind is told.
    kinds: BTreeMap<String, PluginKind>,
}

fn label(plugin: &LoadedPlugin) -> String {
    format!("{} {}", plugin.context().id().name, plugin.info().version)
}

/// `router`, `provider` or `gate`.
fn kind_name(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Router => "router",
        PluginKind::Provider => "provider",
        PluginKind::Gate => "gate",
    }
}

/// The names in `names`, or `none`.
fn listed<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

impl SandboxPlugins {
    /// Loads every configured plugin; `router` must be among them, and be a
    /// router (a configuration error, naming what it is, otherwise).
    pub async fn load(runtime: &Runtime, config: &LoadedConfig, router: &str) -> anyhow::Result<Self> {
        let mut by_kind: [BTreeMap<String, Arc<LoadedPlugin>>; 3] = Default::default();
        let mut kinds = BTreeMap::new();
        for spec in config.plugin_specs()? {
            let name = spec.name.clone();
            let plugin = runtime.load(spec).await.with_context(|| format!("while loading plugin `{name}`"))?;
            let slot = match plugin.info().kind {
                PluginKind::Router => 0,
                PluginKind::Provider => 1,
                PluginKind::Gate => 2,
            };
            kinds.insert(name.clone(), plugin.info().kind);
            by_kind[slot].insert(name, Arc::new(plugin));
        }
        let [mut routers, providers, gates] = by_kind;
        let configured = listed(routers.keys());
        let Some(router) = routers.remove(router) else {
            let message = match kinds.get(router) {
                Some(kind) => format!(
                    "`{router}` is a {} plugin; [pipeline] router needs a router; configured routers: {configured}",
                    kind_name(*kind)
                ),
                None => format!(
                    "[pipeline] router = \"{router}\" names no configured plugin; configured routers: {configured} \
                     (a router of your own needs [plugins.{router}] with the path of its .wasm)"
                ),
            };
            return Err(ConfigError::Invalid { path: config.shown_path(), message }.into());
        };
        Ok(Self { router, providers, gates, kinds })
    }

    /// Refuses a `[gates]` list naming a plugin that is not a gate (a name
    /// no plugin is configured for is not this error: it is skipped).
    pub fn check_gates(&self, config: &LoadedConfig, policy: &GatePolicy) -> Result<(), ConfigError> {
        for (list, names) in policy.lists() {
            for name in names {
                match self.kinds.get(name) {
                    Some(kind) if *kind != PluginKind::Gate => {
                        let message = format!(
                            "`{name}` is a {} plugin; [gates] {list} needs gates; configured gates: {}",
                            kind_name(*kind),
                            listed(self.gates.keys())
                        );
                        return Err(ConfigError::Invalid { path: config.shown_path(), message });
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Whether a gate plugin named `name` is configured.
    pub fn has_gate(&self, name: &str) -> bool {
        self.gates.contains_key(name)
    }

    /// Providers that need a secret `secrets` does not have, each with the
    /// first such secret's name.
    pub fn providers_missing_secrets(&self, secrets: &dyn SecretSource) -> BTreeMap<String, String> {
        self.providers
            .iter()
            .filter_map(|(name, plugin)| {
                let missing = plugin.info().capabilities.secrets.iter().find(|s| secrets.get(s).is_none())?;
                Some((name.clone(), missing.clone()))
            })
            .collect()
    }

    /// The plugin of `kind` named `name`; a name of another kind says what it is.
    fn named<'a>(
        &self,
        map: &'a BTreeMap<String, Arc<LoadedPlugin>>,
        kind: PluginKind,
        name: &str,
    ) -> Result<&'a LoadedPlugin, CallError> {
        map.get(name).map(|p| &**p).ok_or_else(|| {
            let wanted = kind_name(kind);
            let configured = listed(map.keys());
            let slot = match kind {
                PluginKind::Provider => "the router's decision",
                _ => "a [gates] list",
            };
            let message = match self.kinds.get(name) {
                Some(other) => format!(
                    "`{name}` is a {} plugin; {slot} needs a {wanted}; configured {wanted}s: {configured}",
                    kind_name(*other)
                ),
                None => format!(
                    "no {wanted} plugin `{name}` is configured (configured: {configured}); add [plugins.{name}] to orch.toml"
                ),
            };
            CallError::new(ErrorKind::Fatal, message)
        })
    }
}

impl Plugins for SandboxPlugins {
    async fn route(&self, request: &RouteRequest) -> Result<Served<RouteDecision>, CallError> {
        let value = self.router.route(request).await?;
        Ok(Served { value, plugin: label(&self.router) })
    }

    async fn complete(&self, provider: &str, request: &CompletionRequest) -> Result<Served<Completion>, CallError> {
        let plugin = self.named(&self.providers, PluginKind::Provider, provider)?;
        let value = plugin.complete(request).await?;
        Ok(Served { value, plugin: label(plugin) })
    }

    fn gate_identity(&self, gate: &str) -> String {
        match self.gates.get(gate) {
            Some(plugin) => {
                let config = serde_json::to_string(&plugin.context().config).expect("config maps serialise");
                format!("{} {} {config}", plugin.sha256(), label(plugin))
            }
            None => String::new(),
        }
    }

    async fn check(&self, gate: &str, request: &CheckRequest) -> Result<Served<CheckResult>, CallError> {
        let plugin = self.named(&self.gates, PluginKind::Gate, gate)?;
        let value = plugin.check(request).await?;
        Ok(Served { value, plugin: label(plugin) })
    }
}
