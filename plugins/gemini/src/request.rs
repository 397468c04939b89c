//! The request side of the wire mapping: the model name as the path
//! `/models/{model}:generateContent`, and a [`CompletionRequest`] as the JSON
//! body of that request, shaped by what the model's family accepts
//! ([`crate::models`]).
//!
//! The API rejects a content without parts or with an empty text part, so
//! empty messages are left out and the turns around them, now of the same
//! role, merged into one content of several parts.

use std::borrow::Cow;

use orch_sdk::PluginError;
use orch_sdk::api::response_schema;
use orch_sdk::provider::{CompletionRequest, MessageRole};
use serde::Serialize;
use serde_json::Value;

use crate::models::{ModelParams, ThinkingChoice, ThinkingLevel};

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
    /// The user and model turns, oldest first, none empty, roles alternating.
    pub contents: Vec<Content<'a>>,
    /// Every non-empty system message, joined by a blank line; left out when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content<'a>>,
    /// The options; left out when none is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig<'a>>,
}

/// One turn of the conversation, or the system instruction.
#[derive(Debug, Serialize)]
pub struct Content<'a> {
    /// `user` or `model`; `user` for the system instruction too, as the
    /// google-genai SDK sends it (the API ignores it there).
    pub role: &'static str,
    /// The turn's text: one part per message merged into it.
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
    /// Most tokens to generate, thinking included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature; only for models that take one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop_sequences: &'a [String],
    /// `application/json` in JSON mode or with a schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<&'static str>,
    /// The response schema, as JSON Schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_json_schema: Option<Value>,
    /// The bound on thinking, for JSON answers of families that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_config: Option<ThinkingConfig>,
}

/// The `thinkingConfig` object, with the API's documented (camelCase) field
/// names; google-genai 3.6.1 sends `thinking_budget`, which the API also
/// reads, as it reads every proto field under either name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    /// Thinking tokens at most (0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<u32>,
    /// How much to think (Gemini 3 and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_level: Option<&'static str>,
}

impl From<ThinkingChoice> for ThinkingConfig {
    fn from(choice: ThinkingChoice) -> Self {
        match choice {
            ThinkingChoice::Budget(budget) => Self { thinking_budget: Some(budget), thinking_level: None },
            ThinkingChoice::Level(level) => Self { thinking_budget: None, thinking_level: Some(level.name()) },
        }
    }
}

impl GenerationConfig<'_> {
    /// True when no option is set, so the object can be left out.
    fn is_empty(&self) -> bool {
        self.max_output_tokens.is_none()
            && self.temperature.is_none()
            && self.stop_sequences.is_empty()
            && self.response_mime_type.is_none()
            && self.response_json_schema.is_none()
            && self.thinking_config.is_none()
    }
}

/// How the thinking of a JSON answer is bounded, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThinkingSettings {
    /// The budget for families bounded by one (moved into the family's range).
    pub budget: u32,
    /// The level for families bounded by one.
    pub level: ThinkingLevel,
}

impl<'a> GenerateContentRequest<'a> {
    /// The body for `request` to a model with `params`. The model is not part
    /// of it; it goes into the path ([`generate_content_path`]). A request
    /// with no non-empty user or assistant message, or with a response schema
    /// that is not a JSON object, is `invalid-input`.
    pub fn new(
        request: &'a CompletionRequest,
        params: ModelParams,
        thinking: ThinkingSettings,
    ) -> Result<Self, PluginError> {
        let mut system = Vec::new();
        let mut contents: Vec<Content<'a>> = Vec::new();
        for message in request.messages.iter().filter(|m| !m.content.trim().is_empty()) {
            let role = match message.role {
                MessageRole::System => {
                    system.push(message.content.as_str());
                    continue;
                }
                MessageRole::User => "user",
                MessageRole::Assistant => "model",
            };
            let part = Part { text: Cow::Borrowed(&message.content) };
            match contents.last_mut() {
                Some(last) if last.role == role => last.parts.push(part),
                _ => contents.push(Content { role, parts: vec![part] }),
            }
        }
        if contents.is_empty() {
            return Err(PluginError::InvalidInput(
                "the request has no user or assistant message with text; the Gemini API needs one".into(),
            ));
        }
        let system_instruction = match system.as_slice() {
            [] => None,
            [only] => Some(Cow::Borrowed(*only)),
            several => Some(Cow::Owned(several.join("\n\n"))),
        }
        .map(|text| Content { role: "user", parts: vec![Part { text }] });
        let schema = response_schema(request)?;
        let json = request.json_mode || schema.is_some();
        let generation_config = GenerationConfig {
            max_output_tokens: request.max_tokens,
            temperature: request.temperature.filter(|_| params.temperature),
            stop_sequences: &request.stop,
            response_mime_type: json.then_some("application/json"),
            response_json_schema: schema,
            thinking_config: json
                .then(|| params.thinking_for_json(thinking.budget, thinking.level))
                .flatten()
                .map(ThinkingConfig::from),
        };
        Ok(Self {
            contents,
            system_instruction,
            generation_config: (!generation_config.is_empty()).then_some(generation_config),
        })
    }
}

#[cfg(test)]
mod tests {
    use orch_sdk::provider::Message;
    use serde_json::json;

    use super::*;
    use crate::models::{DEFAULT_THINKING_BUDGET, params};

