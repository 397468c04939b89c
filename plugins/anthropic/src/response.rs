//! The response side of the wire mapping: an HTTP status, headers and body
//! from `POST /messages` turned into a [`Completion`] or a typed
//! [`PluginError`] the host can act on (retry, back off, fall back, stop).

use orch_sdk::api::{body_snippet, error_message, status_error};
use orch_sdk::provider::{Completion, StopReason, Usage};
use orch_sdk::{Header, PluginError};
use serde::Deserialize;

/// The API's name in error messages.
const API: &str = "the Messages API";

/// Maps one response to the completion it carries or the error it means.
///
/// - 2xx: the text of all `text` content blocks, usage, stop reason and the
///   serving model (empty when the response names none); a body that does
///   not parse, has no `content`, or is an error object (`"type": "error"`)
///   is `transient`.
/// - anything else: the error [`status_error`] maps it to, quoting the API's
///   `error.message`.
pub fn parse_response(status: u16, headers: &[Header], body: &[u8]) -> Result<Completion, PluginError> {
    match status {
        200..=299 => parse_success(body),
        _ => Err(status_error(status, headers, API, error_message(body), body)),
    }
}

/// The parts of a Messages response the host uses.
#[derive(Debug, Deserialize)]
struct MessagesResponse {
    /// `message`, or `error` when an error came with a successful status.
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    model: Option<String>,
    /// `None` only when the field is missing: a real reply always has it.
    #[serde(default)]
    content: Option<Vec<ContentBlock>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<MessagesUsage>,
}

/// A content block; only `text` blocks count (not `thinking`, `tool_use`, ...).
#[derive(Debug, Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// Anthropic's usage. Its `input_tokens` counts only the input after the
/// last cache breakpoint: tokens written to or read from the cache are
/// counted in the two cache fields instead.
#[derive(Debug, Deserialize)]
struct MessagesUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl From<MessagesUsage> for Usage {
    /// The WIT `input-tokens` includes cached tokens, so the three input
    /// counts are added up; `cached-input-tokens` is what was read from the
    /// cache.
    fn from(u: MessagesUsage) -> Self {
        let cache_read = u.cache_read_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: u
                .input_tokens
                .saturating_add(u.cache_creation_input_tokens.unwrap_or(0))
                .saturating_add(cache_read),
            output_tokens: u.output_tokens,
            cached_input_tokens: cache_read,
            cache_write_tokens: u.cache_creation_input_tokens.unwrap_or(0),
        }
    }
}

fn parse_success(body: &[u8]) -> Result<Completion, PluginError> {
    let reply: MessagesResponse = serde_json::from_slice(body)
        .map_err(|e| PluginError::Transient(format!("the Messages API response is not the expected JSON: {e}")))?;
    if reply.kind.as_deref() == Some("error") {
        let detail = error_message(body).unwrap_or_else(|| body_snippet(body));
        return Err(PluginError::Transient(format!(
            "the Messages API answered a success status with an error: {detail}"
        )));
    }
    let Some(content) = reply.content else {
        return Err(PluginError::Transient("the Messages API response has no content".into()));
    };
    let text = content.into_iter().filter(|b| b.kind == "text").filter_map(|b| b.text).collect();
    Ok(Completion {
        text,
        usage: reply.usage.map_or(
            Usage { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0 },
            Usage::from,
        ),
        stop_reason: stop_reason(reply.stop_reason.as_deref()),
        model: reply.model.unwrap_or_default(),
    })
}

