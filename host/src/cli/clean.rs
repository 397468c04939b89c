//! `orch clean-state --force`: deletes the store (tasks, history, journal,
//! runs) and the task worktrees, so the next run starts from nothing. The
//! `orch/*` branches (the work) and the run log are kept. Without `--force`
//! it only says what it would delete.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::run::worktrees_dir;
use super::{Globals, UsageError};
use crate::runlog::RUN_LOG_FILE;
use crate::store::{SqliteStore, Store};

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Really delete (without it, only list what would go).
    #[arg(long)]
    force: bool,
}

pub fn clean(args: CleanArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    let store = globals.store_path(&config);
    let dir = store.parent().unwrap_or(Path::new(".")).to_owned();
    let files: Vec<PathBuf> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", store.display())))
        .filter(|p| p.exists())
        .collect();
    let trees_dir = worktrees_dir(&store);
    let worktrees: Vec<PathBuf> = std::fs::read_dir(&trees_dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    if files.is_empty() && worktrees.is_empty() {
        println!("nothing to clean: no store at {}", store.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut plan = Vec::new();
    if !files.is_empty() {
        let contents = match SqliteStore::open_existing(&store) {
            Ok(opened) => format!("{} tasks, {} runs", opened.tasks(&[])?.len(), opened.runs()?.len()),
            Err(e) => format!("unreadable: {e}"),
        };
        plan.push(format!("the store {} ({contents})", store.display()));
    }
    for worktree in &worktrees {
        plan.push(format!("the worktree {}", worktree.display()));
    }
    let listing: String = plan.iter().map(|line| format!("  {line}\n")).collect();
    let kept = format!("the orch/* branches and {RUN_LOG_FILE} are kept");
    if !args.force {
        eprint!("clean-state would delete:\n{listing}({kept})\n");
        return Err(UsageError("nothing deleted: run `orch clean-state --force` to delete these".into()).into());
    }
    let git_dirs: BTreeSet<PathBuf> = worktrees.iter().filter_map(|w| crate::workspace::common_git_dir(w)).collect();
    for worktree in &worktrees {
        std::fs::remove_dir_all(worktree).with_context(|| format!("cannot delete {}", worktree.display()))?;
    }
    for git_dir in git_dirs {
        // Forget the deleted worktrees; a failure leaves only stale entries
        // that git prunes itself later.
        let pruned =
            std::process::Command::new("git").arg("--git-dir").arg(&git_dir).args(["worktree", "prune"]).status();
        if !pruned.is_ok_and(|s| s.success()) {
            eprintln!("note: `git worktree prune` failed in {}; git will prune later", git_dir.display());
        }
    }
    for file in &files {
        // SQLite removes its -wal and -shm files itself when the last connection closes.
        match std::fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot delete {}", file.display()));
            }
            _ => {}
        }
    }
    let _ = std::fs::remove_dir(&trees_dir);
    let _ = std::fs::remove_dir(&dir);
    print!("deleted:\n{listing}({kept})\n");
    Ok(ExitCode::SUCCESS)
}
