//! The review CLI end to end, through the real binary, on a store prepared
//! by a real run against the mock LLM server: every read command's human
//! and `--json` output and exit code, the review workflow (escalate → listed
//! with its reason → approve with a comment that reaches the next prompt, or
//! reject), `orch log --follow` on a live run, Ctrl-C and resume, colour and
//! the live view on a terminal, `orch init`, `clean-state` and completions.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use orch_host::state::TaskState;
use orch_host::store::{SqliteStore, Store, Synchronous};
use orch_mock_llm::{Fault, MockLlm, MockReply, MockRequest, Vendor};
use serde_json::Value;
use tokio::process::Command;

mod common;

const TASKS: &str = r#"tasks:
  - id: docs-faq
    goal: Add an FAQ entry about sessions
    risk: low
    area: docs
  - id: escalate-billing
    goal: Rewrite the billing engine
    risk: high
    area: services
  - id: escalate-search
    goal: Replace the search backend
    risk: medium
    area: api
"#;

/// A cooperative model, except that plan reviewers reject every plan of an
/// `escalate` task, so those go to a person after `max_plan_rounds`.
fn respond(request: &MockRequest) -> MockReply {
    let system = request.system.as_deref().unwrap_or_default();
    let prompt = request.messages.iter().find(|(role, _)| role == "user").map_or("", |(_, c)| c.as_str());
    let task = prompt.split_whitespace().nth(1).unwrap_or("x").trim_end_matches(':').to_owned();
    let text = if system.contains("You are the planner") {
        format!(
            r#"{{"steps": [{{"id": "s1", "type": "implementation", "description": "change {task}", "estimated_complexity": "small"}}],
            "estimated_duration": "1h", "rollback_strategy": "revert"}}"#
        )
    } else if system.contains("You are the plan reviewer") && task.contains("escalate") {
        r#"{"verdict": "rejected", "concerns": ["the plan has no rollback test"], "summary": "too risky"}"#.to_owned()
    } else if system.contains("You are the implementer") {
        serde_json::json!({
            "summary": format!("change for {task}"),
            "edits": [{"op": "write", "path": format!("src/{task}.py"), "content": "VALUE = 1\n"}],
        })
        .to_string()
    } else {
        r#"{"verdict": "approved", "concerns": [], "summary": "fine"}"#.to_owned()
    };
    MockReply { text, input_tokens: 1000, output_tokens: 200, ..MockReply::default() }
}

struct World {
    dir: tempfile::TempDir,
    mock: MockLlm,
}

impl World {
    async fn new(latency: Duration) -> Self {
        let mock = MockLlm::builder().responder(respond).latency(latency).start().await.expect("the mock starts");
        let dir = tempfile::tempdir().unwrap();
        let mut config = common::mock_openai_config(&mock.base_url(Vendor::OpenAi), &mock.origin());
        // Plans of `escalate` tasks go to a person after two rejections; no gate needs a tool.
        config.push_str("max_plan_rounds = 2\n[gates]\ntrivial = []\nsmall = []\nmedium = []\nlarge = []\n");
        std::fs::write(dir.path().join("orch.toml"), config).unwrap();
        std::fs::write(dir.path().join("tasks.yaml"), TASKS).unwrap();
        common::init_repo(dir.path());
        Self { dir, mock }
    }

    fn command(&self, args: &[&str]) -> Command {
        orch_command(self.dir.path(), args)
    }

    async fn orch(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("orch runs")
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.db(), Synchronous::Normal).unwrap()
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join(".orch/orch.db")
    }
}

