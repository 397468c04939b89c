//! What a responder sees and returns: the vendor-neutral [`MockRequest`], the
//! [`MockReply`] the server renders in the caller's wire format (with the
//! [`StopReason`] it ends with), and the default responder that echoes the
//! last user message.

use std::fmt;
use std::sync::Arc;

/// The wire format a request arrived in, chosen by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// OpenAI Chat Completions: `POST /v1/chat/completions` (or `/chat/completions`).
    OpenAi,
    /// Anthropic Messages: `POST /v1/messages`.
    Anthropic,
    /// Gemini: `POST /v1beta/models/{model}:generateContent`.
    Gemini,
}

impl Vendor {
    /// Every vendor, for tests that cover them all.
    pub const ALL: [Vendor; 3] = [Vendor::OpenAi, Vendor::Anthropic, Vendor::Gemini];

    /// The path a client's base URL ends with, e.g. `/v1` for OpenAI.
    pub fn base_path(self) -> &'static str {
        match self {
            Vendor::OpenAi => "/v1",
            Vendor::Anthropic => "",
            Vendor::Gemini => "/v1beta",
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Vendor::OpenAi => "openai",
            Vendor::Anthropic => "anthropic",
            Vendor::Gemini => "gemini",
        })
    }
}

/// A request normalised across vendors.
///
/// Roles are `user` and `assistant` (Gemini's `model` becomes `assistant`);
/// system text, wherever the vendor puts it (OpenAI `system`/`developer`
/// messages, Anthropic `system`, Gemini `systemInstruction`), is in `system`,
/// several parts joined by newlines. Content given as blocks or parts is
/// reduced to its text parts, joined by newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockRequest {
    /// Which wire format the request used.
    pub vendor: Vendor,
    /// The model asked for (Gemini: from the path).
    pub model: String,
    /// System instructions, if any.
    pub system: Option<String>,
    /// `(role, content)` pairs, oldest first, system messages excluded.
    pub messages: Vec<(String, String)>,
    /// The output token limit, if the request set one (`max_tokens`,
    /// `max_completion_tokens`, `generationConfig.maxOutputTokens`).
    pub max_tokens: Option<u64>,
    /// The request headers in the order received.
    pub headers: Vec<(String, String)>,
    /// The request path, without the query string.
    pub path: String,
    /// The query string without `?`, empty when none.
    pub query: String,
    /// The body exactly as received (de-chunked).
    pub raw_body: Vec<u8>,
}

impl MockRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The content of the last `user` message, if there is one.
    pub fn last_user_message(&self) -> Option<&str> {
        self.messages.iter().rev().find(|(role, _)| role == "user").map(|(_, content)| content.as_str())
    }
}

/// What the model "says". The server renders it in the request's wire format.
///
/// The text is sent as is (a JSON document in it comes back byte for byte,
/// inside the vendor's string field). The stop reason is `stop` when set;
/// otherwise it is derived: [`StopReason::MaxTokens`] when the request set a
/// limit and `output_tokens` reached it, [`StopReason::EndTurn`] otherwise.
///
/// Build one with struct update syntax so new fields keep their defaults:
/// `MockReply { text, output_tokens: 3, ..MockReply::default() }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockReply {
    /// The generated text (for [`StopReason::Refusal`], the refusal).
    pub text: String,
    /// Prompt tokens, cached ones included (Anthropic's `input_tokens` is
    /// reported without the cached and cache-written ones, as the real API
    /// does).
    pub input_tokens: u64,
    /// Generated tokens, reasoning included.
    pub output_tokens: u64,
    /// Prompt tokens served from the cache, a subset of `input_tokens`.
    pub cached_input_tokens: u64,
    /// Prompt tokens written to the cache, a subset of `input_tokens`:
    /// Anthropic's `cache_creation_input_tokens`, OpenAI's
    /// `prompt_tokens_details.cache_write_tokens` (sent when not zero);
    /// Gemini has no such count.
    pub cache_write_input_tokens: u64,
    /// Output tokens spent thinking, a subset of `output_tokens`: OpenAI's
    /// `completion_tokens_details.reasoning_tokens`, Anthropic's
    /// `output_tokens_details.thinking_tokens` (sent when not zero), Gemini's
    /// `thoughtsTokenCount` (which `candidatesTokenCount` leaves out).
    pub reasoning_tokens: u64,
    /// How the reply ends; `None` derives it from the token counts.
    pub stop: Option<StopReason>,
}

