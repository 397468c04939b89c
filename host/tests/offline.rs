//! The offline default and record → replay, through the real binary:
//! - the demo in `examples/` runs to DONE with no API key, every reply
//!   replayed from its cassette;
//! - recording a run against the mock LLM server and replaying the cassette
//!   in a fresh store reproduces it exactly (states, costs), without a call;
//! - the recording of the demo is the checked-in cassette, so a change to the
//!   prompts that would break the demo is caught here;
//! - a run budget (`--max-cost`) stops spending and escalates, and resuming
//!   after approval does not count journaled calls again;
//! - the demo runs to DONE in every edit format against replies with the
//!   quirks of real models, with the share of replies used as they came.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use orch_host::state::TaskState;
use orch_host::store::{SqliteStore, Store, Synchronous};
use orch_mock_llm::{MockLlm, Vendor, pipeline, quirks};
use tokio::process::Command;

mod common;

/// A fresh git repository holding a copy of `examples/`, as the orch
/// repository holds it when the README's command runs.
fn demo_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    common::copy_dir(Path::new(EXAMPLES), &repo.join("examples"));
    common::init_repo(&repo);
    repo
}

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
const DEMO_CASSETTE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/tasks.cassette.jsonl");
/// The tasks file, relative to a demo repository.
const DEMO_TASKS: &str = "examples/tasks.yaml";
/// Set to rewrite the demo cassette from a fresh recording.
const UPDATE: &str = "ORCH_UPDATE_DEMO_CASSETTE";
const KEYS: [&str; 3] = ["ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENAI_API_KEY"];