fn orch_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orch"));
    command
        .args(args)
        .current_dir(dir)
        .env("ORCH_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("review-component-cache"))
        .env("ORCH_TEST_KEY", "sk-test-key")
        .env("ORCH_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it is wrong.
fn expect(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
}

fn json(out: &Output) -> Value {
    expect(out, 0);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", stdout(out)))
}

/// A one-line error on stderr, exit code 2.
fn expect_usage_error(out: &Output, says: &str) {
    expect(out, 2);
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(says), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_commands_and_the_review_workflow() {
    let world = World::new(Duration::ZERO).await;
    let run = world.orch(&["run", "tasks.yaml"]).await;
    expect(&run, 1);
    let table = stdout(&run);
    assert!(table.starts_with("TASK "), "{table}");
    assert!(table.contains("docs-faq          DONE"), "{table}");
    assert!(table.contains("see why with `orch review`"), "{table}");
    assert!(stderr(&run).contains("llm_call"), "one line per event in a pipe: {}", stderr(&run));
    let store = world.store();
    let total: f64 = store.tasks(&[]).unwrap().iter().map(|t| t.cost_usd).sum();
    assert!(total > 0.0);

    // summary
    let out = world.orch(&["summary"]).await;
    expect(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("3 tasks   0 active   2 awaiting review"), "{text}");
    assert!(text.contains("AWAITING_HUMAN   2") && text.contains("DONE             1"), "{text}");
    assert!(!text.contains('\x1b'), "no colour in a pipe");
    let summary = json(&world.orch(&["summary", "--json"]).await);
    assert_eq!(summary["tasks"], 3);
    assert_eq!(summary["awaiting_human"], 2);
    assert_eq!(summary["by_state"]["DONE"], 1);
    assert!((summary["cost_usd"].as_f64().unwrap() - total).abs() < 1e-9);
    assert_eq!(summary["last_run"]["id"], 1);
    // From anywhere in the repository, the store and orch.toml at its root are found.
    let nested = world.dir.path().join("docs/notes");
    std::fs::create_dir_all(&nested).unwrap();
    let out = orch_command(&nested, &["summary"]).output().await.unwrap();
    expect(&out, 0);
    assert!(stdout(&out).starts_with("3 tasks"), "{}", stdout(&out));
    let out = orch_command(&nested, &["plugin", "list"]).output().await.unwrap();
    assert!(stdout(&out).contains(&world.mock.origin()), "the root's orch.toml grants the mock: {}", stdout(&out));

    // review
    let out = world.orch(&["review"]).await;
    expect(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("2 tasks waiting for a person"), "{text}");
    assert!(text.contains("escalate-billing  risk high  area services"), "{text}");
    assert!(text.contains("why:  plan_review: the plan was rejected 2 times"), "{text}");
    assert!(text.contains("- the plan has no rollback test"), "{text}");
    assert!(text.contains("orch task escalate-search --approve"), "{text}");
    assert!(!text.contains("docs-faq"), "{text}");
    let queue = json(&world.orch(&["review", "--json"]).await);
    let queue = queue.as_array().unwrap();
    assert_eq!(queue.len(), 2);
    assert_eq!(queue[0]["id"], "escalate-billing");
    assert_eq!(queue[0]["stage"], "plan_review");
    assert_eq!(queue[0]["attempts"]["plan"], 2);
    assert_eq!(queue[0]["concerns"][0], "the plan has no rollback test");
    assert!(queue[0]["cost_usd"].as_f64().unwrap() > 0.0);

    // list, its alias and state filters
    let out = world.orch(&["list"]).await;
    expect(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 4, "{}", stdout(&out));
    let out = world.orch(&["list-tasks", "--state", "awaiting-human"]).await;
    expect(&out, 0);
    assert!(!stdout(&out).contains("docs-faq") && stdout(&out).contains("escalate-search"), "{}", stdout(&out));
    let listed = json(&world.orch(&["list", "--state", "done,FAILED", "--json"]).await);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], "docs-faq");
    assert_eq!(listed[0]["state"], "DONE");
    assert_eq!(listed[0]["risk"], "low");

    // active: nothing runs now
    let out = world.orch(&["active"]).await;
    expect(&out, 0);
    assert_eq!(stdout(&out), "no task is being worked on\n");
    assert_eq!(json(&world.orch(&["active", "--json"]).await), Value::Array(vec![]));

    // cost, three ways, all adding up to the same total
    let out = world.orch(&["cost", "--by", "model"]).await;
    expect(&out, 0);
    assert!(stdout(&out).starts_with("MODEL ") && stdout(&out).contains("gpt-4o"), "{}", stdout(&out));
    for by in ["task", "model", "role"] {
        let report = json(&world.orch(&["cost", "--by", by, "--json"]).await);
        assert_eq!(report["by"], by);
        assert!((report["total_usd"].as_f64().unwrap() - total).abs() < 1e-9, "{by}: {report}");
        let rows = report["rows"].as_array().unwrap();
        let sum: f64 = rows.iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum();
        assert!((sum - total).abs() < 1e-9);
    }
    let by_role = json(&world.orch(&["cost", "--by", "role", "--json"]).await);
    let roles: Vec<&str> = by_role["rows"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert!(roles.contains(&"planner") && roles.contains(&"plan_reviewer"), "{roles:?}");

    // log of the latest run, as text and JSON; an unknown run
    let out = world.orch(&["log"]).await;
    expect(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("run 1 started "), "{text}");
    assert!(text.contains("docs-faq  QUALITY_GATE → DONE"), "{text}");
    assert!(text.lines().last().unwrap().starts_with("run 1 ended "), "{text}");
    let events = json(&world.orch(&["log", "--json"]).await);
    let events = events.as_array().unwrap();
    assert!(events.len() > 10 && events.iter().all(|e| e["run"] == 1));
    expect_usage_error(&world.orch(&["log", "--run", "7"]).await, "no run 7 in the store; runs are 1 to 1");

    // one task in full
    let out = world.orch(&["task", "escalate-billing"]).await;
    expect(&out, 0);
    let text = stdout(&out);
    for fact in [
        "task escalate-billing  AWAITING_HUMAN  risk high  area services",
        "waiting for a person (plan_review): the plan was rejected 2 times",
        "planner        openai/gpt-4o-mini  (high-risk API/service work",
        "attempts: plan 2",
        "  - the plan has no rollback test",
        "calls",
        "plan_reviewer  -     2.1    openai/gpt-4o ",
        "PLAN_REVIEW -> PLAN_REJECTED",
    ] {
        assert!(text.contains(fact), "missing {fact:?} in:\n{text}");
    }
    // Every routing decision, not only the last per role.
    let routed: Vec<String> = table_rows(&text, "routing").iter().map(|row| row[..5].join(" ")).collect();
    assert_eq!(
        routed,
        [
            "planner - 1.1 openai/gpt-4o-mini openai/gpt-4o-mini",
            "plan_reviewer - 1.1 openai/gpt-4o openai/gpt-4o",
            "planner - 2.1 openai/gpt-4o-mini openai/gpt-4o-mini",
            "plan_reviewer - 2.1 openai/gpt-4o openai/gpt-4o",
        ],
        "{text}"
    );
    let export = json(&world.orch(&["task", "escalate-billing", "--json"]).await);
    assert_eq!(export["task"]["state"], "AWAITING_HUMAN");
    assert_eq!(export["journal"].as_array().unwrap().iter().filter(|e| e["kind"] == "completion").count(), 4);

    // decisions
    let comment = "split the billing change into two steps";
    let out = world.orch(&["task", "escalate-billing", "--approve", "--comment", comment]).await;
    expect(&out, 0);
    assert!(stdout(&out).contains("task escalate-billing approved; it is now PLAN_APPROVED"), "{}", stdout(&out));
    let out = world.orch(&["task", "escalate-search", "--reject", "--comment", "not this quarter"]).await;
    expect(&out, 0);
    assert!(stdout(&out).contains("rejected; it is now FAILED"), "{}", stdout(&out));
    expect_usage_error(
        &world.orch(&["task", "docs-faq", "--approve"]).await,
        "task `docs-faq` is DONE, not AWAITING_HUMAN",
    );
    let before = world.mock.requests().len();
    let out = world.orch(&["resume"]).await;
    expect(&out, 0);
    let later = &world.mock.requests()[before..];
    assert!(!later.is_empty());
    assert!(
        later.iter().any(|r| String::from_utf8_lossy(&r.body).contains(comment)),
        "the comment reaches the next prompt"
    );
    assert_eq!(store.task("escalate-billing").unwrap().state, TaskState::Done);
    assert_eq!(store.task("escalate-search").unwrap().state, TaskState::Failed);
    let out = world.orch(&["review"]).await;
    assert_eq!(stdout(&out), "nothing to review: no task is waiting for a person\n");
    let runs = json(&world.orch(&["summary", "--json"]).await);
    assert_eq!(runs["last_run"]["id"], 2);

    // --follow on a run that has ended prints it and stops
    let out = world.orch(&["log", "--follow", "--run", "1"]).await;
    expect(&out, 0);
    assert!(stdout(&out).contains("run 1 ended"), "{}", stdout(&out));

    // clean-state: refuses without --force, saying what would go
    let out = world.orch(&["clean-state"]).await;
    expect(&out, 2);
    let err = stderr(&out);
    assert!(err.contains(".orch/orch.db (3 tasks, 2 runs)") && err.contains("--force"), "{err}");
    assert!(world.db().exists(), "nothing deleted");
    let out = world.orch(&["clean-state", "--force"]).await;
    expect(&out, 0);
    assert!(!world.db().exists() && !world.dir.path().join(".orch").exists());
    let branches = common::git(world.dir.path(), &["branch", "--list", "orch/*"]);
    assert!(branches.contains("orch/docs-faq") && branches.contains("orch/escalate-billing"), "{branches}");
    let worktrees = common::git(world.dir.path(), &["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "only the main worktree is left: {worktrees}");
    expect_usage_error(&world.orch(&["summary"]).await, "no orch store at");
}

/// `orch task` shows every routing decision with the router's reason, also
/// for the calls a fallback model answered, and the decision a call that
/// gave up was made under.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_routing_decision_is_shown_with_its_reason_when_a_fallback_answers() {
    let world = World::new(Duration::ZERO).await;
    let planner = |r: &MockRequest| r.system.as_deref().is_some_and(|s| s.contains("You are the planner"));
    // The model the router picks for plans of high-risk service work refuses them.
    world.mock.fault_when(move |r| r.model == "gpt-4o-mini" && planner(r), Fault::status(400));
    expect(&world.orch(&["run", "tasks.yaml", "--task-id", "escalate-billing"]).await, 1);
    let out = world.orch(&["task", "escalate-billing"]).await;
    expect(&out, 0);
    let text = stdout(&out);
    let rows = table_rows(&text, "routing");
    let reason = "high-risk API/service work: strong mid-tier planner (router-rules 0.1.0)";
    let reviewed = "plan by the strong model: reviewed by mid (router-rules 0.1.0)";
    let expected = |role: &str, round: &str, chosen: &str, answered: &str, reason: &str| {
        [role, "-", round, chosen, answered, reason].map(str::to_owned).to_vec()
    };
    assert_eq!(
        rows,
        [
            expected("planner", "1.1", "openai/gpt-4o-mini", "openai/gpt-4o (fallback)", reason),
            // The plan reviewer is chosen for the model that wrote the plan: the fallback.
            expected("plan_reviewer", "1.1", "openai/gpt-4o-mini", "openai/gpt-4o-mini", reviewed),
            expected("planner", "2.1", "openai/gpt-4o-mini", "openai/gpt-4o (fallback)", reason),
            expected("plan_reviewer", "2.1", "openai/gpt-4o-mini", "openai/gpt-4o-mini", reviewed),
        ],
        "{text}"
    );
    let fallback = "fallback from openai/gpt-4o-mini, which the router chose: high-risk API/service work";
    assert!(text.contains(fallback), "the model per role keeps the router's reason:\n{text}");

    // A call that gave up shows the decision it was made under.
    world.mock.clear_faults();
    world.mock.fault_when(planner, Fault::status(400));
    expect(&world.orch(&["run", "tasks.yaml", "--task-id", "escalate-search"]).await, 1);
    let text = stdout(&world.orch(&["task", "escalate-search"]).await);
    let mut gave_up = expected("planner", "1.1", "openai/gpt-4o-mini", "-", "medium risk: cost-effective planner");
    gave_up[5].push_str(" (router-rules 0.1.0)");
    gave_up.push("gave up".to_owned());
    assert_eq!(table_rows(&text, "routing"), [gave_up], "{text}");
}

/// The rows of the table under `heading` in `orch task`'s text, each cut
/// into its cells (separated by two spaces or more).
fn table_rows(text: &str, heading: &str) -> Vec<Vec<String>> {
    let Some(section) = text.split(&format!("\n{heading}\n")).nth(1) else { return Vec::new() };
    let table = section.split("\n\n").next().unwrap_or_default();
    table
        .lines()
        .skip(1)
        .map(|row| row.split("  ").map(str::trim).filter(|cell| !cell.is_empty()).map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_follow_streams_a_live_run_until_it_ends() {
    let world = World::new(Duration::from_millis(100)).await;
    let run = world.command(&["run", "tasks.yaml", "--concurrency", "1"]).spawn().unwrap();
    wait_for(|| has_run(&world.db())).await;
    let follow = world.orch(&["log", "--follow"]).await;
    expect(&follow, 0);
    let run = run.wait_with_output().await.unwrap();
    expect(&run, 1);
    let text = stdout(&follow);
    assert!(text.contains("docs-faq  QUALITY_GATE → DONE") && text.contains("run 1 ended"), "{text}");
    let logged = world.orch(&["log", "--run", "1"]).await;
    assert_eq!(stdout(&logged), text, "following shows exactly what the log holds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_cleanly_and_says_how_to_resume() {
    let world = World::new(Duration::from_millis(300)).await;
    let run = world.command(&["run", "tasks.yaml", "--concurrency", "1"]).spawn().unwrap();
    let journaled_a_call = || {
        SqliteStore::open_existing(&world.db())
            .and_then(|s| s.calls())
            .is_ok_and(|calls| calls.iter().any(|c| c.kind == "completion"))
    };
    wait_for(journaled_a_call).await;
    let pid = rustix::process::Pid::from_raw(run.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = run.wait_with_output().await.unwrap();
    expect(&out, 130);
    let err = stderr(&out);
    assert!(err.contains("interrupted: run 1 stopped") && err.contains("Continue with `orch resume`"), "{err}");
    let summary = json(&world.orch(&["summary", "--json"]).await);
    assert!(summary["last_run"]["finished_ms"].is_i64(), "the run is closed: {summary}");
    let store = world.store();
    assert!(store.tasks(&[]).unwrap().iter().any(|t| !t.state.is_terminal()), "it stopped before the end");
    let log = std::fs::read_to_string(world.dir.path().join("ORCHESTRATOR_RUN_LOG.md")).unwrap();
    assert!(log.contains("### Run 1 interrupted") && log.contains("`orch resume` continues"), "{log}");

    let resumed = world.orch(&["resume"]).await;
    expect(&resumed, 1);
    let states: Vec<TaskState> = store.tasks(&[]).unwrap().iter().map(|t| t.state).collect();
    assert_eq!(states, [TaskState::Done, TaskState::AwaitingHuman, TaskState::AwaitingHuman]);
}

fn has_run(db: &Path) -> bool {
    SqliteStore::open_existing(db).and_then(|s| s.runs()).is_ok_and(|runs| !runs.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_gets_colour_and_the_live_view_and_no_color_turns_colour_off() {
    let world = World::new(Duration::from_millis(100)).await;
    let run = in_terminal(&world, &["run", "tasks.yaml"], &[]).await;
    assert!(run.contains("docs-faq") && run.contains("TASK"), "{run}");
    assert!(!run.contains("llm_call"), "no event lines on a terminal: {run}");
    assert!(run.contains("PLANNING") && run.contains("$0."), "the live view shows states and costs: {run:?}");

    let summary = in_terminal(&world, &["summary"], &[]).await;
    assert!(summary.contains("\x1b[32mDONE"), "{summary:?}");
    let plain = in_terminal(&world, &["summary"], &[("NO_COLOR", "1")]).await;
    assert!(plain.contains("DONE") && !plain.contains('\x1b'), "{plain:?}");
    let never = in_terminal(&world, &["--color", "never", "list"], &[]).await;
    assert!(!never.contains('\x1b'), "{never:?}");
    let forced = world.orch(&["--color", "always", "list"]).await;
    assert!(stdout(&forced).contains("\x1b[1mID"), "{}", stdout(&forced));
}

/// Runs `orch ARGS` on a pseudo-terminal (util-linux `script`) and returns what it drew.
async fn in_terminal(world: &World, args: &[&str], env: &[(&str, &str)]) -> String {
    let orch = env!("CARGO_BIN_EXE_orch");
    let line = std::iter::once(orch).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let mut command = Command::new("script");
    command
        .args(["-qec", &line, "/dev/null"])
        .current_dir(world.dir.path())
        .env("ORCH_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("review-component-cache"))
        .env("ORCH_TEST_KEY", "sk-test-key")
        .env("ORCH_LOG", "error")
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().await.expect("script runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_clear_line_with_exit_code_2_and_changes_nothing() {
    let world = World::new(Duration::ZERO).await;
    let dir = world.dir.path();

    // No store yet: read commands say so and create nothing.
    expect_usage_error(&world.orch(&["summary"]).await, "no orch store at");
    assert!(!dir.join(".orch").exists());
    expect_usage_error(&world.orch(&["--config", "missing.toml", "summary"]).await, "cannot read config missing.toml");

    expect(&world.orch(&["run", "tasks.yaml", "--task-id", "docs-faq"]).await, 0);
    let db = world.db();
    let snapshot = || std::fs::read(&db).unwrap();
    let before = snapshot();
    expect_usage_error(&world.orch(&["task", "nope"]).await, "no task `nope` in the store");
    expect_usage_error(&world.orch(&["task", "nope", "--approve"]).await, "no task `nope` in the store");
    expect_usage_error(&world.orch(&["list", "--state", "finished"]).await, "unknown task state `finished`");
    expect_usage_error(&world.orch(&["run", "tasks.yaml", "--task-id", "nope"]).await, "no task `nope`");
    assert_eq!(snapshot(), before, "nothing was modified");

    // A store from a newer orch.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
    }
    let newer = snapshot();
    for args in [&["summary"][..], &["task", "docs-faq", "--approve"], &["run", "tasks.yaml"], &["list"]] {
        expect_usage_error(&world.orch(args).await, "has schema version 99, newer than this orch understands");
    }
    assert_eq!(snapshot(), newer, "nothing was modified");

    // A file that is not a database.
    let garbage = b"this is not a database, just some bytes that ended up here".repeat(100);
    std::fs::write(&db, &garbage).unwrap();
    for args in [&["summary"][..], &["review"], &["task", "docs-faq", "--reject"], &["resume"], &["cost"]] {
        expect_usage_error(&world.orch(args).await, "is not an orch store");
    }
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "nothing was modified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_writes_a_starting_point_once_and_completions_print() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "project\n").unwrap();
    common::init_repo(dir.path());
    std::fs::write(dir.path().join(".gitignore"), "target/\n").unwrap();
    let out = orch_command(dir.path(), &["init"]).output().await.unwrap();
    expect(&out, 0);
    assert!(stdout(&out).contains("wrote ./orch.toml") && stdout(&out).contains("added .orch/ to"), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(), "target/\n.orch/\n");
    let config = std::fs::read_to_string(dir.path().join("orch.toml")).unwrap();
    // The written files are what orch reads: the config loads and the plugins with it.
    let plugins = orch_command(dir.path(), &["plugin", "list"]).output().await.unwrap();
    expect(&plugins, 0);
    let again = orch_command(dir.path(), &["init"]).output().await.unwrap();
    expect_usage_error(&again, "orch init never overwrites");
    assert_eq!(std::fs::read_to_string(dir.path().join("orch.toml")).unwrap(), config);
    assert_eq!(std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(), "target/\n.orch/\n");

    let out = orch_command(dir.path(), &["completions", "bash"]).output().await.unwrap();
    expect(&out, 0);
    assert!(stdout(&out).contains("clean-state") && stdout(&out).contains("--approve"), "{}", stdout(&out));
    let out = orch_command(dir.path(), &["completions", "tcsh"]).output().await.unwrap();
    expect(&out, 2);
}

/// Polls `ready` until it holds (at most a minute).
async fn wait_for(ready: impl Fn() -> bool) {
    for _ in 0..1200 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting");
}
