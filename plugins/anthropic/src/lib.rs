//! `anthropic`: a provider plugin for the Anthropic Messages API
//! (`POST {base_url}/v1/messages`). This module owns the glue: reading config,
//! asking for capabilities, building the outgoing request (URL and headers)
//! and sending it; the wire mapping lives in [`request`] and [`response`] as
//! pure functions, and which parameters each model family takes in
//! [`models`].
//!
//! Config keys (`[plugins.NAME.config]` in `orch.toml`):
//! - `base_url`: the API root, default `https://api.anthropic.com` (as the
//!   Anthropic SDKs and `ANTHROPIC_BASE_URL` have it: without `/v1`).
//! - `api_key_secret`: the secret holding the API key, default
//!   `ANTHROPIC_API_KEY`; the empty string sends no `x-api-key` header.
//! - `anthropic_version`: the `anthropic-version` header, default
//!   `2023-06-01`; it must not be empty. From `2026-10-21` on no
//!   temperature is sent to any model ([`models`]).
//!
//! What goes out, per call: `max_tokens` (4096 when the request has none),
//! the system messages as `system`, the turns with empty messages left out
//! and same-role neighbours merged, a temperature only to models that take
//! one, and a response schema as `output_config.format` (generally
//! available: no beta header).
//!
//! Why `x-api-key` and `2023-06-01` when the anthropic 2.x SDKs send
//! `Authorization: Bearer` and `2026-10-21`: `2023-06-01` is the version the
//! API's versioning page documents, and everything the plugin sends,
//! structured output included, works under it; `2026-10-21` appears only in
//! the SDK, whose other changes under it are not documented, and it refuses
//! a temperature on every model. `x-api-key` is the header the API reference
//! names for keys, which api.anthropic.com and the Anthropic-compatible
//! servers and gateways behind a custom `base_url` all accept, while some of
//! those refuse `Authorization: Bearer`. An operator who wants the newer
//! version sets `anthropic_version`.

pub mod models;
pub mod request;
pub mod response;

use orch_sdk::api::{Endpoint, send_reading};
use orch_sdk::provider::{Completion, CompletionRequest, Provider};
use orch_sdk::{Capabilities, Plugin, PluginError, config, http, secret};

pub use models::ModelParams;
pub use request::MessagesRequest;
pub use response::parse_response;

/// `base_url` when the config does not set it.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// `api_key_secret` when the config does not set it.
pub const DEFAULT_API_KEY_SECRET: &str = "ANTHROPIC_API_KEY";

/// `anthropic_version` when the config does not set it.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

/// The path below `base_url` every completion is posted to.
pub const PATH: &str = "/v1/messages";

/// The endpoint from config (through `lookup`), with Anthropic's defaults.
pub fn endpoint(lookup: impl Fn(&str) -> Option<String>) -> Result<Endpoint, PluginError> {
    Endpoint::from_config(lookup, DEFAULT_BASE_URL, DEFAULT_API_KEY_SECRET)
}

/// Everything the plugin reads from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where the API lives and which secret holds its key.
    pub endpoint: Endpoint,
    /// The value of the `anthropic-version` header.
    pub anthropic_version: String,
}

impl Settings {
    /// Reads the settings through `lookup` (the SDK's [`config::get`] in the
    /// plugin), falling back to the defaults. An invalid value is an
    /// `invalid-input` error naming the key.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let endpoint = endpoint(&lookup)?;
        let anthropic_version = match lookup("anthropic_version") {
            None => DEFAULT_ANTHROPIC_VERSION.to_owned(),
            Some(raw) => {
                let version = raw.trim();
                if version.is_empty() || version.chars().any(char::is_control) {
                    return Err(PluginError::InvalidInput(format!(
                        "config key `anthropic_version` (`{}`) must be a non-empty API version such as \
                         {DEFAULT_ANTHROPIC_VERSION}",
                        raw.escape_debug()
                    )));
                }
                version.to_owned()
            }
        };
        Ok(Self { endpoint, anthropic_version })
    }

    /// What a request for `model` may carry under the configured API
    /// version ([`models::params`]).
    pub fn params(&self, model: &str) -> ModelParams {
        models::params(model, &self.anthropic_version)
    }

    /// The request the plugin hands to the host for `request`: `POST
    /// {base_url}/v1/messages` with the `x-api-key` header holding the secret
    /// reference (when a secret is configured), `anthropic-version` and the
    /// body of [`request_body`].
    pub fn outgoing(&self, request: &CompletionRequest) -> Result<http::Request, PluginError> {
        let mut outgoing = http::Request::post(self.endpoint.url(PATH));
        if let Some(name) = &self.endpoint.api_key_secret {
            outgoing = outgoing.header("x-api-key", secret(name));
        }
        let body = MessagesRequest::new(request, self.params(&request.model))?;
        outgoing.header("anthropic-version", self.anthropic_version.clone()).json(&body)
    }
}

