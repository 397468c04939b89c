//! Tests of measuring and judging a change: forbidden paths on every side
//! of a rename, each limit, the warnings near them, and the summary.

use super::*;

/// A diff modifying `path` with `added` and `removed` lines.
fn modified(path: &str, added: usize, removed: usize) -> String {
    let mut diff = format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,{removed} +1,{added} @@\n");
    diff.extend((0..removed).map(|i| format!("-old {i}\n")));
    diff.extend((0..added).map(|i| format!("+new {i}\n")));
    diff
}

fn renamed(from: &str, to: &str) -> String {
    format!("diff --git a/{from} b/{to}\nsimilarity index 100%\nrename from {from}\nrename to {to}\n")
}

/// `n` files each adding one line.
fn many_files(n: usize) -> String {
    (0..n).map(|i| modified(&format!("src/f{i}.rs"), 1, 0)).collect()
}

fn limits(max_files: u64, max_lines: u64) -> Limits {
    Limits { max_files, max_lines, ..Limits::default() }
}

fn judged(diff: &str, limits: &Limits) -> CheckResult {
    judge(&Change::measure(diff, &[]), limits)
}

fn errors(result: &CheckResult) -> Vec<&str> {
    result.findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.message.as_str()).collect()
}

fn warnings(result: &CheckResult) -> Vec<&str> {
    result.findings.iter().filter(|f| f.severity == Severity::Warning).map(|f| f.message.as_str()).collect()
}

#[test]
fn a_change_is_measured() {
    let diff = modified("a.rs", 3, 2) + &renamed("old.rs", "new.rs") + &modified("b.rs", 1, 0);
    let change = Change::measure(&diff, &[]);
    assert_eq!((change.files, change.added, change.removed, change.lines()), (3, 4, 2, 6));
    let touched: Vec<(&str, &str)> = change.touched.iter().map(|t| (t.path.as_str(), t.how.as_str())).collect();
    assert_eq!(
        touched,
        [
            ("a.rs", "modified"),
            ("new.rs", "renamed from `old.rs`"),
            ("old.rs", "renamed to `new.rs`"),
            ("b.rs", "modified"),
        ]
    );
}

#[test]
fn a_file_shown_twice_counts_once() {
    let diff = format!("### step s1\n{}### step s2\n{}", modified("a.rs", 1, 0), modified("a.rs", 2, 1));
    let change = Change::measure(&diff, &[]);
    assert_eq!((change.files, change.lines(), change.touched.len()), (1, 4, 1));
}

#[test]
fn changed_files_count_when_the_diff_names_none() {
    let changed = ["a.py".to_owned(), "b.py".to_owned()];
    let change = Change::measure("### step s1\nI edited two files.\n", &changed);
    assert_eq!((change.files, change.lines()), (2, 0));
    let result = judge(&Change::measure("", &[".env".to_owned()]), &Limits::default());
    assert_eq!(errors(&result).len(), 1, "{result:?}");
    assert_eq!(result.findings[0].file.as_deref(), Some(".env"));
    assert!(result.findings[0].message.contains("(changed;"), "{}", result.findings[0].message);
}

#[test]
fn a_small_change_is_within_limits() {
    let result = judged(&(modified("a.rs", 200, 140) + &many_files(11)), &Limits::default());
    assert!(result.passed && result.findings.is_empty(), "{result:?}");
    assert_eq!(result.summary, "12 files, 351 lines: within limits");
    let one = judged(&modified("a.rs", 1, 0), &Limits::default());
    assert_eq!(one.summary, "1 file, 1 line: within limits");
}

#[test]
fn forbidden_paths_are_errors_one_per_file() {
    let diff = modified(".github/workflows/ci.yml", 1, 1)
        + &modified("services/api/.env", 1, 0)
        + &modified("src/main.rs", 1, 0)
        + &modified("deploy/tls/server.pem", 1, 0)
        + &modified("home/id_rsa", 1, 0)
        + &modified("home/id_rsa.pub", 1, 0);
    let result = judged(&diff, &Limits::default());
    assert!(!result.passed);
    let files: Vec<Option<&str>> = result.findings.iter().map(|f| f.file.as_deref()).collect();
    assert_eq!(
        files,
        [
            Some(".github/workflows/ci.yml"),
            Some("services/api/.env"),
            Some("deploy/tls/server.pem"),
            Some("home/id_rsa")
        ]
    );
    assert!(result.findings.iter().all(|f| f.severity == Severity::Error && f.line.is_none()));
    assert_eq!(
        result.findings[0].message,
        "`.github/workflows/ci.yml` is a forbidden path (modified; it matches `.github/workflows/**` in \
         [plugins.diff-limits.config] forbidden_paths); leave it out of the change"
    );
    assert_eq!(result.summary, "6 files, 7 lines: 4 forbidden paths");
}

