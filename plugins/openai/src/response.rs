//! The response side of the wire mapping: an HTTP status, headers and body
//! from `POST /chat/completions` turned into a [`Completion`] or a typed
//! [`PluginError`] the host can act on (retry, back off, fall back, stop).

use orch_sdk::provider::{Completion, StopReason, Usage};
use orch_sdk::{Header, PluginError};
use serde::Deserialize;
use serde_json::Value;

/// How much of a body that carries no error message is quoted in an error.
const BODY_SNIPPET_CHARS: usize = 200;

/// Maps one response to the completion it carries or the error it means.
///
/// - 2xx: the first choice's text, usage, stop reason and the serving model
///   (empty when the response names none); a body that does not parse or has
///   no choices is `transient`.
/// - 429: `rate-limited`, waiting as long as `retry-after-ms` or
///   `retry-after` (seconds, possibly fractional) say, when they do.
/// - 408, 409 and 5xx: `transient`; every other status: `fatal`. Both quote
///   the status and the API's `error.message`.
pub fn parse_response(status: u16, headers: &[Header], body: &[u8]) -> Result<Completion, PluginError> {
    match status {
        200..=299 => parse_success(body),
        429 => Err(PluginError::RateLimited(retry_after_ms(headers))),
        408 | 409 | 500..=599 => Err(PluginError::Transient(status_message(status, body))),
        _ => Err(PluginError::Fatal(status_message(status, body))),
    }
}

/// The parts of a Chat Completions response the host uses.
#[derive(Debug, Deserialize)]
struct ChatResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChatUsage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<ChoiceMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChoiceMessage {
    /// `null` when the model produced no text (a refusal, a tool call).
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChatUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Deserialize)]
struct PromptTokensDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

fn parse_success(body: &[u8]) -> Result<Completion, PluginError> {
    let reply: ChatResponse = serde_json::from_slice(body)
        .map_err(|e| PluginError::Transient(format!("the chat completions response is not the expected JSON: {e}")))?;
    let Some(choice) = reply.choices.into_iter().next() else {
        let detail = error_message(body).map(|m| format!(" (the API said: {m})")).unwrap_or_default();
        return Err(PluginError::Transient(format!("the chat completions response has no choices{detail}")));
    };
    let usage = reply.usage.map_or(Usage { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0 }, |u| Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        cached_input_tokens: u.prompt_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0),
    });
    Ok(Completion {
        text: choice.message.and_then(|m| m.content).unwrap_or_default(),
        usage,
        stop_reason: stop_reason(choice.finish_reason.as_deref()),
        model: reply.model.unwrap_or_default(),
    })
}

/// The stop reason for a `finish_reason`. The API reports a stop sequence as
/// `stop` too, so `stop-sequence` is never produced.
fn stop_reason(finish_reason: Option<&str>) -> StopReason {
    match finish_reason {
        Some("stop") => StopReason::EndTurn,
        Some("length") => StopReason::MaxTokens,
        Some("content_filter") => StopReason::ContentFilter,
        _ => StopReason::Other,
    }
}

/// How long a 429 asks us to wait, in milliseconds: `retry-after-ms` when
/// present (the more precise), else `retry-after` in seconds. A value that
/// is not a non-negative number (e.g. an HTTP date) counts as absent.
fn retry_after_ms(headers: &[Header]) -> Option<u64> {
    let header = |name: &str| headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.trim());
    let number = |value: &str| value.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0);
    // Float-to-int `as` saturates, so an absurd wait cannot wrap around.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let to_ms = |n: f64| n.ceil() as u64;
    header("retry-after-ms")
        .and_then(number)
        .map(to_ms)
        .or_else(|| header("retry-after").and_then(number).map(|secs| to_ms(secs * 1000.0)))
}

/// `HTTP {status} from the chat completions API: {message}`, the message
/// being the API's `error.message`, or the start of the body when it has none.
fn status_message(status: u16, body: &[u8]) -> String {
    let detail = error_message(body).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        match text.char_indices().nth(BODY_SNIPPET_CHARS) {
            _ if text.is_empty() => "(empty body)".to_owned(),
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    });
    format!("HTTP {status} from the chat completions API: {detail}")
}