/// How a reply ends, rendered as each vendor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// A natural end: OpenAI `stop`, Anthropic `end_turn`, Gemini `STOP`.
    EndTurn,
    /// The output limit was reached: `length`, `max_tokens`, `MAX_TOKENS`.
    MaxTokens,
    /// The model declines; the reply's text is what it says instead.
    /// OpenAI: `message.refusal` is the text, `message.content` is null and
    /// `finish_reason` is `stop`. Anthropic: `stop_reason: "refusal"` with
    /// `stop_details: {"type": "refusal", ...}` and the text as content.
    /// Gemini, which has no refusal of its own: `finishReason: "SAFETY"`.
    Refusal,
    /// A safety filter stopped the answer: OpenAI `content_filter`,
    /// Anthropic `refusal`, Gemini `SAFETY`.
    ContentFilter,
    /// The vendor's own value, sent as is (say `tool_calls`, `pause_turn`
    /// or `RECITATION`); the responder picks it per `request.vendor`.
    Other(String),
}

impl std::str::FromStr for StopReason {
    type Err = String;

    /// A stop reason by name, as the `mock-llm` command line takes it:
    /// `end_turn`, `max_tokens`, `refusal`, `content_filter`, or
    /// `other:VALUE` for the vendor's own value.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "end_turn" => Ok(Self::EndTurn),
            "max_tokens" => Ok(Self::MaxTokens),
            "refusal" => Ok(Self::Refusal),
            "content_filter" => Ok(Self::ContentFilter),
            _ => match name.strip_prefix("other:") {
                Some(value) if !value.is_empty() => Ok(Self::Other(value.to_owned())),
                _ => Err(format!(
                    "`{name}` is not a stop reason: give end_turn, max_tokens, refusal, content_filter or other:VALUE"
                )),
            },
        }
    }
}

/// Turns a request into a reply; called once per request that no fault took.
pub type Responder = Arc<dyn Fn(&MockRequest) -> MockReply + Send + Sync>;

/// The default responder: echoes the last user message (empty when there is
/// none) and counts tokens as whitespace-separated words, the prompt's being
/// the system text and every message.
pub fn echo(request: &MockRequest) -> MockReply {
    let text = request.last_user_message().unwrap_or_default().to_owned();
    let words = |s: &str| s.split_whitespace().count() as u64;
    let input_tokens = request.system.as_deref().map_or(0, words)
        + request.messages.iter().map(|(_, content)| words(content)).sum::<u64>();
    MockReply { output_tokens: words(&text), text, input_tokens, ..MockReply::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_parse_from_their_names() {
        assert_eq!("max_tokens".parse(), Ok(StopReason::MaxTokens));
        assert_eq!("refusal".parse(), Ok(StopReason::Refusal));
        assert_eq!("other:pause_turn".parse(), Ok(StopReason::Other("pause_turn".into())));
        for bad in ["length", "other:", "Refusal"] {
            assert!(bad.parse::<StopReason>().unwrap_err().contains("is not a stop reason"), "{bad}");
        }
    }

    #[test]
    fn echo_repeats_the_last_user_message_and_counts_words() {
        let request = MockRequest {
            vendor: Vendor::OpenAi,
            model: "m".into(),
            system: Some("be brief".into()),
            messages: vec![
                ("user".into(), "first question".into()),
                ("assistant".into(), "an answer here".into()),
                ("user".into(), "  second   question please ".into()),
            ],
            max_tokens: None,
            headers: Vec::new(),
            path: "/v1/chat/completions".into(),
            query: String::new(),
            raw_body: Vec::new(),
        };
        let reply = echo(&request);
        assert_eq!(reply.text, "  second   question please ");
        assert_eq!((reply.input_tokens, reply.output_tokens, reply.cached_input_tokens), (2 + 2 + 3 + 3, 3, 0));
    }
}
