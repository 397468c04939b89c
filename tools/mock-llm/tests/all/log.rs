//! The call log: counts, recorded requests with their statuses, reset.

use orch_mock_llm::{Fault, MockLlm, Vendor};
use serde_json::Value;

use crate::support::{body, send};

#[tokio::test]
async fn every_request_is_recorded_with_its_status() {
    let mock = MockLlm::builder().faults([Fault::rate_limited(None)]).start().await.unwrap();
    assert_eq!(send(&mock, Vendor::OpenAi, "first").await.unwrap().status(), 429);
    let reply = reqwest::Client::new()
        .post(format!("{}/v1/messages?beta=true", mock.base_url(Vendor::Anthropic)))
        .header("x-api-key", "sk-test")
        .json(&body(Vendor::Anthropic, "claude", "s", "second"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let missing = reqwest::Client::new().post(format!("{}/nope", mock.origin())).body("x").send().await.unwrap();
    assert_eq!(missing.status(), 404);

    assert_eq!(mock.calls(), 3);
    let log = mock.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[0].vendor, log[0].method.as_str(), log[0].path.as_str(), log[0].status),
        (Some(Vendor::OpenAi), "POST", "/v1/chat/completions", Some(429))
    );
    assert_eq!(log[0].json()["messages"][1]["content"], "first");
    assert_eq!(
        (log[1].vendor, log[1].path.as_str(), log[1].status),
        (Some(Vendor::Anthropic), "/v1/messages?beta=true", Some(200))
    );
    assert_eq!(log[1].header("X-API-KEY"), Some("sk-test"));
    assert_eq!(log[1].json(), body(Vendor::Anthropic, "claude", "s", "second"));
    assert_eq!((log[2].vendor, log[2].body.as_slice(), log[2].status), (None, &b"x"[..], Some(404)));
    assert_eq!(log[2].json(), Value::Null);

    mock.reset_log();
    assert_eq!(mock.calls(), 0);
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn unanswered_requests_have_no_status() {
    let mock = MockLlm::builder().faults([Fault::Close]).start().await.unwrap();
    assert!(send(&mock, Vendor::Gemini, "hi").await.is_err());
    let log = mock.requests();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].vendor, log[0].status), (Some(Vendor::Gemini), None));
}

#[tokio::test]
async fn recording_can_be_turned_off_but_calls_are_still_counted() {
    let mock = MockLlm::builder().record_requests(false).start().await.unwrap();
    for _ in 0..2 {
        assert_eq!(send(&mock, Vendor::OpenAi, "hi").await.unwrap().status(), 200);
    }
    assert_eq!(mock.calls(), 2);
    assert!(mock.requests().is_empty());
}
