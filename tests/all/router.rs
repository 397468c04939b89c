//! The `router-rules` plugin reproduces the original orchestrator's routing,
//! both as the embedded wasm component loaded from the default config and as
//! the plain Rust function inside it.

use orch_host::config::LoadedConfig;
use orch_host::sandbox::{LoadedPlugin, PluginError, PluginSpec, Risk, Role, RouteRequest};
use orch_router_rules::{ModelAliases, RuleTable, default_table};

use super::{request, runtime};

/// (role, risk, area, step kind, step complexity, author alias, expected alias, words in the reason)
type Case = (
    Role,
    Risk,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
);

const SEED_CASES: &[Case] = &[
    // Planner.
    (Role::Planner, Risk::High, "core", None, None, None, "strong", "best reasoning"),
    (Role::Planner, Risk::High, "math", None, None, None, "strong", "best reasoning"),
    (Role::Planner, Risk::High, "api", None, None, None, "mid", "API/service"),
    (Role::Planner, Risk::High, "services", None, None, None, "mid", "API/service"),
    (Role::Planner, Risk::Medium, "core", None, None, None, "mid", "cost-effective"),
    (Role::Planner, Risk::Low, "docs", None, None, None, "cheap", "docs"),
    (Role::Planner, Risk::Low, "comments", None, None, None, "cheap", "docs"),
    (Role::Planner, Risk::Low, "core", None, None, None, "mid", "default planner"),
    (Role::Planner, Risk::High, "docs", None, None, None, "mid", "default planner"),
    // Plan reviewer: never the planner's model.
    (Role::PlanReviewer, Risk::High, "core", None, None, Some("strong"), "mid", "plan by the strong model"),
    (Role::PlanReviewer, Risk::High, "api", None, None, Some("mid"), "strong", "high-risk plan by mid"),
    (Role::PlanReviewer, Risk::Medium, "core", None, None, Some("mid"), "cheap", "plan by mid"),
    (Role::PlanReviewer, Risk::Low, "docs", None, None, Some("cheap"), "strong", "plan by the cheap model"),
    // Implementer.
    (Role::Implementer, Risk::High, "core", Some("implementation"), Some("medium"), None, "strong", "high-risk"),
    (Role::Implementer, Risk::Medium, "core", Some("implementation"), Some("large"), None, "strong", "large step"),
    (Role::Implementer, Risk::Medium, "api", Some("docs"), Some("small"), None, "cheap", "docs/comments"),
    (Role::Implementer, Risk::Medium, "core", Some("refactor"), Some("trivial"), None, "cheap", "simple refactor"),
    (Role::Implementer, Risk::Low, "core", Some("testing"), Some("small"), None, "cheap", "low-risk test"),
    (Role::Implementer, Risk::Medium, "core", Some("testing"), Some("small"), None, "mid", "default implementer"),
    (
        Role::Implementer,
        Risk::Medium,
        "core",
        Some("implementation"),
        Some("medium"),
        None,
        "mid",
        "default implementer",
    ),
    // Code reviewer: never the implementer's model.
    (Role::CodeReviewer, Risk::Medium, "core", None, None, Some("strong"), "mid", "code by the strong model"),
    (Role::CodeReviewer, Risk::Low, "docs", None, None, Some("cheap"), "strong", "code by the cheap model"),
    (Role::CodeReviewer, Risk::High, "core", None, None, Some("mid"), "strong", "high-risk code by mid"),
    (Role::CodeReviewer, Risk::Low, "core", None, None, Some("mid"), "cheap", "code by mid"),
];

fn default_router_spec() -> PluginSpec {
    let config = LoadedConfig::from_text(None, None).expect("defaults parse");
    let mut spec = config
        .plugin_specs()
        .expect("default plugin specs")
        .into_iter()
        .find(|s| s.name == "router-rules")
        .expect("router-rules is configured by default");
    // Debug builds of the host compile slower; the decision itself is fast.
    spec.timeout = Some(std::time::Duration::from_secs(10));
    spec
}

fn models(spec: &PluginSpec) -> ModelAliases<'_> {
    serde_json::from_str(&spec.config["models"]).expect("models are JSON")
}

