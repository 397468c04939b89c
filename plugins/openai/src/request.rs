//! The request side of the wire mapping: a [`CompletionRequest`] as the JSON
//! body of `POST /chat/completions`, shaped by what the model's family
//! accepts ([`crate::models`]).

use orch_sdk::PluginError;
use orch_sdk::api::response_schema;
use orch_sdk::provider::{CompletionRequest, MessageRole};
use serde::Serialize;
use serde_json::Value;

use crate::models::{MaxTokensField, ModelParams};

/// The name a structured output gets when its schema has no usable `title`:
/// the API requires one, the contract carries none.
pub const DEFAULT_SCHEMA_NAME: &str = "response";

/// The body of a Chat Completions request, borrowing from the
/// [`CompletionRequest`] it was made from. Unset options are left out so the
/// API applies its defaults.
#[derive(Debug, Serialize)]
pub struct ChatRequest<'a> {
    /// The model name as the API knows it.
    pub model: &'a str,
    /// The conversation, oldest first.
    pub messages: Vec<ChatMessage<'a>>,
    /// Most tokens to generate, reasoning included: the current field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Most tokens to generate, under the deprecated name some compatible
    /// servers still read (only when configured so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature; never for models that reject one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop: &'a [String],
    /// A strict JSON Schema, else `json_object` in JSON mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
}

/// One message of the conversation.
#[derive(Debug, Serialize)]
pub struct ChatMessage<'a> {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    /// The message text.
    pub content: &'a str,
}

/// The `response_format` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// `{"type": "json_object"}`: any JSON object (JSON mode).
    JsonObject,
    /// `{"type": "json_schema", "json_schema": {...}}`: Structured Outputs.
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// The `json_schema` object of a structured-output `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonSchemaFormat {
    /// The schema's `title` made into a name the API takes, else
    /// [`DEFAULT_SCHEMA_NAME`].
    pub name: String,
    /// Always true: the answer must match the schema exactly (the contract's
    /// schemas are strict-compatible).
    pub strict: bool,
    /// The schema.
    pub schema: Value,
}

impl<'a> ChatRequest<'a> {
    /// The body for `request` to a model with `params`. A response schema
    /// that is not a JSON object is `invalid-input`.
    pub fn new(request: &'a CompletionRequest, params: ModelParams) -> Result<Self, PluginError> {
        let response_format = match response_schema(request)? {
            Some(schema) => Some(ResponseFormat::JsonSchema {
                json_schema: JsonSchemaFormat { name: schema_name(&schema), strict: true, schema },
            }),
            None => request.json_mode.then_some(ResponseFormat::JsonObject),
        };
        let limit = |field| request.max_tokens.filter(|_| params.max_tokens_field == field);
        Ok(Self {
            model: &request.model,
            messages: request
                .messages
                .iter()
                .map(|m| ChatMessage { role: role_name(m.role), content: &m.content })
                .collect(),
            max_completion_tokens: limit(MaxTokensField::MaxCompletionTokens),
            max_tokens: limit(MaxTokensField::MaxTokens),
            temperature: request.temperature.filter(|_| params.temperature),
            stop: &request.stop,
            response_format,
        })
    }
}

/// The name of a structured output: the schema's `title` with every
/// character the API does not allow (it takes `a-z`, `A-Z`, `0-9`, `_`, `-`,
/// at most 64) turned into `_`, or [`DEFAULT_SCHEMA_NAME`] when that leaves
/// nothing.
fn schema_name(schema: &Value) -> String {
    let title = schema.get("title").and_then(Value::as_str).unwrap_or_default();
    let name: String = title
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(64)
        .collect();
    if name.chars().all(|c| c == '_') { DEFAULT_SCHEMA_NAME.to_owned() } else { name }
}

/// The wire name of a message role.
fn role_name(role: MessageRole) -> &'static str {
    match role {
        MessageRole::System => "system",
        MessageRole::User => "user",
        MessageRole::Assistant => "assistant",
    }
}

#[cfg(test)]
mod tests {
    use orch_sdk::provider::Message;
    use serde_json::json;

    use super::*;
    use crate::models::params;

