//! `orch review`: the queue of tasks waiting for a person, each with why it
//! stopped (which review or gate gave up, after how many rounds), what the
//! reviewers or gates found, what it has cost and how to decide.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Serialize;

use super::Globals;
use super::output::{Tone, clip, paint, print_json, rounds, usd};
use crate::state::TaskState;
use crate::store::{Store, TaskRecord, render_iso};

/// One waiting task in `orch review --json`.
#[derive(Debug, Serialize)]
struct Waiting {
    id: String,
    goal: String,
    risk: String,
    area: String,
    stage: String,
    reason: String,
    attempts: BTreeMap<String, u32>,
    concerns: Vec<String>,
    cost_usd: f64,
    waiting_since: String,
}

impl From<&TaskRecord> for Waiting {
    fn from(task: &TaskRecord) -> Self {
        let (stage, reason) = match &task.meta.escalation {
            Some(e) => (e.stage.clone(), e.reason.clone()),
            None => (String::new(), task.last_error.clone().unwrap_or_default()),
        };
        Self {
            id: task.spec.id.clone(),
            goal: task.spec.goal.clone(),
            risk: task.spec.risk.to_string(),
            area: task.spec.area.clone(),
            stage,
            reason,
            attempts: task.meta.attempts.clone(),
            concerns: task.meta.concerns.clone(),
            cost_usd: task.cost_usd,
            waiting_since: render_iso(task.updated_ms),
        }
    }
}

pub fn review(globals: &Globals, json: bool) -> anyhow::Result<ExitCode> {
    let store = globals.read_store()?;
    let queue: Vec<Waiting> = store.tasks(&[TaskState::AwaitingHuman])?.iter().map(Waiting::from).collect();
    if json {
        print_json(&queue)?;
        return Ok(ExitCode::SUCCESS);
    }
    if queue.is_empty() {
        println!("nothing to review: no task is waiting for a person");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} waiting for a person\n", plural(queue.len(), "task"));
    for task in &queue {
        println!(
            "{}  risk {}  area {}  {}  waiting since {}",
            paint(&task.id, Tone::Bold),
            task.risk,
            task.area,
            usd(task.cost_usd),
            task.waiting_since
        );
        println!("  goal: {}", clip(&task.goal, 100));
        let stage = if task.stage.is_empty() { String::new() } else { format!("{}: ", task.stage) };
        println!("  why:  {}", paint(&format!("{stage}{}", task.reason), Tone::Attention));
        if !task.attempts.is_empty() {
            println!("  rounds: {}", rounds(&task.attempts));
        }
        for concern in &task.concerns {
            println!("  - {concern}");
        }
        println!(
            "  decide: orch task {id} --approve [--comment TEXT]   |   orch task {id} --reject [--comment TEXT]\n",
            id = task.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}
