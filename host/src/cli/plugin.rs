//! `orch plugin list|inspect|new`: what is loaded and granted, what a
//! component asks for, and a new plugin project to start from.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::output::{print_json, table};
use super::{Globals, UsageError, scaffold};
use crate::config::LoadedConfig;
use crate::sandbox::{Capabilities, Grants, Inspection, LoadedPlugin, PluginSource, Runtime, SandboxError};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Load every configured plugin and show its identity and grants.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show what a plugin is and which capabilities it asks for (and, for a
    /// configured one, what it is granted).
    Inspect {
        /// A plugin configured in orch.toml ([plugins.NAME]), a .wasm component file, or `builtin:NAME`.
        #[arg(value_name = "NAME|FILE")]
        plugin: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Create a new plugin project: Rust, Python or JavaScript, for any kind.
    New {
        /// Plugin name (lowercase letters, digits and `-`); also the directory created.
        name: String,
        /// Which world the plugin implements.
        #[arg(long, value_enum)]
        kind: scaffold::Kind,
        /// Language of the project.
        #[arg(long, value_enum, default_value_t = Lang::Rust)]
        lang: Lang,
        /// Directory to create the project in (default: ./NAME).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// Path to the orch-sdk crate (default: the SDK this orch was built from).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
}

/// Plugin languages `orch plugin new` can scaffold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust, with the orch-sdk crate.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Js,
}

pub async fn run(command: PluginCommand, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::List { json } => list(globals.config()?, json).await,
        PluginCommand::Inspect { plugin, json } => inspect(&plugin, globals, json).await,
        PluginCommand::New { name, kind, lang, dir, sdk } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let build = match lang {
                Lang::Rust => {
                    scaffold::create(&name, kind, &dir, sdk.as_deref())?;
                    "cargo build --release --target wasm32-wasip2".to_owned()
                }
                Lang::Python => {
                    scaffold::create_foreign(&name, kind, scaffold::Foreign::Python, &dir)?;
                    format!("componentize-py -d wit -w {kind}-plugin componentize app -o {name}.wasm")
                }
                Lang::Js => {
                    scaffold::create_foreign(&name, kind, scaffold::Foreign::JavaScript, &dir)?;
                    "npm install && npm run build".to_owned()
                }
            };
            println!("created {kind} plugin `{name}` in {}", dir.display());
            println!("build it:  cd {} && {build}", dir.display());
            println!("load it:   the orch.toml lines are in {}", dir.join("README.md").display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn list(loaded_config: LoadedConfig, as_json: bool) -> anyhow::Result<ExitCode> {
    let specs = loaded_config.plugin_specs()?;
    let runtime = Runtime::builder().build()?;
    let mut results: Vec<(String, Grants, Result<LoadedPlugin, SandboxError>)> = Vec::new();
    for spec in specs {
        let (name, grants) = (spec.name.clone(), spec.grants.clone());
        results.push((name, grants, runtime.load(spec).await));
    }
    let failed = results.iter().any(|(_, _, r)| r.is_err());

    if as_json {
        let rows: Vec<Value> = results
            .iter()
            .map(|(name, grants, result)| match result {
                Ok(plugin) => {
                    let limits = plugin.context().limits;
                    json!({
                        "name": name,
                        "status": "loaded",
                        "kind": plugin.identity().world.interface(),
                        "plugin_name": plugin.info().name,
                        "version": plugin.info().version,
                        "api_version": plugin.identity().api_version,
                        "description": plugin.info().description,
                        "source": plugin.source(),
                        "sha256": plugin.sha256(),
                        "requested": capabilities_json(&plugin.info().capabilities),
                        "grants": grants_json(grants),
                        "limits": { "memory_mb": limits.memory_bytes >> 20, "timeout_ms": limits.timeout.as_millis() },
                    })
                }
                Err(error) => json!({ "name": name, "status": "error", "error": error.to_string(), "grants": grants_json(grants) }),
            })
            .collect();
        print_json(&Value::Array(rows))?;
    } else {
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|(name, grants, result)| match result {
                Ok(plugin) => vec![
                    name.clone(),
                    plugin.identity().world.interface().to_owned(),
                    plugin.info().version.clone(),
                    plugin.identity().api_version.clone(),
                    plugin.source().to_owned(),
                    grants_summary(grants),
                ],
                Err(error) => vec![
                    name.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("error: {error}"),
                    grants_summary(grants),
                ],
            })
            .collect();
        print!("{}", table(&["NAME", "KIND", "VERSION", "API", "SOURCE", "GRANTS"], &rows));
        println!("config: {}", loaded_config.shown_path().display());
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// What `orch plugin inspect` was asked about.
enum Target {
    /// `builtin:NAME` or a file.
    Component(PluginSource),
    /// A `[plugins.NAME]` of the configuration.
    Configured(Box<(crate::sandbox::PluginSpec, LoadedConfig)>),
}

/// `builtin:NAME`, a configured plugin's name, else a file. A word that is
/// neither a configured name nor a file is an unknown plugin (exit 2).
fn target(arg: &str, globals: &Globals) -> anyhow::Result<Target> {
    if let Some(name) = arg.strip_prefix("builtin:") {
        return Ok(Target::Component(PluginSource::Builtin(name.to_owned())));
    }
    let path = PathBuf::from(arg);
    if arg.contains('/') || arg.ends_with(".wasm") {
        return Ok(Target::Component(PluginSource::File(path)));
    }
    let config = globals.config()?;
    if let Some(section) = config.config.plugins.get(arg) {
        let spec = config.plugin_spec(arg, section)?;
        return Ok(Target::Configured(Box::new((spec, config))));
    }
    if path.exists() {
        return Ok(Target::Component(PluginSource::File(path)));
    }
    let configured = config.config.plugins.keys().cloned().collect::<Vec<_>>().join(", ");
    Err(UsageError(format!(
        "no plugin `{arg}` is configured (configured in {}: {configured}) and there is no file {arg}; \
         inspect a configured name, a .wasm file or builtin:NAME",
        config.shown_path().display()
    ))
    .into())
}

async fn inspect(arg: &str, globals: &Globals, as_json: bool) -> anyhow::Result<ExitCode> {
    let target = target(arg, globals)?;
    let runtime = Runtime::builder().build()?;
    let (inspection, configured) = match target {
        Target::Component(source) => {
            (runtime.inspect(source).await.with_context(|| format!("inspecting {arg}"))?, None)
        }
        Target::Configured(configured) => {
            let (spec, config) = *configured;
            let grants = spec.grants.clone();
            let (inspection, plugin, missing) =
                runtime.inspect_configured(spec).await.with_context(|| format!("inspecting plugin `{arg}`"))?;
            (inspection, Some(Configured { name: arg, config, grants, plugin, missing }))
        }
    };
    if as_json {
        let mut value = inspection_json(&inspection);
        if let Some(configured) = &configured {
            value["configured"] = configured.json();
        }
        print_json(&value)?;
    } else {
        print!("{}", inspection_text(&inspection));
        if let Some(configured) = &configured {
            print!("{}", configured.text());
        }
    }
    let refused = configured.as_ref().is_some_and(|c| c.missing.is_some());
    Ok(if refused { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// A configured plugin as `orch.toml` sets it up: its grants, limits and
/// whether it loads with them.
struct Configured<'a> {
    name: &'a str,
    config: LoadedConfig,
    grants: Grants,
    plugin: LoadedPlugin,
    missing: Option<SandboxError>,
}

impl Configured<'_> {
    fn status(&self) -> String {
        match &self.missing {
            None => "loads with these grants".to_owned(),
            Some(error) => format!("refused: {error}"),
        }
    }

    fn json(&self) -> Value {
        let limits = self.plugin.context().limits;
        json!({
            "name": self.name,
            "config_file": self.config.shown_path().display().to_string(),
            "source": self.plugin.source(),
            "grants": grants_json(&self.grants),
            "limits": { "memory_mb": limits.memory_bytes >> 20, "timeout_ms": limits.timeout.as_millis() },
            "status": if self.missing.is_none() { "loaded" } else { "error" },
            "error": self.missing.as_ref().map(ToString::to_string),
        })
    }

    fn text(&self) -> String {
        let g = &self.grants;
        let list = |items: Vec<String>| if items.is_empty() { "none".to_owned() } else { items.join(", ") };
        let paths = g.read_paths.iter().map(|p| p.display().to_string()).collect();
        let commands =
            g.commands.iter().map(|c| format!("{} {}", c.program, c.args.join(" ")).trim().to_owned()).collect();
        let limits = self.plugin.context().limits;
        format!(
            "configured:   [plugins.{}] in {}: {}\ngranted:\n  http:       {}\n  secrets:    {}\n  read paths: {}\n  commands:   {}\nlimits:       {} MB, {} ms per call\nstatus:       {}\n",
            self.name,
            self.config.shown_path().display(),
            self.plugin.source(),
            list(g.http.clone()),
            list(g.secrets.names().map(str::to_owned).collect()),
            list(paths),
            list(commands),
            limits.memory_bytes >> 20,
            limits.timeout.as_millis(),
            self.status(),
        )
    }
}

fn inspection_json(i: &Inspection) -> Value {
    json!({
        "name": i.info.name,
        "version": i.info.version,
        "kind": i.identity.world.interface(),
        "world": format!("orch:plugin/{}-plugin@{}", i.identity.world, i.identity.api_version),
        "api_version": i.identity.api_version,
        "description": i.info.description,
        "requested": capabilities_json(&i.info.capabilities),
        "sha256": i.sha256,
        "size_bytes": i.size_bytes,
    })
}

fn inspection_text(i: &Inspection) -> String {
    let caps = &i.info.capabilities;
    let list = |items: Vec<String>| if items.is_empty() { "none".to_owned() } else { items.join(", ") };
    let commands =
        caps.commands.iter().map(|c| format!("{} {}", c.program, c.args.join(" ")).trim().to_owned()).collect();
    format!(
        "name:         {}\nversion:      {}\nkind:         {}\nworld:        orch:plugin/{}-plugin@{}\napi version:  {}\ndescription:  {}\nrequests:\n  http:       {}\n  secrets:    {}\n  read paths: {}\n  commands:   {}\nsha256:       {}\nsize:         {} bytes\n",
        i.info.name,
        i.info.version,
        i.identity.world,
        i.identity.world,
        i.identity.api_version,
        i.identity.api_version,
        i.info.description,
        list(caps.http.clone()),
        list(caps.secrets.clone()),
        list(caps.read_paths.clone()),
        list(commands),
        i.sha256,
        i.size_bytes,
    )
}

fn capabilities_json(c: &Capabilities) -> Value {
    grants_json(&Grants::from(c))
}

fn grants_json(g: &Grants) -> Value {
    serde_json::to_value(g).expect("grants serialise to JSON")
}

fn grants_summary(g: &Grants) -> String {
    let mut parts = Vec::new();
    if !g.http.is_empty() {
        parts.push(format!("http: {}", g.http.join(" ")));
    }
    if !g.secrets.is_empty() {
        parts.push(format!("secrets: {}", g.secrets.names().collect::<Vec<_>>().join(" ")));
    }
    if !g.read_paths.is_empty() {
        let paths: Vec<String> = g.read_paths.iter().map(|p| p.display().to_string()).collect();
        parts.push(format!("read: {}", paths.join(" ")));
    }
    if !g.commands.is_empty() {
        let programs: Vec<&str> = g.commands.iter().map(|c| c.program.as_str()).collect();
        parts.push(format!("exec: {}", programs.join(" ")));
    }
    if parts.is_empty() { "none".to_owned() } else { parts.join("; ") }
}
