//! Real changes judged by real gates, end to end: `orch run` on a throwaway
//! git repository, the implementer served by the mock LLM server, the
//! builtin `command` gate running the real pytest in each task's worktree.
//! - a task that adds a module and its test passes and is DONE;
//! - a task whose change breaks a test fails the gate, gets the failing test
//!   back as feedback, fixes it on the next attempt and is DONE;
//! - a task whose change carries an API key is stopped by `secrets`.

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use orch_host::state::TaskState;
use orch_host::store::{CallStatus, SqliteStore, Store, Synchronous};
use orch_mock_llm::{MockLlm, MockReply, MockRequest, Vendor};
use serde_json::json;
use tokio::process::Command;

mod common;

const TASKS: &str = r#"tasks:
  - id: add-mul
    goal: Add a mul function with a test
    risk: low
    area: core
  - id: break-then-fix
    goal: Make add handle floats
    risk: low
    area: core
  - id: leak-key
    goal: Configure the billing client
    risk: low
    area: services
"#;

/// The pipeline's counterpart: one-step plans, approvals, and per task a
/// change; `break-then-fix` first breaks `add` and repairs it once the gate's
/// findings come back; `leak-key` always writes a key into its config.
fn respond(request: &MockRequest, prompts: &Mutex<Vec<String>>) -> MockReply {
    let system = request.system.as_deref().unwrap_or_default();
    let user = request.messages.iter().find(|(role, _)| role == "user").map_or("", |(_, c)| c.as_str());
    prompts.lock().unwrap().push(user.to_owned());
    let task = user.split_whitespace().nth(1).unwrap_or_default().trim_end_matches(':');
    let text = if system.contains("You are the planner") {
        json!({"steps": [{"id": "s1", "type": "implementation", "description": "make the change",
                          "estimated_complexity": "small"}]})
        .to_string()
    } else if system.contains("You are the implementer") {
        let fixing = user.contains("Fix every finding of the quality gate");
        let edits = match (task, fixing) {
            ("add-mul", _) => json!([
                {"op": "write", "path": "mul.py", "content": "def mul(a, b):\n    return a * b\n"},
                {"op": "write", "path": "tests/test_mul.py",
                 "content": "from mul import mul\n\n\ndef test_mul():\n    assert mul(3, 4) == 12\n"}]),
            ("break-then-fix", false) => json!([
                {"op": "replace", "path": "calc.py", "search": "return a + b", "replace": "return float(a) - b"}]),
            ("break-then-fix", true) => json!([
                {"op": "replace", "path": "calc.py", "search": "return float(a) - b", "replace": "return float(a) + b"}]),
            _ => {
                json!([{"op": "write", "path": "billing.py", "content": format!("OPENAI_API_KEY = \"{}\"\n", leaked_key())}])
            }
        };
        json!({"summary": format!("change for {task}"), "edits": edits}).to_string()
    } else {
        json!({"verdict": "approved", "summary": "fine"}).to_string()
    };
    MockReply { text, input_tokens: 100, output_tokens: 20, ..MockReply::default() }
}

/// A key of OpenAI's shape, put together at run time so that no scanner (or
/// push protection) finds one in this source.
fn leaked_key() -> String {
    ["sk", "proj", "Xq7vB2mN9kLp4RtY8wZc3FhJ6dSa1GeU0iOo5TnKb"].join("-")
}

const PYTEST: &str =
    r#"["-B", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1", "--junitxml={junit}"]"#;

