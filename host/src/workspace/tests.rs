//! Worktrees and edits on real git repositories made in temporary directories.

use super::*;

/// A repository with one commit holding `app.py` and `README.md`, and the
/// workspaces directory beside it.
async fn repo() -> (tempfile::TempDir, Workspaces) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]).await.unwrap();
    std::fs::write(repo.join("app.py"), "def handle(request):\n    return legacy(request)\n").unwrap();
    std::fs::write(repo.join("README.md"), "# demo\n").unwrap();
    git(&repo, &["add", "-A"]).await.unwrap();
    git(&repo, &["commit", "-q", "-m", "initial"]).await.unwrap();
    let workspaces = Workspaces::open(&repo, &dir.path().join("worktrees")).await.unwrap();
    (dir, workspaces)
}

/// Commits everything in the worktree on its branch, as orch does: the
/// commit object first, then the branch.
async fn commit(tree: &Worktree, message: &str) -> String {
    let (parent, staged) = (tree.head().await.unwrap(), tree.write_tree().await.unwrap());
    let spec = CommitSpec { tree: &staged, parent: &parent, message, at_s: 1_700_000_000 };
    let commit = tree.make_commit(&spec).await.unwrap();
    tree.advance(&parent, &commit).await.unwrap();
    commit
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

#[tokio::test]
async fn a_task_gets_its_own_branch_and_reuses_it() {
    let (_dir, workspaces) = repo().await;
    let tree = workspaces.for_task("fix-auth").await.unwrap();
    assert_eq!(tree.branch, "orch/fix-auth");
    assert_eq!(git(&tree.path, &["rev-parse", "--abbrev-ref", "HEAD"]).await.unwrap(), "orch/fix-auth");
    assert_eq!(read(&tree, "app.py"), "def handle(request):\n    return legacy(request)\n");
    tree.apply(&[write("new.py", "x = 1\n")]).await.unwrap();
    let commit = commit(&tree, "orch: fix-auth step-1").await;
    assert_eq!(workspaces.for_task("fix-auth").await.unwrap(), tree, "a second call reuses the worktree");

    // Removed, the branch stays and a later call checks it out again.
    tree.remove(&workspaces).await.unwrap();
    assert!(!tree.path.exists());
    assert_eq!(git(workspaces.repo(), &["rev-parse", "orch/fix-auth"]).await.unwrap(), commit);
    let again = workspaces.for_task("fix-auth").await.unwrap();
    assert_eq!(again.head().await.unwrap(), commit);
    assert_eq!(read(&again, "new.py"), "x = 1\n");
    assert!(!workspaces.repo().join("new.py").exists(), "the main checkout is untouched");
}

#[tokio::test]
async fn every_kind_of_edit_applies_and_shows_in_the_diff() {
    let (_dir, workspaces) = repo().await;
    let tree = workspaces.for_task("t").await.unwrap();
    tree.apply(&[
        replace("app.py", "return legacy(request)", "return modern(request)"),
        write("pkg/util.py", "def helper():\n    pass\n"),
        Edit::Rename { from: "README.md".into(), to: "docs/README.md".into() },
        write("gone.txt", "temporary"),
        Edit::Delete { path: "gone.txt".into() },
    ])
    .await
    .unwrap();
    assert_eq!(read(&tree, "app.py"), "def handle(request):\n    return modern(request)\n");
    assert_eq!(read(&tree, "docs/README.md"), "# demo\n");
    assert!(!tree.path.join("README.md").exists() && !tree.path.join("gone.txt").exists());
    let diff = tree.diff().await.unwrap();
    assert!(diff.contains("+    return modern(request)") && diff.contains("-    return legacy(request)"), "{diff}");
    assert!(diff.contains("+++ b/pkg/util.py"), "new files are in the diff: {diff}");
    let base = tree.head().await.unwrap();
    commit(&tree, "orch: t step-1: modernise").await;
    assert_eq!(tree.diff().await.unwrap(), "", "nothing left uncommitted");
    let head = tree.head().await.unwrap();
    let mut changed = tree.changed_between(&base, &head).await.unwrap();
    changed.sort();
    assert_eq!(changed, ["README.md", "app.py", "docs/README.md", "pkg/util.py"]);
    assert_eq!(git(&tree.path, &["log", "-1", "--format=%s"]).await.unwrap(), "orch: t step-1: modernise");
    assert!(!tree.diff_between(&base, &head).await.unwrap().is_empty());
    assert_eq!(tree.tree_of(&head).await.unwrap(), git(&tree.path, &["rev-parse", "HEAD^{tree}"]).await.unwrap());
}

#[tokio::test]
async fn a_step_applies_all_of_its_edits_or_none() {
    let (_dir, workspaces) = repo().await;
    let tree = workspaces.for_task("t").await.unwrap();
    let err = tree.apply(&[write("first.py", "written\n"), replace("app.py", "no such text", "x")]).await.unwrap_err();
    let err = err.to_string();
    assert!(err.starts_with("1 of 2 edits could not be applied, so no file was changed."), "{err}");
    assert!(err.contains("Edit 2 (replace in app.py") && err.contains("the search text is not in the file"), "{err}");
    assert!(!tree.path.join("first.py").exists(), "the first edit was not applied either");
    assert_eq!(tree.diff().await.unwrap(), "");
}

#[tokio::test]
async fn edit_problems_are_precise() {
    let (_dir, workspaces) = repo().await;
    let tree = workspaces.for_task("t").await.unwrap();
    let problem = async |edits: &[Edit]| tree.apply(edits).await.unwrap_err().to_string();
    std::fs::write(tree.path.join("twice.py"), "x = 1\nx = 1\n").unwrap();
    let twice = problem(&[replace("twice.py", "x = 1", "x = 2")]).await;
    assert!(twice.contains("the search text matches 2 places (exactly): lines 1 and 2"), "{twice}");
    for (edits, expected) in [
        (vec![replace("missing.py", "a", "b")], "missing.py does not exist"),
        (vec![Edit::Delete { path: "missing.py".into() }], "missing.py does not exist"),
        (vec![Edit::Rename { from: "app.py".into(), to: "README.md".into() }], "README.md exists already"),
        (vec![Edit::Delete { path: "app.py".into() }, replace("app.py", "def", "fn")], "app.py does not exist"),
    ] {
        let problem = problem(&edits).await;
        assert!(problem.contains(expected), "{problem}");
    }
    // A FIFO a command left is refused at once, never waited on.
    assert!(std::process::Command::new("mkfifo").arg(tree.path.join("pipe.py")).status().unwrap().success());
    let fifo = problem(&[replace("pipe.py", "a", "b")]).await;
    assert!(fifo.contains("not a regular file"), "{fifo}");
}

#[tokio::test]
async fn paths_outside_the_worktree_or_in_git_are_refused() {
    let (dir, workspaces) = repo().await;
    let tree = workspaces.for_task("t").await.unwrap();
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
        let err = tree.apply(&[write(path, "x")]).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{path}: {err}");
    }
    let rename_out = Edit::Rename { from: "app.py".into(), to: "../app.py".into() };
    assert!(tree.apply(&[rename_out]).await.unwrap_err().to_string().contains("climbs out"));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing was written outside");
    assert!(!dir.path().join("escape.py").exists());
}

