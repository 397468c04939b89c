//! The pipeline itself: PLANNING → PLAN_REVIEW (re-plan with the concerns, at
//! most `max_plan_rounds`, then a person) → IMPLEMENTING each step with
//! CODE_REVIEW (retry with the concerns, at most `max_review_rounds`, then a
//! person) → QUALITY_GATE (back to the implementer with the findings, at most
//! `max_gate_rounds`, then FAILED) → DONE. Replies that do not parse are asked
//! again with the parse error, at most `max_format_attempts` times.

use super::calls::Shape;
use super::change;
use super::plan::{self, Complexity, Plan, PlanStep, StepKind};
use super::plugins::Plugins;
use super::prompts::{Template, Vars};
use super::reply::Stopped;
use super::schema;
use super::task_run::{Halt, StepRef, TaskRun, role_name};
use crate::journal::{CallSite, CompletionRecord, RouteRecord};
use crate::sandbox::{CheckRequest, Message, MessageRole, Role};
use crate::state::{StepState, TaskState};
use crate::store::{Category, Status, StepRecord};
use crate::task_retry::GATE_EXHAUSTED;
use crate::workspace::Format;

/// Walks the task from NEW to wherever it can get now.
pub(crate) async fn drive<P: Plugins>(t: &mut TaskRun<P>) -> Result<(), Halt> {
    t.move_task(TaskState::Planning, "")?;
    let plan = plan_until_approved(t).await?;
    let plan_text = serde_json::to_string_pretty(&plan).expect("plans serialise");
    t.add_steps(plan.steps.iter().enumerate().map(|(i, s)| step_record(i, &s.id, s.kind, &s.description)).collect());
    t.move_task(TaskState::Implementing, format!("implementing {} steps", plan.steps.len()))?;
    let mut work = Vec::new();
    for step in &plan.steps {
        let text = implement_step(t, &plan_text, step, Vec::new()).await?;
        work.push((step.id.clone(), text));
    }
    let size = plan.steps.iter().map(|s| s.estimated_complexity).max().unwrap_or_default();
    let policy = t.shared().settings.gates.clone();
    let gates = policy.for_change(size, t.spec.risk);
    let max_gate_rounds = t.shared().settings.pipeline.max_gate_rounds;
    let mut gate_limit = max_gate_rounds;
    for round in 1.. {
        t.move_task(TaskState::QualityGate, format!("running {} gate(s)", gates.len()))?;
        let (request, tree) = check_request(t, &plan, &work, size).await?;
        let mut findings = Vec::new();
        for gate in &gates {
            let result = t.check(gate, round, request.clone(), &tree).await?;
            let warnings: Vec<_> = result.findings.iter().filter(|f| f.severity == "warning").collect();
            if !result.passed {
                findings.push(format!("{gate}: {}", result.summary));
                findings.extend(result.findings.iter().map(|f| format!("{gate}: {}", f.render())));
            } else if policy.require_clean && !warnings.is_empty() {
                // Passed, but cannot merge cleanly.
                findings.push(format!("{gate}: passed with {} warning(s): {}", warnings.len(), result.summary));
                findings.extend(warnings.iter().map(|f| format!("{gate}: {}", f.render())));
            }
        }
        if let Some(workspace) = t.workspace.clone() {
            // Commands the gates ran may have left files (caches, reports).
            change::clean(t, &workspace, "what the gates' commands left").await?;
        }
        if findings.is_empty() {
            t.meta.concerns.clear();
            t.move_task(TaskState::Done, "every step approved and every gate passed")?;
            t.flush().await?;
            if let (Some(workspace), Some(workspaces)) = (&t.workspace, &t.shared().settings.workspaces) {
                // The branch stays, ready to merge; only the checkout goes.
                if let Err(e) = workspace.tree.remove(workspaces).await {
                    tracing::warn!("task `{}` is done but its worktree stays: {e}", t.spec.id);
                }
            }
            return Ok(());
        }
        t.meta.concerns = findings.clone();
        t.meta.attempts.insert("gate".into(), round);
        if round >= gate_limit && !t.extend(&mut gate_limit, max_gate_rounds) {
            let reason = format!("{GATE_EXHAUSTED} {round} times: {}", findings.join("; "));
            return Err(t.fail(reason).await);
        }
        t.move_task(TaskState::Implementing, "back to the implementer with the gate findings")?;
        let fix = PlanStep {
            id: format!("fix-{round}"),
            kind: StepKind::Implementation,
            description: "Fix every finding of the quality gate listed below.".into(),
            risk: None,
            estimated_complexity: Complexity::Small,
            files_to_read: Vec::new(),
            files_to_create: Vec::new(),
            files_to_modify: Vec::new(),
            tests_required: serde_json::Value::Null,
            commands: Vec::new(),
            dependencies: Vec::new(),
        };
        let index = plan.steps.len() + round as usize - 1;
        t.add_steps(vec![step_record(index, &fix.id, fix.kind, &fix.description)]);
        let text = implement_step(t, &plan_text, &fix, findings).await?;
        work.push((fix.id, text));
    }
    unreachable!("the gate loop returns")
}

