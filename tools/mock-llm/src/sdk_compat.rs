//! The bridge to the official Python SDKs (openai, anthropic, google-genai,
//! pinned in `tools/test-requirements.txt`): runs `tools/sdk-compat/drive.py`
//! against a [`MockLlm`], reads back what the SDK made of each answer, and
//! captures the exact request an SDK sends for the canonical call, so a test
//! can hold a plugin's request body next to the SDK's.
//!
//! ```no_run
//! use orch_mock_llm::Vendor;
//! use orch_mock_llm::sdk_compat::canonical_request;
//!
//! # async fn demo() {
//! let sent = canonical_request(Vendor::Anthropic).await.unwrap_or_else(|e| panic!("{e}"));
//! assert_eq!(sent.body["output_config"]["format"]["type"], "json_schema");
//! # }
//! ```
//!
//! Every failure to run an SDK is an error (a test should fail, not skip),
//! whose message says `pip install -r tools/test-requirements.txt` where that
//! is the cure.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::reply::{MockReply, Vendor};
use crate::server::MockLlm;

/// What installs the SDKs at the versions the tests expect.
pub const INSTALL_HINT: &str = "pip install -r tools/test-requirements.txt";

/// The SDK pins, as `tools/test` installs them.
const REQUIREMENTS: &str = include_str!("../../test-requirements.txt");

/// The JSON Schema of the canonical call's structured output.
const SCHEMA: &str = include_str!("../../sdk-compat/schema.json");

/// How long one run of the script may take: the SDK imports (seconds each)
/// and every call's attempts, each bounded by its own timeout.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// Request headers whose value depends on the machine, the run or the SDK's
/// patch version rather than on what the caller asked for; left out by
/// [`SdkRequest::stable_headers`].
pub const VOLATILE_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "accept-encoding",
    "user-agent",
    "x-goog-api-client",
    "x-stainless-arch",
    "x-stainless-os",
    "x-stainless-package-version",
    "x-stainless-read-timeout",
    "x-stainless-retry-count",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-timeout",
];

/// Why an SDK could not be driven.
#[derive(Debug, thiserror::Error)]
pub enum SdkCompatError {
    /// `python3` is not on the `PATH` (or could not be started).
    #[error("python3 could not be started ({0}); install Python 3, then {INSTALL_HINT}")]
    NoPython(#[source] io::Error),
    /// The SDK is not installed.
    #[error("the {sdk} SDK is missing: {stderr}")]
    SdkMissing {
        /// The SDK's distribution name.
        sdk: &'static str,
        /// What `drive.py` said, which ends with [`INSTALL_HINT`].
        stderr: String,
    },
    /// Another version of the SDK is installed than the one pinned.
    #[error("{found} is installed but the tests pin {pinned}; {INSTALL_HINT}")]
    WrongVersion {
        /// `name version` as installed.
        found: String,
        /// `name version` as pinned.
        pinned: String,
    },
    /// `drive.py` failed.
    #[error("{script} exited with {status}: {stderr}")]
    ScriptFailed {
        /// The script's path.
        script: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its standard error.
        stderr: String,
    },
    /// `drive.py` ran longer than its bound and was killed.
    #[error("drive.py did not finish within {0:?}")]
    TimedOut(Duration),
    /// `drive.py` printed something other than its results.
    #[error("drive.py printed something that is not its results ({error}): {stdout}")]
    BadOutput {
        /// Why it does not parse.
        error: serde_json::Error,
        /// What it printed.
        stdout: String,
    },
    /// The mock server could not start.
    #[error("the mock server did not start: {0}")]
    Mock(#[source] io::Error),
    /// The canonical call failed or never reached the mock.
    #[error("the {sdk} SDK's canonical call failed: {detail}")]
    Canonical {
        /// The SDK's distribution name.
        sdk: &'static str,
        /// The SDK's error, or what is missing.
        detail: String,
    },
}

/// One call for the SDK to make. Defaults: 2 retries, 10 s per attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SdkCall {
    call: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u64>,
    max_retries: u32,
    timeout: f64,
}

impl SdkCall {
    /// A call with `prompt` as the user message, the system text
    /// "You are terse." and 256 output tokens.
    pub fn plain(prompt: impl Into<String>) -> Self {
        Self { prompt: Some(prompt.into()), ..Self::new("plain") }
    }

