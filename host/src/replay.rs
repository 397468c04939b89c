//! Offline completions. A cassette is a JSON Lines file; each line holds a
//! completion request, its fingerprint and the completion a provider returned
//! for it. [`Offline`] wraps the real strategies and, per call, serves the
//! completion from the cassette (replay), or calls the provider and appends
//! what it returned (record). In `auto` mode — the default — a provider whose
//! API key is not set is served from the cassette, so the demo runs with no
//! key and no network.
//!
//! Replay lives in the host, not in a plugin: recording writes a file, which
//! plugins are never granted, and one implementation of the fingerprint
//! serves both directions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::engine::{Plugins, Served};
use crate::journal::{stop_reason_from_name, stop_reason_name};
use crate::retry::{CallError, ErrorKind};
use crate::sandbox::{
    CheckRequest, CheckResult, Completion, CompletionRequest, MessageRole, RouteDecision, RouteRequest, Usage,
};

/// `[replay] mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplayMode {
    /// Providers without their API key are served from the cassette.
    #[default]
    Auto,
    /// Every call goes to its provider; the cassette is not read.
    Live,
    /// Every call is served from the cassette; no provider is called.
    Replay,
    /// Every call goes to its provider and new replies are appended.
    Record,
}

/// `[replay]` in `orch.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// When the cassette is used.
    #[serde(default)]
    pub mode: ReplayMode,
    /// The cassette file; default: `TASKS.cassette.jsonl` beside the tasks
    /// file, else `orch.cassette.jsonl`.
    pub cassette: Option<PathBuf>,
}

/// A cassette that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cassette {}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct CassetteError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line at fault, if one is.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// A request as a cassette line stores it; its JSON is what is fingerprinted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedRequest {
    model: String,
    messages: Vec<RecordedMessage>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    stop: Vec<String>,
    #[serde(default)]
    json_mode: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedMessage {
    role: String,
    content: String,
}

/// A completion as a cassette line stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedCompletion {
    text: String,
    model: String,
    input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    cached_input_tokens: u64,
    #[serde(default, skip_serializing_if = "crate::journal::is_zero")]
    cache_write_tokens: u64,
    stop_reason: String,
}

/// One line of a cassette.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    fingerprint: String,
    /// The provider that served it when it was recorded (for people; replay
    /// does not match on it).
    provider: String,
    request: RecordedRequest,
    completion: RecordedCompletion,
}

impl RecordedRequest {
    fn new(request: &CompletionRequest) -> Self {
        let role = |role: MessageRole| match role {
            MessageRole::System => "system",
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
        };
        Self {
            model: request.model.clone(),
            messages: request
                .messages
                .iter()
                .map(|m| RecordedMessage { role: role(m.role).to_owned(), content: m.content.clone() })
                .collect(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            stop: request.stop.clone(),
            json_mode: request.json_mode,
        }
    }

    fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).expect("requests serialise");
        let digest = Sha256::digest(&json);
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl RecordedCompletion {
    fn new(completion: &Completion) -> Self {
        Self {
            text: completion.text.clone(),
            model: completion.model.clone(),
            input_tokens: completion.usage.input_tokens,
            output_tokens: completion.usage.output_tokens,
            cached_input_tokens: completion.usage.cached_input_tokens,
            cache_write_tokens: completion.usage.cache_write_tokens,
            stop_reason: stop_reason_name(completion.stop_reason).to_owned(),
        }
    }

    fn to_completion(&self) -> Completion {
        Completion {
            text: self.text.clone(),
            usage: Usage {
                input_tokens: self.input_tokens,
                output_tokens: self.output_tokens,
                cached_input_tokens: self.cached_input_tokens,
                cache_write_tokens: self.cache_write_tokens,
            },
            stop_reason: stop_reason_from_name(&self.stop_reason),
            model: self.model.clone(),
        }
    }
}

/// The fingerprint of `request`: every field that shapes the reply (model,
/// messages, options), hashed; the provider is left out so a recording serves
/// whichever provider the router names for the model.
pub fn fingerprint(request: &CompletionRequest) -> String {
    RecordedRequest::new(request).fingerprint()
}

/// Recorded completions by fingerprint.
#[derive(Debug, Default)]
pub struct Cassette {
    entries: HashMap<String, RecordedCompletion>,
}

impl Cassette {
    /// Reads `path`. Every line must be a recording whose fingerprint matches
    /// its request; a later line for the same request replaces an earlier one.
    pub fn load(path: &Path) -> Result<Self, CassetteError> {
        let error = |line: Option<usize>, message: String| CassetteError { path: path.to_owned(), line, message };
        let text = std::fs::read_to_string(path).map_err(|e| error(None, e.to_string()))?;
        let mut entries = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let line: Line = serde_json::from_str(raw)
                .map_err(|e| error(Some(i + 1), format!("not a recording ({e}); re-record the cassette")))?;
            let actual = line.request.fingerprint();
            if actual != line.fingerprint {
                return Err(error(
                    Some(i + 1),
                    format!(
                        "fingerprint {} does not match its request (which hashes to {actual}); \
                         was the request edited? Re-record it",
                        line.fingerprint
                    ),
                ));
            }
            entries.insert(line.fingerprint, line.completion);
        }
        Ok(Self { entries })
    }

