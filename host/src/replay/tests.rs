//! The cassette format and the offline wrapper, with a counting fake provider.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::sandbox::{Message, StopReason};

/// A provider that answers `reply from PROVIDER to: LAST MESSAGE` and counts calls.
#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
}

impl Plugins for Counting {
    async fn route(&self, _: &RouteRequest) -> Result<Served<RouteDecision>, CallError> {
        unreachable!("not used")
    }

    async fn complete(&self, provider: &str, request: &CompletionRequest) -> Result<Served<Completion>, CallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Served {
            value: Completion {
                text: format!("reply from {provider} to: {}", request.messages.last().unwrap().content),
                usage: Usage {
                    input_tokens: 1200,
                    output_tokens: 340,
                    cached_input_tokens: 200,
                    cache_write_tokens: 0,
                },
                stop_reason: StopReason::MaxTokens,
                model: format!("{}-20250101", request.model),
            },
            plugin: format!("{provider} 1.0"),
        })
    }

    async fn check(&self, _: &str, _: &CheckRequest) -> Result<Served<CheckResult>, CallError> {
        unreachable!("not used")
    }
}

fn request(model: &str, user: &str) -> CompletionRequest {
    CompletionRequest {
        model: model.into(),
        messages: vec![
            Message { role: MessageRole::System, content: "You are the planner".into() },
            Message { role: MessageRole::User, content: user.into() },
        ],
        max_tokens: Some(4096),
        temperature: None,
        stop: Vec::new(),
        json_mode: true,
        response_schema: None,
        idempotency_key: None,
    }
}

fn offline(mode: ReplayMode, path: &Path, missing: &[(&str, &str)]) -> Offline<Counting> {
    let missing = missing.iter().map(|(p, k)| (p.to_string(), k.to_string())).collect();
    Offline::new(Counting::default(), mode, path.to_owned(), missing).unwrap()
}

fn calls(offline: &Offline<Counting>) -> usize {
    offline.inner.calls.load(Ordering::SeqCst)
}

#[test]
fn fingerprints_cover_what_shapes_the_reply() {
    let base = request("claude-sonnet-4-5", "plan task a");
    let fp = fingerprint(&base);
    assert_eq!(fp.len(), 32);
    assert_eq!(fp, fingerprint(&base.clone()), "stable");
    let variants = [
        request("claude-haiku-4-5", "plan task a"),
        request("claude-sonnet-4-5", "plan task b"),
        CompletionRequest { max_tokens: Some(100), ..base.clone() },
        CompletionRequest { temperature: Some(0.2), ..base.clone() },
        CompletionRequest { stop: vec!["END".into()], ..base.clone() },
        CompletionRequest { json_mode: false, ..base.clone() },
    ];
    for variant in &variants {
        assert_ne!(fingerprint(variant), fp, "{variant:?}");
    }
}

