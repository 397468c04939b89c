//! The request this plugin builds for the canonical call (model `m`, system
//! "You are terse.", user "Say hi.", 256 tokens, `tools/sdk-compat/schema.json`
//! as structured output) next to the one the official anthropic SDK sends
//! for it, captured live on the mock: the same method and path, the same
//! JSON body, the same content type; the key and the API version go out
//! differently on purpose, as listed here with the reasons.
//!
//! Python 3 and the pinned SDK are required; without them the test fails
//! with `pip install -r tools/test-requirements.txt`.

use std::collections::BTreeMap;

use orch_anthropic::{DEFAULT_ANTHROPIC_VERSION, DEFAULT_BASE_URL, Settings, request_body};
use orch_mock_llm::Vendor;
use orch_mock_llm::sdk_compat::{SdkRequest, canonical_request, canonical_schema};
use orch_sdk::provider::{CompletionRequest, Message, MessageRole};
use serde_json::Value;

/// The API key the harness gives the SDK.
const SDK_KEY: &str = "mock-key";

/// The API version the anthropic 2.x SDK sends.
const SDK_VERSION: &str = "2026-10-21";

/// Headers the SDK sends and the plugin deliberately does not, with why.
const SDK_ONLY_HEADERS: &[(&str, &str)] = &[
    ("accept", "the API answers JSON without being asked; the host reads any body"),
    ("x-stainless-async", "the SDK's telemetry about itself"),
    ("x-stainless-lang", "the SDK's telemetry about itself"),
    // The SDK sends its key as a bearer token; the plugin sends `x-api-key`,
    // the header the API reference names, which api.anthropic.com and the
    // Anthropic-compatible servers behind a custom `base_url` all accept
    // (some of those refuse a bearer token). Checked below.
    ("authorization", "the plugin sends the key as `x-api-key`"),
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
        // The host asks for JSON in every role; the Messages API has only the schema.
        json_mode: true,
        response_schema: Some(canonical_schema().to_string()),
        idempotency_key: None,
    }
}

async fn sdk() -> SdkRequest {
    canonical_request(Vendor::Anthropic).await.unwrap_or_else(|e| panic!("the anthropic SDK's canonical request: {e}"))
}

#[tokio::test]
async fn the_canonical_request_matches_the_anthropic_sdk() {
    let sdk = sdk().await;
    let settings = Settings::from_config(|_| None).unwrap();
    let outgoing = settings.outgoing(&canonical()).unwrap();
    let wire = outgoing.as_wire();

    // Method and path: the SDK's base URL is the origin, as ours is.
    let path = wire.url.strip_prefix(DEFAULT_BASE_URL).unwrap_or_else(|| panic!("{} is below the base", wire.url));
    assert_eq!((wire.method.as_str(), path), (sdk.method.as_str(), sdk.path.as_str()));

    // The body, as sent and as `request_body` gives it: the same.
    let sent: Value = serde_json::from_slice(&wire.body).unwrap();
    assert_eq!(sent, request_body(&canonical(), &settings).unwrap());
    assert_eq!(sent, sdk.body);

    let ours: BTreeMap<String, String> = wire
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.replace("secret:ANTHROPIC_API_KEY", SDK_KEY)))
        .collect();
    let mut theirs: BTreeMap<String, String> = sdk.stable_headers().into_iter().collect();
    for (name, _why) in SDK_ONLY_HEADERS {
        assert!(theirs.remove(*name).is_some(), "the SDK no longer sends `{name}`: drop it from the list");
    }
    // Deliberate difference: the key's header. The same key either way.
    assert_eq!(sdk.header("authorization"), Some(format!("Bearer {SDK_KEY}").as_str()));
    assert_eq!(ours.get("x-api-key").map(String::as_str), Some(SDK_KEY));
    theirs.insert("x-api-key".to_owned(), SDK_KEY.to_owned());
    // Deliberate difference: the API version. The plugin sends the version
    // the API's versioning page documents, under which everything it sends
    // (structured output included) works; the SDK's newer one refuses a
    // temperature on every model and is documented nowhere but in the SDK.
    // `anthropic_version` in the plugin's config selects it.
    assert_eq!(
        (ours["anthropic-version"].as_str(), theirs["anthropic-version"].as_str()),
        (DEFAULT_ANTHROPIC_VERSION, SDK_VERSION)
    );
    theirs.insert("anthropic-version".to_owned(), DEFAULT_ANTHROPIC_VERSION.to_owned());
    assert_eq!(ours, theirs);
    assert_eq!(ours["content-type"], "application/json");
}

/// With the SDK's API version configured, the plugin's version header is
/// the SDK's and the body is unchanged.
#[tokio::test]
async fn the_sdks_api_version_can_be_configured() {
    let sdk = sdk().await;
    let settings = Settings::from_config(|key| (key == "anthropic_version").then(|| SDK_VERSION.to_owned())).unwrap();
    let outgoing = settings.outgoing(&canonical()).unwrap();
    let version = outgoing.as_wire().headers.iter().find(|h| h.name == "anthropic-version").map(|h| h.value.as_str());
    assert_eq!(version, sdk.header("anthropic-version"));
    assert_eq!(request_body(&canonical(), &settings).unwrap(), sdk.body);
}
