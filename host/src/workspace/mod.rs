//! Task workspaces: each task works in its own git worktree on its own branch
//! (`orch/<task-id>`, under the workspaces directory, normally
//! `.orch/worktrees/`), so tasks never see each other's half-done work and a
//! finished task leaves a branch ready to merge. This module owns the git
//! side — creating and reusing worktrees, the diff a step made, writing a
//! step's commit without moving the branch and moving it afterwards,
//! discarding what a killed run left half-applied, removing a finished
//! worktree — and [`edits`] owns what the implementer may write.
//!
//! Every git process runs through `tokio::process` and every file operation
//! on a blocking thread, so a slow git never stalls the async executor (and
//! with it the store writes of every other task). A git killed with orch (a
//! kill of its process group) can leave a lock file or a half-made worktree
//! behind: a lock that outlives [`STALE_LOCK_AFTER`] is taken as such and
//! removed, and a worktree git no longer knows is made again.

pub mod edits;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::process::Command;

pub use edits::{Change, Edit, EditError, Format};

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

/// The git directory a linked worktree shares with its repository
/// (`<repo>/.git`), read from the worktree's `.git` pointer file
/// (`gitdir: <repo>/.git/worktrees/NAME`) and that directory's `commondir`.
pub fn common_git_dir(worktree: &Path) -> Option<PathBuf> {
    let pointer = std::fs::read_to_string(worktree.join(".git")).ok()?;
    let gitdir = PathBuf::from(pointer.strip_prefix("gitdir:")?.trim());
    let common = std::fs::read_to_string(gitdir.join("commondir")).ok()?;
    std::fs::canonicalize(gitdir.join(common.trim())).ok()
}

/// How old a git lock file must be before it is taken as left by a killed
/// git (a live one holds it for milliseconds).
pub const STALE_LOCK_AFTER: Duration = Duration::from_secs(2);

/// How long a git command waits in all for locks held by another git.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Runs git in `dir` with `env` set; its standard output, trimmed at the end.
/// A lock held by another git is waited for; one left by a killed git is removed.
async fn git_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String, WorkspaceError> {
    let failed = |message: String| WorkspaceError::Git { args: args.join(" "), dir: dir.to_owned(), message };
    let mut waited = Duration::ZERO;
    loop {
        let output = Command::new("git")
            .arg("-C")
            .arg(dir)
            // Commits must not depend on the user's git identity or hooks.
            .args(["-c", "user.name=orch", "-c", "user.email=orch@localhost", "-c", "core.hooksPath=/dev/null"])
            // A worktree's config could name a monitor program to run.
            .args(["-c", "core.fsmonitor=false"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| failed(format!("cannot run git: {e}")))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_owned());
        }
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        match held_lock(&stderr) {
            Some(lock) if waited < LOCK_WAIT => {
                // Gone already (its git finished): try again at once.
                let age = std::fs::metadata(lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .map(|at| SystemTime::now().duration_since(at).unwrap_or_default());
                if age.is_some_and(|age| age >= STALE_LOCK_AFTER) && std::fs::remove_file(lock).is_ok() {
                    tracing::warn!("removed {lock}, left by a git process that was killed");
                } else if age.is_some() {
                    let pause = Duration::from_millis(50);
                    tokio::time::sleep(pause).await;
                    waited += pause;
                }
            }
            _ => return Err(failed(stderr)),
        }
    }
}

/// The lock file git says it could not create because it exists, if that
/// is why it failed (only a lock inside a `.git` directory).
fn held_lock(stderr: &str) -> Option<&str> {
    let path = stderr.split("Unable to create '").nth(1)?.split("': File exists").next()?;
    (path.ends_with(".lock") && path.contains("/.git/")).then_some(path)
}

/// Runs git in `dir`; its standard output, trimmed at the end.
async fn git(dir: &Path, args: &[&str]) -> Result<String, WorkspaceError> {
    git_env(dir, args, &[]).await
}

