//! The request this plugin builds for the canonical call (model `m`, system
//! "You are terse.", user "Say hi.", 256 tokens, `tools/sdk-compat/schema.json`
//! as structured output) next to the one the official openai SDK sends for
//! it, captured live on the mock: the same method and path, the same JSON
//! body, the same auth and content type. Every deliberate difference is
//! listed here with its reason.
//!
//! Python 3 and the pinned SDK are required; without them the test fails
//! with `pip install -r tools/test-requirements.txt`.

use std::collections::BTreeMap;

use orch_mock_llm::Vendor;
use orch_mock_llm::sdk_compat::{SdkRequest, canonical_request, canonical_schema};
use orch_openai::{DEFAULT_BASE_URL, Settings, request_body};
use orch_sdk::provider::{CompletionRequest, Message, MessageRole};
use serde_json::{Value, json};

/// The API key the harness gives the SDK.
const SDK_KEY: &str = "mock-key";

/// Headers the SDK sends and the plugin deliberately does not, with why.
const SDK_ONLY_HEADERS: &[(&str, &str)] = &[
    ("accept", "the API answers JSON without being asked; the host reads any body"),
    ("x-stainless-async", "the SDK's telemetry about itself"),
    ("x-stainless-lang", "the SDK's telemetry about itself"),
];

fn canonical() -> CompletionRequest {
    CompletionRequest {
        model: "m".into(),
        messages: vec![
            Message { role: MessageRole::System, content: "You are terse.".into() },
            Message { role: MessageRole::User, content: "Say hi.".into() },
        ],
        max_tokens: Some(256),
        temperature: None,
        stop: Vec::new(),
        // The host asks for JSON in every role; the schema takes precedence.
        json_mode: true,
        response_schema: Some(canonical_schema().to_string()),
        idempotency_key: None,
    }
}

async fn sdk() -> SdkRequest {
    canonical_request(Vendor::OpenAi).await.unwrap_or_else(|e| panic!("the openai SDK's canonical request: {e}"))
}

#[tokio::test]
async fn the_canonical_request_matches_the_openai_sdk() {
    let sdk = sdk().await;
    let settings = Settings::from_config(|_| None).unwrap();
    let outgoing = settings.outgoing(&canonical(), None).unwrap();
    let wire = outgoing.as_wire();

    // Method and path: the SDK's base URL ends with `/v1` as ours does.
    let origin = DEFAULT_BASE_URL.strip_suffix("/v1").unwrap();
    let path = wire.url.strip_prefix(origin).unwrap_or_else(|| panic!("{} is below {origin}", wire.url));
    assert_eq!((wire.method.as_str(), path), (sdk.method.as_str(), sdk.path.as_str()));

    // The body, as sent and as `request_body` gives it.
    let sent: Value = serde_json::from_slice(&wire.body).unwrap();
    let mut ours = request_body(&canonical(), &settings).unwrap();
    assert_eq!(sent, ours);
    // Deliberate difference: the structured output's name. The contract
    // carries a schema but no name; the plugin names it after the schema's
    // `title`, and this schema has none, so it is `response` (the harness
    // chose `verdict`). The name only labels the schema for the model.
    let name = &mut ours["response_format"]["json_schema"]["name"];
    assert_eq!((&*name, &sdk.body["response_format"]["json_schema"]["name"]), (&json!("response"), &json!("verdict")));
    *name = json!("verdict");
    assert_eq!(ours, sdk.body, "the body, apart from the schema's name");

    // Headers: the same auth once the host has put the key in, the same
    // content type, and nothing else but the SDK's own.
    let ours: BTreeMap<String, String> = wire
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.replace("secret:OPENAI_API_KEY", SDK_KEY)))
        .collect();
    let mut theirs: BTreeMap<String, String> = sdk.stable_headers().into_iter().collect();
    for (name, _why) in SDK_ONLY_HEADERS {
        assert!(theirs.remove(*name).is_some(), "the SDK no longer sends `{name}`: drop it from the list");
    }
    assert_eq!(ours, theirs);
    assert_eq!(ours["authorization"], format!("Bearer {SDK_KEY}"));
    assert_eq!(ours["content-type"], "application/json");
}

/// Deliberate difference: the plugin sends the host's idempotency key as
/// `Idempotency-Key` (a gateway that honours it answers a repeated call
/// once); the openai SDK sends none on chat completions (its client sets no
/// idempotency header).
#[tokio::test]
async fn the_idempotency_key_is_the_plugins_own_addition() {
    let sdk = sdk().await;
    assert_eq!(sdk.header("idempotency-key"), None);
    let request = CompletionRequest { idempotency_key: Some("orch-7".into()), ..canonical() };
    let settings = Settings::from_config(|_| None).unwrap();
    let key = orch_openai::idempotency_key(&request, || None);
    let outgoing = settings.outgoing(&request, key.as_deref()).unwrap();
    let header = outgoing.as_wire().headers.iter().find(|h| h.name.eq_ignore_ascii_case("idempotency-key"));
    assert_eq!(header.map(|h| h.value.as_str()), Some("orch-7"));
}
