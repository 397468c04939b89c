//! The plugin runtime: one engine, one linker and one compiled-component
//! cache for the process, and [`Runtime::load`], which takes a plugin from
//! bytes to a [`LoadedPlugin`] through every load-time check — content pin,
//! contract version (before instantiation), self-description, grants.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

use super::adapter::LegacyPre;
use super::audit::{AuditSink, TracingAudit};
use super::bindings::types::{PluginInfo, PluginKind};
use super::bindings::{gate, provider, router};
use super::builtin;
use super::cache::{CacheOutcome, ComponentCache};
use super::engine::{self, EpochTicker, MAX_LIVE_INSTANCES};
use super::error::{PluginId, SandboxError};
use super::grants::Grants;
use super::identity::{self, Identity, World};
use super::plugin::{LoadedPlugin, Prepared, WorldPre};
use super::secrets::{EnvSecrets, SecretSource};
use super::special_files;
use super::state::{CallState, HostServices, Limits, OutputCaps, Phase, PluginContext};
use crate::confine::Confinement;

/// Where a plugin's component comes from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    /// A first-party plugin embedded in the binary, by name.
    Builtin(String),
    /// A `.wasm` component file.
    File(PathBuf),
}

impl PluginSource {
    fn describe(&self) -> String {
        match self {
            Self::Builtin(name) => format!("builtin:{name}"),
            Self::File(path) => path.display().to_string(),
        }
    }
}

/// Everything needed to load one plugin.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// The name it is configured under (`[plugins.NAME]`).
    pub name: String,
    /// Where its component comes from.
    pub source: PluginSource,
    /// An optional SHA-256 pin of the component bytes.
    pub sha256: Option<String>,
    /// What the operator grants it.
    pub grants: Grants,
    /// Its config values, rendered as strings.
    pub config: BTreeMap<String, String>,
    /// Memory cap in bytes; `None` for the default.
    pub memory_bytes: Option<u64>,
    /// Time limit per call; `None` for the default of the plugin's world.
    pub timeout: Option<Duration>,
}

impl PluginSpec {
    /// A spec with no grants, no config and default limits.
    pub fn new(name: impl Into<String>, source: PluginSource) -> Self {
        Self {
            name: name.into(),
            source,
            sha256: None,
            grants: Grants::default(),
            config: BTreeMap::new(),
            memory_bytes: None,
            timeout: None,
        }
    }

    /// The limits that apply once the plugin's world is known.
    pub fn limits(&self, world: World) -> Limits {
        let defaults = default_limits(world);
        Limits {
            memory_bytes: self.memory_bytes.unwrap_or(defaults.memory_bytes),
            timeout: self.timeout.unwrap_or(defaults.timeout),
        }
    }
}

/// Default limits: 128 MiB of memory; time by world (routers are pure
/// compute, providers wait on LLMs, gates run test suites).
pub fn default_limits(world: World) -> Limits {
    let timeout = match world {
        World::Router => Duration::from_secs(2),
        World::Provider => Duration::from_secs(300),
        World::Gate => Duration::from_secs(600),
    };
    Limits { memory_bytes: 128 << 20, timeout }
}

/// A compiled component and what is known about it before it runs.
struct Compiled {
    component: Component,
    identity: Identity,
    sha256: String,
    cache: CacheOutcome,
    size_bytes: usize,
}

/// What `orch plugin inspect` shows about a component.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The plugin's self-description, including requested capabilities.
    pub info: PluginInfo,
    /// Its world and contract version.
    pub identity: Identity,
    /// SHA-256 of the component bytes.
    pub sha256: String,
    /// Size of the component in bytes.
    pub size_bytes: usize,
}

/// Options for building a [`Runtime`].
pub struct RuntimeBuilder {
    cache_dir: Option<PathBuf>,
    secrets: Arc<dyn SecretSource>,
    audit: Arc<dyn AuditSink>,
    caps: OutputCaps,
    confinement: Confinement,
    load_limit: Duration,
}