/// The repository tasks branch from, and where their worktrees live.
#[derive(Debug, Clone)]
pub struct Workspaces {
    repo: PathBuf,
    dir: PathBuf,
    /// Adding, pruning and removing worktrees change the repository's shared
    /// worktree list, so tasks running at once take turns.
    registry: Arc<tokio::sync::Mutex<()>>,
}

impl Workspaces {
    /// The repository containing `path`, with worktrees under `dir`.
    pub async fn open(path: &Path, dir: &Path) -> Result<Self, WorkspaceError> {
        let not_a_repo = |reason: String| WorkspaceError::NotARepository { path: path.to_owned(), reason };
        let top = git(path, &["rev-parse", "--show-toplevel"]).await.map_err(|e| not_a_repo(e.to_string()))?;
        git(path, &["rev-parse", "--verify", "-q", "HEAD"])
            .await
            .map_err(|_| not_a_repo("it has no commit yet".into()))?;
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
    pub async fn for_task(&self, task: &str) -> Result<Worktree, WorkspaceError> {
        let path = self.dir.join(task);
        let branch = Self::branch(task);
        let _turn = self.registry.lock().await;
        let present = |p: PathBuf| async move { tokio::fs::try_exists(p).await.unwrap_or(false) };
        if present(path.join(".git")).await && git(&path, &["rev-parse", "--git-dir"]).await.is_ok() {
            return Ok(Worktree { path, branch });
        }
        if present(path.clone()).await {
            // Half made by a killed `git worktree add`: nothing in it is
            // committed, so it is made again.
            tracing::warn!("worktree {} is broken (a git was killed making it); making it again", path.display());
            tokio::fs::remove_dir_all(&path).await.map_err(|e| WorkspaceError::Git {
                args: "worktree add".into(),
                dir: path.clone(),
                message: format!("cannot remove the broken worktree: {e}"),
            })?;
        }
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| WorkspaceError::Git {
            args: "worktree add".into(),
            dir: self.dir.clone(),
            message: e.to_string(),
        })?;
        // A stale registration (the directory was deleted by hand) would block `add`.
        git(&self.repo, &["worktree", "prune"]).await?;
        let target = path.to_string_lossy().into_owned();
        let add = async || {
            let branched = git(&self.repo, &["rev-parse", "--verify", "-q", &format!("refs/heads/{branch}")]).await;
            match branched {
                Ok(_) => git(&self.repo, &["worktree", "add", "-q", &target, &branch]).await,
                Err(_) => git(&self.repo, &["worktree", "add", "-q", "-b", &branch, &target, "HEAD"]).await,
            }
        };
        match add().await {
            // A killed `git worktree add` leaves its registration locked.
            Err(e) if e.to_string().contains("missing but locked") => {
                git(&self.repo, &["worktree", "unlock", &target]).await?;
                git(&self.repo, &["worktree", "prune"]).await?;
                add().await?;
            }
            added => drop(added?),
        }
        Ok(Worktree { path, branch })
    }
}