fn step_record(index: usize, id: &str, kind: StepKind, description: &str) -> StepRecord {
    StepRecord {
        id: id.to_owned(),
        index: index as u32,
        kind: kind.as_str().to_owned(),
        description: description.to_owned(),
        state: StepState::Pending,
        attempts: 0,
    }
}

/// Plans, reviews and re-plans until the plan is approved (by the reviewer or a person).
async fn plan_until_approved<P: Plugins>(t: &mut TaskRun<P>) -> Result<Plan, Halt> {
    let max_rounds = t.shared().settings.pipeline.max_plan_rounds;
    let mut limit = max_rounds;
    let mut feedback = Vec::new();
    for round in 1.. {
        t.meta.attempts.insert("plan".into(), round);
        let prompts = &t.shared().settings.prompts;
        let (planner, reviewer) = (prompts.planner.clone(), prompts.plan_reviewer.clone());
        let mut vars = base_vars(t);
        vars.block("feedback", "The reviewer rejected the previous plan. Address every concern:", &feedback);
        t.start_round();
        let asked =
            ask_parsed(t, Role::Planner, &planner, &vars, round, None, None, schema::PLAN, plan::parse_plan).await?;
        let planned = t.take_round();
        let (plan, reply) = match asked {
            Ok(parsed) => parsed,
            Err(error) => {
                t.outcome(Role::Planner, None, round, planned, false);
                let reason = format!("the planner's reply is not a valid plan: {error}");
                t.escalate("planning", reason, TaskState::Planning).await?;
                feedback = vec![error];
                continue;
            }
        };
        t.move_task(TaskState::PlanReview, format!("plan with {} steps", plan.steps.len()))?;
        let mut vars = base_vars(t);
        vars.set("plan", serde_json::to_string_pretty(&plan).expect("plans serialise"));
        let author = Some(reply.model.as_str());
        let (schema, parse) = (schema::PLAN_VERDICT, plan::parse_plan_verdict);
        let asked = ask_parsed(t, Role::PlanReviewer, &reviewer, &vars, round, None, author, schema, parse).await?;
        let reviewed = t.take_round();
        t.outcome(Role::PlanReviewer, None, round, reviewed, asked.is_ok());
        let verdict = match asked {
            Ok((verdict, _)) => verdict,
            Err(error) => {
                let reason = format!("the plan reviewer's reply is not a valid verdict: {error}");
                t.escalate("plan_review", reason, TaskState::PlanApproved).await?;
                return Ok(plan);
            }
        };
        t.outcome(Role::Planner, None, round, planned, verdict.approved());
        if verdict.approved() {
            t.meta.concerns.clear();
            t.move_task(TaskState::PlanApproved, format!("plan approved: {}", verdict.summary))?;
            return Ok(plan);
        }
        feedback = verdict.feedback();
        t.meta.concerns = feedback.clone();
        t.move_task(TaskState::PlanRejected, format!("plan rejected: {}", feedback.join("; ")))?;
        if round >= limit && !t.extend(&mut limit, max_rounds) {
            let reason = format!("the plan was rejected {round} times; last concerns: {}", feedback.join("; "));
            t.escalate("plan_review", reason, TaskState::PlanApproved).await?;
            return Ok(plan);
        }
        t.move_task(TaskState::Planning, "re-planning with the reviewer's concerns")?;
    }
    unreachable!("the planning loop returns")
}

