//! Pipeline throughput: `orch run` (the real binary, builtin router and
//! `openai` plugin, SQLite store, run log) drives N tasks of 8 LLM calls each
//! against the mock LLM server at zero latency, at concurrency 1 and 16, and
//! prints tasks/s, host CPU per pipeline node (one LLM call with its routing,
//! journaling and transitions), store bytes per task against the response
//! bytes journaled for it, the peak RSS of the `orch` process, and how long
//! replies waited between arriving and being durable (median and maximum,
//! from the run log's summary).
//!
//! A second table runs the same work in process with canned strategies (no
//! wasm, no HTTP): what the engine, the store and the run log cost per node.
//!
//! `cargo bench -p orch-host --bench pipeline` (ORCH_BENCH_TASKS=N to change N).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use orch_host::config::LoadedConfig;
use orch_host::cost::Pricing;
use orch_host::engine::{Engine, Plugins, Served};
use orch_host::retry::CallError;
use orch_host::runlog::RunLog;
use orch_host::sandbox::{
    CheckRequest, CheckResult, Completion, CompletionRequest, RouteDecision, RouteRequest, StopReason, Usage,
};
use orch_host::store::{SqliteStore, Store, Synchronous};
use orch_host::tasks::TaskSpec;
use orch_mock_llm::{MockLlm, MockReply, MockRequest, Vendor};

/// LLM calls per task: plan, plan review, 3 × (implement, code review).
const NODES_PER_TASK: u64 = 8;

/// Realistic reply sizes: a plan of 3 steps, verdicts, edits of ~2.5 KB.
fn respond(request: &MockRequest) -> MockReply {
    static SERIAL: AtomicUsize = AtomicUsize::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let text = reply_for(request.system.as_deref().unwrap_or_default(), serial);
    MockReply { text, input_tokens: 1500, output_tokens: 400, ..MockReply::default() }
}

/// The reply to a role, known by its system prompt; `serial` makes every
/// implementer's edit a different file content.
fn reply_for(system: &str, serial: usize) -> String {
    if system.contains("You are the planner") {
        let step = |i: u32, kind: &str| {
            format!(
                r#"{{"id": "s{i}", "type": "{kind}", "description": "Step {i}: change the module and keep its API stable", "risk": "low", "estimated_complexity": "small", "files_to_read": ["src/lib.rs"], "files_to_modify": ["src/module_{i}.rs"], "tests_required": ["tests/module_{i}.rs"], "commands": ["cargo test"], "dependencies": []}}"#
            )
        };
        format!(
            r#"{{"steps": [{}, {}, {}], "estimated_duration": "2h", "rollback_strategy": "revert the branch"}}"#,
            step(1, "implementation"),
            step(2, "implementation"),
            step(3, "testing")
        )
    } else if system.contains("You are the implementer") {
        let content: String = (0..40)
            .map(|line| format!("    let value_{line} = compute(input, {line}).context(\"call {serial}\")?;\n"))
            .collect();
        serde_json::json!({
            "summary": "change the module",
            "edits": [{"op": "write", "path": format!("src/module_{}.rs", serial % 3), "content": content}],
        })
        .to_string()
    } else {
        r#"{"verdict": "approved", "concerns": [], "summary": "The change does what the step says and keeps the API."}"#
            .into()
    }
}

fn config(mock: &MockLlm) -> String {
    format!(
        r#"
[plugins.openai.config]
base_url = "{}"
api_key_secret = ""
[plugins.openai.grants]
http = ["{}"]

[plugins.router-rules.config.models]
strong = {{ provider = "openai", model = "gpt-4o" }}
mid = {{ provider = "openai", model = "gpt-4o-mini" }}
cheap = {{ provider = "openai", model = "gpt-4.1" }}

[pipeline]
# The scripted implementer answers in JSON.
edit_format = "json"
"#,
        mock.base_url(Vendor::OpenAi),
        mock.origin()
    )
}

fn tasks_json(n: usize) -> String {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (risk, area) = [("low", "docs"), ("medium", "api"), ("high", "core")][i % 3];
            serde_json::json!({"id": format!("task-{i:05}"), "goal": format!("Improve module {i}"), "risk": risk, "area": area})
        })
        .collect();
    serde_json::json!({ "tasks": tasks }).to_string()
}

