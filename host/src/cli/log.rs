//! `orch log [--run ID] [--follow] [--json]`: a run's events from the store
//! (the same events `ORCHESTRATOR_RUN_LOG.md` renders), optionally followed
//! live from another process until the run ends.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::output::{Tone, paint, print_json};
use super::progress::render_line;
use super::{Globals, UsageError};
use crate::store::{RunRecord, SqliteStore, Store, render_iso};

/// How often `--follow` looks for new events.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub struct LogArgs {
    /// The run to show (default: the latest).
    #[arg(long, value_name = "ID")]
    run: Option<i64>,
    /// Keep printing events as they are written, until the run ends.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Print JSON: an array of events, or with --follow one event per line.
    #[arg(long)]
    json: bool,
}

pub async fn log(args: LogArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.read_store()?;
    let runs = store.runs()?;
    let run = match (args.run, runs.last()) {
        (Some(id), _) => runs.iter().find(|r| r.id == id).cloned().ok_or_else(|| {
            let known = match (runs.first(), runs.last()) {
                (Some(first), Some(last)) => format!("runs are {} to {}", first.id, last.id),
                _ => "there are no runs yet".to_owned(),
            };
            UsageError(format!("no run {id} in the store; {known}"))
        })?,
        (None, Some(last)) => last.clone(),
        (None, None) => {
            if args.json {
                print_json(&Vec::<()>::new())?;
            } else {
                println!("no runs yet: `orch run TASKS` starts one");
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    if !args.json {
        println!(
            "{}",
            paint(&format!("run {} started {}: {}", run.id, render_iso(run.started_ms), run.command), Tone::Bold)
        );
    }
    if args.json && !args.follow {
        print_json(&store.events(Some(run.id), 0)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let finished = follow(&store, &run, args.follow, args.json).await?;
    if !args.json {
        match finished {
            Some(ms) => println!("{}", paint(&format!("run {} ended {}", run.id, render_iso(ms)), Tone::Bold)),
            None => println!("run {} has not ended (still running, or it was killed: `orch resume` continues)", run.id),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the run's events; with `live`, keeps polling until the run ends.
/// Returns when the run ended, if it has.
async fn follow(store: &SqliteStore, run: &RunRecord, live: bool, json: bool) -> anyhow::Result<Option<i64>> {
    let mut after = 0;
    loop {
        // Whether the run had ended is read before its events, so the last
        // batch printed holds everything it wrote.
        let ended = store.runs()?.into_iter().find(|r| r.id == run.id).and_then(|r| r.finished_ms);
        for event in store.events(Some(run.id), after)? {
            after = event.id;
            if json {
                println!("{}", serde_json::to_string(&event)?);
            } else {
                println!("{}", render_line(&event));
            }
        }
        if ended.is_some() || !live {
            return Ok(ended);
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}
