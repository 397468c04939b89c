//! `orch task ID [--approve|--reject|--retry [--comment TEXT]] [--json]` and
//! `orch import FILE`: everything about one task (goal, state history, plan
//! and steps, model choices and every routing decision with its reason,
//! attempts, review concerns, gate results, every call and its cost, what was repeated after a kill or set aside by a
//! retry, branch and worktree), a person's decision on a waiting task or a
//! retry of a stopped one, and restoring an exported task.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args};

use super::output::{Tone, paint, print_json, rounds, state_tone, table, usd};
use super::retry::{RetryHow, Stage, retry_one};
use super::{Globals, UsageError};
use crate::journal::{CheckRecord, CompletionRecord, KeySite, Routed, routing_decisions};
use crate::store::{CallStatus, HumanDecision, JournalEntry, Moved, Store, TaskExport, render_iso};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decision").args(["approve", "reject", "retry"])))]
pub struct TaskArgs {
    /// The task id.
    id: String,
    /// Continue a task that waits for a person.
    #[arg(long, conflicts_with = "reject")]
    approve: bool,
    /// Fail a task that waits for a person.
    #[arg(long)]
    reject: bool,
    /// Put a FAILED (or AWAITING_HUMAN) task back into the pipeline, as `orch retry ID` does.
    #[arg(long)]
    retry: bool,
    /// With --retry: go back to this stage's start (default: just before the task stopped).
    #[arg(long, value_enum, value_name = "STAGE", requires = "retry")]
    from_stage: Option<Stage>,
    /// A comment for the decision; it reaches the next prompt.
    #[arg(long, value_name = "TEXT", requires = "decision")]
    comment: Option<String>,
    /// Print the whole task (record, steps, history, journal) as JSON.
    #[arg(long, conflicts_with = "decision")]
    json: bool,
}

impl TaskArgs {
    fn decision(&self) -> Option<HumanDecision> {
        let comment = self.comment.clone();
        match (self.approve, self.reject) {
            (true, _) => Some(HumanDecision::Approve { comment }),
            (_, true) => Some(HumanDecision::Reject { comment }),
            _ => None,
        }
    }
}