/// User + system CPU in seconds from /proc/self/stat: this process's own
/// (`children` false) or that of its reaped children.
fn cpu_seconds(children: bool) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("comm is parenthesised").1.split_whitespace().collect();
    // After the comm, state is field 3: utime/stime (14, 15) and cutime/cstime (16, 17).
    let first = if children { 13 } else { 11 };
    let ticks: f64 = fields[first].parse::<f64>().unwrap() + fields[first + 1].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

/// Strategies answered in process: a fixed route, canned replies, passing gates.
struct Canned;

impl Plugins for Canned {
    async fn route(&self, _: &RouteRequest) -> Result<Served<RouteDecision>, CallError> {
        let value = RouteDecision {
            provider: "canned".into(),
            model: "gpt-4o-mini".into(),
            reason: "bench".into(),
            fallbacks: vec![],
        };
        Ok(Served { value, plugin: "canned 1".into() })
    }

    async fn complete(&self, _: &str, request: &CompletionRequest) -> Result<Served<Completion>, CallError> {
        let value = Completion {
            text: reply_for(&request.messages[0].content, 0),
            usage: Usage { input_tokens: 1500, output_tokens: 400, cached_input_tokens: 0, cache_write_tokens: 0 },
            stop_reason: StopReason::EndTurn,
            model: request.model.clone(),
        };
        Ok(Served { value, plugin: "canned 1".into() })
    }

    async fn check(&self, _: &str, _: &CheckRequest) -> Result<Served<CheckResult>, CallError> {
        Ok(Served {
            value: CheckResult { passed: true, summary: String::new(), findings: vec![] },
            plugin: "canned 1".into(),
        })
    }
}

/// The engine alone, in process: (wall, CPU seconds).
fn engine_only(n: usize, concurrency: usize) -> (Duration, f64) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("orch.db"), Synchronous::Normal).unwrap());
    let specs: Vec<TaskSpec> =
        (0..n).map(|i| TaskSpec::new(format!("task-{i:05}"), format!("Improve module {i}"))).collect();
    store.add_tasks(&specs).unwrap();
    let ids: Vec<String> = specs.into_iter().map(|t| t.id).collect();
    let settings = LoadedConfig::from_text(None, None).unwrap().settings().unwrap();
    let run = store.begin_run("bench", None).unwrap();
    let log = Arc::new(RunLog::open(&dir.path().join("run.md"), "bench\n").unwrap());
    let cpu_before = cpu_seconds(false);
    let started = Instant::now();
    let report = runtime.block_on(async {
        let engine = Engine::new(
            store.clone() as Arc<dyn Store>,
            Arc::new(Canned),
            settings,
            Pricing::new(&BTreeMap::new()),
            log,
            run.id,
        );
        engine.run(&ids, concurrency).await.unwrap()
    });
    let elapsed = started.elapsed();
    assert_eq!(report.count(orch_host::state::TaskState::Done), n);
    (elapsed, cpu_seconds(false) - cpu_before)
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

struct Figures {
    concurrency: usize,
    wall: Duration,
    cpu_s: f64,
    peak_rss_kib: u64,
    store_bytes: u64,
    response_bytes: u64,
    done: usize,
    /// The run log's line on how soon replies were durable.
    reply_delays: String,
}