/// Implements one step until its code review approves it (or a person does).
async fn implement_step<P: Plugins>(
    t: &mut TaskRun<P>,
    plan_text: &str,
    step: &PlanStep,
    mut feedback: Vec<String>,
) -> Result<String, Halt> {
    let max_rounds = t.shared().settings.pipeline.max_review_rounds;
    let mut limit = max_rounds;
    let (implementer, reviewer) = {
        let prompts = &t.shared().settings.prompts;
        (prompts.implementer.clone(), prompts.code_reviewer.clone())
    };
    let id = step.id.as_str();
    let step_ref = StepRef { id, kind: step.kind.as_str(), complexity: step.estimated_complexity.as_str() };
    let workspace = change::workspace(t).await?;
    t.meta.current_step = Some(id.to_owned());
    t.move_step(id, StepState::Implementing, "")?;
    for round in 1.. {
        t.meta.attempts.insert(format!("code_review:{id}"), round);
        let mut vars = base_vars(t);
        vars.set("plan", plan_text).set("step", describe_step(step));
        vars.block("feedback", "Feedback on the previous attempt. Address every point:", &feedback);
        let site = CallSite { role: role_name(Role::Implementer), step: Some(id), round, attempt: 1 };
        t.start_round();
        let mut routed = None;
        if let Some(workspace) = &workspace {
            let files = step_files(t, step);
            vars.set("files", change::quote_files(t, workspace, id, round, &files).await?);
            // The edit format follows the model, so the model is chosen first.
            let route = t.route_recorded(Role::Implementer, site, Some(step_ref)).await?;
            let format = t.shared().settings.edit_formats.for_model(&route.model);
            vars.set("edit_format", format.instructions());
            routed = Some((workspace, route, format));
        }
        let messages = TaskRun::<P>::messages(vars.render(&implementer.system), vars.render(&implementer.user));
        let work = match routed {
            None => {
                let reply = t.ask(Role::Implementer, site, Some(step_ref), None, messages, Shape::default()).await?;
                Work { text: reply.text, model: reply.model }
            }
            Some((workspace, route, format)) => {
                match ask_change(t, workspace, step_ref, round, messages, (route, format)).await? {
                    Ok(work) => work,
                    Err(problem) => {
                        let implemented = t.take_round();
                        t.outcome(Role::Implementer, Some(id), round, implemented, false);
                        let reason = format!("the implementer's change for step {id} could not be used: {problem}");
                        let nothing = Work { text: String::new(), model: String::new() };
                        return human_gate(t, step, workspace.into(), reason, nothing).await;
                    }
                }
            }
        };
        let implemented = t.take_round();
        t.move_task(TaskState::CodeReview, format!("step {id}"))?;
        t.move_step(id, StepState::CodeReview, "")?;
        vars.set("work", work.text.as_str());
        // A retry taken up on the way here has a word for the reviewer.
        human_block(t, &mut vars);
        let asked = ask_parsed(
            t,
            Role::CodeReviewer,
            &reviewer,
            &vars,
            round,
            Some(step_ref),
            Some(&work.model),
            schema::CODE_VERDICT,
            plan::parse_code_verdict,
        )
        .await?;
        let reviewed = t.take_round();
        t.outcome(Role::CodeReviewer, Some(id), round, reviewed, asked.is_ok());
        let verdict = match asked {
            Ok((verdict, _)) => verdict,
            Err(error) => {
                let reason = format!("the code reviewer's reply on step {id} is not a valid verdict: {error}");
                return human_gate(t, step, workspace.as_ref(), reason, work).await;
            }
        };
        t.outcome(Role::Implementer, Some(id), round, implemented, verdict.approved());
        if verdict.approved() {
            t.meta.concerns.clear();
            t.move_step(id, StepState::Approved, verdict.summary.clone())?;
            if let Some(workspace) = &workspace {
                change::commit(t, workspace, id, &step.description).await?;
            }
            t.move_step(id, StepState::Completed, "")?;
            t.move_task(TaskState::Implementing, format!("step {id} done"))?;
            return Ok(work.text);
        }
        feedback = verdict.feedback();
        t.meta.concerns = feedback.clone();
        t.move_step(id, StepState::Rejected, feedback.join("; "))?;
        if round >= limit && !t.extend(&mut limit, max_rounds) {
            let reason = format!("step {id} was rejected {round} times; last concerns: {}", feedback.join("; "));
            return human_gate(t, step, workspace.as_ref(), reason, work).await;
        }
        if let Some(workspace) = &workspace {
            change::discard(t, workspace, id).await?;
        }
        t.move_step(id, StepState::Retrying, "")?;
        t.move_step(id, StepState::Implementing, format!("round {}", round + 1))?;
        t.move_task(TaskState::Implementing, format!("step {id} goes back to the implementer"))?;
    }
    unreachable!("the review loop returns")
}

