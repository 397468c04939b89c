//! The pipeline with fake strategies behind [`Plugins`] and a real SQLite file.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::config::LoadedConfig;
use crate::retry::{Backoff, CallError, ErrorKind};
use crate::sandbox::{
    CheckRequest, CheckResult, Completion, CompletionRequest, Finding, ModelChoice, RouteDecision, RouteRequest,
    Severity, StopReason, Usage,
};
use crate::state::StepState;
use crate::store::{CallStatus, HumanDecision, SqliteStore, Synchronous};
use crate::tasks::TaskSpec;

type Reply = Box<dyn Fn(&str, &CompletionRequest, usize) -> Result<String, CallError> + Send + Sync>;
type Gate = Box<dyn Fn(&CheckRequest, usize) -> CheckResult + Send + Sync>;

/// Fake strategies: a router that names the role in the model, a scripted
/// provider and a scripted gate; every call is counted and recorded.
struct Fake {
    reply: Reply,
    gate: Gate,
    /// Routing the code reviewer fails (as a router that panics does) while set.
    broken_router: std::sync::atomic::AtomicBool,
    calls: AtomicUsize,
    requests: Mutex<Vec<(String, String, CompletionRequest)>>,
    /// The idempotency key of every call started, in order.
    keys: Mutex<Vec<String>>,
    hang_after: Option<usize>,
    /// Told when a call starts hanging.
    hung: tokio::sync::Notify,
    /// The model every reply claims to come from, if not the one asked for.
    claimed_model: Option<&'static str>,
    live: AtomicUsize,
    max_live: AtomicUsize,
    /// Every route request, in order.
    routes: Mutex<Vec<RouteRequest>>,
}

impl Fake {
    fn new(
        reply: impl Fn(&str, &CompletionRequest, usize) -> Result<String, CallError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            reply: Box::new(reply),
            gate: Box::new(|_, _| CheckResult { passed: true, summary: "ok".into(), findings: vec![] }),
            broken_router: Default::default(),
            calls: AtomicUsize::new(0),
            requests: Mutex::default(),
            keys: Mutex::default(),
            hang_after: None,
            hung: tokio::sync::Notify::new(),
            claimed_model: None,
            live: AtomicUsize::new(0),
            max_live: AtomicUsize::new(0),
            routes: Mutex::default(),
        }
    }

    /// Counts a call; hangs forever from call `hang_after` on, like a killed process.
    async fn begin_call(&self) -> usize {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang_after.is_some_and(|limit| n >= limit) {
            self.hung.notify_one();
            std::future::pending::<()>().await;
        }
        n
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The user messages sent to `role`, in order.
    fn prompts(&self, role: &str) -> Vec<String> {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .filter(|(r, _, _)| r == role)
            .map(|(_, _, req)| req.messages.last().unwrap().content.clone())
            .collect()
    }
}

/// The role a default prompt template is written for.
fn role_of(request: &CompletionRequest) -> &'static str {
    let system = &request.messages[0].content;
    ["plan reviewer", "planner", "implementer", "code reviewer"]
        .into_iter()
        .find(|role| system.contains(&format!("You are the {role}")))
        .expect("a default template")
}

impl Plugins for Fake {
    async fn route(&self, request: &RouteRequest) -> Result<Served<RouteDecision>, CallError> {
        self.routes.lock().unwrap().push(request.clone());
        let role = super::task_run::role_name(request.role);
        if role == "code_reviewer" && self.broken_router.load(Ordering::SeqCst) {
            let trap = "plugin `router-rules` 0.1.0 trapped: wasm `unreachable` instruction executed (it panicked)";
            return Err(CallError::new(ErrorKind::Fatal, trap));
        }
        Ok(Served {
            value: RouteDecision {
                provider: "fake".into(),
                model: format!("primary-{role}"),
                reason: "test".into(),
                fallbacks: vec![
                    ModelChoice { provider: "fake".into(), model: "backup".into() },
                    ModelChoice { provider: "fake".into(), model: "last-resort".into() },
                ],
            },
            plugin: "fake-router 1.0".into(),
        })
    }

    async fn complete(&self, provider: &str, request: &CompletionRequest) -> Result<Served<Completion>, CallError> {
        self.keys.lock().unwrap().push(request.idempotency_key.clone().expect("the engine sets the key"));
        let n = self.begin_call().await;
        let live = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_live.fetch_max(live, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.live.fetch_sub(1, Ordering::SeqCst);
        let role = role_of(request);
        self.requests.lock().unwrap().push((role.to_owned(), provider.to_owned(), request.clone()));
        let text = (self.reply)(role, request, n)?;
        // A reply may name how it stopped: `[max_tokens]…`, `[refusal]…`.
        let (stop_reason, text) = match text.strip_prefix('[').and_then(|t| t.split_once(']')) {
            Some(("max_tokens", rest)) => (StopReason::MaxTokens, rest.to_owned()),
            Some(("refusal", rest)) => (StopReason::Refusal, rest.to_owned()),
            _ => (StopReason::EndTurn, text),
        };
        Ok(Served {
            value: Completion {
                text,
                usage: Usage { input_tokens: 1000, output_tokens: 100, cached_input_tokens: 0, cache_write_tokens: 0 },
                stop_reason,
                model: self.claimed_model.map_or_else(|| request.model.clone(), str::to_owned),
            },
            plugin: "fake-provider 1.0".into(),
        })
    }

    async fn check(&self, _gate: &str, request: &CheckRequest) -> Result<Served<CheckResult>, CallError> {
        let n = self.begin_call().await;
        Ok(Served { value: (self.gate)(request, n), plugin: "fake-gate 1.0".into() })
    }
}

const PLAN: &str = r#"{"steps": [
    {"id": "s1", "type": "implementation", "description": "change the code", "estimated_complexity": "small"},
    {"id": "s2", "type": "testing", "description": "add a test", "estimated_complexity": "trivial"}]}"#;
