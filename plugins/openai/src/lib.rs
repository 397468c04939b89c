//! `openai`: a provider plugin for the OpenAI Chat Completions wire format
//! (`POST {base_url}/chat/completions`), which OpenAI and many compatible
//! servers (Ollama, vLLM, LM Studio, OpenRouter, ...) speak. This module owns
//! the glue: reading config, asking for capabilities and building the
//! outgoing request; the wire mapping lives in [`request`] and [`response`]
//! as pure functions, and which parameters each model family takes in
//! [`models`].
//!
//! Config keys (`[plugins.NAME.config]` in `orch.toml`):
//! - `base_url`: the API root, default `https://api.openai.com/v1`.
//! - `api_key_secret`: the secret holding the API key, default
//!   `OPENAI_API_KEY`; the empty string sends no `Authorization` header.
//! - `max_tokens_field`: `max_completion_tokens` (default) or `max_tokens`,
//!   the field that carries the token limit for models outside OpenAI's own
//!   families (a server that only reads the deprecated `max_tokens`).
//!
//! What goes out, per call: the token limit as `max_completion_tokens`, a
//! temperature only to models that take one (not o-series, GPT-5 and
//! later), a response schema as a strict `json_schema` `response_format`
//! (else `json_object` in JSON mode), and the request's idempotency key as
//! the `Idempotency-Key` header, so a server or gateway that honours it
//! answers a repeated call once. A refusal comes back as the stop reason
//! `refusal` with the model's explanation as the text.

pub mod models;
pub mod request;
pub mod response;

use orch_sdk::api::{Endpoint, send_reading};
use orch_sdk::provider::{Completion, CompletionRequest, Provider};
use orch_sdk::{Capabilities, Plugin, PluginError, config, http, secret};

pub use models::{MaxTokensField, ModelParams};
pub use request::ChatRequest;
pub use response::parse_response;

/// `base_url` when the config does not set it.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// `api_key_secret` when the config does not set it.
pub const DEFAULT_API_KEY_SECRET: &str = "OPENAI_API_KEY";

/// The path below `base_url` every completion is posted to.
pub const PATH: &str = "/chat/completions";

/// The endpoint from config (through `lookup`), with OpenAI's defaults.
pub fn endpoint(lookup: impl Fn(&str) -> Option<String>) -> Result<Endpoint, PluginError> {
    Endpoint::from_config(lookup, DEFAULT_BASE_URL, DEFAULT_API_KEY_SECRET)
}

/// Everything the plugin reads from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where the API lives and which secret holds its key.
    pub endpoint: Endpoint,
    /// The token limit's field for models outside OpenAI's own families.
    pub max_tokens_field: MaxTokensField,
}

impl Settings {
    /// Reads the settings through `lookup` (the SDK's [`config::get`] in the
    /// plugin), falling back to the defaults. An invalid value is an
    /// `invalid-input` error naming the key.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let max_tokens_field = match lookup("max_tokens_field") {
            None => MaxTokensField::MaxCompletionTokens,
            Some(raw) => MaxTokensField::parse(&raw)?,
        };
        Ok(Self { endpoint: endpoint(lookup)?, max_tokens_field })
    }

    /// What a request for `model` may carry ([`models::params`]).
    pub fn params(&self, model: &str) -> ModelParams {
        models::params(model, self.max_tokens_field)
    }

    /// The request the plugin hands to the host for `request`: `POST
    /// {base_url}/chat/completions` with `Authorization: Bearer` holding the
    /// secret reference (when a secret is configured), `Idempotency-Key` when
    /// there is one, and the body of [`request_body`].
    pub fn outgoing(
        &self,
        request: &CompletionRequest,
        idempotency_key: Option<&str>,
    ) -> Result<http::Request, PluginError> {
        let mut outgoing = http::Request::post(self.endpoint.url(PATH));
        if let Some(name) = &self.endpoint.api_key_secret {
            outgoing = outgoing.header("authorization", format!("Bearer {}", secret(name)));
        }
        if let Some(key) = idempotency_key {
            outgoing = outgoing.header("idempotency-key", key);
        }
        outgoing.json(&ChatRequest::new(request, self.params(&request.model))?)
    }
}

/// The JSON body the plugin sends for `request` with `settings`. A response
/// schema that is not a JSON object is `invalid-input`.
pub fn request_body(request: &CompletionRequest, settings: &Settings) -> Result<serde_json::Value, PluginError> {
    let body = ChatRequest::new(request, settings.params(&request.model))?;
    serde_json::to_value(body).map_err(|e| PluginError::InvalidInput(format!("cannot encode the request: {e}")))
}

