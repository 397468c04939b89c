//! The builtin provider plugins (`openai`, `anthropic`, `gemini`) running in
//! the sandbox against the mock LLM server: the exact request each sends (path,
//! the key the host injected, JSON body), the completion and usage it parses,
//! and how each failure maps to an error the engine's retry acts on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use orch_host::retry::{self, Backoff, CallError, Decision, ErrorKind, RetryPolicy};
use orch_host::sandbox::{
    Completion, CompletionRequest, Grants, LoadedPlugin, Message, MessageRole, PluginSource, PluginSpec, Runtime,
    SecretGrants, StaticSecrets, StopReason, Usage,
};
use orch_mock_llm::{Fault, MockLlm, MockReply, Vendor};
use serde_json::{Value, json};

const KEY_NAME: &str = "PROVIDER_TEST_KEY";
const KEY: &str = "sk-test-0123456789";

/// One provider and what its wire format looks like on the mock.
struct Case {
    builtin: &'static str,
    vendor: Vendor,
    path: &'static str,
    key_header: &'static str,
    key_value: String,
    body: Value,
}

fn cases() -> [Case; 3] {
    [
        Case {
            builtin: "openai",
            vendor: Vendor::OpenAi,
            path: "/v1/chat/completions",
            key_header: "authorization",
            key_value: format!("Bearer {KEY}"),
            body: json!({
                "model": "test-model",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "plan it"},
                    {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": "go"},
                ],
                "max_completion_tokens": 256,
                "temperature": 0.5,
                "stop": ["END"],
                "response_format": {"type": "json_object"},
            }),
        },
        Case {
            builtin: "anthropic",
            vendor: Vendor::Anthropic,
            path: "/v1/messages",
            key_header: "x-api-key",
            key_value: KEY.to_owned(),
            body: json!({
                "model": "test-model",
                "max_tokens": 256,
                "system": "be brief",
                "messages": [
                    {"role": "user", "content": "plan it"},
                    {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": "go"},
                ],
                // No temperature: the plugin's table cannot place `test-model`
                // among the Claude families that take one.
                "stop_sequences": ["END"],
            }),
        },
        Case {
            builtin: "gemini",
            vendor: Vendor::Gemini,
            path: "/v1beta/models/test-model:generateContent",
            key_header: "x-goog-api-key",
            key_value: KEY.to_owned(),
            body: json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "plan it"}]},
                    {"role": "model", "parts": [{"text": "ok"}]},
                    {"role": "user", "parts": [{"text": "go"}]},
                ],
                "systemInstruction": {"role": "user", "parts": [{"text": "be brief"}]},
                "generationConfig": {
                    "maxOutputTokens": 256,
                    "temperature": 0.5,
                    "stopSequences": ["END"],
                    "responseMimeType": "application/json",
                },
            }),
        },
    ]
}

fn request() -> CompletionRequest {
    let message = |role, content: &str| Message { role, content: content.to_owned() };
    CompletionRequest {
        model: "test-model".into(),
        messages: vec![
            message(MessageRole::System, "be brief"),
            message(MessageRole::User, "plan it"),
            message(MessageRole::Assistant, "ok"),
            message(MessageRole::User, "go"),
        ],
        max_tokens: Some(256),
        temperature: Some(0.5),
        stop: vec!["END".into()],
        json_mode: true,
        response_schema: None,
        idempotency_key: None,
    }
}

async fn mock(faults: Vec<Fault>) -> MockLlm {
    MockLlm::builder()
        .responder(|_| MockReply {
            text: "{\"steps\": []}".into(),
            input_tokens: 30,
            output_tokens: 4,
            cached_input_tokens: 16,
            ..MockReply::default()
        })
        .faults(faults)
        .start()
        .await
        .expect("the mock starts")
}

/// The builtin plugin of `case`, pointed at `mock`, with the key granted.
async fn load(case: &Case, mock: &MockLlm, timeout: Duration) -> LoadedPlugin {
    let runtime = Runtime::builder()
        .cache_dir(super::cache_dir())
        .secrets(Arc::new(StaticSecrets(vec![(KEY_NAME.into(), KEY.into())])))
        .build()
        .expect("the runtime starts");
    let spec = PluginSpec {
        grants: Grants {
            http: vec![mock.origin()],
            secrets: SecretGrants::unbound(&[KEY_NAME.into()]),
            ..Grants::default()
        },
        config: BTreeMap::from([
            ("base_url".to_owned(), mock.base_url(case.vendor)),
            ("api_key_secret".to_owned(), KEY_NAME.to_owned()),
        ]),
        timeout: Some(timeout),
        ..PluginSpec::new(case.builtin, PluginSource::Builtin(case.builtin.into()))
    };
    let plugin = runtime.load(spec).await.unwrap_or_else(|e| panic!("{}: {e:#}", case.builtin));
    // The runtime is kept alive by the plugin it loaded.
    drop(runtime);
    plugin
}

