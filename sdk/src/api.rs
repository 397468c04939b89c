//! Building blocks for provider plugins that call an HTTP JSON API: the
//! endpoint settings every such plugin reads (`base_url`, `api_key_secret`)
//! and the capabilities they imply, the mapping of an error status to a typed
//! [`PluginError`], the request's JSON Schema read once for every API, and a
//! send that asks again once when a successful reply cannot be read.

use crate::bindings::types::Header;
use crate::http::{Request, Response};
use crate::provider::CompletionRequest;
use crate::{Capabilities, PluginError};

/// How much of a body that carries no error message is quoted in an error.
const BODY_SNIPPET_CHARS: usize = 200;

/// Where an API lives and which secret holds its key, read from the
/// `base_url` and `api_key_secret` config keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The API root without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The origin of `base_url`, `scheme://host[:port]`, as the host grants it.
    pub origin: String,
    /// The secret whose value authenticates the call; `None` sends no key
    /// (local servers such as Ollama).
    pub api_key_secret: Option<String>,
}

impl Endpoint {
    /// Reads `base_url` and `api_key_secret` through `lookup` (the SDK's
    /// [`config::get`](crate::config::get) in a plugin), falling back to the
    /// given defaults. An empty `api_key_secret` means no key. An invalid
    /// value is an `invalid-input` error naming the key.
    pub fn from_config(
        lookup: impl Fn(&str) -> Option<String>,
        default_base_url: &str,
        default_api_key_secret: &str,
    ) -> Result<Self, PluginError> {
        let raw_base = lookup("base_url").unwrap_or_else(|| default_base_url.to_owned());
        let base_url = raw_base.trim().trim_end_matches('/').to_owned();
        let origin = origin_of(&base_url).map_err(|why| {
            PluginError::InvalidInput(format!(
                "config key `base_url` (`{raw_base}`) is not valid: {why}; expected e.g. {default_base_url}"
            ))
        })?;
        let api_key_secret = match lookup("api_key_secret") {
            None => Some(default_api_key_secret.to_owned()),
            Some(name) if name.is_empty() => None,
            Some(name) if is_secret_name(&name) => Some(name),
            Some(name) => {
                return Err(PluginError::InvalidInput(format!(
                    "config key `api_key_secret` (`{name}`) must be a secret name of letters, digits and `_`, \
                     or the empty string for no API key"
                )));
            }
        };
        Ok(Self { base_url, origin, api_key_secret })
    }

    /// `{base_url}{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// HTTP to the origin of `base_url` and, unless disabled, the API key secret.
    pub fn capabilities(&self) -> Capabilities {
        let capabilities = Capabilities::default().http(self.origin.clone());
        match &self.api_key_secret {
            Some(name) => capabilities.secret(name.clone()),
            None => capabilities,
        }
    }
}

/// Secret names the host accepts: letters, digits and `_`.
fn is_secret_name(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `scheme://host[:port]` of an `http(s)` URL, lower-cased, the form the
/// host's grants are written in. An IPv6 host without a port gets the
/// scheme's default port written out, so the origin stays unambiguous.
fn origin_of(url: &str) -> Result<String, &'static str> {
    let (scheme, rest) = url.split_once("://").ok_or("it has no scheme")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return Err("the scheme must be http or https"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed; use `api_key_secret`");
    }
    let (host, port) = split_host_port(&authority)?;
    if host.is_empty() {
        return Err("the host is empty");
    }
    Ok(match (port, host.starts_with('[')) {
        (Some(port), _) => format!("{scheme}://{host}:{port}"),
        (None, true) => format!("{scheme}://{host}:{default_port}"),
        (None, false) => format!("{scheme}://{host}"),
    })
}

/// Splits `host[:port]`, where the host may be a bracketed IPv6 address.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or("the IPv6 host has no closing `]`")?;
        let (host, after) = authority.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or("junk after the IPv6 host")?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    match port {
        Some(port) if port.parse::<u16>().is_err() => Err("the port is not a number from 0 to 65535"),
        _ => Ok((host, port)),
    }
}