pub fn task(args: TaskArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    if args.retry {
        let config = globals.config()?;
        let how = RetryHow { from_stage: args.from_stage, comment: args.comment };
        retry_one(&globals.write_store(&config)?, &args.id, &how)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(decision) = args.decision() {
        let config = globals.config()?;
        let store = globals.write_store(&config)?;
        let verb = if matches!(decision, HumanDecision::Approve { .. }) { "approved" } else { "rejected" };
        let state = store.decide(&args.id, decision)?;
        println!("task {} {verb}; it is now {state}", args.id);
        if state.is_active() {
            println!("it continues on the next `orch run` or `orch resume`");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let export = globals.read_store()?.export_task(&args.id)?;
    if args.json {
        print_json(&export)?;
    } else {
        print!("{}", describe(&export));
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(export: &TaskExport) -> String {
    let task = &export.task;
    let heading = |text: &str| format!("\n{}\n", paint(text, Tone::Bold));
    let mut out = format!(
        "{} {}  {}  risk {}  area {}  cost {}\ngoal: {}\n",
        paint("task", Tone::Bold),
        task.spec.id,
        paint(task.state.as_str(), state_tone(task.state)),
        task.spec.risk,
        task.spec.area,
        usd(task.cost_usd),
        task.spec.goal
    );
    if task.repeated_calls > 0 {
        out.push_str(&format!(
            "repeated after interruption: {} calls, {} (estimated, on top of the cost above)\n",
            task.repeated_calls,
            usd(task.repeated_cost_usd)
        ));
    }
    if let Some(escalation) = &task.meta.escalation {
        out.push_str(&format!(
            "{} ({}): {}\n",
            paint("waiting for a person", Tone::Attention),
            escalation.stage,
            escalation.reason
        ));
        out.push_str(&format!("decide: orch task {} --approve|--reject [--comment TEXT]\n", task.spec.id));
    } else if let Some(error) = &task.last_error {
        out.push_str(&format!("last error: {error}\n"));
    }
    if let Some(workspace) = &task.meta.workspace {
        let kept = if std::path::Path::new(&workspace.path).exists() {
            format!("worktree {}", workspace.path)
        } else {
            "worktree removed".to_owned()
        };
        out.push_str(&format!("branch: {} (from {:.12}; {kept})\n", workspace.branch, workspace.base));
    }
    if !task.meta.models.is_empty() {
        out.push_str(&heading("models"));
        for (role, model) in &task.meta.models {
            out.push_str(&format!("  {role:<14} {}/{}  ({})\n", model.provider, model.model, model.reason));
        }
    }
    if !task.meta.attempts.is_empty() {
        out.push_str(&format!("attempts: {}\n", rounds(&task.meta.attempts)));
    }
    let routing: Vec<Vec<String>> = routing_decisions(&export.journal).iter().map(routing_row).collect();
    if !routing.is_empty() {
        out.push_str(&heading("routing"));
        let columns = ["ROLE", "STEP", "ROUND", "CHOSEN", "ANSWERED BY", "REASON", "NOTE"];
        out.push_str(&indent(&table(&columns, &routing)));
    }
    if !task.meta.concerns.is_empty() {
        out.push_str(&heading("concerns"));
        for concern in &task.meta.concerns {
            out.push_str(&format!("  - {concern}\n"));
        }
    }
    if !export.steps.is_empty() {
        out.push_str(&heading("plan"));
        let rows: Vec<Vec<String>> = export
            .steps
            .iter()
            .map(|s| {
                vec![s.id.clone(), s.kind.clone(), s.state.to_string(), s.attempts.to_string(), s.description.clone()]
            })
            .collect();
        out.push_str(&indent(&table(&["STEP", "KIND", "STATE", "ROUNDS", "DESCRIPTION"], &rows)));
    }
    let gates: Vec<String> = export.journal.iter().filter(|e| e.kind == "check").filter_map(gate_lines).collect();
    if !gates.is_empty() {
        out.push_str(&heading("gates"));
        out.push_str(&gates.concat());
    }
    let calls: Vec<Vec<String>> = export.journal.iter().filter(|e| e.kind == "completion").map(call_row).collect();
    if !calls.is_empty() {
        out.push_str(&heading("calls"));
        let columns = ["ROLE", "STEP", "ROUND", "MODEL", "TOKENS IN/OUT", "COST", "TIME", "NOTE"];
        out.push_str(&indent(&table(&columns, &calls)));
    }
    out.push_str(&heading("history"));
    for t in &export.history {
        let what = match &t.moved {
            Moved::Task { from, to } => format!("{from} -> {to}"),
            Moved::Step { step, from, to } => format!("step {step}: {from} -> {to}"),
        };
        let comment = match &t.comment {
            Some(c) if !t.message.contains(c.as_str()) => format!(" (comment: {c})"),
            _ => String::new(),
        };
        let aside = t.superseded_by.map(|r| format!(" [set aside by the retry at #{r}]")).unwrap_or_default();
        out.push_str(&format!("  {} #{:<3} {what:<40} {}{comment}{aside}\n", render_iso(t.at_ms), t.seq, t.message));
    }
    out
}

/// A gate's journaled result: its verdict line and its findings.
fn gate_lines(entry: &JournalEntry) -> Option<String> {
    let check: CheckRecord = serde_json::from_value(entry.result.clone()).ok()?;
    let site = KeySite::parse(&entry.key);
    let (gate, round) = (site.role, site.round);
    let verdict = if check.passed { paint("passed", Tone::Good) } else { paint("failed", Tone::Bad) };
    let note = call_note(entry);
    let note = if note.is_empty() { note } else { format!(" ({note})") };
    let mut out = format!("  {gate} (round {round}): {verdict}: {}{note}\n", check.summary);
    for finding in &check.findings {
        out.push_str(&format!("    - {}\n", finding.render()));
    }
    Some(out)
}

/// What became of a call besides its result: in flight, given up, repeated
/// after a kill, set aside by a retry.
fn call_note(entry: &JournalEntry) -> String {
    let mut notes = Vec::new();
    match entry.status {
        CallStatus::Pending => notes.push("in flight when a run stopped: outcome unknown".to_owned()),
        CallStatus::Failed => notes.push("gave up".to_owned()),
        CallStatus::Done => {}
    }
    if entry.repeated.calls > 0 {
        notes.push(format!("repeated {}x after interruption, ~{}", entry.repeated.calls, usd(entry.repeated.cost_usd)));
    }
    if let Some(retry) = entry.superseded_by {
        notes.push(format!("set aside by the retry at #{retry}"));
    }
    notes.join("; ")
}

/// One routing decision as a row: role, step, round, the router's choice,
/// what answered (the choice, a fallback, or nothing yet), the router's
/// reason and what became of the call.
fn routing_row(decision: &Routed<'_>) -> Vec<String> {
    let site = KeySite::parse(&decision.entry.key);
    let route = &decision.route;
    let answered = match &decision.answered {
        Some(record) if record.is_primary() => format!("{}/{}", record.provider, record.model),
        Some(record) => format!("{}/{} (fallback)", record.provider, record.model),
        None if decision.entry.kind != "completion" => "not asked yet".to_owned(),
        None => "-".to_owned(),
    };
    vec![
        site.role.to_owned(),
        site.step.unwrap_or("-").to_owned(),
        site.round.to_owned(),
        format!("{}/{}", route.provider, route.model),
        answered,
        format!("{} ({})", route.reason, route.router),
        call_note(decision.entry),
    ]
}

/// One completion as a row: role, step, round, model, tokens, cost, time, note.
fn call_row(entry: &JournalEntry) -> Vec<String> {
    let site = KeySite::parse(&entry.key);
    let model = CompletionRecord::from_entry(entry)
        .map(|c| format!("{}/{}", c.provider, c.model))
        .unwrap_or_else(|_| entry.model.clone().unwrap_or_default());
    vec![
        site.role.to_owned(),
        site.step.unwrap_or("-").to_owned(),
        site.round.to_owned(),
        model,
        format!("{}/{}", entry.input_tokens, entry.output_tokens),
        usd(entry.cost_usd),
        format!("{:.1} s", entry.duration_ms as f64 / 1000.0),
        call_note(entry),
    ]
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file written by `orch task ID --json`.
    file: PathBuf,
}

pub fn import(args: ImportArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", args.file.display())))?;
    let export = TaskExport::from_json(&text).map_err(|e| UsageError(format!("{}: {e}", args.file.display())))?;
    let store = globals.write_store(&config)?;
    store.import_task(&export)?;
    println!("imported task {} ({})", export.task.spec.id, export.task.state);
    Ok(ExitCode::SUCCESS)
}