/// A step's change for the code reviewer, and the model that wrote it.
struct Work {
    text: String,
    model: String,
}

/// Asks a person about a step the reviewers would not pass: approval accepts
/// the last implementation (committing what was applied), rejection fails
/// the step with the task.
async fn human_gate<P: Plugins>(
    t: &mut TaskRun<P>,
    step: &PlanStep,
    workspace: Option<&change::Workspace>,
    reason: String,
    work: Work,
) -> Result<String, Halt> {
    let id = step.id.as_str();
    match t.escalate("code_review", reason, TaskState::Implementing).await {
        Ok(()) => {
            t.move_step(id, StepState::Approved, "accepted by a person")?;
            if let Some(workspace) = workspace {
                change::commit(t, workspace, id, &step.description).await?;
            }
            t.move_step(id, StepState::Completed, "")?;
            Ok(work.text)
        }
        Err(Halt::Stopped) if t.state == TaskState::Failed => {
            t.move_step(id, StepState::Failed, "rejected by a person")?;
            t.flush().await?;
            Err(Halt::Stopped)
        }
        Err(halt) => Err(halt),
    }
}

/// Asks the implementer for a step's change and applies it, feeding back
/// what could not be used; `Ok(Err)` carries the last problem when every try
/// failed (the files are then as they were).
async fn ask_change<P: Plugins>(
    t: &mut TaskRun<P>,
    workspace: &change::Workspace,
    step: StepRef<'_>,
    round: u32,
    messages: Vec<Message>,
    (route, format): (RouteRecord, Format),
) -> Result<Result<Work, String>, Halt> {
    let shape = Shape { json: format == Format::Json, schema: None, max_tokens: None, route: Some(&route) };
    let mut tries = Tries::new(t, messages, shape);
    loop {
        let (reply, stopped) = tries.ask(t, Role::Implementer, round, Some(step), None).await?;
        let problem = match stopped {
            Some(stopped) => stopped.to_string(),
            None => {
                let tag = format!("{round}.{}", tries.attempt);
                match change::apply(t, workspace, step.id, &tag, &reply.text, format).await? {
                    Ok((summary, diff)) => {
                        let text = format!("{summary}\n\n```diff\n{diff}\n```");
                        return Ok(Ok(Work { text, model: reply.model }));
                    }
                    Err(problem) => problem,
                }
            }
        };
        let feedback = format!("Your change could not be used. {problem}");
        if let Some(last) = tries.failed(t, reply.text, &problem, feedback) {
            return Ok(Err(last));
        }
    }
}

