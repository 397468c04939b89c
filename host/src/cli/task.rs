//! `orch task ID [--approve|--reject [--comment TEXT]] [--json]` and
//! `orch import FILE`: everything about one task (goal, state history, plan
//! and steps, model choices, attempts, review concerns, gate results, every
//! call and its cost, branch and worktree), a person's decision on a waiting
//! task, and restoring an exported task.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args};

use super::output::{Tone, paint, print_json, rounds, state_tone, table, usd};
use super::{Globals, UsageError};
use crate::journal::{CheckRecord, CompletionRecord, KeySite};
use crate::store::{HumanDecision, JournalEntry, Moved, Store, TaskExport, render_iso};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decision").args(["approve", "reject"])))]
pub struct TaskArgs {
    /// The task id.
    id: String,
    /// Continue a task that waits for a person.
    #[arg(long, conflicts_with = "reject")]
    approve: bool,
    /// Fail a task that waits for a person.
    #[arg(long)]
    reject: bool,
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
        out.push_str(&indent(&table(&["ROLE", "STEP", "ROUND", "MODEL", "TOKENS IN/OUT", "COST", "TIME"], &calls)));
    }
    out.push_str(&heading("history"));
    for t in &export.history {
        let what = match &t.moved {
            Moved::Task { from, to } => format!("{from} -> {to}"),
            Moved::Step { step, from, to } => format!("step {step}: {from} -> {to}"),
        };
        let comment = t.comment.as_deref().map(|c| format!(" (comment: {c})")).unwrap_or_default();
        out.push_str(&format!("  {} {what:<40} {}{comment}\n", render_iso(t.at_ms), t.message));
    }
    out
}

/// A gate's journaled result: its verdict line and its findings.
fn gate_lines(entry: &JournalEntry) -> Option<String> {
    let check: CheckRecord = serde_json::from_value(entry.result.clone()).ok()?;
    let site = KeySite::parse(&entry.key);
    let (gate, round) = (site.role, site.round);
    let verdict = if check.passed { paint("passed", Tone::Good) } else { paint("failed", Tone::Bad) };
    let mut out = format!("  {gate} (round {round}): {verdict}: {}\n", check.summary);
    for finding in &check.findings {
        out.push_str(&format!("    - {}\n", finding.render()));
    }
    Some(out)
}

/// One completion as a row: role, step, round, model, tokens, cost, time.
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
