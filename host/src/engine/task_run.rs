//! One task's walk through the pipeline, with deterministic replay. The walk
//! always starts at NEW and passes the task's history in order: while there
//! is recorded history left, each transition the walk makes is checked
//! against the record instead of written; after it, transitions are new.
//! Transitions a retry set aside are not part of the history the walk
//! passes; the retry itself is, and the walk takes it up at its point (its
//! comment, an allowance of more rounds). Plugin calls look up the journal
//! first ([`super::calls`]).
//!
//! Journal before effect: writes are collected and committed in one
//! transaction, always before anything acts on them — a call's `pending`
//! row before the call starts, its result before the walk uses it, a step's
//! approval before its commit, a commit before the branch moves, a gate's
//! result before the worktree is cleaned — so a killed run leaves nothing
//! done that its journal does not explain, and repeats at most the calls in
//! flight (which it counts).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::committer::Durable;
use super::plugins::Plugins;
use super::{EngineError, Shared};
use crate::sandbox::{Message, MessageRole, Risk as WitRisk, Role, Task as WitTask};
use crate::state::{StepState, TaskState};
use crate::store::{
    CallStatus, Category, Commit, Escalation, Event, JournalEntry, Moved, Status, StepRecord, TaskMeta, Transition,
};
use crate::task_retry;
use crate::tasks::{Risk, TaskSpec};

/// How the message of a move to AWAITING_HUMAN starts; the reason follows.
pub(crate) const ESCALATION_PREFIX: &str = "needs a person: ";

/// Why a walk ended early.
#[derive(Debug)]
pub(crate) enum Halt {
    /// The task reached DONE or FAILED, or waits for a person: nothing more to do now.
    Stopped,
    /// Something went wrong in the host (store, replay).
    Error(EngineError),
}

impl<E: Into<EngineError>> From<E> for Halt {
    fn from(err: E) -> Self {
        Self::Error(err.into())
    }
}

/// The step a call is about, as routers and journal keys see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepRef<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub complexity: &'a str,
}

/// The role's name in keys, metadata and templates.
pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Planner => "planner",
        Role::PlanReviewer => "plan_reviewer",
        Role::Implementer => "implementer",
        Role::CodeReviewer => "code_reviewer",
    }
}

pub(crate) struct TaskRun<P: Plugins> {
    pub(super) shared: Arc<Shared<P>>,
    pub(crate) spec: TaskSpec,
    /// The history the walk passes: every transition no retry set aside.
    pub(super) history: Vec<Transition>,
    /// How much of it the walk has passed.
    pub(super) cursor: usize,
    /// The seq of the task's newest transition, set aside or not: new ones follow it.
    last_seq: u64,
    /// The seq of the newest transition the walk has passed; a journal
    /// entry made now records it.
    passed_seq: u64,
    /// Journaled results no retry set aside, by key.
    pub(super) journal: HashMap<String, JournalEntry>,
    /// Calls a killed run left in flight, by key, with how often they were started.
    pub(super) in_flight: HashMap<String, u32>,
    /// The newest journaled step commit when the walk started.
    last_commit: Option<serde_json::Value>,
    pub(crate) state: TaskState,
    steps: HashMap<String, StepState>,
    pub(crate) meta: TaskMeta,
    pending: Commit,
    /// Commits queued and not yet waited for, with when the reply each holds arrived.
    in_store: Vec<(Durable, Option<Instant>)>,
    /// The latest comment a person left with a decision or a retry.
    pub(crate) human: Option<String>,
    /// Budget escalations a person approved: each grants one more task budget.
    pub(super) budget_grants: u32,
    /// Allowances of rounds (or budget) that retries granted and no limit has used yet.
    allowances: u32,
    /// USD spent on the task before this walk (journaled and repeated calls).
    pub(super) spent_before: f64,
    /// USD this walk spent.
    pub(super) spent_now: f64,
    /// The task's worktree, once this walk has set it up.
    pub(crate) workspace: Option<super::change::Workspace>,
    /// When the task was added, and how many retries the walk has passed:
    /// what makes its calls' idempotency keys its own.
    pub(super) created_ms: i64,
    pub(super) retries: u32,
    /// The calls of the stage round in progress.
    pub(super) meter: super::outcomes::Meter,
}

