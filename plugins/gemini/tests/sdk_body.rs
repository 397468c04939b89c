//! The request this plugin builds for the canonical call (model `m`, system
//! "You are terse.", user "Say hi.", 256 tokens, `tools/sdk-compat/schema.json`
//! as structured output, a thinking budget of 128) next to the one the
//! official google-genai SDK sends for it, captured live on the mock: the
//! same method and path, the same JSON body, the same key header and content
//! type. Every deliberate difference is listed here with its reason.
//!
//! Python 3 and the pinned SDK are required; without them the test fails
//! with `pip install -r tools/test-requirements.txt`.

use std::collections::BTreeMap;

use orch_gemini::{DEFAULT_BASE_URL, Settings, http_request, request_body};
use orch_mock_llm::Vendor;
use orch_mock_llm::sdk_compat::{SdkRequest, canonical_request, canonical_schema};
use orch_sdk::provider::{CompletionRequest, Message, MessageRole};
use serde_json::{Value, json};

/// The API key the harness gives the SDK.
const SDK_KEY: &str = "mock-key";

/// Headers the SDK sends and the plugin deliberately does not, with why.
const SDK_ONLY_HEADERS: &[(&str, &str)] = &[
    ("accept", "the API answers JSON without being asked; the host reads any body"),
    ("x-server-timeout", "the SDK's own per-attempt deadline; the host bounds every call itself"),
];

/// The canonical call to `model`.
fn canonical(model: &str) -> CompletionRequest {
    CompletionRequest {
        model: model.into(),
        messages: vec![
            Message { role: MessageRole::System, content: "You are terse.".into() },
            Message { role: MessageRole::User, content: "Say hi.".into() },
        ],
        max_tokens: Some(256),
        temperature: None,
        stop: Vec::new(),
        // The host asks for JSON in every role; the schema says which.
        json_mode: true,
        response_schema: Some(canonical_schema().to_string()),
        idempotency_key: None,
    }
}

/// The plugin's settings with the canonical call's thinking budget.
fn settings() -> Settings {
    Settings::from_config(|key| (key == "thinking_budget").then(|| "128".to_owned())).unwrap()
}

async fn sdk() -> SdkRequest {
    canonical_request(Vendor::Gemini).await.unwrap_or_else(|e| panic!("the google-genai SDK's canonical request: {e}"))
}

#[tokio::test]
async fn the_canonical_request_matches_the_google_genai_sdk() {
    let sdk = sdk().await;
    let settings = settings();
    let outgoing = http_request(&settings, &canonical("m")).unwrap();
    let wire = outgoing.as_wire();

    // Method and path: the model goes into the path, below `/v1beta`.
    let origin = DEFAULT_BASE_URL.strip_suffix("/v1beta").unwrap();
    let path = wire.url.strip_prefix(origin).unwrap_or_else(|| panic!("{} is below {origin}", wire.url));
    assert_eq!((wire.method.as_str(), path), (sdk.method.as_str(), sdk.path.as_str()));

    // The body, as sent and as `request_body` gives it.
    let sent: Value = serde_json::from_slice(&wire.body).unwrap();
    assert_eq!(sent, request_body(&canonical("m"), &settings).unwrap());
    // Deliberate difference: no thinking configuration for `m`. The plugin
    // bounds thinking only on the families its table knows (a model that
    // cannot think rejects the field); `m` is none of them. The harness
    // asked the SDK for a budget of 128, which it passes on whatever the model.
    let mut theirs = sdk.body.clone();
    let budget = theirs["generationConfig"].as_object_mut().unwrap().remove("thinkingConfig");
    assert_eq!(budget, Some(json!({"thinking_budget": 128})));
    assert_eq!(sent, theirs, "the body, apart from the thinking configuration");

    // Headers: the same key once the host has put it in, the same content
    // type, and nothing else but the SDK's own.
    let ours: BTreeMap<String, String> = wire
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.replace("secret:GEMINI_API_KEY", SDK_KEY)))
        .collect();
    let mut theirs: BTreeMap<String, String> = sdk.stable_headers().into_iter().collect();
    for (name, _why) in SDK_ONLY_HEADERS {
        assert!(theirs.remove(*name).is_some(), "the SDK no longer sends `{name}`: drop it from the list");
    }
    assert_eq!(ours, theirs);
    assert_eq!(ours["x-goog-api-key"], SDK_KEY);
    assert_eq!(ours["content-type"], "application/json");
}

/// For a model whose thinking is bounded by a budget the whole body
/// matches, with one deliberate difference: the budget's key. The API
/// documents `thinkingConfig.thinkingBudget` (camelCase, like every other
/// field of the request, and as the plugin sends it); google-genai 3.6.1
/// passes its `ThinkingConfig` through unconverted, as `thinking_budget`,
/// which the API reads as well (it takes a proto field under either name).
#[tokio::test]
async fn a_thinking_models_body_matches_but_for_the_budgets_spelling() {
    let sdk = sdk().await;
    let settings = settings();
    for model in ["gemini-2.5-flash", "gemini-2.5-pro"] {
        let mut ours = request_body(&canonical(model), &settings).unwrap();
        let thinking = &mut ours["generationConfig"]["thinkingConfig"];
        assert_eq!(*thinking, json!({"thinkingBudget": 128}), "{model}");
        *thinking = json!({"thinking_budget": 128});
        assert_eq!(ours, sdk.body, "{model}: the body, the model being in the path");
    }
}
