//! Persistence: the [`Store`] trait the engine and the CLI work against, and
//! the records it keeps — tasks with their state and metadata, plan steps, an
//! append-only event log (every transition and every routing, LLM call,
//! retry, gate and human decision), journaled plugin results and runs.
//! [`sqlite::SqliteStore`] is the default backend.

mod export;
mod schema;
pub mod sqlite;
mod time;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::state::{IllegalTransition, StepState, TaskState};
use crate::task_retry::RetryRequest;
use crate::tasks::TaskSpec;

pub use export::TaskExport;
pub use sqlite::{SqliteStore, Synchronous};
pub use time::{now_ms, render_iso};

/// The store's directory inside a repository, and the database file in it.
pub const STORE_DIR: &str = ".orch";
/// The SQLite file under [`STORE_DIR`].
pub const STORE_FILE: &str = "orch.db";

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("store {path}: {message}")]
    Database { path: String, message: String },
    /// A read found no store file.
    #[error("no orch store at {path}; run `orch run TASKS` first, or name one with --store PATH")]
    Missing { path: String },
    /// The file is not an orch store (not SQLite, damaged, or another program's database).
    #[error("{path} is not an orch store ({message}); name the right file with --store PATH")]
    NotAStore { path: String, message: String },
    /// The file was written by a newer orch.
    #[error(
        "store {path} has schema version {found}, newer than this orch understands ({supported}); use a newer orch or another --store"
    )]
    NewerSchema { path: String, found: i64, supported: i64 },
    /// No task has this id.
    #[error("no task `{0}` in the store")]
    UnknownTask(String),
    /// The table does not allow this transition.
    #[error("task `{task}`: {source}")]
    Illegal { task: String, source: IllegalTransition },
    /// Someone else moved the task first (another process, or a stale view).
    #[error(
        "task `{task}` changed while this was being written (expected transition {expected}, store has {found}); re-read and try again"
    )]
    Conflict { task: String, expected: u64, found: u64 },
    /// A human decision on a task that is not waiting for one.
    #[error("task `{task}` is {state}, not AWAITING_HUMAN: there is nothing to {verb}")]
    NotAwaiting { task: String, state: TaskState, verb: &'static str },
    /// A retry that cannot be done (the task is DONE, still running, or
    /// never reached the stage named).
    #[error("cannot retry task `{task}`: {reason}")]
    CannotRetry { task: String, reason: String },
    /// A stored value could not be decoded, or an import is malformed.
    #[error("{0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the error is about what the user named (a store file, a
    /// task, a decision) rather than a failure of the store itself.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::Missing { .. }
                | Self::NotAStore { .. }
                | Self::NewerSchema { .. }
                | Self::UnknownTask(_)
                | Self::NotAwaiting { .. }
                | Self::CannotRetry { .. }
        )
    }
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// What the tasks file said.
    pub spec: TaskSpec,
    /// Where it is now.
    pub state: TaskState,
    /// How many transitions (task and step) it has gone through.
    pub seq: u64,
    /// Its place in the file it came from, for stable listing.
    pub position: i64,
    /// When it was added (ms since the epoch).
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
    /// USD spent on it, from journaled calls.
    pub cost_usd: f64,
    /// Calls made again because a killed run left them in flight (their
    /// first outcome was lost, but a provider may have billed it).
    #[serde(default)]
    pub repeated_calls: u64,
    /// What those repeated calls are estimated to have cost, on top of `cost_usd`.
    #[serde(default)]
    pub repeated_cost_usd: f64,
    /// The last error, if it is stuck or failed.
    pub last_error: Option<String>,
    /// Model choices, attempt counts, concerns, escalation.
    pub meta: TaskMeta,
}

/// Task metadata that is updated in place as the task moves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskMeta {
    /// The model serving each role, by role name.
    pub models: BTreeMap<String, ModelUse>,
    /// Rounds so far by stage (`plan`, `code_review:STEP`, `gate`).
    pub attempts: BTreeMap<String, u32>,
    /// The latest review concerns or gate findings.
    pub concerns: Vec<String>,
    /// Why the task waits for a person, and where approval resumes it.
    pub escalation: Option<Escalation>,
    /// The step being worked on.
    pub current_step: Option<String>,
    /// The task's worktree and branch, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceInfo>,
}

