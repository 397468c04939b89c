//! The request side of the wire mapping: a [`CompletionRequest`] as the JSON
//! body of `POST /messages`.
//!
//! The Messages API differs from Chat Completions in three ways that matter
//! here: system text is a top-level `system` field rather than a message,
//! `max_tokens` is required, and stop sequences are `stop_sequences`. It has
//! no JSON-mode switch (no `response_format`); `json_mode` leaves the body
//! unchanged and the prompt has to ask for JSON.

use orch_sdk::provider::{CompletionRequest, MessageRole};
use serde::Serialize;

/// `max_tokens` when the request sets none: the API requires a value.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The body of a Messages request, borrowing from the [`CompletionRequest`]
/// it was made from. Unset options are left out so the API applies its
/// defaults.
#[derive(Debug, Serialize)]
pub struct MessagesRequest<'a> {
    /// The model name as the API knows it.
    pub model: &'a str,
    /// Most tokens to generate; required by the API.
    pub max_tokens: u32,
    /// The system messages, joined by blank lines; left out when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The user and assistant turns, oldest first.
    pub messages: Vec<ApiMessage<'a>>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop_sequences: &'a [String],
}

/// One turn of the conversation.
#[derive(Debug, Serialize)]
pub struct ApiMessage<'a> {
    /// `user` or `assistant`.
    pub role: &'static str,
    /// The message text.
    pub content: &'a str,
}

impl<'a> MessagesRequest<'a> {
    /// The body for `request`. `request.json_mode` has no counterpart in the
    /// Messages API and is ignored.
    pub fn new(request: &'a CompletionRequest) -> Self {
        let mut system = Vec::new();
        let mut messages = Vec::new();
        for message in &request.messages {
            match message.role {
                MessageRole::System => system.push(message.content.as_str()),
                MessageRole::User => messages.push(ApiMessage { role: "user", content: &message.content }),
                MessageRole::Assistant => messages.push(ApiMessage { role: "assistant", content: &message.content }),
            }
        }
        Self {
            model: &request.model,
            max_tokens: request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            system: (!system.is_empty()).then(|| system.join("\n\n")),
            messages,
            temperature: request.temperature,
            stop_sequences: &request.stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use orch_sdk::provider::Message;
    use serde_json::{Value, json};

    use super::*;

    fn body(request: &CompletionRequest) -> Value {
        serde_json::to_value(MessagesRequest::new(request)).unwrap()
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
    fn every_option_is_sent_when_set() {
        let request = CompletionRequest {
            model: "claude-sonnet-4-5".into(),
            messages: vec![message(MessageRole::System, "be terse"), message(MessageRole::User, "json please")],
            max_tokens: Some(256),
            temperature: Some(0.25),
            stop: vec!["\n\n".into(), "END".into()],
            json_mode: true,
            response_schema: None,
            idempotency_key: None,
        };
        assert_eq!(
            body(&request),
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
    fn json_mode_changes_nothing() {
        let mut request = minimal(vec![message(MessageRole::User, "hi")]);
        let plain = body(&request);
        request.json_mode = true;
        assert_eq!(body(&request), plain);
    }
}
