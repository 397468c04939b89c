//! Helpers shared by the tests: request bodies per vendor and a minimal raw
//! HTTP/1.1 client that reads one response from a kept-alive socket.

use orch_mock_llm::{MockLlm, Vendor};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;

/// The endpoint URL of `vendor` on `mock` for `model`.
pub fn endpoint(mock: &MockLlm, vendor: Vendor, model: &str) -> String {
    match vendor {
        Vendor::OpenAi => format!("{}/chat/completions", mock.base_url(vendor)),
        Vendor::Anthropic => format!("{}/v1/messages", mock.base_url(vendor)),
        Vendor::Gemini => format!("{}/models/{model}:generateContent", mock.base_url(vendor)),
    }
}

/// A request body in `vendor`'s format: system text and one user message.
pub fn body(vendor: Vendor, model: &str, system: &str, user: &str) -> Value {
    match vendor {
        Vendor::OpenAi => json!({
            "model": model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }),
        Vendor::Anthropic => json!({
            "model": model,
            "max_tokens": 1024,
            "system": system,
            "messages": [{"role": "user", "content": [{"type": "text", "text": user}]}],
        }),
        Vendor::Gemini => json!({
            "systemInstruction": {"parts": [{"text": system}]},
            "contents": [{"role": "user", "parts": [{"text": user}]}],
        }),
    }
}

/// Sends one request in `vendor`'s format with a fresh client.
pub async fn send(mock: &MockLlm, vendor: Vendor, user: &str) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(endpoint(mock, vendor, "test-model"))
        .json(&body(vendor, "test-model", "sys", user))
        .send()
        .await
}

/// One response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// Reads one `content-length` response from `reader`.
pub async fn read_response(reader: &mut BufReader<TcpStream>) -> RawResponse {
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .expect("content-length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();
    RawResponse { status, headers, body }
}

/// A raw POST with a `content-length` body.
pub fn raw_post(path: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\n{extra_headers}content-length: {}\r\n\r\n{body}",
        body.len()
    )
}
