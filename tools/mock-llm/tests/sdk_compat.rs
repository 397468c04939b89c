//! The official SDKs (openai, anthropic, google-genai, as pinned in
//! `tools/test-requirements.txt`) against the mock, through
//! `tools/sdk-compat/drive.py`: each parses a plain reply (text, usage, stop
//! reason), retries a 429, a 500 and a 529/503 on its own and succeeds, sees
//! a stop at the token limit, a refusal and a content filter as it reports
//! them; and the request each SDK sends for the canonical call is what the
//! tests that compare plugins with the SDKs rely on.
//!
//! Python 3 and the SDKs are required: a missing one fails the test with
//! `pip install -r tools/test-requirements.txt`. Only 127.0.0.1 is reached;
//! every call has a timeout and a bounded number of retries.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use orch_mock_llm::sdk_compat::{self, SdkCall, SdkOutcome};
use orch_mock_llm::{Fault, MockLlm, MockReply, MockRequest, StopReason, Vendor};
use serde_json::{Value, json};

/// A reply holding JSON, which must reach the caller unchanged.
const ANSWER: &str = "{\"verdict\": \"approved\", \"summary\": \"fine \\\"as is\\\" \u{e9}\\n\"}";
const REFUSAL: &str = "I can't help with that.";

/// Answers [`ANSWER`] with every kind of token count; a prompt
/// `stop:REASON` chooses the stop reason (a refusal says [`REFUSAL`]).
fn respond(request: &MockRequest) -> MockReply {
    let stop = request.last_user_message().and_then(|p| p.strip_prefix("stop:")).map(|s| s.parse().unwrap());
    let text = if stop == Some(StopReason::Refusal) { REFUSAL } else { ANSWER };
    MockReply {
        text: text.to_owned(),
        input_tokens: 12,
        output_tokens: 7,
        cached_input_tokens: 5,
        cache_write_input_tokens: 2,
        reasoning_tokens: 3,
        stop,
    }
}

/// A mock answering with [`respond`], where the first request with a prompt
/// starting `fault:STATUS` gets STATUS (vendor-shaped, `retry-after: 0.01`)
/// and its retries get the answer.
async fn mock() -> MockLlm {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let mut builder = MockLlm::builder().responder(respond);
    for status in [429, 500, 503, 529] {
        let (seen, tag) = (Arc::clone(&seen), format!("fault:{status}"));
        let first_attempt = move |request: &MockRequest| {
            let prompt = request.last_user_message().unwrap_or_default();
            prompt.starts_with(&tag) && seen.lock().unwrap().insert(prompt.to_owned())
        };
        let fault = Fault::Status { status, retry_after: Some("0.01".to_owned()), body: String::new() };
        builder = builder.fault_when(first_attempt, fault);
    }
    builder.start().await.expect("the mock starts")
}

/// How one SDK reports what the mock sends.
struct Expected {
    vendor: Vendor,
    end_turn: &'static str,
    max_tokens: &'static str,
    refusal: &'static str,
    content_filter: &'static str,
    /// The overload status the vendor's API uses.
    overloaded: u16,
    /// The class of the exception for a 429 that is not retried.
    rate_limit_error: &'static str,
    /// The SDK's usage object for the token counts of [`respond`].
    usage: Value,
}

/// The statuses the mock answered to the requests with `prompt`, in order.
fn statuses(mock: &MockLlm, prompt: &str) -> Vec<Option<u16>> {
    let quoted = serde_json::to_string(prompt).unwrap();
    mock.requests().iter().filter(|r| String::from_utf8_lossy(&r.body).contains(&quoted)).map(|r| r.status).collect()
}

