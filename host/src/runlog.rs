//! The Markdown run log, `ORCHESTRATOR_RUN_LOG.md`, appended per run as in the
//! seed: a run header, one timestamped line per event (categories task,
//! routing, llm_call, quality_gate, retry, human_review, each with a status
//! marker) and a run summary. The store keeps the same events as rows; this
//! only renders them. Event messages never hold prompts or secrets.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::engine::{Delays, EventSink, RunReport};
use crate::sandbox::{AuditEvent, AuditSink, Capability, TracingAudit};
use crate::state::TaskState;
use crate::store::{Category, EventRow, RunCost, RunRecord, Status, now_ms, render_iso};

/// The log's file name, in the directory `orch run` works in.
pub const RUN_LOG_FILE: &str = "ORCHESTRATOR_RUN_LOG.md";

/// One rendered event line.
pub fn render_event(event: &EventRow) -> String {
    let marker = match (event.category, event.status) {
        (_, Status::Failed) => "❌",
        (Category::Retry, _) => "🔄",
        (Category::HumanReview, _) => "👤",
        (_, Status::Warning) => "⚠️",
        (_, Status::Ok) => "✅",
        (_, Status::Info) => "▶️",
    };
    let category = event.category.as_str();
    let subject = match (&event.task, &event.step) {
        (Some(task), Some(step)) => format!(" `{task}`/`{step}`"),
        (Some(task), None) => format!(" `{task}`"),
        _ => String::new(),
    };
    format!("- `{}` {marker} **{category}**{subject} — {}\n", render_iso(event.at_ms), event_text(event))
}

/// What an event says on one line: its transition, if any, and its message.
pub fn event_text(event: &EventRow) -> String {
    let message = crate::untrusted::one_line(&event.message);
    match (&event.moved, message.is_empty()) {
        (Some((from, to)), true) => format!("{from} → {to}"),
        (Some((from, to)), false) => format!("{from} → {to}: {message}"),
        (None, _) => message,
    }
}

/// The header that opens a run's section, with `note` (e.g. where LLM replies
/// come from) quoted under it.
pub fn render_header(run: &RunRecord, tasks: usize, concurrency: usize, note: Option<&str>) -> String {
    let note = note.map(|n| format!("\n> {n}\n")).unwrap_or_default();
    format!(
        "\n## Run {} — {}\n\n`{}` · {tasks} task(s) · concurrency {concurrency}\n{note}\n",
        run.id,
        render_iso(run.started_ms),
        run.command
    )
}

/// The cost line of a run: the total, and the part repeated after a kill.
pub fn render_cost(cost: &RunCost) -> String {
    let total = format!("${:.4}", cost.total_usd());
    if cost.repeated_calls == 0 {
        return total;
    }
    format!(
        "{total} (journaled ${:.4}; repeated after interruption: {} calls, ${:.4})",
        cost.journaled_usd, cost.repeated_calls, cost.repeated_usd
    )
}

/// The summary that closes a run's section.
pub fn render_summary(run: &RunRecord, report: &RunReport, elapsed: Duration, cost: &RunCost) -> String {
    let blocked = report.tasks.iter().filter(|t| t.note.as_deref().is_some_and(|n| n.starts_with("blocked"))).count();
    format!(
        "\n### Summary of run {}\n\n- Duration: {:.1} s\n- Total cost: {}\n- Tasks: {} completed, {} failed, {} awaiting review, {blocked} blocked, {} host errors\n",
        run.id,
        elapsed.as_secs_f64(),
        render_cost(cost),
        report.count(TaskState::Done),
        report.count(TaskState::Failed),
        report.count(TaskState::AwaitingHuman),
        report.errors,
    ) + &render_delays(&report.reply_delays)
}

/// The summary's line on how soon replies were durable, if there were any.
fn render_delays(delays: &Delays) -> String {
    if delays.count == 0 {
        return String::new();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "- {REPLY_DELAYS}: median {:.1} ms, max {:.1} ms ({} replies)\n",
        ms(delays.median),
        ms(delays.max),
        delays.count
    )
}

/// How the summary's line on reply delays starts.
pub const REPLY_DELAYS: &str = "Replies durable after arriving";

/// The line that closes a run stopped with Ctrl-C.
pub fn render_interrupted(run: &RunRecord, elapsed: Duration, cost: &RunCost) -> String {
    format!(
        "\n### Run {} interrupted\n\n- After {:.1} s, {} spent; calls in flight were abandoned. `orch resume` continues.\n",
        run.id,
        elapsed.as_secs_f64(),
        render_cost(cost)
    )
}

/// Appends to the run log as events are committed.
pub struct RunLog {
    path: PathBuf,
    file: Mutex<BufWriter<File>>,
}

impl RunLog {
    /// Opens `path` for appending and writes `header`.
    pub fn open(path: &Path, header: &str) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let log = Self { path: path.to_owned(), file: Mutex::new(BufWriter::new(file)) };
        log.append(header)?;
        Ok(log)
    }

    /// Appends `text` and flushes it.
    pub fn append(&self, text: &str) -> std::io::Result<()> {
        let mut file = self.file.lock().expect("the run log lock is not poisoned");
        file.write_all(text.as_bytes())?;
        file.flush()
    }
}

