//! Error answers in each vendor's shape: the body a real API sends with a
//! status (`error.message` always present) and the headers that come with
//! it — `retry-after`, OpenAI's `x-ratelimit-*` and Anthropic's
//! `anthropic-ratelimit-*` on a 429 — and Google's `RetryInfo` detail.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::reply::Vendor;

/// The `@type` of Google's error detail that says how long to wait.
pub const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// One error answer: who asked, the status, what it says and the wait it
/// names.
#[derive(Debug, Clone, Copy)]
pub struct ErrorReply<'a> {
    /// The wire format; `None` (no route) answers in OpenAI's.
    pub vendor: Option<Vendor>,
    /// The HTTP status.
    pub status: u16,
    /// `error.message`.
    pub message: &'a str,
    /// The `retry-after` value (seconds), if the error names a wait.
    pub retry_after: Option<&'a str>,
    /// Makes request ids unique.
    pub id: u64,
}

impl ErrorReply<'_> {
    /// The body in the vendor's shape. OpenAI and Anthropic have
    /// `error.type`; a Gemini 429 has `error.details` with a `QuotaFailure`
    /// and, when a wait is named, a `RetryInfo` whose `retryDelay` is it.
    pub fn body(&self) -> Vec<u8> {
        let Self { vendor, status, message, .. } = *self;
        let body = match vendor {
            Some(Vendor::OpenAi) | None => json!({
                "error": {
                    "message": message,
                    "type": openai_error_type(status),
                    "param": null,
                    "code": (status == 429).then_some("rate_limit_exceeded"),
                },
            }),
            Some(Vendor::Anthropic) => json!({
                "type": "error",
                "error": {"type": anthropic_error_type(status), "message": message},
                "request_id": request_id(Vendor::Anthropic, self.id),
            }),
            Some(Vendor::Gemini) => {
                let mut error = json!({"code": status, "message": message, "status": gemini_status(status)});
                if status == 429 {
                    error["details"] = Value::Array(self.gemini_quota_details());
                }
                json!({ "error": error })
            }
        };
        body.to_string().into_bytes()
    }

    /// The headers beside the body: `retry-after` when a wait is named, and
    /// on a 429 the vendor's rate-limit headers (OpenAI `x-ratelimit-*`,
    /// Anthropic `anthropic-ratelimit-requests-*`) saying no request is left
    /// until the wait is over (1 s when none is named).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(seconds) = self.retry_after {
            headers.push(("retry-after", seconds.to_owned()));
        }
        if self.status != 429 {
            return headers;
        }
        let wait = self.retry_after.and_then(seconds).unwrap_or(1.0);
        match self.vendor {
            Some(Vendor::OpenAi) | None => headers.extend([
                ("x-ratelimit-limit-requests", "60".to_owned()),
                ("x-ratelimit-remaining-requests", "0".to_owned()),
                ("x-ratelimit-reset-requests", go_duration(wait)),
                ("x-ratelimit-limit-tokens", "150000".to_owned()),
                ("x-ratelimit-remaining-tokens", "150000".to_owned()),
                ("x-ratelimit-reset-tokens", "0s".to_owned()),
            ]),
            Some(Vendor::Anthropic) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                // Whole seconds, rounded up: the reset is never before the wait ends.
                let reset = now + wait.ceil() as u64;
                headers.extend([
                    ("anthropic-ratelimit-requests-limit", "50".to_owned()),
                    ("anthropic-ratelimit-requests-remaining", "0".to_owned()),
                    ("anthropic-ratelimit-requests-reset", rfc3339(reset)),
                ]);
            }
            Some(Vendor::Gemini) => {}
        }
        headers
    }

    fn gemini_quota_details(&self) -> Vec<Value> {
        let mut details = vec![json!({
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                "quotaValue": "60",
            }],
        })];
        if let Some(wait) = self.retry_after.and_then(seconds) {
            details.push(json!({"@type": RETRY_INFO_TYPE, "retryDelay": proto_duration(wait)}));
        }
        details
    }
}

/// The header carrying a response's request id (`x-request-id` for OpenAI,
/// `request-id` for Anthropic; Gemini sends none).
pub fn request_id_header(vendor: Option<Vendor>, id: u64) -> Option<(&'static str, String)> {
    match vendor {
        Some(Vendor::OpenAi) => Some(("x-request-id", request_id(Vendor::OpenAi, id))),
        Some(Vendor::Anthropic) => Some(("request-id", request_id(Vendor::Anthropic, id))),
        Some(Vendor::Gemini) | None => None,
    }
}

fn request_id(vendor: Vendor, id: u64) -> String {
    match vendor {
        Vendor::Anthropic => format!("req_mock_{id}"),
        _ => format!("req_mock{id}"),
    }
}

/// The message of an injected error with no body of its own.
pub fn fault_message(status: u16) -> String {
    format!("mock-llm injected HTTP {status}")
}

