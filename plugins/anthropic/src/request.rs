//! The request side of the wire mapping: a [`CompletionRequest`] as the JSON
//! body of `POST /v1/messages`.
//!
//! The Messages API differs from Chat Completions in ways that matter here:
//! system text is a top-level `system` field rather than a message,
//! `max_tokens` is required, stop sequences are `stop_sequences`, a response
//! schema goes in `output_config.format`, and there is no JSON-mode switch
//! (`json_mode` without a schema leaves the body unchanged; the prompt has to
//! ask for JSON). It also rejects a message with empty content, so empty
//! messages are left out and the turns around them, now of the same role,
//! merged into one.

use std::borrow::Cow;

use orch_sdk::PluginError;
use orch_sdk::api::response_schema;
use orch_sdk::provider::{CompletionRequest, MessageRole};
use serde::Serialize;
use serde_json::Value;

use crate::models::ModelParams;

/// `max_tokens` when the request sets none: the API requires a value.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// What joins the text of merged turns and of several system messages.
pub const JOINER: &str = "\n\n";

/// The body of a Messages request, borrowing from the [`CompletionRequest`]
/// it was made from. Unset options are left out so the API applies its
/// defaults.
#[derive(Debug, Serialize)]
pub struct MessagesRequest<'a> {
    /// The model name as the API knows it.
    pub model: &'a str,
    /// Most tokens to generate; required by the API.
    pub max_tokens: u32,
    /// The non-empty system messages, joined by blank lines; left out when
    /// there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<Cow<'a, str>>,
    /// The user and assistant turns, oldest first, none empty, roles
    /// alternating.
    pub messages: Vec<ApiMessage<'a>>,
    /// Sampling temperature; only for models that take one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop_sequences: &'a [String],
    /// The response schema as structured output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
}

/// One turn of the conversation.
#[derive(Debug, Serialize)]
pub struct ApiMessage<'a> {
    /// `user` or `assistant`.
    pub role: &'static str,
    /// The turn's text: one message's, or several merged.
    pub content: Cow<'a, str>,
}

/// The `output_config` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputConfig {
    /// The format the answer must have.
    pub format: OutputFormat,
}

/// `{"type": "json_schema", "schema": ...}`: the answer is JSON matching the schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputFormat {
    /// Always `json_schema`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The JSON Schema.
    pub schema: Value,
}

impl<'a> MessagesRequest<'a> {
    /// The body for `request` to a model with `params`. A request with no
    /// non-empty user or assistant message, or with a response schema that is
    /// not a JSON object, is `invalid-input`.
    pub fn new(request: &'a CompletionRequest, params: ModelParams) -> Result<Self, PluginError> {
        let mut system = Vec::new();
        let mut messages: Vec<ApiMessage<'a>> = Vec::new();
        for message in request.messages.iter().filter(|m| !m.content.trim().is_empty()) {
            let role = match message.role {
                MessageRole::System => {
                    system.push(message.content.as_str());
                    continue;
                }
                MessageRole::User => "user",
                MessageRole::Assistant => "assistant",
            };
            match messages.last_mut() {
                Some(last) if last.role == role => {
                    let merged = last.content.to_mut();
                    merged.push_str(JOINER);
                    merged.push_str(&message.content);
                }
                _ => messages.push(ApiMessage { role, content: Cow::Borrowed(&message.content) }),
            }
        }
        if messages.is_empty() {
            return Err(PluginError::InvalidInput(
                "the request has no user or assistant message with text; the Messages API needs one".into(),
            ));
        }
        let output_config = response_schema(request)?
            .map(|schema| OutputConfig { format: OutputFormat { kind: "json_schema", schema } });
        Ok(Self {
            model: &request.model,
            max_tokens: request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            system: match system.as_slice() {
                [] => None,
                [only] => Some(Cow::Borrowed(*only)),
                several => Some(Cow::Owned(several.join(JOINER))),
            },
            messages,
            temperature: request.temperature.filter(|_| params.temperature),
            stop_sequences: &request.stop,
            output_config,
        })
    }
}

#[cfg(test)]
mod tests {
    use orch_sdk::provider::Message;
    use serde_json::json;

    use super::*;
    use crate::models::params;

