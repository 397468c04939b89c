//! Every fault kind, the queue order, rules by predicate, and faults added
//! while the server runs.

use std::time::Duration;

use orch_mock_llm::{Fault, MockLlm, MockRequest, Vendor};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{body, raw_post, send};

#[tokio::test]
async fn rate_limit_carries_retry_after_and_a_vendor_body() {
    for vendor in Vendor::ALL {
        let mock = MockLlm::builder().faults([Fault::rate_limited(Some("1"))]).start().await.unwrap();
        let response = send(&mock, vendor, "hi").await.unwrap();
        assert_eq!(response.status(), 429, "{vendor}");
        assert_eq!(response.headers()["retry-after"], "1", "{vendor}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["message"], "mock-llm injected HTTP 429", "{vendor}");
        assert_eq!(send(&mock, vendor, "hi").await.unwrap().status(), 200, "{vendor}: the fault is used up");
    }
}

#[tokio::test]
async fn status_faults_are_taken_in_order() {
    let unauthorized = r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#;
    let mock = MockLlm::builder()
        .faults([
            Fault::status(500),
            Fault::status_with_body(401, unauthorized),
            Fault::status_with_body(502, "<html>"),
        ])
        .start()
        .await
        .unwrap();
    assert_eq!(mock.pending_faults(), 3);

    let first = send(&mock, Vendor::OpenAi, "a").await.unwrap();
    assert_eq!(first.status(), 500);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["error"]["type"], "server_error");

    let second = send(&mock, Vendor::OpenAi, "b").await.unwrap();
    assert_eq!(second.status(), 401);
    assert_eq!(second.text().await.unwrap(), unauthorized);

    let third = send(&mock, Vendor::OpenAi, "c").await.unwrap();
    assert_eq!(third.status(), 502);
    assert_eq!(third.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(third.text().await.unwrap(), "<html>");

    assert_eq!(mock.pending_faults(), 0);
    assert_eq!(send(&mock, Vendor::OpenAi, "d").await.unwrap().status(), 200);
}

#[tokio::test]
async fn hang_never_answers_so_the_client_times_out() {
    let mock = MockLlm::builder().faults([Fault::Hang]).start().await.unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let url = format!("{}/chat/completions", mock.base_url(Vendor::OpenAi));
    let error = client.post(&url).json(&body(Vendor::OpenAi, "m", "s", "hi")).send().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    let response = client.post(&url).json(&body(Vendor::OpenAi, "m", "s", "hi")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn malformed_is_a_200_that_is_not_json() {
    let mock = MockLlm::builder().faults([Fault::Malformed]).start().await.unwrap();
    let response = send(&mock, Vendor::Anthropic, "hi").await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn close_drops_the_connection_without_an_answer() {
    let mock = MockLlm::builder().faults([Fault::Close]).start().await.unwrap();
    let mut stream = TcpStream::connect(mock.addr()).await.unwrap();
    let request = raw_post("/v1/chat/completions", "", &body(Vendor::OpenAi, "m", "s", "hi").to_string());
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // Either a clean end of stream or a reset: no bytes either way.
    let _ = stream.read_to_end(&mut answer).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));

    let error = send(&mock, Vendor::OpenAi, "hi").await;
    assert_eq!(error.unwrap().status(), 200, "only one request was closed");
}

#[tokio::test]
async fn reqwest_sees_a_closed_connection_as_an_error() {
    let mock = MockLlm::builder().faults([Fault::Close]).start().await.unwrap();
    let error = send(&mock, Vendor::Gemini, "hi").await.unwrap_err();
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
}

#[tokio::test]
async fn rules_fault_every_matching_request() {
    let mock = MockLlm::builder()
        .fault_when(|r: &MockRequest| r.last_user_message() == Some("explode"), Fault::status(503))
        .start()
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(send(&mock, Vendor::OpenAi, "explode").await.unwrap().status(), 503);
        assert_eq!(send(&mock, Vendor::OpenAi, "fine").await.unwrap().status(), 200);
    }
    mock.clear_faults();
    assert_eq!(send(&mock, Vendor::OpenAi, "explode").await.unwrap().status(), 200);
}

#[tokio::test]
async fn faults_can_be_added_while_running() {
    let mock = MockLlm::start().await.unwrap();
    assert_eq!(send(&mock, Vendor::Anthropic, "hi").await.unwrap().status(), 200);
    mock.push_fault(Fault::status(529));
    mock.fault_when(|r: &MockRequest| r.vendor == Vendor::Gemini, Fault::status(500));
    let overloaded = send(&mock, Vendor::Anthropic, "hi").await.unwrap();
    assert_eq!(overloaded.status(), 529);
    let overloaded: Value = overloaded.json().await.unwrap();
    assert_eq!(overloaded["error"]["type"], "overloaded_error");
    assert_eq!(send(&mock, Vendor::Anthropic, "hi").await.unwrap().status(), 200);
    assert_eq!(send(&mock, Vendor::Gemini, "hi").await.unwrap().status(), 500);
}

#[tokio::test]
async fn latency_delays_answers_and_can_change_while_running() {
    let mock = MockLlm::builder().latency(Duration::from_secs(60)).start().await.unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
    let url = format!("{}/chat/completions", mock.base_url(Vendor::OpenAi));
    let error = client.post(&url).json(&body(Vendor::OpenAi, "m", "s", "hi")).send().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    mock.set_latency(Duration::ZERO);
    assert_eq!(client.post(&url).json(&body(Vendor::OpenAi, "m", "s", "hi")).send().await.unwrap().status(), 200);
}
