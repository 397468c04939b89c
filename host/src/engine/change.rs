//! The implementer's change in the task's own worktree. The worktree is set
//! up once per task (its path, branch and starting commit are journaled); a
//! step's edits are asked for, applied all or nothing, and what went wrong
//! goes back to the implementer; an approved step becomes one commit.
//!
//! Journal before effect: a step's commit is made as an object first (its
//! id fixed by its tree, parent, message and date), journaled, and only then
//! does the branch move to it. So the branch never holds a commit the
//! journal does not, and an approval always precedes its commit in the
//! journal (the reviewer's reply is durable before [`commit`] starts).
//!
//! Replay and the files: every walk starts by bringing the branch to the
//! newest journaled commit (forward, when a killed run journaled a commit but
//! did not move the branch; back, setting aside commits the journal does not
//! hold) and discarding what is not committed (a killed run may have left a
//! step half-applied). A step that has its commit is not touched again; the
//! step in progress is applied again from its journaled reply, which brings
//! the files back to where they were.

use serde_json::json;

use super::plugins::Plugins;
use super::task_run::{Halt, TaskRun};
use crate::store::{Category, Status, WorkspaceInfo, now_ms};
use crate::workspace::{CommitSpec, EditError, Format, WorkspaceError, Worktree};

/// A task's worktree, the commit its branch started from, and the commit
/// the walk has reached: the last step committed so far *in the walk*, which
/// on replay lies behind the branch's HEAD.
#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    pub tree: Worktree,
    pub base: String,
    pub reached: String,
}

/// What applying a step's edits gave: the change as a diff, or why the
/// edits did not apply (the files are then as they were).
pub(crate) type Applied = Result<(String, String), String>;

/// Most bytes of one file quoted to the implementer.
const FILE_QUOTE_BYTES: usize = 24 * 1024;
/// Most bytes of files quoted in one prompt.
const FILES_QUOTE_BYTES: usize = 96 * 1024;

/// The journal key of a step's commit.
pub(crate) const COMMIT_KEY_PREFIX: &str = "commit/";

fn commit_key(step: &str) -> String {
    format!("{COMMIT_KEY_PREFIX}{step}")
}

/// The task's worktree, set up on the walk's first use of it; `None` when
/// the run has no repository (the change is then the implementer's text).
pub(crate) async fn workspace<P: Plugins>(t: &mut TaskRun<P>) -> Result<Option<Workspace>, Halt> {
    if let Some(workspace) = &t.workspace {
        return Ok(Some(workspace.clone()));
    }
    let Some(workspaces) = t.shared().settings.workspaces.clone() else {
        return Ok(None);
    };
    let id = t.spec.id.clone();
    let tree = match workspaces.for_task(&id).await {
        Ok(tree) => tree,
        Err(e) => return Err(t.fail(format!("cannot set up the task's worktree: {e}")).await),
    };
    let key = "workspace/base".to_owned();
    let base = match t.recorded(&key).and_then(|v| v["base"].as_str()).map(str::to_owned) {
        Some(base) => base,
        None => {
            let base = match tree.head().await {
                Ok(head) => head,
                Err(e) => return Err(t.fail(format!("cannot read the task's branch: {e}")).await),
            };
            t.record_effect(key, json!({ "base": base })).await?;
            base
        }
    };
    reconcile(t, &tree, &base).await?;
    if let Err(e) = tree.discard_uncommitted().await {
        return Err(t.fail(format!("cannot set up the task's worktree: {e}")).await);
    }
    t.meta.workspace =
        Some(WorkspaceInfo { path: tree.path.display().to_string(), branch: tree.branch.clone(), base: base.clone() });
    let workspace = Workspace { tree, reached: base.clone(), base };
    t.workspace = Some(workspace.clone());
    Ok(Some(workspace))
}