const APPROVED: &str = r#"{"verdict": "approved", "summary": "good"}"#;

/// Approves everything; the implementer answers with the step it was given.
fn happy(role: &str, request: &CompletionRequest, _: usize) -> Result<String, CallError> {
    Ok(match role {
        "planner" => PLAN.into(),
        "implementer" => format!("diff for {}", request.messages[1].content.lines().last().unwrap_or_default()),
        _ => APPROVED.into(),
    })
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    settings: Settings,
    pricing: BTreeMap<String, crate::cost::Price>,
    run: i64,
}

impl Harness {
    fn new(tasks: &[TaskSpec]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("orch.db"), Synchronous::Normal).unwrap());
        store.add_tasks(tasks).unwrap();
        let mut settings = LoadedConfig::from_text(None, None).unwrap().settings().unwrap();
        settings.retry.backoff = Backoff::Fixed(Duration::from_millis(1));
        settings.gates = GatePolicy { always: vec!["lint".into()], ..GatePolicy::default() };
        // The fake implementer answers in JSON.
        settings.edit_formats = super::edit_format::EditFormats::fixed(crate::workspace::Format::Json);
        let run = store.begin_run("test", None).unwrap().id;
        Self { _dir: dir, store, settings, pricing: BTreeMap::new(), run }
    }

    async fn run(&self, fake: &Arc<Fake>, ids: &[&str], concurrency: usize) -> RunReport {
        let engine = Engine::new(
            Arc::clone(&self.store) as Arc<dyn Store>,
            Arc::clone(fake),
            self.settings.clone(),
            Pricing::new(&self.pricing),
            Arc::new(NoSink),
            self.run,
        );
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        engine.run(&ids, concurrency).await.unwrap()
    }

    fn states(&self, id: &str) -> Vec<String> {
        self.store
            .history(id)
            .unwrap()
            .into_iter()
            .filter_map(|t| match t.moved {
                crate::store::Moved::Task { to, .. } => Some(to.to_string()),
                crate::store::Moved::Step { .. } => None,
            })
            .collect()
    }
}

fn spec(id: &str, depends_on: &[&str]) -> TaskSpec {
    TaskSpec {
        area: "core".into(),
        depends_on: depends_on.iter().map(|s| s.to_string()).collect(),
        constraints: vec!["keep the API".into()],
        ..TaskSpec::new(id, format!("goal of {id}"))
    }
}

#[tokio::test]
async fn a_task_walks_the_whole_pipeline() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(happy));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(
        h.states("a"),
        [
            "PLANNING",
            "PLAN_REVIEW",
            "PLAN_APPROVED",
            "IMPLEMENTING",
            "CODE_REVIEW",
            "IMPLEMENTING",
            "CODE_REVIEW",
            "IMPLEMENTING",
            "QUALITY_GATE",
            "DONE"
        ]
    );
    // plan, plan review, 2 × (implement, review), 1 gate check.
    assert_eq!(fake.calls(), 7);
    let steps = h.store.steps("a").unwrap();
    assert!(steps.iter().all(|s| s.state == StepState::Completed && s.attempts == 1), "{steps:?}");
    let task = h.store.task("a").unwrap();
    assert_eq!(task.meta.models["implementer"].model, "primary-implementer");
    // 6 completions × (1000 × $0 + ...) on unpriced models cost nothing; tokens are journaled.
    assert_eq!(h.store.journal("a").unwrap().iter().filter(|e| e.kind == "completion").count(), 6);
    assert!(fake.prompts("planner")[0].contains("keep the API"), "constraints reach the planner");
}

