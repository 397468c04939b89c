//! README.md stays true:
//! - every shell block is run, line by line, in a fresh copy of the demo
//!   after the quick start's run (each line must exit as its `# exit N`
//!   comment says, else 0), unless a `<!-- covered by FILE::TEST -->` comment
//!   names the test that runs those commands (which must exist) or a
//!   `<!-- not tested: REASON -->` comment says why nothing can;
//! - every `orch COMMAND` the README names is a real command;
//! - the configuration reference names every key `orch init` writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const KEYS: [&str; 3] = ["ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENAI_API_KEY"];

/// A fenced shell block and the test that covers it, if one is named.
struct Block {
    line: usize,
    covered_by: Option<String>,
    commands: Vec<String>,
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap()
}

fn shell_blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "```sh" {
            let covered_by = i
                .checked_sub(1)
                .map(|p| lines[p].trim())
                .and_then(|marker| {
                    let covered = marker.strip_prefix("<!-- covered by ");
                    let untested = marker.strip_prefix("<!-- not tested: ").map(|_| "not");
                    covered.map(|rest| rest.split_whitespace().next().unwrap_or_default()).or(untested)
                })
                .map(str::to_owned);
            let start = i + 1;
            i += 1;
            let mut commands = Vec::new();
            while lines[i].trim() != "```" {
                let line = lines[i].trim();
                if !line.is_empty() && !line.starts_with('#') {
                    commands.push(line.to_owned());
                }
                i += 1;
            }
            blocks.push(Block { line: start, covered_by, commands });
        }
        i += 1;
    }
    blocks
}

/// The exit code a line's `# exit N` comment promises (default 0).
fn expected_exit(command: &str) -> i32 {
    command
        .split_once("# exit ")
        .and_then(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok())
        .unwrap_or(0)
}

fn sh(repo: &Path, line: &str) -> Output {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_orch"));
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new("sh");
    command
        .args(["-c", line])
        .current_dir(repo)
        .env("PATH", path)
        .env("ORCH_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("readme-component-cache"))
        .env("ORCH_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@localhost")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@localhost");
    for key in KEYS {
        command.env_remove(key);
    }
    command.output().expect("sh runs")
}

#[test]
fn every_command_in_the_readme_works_on_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    common::copy_dir(&Path::new(ROOT).join("examples"), &repo.join("examples"));
    let _ = std::fs::remove_dir_all(repo.join("examples/plugins/js-package-json/node_modules"));
    common::init_repo(&repo);
    // The quick start's first command, as `orch`.
    let quick_start = sh(&repo, "orch run examples/tasks.yaml");
    assert_eq!(quick_start.status.code(), Some(0), "{}", String::from_utf8_lossy(&quick_start.stderr));

    let mut ran = 0;
    let mut seen = Vec::new();
    for block in shell_blocks(&readme()) {
        if block.covered_by.as_deref() == Some("not") {
            continue;
        }
        if let Some(covered_by) = &block.covered_by {
            let (file, test) = covered_by.split_once("::").expect("FILE::TEST");
            let source = std::fs::read_to_string(Path::new(ROOT).join(file))
                .unwrap_or_else(|e| panic!("README.md:{}: {file}: {e}", block.line));
            assert!(source.contains(&format!("fn {test}(")), "README.md:{}: no test {test} in {file}", block.line);
            continue;
        }
        for command in &block.commands {
            let out = sh(&repo, command);
            let expected = expected_exit(command);
            assert_eq!(
                out.status.code(),
                Some(expected),
                "README.md:{}: `{command}`\nstdout:\n{}\nstderr:\n{}",
                block.line,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            seen.push((command.clone(), String::from_utf8_lossy(&out.stdout).into_owned()));
            ran += 1;
        }
    }
    assert!(ran >= 20, "the README's commands ran: {ran}");
    // The walkthrough did what the README says it does.
    let output_of = |prefix: &str| {
        seen.iter().find(|(c, _)| c.starts_with(prefix)).map(|(_, out)| out.as_str()).unwrap_or_else(|| {
            panic!("the README no longer runs `{prefix}`");
        })
    };
    assert!(output_of("orch review").contains("3 tasks waiting for a person"), "{}", output_of("orch review"));
    assert!(output_of("orch review").contains("budget exceeded"));
    assert!(output_of("orch list --state awaiting_human,failed").contains("readme-install"));
    assert!(output_of("orch list-tasks --state done").contains("paginate-orders"), "approved, then resumed to DONE");
    assert!(output_of("orch cost --by model").contains("gemini-3.6-flash"));
    assert!(repo.join("my-project/orch.toml").is_file() && repo.join("my-project/tasks.yaml").is_file());
    assert!(repo.join("backup/orch.db").is_file(), "the exported task was imported elsewhere");
    assert!(!repo.join(".orch/orch.db").exists(), "clean-state --force ran last");
}

#[test]
fn every_orch_command_the_readme_names_exists() {
    let text = readme();
    // Inline code (`orch …`) and the lines of shell blocks.
    let blocks = shell_blocks(&text);
    let inline = text.match_indices("`orch ").map(|(at, _)| &text[at + 6..]);
    let lines = blocks.iter().flat_map(|b| &b.commands).filter_map(|c| c.strip_prefix("orch "));
    let mut named: Vec<&str> = inline
        .chain(lines)
        .filter_map(|rest| rest.split(|c: char| !(c.is_ascii_lowercase() || c == '-')).next())
        .filter(|word| !word.is_empty() && !word.starts_with('-'))
        .collect();
    named.sort_unstable();
    named.dedup();
    assert!(named.len() >= 14, "{named:?}");
    for command in named {
        let out = Command::new(env!("CARGO_BIN_EXE_orch")).args([command, "--help"]).output().unwrap();
        assert!(out.status.success(), "README names `orch {command}`, which is not a command");
    }
}

#[test]
fn the_configuration_reference_names_every_key_orch_init_writes() {
    let text = readme();
    let start = text.find("## Configuration reference").expect("the section exists");
    let end = text[start + 3..].find("\n## ").map_or(text.len(), |e| start + 3 + e);
    let reference = &text[start..end];
    let template = std::fs::read_to_string(Path::new(ROOT).join("host/src/cli/templates/orch.toml.tmpl")).unwrap();
    let mut section = String::new();
    let mut missing = Vec::new();
    for line in template.lines().filter_map(|l| l.strip_prefix("# ")) {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        let Some((key, _)) = line.split_once(" = ") else { continue };
        // An example plugin's own config keys are whatever that plugin reads;
        // a quoted key is data (a model name pattern), not a setting.
        if section.contains("license-header.config") || key.contains(' ') || key.starts_with('"') {
            continue;
        }
        if !reference.contains(&format!("`{key}`")) && !reference.contains(&format!(".{key}`")) {
            missing.push(format!("{section} {key}"));
        }
    }
    assert!(missing.is_empty(), "keys missing from README's configuration reference: {missing:?}");
}