async fn run_scenarios(expected: Expected) {
    let vendor = expected.vendor;
    let mock = mock().await;
    let overloaded = format!("fault:{}", expected.overloaded);
    let calls = [
        SdkCall::plain("plain"),
        SdkCall::plain("fault:429"),
        SdkCall::plain("fault:500"),
        SdkCall::plain(overloaded.as_str()),
        SdkCall::plain("fault:429 not retried").max_retries(0),
        SdkCall::plain("stop:max_tokens"),
        SdkCall::plain("stop:refusal"),
        SdkCall::plain("stop:content_filter"),
    ];
    let outcomes = sdk_compat::drive(&mock, vendor, &calls).await.unwrap_or_else(|e| panic!("{vendor}: {e}"));
    let [plain, rate_limited, server_error, overload, not_retried, max_tokens, refusal, content_filter] =
        <[SdkOutcome; 8]>::try_from(outcomes).expect("one outcome per call");

    // A plain call: text (JSON, unchanged), usage, stop reason.
    assert!(plain.ok, "{vendor}: {plain:?}");
    assert_eq!(plain.text.as_deref(), Some(ANSWER), "{vendor}");
    assert_eq!(plain.json, serde_json::from_str::<Value>(ANSWER).unwrap(), "{vendor}");
    assert_eq!(plain.stop_reason.as_deref(), Some(expected.end_turn), "{vendor}");
    assert_eq!(plain.usage, expected.usage, "{vendor}");
    assert_eq!(plain.attempts, 1, "{vendor}");
    assert!(plain.request_id.as_deref().is_some_and(|id| id.contains("mock")), "{vendor}: {plain:?}");

    // A fault on the first attempt: the SDK retries by itself and succeeds.
    for (outcome, status) in [(&rate_limited, 429), (&server_error, 500), (&overload, expected.overloaded)] {
        assert!(outcome.ok, "{vendor} {status}: {outcome:?}");
        assert_eq!(outcome.text.as_deref(), Some(ANSWER), "{vendor} {status}");
        assert_eq!(outcome.attempts, 2, "{vendor} {status}");
        let prompt = format!("fault:{status}");
        assert_eq!(statuses(&mock, &prompt), [Some(status), Some(200)], "{vendor}: the mock's log of {prompt}");
        if vendor != Vendor::Gemini {
            let counts = [Some("0".to_owned()), Some("1".to_owned())];
            assert_eq!(outcome.retry_counts, counts, "{vendor} {status}: x-stainless-retry-count");
        }
    }

    // A 429 with no retries left: the SDK's rate-limit error.
    assert!(!not_retried.ok, "{vendor}: {not_retried:?}");
    let error = not_retried.error.as_ref().unwrap();
    assert_eq!((error.kind.as_str(), error.status), (expected.rate_limit_error, Some(429)), "{vendor}: {error:?}");
    assert_eq!(not_retried.attempts, 1, "{vendor}");
    assert_eq!(statuses(&mock, "fault:429 not retried"), [Some(429)], "{vendor}");
    match vendor {
        // google-genai does not act on RetryInfo but keeps the body.
        Vendor::Gemini => {
            assert_eq!(error.retry_delay.as_deref(), Some("0.010s"), "{error:?}");
            assert_eq!(error.body["error"]["status"], "RESOURCE_EXHAUSTED");
        }
        _ => assert!(not_retried.request_id.as_deref().is_some_and(|id| id.starts_with("req_mock")), "{vendor}"),
    }

    // Stop reasons as each SDK reports them.
    assert_eq!(max_tokens.stop_reason.as_deref(), Some(expected.max_tokens), "{vendor}");
    assert_eq!(max_tokens.text.as_deref(), Some(ANSWER), "{vendor}");
    assert_eq!(refusal.stop_reason.as_deref(), Some(expected.refusal), "{vendor}");
    match vendor {
        Vendor::OpenAi => {
            assert_eq!(refusal.text, None);
            assert_eq!(refusal.refusal, REFUSAL);
        }
        Vendor::Anthropic => {
            assert_eq!(refusal.text.as_deref(), Some(REFUSAL));
            assert_eq!(refusal.refusal, json!({"type": "refusal", "category": null, "explanation": null}));
        }
        Vendor::Gemini => assert_eq!(refusal.text.as_deref(), Some(REFUSAL)),
    }
    assert_eq!(content_filter.stop_reason.as_deref(), Some(expected.content_filter), "{vendor}");
}

