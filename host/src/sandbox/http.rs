//! The `http-send` import: checks the origin against the plugin's grants,
//! injects `secret:NAME` references in header values (each secret only for
//! the origins it is bound to), sends with reqwest (no redirects, a timeout
//! bounded by the call's deadline, a response size cap) and scrubs injected
//! secret values out of what comes back. A response the host could not
//! scrub is never handed over: the plugin cannot ask for compression, an
//! encoded response to a request that carried a secret is refused, and the
//! `content-length` of a scrubbed response is dropped (it would tell the
//! secret's length).

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::audit::{AuditEvent, Capability};
use super::bindings::types::{Header, HttpRequest, HttpResponse, PluginError};
use super::grants::is_secret_name;
use super::state::PluginContext;

/// The marker that starts a secret reference in a header value.
const SECRET_PREFIX: &str = "secret:";

/// Headers the host owns; a plugin's values for them are dropped. Asking
/// for a compressed response would hide an echoed secret from the scrubber.
const HOST_OWNED_HEADERS: &[&str] =
    &["host", "content-length", "transfer-encoding", "connection", "accept-encoding", "te"];

/// Sends `request` for `plugin`, spending at most `time_left`.
pub async fn send(
    plugin: &PluginContext,
    request: HttpRequest,
    time_left: Duration,
) -> Result<HttpResponse, PluginError> {
    let url = Url::parse(&request.url)
        .map_err(|e| PluginError::InvalidInput(format!("`{}` is not a valid URL: {e}", request.url)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(PluginError::InvalidInput(format!("`{url}` is not an http(s) URL")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(PluginError::InvalidInput("credentials in URLs are not allowed; use a secret header".into()));
    }
    if !plugin.grants.allows_url(&url) {
        return Err(plugin.deny(Capability::Http, format!("HTTP to {} is not granted", origin(&url))));
    }
    let method = match request.method.to_ascii_uppercase().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD") => {
            Method::from_bytes(m.as_bytes()).expect("valid method")
        }
        other => return Err(PluginError::InvalidInput(format!("HTTP method `{other}` is not supported"))),
    };

    let mut injected: Vec<(String, String)> = Vec::new();
    let mut headers = HeaderMap::new();
    for Header { name, value } in &request.headers {
        if HOST_OWNED_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        let value = inject_secrets(plugin, &url, value, &mut injected).map_err(|e| match e {
            SecretError::NotGranted(name) => {
                plugin.deny(Capability::Secret, format!("secret {name} is not granted for {}", origin(&url)))
            }
            SecretError::Unset(name) => PluginError::Fatal(format!(
                "secret {name} is granted but has no value: set the environment variable {name}"
            )),
        })?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PluginError::InvalidInput(format!("`{name}` is not a valid header name")))?;
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| PluginError::InvalidInput(format!("the value of header `{name}` is not valid")))?;
        if !injected.is_empty() {
            value.set_sensitive(true);
        }
        headers.append(name, value);
    }

    let timeout = request.timeout_ms.map_or(time_left, |ms| Duration::from_millis(ms.into()).min(time_left));
    let outcome = plugin
        .services
        .http_client()
        .request(method, url.clone())
        .headers(headers)
        .body(request.body)
        .timeout(timeout)
        .send()
        .await;
    plugin.audit(&AuditEvent::HttpSent {
        plugin: plugin.id(),
        method: request.method.clone(),
        url: url.to_string(),
        status: outcome.as_ref().ok().map(|r| r.status().as_u16()),
    });
    let mut response = outcome.map_err(|e| transport_error(&e))?;

    let status = response.status().as_u16();
    let encoded = response
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded && !injected.is_empty() {
        return Err(PluginError::Fatal(format!(
            "the response from {} is content-encoded, so the secrets sent with the request could not be scrubbed from it",
            origin(&url)
        )));
    }
    let mut headers: Vec<Header> = response
        .headers()
        .iter()
        .map(|(name, value)| Header {
            name: name.as_str().to_owned(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        })
        .collect();
    let cap = plugin.services.caps.http_response_bytes;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e))? {
        if body.len() + chunk.len() > cap {
            return Err(PluginError::Fatal(format!(
                "the response from {} is larger than the {cap}-byte cap",
                origin(&url)
            )));
        }
        body.extend_from_slice(&chunk);
    }

    if !injected.is_empty() {
        headers.retain(|h| !h.name.eq_ignore_ascii_case("content-length"));
    }
    for (name, value) in &injected {
        let reference = format!("{SECRET_PREFIX}{name}");
        body = replace_bytes(&body, value.as_bytes(), reference.as_bytes());
        for header in &mut headers {
            header.value = header.value.replace(value.as_str(), &reference);
        }
    }
    Ok(HttpResponse { status, headers, body })
}

enum SecretError {
    NotGranted(String),
    Unset(String),
}

/// Replaces every `secret:NAME` in `value` (a header of a request to
/// `url`), recording each value injected.
fn inject_secrets(
    plugin: &PluginContext,
    url: &Url,
    value: &str,
    injected: &mut Vec<(String, String)>,
) -> Result<String, SecretError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find(SECRET_PREFIX) {
        out.push_str(&rest[..at]);
        let after = &rest[at + SECRET_PREFIX.len()..];
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = &after[..len];
        if !is_secret_name(name) {
            out.push_str(SECRET_PREFIX);
            rest = after;
            continue;
        }
        if !plugin.grants.allows_secret(name, url) {
            return Err(SecretError::NotGranted(name.to_owned()));
        }
        let secret = plugin.services.secrets.get(name).ok_or_else(|| SecretError::Unset(name.to_owned()))?;
        out.push_str(&secret);
        if !injected.iter().any(|(n, _)| n == name) {
            injected.push((name.to_owned(), secret));
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

fn replace_bytes(haystack: &[u8], needle: &[u8], replacement: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(replacement);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

/// Connection problems and timeouts are worth retrying; the rest is not.
fn transport_error(e: &reqwest::Error) -> PluginError {
    if e.is_timeout() {
        PluginError::Transient(format!("request timed out: {e}"))
    } else if e.is_connect() || e.is_request() || e.is_body() {
        PluginError::Transient(format!("connection failed: {e}"))
    } else {
        PluginError::Fatal(format!("request failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::replace_bytes;

    #[test]
    fn replaces_every_occurrence() {
        assert_eq!(replace_bytes(b"k=abc;k=abc", b"abc", b"secret:K"), b"k=secret:K;k=secret:K".to_vec());
        assert_eq!(replace_bytes(b"ab", b"abc", b"x"), b"ab".to_vec());
    }
}
