//! `orch run` end to end through the real binary, the builtin router and the
//! builtin `openai` provider plugin against the mock LLM server on 127.0.0.1:
//! - a run killed with SIGKILL at random points and restarted ends exactly
//!   like an uninterrupted one, with the same journal keys, no journaled
//!   completion requested twice, and every call made again counted;
//! - killed while its requests are at the provider, the repeated calls it
//!   records are exactly those the provider served twice, and what it
//!   records as spent is what the provider billed;
//! - killed right after a step's commit (a `git` on PATH that stops there)
//!   or during a gate's command, the branch, its commits and the outcome are
//!   what the journaled decisions say, though the reviewer would answer
//!   differently if asked again;
//! - a task a provider outage failed is retried from the command line;
//! - a person approves a task from a second process while a run is writing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orch_host::state::TaskState;
use orch_host::store::{SqliteStore, Store, Synchronous};
use orch_mock_llm::{MockLlm, MockReply, MockRequest, Vendor};
use tokio::process::Command;

mod common;

const TASKS: &str = r#"tasks:
  - id: docs-readme
    goal: Update the README install section
    risk: low
    area: docs
  - id: fix-auth
    goal: Fix the session timeout bug in the auth middleware
    risk: high
    area: core
    context_files: [src/auth.py]
    constraints: ["Do not change the public API"]
  - id: picky-api
    goal: Add pagination to the picky list endpoint
    risk: medium
    area: api
  - id: after-docs
    goal: Link the new install section from the FAQ
    risk: low
    area: docs
    depends_on: [docs-readme]
  - id: tests-math
    goal: Cover the rounding helpers with tests
    risk: low
    area: tests
  - id: escalate-me
    goal: Rewrite the billing engine
    risk: high
    area: services
"#;

/// Every reply carries `call-N`, the server's serving number, so the test can
/// tell which serving of a request was journaled. Replies feed later prompts,
/// so no two call sites ever send the same body.
#[derive(Default)]
struct Servings {
    next: usize,
    /// (request body, serving number, model) in order.
    log: Vec<(Vec<u8>, usize, String)>,
}

impl Servings {
    /// Requests served more than once (each extra serving counts).
    fn served_again(&self) -> usize {
        let mut by_body: HashMap<&[u8], usize> = HashMap::new();
        for (body, _, _) in &self.log {
            *by_body.entry(body).or_default() += 1;
        }
        by_body.values().map(|n| n - 1).sum()
    }

    /// What a provider charging orch's default prices bills for every serving.
    fn billed(&self) -> f64 {
        let pricing = orch_host::cost::Pricing::new(&Default::default());
        self.log
            .iter()
            .map(|(_, _, model)| {
                pricing.cost(model, orch_host::cost::Tokens { input: USAGE.0, output: USAGE.1, ..Default::default() })
            })
            .sum()
    }
}

/// The tokens every reply reports, in and out.
const USAGE: (u64, u64) = (1200, 300);

/// Serves `request` and returns its serving number.
fn serve(request: &MockRequest, servings: &Mutex<Servings>) -> usize {
    let mut s = servings.lock().unwrap();
    s.next += 1;
    let n = s.next;
    s.log.push((request.raw_body.clone(), n, request.model.clone()));
    n
}