/// The engine's retry around one plugin: fixed 10 ms between tries (a
/// rate limit's retry-after wins), at most 3 tries. Returns the result and
/// every retry notice as (error kind, delay).
async fn with_retry(plugin: &LoadedPlugin) -> (Result<Completion, retry::GaveUp>, Vec<(ErrorKind, Duration)>) {
    let policy = RetryPolicy { backoff: Backoff::Fixed(Duration::from_millis(10)), ..RetryPolicy::default() };
    let mut notices = Vec::new();
    let request = request();
    let result = retry::retry(
        &policy,
        |_| async { plugin.complete(&request).await.map_err(CallError::from) },
        |n| notices.push((n.error.kind, n.delay)),
    )
    .await;
    (result, notices)
}

#[tokio::test]
async fn each_provider_sends_its_wire_format_with_the_injected_key() {
    for case in cases() {
        let mock = mock(Vec::new()).await;
        let plugin = load(&case, &mock, Duration::from_secs(10)).await;
        let completion =
            plugin.complete(&CompletionRequest { idempotency_key: Some("orch-0123".into()), ..request() }).await;
        let completion = completion.unwrap_or_else(|e| panic!("{}: {e}", case.builtin));
        assert_eq!(completion.text, "{\"steps\": []}", "{}", case.builtin);
        let Usage { input_tokens, output_tokens, cached_input_tokens, .. } = completion.usage;
        assert_eq!(
            (input_tokens, output_tokens, cached_input_tokens),
            (30, 4, 16),
            "{}: input includes cached",
            case.builtin
        );
        assert_eq!((completion.stop_reason, completion.model.as_str()), (StopReason::EndTurn, "test-model"));

        let sent = &mock.requests()[0];
        assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", case.path), "{}", case.builtin);
        assert_eq!(sent.header(case.key_header), Some(case.key_value.as_str()), "{}", case.builtin);
        assert!(
            !sent.path.contains(KEY) && !String::from_utf8_lossy(&sent.body).contains(KEY),
            "key only in its header"
        );
        assert_eq!(sent.header("content-type"), Some("application/json"), "{}", case.builtin);
        // OpenAI-compatible servers and gateways may honour an idempotency key.
        let idempotent = (case.vendor == Vendor::OpenAi).then_some("orch-0123");
        assert_eq!(sent.header("idempotency-key"), idempotent, "{}", case.builtin);
        if case.vendor == Vendor::Anthropic {
            assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
        }
        assert_eq!(sent.json(), case.body, "{}: the exact body", case.builtin);
    }
}

#[tokio::test]
async fn a_response_schema_goes_out_as_each_apis_structured_output_and_the_key_from_the_request() {
    let schema = json!({"type": "object", "properties": {"verdict": {"type": "string", "enum": ["approved", "rejected"]}},
                        "required": ["verdict"], "additionalProperties": false});
    for case in cases() {
        let mock = mock(Vec::new()).await;
        let plugin = load(&case, &mock, Duration::from_secs(10)).await;
        let asked = CompletionRequest {
            model: "gemini-2.5-flash".into(),
            response_schema: Some(schema.to_string()),
            idempotency_key: Some("orch-from-the-field".into()),
            ..request()
        };
        plugin.complete(&asked).await.unwrap_or_else(|e| panic!("{}: {e}", case.builtin));
        let sent = mock.requests()[0].json();
        match case.vendor {
            Vendor::OpenAi => {
                assert_eq!(
                    sent["response_format"],
                    json!({"type": "json_schema", "json_schema": {"name": "response", "strict": true, "schema": schema}})
                );
                let header = mock.requests()[0].header("idempotency-key").map(str::to_owned);
                assert_eq!(header.as_deref(), Some("orch-from-the-field"), "the 0.2 field, not config");
            }
            Vendor::Anthropic => {
                assert_eq!(sent["output_config"], json!({"format": {"type": "json_schema", "schema": schema}}));
            }
            Vendor::Gemini => {
                let config = &sent["generationConfig"];
                assert_eq!(config["responseMimeType"], "application/json");
                assert_eq!(config["responseJsonSchema"], schema);
                assert!(config["thinkingConfig"]["thinkingBudget"].is_u64(), "thinking is bounded: {config}");
            }
        }
    }
}

