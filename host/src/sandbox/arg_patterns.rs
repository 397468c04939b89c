//! Argument patterns of command grants, and what they mean: a pattern list is
//! a sequence, matched argument by argument and in order (`["diff", "--stat",
//! "*"]` is three arguments, in that order); a last pattern `**` stands for
//! any number of further plain arguments. A `*` is a wildcard within one
//! argument, but what it matches is held to more than the glob:
//!
//! - an argument starting with `-` (a flag: `--output=…`, `-c …`) matches a
//!   pattern only if the pattern starts with `-` too;
//! - no `..` component (`../../x.xml`, `--junitxml=../x`);
//! - no absolute path outside the call's workspace (`/etc/x`,
//!   `--junitxml=/home/u/x`).
//!
//! A literal pattern (no `*`) is the operator's own words and matches itself.
//! An interpreter (`python*`, `node`, `sh`, `bash`, `ruby`, `perl`, …) runs
//! whatever code it is handed, so its grant must pin the code: a literal
//! script, or `-m MODULE`, `-c CODE`, `-e CODE` with a literal after it.

use std::path::Path;

use super::glob;
use super::grants::within;

/// The pattern that stands for any further plain arguments.
pub const REST: &str = "**";

/// Whether `args` (of a call in `workspace`) match `patterns`.
pub fn matches(patterns: &[String], args: &[String], workspace: Option<&Path>) -> bool {
    let (fixed, rest) = split_rest(patterns);
    let counts = if rest { args.len() >= fixed.len() } else { args.len() == fixed.len() };
    counts
        && fixed.iter().zip(args).all(|(pattern, arg)| matches_one(pattern, arg, workspace))
        && args[fixed.len()..].iter().all(|arg| plain(arg, workspace))
}

/// Whether a grant's `patterns` allow everything a plugin's requested
/// `wanted` patterns could match.
pub fn covers(patterns: &[String], wanted: &[String]) -> bool {
    let (fixed, rest) = split_rest(patterns);
    let (wanted_fixed, wanted_rest) = split_rest(wanted);
    let counts =
        if rest { wanted_fixed.len() >= fixed.len() } else { wanted_fixed.len() == fixed.len() && !wanted_rest };
    let one = |pattern: &String, want: &String| {
        glob::matches(pattern, want) && (!want.starts_with('-') || pattern.starts_with('-') || pattern == want)
    };
    counts
        && fixed.iter().zip(wanted_fixed).all(|(p, w)| one(p, w))
        && wanted_fixed[fixed.len()..].iter().all(|w| !w.starts_with('-'))
}

/// Whether `program` runs whatever code it is given.
pub fn is_interpreter(program: &str) -> bool {
    let name = Path::new(program).file_name().and_then(|n| n.to_str()).unwrap_or(program);
    name.starts_with("python")
        || ["node", "nodejs", "deno", "bun", "sh", "bash", "dash", "zsh", "ksh", "fish", "ruby", "perl", "php", "lua"]
            .contains(&name)
}

/// Whether an interpreter's `patterns` pin the code it runs: a literal
/// script, or a literal after `-m`, `-c` or `-e`, before any wildcard.
pub fn pins_code(patterns: &[String]) -> bool {
    let literal = |p: &str| !p.contains('*');
    for (i, pattern) in patterns.iter().enumerate() {
        if matches!(pattern.as_str(), "-m" | "-c" | "-e") {
            return patterns.get(i + 1).is_some_and(|code| literal(code));
        }
        if !literal(pattern) {
            return false;
        }
        if !pattern.starts_with('-') {
            return true;
        }
    }
    false
}

fn split_rest(patterns: &[String]) -> (&[String], bool) {
    match patterns.split_last() {
        Some((last, fixed)) if last == REST => (fixed, true),
        _ => (patterns, false),
    }
}

fn matches_one(pattern: &str, arg: &str, workspace: Option<&Path>) -> bool {
    if !pattern.contains('*') {
        return pattern == arg;
    }
    glob::matches(pattern, arg) && (!arg.starts_with('-') || pattern.starts_with('-')) && stays_inside(arg, workspace)
}

/// An argument `**` may stand for: not a flag, and inside the workspace.
fn plain(arg: &str, workspace: Option<&Path>) -> bool {
    !arg.starts_with('-') && stays_inside(arg, workspace)
}