/// The pipeline's counterpart: plans, verdicts and diffs, deterministic but
/// for the serving number. `picky` tasks pass code review on the second try;
/// `escalate` tasks never get their plan approved.
fn respond(request: &MockRequest, servings: &Mutex<Servings>) -> MockReply {
    let nonce = serve(request, servings);
    let system = request.system.as_deref().unwrap_or_default();
    let user = request.messages.iter().rev().find(|(role, _)| role == "user").map(|(_, c)| c.as_str()).unwrap_or("");
    let first_user = request.messages.iter().find(|(role, _)| role == "user").map(|(_, c)| c.as_str()).unwrap_or("");
    let task = first_user.split_whitespace().nth(1).unwrap_or("?").trim_end_matches(':').to_owned();
    let text = if system.contains("You are the planner") {
        format!(
            r#"{{"steps": [{{"id": "s1", "type": "implementation", "description": "change {task}", "estimated_complexity": "small"}},
            {{"id": "s2", "type": "testing", "description": "test {task}", "estimated_complexity": "trivial"}}],
            "estimated_duration": "call-{nonce}", "rollback_strategy": "revert"}}"#
        )
    } else if system.contains("You are the plan reviewer") {
        if task.contains("escalate") {
            format!(r#"{{"verdict": "rejected", "concerns": ["too risky (call-{nonce})"], "summary": "call-{nonce}"}}"#)
        } else {
            format!(r#"{{"verdict": "approved", "summary": "call-{nonce}"}}"#)
        }
    } else if system.contains("You are the implementer") {
        let fixed = if user.contains("Feedback on the previous attempt") { "fixed " } else { "" };
        let step = user.split("Current step:\n").nth(1).and_then(|s| s.split(' ').next()).unwrap_or("s");
        let change = serde_json::json!({
            "summary": format!("{fixed}diff for {task} (call-{nonce})"),
            "edits": [{"op": "write", "path": format!("src/{task}/{step}.py"), "content": format!("# call-{nonce}\n")}],
        });
        change.to_string()
    } else if task.contains("picky") && !first_user.contains("fixed diff") {
        format!(
            r#"{{"verdict": "needs_changes", "concerns": ["handle empty pages (call-{nonce})"], "summary": "call-{nonce}"}}"#
        )
    } else {
        format!(r#"{{"verdict": "approved", "summary": "call-{nonce}"}}"#)
    };
    MockReply { text, input_tokens: USAGE.0, output_tokens: USAGE.1, ..MockReply::default() }
}

type Respond = fn(&MockRequest, &Mutex<Servings>) -> MockReply;

struct World {
    dir: tempfile::TempDir,
    mock: MockLlm,
    servings: Arc<Mutex<Servings>>,
}

impl World {
    async fn new(latency: Duration) -> Self {
        Self::with(TASKS, &[], "", latency, respond).await
    }

    /// A repository holding `files` and `tasks.yaml`, with `config` after the
    /// mock provider's in `orch.toml`, served by `respond` after `latency`.
    async fn with(tasks: &str, files: &[(&str, &str)], config: &str, latency: Duration, respond: Respond) -> Self {
        let servings = Arc::new(Mutex::new(Servings::default()));
        let shared = Arc::clone(&servings);
        let mock = MockLlm::builder()
            .responder(move |request| respond(request, &shared))
            .latency(latency)
            .start()
            .await
            .expect("the mock LLM server starts");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tasks.yaml"), tasks).unwrap();
        for (path, content) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        common::init_repo(dir.path());
        // Not committed: it names the mock's port, and the repository must be
        // the same in every world.
        let provider = common::mock_openai_config(&mock.base_url(Vendor::OpenAi), &mock.origin());
        std::fs::write(dir.path().join("orch.toml"), format!("{provider}{config}")).unwrap();
        Self { dir, mock, servings }
    }

    fn orch(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_orch"));
        command
            .args(args)
            // Its own process group, so a kill reaches the git and gate processes it started too.
            .process_group(0)
            .current_dir(self.dir.path())
            .env("ORCH_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("durability-component-cache"))
            .env("ORCH_TEST_KEY", "sk-test-key")
            .env("ORCH_LOG", "error")
            .env("RUST_BACKTRACE", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn orch_output(&self, args: &[&str]) -> std::process::Output {
        self.orch(args).output().await.expect("orch runs")
    }

    /// Runs orch to its end, printing what it said.
    async fn orch_logged(&self, args: &[&str]) -> std::process::Output {
        let mut command = self.orch(args);
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        command.output().await.expect("orch runs")
    }

    /// The completion calls the store records as made again after a kill,
    /// and everything it records as spent (journaled and repeated).
    fn recorded_repeats(&self) -> (usize, f64) {
        let store = self.store();
        let repeated =
            store.calls().unwrap().iter().filter(|c| c.kind == "completion").map(|c| c.repeated.calls as usize).sum();
        let spent = store.tasks(&[]).unwrap().iter().map(|t| t.cost_usd + t.repeated_cost_usd).sum();
        (repeated, spent)
    }

    /// Every task's journal keys, sorted.
    fn journal_keys(&self) -> Vec<(String, String)> {
        let store = self.store();
        let mut keys: Vec<_> = store
            .tasks(&[])
            .unwrap()
            .into_iter()
            .flat_map(|t| store.journal(&t.spec.id).unwrap().into_iter().map(move |e| (t.spec.id.clone(), e.key)))
            .collect();
        keys.sort();
        keys
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.dir.path().join(".orch/orch.db"), Synchronous::Normal).unwrap()
    }

    /// Each task's state, cost and number of journal entries.
    fn outcome(&self) -> BTreeMap<String, (TaskState, f64, usize)> {
        let store = self.store();
        store
            .tasks(&[])
            .unwrap()
            .into_iter()
            .map(|t| {
                let journal = store.journal(&t.spec.id).unwrap().len();
                (t.spec.id, (t.state, t.cost_usd, journal))
            })
            .collect()
    }

    /// Serving numbers found in journaled completions.
    fn journaled_servings(&self) -> HashSet<usize> {
        let store = self.store();
        let mut found = HashSet::new();
        for task in store.tasks(&[]).unwrap() {
            for entry in store.journal(&task.spec.id).unwrap().into_iter().filter(|e| e.kind == "completion") {
                let text = entry.result["text"].as_str().unwrap().to_owned();
                let n = text.split("call-").nth(1).unwrap().trim_start_matches(|c: char| !c.is_ascii_digit());
                let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
                found.insert(digits.parse().unwrap());
            }
        }
        found
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn expected_outcome(outcome: &BTreeMap<String, (TaskState, f64, usize)>) {
    for (id, (state, _, _)) in outcome {
        let expected = if id == "escalate-me" { TaskState::AwaitingHuman } else { TaskState::Done };
        assert_eq!(*state, expected, "{id}: {outcome:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_random_points_ends_like_an_uninterrupted_one_without_paying_twice() {
    let reference = World::new(Duration::ZERO).await;
    let out = reference.orch_output(&["run", "tasks.yaml", "--concurrency", "2"]).await;
    assert_eq!(out.status.code(), Some(1), "one task awaits review: {}{}", text(&out.stdout), text(&out.stderr));
    let expected = reference.outcome();
    expected_outcome(&expected);
    let log = std::fs::read_to_string(reference.dir.path().join("ORCHESTRATOR_RUN_LOG.md")).unwrap();
    assert!(log.contains("**llm_call** `fix-auth`") && log.contains("### Summary of run 1"), "{log}");
    assert!(!log.contains("sk-test-key") && !log.contains("You are the planner"), "no secrets or prompts in the log");
    assert!(reference.mock.requests().iter().all(|r| r.header("authorization") == Some("Bearer sk-test-key")));

    let seed = std::env::var("ORCH_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    println!("crash schedule seed: {seed} (set ORCH_CRASH_SEED to repeat)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let crashed = World::new(Duration::from_millis(25)).await;
    let mut kills = 0;
    let status = loop {
        if kills == 10 {
            let last = crashed.orch_logged(&["run", "tasks.yaml", "--concurrency", "2"]).await;
            println!("{}{}", text(&last.stdout), text(&last.stderr));
            break last.status;
        }
        let mut child = crashed.orch(&["run", "tasks.yaml", "--concurrency", "2"]).spawn().unwrap();
        let delay = Duration::from_millis(rng.u64(50..300));
        tokio::select! {
            status = child.wait() => break status.unwrap(),
            () = tokio::time::sleep(delay) => {
                kill(&mut child).await;
                kills += 1;
            }
        }
    };
    assert_eq!(status.code(), Some(1));
    assert!(kills >= 1, "a kill landed mid-run (seed {seed})");

    let outcome = crashed.outcome();
    assert_eq!(outcome.len(), expected.len());
    for (id, (state, cost, journal)) in &outcome {
        let (ref_state, ref_cost, ref_journal) = expected[id];
        assert_eq!(
            (*state, *journal),
            (ref_state, ref_journal),
            "{id} (seed {seed}): {outcome:?} {}",
            text(&std::fs::read(crashed.dir.path().join("ORCHESTRATOR_RUN_LOG.md")).unwrap())
        );
        assert!((cost - ref_cost).abs() < 1e-9, "{id}: cost {cost} vs {ref_cost} (seed {seed})");
    }
    // No request whose reply was journaled was ever sent again; only calls
    // in flight at a kill were repeated.
    let journaled = crashed.journaled_servings();
    let servings = crashed.servings.lock().unwrap();
    let mut by_body: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (body, n, _) in &servings.log {
        by_body.entry(body).or_default().push(*n);
    }
    let mut repeats = 0;
    for numbers in by_body.values() {
        let kept: Vec<_> = numbers.iter().filter(|n| journaled.contains(n)).collect();
        assert_eq!(kept.len(), 1, "each request has exactly one journaled reply: {numbers:?} (seed {seed})");
        assert_eq!(kept[0], numbers.last().unwrap(), "a journaled reply was requested again (seed {seed})");
        repeats += numbers.len() - 1;
    }
    assert!(repeats <= 2 * kills, "{repeats} repeats for {kills} kills at concurrency 2 (seed {seed})");
    // Every call made again is on record. A kill that lands after a call's
    // `pending` row is durable but before its request leaves counts a
    // repeat the provider never saw: at most one per task running.
    let (recorded, spent) = crashed.recorded_repeats();
    assert!(
        recorded >= repeats && recorded <= repeats + 2 * kills,
        "{recorded} recorded, {repeats} served (seed {seed})"
    );
    assert!(spent >= servings.billed() - 1e-9, "recorded ${spent} < billed ${} (seed {seed})", servings.billed());
    println!(
        "{kills} kills, {repeats} in-flight calls served again, {recorded} recorded as repeated, {} servings",
        servings.log.len()
    );
}

/// SIGKILL to the process group of `child` (orch and the git and gate
/// processes it started), then reaps it.
async fn kill(child: &mut tokio::process::Child) {
    let pid = rustix::process::Pid::from_raw(child.id().expect("running") as i32).expect("a pid");
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    child.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_its_requests_are_at_the_provider_a_run_counts_exactly_what_was_paid_twice() {
    let seed = std::env::var("ORCH_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    println!("crash schedule seed: {seed} (set ORCH_CRASH_SEED to repeat)");
    let mut rng = fastrand::Rng::with_seed(seed);
    // One task at a time, so when the provider holds a request nothing else is on its way.
    let world = World::new(Duration::from_millis(150)).await;
    let servings = || world.servings.lock().unwrap().log.len();
    let mut kills = 0;
    let status = loop {
        let mut child = world.orch(&["run", "tasks.yaml", "--concurrency", "1"]).spawn().unwrap();
        if kills == 5 {
            break child.wait().await.unwrap();
        }
        let target = servings() + rng.usize(1..=6);
        let held = async {
            while servings() < target {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // The provider holds serving `target` for 150 ms: kill inside that.
            tokio::time::sleep(Duration::from_millis(rng.u64(0..100))).await;
        };
        tokio::select! {
            status = child.wait() => break status.unwrap(),
            () = held => {
                kill(&mut child).await;
                kills += 1;
            }
        }
    };
    assert_eq!(status.code(), Some(1), "one task awaits review (seed {seed})");
    expected_outcome(&world.outcome());
    let (recorded, spent) = world.recorded_repeats();
    let servings = world.servings.lock().unwrap();
    assert!(servings.served_again() >= kills.min(1), "kills landed on requests (seed {seed})");
    assert_eq!(recorded, servings.served_again(), "repeats recorded vs served again (seed {seed})");
    // The provider was told which requests were the same call.
    let mut keys: HashMap<Vec<u8>, HashSet<String>> = HashMap::new();
    for request in world.mock.requests() {
        let key = request.header("idempotency-key").expect("every request has an idempotency key").to_owned();
        keys.entry(request.body.clone()).or_default().insert(key);
    }
    assert!(keys.values().all(|k| k.len() == 1), "a call made again keeps its key (seed {seed})");
    let distinct: HashSet<&String> = keys.values().flatten().collect();
    assert_eq!(distinct.len(), keys.len(), "different calls, different keys (seed {seed})");
    assert!(
        (spent - servings.billed()).abs() < 1e-9,
        "recorded ${spent} vs billed ${} (seed {seed})",
        servings.billed()
    );
    println!("{kills} kills, {recorded} calls repeated, ${spent:.4} recorded and billed");
}

/// Polls `check` every 20 ms for up to `limit`.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn state_via_cli(world: &World, id: &str) -> Option<String> {
    let out = world.orch_output(&["task", id, "--json"]).await;
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    value["task"]["state"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_approves_from_another_process_while_a_run_is_writing() {
    let world = World::new(Duration::from_millis(40)).await;
    let tasks = TASKS
        .replace("  - id: docs-readme", "  - id: escalate-first\n    goal: Redo escalate billing\n  - id: docs-readme");
    std::fs::write(world.dir.path().join("tasks.yaml"), tasks).unwrap();
    let mut run = world.orch(&["run", "tasks.yaml", "--concurrency", "1"]).spawn().unwrap();

    let escalated = eventually(Duration::from_secs(60), async || {
        state_via_cli(&world, "escalate-first").await.as_deref() == Some("AWAITING_HUMAN")
    })
    .await;
    assert!(escalated, "the first task escalates while the run goes on");
    let approve =
        world.orch_output(&["task", "escalate-first", "--approve", "--comment", "approved while running"]).await;
    assert_eq!(approve.status.code(), Some(0), "{}", text(&approve.stderr));
    assert!(run.try_wait().unwrap().is_none(), "the run was still writing when the approval landed");
    let status = run.wait().await.unwrap();
    assert_eq!(status.code(), Some(1), "escalate-me still awaits review");

    let store = world.store();
    let history = store.history("escalate-first").unwrap();
    assert!(history.iter().any(|t| t.actor == "human" && t.comment.as_deref() == Some("approved while running")));
    assert_eq!(store.task("fix-auth").unwrap().state, TaskState::Done, "the run's own writes are intact");
    let seqs: Vec<u64> = history.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "one unbroken history");

    let resumed = world.orch_output(&["resume"]).await;
    assert_eq!(resumed.status.code(), Some(1), "{}", text(&resumed.stdout));
    assert_eq!(store.task("escalate-first").unwrap().state, TaskState::Done);
    let comment_sent = world.mock.requests().iter().any(|r| text(&r.body).contains("approved while running"));
    assert!(comment_sent, "the comment reaches the next prompt");

    let not_waiting = world.orch_output(&["task", "fix-auth", "--approve"]).await;
    assert_eq!(not_waiting.status.code(), Some(2));
    assert!(
        text(&not_waiting.stderr).contains("task `fix-auth` is DONE, not AWAITING_HUMAN"),
        "{}",
        text(&not_waiting.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_tasks_file_writes_nothing() {
    let world = World::new(Duration::ZERO).await;
    let broken = TASKS.replace("risk: medium", "risk: meduim");
    std::fs::write(world.dir.path().join("tasks.yaml"), &broken).unwrap();
    let out = world.orch_output(&["run", "tasks.yaml"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("tasks.yaml:14") && err.contains("meduim"), "{err}");
    assert!(!Path::new(&world.dir.path().join(".orch")).exists(), "no store was created");
    assert_eq!(world.mock.calls(), 0);

    // One task alone; then the whole file twice, which adds nothing the second time.
    std::fs::write(
        world.dir.path().join("tasks.yaml"),
        TASKS.replace("escalate-me", "calm-me").replace("billing engine", "billing docs"),
    )
    .unwrap();
    let one = world.orch_output(&["run", "tasks.yaml", "--task-id", "docs-readme"]).await;
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    let states: Vec<TaskState> = world.store().tasks(&[]).unwrap().into_iter().map(|t| t.state).collect();
    assert_eq!(states.iter().filter(|s| **s == TaskState::Done).count(), 1, "only the one task ran: {states:?}");
    let unknown = world.orch_output(&["run", "--task-id", "nope"]).await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("no task `nope` in the store"), "{}", text(&unknown.stderr));
    for _ in 0..2 {
        let out = world.orch_output(&["run", "tasks.yaml"]).await;
        assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    }
    assert_eq!(world.store().tasks(&[]).unwrap().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_opening_a_new_store_at_once_wait_for_each_other() {
    // Switching a new file to WAL answered "database is locked" at once to
    // whichever process came second.
    for round in 0..60 {
        let dir = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..6)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_orch"))
                    .args(["task", "nothing", "--approve"])
                    .current_dir(dir.path())
                    .env("ORCH_LOG", "error")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("orch starts")
            })
            .collect();
        for child in children {
            let stderr = text(&child.wait_with_output().await.unwrap().stderr);
            assert!(!stderr.contains("locked"), "round {round}: {stderr}");
            assert!(stderr.contains("nothing"), "round {round}: the unknown task is named: {stderr}");
        }
    }
}

const ONE_TASK: &str = r#"tasks:
  - id: modernise
    goal: Move the handler off the legacy call
    risk: low
    area: core
"#;

const APP: &str = "def handle(request):\n    return legacy(request)\n";

/// A two-step plan: s1 replaces text in app.py (an edit that cannot apply
/// twice), s2 adds a test. The code reviewer approves a change the first
/// time it sees it and asks for rework if asked again, as a real model may.
fn respond_once(request: &MockRequest, servings: &Mutex<Servings>) -> MockReply {
    serve(request, servings);
    let seen_before = {
        let s = servings.lock().unwrap();
        s.log.iter().filter(|(body, _, _)| *body == request.raw_body).count() > 1
    };
    let system = request.system.as_deref().unwrap_or_default();
    let user = request.messages.iter().rev().find(|(role, _)| role == "user").map_or("", |(_, c)| c.as_str());
    let text = if system.contains("You are the planner") {
        serde_json::json!({"steps": [
            {"id": "s1", "type": "implementation", "description": "modernise the handler", "estimated_complexity": "small"},
            {"id": "s2", "type": "testing", "description": "test the handler", "estimated_complexity": "trivial"}]})
        .to_string()
    } else if system.contains("You are the implementer") {
        let step = user.split("Current step:\n").nth(1).and_then(|s| s.split(' ').next()).unwrap_or_default();
        let edits = match (step, user.contains("Feedback on the previous attempt")) {
            ("s1", false) => serde_json::json!([{"op": "replace", "path": "app.py",
                "search": "return legacy(request)", "replace": "return modern(request)"}]),
            ("s1", true) => serde_json::json!([{"op": "replace", "path": "app.py",
                "search": "return legacy(request)", "replace": "return reworked(request)"}]),
            _ => {
                serde_json::json!([{"op": "write", "path": "tests/test_app.py", "content": "def test_handle():\n    pass\n"}])
            }
        };
        serde_json::json!({"summary": format!("change for {step}"), "edits": edits}).to_string()
    } else if system.contains("You are the code reviewer") && seen_before {
        r#"{"verdict": "needs_changes", "concerns": ["on second thought, rework it"], "summary": "rework"}"#.into()
    } else {
        r#"{"verdict": "approved", "summary": "fine"}"#.into()
    };
    MockReply { text, input_tokens: USAGE.0, output_tokens: USAGE.1, ..MockReply::default() }
}

/// A `git` that runs the real one and then, at the `ORCH_TEST_PAUSE_AT`-th
/// command naming `ORCH_TEST_PAUSE_ON`, says so in `ORCH_TEST_PAUSE_DIR`
/// and stops there until killed. Returns the directory to put first on PATH.
fn pausing_git(dir: &Path) -> PathBuf {
    let real = std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap();
    let real = text(&real.stdout).trim().to_owned();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        r#"#!/bin/sh
"{real}" "$@"
status=$?
if [ $status = 0 ] && [ -n "$ORCH_TEST_PAUSE_ON" ]; then
  for arg in "$@"; do
    if [ "$arg" = "$ORCH_TEST_PAUSE_ON" ]; then
      n=$(( $(cat "$ORCH_TEST_PAUSE_DIR/count" 2>/dev/null || echo 0) + 1 ))
      echo $n > "$ORCH_TEST_PAUSE_DIR/count"
      if [ "$n" = "$ORCH_TEST_PAUSE_AT" ]; then
        touch "$ORCH_TEST_PAUSE_DIR/paused"
        exec sleep 600
      fi
      break
    fi
  done
fi
exit $status
"#
    );
    let git = bin.join("git");
    std::fs::write(&git, script).unwrap();
    std::fs::set_permissions(&git, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bin
}

/// Polls for `path` every 10 ms for up to a minute.
async fn appears(path: &Path) -> bool {
    eventually(Duration::from_secs(60), async || path.exists()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_right_after_a_step_commit_the_branch_holds_exactly_the_journaled_approvals() {
    // After the commit object is made but before it is journaled; after the
    // branch moved to step s1's commit (s2 follows); after it moved to the
    // last step's commit.
    for (pause_on, at) in [("commit-tree", 1), ("update-ref", 1), ("update-ref", 2), ("commit-tree", 2)] {
        let world = World::with(ONE_TASK, &[("app.py", APP)], "", Duration::ZERO, respond_once).await;
        let pause = tempfile::tempdir().unwrap();
        let bin = pausing_git(pause.path());
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let mut paused = world.orch(&["run", "tasks.yaml"]);
        paused
            .env("PATH", &path)
            .env("ORCH_TEST_PAUSE_ON", pause_on)
            .env("ORCH_TEST_PAUSE_AT", at.to_string())
            .env("ORCH_TEST_PAUSE_DIR", pause.path());
        let mut child = paused.spawn().unwrap();
        assert!(appears(&pause.path().join("paused")).await, "{pause_on} #{at}: the run got there");
        kill(&mut child).await;

        let resumed = world.orch_logged(&["resume"]).await;
        let case = format!("{pause_on} #{at}");
        assert_eq!(resumed.status.code(), Some(0), "{case}: {}{}", text(&resumed.stdout), text(&resumed.stderr));
        let store = world.store();
        assert_eq!(store.task("modernise").unwrap().state, TaskState::Done, "{case}");
        let repo = world.dir.path();
        let commits = common::git(repo, &["log", "--reverse", "--format=%H", "main..orch/modernise"]);
        let commits: Vec<&str> = commits.lines().collect();
        let journaled: Vec<String> = store
            .journal("modernise")
            .unwrap()
            .into_iter()
            .filter(|e| e.key.starts_with("commit/"))
            .map(|e| e.result["commit"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(commits, journaled, "{case}: the branch is the journaled commits, one per step, in order");
        let trailers = common::git(
            repo,
            &["log", "--reverse", "--format=%(trailers:key=Orch-Step,valueonly)", "main..orch/modernise"],
        );
        assert_eq!(trailers.split_whitespace().collect::<Vec<_>>(), ["modernise/s1", "modernise/s2"], "{case}");
        assert_eq!(
            common::git(repo, &["show", "orch/modernise:app.py"]),
            "def handle(request):\n    return modern(request)",
            "{case}: the approved change, once"
        );
        common::git(repo, &["show", "orch/modernise:tests/test_app.py"]);
        assert_eq!(world.servings.lock().unwrap().served_again(), 0, "{case}: the reviewer was never asked again");
        let history = store.history("modernise").unwrap();
        assert!(history.iter().all(|t| !t.message.contains("rework")), "{case}: no rejection on record");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_a_gate_the_gate_runs_again_and_what_it_left_is_discarded() {
    let state = tempfile::tempdir().unwrap();
    let (script, marks) = (state.path().join("gate.sh"), state.path().join("marks"));
    std::fs::create_dir(&marks).unwrap();
    // Each run leaves a file in the worktree; the first one stops until killed.
    std::fs::write(
        &script,
        r#"n=$(( $(cat "$1/runs" 2>/dev/null || echo 0) + 1 )); echo $n > "$1/runs"
echo "left by run $n" > left-by-gate.txt
if [ $n = 1 ]; then touch "$1/paused"; exec sleep 600; fi
exit 0
"#,
    )
    .unwrap();
    let args = format!(r#"["{}", "{}"]"#, script.display(), marks.display());
    let gate = format!(
        r#"
[plugins.probe-gate]
builtin = "command"
[[plugins.probe-gate.config.checks]]
name = "probe"
program = "sh"
args = {args}
[[plugins.probe-gate.grants.commands]]
program = "sh"
args = {args}

[gates]
always = ["probe-gate"]
trivial = []
small = []
medium = []
large = []

# The gate's script keeps its count and signals outside the worktree, which
# a confined command may not write: this test is about the journal.
[sandbox]
os = "off"
"#
    );
    let world = World::with(ONE_TASK, &[("app.py", APP)], &gate, Duration::ZERO, respond_once).await;
    let mut child = world.orch(&["run", "tasks.yaml"]).spawn().unwrap();
    assert!(appears(&marks.join("paused")).await, "the gate started");
    kill(&mut child).await;
    // The gate's command runs in a process group of its own: end it too.
    let _ = std::process::Command::new("pkill").args(["-KILL", "-f", &marks.display().to_string()]).status();

    let resumed = world.orch_logged(&["resume"]).await;
    assert_eq!(resumed.status.code(), Some(0), "{}{}", text(&resumed.stdout), text(&resumed.stderr));
    assert_eq!(std::fs::read_to_string(marks.join("runs")).unwrap().trim(), "2", "the gate ran again");
    let store = world.store();
    let checks: Vec<_> = store.journal("modernise").unwrap().into_iter().filter(|e| e.kind == "check").collect();
    assert_eq!(checks.len(), 1);
    assert_eq!((checks[0].starts, checks[0].repeated.calls), (2, 1), "the lost run is counted");
    let repo = world.dir.path();
    let tree = common::git(repo, &["ls-tree", "-r", "--name-only", "orch/modernise"]);
    assert!(!tree.contains("left-by-gate.txt"), "what the gate left is not committed: {tree}");
    assert_eq!(world.servings.lock().unwrap().served_again(), 0, "no LLM call was made twice");
    let log = std::fs::read_to_string(repo.join("ORCHESTRATOR_RUN_LOG.md")).unwrap();
    assert!(log.contains("gate probe-gate repeated after interruption: 1 earlier start(s) lost"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_a_provider_outage_failed_is_retried_from_the_command_line() {
    let world = World::with(ONE_TASK, &[("app.py", APP)], "", Duration::ZERO, respond_once).await;
    let reviewer = |r: &MockRequest| r.system.as_deref().is_some_and(|s| s.contains("You are the code reviewer"));
    world.mock.fault_when(reviewer, orch_mock_llm::Fault::status(503));
    let out = world.orch_logged(&["run", "tasks.yaml"]).await;
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    let store = world.store();
    let failed = store.task("modernise").unwrap();
    assert_eq!(failed.state, TaskState::Failed);
    assert!(failed.last_error.as_deref().unwrap().contains("code_reviewer call failed"), "{:?}", failed.last_error);
    let resumed = world.orch_logged(&["resume"]).await;
    assert!(text(&resumed.stdout).contains("nothing to do"), "a FAILED task stays failed: {}", text(&resumed.stdout));
    let served = world.servings.lock().unwrap().log.len();

    world.mock.clear_faults();
    let retried = world.orch_logged(&["retry", "modernise", "--comment", "the provider is back"]).await;
    assert_eq!(retried.status.code(), Some(0), "{}", text(&retried.stderr));
    assert!(
        text(&retried.stdout).contains("task modernise retried; it is now CODE_REVIEW"),
        "{}",
        text(&retried.stdout)
    );
    let out = world.orch_logged(&["resume"]).await;
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(store.task("modernise").unwrap().state, TaskState::Done);
    let (again, now) = {
        let servings = world.servings.lock().unwrap();
        (servings.served_again(), servings.log.len())
    };
    assert_eq!(again, 0, "no call journaled before the failure was made again");
    assert_eq!(now, served + 3, "s1's review, s2 and its review");
    let comment_sent = world.mock.requests().iter().any(|r| text(&r.body).contains("the provider is back"));
    assert!(comment_sent, "the comment reaches the next prompt");

    let shown = world.orch_logged(&["task", "modernise"]).await;
    let shown = text(&shown.stdout);
    assert!(shown.contains("retried from where it stopped by") && shown.contains("set aside by the retry"), "{shown}");
    let again = world.orch_logged(&["task", "modernise", "--retry", "--from-stage", "gate"]).await;
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("task `modernise` is DONE: there is nothing to retry"),
        "{}",
        text(&again.stderr)
    );
    let none = world.orch_logged(&["retry", "--all-failed"]).await;
    assert_eq!((none.status.code(), text(&none.stdout).trim()), (Some(0), "no FAILED task to retry"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_tasks_on_the_same_repository_get_the_same_journal_keys_anywhere() {
    let mut keys = Vec::new();
    for _ in 0..2 {
        let world = World::with(ONE_TASK, &[("app.py", APP)], "", Duration::ZERO, respond_once).await;
        let out = world.orch_logged(&["run", "tasks.yaml"]).await;
        assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
        keys.push(world.journal_keys());
    }
    assert!(keys[0].iter().any(|(_, key)| key.starts_with("check/secrets/")), "{:?}", keys[0]);
    assert_eq!(keys[0], keys[1], "two directories, the same keys (gate checks included)");
}