/// The typed error for a non-2xx reply of `api` (e.g. `the Messages API`):
///
/// - 429: `rate-limited`, waiting as long as [`retry_after_ms`] says;
/// - 408, 409 and 5xx (529 "overloaded" included): `transient`;
/// - anything else (400, 401, 403, 404, ...): `fatal`.
///
/// Messages read `HTTP {status} from {api}: {detail}`, the detail being the
/// API's own `message` when the caller found one, else the start of the body.
pub fn status_error(status: u16, headers: &[Header], api: &str, message: Option<String>, body: &[u8]) -> PluginError {
    let text = || format!("HTTP {status} from {api}: {}", message.unwrap_or_else(|| body_snippet(body)));
    match status {
        429 => PluginError::RateLimited(retry_after_ms(headers)),
        408 | 409 | 500..=599 => PluginError::Transient(text()),
        _ => PluginError::Fatal(text()),
    }
}

/// The `error` object of an error body: `{"error": ...}`, or the same as the
/// only element of an array (as Google's APIs sometimes send it).
pub fn error_object(body: &[u8]) -> Option<serde_json::Value> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let value = match value {
        serde_json::Value::Array(items) => items.into_iter().next()?,
        value => value,
    };
    match value {
        serde_json::Value::Object(mut fields) => fields.remove("error"),
        _ => None,
    }
}

/// The API's own words in an error body: `error.message` (OpenAI, Anthropic,
/// Gemini), or `error` itself when it is a string (Ollama and other
/// compatible servers).
pub fn error_message(body: &[u8]) -> Option<String> {
    match error_object(body)? {
        serde_json::Value::String(message) => Some(message),
        error => error.get("message")?.as_str().map(str::to_owned),
    }
}

/// The start of `body` as text for an error message: trimmed, at most 200
/// characters, `(empty body)` when there is nothing.
pub fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(BODY_SNIPPET_CHARS) {
        _ if text.is_empty() => "(empty body)".to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// How long a 429 asks us to wait, in milliseconds: `retry-after-ms` when
/// present (the more precise), else `retry-after` in seconds (possibly
/// fractional). A value that is not a non-negative number (e.g. an HTTP date)
/// counts as absent.
pub fn retry_after_ms(headers: &[Header]) -> Option<u64> {
    let header = |name: &str| headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.trim());
    let number = |value: &str| value.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0);
    // Whole microseconds first, so `2.007` s is 2007 ms and not 2008 from
    // the float's tail; then up to the next millisecond. Float-to-int `as`
    // saturates, so an absurd wait cannot wrap around.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let to_ms = |micros: f64| (micros.round() as u64).div_ceil(1000);
    header("retry-after-ms")
        .and_then(number)
        .map(|ms| to_ms(ms * 1000.0))
        .or_else(|| header("retry-after").and_then(number).map(|secs| to_ms(secs * 1e6)))
}

/// The request's `response-schema` as a JSON object, ready to be put in a
/// body (OpenAI `response_format.json_schema.schema`, Anthropic
/// `output_config.format.schema`, Gemini `responseJsonSchema`); `None` when
/// the request has none. Text that is not a JSON object is `invalid-input`:
/// the host sent a schema no API would take.
pub fn response_schema(request: &CompletionRequest) -> Result<Option<serde_json::Value>, PluginError> {
    let Some(text) = &request.response_schema else {
        return Ok(None);
    };
    match serde_json::from_str(text) {
        Ok(schema @ serde_json::Value::Object(_)) => Ok(Some(schema)),
        Ok(_) => Err(PluginError::InvalidInput("the response schema is not a JSON object".into())),
        Err(e) => Err(PluginError::InvalidInput(format!("the response schema is not valid JSON: {e}"))),
    }
}

