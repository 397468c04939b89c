//! Tests of one check's verdict: findings, the exit code's own finding and
//! the summary part, for each way of reading output and each way a run ends.

use super::*;

const WORKSPACE: &str = "/tmp/cmdgate-sample";
const PYTEST_XUNIT1: &str = include_str!("../../testdata/pytest-xunit1-stdout.txt");

fn check(name: &str, program: &str, parse: Parse) -> Check {
    Check { name: name.into(), program: program.into(), args: Vec::new(), parse, timeout_ms: 1_000 }
}

fn exited(code: i32, stdout: &str, stderr: &str) -> Output {
    Output {
        exit_code: Some(code),
        stdout: stdout.as_bytes().to_vec(),
        stderr: stderr.as_bytes().to_vec(),
        timed_out: false,
        truncated: false,
    }
}

fn messages(verdict: &Verdict) -> Vec<(Severity, &str)> {
    verdict.findings.iter().map(|f| (f.severity, f.message.as_str())).collect()
}

#[test]
fn failing_pytest_run_reports_each_failure_and_the_exit_code() {
    let verdict = judge(&check("tests", "pytest", Parse::Junit), &exited(1, PYTEST_XUNIT1, ""), WORKSPACE);
    assert_eq!(verdict.summary, "tests: 4 failed of 7");
    assert_eq!(verdict.findings.len(), 5);
    assert!(verdict.findings[..4].iter().all(|f| f.severity == Severity::Error && f.file.is_some()));
    assert_eq!(verdict.findings[4].message, "tests: pytest exited with 1", "no tail when failures were parsed");
}

#[test]
fn passing_junit_run_is_ok() {
    let report = concat!(
        r#"<?xml version="1.0"?><testsuite name="pytest" tests="2">"#,
        r#"<testcase name="a"/><testcase name="b"><skipped/></testcase></testsuite>"#
    );
    let verdict = judge(&check("tests", "pytest", Parse::Junit), &exited(0, report, ""), WORKSPACE);
    assert_eq!(verdict.summary, "tests: ok, 2 tests");
    assert_eq!(verdict.findings, []);
}

#[test]
fn a_failing_run_without_a_report_quotes_its_output() {
    let stderr = "ERROR: usage: pytest [options] [file_or_dir] [file_or_dir] [...]\n\
                  pytest: error: unrecognized arguments: --junit-xml\n";
    let verdict = judge(&check("tests", "pytest", Parse::Junit), &exited(4, "", stderr), WORKSPACE);
    assert_eq!(verdict.summary, "tests: pytest exited with 4");
    assert_eq!(
        messages(&verdict),
        [
            (
                Severity::Error,
                "tests: no JUnit report in the output of pytest (it must write it to stdout, e.g. pytest \
                 --junitxml={junit})"
            ),
            (
                Severity::Error,
                "tests: pytest exited with 4; its output ends with:\n\
                 ERROR: usage: pytest [options] [file_or_dir] [file_or_dir] [...]\n\
                 pytest: error: unrecognized arguments: --junit-xml"
            ),
        ]
    );
    let quiet = judge(&check("tests", "pytest", Parse::Junit), &exited(0, "all good\n", ""), WORKSPACE);
    assert_eq!(quiet.summary, "tests: no JUnit report");
    assert_eq!(quiet.findings.len(), 1);
}

#[test]
fn the_quoted_tail_leaves_the_report_out() {
    let stdout = "..<testsuite name=\"pytest\"><testcase name=\"a\"/></testsuite>\nno tests ran? odd\n";
    let verdict = judge(&check("tests", "pytest", Parse::Junit), &exited(3, stdout, ""), WORKSPACE);
    assert_eq!(
        messages(&verdict),
        [(Severity::Error, "tests: pytest exited with 3; its output ends with:\n..\nno tests ran? odd")]
    );
    assert_eq!(verdict.summary, "tests: pytest exited with 3");
}

#[test]
fn a_cut_report_is_an_error_with_a_warning_about_the_cap() {
    let cut = &PYTEST_XUNIT1[..2000];
    let mut output = exited(1, cut, "");
    output.truncated = true;
    let verdict = judge(&check("tests", "pytest", Parse::Junit), &output, WORKSPACE);
    assert_eq!(verdict.summary, "tests: pytest exited with 1");
    let found = messages(&verdict);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].1.starts_with("tests: the JUnit report of pytest does not parse: "), "{}", found[0].1);
    assert!(found[1].1.starts_with("tests: pytest exited with 1; its output ends with:\n"), "{}", found[1].1);
    assert_eq!(found[2].0, Severity::Warning);
    assert!(found[2].1.contains("went over the host's size cap"), "{}", found[2].1);
}