#[tokio::test]
async fn a_rejected_plan_is_redone_with_the_concerns() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match role {
        "plan reviewer" if !req.messages[1].content.contains("\"s3\"") && n < 3 => {
            Ok(r#"{"verdict": "needs_revision", "concerns": ["add a rollback step"]}"#.into())
        }
        "planner" if req.messages[1].content.contains("add a rollback step") => Ok(PLAN.replace("\"s2\"", "\"s3\"")),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(
        &h.states("a")[..6],
        ["PLANNING", "PLAN_REVIEW", "PLAN_REJECTED", "PLANNING", "PLAN_REVIEW", "PLAN_APPROVED"]
    );
    let prompts = fake.prompts("planner");
    assert!(!prompts[0].contains("rollback") && prompts[1].contains("- add a rollback step"), "{prompts:?}");
}

#[tokio::test]
async fn a_malformed_plan_is_asked_again_with_the_parse_error() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match role {
        "planner" if req.messages.len() == 2 => Ok("Sure! Here is my plan: step one, then step two.".into()),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let requests = fake.requests.lock().unwrap();
    let retry = requests.iter().find(|(r, _, q)| r == "planner" && q.messages.len() == 4).expect("a second try");
    assert!(retry.2.messages[3].content.contains("contains no JSON object"), "{:?}", retry.2.messages[3]);
}

#[tokio::test]
async fn routers_see_the_catalog_and_how_each_model_did_in_the_stage() {
    let h = Harness::new(&[spec("a", &[]), spec("b", &["a"])]);
    // Task a's first plan is rejected; everything else is approved.
    let rejected = std::sync::atomic::AtomicBool::new(false);
    let fake = Arc::new(Fake::new(move |role, req, n| match role {
        "plan reviewer" if !rejected.swap(true, Ordering::SeqCst) => {
            Ok(r#"{"verdict": "rejected", "concerns": ["too vague"]}"#.into())
        }
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a", "b"], 1).await;
    assert!(report.tasks.iter().all(|t| t.state == TaskState::Done), "{report:?}");

    let routes = fake.routes.lock().unwrap();
    let planner_routes: Vec<&RouteRequest> =
        routes.iter().filter(|r| r.role == crate::sandbox::Role::Planner).collect();
    assert!(planner_routes[0].history.is_empty(), "a new store has no history");
    let catalog = &planner_routes[0].catalog;
    assert!(!catalog.is_empty(), "the default [models] are in the catalog");
    let priced = catalog.iter().find(|m| m.model == "claude-sonnet-5-5").expect("a default model");
    assert_eq!((priced.provider.as_str(), priced.input_usd_per_mtok), ("anthropic", Some(2.0)));
    // Task b's planner sees task a's two planner rounds (one rejected).
    let seen = &planner_routes.last().unwrap().history;
    assert_eq!(seen.len(), 1, "{seen:?}");
    let stats = &seen[0];
    assert_eq!((stats.provider.as_str(), stats.model.as_str(), stats.rounds), ("fake", "primary-planner", 2));
    assert_eq!((stats.success_rate, stats.mean_rounds), (0.5, 2.0));
    assert!(stats.mean_cost_usd >= 0.0 && stats.mean_latency_ms >= 0.0);

    let stored = h.store.model_history("implementer", "core", "medium").unwrap();
    assert_eq!((stored[0].model.as_str(), stored[0].rounds, stored[0].success_rate), ("primary-implementer", 4, 1.0));
    assert_eq!(stored[0].mean_rounds, 1.0, "one round per step");
    assert!(h.store.model_history("implementer", "core", "high").unwrap().is_empty(), "by area and risk");
}

#[tokio::test]
async fn a_reply_cut_off_is_asked_again_with_more_room_up_to_the_ceiling() {
    let h = Harness::new(&[spec("a", &[]), spec("b", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match role {
        // Task a's plan needs 8192 tokens; task b's never fits.
        "planner" if req.messages[1].content.contains("Task a") && req.max_tokens == Some(4096) => {
            Ok("[max_tokens]{\"steps\": [{\"id\": \"s1\", \"type\": \"impl".into())
        }
        "planner" if req.messages[1].content.contains("Task b") => Ok("[max_tokens]{\"steps\": [".into()),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a", "b"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let limits = |task: &str| -> Vec<Option<u32>> {
        let requests = fake.requests.lock().unwrap();
        let asked = requests.iter().filter(|(r, _, q)| r == "planner" && q.messages[1].content.contains(task));
        asked.map(|(_, _, q)| q.max_tokens).collect()
    };
    assert_eq!(limits("Task a"), [Some(4096), Some(8192)], "a cut-off reply is not a try");
    let events: Vec<String> = h.store.events(None, 0).unwrap().into_iter().map(|e| e.message).collect();
    assert!(
        events
            .iter()
            .any(|e| e.contains("planner reply was cut off at max_tokens = 4096; asking again with max_tokens = 8192")),
        "{events:?}"
    );
    // b: 4096 → 8192 → 16384 (the default ceiling), then each further cut counts as a try.
    assert_eq!(limits("Task b")[..3], [Some(4096), Some(8192), Some(16384)]);
    assert_eq!(limits("Task b").len(), 2 + 3, "then max_format_attempts tries at the ceiling");
    assert_eq!(report.tasks[1].state, TaskState::AwaitingHuman);
    let note = report.tasks[1].note.clone().unwrap_or_default();
    assert!(note.contains("the reply was cut off at the token limit (after 3 tries)"), "{note}");
}

#[tokio::test]
async fn a_refusal_is_named_and_an_empty_reply_is_not_sent_back() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match (role, req.messages.len()) {
        ("planner", 2) => Ok("[refusal]I can't help with that.".into()),
        ("planner", 4) => Ok(String::new()),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let requests = fake.requests.lock().unwrap();
    let planner: Vec<&CompletionRequest> =
        requests.iter().filter(|(r, _, _)| r == "planner").map(|(_, _, q)| q).collect();
    assert!(planner[1].messages[3].content.contains("the model refused to answer: I can't help with that."));
    let last = &planner[2].messages;
    assert_eq!(last.len(), 5, "the empty reply is left out: {last:?}");
    assert!(last.iter().all(|m| !m.content.is_empty()));
    assert!(last[4].content.contains("contains no JSON object"), "{:?}", last[4]);
    assert_eq!(planner[0].response_schema.as_deref(), Some(crate::engine::schema::PLAN), "the plan's schema is sent");
}

#[tokio::test]
async fn persistent_plan_rejection_waits_for_a_person_whose_comment_reaches_the_next_prompt() {
    let h = Harness::new(&[spec("a", &[])]);
    let reject = |role: &str, req: &CompletionRequest, n| match role {
        "plan reviewer" => Ok(r#"{"verdict": "rejected", "concerns": ["too vague"]}"#.into()),
        _ => happy(role, req, n),
    };
    let fake = Arc::new(Fake::new(reject));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::AwaitingHuman);
    assert!(report.tasks[0].note.as_deref().unwrap().contains("rejected 3 times"), "{report:?}");
    let calls_before = fake.calls();
    assert_eq!(calls_before, 6, "3 rounds of plan + review");
    let escalation = h.store.task("a").unwrap().meta.escalation.unwrap();
    assert_eq!((escalation.stage.as_str(), escalation.resume_to), ("plan_review", TaskState::PlanApproved));

    // Nothing happens to a waiting task on the next run.
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!((report.tasks[0].state, fake.calls()), (TaskState::AwaitingHuman, calls_before));

    h.store.decide("a", HumanDecision::Approve { comment: Some("ship it, mind the tests".into()) }).unwrap();
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(fake.calls(), calls_before + 5, "no planning call is repeated: 2 × (implement, review) + gate");
    let implementer = fake.prompts("implementer");
    assert!(implementer[0].contains("ship it, mind the tests"), "{implementer:?}");
    let task = h.store.task("a").unwrap();
    assert_eq!((task.last_error, task.meta.escalation), (None, None), "the decided escalation is not reported again");
}

#[tokio::test]
async fn code_review_rejections_escalate_and_a_person_can_reject() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match role {
        "code reviewer" => Ok(r#"{"verdict": "needs_changes", "concerns": ["missing error handling"]}"#.into()),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::AwaitingHuman, "{report:?}");
    let prompts = fake.prompts("implementer");
    assert_eq!(prompts.len(), 3, "three rounds on step s1");
    assert!(prompts[1].contains("missing error handling") && !prompts[0].contains("missing"), "{prompts:?}");
    let step = &h.store.steps("a").unwrap()[0];
    assert_eq!((step.state, step.attempts), (StepState::Rejected, 3));

    h.store.decide("a", HumanDecision::Reject { comment: Some("wrong approach".into()) }).unwrap();
    let calls = fake.calls();
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!((report.tasks[0].state, fake.calls()), (TaskState::Failed, calls));
    assert_eq!(h.store.steps("a").unwrap()[0].state, StepState::Failed);
}

#[tokio::test]
async fn gate_failures_go_back_to_the_implementer_then_fail_the_task() {
    let mut tasks = Harness::new(&[spec("fixed", &[]), spec("broken", &[])]);
    let fake = Arc::new(Fake {
        gate: Box::new(|req, _| {
            let fixed = req.diff.contains("### step fix-1");
            let passed = req.task.id == "fixed" && fixed;
            let finding =
                Finding { severity: Severity::Error, file: Some("a.py".into()), line: Some(3), message: "E501".into() };
            CheckResult {
                passed,
                summary: if passed { "clean" } else { "1 error" }.into(),
                findings: if passed { vec![] } else { vec![finding] },
            }
        }),
        ..Fake::new(happy)
    });
    tasks.settings.pipeline.max_gate_rounds = 2;
    let report = tasks.run(&fake, &["fixed", "broken"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(report.tasks[1].state, TaskState::Failed, "{report:?}");
    assert!(report.tasks[1].note.as_deref().unwrap().contains("quality gate failed 2 times"), "{report:?}");
    let fix_prompt = fake.prompts("implementer").into_iter().find(|p| p.contains("fix-1")).unwrap();
    assert!(fix_prompt.contains("lint: a.py:3: error: E501"), "{fix_prompt}");
    assert_eq!(tasks.store.steps("fixed").unwrap().last().unwrap().id, "fix-1");
}

#[tokio::test]
async fn transient_errors_are_retried_and_fatal_ones_fall_back() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match (role, req.model.as_str()) {
        ("planner", _) if n == 0 => Err(CallError::new(ErrorKind::Transient, "503")),
        ("implementer", "primary-implementer") => Err(CallError::new(ErrorKind::Fatal, "401 invalid key")),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let events: Vec<String> = h.store.events(None, 0).unwrap().into_iter().map(|e| e.message).collect();
    assert!(events.iter().any(|m| m.contains("planner fake/primary-planner attempt 1 failed (503)")), "{events:#?}");
    assert!(events.iter().any(|m| m.contains("implementer falls back to fake/backup")), "{events:#?}");
    assert_eq!(h.store.task("a").unwrap().meta.models["implementer"].model, "backup");
    let implementer_models: Vec<String> = fake
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(r, _, _)| r == "implementer")
        .map(|(_, _, q)| q.model.clone())
        .collect();
    assert_eq!(
        implementer_models,
        ["primary-implementer", "backup", "primary-implementer", "backup"],
        "a fatal primary is tried once per step, not retried"
    );
}

#[tokio::test]
async fn fallbacks_are_tried_in_the_routers_order() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match (role, req.model.as_str()) {
        ("planner", "primary-planner" | "backup") => Err(CallError::new(ErrorKind::Fatal, "404 model not found")),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let planner_models: Vec<String> = fake
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(r, _, _)| r == "planner")
        .map(|(_, _, q)| q.model.clone())
        .collect();
    assert_eq!(planner_models, ["primary-planner", "backup", "last-resort"]);
    let model = &h.store.task("a").unwrap().meta.models["planner"];
    let reason = "fallback from fake/primary-planner, which the router chose: test";
    assert_eq!((model.model.as_str(), model.reason.as_str()), ("last-resort", reason));
    // The journal keeps the router's decision with the completion a fallback made.
    let journal = h.store.journal("a").unwrap();
    let planner =
        crate::journal::routing_decisions(&journal).into_iter().find(|d| d.entry.key.contains("planner")).unwrap();
    assert_eq!((planner.route.model.as_str(), planner.route.reason.as_str()), ("primary-planner", "test"));
    assert_eq!(planner.answered.unwrap().model, "last-resort");
}

#[tokio::test]
async fn invalid_input_stops_without_fallback_and_fails_the_task() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|_, _, _| Err(CallError::new(ErrorKind::InvalidInput, "prompt too long"))));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Failed);
    assert_eq!(fake.calls(), 1);
    assert!(h.store.task("a").unwrap().last_error.unwrap().contains("prompt too long"));
}

#[tokio::test]
async fn dependencies_order_tasks_and_block_on_failure() {
    let h = Harness::new(&[spec("base", &[]), spec("top", &["base"]), spec("solo", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match role {
        "planner" if req.messages[1].content.contains("Task base") => Err(CallError::new(ErrorKind::Denied, "no")),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["top", "base", "solo"], 4).await;
    let by_id = |id: &str| report.tasks.iter().find(|t| t.id == id).unwrap().clone();
    assert_eq!(by_id("base").state, TaskState::Failed);
    assert_eq!(by_id("top").state, TaskState::New);
    assert_eq!(by_id("top").note.unwrap(), "blocked: depends on `base`, which is FAILED");
    assert_eq!(by_id("solo").state, TaskState::Done);
}

#[tokio::test]
async fn tasks_run_concurrently_up_to_the_limit() {
    let ids: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    let specs: Vec<TaskSpec> = ids.iter().map(|id| spec(id, &[])).collect();
    let h = Harness::new(&specs);
    let fake = Arc::new(Fake::new(happy));
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let report = h.run(&fake, &refs, 3).await;
    assert_eq!(report.count(TaskState::Done), 6);
    let max_live = fake.max_live.load(Ordering::SeqCst);
    assert!((1..=3).contains(&max_live), "{max_live}");
}

#[tokio::test]
async fn an_interrupted_run_resumes_without_repeating_journaled_calls() {
    // The uninterrupted reference.
    let mut reference = Harness::new(&[spec("a", &[])]);
    priced(&mut reference);
    let fake = Arc::new(Fake::new(happy));
    reference.run(&fake, &["a"], 1).await;
    let total = fake.calls();
    let cost = reference.store.task("a").unwrap().cost_usd;

    for cut in 1..total {
        let mut h = Harness::new(&[spec("a", &[])]);
        priced(&mut h);
        // The first run hangs on call `cut` and is abandoned, as if killed.
        let hanging = Arc::new(Fake { hang_after: Some(cut), ..Fake::new(happy) });
        abandon_at_the_hang(&h, &hanging).await;
        let in_flight: Vec<_> =
            h.store.journal("a").unwrap().into_iter().filter(|e| e.status == CallStatus::Pending).collect();
        assert_eq!(in_flight.len(), 1, "cut at {cut}: the call in flight is on record");
        let resumed = Arc::new(Fake::new(happy));
        let report = h.run(&resumed, &["a"], 1).await;
        assert_eq!(report.tasks[0].state, TaskState::Done, "cut at {cut}: {report:?}");
        assert_eq!(cut + resumed.calls(), total, "cut at {cut}: only the call in flight is made again");
        assert_eq!(h.states("a"), reference.states("a"), "cut at {cut}");
        if in_flight[0].kind == "completion" {
            let (lost, again) = (hanging.keys.lock().unwrap(), resumed.keys.lock().unwrap());
            assert_eq!(lost.last(), again.first(), "cut at {cut}: the call made again has the same idempotency key");
            assert!(
                lost.iter().chain(again.iter().skip(1)).collect::<HashSet<_>>().len() == lost.len() + again.len() - 1
            );
        }
        assert_eq!(h.store.journal("a").unwrap().len(), reference.store.journal("a").unwrap().len());
        // The repeated start is counted and priced like the call that answered (a gate costs nothing).
        let task = h.store.task("a").unwrap();
        let lost = if in_flight[0].kind == "check" { 0.0 } else { 0.125 };
        assert_eq!((task.cost_usd, task.repeated_calls, task.repeated_cost_usd), (cost, 1, lost), "cut at {cut}");
        let entry = h.store.journal("a").unwrap().into_iter().find(|e| e.key == in_flight[0].key).unwrap();
        assert_eq!((entry.status, entry.starts, entry.repeated.calls), (CallStatus::Done, 2, 1), "cut at {cut}");
    }
}

/// Runs task `a` until `hanging` hangs, then drops the run, as if killed.
async fn abandon_at_the_hang(h: &Harness, hanging: &Arc<Fake>) {
    let cut = hanging.hang_after.expect("a fake that hangs");
    tokio::select! {
        report = h.run(hanging, &["a"], 1) => panic!("the run ended before call {cut}: {report:?}"),
        () = hanging.hung.notified() => {}
    }
}

/// Prices every model the fake router names at $0.125 per call of the fake
/// provider (1,000 input tokens at $125 per million; output free): binary
/// fractions, so sums compare exactly.
fn priced(h: &mut Harness) {
    let price = crate::cost::Price { input: 125.0, output: 0.0, cached_input: None, cache_write: None };
    for role in ["planner", "plan_reviewer", "implementer", "code_reviewer"] {
        h.pricing.insert(format!("primary-{role}"), price);
    }
    for fallback in ["backup", "last-resort"] {
        h.pricing.insert(fallback.to_owned(), price);
    }
}

#[tokio::test]
async fn a_budgeted_run_refuses_a_model_without_a_price() {
    let mut h = Harness::new(&[spec("a", &[])]);
    h.settings.budget.run_usd = Some(10.0);
    let fake = Arc::new(Fake::new(happy));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Failed, "{report:?}");
    assert_eq!(fake.calls(), 0, "no call is made that could not be counted");
    let note = report.tasks[0].note.as_deref().unwrap();
    assert!(note.contains(r#"fake/primary-planner has no price, and a budget is set"#), "{note}");
    assert!(note.contains(r#"add [pricing."primary-planner"]"#), "{note}");
}

#[tokio::test]
async fn a_spent_task_budget_stops_calls_and_each_approval_grants_another() {
    let mut h = Harness::new(&[spec("a", &[])]);
    priced(&mut h);
    h.settings.budget.task_usd = Some(0.3);
    let fake = Arc::new(Fake::new(happy));
    // plan $0.125, plan review $0.25, implement s1 $0.375: the review of s1 would start over $0.30.
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::AwaitingHuman, "{report:?}");
    assert_eq!(fake.calls(), 3);
    let note = report.tasks[0].note.as_deref().unwrap();
    assert!(note.starts_with("budget exceeded: spent $0.3750 of $0.3000 (task budget"), "{note}");
    let escalation = h.store.task("a").unwrap().meta.escalation.unwrap();
    assert_eq!((escalation.stage.as_str(), escalation.resume_to), ("budget", TaskState::CodeReview));

    // Approved: the task may spend another $0.30 (to $0.60), which stops it before the review of s2.
    h.store.decide("a", HumanDecision::Approve { comment: None }).unwrap();
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::AwaitingHuman, "{report:?}");
    assert_eq!(fake.calls(), 5, "the journaled calls are not made again");
    let note = report.tasks[0].note.as_deref().unwrap();
    assert!(note.starts_with("budget exceeded: spent $0.6250 of $0.6000"), "journaled costs count once: {note}");

    h.store.decide("a", HumanDecision::Approve { comment: None }).unwrap();
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(fake.calls(), 7, "6 completions and the gate, each made once");
    assert_eq!(h.store.task("a").unwrap().cost_usd, 0.75);
    let states = h.states("a");
    assert_eq!(states.iter().filter(|s| *s == "AWAITING_HUMAN").count(), 2, "{states:?}");
}

#[tokio::test]
async fn a_provider_claiming_a_free_model_still_pays_for_the_one_asked_for() {
    let mut h = Harness::new(&[spec("a", &[])]);
    priced(&mut h);
    h.settings.budget.task_usd = Some(0.3);
    let fake = Arc::new(Fake { claimed_model: Some("free-model"), ..Fake::new(happy) });
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::AwaitingHuman, "the budget still stops it: {report:?}");
    assert_eq!((fake.calls(), h.store.task("a").unwrap().cost_usd), (3, 0.375));
    let events = h.store.events(None, 0).unwrap();
    let warned = events.iter().filter(|e| e.message.contains("as free-model: priced at the higher of the two")).count();
    assert_eq!(warned, 3, "every renamed reply is on record");
}

#[tokio::test]
async fn a_spent_run_budget_stops_every_task_and_a_new_run_counts_only_its_own_calls() {
    let mut h = Harness::new(&[spec("a", &[]), spec("b", &[])]);
    priced(&mut h);
    h.settings.budget.run_usd = Some(0.5);
    let fake = Arc::new(Fake::new(happy));
    let report = h.run(&fake, &["a", "b"], 1).await;
    // a: plan, review, implement s1, review s1 = $0.50; then nothing more starts in this run.
    assert_eq!(fake.calls(), 4);
    for outcome in &report.tasks {
        assert_eq!(outcome.state, TaskState::AwaitingHuman, "{report:?}");
        let note = outcome.note.as_deref().unwrap();
        assert!(note.starts_with("budget exceeded: spent $0.5000 of $0.5000 (run budget"), "{note}");
    }
    assert_eq!(h.states("b"), ["PLANNING", "AWAITING_HUMAN"]);

    h.store.decide("a", HumanDecision::Approve { comment: None }).unwrap();
    h.store.decide("b", HumanDecision::Approve { comment: None }).unwrap();
    // A new run has its own $0.50: a's journaled $0.50 is not counted again.
    let report = h.run(&fake, &["a", "b"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(report.tasks[1].state, TaskState::AwaitingHuman, "{report:?}");
    // a: implement s2, review s2, gate ($0.25); b: plan, review ($0.50), then stopped.
    assert_eq!(fake.calls(), 4 + 3 + 2);
    assert_eq!(h.store.task("a").unwrap().cost_usd, 0.75);
    assert_eq!(h.store.task("b").unwrap().cost_usd, 0.25);
}

#[tokio::test]
async fn a_provider_saying_budget_exceeded_sends_the_task_to_a_person() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match role {
        "plan reviewer" => Err(CallError::new(ErrorKind::BudgetExceeded, "monthly quota used up")),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::AwaitingHuman, "{report:?}");
    assert_eq!(report.tasks[0].note.as_deref(), Some("budget exceeded: monthly quota used up"));
    assert_eq!(fake.calls(), 2, "no retry and no fallback");
    assert_eq!(h.states("a"), ["PLANNING", "PLAN_REVIEW", "AWAITING_HUMAN"]);
}

#[tokio::test]
async fn an_unusable_review_escalates_and_an_approval_resumes_without_repeating_calls() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match role {
        "plan reviewer" => Ok("looks fine to me".into()),
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::AwaitingHuman, "{report:?}");
    assert!(report.tasks[0].note.as_deref().unwrap().contains("not a valid verdict"), "{report:?}");
    assert_eq!(fake.calls(), 4, "a plan and three tries of its review");
    h.store.decide("a", HumanDecision::Approve { comment: None }).unwrap();
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(fake.calls(), 4 + 5);
}

#[tokio::test]
async fn a_providers_concurrency_limit_holds_across_tasks() {
    let h = Harness::new(&[spec("a", &[]), spec("b", &[]), spec("c", &[])]);
    let fake = Arc::new(Fake::new(happy));
    h.run(&fake, &["a", "b", "c"], 3).await;
    assert!(fake.max_live.load(Ordering::SeqCst) > 1, "without a limit the tasks' calls overlap");

    let mut h = Harness::new(&[spec("a", &[]), spec("b", &[]), spec("c", &[])]);
    h.settings
        .rate_limits
        .insert("fake".into(), crate::limits::RateLimit { max_concurrency: Some(1), requests_per_minute: None });
    let fake = Arc::new(Fake::new(happy));
    let report = h.run(&fake, &["a", "b", "c"], 3).await;
    assert_eq!(report.count(TaskState::Done), 3, "{report:?}");
    assert_eq!(fake.max_live.load(Ordering::SeqCst), 1);
}

/// A git repository with one commit (`app.py`), and workspaces for it.
async fn in_repo(h: &mut Harness) -> std::path::PathBuf {
    let root = h._dir.path().join("repo");
    std::fs::create_dir(&root).unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").arg("-C").arg(&root).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(root.join("app.py"), "def handle(request):\n    return legacy(request)\n").unwrap();
    git(&["add", "-A"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "initial"]);
    let worktrees = h._dir.path().join("worktrees");
    h.settings.workspaces = Some(crate::workspace::Workspaces::open(&root, &worktrees).await.unwrap());
    root
}

/// The step a prompt is about: the line after `Current step:`.
fn current_step(request: &CompletionRequest) -> String {
    let prompt = &request.messages[1].content;
    prompt.split("Current step:\n").nth(1).and_then(|s| s.split(' ').next()).unwrap_or_default().to_owned()
}

/// Approves everything; the implementer changes `app.py` in s1 and adds a
/// test in s2, as edits.
fn editing(role: &str, request: &CompletionRequest, n: usize) -> Result<String, CallError> {
    if role != "implementer" {
        return happy(role, request, n);
    }
    Ok(match current_step(request).as_str() {
        "s1" => r#"{"summary": "modernise", "edits": [
            {"op": "replace", "path": "app.py", "search": "legacy(request)", "replace": "modern(request)"}]}"#
            .into(),
        "fix-1" => r#"{"summary": "fix", "edits": [{"op": "write", "path": "fixed.py", "content": "ok\n"}]}"#.into(),
        _ => r#"{"summary": "test it", "edits": [
            {"op": "write", "path": "tests/test_app.py", "content": "def test_handle():\n    assert True\n"}]}"#
            .into(),
    })
}

fn git_out(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn each_approved_step_is_a_commit_on_the_tasks_branch() {
    let mut h = Harness::new(&[TaskSpec { context_files: vec!["app.py".into()], ..spec("a", &[]) }]);
    let root = in_repo(&mut h).await;
    let seen = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&seen);
    let fake = Arc::new(Fake {
        gate: Box::new(move |req, _| {
            *sink.lock().unwrap() = Some(req.clone());
            CheckResult { passed: true, summary: "ok".into(), findings: vec![] }
        }),
        ..Fake::new(editing)
    });
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let log = git_out(&root, &["log", "--format=%s", "orch/a"]);
    assert_eq!(log, "orch: a s2: add a test\norch: a s1: change the code\ninitial", "one commit per step");
    assert_eq!(git_out(&root, &["show", "orch/a:app.py"]), "def handle(request):\n    return modern(request)");
    assert!(git_out(&root, &["status", "--porcelain"]).is_empty(), "the main checkout is untouched");

    let meta = h.store.task("a").unwrap().meta.workspace.unwrap();
    assert_eq!(meta.branch, "orch/a");
    assert!(!std::path::Path::new(&meta.path).exists(), "a DONE task's worktree is removed");
    let gate = seen.lock().unwrap().clone().unwrap();
    assert_eq!(gate.workspace, meta.path);
    assert_eq!(gate.changed_files, ["app.py", "tests/test_app.py"]);
    assert!(gate.diff.contains("+    return modern(request)") && gate.diff.contains("+++ b/tests/test_app.py"));
    let reviews = fake.prompts("code reviewer");
    assert!(reviews[0].contains("-    return legacy(request)"), "the reviewer sees the diff: {}", reviews[0]);
    let implementer = fake.prompts("implementer");
    assert!(implementer[0].contains("--- app.py\ndef handle(request):"), "files are quoted: {}", implementer[0]);
}

#[tokio::test]
async fn edits_that_do_not_apply_or_escape_go_back_to_the_implementer() {
    let mut h = Harness::new(&[spec("a", &[])]);
    let root = in_repo(&mut h).await;
    let fake = Arc::new(Fake::new(|role, req, n| {
        let tries = req.messages.len();
        match (role, current_step(req).as_str()) {
            ("implementer", "s1") if tries == 2 => {
                Ok(r#"{"edits": [{"op": "write", "path": "../escaped.py", "content": "x"}]}"#.into())
            }
            ("implementer", "s1") if tries == 4 => Ok(r#"{"edits": [
                {"op": "write", "path": "ok.py", "content": "x"},
                {"op": "replace", "path": "app.py", "search": "not there", "replace": "y"}]}"#
                .into()),
            _ => editing(role, req, n),
        }
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let requests = fake.requests.lock().unwrap();
    let third = requests.iter().find(|(r, _, q)| r == "implementer" && q.messages.len() == 6).unwrap();
    let feedback: Vec<&str> = third.2.messages.iter().skip(3).step_by(2).map(|m| m.content.as_str()).collect();
    assert!(feedback[0].contains("`../escaped.py` climbs out with `..`"), "{feedback:?}");
    assert!(
        feedback[1].contains("Edit 2 (replace in app.py") && feedback[1].contains("not in the file"),
        "{feedback:?}"
    );
    assert!(feedback[1].contains("Edit 1 applied cleanly"), "{feedback:?}");
    assert!(!root.parent().unwrap().join("escaped.py").exists());
    assert_eq!(git_out(&root, &["show", "orch/a:ok.py"]), "", "the failed attempt's first edit was not kept");
}

#[tokio::test]
async fn an_interrupted_run_in_a_worktree_ends_with_the_same_branch() {
    // The implementer is shown app.py, which step s1 changes: a resumed run
    // must send s1's prompt as it was, not with the committed file. The gate
    // fails until a fix step writes fixed.py: a resumed run must judge the
    // first round by the tree it had then, not the branch's latest.
    let task = || TaskSpec { context_files: vec!["app.py".into()], ..spec("a", &[]) };
    let gate = || -> Gate {
        Box::new(|req, _| {
            let passed = req.diff.contains("fixed.py");
            CheckResult { passed, summary: if passed { "ok" } else { "needs fixed.py" }.into(), findings: vec![] }
        })
    };
    let mut reference = Harness::new(&[task()]);
    let root = in_repo(&mut reference).await;
    let fake = Arc::new(Fake { gate: gate(), ..Fake::new(editing) });
    reference.run(&fake, &["a"], 1).await;
    let total = fake.calls();
    let tree = git_out(&root, &["rev-parse", "orch/a^{tree}"]);

    for cut in 1..total {
        let mut h = Harness::new(&[task()]);
        let root = in_repo(&mut h).await;
        let hanging = Arc::new(Fake { hang_after: Some(cut), gate: gate(), ..Fake::new(editing) });
        abandon_at_the_hang(&h, &hanging).await;
        let resumed = Arc::new(Fake { gate: gate(), ..Fake::new(editing) });
        let report = h.run(&resumed, &["a"], 1).await;
        assert_eq!(report.tasks[0].state, TaskState::Done, "cut at {cut}: {report:?}");
        assert_eq!(cut + resumed.calls(), total, "cut at {cut}: only the call in flight is made again");
        assert_eq!(git_out(&root, &["rev-parse", "orch/a^{tree}"]), tree, "cut at {cut}: the same change");
        assert_eq!(git_out(&root, &["rev-list", "--count", "orch/a"]), "4", "cut at {cut}: one commit per step");
    }
}

#[tokio::test]
async fn a_warning_keeps_a_task_from_done_unless_passing_is_enough() {
    let warning_gate = || -> Gate {
        Box::new(|req, _| {
            let fixed = req.diff.contains("### step fix-1");
            let warning =
                Finding { severity: Severity::Warning, file: Some("a.py".into()), line: None, message: "W291".into() };
            CheckResult { passed: true, summary: "passed".into(), findings: if fixed { vec![] } else { vec![warning] } }
        })
    };
    let clean = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake { gate: warning_gate(), ..Fake::new(happy) });
    let report = clean.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let fix_prompt = fake.prompts("implementer").into_iter().find(|p| p.contains("fix-1")).expect("a fix step");
    assert!(fix_prompt.contains("lint: passed with 1 warning(s)") && fix_prompt.contains("W291"), "{fix_prompt}");

    let mut lenient = Harness::new(&[spec("a", &[])]);
    lenient.settings.gates.require_clean = false;
    let fake = Arc::new(Fake { gate: warning_gate(), ..Fake::new(happy) });
    let report = lenient.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert!(fake.prompts("implementer").iter().all(|p| !p.contains("fix-1")), "passing was enough");
}

mod retry;
