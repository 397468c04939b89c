//! `orch run [TASKS] [--task-id ID]` and `orch resume`, both with
//! `[--concurrency N] [--max-cost USD] [--replay|--record CASSETTE]`: read the
//! tasks file and load the plugins, each slot checked for its kind (before
//! anything is written), add new tasks to the store, decide where LLM replies
//! come from (providers or a cassette), drive the tasks and append the run log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;

use super::output::{Tone, paint, state_column, table_toned};
use super::progress::Progress;
use super::{EXIT_FAILED, EXIT_INTERRUPTED, Globals, UsageError};
use crate::config::LoadedConfig;
use crate::cost::Pricing;
use crate::engine::{Engine, SandboxPlugins};
use crate::replay::{Offline, ReplayMode};
use crate::runlog::{self, RUN_LOG_FILE, RunLog, RunLogAudit};
use crate::sandbox::{AuditSink, EnvSecrets, Runtime};
use crate::state::TaskState;
use crate::store::Store;
use crate::tasks;
use crate::workspace::Workspaces;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Tasks file (YAML, TOML or JSON); its new tasks are added to the store.
    pub tasks: Option<PathBuf>,
    /// Run only this task.
    #[arg(long, value_name = "ID")]
    pub task_id: Option<String>,
    #[command(flatten)]
    pub options: RunOptions,
}

/// What `orch run` and `orch resume` share.
#[derive(Debug, Args)]
pub struct RunOptions {
    /// Tasks run at once (default: [pipeline] concurrency).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Most USD this run may spend (default: [budget] run_usd).
    #[arg(long, value_name = "USD")]
    max_cost: Option<f64>,
    /// Serve every LLM call from this cassette; no provider is called.
    #[arg(long, value_name = "CASSETTE", conflicts_with = "record")]
    replay: Option<PathBuf>,
    /// Call the providers and append their replies to this cassette.
    #[arg(long, value_name = "CASSETTE")]
    record: Option<PathBuf>,
    /// The git repository tasks change (default: the one holding the current directory).
    #[arg(long, value_name = "PATH")]
    repo: Option<PathBuf>,
}

impl RunOptions {
    /// The replay mode and cassette: `--replay`/`--record`, else `[replay]`,
    /// the cassette defaulting to `TASKS.cassette.jsonl` beside the tasks
    /// file, else the one the previous run used, else `orch.cassette.jsonl`.
    fn cassette(
        &self,
        config: &LoadedConfig,
        tasks_file: Option<&Path>,
        previous: Option<&str>,
    ) -> (ReplayMode, PathBuf) {
        if let Some(path) = &self.replay {
            return (ReplayMode::Replay, path.clone());
        }
        if let Some(path) = &self.record {
            return (ReplayMode::Record, path.clone());
        }
        let replay = &config.config.replay;
        let path = match (&replay.cassette, tasks_file) {
            (Some(path), _) => config.relative_to_config(path),
            (None, Some(tasks)) => {
                let stem = tasks.file_stem().unwrap_or_default().to_string_lossy();
                tasks.with_file_name(format!("{stem}.{CASSETTE_SUFFIX}"))
            }
            (None, None) => previous.map_or_else(|| PathBuf::from(format!("orch.{CASSETTE_SUFFIX}")), PathBuf::from),
        };
        (replay.mode, path)
    }
}

/// How a cassette's file name ends.
const CASSETTE_SUFFIX: &str = "cassette.jsonl";

/// Where task worktrees live: `worktrees/` beside the store.
pub fn worktrees_dir(store: &Path) -> PathBuf {
    store.parent().unwrap_or(Path::new(".")).join("worktrees")
}

