//! What the binary tests share: a git repository to run `orch` in.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Runs git in `dir` with a fixed identity; panics with git's message when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@localhost"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?} in {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Makes `dir` a git repository whose first commit holds what is in it now
/// (and a `.gitignore` for orch's own files).
pub fn init_repo(dir: &Path) {
    std::fs::write(dir.join(".gitignore"), ".orch/\nORCHESTRATOR_RUN_LOG.md\n").unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
}

/// Copies the directory `from` into `to` (created).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
