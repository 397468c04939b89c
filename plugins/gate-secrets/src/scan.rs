//! The scan of a change: every line it adds, in every file not ignored, run
//! through the detectors ([`shapes`] first, then [`assignment`]), and the
//! report the gate's verdict is made of.

use std::collections::BTreeSet;
use std::ops::Range;

use orch_sdk::diff::{self, AddedLine};
use orch_sdk::gate::{CheckResult, Finding, Severity};

use crate::settings::Settings;
use crate::{assignment, shapes};

/// The most detections listed as findings; the rest are counted in one more.
pub const MAX_LISTED: usize = 100;

/// What a detected secret looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `sk-…`, `sk-proj-…`.
    OpenAi,
    /// `sk-ant-…`.
    Anthropic,
    /// `AIza…`.
    Google,
    /// `AKIA…`, `ASIA…`.
    AwsAccessKeyId,
    /// `ghp_…`, `github_pat_…`, ...
    GitHub,
    /// `xoxb-…`, ...
    Slack,
    /// `sk_live_…`, `rk_live_…`.
    Stripe,
    /// `-----BEGIN … PRIVATE KEY-----` with key data.
    PrivateKey,
    /// A random-looking value assigned to a secret-named key.
    Assigned,
}

impl Kind {
    /// What it is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::OpenAi => "OpenAI API key",
            Self::Anthropic => "Anthropic API key",
            Self::Google => "Google API key",
            Self::AwsAccessKeyId => "AWS access key id",
            Self::GitHub => "GitHub token",
            Self::Slack => "Slack token",
            Self::Stripe => "Stripe secret key",
            Self::PrivateKey => "private key",
            Self::Assigned => "hard-coded secret",
        }
    }
}

/// One secret a detector found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// What it looks like.
    pub kind: Kind,
    /// How a finding shows it, redacted.
    pub shown: String,
    /// Where it is in the line, in bytes.
    pub span: Range<usize>,
}

/// One secret found in the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The file, relative to the workspace.
    pub file: String,
    /// The 1-based line in the new file.
    pub line: u32,
    /// What it looks like.
    pub kind: Kind,
    /// How it is shown, redacted: `sk-ant-…(redacted, 48 chars)`.
    pub shown: String,
}

impl Detection {
    /// The finding's message: what was found and what to do about it.
    pub fn message(&self) -> String {
        format!(
            "possible {}: {}; remove it from the change (read it from the environment or a secret store) \
             and rotate it if it is real",
            self.kind.describe(),
            self.shown
        )
    }
}

/// What the scan found, and what it looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Every secret, in diff order.
    pub detections: Vec<Detection>,
    /// How many changed files were scanned.
    pub files_scanned: usize,
    /// How many changed files `ignore_paths` left out.
    pub files_ignored: usize,
}

impl Report {
    /// One line for the run log: `2 possible secrets in 1 file`, `no secrets
    /// in 3 changed files (1 ignored)`.
    pub fn summary(&self) -> String {
        if self.detections.is_empty() {
            let ignored = match self.files_ignored {
                0 => String::new(),
                n => format!(" ({n} ignored)"),
            };
            return format!("no secrets in {}{ignored}", count(self.files_scanned, "changed file"));
        }
        let files: BTreeSet<&str> = self.detections.iter().map(|d| d.file.as_str()).collect();
        format!("{} in {}", count(self.detections.len(), "possible secret"), count(files.len(), "file"))
    }

    /// The gate's verdict: an error finding per detection (the first
    /// [`MAX_LISTED`]), failed when there is any.
    pub fn into_result(self) -> CheckResult {
        let summary = self.summary();
        let unlisted = self.detections.len().saturating_sub(MAX_LISTED);
        let mut findings: Vec<Finding> = self
            .detections
            .iter()
            .take(MAX_LISTED)
            .map(|d| Finding {
                severity: Severity::Error,
                file: Some(d.file.clone()),
                line: Some(d.line),
                message: d.message(),
            })
            .collect();
        if unlisted > 0 {
            let message = format!("{} not listed", count(unlisted, "more possible secret"));
            findings.push(Finding { severity: Severity::Error, file: None, line: None, message });
        }
        CheckResult { passed: self.detections.is_empty(), summary, findings }
    }
}

/// Scans the lines `diff` adds, skipping files `settings` ignores.
pub fn scan(diff: &str, settings: &Settings) -> Report {
    let mut report = Report::default();
    let mut scanned = BTreeSet::new();
    let mut ignored = BTreeSet::new();
    for file in diff::parse(diff) {
        if settings.ignores(&file.path) {
            ignored.insert(file.path);
            continue;
        }
        for (index, added) in file.added.iter().enumerate() {
            let next_line = file.added.get(index + 1).filter(|next| added.line.checked_add(1) == Some(next.line));
            report.detections.extend(scan_line(added, next_line).into_iter().map(|hit| Detection {
                file: file.path.clone(),
                line: added.line,
                kind: hit.kind,
                shown: hit.shown,
            }));
        }
        scanned.insert(file.path);
    }
    report.files_scanned = scanned.len();
    report.files_ignored = ignored.difference(&scanned).count();
    report
}

/// The secrets in one added line; `next_line` is the line added right after
/// it, where a private key's data would be.
fn scan_line(line: &AddedLine<'_>, next_line: Option<&AddedLine<'_>>) -> Vec<Hit> {
    let mut hits = shapes::find_tokens(line.text);
    hits.extend(shapes::find_private_key(line.text, next_line.map(|next| next.text)));
    let taken: Vec<Range<usize>> = hits.iter().map(|hit| hit.span.clone()).collect();
    hits.extend(assignment::find(line.text, &taken));
    hits.sort_by_key(|hit| hit.span.start);
    hits
}

/// `1 file`, `2 files`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests;