/// The JSON body the plugin sends for `request` with `settings`. A request
/// with no non-empty turn, or with a response schema that is not a JSON
/// object, is `invalid-input`.
pub fn request_body(request: &CompletionRequest, settings: &Settings) -> Result<serde_json::Value, PluginError> {
    let body = MessagesRequest::new(request, settings.params(&request.model))?;
    serde_json::to_value(body).map_err(|e| PluginError::InvalidInput(format!("cannot encode the request: {e}")))
}

/// The plugin: reads its settings from config on every call (each call runs
/// in a fresh instance) and sends one Messages request.
#[derive(Default)]
pub struct Anthropic;

impl Plugin for Anthropic {
    const NAME: &'static str = "anthropic";
    const DESCRIPTION: &'static str = "Calls the Anthropic Messages API";

    /// The origin of `base_url` and the API key secret. When the endpoint
    /// settings are invalid nothing is requested; `complete` then reports why.
    fn capabilities(&self) -> Capabilities {
        endpoint(config::get).map(|e| e.capabilities()).unwrap_or_default()
    }
}

impl Provider for Anthropic {
    fn complete(&self, request: CompletionRequest) -> Result<Completion, PluginError> {
        let settings = Settings::from_config(config::get)?;
        let mut completion = send_reading(settings.outgoing(&request)?, parse_response)?;
        if completion.model.is_empty() {
            // Some compatible servers do not name the model; it is the one asked for.
            completion.model = request.model;
        }
        Ok(completion)
    }
}

orch_sdk::register!(provider: Anthropic);

#[cfg(test)]
mod tests {
    use orch_sdk::provider::{Message, MessageRole};
    use serde_json::{Value, json};

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, PluginError> {
        Settings::from_config(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
    }

    fn hello() -> CompletionRequest {
        CompletionRequest {
            model: "claude-test".into(),
            messages: vec![Message { role: MessageRole::User, content: "hi".into() }],
            max_tokens: None,
            temperature: None,
            stop: Vec::new(),
            json_mode: false,
            response_schema: None,
            idempotency_key: None,
        }
    }

    fn headers(request: &http::Request) -> Vec<(&str, &str)> {
        request.as_wire().headers.iter().map(|h| (h.name.as_str(), h.value.as_str())).collect()
    }

    #[test]
    fn defaults_apply() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.endpoint.base_url, "https://api.anthropic.com");
        assert_eq!(s.endpoint.api_key_secret.as_deref(), Some("ANTHROPIC_API_KEY"));
        assert_eq!(s.anthropic_version, "2023-06-01");
        let caps = s.endpoint.capabilities();
        assert_eq!(caps.http, vec!["https://api.anthropic.com".to_owned()]);
        assert_eq!(caps.secrets, vec!["ANTHROPIC_API_KEY".to_owned()]);
    }

    #[test]
    fn the_version_can_be_set_but_not_emptied() {
        assert_eq!(settings(&[("anthropic_version", " 2099-01-01 ")]).unwrap().anthropic_version, "2099-01-01");
        for bad in ["", "   ", "2023-06-01\r\nx-evil: 1"] {
            let err = settings(&[("anthropic_version", bad)]).unwrap_err();
            assert!(
                matches!(&err, PluginError::InvalidInput(m) if m.contains("`anthropic_version`")),
                "{bad:?}: {err:?}"
            );
        }
        let err = settings(&[("base_url", "api.anthropic.com")]).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("`base_url`")), "{err:?}");
    }

    #[test]
    fn the_outgoing_request_carries_key_version_and_body() {
        let outgoing = settings(&[]).unwrap().outgoing(&hello()).unwrap();
        let wire = outgoing.as_wire();
        assert_eq!(wire.method, "POST");
        assert_eq!(wire.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(
            headers(&outgoing),
            vec![
                ("x-api-key", "secret:ANTHROPIC_API_KEY"),
                ("anthropic-version", "2023-06-01"),
                ("content-type", "application/json")
            ]
        );
        let body: Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(
            body,
            json!({"model": "claude-test", "max_tokens": 4096, "messages": [{"role": "user", "content": "hi"}]})
        );
        assert_eq!(body, request_body(&hello(), &settings(&[]).unwrap()).unwrap());
    }

    #[test]
    fn the_api_version_decides_whether_a_temperature_can_go_out() {
        let request = CompletionRequest { model: "claude-sonnet-4-5".into(), temperature: Some(0.5), ..hello() };
        let body = |pairs: &[(&str, &str)]| request_body(&request, &settings(pairs).unwrap()).unwrap();
        assert_eq!(body(&[])["temperature"], 0.5);
        assert_eq!(body(&[("anthropic_version", "2026-10-21")]).get("temperature"), None);
    }

    #[test]
    fn no_key_header_without_a_secret() {
        let local = settings(&[("base_url", "http://127.0.0.1:8080/"), ("api_key_secret", "")]).unwrap();
        assert!(local.endpoint.capabilities().secrets.is_empty());
        let outgoing = local.outgoing(&hello()).unwrap();
        assert_eq!(outgoing.as_wire().url, "http://127.0.0.1:8080/v1/messages");
        assert_eq!(headers(&outgoing), vec![("anthropic-version", "2023-06-01"), ("content-type", "application/json")]);
    }
}
