//! The response side of the wire mapping: an HTTP status, headers and body
//! from `POST /models/{model}:generateContent` turned into a [`Completion`]
//! or a typed [`PluginError`] the host can act on (retry, back off, fall
//! back, stop), including the wait a 429 names in Google's `RetryInfo`.

use orch_sdk::api::{error_message, error_object, status_error};
use orch_sdk::provider::{Completion, StopReason, Usage};
use orch_sdk::{Header, PluginError};
use serde::Deserialize;
use serde_json::Value;

/// The API's name in error messages.
const API: &str = "the Gemini API";

/// The `@type` of the error detail that says how long to wait.
const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// Maps one response to the completion it carries or the error it means.
///
/// - 2xx: the first candidate's text (thought parts left out), usage, stop
///   reason and the serving model version (empty when the response names
///   none). A prompt the API blocked is `fatal` (it would be blocked again);
///   a body that does not parse or has no candidates otherwise is `transient`.
/// - anything else: the error [`status_error`] maps it to, quoting the API's
///   `error.message`. A 429 without a `retry-after` header waits as long as
///   the `RetryInfo` error detail's `retryDelay` says, if there is one.
pub fn parse_response(status: u16, headers: &[Header], body: &[u8]) -> Result<Completion, PluginError> {
    match status {
        200..=299 => parse_success(body),
        _ => Err(match status_error(status, headers, API, error_message(body), body) {
            PluginError::RateLimited(None) => PluginError::RateLimited(retry_delay_ms(body)),
            error => error,
        }),
    }
}

/// The parts of a `generateContent` response the host uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    #[serde(default)]
    candidates: Option<Vec<Candidate>>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    model_version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    /// Absent when the candidate was withheld (e.g. `finishReason: SAFETY`).
    #[serde(default)]
    content: Option<CandidateContent>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Option<Vec<Part>>,
}

#[derive(Debug, Deserialize)]
struct Part {
    /// Absent for non-text parts (function calls, inline data).
    #[serde(default)]
    text: Option<String>,
    /// True for a thought summary, which is not part of the answer.
    #[serde(default)]
    thought: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
    #[serde(default)]
    block_reason_message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    /// The prompt, cached content included.
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
    /// Thinking tokens, billed as output but not in `candidatesTokenCount`.
    #[serde(default)]
    thoughts_token_count: u64,
}

fn parse_success(body: &[u8]) -> Result<Completion, PluginError> {
    let reply: GenerateContentResponse = serde_json::from_slice(body)
        .map_err(|e| PluginError::Transient(format!("the Gemini API response is not the expected JSON: {e}")))?;
    let Some(candidate) = reply.candidates.and_then(|c| c.into_iter().next()) else {
        return Err(no_candidates(reply.prompt_feedback, body));
    };
    let text = candidate
        .content
        .and_then(|c| c.parts)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.thought != Some(true))
        .filter_map(|p| p.text)
        .collect();
    let usage = reply.usage_metadata.map_or(
        Usage { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0 },
        |u| Usage {
            input_tokens: u.prompt_token_count,
            output_tokens: u.candidates_token_count.saturating_add(u.thoughts_token_count),
            cached_input_tokens: u.cached_content_token_count,
            cache_write_tokens: 0,
        },
    );
    Ok(Completion {
        text,
        usage,
        stop_reason: stop_reason(candidate.finish_reason.as_deref()),
        model: reply.model_version.unwrap_or_default(),
    })
}

/// The error for a 2xx reply without candidates: `fatal` when the prompt was
/// blocked (asking again gets the same answer), else `transient`.
fn no_candidates(feedback: Option<PromptFeedback>, body: &[u8]) -> PluginError {
    match feedback {
        Some(PromptFeedback { block_reason: Some(reason), block_reason_message }) => {
            let detail = block_reason_message.map(|m| format!(": {m}")).unwrap_or_default();
            PluginError::Fatal(format!("the Gemini API blocked the prompt (block reason {reason}){detail}"))
        }
        _ => {
            let detail = error_message(body).map(|m| format!(" (the API said: {m})")).unwrap_or_default();
            PluginError::Transient(format!("the Gemini API response has no candidates{detail}"))
        }
    }
}

/// The stop reason for a `finishReason`. The API reports a stop sequence as
/// `STOP` too, so `stop-sequence` is never produced.
fn stop_reason(finish_reason: Option<&str>) -> StopReason {
    match finish_reason {
        Some("STOP") => StopReason::EndTurn,
        Some("MAX_TOKENS") => StopReason::MaxTokens,
        Some("SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII") => StopReason::ContentFilter,
        _ => StopReason::Other,
    }
}