fn config(mock: &MockLlm) -> String {
    let (origin, base) = (mock.origin(), mock.base_url(Vendor::OpenAi));
    format!(
        r#"
[plugins.openai.config]
base_url = "{base}"
api_key_secret = ""
[plugins.openai.grants]
http = ["{origin}"]
secrets = []

[plugins.router-rules.config.models]
strong = {{ provider = "openai", model = "gpt-4o" }}
mid = {{ provider = "openai", model = "gpt-4.1" }}
cheap = {{ provider = "openai", model = "gpt-4o-mini" }}

[plugins.tests]
builtin = "command"
[[plugins.tests.config.checks]]
name = "pytest"
program = "python3"
args = {PYTEST}
parse = "junit"
[[plugins.tests.grants.commands]]
program = "python3"
args = ["-B", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1", "--junitxml=/dev/stdout"]

[gates]
always = ["secrets", "tests"]
trivial = []
small = []
medium = []
large = []

[pipeline]
max_gate_rounds = 2
# The scripted implementer answers in JSON.
edit_format = "json"

[retry]
strategy = "fixed"
delay_ms = 10
"#
    )
}

/// A Python project with a passing test suite, committed.
fn project(dir: &Path) {
    std::fs::write(dir.join("calc.py"), "def add(a, b):\n    return a + b\n").unwrap();
    std::fs::write(dir.join("conftest.py"), "").unwrap();
    std::fs::create_dir(dir.join("tests")).unwrap();
    std::fs::write(
        dir.join("tests/test_calc.py"),
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    )
    .unwrap();
    std::fs::write(dir.join("tasks.yaml"), TASKS).unwrap();
    common::init_repo(dir);
}

async fn orch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(args)
        .current_dir(dir)
        .env("ORCH_CACHE_DIR", std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gates-component-cache"))
        .env("ORCH_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .kill_on_drop(true)
        .output()
        .await
        .expect("orch runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pytest_judges_real_changes_and_its_findings_go_back_to_the_implementer() {
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&prompts);
    let mock = MockLlm::builder().responder(move |r| respond(r, &seen)).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    std::fs::write(repo.join("orch.toml"), config(&mock)).unwrap();
    project(repo);

    let out = orch(repo, &["run", "tasks.yaml", "--concurrency", "1"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "leak-key fails: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let store = SqliteStore::open(&repo.join(".orch/orch.db"), Synchronous::Normal).unwrap();
    let state = |id: &str| store.task(id).unwrap().state;
    assert_eq!(state("add-mul"), TaskState::Done, "{stdout}");
    assert_eq!(state("break-then-fix"), TaskState::Done, "{stdout}");
    assert_eq!(state("leak-key"), TaskState::Failed, "{stdout}");

    // add-mul: its module and test are on its branch, and pytest passed there.
    assert_eq!(common::git(repo, &["show", "orch/add-mul:mul.py"]), "def mul(a, b):\n    return a * b");
    let checks = |id: &str| -> Vec<serde_json::Value> {
        store.journal(id).unwrap().into_iter().filter(|e| e.kind == "check").map(|e| e.result).collect()
    };
    let add_mul = checks("add-mul");
    assert!(add_mul.iter().all(|c| c["passed"] == true), "{add_mul:?}");
    assert!(add_mul.iter().any(|c| c["summary"].as_str().unwrap().contains("pytest")), "{add_mul:?}");

    // break-then-fix: the failing test came back to the implementer, and the fix is committed.
    let broke = checks("break-then-fix");
    assert_eq!(broke[1]["passed"], false, "round 1, tests: {broke:?}");
    let fix_prompt =
        prompts.lock().unwrap().iter().find(|p| p.contains("break-then-fix") && p.contains("fix-1")).cloned();
    let fix_prompt = fix_prompt.expect("a fix step was asked for");
    assert!(fix_prompt.contains("test_add"), "the failing test is named: {fix_prompt}");
    assert_eq!(common::git(repo, &["show", "orch/break-then-fix:calc.py"]), "def add(a, b):\n    return float(a) + b");
    let log = common::git(repo, &["log", "--format=%s", "main..orch/break-then-fix"]);
    assert_eq!(log.lines().count(), 2, "the step and its fix: {log}");

    // leak-key: secrets stopped it, and its worktree is kept for inspection.
    let leak = store.task("leak-key").unwrap();
    let reason = leak.last_error.unwrap_or_default();
    assert!(reason.contains("secrets") && reason.contains("billing.py"), "{reason}");
    assert!(!reason.contains(&leaked_key()[8..]), "the key itself is not repeated: {reason}");
    let worktree = leak.meta.workspace.unwrap().path;
    assert!(Path::new(&worktree).join("billing.py").exists(), "a failed task keeps its worktree");
    let shown = orch(repo, &["task", "leak-key"]).await;
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("branch: orch/leak-key") && shown.contains(&format!("worktree {worktree}")), "{shown}");
    assert!(!repo.join(".orch/worktrees/add-mul").exists(), "a DONE task's worktree is gone");
    assert_eq!(common::git(repo, &["status", "--porcelain"]), "", "the main checkout is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_orch_during_a_gate_leaves_a_clean_branch_and_resume_finishes() {
    let mock = MockLlm::builder().responder(|r| respond(r, &Mutex::default())).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    // A gate that waits while the flag file exists.
    let flag = dir.path().join("hold-the-gate");
    std::fs::write(&flag, "").unwrap();
    let script = format!("import os, time\nwhile os.path.exists({:?}): time.sleep(0.05)\n", flag.display().to_string());
    let slow_gate = format!(
        "\n[plugins.slow]\nbuiltin = \"command\"\n[[plugins.slow.config.checks]]\nname = \"wait\"\nprogram = \"python3\"\n\
         args = [\"-B\", \"-c\", {script:?}]\n[[plugins.slow.grants.commands]]\nprogram = \"python3\"\n\
         args = [\"-B\", \"-c\", {script:?}]\n"
    );
    let config =
        config(&mock).replace("always = [\"secrets\", \"tests\"]", "always = [\"tests\", \"slow\"]") + &slow_gate;
    std::fs::write(repo.join("orch.toml"), config).unwrap();
    project(&repo);

    let mut run = Command::new(env!("CARGO_BIN_EXE_orch"));
    run.args(["run", "tasks.yaml", "--task-id", "add-mul"])
        .current_dir(&repo)
        .env("ORCH_CACHE_DIR", std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gates-component-cache"))
        .env("ORCH_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = run.spawn().unwrap();
    let db = repo.join(".orch/orch.db");
    let in_gate = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let Ok(store) = SqliteStore::open(&db, Synchronous::Normal) else { continue };
            let done = |e: &&orch_host::store::JournalEntry| e.kind == "check" && e.status == CallStatus::Done;
            let checks = store.journal("add-mul").map(|j| j.iter().filter(done).count()).unwrap_or(0);
            // The `tests` gate is journaled and `slow` is running.
            if store.task("add-mul").is_ok_and(|t| t.state == TaskState::QualityGate) && checks == 1 {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), in_gate).await.expect("the run reaches the slow gate");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();

    let worktree = repo.join(".orch/worktrees/add-mul");
    assert_eq!(common::git(&worktree, &["status", "--porcelain"]), "", "nothing half-applied in the worktree");
    assert_eq!(common::git(&repo, &["rev-list", "--count", "main..orch/add-mul"]), "1", "the step's one commit");

    std::fs::remove_file(&flag).unwrap();
    let out = orch(&repo, &["resume"]).await;
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let store = SqliteStore::open(&db, Synchronous::Normal).unwrap();
    assert_eq!(store.task("add-mul").unwrap().state, TaskState::Done);
    let checks: Vec<_> = store.journal("add-mul").unwrap().into_iter().filter(|e| e.kind == "check").collect();
    assert_eq!(checks.len(), 2, "the journaled gate is not run again; the interrupted one is");
    assert_eq!(common::git(&repo, &["rev-list", "--count", "main..orch/add-mul"]), "1", "no step applied twice");
    assert!(!worktree.exists(), "no dangling worktree");
    let worktrees = common::git(&repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "only the main checkout is registered: {worktrees}");
}