    /// The canonical call: model `m`, system "You are terse.", user
    /// "Say hi.", 256 output tokens, [`canonical_schema`] as structured
    /// output (Gemini: also a thinking budget of 128).
    pub fn canonical() -> Self {
        Self::new("canonical")
    }

    fn new(call: &'static str) -> Self {
        Self { call, prompt: None, system: None, max_tokens: None, max_retries: 2, timeout: 10.0 }
    }

    /// The output token limit.
    pub fn max_tokens(mut self, max_tokens: u64) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// The system text; empty for none.
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// How many times the SDK may retry after the first attempt.
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The SDK's timeout for each attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.as_secs_f64();
        self
    }
}

/// What the SDK made of one call, as `drive.py` reports it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SdkOutcome {
    /// `name version` of the SDK.
    pub sdk: String,
    /// True when the call returned a response.
    pub ok: bool,
    /// The text as the SDK gives it (`message.content`, the text blocks
    /// joined, `response.text`).
    pub text: Option<String>,
    /// OpenAI's `message.refusal`; Anthropic's `stop_details`; null for
    /// Gemini.
    pub refusal: Value,
    /// The stop reason as the SDK reports it (`finish_reason`,
    /// `stop_reason`, the `finish_reason` enum's value).
    pub stop_reason: Option<String>,
    /// The SDK's usage object, its `None` fields left out, with the SDK's
    /// field names (google-genai's are snake_case).
    pub usage: Value,
    /// The request id the SDK read (`x-request-id`, `request-id`; Gemini:
    /// `responseId`).
    pub request_id: Option<String>,
    /// HTTP requests the SDK sent for the call, retries included.
    pub attempts: u32,
    /// The `x-stainless-retry-count` header of each attempt (null for
    /// google-genai, which sends none).
    pub retry_counts: Vec<Option<String>>,
    /// `text` parsed as JSON, null when it is not JSON.
    pub json: Value,
    /// The SDK's exception, when it raised one.
    pub error: Option<SdkError>,
}

/// An exception the SDK raised.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SdkError {
    /// Its class, e.g. `RateLimitError`, `ClientError`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// Its message.
    pub message: String,
    /// The error body as the SDK parsed it.
    pub body: Value,
    /// The `retryDelay` of a Google `RetryInfo` detail in the body.
    pub retry_delay: Option<String>,
}

/// A request as it arrived at the mock.
#[derive(Debug, Clone, PartialEq)]
pub struct SdkRequest {
    /// The HTTP method.
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// The headers in the order sent, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Value,
}

impl SdkRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The headers without [`VOLATILE_HEADERS`], names lowercased, sorted.
    pub fn stable_headers(&self) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .filter(|(n, _)| !VOLATILE_HEADERS.contains(&n.as_str()))
            .collect();
        headers.sort();
        headers
    }
}

/// The path of `drive.py`.
pub fn drive_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk-compat/drive.py")
}

/// The canonical call's structured-output schema (`tools/sdk-compat/schema.json`).
pub fn canonical_schema() -> Value {
    serde_json::from_str(SCHEMA).expect("tools/sdk-compat/schema.json is JSON")
}

/// The SDK that speaks `vendor`'s wire format: its distribution name.
pub fn sdk_name(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::OpenAi => "openai",
        Vendor::Anthropic => "anthropic",
        Vendor::Gemini => "google-genai",
    }
}

/// `name version` of the SDK for `vendor` as `tools/test-requirements.txt`
/// pins it.
pub fn pinned_sdk(vendor: Vendor) -> String {
    let name = sdk_name(vendor);
    let version = REQUIREMENTS
        .lines()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix("=="))
        .unwrap_or_else(|| panic!("tools/test-requirements.txt pins no {name}"));
    format!("{name} {}", version.trim())
}

/// The `base_url` the SDK for `vendor` is configured with to reach `mock`:
/// OpenAI's ends with `/v1`; google-genai adds `/v1beta` itself, so it gets
/// the origin, like Anthropic's.
pub fn sdk_base_url(mock: &MockLlm, vendor: Vendor) -> String {
    match vendor {
        Vendor::OpenAi => mock.base_url(Vendor::OpenAi),
        Vendor::Anthropic | Vendor::Gemini => mock.origin(),
    }
}