/// The stop reason for a `stop_reason`; `tool_use`, `pause_turn`, `null` and
/// anything newer are `other`.
fn stop_reason(stop_reason: Option<&str>) -> StopReason {
    match stop_reason {
        Some("end_turn") => StopReason::EndTurn,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("refusal") => StopReason::Refusal,
        _ => StopReason::Other,
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

    fn error_body(kind: &str, message: &str) -> String {
        format!(r#"{{"type":"error","error":{{"type":"{kind}","message":"{message}"}}}}"#)
    }

    fn usage(json: &str) -> Usage {
        ok(&format!(r#"{{"type": "message", "content": [], "usage": {json}}}"#)).usage
    }

    #[test]
    fn success_maps_text_usage_reason_and_model() {
        let completion = ok(r#"{
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [
                {"type": "thinking", "thinking": "let me see", "signature": "abc"},
                {"type": "text", "text": "Hello, "},
                {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "x"}},
                {"type": "text", "text": "world!"},
                {"type": "some_future_block", "text": "not for the reader"}
            ],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 20, "output_tokens": 7,
                      "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000}
        }"#);
        assert_eq!(completion.text, "Hello, world!");
        assert_eq!(
            completion.usage,
            Usage { input_tokens: 1120, output_tokens: 7, cached_input_tokens: 1000, cache_write_tokens: 100 }
        );
        assert_eq!(completion.stop_reason, StopReason::EndTurn);
        assert_eq!(completion.model, "claude-sonnet-4-5-20250929");
    }

    #[test]
    fn usage_adds_the_cache_fields_to_the_input() {
        let usage = |cache_fields: &str| usage(&format!(r#"{{"input_tokens": 5, "output_tokens": 2{cache_fields}}}"#));
        for (cache_fields, input_tokens, cached_input_tokens, cache_write_tokens) in [
            ("", 5, 0, 0),
            (r#", "cache_creation_input_tokens": null, "cache_read_input_tokens": null"#, 5, 0, 0),
            (r#", "cache_creation_input_tokens": 40"#, 45, 0, 40),
            (r#", "cache_read_input_tokens": 300"#, 305, 300, 0),
            (r#", "cache_creation_input_tokens": 0, "cache_read_input_tokens": 64"#, 69, 64, 0),
            (r#", "cache_creation_input_tokens": 40, "cache_read_input_tokens": 300"#, 345, 300, 40),
        ] {
            let expected = Usage { input_tokens, output_tokens: 2, cached_input_tokens, cache_write_tokens };
            assert_eq!(usage(cache_fields), expected, "{cache_fields}");
        }
    }

    #[test]
    fn missing_optional_parts_default() {
        let completion = ok(r#"{"type": "message", "content": []}"#);
        assert_eq!(completion.text, "");
        assert_eq!(
            completion.usage,
            Usage { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0 }
        );
        assert_eq!(completion.stop_reason, StopReason::Other);
        assert_eq!(completion.model, "");
    }

    #[test]
    fn stop_reasons_map() {
        for (reason, expected) in [
            ("\"end_turn\"", StopReason::EndTurn),
            ("\"max_tokens\"", StopReason::MaxTokens),
            ("\"stop_sequence\"", StopReason::StopSequence),
            ("\"refusal\"", StopReason::Refusal),
            ("\"tool_use\"", StopReason::Other),
            ("\"pause_turn\"", StopReason::Other),
            ("\"model_context_window_exceeded\"", StopReason::Other),
            ("null", StopReason::Other),
        ] {
            let body = format!(r#"{{"type": "message", "content": [], "stop_reason": {reason}}}"#);
            assert_eq!(ok(&body).stop_reason, expected, "{reason}");
        }
    }

    #[test]
    fn a_refusal_keeps_its_explanation_as_the_text() {
        let completion = ok(r#"{
            "type": "message", "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": "I can't help with that."}],
            "stop_reason": "refusal", "stop_details": {"type": "refusal", "category": null, "explanation": null},
            "usage": {"input_tokens": 10, "output_tokens": 6,
                      "cache_creation_input_tokens": 2048, "cache_read_input_tokens": 0}
        }"#);
        assert_eq!(
            (completion.text.as_str(), completion.stop_reason),
            ("I can't help with that.", StopReason::Refusal)
        );
        assert_eq!(
            completion.usage,
            Usage { input_tokens: 2058, output_tokens: 6, cached_input_tokens: 0, cache_write_tokens: 2048 }
        );
    }

    #[test]
    fn any_2xx_is_a_success() {
        let body = br#"{"type": "message", "content": [{"type": "text", "text": "x"}]}"#;
        assert_eq!(parse_response(201, &[], body).unwrap().text, "x");
    }

    #[test]
    fn unparseable_or_error_success_is_transient() {
        for garbage in ["<html>502 Bad Gateway</html>", "", r#"{"content": [{"type": "text", "text": 5}]}"#] {
            let e = err(200, &[], garbage);
            assert!(matches!(&e, PluginError::Transient(m) if m.contains("not the expected JSON")), "{e:?}");
        }
        let e = err(200, &[], r#"{"id": "msg_1", "type": "message"}"#);
        assert_eq!(e, PluginError::Transient("the Messages API response has no content".into()));
        let e = err(200, &[], &error_body("overloaded_error", "Overloaded"));
        assert_eq!(
            e,
            PluginError::Transient("the Messages API answered a success status with an error: Overloaded".into())
        );
        let e = err(200, &[], r#"{"type": "error"}"#);
        assert!(matches!(&e, PluginError::Transient(m) if m.ends_with(r#"{"type": "error"}"#)), "{e:?}");
    }

    #[test]
    fn overload_and_server_errors_are_transient() {
        for (status, kind) in
            [(529, "overloaded_error"), (500, "api_error"), (503, "api_error"), (408, "x"), (409, "x")]
        {
            let e = err(status, &[], &error_body(kind, "Overloaded"));
            assert_eq!(
                e,
                PluginError::Transient(format!("HTTP {status} from the Messages API: Overloaded")),
                "{status}"
            );
        }
    }

    #[test]
    fn client_errors_are_fatal_with_the_api_message() {
        for (status, kind, message) in [
            (400, "invalid_request_error", "max_tokens: Field required"),
            (401, "authentication_error", "invalid x-api-key"),
            (403, "permission_error", "Your API key does not have permission"),
            (404, "not_found_error", "model: claude-nope"),
            (413, "request_too_large", "Request exceeds the maximum allowed number of bytes"),
        ] {
            let expected = format!("HTTP {status} from the Messages API: {message}");
            assert_eq!(err(status, &[], &error_body(kind, message)), PluginError::Fatal(expected), "{status}");
        }
    }

    #[test]
    fn rate_limits_carry_the_wait_and_other_bodies_are_quoted() {
        let body = error_body("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit");
        assert_eq!(err(429, &[header("retry-after", "7")], &body), PluginError::RateLimited(Some(7000)));
        assert_eq!(err(429, &[], &body), PluginError::RateLimited(None));
        let proxy = err(502, &[], "<html>Bad Gateway</html>");
        assert_eq!(proxy, PluginError::Transient("HTTP 502 from the Messages API: <html>Bad Gateway</html>".into()));
    }
}