/// The call's idempotency key: the request's own, else what `fallback`
/// finds (the config key a host of contract 0.1 sets).
pub fn idempotency_key(request: &CompletionRequest, fallback: impl FnOnce() -> Option<String>) -> Option<String> {
    request.idempotency_key.clone().or_else(fallback)
}

/// The plugin: reads its settings from config on every call (each call runs
/// in a fresh instance) and sends one Chat Completions request.
#[derive(Default)]
pub struct OpenAi;

impl Plugin for OpenAi {
    const NAME: &'static str = "openai";
    const DESCRIPTION: &'static str = "Calls an OpenAI Chat Completions compatible API";

    /// The origin of `base_url` and the API key secret. When the settings are
    /// invalid nothing is requested; `complete` then reports why.
    fn capabilities(&self) -> Capabilities {
        endpoint(config::get).map(|e| e.capabilities()).unwrap_or_default()
    }
}

impl Provider for OpenAi {
    fn complete(&self, request: CompletionRequest) -> Result<Completion, PluginError> {
        let settings = Settings::from_config(config::get)?;
        // The config key is the fallback for a host that leaves the field empty.
        #[allow(deprecated)]
        let key = idempotency_key(&request, config::idempotency_key);
        let mut completion = send_reading(settings.outgoing(&request, key.as_deref())?, parse_response)?;
        if completion.model.is_empty() {
            // Some compatible servers do not name the model; it is the one asked for.
            completion.model = request.model;
        }
        Ok(completion)
    }
}

orch_sdk::register!(provider: OpenAi);

#[cfg(test)]
mod tests {
    use orch_sdk::provider::{Message, MessageRole};
    use serde_json::{Value, json};

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, PluginError> {
        Settings::from_config(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
    }

    fn hello(idempotency_key: Option<&str>) -> CompletionRequest {
        CompletionRequest {
            model: "gpt-4o".into(),
            messages: vec![Message { role: MessageRole::User, content: "hi".into() }],
            max_tokens: Some(100),
            temperature: None,
            stop: Vec::new(),
            json_mode: false,
            response_schema: None,
            idempotency_key: idempotency_key.map(str::to_owned),
        }
    }

    fn headers(request: &http::Request) -> Vec<(&str, &str)> {
        request.as_wire().headers.iter().map(|h| (h.name.as_str(), h.value.as_str())).collect()
    }

    #[test]
    fn defaults_apply() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.endpoint.base_url, DEFAULT_BASE_URL);
        assert_eq!(s.endpoint.api_key_secret.as_deref(), Some("OPENAI_API_KEY"));
        assert_eq!(s.max_tokens_field, MaxTokensField::MaxCompletionTokens);
        let old = settings(&[("max_tokens_field", "max_tokens")]).unwrap();
        assert_eq!(old.max_tokens_field, MaxTokensField::MaxTokens);
        let err = settings(&[("max_tokens_field", "tokens")]).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("`max_tokens_field`")), "{err:?}");
    }

    #[test]
    fn the_outgoing_request_carries_key_idempotency_key_and_body() {
        let outgoing = settings(&[]).unwrap().outgoing(&hello(None), Some("orch-42")).unwrap();
        let wire = outgoing.as_wire();
        assert_eq!((wire.method.as_str(), wire.url.as_str()), ("POST", "https://api.openai.com/v1/chat/completions"));
        assert_eq!(
            headers(&outgoing),
            vec![
                ("authorization", "Bearer secret:OPENAI_API_KEY"),
                ("idempotency-key", "orch-42"),
                ("content-type", "application/json"),
            ]
        );
        let body: Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(body, request_body(&hello(None), &settings(&[]).unwrap()).unwrap());
        assert_eq!(
            body,
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 100})
        );
    }

    #[test]
    fn no_key_or_idempotency_header_when_there_is_none() {
        let local = settings(&[("base_url", "http://127.0.0.1:11434/v1"), ("api_key_secret", "")]).unwrap();
        let outgoing = local.outgoing(&hello(None), None).unwrap();
        assert_eq!(outgoing.as_wire().url, "http://127.0.0.1:11434/v1/chat/completions");
        assert_eq!(headers(&outgoing), vec![("content-type", "application/json")]);
    }

    #[test]
    fn the_requests_idempotency_key_comes_first_and_config_is_the_fallback() {
        let never = || -> Option<String> { panic!("the fallback is read only when the request has no key") };
        assert_eq!(idempotency_key(&hello(Some("orch-req")), never).as_deref(), Some("orch-req"));
        assert_eq!(idempotency_key(&hello(None), || Some("orch-config".into())).as_deref(), Some("orch-config"));
        assert_eq!(idempotency_key(&hello(None), || None), None);
    }
}
