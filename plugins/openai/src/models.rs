//! Which request parameters each model family accepts: the table the request
//! builder consults before it sends a temperature or names the token limit.
//!
//! | family (model name, after any `vendor/` prefix) | `temperature` | token limit field | reasoning |
//! |---|---|---|---|
//! | `o1`, `o3`, `o4`, … (`o` + digit) | not sent | `max_completion_tokens` | yes |
//! | `gpt-5*` and later (`gpt-5.4-mini`, `gpt-6-luna`, …) | not sent | `max_completion_tokens` | yes |
//! | `codex-*` | not sent | `max_completion_tokens` | yes |
//! | `gpt-4*`, `gpt-3.5*`, `chatgpt-*` | sent | `max_completion_tokens` | no |
//! | anything else (Ollama, vLLM, OpenRouter models…) | sent | config `max_tokens_field` (default `max_completion_tokens`) | unknown |
//!
//! Reasoning models accept only the default temperature (1) and answer any
//! other value with a 400, so none is sent to them; `max_tokens` is
//! deprecated in the Chat Completions spec and rejected by the o-series, so
//! OpenAI's own models always get `max_completion_tokens`. Servers that
//! only know `max_tokens` (older Ollama) ignore the new name: set
//! `max_tokens_field = "max_tokens"` for them.

use orch_sdk::PluginError;

/// The field that carries the request's token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokensField {
    /// `max_completion_tokens`: the current name; covers reasoning tokens.
    MaxCompletionTokens,
    /// `max_tokens`: the deprecated name older compatible servers read.
    MaxTokens,
}

impl MaxTokensField {
    /// The JSON field name.
    pub fn name(self) -> &'static str {
        match self {
            Self::MaxCompletionTokens => "max_completion_tokens",
            Self::MaxTokens => "max_tokens",
        }
    }

    /// Reads the `max_tokens_field` config value.
    pub fn parse(raw: &str) -> Result<Self, PluginError> {
        match raw.trim() {
            "max_completion_tokens" => Ok(Self::MaxCompletionTokens),
            "max_tokens" => Ok(Self::MaxTokens),
            other => Err(PluginError::InvalidInput(format!(
                "config key `max_tokens_field` (`{}`) must be `max_completion_tokens` or `max_tokens`",
                other.escape_debug()
            ))),
        }
    }
}

/// A model family as the table knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// o-series, GPT-5 and later, codex: reasoning models.
    OpenAiReasoning,
    /// GPT-4, GPT-4o, GPT-4.1, GPT-3.5: OpenAI's chat models.
    OpenAiChat,
    /// A model OpenAI does not name this way, e.g. served by a compatible server.
    Other,
}

/// What the request for one model may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelParams {
    /// The family the model belongs to.
    pub family: Family,
    /// Whether a configured temperature is sent.
    pub temperature: bool,
    /// The field the token limit goes in.
    pub max_tokens_field: MaxTokensField,
}

/// The parameters for `model`; `other_max_tokens_field` is the field for
/// models outside OpenAI's own families (the `max_tokens_field` setting).
pub fn params(model: &str, other_max_tokens_field: MaxTokensField) -> ModelParams {
    let family = family(model);
    let (temperature, max_tokens_field) = match family {
        Family::OpenAiReasoning => (false, MaxTokensField::MaxCompletionTokens),
        Family::OpenAiChat => (true, MaxTokensField::MaxCompletionTokens),
        Family::Other => (true, other_max_tokens_field),
    };
    ModelParams { family, temperature, max_tokens_field }
}

/// The family of `model`, by name. Gateways' `vendor/model` names
/// (`openai/o3-mini`) count as the model after the last `/`.
pub fn family(model: &str) -> Family {
    let name = model.rsplit('/').next().unwrap_or(model).trim().to_ascii_lowercase();
    let o_series = name.strip_prefix('o').is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    let gpt_major = name
        .strip_prefix("gpt-")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|major| major.parse::<u32>().ok());
    match gpt_major {
        _ if o_series || name.starts_with("codex-") => Family::OpenAiReasoning,
        Some(major) if major >= 5 => Family::OpenAiReasoning,
        Some(_) => Family::OpenAiChat,
        None if name.starts_with("chatgpt-") => Family::OpenAiChat,
        None => Family::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTHER: MaxTokensField = MaxTokensField::MaxTokens;

    #[test]
    fn reasoning_models_get_no_temperature_and_the_new_field() {
        for model in [
            "o1",
            "o1-mini-2024-09-12",
            "o3",
            "o3-mini",
            "o4-mini-2025-04-16",
            "gpt-5",
            "gpt-5-mini",
            "gpt-5-chat-latest",
            "gpt-5.4-nano-2026-03-17",
            "gpt-6-luna",
            "gpt-6.2-astra",
            "GPT-5",
            "openai/o3-mini",
            "openrouter/openai/gpt-5.1",
            "codex-mini-latest",
        ] {
            assert_eq!(
                params(model, OTHER),
                ModelParams {
                    family: Family::OpenAiReasoning,
                    temperature: false,
                    max_tokens_field: MaxTokensField::MaxCompletionTokens
                },
                "{model}"
            );
        }
    }

    #[test]
    fn chat_models_get_a_temperature_and_the_new_field() {
        for model in
            ["gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano", "gpt-4-turbo", "gpt-3.5-turbo", "chatgpt-4o-latest"]
        {
            assert_eq!(
                params(model, OTHER),
                ModelParams {
                    family: Family::OpenAiChat,
                    temperature: true,
                    max_tokens_field: MaxTokensField::MaxCompletionTokens
                },
                "{model}"
            );
        }
    }

    #[test]
    fn other_models_get_a_temperature_and_the_configured_field() {
        for model in ["llama3.1:8b", "qwen2.5-coder", "m", "", "omni", "gpt-oss-20b", "mistral/mistral-large"] {
            for field in [MaxTokensField::MaxTokens, MaxTokensField::MaxCompletionTokens] {
                assert_eq!(
                    params(model, field),
                    ModelParams { family: Family::Other, temperature: true, max_tokens_field: field },
                    "{model}"
                );
            }
        }
    }

    #[test]
    fn the_field_setting_parses() {
        assert_eq!(MaxTokensField::parse("max_tokens").unwrap().name(), "max_tokens");
        assert_eq!(MaxTokensField::parse(" max_completion_tokens ").unwrap().name(), "max_completion_tokens");
        let err = MaxTokensField::parse("maxTokens").unwrap_err();
        assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("`max_tokens_field`")), "{err:?}");
    }
}
