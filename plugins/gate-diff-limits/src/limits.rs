//! Measuring a change (files, lines, paths touched) and judging it against
//! the [`Limits`]: an error per forbidden path and per limit exceeded, a
//! warning per limit nearly reached.

use std::collections::BTreeSet;

use orch_sdk::diff::{self, FileStatus};
use orch_sdk::gate::{CheckResult, Finding, Severity};
use orch_sdk::glob;

use crate::settings::{CONFIG_TABLE, FORBIDDEN_PATHS_KEY, Limits, MAX_FILES_KEY, MAX_LINES_KEY};

/// A path the change touches and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touched {
    /// Relative to the workspace.
    pub path: String,
    /// `added`, `modified`, `renamed to new.txt`, ...
    pub how: String,
}

/// What a change amounts to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// Every path touched, both sides of a rename or copy, each once.
    pub touched: Vec<Touched>,
    /// Files changed; a rename is one file.
    pub files: u64,
    /// Lines added.
    pub added: u64,
    /// Lines removed.
    pub removed: u64,
}

impl Change {
    /// Measures `diff`. The request's `changed_files` are touched paths too
    /// (whatever the diff shows), and give the file count when the diff names
    /// no file at all (a change described in words).
    pub fn measure(diff: &str, changed_files: &[String]) -> Self {
        let mut change = Self::default();
        let mut seen = BTreeSet::new();
        let mut files = BTreeSet::new();
        let mut touch = |path: &str, how: String, change: &mut Self| {
            if seen.insert(path.to_owned()) {
                change.touched.push(Touched { path: path.to_owned(), how });
            }
        };
        for file in diff::parse(diff) {
            change.added += count(file.added.len());
            change.removed += count(file.removed);
            touch(&file.path, how(file.status, file.old_path.as_deref()), &mut change);
            if let Some(old_path) = &file.old_path {
                let how = match file.status {
                    FileStatus::Copied => format!("copied to `{}`", file.path),
                    _ => format!("renamed to `{}`", file.path),
                };
                touch(old_path, how, &mut change);
            }
            files.insert(file.path);
        }
        for path in changed_files {
            touch(path, "changed".into(), &mut change);
        }
        change.files = if files.is_empty() { count(changed_files.len()) } else { count(files.len()) };
        change
    }

    /// Lines added plus lines removed.
    pub fn lines(&self) -> u64 {
        self.added + self.removed
    }
}

/// How a file's own path is touched.
fn how(status: FileStatus, old_path: Option<&str>) -> String {
    let old_path = old_path.unwrap_or_default();
    match status {
        FileStatus::Added => "added".into(),
        FileStatus::Modified => "modified".into(),
        FileStatus::Deleted => "deleted".into(),
        FileStatus::Renamed => format!("renamed from `{old_path}`"),
        FileStatus::Copied => format!("copied from `{old_path}`"),
    }
}

/// The verdict on `change`: errors for forbidden paths and exceeded limits,
/// warnings for limits nearly reached.
pub fn judge(change: &Change, limits: &Limits) -> CheckResult {
    let mut findings = forbidden(change, limits);
    let forbidden_count = findings.len();
    let lines_detail = format!("{} lines changed ({} added, {} removed)", change.lines(), change.added, change.removed);
    let measures = [
        (format!("{} changed", plural(change.files, "file")), change.files, limits.max_files, MAX_FILES_KEY),
        (lines_detail, change.lines(), limits.max_lines, MAX_LINES_KEY),
    ];
    let mut over = Vec::new();
    let mut near = Vec::new();
    for (what, value, limit, key) in measures {
        if value > limit {
            over.push(format!("over {key} ({value} > {limit})"));
            findings.push(finding(
                Severity::Error,
                None,
                format!("{what}, the limit is {limit} ({CONFIG_TABLE} {key})"),
            ));
        } else if is_near(value, limit, limits.warn_ratio) {
            near.push(format!("{key} {value} of {limit}"));
            findings.push(finding(
                Severity::Warning,
                None,
                format!(
                    "{what}, near the limit of {limit} (over {:.0} %; {CONFIG_TABLE} {key}); a smaller change is easier \
                     to review",
                    limits.warn_ratio * 100.0
                ),
            ));
        }
    }
    let mut problems = Vec::new();
    if forbidden_count > 0 {
        problems.push(plural(count(forbidden_count), "forbidden path"));
    }
    problems.extend(over);
    let verdict = match (problems.is_empty(), near.is_empty()) {
        (false, _) => problems.join(", "),
        (true, false) => format!("near the limits ({})", near.join(", ")),
        (true, true) => "within limits".into(),
    };
    let summary = format!("{}, {}: {verdict}", plural(change.files, "file"), plural(change.lines(), "line"));
    CheckResult { passed: problems.is_empty(), summary, findings }
}

/// One error per touched path that matches a forbidden pattern.
fn forbidden(change: &Change, limits: &Limits) -> Vec<Finding> {
    change
        .touched
        .iter()
        .filter_map(|touched| {
            let pattern = limits.forbidden_paths.iter().find(|pattern| glob::matches(pattern, &touched.path))?;
            let message = format!(
                "`{}` is a forbidden path ({}; it matches `{pattern}` in {CONFIG_TABLE} {FORBIDDEN_PATHS_KEY}); \
                 leave it out of the change",
                touched.path, touched.how
            );
            Some(finding(Severity::Error, Some(touched.path.clone()), message))
        })
        .collect()
}

/// Whether `value` is over `ratio` of `limit` (and so close to it).
fn is_near(value: u64, limit: u64, ratio: f64) -> bool {
    // Counts of files and lines are far below 2^52, where f64 is exact.
    #[allow(clippy::cast_precision_loss)]
    let (value, limit) = (value as f64, limit as f64);
    value > limit * ratio
}

fn finding(severity: Severity, file: Option<String>, message: String) -> Finding {
    Finding { severity, file, line: None, message }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `1 file`, `2 files`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests;
