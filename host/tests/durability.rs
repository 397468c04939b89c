//! `orch run` end to end through the real binary, the builtin router and the
//! builtin `openai` provider plugin against the mock LLM server on 127.0.0.1:
//! a run killed with SIGKILL at random points and restarted ends exactly like
//! an uninterrupted one, with no journaled completion requested twice; and a
//! person approves a task from a second process while a run is writing.

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
    /// (request body, serving number) in order.
    log: Vec<(Vec<u8>, usize)>,
}

/// The pipeline's counterpart: plans, verdicts and diffs, deterministic but
/// for the serving number. `picky` tasks pass code review on the second try;
/// `escalate` tasks never get their plan approved.
fn respond(request: &MockRequest, servings: &Mutex<Servings>) -> MockReply {
    let nonce = {
        let mut s = servings.lock().unwrap();
        s.next += 1;
        let n = s.next;
        s.log.push((request.raw_body.clone(), n));
        n
    };
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
    MockReply { text, input_tokens: 1200, output_tokens: 300, cached_input_tokens: 0 }
}

struct World {
    dir: tempfile::TempDir,
    mock: MockLlm,
    servings: Arc<Mutex<Servings>>,
}

impl World {
    async fn new(latency: Duration) -> Self {
        let servings = Arc::new(Mutex::new(Servings::default()));
        let shared = Arc::clone(&servings);
        let mock = MockLlm::builder()
            .responder(move |request| respond(request, &shared))
            .latency(latency)
            .start()
            .await
            .expect("the mock LLM server starts");
        let dir = tempfile::tempdir().unwrap();
        let config = common::mock_openai_config(&mock.base_url(Vendor::OpenAi), &mock.origin());
        std::fs::write(dir.path().join("orch.toml"), config).unwrap();
        std::fs::write(dir.path().join("tasks.yaml"), TASKS).unwrap();
        common::init_repo(dir.path());
        Self { dir, mock, servings }
    }

    fn orch(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_orch"));
        command
            .args(args)
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
        let mut child = crashed.orch(&["run", "tasks.yaml", "--concurrency", "2"]).spawn().unwrap();
        if kills == 10 {
            break child.wait().await.unwrap();
        }
        let delay = Duration::from_millis(rng.u64(50..300));
        tokio::select! {
            status = child.wait() => break status.unwrap(),
            () = tokio::time::sleep(delay) => {
                child.kill().await.unwrap();
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
        assert_eq!((*state, *journal), (ref_state, ref_journal), "{id} (seed {seed})");
        assert!((cost - ref_cost).abs() < 1e-9, "{id}: cost {cost} vs {ref_cost} (seed {seed})");
    }
    // No request whose reply was journaled was ever sent again; only calls
    // in flight at a kill were repeated.
    let journaled = crashed.journaled_servings();
    let servings = crashed.servings.lock().unwrap();
    let mut by_body: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (body, n) in &servings.log {
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
    println!("{kills} kills, {repeats} in-flight calls repeated, {} servings", servings.log.len());
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
