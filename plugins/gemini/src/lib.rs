//! `gemini`: a provider plugin for Google's Gemini API
//! (`POST {base_url}/models/{model}:generateContent`). This module owns the
//! glue: reading config, asking for capabilities, building the HTTP request
//! (URL and key header) and sending it; the wire mapping lives in [`request`]
//! and [`response`] as pure functions.
//!
//! Config keys (`[plugins.NAME.config]` in `orch.toml`):
//! - `base_url`: the API root, default
//!   `https://generativelanguage.googleapis.com/v1beta`.
//! - `api_key_secret`: the secret holding the API key, sent as the
//!   `x-goog-api-key` header (never in the URL), default `GEMINI_API_KEY`;
//!   the empty string sends no key.

pub mod request;
pub mod response;

use orch_sdk::api::{Endpoint, send_reading};
use orch_sdk::provider::{Completion, CompletionRequest, Provider};
use orch_sdk::{Capabilities, Plugin, PluginError, config, http, secret};

pub use request::{GenerateContentRequest, generate_content_path};
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

/// The HTTP request for `request` at `endpoint`: `POST
/// {base_url}/models/{model}:generateContent` with the JSON body and, when a
/// key secret is configured, an `x-goog-api-key` header holding the secret
/// reference for the host to fill in. A model name that cannot go into the
/// path is `invalid-input`.
pub fn http_request(endpoint: &Endpoint, request: &CompletionRequest) -> Result<http::Request, PluginError> {
    let mut outgoing = http::Request::post(endpoint.url(&generate_content_path(&request.model)?));
    if let Some(name) = &endpoint.api_key_secret {
        outgoing = outgoing.header(API_KEY_HEADER, secret(name));
    }
    outgoing.json(&GenerateContentRequest::new(request))
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
        let endpoint = endpoint(config::get)?;
        let mut completion = send_reading(http_request(&endpoint, &request)?, parse_response)?;
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

    fn endpoint_with(pairs: &[(&str, &str)]) -> Endpoint {
        endpoint(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned())).unwrap()
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
        let e = endpoint_with(&[]);
        assert_eq!(e.base_url, "https://generativelanguage.googleapis.com/v1beta");
        let caps = e.capabilities();
        assert_eq!(caps.http, vec!["https://generativelanguage.googleapis.com".to_owned()]);
        assert_eq!(caps.secrets, vec!["GEMINI_API_KEY".to_owned()]);
    }

    #[test]
    fn the_request_posts_to_the_model_with_the_key_in_a_header() {
        let outgoing = http_request(&endpoint_with(&[]), &request("models/gemini-2.5-flash")).unwrap();
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
    }

    #[test]
    fn a_configured_secret_is_used_and_an_empty_one_sends_no_key() {
        let custom = endpoint_with(&[("base_url", "http://127.0.0.1:9/v1beta/"), ("api_key_secret", "MY_KEY")]);
        let outgoing = http_request(&custom, &request("gemini-pro")).unwrap();
        assert_eq!(outgoing.as_wire().url, "http://127.0.0.1:9/v1beta/models/gemini-pro:generateContent");
        assert_eq!(headers(&outgoing)[0], ("x-goog-api-key".to_owned(), "secret:MY_KEY".to_owned()));

        let keyless = endpoint_with(&[("api_key_secret", "")]);
        let outgoing = http_request(&keyless, &request("gemini-pro")).unwrap();
        assert_eq!(headers(&outgoing), vec![("content-type".to_owned(), "application/json".to_owned())]);
        assert!(!outgoing.as_wire().url.contains("key"), "{}", outgoing.as_wire().url);
    }

    #[test]
    fn an_invalid_model_sends_nothing() {
        let e = http_request(&endpoint_with(&[]), &request("gemini pro")).unwrap_err();
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("gemini pro")), "{e:?}");
    }
}