/// Brings the branch to the newest journaled commit (or `base`): forward
/// when a killed run journaled a commit but did not move the branch to it;
/// back when the branch holds step commits the journal does not (a retry set
/// them aside, or an older orch committed before journaling), which are kept
/// under `refs/orch/set-aside/`. Anything else moved the branch outside orch
/// and stops the task.
async fn reconcile<P: Plugins>(t: &mut TaskRun<P>, tree: &Worktree, base: &str) -> Result<(), Halt> {
    let last = t.last_recorded_commit().cloned();
    let expected = last.as_ref().and_then(|v| v["commit"].as_str()).unwrap_or(base).to_owned();
    let outcome: Result<Option<String>, WorkspaceError> = async {
        let head = tree.head().await?;
        if head == expected {
            return Ok(None);
        }
        if let Some(last) = &last
            && last["parent"].as_str() == Some(head.as_str())
        {
            if !tree.has_commit(&expected).await {
                remake_commit(tree, last).await?;
            }
            tree.advance(&head, &expected).await?;
            return Ok(None);
        }
        let marker = format!("Orch-Step: {}/", t.spec.id);
        match tree.messages_after(&expected, &head).await? {
            Some(messages)
                if !messages.is_empty()
                    && messages.iter().all(|m| m.lines().any(|l| l.trim().starts_with(&marker))) =>
            {
                let kept = format!("refs/orch/set-aside/{}/{head}", t.spec.id);
                tree.keep_ref(&kept, &head).await?;
                tree.reset_to(&expected).await?;
                Ok(Some(format!(
                    "branch {} held {} step commit(s) the journal does not; set aside as {kept}, back at {expected:.12}",
                    tree.branch,
                    messages.len()
                )))
            }
            _ => Err(WorkspaceError::Git {
                args: "rev-parse HEAD".into(),
                dir: tree.path.clone(),
                message: format!(
                    "branch {} is at {head:.12}, but the journal says {expected:.12}: it was changed outside orch; \
                     put it back with `git branch -f {} {expected}`, or retry the task from planning",
                    tree.branch, tree.branch
                ),
            }),
        }
    }
    .await;
    match outcome {
        Ok(None) => Ok(()),
        Ok(Some(note)) => {
            t.event(Category::Task, Status::Warning, None, note);
            Ok(())
        }
        Err(e) => Err(t.fail(format!("cannot bring the task's branch to its journaled state: {e}")).await),
    }
}

/// Makes a journaled commit again from its record (same inputs, same id),
/// when the object was lost.
async fn remake_commit(tree: &Worktree, record: &serde_json::Value) -> Result<(), WorkspaceError> {
    let field = |name: &str| record[name].as_str().unwrap_or_default();
    let spec = CommitSpec {
        tree: field("tree"),
        parent: field("parent"),
        message: field("message"),
        at_s: record["at"].as_i64().unwrap_or_default(),
    };
    tree.make_commit(&spec).await.map(drop)
}

/// Whether `step` has its commit.
pub(crate) fn committed<P: Plugins>(t: &TaskRun<P>, step: &str) -> bool {
    t.recorded(&commit_key(step)).is_some()
}

/// Applies the change in `reply` for `step` (attempt `tag`, e.g. `2.1`):
/// the diff and summary, or what the implementer must fix. Journaled; the
/// files are touched unless the step is committed already.
pub(crate) async fn apply<P: Plugins>(
    t: &mut TaskRun<P>,
    workspace: &Workspace,
    step: &str,
    tag: &str,
    reply: &str,
    format: Format,
) -> Result<Applied, Halt> {
    let key = format!("apply/{step}/{tag}");
    if committed(t, step)
        && let Some(recorded) = t.recorded(&key)
    {
        return Ok(applied_from(recorded));
    }
    t.flush().await?;
    let outcome: Applied = match orch_edits::parse(format, reply) {
        Err(problem) => Err(format!("{problem}. {}", format.again())),
        Ok(change) => match workspace.tree.apply(&change.edits).await {
            Err(EditError::Refused(rejected)) => Err(rejected.feedback(format)),
            Err(problem) => Err(format!("your edits could not be applied, so no file changed: {problem}")),
            Ok(warnings) => {
                for warning in warnings {
                    t.event(Category::Task, Status::Warning, Some(step), format!("step {step}: {warning}"));
                }
                match workspace.tree.diff().await {
                    Ok(diff) => Ok((change.summary, diff)),
                    Err(e) => return Err(t.fail(format!("cannot read the step's diff: {e}")).await),
                }
            }
        },
    };
    if t.recorded(&key).is_none() {
        let value = match &outcome {
            Ok((summary, diff)) => json!({ "summary": summary, "diff": diff }),
            Err(problem) => json!({ "error": problem }),
        };
        t.record_effect(key, value).await?;
    }
    Ok(outcome)
}

fn applied_from(value: &serde_json::Value) -> Applied {
    match value["error"].as_str() {
        Some(problem) => Err(problem.to_owned()),
        None => Ok((
            value["summary"].as_str().unwrap_or_default().to_owned(),
            value["diff"].as_str().unwrap_or_default().to_owned(),
        )),
    }
}

/// The line that marks a step's commit.
fn trailer(task: &str, step: &str) -> String {
    format!("Orch-Step: {task}/{step}")
}

/// Throws away a rejected attempt's files (unless the step is committed).
pub(crate) async fn discard<P: Plugins>(t: &mut TaskRun<P>, workspace: &Workspace, step: &str) -> Result<(), Halt> {
    if committed(t, step) {
        return Ok(());
    }
    clean(t, workspace, "a rejected attempt").await
}