    /// The completion recorded for `request`.
    pub fn get(&self, request: &CompletionRequest) -> Option<Completion> {
        self.entries.get(&fingerprint(request)).map(RecordedCompletion::to_completion)
    }
}

/// Appends recordings to a cassette, each request once.
struct Recorder {
    file: Mutex<(File, HashSet<String>)>,
}

impl Recorder {
    fn open(path: &Path, known: HashSet<String>) -> Result<Self, CassetteError> {
        let error = |message: String| CassetteError { path: path.to_owned(), line: None, message };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| error(e.to_string()))?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(|e| error(e.to_string()))?;
        Ok(Self { file: Mutex::new((file, known)) })
    }

    fn append(&self, provider: &str, request: &CompletionRequest, completion: &Completion) -> std::io::Result<()> {
        let request = RecordedRequest::new(request);
        let fingerprint = request.fingerprint();
        let mut guard = self.file.lock().expect("not poisoned");
        let (file, known) = &mut *guard;
        if known.contains(&fingerprint) {
            return Ok(());
        }
        let line = Line {
            fingerprint: fingerprint.clone(),
            provider: provider.to_owned(),
            request,
            completion: RecordedCompletion::new(completion),
        };
        let mut text = serde_json::to_string(&line).expect("recordings serialise");
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.flush()?;
        known.insert(fingerprint);
        Ok(())
    }
}

/// Where calls are served from, decided once per run.
pub struct Offline<P: Plugins> {
    inner: P,
    path: PathBuf,
    /// Providers served from the cassette, each with why (e.g. its missing key).
    replayed: BTreeMap<String, String>,
    /// Every provider is served from the cassette.
    replay_all: bool,
    cassette: Result<Cassette, String>,
    recorder: Option<Recorder>,
}

impl<P: Plugins> Offline<P> {
    /// Wraps `inner`. `missing_keys` names, per provider, a secret it needs
    /// that is not set (`auto` mode serves those from the cassette at `path`).
    pub fn new(
        inner: P,
        mode: ReplayMode,
        path: PathBuf,
        missing_keys: BTreeMap<String, String>,
    ) -> Result<Self, CassetteError> {
        let (replayed, replay_all) = match mode {
            ReplayMode::Auto => (
                missing_keys.into_iter().map(|(provider, key)| (provider, format!("{key} is not set"))).collect(),
                false,
            ),
            ReplayMode::Replay => (BTreeMap::new(), true),
            ReplayMode::Live | ReplayMode::Record => (BTreeMap::new(), false),
        };
        let needs_cassette = replay_all || !replayed.is_empty() || mode == ReplayMode::Record;
        let cassette = match (needs_cassette, path.exists()) {
            (false, _) => Err("the cassette is not used in this mode".to_owned()),
            (true, true) => Ok(Cassette::load(&path)?),
            (true, false) if mode == ReplayMode::Record => Ok(Cassette::default()),
            (true, false) => Err(format!("there is no cassette at {}", path.display())),
        };
        if mode == ReplayMode::Replay
            && let Err(message) = &cassette
        {
            return Err(CassetteError { path, line: None, message: message.clone() });
        }
        let recorder = match mode {
            ReplayMode::Record => {
                let known = cassette.as_ref().map(|c| c.entries.keys().cloned().collect()).unwrap_or_default();
                Some(Recorder::open(&path, known)?)
            }
            _ => None,
        };
        Ok(Self { inner, path, replayed, replay_all, cassette, recorder })
    }

