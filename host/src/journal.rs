//! The call journal: deterministic keys for effectful plugin calls
//! (completions, gate checks) and the serialisable records of their results.
//! A key is kind / role / step / round / hash of the request; the hash leaves
//! out the model, so a call served by a fallback model is found again on
//! resume, and where the worktree lies, so the same work gets the same keys
//! on any machine. A completion's record carries the routing decision it was
//! made under (router version, model, reason, fallbacks).
//!
//! Journal before effect: an entry is `pending` (committed) before its call
//! starts, and its result is committed before the engine acts on it; on
//! resume the engine takes the result instead of calling again, and a call
//! still `pending` is made again with the lost start counted. Entries are
//! never deleted: a retry marks those after its point as superseded.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::store::{CallStatus, JournalEntry, ModelUse};

use crate::sandbox::{
    CheckRequest, CheckResult, Completion, CompletionRequest, Finding, ModelChoice, RouteDecision, Severity,
    StopReason, Usage,
};

/// Hashes length-prefixed fields, so `("ab", "c")` and `("a", "bc")` differ.
#[derive(Default)]
struct FieldHasher(Sha256);

impl FieldHasher {
    fn field(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        let bytes = bytes.as_ref();
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The first 16 hex digits of the digest: plenty within one task's keys.
    fn finish(&mut self) -> String {
        let digest = std::mem::take(&mut self.0).finalize();
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// Where in the pipeline a call is made.
#[derive(Debug, Clone, Copy)]
pub struct CallSite<'a> {
    /// `planner`, `plan_reviewer`, `implementer`, `code_reviewer`, or a gate name.
    pub role: &'a str,
    /// The plan step, if any.
    pub step: Option<&'a str>,
    /// The pipeline round (re-plan, review retry, gate round).
    pub round: u32,
    /// The try within the round (a malformed reply is asked again).
    pub attempt: u32,
}

impl CallSite<'_> {
    fn key(&self, kind: &str, hash: &str) -> String {
        format!("{kind}/{}/{}/{}.{}/{hash}", self.role, self.step.unwrap_or("-"), self.round, self.attempt)
    }
}

/// Where a journaled call was made, read back from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySite<'a> {
    /// The role, or the gate's name.
    pub role: &'a str,
    /// The plan step, if any.
    pub step: Option<&'a str>,
    /// `round.attempt`.
    pub round: &'a str,
}

impl<'a> KeySite<'a> {
    /// Splits a key written by [`CallSite`] (`kind/role/step/round.attempt/hash`).
    pub fn parse(key: &'a str) -> Self {
        let mut parts = key.split('/').skip(1);
        let role = parts.next().unwrap_or("");
        let step = parts.next().filter(|s| *s != "-");
        Self { role, step, round: parts.next().unwrap_or("") }
    }
}

/// The idempotency key a provider is given for call `key` of task `task`
/// (added at `created_ms`) after `retries` retries of the task: the same
/// every time that call is made again, different for any other call, in
/// this or another store (a retry makes its calls anew, so they get new keys).
pub fn idempotency_key(task: &str, created_ms: i64, retries: u32, key: &str) -> String {
    let mut h = FieldHasher::default();
    h.field(task).field(created_ms.to_le_bytes()).field(retries.to_le_bytes()).field(key);
    format!("orch-{}", h.finish())
}

/// The key of a routing decision journaled on its own (the implementer's:
/// its prompt depends on the model chosen).
pub fn route_key(site: CallSite<'_>) -> String {
    site.key("route", "-")
}

/// The key of a completion; the model is deliberately not part of it.
pub fn completion_key(site: CallSite<'_>, request: &CompletionRequest) -> String {
    let mut h = FieldHasher::default();
    for message in &request.messages {
        h.field([message.role as u8]).field(&message.content);
    }
    h.field(format!("{:?}{:?}{}", request.max_tokens, request.temperature, request.json_mode))
        .field(request.stop.join("\0"));
    site.key("complete", &h.finish())
}

/// The hash of what a gate judges: the tree of the task's branch (empty
/// without a workspace), the gate's identity and configuration, and the
/// request. An unchanged hash means the gate's recorded result still holds.
/// Where the worktree lies is left out: the same change judged in another
/// checkout (another machine) has the same key.
pub fn check_inputs(request: &CheckRequest, tree: &str, gate: &str) -> String {
    let mut h = FieldHasher::default();
    h.field(tree)
        .field(gate)
        .field(&request.task.id)
        .field(request.changed_files.join("\n"))
        .field(&request.diff)
        .field(&request.change_size);
    h.finish()
}