/// `orch run` (or `orch resume`, without a tasks file or task id).
pub async fn run(args: RunArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    let mut settings = config.settings()?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let RunArgs { tasks: tasks_file, task_id, options } = args;
    let concurrency = options.concurrency.unwrap_or(settings.pipeline.concurrency);
    if concurrency == 0 {
        return Err(UsageError("--concurrency must be at least 1".into()).into());
    }
    if let Some(usd) = options.max_cost {
        if !(usd.is_finite() && usd >= 0.0) {
            return Err(UsageError(format!("--max-cost must be a non-negative number of USD, not {usd}")).into());
        }
        settings.budget.run_usd = Some(usd);
    }
    let repo = options.repo.clone().unwrap_or_else(|| PathBuf::from("."));
    // Read the whole file before touching the store.
    let file = tasks_file.as_deref().map(tasks::load).transpose()?;
    if let (Some(id), Some(file), Some(path)) = (&task_id, &file, &tasks_file)
        && !file.tasks.iter().any(|t| &t.id == id)
    {
        return Err(UsageError(format!("no task `{id}` in {}", path.display())).into());
    }
    // Every plugin loads, and each slot names one of its kind, before the store is touched.
    let audit = Arc::new(RunLogAudit::default());
    let runtime = Runtime::builder()
        .audit(Arc::clone(&audit) as Arc<dyn AuditSink>)
        .confinement(config.config.sandbox.confinement())
        .build()?;
    let plugins = SandboxPlugins::load(&runtime, &config, &settings.pipeline.router).await?;
    plugins.check_gates(&config, &settings.gates)?;
    let unconfigured: Vec<String> = settings.gates.names().into_iter().filter(|g| !plugins.has_gate(g)).collect();
    if !unconfigured.is_empty() {
        eprintln!(
            "note: [gates] names {}, which no gate plugin is configured for; skipped",
            unconfigured.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(", ")
        );
        settings.gates.retain(|gate| plugins.has_gate(gate));
    }
    let store_path = globals.store_path(&config);
    let worktrees = worktrees_dir(&store_path);
    settings.workspaces = Some(Workspaces::open(&repo, &worktrees).await.map_err(|e| UsageError(e.to_string()))?);
    let store: Arc<dyn Store> = Arc::new(globals.write_store(&config)?);
    let mut ids: Vec<String> = match &file {
        Some(file) => {
            let added = store.add_tasks(&file.tasks)?;
            for id in &added.existing {
                let stored = store.task(id)?.spec;
                if file.tasks.iter().any(|t| &t.id == id && *t != stored) {
                    eprintln!(
                        "note: task `{id}` is already in the store with a different definition; the stored one is kept"
                    );
                }
            }
            file.tasks.iter().map(|t| t.id.clone()).collect()
        }
        None => store.tasks(&[])?.into_iter().filter(|t| !t.state.is_terminal()).map(|t| t.spec.id).collect(),
    };
    if let Some(id) = task_id {
        store.task(&id)?;
        ids = vec![id];
    }
    if ids.is_empty() {
        println!("nothing to do: no unfinished tasks in the store");
        return Ok(ExitCode::SUCCESS);
    }

    let previous = store.runs()?.pop().and_then(|run| run.cassette);
    let (mode, cassette) = options.cassette(&config, tasks_file.as_deref(), previous.as_deref());
    let cassette_shown = std::path::absolute(&cassette).unwrap_or_else(|_| cassette.clone()).display().to_string();
    let missing_keys = plugins.providers_missing_secrets(&EnvSecrets);
    let plugins = Offline::new(plugins, mode, cassette, missing_keys).map_err(|e| UsageError(e.to_string()))?;
    let note = plugins.describe();
    if let Some(note) = &note {
        eprintln!("{note}");
    }
    let run = store.begin_run(&command, Some(&cassette_shown))?;
    let log = Arc::new(
        RunLog::open(Path::new(RUN_LOG_FILE), &runlog::render_header(&run, ids.len(), concurrency, note.as_deref()))
            .with_context(|| format!("cannot open {RUN_LOG_FILE}"))?,
    );
    audit.attach(Arc::clone(&log));
    let started = Instant::now();
    let pricing = Pricing::new(&config.config.pricing);
    let progress = Arc::new(Progress::new(Arc::clone(&log), Arc::clone(&store), &ids));
    let engine = Engine::new(Arc::clone(&store), Arc::new(plugins), settings, pricing, progress.clone(), run.id);
    // Ctrl-C drops the walks: calls in flight are abandoned, and what was
    // committed stays, so `orch resume` picks up from there.
    let report = tokio::select! {
        report = engine.run(&ids, concurrency) => Some(report?),
        _ = tokio::signal::ctrl_c() => None,
    };
    progress.finish();
    store.finish_run(run.id)?;
    let cost = store.run_cost(run.id)?;
    let Some(report) = report else {
        log.append(&runlog::render_interrupted(&run, started.elapsed(), &cost))
            .with_context(|| format!("cannot append to {RUN_LOG_FILE}"))?;
        eprintln!(
            "{} run {} stopped after {:.1} s ({} spent); calls in flight were abandoned and everything finished is saved. Continue with `orch resume`.",
            paint("interrupted:", Tone::Attention),
            run.id,
            started.elapsed().as_secs_f64(),
            runlog::render_cost(&cost)
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    log.append(&runlog::render_summary(&run, &report, started.elapsed(), &cost))
        .with_context(|| format!("cannot append to {RUN_LOG_FILE}"))?;

    let rows: Vec<Vec<String>> = report
        .tasks
        .iter()
        .map(|t| vec![t.id.clone(), t.state.as_str().to_owned(), t.note.clone().unwrap_or_default()])
        .collect();
    print!("{}", table_toned(&["TASK", "STATE", "NOTE"], &rows, state_column(1)));
    println!(
        "run {}: {} done, {} failed, {} awaiting review, {}, {:.1} s; log: {RUN_LOG_FILE}",
        run.id,
        report.count(TaskState::Done),
        report.count(TaskState::Failed),
        report.count(TaskState::AwaitingHuman),
        runlog::render_cost(&cost),
        started.elapsed().as_secs_f64()
    );
    if report.count(TaskState::AwaitingHuman) > 0 {
        println!("see why with `orch review`; decide with `orch task ID --approve` or `--reject`");
    }
    let all_done = report.tasks.iter().all(|t| t.state == TaskState::Done) && report.errors == 0;
    Ok(if all_done { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FAILED) })
}