#[tokio::test]
async fn recorded_replies_replay_without_calling_the_provider() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/demo.cassette.jsonl");
    let recording = offline(ReplayMode::Record, &path, &[]);
    let live = recording.complete("anthropic", &request("claude-sonnet-4-5", "plan task a")).await.unwrap();
    recording.complete("anthropic", &request("claude-sonnet-4-5", "plan task a")).await.unwrap();
    recording.complete("gemini", &request("gemini-2.5-flash", "review it")).await.unwrap();
    assert_eq!(calls(&recording), 3, "record mode calls the provider every time");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "a request is recorded once:\n{text}");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["provider"], "anthropic");
    assert_eq!(first["request"]["messages"][1]["content"], "plan task a");
    assert_eq!(first["completion"]["stop_reason"], "max_tokens");

    let replaying = offline(ReplayMode::Replay, &path, &[]);
    let replayed = replaying.complete("openai", &request("claude-sonnet-4-5", "plan task a")).await.unwrap();
    assert_eq!(calls(&replaying), 0);
    assert_eq!(format!("{:?}", replayed.value), format!("{:?}", live.value), "text, usage, stop reason and model");
    assert!(replayed.plugin.starts_with("replay ("), "{}", replayed.plugin);

    let miss = replaying.complete("anthropic", &request("claude-sonnet-4-5", "plan task z")).await.unwrap_err();
    assert_eq!(miss.kind, ErrorKind::Fatal);
    let fp = fingerprint(&request("claude-sonnet-4-5", "plan task z"));
    assert!(miss.message.contains(&fp) && miss.message.contains("--record"), "{}", miss.message);
    let path_shown = path.display().to_string();
    for how in [
        // With a key for the provider ...
        format!("Record it with a key for anthropic and `orch run TASKS --record {path_shown}`"),
        // ... or without keys, against the mock LLM server.
        "without keys against the mock LLM server: start `cargo run -p orch-mock-llm -- --responder pipeline`".into(),
        "point [plugins.anthropic.config] base_url at it with api_key_secret = \"\"".into(),
        "grant http = [\"http://127.0.0.1:*\"] under [plugins.anthropic.grants]".into(),
        "`ORCH_UPDATE_DEMO_CASSETTE=1 cargo test -p orch-host --test offline`".into(),
    ] {
        assert!(miss.message.contains(&how), "missing {how:?} in: {}", miss.message);
    }

    // Recording again appends only what is new.
    let again = offline(ReplayMode::Record, &path, &[]);
    again.complete("anthropic", &request("claude-sonnet-4-5", "plan task a")).await.unwrap();
    again.complete("anthropic", &request("claude-sonnet-4-5", "plan task c")).await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
}

#[tokio::test]
async fn auto_mode_replays_only_providers_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl");
    offline(ReplayMode::Record, &path, &[]).complete("gemini", &request("gemini-2.5-flash", "hi")).await.unwrap();

    let auto = offline(ReplayMode::Auto, &path, &[("gemini", "GEMINI_API_KEY")]);
    assert_eq!(
        auto.describe().as_deref(),
        Some(format!("offline: gemini (GEMINI_API_KEY is not set) served from {}", path.display()).as_str())
    );
    auto.complete("gemini", &request("gemini-2.5-flash", "hi")).await.unwrap();
    assert_eq!(calls(&auto), 0);
    auto.complete("anthropic", &request("claude-sonnet-4-5", "hi")).await.unwrap();
    assert_eq!(calls(&auto), 1, "a provider with its key is called");

    let nowhere = offline(ReplayMode::Auto, &dir.path().join("missing.jsonl"), &[("gemini", "GEMINI_API_KEY")]);
    let err = nowhere.complete("gemini", &request("gemini-2.5-flash", "hi")).await.unwrap_err();
    assert!(err.message.contains("GEMINI_API_KEY is not set") && err.message.contains("no cassette"), "{err}");
    assert_eq!(nowhere.describe(), None);
    assert_eq!(offline(ReplayMode::Live, &path, &[("gemini", "GEMINI_API_KEY")]).describe(), None);
}

#[test]
fn a_replay_needs_its_cassette_and_bad_lines_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let err = Offline::new(Counting::default(), ReplayMode::Replay, missing.clone(), BTreeMap::new()).err().unwrap();
    assert!(err.to_string().starts_with(&format!("cassette {}", missing.display())), "{err}");

    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, "\n{\"fingerprint\": 1}\n").unwrap();
    let err = Cassette::load(&path).unwrap_err();
    assert_eq!(err.line, Some(2), "{err}");
    assert!(err.to_string().contains(":2: not a recording"), "{err}");

    let line = Line {
        fingerprint: "0".repeat(32),
        provider: "x".into(),
        request: RecordedRequest::new(&request("m", "hello")),
        completion: RecordedCompletion::new(&Completion {
            text: "t".into(),
            usage: Usage { input_tokens: 1, output_tokens: 1, cached_input_tokens: 0, cache_write_tokens: 0 },
            stop_reason: StopReason::EndTurn,
            model: "m".into(),
        }),
    };
    std::fs::write(&path, serde_json::to_string(&line).unwrap()).unwrap();
    let err = Cassette::load(&path).unwrap_err();
    assert!(err.to_string().contains(":1: fingerprint 0000") && err.message.contains("edited"), "{err}");
}
