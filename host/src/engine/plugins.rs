//! The strategies the engine calls — a router, providers by name, gates by
//! name — behind one small trait, so the pipeline is tested with fakes and run
//! with sandboxed components ([`SandboxPlugins`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;

use crate::config::LoadedConfig;
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
    /// takes an idempotency key may send `idempotency_key` as one.
    fn complete(
        &self,
        provider: &str,
        request: &CompletionRequest,
        idempotency_key: &str,
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
}

fn label(plugin: &LoadedPlugin) -> String {
    format!("{} {}", plugin.context().id().name, plugin.info().version)
}

impl SandboxPlugins {
    /// Loads every configured plugin; `router` must be among them.
    pub async fn load(runtime: &Runtime, config: &LoadedConfig, router: &str) -> anyhow::Result<Self> {
        let mut by_kind: [BTreeMap<String, Arc<LoadedPlugin>>; 3] = Default::default();
        for spec in config.plugin_specs()? {
            let name = spec.name.clone();
            let plugin = runtime.load(spec).await.with_context(|| format!("while loading plugin `{name}`"))?;
            let slot = match plugin.info().kind {
                PluginKind::Router => 0,
                PluginKind::Provider => 1,
                PluginKind::Gate => 2,
            };
            by_kind[slot].insert(name, Arc::new(plugin));
        }
        let [mut routers, providers, gates] = by_kind;
        let router = routers.remove(router).with_context(|| {
            format!(
                "[pipeline] router = \"{router}\" is not a configured router plugin in {}",
                config.shown_path().display()
            )
        })?;
        Ok(Self { router, providers, gates })
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

    fn named<'a>(
        map: &'a BTreeMap<String, Arc<LoadedPlugin>>,
        kind: &str,
        name: &str,
    ) -> Result<&'a LoadedPlugin, CallError> {
        map.get(name).map(|p| &**p).ok_or_else(|| {
            let known = map.keys().cloned().collect::<Vec<_>>().join(", ");
            CallError::new(
                ErrorKind::Fatal,
                format!(
                    "no {kind} plugin `{name}` is configured (configured: {}); add [plugins.{name}] to orch.toml",
                    if known.is_empty() { "none" } else { &known }
                ),
            )
        })
    }
}

impl Plugins for SandboxPlugins {
    async fn route(&self, request: &RouteRequest) -> Result<Served<RouteDecision>, CallError> {
        let value = self.router.route(request).await?;
        Ok(Served { value, plugin: label(&self.router) })
    }

    async fn complete(
        &self,
        provider: &str,
        request: &CompletionRequest,
        idempotency_key: &str,
    ) -> Result<Served<Completion>, CallError> {
        let plugin = Self::named(&self.providers, "provider", provider)?;
        let value = plugin.complete(request, Some(idempotency_key)).await?;
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
        let plugin = Self::named(&self.gates, "gate", gate)?;
        let value = plugin.check(request).await?;
        Ok(Served { value, plugin: label(plugin) })
    }
}
