//! The pipeline driver: runs tasks concurrently (at most `concurrency` at
//! once, each only after the tasks it depends on are DONE), each through
//! [`pipeline`] with deterministic replay ([`task_run`]), and reports how
//! every task ended.
//!
//! The rule every part of the engine keeps: **journal before effect**. No
//! effect — a commit, a branch move, a file written in a worktree, a gate
//! run, a state transition — starts before every reply and decision it
//! depends on is durable in the store, and every call is on record as
//! `pending` before it starts. A run killed at any instant therefore leaves
//! only effects the journal explains (and which a resumed walk redoes
//! identically or discards), and an honest count of the calls whose outcome
//! it lost. Store writes and git run off the async executor, so a reply
//! waits about one group commit to become durable.

mod calls;
mod change;
mod committer;
pub mod edit_format;
pub mod gate_policy;
mod outcomes;
mod pipeline;
pub mod plan;
pub mod plugins;
pub mod prompts;
pub mod reply;
pub mod schema;
mod task_run;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::task::JoinSet;

use crate::cost::{Budget, Pricing};
use crate::limits::{RateLimit, RateLimits};
use crate::retry::RetryPolicy;
use crate::state::{IllegalTransition, TaskState};
use crate::store::{EventRow, Store, StoreError};
use crate::workspace::Workspaces;

pub use gate_policy::GatePolicy;
pub use plugins::{Plugins, SandboxPlugins, Served};
pub use prompts::Prompts;

/// `[pipeline]` in `orch.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// The router plugin.
    pub router: String,
    /// Plan review rejections before a person is asked.
    pub max_plan_rounds: u32,
    /// Code review rejections of one step before a person is asked.
    pub max_review_rounds: u32,
    /// Gate failures before the task fails.
    pub max_gate_rounds: u32,
    /// Unparseable replies before a person is asked.
    pub max_format_attempts: u32,
    /// Tasks run at once.
    pub concurrency: usize,
    /// Token limit per completion.
    pub max_tokens: Option<u32>,
    /// The most a call's token limit grows to when replies are cut off.
    #[serde(default)]
    pub max_tokens_ceiling: Option<u32>,
    /// The implementer's edit format: a format name, or `auto` (by model,
    /// from `[edit_formats]`).
    pub edit_format: String,
    /// Sampling temperature, if set.
    pub temperature: Option<f32>,
}

impl PipelineConfig {
    /// Checks the numbers.
    pub fn validate(&self) -> Result<(), String> {
        let counts = [
            ("max_plan_rounds", self.max_plan_rounds),
            ("max_review_rounds", self.max_review_rounds),
            ("max_gate_rounds", self.max_gate_rounds),
            ("max_format_attempts", self.max_format_attempts),
        ];
        match counts.iter().find(|(_, n)| *n == 0) {
            Some((name, _)) => Err(format!("[pipeline] {name} must be at least 1")),
            None if self.concurrency == 0 => Err("[pipeline] concurrency must be at least 1".into()),
            None => Ok(()),
        }
    }
}

/// Everything that shapes a run besides the plugins.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Rounds, limits, router.
    pub pipeline: PipelineConfig,
    /// Retry policy for every plugin call.
    pub retry: RetryPolicy,
    /// Prompt templates.
    pub prompts: Prompts,
    /// Which gates judge a change.
    pub gates: GatePolicy,
    /// Spending limits.
    pub budget: Budget,
    /// Rate limits by provider.
    pub rate_limits: BTreeMap<String, RateLimit>,
    /// The implementer's edit format for each model.
    pub edit_formats: edit_format::EditFormats,
    /// The models routers are shown, by name.
    pub models: BTreeMap<String, crate::config::ModelConfig>,
    /// Where tasks' changes are made; without, the implementer's reply is
    /// the change (as text) and nothing is written.
    pub workspaces: Option<Workspaces>,
}

/// Receives the events the engine commits (the run log, progress output).
pub trait EventSink: Send + Sync {
    /// Called after each commit with the rows it wrote.
    fn emit(&self, events: &[EventRow]);
}