/// A commit to be made from a tree, dated so that the same inputs always
/// give the same commit id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSpec<'a> {
    /// The tree it records.
    pub tree: &'a str,
    /// Its parent.
    pub parent: &'a str,
    /// Its message.
    pub message: &'a str,
    /// Author and committer time, seconds since the epoch (UTC).
    pub at_s: i64,
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
    pub async fn apply(&self, edits: &[Edit]) -> Result<Vec<String>, EditError> {
        let (root, edits) = (self.path.clone(), edits.to_vec());
        tokio::task::spawn_blocking(move || edits::apply(&root, &edits)).await.expect("applying edits does not panic")
    }

    /// Throws away everything not committed, e.g. what a killed run applied.
    pub async fn discard_uncommitted(&self) -> Result<(), WorkspaceError> {
        git(&self.path, &["reset", "-q", "--hard", "HEAD"]).await?;
        git(&self.path, &["clean", "-q", "-f", "-d"]).await?;
        Ok(())
    }

    /// Stages everything, so new files show in the diff and the tree.
    async fn stage(&self) -> Result<(), WorkspaceError> {
        git(&self.path, &["add", "-A"]).await.map(drop)
    }

    /// The uncommitted change as a unified diff, new files included.
    pub async fn diff(&self) -> Result<String, WorkspaceError> {
        self.stage().await?;
        git(
            &self.path,
            &["diff", "--cached", "--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/", "HEAD"],
        )
        .await
    }

    /// The change from commit `base` to commit `head`, as a diff.
    pub async fn diff_between(&self, base: &str, head: &str) -> Result<String, WorkspaceError> {
        git(&self.path, &["diff", "--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/", base, head])
            .await
    }

    /// Paths changed from commit `base` to commit `head` (both sides of a rename).
    pub async fn changed_between(&self, base: &str, head: &str) -> Result<Vec<String>, WorkspaceError> {
        let names = git(&self.path, &["diff", "--name-only", "--no-renames", "--no-color", base, head]).await?;
        Ok(names.lines().map(str::to_owned).collect())
    }

    /// Stages everything and writes it as a tree: the id of what the
    /// worktree holds now.
    pub async fn write_tree(&self) -> Result<String, WorkspaceError> {
        self.stage().await?;
        git(&self.path, &["write-tree"]).await
    }

    /// Writes the commit `spec` describes into the object database without
    /// moving any branch; its id. The same spec always gives the same id.
    pub async fn make_commit(&self, spec: &CommitSpec<'_>) -> Result<String, WorkspaceError> {
        let date = format!("@{} +0000", spec.at_s);
        let env = [("GIT_AUTHOR_DATE", date.as_str()), ("GIT_COMMITTER_DATE", date.as_str())];
        git_env(&self.path, &["commit-tree", spec.tree, "-p", spec.parent, "-m", spec.message], &env).await
    }

    /// Moves the branch from commit `from` to commit `to` (refused if it is
    /// no longer at `from`). The index and files are left as they are: they
    /// already hold `to`'s tree when `to` was made from them.
    pub async fn advance(&self, from: &str, to: &str) -> Result<(), WorkspaceError> {
        git(&self.path, &["update-ref", &format!("refs/heads/{}", self.branch), to, from]).await.map(drop)
    }

    /// Points the branch at `commit` and makes the files match it.
    pub async fn reset_to(&self, commit: &str) -> Result<(), WorkspaceError> {
        git(&self.path, &["reset", "-q", "--hard", commit]).await.map(drop)
    }

    /// Keeps `commit` reachable under the ref `name` (e.g. commits set aside).
    pub async fn keep_ref(&self, name: &str, commit: &str) -> Result<(), WorkspaceError> {
        git(&self.path, &["update-ref", name, commit]).await.map(drop)
    }

    /// Whether `commit` is in the object database.
    pub async fn has_commit(&self, commit: &str) -> bool {
        git(&self.path, &["cat-file", "-e", &format!("{commit}^{{commit}}")]).await.is_ok()
    }

    /// The messages of the commits after `base` up to `head`, when `base`
    /// is an ancestor of `head`; `None` otherwise.
    pub async fn messages_after(&self, base: &str, head: &str) -> Result<Option<Vec<String>>, WorkspaceError> {
        if git(&self.path, &["merge-base", "--is-ancestor", base, head]).await.is_err() {
            return Ok(None);
        }
        let log = git(&self.path, &["log", "--format=%B%x00", &format!("{base}..{head}")]).await?;
        Ok(Some(log.split('\0').map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned).collect()))
    }

    /// The current commit id.
    pub async fn head(&self) -> Result<String, WorkspaceError> {
        git(&self.path, &["rev-parse", "HEAD"]).await
    }

    /// The id of the tree of `commit`: what a gate judges.
    pub async fn tree_of(&self, commit: &str) -> Result<String, WorkspaceError> {
        git(&self.path, &["rev-parse", &format!("{commit}^{{tree}}")]).await
    }

    /// Removes the worktree (the branch stays, ready to merge).
    pub async fn remove(&self, workspaces: &Workspaces) -> Result<(), WorkspaceError> {
        let _turn = workspaces.registry.lock().await;
        let target = self.path.to_string_lossy().into_owned();
        git(workspaces.repo(), &["worktree", "remove", "--force", &target]).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