    /// What the run should tell the user about where replies come from.
    pub fn describe(&self) -> Option<String> {
        let path = self.path.display();
        if self.recorder.is_some() {
            return Some(format!("recording provider replies to {path}"));
        }
        if self.replay_all {
            return Some(format!("every reply is replayed from {path}; no provider is called"));
        }
        let offline = self.replayed.iter().map(|(p, why)| format!("{p} ({why})")).collect::<Vec<_>>().join(", ");
        match &self.cassette {
            Ok(_) if !offline.is_empty() => Some(format!("offline: {offline} served from {path}")),
            _ => None,
        }
    }

    fn replay(&self, provider: &str, request: &CompletionRequest) -> Result<Served<Completion>, CallError> {
        let why = match self.replayed.get(provider) {
            Some(why) => format!("{provider} is served from the cassette because {why}"),
            None => "every provider is served from the cassette".to_owned(),
        };
        let cassette = self.cassette.as_ref().map_err(|message| {
            CallError::new(
                ErrorKind::Fatal,
                format!("{why}, but {message}; set the key, or point [replay] cassette / --replay at a recording"),
            )
        })?;
        let completion = cassette.get(request).ok_or_else(|| {
            CallError::new(
                ErrorKind::Fatal,
                format!(
                    "{why}, and {path} has no recording of this request ({provider}/{}, fingerprint {}); \
                     the prompt, options or model differ from the recorded run. Record it with a key for \
                     {provider} and `orch run TASKS --record {path}`, or without keys against the mock LLM \
                     server: start `cargo run -p orch-mock-llm -- --responder pipeline` (it prints each API's \
                     base_url), point [plugins.{provider}.config] base_url at it with api_key_secret = \"\", \
                     grant http = [\"http://127.0.0.1:*\"] under [plugins.{provider}.grants], and run \
                     `orch run TASKS --record {path}` (the demo's cassette: \
                     `ORCH_UPDATE_DEMO_CASSETTE=1 cargo test -p orch-host --test offline`)",
                    request.model,
                    fingerprint(request),
                    path = self.path.display(),
                ),
            )
        })?;
        Ok(Served { value: completion, plugin: format!("replay ({})", self.path.display()) })
    }
}

impl<P: Plugins> Plugins for Offline<P> {
    async fn route(&self, request: &RouteRequest) -> Result<Served<RouteDecision>, CallError> {
        self.inner.route(request).await
    }

    async fn complete(&self, provider: &str, request: &CompletionRequest) -> Result<Served<Completion>, CallError> {
        if self.replay_all || self.replayed.contains_key(provider) {
            return self.replay(provider, request);
        }
        let served = self.inner.complete(provider, request).await?;
        if let Some(recorder) = &self.recorder
            && let Err(e) = recorder.append(provider, request, &served.value)
        {
            // The reply is journaled all the same; only the recording is lost.
            tracing::error!("cannot append to the cassette {}: {e}", self.path.display());
        }
        Ok(served)
    }

    fn gate_identity(&self, gate: &str) -> String {
        self.inner.gate_identity(gate)
    }

    async fn check(&self, gate: &str, request: &CheckRequest) -> Result<Served<CheckResult>, CallError> {
        self.inner.check(gate, request).await
    }
}

#[cfg(test)]
mod tests;