#[tokio::test]
async fn a_commit_is_made_before_the_branch_moves_and_the_same_spec_makes_the_same_commit() {
    let (_dir, workspaces) = repo().await;
    let tree = workspaces.for_task("t").await.unwrap();
    let base = tree.head().await.unwrap();
    tree.apply(&[write("a.py", "a\n")]).await.unwrap();
    let staged = tree.write_tree().await.unwrap();
    let spec =
        CommitSpec { tree: &staged, parent: &base, message: "orch: t s1\n\nOrch-Step: t/s1", at_s: 1_700_000_000 };
    let made = tree.make_commit(&spec).await.unwrap();
    assert_eq!(tree.head().await.unwrap(), base, "making the commit does not move the branch");
    assert_eq!(tree.make_commit(&spec).await.unwrap(), made, "the same inputs give the same id");
    assert!(tree.has_commit(&made).await && !tree.has_commit(&"0".repeat(40)).await);
    assert!(tree.advance(&made, &made).await.is_err(), "the branch moves only from where it is");
    tree.advance(&base, &made).await.unwrap();
    assert_eq!(tree.head().await.unwrap(), made);
    assert_eq!(tree.diff().await.unwrap(), "", "the index already holds the commit's tree");
    assert_eq!(tree.messages_after(&base, &made).await.unwrap(), Some(vec![spec.message.to_owned()]));
    assert_eq!(tree.messages_after(&made, &base).await.unwrap(), None, "not an ancestor");
    tree.reset_to(&base).await.unwrap();
    assert!(!tree.path.join("a.py").exists() && tree.head().await.unwrap() == base);
    tree.keep_ref("refs/orch/set-aside/t/x", &made).await.unwrap();
    assert_eq!(git(&tree.path, &["rev-parse", "refs/orch/set-aside/t/x"]).await.unwrap(), made);
}