/// The wait a `google.rpc.RetryInfo` entry of `error.details` asks for, in
/// milliseconds.
fn retry_delay_ms(body: &[u8]) -> Option<u64> {
    let error = error_object(body)?;
    error
        .get("details")?
        .as_array()?
        .iter()
        .filter(|d| d.get("@type").and_then(Value::as_str) == Some(RETRY_INFO_TYPE))
        .find_map(|d| duration_ms(d.get("retryDelay")?.as_str()?))
}

/// A protobuf JSON duration (`"3s"`, `"0.5s"`, `"12.345s"`: whole seconds
/// and up to nine fractional digits) in milliseconds, rounded up. Computed
/// in integers, so `"12.345s"` is exactly 12345.
fn duration_ms(text: &str) -> Option<u64> {
    let seconds = text.trim().strip_suffix('s')?;
    let (whole, fraction) = match seconds.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (seconds, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let nanos: u64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().ok()? };
    Some(whole.saturating_mul(1000).saturating_add(nanos.div_ceil(1_000_000)))
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

    fn usage(input: u64, output: u64, cached: u64) -> Usage {
        Usage { input_tokens: input, output_tokens: output, cached_input_tokens: cached, cache_write_tokens: 0 }
    }

    fn error_body(code: u16, message: &str, status: &str, details: &str) -> String {
        format!(r#"{{"error":{{"code":{code},"message":"{message}","status":"{status}","details":{details}}}}}"#)
    }

    fn quota_body(retry_delay: &str) -> String {
        let details = format!(
            r#"[{{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{{"quotaMetric":"m"}}]}},
                {{"@type":"type.googleapis.com/google.rpc.Help","links":[]}},
                {{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"{retry_delay}"}}]"#
        );
        error_body(429, "You exceeded your current quota", "RESOURCE_EXHAUSTED", &details)
    }

    #[test]
    fn success_maps_text_usage_reason_and_model() {
        let completion = ok(r#"{
            "candidates": [
                {"content": {"role": "model", "parts": [
                    {"text": "Let me think about the plan.", "thought": true},
                    {"text": "Hello, "},
                    {"functionCall": {"name": "f", "args": {}}},
                    {"text": "world", "thought": false},
                    {"text": "!"}
                ]}, "finishReason": "STOP", "index": 0},
                {"content": {"role": "model", "parts": [{"text": "ignored"}]}, "finishReason": "STOP", "index": 1}
            ],
            "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 7, "cachedContentTokenCount": 64,
                              "thoughtsTokenCount": 30, "totalTokenCount": 157},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "abc123"
        }"#);
        assert_eq!(completion.text, "Hello, world!");
        assert_eq!(completion.usage, usage(120, 37, 64));
        assert_eq!(completion.stop_reason, StopReason::EndTurn);
        assert_eq!(completion.model, "gemini-2.5-flash");
    }

    #[test]
    fn usage_without_cache_or_thoughts_counts_them_as_zero() {
        let body = |usage: &str| {
            format!(
                r#"{{"candidates": [{{"content": {{"parts": [{{"text": "x"}}]}}, "finishReason": "STOP"}}],
                     "usageMetadata": {usage}}}"#
            )
        };
        let plain = r#"{"promptTokenCount": 12, "candidatesTokenCount": 3, "totalTokenCount": 15}"#;
        assert_eq!(ok(&body(plain)).usage, usage(12, 3, 0));
        let cached = r#"{"promptTokenCount": 100, "candidatesTokenCount": 3, "cachedContentTokenCount": 80}"#;
        assert_eq!(ok(&body(cached)).usage, usage(100, 3, 80));
        let thinking = r#"{"promptTokenCount": 12, "candidatesTokenCount": 3, "thoughtsTokenCount": 250}"#;
        assert_eq!(ok(&body(thinking)).usage, usage(12, 253, 0));
        // A reply cut off while thinking has thoughts but no candidate tokens.
        let only_thoughts = r#"{"promptTokenCount": 12, "thoughtsTokenCount": 64}"#;
        assert_eq!(ok(&body(only_thoughts)).usage, usage(12, 64, 0));
    }

    #[test]
    fn missing_optional_parts_default() {
        let completion = ok(r#"{"candidates": [{"content": {"role": "model"}}]}"#);
        assert_eq!(completion.text, "");
        assert_eq!(completion.usage, usage(0, 0, 0));
        assert_eq!(completion.stop_reason, StopReason::Other);
        assert_eq!(completion.model, "");
        let withheld = ok(r#"{"candidates": [{"finishReason": "SAFETY", "safetyRatings": []}],
                              "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}"#);
        assert_eq!(withheld.text, "");
        assert_eq!(withheld.stop_reason, StopReason::ContentFilter);
        assert_eq!(withheld.usage, usage(9, 0, 0));
    }

    #[test]
    fn a_reply_cut_off_while_thinking_is_an_empty_text_at_max_tokens() {
        // Thinking took the whole budget: the candidate has no parts, or no
        // content at all, or only a thought summary. That is an answer (the
        // host asks again with more tokens), not an unreadable reply.
        for candidate in [
            r#"{"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}"#,
            r#"{"content": {"role": "model", "parts": []}, "finishReason": "MAX_TOKENS"}"#,
            r#"{"finishReason": "MAX_TOKENS"}"#,
            r#"{"content": {"parts": [{"text": "Planning the steps", "thought": true}]}, "finishReason": "MAX_TOKENS"}"#,
        ] {
            let body = format!(
                r#"{{"candidates": [{candidate}],
                     "usageMetadata": {{"promptTokenCount": 40, "thoughtsTokenCount": 256, "totalTokenCount": 296}},
                     "modelVersion": "gemini-2.5-pro"}}"#
            );
            let completion = parse_response(200, &[], body.as_bytes()).unwrap_or_else(|e| panic!("{candidate}: {e:?}"));
            assert_eq!(completion.text, "", "{candidate}");
            assert_eq!(completion.stop_reason, StopReason::MaxTokens, "{candidate}");
            assert_eq!(completion.usage, usage(40, 256, 0), "{candidate}: thinking is billed as output");
            assert_eq!(completion.model, "gemini-2.5-pro");
        }
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        for (reason, expected) in [
            ("\"STOP\"", StopReason::EndTurn),
            ("\"MAX_TOKENS\"", StopReason::MaxTokens),
            ("\"SAFETY\"", StopReason::ContentFilter),
            ("\"RECITATION\"", StopReason::ContentFilter),
            ("\"BLOCKLIST\"", StopReason::ContentFilter),
            ("\"PROHIBITED_CONTENT\"", StopReason::ContentFilter),
            ("\"SPII\"", StopReason::ContentFilter),
            ("\"LANGUAGE\"", StopReason::Other),
            ("\"MALFORMED_FUNCTION_CALL\"", StopReason::Other),
            ("\"OTHER\"", StopReason::Other),
            ("\"FINISH_REASON_UNSPECIFIED\"", StopReason::Other),
            ("\"stop\"", StopReason::Other),
            ("null", StopReason::Other),
        ] {
            let body = format!(
                r#"{{"candidates": [{{"content": {{"parts": [{{"text": "x"}}]}}, "finishReason": {reason}}}]}}"#
            );
            assert_eq!(ok(&body).stop_reason, expected, "{reason}");
        }
    }

    #[test]
    fn any_2xx_is_a_success() {
        let body = br#"{"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}]}"#;
        assert_eq!(parse_response(201, &[], body).unwrap().text, "x");
    }

    #[test]
    fn a_blocked_prompt_is_fatal_with_the_reason() {
        let e = err(
            200,
            &[],
            r#"{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "safetyRatings": []},
                "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}, "modelVersion": "gemini-2.5-flash"}"#,
        );
        assert_eq!(e, PluginError::Fatal("the Gemini API blocked the prompt (block reason PROHIBITED_CONTENT)".into()));
        let e = err(
            200,
            &[],
            r#"{"candidates": [], "promptFeedback": {"blockReason": "SAFETY",
                                  "blockReasonMessage": "The prompt was blocked due to safety."}}"#,
        );
        assert_eq!(
            e,
            PluginError::Fatal(
                "the Gemini API blocked the prompt (block reason SAFETY): The prompt was blocked due to safety.".into()
            )
        );
    }

    #[test]
    fn no_candidates_without_a_block_is_transient() {
        for body in [
            r#"{"usageMetadata": {"promptTokenCount": 8}, "modelVersion": "gemini-2.5-flash"}"#,
            r#"{"candidates": []}"#,
            r#"{"candidates": null, "promptFeedback": {"safetyRatings": []}}"#,
            r#"{"candidates": [], "promptFeedback": {"blockReason": null}}"#,
        ] {
            let e = err(200, &[], body);
            assert_eq!(e, PluginError::Transient("the Gemini API response has no candidates".into()), "{body}");
        }
        let e = err(200, &[], r#"{"error": {"code": 503, "message": "The model is overloaded."}}"#);
        assert_eq!(
            e,
            PluginError::Transient(
                "the Gemini API response has no candidates (the API said: The model is overloaded.)".into()
            )
        );
    }

    #[test]
    fn malformed_success_is_transient() {
        for body in [
            "<html>502 Bad Gateway</html>",
            "",
            r#"{"candidates": [{"content": {"parts": [{"text": 5}]}}]}"#,
            r#"{"candidates": {"content": {}}}"#,
            r#"{"candidates": [{"content": {"parts": [{"text": "x"}]}}], "usageMetadata": {"promptTokenCount": -1}}"#,
        ] {
            let e = err(200, &[], body);
            assert!(matches!(&e, PluginError::Transient(m) if m.contains("not the expected JSON")), "{body}: {e:?}");
        }
    }

    #[test]
    fn client_errors_are_fatal_with_the_api_message() {
        for (status, name) in
            [(400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"), (404, "NOT_FOUND")]
        {
            let body = error_body(status, "API key not valid. Please pass a valid API key.", name, "[]");
            let expected =
                format!("HTTP {status} from the Gemini API: API key not valid. Please pass a valid API key.");
            assert_eq!(err(status, &[], &body), PluginError::Fatal(expected), "{status}");
        }
        let wrapped =
            r#"[{"error": {"code": 400, "message": "Invalid JSON payload received.", "status": "INVALID_ARGUMENT"}}]"#;
        assert_eq!(
            err(400, &[], wrapped),
            PluginError::Fatal("HTTP 400 from the Gemini API: Invalid JSON payload received.".into())
        );
    }

    #[test]
    fn server_errors_are_transient() {
        for (status, name) in [(500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED")] {
            let body = error_body(status, "The model is overloaded. Please try again later.", name, "[]");
            let expected =
                format!("HTTP {status} from the Gemini API: The model is overloaded. Please try again later.");
            assert_eq!(err(status, &[], &body), PluginError::Transient(expected), "{status}");
        }
        assert_eq!(
            err(502, &[], "<html>Bad Gateway</html>"),
            PluginError::Transient("HTTP 502 from the Gemini API: <html>Bad Gateway</html>".into())
        );
    }

    #[test]
    fn rate_limits_wait_as_the_header_says_first() {
        assert_eq!(err(429, &[header("retry-after", "2")], &quota_body("40s")), PluginError::RateLimited(Some(2000)));
        assert_eq!(err(429, &[header("Retry-After", "0.5")], "{}"), PluginError::RateLimited(Some(500)));
    }

    #[test]
    fn rate_limits_without_a_header_wait_as_retry_info_says() {
        for (delay, ms) in [
            ("3s", 3000),
            ("0.5s", 500),
            ("12.345s", 12_345),
            ("0s", 0),
            ("1.000000001s", 1001),
            ("0.0001s", 1),
            ("40.123456789s", 40_124),
        ] {
            assert_eq!(err(429, &[], &quota_body(delay)), PluginError::RateLimited(Some(ms)), "{delay}");
        }
        // A header that does not parse does not hide the detail.
        let bad_header = [header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")];
        assert_eq!(err(429, &bad_header, &quota_body("7s")), PluginError::RateLimited(Some(7000)));
        // The first RetryInfo with a usable delay counts.
        let details = r#"[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"soon"},
                          {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]"#;
        let body = error_body(429, "slow down", "RESOURCE_EXHAUSTED", details);
        assert_eq!(err(429, &[], &body), PluginError::RateLimited(Some(2000)));
    }

    #[test]
    fn rate_limits_with_neither_leave_the_wait_to_the_host() {
        for body in [
            error_body(429, "Resource has been exhausted", "RESOURCE_EXHAUSTED", "[]"),
            r#"{"error": {"code": 429, "message": "Resource has been exhausted"}}"#.to_owned(),
            // retryDelay on a detail of another type does not count.
            error_body(429, "x", "RESOURCE_EXHAUSTED", r#"[{"@type":"type.googleapis.com/x.Y","retryDelay":"3s"}]"#),
            quota_body("3"),
            quota_body("-1s"),
            quota_body("1.s"),
            quota_body(".5s"),
            quota_body("1.0000000001s"),
            quota_body("1e3s"),
            quota_body(""),
            "Too Many Requests".to_owned(),
            String::new(),
        ] {
            assert_eq!(err(429, &[], &body), PluginError::RateLimited(None), "{body}");
        }
    }
}
