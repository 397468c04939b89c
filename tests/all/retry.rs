//! A task that a panicking router failed, retried once `orch.toml` is fixed:
//! the real probe router (built from source) panics whenever it routes the
//! code reviewer while its config says so; the calls journaled before the
//! failure are not made again.

use std::collections::HashSet;
use std::sync::Arc;

use orch_host::config::LoadedConfig;
use orch_host::cost::Pricing;
use orch_host::engine::{Engine, NoSink, RunReport, SandboxPlugins};
use orch_host::sandbox::Runtime;
use orch_host::state::TaskState;
use orch_host::store::{SqliteStore, Store, Synchronous};
use orch_host::task_retry::{RetryFrom, RetryRequest, is_retry};
use orch_host::tasks::TaskSpec;
use orch_mock_llm::{MockLlm, Vendor};

use super::cache_dir;

/// `orch.toml` with the probe as the router (panicking for the code reviewer
/// when `broken`) and the builtin `openai` plugin, named `probe` as the
/// probe's decisions name it, calling `mock`.
fn config(mock: &MockLlm, broken: bool) -> String {
    let panic_for = if broken { r#"panic_for = "code-reviewer""# } else { "" };
    format!(
        r#"
[pipeline]
router = "panicky"

[plugins.panicky]
path = "{probe}"
[plugins.panicky.config]
{panic_for}

[plugins.probe]
builtin = "openai"
[plugins.probe.config]
base_url = "{base}"
api_key_secret = ""
[plugins.probe.grants]
http = ["{origin}"]

[gates]
always = []
trivial = []
small = []
medium = []
large = []
"#,
        probe = orch_tests::plugins::ORCH_TEST_PROBE,
        base = mock.base_url(Vendor::OpenAi),
        origin = mock.origin(),
    )
}

/// Runs task `t` with the plugins `text` configures.
async fn run(store: &Arc<SqliteStore>, text: &str) -> RunReport {
    let config = LoadedConfig::from_text(Some(text), None).expect("the config is valid");
    let settings = config.settings().unwrap();
    let runtime = Runtime::builder().cache_dir(cache_dir()).build().unwrap();
    let plugins = SandboxPlugins::load(&runtime, &config, &settings.pipeline.router).await.unwrap();
    let run = store.begin_run("orch run", None).unwrap();
    let pricing = Pricing::new(&config.config.pricing);
    let engine = Engine::new(
        Arc::clone(store) as Arc<dyn Store>,
        Arc::new(plugins),
        settings,
        pricing,
        Arc::new(NoSink),
        run.id,
    );
    engine.run(&["t".to_owned()], 1).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_a_panicking_router_failed_is_retried_once_orch_toml_is_fixed() {
    let mock = MockLlm::builder().responder(orch_mock_llm::pipeline).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("orch.db"), Synchronous::Normal).unwrap());
    store.add_tasks(&[TaskSpec::new("t", "ok")]).unwrap();

    let report = run(&store, &config(&mock, true)).await;
    assert_eq!(report.tasks[0].state, TaskState::Failed, "{report:?}");
    let note = report.tasks[0].note.as_deref().unwrap();
    assert!(note.contains("routing code_reviewer failed") && note.contains("panic"), "{note}");
    let before = mock.calls();
    assert!(before >= 3, "the plan, its review and the first step's change were made: {before}");

    let retry = RetryRequest { from: RetryFrom::Stop, comment: Some("router fixed".into()), who: "ops".into() };
    assert_eq!(store.retry("t", &retry).unwrap(), TaskState::CodeReview);
    let report = run(&store, &config(&mock, false)).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");

    let bodies: Vec<Vec<u8>> = mock.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies.iter().collect::<HashSet<_>>().len(), bodies.len(), "no call was made twice");
    let history = store.history("t").unwrap();
    let retried = history.iter().find(|t| is_retry(t)).expect("the retry is in the history");
    assert_eq!((retried.actor.as_str(), retried.comment.as_deref()), ("human", Some("router fixed")));
    assert!(history.iter().any(|t| t.superseded_by == Some(retried.seq) && t.message.contains("panic")));
}
