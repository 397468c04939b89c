//! The wire mapping against a live OpenAI-format server (`orch-mock-llm`):
//! the request body the plugin builds is accepted, and each kind of answer —
//! success, rate limit, error statuses, garbage — maps to the right result.
//! The HTTP exchange is done natively here, standing in for the host.

use std::sync::{Arc, Mutex};

use orch_mock_llm::{Fault, MockLlm, MockReply, MockRequest, Vendor};
use orch_openai::{ChatRequest, endpoint, parse_response};
use orch_sdk::provider::{Completion, CompletionRequest, Message, MessageRole, StopReason, Usage};
use orch_sdk::{Header, PluginError};
use serde_json::Value;

fn request(json_mode: bool) -> CompletionRequest {
    CompletionRequest {
        model: "gpt-test".into(),
        messages: vec![
            Message { role: MessageRole::System, content: "plan carefully".into() },
            Message { role: MessageRole::User, content: "split the task into steps".into() },
        ],
        max_tokens: Some(64),
        temperature: Some(0.5),
        stop: vec!["END".into()],
        json_mode,
    }
}

/// Sends `request` as the plugin would (through the host) and maps the answer.
async fn complete(mock: &MockLlm, request: &CompletionRequest) -> Result<Completion, PluginError> {
    let base_url = format!("{}/", mock.base_url(Vendor::OpenAi));
    let endpoint = endpoint(|key| (key == "base_url").then(|| base_url.clone())).unwrap();
    let response = reqwest::Client::new()
        .post(endpoint.url("/chat/completions"))
        .header("authorization", "Bearer sk-injected-by-host")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&ChatRequest::new(request)).unwrap())
        .send()
        .await
        .map_err(|e| PluginError::Transient(e.to_string()))?;
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
    let completion = complete(&mock, &request(true)).await.unwrap();
    assert_eq!(
        completion,
        Completion {
            text: "{\"steps\":[]}".into(),
            usage: Usage { input_tokens: 30, output_tokens: 4, cached_input_tokens: 16 },
            stop_reason: StopReason::EndTurn,
            model: "gpt-test".into(),
        }
    );

    let seen = seen.lock().unwrap().take().unwrap();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.system.as_deref(), Some("plan carefully"));
    assert_eq!(seen.messages, vec![("user".to_owned(), "split the task into steps".to_owned())]);
    assert_eq!(seen.max_tokens, Some(64));
    let body: Value = serde_json::from_slice(&seen.raw_body).unwrap();
    assert_eq!(body["response_format"]["type"], "json_object");
    assert_eq!(body["stop"][0], "END");
    assert_eq!(body["temperature"], 0.5);
}

#[tokio::test]
async fn hitting_max_tokens_is_reported() {
    let mock = MockLlm::builder()
        .responder(|_: &MockRequest| MockReply { text: "cut".into(), output_tokens: 64, ..MockReply::default() })
        .start()
        .await
        .unwrap();
    assert_eq!(complete(&mock, &request(false)).await.unwrap().stop_reason, StopReason::MaxTokens);
}

#[tokio::test]
async fn faults_map_to_typed_errors() {
    let mock = MockLlm::builder()
        .faults([
            Fault::rate_limited(Some("1.5")),
            Fault::rate_limited(None),
            Fault::status(503),
            Fault::status_with_body(
                401,
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
            ),
            Fault::status(404),
            Fault::Malformed,
        ])
        .start()
        .await
        .unwrap();
    let request = request(false);
    assert_eq!(complete(&mock, &request).await, Err(PluginError::RateLimited(Some(1500))));
    assert_eq!(complete(&mock, &request).await, Err(PluginError::RateLimited(None)));
    assert_eq!(
        complete(&mock, &request).await,
        Err(PluginError::Transient("HTTP 503 from the chat completions API: mock-llm injected HTTP 503".into()))
    );
    assert_eq!(
        complete(&mock, &request).await,
        Err(PluginError::Fatal("HTTP 401 from the chat completions API: Incorrect API key provided".into()))
    );
    assert!(matches!(complete(&mock, &request).await, Err(PluginError::Fatal(m)) if m.starts_with("HTTP 404")));
    assert!(
        matches!(complete(&mock, &request).await, Err(PluginError::Transient(m)) if m.contains("not the expected JSON"))
    );
    assert!(complete(&mock, &request).await.is_ok());
    assert_eq!(mock.calls(), 7);
    assert_eq!(mock.requests()[0].header("authorization"), Some("Bearer sk-injected-by-host"));
}
