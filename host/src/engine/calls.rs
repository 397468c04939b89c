//! The walk's plugin calls: an LLM completion for a role (routed, retried,
//! failed over) and a gate check, each journaled under a deterministic key
//! and taken from the journal when it is there. Before a call starts its
//! `pending` row is committed; its result replaces the row and is durable
//! before the walk uses it. A call found `pending` was in flight when a run
//! was killed: its outcome is unknown, so it is made again and the lost
//! start is counted, priced like the start that answered, in the task's,
//! the run's and the budgets' spending.

use std::sync::Arc;
use std::time::Instant;

use super::EngineError;
use super::plugins::Plugins;
use super::task_run::{ESCALATION_PREFIX, Halt, StepRef, TaskRun, role_name};
use crate::journal::{self, CallSite, CheckRecord, CompletionRecord, RouteRecord};
use crate::retry::{self, Decision, ErrorKind, GaveUp};
use crate::sandbox::{CheckRequest, CompletionRequest, Message, Role, RouteRequest};
use crate::state::TaskState;
use crate::store::{CallStatus, Category, JournalEntry, Moved, Repeated, Status};

/// How one call asks for its answer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Shape<'a> {
    /// Ask for one JSON object.
    pub json: bool,
    /// The JSON Schema the answer must follow, sent as `response-schema`.
    pub schema: Option<&'static str>,
    /// The token limit; `[pipeline] max_tokens` when none.
    pub max_tokens: Option<u32>,
    /// The routing decision made (and journaled) before the prompt was
    /// written; the router is asked when none.
    pub route: Option<&'a RouteRecord>,
}

/// How the reason of a budget escalation starts.
const BUDGET_EXCEEDED: &str = "budget exceeded";

impl<P: Plugins> TaskRun<P> {
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
            catalog: self.shared.catalog.clone(),
            history: self.shared.history.get(
                &*self.shared.store,
                role_name(role),
                &self.spec.area,
                &self.spec.risk.to_string(),
            ),
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

    /// The router's decision for `site`, journaled on its own, for a call
    /// whose prompt depends on the model chosen (the implementer's edit
    /// format): a replayed walk writes the same prompt.
    pub(crate) async fn route_recorded(
        &mut self,
        role: Role,
        site: CallSite<'_>,
        step: Option<StepRef<'_>>,
    ) -> Result<RouteRecord, Halt> {
        let key = journal::route_key(site);
        if let Some(value) = self.recorded(&key) {
            return serde_json::from_value(value.clone()).map_err(|e| self.unreadable(&key, e).into());
        }
        let route = self.route(role, site.round, step, None).await?;
        self.record_effect(key, serde_json::to_value(&route).expect("route records serialise")).await?;
        Ok(route)
    }

    /// A journal entry that no longer decodes.
    fn unreadable(&self, key: &str, error: serde_json::Error) -> EngineError {
        EngineError::Corrupt(format!("task `{}`: journal entry {key}: {error}", self.id()))
    }

    /// Commits the `pending` row of call `key` before it starts, holding
    /// `route` for a completion (so a call that never answers still shows
    /// the decision it was made under); how often the call has now been
    /// started (more than once when killed runs left it in flight).
    async fn start_call(
        &mut self,
        key: &str,
        kind: &str,
        plugin: &str,
        model: Option<&str>,
        route: Option<&RouteRecord>,
    ) -> Result<u32, Halt> {
        let starts = self.in_flight.remove(key).map_or(1, |n| n + 1);
        let mut entry =
            JournalEntry::pending(key.to_owned(), kind, plugin.to_owned(), model.map(str::to_owned), starts);
        if let Some(route) = route {
            let pending = journal::PendingCompletion { route: route.clone() };
            entry.result = serde_json::to_value(pending).expect("route records serialise");
        }
        self.remember(entry);
        self.flush().await?;
        Ok(starts)
    }

    /// Marks call `key` as given up (committed with the failure it leads to).
    fn give_up_call(&mut self, key: String, kind: &str, plugin: &str, starts: u32, started: Instant) {
        let mut entry = JournalEntry::pending(key, kind, plugin.to_owned(), None, starts);
        entry.status = CallStatus::Failed;
        entry.duration_ms = started.elapsed().as_millis() as u64;
        self.remember(entry);
    }

    /// The starts of a call before the one that answered, priced like it,
    /// and noted in the run log.
    fn count_lost_starts(&mut self, what: &str, step: Option<&str>, starts: u32, one: (u64, u64, f64)) -> Repeated {
        let repeated = Repeated::estimate(starts - 1, one.0, one.1, one.2);
        if repeated.calls > 0 {
            self.event(
                Category::Retry,
                Status::Warning,
                step,
                format!(
                    "{what} repeated after interruption: {} earlier start(s) lost in a killed run, about ${:.4}",
                    repeated.calls, repeated.cost_usd
                ),
            );
        }
        repeated
    }

    /// Adds `usd` to what this walk and this run spent.
    fn spend(&mut self, usd: f64) {
        self.spent_now += usd;
        *self.shared.run_spent.lock().expect("not poisoned") += usd;
    }

