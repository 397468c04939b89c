//! `orch run [TASKS] [--task-id ID] [--concurrency N]` and `orch resume`:
//! read the tasks file (before anything is written), add new tasks to the
//! store, load the plugins, drive the tasks and append the run log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;

use super::{UsageError, store_usage};
use crate::config::LoadedConfig;
use crate::cost::Pricing;
use crate::engine::{Engine, SandboxPlugins};
use crate::runlog::{self, RUN_LOG_FILE, RunLog};
use crate::sandbox::Runtime;
use crate::state::TaskState;
use crate::store::{SqliteStore, Store, StoreError};
use crate::tasks;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Tasks file (YAML, TOML or JSON); its new tasks are added to the store.
    tasks: Option<PathBuf>,
    /// Run only this task.
    #[arg(long, value_name = "ID")]
    task_id: Option<String>,
    /// Tasks run at once (default: [pipeline] concurrency).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
}

/// The store: `--store`, else `[store] path`, else `.orch/orch.db`.
pub fn open_store(config: &LoadedConfig, explicit: Option<&Path>) -> Result<SqliteStore, StoreError> {
    let path = explicit
        .map(Path::to_owned)
        .or_else(|| config.config.store.path.clone())
        .unwrap_or_else(|| Path::new(crate::store::STORE_DIR).join(crate::store::STORE_FILE));
    SqliteStore::open(&path, config.config.store.synchronous)
}

/// `orch run` (or `orch resume` when `args` is `None`).
pub async fn run(args: Option<RunArgs>, config: Option<&Path>, store: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = LoadedConfig::load(config)?;
    let settings = config.settings()?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let (tasks_file, task_id, concurrency) = match args {
        Some(a) => (a.tasks, a.task_id, a.concurrency),
        None => (None, None, None),
    };
    let concurrency = concurrency.unwrap_or(settings.pipeline.concurrency);
    if concurrency == 0 {
        return Err(UsageError("--concurrency must be at least 1".into()).into());
    }
    // Read the whole file before touching the store.
    let file = tasks_file.as_deref().map(tasks::load).transpose()?;
    let store: Arc<dyn Store> = Arc::new(open_store(&config, store)?);
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
        store.task(&id).map_err(store_usage)?;
        ids = vec![id];
    }
    if ids.is_empty() {
        println!("nothing to do: no unfinished tasks in the store");
        return Ok(ExitCode::SUCCESS);
    }

    let runtime = Runtime::builder().build()?;
    let gates = settings.pipeline.gates.clone();
    let plugins = SandboxPlugins::load(&runtime, &config, &settings.pipeline.router, &gates).await?;
    let run = store.begin_run(&command)?;
    let log = Arc::new(
        RunLog::open(Path::new(RUN_LOG_FILE), &runlog::render_header(&run, ids.len(), concurrency))
            .with_context(|| format!("cannot open {RUN_LOG_FILE}"))?,
    );
    let started = Instant::now();
    let pricing = Pricing::new(&config.config.pricing);
    let engine = Engine::new(Arc::clone(&store), Arc::new(plugins), settings, pricing, log.clone(), run.id);
    let report = engine.run(&ids, concurrency).await?;
    store.finish_run(run.id)?;
    let cost = store.run_cost(run.id)?;
    log.append(&runlog::render_summary(&run, &report, started.elapsed(), cost))
        .with_context(|| format!("cannot append to {RUN_LOG_FILE}"))?;

    for task in &report.tasks {
        match &task.note {
            Some(note) => println!("{:<24} {:<15} {note}", task.id, task.state.as_str()),
            None => println!("{:<24} {}", task.id, task.state.as_str()),
        }
    }
    println!(
        "run {}: {} done, {} failed, {} awaiting review, ${cost:.4}, {:.1} s; log: {RUN_LOG_FILE}",
        run.id,
        report.count(TaskState::Done),
        report.count(TaskState::Failed),
        report.count(TaskState::AwaitingHuman),
        started.elapsed().as_secs_f64()
    );
    let all_done = report.tasks.iter().all(|t| t.state == TaskState::Done) && report.errors == 0;
    Ok(if all_done { ExitCode::SUCCESS } else { ExitCode::from(super::EXIT_FAILED) })
}
