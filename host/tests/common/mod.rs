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

/// `orch.toml` lines sending every role to the builtin `openai` provider at
/// `base_url` (a mock server at `origin`), keyed by `ORCH_TEST_KEY`, with
/// fast fixed retries, and the implementer answering in JSON (the scripted
/// replies are JSON edits). It ends inside `[pipeline]`: a caller may add
/// pipeline keys after it.
pub fn mock_openai_config(base_url: &str, origin: &str) -> String {
    format!(
        r#"
[plugins.openai.config]
base_url = "{base_url}"
api_key_secret = "ORCH_TEST_KEY"
[plugins.openai.grants]
http = ["{origin}"]
secrets = ["ORCH_TEST_KEY"]

[plugins.router-rules.config.models]
strong = {{ provider = "openai", model = "gpt-4o" }}
mid = {{ provider = "openai", model = "gpt-4o-mini" }}
cheap = {{ provider = "openai", model = "gpt-4.1" }}

[retry]
strategy = "fixed"
delay_ms = 10

[pipeline]
edit_format = "json"
"#
    )
}