impl<P: Plugins> TaskRun<P> {
    /// Loads what is recorded about `id`.
    pub(crate) fn load(shared: Arc<Shared<P>>, id: &str) -> Result<Self, EngineError> {
        let store = &shared.store;
        let task = store.task(id)?;
        let history = store.history(id)?.into_iter().filter(|t| t.superseded_by.is_none()).collect();
        let mut journal = HashMap::new();
        let mut in_flight = HashMap::new();
        let mut last_commit = None;
        for entry in store.journal(id)?.into_iter().filter(|e| e.superseded_by.is_none()) {
            match entry.status {
                CallStatus::Done => {
                    if entry.key.starts_with(super::change::COMMIT_KEY_PREFIX) {
                        last_commit = Some(entry.result.clone());
                    }
                    journal.insert(entry.key.clone(), entry);
                }
                CallStatus::Pending => {
                    in_flight.insert(entry.key, entry.starts);
                }
                CallStatus::Failed => {}
            }
        }
        let mut run = Self {
            shared,
            spec: task.spec,
            history,
            cursor: 0,
            last_seq: task.seq,
            passed_seq: 0,
            journal,
            in_flight,
            last_commit,
            state: TaskState::New,
            steps: HashMap::new(),
            meta: TaskMeta::default(),
            pending: Commit::default(),
            in_store: Vec::new(),
            human: None,
            budget_grants: 0,
            allowances: 0,
            spent_before: task.cost_usd + task.repeated_cost_usd,
            spent_now: 0.0,
            workspace: None,
            created_ms: task.created_ms,
            retries: 0,
            meter: Default::default(),
        };
        run.take_up_retries()?;
        Ok(run)
    }

    /// What every walk shares (a clone of the handle, so it outlives borrows of `self`).
    pub(crate) fn shared(&self) -> Arc<Shared<P>> {
        Arc::clone(&self.shared)
    }

    pub(super) fn id(&self) -> &str {
        &self.spec.id
    }

    /// Appends a transition, or checks it against the recorded one.
    fn record(&mut self, moved: Moved, message: String) -> Result<(), Halt> {
        if let Some(recorded) = self.history.get(self.cursor) {
            if recorded.moved != moved {
                return Err(EngineError::Diverged {
                    task: self.id().to_owned(),
                    seq: recorded.seq,
                    recorded: format!("{:?}", recorded.moved),
                    now: format!("{moved:?}"),
                }
                .into());
            }
            self.pass()?;
            return Ok(());
        }
        self.last_seq += 1;
        self.passed_seq = self.last_seq;
        let transition = Transition {
            seq: self.last_seq,
            moved,
            actor: "engine".into(),
            message: crate::untrusted::one_line(&message),
            comment: None,
            at_ms: 0,
            superseded_by: None,
        };
        self.pending.transitions.push(transition);
        Ok(())
    }

    /// Passes the recorded transition at the cursor, and any retry after it.
    fn pass(&mut self) -> Result<(), EngineError> {
        self.passed_seq = self.history[self.cursor].seq;
        self.cursor += 1;
        self.take_up_retries()
    }

    /// Takes up the retries at the cursor: the task is back where each one
    /// says, with its comment for the next prompts and, when it says so, one
    /// more allowance of rounds. Taken up live (nothing recorded after it
    /// yet), a retry also removes the steps the walk does not have at this
    /// point (a plan or fix steps made after it).
    fn take_up_retries(&mut self) -> Result<(), EngineError> {
        while let Some(retry) = self.history.get(self.cursor).filter(|t| task_retry::is_retry(t)) {
            let Moved::Task { to, .. } = retry.moved else { unreachable!("a retry moves the task") };
            if to != self.state {
                return Err(EngineError::Diverged {
                    task: self.id().to_owned(),
                    seq: retry.seq,
                    recorded: format!("a retry back to {to}"),
                    now: format!("the walk is at {}", self.state),
                });
            }
            if retry.comment.is_some() {
                self.human.clone_from(&retry.comment);
            }
            if task_retry::grants_allowance(retry) {
                self.allowances += 1;
            }
            self.retries += 1;
            self.passed_seq = retry.seq;
            self.cursor += 1;
            self.meta.escalation = None;
            if !self.replaying() {
                self.pending.steps_reset = Some(self.steps.iter().map(|(id, state)| (id.clone(), *state)).collect());
            }
        }
        Ok(())
    }