/// The key of a gate check on `inputs` (see [`check_inputs`]).
pub fn check_key(site: CallSite<'_>, inputs: &str) -> String {
    site.key("check", inputs)
}

/// The name a stop reason is stored under.
pub fn stop_reason_name(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ContentFilter => "content_filter",
        StopReason::Refusal => "refusal",
        StopReason::Other => "other",
    }
}

/// The stop reason stored as `name` (`other` for a name it does not know).
pub fn stop_reason_from_name(name: &str) -> StopReason {
    [
        StopReason::EndTurn,
        StopReason::MaxTokens,
        StopReason::StopSequence,
        StopReason::ContentFilter,
        StopReason::Refusal,
    ]
    .into_iter()
    .find(|r| stop_reason_name(*r) == name)
    .unwrap_or(StopReason::Other)
}

/// A routing decision as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteRecord {
    /// The router plugin and its version.
    pub router: String,
    /// Provider plugin of the primary choice (left out of a completion's
    /// record when the completion was served by it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provider: String,
    /// Primary model (left out likewise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// The router's reason.
    pub reason: String,
    /// Fallbacks in order, as (provider, model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<(String, String)>,
}

impl RouteRecord {
    /// Records decision `d` of router `router`.
    pub fn new(d: &RouteDecision, router: String) -> Self {
        Self {
            router,
            provider: d.provider.clone(),
            model: d.model.clone(),
            reason: d.reason.clone(),
            fallbacks: d.fallbacks.iter().map(|c| (c.provider.clone(), c.model.clone())).collect(),
        }
    }

    /// The primary choice followed by the fallbacks, without repeats.
    pub fn choices(&self) -> Vec<ModelChoice> {
        let mut choices = vec![ModelChoice { provider: self.provider.clone(), model: self.model.clone() }];
        for (provider, model) in &self.fallbacks {
            if !choices.iter().any(|c| &c.provider == provider && &c.model == model) {
                choices.push(ModelChoice { provider: provider.clone(), model: model.clone() });
            }
        }
        choices
    }
}

/// A completion as journaled (the prompt is never stored). Token counts live
/// in the journal row's own columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRecord {
    /// The reply.
    pub text: String,
    /// Input tokens as reported.
    #[serde(skip)]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(skip)]
    pub output_tokens: u64,
    /// Cached input tokens.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_input_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
    /// Why generation stopped.
    pub stop_reason: String,
    /// The provider plugin that served it.
    pub provider: String,
    /// The model that served it, as the provider named it.
    pub model: String,
    /// The model the call asked for, when the provider named another (e.g.
    /// `claude-sonnet-4-5` served as `claude-sonnet-4-5-20250929`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub asked: String,
    /// The routing decision it was made under.
    pub route: RouteRecord,
}

impl CompletionRecord {
    /// Records `completion`, asked of `provider` for model `asked`, under `route`.
    pub fn new(provider: &str, asked: &str, completion: &Completion, route: RouteRecord) -> Self {
        let Usage { input_tokens, output_tokens, cached_input_tokens, cache_write_tokens } = completion.usage;
        Self {
            text: completion.text.clone(),
            input_tokens,
            output_tokens,
            cached_input_tokens,
            cache_write_tokens,
            stop_reason: stop_reason_name(completion.stop_reason).to_owned(),
            provider: provider.to_owned(),
            model: completion.model.clone(),
            asked: if asked == completion.model { String::new() } else { asked.to_owned() },
            route,
        }
    }

    /// The model the call asked for.
    pub fn asked_model(&self) -> &str {
        if self.asked.is_empty() { &self.model } else { &self.asked }
    }

    /// Whether the router's first choice served it.
    pub fn is_primary(&self) -> bool {
        self.route.provider == self.provider && self.route.model == self.asked_model()
    }

    /// The record as journaled: the route's choice is left out when it is
    /// the one that served.
    pub fn to_json(&self) -> serde_json::Value {
        let mut stored = self.clone();
        if stored.is_primary() {
            stored.route.provider.clear();
            stored.route.model.clear();
        }
        serde_json::to_value(&stored).expect("completion records serialise")
    }

