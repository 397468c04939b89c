//! The wire mapping against a live Anthropic-format server (`orch-mock-llm`):
//! the request the plugin builds (path, headers, body) is accepted, and each
//! kind of answer — success, rate limit, overload, error statuses, garbage —
//! maps to the right result. The HTTP exchange is done natively here,
//! standing in for the host, which also injects the API key.

use std::sync::{Arc, Mutex};

use orch_anthropic::{Settings, parse_response};
use orch_mock_llm::{Fault, MockLlm, MockReply, MockRequest, Vendor};
use orch_sdk::provider::{Completion, CompletionRequest, Message, MessageRole, StopReason, Usage};
use orch_sdk::{Header, PluginError, secret};
use serde_json::{Value, json};

/// The key the stand-in host puts where the plugin wrote the secret reference.
const INJECTED_KEY: &str = "sk-ant-injected-by-host";

fn request(max_tokens: Option<u32>) -> CompletionRequest {
    CompletionRequest {
        model: "claude-test".into(),
        messages: vec![
            Message { role: MessageRole::System, content: "plan carefully".into() },
            Message { role: MessageRole::User, content: "split the task into steps".into() },
            Message { role: MessageRole::Assistant, content: "which task?".into() },
            Message { role: MessageRole::System, content: "answer in JSON".into() },
            Message { role: MessageRole::User, content: "the refactor".into() },
        ],
        max_tokens,
        temperature: Some(0.5),
        stop: vec!["END".into()],
        json_mode: true,
    }
}

/// The settings for `mock` plus `config`. The mock serves Anthropic at
/// `/v1/messages` under its origin, which is `base_url`, as for the real API.
fn settings(mock: &MockLlm, config: &[(&str, &str)]) -> Settings {
    let base_url = mock.base_url(Vendor::Anthropic);
    Settings::from_config(|key| match key {
        "base_url" => Some(base_url.clone()),
        _ => config.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()),
    })
    .unwrap()
}

/// Sends `request` as the plugin would (through the host, which replaces the
/// secret reference with the key) and maps the answer.
async fn complete(settings: &Settings, request: &CompletionRequest) -> Result<Completion, PluginError> {
    let outgoing = settings.outgoing(request)?;
    let wire = outgoing.as_wire();
    let reference = secret("ANTHROPIC_API_KEY");
    let mut http = reqwest::Client::new().request(wire.method.parse().unwrap(), &wire.url);
    for h in &wire.headers {
        http = http.header(&h.name, if h.value == reference { INJECTED_KEY } else { h.value.as_str() });
    }
    let response = http.body(wire.body.clone()).send().await.map_err(|e| PluginError::Transient(e.to_string()))?;
    let status = response.status().as_u16();
    let headers: Vec<Header> = response
        .headers()
        .iter()
        .map(|(name, value)| Header { name: name.as_str().into(), value: value.to_str().unwrap().into() })
        .collect();
    let body = response.bytes().await.unwrap();
    parse_response(status, &headers, &body)
}

#[tokio::test]
async fn a_completion_round_trips() {
    let seen: Arc<Mutex<Option<MockRequest>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let mock = MockLlm::builder()
        .responder(move |r: &MockRequest| {
            *sink.lock().unwrap() = Some(r.clone());
            MockReply { text: "{\"steps\":[]}".into(), input_tokens: 30, output_tokens: 4, cached_input_tokens: 16 }
        })
        .start()
        .await
        .unwrap();
    let completion = complete(&settings(&mock, &[]), &request(Some(64))).await.unwrap();
    assert_eq!(
        completion,
        Completion {
            text: "{\"steps\":[]}".into(),
            // The mock reports input_tokens 14 (30 minus the 16 read from the cache).
            usage: Usage { input_tokens: 30, output_tokens: 4, cached_input_tokens: 16 },
            stop_reason: StopReason::EndTurn,
            model: "claude-test".into(),
        }
    );

    let seen = seen.lock().unwrap().take().unwrap();
    assert_eq!(seen.vendor, Vendor::Anthropic);
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some(INJECTED_KEY));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.system.as_deref(), Some("plan carefully\n\nanswer in JSON"));
    assert_eq!(
        seen.messages,
        vec![
            ("user".to_owned(), "split the task into steps".to_owned()),
            ("assistant".to_owned(), "which task?".to_owned()),
            ("user".to_owned(), "the refactor".to_owned()),
        ]
    );
    assert_eq!(seen.max_tokens, Some(64));
    let body: Value = serde_json::from_slice(&seen.raw_body).unwrap();
    assert_eq!(
        body,
        json!({
            "model": "claude-test",
            "max_tokens": 64,
            "system": "plan carefully\n\nanswer in JSON",
            "messages": [
                {"role": "user", "content": "split the task into steps"},
                {"role": "assistant", "content": "which task?"},
                {"role": "user", "content": "the refactor"},
            ],
            "temperature": 0.5,
            "stop_sequences": ["END"],
        })
    );
}