fn run_once(orch: &Path, mock: &MockLlm, cache: &Path, n: usize, concurrency: usize) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("orch.toml"), config(mock)).unwrap();
    std::fs::write(dir.path().join("tasks.json"), tasks_json(n)).unwrap();
    // Tasks change a git repository: one worktree, branch and commit per step each.
    std::fs::write(dir.path().join(".gitignore"), ".orch/\nORCHESTRATOR_RUN_LOG.md\n").unwrap();
    for args in [&["init", "-q", "-b", "main"][..], &["add", "-A"], &["commit", "-q", "-m", "bench"]] {
        let git = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(["-c", "user.name=bench", "-c", "user.email=bench@localhost"])
            .args(args)
            .status()
            .unwrap();
        assert!(git.success(), "git {args:?}");
    }
    let command = |args: &[&str]| {
        let mut c = Command::new(orch);
        c.args(args)
            .current_dir(dir.path())
            .env("ORCH_CACHE_DIR", cache)
            .env("ORCH_LOG", "error")
            .env("RUST_BACKTRACE", "0");
        c
    };
    // Compile the plugins into the cache outside the measurement.
    assert!(command(&["plugin", "list"]).output().unwrap().status.success());

    let cpu_before = cpu_seconds(true);
    let started = Instant::now();
    let mut child = command(&["run", "tasks.json", "--concurrency", &concurrency.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak = peak.max(vm_hwm_kib(child.id()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = started.elapsed();
    assert!(status.success(), "orch run failed: {status}");
    let cpu_s = cpu_seconds(true) - cpu_before;

    let db = dir.path().join(".orch/orch.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    let response_bytes: i64 = conn
        .query_row("SELECT SUM(length(CAST(text AS BLOB))) FROM journal WHERE kind = 'completion'", [], |r| r.get(0))
        .unwrap();
    let done: i64 = conn.query_row("SELECT COUNT(*) FROM tasks WHERE state = 'DONE'", [], |r| r.get(0)).unwrap();
    drop(conn);
    let store_bytes = file_size(&db) + file_size(&dir.path().join(".orch/orch.db-wal"));
    let log = std::fs::read_to_string(dir.path().join(orch_host::runlog::RUN_LOG_FILE)).unwrap();
    let reply_delays = log
        .lines()
        .find_map(|l| l.strip_prefix(&format!("- {}: ", orch_host::runlog::REPLY_DELAYS)))
        .expect("the run log says how soon replies were durable")
        .to_owned();
    if let Ok(keep) = std::env::var("ORCH_BENCH_KEEP") {
        std::fs::copy(&db, format!("{keep}-c{concurrency}.db")).unwrap();
    }
    Figures {
        concurrency,
        wall,
        cpu_s,
        peak_rss_kib: peak,
        store_bytes,
        response_bytes: response_bytes as u64,
        done: done as usize,
        reply_delays,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a quick smoke pass.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n: usize =
        std::env::var("ORCH_BENCH_TASKS").ok().and_then(|v| v.parse().ok()).unwrap_or(if smoke { 20 } else { 1000 });
    let orch = PathBuf::from(env!("CARGO_BIN_EXE_orch"));
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-component-cache");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mock = runtime
        .block_on(MockLlm::builder().responder(respond).record_requests(false).start())
        .expect("the mock LLM server starts");

    println!("orch run: {n} tasks × {NODES_PER_TASK} LLM calls, mock server at zero latency (in the bench process)");
    println!(
        "{:>11} {:>9} {:>9} {:>14} {:>15} {:>16} {:>10} {:>9}",
        "concurrency", "wall s", "tasks/s", "CPU/node ms", "store B/task", "responses B/task", "ratio", "peak RSS"
    );
    for concurrency in [1, 16] {
        let f = run_once(&orch, &mock, &cache, n, concurrency);
        assert_eq!(f.done, n, "every task reaches DONE");
        let nodes = (n as u64 * NODES_PER_TASK) as f64;
        println!(
            "{:>11} {:>9.2} {:>9.0} {:>14.3} {:>15} {:>16} {:>10.2} {:>6} MiB",
            f.concurrency,
            f.wall.as_secs_f64(),
            n as f64 / f.wall.as_secs_f64(),
            f.cpu_s * 1000.0 / nodes,
            f.store_bytes / n as u64,
            f.response_bytes / n as u64,
            f.store_bytes as f64 / f.response_bytes as f64,
            f.peak_rss_kib / 1024
        );
        println!("{:>11} replies durable after arriving: {}", "", f.reply_delays);
    }
    // The mock is idle from here on, so this process's CPU is the engine's.
    println!("\nthe engine alone: same tasks, strategies answered in process (no wasm, no HTTP), SQLite + run log");
    println!("{:>11} {:>9} {:>9} {:>14}", "concurrency", "wall s", "tasks/s", "CPU/node ms");
    for concurrency in [1, 16] {
        let (wall, cpu) = engine_only(n, concurrency);
        let nodes = (n as u64 * NODES_PER_TASK) as f64;
        println!(
            "{concurrency:>11} {:>9.2} {:>9.0} {:>14.3}",
            wall.as_secs_f64(),
            n as f64 / wall.as_secs_f64(),
            cpu * 1000.0 / nodes
        );
    }
}
