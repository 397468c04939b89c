//! `gemini`: a provider plugin for Google's Gemini API
//! (`POST {base_url}/models/{model}:generateContent`). This module owns the
//! glue: reading config, asking for capabilities, building the HTTP request
//! (URL and key header) and sending it; the wire mapping lives in [`request`]
//! and [`response`] as pure functions, and which parameters each model
//! family takes in [`models`].
//!
//! Config keys (`[plugins.NAME.config]` in `orch.toml`):
//! - `base_url`: the API root, default
//!   `https://generativelanguage.googleapis.com/v1beta`.
//! - `api_key_secret`: the secret holding the API key, sent as the
//!   `x-goog-api-key` header (never in the URL), default `GEMINI_API_KEY`;
//!   the empty string sends no key.
//! - `thinking_budget`: the most thinking tokens a JSON answer may take on
//!   a model bounded by a budget (Gemini 2.5), default 512; moved into the
//!   family's range (2.5 Pro cannot think less than 128).
//! - `thinking_level`: the same for models bounded by a level (Gemini 3 and
//!   later): minimal, low (default), medium or high.
//!
//! What goes out, per call: the turns with empty messages left out and
//! same-role neighbours merged into one content, the system messages as
//! `systemInstruction`, the token limit as `maxOutputTokens`, a temperature
//! to every family but Gemini 3.5 and later, and for a JSON answer (JSON
//! mode or a schema) `responseMimeType: application/json`, the schema as
//! `responseJsonSchema` and a bound on thinking, so thinking cannot eat the
//! answer's token budget. A reply that stopped at the token limit while
//! still thinking comes back as an empty text with stop reason `max-tokens`,
//! for the host to ask again with more tokens.

pub mod models;
pub mod request;
pub mod response;

use orch_sdk::api::{Endpoint, send_reading};
use orch_sdk::provider::{Completion, CompletionRequest, Provider};
use orch_sdk::{Capabilities, Plugin, PluginError, config, http, secret};

pub use models::{DEFAULT_THINKING_BUDGET, ModelParams, ThinkingLevel};
pub use request::{GenerateContentRequest, ThinkingSettings, generate_content_path};
pub use response::parse_response;

/// `base_url` when the config does not set it.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";

/// `api_key_secret` when the config does not set it.
pub const DEFAULT_API_KEY_SECRET: &str = "GEMINI_API_KEY";

/// The header that carries the API key.
pub const API_KEY_HEADER: &str = "x-goog-api-key";

/// The endpoint from config (through `lookup`), with Gemini's defaults.
pub fn endpoint(lookup: impl Fn(&str) -> Option<String>) -> Result<Endpoint, PluginError> {
    Endpoint::from_config(lookup, DEFAULT_BASE_URL, DEFAULT_API_KEY_SECRET)
}

/// Everything the plugin reads from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where the API lives and which secret holds its key.
    pub endpoint: Endpoint,
    /// How the thinking of a JSON answer is bounded.
    pub thinking: ThinkingSettings,
}

impl Settings {
    /// Reads the settings through `lookup` (the SDK's [`config::get`] in the
    /// plugin), falling back to the defaults. An invalid value is an
    /// `invalid-input` error naming the key.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let budget = match lookup("thinking_budget") {
            None => DEFAULT_THINKING_BUDGET,
            Some(raw) => raw.trim().parse().map_err(|_| {
                PluginError::InvalidInput(format!(
                    "config key `thinking_budget` (`{}`) must be a whole number of tokens, 0 or more",
                    raw.escape_debug()
                ))
            })?,
        };
        let level = match lookup("thinking_level") {
            None => ThinkingLevel::Low,
            Some(raw) => ThinkingLevel::parse(&raw)?,
        };
        Ok(Self { endpoint: endpoint(lookup)?, thinking: ThinkingSettings { budget, level } })
    }
}

/// The JSON body the plugin sends for `request` with `settings`. A request
/// with no non-empty turn, or with a response schema that is not a JSON
/// object, is `invalid-input`.
pub fn request_body(request: &CompletionRequest, settings: &Settings) -> Result<serde_json::Value, PluginError> {
    let body = GenerateContentRequest::new(request, models::params(&request.model), settings.thinking)?;
    serde_json::to_value(body).map_err(|e| PluginError::InvalidInput(format!("cannot encode the request: {e}")))
}

/// The HTTP request for `request` with `settings`: `POST
/// {base_url}/models/{model}:generateContent` with the JSON body of
/// [`request_body`] and, when a key secret is configured, an
/// `x-goog-api-key` header holding the secret reference for the host to
/// fill in. A model name that cannot go into the path is `invalid-input`.
pub fn http_request(settings: &Settings, request: &CompletionRequest) -> Result<http::Request, PluginError> {
    let endpoint = &settings.endpoint;
    let mut outgoing = http::Request::post(endpoint.url(&generate_content_path(&request.model)?));
    if let Some(name) = &endpoint.api_key_secret {
        outgoing = outgoing.header(API_KEY_HEADER, secret(name));
    }
    let body = GenerateContentRequest::new(request, models::params(&request.model), settings.thinking)?;
    outgoing.json(&body)
}

