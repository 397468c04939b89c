//! The plugin's settings: the `checks` config key parsed and validated into
//! [`Check`]s, the arguments a check runs with (placeholders filled in), and
//! the capability patterns that allow exactly those arguments.

use std::collections::HashSet;

use orch_sdk::{Capabilities, PluginError};
use serde::Deserialize;

/// The config key holding the checks.
pub const CHECKS_KEY: &str = "checks";

/// A check's timeout when it does not set `timeout_ms`: ten minutes.
pub const DEFAULT_TIMEOUT_MS: u32 = 600_000;

/// Replaced by the request's workspace path; `*` in the capability pattern.
pub const WORKSPACE_PLACEHOLDER: &str = "{workspace}";

/// Replaced by [`JUNIT_REPORT_PATH`], in the arguments and the patterns alike.
pub const JUNIT_PLACEHOLDER: &str = "{junit}";

/// Where a check writes its JUnit report: the process's own standard output,
/// which comes back fresh with every run. A report file in the workspace,
/// which is read-only to the plugin, could not be cleared before a run, so a
/// run that died early would leave the last run's report to be read.
pub const JUNIT_REPORT_PATH: &str = "/dev/stdout";

/// How a check's output becomes findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parse {
    /// A JUnit XML report in stdout: a finding per failed or errored test case.
    Junit,
    /// `file:line[:col]: message` lines in stdout and stderr: a finding each.
    Lines,
    /// Only the exit code counts.
    #[default]
    Exit,
}

