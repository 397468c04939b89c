//! The response side of the wire mapping: an HTTP status, headers and body
//! from `POST /chat/completions` turned into a [`Completion`] or a typed
//! [`PluginError`] the host can act on (retry, back off, fall back, stop).

use orch_sdk::api::{error_message, status_error};
use orch_sdk::provider::{Completion, StopReason, Usage};
use orch_sdk::{Header, PluginError};
use serde::Deserialize;

/// The API's name in error messages.
const API: &str = "the chat completions API";

/// Maps one response to the completion it carries or the error it means.
///
/// - 2xx: the first choice's text, usage, stop reason and the serving model
///   (empty when the response names none). A refusal (`message.refusal`,
///   with `content` null) is the stop reason `refusal` with the model's
///   explanation as the text. A body that does not parse or has no choices
///   is `transient`.
/// - anything else: the error [`status_error`] maps it to, quoting the API's
///   `error.message`.
pub fn parse_response(status: u16, headers: &[Header], body: &[u8]) -> Result<Completion, PluginError> {
    match status {
        200..=299 => parse_success(body),
        _ => Err(status_error(status, headers, API, error_message(body), body)),
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
    /// Why the model declined, when it did (Structured Outputs); `null` otherwise.
    #[serde(default)]
    refusal: Option<String>,
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
    /// Prompt tokens written to the cache (a subset of `prompt_tokens`).
    #[serde(default)]
    cache_write_tokens: Option<u64>,
}

fn parse_success(body: &[u8]) -> Result<Completion, PluginError> {
    let reply: ChatResponse = serde_json::from_slice(body)
        .map_err(|e| PluginError::Transient(format!("the chat completions response is not the expected JSON: {e}")))?;
    let Some(choice) = reply.choices.into_iter().next() else {
        let detail = error_message(body).map(|m| format!(" (the API said: {m})")).unwrap_or_default();
        return Err(PluginError::Transient(format!("the chat completions response has no choices{detail}")));
    };
    let usage = reply.usage.map_or(
        Usage { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0 },
        |u| {
            let details = u.prompt_tokens_details;
            Usage {
                input_tokens: u.prompt_tokens,
                output_tokens: u.completion_tokens,
                cached_input_tokens: details.as_ref().and_then(|d| d.cached_tokens).unwrap_or(0),
                cache_write_tokens: details.as_ref().and_then(|d| d.cache_write_tokens).unwrap_or(0),
            }
        },
    );
    let (content, refusal) = choice.message.map_or((None, None), |m| (m.content, m.refusal));
    // A refusal comes with `finish_reason: "stop"`; the refusal field says
    // what happened, and its text is the only answer there is.
    let (text, stop_reason) = match refusal.filter(|r| !r.is_empty()) {
        Some(refusal) => (refusal, StopReason::Refusal),
        None => (content.unwrap_or_default(), stop_reason(choice.finish_reason.as_deref())),
    };
    Ok(Completion { text, usage, stop_reason, model: reply.model.unwrap_or_default() })
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
        assert_eq!(
            completion.usage,
            Usage { input_tokens: 120, output_tokens: 7, cached_input_tokens: 64, cache_write_tokens: 0 }
        );
        assert_eq!(completion.stop_reason, StopReason::EndTurn);
        assert_eq!(completion.model, "gpt-4o-2024-08-06");
    }

    #[test]
    fn missing_optional_parts_default() {
        let completion = ok(r#"{"choices": [{"message": {"role": "assistant", "content": null}}]}"#);
        assert_eq!(completion.text, "");
        assert_eq!(
            completion.usage,
            Usage { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0 }
        );
        assert_eq!(completion.stop_reason, StopReason::Other);
        assert_eq!(completion.model, "");
        let no_cache = ok(r#"{"model": "llama3", "choices": [{"message": {"content": "x"}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 3, "completion_tokens": 1, "prompt_tokens_details": null}}"#);
        assert_eq!(
            no_cache.usage,
            Usage { input_tokens: 3, output_tokens: 1, cached_input_tokens: 0, cache_write_tokens: 0 }
        );
    }

    #[test]
    fn a_refusal_is_the_refusal_stop_reason_with_its_text() {
        let completion = ok(r#"{
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
                         "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 6}
        }"#);
        assert_eq!(completion.text, "I can't help with that.");
        assert_eq!(completion.stop_reason, StopReason::Refusal);
        assert_eq!(completion.usage.output_tokens, 6);
        // `refusal: null` (every ordinary answer) or empty is no refusal.
        for refusal in ["null", "\"\""] {
            let body = format!(
                r#"{{"choices": [{{"message": {{"content": "fine", "refusal": {refusal}}}, "finish_reason": "stop"}}]}}"#
            );
            let completion = ok(&body);
            assert_eq!((completion.text.as_str(), completion.stop_reason), ("fine", StopReason::EndTurn), "{refusal}");
        }
    }

    #[test]
    fn cache_writes_are_read_from_the_prompt_details() {
        let completion = ok(r#"{
            "choices": [{"message": {"content": "x"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 7, "total_tokens": 1207,
                      "prompt_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 1024, "audio_tokens": 0}}
        }"#);
        assert_eq!(
            completion.usage,
            Usage { input_tokens: 1200, output_tokens: 7, cached_input_tokens: 5, cache_write_tokens: 1024 }
        );
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
    fn error_detail_falls_back_to_the_body() {
        let ollama = err(404, &[], r#"{"error":"model \"llama9\" not found, try pulling it first"}"#);
        assert_eq!(
            ollama,
            PluginError::Fatal(
                "HTTP 404 from the chat completions API: model \"llama9\" not found, try pulling it first".into()
            )
        );
        let rate_limited = err(429, &[header("retry-after", "2")], OPENAI_ERROR);
        assert_eq!(rate_limited, PluginError::RateLimited(Some(2000)));
    }
}
