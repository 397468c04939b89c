//! `orch task ID [--approve|--reject [--comment TEXT]] [--json]` and
//! `orch import FILE`: one task's record and history, a person's decision on
//! a waiting task, and restoring an exported task.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{ArgGroup, Args};

use super::output::print_json;
use super::run::open_store;
use super::{UsageError, store_usage};
use crate::config::LoadedConfig;
use crate::store::{HumanDecision, Moved, Store, TaskExport, render_iso};

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

pub fn task(args: TaskArgs, config: Option<&Path>, store: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = LoadedConfig::load(config)?;
    let store = open_store(&config, store)?;
    if let Some(decision) = args.decision() {
        let verb = if matches!(decision, HumanDecision::Approve { .. }) { "approved" } else { "rejected" };
        let state = store.decide(&args.id, decision).map_err(store_usage)?;
        println!("task {} {verb}; it is now {state}", args.id);
        if state.is_active() {
            println!("it continues on the next `orch run` or `orch resume`");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let export = store.export_task(&args.id).map_err(store_usage)?;
    if args.json {
        print_json(&serde_json::to_value(&export).context("rendering the task")?);
    } else {
        print!("{}", describe(&export));
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(export: &TaskExport) -> String {
    let task = &export.task;
    let mut out = format!(
        "task {}  [{}]  risk {}  area {}\ngoal: {}\nstate: {}   cost: ${:.4}\n",
        task.spec.id, task.state, task.spec.risk, task.spec.area, task.spec.goal, task.state, task.cost_usd
    );
    if let Some(escalation) = &task.meta.escalation {
        out.push_str(&format!("waiting for a person ({}): {}\n", escalation.stage, escalation.reason));
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
    for (role, model) in &task.meta.models {
        out.push_str(&format!("model {role}: {}/{} ({})\n", model.provider, model.model, model.reason));
    }
    for concern in &task.meta.concerns {
        out.push_str(&format!("concern: {concern}\n"));
    }
    if !export.steps.is_empty() {
        out.push_str("steps:\n");
        for step in &export.steps {
            out.push_str(&format!(
                "  {:<12} {:<12} attempts {}  {}\n",
                step.id, step.state, step.attempts, step.description
            ));
        }
    }
    out.push_str("history:\n");
    for t in &export.history {
        let what = match &t.moved {
            Moved::Task { from, to } => format!("{from} -> {to}"),
            Moved::Step { step, from, to } => format!("step {step}: {from} -> {to}"),
        };
        out.push_str(&format!("  {} {what:<40} {}\n", render_iso(t.at_ms), t.message));
    }
    let calls = export.journal.iter().filter(|e| e.kind == "completion").count();
    out.push_str(&format!("journal: {} entries, {calls} completions\n", export.journal.len()));
    out
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file written by `orch task ID --json`.
    file: PathBuf,
}

pub fn import(args: ImportArgs, config: Option<&Path>, store: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = LoadedConfig::load(config)?;
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let export = TaskExport::from_json(&text).map_err(|e| UsageError(format!("{}: {e}", args.file.display())))?;
    let store = open_store(&config, store)?;
    store.import_task(&export)?;
    println!("imported task {} ({})", export.task.spec.id, export.task.state);
    Ok(ExitCode::SUCCESS)
}
