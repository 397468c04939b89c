//! JUnit XML reports: finding the report inside a command's standard output
//! and turning each failed or errored test case into a finding.
//!
//! The report arrives on stdout (pytest: `--junitxml=/dev/stdout`), mixed
//! with the tool's own output: pytest writes it right after its progress
//! dots, on the same line, and prints its failure summary after it. So the
//! report is the text from the first `<?xml`, `<testsuites` or `<testsuite`
//! to the last closing `</testsuites>` (or `</testsuite>` without a wrapper).
//!
//! A test case with a `<failure>` or `<error>` child is one error finding:
//! `name (classname): message`, then the last line of the failure's text
//! (where a traceback ends) when the message does not hold it, pointing at
//! the case's `file` and `line` attributes when it has them (pytest writes
//! them with `-o junit_family=xunit1`). pytest's `line` counts from 0, so it
//! is made 1-based when the report comes from pytest (a suite named
//! `pytest…`).
//! `<skipped>` cases pass.

use std::borrow::Cow;

use orch_sdk::gate::{Finding, Severity};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::text::{clip, relative_to};

/// The most characters of a failure message a finding quotes.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// What a report says.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Test cases in the report, passed, failed and skipped alike.
    pub tests: usize,
    /// One error finding per failed or errored test case.
    pub failures: Vec<Finding>,
}

/// The JUnit report inside `output`, if there is one.
pub fn extract(output: &str) -> Option<&str> {
    let start = ["<?xml", "<testsuites", "<testsuite"].iter().filter_map(|tag| output.find(tag)).min()?;
    let report = &output[start..];
    let end = ["</testsuites>", "</testsuite>"]
        .iter()
        .find_map(|tag| report.rfind(tag).map(|at| at + tag.len()))
        .unwrap_or(report.len());
    Some(&report[..end])
}

