//! HTTP through the host. Only origins the operator granted are reachable;
//! anything else comes back as [`PluginError::Denied`] without leaving the host.
//! Put [`secret`](crate::secret) references in header values to have the host
//! inject API keys.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PluginError;
use crate::bindings::host;
use crate::bindings::types::{Header, HttpRequest};

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Request {
    inner: HttpRequest,
}

impl Request {
    /// A request with `method` to `url`.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            inner: HttpRequest {
                method: method.to_owned(),
                url: url.into(),
                headers: Vec::new(),
                body: Vec::new(),
                timeout_ms: None,
            },
        }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A POST request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// Adds a header. The value may hold a `secret:NAME` reference.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.inner.headers.push(Header { name: name.into(), value: value.into() });
        self
    }

    /// Sets the body to `body` serialised as JSON, with its content type.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, PluginError> {
        self.inner.body =
            serde_json::to_vec(body).map_err(|e| PluginError::InvalidInput(format!("cannot encode JSON body: {e}")))?;
        Ok(self.header("content-type", "application/json"))
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.inner.body = body.into();
        self
    }

    /// Sets a timeout for this request (the host caps it at the plugin's limit).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.inner.timeout_ms = Some(ms);
        self
    }

    /// The request as it will be handed to the host (secret references unresolved).
    pub fn as_wire(&self) -> &HttpRequest {
        &self.inner
    }

    /// Sends the request through the host.
    pub fn send(self) -> Result<Response, PluginError> {
        host::http_send(&self.inner).map(|r| Response { status: r.status, headers: r.headers, body: r.body })
    }
}

/// A received response. Any status is a response; deciding what a 4xx or 5xx
/// means is up to the plugin.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers in the order received.
    pub headers: Vec<Header>,
    /// The body, up to the host's size cap.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON. A body that does not parse is a `transient`
    /// error: a truncated or garbled reply may not repeat.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| PluginError::Transient(format!("response is not the expected JSON: {e}")))
    }

    /// True for 2xx statuses.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// POSTs `body` as JSON to `url` with `headers`.
pub fn post_json<T: Serialize + ?Sized>(
    url: &str,
    headers: &[(&str, &str)],
    body: &T,
) -> Result<Response, PluginError> {
    headers.iter().fold(Request::post(url), |req, (name, value)| req.header(*name, *value)).json(body)?.send()
}

/// GETs `url` with `headers`.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, PluginError> {
    headers.iter().fold(Request::get(url), |req, (name, value)| req.header(*name, *value)).send()
}