/// Where a task's change lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// The worktree directory (removed once the task is DONE).
    pub path: String,
    /// The branch, `orch/<task-id>`.
    pub branch: String,
    /// The commit the branch started from.
    pub base: String,
}

/// Which model served a role, chosen by which router and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelUse {
    /// The provider plugin.
    pub provider: String,
    /// The model.
    pub model: String,
    /// The router's reason.
    pub reason: String,
}

/// A task waiting for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// Which stage gave up (`planning`, `plan_review`, `code_review`, ...).
    pub stage: String,
    /// Why, for the review queue.
    pub reason: String,
    /// Where an approval sends the task.
    pub resume_to: TaskState,
}

/// A plan step's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step's id from the plan.
    pub id: String,
    /// Its order in the task.
    pub index: u32,
    /// `implementation`, `testing`, ...
    pub kind: String,
    /// What it does.
    pub description: String,
    /// Where it is.
    pub state: StepState,
    /// Implementation rounds so far.
    pub attempts: u32,
}

/// Which machine a transition moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Moved {
    /// The task itself.
    Task { from: TaskState, to: TaskState },
    /// One of its steps.
    Step { step: String, from: StepState, to: StepState },
}

/// One transition, numbered within its task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// 1-based position in the task's history.
    pub seq: u64,
    /// What moved.
    pub moved: Moved,
    /// Who or what decided it (`engine`, `human`).
    pub actor: String,
    /// Why, for the log.
    pub message: String,
    /// The comment a person left with a decision.
    pub comment: Option<String>,
    /// When (ms since the epoch); filled in by the store.
    pub at_ms: i64,
    /// The seq of the retry that set this transition aside: it stays in the
    /// history for the record, but the walk no longer replays it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<u64>,
}

/// The log categories of the seed's run log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Task and step transitions.
    Task,
    /// A router's decision.
    Routing,
    /// A completion.
    LlmCall,
    /// A gate result.
    QualityGate,
    /// A retry or a fallback.
    Retry,
    /// A person's decision.
    HumanReview,
}

/// How an event turned out, shown as a marker in the run log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Went well.
    Ok,
    /// Failed.
    Failed,
    /// Needs attention.
    Warning,
    /// Neutral progress.
    Info,
}

impl Category {
    /// Every category.
    pub const ALL: [Self; 6] =
        [Self::Task, Self::Routing, Self::LlmCall, Self::QualityGate, Self::Retry, Self::HumanReview];

    /// The name as stored and shown (`llm_call`), the same as its serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Routing => "routing",
            Self::LlmCall => "llm_call",
            Self::QualityGate => "quality_gate",
            Self::Retry => "retry",
            Self::HumanReview => "human_review",
        }
    }
}

impl Status {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Ok, Self::Failed, Self::Warning, Self::Info];

    /// The name as stored (`ok`), the same as its serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// A log event that is not a transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its category.
    pub category: Category,
    /// Its outcome.
    pub status: Status,
    /// The step it concerns.
    pub step: Option<String>,
    /// One line for people (never a prompt or a secret).
    pub message: String,
}

/// An event as stored, transitions included, for the run log and the CLI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// Increasing id.
    pub id: i64,
    /// The run that wrote it, if any.
    pub run: Option<i64>,
    /// The task, if any.
    pub task: Option<String>,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Category.
    pub category: Category,
    /// Outcome.
    pub status: Status,
    /// The step, if any.
    pub step: Option<String>,
    /// The line (may be empty for a transition that needs no comment).
    pub message: String,
    /// For a transition: the states it moved between.
    pub moved: Option<(String, String)>,
}

