//! Task workspaces: each task works in its own git worktree on its own branch
//! (`orch/<task-id>`, under the workspaces directory, normally
//! `.orch/worktrees/`), so tasks never see each other's half-done work and a
//! finished task leaves a branch ready to merge. This module owns the git
//! side — creating and reusing worktrees, the diff a step made, one commit
//! per step, discarding what a killed run left half-applied, removing a
//! finished worktree — and [`edits`] owns what the implementer may write.

pub mod edits;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

pub use edits::{Change, Edit, EditError};

/// A git operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The path is not inside a git repository with at least one commit.
    #[error("{path} is not a git repository with a commit to start from ({reason}); use --repo PATH")]
    NotARepository { path: PathBuf, reason: String },
    /// A git command failed.
    #[error("git {args} failed in {dir}: {message}")]
    Git { args: String, dir: PathBuf, message: String },
}

/// Runs git in `dir`; its standard output, trimmed at the end.
fn git(dir: &Path, args: &[&str]) -> Result<String, WorkspaceError> {
    let failed = |message: String| WorkspaceError::Git { args: args.join(" "), dir: dir.to_owned(), message };
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        // Commits must not depend on the user's git identity or hooks.
        .args(["-c", "user.name=orch", "-c", "user.email=orch@localhost", "-c", "core.hooksPath=/dev/null"])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| failed(format!("cannot run git: {e}")))?;
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_owned())
}

/// The repository tasks branch from, and where their worktrees live.
#[derive(Debug, Clone)]
pub struct Workspaces {
    repo: PathBuf,
    dir: PathBuf,
    /// Adding, pruning and removing worktrees change the repository's shared
    /// worktree list, so tasks running at once take turns.
    registry: Arc<Mutex<()>>,
}

impl Workspaces {
    /// The repository containing `path`, with worktrees under `dir`.
    pub fn open(path: &Path, dir: &Path) -> Result<Self, WorkspaceError> {
        let not_a_repo = |reason: String| WorkspaceError::NotARepository { path: path.to_owned(), reason };
        let top = git(path, &["rev-parse", "--show-toplevel"]).map_err(|e| not_a_repo(e.to_string()))?;
        git(path, &["rev-parse", "--verify", "-q", "HEAD"]).map_err(|_| not_a_repo("it has no commit yet".into()))?;
        let dir = std::path::absolute(dir).map_err(|e| not_a_repo(e.to_string()))?;
        Ok(Self { repo: PathBuf::from(top), dir, registry: Arc::default() })
    }

    /// The repository's top directory.
    pub fn repo(&self) -> &Path {
        &self.repo
    }

    /// The branch of task `task`.
    pub fn branch(task: &str) -> String {
        format!("orch/{task}")
    }

    /// The worktree of task `task`, made on first use from the repository's
    /// current commit; later calls (a resumed run) reuse the worktree, or
    /// check its branch out again if the worktree was removed.
    pub fn for_task(&self, task: &str) -> Result<Worktree, WorkspaceError> {
        let path = self.dir.join(task);
        let branch = Self::branch(task);
        let _turn = self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if path.join(".git").exists() {
            return Ok(Worktree { path, branch });
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| WorkspaceError::Git {
            args: "worktree add".into(),
            dir: self.dir.clone(),
            message: e.to_string(),
        })?;
        // A stale registration (the directory was deleted by hand) would block `add`.
        git(&self.repo, &["worktree", "prune"])?;
        let target = path.to_string_lossy().into_owned();
        let exists = git(&self.repo, &["rev-parse", "--verify", "-q", &format!("refs/heads/{branch}")]).is_ok();
        if exists {
            git(&self.repo, &["worktree", "add", "-q", &target, &branch])?;
        } else {
            git(&self.repo, &["worktree", "add", "-q", "-b", &branch, &target, "HEAD"])?;
        }
        Ok(Worktree { path, branch })
    }
}

/// One task's checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    /// Its directory.
    pub path: PathBuf,
    /// Its branch, `orch/<task-id>`.
    pub branch: String,
}

impl Worktree {
    /// Applies a step's edits, all or none.
    pub fn apply(&self, edits: &[Edit]) -> Result<(), EditError> {
        edits::apply(&self.path, edits).map(drop)
    }

    /// Throws away everything not committed, e.g. what a killed run applied.
    pub fn discard_uncommitted(&self) -> Result<(), WorkspaceError> {
        git(&self.path, &["reset", "-q", "--hard", "HEAD"])?;
        git(&self.path, &["clean", "-q", "-f", "-d"])?;
        Ok(())
    }

    /// Stages everything, so new files show in the diff and the tree.
    fn stage(&self) -> Result<(), WorkspaceError> {
        git(&self.path, &["add", "-A"]).map(drop)
    }

    /// The uncommitted change as a unified diff, new files included.
    pub fn diff(&self) -> Result<String, WorkspaceError> {
        self.stage()?;
        git(
            &self.path,
            &["diff", "--cached", "--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/", "HEAD"],
        )
    }

    /// The change from commit `base` to commit `head`, as a diff.
    pub fn diff_between(&self, base: &str, head: &str) -> Result<String, WorkspaceError> {
        git(&self.path, &["diff", "--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/", base, head])
    }

    /// Paths changed from commit `base` to commit `head` (both sides of a rename).
    pub fn changed_between(&self, base: &str, head: &str) -> Result<Vec<String>, WorkspaceError> {
        let names = git(&self.path, &["diff", "--name-only", "--no-renames", "--no-color", base, head])?;
        Ok(names.lines().map(str::to_owned).collect())
    }

    /// Commits everything with `message`; the commit id. A step that changed
    /// nothing still gets its (empty) commit, so every step is one commit.
    pub fn commit(&self, message: &str) -> Result<String, WorkspaceError> {
        self.stage()?;
        git(&self.path, &["commit", "-q", "--allow-empty", "-m", message])?;
        self.head()
    }

    /// Commits everything as one step, once: when HEAD already carries
    /// `trailer` (a killed run committed but did not record it), HEAD is the
    /// step's commit. The message is `subject`, a blank line and `trailer`.
    pub fn commit_once(&self, subject: &str, trailer: &str) -> Result<String, WorkspaceError> {
        if self.head_has(trailer)? {
            return self.head();
        }
        self.commit(&format!("{subject}\n\n{trailer}"))
    }

    /// Whether the HEAD commit's message has the line `trailer`.
    pub fn head_has(&self, trailer: &str) -> Result<bool, WorkspaceError> {
        let message = git(&self.path, &["log", "-1", "--format=%B"])?;
        Ok(message.lines().any(|line| line.trim() == trailer))
    }

    /// The current commit id.
    pub fn head(&self) -> Result<String, WorkspaceError> {
        git(&self.path, &["rev-parse", "HEAD"])
    }

    /// The id of the tree of `commit`: what a gate judges.
    pub fn tree_of(&self, commit: &str) -> Result<String, WorkspaceError> {
        git(&self.path, &["rev-parse", &format!("{commit}^{{tree}}")])
    }

    /// Removes the worktree (the branch stays, ready to merge).
    pub fn remove(&self, workspaces: &Workspaces) -> Result<(), WorkspaceError> {
        let _turn = workspaces.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let target = self.path.to_string_lossy().into_owned();
        git(workspaces.repo(), &["worktree", "remove", "--force", &target])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
