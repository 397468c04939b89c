//! The implementer's change in the task's own worktree. The worktree is set
//! up once per task (its path, branch and starting commit are journaled); a
//! step's edits are asked for, applied all or nothing, and what went wrong
//! goes back to the implementer; an approved step becomes one commit.
//!
//! Replay and the files: every walk starts by discarding what is not
//! committed (a killed run may have left a step half-applied). A step that
//! has its commit is not touched again; the step in progress is applied again
//! from its journaled reply, which brings the files back to where they were.

use serde_json::json;

use super::plugins::Plugins;
use super::task_run::{Halt, TaskRun};
use crate::store::WorkspaceInfo;
use crate::workspace::{Change, Worktree};

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

fn commit_key(step: &str) -> String {
    format!("commit/{step}")
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
    let set_up = workspaces.for_task(&id).and_then(|tree| {
        tree.discard_uncommitted()?;
        Ok(tree)
    });
    let tree = match set_up {
        Ok(tree) => tree,
        Err(e) => return Err(t.fail(format!("cannot set up the task's worktree: {e}")).await),
    };
    let key = "workspace/base".to_owned();
    let base = match t.recorded(&key).and_then(|v| v["base"].as_str()).map(str::to_owned) {
        Some(base) => base,
        None => {
            let base = match tree.head() {
                Ok(head) => head,
                Err(e) => return Err(t.fail(format!("cannot read the task's branch: {e}")).await),
            };
            t.record_effect(key, json!({ "base": base })).await?;
            base
        }
    };
    t.meta.workspace =
        Some(WorkspaceInfo { path: tree.path.display().to_string(), branch: tree.branch.clone(), base: base.clone() });
    let workspace = Workspace { tree, reached: base.clone(), base };
    t.workspace = Some(workspace.clone());
    Ok(Some(workspace))
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
) -> Result<Applied, Halt> {
    let key = format!("apply/{step}/{tag}");
    adopt_unrecorded_commit(t, workspace, step).await?;
    if committed(t, step)
        && let Some(recorded) = t.recorded(&key)
    {
        return Ok(applied_from(recorded));
    }
    let outcome: Applied = match Change::parse(reply) {
        Err(problem) => Err(problem),
        Ok(change) => match workspace.tree.apply(&change.edits) {
            Err(problem) => Err(format!("your edits could not be applied, so no file changed: {problem}")),
            Ok(()) => match workspace.tree.diff() {
                Ok(diff) => Ok((change.summary, diff)),
                Err(e) => return Err(t.fail(format!("cannot read the step's diff: {e}")).await),
            },
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

/// Records the step's commit when a killed run made it but did not record
/// it, so its edits are not applied a second time.
async fn adopt_unrecorded_commit<P: Plugins>(
    t: &mut TaskRun<P>,
    workspace: &Workspace,
    step: &str,
) -> Result<(), Halt> {
    if committed(t, step) {
        return Ok(());
    }
    match workspace.tree.head_has(&trailer(&t.spec.id, step)) {
        Ok(false) => Ok(()),
        Ok(true) => match workspace.tree.head() {
            Ok(commit) => t.record_effect(commit_key(step), json!({ "commit": commit })).await,
            Err(e) => Err(t.fail(format!("cannot read the task's branch: {e}")).await),
        },
        Err(e) => Err(t.fail(format!("cannot read the task's branch: {e}")).await),
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
    match workspace.tree.discard_uncommitted() {
        Ok(()) => Ok(()),
        Err(e) => Err(t.fail(format!("cannot discard {what}: {e}")).await),
    }
}

/// Commits an approved step, once: a commit that a killed run made but did
/// not journal is found by its trailer.
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
            let task = t.spec.id.clone();
            let subject = format!("orch: {task} {step}: {}", first_line(description, 60));
            match workspace.tree.commit_once(&subject, &trailer(&task, step)) {
                Ok(commit) => {
                    t.record_effect(key, json!({ "commit": commit })).await?;
                    commit
                }
                Err(e) => return Err(t.fail(format!("cannot commit step {step}: {e}")).await),
            }
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
    let quoted = read_files(workspace, paths);
    t.record_effect(key, json!(quoted)).await?;
    Ok(quoted)
}

/// A heading, then each file under a `--- path` line, cut to a size; empty
/// when none of `paths` is a readable file.
fn read_files(workspace: &Workspace, paths: &[String]) -> String {
    let mut quoted = Vec::new();
    let mut budget = FILES_QUOTE_BYTES;
    for path in paths {
        let Ok(file) = crate::workspace::edits::checked_path(&workspace.tree.path, path) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let limit = FILE_QUOTE_BYTES.min(budget);
        if limit == 0 {
            break;
        }
        let cut = text.char_indices().map(|(i, _)| i).take_while(|i| *i <= limit).last().unwrap_or(0);
        let body = if text.len() > limit { format!("{}\n[… cut at {limit} bytes]", &text[..cut]) } else { text };
        budget = budget.saturating_sub(body.len());
        quoted.push(format!("--- {path}\n{body}"));
    }
    if quoted.is_empty() {
        return String::new();
    }
    format!("\nThe files as they are now:\n{}\n", quoted.join("\n"))
}
