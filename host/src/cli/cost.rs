//! `orch cost [--by task|model|role]`: what the journaled LLM calls cost,
//! grouped, with tokens and call counts, and apart from it what the calls a
//! killed run left in flight and that were made again are estimated to have
//! cost (a provider may have billed both). Costs are the host's own pricing
//! of the usage each provider reported.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::Globals;
use super::output::{print_json, table, usd};
use crate::store::{CallCost, CallStatus, Store};

#[derive(Debug, Args)]
pub struct CostArgs {
    /// How to group the calls.
    #[arg(long, value_enum, default_value_t = GroupBy::Task)]
    by: GroupBy,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum GroupBy {
    /// By task.
    Task,
    /// By model.
    Model,
    /// By pipeline role (planner, plan_reviewer, implementer, code_reviewer).
    Role,
}

/// `orch cost --json`.
#[derive(Debug, Serialize)]
struct Report {
    by: GroupBy,
    /// Journaled calls.
    total_usd: f64,
    calls: u64,
    /// Calls made again after a kill lost their first outcome, and their estimated USD.
    repeated_calls: u64,
    repeated_usd: f64,
    rows: Vec<Row>,
}

#[derive(Debug, Default, Serialize)]
struct Row {
    key: String,
    calls: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
    repeated_calls: u64,
    repeated_usd: f64,
}

pub fn cost(args: CostArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.read_store()?;
    let report = group(&store.calls()?, args.by);
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            vec![
                r.key.clone(),
                r.calls.to_string(),
                r.input_tokens.to_string(),
                r.output_tokens.to_string(),
                usd(r.cost_usd),
            ]
        })
        .collect();
    rows.push(vec!["total".into(), report.calls.to_string(), String::new(), String::new(), usd(report.total_usd)]);
    let first = match args.by {
        GroupBy::Task => "TASK",
        GroupBy::Model => "MODEL",
        GroupBy::Role => "ROLE",
    };
    print!("{}", table(&[first, "CALLS", "TOKENS IN", "TOKENS OUT", "COST"], &rows));
    if report.repeated_calls > 0 {
        println!(
            "repeated after interruption: {} calls, {} (estimated, on top of the total above)",
            report.repeated_calls,
            usd(report.repeated_usd)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Completions grouped by `by`, most expensive first.
fn group(calls: &[CallCost], by: GroupBy) -> Report {
    let mut groups: BTreeMap<String, Row> = BTreeMap::new();
    for call in calls.iter().filter(|c| c.kind == "completion" && c.status == CallStatus::Done) {
        let key = match by {
            GroupBy::Task => call.task.clone(),
            GroupBy::Model => call.model.clone().unwrap_or_else(|| "?".into()),
            GroupBy::Role => call.role().to_owned(),
        };
        let row = groups.entry(key.clone()).or_insert_with(|| Row { key, ..Row::default() });
        row.calls += 1;
        row.input_tokens += call.input_tokens;
        row.output_tokens += call.output_tokens;
        row.cost_usd += call.cost_usd;
        row.repeated_calls += u64::from(call.repeated.calls);
        row.repeated_usd += call.repeated.cost_usd;
    }
    let mut rows: Vec<Row> = groups.into_values().collect();
    rows.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd).then_with(|| a.key.cmp(&b.key)));
    Report {
        by,
        total_usd: rows.iter().map(|r| r.cost_usd).sum(),
        calls: rows.iter().map(|r| r.calls).sum(),
        repeated_calls: rows.iter().map(|r| r.repeated_calls).sum(),
        repeated_usd: rows.iter().map(|r| r.repeated_usd).sum(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(task: &str, role: &str, model: &str, cost_usd: f64) -> CallCost {
        CallCost {
            task: task.into(),
            run: Some(1),
            kind: "completion".into(),
            key: format!("completion/{role}/-/1.1/abc"),
            plugin: "openai@0.1.0".into(),
            model: Some(model.into()),
            input_tokens: 100,
            output_tokens: 10,
            cost_usd,
            duration_ms: 5,
            at_ms: 0,
            status: CallStatus::Done,
            repeated: Default::default(),
            superseded_by: None,
        }
    }

    #[test]
    fn groups_sum_and_sort_by_cost() {
        let mut gate = call("a", "tests", "", 0.0);
        gate.kind = "check".into();
        let mut in_flight = call("a", "planner", "m1", 0.0);
        in_flight.status = CallStatus::Pending;
        let mut repeated = call("a", "implementer", "m1", 0.25);
        repeated.repeated = crate::store::Repeated::estimate(2, 100, 10, 0.25);
        let calls = [call("a", "planner", "m1", 0.5), call("b", "planner", "m2", 1.0), repeated, gate, in_flight];
        let by_task = group(&calls, GroupBy::Task);
        assert_eq!(by_task.calls, 3, "gate checks and calls in flight are not counted");
        assert_eq!((by_task.repeated_calls, by_task.repeated_usd), (2, 0.5), "repeats are apart from the total");
        assert_eq!(by_task.rows.iter().map(|r| (r.key.as_str(), r.calls)).collect::<Vec<_>>(), [("b", 1), ("a", 2)]);
        assert!((by_task.total_usd - 1.75).abs() < 1e-9);
        let by_model = group(&calls, GroupBy::Model);
        assert_eq!(by_model.rows[0].key, "m2");
        assert_eq!(by_model.rows[1].input_tokens, 200);
        let by_role = group(&calls, GroupBy::Role);
        assert_eq!(by_role.rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["planner", "implementer"]);
    }
}