#[test]
fn lint_lines_from_both_streams_are_counted() {
    let stdout = "app/calc.py:1:8: F401 [*] `os` imported but unused\nFound 1 error.\n";
    let stderr = "/tmp/cmdgate-sample/app/notes.py:3: warning: shadowed name\n";
    let verdict = judge(&check("lint", "ruff", Parse::Lines), &exited(1, stdout, stderr), WORKSPACE);
    assert_eq!(verdict.summary, "lint: 1 error, 1 warning");
    assert_eq!(
        messages(&verdict),
        [
            (Severity::Error, "F401 [*] `os` imported but unused"),
            (Severity::Warning, "shadowed name"),
            (Severity::Error, "lint: ruff exited with 1"),
        ]
    );
    assert_eq!(verdict.findings[1].file.as_deref(), Some("app/notes.py"));
}

#[test]
fn warnings_alone_pass_but_a_bad_exit_still_fails() {
    let stdout = "src/app.js:1:7: 'unused' is assigned a value but never used. [Warning/no-unused-vars]\n";
    let clean = judge(&check("lint", "eslint", Parse::Lines), &exited(0, stdout, ""), WORKSPACE);
    assert_eq!(clean.summary, "lint: ok, 1 warning");
    assert_eq!(
        messages(&clean),
        [(Severity::Warning, "'unused' is assigned a value but never used. [Warning/no-unused-vars]")]
    );
    let failed =
        judge(&check("lint", "eslint", Parse::Lines), &exited(2, stdout, "Oops! Something went wrong!\n"), WORKSPACE);
    assert_eq!(failed.summary, "lint: eslint exited with 2");
    assert_eq!(
        failed.findings[1].message,
        "lint: eslint exited with 2; its output ends with:\n\
         src/app.js:1:7: 'unused' is assigned a value but never used. [Warning/no-unused-vars]\n\
         Oops! Something went wrong!"
    );
}

#[test]
fn exit_checks_quote_the_last_lines() {
    let ok = judge(&check("build", "cargo", Parse::Exit), &exited(0, "error: looks bad but exit 0\n", ""), WORKSPACE);
    assert_eq!(ok.summary, "build: ok");
    assert_eq!(ok.findings, []);
    let stderr: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    let failed = judge(&check("build", "cargo", Parse::Exit), &exited(101, "", &stderr), WORKSPACE);
    assert_eq!(failed.summary, "build: cargo exited with 101");
    let message = &failed.findings[0].message;
    assert!(message.starts_with("build: cargo exited with 101; its output ends with:\nline 11\n"), "{message}");
    assert!(message.ends_with("line 30") && !message.contains("line 10\n"), "{message}");
    let silent = judge(&check("build", "cargo", Parse::Exit), &exited(1, "", "\n"), WORKSPACE);
    assert_eq!(silent.findings[0].message, "build: cargo exited with 1 and printed nothing");
}

#[test]
fn timeouts_and_kills_are_errors_whatever_was_parsed() {
    let mut output = exited(0, "app/calc.py:1:8: F401 unused\n", "\n[orch: stopped after 1000 ms]");
    output.exit_code = None;
    output.timed_out = true;
    let timed_out = judge(&check("lint", "ruff", Parse::Lines), &output, WORKSPACE);
    assert_eq!(timed_out.summary, "lint: ruff timed out after 1000 ms");
    assert_eq!(timed_out.findings[1].message, "lint: ruff timed out after 1000 ms");
    output.timed_out = false;
    let killed = judge(&check("lint", "ruff", Parse::Exit), &output, WORKSPACE);
    assert_eq!(killed.summary, "lint: ruff was stopped before it exited");
    assert!(killed.findings[0].message.ends_with("[orch: stopped after 1000 ms]"), "{}", killed.findings[0].message);
}

#[test]
fn a_flood_of_findings_is_capped() {
    let stdout: String = (1..=MAX_FINDINGS + 50).map(|i| format!("app/big.py:{i}: error: bad\n")).collect();
    let verdict = judge(&check("types", "mypy", Parse::Lines), &exited(1, &stdout, ""), WORKSPACE);
    assert_eq!(verdict.summary, format!("types: {} errors", MAX_FINDINGS + 50));
    assert_eq!(verdict.findings.len(), MAX_FINDINGS + 2);
    assert_eq!(verdict.findings[MAX_FINDINGS - 1].line, Some(u32::try_from(MAX_FINDINGS).unwrap()));
    assert_eq!(verdict.findings[MAX_FINDINGS].message, "types: 50 more findings not listed");
    assert_eq!(verdict.findings[MAX_FINDINGS + 1].message, "types: mypy exited with 1");
}
