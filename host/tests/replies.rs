//! The reply corpus (`tests/fixtures/replies/`): realistic replies of each
//! role in each edit format — fenced and bare, prose around, think blocks,
//! cut off, refused, CRLF, tabs against spaces, smart quotes, elided blocks,
//! ambiguous and missing search texts, edits made already — each read the
//! way the engine reads it (stop reason first, then the parser, then the
//! edits applied to a copy of `repo/`), with the outcome its manifest
//! expects. Prints the share of replies used as they came, per format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use orch_host::engine::plan::{parse_code_verdict, parse_plan, parse_plan_verdict};
use orch_host::engine::reply::Stopped;
use orch_host::workspace::Format;
use orch_host::workspace::edits::apply;
use serde::Deserialize;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/replies");

#[derive(Debug, Deserialize)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    role: String,
    format: String,
    expect: String,
    contains: Option<String>,
    stop: Option<String>,
    note: String,
}

/// What reading a reply came to, and the message when it failed.
fn outcome(case: &Case, reply: &str) -> (&'static str, String) {
    if let Some(stopped) = case.stop.as_deref().and_then(|stop| Stopped::from_reason(stop, reply)) {
        return match stopped {
            Stopped::Truncated => ("truncated", stopped.to_string()),
            _ => ("refused", stopped.to_string()),
        };
    }
    let parsed = |result: Result<(), String>| match result {
        Ok(()) => ("parses", String::new()),
        Err(e) => ("parse-error", e),
    };
    match case.role.as_str() {
        "planner" => parsed(parse_plan(reply).map(drop)),
        "plan_reviewer" => parsed(parse_plan_verdict(reply).map(drop)),
        "code_reviewer" => parsed(parse_code_verdict(reply).map(drop)),
        "implementer" => {
            let format: Format = case.format.parse().expect("a known format");
            let change = match orch_edits::parse(format, reply) {
                Ok(change) => change,
                Err(e) => return ("parse-error", e.to_string()),
            };
            let dir = tempfile::tempdir().unwrap();
            copy_repo(&Path::new(CORPUS).join("repo"), dir.path());
            match apply(dir.path(), &change.edits) {
                Ok(_) => ("applies", String::new()),
                Err(e) => ("apply-error", e.to_string()),
            }
        }
        other => panic!("{}: unknown role {other}", case.file),
    }
}

fn copy_repo(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn every_reply_in_the_corpus_reaches_its_expected_outcome() {
    let manifest: Manifest =
        toml::from_str(&std::fs::read_to_string(Path::new(CORPUS).join("corpus.toml")).unwrap()).unwrap();
    assert!(manifest.case.len() >= 30, "the corpus has {} cases", manifest.case.len());
    // Per format: replies, replies used as they came, and outcomes as expected.
    let mut rates: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut wrong = Vec::new();
    for case in &manifest.case {
        let path: PathBuf = Path::new(CORPUS).join(&case.file);
        let reply = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (got, message) = outcome(case, &reply);
        let rate = rates.entry(case.format.as_str()).or_default();
        rate.0 += 1;
        rate.1 += usize::from(matches!(got, "applies" | "parses"));
        let as_expected = got == case.expect && case.contains.as_deref().is_none_or(|piece| message.contains(piece));
        rate.2 += usize::from(as_expected);
        if !as_expected {
            wrong.push(format!("{} ({}): expected {}, got {got}: {message}", case.file, case.note, case.expect));
        }
    }
    println!("format          replies  used as they came  outcome as expected");
    for (format, (total, used, expected)) in &rates {
        println!("{format:<15} {total:>7}  {:>16.0}%  {expected:>10}/{total}", 100.0 * *used as f64 / *total as f64);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for format in ["search-replace", "whole", "patch", "json", "plan", "verdict"] {
        assert!(rates.contains_key(format), "the corpus covers {format}");
    }
}
