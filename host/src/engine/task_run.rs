//! One task's walk through the pipeline, with deterministic replay. The walk
//! always starts at NEW; each transition it makes is numbered, and while the
//! number is within the task's stored history the transition is checked
//! against the record instead of written. Effectful calls look up the journal
//! first. Pending writes are committed in one transaction before every
//! effectful call and when the walk stops, so a result is durable before the
//! engine acts on it and a killed run repeats at most the call in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::plugins::Plugins;
use super::{EngineError, Shared};
use crate::journal::{self, CallSite, CheckRecord, CompletionRecord, RouteRecord};
use crate::retry::{self, Decision, ErrorKind, GaveUp};
use crate::sandbox::{
    CheckRequest, CompletionRequest, Message, MessageRole, Risk as WitRisk, Role, RouteRequest, Task as WitTask,
};
use crate::state::{StepState, TaskState};
use crate::store::{
    Category, Commit, Escalation, Event, JournalEntry, Moved, Status, StepRecord, TaskMeta, Transition,
};
use crate::tasks::{Risk, TaskSpec};

/// How the message of a move to AWAITING_HUMAN starts; the reason follows.
const ESCALATION_PREFIX: &str = "needs a person: ";

/// How the reason of a budget escalation starts.
const BUDGET_EXCEEDED: &str = "budget exceeded";

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
    shared: Arc<Shared<P>>,
    pub(crate) spec: TaskSpec,
    history: Vec<Transition>,
    journal: HashMap<String, JournalEntry>,
    /// The newest journaled step commit when the walk started.
    last_commit: Option<serde_json::Value>,
    seq: u64,
    pub(crate) state: TaskState,
    steps: HashMap<String, StepState>,
    pub(crate) meta: TaskMeta,
    pending: Commit,
    /// The latest comment a person left with a decision.
    pub(crate) human: Option<String>,
    /// Budget escalations a person approved: each grants one more task budget.
    budget_grants: u32,
    /// The task's worktree, once this walk has set it up.
    pub(crate) workspace: Option<super::change::Workspace>,
}

impl<P: Plugins> TaskRun<P> {
    /// Loads what is recorded about `id`.
    pub(crate) fn load(shared: Arc<Shared<P>>, id: &str) -> Result<Self, EngineError> {
        let store = &shared.store;
        let spec = store.task(id)?.spec;
        let history = store.history(id)?;
        let entries = store.journal(id)?;
        let last_commit = entries
            .iter()
            .rev()
            .find(|e| e.key.starts_with(super::change::COMMIT_KEY_PREFIX))
            .map(|e| e.result.clone());
        let journal = entries.into_iter().map(|e| (e.key.clone(), e)).collect();
        Ok(Self {
            shared,
            spec,
            history,
            journal,
            last_commit,
            seq: 0,
            state: TaskState::New,
            steps: HashMap::new(),
            meta: TaskMeta::default(),
            pending: Commit::default(),
            human: None,
            budget_grants: 0,
            workspace: None,
        })
    }

    /// What every walk shares (a clone of the handle, so it outlives borrows of `self`).
    pub(crate) fn shared(&self) -> Arc<Shared<P>> {
        Arc::clone(&self.shared)
    }

    fn id(&self) -> &str {
        &self.spec.id
    }

    /// Appends a transition, or checks it against the recorded one.
    fn record(&mut self, moved: Moved, message: String) -> Result<(), Halt> {
        self.seq += 1;
        if let Some(recorded) = self.history.get(self.seq as usize - 1) {
            if recorded.moved != moved {
                return Err(EngineError::Diverged {
                    task: self.id().to_owned(),
                    seq: self.seq,
                    recorded: format!("{:?}", recorded.moved),
                    now: format!("{moved:?}"),
                }
                .into());
            }
            return Ok(());
        }
        let transition = Transition { seq: self.seq, moved, actor: "engine".into(), message, comment: None, at_ms: 0 };
        self.pending.transitions.push(transition);
        Ok(())
    }

    /// Moves the task to `to`.
    pub(crate) fn move_task(&mut self, to: TaskState, message: impl Into<String>) -> Result<(), Halt> {
        let from = self.state;
        from.check(to).map_err(|source| EngineError::Illegal { task: self.id().to_owned(), source })?;
        self.record(Moved::Task { from, to }, message.into())?;
        self.state = to;
        Ok(())
    }