/// `orch ARGS` in `dir` with no provider key in the environment.
async fn orch(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orch"));
    command
        .args(args)
        .current_dir(dir)
        .env("ORCH_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("offline-component-cache"))
        .env("ORCH_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .env("ORCH_TEST_KEY", "sk-test-key")
        .kill_on_drop(true);
    for key in KEYS {
        command.env_remove(key);
    }
    command.output().await.expect("orch runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Each task's state, cost and sequence of task states.
fn outcome(db: &Path) -> BTreeMap<String, (TaskState, f64, Vec<String>)> {
    let store = SqliteStore::open(db, Synchronous::Normal).unwrap();
    store
        .tasks(&[])
        .unwrap()
        .into_iter()
        .map(|task| {
            let states = store
                .history(&task.spec.id)
                .unwrap()
                .into_iter()
                .filter_map(|t| match t.moved {
                    orch_host::store::Moved::Task { to, .. } => Some(to.to_string()),
                    orch_host::store::Moved::Step { .. } => None,
                })
                .collect();
            (task.spec.id, (task.state, task.cost_usd, states))
        })
        .collect()
}

/// The lines of a cassette, sorted (tasks run concurrently, so the order in
/// which replies were appended varies).
fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn the_demo_runs_offline_to_done_and_leaves_a_branch_per_task() {
    let dir = tempfile::tempdir().unwrap();
    let repo = demo_repo(dir.path());
    let out = orch(&repo, &["run", DEMO_TASKS]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("offline: anthropic (ANTHROPIC_API_KEY is not set), gemini (GEMINI_API_KEY is not set)"),
        "{stderr}"
    );
    let outcome = outcome(&repo.join(".orch/orch.db"));
    assert_eq!(outcome.len(), 4);
    for (id, (state, cost, _)) in &outcome {
        assert_eq!(*state, TaskState::Done, "{id}: {stdout}");
        assert!(*cost > 0.0, "{id}: the recorded usage is priced");
    }
    let revised = &outcome["paginate-orders"].2;
    assert_eq!(revised.iter().filter(|s| *s == "PLAN_REJECTED").count(), 1, "the demo shows one revision: {revised:?}");
    let fix = common::git(&repo, &["log", "--format=%s", "main..orch/fix-session-timeout"]);
    assert_eq!(fix.lines().count(), 2, "one commit per step: {fix}");
    assert!(fix.lines().all(|l| l.starts_with("orch: fix-session-timeout step-")), "{fix}");
    let changed = common::git(&repo, &["diff", "--name-only", "main", "orch/fix-session-timeout"]);
    assert!(changed.contains("examples/demo/src/auth/middleware.py"), "{changed}");
    assert!(!repo.join(".orch/worktrees/fix-session-timeout").exists(), "a DONE task's worktree is removed");
    assert_eq!(common::git(&repo, &["status", "--porcelain"]), "", "the checkout orch ran in is untouched");
    let log = std::fs::read_to_string(repo.join("ORCHESTRATOR_RUN_LOG.md")).unwrap();
    assert!(log.contains("Tasks: 4 completed, 0 failed"), "{log}");
    assert!(
        log.contains("\n> offline: anthropic (ANTHROPIC_API_KEY is not set)"),
        "the log says where replies came from"
    );
}

#[tokio::test]
async fn recording_then_replaying_reproduces_the_run_and_the_demo_cassette() {
    let mock = MockLlm::builder().responder(pipeline).start().await.expect("the mock starts");
    let dir = tempfile::tempdir().unwrap();
    let recorded_repo = demo_repo(&dir.path().join("recorded"));
    let replayed_repo = demo_repo(&dir.path().join("replayed"));
    let config = mock_providers(&mock);
    std::fs::write(dir.path().join("orch.toml"), config).unwrap();
    let config_path = dir.path().join("orch.toml");
    let config_arg = config_path.to_str().unwrap();
    let recorded = dir.path().join("recorded.cassette.jsonl");
    let rec = recorded.to_str().unwrap();
    let out = orch(&recorded_repo, &["--config", config_arg, "run", DEMO_TASKS, "--record", rec]).await;
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let calls = mock.calls();
    assert!(calls > 0);
    assert_eq!(sorted_lines(&recorded).len() as u64, calls, "every call recorded once");

    let out = orch(&replayed_repo, &["--config", config_arg, "run", DEMO_TASKS, "--replay", rec]).await;
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(mock.calls(), calls, "a replay calls no provider");
    let (recorded_run, replayed_run) =
        (outcome(&recorded_repo.join(".orch/orch.db")), outcome(&replayed_repo.join(".orch/orch.db")));
    assert_eq!(recorded_run, replayed_run, "same states, same costs");
    assert!(recorded_run.values().all(|(state, _, _)| *state == TaskState::Done), "{recorded_run:?}");
    for id in recorded_run.keys() {
        let tree = |repo: &Path| common::git(repo, &["rev-parse", &format!("orch/{id}^{{tree}}")]);
        assert_eq!(tree(&recorded_repo), tree(&replayed_repo), "{id}: the same change");
    }

    if std::env::var_os(UPDATE).is_some() {
        std::fs::copy(&recorded, DEMO_CASSETTE).unwrap();
    }
    assert!(
        sorted_lines(&recorded) == sorted_lines(Path::new(DEMO_CASSETTE)),
        "examples/tasks.cassette.jsonl is not what the demo records now (did the prompts or the routing change?); \
         rewrite it with `{UPDATE}=1 cargo test -p orch-host --test offline` and commit it"
    );
}

#[tokio::test]
async fn the_demo_runs_to_done_in_every_edit_format_against_quirky_replies() {
    let mock = MockLlm::builder().responder(quirks).start().await.expect("the mock starts");
    let dir = tempfile::tempdir().unwrap();
    println!("edit format     tasks DONE  implementer replies used as they came");
    for format in ["search-replace", "whole", "patch", "json"] {
        let repo = demo_repo(&dir.path().join(format));
        let config = dir.path().join(format!("{format}.toml"));
        std::fs::write(&config, format!("{}\n[pipeline]\nedit_format = \"{format}\"\n", mock_providers(&mock)))
            .unwrap();
        let out = orch(&repo, &["--config", config.to_str().unwrap(), "run", DEMO_TASKS]).await;
        assert!(out.status.success(), "{format}: {}\n{}", text(&out.stdout), text(&out.stderr));
        let db = repo.join(".orch/orch.db");
        let run = outcome(&db);
        let done = run.values().filter(|(state, _, _)| *state == TaskState::Done).count();
        let store = SqliteStore::open(&db, Synchronous::Normal).unwrap();
        let applied: Vec<bool> = run
            .keys()
            .flat_map(|id| store.journal(id).unwrap())
            .filter(|e| e.key.starts_with("apply/"))
            .map(|e| e.result.get("error").is_none())
            .collect();
        let used = applied.iter().filter(|ok| **ok).count();
        println!(
            "{format:<15} {done:>5}/{}  {used}/{} ({:.0}%)",
            run.len(),
            applied.len(),
            100.0 * used as f64 / applied.len() as f64
        );
        assert_eq!(done, run.len(), "{format}: {run:?}");
        assert_eq!(used, applied.len(), "{format}: every quirky reply is read as it came");
    }
}

/// An `orch.toml` pointing the default providers at `mock`. The default
/// routing; only where the providers live changes, and they need no key:
/// what a cassette miss tells you to do, and the README.
fn mock_providers(mock: &MockLlm) -> String {
    let (anthropic, gemini) = (mock.base_url(Vendor::Anthropic), mock.base_url(Vendor::Gemini));
    format!(
        r#"
[plugins.anthropic.config]
base_url = "{anthropic}"
api_key_secret = ""
[plugins.anthropic.grants]
http = ["http://127.0.0.1:*"]
secrets = []

[plugins.gemini.config]
base_url = "{gemini}"
api_key_secret = ""
[plugins.gemini.grants]
http = ["http://127.0.0.1:*"]
secrets = []
"#
    )
}

#[tokio::test]
async fn a_run_budget_escalates_and_resuming_counts_journaled_calls_once() {
    let dir = tempfile::tempdir().unwrap();
    let full = demo_repo(&dir.path().join("full"));
    assert!(orch(&full, &["run", DEMO_TASKS]).await.status.success());
    let unlimited: f64 = outcome(&full.join(".orch/orch.db")).values().map(|(_, cost, _)| cost).sum();

    let limited = demo_repo(&dir.path().join("limited"));
    let budget = format!("{:.6}", unlimited / 3.0);
    let out = orch(&limited, &["run", DEMO_TASKS, "--concurrency", "1", "--max-cost", &budget]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "tasks wait for a person: {stdout}");
    assert!(stdout.contains("budget exceeded: spent $"), "{stdout}");
    let db = limited.join(".orch/orch.db");
    let first = outcome(&db);
    let spent: f64 = first.values().map(|(_, cost, _)| cost).sum();
    assert!(spent < unlimited, "the run stopped spending ({spent} of {unlimited})");
    let waiting: Vec<&String> =
        first.iter().filter(|(_, o)| o.0 == TaskState::AwaitingHuman).map(|(id, _)| id).collect();
    assert!(!waiting.is_empty(), "{first:?}");

    for id in &waiting {
        let out = orch(&limited, &["task", id, "--approve"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = orch(&limited, &["resume", "--replay", DEMO_CASSETTE]).await;
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let last = outcome(&db);
    assert!(last.values().all(|(state, _, _)| *state == TaskState::Done), "{last:?}");
    let total: f64 = last.values().map(|(_, cost, _)| cost).sum();
    assert!((total - unlimited).abs() < 1e-9, "journaled calls count once: {total} vs {unlimited}");
}