    /// Reads a record back from its journal entry.
    pub fn from_entry(entry: &JournalEntry) -> Result<Self, serde_json::Error> {
        let mut record: Self = serde_json::from_value(entry.result.clone())?;
        record.input_tokens = entry.input_tokens;
        record.output_tokens = entry.output_tokens;
        if record.route.provider.is_empty() && record.route.model.is_empty() {
            record.route.provider.clone_from(&record.provider);
            record.route.model = record.asked_model().to_owned();
        }
        Ok(record)
    }

    /// The model serving its role, and why.
    pub fn model_use(&self) -> ModelUse {
        let reason = if self.is_primary() {
            self.route.reason.clone()
        } else {
            format!(
                "fallback from {}/{}, which the router chose: {}",
                self.route.provider, self.route.model, self.route.reason
            )
        };
        ModelUse { provider: self.provider.clone(), model: self.model.clone(), reason }
    }
}

/// What a completion's entry holds while it is in flight, and after it
/// gave up: the routing decision it was made under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCompletion {
    /// The decision.
    pub route: RouteRecord,
}

/// One routing decision read back from the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed<'a> {
    /// The entry it was read from: the completion made under it, or the
    /// decision journaled on its own when no call followed it.
    pub entry: &'a JournalEntry,
    /// The decision.
    pub route: RouteRecord,
    /// The completion, when the call answered.
    pub answered: Option<CompletionRecord>,
}

/// Every routing decision in `journal` (in the order it was made), each
/// with the call made under it: a completion keeps its route whether its
/// first choice or a fallback answered, or none did; a decision journaled on
/// its own (the implementer's) counts once, with its completion.
pub fn routing_decisions(journal: &[JournalEntry]) -> Vec<Routed<'_>> {
    let called: std::collections::HashSet<KeySite<'_>> =
        journal.iter().filter(|e| e.kind == "completion").map(|e| KeySite::parse(&e.key)).collect();
    journal
        .iter()
        .filter_map(|entry| {
            if entry.kind == "completion" {
                if entry.status == CallStatus::Done {
                    let record = CompletionRecord::from_entry(entry).ok()?;
                    return Some(Routed { entry, route: record.route.clone(), answered: Some(record) });
                }
                let pending: PendingCompletion = serde_json::from_value(entry.result.clone()).ok()?;
                return Some(Routed { entry, route: pending.route, answered: None });
            }
            if !entry.key.starts_with("route/") || called.contains(&KeySite::parse(&entry.key)) {
                return None;
            }
            let route = serde_json::from_value(entry.result.clone()).ok()?;
            Some(Routed { entry, route, answered: None })
        })
        .collect()
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A gate result as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// Nothing failed.
    pub passed: bool,
    /// One line.
    pub summary: String,
    /// What it found, as (severity, file, line, message).
    pub findings: Vec<FindingRecord>,
    /// The hash of what it judged (tree, gate and its config, request).
    #[serde(default)]
    pub input_hash: String,
}

/// One finding of a gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// File, if any.
    pub file: Option<String>,
    /// Line, if any.
    pub line: Option<u32>,
    /// What is wrong.
    pub message: String,
}

impl From<&CheckResult> for CheckRecord {
    fn from(r: &CheckResult) -> Self {
        let finding = |f: &Finding| FindingRecord {
            severity: match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            }
            .to_owned(),
            file: f.file.clone(),
            line: f.line,
            message: f.message.clone(),
        };
        Self {
            passed: r.passed,
            summary: r.summary.clone(),
            findings: r.findings.iter().map(finding).collect(),
            input_hash: String::new(),
        }
    }
}