/// Asks `role` for a JSON answer following `schema` and parses it, feeding
/// problems back; `Ok(Err)` carries the last problem when every try failed.
#[allow(clippy::too_many_arguments)]
async fn ask_parsed<P: Plugins, T>(
    t: &mut TaskRun<P>,
    role: Role,
    template: &Template,
    vars: &Vars<'_>,
    round: u32,
    step: Option<StepRef<'_>>,
    author: Option<&str>,
    schema: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Result<(T, CompletionRecord), String>, Halt> {
    let messages = TaskRun::<P>::messages(vars.render(&template.system), vars.render(&template.user));
    let mut tries = Tries::new(t, messages, Shape { json: true, schema: Some(schema), max_tokens: None, route: None });
    loop {
        let (reply, stopped) = tries.ask(t, role, round, step, author).await?;
        let error = match stopped {
            Some(stopped) => stopped.to_string(),
            None => match parse(&reply.text) {
                Ok(value) => return Ok(Ok((value, reply))),
                Err(error) => error,
            },
        };
        let feedback = format!("Your reply could not be used: {error}. Reply again with only the JSON object.");
        if let Some(last) = tries.failed(t, reply.text, &error, feedback) {
            return Ok(Err(last));
        }
    }
}

/// The tries of one round of a role, shared by every way a reply is used:
/// the conversation so far, the call's shape, and the count against
/// `max_format_attempts`.
struct Tries<'a> {
    messages: Vec<Message>,
    shape: Shape<'a>,
    attempt: u32,
    limit: u32,
    max_attempts: u32,
}

impl<'a> Tries<'a> {
    fn new<P: Plugins>(t: &TaskRun<P>, messages: Vec<Message>, shape: Shape<'a>) -> Self {
        let max_attempts = t.shared().settings.pipeline.max_format_attempts;
        Self { messages, shape, attempt: 1, limit: max_attempts, max_attempts }
    }

    /// The reply of this try, and how it stopped when that makes it unusable.
    /// A reply cut off at the token limit is asked again with twice the room,
    /// up to `[pipeline] max_tokens_ceiling`, without using up a try.
    async fn ask<P: Plugins>(
        &mut self,
        t: &mut TaskRun<P>,
        role: Role,
        round: u32,
        step: Option<StepRef<'_>>,
        author: Option<&str>,
    ) -> Result<(CompletionRecord, Option<Stopped>), Halt> {
        loop {
            let site = CallSite { role: role_name(role), step: step.map(|s| s.id), round, attempt: self.attempt };
            let reply = t.ask(role, site, step, author, self.messages.clone(), self.shape).await?;
            let stopped = Stopped::from_reason(&reply.stop_reason, &reply.text);
            if stopped == Some(Stopped::Truncated) && more_room(t, &mut self.shape, role, step) {
                continue;
            }
            return Ok((reply, stopped));
        }
    }

    /// Counts a try whose reply could not be used: the last problem once
    /// every try is used up, else `None` with the reply and `feedback` added
    /// to the conversation for the next try.
    fn failed<P: Plugins>(
        &mut self,
        t: &mut TaskRun<P>,
        reply: String,
        problem: &str,
        feedback: String,
    ) -> Option<String> {
        if self.attempt >= self.limit && !t.extend(&mut self.limit, self.max_attempts) {
            return Some(format!("{problem} (after {} tries)", self.attempt));
        }
        ask_again(&mut self.messages, reply, feedback);
        self.attempt += 1;
        None
    }
}

/// Doubles the token limit of `shape` after a reply was cut off, up to
/// `[pipeline] max_tokens_ceiling`, and says so in the run log; false once
/// the ceiling is reached.
fn more_room<P: Plugins>(t: &mut TaskRun<P>, shape: &mut Shape<'_>, role: Role, step: Option<StepRef<'_>>) -> bool {
    let pipeline = &t.shared().settings.pipeline;
    let now = shape.max_tokens.or(pipeline.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS);
    let more = now.saturating_mul(2).min(pipeline.max_tokens_ceiling.unwrap_or(now));
    if more <= now {
        return false;
    }
    shape.max_tokens = Some(more);
    t.event(
        Category::LlmCall,
        Status::Warning,
        step.map(|s| s.id),
        format!("{} reply was cut off at max_tokens = {now}; asking again with max_tokens = {more}", role_name(role)),
    );
    true
}

