//! The request side of the wire mapping: a [`CompletionRequest`] as the JSON
//! body of `POST /chat/completions`.

use orch_sdk::provider::{CompletionRequest, MessageRole};
use serde::Serialize;

/// The body of a Chat Completions request, borrowing from the
/// [`CompletionRequest`] it was made from. Unset options are left out so the
/// API applies its defaults.
#[derive(Debug, Serialize)]
pub struct ChatRequest<'a> {
    /// The model name as the API knows it.
    pub model: &'a str,
    /// The conversation, oldest first.
    pub messages: Vec<ChatMessage<'a>>,
    /// Most tokens to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop: &'a [String],
    /// `{"type": "json_object"}` in JSON mode.
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
#[derive(Debug, Serialize)]
pub struct ResponseFormat {
    /// Always `json_object`: the model must answer with one JSON object.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl<'a> ChatRequest<'a> {
    /// The body for `request`.
    pub fn new(request: &'a CompletionRequest) -> Self {
        Self {
            model: &request.model,
            messages: request
                .messages
                .iter()
                .map(|m| ChatMessage { role: role_name(m.role), content: &m.content })
                .collect(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            stop: &request.stop,
            response_format: request.json_mode.then_some(ResponseFormat { kind: "json_object" }),
        }
    }
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
    use serde_json::{Value, json};

    use super::*;

    fn body(request: &CompletionRequest) -> Value {
        serde_json::to_value(ChatRequest::new(request)).unwrap()
    }

    fn conversation() -> Vec<Message> {
        vec![
            Message { role: MessageRole::System, content: "be terse".into() },
            Message { role: MessageRole::User, content: "hi".into() },
            Message { role: MessageRole::Assistant, content: "hello".into() },
            Message { role: MessageRole::User, content: "plan it".into() },
        ]
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
    fn every_option_is_sent_when_set() {
        let request = CompletionRequest {
            model: "gpt-4o".into(),
            messages: vec![Message { role: MessageRole::User, content: "json please".into() }],
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
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "json please"}],
                "max_tokens": 256,
                "temperature": 0.25,
                "stop": ["\n\n", "END"],
                "response_format": {"type": "json_object"},
            })
        );
    }
}