/// The sandbox's audit events for a run: every event goes to `tracing`, and
/// a refused capability use is also written to the run log once it is open,
/// so a denial stands next to the task it broke.
#[derive(Default)]
pub struct RunLogAudit {
    log: OnceLock<Arc<RunLog>>,
}

impl RunLogAudit {
    /// From now on, denials are written to `log`.
    pub fn attach(&self, log: Arc<RunLog>) {
        let _ = self.log.set(log);
    }
}

impl AuditSink for RunLogAudit {
    fn record(&self, event: &AuditEvent) {
        TracingAudit.record(event);
        let Some(log) = self.log.get() else { return };
        let line = match event {
            AuditEvent::Denied { plugin, capability, detail } => {
                let what = match capability {
                    Capability::Http => "HTTP",
                    Capability::Secret => "a secret",
                    Capability::Exec => "a command",
                    Capability::File => "a file",
                };
                format!("⛔ **sandbox** `{plugin}` — denied {what}: {}", crate::untrusted::one_line(detail))
            }
            AuditEvent::Unconfined { plugin, program } => format!(
                "⚠️ **sandbox** `{plugin}` — `{}` runs unconfined by the kernel ([sandbox] os = \"off\")",
                crate::untrusted::one_line(program)
            ),
            _ => return,
        };
        if let Err(e) = log.append(&format!("- `{}` {line}\n", render_iso(now_ms()))) {
            tracing::warn!("cannot append to {}: {e}", log.path.display());
        }
    }
}

impl EventSink for RunLog {
    fn emit(&self, events: &[EventRow]) {
        let text: String = events.iter().map(render_event).collect();
        if let Err(e) = self.append(&text) {
            tracing::warn!("cannot append to {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TaskOutcome;

    fn event(category: Category, status: Status, step: Option<&str>, message: &str) -> EventRow {
        EventRow {
            id: 1,
            run: Some(1),
            task: Some("t1".into()),
            at_ms: 1_795_499_092_123,
            category,
            status,
            step: step.map(str::to_owned),
            message: message.into(),
            moved: None,
        }
    }

    #[test]
    fn lines_carry_time_marker_category_and_subject() {
        let line = render_event(&event(Category::LlmCall, Status::Ok, Some("s1"), "implementer openai/gpt: 10 in"));
        assert_eq!(line, "- `2026-11-24T05:44:52.123Z` ✅ **llm_call** `t1`/`s1` — implementer openai/gpt: 10 in\n");
        assert!(
            render_event(&event(Category::Retry, Status::Warning, None, "retrying")).contains("🔄 **retry** `t1` —")
        );
        assert!(render_event(&event(Category::Task, Status::Failed, None, "x\ny")).contains("❌ **task** `t1` — x y"));
        let mut moved = event(Category::Task, Status::Info, Some("s1"), "");
        moved.moved = Some(("PENDING".into(), "IMPLEMENTING".into()));
        assert!(render_event(&moved).ends_with("`t1`/`s1` — PENDING → IMPLEMENTING\n"), "{}", render_event(&moved));
        moved.message = "round 2".into();
        assert!(render_event(&moved).ends_with("— PENDING → IMPLEMENTING: round 2\n"));
    }

    #[test]
    fn header_and_summary_count_outcomes() {
        let run = RunRecord {
            id: 7,
            started_ms: 0,
            finished_ms: None,
            command: "orch run tasks.yaml".into(),
            cassette: None,
        };
        assert!(render_header(&run, 3, 2, None).contains("## Run 7 — 1970-01-01T00:00:00.000Z"));
        assert!(render_header(&run, 3, 2, Some("offline: gemini")).contains("\n> offline: gemini\n"));
        let outcome =
            |id: &str, state, note: Option<&str>| TaskOutcome { id: id.into(), state, note: note.map(Into::into) };
        let report = RunReport {
            tasks: vec![
                outcome("a", TaskState::Done, None),
                outcome("b", TaskState::Failed, Some("gate")),
                outcome("c", TaskState::New, Some("blocked: depends on `b`, which is FAILED")),
            ],
            errors: 0,
            reply_delays: Delays { count: 3, median: Duration::from_micros(1500), max: Duration::from_millis(12) },
        };
        let cost = RunCost { journaled_usd: 0.25, ..RunCost::default() };
        let summary = render_summary(&run, &report, Duration::from_millis(1500), &cost);
        assert!(summary.contains("Duration: 1.5 s") && summary.contains("Total cost: $0.2500\n"), "{summary}");
        let repeated = RunCost { journaled_usd: 0.25, repeated_calls: 2, repeated_usd: 0.05 };
        let summary = render_summary(&run, &report, Duration::from_millis(1500), &repeated);
        assert!(
            summary.contains("Total cost: $0.3000 (journaled $0.2500; repeated after interruption: 2 calls, $0.0500)"),
            "{summary}"
        );
        assert!(summary.contains("1 completed, 1 failed, 0 awaiting review, 1 blocked"), "{summary}");
        assert!(summary.ends_with("- Replies durable after arriving: median 1.5 ms, max 12.0 ms (3 replies)\n"));
    }

    #[test]
    fn the_log_is_appended_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RUN_LOG_FILE);
        for run in 0..2 {
            let log = RunLog::open(&path, &format!("header {run}\n")).unwrap();
            log.emit(&[event(Category::Task, Status::Info, None, "moved")]);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("header").count(), 2);
        assert_eq!(text.matches("moved").count(), 2);
    }
}
