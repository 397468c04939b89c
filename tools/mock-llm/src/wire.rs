//! The three vendor wire formats: which path speaks which, how each request
//! body becomes a [`MockRequest`], and how a [`MockReply`] is rendered in
//! each vendor's response shape (errors are in `error_reply`).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::reply::{MockReply, MockRequest, StopReason, Vendor};

/// The vendor serving `path` (no query string) and, for Gemini, the model
/// named in it.
pub fn route(path: &str) -> Option<(Vendor, Option<&str>)> {
    match path {
        "/v1/chat/completions" | "/chat/completions" => Some((Vendor::OpenAi, None)),
        "/v1/messages" => Some((Vendor::Anthropic, None)),
        _ => {
            // google-genai builds `{base_url}/{api_version}/models/...`.
            let versioned = ["/v1beta/models/", "/v1/models/", "/v1alpha/models/"];
            let model =
                versioned.iter().find_map(|prefix| path.strip_prefix(prefix))?.strip_suffix(":generateContent")?;
            (!model.is_empty() && !model.contains('/')).then_some((Vendor::Gemini, Some(model)))
        }
    }
}

/// Why the vendor's API would answer a request body with 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

/// The request-specific parts of a [`MockRequest`] read from a body.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The model asked for.
    pub model: String,
    /// System text.
    pub system: Option<String>,
    /// `(role, content)` pairs.
    pub messages: Vec<(String, String)>,
    /// The output token limit.
    pub max_tokens: Option<u64>,
}

/// Message content: a string or a list of typed blocks (OpenAI, Anthropic).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

/// A content block or a Gemini part; only text ones count.
#[derive(Debug, Deserialize)]
struct Block {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

impl Content {
    fn into_text(self) -> String {
        match self {
            Content::Text(text) => text,
            Content::Blocks(blocks) => join_text(blocks),
        }
    }
}

/// The text of the text blocks, joined by newlines.
fn join_text(blocks: Vec<Block>) -> String {
    let texts: Vec<String> =
        blocks.into_iter().filter(|b| b.kind.as_deref().is_none_or(|k| k == "text")).filter_map(|b| b.text).collect();
    texts.join("\n")
}

#[derive(Debug, Deserialize)]
struct OpenAiRequest {
    model: String,
    messages: Vec<OpenAiMessage>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, Deserialize)]
struct OpenAiMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Debug, Deserialize)]
struct AnthropicRequest {
    model: String,
    messages: Vec<AnthropicMessage>,
    max_tokens: u64,
    #[serde(default)]
    system: Option<Content>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, Deserialize)]