#[tokio::test]
async fn a_rate_limit_waits_its_retry_after_then_succeeds() {
    for case in cases() {
        let mock = mock(vec![Fault::rate_limited(Some("1"))]).await;
        let plugin = load(&case, &mock, Duration::from_secs(10)).await;
        let started = std::time::Instant::now();
        let (result, notices) = with_retry(&plugin).await;
        assert!(result.is_ok(), "{}: {:?}", case.builtin, result.err());
        let second = Duration::from_secs(1);
        assert_eq!(notices, [(ErrorKind::RateLimited(Some(second)), second)], "{}", case.builtin);
        assert!(started.elapsed() >= Duration::from_secs(1), "{}: the wait happened", case.builtin);
        assert_eq!(mock.calls(), 2);
    }
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retried() {
    for case in cases() {
        let mock = mock(vec![Fault::status(500), Fault::Hang, Fault::status(529)]).await;
        let plugin = load(&case, &mock, Duration::from_millis(1500)).await;
        let policy = RetryPolicy {
            backoff: Backoff::Fixed(Duration::from_millis(10)),
            max_attempts: 4,
            ..RetryPolicy::default()
        };
        let mut kinds = Vec::new();
        let request = request();
        let result = retry::retry(
            &policy,
            |_| async { plugin.complete(&request).await.map_err(CallError::from) },
            |n| kinds.push((n.error.kind, n.error.message.clone())),
        )
        .await;
        assert!(result.is_ok(), "{}: {:?}", case.builtin, result.err());
        let only_kinds: Vec<ErrorKind> = kinds.iter().map(|(k, _)| *k).collect();
        assert_eq!(only_kinds, [ErrorKind::Transient; 3], "{}: {kinds:?}", case.builtin);
        assert!(kinds[0].1.contains("HTTP 500"), "{}: {kinds:?}", case.builtin);
        assert!(kinds[2].1.contains("HTTP 529"), "{}: {kinds:?}", case.builtin);
        assert_eq!(mock.calls(), 4);
    }
}

#[tokio::test]
async fn a_bad_key_is_fatal_at_once_with_the_providers_message() {
    for case in cases() {
        let mock = mock(vec![Fault::status(401)]).await;
        let plugin = load(&case, &mock, Duration::from_secs(10)).await;
        let (result, notices) = with_retry(&plugin).await;
        let gave_up = result.expect_err(case.builtin);
        assert_eq!((gave_up.error.kind, gave_up.decision), (ErrorKind::Fatal, Decision::Fallback), "{}", case.builtin);
        assert!(gave_up.error.message.contains("HTTP 401"), "{}: {}", case.builtin, gave_up.error.message);
        assert!(gave_up.error.message.contains("mock-llm injected HTTP 401"), "{}", gave_up.error.message);
        assert!(notices.is_empty(), "{}: not retried", case.builtin);
        assert_eq!(mock.calls(), 1);
    }
}

#[tokio::test]
async fn an_unreadable_reply_is_asked_again_once_then_fatal() {
    for case in cases() {
        let mock = mock(vec![Fault::Malformed]).await;
        let plugin = load(&case, &mock, Duration::from_secs(10)).await;
        let (result, notices) = with_retry(&plugin).await;
        assert!(result.is_ok(), "{}: {:?}", case.builtin, result.err());
        assert!(notices.is_empty(), "{}: the plugin asked again itself", case.builtin);
        assert_eq!(mock.calls(), 2, "{}", case.builtin);

        let mock = self::mock(vec![Fault::Malformed, Fault::Malformed]).await;
        let plugin = load(&case, &mock, Duration::from_secs(10)).await;
        let (result, _) = with_retry(&plugin).await;
        let gave_up = result.expect_err(case.builtin);
        assert_eq!(gave_up.error.kind, ErrorKind::Fatal, "{}: {}", case.builtin, gave_up.error.message);
        assert!(gave_up.error.message.contains("twice in a row"), "{}", gave_up.error.message);
        assert_eq!(mock.calls(), 2, "{}: the host does not retry a fatal error", case.builtin);
    }
}