#[tokio::test]
async fn a_half_applied_step_is_discarded() {
    let (_dir, workspaces) = repo().await;
    let tree = workspaces.for_task("t").await.unwrap();
    tree.apply(&[write("kept.py", "k\n")]).await.unwrap();
    let kept = commit(&tree, "step 1").await;
    tree.apply(&[write("half.py", "h\n"), replace("app.py", "legacy", "changed")]).await.unwrap();
    tree.discard_uncommitted().await.unwrap();
    assert_eq!(tree.head().await.unwrap(), kept);
    assert!(!tree.path.join("half.py").exists());
    assert!(read(&tree, "app.py").contains("legacy"));
    assert_eq!(read(&tree, "kept.py"), "k\n");
}

#[tokio::test]
async fn replies_parse_into_changes_with_actionable_errors() {
    let reply = r#"Here is the change:
```json
{"summary": "modernise", "edits": [
  {"op": "write", "path": "a.py", "content": "x"},
  {"op": "rename", "from": "a.py", "to": "b.py"}]}
```"#;
    let parse = |reply: &str| orch_edits::parse(Format::Json, reply).map_err(|e| e.to_string());
    let change = parse(reply).unwrap();
    assert_eq!(change.summary, "modernise");
    assert_eq!(change.edits[1], Edit::Rename { from: "a.py".into(), to: "b.py".into() });
    assert!(parse("no json here").unwrap_err().contains("no JSON object"));
    assert!(parse(r#"{"summary": "x", "edits": []}"#).unwrap_err().contains("no edits"));
    let unknown = parse(r#"{"edits": [{"op": "chmod", "path": "a"}]}"#).unwrap_err();
    assert!(unknown.contains("chmod"), "{unknown}");
    // Found by `cargo fuzz run edits`: a `}` before the first `{` panicked.
    let crash = "Here:\n```x\\n\"}, {\"editsz: [{\"op\": \"\0\0\0\0\0\0\0\u{1}y\": \"rena";
    assert!(parse(crash).unwrap_err().contains("it seems cut off"), "{:?}", parse(crash));
    assert!(parse("} {").unwrap_err().contains("it seems cut off"), "{:?}", parse("} {"));
}

#[tokio::test]
async fn a_directory_without_git_is_not_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let err = Workspaces::open(dir.path(), &dir.path().join("w")).await.unwrap_err();
    assert!(err.to_string().contains("is not a git repository") && err.to_string().contains("--repo"), "{err}");
    git(dir.path(), &["init", "-q"]).await.unwrap();
    let err = Workspaces::open(dir.path(), &dir.path().join("w")).await.unwrap_err();
    assert!(err.to_string().contains("no commit yet"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_set_up_their_worktrees_at_once_without_tripping_over_each_other() {
    let (_dir, workspaces) = repo().await;
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let workspaces = workspaces.clone();
            tokio::spawn(async move {
                let tree = workspaces.for_task(&format!("task-{i}")).await.unwrap();
                tree.apply(&[write("x.py", &format!("{i}\n"))]).await.unwrap();
                commit(&tree, "step").await;
                tree.remove(&workspaces).await.unwrap();
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    for i in 0..8 {
        assert_eq!(git(workspaces.repo(), &["show", &format!("orch/task-{i}:x.py")]).await.unwrap(), i.to_string());
    }
}

#[tokio::test]
async fn what_a_killed_git_leaves_behind_does_not_stop_the_next_one() {
    let (_dir, workspaces) = repo().await;
    let tree = workspaces.for_task("t").await.unwrap();
    let gitdir = PathBuf::from(git(&tree.path, &["rev-parse", "--absolute-git-dir"]).await.unwrap());
    // A lock left by a git killed long enough ago is removed.
    let lock = gitdir.join("index.lock");
    std::fs::write(&lock, "").unwrap();
    let old = SystemTime::now() - STALE_LOCK_AFTER - Duration::from_secs(1);
    std::fs::File::options().write(true).open(&lock).unwrap().set_modified(old).unwrap();
    tree.apply(&[write("a.py", "a\n")]).await.unwrap();
    assert!(tree.diff().await.unwrap().contains("+a"), "git add ran despite the lock");
    assert!(!lock.exists());
    // A fresh lock is waited for until its git lets go.
    std::fs::write(&lock, "").unwrap();
    let release = {
        let lock = lock.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            std::fs::remove_file(lock).unwrap();
        })
    };
    tree.discard_uncommitted().await.unwrap();
    release.await.unwrap();
    assert!(!tree.path.join("a.py").exists());
    // A worktree whose registration a killed `git worktree add` never wrote is made again.
    std::fs::remove_dir_all(&gitdir).unwrap();
    assert!(git(&tree.path, &["status"]).await.is_err());
    let again = workspaces.for_task("t").await.unwrap();
    assert_eq!(again.head().await.unwrap(), git(workspaces.repo(), &["rev-parse", "orch/t"]).await.unwrap());
    // One a killed `git worktree add` left registered and locked, without its directory, too.
    git(workspaces.repo(), &["worktree", "lock", &again.path.to_string_lossy()]).await.unwrap();
    std::fs::remove_dir_all(&again.path).unwrap();
    let third = workspaces.for_task("t").await.unwrap();
    assert_eq!(third.head().await.unwrap(), git(workspaces.repo(), &["rev-parse", "orch/t"]).await.unwrap());
    assert_eq!(held_lock("fatal: Unable to create '/r/.git/index.lock': File exists.\n"), Some("/r/.git/index.lock"));
    assert_eq!(held_lock("fatal: Unable to create '/tmp/x.lock': File exists."), None, "only git's own locks");
}

#[tokio::test]
async fn a_planted_link_named_like_a_temporary_file_is_not_followed() {
    let (dir, workspaces) = repo().await;
    let tree = workspaces.for_task("t").await.unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    // The name an older orch wrote `app.py` through.
    std::os::unix::fs::symlink(&victim, tree.path.join(".orch-edit-app.py.tmp")).unwrap();
    tree.apply(&[write("app.py", "new\n")]).await.unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert_eq!(read(&tree, "app.py"), "new\n");
    let left: Vec<_> = std::fs::read_dir(&tree.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".orch-edit-") && n != ".orch-edit-app.py.tmp")
        .collect();
    assert!(left.is_empty(), "no temporary file is left: {left:?}");
}