struct AnthropicMessage {
    role: String,
    content: Content,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiRequest {
    contents: Vec<GeminiContent>,
    #[serde(default)]
    system_instruction: Option<GeminiContent>,
    #[serde(default)]
    generation_config: Option<GeminiGenerationConfig>,
}

#[derive(Debug, Deserialize)]
struct GeminiContent {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    parts: Vec<Block>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiGenerationConfig {
    #[serde(default)]
    max_output_tokens: Option<u64>,
}

/// Reads `body` as a `vendor` request; `path_model` is the model a Gemini
/// path names. Bodies the real API would reject for their shape (missing
/// model, messages or Anthropic's `max_tokens`, streaming) are rejected.
pub fn parse(vendor: Vendor, path_model: Option<&str>, body: &[u8]) -> Result<Parsed, Rejection> {
    let bad = |e: serde_json::Error| Rejection(format!("invalid {vendor} request body: {e}"));
    let no_streaming = || Rejection("mock-llm does not support streaming; send `stream: false`".to_owned());
    match vendor {
        Vendor::OpenAi => {
            let request: OpenAiRequest = serde_json::from_slice(body).map_err(bad)?;
            if request.stream {
                return Err(no_streaming());
            }
            let mut system = Vec::new();
            let mut messages = Vec::new();
            for message in request.messages {
                let text = message.content.map(Content::into_text).unwrap_or_default();
                match message.role.as_str() {
                    "system" | "developer" => system.push(text),
                    _ => messages.push((message.role, text)),
                }
            }
            Ok(Parsed {
                model: request.model,
                system: (!system.is_empty()).then(|| system.join("\n")),
                messages,
                max_tokens: request.max_completion_tokens.or(request.max_tokens),
            })
        }
        Vendor::Anthropic => {
            let request: AnthropicRequest = serde_json::from_slice(body).map_err(bad)?;
            if request.stream {
                return Err(no_streaming());
            }
            Ok(Parsed {
                model: request.model,
                system: request.system.map(Content::into_text),
                messages: request.messages.into_iter().map(|m| (m.role, m.content.into_text())).collect(),
                max_tokens: Some(request.max_tokens),
            })
        }
        Vendor::Gemini => {
            let request: GeminiRequest = serde_json::from_slice(body).map_err(bad)?;
            let role = |r: Option<String>| match r.as_deref() {
                Some("model") => "assistant".to_owned(),
                _ => "user".to_owned(),
            };
            Ok(Parsed {
                model: path_model.unwrap_or_default().to_owned(),
                system: request.system_instruction.map(|s| join_text(s.parts)),
                messages: request.contents.into_iter().map(|c| (role(c.role), join_text(c.parts))).collect(),
                max_tokens: request.generation_config.and_then(|g| g.max_output_tokens),
            })
        }
    }
}

/// The success body for `reply` to `request`; `id` makes response ids unique.
pub fn render_reply(request: &MockRequest, reply: &MockReply, id: u64) -> Vec<u8> {
    let stop = reply.stop.clone().unwrap_or_else(|| {
        let hit_limit = request.max_tokens.is_some_and(|limit| reply.output_tokens >= limit);
        if hit_limit { StopReason::MaxTokens } else { StopReason::EndTurn }
    });
    let body = match request.vendor {
        Vendor::OpenAi => openai_reply(request, reply, &stop, id),
        Vendor::Anthropic => anthropic_reply(request, reply, &stop, id),
        Vendor::Gemini => gemini_reply(request, reply, &stop, id),
    };
    body.to_string().into_bytes()
}

/// A `chat.completion` with every field the spec requires (`refusal`,
/// `logprobs`, token details), the refusal text in `message.refusal`.
fn openai_reply(request: &MockRequest, reply: &MockReply, stop: &StopReason, id: u64) -> Value {
    let (content, refusal) = match stop {
        StopReason::Refusal => (Value::Null, Value::from(reply.text.as_str())),
        _ => (Value::from(reply.text.as_str()), Value::Null),
    };
    let finish_reason = match stop {
        StopReason::EndTurn | StopReason::Refusal => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ContentFilter => "content_filter",
        StopReason::Other(reason) => reason,
    };
    let mut prompt_details = json!({"cached_tokens": reply.cached_input_tokens, "audio_tokens": 0});
    if reply.cache_write_input_tokens > 0 {
        prompt_details["cache_write_tokens"] = reply.cache_write_input_tokens.into();
    }
    json!({
        "id": format!("chatcmpl-mock-{id}"),
        "object": "chat.completion",
        "created": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "model": request.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
            "prompt_tokens_details": prompt_details,
            "completion_tokens_details": {
                "reasoning_tokens": reply.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": null,
    })
}

/// A Messages `message`; `input_tokens` leaves out cache reads and writes,
/// and a refusal has `stop_details`.
fn anthropic_reply(request: &MockRequest, reply: &MockReply, stop: &StopReason, id: u64) -> Value {
    let stop_reason = match stop {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::Refusal | StopReason::ContentFilter => "refusal",
        StopReason::Other(reason) => reason,
    };
    let refused = stop_reason == "refusal";
    let content =
        if reply.text.is_empty() && refused { json!([]) } else { json!([{"type": "text", "text": reply.text}]) };
    let stop_details =
        if refused { json!({"type": "refusal", "category": null, "explanation": null}) } else { Value::Null };
    let written = reply.cache_write_input_tokens;
    let mut usage = json!({
        "input_tokens": reply.input_tokens.saturating_sub(reply.cached_input_tokens).saturating_sub(written),
        "output_tokens": reply.output_tokens,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": reply.cached_input_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": written, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
    });
    if reply.reasoning_tokens > 0 {
        usage["output_tokens_details"] = json!({"thinking_tokens": reply.reasoning_tokens});
    }
    json!({
        "id": format!("msg_mock_{id}"),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "stop_details": stop_details,
        "usage": usage,
    })
}

/// A `GenerateContentResponse`. Zero counts are left out, as the API's
/// proto JSON does; `candidatesTokenCount` leaves out the thoughts. A
/// `SAFETY` candidate has blocking safety ratings and no content unless the
/// reply has text.
fn gemini_reply(request: &MockRequest, reply: &MockReply, stop: &StopReason, id: u64) -> Value {
    let finish_reason = match stop {
        StopReason::EndTurn => "STOP",
        StopReason::MaxTokens => "MAX_TOKENS",
        StopReason::Refusal | StopReason::ContentFilter => "SAFETY",
        StopReason::Other(reason) => reason,
    };
    let mut candidate = json!({"finishReason": finish_reason, "index": 0});
    let blocked = finish_reason == "SAFETY";
    if blocked {
        candidate["safetyRatings"] =
            json!([{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]);
    }
    if !(reply.text.is_empty() && blocked) {
        candidate["content"] = json!({"role": "model", "parts": [{"text": reply.text}]});
    }
    let mut usage = json!({
        "promptTokenCount": reply.input_tokens,
        "candidatesTokenCount": reply.output_tokens.saturating_sub(reply.reasoning_tokens),
        "totalTokenCount": reply.input_tokens + reply.output_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.input_tokens}],
    });
    if reply.cached_input_tokens > 0 {
        usage["cachedContentTokenCount"] = reply.cached_input_tokens.into();
    }
    if reply.reasoning_tokens > 0 {
        usage["thoughtsTokenCount"] = reply.reasoning_tokens.into();
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": request.model,
        "responseId": format!("mock-{id}"),
    })
}

/// A 200 body that is not JSON, for [`Fault::Malformed`](crate::Fault::Malformed).
pub const MALFORMED_BODY: &[u8] = b"{\"id\": \"mock\", \"choices\": [{\"message\": <<not json>>";

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn value(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    fn request(vendor: Vendor, parsed: Parsed) -> MockRequest {
        MockRequest {
            vendor,
            model: parsed.model,
            system: parsed.system,
            messages: parsed.messages,
            max_tokens: parsed.max_tokens,
            headers: Vec::new(),
            path: String::new(),
            query: String::new(),
            raw_body: Vec::new(),
        }
    }

    #[test]
    fn paths_route_to_vendors() {
        assert_eq!(route("/v1/chat/completions"), Some((Vendor::OpenAi, None)));
        assert_eq!(route("/chat/completions"), Some((Vendor::OpenAi, None)));
        assert_eq!(route("/v1/messages"), Some((Vendor::Anthropic, None)));
        assert_eq!(
            route("/v1beta/models/gemini-2.5-flash:generateContent"),
            Some((Vendor::Gemini, Some("gemini-2.5-flash")))
        );
        assert_eq!(route("/v1/models/g:generateContent"), Some((Vendor::Gemini, Some("g"))));
        assert_eq!(route("/v1beta/models/:generateContent"), None);
        assert_eq!(route("/v1beta/v1beta/models/g:generateContent"), None);
        assert_eq!(route("/v1beta/models/x:streamGenerateContent"), None);
        assert_eq!(route("/v1/completions"), None);
    }

    #[test]
    fn openai_requests_normalise() {
        let body = br#"{"model": "gpt-4o", "max_tokens": 9, "messages": [
            {"role": "system", "content": "sys one"},
            {"role": "developer", "content": [{"type": "text", "text": "sys two"}]},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}},
                                         {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": null}
        ]}"#;
        let parsed = parse(Vendor::OpenAi, None, body).unwrap();
        assert_eq!(
            parsed,
            Parsed {
                model: "gpt-4o".into(),
                system: Some("sys one\nsys two".into()),
                messages: vec![("user".into(), "a\nb".into()), ("assistant".into(), String::new())],
                max_tokens: Some(9),
            }
        );
        assert!(parse(Vendor::OpenAi, None, br#"{"messages": []}"#).unwrap_err().0.contains("model"));
        let stream = br#"{"model": "m", "messages": [], "stream": true}"#;
        assert!(parse(Vendor::OpenAi, None, stream).unwrap_err().0.contains("streaming"));
    }

    #[test]
    fn anthropic_requests_normalise_and_need_max_tokens() {
        let body = br#"{"model": "claude", "max_tokens": 100, "system": [{"type": "text", "text": "be kind"}],
            "messages": [{"role": "user", "content": "hi"},
                         {"role": "assistant", "content": [{"type": "text", "text": "yo"}]}]}"#;
        let parsed = parse(Vendor::Anthropic, None, body).unwrap();
        assert_eq!(parsed.system.as_deref(), Some("be kind"));
        assert_eq!(parsed.messages, vec![("user".into(), "hi".into()), ("assistant".into(), "yo".into())]);
        assert_eq!(parsed.max_tokens, Some(100));
        let missing = br#"{"model": "claude", "messages": []}"#;
        assert!(parse(Vendor::Anthropic, None, missing).unwrap_err().0.contains("max_tokens"));
    }

    #[test]
    fn gemini_requests_normalise() {
        let body = br#"{"systemInstruction": {"parts": [{"text": "sys"}]},
            "contents": [{"role": "user", "parts": [{"text": "q1"}, {"text": "q2"}]},
                         {"role": "model", "parts": [{"text": "a"}]}],
            "generationConfig": {"maxOutputTokens": 5, "temperature": 0.1}}"#;
        let parsed = parse(Vendor::Gemini, Some("gemini-pro"), body).unwrap();
        assert_eq!(
            parsed,
            Parsed {
                model: "gemini-pro".into(),
                system: Some("sys".into()),
                messages: vec![("user".into(), "q1\nq2".into()), ("assistant".into(), "a".into())],
                max_tokens: Some(5),
            }
        );
    }

    #[test]
    fn replies_render_per_vendor() {
        let reply = MockReply {
            text: "hi".into(),
            input_tokens: 10,
            output_tokens: 2,
            cached_input_tokens: 4,
            ..MockReply::default()
        };
        let parsed = || Parsed { model: "m".into(), ..Parsed::default() };
        let openai = value(&render_reply(&request(Vendor::OpenAi, parsed()), &reply, 1));
        assert_eq!(
            openai["choices"][0],
            json!({"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": null, "annotations": []},
                   "logprobs": null, "finish_reason": "stop"})
        );
        assert_eq!(
            openai["usage"],
            json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
                   "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                 "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}})
        );
        let anthropic = value(&render_reply(&request(Vendor::Anthropic, parsed()), &reply, 1));
        assert_eq!(anthropic["content"], json!([{"type": "text", "text": "hi"}]));
        assert_eq!((&anthropic["stop_reason"], &anthropic["stop_details"]), (&json!("end_turn"), &Value::Null));
        assert_eq!(
            anthropic["usage"],
            json!({"input_tokens": 6, "output_tokens": 2, "cache_read_input_tokens": 4, "cache_creation_input_tokens": 0,
                   "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                   "service_tier": "standard"})
        );
        let gemini = value(&render_reply(&request(Vendor::Gemini, parsed()), &reply, 1));
        assert_eq!(
            gemini["candidates"][0],
            json!({"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP", "index": 0})
        );
        assert_eq!(
            gemini["usageMetadata"],
            json!({"promptTokenCount": 10, "candidatesTokenCount": 2, "totalTokenCount": 12, "cachedContentTokenCount": 4,
                   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}]})
        );
        assert_eq!(gemini["modelVersion"], "m");
    }

    #[test]
    fn cache_writes_and_reasoning_are_reported_per_vendor() {
        let reply = MockReply {
            text: "ok".into(),
            input_tokens: 100,
            output_tokens: 30,
            cached_input_tokens: 40,
            cache_write_input_tokens: 50,
            reasoning_tokens: 20,
            ..MockReply::default()
        };
        let render = |vendor| value(&render_reply(&request(vendor, Parsed::default()), &reply, 1));
        let openai = render(Vendor::OpenAi);
        assert_eq!(openai["usage"]["prompt_tokens_details"]["cache_write_tokens"], 50);
        assert_eq!(openai["usage"]["completion_tokens_details"]["reasoning_tokens"], 20);
        let anthropic = render(Vendor::Anthropic)["usage"].clone();
        assert_eq!(anthropic["input_tokens"], 10);
        assert_eq!(anthropic["cache_creation_input_tokens"], 50);
        assert_eq!(anthropic["cache_creation"]["ephemeral_5m_input_tokens"], 50);
        assert_eq!(anthropic["output_tokens_details"], json!({"thinking_tokens": 20}));
        let gemini = render(Vendor::Gemini)["usageMetadata"].clone();
        assert_eq!((&gemini["candidatesTokenCount"], &gemini["thoughtsTokenCount"]), (&json!(10), &json!(20)));
        assert_eq!(gemini["totalTokenCount"], 130);
    }

    #[test]
    fn reaching_max_tokens_changes_the_stop_reason() {
        let reply = MockReply { text: "a b".into(), input_tokens: 1, output_tokens: 2, ..MockReply::default() };
        let limited = |vendor| request(vendor, Parsed { max_tokens: Some(2), ..Parsed::default() });
        assert_eq!(value(&render_reply(&limited(Vendor::OpenAi), &reply, 0))["choices"][0]["finish_reason"], "length");
        assert_eq!(value(&render_reply(&limited(Vendor::Anthropic), &reply, 0))["stop_reason"], "max_tokens");
        assert_eq!(
            value(&render_reply(&limited(Vendor::Gemini), &reply, 0))["candidates"][0]["finishReason"],
            "MAX_TOKENS"
        );
        // A responder's choice wins over the derived one.
        let chosen = MockReply { stop: Some(StopReason::EndTurn), ..reply };
        assert_eq!(value(&render_reply(&limited(Vendor::Anthropic), &chosen, 0))["stop_reason"], "end_turn");
    }

    /// What each vendor's reply says for each stop reason:
    /// (OpenAI finish_reason, Anthropic stop_reason, Gemini finishReason).
    #[test]
    fn a_responder_chooses_the_stop_reason() {
        let cases = [
            (StopReason::EndTurn, ["stop", "end_turn", "STOP"]),
            (StopReason::MaxTokens, ["length", "max_tokens", "MAX_TOKENS"]),
            (StopReason::Refusal, ["stop", "refusal", "SAFETY"]),
            (StopReason::ContentFilter, ["content_filter", "refusal", "SAFETY"]),
            (StopReason::Other("tool_calls".into()), ["tool_calls", "tool_calls", "tool_calls"]),
        ];
        for (stop, [openai, anthropic, gemini]) in cases {
            let reply = MockReply { text: "x".into(), stop: Some(stop.clone()), ..MockReply::default() };
            let render = |vendor| value(&render_reply(&request(vendor, Parsed::default()), &reply, 0));
            assert_eq!(render(Vendor::OpenAi)["choices"][0]["finish_reason"], openai, "{stop:?}");
            assert_eq!(render(Vendor::Anthropic)["stop_reason"], anthropic, "{stop:?}");
            assert_eq!(render(Vendor::Gemini)["candidates"][0]["finishReason"], gemini, "{stop:?}");
        }
    }

    #[test]
    fn a_refusal_is_rendered_as_each_vendor_refuses() {
        let reply = MockReply {
            text: "I can't help with that.".into(),
            stop: Some(StopReason::Refusal),
            ..MockReply::default()
        };
        let render = |vendor| value(&render_reply(&request(vendor, Parsed::default()), &reply, 0));
        let openai = render(Vendor::OpenAi);
        assert_eq!(
            openai["choices"][0]["message"],
            json!({"role": "assistant", "content": null, "refusal": "I can't help with that.", "annotations": []})
        );
        let anthropic = render(Vendor::Anthropic);
        assert_eq!(anthropic["content"][0]["text"], "I can't help with that.");
        assert_eq!(anthropic["stop_details"], json!({"type": "refusal", "category": null, "explanation": null}));
        let gemini = render(Vendor::Gemini);
        assert_eq!(gemini["candidates"][0]["safetyRatings"][0]["blocked"], true);
        assert_eq!(gemini["candidates"][0]["content"]["parts"][0]["text"], "I can't help with that.");

        let silent = MockReply { stop: Some(StopReason::ContentFilter), ..MockReply::default() };
        let render = |vendor| value(&render_reply(&request(vendor, Parsed::default()), &silent, 0));
        assert_eq!(render(Vendor::Anthropic)["content"], json!([]));
        assert_eq!(render(Vendor::Gemini)["candidates"][0].get("content"), None);
        assert_eq!(render(Vendor::OpenAi)["choices"][0]["message"]["content"], "");
    }

    #[test]
    fn json_text_comes_back_unchanged() {
        let text = r#"{"verdict": "approved", "summary": "ok \u00e9 \"quoted\"\n"}"#;
        let reply = MockReply { text: text.into(), ..MockReply::default() };
        let render = |vendor| value(&render_reply(&request(vendor, Parsed::default()), &reply, 0));
        assert_eq!(render(Vendor::OpenAi)["choices"][0]["message"]["content"], text);
        assert_eq!(render(Vendor::Anthropic)["content"][0]["text"], text);
        assert_eq!(render(Vendor::Gemini)["candidates"][0]["content"]["parts"][0]["text"], text);
        assert!(serde_json::from_slice::<Value>(MALFORMED_BODY).is_err());
    }
}
