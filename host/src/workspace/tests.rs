//! Worktrees and edits on real git repositories made in temporary directories.

use super::*;

/// A repository with one commit holding `app.py` and `README.md`, and the
/// workspaces directory beside it.
fn repo() -> (tempfile::TempDir, Workspaces) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]).unwrap();
    std::fs::write(repo.join("app.py"), "def handle(request):\n    return legacy(request)\n").unwrap();
    std::fs::write(repo.join("README.md"), "# demo\n").unwrap();
    git(&repo, &["add", "-A"]).unwrap();
    git(&repo, &["commit", "-q", "-m", "initial"]).unwrap();
    let workspaces = Workspaces::open(&repo, &dir.path().join("worktrees")).unwrap();
    (dir, workspaces)
}

fn read(tree: &Worktree, path: &str) -> String {
    std::fs::read_to_string(tree.path.join(path)).unwrap()
}

fn write(path: &str, content: &str) -> Edit {
    Edit::Write { path: path.into(), content: content.into() }
}

fn replace(path: &str, search: &str, with: &str) -> Edit {
    Edit::Replace { path: path.into(), search: search.into(), replace: with.into() }
}

#[test]
fn a_task_gets_its_own_branch_and_reuses_it() {
    let (_dir, workspaces) = repo();
    let tree = workspaces.for_task("fix-auth").unwrap();
    assert_eq!(tree.branch, "orch/fix-auth");
    assert_eq!(git(&tree.path, &["rev-parse", "--abbrev-ref", "HEAD"]).unwrap(), "orch/fix-auth");
    assert_eq!(read(&tree, "app.py"), "def handle(request):\n    return legacy(request)\n");
    tree.apply(&[write("new.py", "x = 1\n")]).unwrap();
    let commit = tree.commit("orch: fix-auth step-1").unwrap();
    assert_eq!(workspaces.for_task("fix-auth").unwrap(), tree, "a second call reuses the worktree");

    // Removed, the branch stays and a later call checks it out again.
    tree.remove(&workspaces).unwrap();
    assert!(!tree.path.exists());
    assert_eq!(git(workspaces.repo(), &["rev-parse", "orch/fix-auth"]).unwrap(), commit);
    let again = workspaces.for_task("fix-auth").unwrap();
    assert_eq!(again.head().unwrap(), commit);
    assert_eq!(read(&again, "new.py"), "x = 1\n");
    assert!(!workspaces.repo().join("new.py").exists(), "the main checkout is untouched");
}

#[test]
fn every_kind_of_edit_applies_and_shows_in_the_diff() {
    let (_dir, workspaces) = repo();
    let tree = workspaces.for_task("t").unwrap();
    tree.apply(&[
        replace("app.py", "return legacy(request)", "return modern(request)"),
        write("pkg/util.py", "def helper():\n    pass\n"),
        Edit::Rename { from: "README.md".into(), to: "docs/README.md".into() },
        write("gone.txt", "temporary"),
        Edit::Delete { path: "gone.txt".into() },
    ])
    .unwrap();
    assert_eq!(read(&tree, "app.py"), "def handle(request):\n    return modern(request)\n");
    assert_eq!(read(&tree, "docs/README.md"), "# demo\n");
    assert!(!tree.path.join("README.md").exists() && !tree.path.join("gone.txt").exists());
    let diff = tree.diff().unwrap();
    assert!(diff.contains("+    return modern(request)") && diff.contains("-    return legacy(request)"), "{diff}");
    assert!(diff.contains("+++ b/pkg/util.py"), "new files are in the diff: {diff}");
    let base = tree.head().unwrap();
    tree.commit("orch: t step-1: modernise").unwrap();
    assert_eq!(tree.diff().unwrap(), "", "nothing left uncommitted");
    let head = tree.head().unwrap();
    let mut changed = tree.changed_between(&base, &head).unwrap();
    changed.sort();
    assert_eq!(changed, ["README.md", "app.py", "docs/README.md", "pkg/util.py"]);
    assert_eq!(git(&tree.path, &["log", "-1", "--format=%s"]).unwrap(), "orch: t step-1: modernise");
    assert!(!tree.diff_between(&base, &head).unwrap().is_empty());
    assert_eq!(tree.tree_of(&head).unwrap(), git(&tree.path, &["rev-parse", "HEAD^{tree}"]).unwrap());
}

#[test]
fn a_step_applies_all_of_its_edits_or_none() {
    let (_dir, workspaces) = repo();
    let tree = workspaces.for_task("t").unwrap();
    let err = tree.apply(&[write("first.py", "written\n"), replace("app.py", "no such text", "x")]).unwrap_err();
    assert_eq!((err.index, err.what.as_str()), (2, "replace in app.py"));
    assert!(err.problem.contains("does not occur"), "{err}");
    assert!(!tree.path.join("first.py").exists(), "the first edit was not applied either");
    assert_eq!(tree.diff().unwrap(), "");
}