fn case_request(case: &Case, models: &ModelAliases<'_>) -> RouteRequest {
    let (role, risk, area, kind, complexity, author, _, _) = *case;
    RouteRequest {
        step_kind: kind.map(Into::into),
        step_complexity: complexity.map(Into::into),
        author_model: author.map(|alias| models[alias].model.to_string()),
        catalog: Vec::new(),
        history: Vec::new(),
        ..request(role, risk, area, "route me")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_component_reproduces_the_seed_routing_table() {
    let spec = default_router_spec();
    let models = models(&spec);
    let (runtime, _) = runtime();
    let plugin = runtime.load(spec.clone()).await.expect("router-rules loads with the default config");
    for case in SEED_CASES {
        let request = case_request(case, &models);
        let decision = plugin.route(&request).await.unwrap_or_else(|e| panic!("{case:?}: {e}"));
        let expected = &models[case.6];
        assert_eq!(
            (decision.provider.as_str(), decision.model.as_str()),
            (&*expected.provider, &*expected.model),
            "{case:?}"
        );
        assert!(decision.reason.contains(case.7), "{case:?}: reason `{}`", decision.reason);
        assert!(!decision.fallbacks.is_empty(), "{case:?}: every decision has a fallback");
        if let Some(author) = &request.author_model {
            assert_ne!(&decision.model, author, "{case:?}: a reviewer never gets the author's model");
            assert!(decision.fallbacks.iter().all(|f| &f.model != author), "{case:?}: nor as a fallback");
        }
    }
}

#[test]
fn the_plain_function_makes_the_same_decisions() {
    let spec = default_router_spec();
    let models = models(&spec);
    let table = RuleTable::new(models.clone(), default_table::RULES).expect("the default table is valid");
    for case in SEED_CASES {
        let request = orch_tests::to_sdk_request(case_request(case, &models));
        let decision = table.route(&request).unwrap_or_else(|e| panic!("{case:?}: {e:?}"));
        assert_eq!(decision.model, models[case.6].model, "{case:?}");
    }
}

async fn load_with_config(config: &str) -> LoadedPlugin {
    let text = format!("[plugins.router-rules.config]\n{config}");
    let loaded = LoadedConfig::from_text(Some(&text), Some("orch.toml".into())).expect("config parses");
    let spec = loaded.plugin_specs().unwrap().into_iter().find(|s| s.name == "router-rules").unwrap();
    let (runtime, _) = runtime();
    runtime.load(PluginSpec { timeout: Some(std::time::Duration::from_secs(10)), ..spec }).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_rules_match_labels_and_attempts_first_match_wins() {
    let plugin = load_with_config(
        r#"
rules = [
  { role = "implementer", labels = ["security"], use = "strong", reason = "security work" },
  { role = "implementer", attempt_min = 3, use = "strong", fallbacks = ["mid"], reason = "two attempts failed: escalate" },
  { role = "implementer", use = "openai/gpt-5-mini", fallbacks = ["cheap"], reason = "default" },
]
"#,
    )
    .await;
    let mut req = request(Role::Implementer, Risk::Low, "core", "x");
    let first = plugin.route(&req).await.unwrap();
    assert_eq!(
        (first.provider.as_str(), first.model.as_str(), first.reason.as_str()),
        ("openai", "gpt-5-mini", "default")
    );
    assert_eq!(first.fallbacks[0].model, "gemini-3.5-flash-lite");

    req.attempt = 3;
    let third = plugin.route(&req).await.unwrap();
    assert_eq!((third.model.as_str(), third.reason.as_str()), ("claude-sonnet-5-5", "two attempts failed: escalate"));

    req.attempt = 1;
    req.task.labels = vec!["Security".into()];
    assert_eq!(plugin.route(&req).await.unwrap().reason, "security work");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tables_are_reported_as_invalid_input_naming_the_rule() {
    let plugin = load_with_config(r#"rules = [{ role = "planner", use = "strongest", reason = "typo" }]"#).await;
    let err = plugin.route(&request(Role::Planner, Risk::Low, "core", "x")).await.unwrap_err();
    let Some(PluginError::InvalidInput(message)) = err.plugin_error() else { panic!("{err:?}") };
    assert!(message.contains("rule 1 (typo)") && message.contains("`strongest`"), "{message}");

    let plugin = load_with_config(r#"rules = [{ role = "planner", use = "mid", reason = "planner only" }]"#).await;
    let err = plugin.route(&request(Role::Implementer, Risk::Low, "core", "x")).await.unwrap_err();
    assert!(err.to_string().contains("no routing rule matches role implementer, risk low, area `core`"), "{err}");

    let plugin = load_with_config(r#"rules = [{ role = "planner", model = "mid", reason = "wrong key" }]"#).await;
    let err = plugin.route(&request(Role::Planner, Risk::Low, "core", "x")).await.unwrap_err();
    assert!(err.to_string().contains("config key `rules` is not valid"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reviewer_rule_naming_the_author_falls_back_to_another_model() {
    let plugin = load_with_config(
        r#"rules = [{ role = "code-reviewer", use = "mid", fallbacks = ["strong"], reason = "always mid" }]"#,
    )
    .await;
    let mut req = request(Role::CodeReviewer, Risk::Low, "core", "x");
    req.author_model = Some("gemini-3.6-flash".into());
    let decision = plugin.route(&req).await.unwrap();
    assert_eq!(decision.model, "claude-sonnet-5-5");
    assert!(decision.reason.contains("gemini-3.6-flash wrote the work"), "{}", decision.reason);
    assert!(decision.fallbacks.is_empty());
}
