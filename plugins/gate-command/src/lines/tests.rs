//! Tests of diagnostic-line parsing on real output of mypy 2.4, ruff 0.17,
//! eslint 9 (`--format unix`), gcc 14 (`-Wall`) and rustc
//! (`--error-format=short`), and on lines that only look like diagnostics.

use super::*;

const WORKSPACE: &str = "/tmp/cmdgate-sample";

/// `mypy --show-error-context app` with one column number and one absolute path.
const MYPY: &str = include_str!("../../testdata/mypy.txt");
/// `ruff check --output-format=concise .`
const RUFF_CONCISE: &str = include_str!("../../testdata/ruff-concise.txt");
/// `eslint --format unix src` (eslint-formatter-unix), absolute paths.
const ESLINT_UNIX: &str = include_str!("../../testdata/eslint-unix.txt");
/// `gcc -Wall -c main.c`, code excerpts included.
const GCC: &str = include_str!("../../testdata/gcc.txt");

type Found = (Severity, String, u32, String);

fn found(output: &str) -> Vec<Found> {
    parse(output, WORKSPACE).into_iter().map(|f| (f.severity, f.file.unwrap(), f.line.unwrap(), f.message)).collect()
}

fn one(severity: Severity, file: &str, line: u32, message: &str) -> Found {
    (severity, file.to_owned(), line, message.to_owned())
}

#[test]
fn mypy_errors_and_notes() {
    assert_eq!(
        found(MYPY),
        [
            one(
                Severity::Error,
                "app/calc.py",
                13,
                "Incompatible return value type (got \"str\", expected \"int\")  [return-value]"
            ),
            one(Severity::Info, "app/notes.py", 2, "Revealed type is \"int\""),
            one(
                Severity::Error,
                "app/notes.py",
                3,
                "Incompatible types in assignment (expression has type \"int\", \
                 variable has type \"str\")  [assignment]"
            ),
        ]
    );
}

#[test]
fn ruff_concise_and_pylint_lines() {
    let pylint = "app/calc.py:1: [F401] `os` imported but unused\n";
    assert_eq!(
        found(&format!("{RUFF_CONCISE}{pylint}")),
        [
            one(Severity::Error, "app/calc.py", 1, "F401 [*] `os` imported but unused"),
            one(
                Severity::Error,
                "tests/test_calc.py",
                34,
                "PLR0133 Two constants compared in a comparison, consider replacing `\"a\" in \"abc\"`"
            ),
            one(Severity::Error, "app/calc.py", 1, "[F401] `os` imported but unused"),
        ]
    );
}

/// ruff's default `full` format points at the file on an indented `-->`
/// line, which is not a diagnostic line: nothing is found.
#[test]
fn ruff_full_format_is_not_parsed() {
    let output = "F401 [*] `os` imported but unused\n --> app/calc.py:1:8\n  |\n1 | import os\n  |        ^^\n";
    assert_eq!(found(output), []);
}

#[test]
fn eslint_unix_lines_carry_their_severity_at_the_end() {
    assert_eq!(
        found(ESLINT_UNIX),
        [
            one(
                Severity::Warning,
                "src/app.js",
                1,
                "'unused' is assigned a value but never used. [Warning/no-unused-vars]"
            ),
            one(Severity::Error, "src/app.js", 3, "'b' is not defined. [Error/no-undef]"),
            one(Severity::Error, "src/app.js", 5, "Unexpected 'debugger' statement. [Error/no-debugger]"),
        ]
    );
}

#[test]
fn gcc_diagnostics_without_their_excerpts() {
    assert_eq!(
        found(GCC),
        [
            one(Severity::Error, "main.c", 3, "\u{2018}y\u{2019} undeclared (first use in this function)"),
            one(
                Severity::Info,
                "main.c",
                3,
                "each undeclared identifier is reported only once for each function it appears in"
            ),
            one(Severity::Error, "main.c", 3, "expected \u{2018};\u{2019} before \u{2018}}\u{2019} token"),
            one(Severity::Warning, "main.c", 2, "unused variable \u{2018}x\u{2019} [-Wunused-variable]"),
        ]
    );
}

#[test]
fn flake8_rustc_and_fatal_errors() {
    let output = "\
./app/calc.py:1:1: F401 'os' imported but unused
src/missing.c:1:10: fatal error: nope.h: No such file or directory
m.rs:3:21: error[E0308]: mismatched types: expected `String`, found integer
m.rs:2:9: warning: unused variable: `x`
error: aborting due to 1 previous error
";
    assert_eq!(
        found(output),
        [
            one(Severity::Error, "app/calc.py", 1, "F401 'os' imported but unused"),
            one(Severity::Error, "src/missing.c", 1, "nope.h: No such file or directory"),
            one(Severity::Error, "m.rs", 3, "[E0308] mismatched types: expected `String`, found integer"),
            one(Severity::Warning, "m.rs", 2, "unused variable: `x`"),
        ]
    );
}

#[test]
fn prose_times_and_tracebacks_are_not_diagnostics() {
    let output = "\
12:30:05: starting
Ran 3 tests in 0.01s: ok
  File \"app/calc.py\", line 9, in div
see http://localhost:8080: refused
E   app/calc.py:9: ZeroDivisionError
app/calc.py:0: line zero is no line
app/calc.py:7:
app/calc.py:x: no number
";
    assert_eq!(found(output), []);
}

#[test]
fn colours_are_ignored() {
    let output = "\u{1b}[1mapp/calc.py\u{1b}[0m:\u{1b}[33m1\u{1b}[0m:8: \u{1b}[31mF401\u{1b}[0m unused\n";
    assert_eq!(found(output), [one(Severity::Error, "app/calc.py", 1, "F401 unused")]);
}
