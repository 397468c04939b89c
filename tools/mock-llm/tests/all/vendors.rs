//! Each wire format round-trips: the request is normalised for the
//! responder and the reply comes back in the vendor's response shape.

use std::sync::{Arc, Mutex};

use orch_mock_llm::{MockLlm, MockReply, MockRequest, Vendor};
use serde_json::{Value, json};

use crate::support::{body, endpoint, send};

/// A mock that records what its responder saw and answers with fixed usage.
async fn capturing() -> (MockLlm, Arc<Mutex<Vec<MockRequest>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let mock = MockLlm::builder()
        .responder(move |request: &MockRequest| {
            sink.lock().unwrap().push(request.clone());
            MockReply {
                text: format!("echo: {}", request.last_user_message().unwrap_or_default()),
                input_tokens: 12,
                output_tokens: 3,
                cached_input_tokens: 5,
                ..MockReply::default()
            }
        })
        .start()
        .await
        .unwrap();
    (mock, seen)
}

async fn round_trip(vendor: Vendor) -> (Value, MockRequest) {
    let (mock, seen) = capturing().await;
    let response = send(&mock, vendor, "what is two plus two").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let reply: Value = response.json().await.unwrap();
    let request = seen.lock().unwrap().pop().expect("the responder was asked");
    assert_eq!(request.vendor, vendor);
    assert_eq!(request.model, "test-model");
    assert_eq!(request.system.as_deref(), Some("sys"));
    assert_eq!(request.messages, vec![("user".to_owned(), "what is two plus two".to_owned())]);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&request.raw_body).unwrap(),
        body(vendor, "test-model", "sys", "what is two plus two")
    );
    (reply, request)
}

#[tokio::test]
async fn openai_round_trip() {
    let (reply, request) = round_trip(Vendor::OpenAi).await;
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["model"], "test-model");
    assert_eq!(
        reply["choices"][0]["message"],
        json!({"role": "assistant", "content": "echo: what is two plus two", "refusal": null, "annotations": []})
    );
    assert_eq!(reply["choices"][0]["logprobs"], Value::Null);
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    assert_eq!(reply["usage"]["prompt_tokens"], 12);
    assert_eq!(reply["usage"]["completion_tokens"], 3);
    assert_eq!(reply["usage"]["prompt_tokens_details"]["cached_tokens"], 5);
}

#[tokio::test]
async fn anthropic_round_trip() {
    let (reply, request) = round_trip(Vendor::Anthropic).await;
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.max_tokens, Some(1024));
    assert_eq!(reply["type"], "message");
    assert_eq!(reply["role"], "assistant");
    assert_eq!(reply["model"], "test-model");
    assert_eq!(reply["content"], json!([{"type": "text", "text": "echo: what is two plus two"}]));
    assert_eq!(reply["stop_reason"], "end_turn");
    // Anthropic's input_tokens leaves the cache reads out.
    assert_eq!(reply["usage"]["input_tokens"], 7);
    assert_eq!(reply["usage"]["output_tokens"], 3);
    assert_eq!(reply["usage"]["cache_read_input_tokens"], 5);
}

#[tokio::test]
async fn gemini_round_trip() {
    let (reply, request) = round_trip(Vendor::Gemini).await;
    assert_eq!(request.path, "/v1beta/models/test-model:generateContent");
    let candidate = &reply["candidates"][0];
    assert_eq!(candidate["content"], json!({"role": "model", "parts": [{"text": "echo: what is two plus two"}]}));
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(reply["usageMetadata"]["promptTokenCount"], 12);
    assert_eq!(reply["usageMetadata"]["candidatesTokenCount"], 3);
    assert_eq!(reply["usageMetadata"]["cachedContentTokenCount"], 5);
    assert_eq!(reply["modelVersion"], "test-model");
}

#[tokio::test]
async fn default_responder_echoes_and_counts_words() {
    let mock = MockLlm::start().await.unwrap();
    let reply: Value = send(&mock, Vendor::OpenAi, "one two three").await.unwrap().json().await.unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "one two three");
    assert_eq!(reply["usage"]["prompt_tokens"], 4);
    assert_eq!(reply["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn openai_also_answers_without_v1_and_with_max_tokens() {
    let mock = MockLlm::start().await.unwrap();
    let url = format!("{}/chat/completions", mock.origin());
    let body = json!({"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "a b c"}]});
    let reply: Value = reqwest::Client::new().post(url).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(reply["choices"][0]["finish_reason"], "length");
}

#[tokio::test]
async fn bad_requests_get_vendor_shaped_400s_and_unknown_paths_404() {
    let mock = MockLlm::start().await.unwrap();
    let client = reqwest::Client::new();
    let no_max_tokens = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let response = client.post(endpoint(&mock, Vendor::Anthropic, "m")).json(&no_max_tokens).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert!(error["error"]["message"].as_str().unwrap().contains("max_tokens"), "{error}");

    let response = client.post(format!("{}/v1/embeddings", mock.origin())).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = client.get(endpoint(&mock, Vendor::OpenAi, "m")).send().await.unwrap();
    assert_eq!(response.status(), 405);
}