    const OLD_API: &str = "2023-06-01";
    const SCHEMA: &str = r#"{"type": "object", "properties": {"ok": {"type": "boolean"}},
                             "required": ["ok"], "additionalProperties": false}"#;

    fn body(request: &CompletionRequest) -> Value {
        let params = params(&request.model, OLD_API);
        serde_json::to_value(MessagesRequest::new(request, params).unwrap()).unwrap()
    }

    fn message(role: MessageRole, content: &str) -> Message {
        Message { role, content: content.into() }
    }

    fn minimal(messages: Vec<Message>) -> CompletionRequest {
        CompletionRequest {
            model: "claude-haiku-4-5".into(),
            messages,
            max_tokens: None,
            temperature: None,
            stop: Vec::new(),
            json_mode: false,
            response_schema: None,
            idempotency_key: None,
        }
    }

    fn full(model: &str) -> CompletionRequest {
        CompletionRequest {
            model: model.into(),
            messages: vec![message(MessageRole::System, "be terse"), message(MessageRole::User, "json please")],
            max_tokens: Some(256),
            temperature: Some(0.25),
            stop: vec!["\n\n".into(), "END".into()],
            json_mode: true,
            response_schema: None,
            idempotency_key: None,
        }
    }

    #[test]
    fn minimal_request_has_the_default_max_tokens_and_no_options() {
        let request = minimal(vec![
            message(MessageRole::User, "hi"),
            message(MessageRole::Assistant, "hello"),
            message(MessageRole::User, "plan it"),
        ]);
        assert_eq!(
            body(&request),
            json!({
                "model": "claude-haiku-4-5",
                "max_tokens": 4096,
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "plan it"},
                ],
            })
        );
    }

    #[test]
    fn every_option_is_sent_to_a_model_that_takes_it() {
        assert_eq!(
            body(&full("claude-sonnet-4-5")),
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 256,
                "system": "be terse",
                "messages": [{"role": "user", "content": "json please"}],
                "temperature": 0.25,
                "stop_sequences": ["\n\n", "END"],
            })
        );
    }

    #[test]
    fn models_that_reject_a_temperature_get_none() {
        for model in ["claude-opus-4-7", "claude-sonnet-5", "claude-haiku-5-5", "some-proxy-model"] {
            let body = body(&full(model));
            assert_eq!(body.get("temperature"), None, "{model}");
            assert_eq!(body["stop_sequences"], json!(["\n\n", "END"]), "{model}");
        }
        let request = full("claude-sonnet-4-5");
        let newer_api = params(&request.model, "2026-10-21");
        let body = serde_json::to_value(MessagesRequest::new(&request, newer_api).unwrap()).unwrap();
        assert_eq!(body.get("temperature"), None);
    }

    #[test]
    fn a_schema_goes_in_output_config() {
        let request = CompletionRequest { response_schema: Some(SCHEMA.into()), ..full("claude-opus-4-7") };
        assert_eq!(
            body(&request)["output_config"],
            json!({"format": {"type": "json_schema", "schema": serde_json::from_str::<Value>(SCHEMA).unwrap()}})
        );
        let bad = CompletionRequest { response_schema: Some("[]".into()), ..full("claude-opus-4-7") };
        let err = MessagesRequest::new(&bad, params(&bad.model, OLD_API)).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("response schema")), "{err:?}");
    }

    #[test]
    fn json_mode_without_a_schema_changes_nothing() {
        let mut request = minimal(vec![message(MessageRole::User, "hi")]);
        let plain = body(&request);
        request.json_mode = true;
        assert_eq!(body(&request), plain);
    }

    #[test]
    fn system_messages_are_lifted_out_and_joined() {
        let request = minimal(vec![
            message(MessageRole::System, "you plan"),
            message(MessageRole::User, "hi"),
            message(MessageRole::System, "answer in JSON"),
            message(MessageRole::Assistant, "ok"),
        ]);
        let body = body(&request);
        assert_eq!(body["system"], "you plan\n\nanswer in JSON");
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}])
        );
    }

    #[test]
    fn empty_messages_are_left_out_and_same_role_turns_merged() {
        // After an empty reply the host asks again: user, (empty) assistant, user.
        let request = minimal(vec![
            message(MessageRole::System, ""),
            message(MessageRole::System, "you plan"),
            message(MessageRole::User, "plan it"),
            message(MessageRole::Assistant, ""),
            message(MessageRole::User, "your last answer was empty; plan it"),
            message(MessageRole::Assistant, "{\"steps\": []}"),
            message(MessageRole::Assistant, " \n"),
            message(MessageRole::User, "again"),
            message(MessageRole::User, "with steps"),
        ]);
        assert_eq!(
            body(&request),
            json!({
                "model": "claude-haiku-4-5",
                "max_tokens": 4096,
                "system": "you plan",
                "messages": [
                    {"role": "user", "content": "plan it\n\nyour last answer was empty; plan it"},
                    {"role": "assistant", "content": "{\"steps\": []}"},
                    {"role": "user", "content": "again\n\nwith steps"},
                ],
            })
        );
    }

    #[test]
    fn a_request_with_nothing_to_say_is_invalid_input() {
        for messages in [
            vec![],
            vec![message(MessageRole::System, "you plan")],
            vec![message(MessageRole::User, ""), message(MessageRole::Assistant, "  ")],
        ] {
            let request = minimal(messages);
            let err = MessagesRequest::new(&request, params(&request.model, OLD_API)).unwrap_err();
            assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("no user or assistant")), "{err:?}");
        }
    }
}