#[tokio::test]
async fn openai_sdk_parses_retries_and_stops() {
    run_scenarios(Expected {
        vendor: Vendor::OpenAi,
        end_turn: "stop",
        max_tokens: "length",
        refusal: "stop",
        content_filter: "content_filter",
        overloaded: 503,
        rate_limit_error: "RateLimitError",
        usage: json!({
            "prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19,
            "prompt_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 2, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 3, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }),
    })
    .await;
}

#[tokio::test]
async fn anthropic_sdk_parses_retries_and_stops() {
    run_scenarios(Expected {
        vendor: Vendor::Anthropic,
        end_turn: "end_turn",
        max_tokens: "max_tokens",
        refusal: "refusal",
        content_filter: "refusal",
        overloaded: 529,
        rate_limit_error: "RateLimitError",
        usage: json!({
            "input_tokens": 5, "output_tokens": 7,
            "cache_read_input_tokens": 5, "cache_creation_input_tokens": 2,
            "cache_creation": {"ephemeral_5m_input_tokens": 2, "ephemeral_1h_input_tokens": 0},
            "output_tokens_details": {"thinking_tokens": 3},
            "service_tier": "standard",
        }),
    })
    .await;
}

#[tokio::test]
async fn gemini_sdk_parses_retries_and_stops() {
    run_scenarios(Expected {
        vendor: Vendor::Gemini,
        end_turn: "STOP",
        max_tokens: "MAX_TOKENS",
        refusal: "SAFETY",
        content_filter: "SAFETY",
        overloaded: 503,
        rate_limit_error: "ClientError",
        usage: json!({
            "prompt_token_count": 12, "candidates_token_count": 4, "thoughts_token_count": 3,
            "cached_content_token_count": 5, "total_token_count": 19,
            "prompt_tokens_details": [{"modality": "TEXT", "token_count": 12}],
        }),
    })
    .await;
}

/// The canonical call's request per SDK, as `canonical_request` captures it
/// for the tests that compare plugins with the SDKs.
#[tokio::test]
async fn canonical_requests_are_captured_per_sdk() {
    let (openai, anthropic, gemini) = tokio::join!(
        sdk_compat::canonical_request(Vendor::OpenAi),
        sdk_compat::canonical_request(Vendor::Anthropic),
        sdk_compat::canonical_request(Vendor::Gemini),
    );
    let unwrap =
        |vendor: Vendor, r: Result<_, sdk_compat::SdkCompatError>| r.unwrap_or_else(|e| panic!("{vendor}: {e}"));
    let (openai, anthropic, gemini) =
        (unwrap(Vendor::OpenAi, openai), unwrap(Vendor::Anthropic, anthropic), unwrap(Vendor::Gemini, gemini));
    let schema = sdk_compat::canonical_schema();

    assert_eq!((openai.method.as_str(), openai.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(
        openai.body,
        json!({
            "model": "m",
            "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}],
            "max_completion_tokens": 256,
            "response_format": {"type": "json_schema", "json_schema": {"name": "verdict", "strict": true, "schema": schema}},
        })
    );
    assert_eq!(openai.header("authorization"), Some("Bearer mock-key"));

    assert_eq!((anthropic.method.as_str(), anthropic.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!(
        anthropic.body,
        json!({
            "model": "m",
            "system": "You are terse.",
            "messages": [{"role": "user", "content": "Say hi."}],
            "max_tokens": 256,
            "output_config": {"format": {"type": "json_schema", "schema": schema}},
        })
    );
    // anthropic 2.x sends the API key as a bearer token, not `x-api-key`.
    assert_eq!(anthropic.header("authorization"), Some("Bearer mock-key"));
    assert_eq!(anthropic.header("x-api-key"), None);
    assert!(anthropic.header("anthropic-version").is_some());

    assert_eq!((gemini.method.as_str(), gemini.path.as_str()), ("POST", "/v1beta/models/m:generateContent"));
    assert_eq!(
        gemini.body,
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Say hi."}]}],
            "systemInstruction": {"role": "user", "parts": [{"text": "You are terse."}]},
            "generationConfig": {
                "maxOutputTokens": 256,
                "responseMimeType": "application/json",
                "responseJsonSchema": schema,
                // google-genai 3.6.1 leaves this one key in snake_case.
                "thinkingConfig": {"thinking_budget": 128},
            },
        })
    );
    assert_eq!(gemini.header("x-goog-api-key"), Some("mock-key"));

    for request in [&openai, &anthropic, &gemini] {
        let stable = request.stable_headers();
        assert!(
            stable.iter().all(|(name, _)| !name.starts_with("x-stainless-r") && name != "user-agent"),
            "{stable:?}"
        );
        assert!(stable.contains(&("content-type".to_owned(), "application/json".to_owned())), "{stable:?}");
    }
}