impl FindingRecord {
    /// `file:line: severity: message`, as fed back to the implementer.
    pub fn render(&self) -> String {
        let place = match (&self.file, self.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            (Some(file), None) => format!("{file}: "),
            _ => String::new(),
        };
        format!("{place}{}: {}", self.severity, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Message, MessageRole};

    fn request(model: &str, text: &str) -> CompletionRequest {
        CompletionRequest {
            model: model.into(),
            messages: vec![
                Message { role: MessageRole::System, content: "You are the planner.".into() },
                Message { role: MessageRole::User, content: text.into() },
            ],
            max_tokens: Some(1000),
            temperature: None,
            stop: vec![],
            json_mode: true,
            response_schema: None,
            idempotency_key: None,
        }
    }

    const SITE: CallSite<'static> = CallSite { role: "planner", step: None, round: 1, attempt: 1 };

    #[test]
    fn completion_keys_ignore_the_model_but_not_the_prompt() {
        let a = completion_key(SITE, &request("model-a", "fix the bug"));
        assert_eq!(a, completion_key(SITE, &request("model-b", "fix the bug")));
        assert_ne!(a, completion_key(SITE, &request("model-a", "fix the bugs")));
        assert!(a.starts_with("complete/planner/-/1.1/") && a.len() == "complete/planner/-/1.1/".len() + 16, "{a}");
        let later = CallSite { round: 2, ..SITE };
        assert_ne!(a, completion_key(later, &request("model-a", "fix the bug")));
    }

    #[test]
    fn a_gate_result_holds_only_for_the_same_tree_gate_and_config() {
        let request = CheckRequest {
            task: crate::sandbox::Task {
                id: "t".into(),
                goal: "g".into(),
                risk: crate::sandbox::Risk::Low,
                area: "core".into(),
                labels: Vec::new(),
            },
            workspace: "/w/t".into(),
            changed_files: vec!["a.py".into()],
            diff: "+x".into(),
            change_size: "small".into(),
        };
        let base = check_inputs(&request, "tree-1", "sha command 0.1.0 {\"checks\":\"pytest\"}");
        assert_eq!(base, check_inputs(&request, "tree-1", "sha command 0.1.0 {\"checks\":\"pytest\"}"));
        assert_ne!(base, check_inputs(&request, "tree-2", "sha command 0.1.0 {\"checks\":\"pytest\"}"));
        assert_ne!(base, check_inputs(&request, "tree-1", "sha command 0.1.0 {\"checks\":\"pytest -x\"}"));
        assert_ne!(base, check_inputs(&request, "tree-1", "other-sha command 0.1.1 {\"checks\":\"pytest\"}"));
        let elsewhere = CheckRequest { workspace: "/other/machine/t".into(), ..request.clone() };
        assert_eq!(base, check_inputs(&elsewhere, "tree-1", "sha command 0.1.0 {\"checks\":\"pytest\"}"));
        let site = CallSite { role: "tests", step: None, round: 1, attempt: 1 };
        assert_eq!(check_key(site, &base), format!("check/tests/-/1.1/{base}"));
        let read = KeySite::parse("completion/implementer/step-2/3.1/abc");
        assert_eq!(read, KeySite { role: "implementer", step: Some("step-2"), round: "3.1" });
        assert_eq!(KeySite::parse(&check_key(site, &base)).step, None);
    }

    #[test]
    fn fields_are_length_prefixed() {
        let mut one = request("m", "ab");
        one.messages[0].content = "x".into();
        let mut two = request("m", "b");
        two.messages[0].content = "xa".into();
        assert_ne!(completion_key(SITE, &one), completion_key(SITE, &two));
    }

    /// A completion of 10 input and 2 output tokens by `model` as journaled.
    fn journaled(model: &str, result: serde_json::Value) -> JournalEntry {
        JournalEntry {
            model: Some(model.into()),
            input_tokens: 10,
            output_tokens: 2,
            duration_ms: 1,
            ..JournalEntry::done("k".into(), "completion", "provider 0.1.0".into(), result)
        }
    }

    /// The router's choice of `provider`/`model` for `reason`, without fallbacks.
    fn routed(provider: &str, model: &str, reason: &str) -> RouteRecord {
        RouteRecord {
            router: "router-rules 0.1.0".into(),
            provider: provider.into(),
            model: model.into(),
            reason: reason.into(),
            fallbacks: vec![],
        }
    }

    /// A completion "done" of 10 input and 2 output tokens, served by `model`.
    fn done_by(model: &str) -> Completion {
        Completion {
            text: "done".into(),
            usage: Usage { input_tokens: 10, output_tokens: 2, cached_input_tokens: 0, cache_write_tokens: 0 },
            stop_reason: StopReason::EndTurn,
            model: model.into(),
        }
    }

    #[test]
    fn completion_records_round_trip_through_their_compact_form() {
        let route = routed("openai", "gpt-4.1", "cheap is enough");
        for served_by in ["gpt-4.1", "gpt-4o"] {
            let record = CompletionRecord::new("openai", served_by, &done_by(served_by), route.clone());
            let stored = record.to_json();
            assert_eq!(stored.get("cached_input_tokens"), None);
            assert_eq!(stored["route"].get("model").is_some(), served_by != "gpt-4.1", "{stored}");
            assert_eq!(CompletionRecord::from_entry(&journaled(served_by, stored)).unwrap(), record);
        }
    }

    #[test]
    fn a_dated_model_name_is_not_a_fallback() {
        let route = routed("anthropic", "claude-sonnet-4-5", "best reasoning");
        let completion = done_by("claude-sonnet-4-5-20250929");
        let record = CompletionRecord::new("anthropic", "claude-sonnet-4-5", &completion, route.clone());
        let used = record.model_use();
        assert_eq!((used.model.as_str(), used.reason.as_str()), ("claude-sonnet-4-5-20250929", "best reasoning"));
        let stored = record.to_json();
        assert_eq!(stored["asked"], "claude-sonnet-4-5");
        assert!(stored["route"].get("model").is_none(), "the primary choice is not stored twice: {stored}");
        assert_eq!(CompletionRecord::from_entry(&journaled(&completion.model, stored)).unwrap(), record);
        let fallback = CompletionRecord::new("gemini", "gemini-2.5-pro", &completion, route);
        assert_eq!(
            fallback.model_use().reason,
            "fallback from anthropic/claude-sonnet-4-5, which the router chose: best reasoning"
        );
    }

    #[test]
    fn every_routing_decision_is_read_back_with_what_answered() {
        let primary = routed("openai", "gpt-4.1", "cheap is enough");
        let answered = CompletionRecord::new("openai", "gpt-4.1", &done_by("gpt-4.1"), primary.clone());
        let fallen_back = routed("anthropic", "claude-sonnet-4-5", "best reasoning");
        let by_fallback =
            CompletionRecord::new("gemini", "gemini-2.5-pro", &done_by("gemini-2.5-pro"), fallen_back.clone());
        let implementer = routed("openai", "gpt-4o", "default implementer");
        let gave_up = routed("openai", "gpt-4o", "second round");
        let entry = |key: &str, kind: &str, status: CallStatus, result: serde_json::Value| JournalEntry {
            status,
            ..JournalEntry::done(key.into(), kind, "p".into(), result)
        };
        let pending = |route: &RouteRecord| serde_json::to_value(PendingCompletion { route: route.clone() }).unwrap();
        let journal = [
            entry("complete/planner/-/1.1/a", "completion", CallStatus::Done, answered.to_json()),
            entry("complete/plan_reviewer/-/1.1/b", "completion", CallStatus::Done, by_fallback.to_json()),
            entry(
                "route/implementer/s1/1.1/-",
                "workspace",
                CallStatus::Done,
                serde_json::to_value(&implementer).unwrap(),
            ),
            entry("complete/implementer/s1/1.1/c", "completion", CallStatus::Failed, pending(&implementer)),
            entry("route/implementer/s1/2.1/-", "workspace", CallStatus::Done, serde_json::to_value(&gave_up).unwrap()),
            entry("check/secrets/-/1.1/d", "check", CallStatus::Done, serde_json::json!({})),
        ];
        let decisions = routing_decisions(&journal);
        let reasons: Vec<&str> = decisions.iter().map(|d| d.route.reason.as_str()).collect();
        assert_eq!(reasons, ["cheap is enough", "best reasoning", "default implementer", "second round"]);
        assert_eq!(decisions[1].route, fallen_back, "the route is kept when a fallback answered");
        assert!(!decisions[1].answered.as_ref().unwrap().is_primary());
        assert_eq!(decisions[2].entry.key, "complete/implementer/s1/1.1/c", "one decision, with its call");
        assert!(decisions[2].answered.is_none() && decisions[3].answered.is_none());
    }

    #[test]
    fn route_choices_drop_repeats() {
        let record = RouteRecord {
            router: "r 1".into(),
            provider: "p".into(),
            model: "a".into(),
            reason: "r".into(),
            fallbacks: vec![("p".into(), "b".into()), ("p".into(), "a".into())],
        };
        let models: Vec<_> = record.choices().into_iter().map(|c| c.model).collect();
        assert_eq!(models, ["a", "b"]);
    }
}