/// One command the gate runs, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Short name for the summary and findings, e.g. `tests` or `lint`.
    pub name: String,
    /// The program: a name on the host's PATH or an absolute path.
    pub program: String,
    /// Arguments, with `{workspace}` and `{junit}` placeholders.
    #[serde(default)]
    pub args: Vec<String>,
    /// How to read the output; `exit` when not set.
    #[serde(default)]
    pub parse: Parse,
    /// How long the command may run.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl Check {
    /// The arguments to run with in `workspace`, placeholders filled in.
    pub fn args_for(&self, workspace: &str) -> Vec<String> {
        self.args
            .iter()
            .map(|arg| arg.replace(WORKSPACE_PLACEHOLDER, workspace).replace(JUNIT_PLACEHOLDER, JUNIT_REPORT_PATH))
            .collect()
    }

    /// The `*`-patterns to ask for: the arguments with `{workspace}` as `*`.
    pub fn arg_patterns(&self) -> Vec<String> {
        self.args_for("*")
    }

    fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` is empty".into());
        }
        if self.program.trim().is_empty() {
            return Err("`program` is empty".into());
        }
        if self.program.contains('/') && !self.program.starts_with('/') {
            return Err(format!("`program` (`{}`) must be a name on PATH or an absolute path", self.program));
        }
        if self.timeout_ms == 0 {
            return Err("`timeout_ms` must be more than 0".into());
        }
        if self.parse != Parse::Junit && self.args.iter().any(|arg| arg.contains(JUNIT_PLACEHOLDER)) {
            return Err(format!("`{JUNIT_PLACEHOLDER}` is only for checks with `parse` = \"junit\""));
        }
        Ok(())
    }
}

/// Reads and validates the checks through `lookup` (the SDK's
/// [`config::get`](orch_sdk::config::get) in the plugin). Anything wrong is
/// an `invalid-input` error naming the key and, where there is one, the check.
pub fn checks_from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<Check>, PluginError> {
    let invalid = |why: String| PluginError::InvalidInput(format!("config key `{CHECKS_KEY}` {why}"));
    let raw = lookup(CHECKS_KEY).ok_or_else(|| {
        invalid(
            "is missing: list the commands to run, e.g. \
             [{ name = \"tests\", program = \"pytest\", args = [\"-q\", \"--junitxml={junit}\"], parse = \"junit\" }]"
                .into(),
        )
    })?;
    let items: Vec<serde_json::Value> =
        serde_json::from_str(&raw).map_err(|e| invalid(format!("must be an array of checks: {e}")))?;
    if items.is_empty() {
        return Err(invalid("lists no checks".into()));
    }
    let mut names = HashSet::new();
    let mut checks = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let label = check_label(index, &item);
        let check: Check = serde_json::from_value(item).map_err(|e| invalid(format!("{label} is not valid: {e}")))?;
        check.validate().map_err(|why| invalid(format!("{label} is not valid: {why}")))?;
        if !names.insert(check.name.clone()) {
            return Err(invalid(format!("{label}: another check has the same name")));
        }
        checks.push(check);
    }
    Ok(checks)
}

/// `check 2 (`lint`)`: the 1-based position and, when it has one, the name.
fn check_label(index: usize, item: &serde_json::Value) -> String {
    match item.get("name").and_then(serde_json::Value::as_str) {
        Some(name) => format!("check {} (`{name}`)", index + 1),
        None => format!("check {}", index + 1),
    }
}

/// One command request per check, with its argument patterns.
pub fn capabilities(checks: &[Check]) -> Capabilities {
    checks.iter().fold(Capabilities::default(), |capabilities, check| {
        let patterns = check.arg_patterns();
        let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
        capabilities.command(check.program.clone(), &patterns)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Vec<Check>, PluginError> {
        checks_from_config(|key| (key == CHECKS_KEY).then(|| raw.to_owned()))
    }

    fn error_of(raw: &str) -> String {
        match parse(raw) {
            Err(PluginError::InvalidInput(message)) => message,
            other => panic!("expected invalid-input for {raw}, got {other:?}"),
        }
    }

    const TWO_CHECKS: &str = r#"[
        {"name": "tests", "program": "pytest", "args": ["-q", "--junitxml={junit}", "--rootdir={workspace}"],
         "parse": "junit", "timeout_ms": 120000},
        {"name": "lint", "program": "ruff", "args": ["check", "--output-format=concise", "."], "parse": "lines"}
    ]"#;

    #[test]
    fn reads_checks_with_defaults() {
        let checks = parse(TWO_CHECKS).unwrap();
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].name, "tests");
        assert_eq!(checks[0].parse, Parse::Junit);
        assert_eq!(checks[0].timeout_ms, 120_000);
        assert_eq!(checks[1].parse, Parse::Lines);
        assert_eq!(checks[1].timeout_ms, DEFAULT_TIMEOUT_MS);
        let bare = parse(r#"[{"name": "build", "program": "/usr/bin/make"}]"#).unwrap();
        assert_eq!(bare[0].parse, Parse::Exit);
        assert!(bare[0].args.is_empty());
    }

    #[test]
    fn placeholders_are_filled_in() {
        let checks = parse(TWO_CHECKS).unwrap();
        assert_eq!(checks[0].args_for("/ws/t1"), ["-q", "--junitxml=/dev/stdout", "--rootdir=/ws/t1"]);
        assert_eq!(checks[1].args_for("/ws/t1"), ["check", "--output-format=concise", "."]);
    }

    #[test]
    fn capabilities_ask_for_one_command_per_check() {
        let capabilities = capabilities(&parse(TWO_CHECKS).unwrap());
        assert_eq!(capabilities.commands.len(), 2);
        assert_eq!(capabilities.commands[0].program, "pytest");
        assert_eq!(capabilities.commands[0].args, ["-q", "--junitxml=/dev/stdout", "--rootdir=*"]);
        assert_eq!(capabilities.commands[1].program, "ruff");
        assert_eq!(capabilities.commands[1].args, ["check", "--output-format=concise", "."]);
        assert!(capabilities.http.is_empty() && capabilities.secrets.is_empty() && capabilities.read_paths.is_empty());
    }

    #[test]
    fn missing_or_malformed_checks_name_the_key() {
        let missing = checks_from_config(|_| None);
        assert!(
            matches!(&missing, Err(PluginError::InvalidInput(m)) if m.contains("`checks` is missing")),
            "{missing:?}"
        );
        assert!(error_of("pytest -q").contains("`checks` must be an array"));
        assert!(error_of(r#"{"name": "tests"}"#).contains("`checks` must be an array"));
        assert!(error_of("[]").contains("`checks` lists no checks"));
    }

    #[test]
    fn a_bad_check_is_named() {
        let cases = [
            (r#"[{"name": "tests"}]"#, "check 1 (`tests`) is not valid: missing field `program`"),
            (r#"[{"program": "pytest"}]"#, "check 1 is not valid: missing field `name`"),
            (
                r#"[{"name": "a", "program": "x"}, {"name": "lint", "program": "ruff", "parse": "sarif"}]"#,
                "check 2 (`lint`)",
            ),
            (r#"[{"name": "t", "program": "pytest", "junit": "report.xml"}]"#, "unknown field `junit`"),
            (r#"[{"name": " ", "program": "pytest"}]"#, "`name` is empty"),
            (r#"[{"name": "t", "program": ""}]"#, "`program` is empty"),
            (r#"[{"name": "t", "program": "bin/pytest"}]"#, "name on PATH or an absolute path"),
            (r#"[{"name": "t", "program": "pytest", "timeout_ms": 0}]"#, "`timeout_ms` must be more than 0"),
            (r#"[{"name": "t", "program": "pytest", "timeout_ms": -5}]"#, "check 1 (`t`) is not valid"),
            (r#"[{"name": "t", "program": "ruff", "args": ["{junit}"], "parse": "lines"}]"#, "only for checks"),
            (r#"[{"name": "t", "program": "a"}, {"name": "t", "program": "b"}]"#, "check 2 (`t`): another check"),
        ];
        for (raw, expected) in cases {
            let message = error_of(raw);
            assert!(message.starts_with("config key `checks` "), "{message}");
            assert!(message.contains(expected), "{raw}: {message}");
        }
    }
}