/// Reads `xml`, a JUnit report; files are made relative to `workspace`. A
/// report that is not well-formed XML, is cut short or holds no test suite is
/// an error saying why.
pub fn parse(xml: &str, workspace: &str) -> Result<Report, String> {
    let mut reader = Reader::from_str(xml);
    let mut suites: Vec<String> = Vec::new();
    let mut saw_suite = false;
    let mut report = Report { tests: 0, failures: Vec::new() };
    let mut case: Option<Case> = None;
    let mut problem: Option<Problem> = None;
    loop {
        let event = reader.read_event().map_err(|e| format!("{e} (at byte {})", reader.error_position()))?;
        let opens = matches!(event, Event::Start(_));
        match &event {
            Event::Start(tag) | Event::Empty(tag) if is_suite(tag.name().as_ref()) => {
                saw_suite = true;
                if opens {
                    suites.push(attribute(tag, "name")?.unwrap_or_default());
                }
            }
            Event::End(tag) if is_suite(tag.name().as_ref()) => {
                suites.pop();
            }
            Event::Start(tag) | Event::Empty(tag) if tag.name().as_ref() == "testcase" => {
                report.tests += 1;
                let zero_based_lines = suites.iter().any(|name| name.starts_with("pytest"));
                let opened = Case::read(tag, zero_based_lines)?;
                if opens {
                    case = Some(opened);
                }
            }
            Event::End(tag) if tag.name().as_ref() == "testcase" => {
                if let Some(failure) = case.take().and_then(|c| c.into_finding(workspace)) {
                    report.failures.push(failure);
                }
            }
            Event::Start(tag) | Event::Empty(tag) if is_problem(tag.name().as_ref()) => {
                let opened = Problem::read(tag)?;
                if opens {
                    problem = Some(opened);
                } else if let Some(case) = case.as_mut() {
                    case.record(opened);
                }
            }
            Event::End(tag) if is_problem(tag.name().as_ref()) => {
                if let (Some(closed), Some(case)) = (problem.take(), case.as_mut()) {
                    case.record(closed);
                }
            }
            Event::Text(text) => append(&mut problem, &text.xml10_content()),
            Event::CData(data) => append(&mut problem, data),
            Event::GeneralRef(reference) => append(&mut problem, &resolve(reference)?),
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_suite {
        return Err("it has no <testsuite> element".into());
    }
    if !suites.is_empty() || case.is_some() {
        return Err("it ends before its closing tags (was the output cut?)".into());
    }
    Ok(report)
}

fn is_suite(tag_name: &str) -> bool {
    matches!(tag_name, "testsuite" | "testsuites")
}

/// A failed (`failure`) or broken (`error`) test case's child.
fn is_problem(tag_name: &str) -> bool {
    matches!(tag_name, "failure" | "error")
}

/// The unescaped value of attribute `name`, if the tag has it.
fn attribute(tag: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    let attribute = tag.try_get_attribute(name).map_err(|e| e.to_string())?;
    let value = attribute.map(|a| a.normalized_value(XmlVersion::Implicit1_0).map(Cow::into_owned));
    value.transpose().map_err(|e| e.to_string())
}

/// The text an entity or character reference stands for.
fn resolve(reference: &BytesRef<'_>) -> Result<String, String> {
    if let Some(c) = reference.resolve_char_ref().map_err(|e| e.to_string())? {
        return Ok(c.to_string());
    }
    let name = reference.xml10_content();
    resolve_predefined_entity(&name).map(str::to_owned).ok_or_else(|| format!("unknown entity `&{name};`"))
}

fn append(problem: &mut Option<Problem>, text: &str) {
    if let Some(problem) = problem {
        problem.body.push_str(text);
    }
}

/// A test case being read.
struct Case {
    name: String,
    classname: String,
    file: Option<String>,
    line: Option<u32>,
    problem: Option<Problem>,
}

impl Case {
    fn read(tag: &BytesStart<'_>, zero_based_lines: bool) -> Result<Self, String> {
        let line = attribute(tag, "line")?.and_then(|l| l.trim().parse::<u32>().ok());
        let line = if zero_based_lines { line.map(|l| l + 1) } else { line.filter(|l| *l > 0) };
        Ok(Self {
            name: attribute(tag, "name")?.unwrap_or_default(),
            classname: attribute(tag, "classname")?.unwrap_or_default(),
            file: attribute(tag, "file")?.filter(|f| !f.is_empty()),
            line,
            problem: None,
        })
    }

    /// Keeps the first failure or error of the case.
    fn record(&mut self, problem: Problem) {
        self.problem.get_or_insert(problem);
    }

    fn into_finding(self, workspace: &str) -> Option<Finding> {
        let problem = self.problem?;
        let test = match self.classname.as_str() {
            "" => self.name,
            classname => format!("{} ({classname})", self.name),
        };
        let file = self.file.map(|f| relative_to(&f, workspace));
        Some(Finding {
            severity: Severity::Error,
            line: file.as_ref().and(self.line),
            file,
            message: format!("{test}: {}", clip(&problem.summary(), MAX_MESSAGE_CHARS)),
        })
    }
}

/// A `<failure>` or `<error>` being read.
struct Problem {
    kind: &'static str,
    message: String,
    body: String,
}

impl Problem {
    fn read(tag: &BytesStart<'_>) -> Result<Self, String> {
        let kind = if tag.name().as_ref() == "error" { "error" } else { "failed" };
        Ok(Self { kind, message: attribute(tag, "message")?.unwrap_or_default(), body: String::new() })
    }

    /// The `message` attribute (else the first line of the body, else the
    /// kind), then the last line of the body when the message does not hold
    /// it: where a traceback ends, e.g. `tests/test_calc.py:11: AssertionError`.
    fn summary(&self) -> String {
        let mut body_lines = self.body.lines().map(str::trim).filter(|line| !line.is_empty());
        let first_body_line = body_lines.next();
        let last_body_line = body_lines.next_back().or(first_body_line);
        let message = match self.message.trim() {
            "" => first_body_line.unwrap_or(self.kind),
            message => message,
        };
        match last_body_line {
            Some(last) if !message.contains(last) => format!("{message}\n{last}"),
            _ => message.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