/// A sink that drops everything.
pub struct NoSink;

impl EventSink for NoSink {
    fn emit(&self, _: &[EventRow]) {}
}

/// A failure of the host while driving a task.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine tried a transition the table forbids (a bug).
    #[error("task `{task}`: {source}")]
    Illegal { task: String, source: IllegalTransition },
    /// Replay reached a different transition than the one recorded, e.g.
    /// because the configuration changed between runs.
    #[error(
        "task `{task}`: replay diverges from the recorded history at transition {seq} (recorded {recorded}, now {now}); did orch.toml change since the task started?"
    )]
    Diverged { task: String, seq: u64, recorded: String, now: String },
    /// A recorded value could not be read back.
    #[error("{0}")]
    Corrupt(String),
}

/// What the task walks share.
pub(crate) struct Shared<P: Plugins> {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) plugins: Arc<P>,
    pub(crate) settings: Settings,
    pub(crate) pricing: Pricing,
    pub(crate) committer: committer::Committer,
    pub(crate) run: i64,
    pub(crate) limits: RateLimits,
    /// USD spent on calls made in this run.
    pub(crate) run_spent: std::sync::Mutex<f64>,
    /// How long each reply waited between arriving and being durable.
    pub(crate) reply_delays: DelayLog,
    /// Per-stage model history for route requests.
    pub(crate) history: outcomes::HistoryCache,
    /// The configured models, for route requests.
    pub(crate) catalog: Vec<crate::sandbox::CatalogModel>,
}

/// Durations noted as they happen, summed up when the run ends.
#[derive(Default)]
pub(crate) struct DelayLog(std::sync::Mutex<Vec<Duration>>);

impl DelayLog {
    pub(crate) fn record(&self, delay: Duration) {
        self.0.lock().expect("not poisoned").push(delay);
    }

    fn summary(&self) -> Delays {
        let mut delays = self.0.lock().expect("not poisoned").clone();
        delays.sort();
        Delays {
            count: delays.len(),
            median: delays.get(delays.len() / 2).copied().unwrap_or_default(),
            max: delays.last().copied().unwrap_or_default(),
        }
    }
}

/// How long LLM replies waited between arriving and being durable in the
/// store (before the walk could act on them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delays {
    /// Replies measured.
    pub count: usize,
    /// The median wait.
    pub median: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// How one task ended in this run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    /// The task.
    pub id: String,
    /// Its state now.
    pub state: TaskState,
    /// Why it failed, waits, was not started, or what broke.
    pub note: Option<String>,
}

/// The result of [`Engine::run`].
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Every task asked for, in the order given.
    pub tasks: Vec<TaskOutcome>,
    /// Tasks whose walk hit a host error (store, replay divergence).
    pub errors: usize,
    /// How long the replies of this run waited to be durable.
    pub reply_delays: Delays,
}

impl RunReport {
    /// How many tasks ended in `state`.
    pub fn count(&self, state: TaskState) -> usize {
        self.tasks.iter().filter(|t| t.state == state).count()
    }
}

/// Drives tasks through the pipeline.
pub struct Engine<P: Plugins> {
    shared: Arc<Shared<P>>,
}

impl<P: Plugins> Engine<P> {
    /// An engine writing to `store` as run `run`; committed events go to
    /// `sink`.
    pub fn new(
        store: Arc<dyn Store>,
        plugins: Arc<P>,
        settings: Settings,
        pricing: Pricing,
        sink: Arc<dyn EventSink>,
        run: i64,
    ) -> Self {
        let committer = committer::Committer::new(Arc::clone(&store), sink);
        let limits = RateLimits::new(&settings.rate_limits);
        let catalog = outcomes::catalog(&settings.models, &pricing);
        let shared = Shared {
            store,
            plugins,
            settings,
            pricing,
            committer,
            run,
            limits,
            run_spent: Default::default(),
            reply_delays: DelayLog::default(),
            history: Default::default(),
            catalog,
        };
        Self { shared: Arc::new(shared) }
    }