/// A journaled result of an effectful plugin call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Deterministic key within the task: kind, role, step, round, request hash.
    pub key: String,
    /// `route`, `completion` or `check`.
    pub kind: String,
    /// The plugin that produced it, with its version.
    pub plugin: String,
    /// The model that served it (completions).
    pub model: Option<String>,
    /// The result, as JSON.
    pub result: serde_json::Value,
    /// Input tokens (completions).
    pub input_tokens: u64,
    /// Output tokens (completions).
    pub output_tokens: u64,
    /// USD, computed by the host.
    pub cost_usd: f64,
    /// How long the call took, retries included.
    pub duration_ms: u64,
    /// Whether the call is in flight, answered or gave up.
    #[serde(default, skip_serializing_if = "CallStatus::is_done")]
    pub status: CallStatus,
    /// How often the call was started: more than once when killed runs left
    /// it in flight.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub starts: u32,
    /// What the starts whose outcome was lost are estimated to have cost.
    #[serde(default, skip_serializing_if = "Repeated::is_none")]
    pub repeated: Repeated,
    /// The seq of the newest transition the walk had passed when it made the
    /// call (what a retry from an earlier point sets aside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_seq: Option<u64>,
    /// The seq of the retry that set this entry aside; the walk no longer
    /// takes it, and the call is made anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<u64>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl JournalEntry {
    /// A call about to start (its `starts`-th start) for `key`.
    pub fn pending(key: String, kind: &str, plugin: String, model: Option<String>, starts: u32) -> Self {
        Self {
            key,
            kind: kind.to_owned(),
            plugin,
            model,
            result: serde_json::Value::Null,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            duration_ms: 0,
            status: CallStatus::Pending,
            starts,
            repeated: Repeated::default(),
            at_seq: None,
            superseded_by: None,
        }
    }

    /// A result, answered at the first start.
    pub fn done(key: String, kind: &str, plugin: String, result: serde_json::Value) -> Self {
        Self { result, status: CallStatus::Done, ..Self::pending(key, kind, plugin, None, 1) }
    }
}

/// Where a journaled call stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Started, no result yet: a killed run may have left it in flight.
    Pending,
    /// Answered; the result is in the entry.
    #[default]
    Done,
    /// Gave up (the error is in the task's history).
    Failed,
}

impl CallStatus {
    /// The name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn is_done(&self) -> bool {
        *self == Self::Done
    }
}

/// Starts of a call whose outcome a kill lost, priced like the start that
/// answered (the provider may have billed each of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Repeated {
    /// How many.
    pub calls: u32,
    /// Input tokens, estimated.
    pub input_tokens: u64,
    /// Output tokens, estimated.
    pub output_tokens: u64,
    /// USD, estimated.
    pub cost_usd: f64,
}

impl Repeated {
    /// `lost` more starts like one of `input`/`output` tokens costing `cost_usd`.
    pub fn estimate(lost: u32, input_tokens: u64, output_tokens: u64, cost_usd: f64) -> Self {
        let n = u64::from(lost);
        Self {
            calls: lost,
            input_tokens: input_tokens * n,
            output_tokens: output_tokens * n,
            cost_usd: cost_usd * f64::from(lost),
        }
    }

    fn is_none(&self) -> bool {
        self.calls == 0
    }
}

/// Everything one engine step writes, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// Transitions in order; the first must follow the task's stored `seq`.
    pub transitions: Vec<Transition>,
    /// New journal entries (their costs are added to the task).
    pub journal: Vec<JournalEntry>,
    /// Other events, logged before the transitions.
    pub events: Vec<Event>,
    /// Metadata to store, if it changed.
    pub meta: Option<TaskMeta>,
    /// Steps to insert (a new plan or a fix step).
    pub new_steps: Vec<StepRecord>,
    /// After a retry: the steps the task has at the point it was retried
    /// from, with their states; every other step is removed. Applied before
    /// `new_steps`.
    pub steps_reset: Option<Vec<(String, StepState)>>,
    /// Sets (`Some(Some)`) or clears (`Some(None)`) the last error.
    pub last_error: Option<Option<String>>,
    /// How rounds of stages went (kept once per round).
    pub outcomes: Vec<Outcome>,
}