#[test]
fn edit_problems_are_precise() {
    let (_dir, workspaces) = repo();
    let tree = workspaces.for_task("t").unwrap();
    let problem = |edits: &[Edit]| tree.apply(edits).unwrap_err().to_string();
    std::fs::write(tree.path.join("twice.py"), "x = 1\nx = 1\n").unwrap();
    assert_eq!(
        problem(&[replace("twice.py", "x = 1", "x = 2")]),
        "edit 1 (replace in twice.py): the search text occurs 2 times in twice.py; make it unique"
    );
    assert!(problem(&[replace("missing.py", "a", "b")]).contains("the file does not exist"));
    assert!(problem(&[Edit::Delete { path: "missing.py".into() }]).contains("does not exist"));
    let rename_over = Edit::Rename { from: "app.py".into(), to: "README.md".into() };
    assert!(problem(&[rename_over]).contains("README.md already exists"));
    let deleted_then_edited = [Edit::Delete { path: "app.py".into() }, replace("app.py", "def", "fn")];
    assert!(problem(&deleted_then_edited).starts_with("edit 2 (replace in app.py): the file was deleted"));
}

#[test]
fn paths_outside_the_worktree_or_in_git_are_refused() {
    let (dir, workspaces) = repo();
    let tree = workspaces.for_task("t").unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, tree.path.join("link")).unwrap();
    for (path, expected) in [
        ("../escape.py", "climbs out with `..`"),
        ("src/../../escape.py", "climbs out"),
        ("/etc/passwd", "is absolute"),
        (".git/config", "inside .git"),
        ("sub/.git/hooks/pre-commit", "inside .git"),
        ("link/planted.py", "symbolic link"),
        ("", "empty"),
        (".", "repository root"),
    ] {
        let err = tree.apply(&[write(path, "x")]).unwrap_err();
        assert!(err.problem.contains(expected), "{path}: {err}");
    }
    let rename_out = Edit::Rename { from: "app.py".into(), to: "../app.py".into() };
    assert!(tree.apply(&[rename_out]).unwrap_err().problem.contains("climbs out"));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing was written outside");
    assert!(!dir.path().join("escape.py").exists());
}

#[test]
fn a_step_is_committed_once() {
    let (_dir, workspaces) = repo();
    let tree = workspaces.for_task("t").unwrap();
    tree.apply(&[write("a.py", "a\n")]).unwrap();
    let first = tree.commit_once("orch: t s1: add a", "Orch-Step: t/s1").unwrap();
    assert_eq!(tree.commit_once("orch: t s1: add a", "Orch-Step: t/s1").unwrap(), first, "found by its trailer");
    assert!(tree.head_has("Orch-Step: t/s1").unwrap() && !tree.head_has("Orch-Step: t/s2").unwrap());
    let second = tree.commit_once("orch: t s2: nothing", "Orch-Step: t/s2").unwrap();
    assert_ne!(second, first, "an empty step still gets its commit");
    assert_eq!(git(&tree.path, &["log", "-1", "--format=%B"]).unwrap(), "orch: t s2: nothing\n\nOrch-Step: t/s2");
}

#[test]
fn a_half_applied_step_is_discarded() {
    let (_dir, workspaces) = repo();
    let tree = workspaces.for_task("t").unwrap();
    tree.apply(&[write("kept.py", "k\n")]).unwrap();
    let kept = tree.commit("step 1").unwrap();
    tree.apply(&[write("half.py", "h\n"), replace("app.py", "legacy", "changed")]).unwrap();
    tree.discard_uncommitted().unwrap();
    assert_eq!(tree.head().unwrap(), kept);
    assert!(!tree.path.join("half.py").exists());
    assert!(read(&tree, "app.py").contains("legacy"));
    assert_eq!(read(&tree, "kept.py"), "k\n");
}

#[test]
fn replies_parse_into_changes_with_actionable_errors() {
    let reply = r#"Here is the change:
```json
{"summary": "modernise", "edits": [
  {"op": "write", "path": "a.py", "content": "x"},
  {"op": "rename", "from": "a.py", "to": "b.py"}]}
```"#;
    let change = Change::parse(reply).unwrap();
    assert_eq!(change.summary, "modernise");
    assert_eq!(change.edits[1], Edit::Rename { from: "a.py".into(), to: "b.py".into() });
    assert!(Change::parse("no json here").unwrap_err().contains("no JSON object"));
    assert!(Change::parse(r#"{"summary": "x", "edits": []}"#).unwrap_err().contains("no edits"));
    let unknown = Change::parse(r#"{"edits": [{"op": "chmod", "path": "a"}]}"#).unwrap_err();
    assert!(unknown.contains("chmod"), "{unknown}");
}

#[test]
fn a_directory_without_git_is_not_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let err = Workspaces::open(dir.path(), &dir.path().join("w")).unwrap_err();
    assert!(err.to_string().contains("is not a git repository") && err.to_string().contains("--repo"), "{err}");
    git(dir.path(), &["init", "-q"]).unwrap();
    let err = Workspaces::open(dir.path(), &dir.path().join("w")).unwrap_err();
    assert!(err.to_string().contains("no commit yet"), "{err}");
}

#[test]
fn tasks_set_up_their_worktrees_at_once_without_tripping_over_each_other() {
    let (_dir, workspaces) = repo();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let workspaces = workspaces.clone();
            std::thread::spawn(move || {
                let tree = workspaces.for_task(&format!("task-{i}")).unwrap();
                tree.apply(&[write("x.py", &format!("{i}\n"))]).unwrap();
                tree.commit_once("step", &format!("Orch-Step: task-{i}/s1")).unwrap();
                tree.remove(&workspaces).unwrap();
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    for i in 0..8 {
        assert_eq!(git(workspaces.repo(), &["show", &format!("orch/task-{i}:x.py")]).unwrap(), i.to_string());
    }
}