    /// Raises `limit` by `per_allowance` when a retry granted an allowance
    /// not used yet; whether it did.
    pub(crate) fn extend(&mut self, limit: &mut u32, per_allowance: u32) -> bool {
        let granted = self.take_allowance();
        if granted {
            *limit += per_allowance;
        }
        granted
    }

    /// Uses up an allowance a retry granted, if one is left.
    pub(super) fn take_allowance(&mut self) -> bool {
        let left = self.allowances > 0;
        self.allowances -= u32::from(left);
        left
    }

    /// Moves the task to `to`.
    pub(crate) fn move_task(&mut self, to: TaskState, message: impl Into<String>) -> Result<(), Halt> {
        let from = self.state;
        from.check(to).map_err(|source| EngineError::Illegal { task: self.id().to_owned(), source })?;
        self.state = to;
        if let Err(halt) = self.record(Moved::Task { from, to }, message.into()) {
            self.state = from;
            return Err(halt);
        }
        Ok(())
    }

    /// Moves step `step` to `to`.
    pub(crate) fn move_step(&mut self, step: &str, to: StepState, message: impl Into<String>) -> Result<(), Halt> {
        let from = self.steps.get(step).copied().unwrap_or(StepState::Pending);
        from.check(to).map_err(|source| EngineError::Illegal { task: self.id().to_owned(), source })?;
        self.steps.insert(step.to_owned(), to);
        self.record(Moved::Step { step: step.to_owned(), from, to }, message.into())
    }

    /// Whether the walk is still re-issuing recorded transitions.
    pub(super) fn replaying(&self) -> bool {
        self.cursor < self.history.len()
    }

    /// Registers steps (a new plan, a fix step); stored with the next commit
    /// unless they are already recorded.
    pub(crate) fn add_steps(&mut self, steps: Vec<StepRecord>) {
        let replaying = self.replaying();
        for step in &steps {
            self.steps.entry(step.id.clone()).or_insert(StepState::Pending);
        }
        if !replaying {
            self.pending.new_steps.extend(steps);
        }
    }

    /// Logs an event; its message may quote plugins and models, so it is made one printable line.
    pub(crate) fn event(&mut self, category: Category, status: Status, step: Option<&str>, message: String) {
        let message = crate::untrusted::one_line(&message);
        self.pending.events.push(Event { category, status, step: step.map(str::to_owned), message });
    }

    /// Queues everything pending as one commit, without waiting for it; the
    /// next [`flush`](Self::flush) does. `arrived` is when the reply it holds
    /// came, if it holds one (to measure how soon it was durable).
    pub(super) fn send(&mut self, arrived: Option<Instant>) {
        if self.pending.is_empty() {
            return;
        }
        let mut commit = std::mem::take(&mut self.pending);
        commit.meta = Some(self.meta.clone());
        let durable = self.shared.committer.enqueue(&self.spec.id, self.shared.run, commit);
        self.in_store.push((durable, arrived));
    }

    /// Commits everything pending and waits until it and every commit queued
    /// before it are durable: what comes before any effect.
    pub(crate) async fn flush(&mut self) -> Result<(), Halt> {
        self.send(None);
        for (durable, arrived) in std::mem::take(&mut self.in_store) {
            let at = durable.await?;
            if let Some(arrived) = arrived {
                self.shared.reply_delays.record(at.saturating_duration_since(arrived));
            }
        }
        Ok(())
    }