/// The plugin: reads its settings from config on every call (each call runs
/// in a fresh instance) and sends one `generateContent` request.
#[derive(Default)]
pub struct Gemini;

impl Plugin for Gemini {
    const NAME: &'static str = "gemini";
    const DESCRIPTION: &'static str = "Calls Google's Gemini generateContent API";

    /// The origin of `base_url` and the API key secret. When the settings are
    /// invalid nothing is requested; `complete` then reports why.
    fn capabilities(&self) -> Capabilities {
        endpoint(config::get).map(|e| e.capabilities()).unwrap_or_default()
    }
}

impl Provider for Gemini {
    fn complete(&self, request: CompletionRequest) -> Result<Completion, PluginError> {
        let settings = Settings::from_config(config::get)?;
        let mut completion = send_reading(http_request(&settings, &request)?, parse_response)?;
        if completion.model.is_empty() {
            // The reply did not name the serving model version; it is the one asked for.
            completion.model = request.model;
        }
        Ok(completion)
    }
}

orch_sdk::register!(provider: Gemini);

#[cfg(test)]
mod tests {
    use orch_sdk::provider::{Message, MessageRole};
    use serde_json::{Value, json};

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, PluginError> {
        Settings::from_config(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
    }

    fn settings_with(pairs: &[(&str, &str)]) -> Settings {
        settings(pairs).unwrap()
    }

    fn request(model: &str) -> CompletionRequest {
        CompletionRequest {
            model: model.into(),
            messages: vec![Message { role: MessageRole::User, content: "hi".into() }],
            max_tokens: None,
            temperature: None,
            stop: Vec::new(),
            json_mode: false,
            response_schema: None,
            idempotency_key: None,
        }
    }

    fn headers(outgoing: &http::Request) -> Vec<(String, String)> {
        outgoing.as_wire().headers.iter().map(|h| (h.name.clone(), h.value.clone())).collect()
    }

    #[test]
    fn defaults_ask_for_google_and_the_gemini_key() {
        let e = settings_with(&[]).endpoint;
        assert_eq!(e.base_url, "https://generativelanguage.googleapis.com/v1beta");
        let caps = e.capabilities();
        assert_eq!(caps.http, vec!["https://generativelanguage.googleapis.com".to_owned()]);
        assert_eq!(caps.secrets, vec!["GEMINI_API_KEY".to_owned()]);
    }

    #[test]
    fn the_request_posts_to_the_model_with_the_key_in_a_header() {
        let outgoing = http_request(&settings_with(&[]), &request("models/gemini-2.5-flash")).unwrap();
        let wire = outgoing.as_wire();
        assert_eq!(wire.method, "POST");
        assert_eq!(
            wire.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            headers(&outgoing),
            vec![
                ("x-goog-api-key".to_owned(), "secret:GEMINI_API_KEY".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
        let body: Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(body, json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}));
        let request = request("models/gemini-2.5-flash");
        assert_eq!(body, request_body(&request, &settings_with(&[])).unwrap());
    }

    #[test]
    fn thinking_settings_are_read_and_checked() {
        let defaults = settings(&[]).unwrap().thinking;
        assert_eq!(defaults, ThinkingSettings { budget: 512, level: ThinkingLevel::Low });
        let set = settings(&[("thinking_budget", " 128 "), ("thinking_level", "HIGH")]).unwrap().thinking;
        assert_eq!(set, ThinkingSettings { budget: 128, level: ThinkingLevel::High });
        for (key, bad) in [("thinking_budget", "-1"), ("thinking_budget", "lots"), ("thinking_level", "max")] {
            let err = settings(&[(key, bad)]).unwrap_err();
            assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains(&format!("`{key}`"))), "{err:?}");
        }
    }

    #[test]
    fn a_configured_secret_is_used_and_an_empty_one_sends_no_key() {
        let custom = settings_with(&[("base_url", "http://127.0.0.1:9/v1beta/"), ("api_key_secret", "MY_KEY")]);
        let outgoing = http_request(&custom, &request("gemini-pro")).unwrap();
        assert_eq!(outgoing.as_wire().url, "http://127.0.0.1:9/v1beta/models/gemini-pro:generateContent");
        assert_eq!(headers(&outgoing)[0], ("x-goog-api-key".to_owned(), "secret:MY_KEY".to_owned()));

        let keyless = settings_with(&[("api_key_secret", "")]);
        let outgoing = http_request(&keyless, &request("gemini-pro")).unwrap();
        assert_eq!(headers(&outgoing), vec![("content-type".to_owned(), "application/json".to_owned())]);
        assert!(!outgoing.as_wire().url.contains("key"), "{}", outgoing.as_wire().url);
    }

    #[test]
    fn an_invalid_model_sends_nothing() {
        let e = http_request(&settings_with(&[]), &request("gemini pro")).unwrap_err();
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("gemini pro")), "{e:?}");
    }
}