/// Throws away everything not committed (`what`, named if that fails).
pub(crate) async fn clean<P: Plugins>(t: &mut TaskRun<P>, workspace: &Workspace, what: &str) -> Result<(), Halt> {
    t.flush().await?;
    match workspace.tree.discard_uncommitted().await {
        Ok(()) => Ok(()),
        Err(e) => Err(t.fail(format!("cannot discard {what}: {e}")).await),
    }
}

/// Commits an approved step, once: the commit is made as an object,
/// journaled, and only then does the branch move to it.
pub(crate) async fn commit<P: Plugins>(
    t: &mut TaskRun<P>,
    workspace: &Workspace,
    step: &str,
    description: &str,
) -> Result<(), Halt> {
    let key = commit_key(step);
    let commit = match t.recorded(&key).and_then(|v| v["commit"].as_str()) {
        Some(commit) => commit.to_owned(),
        None => {
            // The approval (and everything before it) is durable before the commit is made.
            t.flush().await?;
            let task = t.spec.id.clone();
            let message = format!("orch: {task} {step}: {}\n\n{}", first_line(description, 60), trailer(&task, step));
            let parent = workspace.reached.clone();
            let at_s = now_ms() / 1000;
            let made = async {
                let tree = workspace.tree.write_tree().await?;
                let spec = CommitSpec { tree: &tree, parent: &parent, message: &message, at_s };
                let commit = workspace.tree.make_commit(&spec).await?;
                Ok::<_, WorkspaceError>((tree, commit))
            };
            let (tree, commit) = match made.await {
                Ok(made) => made,
                Err(e) => return Err(t.fail(format!("cannot commit step {step}: {e}")).await),
            };
            let record = json!({ "commit": commit, "tree": tree, "parent": parent, "message": message, "at": at_s });
            t.record_effect(key, record).await?;
            if let Err(e) = workspace.tree.advance(&parent, &commit).await {
                return Err(t.fail(format!("cannot move the task's branch to step {step}'s commit: {e}")).await);
            }
            commit
        }
    };
    if let Some(walked) = t.workspace.as_mut() {
        walked.reached = commit;
    }
    Ok(())
}

/// The first line of `text`, cut at `max` characters.
fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// The files a step is about, as they were when the step's round `round`
/// began, for the implementer's prompt. Journaled: on replay the files may
/// already hold the step's commit, but the prompt must be the one sent.
pub(crate) async fn quote_files<P: Plugins>(
    t: &mut TaskRun<P>,
    workspace: &Workspace,
    step: &str,
    round: u32,
    paths: &[String],
) -> Result<String, Halt> {
    let key = format!("files/{step}/{round}");
    if let Some(quoted) = t.recorded(&key).and_then(|v| v.as_str()) {
        return Ok(quoted.to_owned());
    }
    let (root, paths) = (workspace.tree.path.clone(), paths.to_vec());
    let quoted =
        tokio::task::spawn_blocking(move || read_files(&root, &paths)).await.expect("reading files does not panic");
    t.record_effect(key, json!(quoted)).await?;
    Ok(quoted)
}

/// A heading, then each file under a `--- path` line, cut to a size; empty
/// when none of `paths` is a readable file.
fn read_files(root: &std::path::Path, paths: &[String]) -> String {
    let mut quoted = Vec::new();
    let mut budget = FILES_QUOTE_BYTES;
    for path in paths {
        let Ok(file) = crate::workspace::edits::checked_path(root, path) else {
            continue;
        };
        let limit = FILE_QUOTE_BYTES.min(budget);
        if limit == 0 {
            break;
        }
        // Whatever the worktree holds there now: a FIFO or a device is skipped.
        let Ok((text, cut)) = crate::regular_file::read_text_prefix(&file, limit) else {
            continue;
        };
        let body = if cut { format!("{text}\n[… cut at {limit} bytes]") } else { text };
        budget = budget.saturating_sub(body.len());
        quoted.push(format!("--- {path}\n{body}"));
    }
    if quoted.is_empty() {
        return String::new();
    }
    format!("\nThe files as they are now:\n{}\n", quoted.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_files_are_cut_to_size_and_special_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("small.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("big.py"), "é".repeat(FILE_QUOTE_BYTES)).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(dir.path().join("pipe.py")).status().unwrap().success());
        let paths = ["pipe.py", "small.py", "missing.py", "../outside.py", "big.py"].map(String::from);
        let quoted = read_files(dir.path(), &paths);
        let (head, big) = quoted.split_once("--- big.py\n").expect("big.py is quoted");
        assert_eq!(head, "\nThe files as they are now:\n--- small.py\nx = 1\n\n");
        let (body, note) = big.split_once('\n').unwrap();
        assert_eq!(body, "é".repeat(FILE_QUOTE_BYTES / 2));
        assert_eq!(note, format!("[… cut at {FILE_QUOTE_BYTES} bytes]\n"));
        assert_eq!(read_files(dir.path(), &["pipe.py".into()]), "", "nothing readable: nothing quoted");
    }
}