/// Makes `calls` in order with the official SDK for `vendor` (one Python
/// process) against `mock`, and returns what the SDK made of each.
pub async fn drive(mock: &MockLlm, vendor: Vendor, calls: &[SdkCall]) -> Result<Vec<SdkOutcome>, SdkCompatError> {
    let script = drive_script();
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--provider", &vendor.to_string(), "--base-url", &sdk_base_url(mock, vendor), "--jobs"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(SdkCompatError::NoPython)?;
    let jobs = serde_json::to_vec(calls).expect("calls serialise");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A script that dies early closes its end; its exit status says why.
    let _ = stdin.write_all(&jobs).await;
    drop(stdin);
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| SdkCompatError::TimedOut(RUN_TIMEOUT))?
        .map_err(SdkCompatError::NoPython)?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    match output.status.code() {
        Some(0) => {}
        Some(3) => {
            let stderr = if stderr.contains(INSTALL_HINT) { stderr } else { format!("{stderr}; {INSTALL_HINT}") };
            return Err(SdkCompatError::SdkMissing { sdk: sdk_name(vendor), stderr });
        }
        _ => {
            let script = script.display().to_string();
            return Err(SdkCompatError::ScriptFailed { script, status: output.status, stderr });
        }
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let outcomes: Vec<SdkOutcome> = serde_json::from_str(&stdout)
        .map_err(|error| SdkCompatError::BadOutput { error, stdout: stdout.clone().into_owned() })?;
    let pinned = pinned_sdk(vendor);
    if let Some(other) = outcomes.iter().find(|o| o.sdk != pinned) {
        return Err(SdkCompatError::WrongVersion { found: other.sdk.clone(), pinned });
    }
    Ok(outcomes)
}

/// The request the official SDK for `vendor` sends for the canonical call
/// ([`SdkCall::canonical`]), captured live: the script runs against a mock
/// of its own, which answers with a document the schema accepts.
///
/// The body has no volatile field (no ids, no timestamps; the model is `m`);
/// the path has no port. Headers that vary by machine or run are listed in
/// [`VOLATILE_HEADERS`]; compare [`SdkRequest::stable_headers`].
pub async fn canonical_request(vendor: Vendor) -> Result<SdkRequest, SdkCompatError> {
    let mock = MockLlm::builder()
        .responder(|_| MockReply {
            text: r#"{"verdict":"approved","summary":"hi"}"#.to_owned(),
            input_tokens: 12,
            output_tokens: 9,
            ..MockReply::default()
        })
        .start()
        .await
        .map_err(SdkCompatError::Mock)?;
    let outcome = drive(&mock, vendor, &[SdkCall::canonical().max_retries(0)]).await?.pop();
    let failed = |detail: String| SdkCompatError::Canonical { sdk: sdk_name(vendor), detail };
    match outcome {
        Some(SdkOutcome { error: Some(error), .. }) => return Err(failed(error.message)),
        None => return Err(failed("drive.py returned no result".to_owned())),
        Some(_) => {}
    }
    let request = mock.requests().pop().ok_or_else(|| failed("no request reached the mock".to_owned()))?;
    let body = serde_json::from_slice(&request.body).map_err(|e| failed(format!("the body is not JSON: {e}")))?;
    Ok(SdkRequest { method: request.method, path: request.path, headers: request.headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_is_pinned() {
        assert_eq!(pinned_sdk(Vendor::OpenAi), "openai 3.57.0");
        assert_eq!(pinned_sdk(Vendor::Anthropic), "anthropic 2.14.0");
        assert_eq!(pinned_sdk(Vendor::Gemini), "google-genai 3.6.1");
        assert_eq!(canonical_schema()["required"], serde_json::json!(["verdict", "summary"]));
    }

    #[test]
    fn calls_serialise_as_drive_py_jobs() {
        let call = SdkCall::plain("hi").max_tokens(5).max_retries(0).timeout(Duration::from_millis(2500));
        assert_eq!(
            serde_json::to_value(&call).unwrap(),
            serde_json::json!({"call": "plain", "prompt": "hi", "max_tokens": 5, "max_retries": 0, "timeout": 2.5})
        );
        assert_eq!(
            serde_json::to_value(SdkCall::canonical()).unwrap(),
            serde_json::json!({"call": "canonical", "max_retries": 2, "timeout": 10.0})
        );
    }

    #[test]
    fn a_missing_python_says_how_to_install_the_sdks() {
        let no_python = SdkCompatError::NoPython(io::Error::from(io::ErrorKind::NotFound));
        assert!(no_python.to_string().contains(INSTALL_HINT), "{no_python}");
    }
}