    const SCHEMA: &str = r#"{"type": "object", "properties": {"ok": {"type": "boolean"}},
                             "required": ["ok"], "additionalProperties": false}"#;

    fn body(request: &CompletionRequest) -> Value {
        body_with(request, MaxTokensField::MaxCompletionTokens)
    }

    fn body_with(request: &CompletionRequest, other_field: MaxTokensField) -> Value {
        serde_json::to_value(ChatRequest::new(request, params(&request.model, other_field)).unwrap()).unwrap()
    }

    fn conversation() -> Vec<Message> {
        vec![
            Message { role: MessageRole::System, content: "be terse".into() },
            Message { role: MessageRole::User, content: "hi".into() },
            Message { role: MessageRole::Assistant, content: "hello".into() },
            Message { role: MessageRole::User, content: "plan it".into() },
        ]
    }

    fn request(model: &str) -> CompletionRequest {
        CompletionRequest {
            model: model.into(),
            messages: vec![Message { role: MessageRole::User, content: "json please".into() }],
            max_tokens: Some(256),
            temperature: Some(0.25),
            stop: Vec::new(),
            json_mode: false,
            response_schema: None,
            idempotency_key: None,
        }
    }

    #[test]
    fn minimal_request_leaves_options_out() {
        let request = CompletionRequest {
            model: "gpt-4o-mini".into(),
            messages: conversation(),
            max_tokens: None,
            temperature: None,
            stop: Vec::new(),
            json_mode: false,
            response_schema: None,
            idempotency_key: None,
        };
        assert_eq!(
            body(&request),
            json!({
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "be terse"},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "plan it"},
                ],
            })
        );
    }

    #[test]
    fn a_plain_request_sends_the_limit_as_max_completion_tokens() {
        let request = CompletionRequest { stop: vec!["\n\n".into(), "END".into()], ..request("gpt-4o") };
        assert_eq!(
            body(&request),
            json!({
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "json please"}],
                "max_completion_tokens": 256,
                "temperature": 0.25,
                "stop": ["\n\n", "END"],
            })
        );
    }

    #[test]
    fn json_mode_asks_for_a_json_object() {
        let request = CompletionRequest { json_mode: true, ..request("gpt-4.1") };
        assert_eq!(body(&request)["response_format"], json!({"type": "json_object"}));
    }

    #[test]
    fn a_schema_asks_for_strict_structured_output_and_wins_over_json_mode() {
        for json_mode in [false, true] {
            let request = CompletionRequest { json_mode, response_schema: Some(SCHEMA.into()), ..request("gpt-4o") };
            assert_eq!(
                body(&request)["response_format"],
                json!({
                    "type": "json_schema",
                    "json_schema": {
                        "name": "response",
                        "strict": true,
                        "schema": serde_json::from_str::<Value>(SCHEMA).unwrap(),
                    },
                })
            );
        }
    }

    #[test]
    fn the_schema_is_named_after_its_title() {
        let name = |title: Value| schema_name(&json!({"title": title, "type": "object"}));
        assert_eq!(name(json!("Verdict")), "Verdict");
        assert_eq!(name(json!(" plan step-list ")), "plan_step-list");
        assert_eq!(name(json!("Überprüfung")), "_berpr_fung");
        assert_eq!(name(json!("x".repeat(100))).len(), 64);
        for nameless in [json!(""), json!("  "), json!("!!"), json!(5), Value::Null] {
            assert_eq!(name(nameless.clone()), "response", "{nameless}");
        }
        assert_eq!(schema_name(&json!({"type": "object"})), "response");
    }

    #[test]
    fn a_schema_that_is_not_a_json_object_is_invalid_input() {
        let request = CompletionRequest { response_schema: Some("{\"type\":".into()), ..request("gpt-4o") };
        let err = ChatRequest::new(&request, params("gpt-4o", MaxTokensField::MaxCompletionTokens)).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("response schema")), "{err:?}");
    }

    #[test]
    fn reasoning_models_get_no_temperature() {
        for model in ["o3-mini", "o4-mini", "gpt-5", "gpt-5.4-mini", "openai/o1"] {
            let body = body(&CompletionRequest { json_mode: true, ..request(model) });
            assert_eq!(
                body,
                json!({
                    "model": model,
                    "messages": [{"role": "user", "content": "json please"}],
                    "max_completion_tokens": 256,
                    "response_format": {"type": "json_object"},
                }),
                "{model}"
            );
        }
    }

    #[test]
    fn other_models_use_the_configured_limit_field() {
        let old = body_with(&request("llama3.1:8b"), MaxTokensField::MaxTokens);
        assert_eq!((old.get("max_tokens"), old.get("max_completion_tokens")), (Some(&json!(256)), None));
        assert_eq!(old["temperature"], 0.25);
        let new = body_with(&request("llama3.1:8b"), MaxTokensField::MaxCompletionTokens);
        assert_eq!((new.get("max_tokens"), new.get("max_completion_tokens")), (None, Some(&json!(256))));
        // OpenAI's own models ignore the setting: they reject `max_tokens`.
        let openai = body_with(&request("o3"), MaxTokensField::MaxTokens);
        assert_eq!((openai.get("max_tokens"), openai.get("max_completion_tokens")), (None, Some(&json!(256))));
    }
}