    /// One LLM call for `role`: routed, journaled, retried and failed over.
    pub(crate) async fn ask(
        &mut self,
        role: Role,
        site: CallSite<'_>,
        step: Option<StepRef<'_>>,
        author: Option<&str>,
        messages: Vec<Message>,
        shape: Shape<'_>,
    ) -> Result<CompletionRecord, Halt> {
        let settings = &self.shared.settings;
        let mut request = CompletionRequest {
            model: String::new(),
            messages,
            max_tokens: shape.max_tokens.or(settings.pipeline.max_tokens),
            temperature: settings.pipeline.temperature,
            stop: Vec::new(),
            json_mode: shape.json,
            // Left out of the journal key: a role's schema follows from its role.
            response_schema: shape.schema.map(str::to_owned),
            idempotency_key: None,
        };
        let key = journal::completion_key(site, &request);
        self.within_budget(self.journal.contains_key(&key)).await?;
        if let Some(entry) = self.journal.get(&key) {
            let record = CompletionRecord::from_entry(entry).map_err(|e| self.unreadable(&key, e))?;
            let (cost, duration_ms) = (entry.cost_usd, entry.duration_ms);
            self.meter.add(&record, cost, duration_ms);
            self.meta.models.insert(role_name(role).to_owned(), record.model_use());
            return Ok(record);
        }
        let route = match shape.route {
            Some(route) => route.clone(),
            None => self.route(role, site.round, step, author).await?,
        };
        if let Some(reason) = self.unpriced_under_budget(&route) {
            return Err(self.fail(reason).await);
        }
        let starts = self.start_call(&key, "completion", &route.provider, Some(&route.model), Some(&route)).await?;
        request.idempotency_key = Some(journal::idempotency_key(self.id(), self.created_ms, self.retries, &key));
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
            let arrived = Instant::now();
            for notice in notices {
                self.event(Category::Retry, Status::Warning, step_id, notice);
            }
            match outcome {
                Ok(served) => {
                    let completion = served.value;
                    let record = CompletionRecord::new(&choice.provider, &choice.model, &completion, route.clone());
                    let tokens = (&completion.usage).into();
                    let (cost, renamed) = shared.pricing.cost_of_call(&choice.model, &completion.model, tokens);
                    if renamed {
                        self.event(
                            Category::LlmCall,
                            Status::Warning,
                            step_id,
                            format!(
                                "{} {} answered a call for {} as {}: priced at the higher of the two",
                                role_name(role),
                                choice.provider,
                                choice.model,
                                completion.model
                            ),
                        );
                    }
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
                    let one = (record.input_tokens, record.output_tokens, cost);
                    let repeated = self.count_lost_starts(&format!("{} call", role_name(role)), step_id, starts, one);
                    self.meta.models.insert(role_name(role).to_owned(), record.model_use());
                    self.meter.add(&record, cost, duration_ms);
                    self.spend(cost + repeated.cost_usd);
                    self.remember(JournalEntry {
                        model: Some(completion.model.clone()),
                        input_tokens: record.input_tokens,
                        output_tokens: record.output_tokens,
                        cost_usd: cost,
                        duration_ms,
                        starts,
                        repeated,
                        ..JournalEntry::done(key, "completion", served.plugin, record.to_json())
                    });
                    // Durable about one commit from now, and before anything acts on it.
                    self.send(Some(arrived));
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
        self.give_up_call(key, "completion", &route.provider, starts, started);
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
    /// task budget, as does an allowance a retry granted. Only a call that
    /// is not `journaled` is checked live.
    async fn within_budget(&mut self, journaled: bool) -> Result<(), Halt> {
        loop {
            let recorded = self
                .history
                .get(self.cursor)
                .filter(|t| matches!(t.moved, Moved::Task { to: TaskState::AwaitingHuman, .. }))
                .and_then(|t| t.message.strip_prefix(ESCALATION_PREFIX))
                .filter(|reason| reason.starts_with(BUDGET_EXCEEDED))
                .map(str::to_owned);
            let reason = match recorded {
                Some(reason) => reason,
                None if journaled => return Ok(()),
                None => match self.budget_exceeded() {
                    Some(_) if self.take_allowance() => {
                        self.budget_grants += 1;
                        continue;
                    }
                    Some(reason) => reason,
                    None => return Ok(()),
                },
            };
            let resume_to = self.state;
            self.escalate("budget", reason, resume_to).await?;
            self.budget_grants += 1;
        }
    }

    /// Why `route` may not be called when a budget is set and one of its
    /// models has no price: its calls would count as free.
    fn unpriced_under_budget(&self, route: &RouteRecord) -> Option<String> {
        let budget = self.shared.settings.budget;
        if budget.task_usd.is_none() && budget.run_usd.is_none() {
            return None;
        }
        let choice = route.choices().into_iter().find(|c| self.shared.pricing.price(&c.model).is_none())?;
        Some(format!(
            "{}/{} has no price, and a budget is set, so its calls cannot be counted: add \
             [pricing.\"{}\"] (input, output USD per million tokens) to orch.toml",
            choice.provider, choice.model, choice.model
        ))
    }

    /// `budget exceeded: spent $X of $Y (…)` when a budget is spent.
    fn budget_exceeded(&self) -> Option<String> {
        let budget = self.shared.settings.budget;
        if let Some(limit) = budget.task_usd {
            let spent = self.spent_before + self.spent_now;
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
        let starts = self.start_call(&key, "check", gate, None, None).await?;
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
            Err(gave_up) => {
                self.give_up_call(key, "check", gate, starts, started);
                return Err(self.fail(format!("gate `{gate}` could not run: {gave_up}")).await);
            }
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
        let repeated = self.count_lost_starts(&format!("gate {gate}"), None, starts, (0, 0, 0.0));
        let result = serde_json::to_value(&record).expect("check records serialise");
        self.remember(JournalEntry {
            duration_ms: started.elapsed().as_millis() as u64,
            starts,
            repeated,
            ..JournalEntry::done(key, "check", served.plugin, result)
        });
        self.flush().await?;
        Ok(record)
    }
}