/// The largest component file orch reads.
pub const MAX_COMPONENT_BYTES: u64 = 256 << 20;

/// How long loading one plugin may take by default: reading, compiling (a
/// cold cache), linking and `describe()` together.
pub const LOAD_LIMIT: Duration = Duration::from_secs(300);

impl RuntimeBuilder {
    /// Gives up on a plugin whose load takes longer than `limit` (default [`LOAD_LIMIT`]).
    pub fn load_limit(mut self, limit: Duration) -> Self {
        self.load_limit = limit;
        self
    }

    /// Confines commands as `confinement` says (default: through this
    /// executable, which must run [`crate::confine::helper::main`] when
    /// asked; see [`Confinement::this_executable`]).
    pub fn confinement(mut self, confinement: Confinement) -> Self {
        self.confinement = confinement;
        self
    }

    /// Stores compiled components in `dir` instead of the default cache dir.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Takes secret values from `secrets` instead of the environment.
    pub fn secrets(mut self, secrets: Arc<dyn SecretSource>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Sends audit events to `audit` instead of `tracing`.
    pub fn audit(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = audit;
        self
    }

    /// Overrides the output size caps.
    pub fn output_caps(mut self, caps: OutputCaps) -> Self {
        self.caps = caps;
        self
    }

    /// Creates the engine, starts the epoch ticker and links the host imports.
    pub fn build(self) -> anyhow::Result<Runtime> {
        let engine = engine::build()?;
        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("linking WASI: {e:#}"))?;
        special_files::guard_open_at(&mut linker).map_err(|e| anyhow::anyhow!("guarding WASI's open-at: {e:#}"))?;
        // All three worlds import the same `host` and `types`; linking them
        // once through any world's bindings serves every plugin, and once
        // more under the previous contract's name.
        router::RouterPlugin::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(|e| anyhow::anyhow!("linking the host interface: {e:#}"))?;
        super::adapter::link(&mut linker).map_err(|e| anyhow::anyhow!("linking the previous host interface: {e:#}"))?;
        Ok(Runtime {
            _ticker: EpochTicker::start(engine.clone()),
            engine,
            linker,
            cache: ComponentCache::new(self.cache_dir.unwrap_or_else(ComponentCache::default_dir)),
            services: Arc::new(HostServices {
                http: OnceLock::new(),
                secrets: self.secrets,
                audit: self.audit,
                caps: self.caps,
                confinement: self.confinement,
            }),
            slots: Arc::new(Semaphore::new(MAX_LIVE_INSTANCES as usize)),
            load_limit: self.load_limit,
        })
    }
}

/// The process's plugin runtime.
pub struct Runtime {
    engine: Engine,
    _ticker: EpochTicker,
    linker: Linker<CallState>,
    cache: ComponentCache,
    services: Arc<HostServices>,
    slots: Arc<Semaphore>,
    load_limit: Duration,
}

