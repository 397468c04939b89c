//! The three vendor wire formats: which path speaks which, how each request
//! body becomes a [`MockRequest`], and how a [`MockReply`] or an error is
//! rendered in each vendor's response shape.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::json;

use crate::reply::{MockReply, MockRequest, Vendor};

/// The vendor serving `path` (no query string) and, for Gemini, the model
/// named in it.
pub fn route(path: &str) -> Option<(Vendor, Option<&str>)> {
    match path {
        "/v1/chat/completions" | "/chat/completions" => Some((Vendor::OpenAi, None)),
        "/v1/messages" => Some((Vendor::Anthropic, None)),
        _ => {
            let model = path.strip_prefix("/v1beta/models/")?.strip_suffix(":generateContent")?;
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
    let hit_limit = request.max_tokens.is_some_and(|limit| reply.output_tokens >= limit);
    let body = match request.vendor {
        Vendor::OpenAi => json!({
            "id": format!("chatcmpl-mock-{id}"),
            "object": "chat.completion",
            "created": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            "model": request.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": if hit_limit { "length" } else { "stop" },
            }],
            "usage": {
                "prompt_tokens": reply.input_tokens,
                "completion_tokens": reply.output_tokens,
                "total_tokens": reply.input_tokens + reply.output_tokens,
                "prompt_tokens_details": {"cached_tokens": reply.cached_input_tokens},
            },
        }),
        Vendor::Anthropic => json!({
            "id": format!("msg_mock_{id}"),
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": [{"type": "text", "text": reply.text}],
            "stop_reason": if hit_limit { "max_tokens" } else { "end_turn" },
            "stop_sequence": null,
            "usage": {
                "input_tokens": reply.input_tokens.saturating_sub(reply.cached_input_tokens),
                "output_tokens": reply.output_tokens,
                "cache_read_input_tokens": reply.cached_input_tokens,
                "cache_creation_input_tokens": 0,
            },
        }),
        Vendor::Gemini => json!({
            "candidates": [{
                "content": {"role": "model", "parts": [{"text": reply.text}]},
                "finishReason": if hit_limit { "MAX_TOKENS" } else { "STOP" },
                "index": 0,
            }],
            "usageMetadata": {
                "promptTokenCount": reply.input_tokens,
                "candidatesTokenCount": reply.output_tokens,
                "totalTokenCount": reply.input_tokens + reply.output_tokens,
                "cachedContentTokenCount": reply.cached_input_tokens,
            },
            "modelVersion": request.model,
            "responseId": format!("mock-{id}"),
        }),
    };
    body.to_string().into_bytes()
}

/// An error body in `vendor`'s shape; every shape has `error.message`, and
/// OpenAI's and Anthropic's have `error.type`. `None` (no vendor) uses
/// OpenAI's.
pub fn render_error(vendor: Option<Vendor>, status: u16, message: &str) -> Vec<u8> {
    let body = match vendor {
        Some(Vendor::OpenAi) | None => json!({
            "error": {"message": message, "type": openai_error_type(status), "param": null, "code": null},
        }),
        Some(Vendor::Anthropic) => json!({
            "type": "error",
            "error": {"type": anthropic_error_type(status), "message": message},
        }),
        Some(Vendor::Gemini) => json!({
            "error": {"code": status, "message": message, "status": gemini_status(status)},
        }),
    };
    body.to_string().into_bytes()
}

/// The message of an injected error with no body of its own.
pub fn fault_message(status: u16) -> String {
    format!("mock-llm injected HTTP {status}")
}

fn openai_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_exceeded",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

fn gemini_status(status: u16) -> &'static str {
    match status {
        400 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 | 408 => "DEADLINE_EXCEEDED",
        500..=599 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
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
        assert_eq!(route("/v1beta/models/:generateContent"), None);
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
        let reply = MockReply { text: "hi".into(), input_tokens: 10, output_tokens: 2, cached_input_tokens: 4 };
        let parsed = || Parsed { model: "m".into(), ..Parsed::default() };
        let openai = value(&render_reply(&request(Vendor::OpenAi, parsed()), &reply, 1));
        assert_eq!(openai["choices"][0]["message"]["content"], "hi");
        assert_eq!(openai["choices"][0]["finish_reason"], "stop");
        assert_eq!(openai["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
        let anthropic = value(&render_reply(&request(Vendor::Anthropic, parsed()), &reply, 1));
        assert_eq!(anthropic["content"][0]["text"], "hi");
        assert_eq!(
            anthropic["usage"],
            json!({"input_tokens": 6, "output_tokens": 2,
            "cache_read_input_tokens": 4, "cache_creation_input_tokens": 0})
        );
        let gemini = value(&render_reply(&request(Vendor::Gemini, parsed()), &reply, 1));
        assert_eq!(gemini["candidates"][0]["content"]["parts"][0]["text"], "hi");
        assert_eq!(gemini["usageMetadata"]["cachedContentTokenCount"], 4);
        assert_eq!(gemini["modelVersion"], "m");
    }

    #[test]
    fn reaching_max_tokens_changes_the_stop_reason() {
        let reply = MockReply { text: "a b".into(), input_tokens: 1, output_tokens: 2, cached_input_tokens: 0 };
        let limited = |vendor| request(vendor, Parsed { max_tokens: Some(2), ..Parsed::default() });
        assert_eq!(value(&render_reply(&limited(Vendor::OpenAi), &reply, 0))["choices"][0]["finish_reason"], "length");
        assert_eq!(value(&render_reply(&limited(Vendor::Anthropic), &reply, 0))["stop_reason"], "max_tokens");
        assert_eq!(
            value(&render_reply(&limited(Vendor::Gemini), &reply, 0))["candidates"][0]["finishReason"],
            "MAX_TOKENS"
        );
    }

    #[test]
    fn errors_render_per_vendor() {
        let openai = value(&render_error(Some(Vendor::OpenAi), 401, "bad key"));
        assert_eq!(openai["error"]["message"], "bad key");
        assert_eq!(openai["error"]["type"], "authentication_error");
        let anthropic = value(&render_error(Some(Vendor::Anthropic), 529, "busy"));
        assert_eq!(anthropic, json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}));
        let gemini = value(&render_error(Some(Vendor::Gemini), 429, "slow down"));
        assert_eq!(gemini, json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}));
        assert!(serde_json::from_slice::<Value>(MALFORMED_BODY).is_err());
    }
}