/// No `..` component, and every absolute path in it (the argument itself, or
/// after a `=`) inside `workspace`.
fn stays_inside(arg: &str, workspace: Option<&Path>) -> bool {
    if arg.split(['/', '=', ':', ',']).any(|part| part == "..") {
        return false;
    }
    let paths = std::iter::once(arg).chain(arg.match_indices('=').map(|(at, _)| &arg[at + 1..]));
    paths.filter(|p| p.starts_with('/')).all(|p| workspace.is_some_and(|w| within(Path::new(p), w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn patterns_are_a_sequence() {
        let git = strings(&["diff", "--stat", "*"]);
        let ws = Some(Path::new("/w/t"));
        assert!(matches(&git, &strings(&["diff", "--stat", "HEAD"]), ws));
        assert!(!matches(&git, &strings(&["--stat", "diff", "HEAD"]), ws), "in order");
        assert!(!matches(&git, &strings(&["diff", "--stat"]), ws), "every pattern is one argument");
        assert!(!matches(&git, &strings(&["diff", "--stat", "a", "b"]), ws), "no more");
        assert!(!matches(&git, &strings(&["diff", "--stat", "--output=/tmp/x"]), ws), "`*` is not a flag");
        assert!(!matches(&git, &strings(&["-c", "alias.x=!sh", "x"]), ws), "no set of patterns in any order");
        assert!(!matches(&git, &[], ws), "an empty list matches no pattern list but the empty one");
        assert!(matches(&[], &[], ws));
        let pytest = strings(&["-q", "--junitxml=*"]);
        assert!(matches(&pytest, &strings(&["-q", "--junitxml=report.xml"]), ws));
        assert!(matches(&pytest, &strings(&["-q", "--junitxml=/w/t/out/report.xml"]), ws), "inside the workspace");
        assert!(!matches(&pytest, &strings(&["-q", "--junitxml=../../../../x.xml"]), ws));
        assert!(!matches(&pytest, &strings(&["-q", "--junitxml=/etc/x.xml"]), ws));
        assert!(!matches(&pytest, &strings(&["-q", "--junitxml=/w/t/../../x.xml"]), ws));
        let literal = strings(&["-o", "junit_family=xunit1", "--junitxml=/dev/stdout"]);
        assert!(matches(&literal, &literal, None), "the operator's own words match themselves");
    }

    #[test]
    fn a_last_double_star_takes_plain_arguments_only() {
        let ruff = strings(&["check", "**"]);
        let ws = Some(Path::new("/w/t"));
        assert!(matches(&ruff, &strings(&["check"]), ws));
        assert!(matches(&ruff, &strings(&["check", "src", "/w/t/tests"]), ws));
        assert!(!matches(&ruff, &strings(&["check", "--fix"]), ws));
        assert!(!matches(&ruff, &strings(&["check", "../x", "/etc"]), ws));
    }

    #[test]
    fn a_grant_covers_requests_in_the_same_shape() {
        let grant = strings(&["-q", "--junitxml=*"]);
        assert!(covers(&grant, &strings(&["-q", "--junitxml=/dev/stdout"])));
        assert!(!covers(&grant, &strings(&["--junitxml=*", "-q"])), "in order");
        assert!(!covers(&grant, &strings(&["-q"])));
        assert!(!covers(&strings(&["*"]), &strings(&["--output=*"])), "a flag needs a flag pattern");
        assert!(covers(&strings(&["check", "**"]), &strings(&["check", "*", "**"])));
        assert!(!covers(&strings(&["check", "*"]), &strings(&["check", "**"])), "`**` asks for more than `*` gives");
    }

    #[test]
    fn interpreters_must_pin_their_code() {
        assert!(is_interpreter("python3") && is_interpreter("/usr/bin/python3.11") && is_interpreter("sh"));
        assert!(!is_interpreter("pytest") && !is_interpreter("git"));
        assert!(pins_code(&strings(&["-B", "-m", "pytest", "-q", "--junitxml=*"])));
        assert!(pins_code(&strings(&["/srv/ci/gate.sh", "*"])));
        assert!(pins_code(&strings(&["-B", "-c", "import sys; sys.exit(0)"])));
        assert!(!pins_code(&strings(&["-B", "-q"])), "flags alone leave a script on stdin open");
        assert!(!pins_code(&[]));
        assert!(!pins_code(&strings(&["*"])));
        assert!(!pins_code(&strings(&["-m", "*"])));
        assert!(!pins_code(&strings(&["-B", "**"])));
    }
}
