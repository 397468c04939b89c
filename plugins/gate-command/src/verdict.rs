//! One check's verdict: its output read the way the check says (a JUnit
//! report, diagnostic lines, or nothing), its exit code always judged, and
//! the part of the gate's summary line it contributes.

use orch_sdk::exec::Output;
use orch_sdk::gate::{Finding, Severity};

use crate::settings::{Check, Parse};
use crate::text::{clip, last_lines};
use crate::{junit, lines};

/// How many lines of output an abnormal end quotes when no error was parsed.
pub const TAIL_LINES: usize = 20;

/// The most characters of that tail.
pub const MAX_TAIL_CHARS: usize = 4_000;

/// The most findings one check reports; the rest are counted in one more.
pub const MAX_FINDINGS: usize = 200;

/// What one check found and how the summary puts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Parsed findings first, then what went wrong with the run itself.
    pub findings: Vec<Finding>,
    /// `tests: 2 failed of 14`, `lint: ok`, ...
    pub summary: String,
}

/// What the output says, read as the check's `parse` asks.
struct Reading {
    /// Failed tests or diagnostic lines.
    found: Vec<Finding>,
    /// Why the output could not be read (no report, a broken report).
    unreadable: Option<String>,
    /// The result in summary words when the run itself ended well.
    status: String,
    /// The output left to quote when the run ended badly.
    rest: String,
}

/// Judges `output`, what `check` printed when run in `workspace`.
pub fn judge(check: &Check, output: &Output, workspace: &str) -> Verdict {
    let reading = read(check, output, workspace);
    let name = &check.name;
    let mut findings = reading.found;
    let parsed_errors = findings.iter().any(|f| f.severity == Severity::Error);
    if findings.len() > MAX_FINDINGS {
        let more = findings.len() - MAX_FINDINGS;
        findings.truncate(MAX_FINDINGS);
        findings.push(finding(Severity::Info, format!("{name}: {} not listed", count(more, "more finding"))));
    }
    if let Some(why) = reading.unreadable {
        findings.push(finding(Severity::Error, format!("{name}: {why}")));
    }
    let ending = ending(check, output);
    if let Some(ending) = &ending {
        let tail = clip(&last_lines(&reading.rest, TAIL_LINES), MAX_TAIL_CHARS);
        let message = match tail.as_str() {
            _ if parsed_errors => format!("{name}: {} {ending}", check.program),
            "" => format!("{name}: {} {ending} and printed nothing", check.program),
            tail => format!("{name}: {} {ending}; its output ends with:\n{tail}", check.program),
        };
        findings.push(finding(Severity::Error, message));
    }
    if output.truncated {
        findings.push(finding(
            Severity::Warning,
            format!(
                "{name}: the output of {} went over the host's size cap and was cut; findings may be missing",
                check.program
            ),
        ));
    }
    let status = match ending {
        Some(ending) if output.exit_code.is_none() || !parsed_errors => format!("{} {ending}", check.program),
        _ => reading.status,
    };
    Verdict { findings, summary: format!("{name}: {status}") }
}

/// How the process ended, when that alone is an error: `exited with 1`,
/// `timed out after 600000 ms`, `was stopped before it exited`.
fn ending(check: &Check, output: &Output) -> Option<String> {
    match output.exit_code {
        Some(0) => None,
        Some(code) => Some(format!("exited with {code}")),
        None if output.timed_out => Some(format!("timed out after {} ms", check.timeout_ms)),
        None => Some("was stopped before it exited".into()),
    }
}

fn read(check: &Check, output: &Output, workspace: &str) -> Reading {
    let stdout = output.stdout_text();
    let stderr = output.stderr_text();
    let both = joined(&stdout, &stderr);
    match check.parse {
        Parse::Exit => Reading { found: Vec::new(), unreadable: None, status: "ok".into(), rest: both },
        Parse::Lines => {
            let found: Vec<Finding> =
                [&stdout, &stderr].iter().flat_map(|text| lines::parse(text, workspace)).collect();
            let status = lines_status(&found);
            Reading { found, unreadable: None, status, rest: both }
        }
        Parse::Junit => read_junit(check, &stdout, &stderr, workspace),
    }
}

fn read_junit(check: &Check, stdout: &str, stderr: &str, workspace: &str) -> Reading {
    let Some(xml) = junit::extract(stdout) else {
        return Reading {
            found: Vec::new(),
            unreadable: Some(format!(
                "no JUnit report in the output of {} (it must write it to stdout, e.g. pytest --junitxml={{junit}})",
                check.program
            )),
            status: "no JUnit report".into(),
            rest: joined(stdout, stderr),
        };
    };
    let rest = joined(&stdout.replacen(xml, "", 1), stderr);
    match junit::parse(xml, workspace) {
        Ok(report) => {
            let status = match report.failures.len() {
                0 => format!("ok, {}", count(report.tests, "test")),
                failed => format!("{failed} failed of {}", report.tests),
            };
            Reading { found: report.failures, unreadable: None, status, rest }
        }
        Err(why) => Reading {
            found: Vec::new(),
            unreadable: Some(format!("the JUnit report of {} does not parse: {why}", check.program)),
            status: "unreadable JUnit report".into(),
            rest,
        },
    }
}

/// `3 errors, 1 warning`, or `ok` (with the warnings) when there is no error.
fn lines_status(found: &[Finding]) -> String {
    let errors = found.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = found.iter().filter(|f| f.severity == Severity::Warning).count();
    match (errors, warnings) {
        (0, 0) => "ok".into(),
        (0, w) => format!("ok, {}", count(w, "warning")),
        (e, 0) => count(e, "error"),
        (e, w) => format!("{}, {}", count(e, "error"), count(w, "warning")),
    }
}

/// Both streams as one text to quote from, stdout first.
fn joined(stdout: &str, stderr: &str) -> String {
    format!("{}\n{stderr}", stdout.trim_end())
}

/// `1 error`, `2 errors`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

fn finding(severity: Severity, message: String) -> Finding {
    Finding { severity, file: None, line: None, message }
}

#[cfg(test)]
mod tests;