/// The API's own words: `error.message` (OpenAI), or `error` when it is a
/// plain string (some compatible servers, e.g. Ollama).
fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("error")? {
        Value::String(message) => Some(message.clone()),
        error => error.get("message")?.as_str().map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, value: &str) -> Header {
        Header { name: name.into(), value: value.into() }
    }

    fn ok(body: &str) -> Completion {
        parse_response(200, &[], body.as_bytes()).unwrap()
    }

    fn err(status: u16, headers: &[Header], body: &str) -> PluginError {
        parse_response(status, headers, body.as_bytes()).unwrap_err()
    }

    const OPENAI_ERROR: &str =
        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#;

    #[test]
    fn success_maps_text_usage_reason_and_model() {
        let completion = ok(r#"{
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"},
                {"index": 1, "message": {"role": "assistant", "content": "ignored"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127,
                      "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0}}
        }"#);
        assert_eq!(completion.text, "Hello!");
        assert_eq!(completion.usage, Usage { input_tokens: 120, output_tokens: 7, cached_input_tokens: 64 });
        assert_eq!(completion.stop_reason, StopReason::EndTurn);
        assert_eq!(completion.model, "gpt-4o-2024-08-06");
    }

    #[test]
    fn missing_optional_parts_default() {
        let completion = ok(r#"{"choices": [{"message": {"role": "assistant", "content": null}}]}"#);
        assert_eq!(completion.text, "");
        assert_eq!(completion.usage, Usage { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0 });
        assert_eq!(completion.stop_reason, StopReason::Other);
        assert_eq!(completion.model, "");
        let no_cache = ok(r#"{"model": "llama3", "choices": [{"message": {"content": "x"}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 3, "completion_tokens": 1, "prompt_tokens_details": null}}"#);
        assert_eq!(no_cache.usage, Usage { input_tokens: 3, output_tokens: 1, cached_input_tokens: 0 });
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        for (reason, expected) in [
            ("\"stop\"", StopReason::EndTurn),
            ("\"length\"", StopReason::MaxTokens),
            ("\"content_filter\"", StopReason::ContentFilter),
            ("\"tool_calls\"", StopReason::Other),
            ("null", StopReason::Other),
        ] {
            let body = format!(r#"{{"choices": [{{"message": {{"content": "x"}}, "finish_reason": {reason}}}]}}"#);
            assert_eq!(ok(&body).stop_reason, expected, "{reason}");
        }
    }

    #[test]
    fn any_2xx_is_a_success() {
        let body = br#"{"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]}"#;
        assert_eq!(parse_response(201, &[], body).unwrap().text, "x");
    }

    #[test]
    fn unparseable_or_empty_success_is_transient() {
        let e = err(200, &[], "<html>502 Bad Gateway</html>");
        assert!(matches!(&e, PluginError::Transient(m) if m.contains("not the expected JSON")), "{e:?}");
        let e = err(200, &[], r#"{"choices": [{"message": {"content": 5}}]}"#);
        assert!(matches!(&e, PluginError::Transient(m) if m.contains("not the expected JSON")), "{e:?}");
        let e = err(200, &[], r#"{"id": "x", "choices": []}"#);
        assert!(matches!(&e, PluginError::Transient(m) if m.contains("no choices")), "{e:?}");
        let e = err(200, &[], r#"{"error": {"message": "upstream overloaded"}}"#);
        assert!(
            matches!(&e, PluginError::Transient(m) if m.contains("no choices") && m.contains("upstream overloaded")),
            "{e:?}"
        );
    }

    #[test]
    fn rate_limit_reads_retry_after_in_seconds() {
        assert_eq!(err(429, &[header("Retry-After", "2")], ""), PluginError::RateLimited(Some(2000)));
        assert_eq!(err(429, &[header("retry-after", " 1.5 ")], ""), PluginError::RateLimited(Some(1500)));
        assert_eq!(err(429, &[header("retry-after", "0.0004")], ""), PluginError::RateLimited(Some(1)));
        assert_eq!(err(429, &[header("retry-after", "0")], ""), PluginError::RateLimited(Some(0)));
    }

    #[test]
    fn rate_limit_prefers_retry_after_ms() {
        let both = [header("retry-after", "1"), header("Retry-After-Ms", "250")];
        assert_eq!(err(429, &both, OPENAI_ERROR), PluginError::RateLimited(Some(250)));
        assert_eq!(err(429, &[header("retry-after-ms", "12.2")], ""), PluginError::RateLimited(Some(13)));
        let bad_ms = [header("retry-after-ms", "soon"), header("retry-after", "3")];
        assert_eq!(err(429, &bad_ms, ""), PluginError::RateLimited(Some(3000)));
    }

    #[test]
    fn rate_limit_without_a_usable_hint_has_none() {
        assert_eq!(err(429, &[], OPENAI_ERROR), PluginError::RateLimited(None));
        let date = [header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")];
        assert_eq!(err(429, &date, ""), PluginError::RateLimited(None));
        for bad in ["-1", "NaN", "inf", ""] {
            assert_eq!(err(429, &[header("retry-after", bad)], ""), PluginError::RateLimited(None), "{bad}");
        }
    }

    #[test]
    fn timeouts_conflicts_and_server_errors_are_transient() {
        for status in [408, 409, 500, 502, 503, 504, 529, 599] {
            let e = err(status, &[], r#"{"error":{"message":"The server had an error","type":"server_error"}}"#);
            let expected = format!("HTTP {status} from the chat completions API: The server had an error");
            assert_eq!(e, PluginError::Transient(expected), "{status}");
        }
    }

    #[test]
    fn client_errors_are_fatal_with_the_api_message() {
        for status in [400, 401, 403, 404, 422] {
            let expected = format!("HTTP {status} from the chat completions API: Incorrect API key provided");
            assert_eq!(err(status, &[], OPENAI_ERROR), PluginError::Fatal(expected), "{status}");
        }
        for status in [402, 405, 413, 451] {
            assert!(matches!(err(status, &[], OPENAI_ERROR), PluginError::Fatal(_)), "{status}");
        }
    }

    #[test]
    fn other_statuses_are_fatal() {
        for status in [100, 301, 304] {
            assert!(matches!(err(status, &[], ""), PluginError::Fatal(_)), "{status}");
        }
    }

    #[test]
    fn error_detail_falls_back_to_the_body() {
        let ollama = err(404, &[], r#"{"error":"model \"llama9\" not found, try pulling it first"}"#);
        assert_eq!(
            ollama,
            PluginError::Fatal(
                "HTTP 404 from the chat completions API: model \"llama9\" not found, try pulling it first".into()
            )
        );
        let html = err(502, &[], "  <html>Bad Gateway</html>\n");
        assert_eq!(
            html,
            PluginError::Transient("HTTP 502 from the chat completions API: <html>Bad Gateway</html>".into())
        );
        let empty = err(503, &[], "");
        assert_eq!(empty, PluginError::Transient("HTTP 503 from the chat completions API: (empty body)".into()));
        let long = "é".repeat(500);
        let PluginError::Fatal(message) = err(400, &[], &long) else { panic!("not fatal") };
        assert!(message.ends_with(&format!("{}…", "é".repeat(200))), "{message}");
        assert!(message.chars().count() < 260, "{message}");
    }
}
