//! Tests of JUnit report extraction and parsing, on real pytest output
//! (pytest 9.2, `pytest -q --junitxml=/dev/stdout` through a pipe, as the
//! host runs it) and on hand-written reports of other shapes.

use super::*;

const WORKSPACE: &str = "/tmp/cmdgate-sample";

/// With `-o junit_family=xunit1`: test cases carry `file` and 0-based `line`.
const PYTEST_XUNIT1: &str = include_str!("../../testdata/pytest-xunit1-stdout.txt");
/// pytest's default family: no `file` or `line`.
const PYTEST_XUNIT2: &str = include_str!("../../testdata/pytest-xunit2-stdout.txt");
/// A test module that does not import: one error case, exit code 2.
const PYTEST_COLLECTION_ERROR: &str = include_str!("../../testdata/pytest-collection-error-stdout.txt");

fn report_of(output: &str) -> Report {
    parse(extract(output).expect("a report in the output"), WORKSPACE).unwrap()
}

fn error(file: Option<&str>, line: Option<u32>, message: &str) -> Finding {
    Finding { severity: Severity::Error, file: file.map(str::to_owned), line, message: message.to_owned() }
}

#[test]
fn the_report_is_cut_out_of_pytest_output() {
    let report = extract(PYTEST_XUNIT1).unwrap();
    assert!(report.starts_with("<?xml version=\"1.0\""), "{}", &report[..40]);
    assert!(report.ends_with("</testsuite></testsuites>"), "{}", &report[report.len() - 40..]);
    assert!(PYTEST_XUNIT1.starts_with(".FFEs.F"), "the progress dots come first, on the same line");
    assert!(PYTEST_XUNIT1.contains("short test summary info"), "the summary comes after the report");
    assert_eq!(extract("no report here\n"), None);
    assert_eq!(extract("x <testsuite name=\"a\"></testsuite> y"), Some("<testsuite name=\"a\"></testsuite>"));
}

#[test]
fn pytest_failures_and_errors_become_findings_and_skips_pass() {
    let report = report_of(PYTEST_XUNIT1);
    assert_eq!(report.tests, 7);
    assert_eq!(
        report.failures,
        [
            error(
                Some("tests/test_calc.py"),
                Some(10),
                "test_add_wrong (tests.test_calc): assert 4 == 5\n +  where 4 = add(2, 2)\n\
                 tests/test_calc.py:11: AssertionError"
            ),
            error(
                Some("tests/test_calc.py"),
                Some(14),
                "test_div_zero (tests.test_calc): ZeroDivisionError: division by zero\n\
                 app/calc.py:9: ZeroDivisionError"
            ),
            error(
                Some("tests/test_calc.py"),
                Some(23),
                "test_uses_broken (tests.test_calc): failed on setup with \"RuntimeError: database unavailable\"\n\
                 tests/test_calc.py:20: RuntimeError"
            ),
            error(
                Some("tests/test_calc.py"),
                Some(36),
                "test_in_class_fails (tests.test_calc.TestGroup): assert [1, 2] == [1, 3]\n  \n  \
                 At index 1 diff: 2 != 3\n  Use -v to get more diff\ntests/test_calc.py:37: AssertionError"
            ),
        ]
    );
}

#[test]
fn pytest_default_family_has_no_locations() {
    let report = report_of(PYTEST_XUNIT2);
    assert_eq!(report.tests, 7);
    let names: Vec<&str> = report.failures.iter().map(|f| f.message.split(':').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "test_add_wrong (tests.test_calc)",
            "test_div_zero (tests.test_calc)",
            "test_uses_broken (tests.test_calc)",
            "test_in_class_fails (tests.test_calc.TestGroup)"
        ]
    );
    assert!(report.failures.iter().all(|f| f.file.is_none() && f.line.is_none()));
}

#[test]
fn a_collection_error_names_the_module_and_the_cause() {
    let report = report_of(PYTEST_COLLECTION_ERROR);
    assert_eq!(report.tests, 1);
    assert_eq!(
        report.failures,
        [error(None, None, "tests.test_broken: collection failure\nE   SyntaxError: invalid syntax")]
    );
}

/// A report of another shape: no wrapper, 1-based lines, absolute files, a
/// failure with only a body (CDATA), an empty `<error/>`.
#[test]
fn other_producers_are_read_too() {
    let xml = r#"<testsuite name="jest tests" tests="4">
  <testcase classname="math" name="adds" file="/tmp/cmdgate-sample/src/math.test.js" line="12">
    <failure><![CDATA[Error: expect(received).toBe(expected)
    Expected: 3
    Received: 4]]></failure>
  </testcase>
  <testcase classname="math" name="divides" line="0" file="src/math.test.js"><error/></testcase>
  <testcase classname="math" name="skips"><skipped/></testcase>
  <testcase name="passes"/>
</testsuite>"#;
    let report = parse(xml, WORKSPACE).unwrap();
    assert_eq!(report.tests, 4);
    assert_eq!(
        report.failures,
        [
            error(
                Some("src/math.test.js"),
                Some(12),
                "adds (math): Error: expect(received).toBe(expected)\nReceived: 4"
            ),
            error(Some("src/math.test.js"), None, "divides (math): error"),
        ]
    );
}

#[test]
fn long_messages_are_clipped() {
    let long = "x".repeat(MAX_MESSAGE_CHARS + 50);
    let xml = format!(r#"<testsuite><testcase name="t"><failure message="{long}"/></testcase></testsuite>"#);
    let message = &parse(&xml, WORKSPACE).unwrap().failures[0].message;
    assert_eq!(message.chars().count(), "t: ".len() + MAX_MESSAGE_CHARS + 1);
    assert!(message.ends_with('…'));
}

#[test]
fn broken_reports_say_why() {
    let cut = &extract(PYTEST_XUNIT1).unwrap()[..1500];
    let cases = [
        (cut, "ends before its closing tags"),
        ("<testsuite><testcase name=\"a\"></testsuite>", "testcase"),
        ("<testsuite><testcase name=\"a &bogus;\"/></testsuite>", "bogus"),
        ("<?xml version=\"1.0\"?><results/>", "no <testsuite> element"),
    ];
    for (xml, expected) in cases {
        let why = parse(xml, WORKSPACE).unwrap_err();
        assert!(why.contains(expected), "{xml}: {why}");
    }
}
