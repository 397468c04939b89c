//! `orch summary`, `orch active` and `orch list [--state S]...`: the store at
//! a glance, and tasks as a table.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::output::{Tone, clip, paint, print_json, state_column, state_tone, table_toned, usd};
use super::{Globals, UsageError};
use crate::state::TaskState;
use crate::store::{RunRecord, Store, TaskRecord, render_iso};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only tasks in these states (repeat the flag or separate with commas; e.g. done, AWAITING_HUMAN).
    #[arg(long, value_name = "STATE", value_delimiter = ',')]
    state: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `orch summary --json`.
#[derive(Debug, Serialize)]
struct Summary {
    tasks: u64,
    by_state: BTreeMap<String, u64>,
    active: u64,
    awaiting_human: u64,
    cost_usd: f64,
    repeated_calls: u64,
    repeated_cost_usd: f64,
    last_run: Option<RunRecord>,
}

/// One task in `orch list --json` and `orch active --json`.
#[derive(Debug, Serialize)]
struct TaskRow {
    id: String,
    state: TaskState,
    risk: String,
    area: String,
    goal: String,
    current_step: Option<String>,
    cost_usd: f64,
    updated_at: String,
}

impl From<&TaskRecord> for TaskRow {
    fn from(task: &TaskRecord) -> Self {
        Self {
            id: task.spec.id.clone(),
            state: task.state,
            risk: task.spec.risk.to_string(),
            area: task.spec.area.clone(),
            goal: task.spec.goal.clone(),
            current_step: task.meta.current_step.clone(),
            cost_usd: task.cost_usd,
            updated_at: render_iso(task.updated_ms),
        }
    }
}

pub fn summary(globals: &Globals, json: bool) -> anyhow::Result<ExitCode> {
    let store = globals.read_store()?;
    let totals = store.totals()?;
    let last_run = store.runs()?.pop();
    if json {
        print_json(&Summary {
            tasks: totals.tasks,
            by_state: totals.by_state,
            active: totals.active,
            awaiting_human: totals.awaiting_human,
            cost_usd: totals.cost_usd,
            repeated_calls: totals.repeated_calls,
            repeated_cost_usd: totals.repeated_cost_usd,
            last_run,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} tasks   {} active   {} awaiting review   {} spent",
        totals.tasks,
        totals.active,
        paint(&totals.awaiting_human.to_string(), if totals.awaiting_human > 0 { Tone::Attention } else { Tone::Dim }),
        usd(totals.cost_usd)
    );
    if totals.repeated_calls > 0 {
        println!(
            "  repeated after interruption: {} calls, {} (estimated, on top of what was spent)",
            totals.repeated_calls,
            usd(totals.repeated_cost_usd)
        );
    }
    for state in TaskState::ALL {
        if let Some(count) = totals.by_state.get(state.as_str()) {
            println!("  {}  {count}", paint(&format!("{:<15}", state.as_str()), state_tone(state)));
        }
    }
    if let Some(run) = last_run {
        let ended = run.finished_ms.map_or_else(|| "not finished".to_owned(), |ms| format!("ended {}", render_iso(ms)));
        println!("last run: {} started {} ({ended}): {}", run.id, render_iso(run.started_ms), run.command);
    }
    if totals.awaiting_human > 0 {
        println!("see `orch review` for the tasks waiting for you");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn active(globals: &Globals, json: bool) -> anyhow::Result<ExitCode> {
    let store = globals.read_store()?;
    let active: Vec<TaskState> = TaskState::ALL.into_iter().filter(|s| s.is_active()).collect();
    show(&store.tasks(&active)?, json, "no task is being worked on")
}

pub fn list(args: ListArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    // Check the states before touching the store.
    let states = args
        .state
        .iter()
        .map(|name| name.parse::<TaskState>().map_err(|e| UsageError(format!("--state: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let store = globals.read_store()?;
    show(&store.tasks(&states)?, args.json, "no tasks")
}

fn show(tasks: &[TaskRecord], json: bool, empty: &str) -> anyhow::Result<ExitCode> {
    if json {
        print_json(&tasks.iter().map(TaskRow::from).collect::<Vec<_>>())?;
    } else if tasks.is_empty() {
        println!("{empty}");
    } else {
        let rows: Vec<Vec<String>> = tasks
            .iter()
            .map(|t| {
                vec![
                    t.spec.id.clone(),
                    t.state.as_str().to_owned(),
                    t.spec.risk.to_string(),
                    t.spec.area.clone(),
                    t.meta.current_step.clone().unwrap_or_else(|| "-".into()),
                    usd(t.cost_usd),
                    clip(&t.spec.goal, 60),
                ]
            })
            .collect();
        print!("{}", table_toned(&["ID", "STATE", "RISK", "AREA", "STEP", "COST", "GOAL"], &rows, state_column(1)));
    }
    Ok(ExitCode::SUCCESS)
}