/// Sends `request` and reads the reply with `read`, which maps a status,
/// headers and body to a result (a pure function, so it is tested without a
/// host). A 2xx reply `read` finds unusable — a `transient` error for a
/// successful status — is requested once more at once; unusable again, it is
/// `fatal`, so the host moves on to a fallback model instead of retrying.
pub fn send_reading<T>(
    request: Request,
    read: impl Fn(u16, &[Header], &[u8]) -> Result<T, PluginError>,
) -> Result<T, PluginError> {
    let read_response = |response: &Response| read(response.status, &response.headers, &response.body);
    let first = request.clone().send()?;
    match read_response(&first) {
        Err(PluginError::Transient(_)) if first.is_success() => match read_response(&request.send()?) {
            Err(PluginError::Transient(why)) => {
                Err(PluginError::Fatal(format!("{why} (twice in a row; the reply cannot be read)")))
            }
            second => second,
        },
        first => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(pairs: &[(&str, &str)]) -> Result<Endpoint, PluginError> {
        Endpoint::from_config(
            |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()),
            "https://api.openai.com/v1",
            "OPENAI_API_KEY",
        )
    }

    fn header(name: &str, value: &str) -> Header {
        Header { name: name.into(), value: value.into() }
    }

    #[test]
    fn defaults_apply_with_their_key() {
        let e = endpoint(&[]).unwrap();
        assert_eq!(e.base_url, "https://api.openai.com/v1");
        assert_eq!(e.origin, "https://api.openai.com");
        assert_eq!(e.api_key_secret.as_deref(), Some("OPENAI_API_KEY"));
        assert_eq!(e.url("/chat/completions"), "https://api.openai.com/v1/chat/completions");
        let caps = e.capabilities();
        assert_eq!(caps.http, vec!["https://api.openai.com".to_owned()]);
        assert_eq!(caps.secrets, vec!["OPENAI_API_KEY".to_owned()]);
        assert!(caps.read_paths.is_empty() && caps.commands.is_empty());
    }

    #[test]
    fn trailing_slash_and_port_are_handled() {
        let e = endpoint(&[("base_url", "http://127.0.0.1:8080/v1/"), ("api_key_secret", "LOCAL_KEY")]).unwrap();
        assert_eq!(e.url("/chat/completions"), "http://127.0.0.1:8080/v1/chat/completions");
        assert_eq!(e.origin, "http://127.0.0.1:8080");
        assert_eq!(e.capabilities().secrets, vec!["LOCAL_KEY".to_owned()]);
    }

    #[test]
    fn empty_secret_name_means_no_key() {
        let e = endpoint(&[("base_url", "http://localhost:11434/v1"), ("api_key_secret", "")]).unwrap();
        assert_eq!(e.api_key_secret, None);
        let caps = e.capabilities();
        assert_eq!(caps.http, vec!["http://localhost:11434".to_owned()]);
        assert!(caps.secrets.is_empty());
    }

    #[test]
    fn origin_is_lower_cased_and_ipv6_gets_a_port() {
        assert_eq!(endpoint(&[("base_url", "HTTPS://API.Example.com/v1")]).unwrap().origin, "https://api.example.com");
        assert_eq!(endpoint(&[("base_url", "http://[::1]/v1")]).unwrap().origin, "http://[::1]:80");
        assert_eq!(endpoint(&[("base_url", "http://[::1]:9000")]).unwrap().origin, "http://[::1]:9000");
        assert_eq!(endpoint(&[("base_url", "https://h.example?x=1")]).unwrap().origin, "https://h.example");
    }

    #[test]
    fn bad_values_name_the_key() {
        for bad in
            ["api.openai.com/v1", "ftp://x/v1", "https:///v1", "https://u:p@h/v1", "http://h:99999", "http://[::1"]
        {
            let err = endpoint(&[("base_url", bad)]).unwrap_err();
            assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("`base_url`")), "{bad}: {err:?}");
        }
        let err = endpoint(&[("api_key_secret", "my-key")]).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("`api_key_secret`")), "{err:?}");
    }

    #[test]
    fn statuses_map_to_kinds() {
        let error = |status| status_error(status, &[], "the X API", Some("boom".into()), b"");
        for status in [408, 409, 500, 502, 503, 504, 529, 599] {
            assert_eq!(error(status), PluginError::Transient(format!("HTTP {status} from the X API: boom")));
        }
        for status in [100, 301, 400, 401, 402, 403, 404, 413, 422, 451] {
            assert_eq!(error(status), PluginError::Fatal(format!("HTTP {status} from the X API: boom")));
        }
        assert_eq!(
            status_error(429, &[header("retry-after", "2")], "x", None, b""),
            PluginError::RateLimited(Some(2000))
        );
    }

    #[test]
    fn detail_falls_back_to_the_body() {
        let html = status_error(502, &[], "the X API", None, b"  <html>Bad Gateway</html>\n");
        assert_eq!(html, PluginError::Transient("HTTP 502 from the X API: <html>Bad Gateway</html>".into()));
        let empty = status_error(503, &[], "the X API", None, b"");
        assert_eq!(empty, PluginError::Transient("HTTP 503 from the X API: (empty body)".into()));
        let long = "é".repeat(500);
        let PluginError::Fatal(message) = status_error(400, &[], "x", None, long.as_bytes()) else { panic!() };
        assert!(message.ends_with(&format!("{}…", "é".repeat(200))), "{message}");
    }

    #[test]
    fn error_messages_come_from_each_vendors_shape() {
        let message = |body: &str| error_message(body.as_bytes());
        assert_eq!(message(r#"{"error":{"message":"bad key","type":"invalid_request_error"}}"#).unwrap(), "bad key");
        assert_eq!(
            message(r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#).unwrap(),
            "busy"
        );
        assert_eq!(
            message(r#"[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]"#).unwrap(),
            "quota"
        );
        assert_eq!(message(r#"{"error":"model not found"}"#).unwrap(), "model not found");
        for none in ["", "<html>", "{}", r#"{"error":{"code":1}}"#, "[]"] {
            assert_eq!(message(none), None, "{none}");
        }
    }

    #[test]
    fn the_response_schema_is_a_json_object_or_invalid_input() {
        let request = |schema: Option<&str>| CompletionRequest {
            model: "m".into(),
            messages: Vec::new(),
            max_tokens: None,
            temperature: None,
            stop: Vec::new(),
            json_mode: false,
            response_schema: schema.map(str::to_owned),
            idempotency_key: None,
        };
        assert_eq!(response_schema(&request(None)).unwrap(), None);
        let schema = r#"{"type": "object", "properties": {}, "required": [], "additionalProperties": false}"#;
        assert_eq!(response_schema(&request(Some(schema))).unwrap(), Some(serde_json::from_str(schema).unwrap()));
        for (bad, why) in [("{", "not valid JSON"), ("[]", "not a JSON object"), ("\"object\"", "not a JSON object")] {
            let err = response_schema(&request(Some(bad))).unwrap_err();
            assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains(why)), "{bad}: {err:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_prefers_milliseconds() {
        let wait = |headers: &[Header]| retry_after_ms(headers);
        assert_eq!(wait(&[header("Retry-After", "2")]), Some(2000));
        assert_eq!(wait(&[header("retry-after", " 1.5 ")]), Some(1500));
        assert_eq!(wait(&[header("retry-after", "0.0004")]), Some(1));
        assert_eq!(wait(&[header("retry-after", "2.007")]), Some(2007), "no float tail");
        assert_eq!(wait(&[header("retry-after-ms", "0.5")]), Some(1));
        assert_eq!(wait(&[header("retry-after", "0")]), Some(0));
        assert_eq!(wait(&[header("retry-after", "1"), header("Retry-After-Ms", "250")]), Some(250));
        assert_eq!(wait(&[header("retry-after-ms", "soon"), header("retry-after", "3")]), Some(3000));
        assert_eq!(wait(&[]), None);
        assert_eq!(wait(&[header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]), None);
        for bad in ["-1", "NaN", "inf", ""] {
            assert_eq!(wait(&[header("retry-after", bad)]), None, "{bad}");
        }
    }
}