#[tokio::test]
async fn version_and_key_follow_the_config_and_max_tokens_defaults() {
    let mock = MockLlm::start().await.unwrap();
    let settings = settings(&mock, &[("api_key_secret", ""), ("anthropic_version", "2099-12-31")]);
    let completion = complete(&settings, &request(None)).await.unwrap();
    assert_eq!(completion.text, "the refactor", "the default responder echoes the last user message");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/messages");
    assert_eq!(requests[0].header("x-api-key"), None);
    assert_eq!(requests[0].header("anthropic-version"), Some("2099-12-31"));
    assert_eq!(requests[0].json()["max_tokens"], 4096);
    assert_eq!(requests[0].status, Some(200));
}

#[tokio::test]
async fn hitting_max_tokens_is_reported() {
    let mock = MockLlm::builder()
        .responder(|_: &MockRequest| MockReply { text: "cut".into(), output_tokens: 64, ..MockReply::default() })
        .start()
        .await
        .unwrap();
    let completion = complete(&settings(&mock, &[]), &request(Some(64))).await.unwrap();
    assert_eq!(completion.stop_reason, StopReason::MaxTokens);
    assert_eq!(completion.usage.output_tokens, 64);
}

#[tokio::test]
async fn faults_map_to_typed_errors() {
    let mock = MockLlm::builder()
        .faults([
            Fault::rate_limited(Some("1")),
            Fault::rate_limited(Some("0.25")),
            Fault::rate_limited(None),
            Fault::status(529),
            Fault::status(500),
            Fault::status(503),
            Fault::status_with_body(
                401,
                r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
            ),
            Fault::status(400),
            Fault::status(404),
            Fault::Malformed,
        ])
        .start()
        .await
        .unwrap();
    let settings = settings(&mock, &[]);
    let request = request(Some(64));
    let transient = |status: u16| {
        Err(PluginError::Transient(format!("HTTP {status} from the Messages API: mock-llm injected HTTP {status}")))
    };
    assert_eq!(complete(&settings, &request).await, Err(PluginError::RateLimited(Some(1000))));
    assert_eq!(complete(&settings, &request).await, Err(PluginError::RateLimited(Some(250))));
    assert_eq!(complete(&settings, &request).await, Err(PluginError::RateLimited(None)));
    assert_eq!(complete(&settings, &request).await, transient(529));
    assert_eq!(complete(&settings, &request).await, transient(500));
    assert_eq!(complete(&settings, &request).await, transient(503));
    assert_eq!(
        complete(&settings, &request).await,
        Err(PluginError::Fatal("HTTP 401 from the Messages API: invalid x-api-key".into()))
    );
    assert_eq!(
        complete(&settings, &request).await,
        Err(PluginError::Fatal("HTTP 400 from the Messages API: mock-llm injected HTTP 400".into()))
    );
    assert_eq!(
        complete(&settings, &request).await,
        Err(PluginError::Fatal("HTTP 404 from the Messages API: mock-llm injected HTTP 404".into()))
    );
    let malformed = complete(&settings, &request).await;
    assert!(
        matches!(&malformed, Err(PluginError::Transient(m)) if m.contains("not the expected JSON")),
        "{malformed:?}"
    );
    assert!(complete(&settings, &request).await.is_ok());
    assert_eq!(mock.calls(), 11);
    assert_eq!(mock.pending_faults(), 0);
    assert!(mock.requests().iter().all(|r| r.path == "/v1/messages" && r.header("x-api-key") == Some(INJECTED_KEY)));
}