#[test]
fn both_sides_of_a_rename_are_checked() {
    let away = judged(&renamed(".env", "env.txt"), &Limits::default());
    assert_eq!(errors(&away).len(), 1, "{away:?}");
    assert_eq!(away.findings[0].file.as_deref(), Some(".env"));
    assert!(away.findings[0].message.contains("(renamed to `env.txt`;"), "{}", away.findings[0].message);
    let into = judged(&renamed("notes.txt", "config/.env"), &Limits::default());
    assert_eq!(into.findings[0].file.as_deref(), Some("config/.env"));
    assert!(into.findings[0].message.contains("(renamed from `notes.txt`;"), "{}", into.findings[0].message);
    assert_eq!(into.summary, "1 file, 0 lines: 1 forbidden path");
}

#[test]
fn too_many_files_is_an_error() {
    let result = judged(&many_files(31), &limits(30, 2000));
    assert!(!result.passed);
    assert_eq!(errors(&result), ["31 files changed, the limit is 30 ([plugins.diff-limits.config] max_files)"]);
    assert_eq!(result.summary, "31 files, 31 lines: over max_files (31 > 30)");
    assert!(judged(&many_files(30), &limits(30, 2000)).passed, "the limit itself is allowed");
}

#[test]
fn too_many_lines_is_an_error() {
    let result = judged(&modified("big.rs", 2000, 412), &Limits::default());
    assert!(!result.passed);
    assert_eq!(
        errors(&result),
        ["2412 lines changed (2000 added, 412 removed), the limit is 2000 ([plugins.diff-limits.config] max_lines)"]
    );
    assert_eq!(result.summary, "1 file, 2412 lines: over max_lines (2412 > 2000)");
    assert!(judged(&modified("big.rs", 100, 100), &limits(50, 200)).passed);
}

#[test]
fn every_problem_is_in_the_summary() {
    let diff = many_files(3) + &modified(".env", 10, 0);
    let result = judged(&diff, &limits(2, 5));
    assert_eq!(errors(&result).len(), 3, "{result:?}");
    assert_eq!(result.summary, "4 files, 13 lines: 1 forbidden path, over max_files (4 > 2), over max_lines (13 > 5)");
}

#[test]
fn near_a_limit_is_a_warning() {
    let result = judged(&many_files(41), &Limits::default());
    assert!(result.passed, "a warning does not fail the gate");
    assert!(errors(&result).is_empty());
    assert_eq!(
        warnings(&result),
        ["41 files changed, near the limit of 50 (over 80 %; [plugins.diff-limits.config] max_files); a smaller \
          change is easier to review"]
    );
    assert_eq!(result.summary, "41 files, 41 lines: near the limits (max_files 41 of 50)");
    assert!(judged(&many_files(40), &Limits::default()).findings.is_empty(), "exactly 80 % is not over it");
    let lines = judged(&modified("a.rs", 900, 900), &Limits::default());
    assert_eq!(warnings(&lines).len(), 1);
    assert!(warnings(&lines)[0].starts_with("1800 lines changed (900 added, 900 removed), near the limit of 2000"));
}

#[test]
fn warn_ratio_moves_the_warnings() {
    let half = Limits { warn_ratio: 0.5, ..limits(10, 2000) };
    assert_eq!(warnings(&judged(&many_files(6), &half)).len(), 1);
    assert!(warnings(&judged(&many_files(5), &half)).is_empty());
    let off = Limits { warn_ratio: 1.0, ..limits(10, 2000) };
    assert!(judged(&many_files(10), &off).findings.is_empty());
}

#[test]
fn binary_files_count_as_files_without_lines() {
    let diff = "diff --git a/logo.png b/logo.png\nindex 1..2 100644\nBinary files a/logo.png and b/logo.png differ\n";
    let change = Change::measure(diff, &[]);
    assert_eq!((change.files, change.lines()), (1, 0));
}