/// The token limit assumed when neither the call nor the config sets one.
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Appends the reply that could not be used (unless it is empty: APIs
/// refuse an empty message) and the feedback on it.
fn ask_again(messages: &mut Vec<Message>, reply: String, feedback: String) {
    if !reply.trim().is_empty() {
        messages.push(Message { role: MessageRole::Assistant, content: reply });
    }
    messages.push(Message { role: MessageRole::User, content: feedback });
}

/// Placeholders every role gets.
fn base_vars<P: Plugins>(t: &TaskRun<P>) -> Vars<'static> {
    let spec = &t.spec;
    let mut vars = Vars::default();
    vars.set("id", spec.id.clone())
        .set("goal", spec.goal.clone())
        .set("risk", spec.risk.to_string())
        .set("area", spec.area.clone())
        .set("labels", spec.labels.join(", "));
    let mut context: Vec<String> = spec.context.clone();
    context.extend(spec.context_files.iter().map(|f| format!("file: {f}")));
    context.extend(spec.repo.iter().map(|r| format!("repository: {r}")));
    vars.block("context", "Context:", &context);
    vars.block("constraints", "Constraints:", &spec.constraints);
    human_block(t, &mut vars);
    vars
}

/// The latest word of a person (an approval's or a retry's comment).
fn human_block<P: Plugins>(t: &TaskRun<P>, vars: &mut Vars<'_>) {
    vars.block("human", "A person reviewing this task says:", &t.human.iter().cloned().collect::<Vec<_>>());
}

fn describe_step(step: &PlanStep) -> String {
    let mut text =
        format!("{} ({}, {}): {}", step.id, step.kind.as_str(), step.estimated_complexity.as_str(), step.description);
    for (label, items) in [
        ("Files to read", &step.files_to_read),
        ("Files to create", &step.files_to_create),
        ("Files to modify", &step.files_to_modify),
        ("Commands", &step.commands),
    ] {
        if !items.is_empty() {
            text.push_str(&format!("\n{label}: {}", items.join(", ")));
        }
    }
    if !step.tests_required.is_null() {
        text.push_str(&format!("\nTests required: {}", step.tests_required));
    }
    text
}

/// What the gates judge: the task's branch from where it started to the
/// commit the walk has reached, and that commit's tree id (without a
/// workspace: the change as the implementer described it, and no tree).
async fn check_request<P: Plugins>(
    t: &mut TaskRun<P>,
    plan: &Plan,
    work: &[(String, String)],
    size: Complexity,
) -> Result<(CheckRequest, String), Halt> {
    let (workspace, changed_files, diff, tree_id) = match change::workspace(t).await? {
        Some(workspace) => {
            let (tree, base, reached) = (&workspace.tree, &workspace.base, &workspace.reached);
            let read = async {
                let changed = tree.changed_between(base, reached).await?;
                let diff = tree.diff_between(base, reached).await?;
                Ok::<_, crate::workspace::WorkspaceError>((changed, diff, tree.tree_of(reached).await?))
            };
            match read.await {
                Ok((changed, diff, tree_id)) => (tree.path.display().to_string(), changed, diff, tree_id),
                Err(e) => return Err(t.fail(format!("cannot read the task's change: {e}")).await),
            }
        }
        None => {
            let mut changed: Vec<String> =
                plan.steps.iter().flat_map(|s| s.files_to_create.iter().chain(&s.files_to_modify)).cloned().collect();
            changed.sort();
            changed.dedup();
            let diff = work.iter().map(|(id, text)| format!("### step {id}\n{text}\n")).collect();
            (t.spec.repo.clone().unwrap_or_else(|| ".".into()), changed, diff, String::new())
        }
    };
    let request =
        CheckRequest { task: t.wit_task(), workspace, changed_files, diff, change_size: size.as_str().to_owned() };
    Ok((request, tree_id))
}

/// The files a step reads or changes, and the task's context files.
fn step_files<P: Plugins>(t: &TaskRun<P>, step: &PlanStep) -> Vec<String> {
    let mut files: Vec<String> =
        step.files_to_modify.iter().chain(&step.files_to_read).chain(&t.spec.context_files).cloned().collect();
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    files
}