    /// Fails the task (and the step in progress) with `reason`.
    pub(crate) async fn fail(&mut self, reason: String) -> Halt {
        match self.fail_inner(reason).await {
            Ok(()) => Halt::Stopped,
            Err(halt) => halt,
        }
    }

    async fn fail_inner(&mut self, reason: String) -> Result<(), Halt> {
        if let Some(step) = self.meta.current_step.clone()
            && self.steps.get(&step).is_some_and(|s| s.check(StepState::Failed).is_ok())
        {
            self.move_step(&step, StepState::Failed, "failed with its task")?;
        }
        self.pending.last_error = Some(Some(reason.clone()));
        self.move_task(TaskState::Failed, reason)?;
        self.flush().await
    }

    /// Sends the task to a person. Returns when a recorded decision approves
    /// it (the task is then at `resume_to`); stops the walk otherwise.
    pub(crate) async fn escalate(&mut self, stage: &str, reason: String, resume_to: TaskState) -> Result<(), Halt> {
        self.meta.escalation = Some(Escalation { stage: stage.to_owned(), reason: reason.clone(), resume_to });
        if !self.replaying() {
            // A replayed escalation was decided since; its reason is history.
            self.pending.last_error = Some(Some(reason.clone()));
        }
        self.move_task(TaskState::AwaitingHuman, format!("{ESCALATION_PREFIX}{reason}"))?;
        let decision =
            self.history.get(self.cursor).filter(|t| t.actor == "human" && !task_retry::is_retry(t)).cloned();
        let Some(decision) = decision else {
            self.flush().await?;
            return Err(Halt::Stopped);
        };
        let Moved::Task { to, .. } = decision.moved else {
            return Err(
                EngineError::Corrupt(format!("task `{}`: a human decision that moves a step", self.id())).into()
            );
        };
        self.state = to;
        self.human = decision.comment;
        self.meta.escalation = None;
        self.pass()?;
        if to == TaskState::Failed { Err(Halt::Stopped) } else { Ok(()) }
    }

    pub(crate) fn wit_task(&self) -> WitTask {
        WitTask {
            id: self.spec.id.clone(),
            goal: self.spec.goal.clone(),
            risk: match self.spec.risk {
                Risk::Low => WitRisk::Low,
                Risk::Medium => WitRisk::Medium,
                Risk::High => WitRisk::High,
            },
            area: self.spec.area.clone(),
            labels: self.spec.labels.clone(),
        }
    }

    /// Queues `entry` for the next commit, as made after the transitions the
    /// walk has passed; a result is taken from now on.
    /// Stores how a stage round went with the next commit.
    pub(super) fn remember_outcome(&mut self, outcome: crate::store::Outcome) {
        self.pending.outcomes.push(outcome);
    }

    pub(super) fn remember(&mut self, mut entry: JournalEntry) {
        entry.at_seq = Some(self.passed_seq);
        if entry.status == CallStatus::Done {
            self.journal.insert(entry.key.clone(), entry.clone());
        }
        self.pending.journal.push(entry);
    }

    /// The newest step commit journaled before this walk started.
    pub(crate) fn last_recorded_commit(&self) -> Option<&serde_json::Value> {
        self.last_commit.as_ref()
    }

    /// The recorded result of the host effect `key`, if there is one.
    pub(crate) fn recorded(&self, key: &str) -> Option<&serde_json::Value> {
        self.journal.get(key).map(|e| &e.result)
    }

    /// Records the result of a host effect (setting up a worktree, applying
    /// a step's edits, committing it), durable before anything depends on it.
    pub(crate) async fn record_effect(&mut self, key: String, result: serde_json::Value) -> Result<(), Halt> {
        self.remember(JournalEntry::done(key, "workspace", "host".into(), result));
        self.flush().await
    }

    /// A system and a user message.
    pub(crate) fn messages(system: String, user: String) -> Vec<Message> {
        vec![Message { role: MessageRole::System, content: system }, Message { role: MessageRole::User, content: user }]
    }
}
