//! The request side of the wire mapping: the model name as the path
//! `/models/{model}:generateContent`, and a [`CompletionRequest`] as the JSON
//! body of that request.

use std::borrow::Cow;

use orch_sdk::PluginError;
use orch_sdk::provider::{CompletionRequest, MessageRole};
use serde::Serialize;

/// The path, below `base_url`, that generates content with `model`:
/// `/models/{model}:generateContent`. A leading `models/` (the API's resource
/// name form, e.g. `models/gemini-2.5-flash`) is accepted and dropped. A name
/// that is empty or holds `/`, `?`, `#` or whitespace after that would not
/// name one model, so it is `invalid-input`.
pub fn generate_content_path(model: &str) -> Result<String, PluginError> {
    let name = model.strip_prefix("models/").unwrap_or(model);
    if name.is_empty() || name.contains(['/', '?', '#']) || name.contains(char::is_whitespace) {
        return Err(PluginError::InvalidInput(format!(
            "`{model}` is not a Gemini model name: expected e.g. `gemini-2.5-flash` or `models/gemini-2.5-flash`, \
             without `/`, `?`, `#` or whitespace"
        )));
    }
    Ok(format!("/models/{name}:generateContent"))
}

/// The body of a `generateContent` request, borrowing from the
/// [`CompletionRequest`] it was made from. Unset options are left out so the
/// API applies its defaults.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest<'a> {
    /// The user and model turns, oldest first.
    pub contents: Vec<Content<'a>>,
    /// Every system message, joined by a blank line; left out when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content<'a>>,
    /// The options; left out when none is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig<'a>>,
}

/// One turn of the conversation, or the system instruction (which has no role).
#[derive(Debug, Serialize)]
pub struct Content<'a> {
    /// `user` or `model`; absent for the system instruction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// The turn's text, as one part.
    pub parts: Vec<Part<'a>>,
}

/// A text part of a [`Content`].
#[derive(Debug, Serialize)]
pub struct Part<'a> {
    /// The text.
    pub text: Cow<'a, str>,
}

/// The `generationConfig` object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig<'a> {
    /// Most tokens to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop_sequences: &'a [String],
    /// `application/json` in JSON mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<&'static str>,
}

impl GenerationConfig<'_> {
    /// True when no option is set, so the object can be left out.
    fn is_empty(&self) -> bool {
        self.max_output_tokens.is_none()
            && self.temperature.is_none()
            && self.stop_sequences.is_empty()
            && self.response_mime_type.is_none()
    }
}

impl<'a> GenerateContentRequest<'a> {
    /// The body for `request`. The model is not part of it; it goes into the
    /// path ([`generate_content_path`]).
    pub fn new(request: &'a CompletionRequest) -> Self {
        let mut system = Vec::new();
        let mut contents = Vec::new();
        for message in &request.messages {
            let role = match message.role {
                MessageRole::System => {
                    system.push(message.content.as_str());
                    continue;
                }
                MessageRole::User => "user",
                MessageRole::Assistant => "model",
            };
            contents.push(Content { role: Some(role), parts: vec![Part { text: Cow::Borrowed(&message.content) }] });
        }
        let system_instruction = match system.as_slice() {
            [] => None,
            [only] => Some(Cow::Borrowed(*only)),
            several => Some(Cow::Owned(several.join("\n\n"))),
        }
        .map(|text| Content { role: None, parts: vec![Part { text }] });
        let generation_config = GenerationConfig {
            max_output_tokens: request.max_tokens,
            temperature: request.temperature,
            stop_sequences: &request.stop,
            response_mime_type: request.json_mode.then_some("application/json"),
        };
        Self {
            contents,
            system_instruction,
            generation_config: (!generation_config.is_empty()).then_some(generation_config),
        }
    }
}

#[cfg(test)]
mod tests {
    use orch_sdk::provider::Message;
    use serde_json::{Value, json};

    use super::*;

    fn body(request: &CompletionRequest) -> Value {
        serde_json::to_value(GenerateContentRequest::new(request)).unwrap()
    }

    fn message(role: MessageRole, content: &str) -> Message {
        Message { role, content: content.into() }
    }

    fn minimal(messages: Vec<Message>) -> CompletionRequest {
        CompletionRequest {
            model: "gemini-2.5-flash".into(),
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
    fn minimal_request_leaves_options_and_system_out() {
        let request = minimal(vec![
            message(MessageRole::User, "hi"),
            message(MessageRole::Assistant, "hello"),
            message(MessageRole::User, "plan it"),
        ]);
        assert_eq!(
            body(&request),
            json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"text": "hello"}]},
                    {"role": "user", "parts": [{"text": "plan it"}]},
                ],
            })
        );
    }

    #[test]
    fn every_option_is_sent_when_set() {
        let request = CompletionRequest {
            model: "gemini-2.5-pro".into(),
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
                "contents": [{"role": "user", "parts": [{"text": "json please"}]}],
                "systemInstruction": {"parts": [{"text": "be terse"}]},
                "generationConfig": {
                    "maxOutputTokens": 256,
                    "temperature": 0.25,
                    "stopSequences": ["\n\n", "END"],
                    "responseMimeType": "application/json",
                },
            })
        );
    }

    #[test]
    fn each_option_alone_makes_a_generation_config() {
        let with = |edit: fn(&mut CompletionRequest)| {
            let mut request = minimal(vec![message(MessageRole::User, "x")]);
            edit(&mut request);
            body(&request)["generationConfig"].clone()
        };
        assert_eq!(with(|r| r.max_tokens = Some(0)), json!({"maxOutputTokens": 0}));
        assert_eq!(with(|r| r.temperature = Some(0.0)), json!({"temperature": 0.0}));
        assert_eq!(with(|r| r.stop = vec!["STOP".into()]), json!({"stopSequences": ["STOP"]}));
        assert_eq!(with(|r| r.json_mode = true), json!({"responseMimeType": "application/json"}));
        assert_eq!(with(|_| {}), Value::Null);
    }

    #[test]
    fn system_messages_join_into_one_instruction_wherever_they_are() {
        let request = minimal(vec![
            message(MessageRole::System, "be terse"),
            message(MessageRole::User, "hi"),
            message(MessageRole::System, "answer in French"),
            message(MessageRole::Assistant, "salut"),
            message(MessageRole::System, "no emoji"),
        ]);
        assert_eq!(
            body(&request),
            json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"text": "salut"}]},
                ],
                "systemInstruction": {"parts": [{"text": "be terse\n\nanswer in French\n\nno emoji"}]},
            })
        );
    }

    #[test]
    fn the_model_goes_into_the_path() {
        assert_eq!(generate_content_path("gemini-2.5-flash").unwrap(), "/models/gemini-2.5-flash:generateContent");
        assert_eq!(
            generate_content_path("models/gemini-2.5-flash-lite-preview-06-17").unwrap(),
            "/models/gemini-2.5-flash-lite-preview-06-17:generateContent"
        );
        assert_eq!(generate_content_path("gemini-1.5-pro-002").unwrap(), "/models/gemini-1.5-pro-002:generateContent");
    }

    #[test]
    fn names_that_are_not_one_model_are_invalid() {
        for bad in [
            "",
            "models/",
            "models/models/x",
            "tunedModels/my-model",
            "gemini/../../files",
            "gemini?key=x",
            "gemini#frag",
            "gemini pro",
            "gemini\t",
            "\ngemini",
            "models/gemini 2",
        ] {
            let e = generate_content_path(bad).unwrap_err();
            assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains(&format!("`{bad}`"))), "{bad:?}: {e:?}");
        }
    }
}
