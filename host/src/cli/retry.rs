//! `orch retry ID [--from-stage planning|implementing|gate] [--comment TEXT]`
//! and `orch retry --all-failed`: a person puts a FAILED or AWAITING_HUMAN
//! task back into the pipeline (what is reused and what is set aside is
//! `task_retry`'s business); the next `orch run` or `orch resume` drives it.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::Globals;
use crate::state::TaskState;
use crate::store::{SqliteStore, Store};
use crate::task_retry::{RetryFrom, RetryRequest};

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The task to retry.
    #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
    id: Option<String>,
    /// Retry every FAILED task (after an outage, say), each from where it stopped.
    #[arg(long, conflicts_with = "from_stage")]
    all_failed: bool,
    #[command(flatten)]
    how: RetryHow,
}

/// How to retry: where from, and why.
#[derive(Debug, Clone, Args)]
pub struct RetryHow {
    /// Go back to this stage's start, making its calls anew (default: just
    /// before the task stopped, reusing every journaled call).
    #[arg(long, value_enum, value_name = "STAGE")]
    pub from_stage: Option<Stage>,
    /// Why; it reaches the next prompts and the history.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
}

/// A stage a retry can go back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    /// Plan anew (the worktree and the branch go back to where the task started).
    Planning,
    /// Keep the approved plan; implement every step anew.
    Implementing,
    /// Keep the steps; run the quality gates anew.
    Gate,
}

impl RetryHow {
    fn request(&self) -> RetryRequest {
        let from = match self.from_stage {
            None => RetryFrom::Stop,
            Some(Stage::Planning) => RetryFrom::Planning,
            Some(Stage::Implementing) => RetryFrom::Implementing,
            Some(Stage::Gate) => RetryFrom::Gate,
        };
        let who = ["USER", "LOGNAME"].iter().find_map(|v| std::env::var(v).ok()).unwrap_or_else(|| "a person".into());
        RetryRequest { from, comment: self.comment.clone(), who }
    }
}

pub fn retry(args: RetryArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    let store = globals.write_store(&config)?;
    if !args.all_failed {
        let id = args.id.expect("clap requires an id without --all-failed");
        retry_one(&store, &id, &args.how)?;
        return Ok(ExitCode::SUCCESS);
    }
    let failed = store.tasks(&[TaskState::Failed])?;
    if failed.is_empty() {
        println!("no FAILED task to retry");
    }
    for task in &failed {
        retry_one(&store, &task.spec.id, &args.how)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Retries one task and says where it is now.
pub fn retry_one(store: &SqliteStore, id: &str, how: &RetryHow) -> anyhow::Result<()> {
    let state = store.retry(id, &how.request())?;
    println!("task {id} retried; it is now {state} and continues on the next `orch run` or `orch resume`");
    Ok(())
}