    const SCHEMA: &str = r#"{"type": "object", "properties": {"ok": {"type": "boolean"}},
                             "required": ["ok"], "additionalProperties": false}"#;
    const THINKING: ThinkingSettings = ThinkingSettings { budget: DEFAULT_THINKING_BUDGET, level: ThinkingLevel::Low };

    fn body(request: &CompletionRequest) -> Value {
        serde_json::to_value(GenerateContentRequest::new(request, params(&request.model), THINKING).unwrap()).unwrap()
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

    fn full(model: &str) -> CompletionRequest {
        CompletionRequest {
            model: model.into(),
            messages: vec![message(MessageRole::System, "be terse"), message(MessageRole::User, "json please")],
            max_tokens: Some(256),
            temperature: Some(0.25),
            stop: vec!["\n\n".into(), "END".into()],
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
    fn a_plain_request_sends_every_option_and_no_thinking_config() {
        assert_eq!(
            body(&full("gemini-2.5-pro")),
            json!({
                "contents": [{"role": "user", "parts": [{"text": "json please"}]}],
                "systemInstruction": {"role": "user", "parts": [{"text": "be terse"}]},
                "generationConfig": {
                    "maxOutputTokens": 256,
                    "temperature": 0.25,
                    "stopSequences": ["\n\n", "END"],
                },
            })
        );
    }

    #[test]
    fn json_mode_asks_for_json_and_bounds_thinking() {
        let request = CompletionRequest { json_mode: true, ..full("gemini-2.5-pro") };
        assert_eq!(
            body(&request)["generationConfig"],
            json!({
                "maxOutputTokens": 256,
                "temperature": 0.25,
                "stopSequences": ["\n\n", "END"],
                "responseMimeType": "application/json",
                "thinkingConfig": {"thinkingBudget": 512},
            })
        );
    }

    #[test]
    fn a_schema_goes_in_response_json_schema() {
        for json_mode in [false, true] {
            let request =
                CompletionRequest { json_mode, response_schema: Some(SCHEMA.into()), ..full("gemini-2.5-flash") };
            assert_eq!(
                body(&request)["generationConfig"],
                json!({
                    "maxOutputTokens": 256,
                    "temperature": 0.25,
                    "stopSequences": ["\n\n", "END"],
                    "responseMimeType": "application/json",
                    "responseJsonSchema": serde_json::from_str::<Value>(SCHEMA).unwrap(),
                    "thinkingConfig": {"thinkingBudget": 512},
                })
            );
        }
        let bad = CompletionRequest { response_schema: Some("{".into()), ..full("gemini-2.5-flash") };
        let err = GenerateContentRequest::new(&bad, params(&bad.model), THINKING).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("response schema")), "{err:?}");
    }

    #[test]
    fn thinking_follows_the_family() {
        let thinking = |model: &str, budget: u32| {
            let request = CompletionRequest { json_mode: true, ..full(model) };
            let settings = ThinkingSettings { budget, level: ThinkingLevel::Low };
            let body = GenerateContentRequest::new(&request, params(model), settings).unwrap();
            serde_json::to_value(body).unwrap()["generationConfig"].get("thinkingConfig").cloned()
        };
        assert_eq!(thinking("gemini-2.5-pro", 0), Some(json!({"thinkingBudget": 128})));
        assert_eq!(thinking("gemini-2.5-flash", 0), Some(json!({"thinkingBudget": 0})));
        assert_eq!(thinking("gemini-2.5-flash-lite", 100), Some(json!({"thinkingBudget": 512})));
        assert_eq!(thinking("gemini-3-pro-preview", 512), Some(json!({"thinkingLevel": "LOW"})));
        assert_eq!(thinking("gemini-3.8-flash", 512), Some(json!({"thinkingLevel": "LOW"})));
        assert_eq!(thinking("gemini-2.0-flash", 512), None);
        assert_eq!(thinking("gemma-3-27b-it", 512), None);
    }

    #[test]
    fn models_that_ignore_a_temperature_get_none() {
        assert_eq!(body(&full("gemini-3.5-flash"))["generationConfig"].get("temperature"), None);
        assert_eq!(body(&full("gemini-3-flash"))["generationConfig"]["temperature"], 0.25);
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
        assert_eq!(
            with(|r| r.json_mode = true),
            json!({"responseMimeType": "application/json", "thinkingConfig": {"thinkingBudget": 512}})
        );
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
                "systemInstruction": {"role": "user", "parts": [{"text": "be terse\n\nanswer in French\n\nno emoji"}]},
            })
        );
    }

    #[test]
    fn empty_messages_are_left_out_and_same_role_turns_merged() {
        // After an empty reply the host asks again: user, (empty) model, user.
        let request = minimal(vec![
            message(MessageRole::System, " "),
            message(MessageRole::User, "plan it"),
            message(MessageRole::Assistant, ""),
            message(MessageRole::User, "your last answer was empty; plan it"),
            message(MessageRole::Assistant, "{}"),
            message(MessageRole::Assistant, "\n"),
            message(MessageRole::User, "again"),
        ]);
        assert_eq!(
            body(&request),
            json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "plan it"}, {"text": "your last answer was empty; plan it"}]},
                    {"role": "model", "parts": [{"text": "{}"}]},
                    {"role": "user", "parts": [{"text": "again"}]},
                ],
            })
        );
    }

    #[test]
    fn a_request_with_nothing_to_say_is_invalid_input() {
        for messages in [vec![], vec![message(MessageRole::System, "x"), message(MessageRole::User, "\t")]] {
            let request = minimal(messages);
            let err = GenerateContentRequest::new(&request, params(&request.model), THINKING).unwrap_err();
            assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("no user or assistant")), "{err:?}");
        }
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