    /// Runs `ids` (in order of preference) with at most `concurrency` at once.
    /// A task starts once every task it depends on is DONE; if one of those
    /// ends otherwise, the task is left as it is and reported as blocked.
    pub async fn run(&self, ids: &[String], concurrency: usize) -> Result<RunReport, EngineError> {
        let store = &self.shared.store;
        let mut waiting: Vec<(String, Vec<String>)> = Vec::new();
        let mut state: HashMap<String, TaskState> = HashMap::new();
        for id in ids {
            let task = store.task(id)?;
            state.insert(id.clone(), task.state);
            for dep in &task.spec.depends_on {
                if !state.contains_key(dep) {
                    state.insert(dep.clone(), store.task(dep)?.state);
                }
            }
            waiting.push((id.clone(), task.spec.depends_on.clone()));
        }
        // Finished tasks and tasks waiting for a person are not walked.
        waiting.retain(|(id, _)| !state[id].is_terminal() && state[id] != TaskState::AwaitingHuman);
        let blocked = |dep: &str, state: &HashMap<String, TaskState>| {
            format!("blocked: depends on `{dep}`, which is {}", state.get(dep).copied().unwrap_or(TaskState::New))
        };
        let mut notes: BTreeMap<String, String> = BTreeMap::new();
        let mut running = JoinSet::new();
        // Tasks of this run that may still reach DONE: waiting or running.
        let mut unfinished: HashSet<String> = waiting.iter().map(|(id, _)| id.clone()).collect();
        let mut errors = 0;
        loop {
            let mut i = 0;
            while i < waiting.len() && running.len() < concurrency.max(1) {
                let deps = &waiting[i].1;
                if let Some(dep) = deps.iter().find(|d| state[*d] != TaskState::Done && !unfinished.contains(*d)) {
                    let note = blocked(dep, &state);
                    let (id, _) = waiting.remove(i);
                    unfinished.remove(&id);
                    notes.insert(id, note);
                } else if deps.iter().all(|d| state[d] == TaskState::Done) {
                    let (id, _) = waiting.remove(i);
                    let shared = Arc::clone(&self.shared);
                    running.spawn(async move {
                        let result = walk(shared, &id).await;
                        (id, result)
                    });
                } else {
                    i += 1;
                }
            }
            let Some(joined) = running.join_next().await else {
                // Nothing runs, so nothing left can become ready.
                for (id, deps) in waiting.drain(..) {
                    let dep = deps.iter().find(|d| state[*d] != TaskState::Done).cloned().unwrap_or_default();
                    notes.insert(id, blocked(&dep, &state));
                }
                break;
            };
            let (id, result) = joined.expect("task walks do not panic");
            unfinished.remove(&id);
            let final_state = match result {
                Ok(final_state) => final_state,
                Err(err) => {
                    errors += 1;
                    notes.insert(id.clone(), err.to_string());
                    store.task(&id).map(|t| t.state).unwrap_or(TaskState::Failed)
                }
            };
            state.insert(id, final_state);
        }
        let mut report = RunReport { tasks: Vec::new(), errors, reply_delays: self.shared.reply_delays.summary() };
        for id in ids {
            let task = store.task(id)?;
            let note = notes.remove(id).or_else(|| match task.state {
                TaskState::Failed | TaskState::AwaitingHuman => task.last_error.clone(),
                _ => None,
            });
            report.tasks.push(TaskOutcome { id: id.clone(), state: task.state, note });
        }
        Ok(report)
    }
}

/// Walks one task and returns the state it ended in.
async fn walk<P: Plugins>(shared: Arc<Shared<P>>, id: &str) -> Result<TaskState, EngineError> {
    let mut run = task_run::TaskRun::load(shared, id)?;
    let result = pipeline::drive(&mut run).await;
    let flushed = run.flush().await;
    match (result, flushed) {
        (Err(task_run::Halt::Error(err)), _) | (_, Err(task_run::Halt::Error(err))) => Err(err),
        _ => Ok(run.state),
    }
}

#[cfg(test)]
mod tests;