impl Runtime {
    /// Options: cache dir, secret source, audit sink, output caps.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            cache_dir: None,
            secrets: Arc::new(EnvSecrets),
            audit: Arc::new(TracingAudit),
            caps: OutputCaps::default(),
            confinement: Confinement::this_executable(),
            load_limit: LOAD_LIMIT,
        }
    }

    /// The engine every plugin runs on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The compiled-component cache.
    pub fn cache(&self) -> &ComponentCache {
        &self.cache
    }

    /// Reads `source` and returns its bytes.
    fn read_source(&self, plugin: &PluginId, source: &PluginSource) -> Result<Cow<'static, [u8]>, SandboxError> {
        let load_error =
            |message: String| SandboxError::Load { plugin: plugin.clone(), source_desc: source.describe(), message };
        match source {
            PluginSource::Builtin(name) => builtin::get(name).map(Cow::Borrowed).ok_or_else(|| {
                load_error(format!(
                    "there is no builtin plugin `{name}`; builtins are: {}",
                    builtin::names().collect::<Vec<_>>().join(", ")
                ))
            }),
            // A regular file (never a FIFO or a device, whose read may never
            // end) of at most `MAX_COMPONENT_BYTES`.
            PluginSource::File(path) => crate::regular_file::read(path, MAX_COMPONENT_BYTES)
                .map(Cow::Owned)
                .map_err(|e| load_error(e.to_string())),
        }
    }

    /// Compiles (or loads from the cache) a component and reads its identity,
    /// without instantiating anything.
    async fn compile(&self, plugin: &PluginId, source: &PluginSource) -> Result<Compiled, SandboxError> {
        let bytes = self.read_source(plugin, source)?;
        let size_bytes = bytes.len();
        let sha256 = ComponentCache::content_hash(&bytes);
        let (engine, cache, hash) = (self.engine.clone(), self.cache.clone(), sha256.clone());
        let compiled = tokio::task::spawn_blocking(move || cache.load(&engine, &bytes, &hash))
            .await
            .map_err(|e| anyhow::anyhow!("the compile task failed: {e}"))
            .and_then(|r| r)
            .map_err(|e| SandboxError::Load {
                plugin: plugin.clone(),
                source_desc: source.describe(),
                message: format!("not a valid WebAssembly component: {e:#}"),
            })?;
        let (component, cache) = compiled;
        let identity = identity::identify(&self.engine, &component, plugin)?;
        Ok(Compiled { component, identity, sha256, cache, size_bytes })
    }

    /// Reads what a component says about itself — identity, description,
    /// requested capabilities — without granting it anything.
    pub async fn inspect(&self, source: PluginSource) -> Result<Inspection, SandboxError> {
        let name = match &source {
            PluginSource::File(path) => {
                path.file_stem().map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned())
            }
            PluginSource::Builtin(name) => name.clone(),
        };
        let plugin = self.load_unchecked(PluginSpec::new(name, source)).await?;
        Ok(Inspection {
            info: plugin.info,
            identity: plugin.identity,
            sha256: plugin.sha256,
            size_bytes: plugin.size_bytes,
        })
    }

    /// Loads a plugin: checks the content pin and the contract version,
    /// pre-links it, lets it describe itself and checks that it asks for
    /// nothing beyond its grants.
    pub async fn load(&self, spec: PluginSpec) -> Result<LoadedPlugin, SandboxError> {
        let plugin = self.load_unchecked(spec).await?;
        match Self::missing_grant(&plugin) {
            Some(missing) => Err(missing),
            None => Ok(plugin),
        }
    }

    /// What a configured plugin is: described with its own config (what it
    /// asks for may depend on it), and the grant it lacks, if any, as the
    /// error [`load`](Self::load) would give.
    pub async fn inspect_configured(
        &self,
        spec: PluginSpec,
    ) -> Result<(Inspection, LoadedPlugin, Option<SandboxError>), SandboxError> {
        let plugin = self.load_unchecked(spec).await?;
        let inspection = Inspection {
            info: plugin.info.clone(),
            identity: plugin.identity.clone(),
            sha256: plugin.sha256.clone(),
            size_bytes: plugin.size_bytes,
        };
        let missing = Self::missing_grant(&plugin);
        Ok((inspection, plugin, missing))
    }

    /// The first capability `plugin` asks for that its grants do not cover.
    fn missing_grant(plugin: &LoadedPlugin) -> Option<SandboxError> {
        let context = &plugin.prepared.context;
        let missing = context.grants.missing(&plugin.info.capabilities)?;
        Some(SandboxError::MissingGrant {
            plugin: context.id(),
            config_name: context.name.clone(),
            capability: missing.capability,
            hint: missing.hint,
        })
    }

    /// Everything `load` does except comparing requests with grants, within
    /// the load deadline.
    async fn load_unchecked(&self, spec: PluginSpec) -> Result<LoadedPlugin, SandboxError> {
        let (plugin, source_desc) = (PluginId::unnamed(&spec.name), spec.source.describe());
        tokio::time::timeout(self.load_limit, self.load_steps(spec)).await.unwrap_or_else(|_| {
            Err(SandboxError::Load {
                plugin,
                source_desc,
                message: format!(
                    "loading took longer than {} ms (reading, compiling, linking and describe() together)",
                    self.load_limit.as_millis()
                ),
            })
        })
    }

    async fn load_steps(&self, spec: PluginSpec) -> Result<LoadedPlugin, SandboxError> {
        let id = PluginId::unnamed(&spec.name);
        let Compiled { component, identity, sha256, cache, size_bytes } = self.compile(&id, &spec.source).await?;
        if let Some(pin) = &spec.sha256
            && !pin.eq_ignore_ascii_case(&sha256)
        {
            return Err(SandboxError::Load {
                plugin: id,
                source_desc: spec.source.describe(),
                message: format!("content hash is {sha256}, but orch.toml pins sha256 = {pin:?}"),
            });
        }
        let bad_grant = |message: String| SandboxError::InvalidGrant { plugin: id.clone(), message };
        spec.grants.validate().map_err(bad_grant)?;
        for path in &spec.grants.read_paths {
            if !path.is_dir() {
                return Err(bad_grant(format!("granted read path {} is not a directory", path.display())));
            }
        }

        let pre = self.linker.instantiate_pre(&component).map_err(|e| SandboxError::Load {
            plugin: id.clone(),
            source_desc: spec.source.describe(),
            message: format!("its imports do not match this host: {e:#}"),
        })?;
        let world_pre = match identity.world {
            _ if identity.is_previous() => LegacyPre::new(identity.world, pre).map(WorldPre::Legacy),
            World::Router => router::RouterPluginPre::new(pre).map(WorldPre::Router),
            World::Provider => provider::ProviderPluginPre::new(pre).map(WorldPre::Provider),
            World::Gate => gate::GatePluginPre::new(pre).map(WorldPre::Gate),
        }
        .map_err(|e| SandboxError::Load {
            plugin: id.clone(),
            source_desc: spec.source.describe(),
            message: format!("its exports do not match orch:plugin@{}: {e:#}", identity.api_version),
        })?;

        if !spec.grants.http.is_empty() {
            // Made now, not on the first call: a call's `pending` row is
            // written just before it starts, and the time from there to the
            // request leaving should be as short as it can be.
            self.services.http_client();
        }
        let source = spec.source.describe();
        let limits = spec.limits(identity.world);
        let prepared = Prepared {
            pre: world_pre,
            context: Arc::new(PluginContext {
                name: spec.name.clone(),
                version: OnceLock::new(),
                grants: spec.grants,
                config: spec.config,
                limits,
                services: Arc::clone(&self.services),
            }),
            engine: self.engine.clone(),
            slots: Arc::clone(&self.slots),
        };
        let info = prepared.instantiate(Phase::Describe, None).await?.describe().await?;
        let info = prepared.accepted(super::accept::info(info))?;
        check_description(&prepared, &info)?;
        prepared.context.version.get_or_init(|| info.version.clone());
        Ok(LoadedPlugin { info, identity, sha256, size_bytes, source, cache, prepared })
    }
}
/// The description must fit the component: the kind it claims is the world it
/// exports, and it has a name and version.
fn check_description(plugin: &Prepared, info: &PluginInfo) -> Result<(), SandboxError> {
    let claimed = match info.kind {
        PluginKind::Router => World::Router,
        PluginKind::Provider => World::Provider,
        PluginKind::Gate => World::Gate,
    };
    let bad = |message: String| SandboxError::BadDescription { plugin: plugin.context.id(), message };
    if claimed != plugin.pre.world() {
        return Err(bad(format!(
            "describes itself as a {claimed} plugin but exports the {} interface",
            plugin.pre.world()
        )));
    }
    if info.name.trim().is_empty() || info.version.trim().is_empty() {
        return Err(bad("describes itself without a name or version".into()));
    }
    Ok(())
}
