//! `openai`: a provider plugin for the OpenAI Chat Completions wire format
//! (`POST {base_url}/chat/completions`), which OpenAI and many compatible
//! servers (Ollama, vLLM, LM Studio, OpenRouter, ...) speak. This module owns
//! the glue: reading config, asking for capabilities and sending the request;
//! the wire mapping lives in [`request`] and [`response`] as pure functions.
//!
//! Config keys (`[plugins.NAME.config]` in `orch.toml`):
//! - `base_url`: the API root, default `https://api.openai.com/v1`.
//! - `api_key_secret`: the secret holding the API key, default
//!   `OPENAI_API_KEY`; the empty string sends no `Authorization` header.
//!
//! The host's idempotency key for the call goes out as `Idempotency-Key`, so a
//! server or gateway that honours it answers a repeated call once.

pub mod request;
pub mod response;

use orch_sdk::api::{Endpoint, send_reading};
use orch_sdk::provider::{Completion, CompletionRequest, Provider};
use orch_sdk::{Capabilities, Plugin, PluginError, config, http, secret};

pub use request::ChatRequest;
pub use response::parse_response;

/// `base_url` when the config does not set it.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// `api_key_secret` when the config does not set it.
pub const DEFAULT_API_KEY_SECRET: &str = "OPENAI_API_KEY";

/// The endpoint from config (through `lookup`), with OpenAI's defaults.
pub fn endpoint(lookup: impl Fn(&str) -> Option<String>) -> Result<Endpoint, PluginError> {
    Endpoint::from_config(lookup, DEFAULT_BASE_URL, DEFAULT_API_KEY_SECRET)
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
        let endpoint = endpoint(config::get)?;
        let mut outgoing = http::Request::post(endpoint.url("/chat/completions"));
        if let Some(name) = &endpoint.api_key_secret {
            outgoing = outgoing.header("authorization", format!("Bearer {}", secret(name)));
        }
        if let Some(key) = config::idempotency_key() {
            outgoing = outgoing.header("idempotency-key", key);
        }
        let mut completion = send_reading(outgoing.json(&ChatRequest::new(&request))?, parse_response)?;
        if completion.model.is_empty() {
            // Some compatible servers do not name the model; it is the one asked for.
            completion.model = request.model;
        }
        Ok(completion)
    }
}

orch_sdk::register!(provider: OpenAi);