/// How one round of a pipeline stage went with the model that served it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `planner`, `plan_reviewer`, `implementer` or `code_reviewer`.
    pub role: String,
    /// What the rounds belong to: the step (`-` for the plan) and the
    /// task's retries, e.g. `step-1@0`.
    pub unit: String,
    /// The round within the unit.
    pub round: u32,
    /// The task's area.
    pub area: String,
    /// The task's risk.
    pub risk: String,
    /// The provider plugin that served the round's last call.
    pub provider: String,
    /// The model that served it.
    pub model: String,
    /// Whether the round's result was accepted.
    pub accepted: bool,
    /// What the round's calls cost.
    pub cost_usd: f64,
    /// How long the round's calls took.
    pub latency_ms: u64,
}

/// How one model did in a role on tasks of one area and risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStats {
    /// The provider plugin.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Rounds it served.
    pub rounds: u32,
    /// Share of them accepted, 0 to 1.
    pub success_rate: f64,
    /// Mean rounds per unit (plan or step).
    pub mean_rounds: f64,
    /// Mean USD per round.
    pub mean_cost_usd: f64,
    /// Mean milliseconds per round.
    pub mean_latency_ms: f64,
}

impl Commit {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.transitions.is_empty()
            && self.journal.is_empty()
            && self.events.is_empty()
            && self.meta.is_none()
            && self.new_steps.is_empty()
            && self.steps_reset.is_none()
            && self.last_error.is_none()
            && self.outcomes.is_empty()
    }
}

/// One commit of a batch.
#[derive(Debug, Clone, Copy)]
pub struct CommitRequest<'a> {
    /// The task it belongs to.
    pub task: &'a str,
    /// The run writing it.
    pub run: Option<i64>,
    /// What to write.
    pub commit: &'a Commit,
}

/// Counts for `orch summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Tasks per state name.
    pub by_state: BTreeMap<String, u64>,
    /// All tasks.
    pub tasks: u64,
    /// Tasks being worked on.
    pub active: u64,
    /// Tasks waiting for a person.
    pub awaiting_human: u64,
    /// USD over all tasks (journaled calls).
    pub cost_usd: f64,
    /// Calls made again after a kill lost their first outcome.
    #[serde(default)]
    pub repeated_calls: u64,
    /// Their estimated USD, on top of `cost_usd`.
    #[serde(default)]
    pub repeated_cost_usd: f64,
}

/// A person's decision on a waiting task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HumanDecision {
    /// Continue where the escalation said.
    Approve { comment: Option<String> },
    /// Fail the task.
    Reject { comment: Option<String> },
}

/// How adding tasks went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Added {
    /// Ids newly added.
    pub added: Vec<String>,
    /// Ids that were already there (left as they are).
    pub existing: Vec<String>,
}

/// A run's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Its id.
    pub id: i64,
    /// When it started.
    pub started_ms: i64,
    /// When it ended, if it did.
    pub finished_ms: Option<i64>,
    /// What was run.
    pub command: String,
    /// The cassette LLM replies were replayed from or recorded to, if any.
    #[serde(default)]
    pub cassette: Option<String>,
}

/// One journaled call and what it cost, for `orch cost`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallCost {
    /// The task it was made for.
    pub task: String,
    /// The run that made it (none for an imported task).
    pub run: Option<i64>,
    /// `route`, `completion` or `check`.
    pub kind: String,
    /// The journal key (`kind/role/step/round.attempt/hash`).
    pub key: String,
    /// The plugin that served it, with its version.
    pub plugin: String,
    /// The model (completions).
    pub model: Option<String>,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// USD.
    pub cost_usd: f64,
    /// How long it took, retries included.
    pub duration_ms: u64,
    /// When it was journaled.
    pub at_ms: i64,
    /// Whether it answered, is in flight or gave up.
    pub status: CallStatus,
    /// Starts whose outcome a kill lost, and their estimated cost.
    pub repeated: Repeated,
    /// The retry that set it aside, if one did (it was still paid for).
    pub superseded_by: Option<u64>,
}