/// A `retry-after` value in seconds, when it is a non-negative number (an
/// HTTP date names no wait here).
fn seconds(retry_after: &str) -> Option<f64> {
    retry_after.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0)
}

/// A protobuf JSON duration: `"2s"`, `"0.050s"` (0 or 3 fractional digits).
fn proto_duration(seconds: f64) -> String {
    let millis = (seconds * 1000.0).round() as u64;
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{}.{:03}s", millis / 1000, millis % 1000)
    }
}

/// A duration as OpenAI's rate-limit headers write it: `"20ms"`, `"1s"`,
/// `"1.5s"`.
fn go_duration(seconds: f64) -> String {
    let millis = (seconds * 1000.0).round() as u64;
    if millis < 1000 { format!("{millis}ms") } else { format!("{}s", millis as f64 / 1000.0) }
}

/// `unix` seconds as an RFC 3339 UTC timestamp (`2025-01-02T03:04:05Z`).
fn rfc3339(unix: u64) -> String {
    // Days to a civil date: Howard Hinnant's `civil_from_days`.
    let (days, secs) = ((unix / 86_400) as i64, unix % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

fn openai_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        // OpenAI names the limit that was hit: requests or tokens.
        429 => "requests",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn error(vendor: Option<Vendor>, status: u16, retry_after: Option<&'static str>) -> ErrorReply<'static> {
        ErrorReply { vendor, status, message: "slow down", retry_after, id: 7 }
    }

    fn body(reply: ErrorReply<'_>) -> Value {
        serde_json::from_slice(&reply.body()).unwrap()
    }

    fn header<'h>(headers: &'h [(&'static str, String)], name: &str) -> Option<&'h str> {
        headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn bodies_render_per_vendor() {
        let openai = body(error(Some(Vendor::OpenAi), 401, None));
        assert_eq!(
            openai,
            json!({"error": {"message": "slow down", "type": "authentication_error", "param": null, "code": null}})
        );
        let limited = body(error(None, 429, None));
        assert_eq!(
            (&limited["error"]["type"], &limited["error"]["code"]),
            (&json!("requests"), &json!("rate_limit_exceeded"))
        );
        let anthropic = body(error(Some(Vendor::Anthropic), 529, None));
        assert_eq!(
            anthropic,
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "slow down"},
                   "request_id": "req_mock_7"})
        );
        let gemini = body(error(Some(Vendor::Gemini), 503, None));
        assert_eq!(gemini, json!({"error": {"code": 503, "message": "slow down", "status": "UNAVAILABLE"}}));
    }

    #[test]
    fn a_gemini_429_carries_retry_info_when_a_wait_is_named() {
        let gemini = body(error(Some(Vendor::Gemini), 429, Some("2")));
        assert_eq!(gemini["error"]["status"], "RESOURCE_EXHAUSTED");
        let details = gemini["error"]["details"].as_array().unwrap();
        assert_eq!(details[0]["@type"], "type.googleapis.com/google.rpc.QuotaFailure");
        assert_eq!(details[1], json!({"@type": RETRY_INFO_TYPE, "retryDelay": "2s"}));
        let fast = body(error(Some(Vendor::Gemini), 429, Some("0.05")));
        assert_eq!(fast["error"]["details"][1]["retryDelay"], "0.050s");
        let unnamed = body(error(Some(Vendor::Gemini), 429, None));
        assert_eq!(unnamed["error"]["details"].as_array().unwrap().len(), 1, "{unnamed}");
    }

    #[test]
    fn a_429_has_rate_limit_headers() {
        let openai = error(Some(Vendor::OpenAi), 429, Some("0.02")).headers();
        assert_eq!(header(&openai, "retry-after"), Some("0.02"));
        assert_eq!(header(&openai, "x-ratelimit-remaining-requests"), Some("0"));
        assert_eq!(header(&openai, "x-ratelimit-reset-requests"), Some("20ms"));
        let anthropic = error(Some(Vendor::Anthropic), 429, None).headers();
        assert_eq!(header(&anthropic, "retry-after"), None);
        assert_eq!(header(&anthropic, "anthropic-ratelimit-requests-remaining"), Some("0"));
        let reset = header(&anthropic, "anthropic-ratelimit-requests-reset").unwrap();
        assert!(reset.len() == 20 && reset.ends_with('Z'), "{reset}");
        let overloaded = error(Some(Vendor::Anthropic), 529, Some("1")).headers();
        assert_eq!(overloaded, [("retry-after", "1".to_owned())]);
        assert!(error(Some(Vendor::Gemini), 500, None).headers().is_empty());
    }

    #[test]
    fn durations_and_dates_are_written_as_the_apis_do() {
        assert_eq!(
            (proto_duration(2.0), proto_duration(0.5), proto_duration(12.345)),
            ("2s".into(), "0.500s".into(), "12.345s".into())
        );
        assert_eq!(
            (go_duration(0.02), go_duration(1.0), go_duration(1.5)),
            ("20ms".into(), "1s".into(), "1.5s".into())
        );
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
