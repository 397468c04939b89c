//! `orch init`: starts a project with a commented `orch.toml` (every key,
//! each at its default) and an example tasks file, and keeps the store out
//! of git. It never overwrites a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::UsageError;
use crate::config::CONFIG_FILE;
use crate::store::STORE_DIR;

/// The configuration `orch init` writes: every key, commented out at its default.
pub const CONFIG_TEMPLATE: &str = include_str!("templates/orch.toml.tmpl");
/// The example tasks file `orch init` writes.
pub const TASKS_TEMPLATE: &str = include_str!("templates/tasks.yaml.tmpl");
/// The tasks file's name.
const TASKS_FILE: &str = "tasks.yaml";

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write the files in (default: the current directory).
    #[arg(long, value_name = "PATH", default_value = ".")]
    dir: PathBuf,
}

pub fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let config = args.dir.join(CONFIG_FILE);
    let tasks = args.dir.join(TASKS_FILE);
    let existing: Vec<String> =
        [&config, &tasks].iter().filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
    if !existing.is_empty() {
        return Err(UsageError(format!(
            "{} already exist(s); orch init never overwrites: move it away or edit it",
            existing.join(" and ")
        ))
        .into());
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    write_new(&config, CONFIG_TEMPLATE)?;
    write_new(&tasks, TASKS_TEMPLATE)?;
    println!("wrote {} (every setting, commented out at its default)", config.display());
    println!("wrote {} (example tasks)", tasks.display());
    if let Some(ignore) = ignore_store(&args.dir)? {
        println!("added {STORE_DIR}/ to {}", ignore.display());
    }
    println!(
        "next: set ANTHROPIC_API_KEY and GEMINI_API_KEY (or point a provider at a local server in {CONFIG_FILE}), edit {TASKS_FILE}, then `orch run {TASKS_FILE}`"
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` with `text`, failing if it appeared meanwhile.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// In a git repository, appends `.orch/` to `dir/.gitignore` unless it is
/// already there; returns the file when it changed it.
fn ignore_store(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let absolute = std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    if super::repo_root_of(&absolute).is_none() {
        return Ok(None);
    }
    let path = dir.join(".gitignore");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let entry = format!("{STORE_DIR}/");
    if current.lines().any(|line| line.trim() == entry || line.trim() == STORE_DIR) {
        return Ok(None);
    }
    let separator = if current.is_empty() || current.ends_with('\n') { "" } else { "\n" };
    std::fs::write(&path, format!("{current}{separator}{entry}\n"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadedConfig;

    /// The template with every setting switched on: each `# [section]` and
    /// `# key = value` line uncommented, the `##` prose left alone.
    fn uncommented(template: &str) -> String {
        template
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if rest.starts_with('[') || setting(rest) => rest,
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn setting(line: &str) -> bool {
        line.split_once(" = ").is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.\"".contains(c))
        })
    }

    #[test]
    fn the_config_template_changes_nothing_as_written() {
        let written = LoadedConfig::from_text(Some(CONFIG_TEMPLATE), None).unwrap();
        let defaults = LoadedConfig::from_text(None, None).unwrap();
        assert_eq!(format!("{:?}", written.config), format!("{:?}", defaults.config));
    }

    #[test]
    fn every_setting_in_the_config_template_is_a_real_key_with_a_valid_value() {
        let all = uncommented(CONFIG_TEMPLATE);
        let switched_on = all.lines().filter(|l| l.starts_with('[') || setting(l)).count();
        assert!(switched_on > 100, "the template lists every key: {switched_on}");
        let loaded = LoadedConfig::from_text(Some(&all), None).unwrap_or_else(|e| panic!("{e}\n{all}"));
        assert_eq!(loaded.config.pipeline.max_plan_rounds, 3);
        assert!(loaded.config.plugins.contains_key("tests"), "the command gate example is there");
    }

    #[test]
    fn the_tasks_template_is_a_valid_tasks_file() {
        let file = crate::tasks::parse(TASKS_TEMPLATE, Path::new("tasks.yaml")).unwrap();
        assert_eq!(file.tasks.len(), 3);
        assert!(file.tasks.iter().any(|t| !t.depends_on.is_empty()));
    }
}