impl CallCost {
    /// The role (or gate) the call served, from its key.
    pub fn role(&self) -> &str {
        crate::journal::KeySite::parse(&self.key).role
    }
}

/// What a run spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RunCost {
    /// USD of the calls it journaled.
    pub journaled_usd: f64,
    /// Calls it made again after a kill lost their first outcome.
    pub repeated_calls: u64,
    /// Their estimated USD.
    pub repeated_usd: f64,
}

impl RunCost {
    /// Everything, repeated calls included.
    pub fn total_usd(&self) -> f64 {
        self.journaled_usd + self.repeated_usd
    }
}

/// What the engine and the CLI need from persistence.
pub trait Store: Send + Sync {
    /// Adds the tasks that are not there yet, in one transaction.
    fn add_tasks(&self, tasks: &[TaskSpec]) -> Result<Added, StoreError>;
    /// One task.
    fn task(&self, id: &str) -> Result<TaskRecord, StoreError>;
    /// Tasks in the given states (all when empty), in file order.
    fn tasks(&self, states: &[TaskState]) -> Result<Vec<TaskRecord>, StoreError>;
    /// A task's steps in order.
    fn steps(&self, id: &str) -> Result<Vec<StepRecord>, StoreError>;
    /// A task's transitions in order: what the engine replays.
    fn history(&self, id: &str) -> Result<Vec<Transition>, StoreError>;
    /// A task's journal in order.
    fn journal(&self, task: &str) -> Result<Vec<JournalEntry>, StoreError>;
    /// Writes `commit` for `task` atomically; returns the events written.
    fn commit(&self, task: &str, run: Option<i64>, commit: Commit) -> Result<Vec<EventRow>, StoreError> {
        self.commit_batch(&[CommitRequest { task, run, commit: &commit }]).pop().expect("one result per commit")
    }
    /// Writes several commits, each atomically and independently of the
    /// others (a backend may group them into one transaction).
    fn commit_batch(&self, batch: &[CommitRequest<'_>]) -> Vec<Result<Vec<EventRow>, StoreError>>;
    /// Applies a person's decision to a task in AWAITING_HUMAN.
    fn decide(&self, task: &str, decision: HumanDecision) -> Result<TaskState, StoreError>;
    /// Moves a FAILED or AWAITING_HUMAN task back into the pipeline, setting
    /// aside (never deleting) the history and journal after the point it
    /// goes back to; the state it goes back to.
    fn retry(&self, task: &str, request: &RetryRequest) -> Result<TaskState, StoreError>;
    /// Starts a run of `command`, noting the cassette it uses.
    fn begin_run(&self, command: &str, cassette: Option<&str>) -> Result<RunRecord, StoreError>;
    /// Ends a run.
    fn finish_run(&self, run: i64) -> Result<(), StoreError>;
    /// Events after `after_id`, optionally of one run.
    fn events(&self, run: Option<i64>, after_id: i64) -> Result<Vec<EventRow>, StoreError>;
    /// Every run, oldest first.
    fn runs(&self) -> Result<Vec<RunRecord>, StoreError>;
    /// Every journaled call with its cost, in the order made.
    fn calls(&self) -> Result<Vec<CallCost>, StoreError>;
    /// What `run` spent: journaled calls, and calls repeated after a kill.
    fn run_cost(&self, run: i64) -> Result<RunCost, StoreError>;
    /// Counts for the summary.
    fn totals(&self) -> Result<Totals, StoreError>;
    /// Per model, how rounds of `role` went on tasks of `area` and `risk`.
    fn model_history(&self, role: &str, area: &str, risk: &str) -> Result<Vec<ModelStats>, StoreError>;
    /// The whole task as one JSON document.
    fn export_task(&self, id: &str) -> Result<TaskExport, StoreError>;
    /// Restores an exported task (replacing one with the same id).
    fn import_task(&self, task: &TaskExport) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests;