    /// Moves step `step` to `to`.
    pub(crate) fn move_step(&mut self, step: &str, to: StepState, message: impl Into<String>) -> Result<(), Halt> {
        let from = self.steps.get(step).copied().unwrap_or(StepState::Pending);
        from.check(to).map_err(|source| EngineError::Illegal { task: self.id().to_owned(), source })?;
        self.record(Moved::Step { step: step.to_owned(), from, to }, message.into())?;
        self.steps.insert(step.to_owned(), to);
        Ok(())
    }

    /// Whether the walk is still re-issuing recorded transitions.
    fn replaying(&self) -> bool {
        (self.seq as usize) < self.history.len()
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

    pub(crate) fn event(&mut self, category: Category, status: Status, step: Option<&str>, message: String) {
        self.pending.events.push(Event { category, status, step: step.map(str::to_owned), message });
    }

    /// Commits everything pending in one transaction and tells the sink.
    pub(crate) async fn flush(&mut self) -> Result<(), Halt> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut commit = std::mem::take(&mut self.pending);
        commit.meta = Some(self.meta.clone());
        self.shared.committer.commit(&self.spec.id, self.shared.run, commit).await?;
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
        let decision = self.history.get(self.seq as usize).filter(|t| t.actor == "human").cloned();
        let Some(decision) = decision else {
            self.flush().await?;
            return Err(Halt::Stopped);
        };
        let Moved::Task { to, .. } = decision.moved else {
            return Err(
                EngineError::Corrupt(format!("task `{}`: a human decision that moves a step", self.id())).into()
            );
        };
        self.seq += 1;
        self.state = to;
        self.human = decision.comment;
        self.meta.escalation = None;
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

    /// The router's decision for a call about to be made. Not journaled on
    /// its own: it is recorded with the completion it leads to.
    async fn route(
        &mut self,
        role: Role,
        round: u32,
        step: Option<StepRef<'_>>,
        author: Option<&str>,
    ) -> Result<RouteRecord, Halt> {
        let request = RouteRequest {
            role,
            task: self.wit_task(),
            attempt: round,
            step_kind: step.map(|s| s.kind.to_owned()),
            step_complexity: step.map(|s| s.complexity.to_owned()),
            author_model: author.map(str::to_owned),
        };
        let shared = Arc::clone(&self.shared);
        let outcome = retry::retry(&shared.settings.retry, |_| shared.plugins.route(&request), |_| {}).await;
        let served = match outcome {
            Ok(served) => served,
            Err(gave_up) => return Err(self.fail(format!("routing {} failed: {gave_up}", role_name(role))).await),
        };
        let record = RouteRecord::new(&served.value, served.plugin);
        self.event(
            Category::Routing,
            Status::Info,
            step.map(|s| s.id),
            format!(
                "{} → {}/{}: {} ({})",
                role_name(role),
                record.provider,
                record.model,
                record.reason,
                record.router
            ),
        );
        Ok(record)
    }

    /// A journal entry that no longer decodes.
    fn unreadable(&self, key: &str, error: serde_json::Error) -> EngineError {
        EngineError::Corrupt(format!("task `{}`: journal entry {key}: {error}", self.id()))
    }

    fn remember(&mut self, entry: JournalEntry) {
        self.journal.insert(entry.key.clone(), entry.clone());
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
        self.remember(JournalEntry {
            key,
            kind: "workspace".into(),
            plugin: "host".into(),
            model: None,
            result,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            duration_ms: 0,
        });
        self.flush().await
    }

    /// One LLM call for `role`: routed, journaled, retried and failed over.
    pub(crate) async fn ask(
        &mut self,
        role: Role,
        site: CallSite<'_>,
        step: Option<StepRef<'_>>,
        author: Option<&str>,
        messages: Vec<Message>,
    ) -> Result<CompletionRecord, Halt> {
        let settings = &self.shared.settings;
        let mut request = CompletionRequest {
            model: String::new(),
            messages,
            max_tokens: settings.pipeline.max_tokens,
            temperature: settings.pipeline.temperature,
            stop: Vec::new(),
            // Every role answers with one JSON object (a plan, a verdict, a change).
            json_mode: true,
        };
        let key = journal::completion_key(site, &request);
        self.within_budget(self.journal.contains_key(&key)).await?;
        if let Some(entry) = self.journal.get(&key) {
            let record = CompletionRecord::from_entry(entry).map_err(|e| self.unreadable(&key, e))?;
            self.meta.models.insert(role_name(role).to_owned(), record.model_use());
            return Ok(record);
        }
        let route = self.route(role, site.round, step, author).await?;
        self.flush().await?;
        let step_id = step.map(|s| s.id);
        let shared = Arc::clone(&self.shared);
        let started = Instant::now();
        let mut last: Option<GaveUp> = None;
        for (i, choice) in route.choices().into_iter().enumerate() {
            if let Some(previous) = &last {
                self.event(
                    Category::Retry,
                    Status::Warning,
                    step_id,
                    format!("{} falls back to {}/{} after: {previous}", role_name(role), choice.provider, choice.model),
                );
            }
            request.model = choice.model.clone();
            let mut notices = Vec::new();
            let outcome = retry::retry(
                &shared.settings.retry,
                |_| async {
                    let _permit = shared.limits.acquire(&choice.provider).await;
                    shared.plugins.complete(&choice.provider, &request).await
                },
                |n| {
                    notices.push(format!(
                        "{} {}/{} attempt {} failed ({}); retrying in {} ms",
                        role_name(role),
                        choice.provider,
                        choice.model,
                        n.attempt,
                        n.error,
                        n.delay.as_millis()
                    ))
                },
            )
            .await;
            for notice in notices {
                self.event(Category::Retry, Status::Warning, step_id, notice);
            }
            match outcome {
                Ok(served) => {
                    let completion = served.value;
                    let record = CompletionRecord::new(&choice.provider, &choice.model, &completion, route.clone());
                    let cost = shared.pricing.cost(
                        &completion.model,
                        record.input_tokens,
                        record.output_tokens,
                        record.cached_input_tokens,
                    );
                    let duration_ms = started.elapsed().as_millis() as u64;
                    self.event(
                        Category::LlmCall,
                        Status::Ok,
                        step_id,
                        format!(
                            "{} {}/{}: {} in / {} out tokens, ${cost:.4}, {duration_ms} ms{}",
                            role_name(role),
                            choice.provider,
                            completion.model,
                            record.input_tokens,
                            record.output_tokens,
                            if i > 0 { " (fallback)" } else { "" }
                        ),
                    );
                    self.meta.models.insert(role_name(role).to_owned(), record.model_use());
                    *shared.run_spent.lock().expect("not poisoned") += cost;
                    self.remember(JournalEntry {
                        key,
                        kind: "completion".into(),
                        plugin: served.plugin,
                        model: Some(completion.model.clone()),
                        result: record.to_json(),
                        input_tokens: record.input_tokens,
                        output_tokens: record.output_tokens,
                        cost_usd: cost,
                        duration_ms,
                    });
                    // Durable before anything acts on it.
                    self.flush().await?;
                    return Ok(record);
                }
                Err(gave_up) => {
                    self.event(
                        Category::LlmCall,
                        Status::Failed,
                        step_id,
                        format!("{} {}/{}: {gave_up}", role_name(role), choice.provider, choice.model),
                    );
                    let stop = gave_up.decision == Decision::Stop;
                    last = Some(gave_up);
                    if stop {
                        break;
                    }
                }
            }
        }
        let gave_up = last.expect("a route has at least one choice");
        if gave_up.error.kind == ErrorKind::BudgetExceeded {
            // The provider's own spending limit: a person decides, as for ours.
            let reason = format!("{BUDGET_EXCEEDED}: {}", gave_up.error.message);
            let resume_to = self.state;
            return Err(match self.escalate("budget", reason, resume_to).await {
                Err(halt) => halt,
                Ok(()) => unreachable!("a recorded budget escalation is replayed before the call"),
            });
        }
        Err(self.fail(format!("{} call failed: {gave_up}", role_name(role))).await)
    }

    /// Stops before a call once the task's or the run's budget is spent: the
    /// task waits for a person. A budget escalation recorded at this point of
    /// the history is replayed instead (the call may have been made and
    /// journaled since); each one a person approved grants the task one more
    /// task budget. Only a call that is not `journaled` is checked live.
    async fn within_budget(&mut self, journaled: bool) -> Result<(), Halt> {
        loop {
            let recorded = self
                .history
                .get(self.seq as usize)
                .filter(|t| matches!(t.moved, Moved::Task { to: TaskState::AwaitingHuman, .. }))
                .and_then(|t| t.message.strip_prefix(ESCALATION_PREFIX))
                .filter(|reason| reason.starts_with(BUDGET_EXCEEDED))
                .map(str::to_owned);
            let reason = match recorded {
                Some(reason) => reason,
                None if journaled => return Ok(()),
                None => match self.budget_exceeded() {
                    Some(reason) => reason,
                    None => return Ok(()),
                },
            };
            let resume_to = self.state;
            self.escalate("budget", reason, resume_to).await?;
            self.budget_grants += 1;
        }
    }

    /// `budget exceeded: spent $X of $Y (…)` when a budget is spent.
    fn budget_exceeded(&self) -> Option<String> {
        let budget = self.shared.settings.budget;
        if let Some(limit) = budget.task_usd {
            let spent: f64 = self.journal.values().map(|e| e.cost_usd).sum();
            let allowed = limit * f64::from(self.budget_grants + 1);
            if spent >= allowed {
                return Some(format!(
                    "{BUDGET_EXCEEDED}: spent ${spent:.4} of ${allowed:.4} (task budget, [budget] task_usd)"
                ));
            }
        }
        if let Some(limit) = budget.run_usd {
            let spent = *self.shared.run_spent.lock().expect("not poisoned");
            if spent >= limit {
                return Some(format!(
                    "{BUDGET_EXCEEDED}: spent ${spent:.4} of ${limit:.4} (run budget, [budget] run_usd or --max-cost)"
                ));
            }
        }
        None
    }

    /// Runs gate `gate` on the change (whose tree is `tree`), from the
    /// journal when it judged the same inputs before, else the plugin.
    pub(crate) async fn check(
        &mut self,
        gate: &str,
        round: u32,
        request: CheckRequest,
        tree: &str,
    ) -> Result<CheckRecord, Halt> {
        let site = CallSite { role: gate, step: None, round, attempt: 1 };
        let inputs = journal::check_inputs(&request, tree, &self.shared.plugins.gate_identity(gate));
        let key = journal::check_key(site, &inputs);
        if let Some(entry) = self.journal.get(&key) {
            return serde_json::from_value(entry.result.clone()).map_err(|e| self.unreadable(&key, e).into());
        }
        self.flush().await?;
        let shared = Arc::clone(&self.shared);
        let started = Instant::now();
        let mut notices = Vec::new();
        let outcome = retry::retry(
            &shared.settings.retry,
            |_| shared.plugins.check(gate, &request),
            |n| {
                notices.push(format!(
                    "gate {gate} attempt {} failed ({}); retrying in {} ms",
                    n.attempt,
                    n.error,
                    n.delay.as_millis()
                ))
            },
        )
        .await;
        for notice in notices {
            self.event(Category::Retry, Status::Warning, None, notice);
        }
        let served = match outcome {
            Ok(served) => served,
            Err(gave_up) => return Err(self.fail(format!("gate `{gate}` could not run: {gave_up}")).await),
        };
        let record = CheckRecord { input_hash: inputs, ..CheckRecord::from(&served.value) };
        let status = if record.passed { Status::Ok } else { Status::Failed };
        let verdict = if record.passed { "passed" } else { "failed" };
        self.event(
            Category::QualityGate,
            status,
            None,
            format!("{gate} {verdict}: {} ({} findings)", record.summary, record.findings.len()),
        );
        self.remember(JournalEntry {
            key,
            kind: "check".into(),
            plugin: served.plugin,
            model: None,
            result: serde_json::to_value(&record).expect("check records serialise"),
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            duration_ms: started.elapsed().as_millis() as u64,
        });
        self.flush().await?;
        Ok(record)
    }

    /// A system and a user message.
    pub(crate) fn messages(system: String, user: String) -> Vec<Message> {
        vec![Message { role: MessageRole::System, content: system }, Message { role: MessageRole::User, content: user }]
    }
}
