//! Plugins built for the previous contract, `orch:plugin@0.1.0`, with
//! wit-bindgen alone (as a third party would have built them), still load
//! and work through the adapter: every field 0.1 knows crosses it both ways.

use std::collections::BTreeMap;

use orch_host::sandbox::{
    CompletionRequest, LoadedPlugin, Message, MessageRole, PluginSource, PluginSpec, Risk, Role, Runtime, Severity,
    StopReason,
};
use orch_tests::plugins::{ORCH_TEST_LEGACY_GATE, ORCH_TEST_LEGACY_PROVIDER, ORCH_TEST_LEGACY_ROUTER};

async fn load(runtime: &Runtime, name: &str, path: &str, config: &[(&str, &str)]) -> LoadedPlugin {
    let config: BTreeMap<String, String> = config.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let spec = PluginSpec { config, ..PluginSpec::new(name, PluginSource::File(path.into())) };
    runtime.load(spec).await.unwrap_or_else(|e| panic!("the 0.1 {name} loads: {e}"))
}

#[tokio::test]
async fn a_0_1_router_routes() {
    let (runtime, audit) = super::runtime();
    let router = load(&runtime, "old-router", ORCH_TEST_LEGACY_ROUTER, &[("model", "m-1")]).await;
    assert_eq!(router.identity().api_version, "0.1.0");
    assert_eq!(router.info().name, "legacy-router");

    let mut request = super::request(Role::CodeReviewer, Risk::High, "core", "review it");
    request.attempt = 2;
    let decision = router.route(&request).await.expect("it routes");
    assert_eq!((decision.provider.as_str(), decision.model.as_str()), ("mock", "m-1"));
    assert_eq!(decision.reason, "0.1 router: code-reviewer of t1 attempt 2");
    assert_eq!(decision.fallbacks.len(), 1);
    assert_eq!(decision.fallbacks[0].model, "m-1-backup");
    assert!(
        audit.events().iter().any(|e| format!("{e:?}").contains("routing code-reviewer of t1")),
        "its host.log goes through the 0.1 host interface"
    );
}

#[tokio::test]
async fn a_0_1_provider_completes_and_gets_its_idempotency_key_from_config() {
    let (runtime, _audit) = super::runtime();
    let provider = load(&runtime, "old-provider", ORCH_TEST_LEGACY_PROVIDER, &[]).await;
    let request = |content: &str| CompletionRequest {
        model: "m-2".into(),
        messages: vec![
            Message { role: MessageRole::System, content: "be brief".into() },
            Message { role: MessageRole::User, content: content.into() },
        ],
        max_tokens: Some(512),
        temperature: None,
        stop: Vec::new(),
        json_mode: true,
        response_schema: Some(r#"{"type":"object"}"#.into()),
        idempotency_key: Some("orch-abc".into()),
    };
    let completion = provider.complete(&request("hello")).await.expect("it completes");
    assert_eq!(completion.text, "user: hello | max Some(512) | json true | key orch-abc");
    assert_eq!(completion.model, "m-2");
    assert_eq!(
        (completion.usage.input_tokens, completion.usage.output_tokens, completion.usage.cached_input_tokens),
        (100, 10, 40)
    );
    assert_eq!(completion.usage.cache_write_tokens, 0, "0.1 does not report cache writes");
    assert_eq!(completion.stop_reason, StopReason::EndTurn);
    let filtered = provider.complete(&request("filter me")).await.unwrap();
    assert_eq!(filtered.stop_reason, StopReason::ContentFilter);
}

#[tokio::test]
async fn a_0_1_gate_judges() {
    let (runtime, _audit) = super::runtime();
    let gate = load(&runtime, "old-gate", ORCH_TEST_LEGACY_GATE, &[("forbidden", "TODO")]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut request = orch_tests::check_request("judge", dir.path());
    request.changed_files = vec!["src/app.py".into()];
    request.diff = "--- a/src/app.py\n+++ b/src/app.py\n@@ -1 +1,2 @@\n x = 1\n+# TODO later\n".into();
    let result = gate.check(&request).await.expect("it checks");
    assert!(!result.passed);
    assert_eq!(result.summary, "1 finding(s) in 1 file(s), small");
    assert_eq!(result.findings.len(), 1);
    let finding = &result.findings[0];
    assert_eq!(
        (finding.severity, finding.file.as_deref(), finding.line),
        (Severity::Error, Some("src/app.py"), Some(5))
    );

    request.diff = "+fine\n".into();
    assert!(gate.check(&request).await.unwrap().passed);
}
