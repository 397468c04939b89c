//! The wire mapping against a live Gemini-format server (`orch-mock-llm`):
//! the request the plugin builds (path, key header, body) is accepted, and
//! each kind of answer — success, rate limit, error statuses, garbage — maps
//! to the right result. The HTTP exchange is done natively here, standing in
//! for the host, which fills in the key's secret reference.

use std::sync::{Arc, Mutex};

use orch_gemini::{endpoint, http_request, parse_response};
use orch_mock_llm::{Fault, MockLlm, MockReply, MockRequest, Vendor};
use orch_sdk::provider::{Completion, CompletionRequest, Message, MessageRole, StopReason, Usage};
use orch_sdk::{Header, PluginError};
use serde_json::{Value, json};

/// The key the stand-in host injects for `secret:GEMINI_API_KEY`.
const KEY: &str = "AIza-injected-by-host";

fn request(model: &str, json_mode: bool) -> CompletionRequest {
    CompletionRequest {
        model: model.into(),
        messages: vec![
            Message { role: MessageRole::System, content: "plan carefully".into() },
            Message { role: MessageRole::User, content: "split the task into steps".into() },
            Message { role: MessageRole::Assistant, content: "which task?".into() },
            Message { role: MessageRole::System, content: "answer in JSON".into() },
            Message { role: MessageRole::User, content: "the gemini plugin".into() },
        ],
        max_tokens: Some(64),
        temperature: Some(0.5),
        stop: vec!["END".into()],
        json_mode,
    }
}

/// Sends the request the plugin builds for `request`, as the host would, and
/// maps the answer.
async fn complete(mock: &MockLlm, request: &CompletionRequest) -> Result<Completion, PluginError> {
    let base_url = format!("{}/", mock.base_url(Vendor::Gemini));
    let endpoint = endpoint(|key| (key == "base_url").then(|| base_url.clone())).unwrap();
    let outgoing = http_request(&endpoint, request)?;
    let wire = outgoing.as_wire();
    assert_eq!(wire.method, "POST");
    let mut builder = reqwest::Client::new().post(&wire.url).body(wire.body.clone());
    for header in &wire.headers {
        builder = builder.header(&header.name, header.value.replace("secret:GEMINI_API_KEY", KEY));
    }
    let response = builder.send().await.map_err(|e| PluginError::Transient(e.to_string()))?;
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
    let completion = complete(&mock, &request("models/gemini-test", true)).await.unwrap();
    assert_eq!(
        completion,
        Completion {
            text: "{\"steps\":[]}".into(),
            usage: Usage { input_tokens: 30, output_tokens: 4, cached_input_tokens: 16 },
            stop_reason: StopReason::EndTurn,
            model: "gemini-test".into(),
        }
    );

    let seen = seen.lock().unwrap().take().unwrap();
    assert_eq!(seen.vendor, Vendor::Gemini);
    assert_eq!(seen.path, "/v1beta/models/gemini-test:generateContent");
    assert_eq!(seen.query, "", "the key must not go into the URL");
    assert_eq!(seen.header("x-goog-api-key"), Some(KEY));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.model, "gemini-test");
    assert_eq!(seen.system.as_deref(), Some("plan carefully\n\nanswer in JSON"));
    assert_eq!(
        seen.messages,
        vec![
            ("user".to_owned(), "split the task into steps".to_owned()),
            ("assistant".to_owned(), "which task?".to_owned()),
            ("user".to_owned(), "the gemini plugin".to_owned()),
        ]
    );
    assert_eq!(seen.max_tokens, Some(64));
    let body: Value = serde_json::from_slice(&seen.raw_body).unwrap();
    assert_eq!(
        body,
        json!({
            "contents": [
                {"role": "user", "parts": [{"text": "split the task into steps"}]},
                {"role": "model", "parts": [{"text": "which task?"}]},
                {"role": "user", "parts": [{"text": "the gemini plugin"}]},
            ],
            "systemInstruction": {"parts": [{"text": "plan carefully\n\nanswer in JSON"}]},
            "generationConfig": {
                "maxOutputTokens": 64,
                "temperature": 0.5,
                "stopSequences": ["END"],
                "responseMimeType": "application/json",
            },
        })
    );
}

#[tokio::test]
async fn hitting_max_tokens_is_reported() {
    let mock = MockLlm::builder()
        .responder(|_: &MockRequest| MockReply { text: "cut".into(), output_tokens: 64, ..MockReply::default() })
        .start()
        .await
        .unwrap();
    let completion = complete(&mock, &request("gemini-2.5-flash", false)).await.unwrap();
    assert_eq!(completion.stop_reason, StopReason::MaxTokens);
    assert_eq!(completion.model, "gemini-2.5-flash");
    let body = mock.requests()[0].json();
    assert_eq!(body["generationConfig"].get("responseMimeType"), None);
}

#[tokio::test]
async fn an_invalid_model_never_reaches_the_server() {
    let mock = MockLlm::start().await.unwrap();
    let e = complete(&mock, &request("tunedModels/mine", false)).await.unwrap_err();
    assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("tunedModels/mine")), "{e:?}");
    assert_eq!(mock.calls(), 0);
}

#[tokio::test]
async fn faults_map_to_typed_errors() {
    let retry_info = r#"{"error": {"code": 429, "message": "You exceeded your current quota.",
        "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12.345s"}]}}"#;
    let mock = MockLlm::builder()
        .faults([
            Fault::rate_limited(Some("1")),
            Fault::status_with_body(429, retry_info),
            Fault::rate_limited(None),
            Fault::status(500),
            Fault::status(503),
            Fault::status_with_body(
                400,
                r#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT"}}"#,
            ),
            Fault::status(403),
            Fault::status(404),
            Fault::Malformed,
        ])
        .start()
        .await
        .unwrap();
    let request = request("gemini-2.5-flash", false);
    assert_eq!(complete(&mock, &request).await, Err(PluginError::RateLimited(Some(1000))));
    assert_eq!(complete(&mock, &request).await, Err(PluginError::RateLimited(Some(12_345))));
    assert_eq!(complete(&mock, &request).await, Err(PluginError::RateLimited(None)));
    for status in [500, 503] {
        assert_eq!(
            complete(&mock, &request).await,
            Err(PluginError::Transient(format!("HTTP {status} from the Gemini API: mock-llm injected HTTP {status}")))
        );
    }
    assert_eq!(
        complete(&mock, &request).await,
        Err(PluginError::Fatal("HTTP 400 from the Gemini API: API key not valid. Please pass a valid API key.".into()))
    );
    for status in [403, 404] {
        assert_eq!(
            complete(&mock, &request).await,
            Err(PluginError::Fatal(format!("HTTP {status} from the Gemini API: mock-llm injected HTTP {status}")))
        );
    }
    assert!(
        matches!(complete(&mock, &request).await, Err(PluginError::Transient(m)) if m.contains("not the expected JSON"))
    );
    assert!(complete(&mock, &request).await.is_ok());
    assert_eq!(mock.calls(), 10);
    for recorded in mock.requests() {
        assert_eq!(recorded.path, "/v1beta/models/gemini-2.5-flash:generateContent");
        assert_eq!(recorded.header("x-goog-api-key"), Some(KEY));
    }
}
