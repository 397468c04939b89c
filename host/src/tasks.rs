//! Tasks files: owns the [`TaskSpec`] schema and reads it from YAML, TOML or JSON, validating every task and
//! reporting each problem as one message with the file, the 1-based line and the field at fault.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How risky a task is; the host reviews riskier tasks more carefully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Docs, tests and other small local changes.
    Low,
    /// The default when a task does not say.
    #[default]
    Medium,
    /// Core code, security, public interfaces.
    High,
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        })
    }
}

impl FromStr for Risk {
    type Err = String;

    /// Parses `low`, `medium` or `high`; the error is the readable reason.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Risk::Low),
            "medium" => Ok(Risk::Medium),
            "high" => Ok(Risk::High),
            _ => Err(format!("unknown value {s:?}, expected one of low, medium, high")),
        }
    }
}

/// One task of a tasks file, as validated by [`parse`]; also the shape stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Unique id made of `[A-Za-z0-9._-]`; used as a git branch name and a file name.
    pub id: String,
    /// What the task must achieve; never blank.
    pub goal: String,
    /// How risky the task is (default medium).
    #[serde(default)]
    pub risk: Risk,
    /// Area of the code base the task touches (default "unknown").
    #[serde(default = "default_area")]
    pub area: String,
    /// Free-form labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Files or notes for the planner.
    #[serde(default)]
    pub context: Vec<String>,
    /// Ids of tasks that must be done first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Repository the task works in (seed field).
    #[serde(default)]
    pub repo: Option<String>,
    /// Files the task should look at (seed field).
    #[serde(default)]
    pub context_files: Vec<String>,
    /// Rules the change must respect (seed field).
    #[serde(default)]
    pub constraints: Vec<String>,
}

fn default_area() -> String {
    "unknown".to_owned()
}

impl TaskSpec {
    /// A task with `id` and `goal` and every other field at its default.
    pub fn new(id: impl Into<String>, goal: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            goal: goal.into(),
            risk: Risk::default(),
            area: default_area(),
            labels: Vec::new(),
            context: Vec::new(),
            depends_on: Vec::new(),
            repo: None,
            context_files: Vec::new(),
            constraints: Vec::new(),
        }
    }
}

/// Fields a task may have, in the order they are listed in error messages.
const FIELDS: [&str; 10] =
    ["id", "goal", "risk", "area", "labels", "context", "depends_on", "repo", "context_files", "constraints"];

/// A parsed and validated tasks file.
#[derive(Debug, Clone, PartialEq)]
pub struct TasksFile {
    /// The file the tasks came from.
    pub path: PathBuf,
    /// The tasks, in file order.
    pub tasks: Vec<TaskSpec>,
}

/// Why a tasks file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TasksError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid tasks file.
    #[error("{}:{line}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        problem: Problem,
    },
}

/// What is wrong in an invalid tasks file; a task is named `task "id"`, or `task #N` (1-based) when it has no id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The parser rejected the text: (1-based column, the parser's message).
    #[error("syntax error at column {0}: {1}")]
    Syntax(usize, String),
    /// The file holds no task: (the file, as displayed).
    #[error("no tasks in {0}")]
    NoTasks(String),
    /// A value has the wrong shape: (where, what was expected, what was found).
    #[error("{0}: expected {1}, found {2}")]
    Shape(String, &'static str, &'static str),
    /// A field outside the schema: (`top level` or the task, the field, the fields allowed there).
    #[error("{0}: unknown field `{1}`, allowed fields: {2}")]
    UnknownField(String, String, String),
    /// A required field is absent: (the task, the field).
    #[error("{0}: missing field `{1}`")]
    MissingField(String, &'static str),
    /// A field has a bad value: (the task, the field, why it is refused).
    #[error("{0}: field `{1}`: {2}")]
    InvalidField(String, String, String),
    /// Two tasks share an id: (the id, line of the first task with it).
    #[error("duplicate task id {0:?} (first defined at line {1})")]
    DuplicateId(String, usize),
    /// A task depends on an id that no task has: (the task's id, the dependency).
    #[error("task {0:?}: depends_on {1:?}: no task has this id")]
    UnknownDependency(String, String),
    /// A task lists itself in `depends_on`: (its id).
    #[error("task {0:?}: depends_on {0:?}: a task cannot depend on itself")]
    SelfDependency(String),
    /// Tasks depend on each other in a loop: the ids along it, from the one defined first, repeated at the end.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Yaml,
    Toml,
    Json,
}

/// Reads and validates the tasks file at `path`; the format follows the extension (YAML unless `.toml`/`.json`).
///
/// # Errors
/// [`TasksError::Read`] if the file cannot be read, else as [`parse`].
pub fn load(path: &Path) -> Result<TasksFile, TasksError> {
    let text = std::fs::read_to_string(path).map_err(|source| TasksError::Read { path: path.to_owned(), source })?;
    parse(&text, path)
}

/// Validates tasks from `text`, in the format given by the extension of `path`, which is also used in errors.
///
/// # Errors
/// [`TasksError::Invalid`] with the line and the [`Problem`] of the first thing found wrong.
pub fn parse(text: &str, path: &Path) -> Result<TasksFile, TasksError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let format = match ext.as_str() {
        "toml" => Format::Toml,
        "json" => Format::Json,
        _ => Format::Yaml,
    };
    let doc = Doc { text, path, format };
    let (prefix, items) = top_level(&doc)?;
    // Lines are looked up only to report an error: each lookup re-reads the text.
    let task_line = |i: usize| doc.line(&at(&prefix, &[Seg::Index(i)]), false, 1);
    let mut tasks = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        tasks.push(task(&doc, &at(&prefix, &[Seg::Index(i)]), i, item, || task_line(i))?);
    }
    check_dependencies(&doc, &prefix, &tasks, task_line)?;
    Ok(TasksFile { path: path.to_owned(), tasks })
}

/// The text being validated, with what is needed to point at places in it.
struct Doc<'a> {
    text: &'a str,
    path: &'a Path,
    format: Format,
}

impl Doc<'_> {
    fn fail<T>(&self, line: usize, problem: Problem) -> Result<T, TasksError> {
        Err(TasksError::Invalid { path: self.path.to_owned(), line, problem })
    }

    /// 1-based line of the node at `segs` (of its key if `at_key`), or `fallback` if it cannot be found.
    fn line(&self, segs: &[Seg<'_>], at_key: bool, fallback: usize) -> usize {
        locate(self.text, self.format, segs, at_key).unwrap_or(fallback)
    }
}

/// Checks the top level and returns the path to the task list and its items.
fn top_level(doc: &Doc<'_>) -> Result<(Vec<Seg<'static>>, Vec<Value>), TasksError> {
    let no_tasks = |line| doc.fail(line, Problem::NoTasks(doc.path.display().to_string()));
    if doc.text.trim().is_empty() {
        return no_tasks(1);
    }
    let (prefix, items) = match parse_value(doc.text, doc.format) {
        Err((line, column, message)) => return doc.fail(line, Problem::Syntax(column, message)),
        Ok(Value::Array(items)) => (vec![], items),
        Ok(Value::Null) => return no_tasks(1),
        Ok(Value::Object(mut map)) => {
            if let Some(field) = map.keys().find(|k| *k != "tasks") {
                let problem = Problem::UnknownField("top level".into(), field.clone(), "tasks".into());
                return doc.fail(doc.line(&[Seg::Key(field)], true, 1), problem);
            }
            let line = doc.line(&[Seg::Key("tasks")], false, 1);
            match map.remove("tasks") {
                Some(Value::Array(items)) => (vec![Seg::Key("tasks")], items),
                None | Some(Value::Null) => return no_tasks(line),
                Some(other) => return doc.fail(line, Problem::Shape("field `tasks`".into(), "a list", kind(&other))),
            }
        }
        Ok(other) => {
            return doc.fail(1, Problem::Shape("top level".into(), "a `tasks` list or a list of tasks", kind(&other)));
        }
    };
    if items.is_empty() {
        return no_tasks(doc.line(&prefix, false, 1));
    }
    Ok((prefix, items))
}

/// Checks the task at `segs` (the `i`-th, starting on `line`) field by field and builds it.
fn task(
    doc: &Doc<'_>,
    segs: &[Seg<'_>],
    i: usize,
    item: &Value,
    line: impl Fn() -> usize,
) -> Result<TaskSpec, TasksError> {
    let task = match item.get("id") {
        Some(Value::String(id)) if !id.is_empty() => format!("task {id:?}"),
        _ => format!("task #{}", i + 1),
    };
    let Value::Object(map) = item else {
        return doc.fail(line(), Problem::Shape(task, "a mapping of task fields", kind(item)));
    };
    let mut spec = TaskSpec::new(String::new(), String::new());
    for (key, value) in map {
        let checked = match key.as_str() {
            "id" => text_of(value).and_then(check_id).map(|v| spec.id = v),
            "goal" => text_of(value).and_then(check_goal).map(|v| spec.goal = v),
            "risk" => risk_of(value).map(|v| spec.risk = v),
            "area" => text_of(value).map(|v| spec.area = v),
            "labels" => list_of(value).map(|v| spec.labels = v),
            "context" => list_of(value).map(|v| spec.context = v),
            "depends_on" => list_of(value).map(|v| spec.depends_on = v),
            "repo" if value.is_null() => Ok(()),
            "repo" => text_of(value).map(|v| spec.repo = Some(v)),
            "context_files" => list_of(value).map(|v| spec.context_files = v),
            "constraints" => list_of(value).map(|v| spec.constraints = v),
            _ => {
                let key_line = doc.line(&at(segs, &[Seg::Key(key)]), true, line());
                return doc.fail(key_line, Problem::UnknownField(task, key.clone(), FIELDS.join(", ")));
            }
        };
        if let Err((reason, index)) = checked {
            let mut path = at(segs, &[Seg::Key(key)]);
            path.extend(index.map(Seg::Index));
            let field = index.map_or_else(|| key.clone(), |j| format!("{key}[{j}]"));
            return doc.fail(doc.line(&path, false, line()), Problem::InvalidField(task, field, reason));
        }
    }
    if let Some(field) = ["id", "goal"].into_iter().find(|f| !map.contains_key(*f)) {
        return doc.fail(line(), Problem::MissingField(task, field));
    }
    Ok(spec)
}

/// Checks that ids are unique and that `depends_on` names other tasks without forming a cycle.
fn check_dependencies(
    doc: &Doc<'_>,
    prefix: &[Seg<'_>],
    tasks: &[TaskSpec],
    task_line: impl Fn(usize) -> usize,
) -> Result<(), TasksError> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        if let Some(&j) = first.get(task.id.as_str()) {
            return doc.fail(task_line(i), Problem::DuplicateId(task.id.clone(), task_line(j)));
        }
        first.insert(&task.id, i);
    }
    for (i, task) in tasks.iter().enumerate() {
        for (j, dep) in task.depends_on.iter().enumerate() {
            let line =
                || doc.line(&at(prefix, &[Seg::Index(i), Seg::Key("depends_on"), Seg::Index(j)]), false, task_line(i));
            if *dep == task.id {
                return doc.fail(line(), Problem::SelfDependency(dep.clone()));
            } else if !first.contains_key(dep.as_str()) {
                return doc.fail(line(), Problem::UnknownDependency(task.id.clone(), dep.clone()));
            }
        }
    }
    if let Some(cycle) = find_cycle(tasks, &first) {
        let names = cycle.iter().chain(&cycle[..1]).map(|&i| tasks[i].id.clone()).collect();
        return doc.fail(task_line(cycle[0]), Problem::Cycle(names));
    }
    Ok(())
}

/// Parses the text into a generic value, or returns the parser's (line, column, message).
fn parse_value(text: &str, format: Format) -> Result<Value, (usize, usize, String)> {
    let strip = |message: String, line: usize, column: usize| {
        let message = message.replacen(&format!(" at line {line} column {column}"), "", 1);
        (line.max(1), column.max(1), message)
    };
    match format {
        // The YAML crate's own value type refuses duplicate keys, which a JSON value would silently overwrite.
        Format::Yaml => serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
            .and_then(|_| serde_yaml_ng::from_str(text))
            .map_err(|e| {
                let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
                strip(e.to_string(), line, column)
            }),
        Format::Json => serde_json::from_str(text).map_err(|e| strip(e.to_string(), e.line(), e.column())),
        Format::Toml => toml::from_str(text).map_err(|e| {
            let start = e.span().map_or(0, |s| s.start.min(text.len()));
            let before = text.get(..start).unwrap_or(text);
            let column = before[before.rfind('\n').map_or(0, |n| n + 1)..].chars().count() + 1;
            (line_at(text, start), column, e.message().trim().to_owned())
        }),
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A field check failure: the reason, and the index of the bad list element if any.
type Refusal = (String, Option<usize>);

fn text_of(value: &Value) -> Result<String, Refusal> {
    value.as_str().map(str::to_owned).ok_or_else(|| (format!("expected a string, found {}", kind(value)), None))
}

fn list_of(value: &Value) -> Result<Vec<String>, Refusal> {
    let Value::Array(items) = value else {
        return Err((format!("expected a list of strings, found {}", kind(value)), None));
    };
    let text = |(j, item): (usize, &Value)| text_of(item).map_err(|(reason, _)| (reason, Some(j)));
    items.iter().enumerate().map(text).collect()
}

fn risk_of(value: &Value) -> Result<Risk, Refusal> {
    match value {
        Value::String(s) => s.parse().map_err(|reason| (reason, None)),
        _ => Err((format!("expected one of low, medium, high, found {}", kind(value)), None)),
    }
}

fn check_id(id: String) -> Result<String, Refusal> {
    let refuse = |reason: String| Err((reason, None));
    if id.is_empty() {
        return refuse("must not be empty".to_owned());
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return refuse(format!("invalid character {c:?} in {id:?}, allowed are A-Z a-z 0-9 . _ -"));
    }
    if id.starts_with(['.', '-']) || id.contains("..") || id.ends_with(".lock") {
        return refuse(format!("{id:?} is not a valid branch name (no leading . or -, no .., no .lock suffix)"));
    }
    Ok(id)
}

fn check_goal(goal: String) -> Result<String, Refusal> {
    if goal.trim().is_empty() { Err(("must not be empty".to_owned(), None)) } else { Ok(goal) }
}

/// Finds a dependency cycle; returns task indices along it, starting with the earliest task of the cycle.
fn find_cycle(tasks: &[TaskSpec], index: &HashMap<&str, usize>) -> Option<Vec<usize>> {
    fn visit(
        i: usize,
        tasks: &[TaskSpec],
        index: &HashMap<&str, usize>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        stack.push(i);
        for dep in &tasks[i].depends_on {
            let Some(&j) = index.get(dep.as_str()) else { continue };
            if state[j] == 1 {
                let mut cycle = stack[stack.iter().position(|&k| k == j)?..].to_vec();
                let earliest = (0..cycle.len()).min_by_key(|&k| cycle[k])?;
                cycle.rotate_left(earliest);
                return Some(cycle);
            }
            if state[j] == 0
                && let Some(cycle) = visit(j, tasks, index, state, stack)
            {
                return Some(cycle);
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    let mut state = vec![0u8; tasks.len()];
    (0..tasks.len())
        .find_map(|i| if state[i] == 0 { visit(i, tasks, index, &mut state, &mut Vec::new()) } else { None })
}

fn at<'a>(prefix: &[Seg<'a>], extra: &[Seg<'a>]) -> Vec<Seg<'a>> {
    prefix.iter().chain(extra).copied().collect()
}

/// One step of a path into the document: a mapping key or a list index.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Text that marks the error raised on purpose by [`Probe`], as opposed to any other error.
const MARKER: &str = "orch-tasks-location-probe";

/// Walks the document along `path` with the format's own deserializer and fails on purpose at its end (at the
/// key itself if `at_key`), so the error carries the parser's position of that node.
#[derive(Clone, Copy)]
struct Probe<'a> {
    path: &'a [Seg<'a>],
    at_key: bool,
}

/// 1-based line of the node at `path` (or of its key if `at_key`), found by running a [`Probe`].
fn locate(text: &str, format: Format, path: &[Seg<'_>], at_key: bool) -> Option<usize> {
    let probe = Probe { path, at_key };
    let ours = |message: String| message.contains(MARKER);
    match format {
        Format::Yaml => {
            let err = probe.deserialize(serde_yaml_ng::Deserializer::from_str(text)).err()?;
            err.location().filter(|_| ours(err.to_string())).map(|l| l.line())
        }
        Format::Json => {
            let err = probe.deserialize(&mut serde_json::Deserializer::from_str(text)).err()?;
            ours(err.to_string()).then(|| err.line())
        }
        Format::Toml => {
            let err = probe.deserialize(toml::Deserializer::parse(text).ok()?).err()?;
            err.span().filter(|_| ours(err.message().to_owned())).map(|s| line_at(text, s.start))
        }
    }
}

/// Fails with the marker on whatever it is given; a string request makes parsers report the node's start.
struct Fail;

impl Visitor<'_> for Fail {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MARKER)
    }
}

/// Reads one mapping key; fails with the marker if it is `want` and `fail` is set, else says if it matched.
struct KeyProbe<'a> {
    want: &'a str,
    fail: bool,
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyProbe<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        if key == self.want && self.fail { Err(E::custom(MARKER)) } else { Ok(key == self.want) }
    }
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.path.is_empty() { d.deserialize_str(Fail) } else { d.deserialize_any(self) }
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping or a list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(want), rest)) = self.path.split_first() else { return Err(de::Error::custom("no key")) };
        let fail = self.at_key && rest.is_empty();
        while let Some(hit) = map.next_key_seed(KeyProbe { want, fail })? {
            if hit {
                return map.next_value_seed(Probe { path: rest, ..self });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom("key not found"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((&Seg::Index(want), rest)) = self.path.split_first() else {
            return Err(de::Error::custom("no index"));
        };
        for _ in 0..want {
            seq.next_element::<IgnoredAny>()?;
        }
        seq.next_element_seed(Probe { path: rest, ..self })?;
        Err(de::Error::custom("index not found"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"tasks:
  - id: fix-auth-timeout
    goal: "Fix the session timeout bug in the auth middleware"
    risk: high
    area: core
    repo: ./services/api
    context_files:
      - src/auth/middleware.py
      - tests/test_auth.py
    constraints:
      - "Do not change the public API"
  - id: docs-readme
    goal: Update the README install section
    risk: low
    area: docs
"#;

    const SEED_TOML: &str = r#"[[tasks]]
id = "fix-auth-timeout"
goal = "Fix the session timeout bug in the auth middleware"
risk = "high"
area = "core"
repo = "./services/api"
context_files = ["src/auth/middleware.py", "tests/test_auth.py"]
constraints = ["Do not change the public API"]

[[tasks]]
id = "docs-readme"
goal = "Update the README install section"
risk = "low"
area = "docs"
"#;

    fn ok(text: &str, file: &str) -> TasksFile {
        parse(text, Path::new(file)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The line each task of a valid file starts on, as errors report it.
    fn lines_of(text: &str, file: &str) -> Vec<usize> {
        let format = match file.rsplit('.').next() {
            Some("toml") => Format::Toml,
            Some("json") => Format::Json,
            _ => Format::Yaml,
        };
        (0..ok(text, file).tasks.len())
            .map(|i| {
                locate(text, format, &[Seg::Key("tasks"), Seg::Index(i)], false)
                    .or_else(|| locate(text, format, &[Seg::Index(i)], false))
                    .unwrap()
            })
            .collect()
    }

    /// Returns the error's line, its full message, and its problem.
    fn bad(text: &str, file: &str) -> (usize, String, Problem) {
        match parse(text, Path::new(file)) {
            Err(e @ TasksError::Invalid { .. }) => {
                let TasksError::Invalid { line, ref problem, .. } = e else { unreachable!() };
                (line, e.to_string(), problem.clone())
            }
            other => panic!("expected an invalid file, got {other:?}"),
        }
    }

    #[test]
    fn seed_example_parses_with_values_and_lines() {
        let file = ok(SEED, "tasks.yaml");
        assert_eq!(file.path, Path::new("tasks.yaml"));
        assert_eq!(lines_of(SEED, "tasks.yaml"), vec![2, 12]);
        let [fix, docs] = &file.tasks[..] else { panic!("two tasks expected") };
        assert_eq!(fix.id, "fix-auth-timeout");
        assert_eq!(fix.goal, "Fix the session timeout bug in the auth middleware");
        assert_eq!((fix.risk, fix.area.as_str(), fix.repo.as_deref()), (Risk::High, "core", Some("./services/api")));
        assert_eq!(fix.context_files, ["src/auth/middleware.py", "tests/test_auth.py"]);
        assert_eq!(fix.constraints, ["Do not change the public API"]);
        assert_eq!(
            (docs.id.as_str(), docs.risk, docs.area.as_str(), docs.repo.as_ref()),
            ("docs-readme", Risk::Low, "docs", None)
        );
        assert!(docs.labels.is_empty() && docs.context.is_empty() && docs.depends_on.is_empty());
    }

    #[test]
    fn toml_and_json_parse_equal_to_yaml() {
        let yaml = ok(SEED, "tasks.yml");
        let toml = ok(SEED_TOML, "tasks.toml");
        assert_eq!(toml.tasks, yaml.tasks);
        assert_eq!(lines_of(SEED_TOML, "tasks.toml"), vec![1, 10]);
        let json_text = format!("{{\n\"tasks\": {}\n}}", serde_json::to_string_pretty(&yaml.tasks).unwrap());
        let json = ok(&json_text, "tasks.json");
        assert_eq!(json.tasks, yaml.tasks);
        let id_line = |id: &str| json_text.lines().position(|l| l.contains(&format!("\"id\": \"{id}\""))).unwrap() + 1;
        assert_eq!(
            lines_of(&json_text, "tasks.json"),
            vec![id_line("fix-auth-timeout") - 1, id_line("docs-readme") - 1]
        );
        let bare = serde_json::to_string(&yaml.tasks).unwrap();
        assert_eq!(ok(&bare, "tasks.json").tasks, yaml.tasks);
    }

    #[test]
    fn flow_style_bare_list_and_defaults() {
        let flow = ok("# tasks\ntasks:\n  - {id: a, goal: A}\n  - {id: b, goal: B, depends_on: [a]}\n", "t.yaml");
        assert_eq!(
            lines_of("# tasks\ntasks:\n  - {id: a, goal: A}\n  - {id: b, goal: B, depends_on: [a]}\n", "t.yaml"),
            vec![3, 4]
        );
        assert_eq!(flow.tasks[1].depends_on, ["a"]);
        assert_eq!(lines_of("tasks: [{id: a, goal: A}, {id: b, goal: B}]\n", "t.yaml"), vec![1, 1]);
        let bare = ok("- id: a\n  goal: A\n\n- id: b.2_x\n  goal: B\n  labels: [x]\n", "tasks.txt");
        assert_eq!(lines_of("- id: a\n  goal: A\n\n- id: b.2_x\n  goal: B\n  labels: [x]\n", "tasks.txt"), vec![1, 4]);
        let a = &bare.tasks[0];
        assert_eq!((a.risk, a.area.as_str(), a.repo.as_ref()), (Risk::Medium, "unknown", None));
        assert!(a.labels.is_empty() && a.context.is_empty() && a.context_files.is_empty() && a.constraints.is_empty());
        assert_eq!(bare.tasks[1].labels, ["x"]);
        assert_eq!(serde_json::from_str::<TaskSpec>(r#"{"id":"a","goal":"A"}"#).unwrap(), *a);
        assert_eq!(
            (Risk::default(), Risk::High.to_string(), "low".parse()),
            (Risk::Medium, "high".to_owned(), Ok(Risk::Low))
        );
    }

    #[test]
    fn syntax_errors_use_parser_position() {
        let (line, msg, problem) = bad("tasks:\n  - id: a\n    goal: [oops\n  - id: b\n", "tasks.yaml");
        assert!(matches!(problem, Problem::Syntax(..)), "{msg}");
        assert!(msg.starts_with(&format!("tasks.yaml:{line}: syntax error at column")) && line >= 3, "{msg}");
        let (line, msg, _) = bad("{\"tasks\": [\n  {\"id\": \"a\",, \"goal\": \"A\"}\n]}\n", "tasks.json");
        assert_eq!(line, 2, "{msg}");
        assert!(msg.starts_with("tasks.json:2: syntax error at column 14: key must be a string"), "{msg}");
        let (line, msg, _) = bad("[[tasks]]\nid = \"a\"\ngoal = \n", "tasks.toml");
        assert_eq!(line, 3, "{msg}");
        assert!(msg.starts_with("tasks.toml:3: syntax error at column"), "{msg}");
    }

    #[test]
    fn unknown_fields_name_the_field_and_allowed_ones() {
        let (line, msg, _) = bad("tasks:\n  - id: a\n    goal: A\n    prio: 3\n", "tasks.yaml");
        assert_eq!(line, 4);
        assert!(
            msg.starts_with("tasks.yaml:4: task \"a\": unknown field `prio`, allowed fields: id, goal, risk"),
            "{msg}"
        );
        let (line, msg, _) = bad("tasks:\n  - id: a\n    goal: A\nversion: 2\n", "tasks.yaml");
        assert_eq!(
            (line, msg.as_str()),
            (4, "tasks.yaml:4: top level: unknown field `version`, allowed fields: tasks")
        );
        let (line, msg, _) = bad("[[tasks]]\nid = \"a\"\ngoal = \"A\"\n\n[[tasks]]\nid = \"b\"\nprio = 1\n", "t.toml");
        assert_eq!(line, 7, "{msg}");
        assert!(msg.contains("task \"b\": unknown field `prio`"), "{msg}");
    }

    #[test]
    fn bad_values_point_at_the_field() {
        let text = "tasks:\n  - id: a\n    goal: A\n\n  - id: b\n    goal: B\n    risk: hgh\n";
        let (line, msg, _) = bad(text, "tasks.yaml");
        assert_eq!(line, 7);
        assert_eq!(
            msg,
            "tasks.yaml:7: task \"b\": field `risk`: unknown value \"hgh\", expected one of low, medium, high"
        );
        let json =
            "{\n  \"tasks\": [\n    {\n      \"id\": \"a\",\n      \"goal\": \"A\",\n      \"risk\": 3\n    }\n  ]\n}";
        let (line, msg, _) = bad(json, "tasks.json");
        assert_eq!(
            (line, msg.as_str()),
            (6, "tasks.json:6: task \"a\": field `risk`: expected one of low, medium, high, found a number")
        );
        let (line, msg, _) = bad("[[tasks]]\nid = \"a\"\ngoal = \"A\"\nrisk = \"huge\"\n", "tasks.toml");
        assert_eq!(line, 4, "{msg}");
        assert!(msg.contains("field `risk`: unknown value \"huge\""), "{msg}");
        let (line, msg, _) = bad("tasks:\n  - id: a\n    goal: A\n    labels:\n      - ok\n      - 3\n", "tasks.yaml");
        assert_eq!(
            (line, msg.as_str()),
            (6, "tasks.yaml:6: task \"a\": field `labels[1]`: expected a string, found a number")
        );
        let (line, msg, _) = bad("tasks:\n  - id: a\n    goal: A\n  - oops\n", "tasks.yaml");
        assert_eq!(
            (line, msg.as_str()),
            (4, "tasks.yaml:4: task #2: expected a mapping of task fields, found a string")
        );
        let (_, msg, _) = bad("tasks: 3\n", "tasks.yaml");
        assert_eq!(msg, "tasks.yaml:1: field `tasks`: expected a list, found a number");
    }

    #[test]
    fn missing_and_empty_required_fields() {
        let (line, msg, _) = bad("tasks:\n  - id: a\n    goal: A\n  - goal: B\n", "tasks.yaml");
        assert_eq!((line, msg.as_str()), (4, "tasks.yaml:4: task #2: missing field `id`"));
        let (line, msg, _) = bad("tasks:\n  - id: a\n    risk: low\n", "tasks.yaml");
        assert_eq!((line, msg.as_str()), (2, "tasks.yaml:2: task \"a\": missing field `goal`"));
        let (line, msg, _) = bad("tasks:\n  - id: a\n    goal: \"  \"\n", "tasks.yaml");
        assert_eq!((line, msg.as_str()), (3, "tasks.yaml:3: task \"a\": field `goal`: must not be empty"));
        let (line, msg, _) = bad("tasks:\n  - goal: A\n    id: \"\"\n", "tasks.yaml");
        assert_eq!((line, msg.as_str()), (3, "tasks.yaml:3: task #1: field `id`: must not be empty"));
    }

    #[test]
    fn bad_ids_are_refused() {
        let (line, msg, _) = bad("tasks:\n  - goal: A\n    id: fix auth\n", "tasks.yaml");
        assert_eq!(line, 3);
        assert!(msg.starts_with("tasks.yaml:3: task \"fix auth\": field `id`: invalid character ' '"), "{msg}");
        let (_, msg, _) = bad("tasks:\n  - {id: a/b, goal: A}\n", "tasks.yaml");
        assert!(msg.contains("invalid character '/'"), "{msg}");
        for id in ["-x", ".x", "a..b", "a.lock"] {
            let (_, msg, _) = bad(&format!("[{{\"id\": \"{id}\", \"goal\": \"A\"}}]"), "t.json");
            assert!(msg.contains("is not a valid branch name"), "{msg}");
        }
    }

    #[test]
    fn duplicate_ids_and_bad_dependencies() {
        let text = "tasks:\n  - id: a\n    goal: A\n  - id: b\n    goal: B\n  - id: a\n    goal: C\n";
        let (line, msg, problem) = bad(text, "tasks.yaml");
        assert_eq!((line, msg.as_str()), (6, "tasks.yaml:6: duplicate task id \"a\" (first defined at line 2)"));
        assert_eq!(problem, Problem::DuplicateId("a".into(), 2));
        let text = "tasks:\n  - id: a\n    goal: A\n    depends_on:\n      - b\n      - zzz\n  - id: b\n    goal: B\n";
        let (line, msg, _) = bad(text, "tasks.yaml");
        assert_eq!((line, msg.as_str()), (6, "tasks.yaml:6: task \"a\": depends_on \"zzz\": no task has this id"));
        let (line, msg, _) = bad("[[tasks]]\nid = \"a\"\ngoal = \"A\"\ndepends_on = [\"a\"]\n", "x/tasks.toml");
        assert_eq!(
            (line, msg.as_str()),
            (4, "x/tasks.toml:4: task \"a\": depends_on \"a\": a task cannot depend on itself")
        );
    }

    #[test]
    fn cycles_report_the_path_from_the_earliest_task() {
        let text = "tasks:\n  - {id: x, goal: X, depends_on: [b]}\n  - {id: a, goal: A, depends_on: [b]}\n  \
                    - {id: b, goal: B, depends_on: [c]}\n  - {id: c, goal: C, depends_on: [a]}\n";
        let (line, msg, problem) = bad(text, "tasks.yaml");
        assert_eq!((line, msg.as_str()), (3, "tasks.yaml:3: dependency cycle: a -> b -> c -> a"));
        assert_eq!(problem, Problem::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
        let json = r#"[
  {"id": "p", "goal": "P", "depends_on": ["q"]},
  {"id": "q", "goal": "Q", "depends_on": ["p"]}
]"#;
        assert_eq!(bad(json, "t.json").1, "t.json:2: dependency cycle: p -> q -> p");
        assert_eq!(
            ok(
                "- {id: a, goal: A}\n- {id: b, goal: B, depends_on: [a]}\n- {id: c, goal: C, depends_on: [a, b]}\n",
                "t.yaml"
            )
            .tasks
            .len(),
            3
        );
    }

    #[test]
    fn empty_files_have_no_tasks() {
        assert_eq!(bad("tasks: []\n", "tasks.yaml").1, "tasks.yaml:1: no tasks in tasks.yaml");
        assert_eq!(bad("# nothing yet\n", "tasks.yaml").1, "tasks.yaml:1: no tasks in tasks.yaml");
        assert_eq!(bad("[]", "tasks.json").1, "tasks.json:1: no tasks in tasks.json");
        assert_eq!(bad("# none\n", "tasks.toml").1, "tasks.toml:1: no tasks in tasks.toml");
        assert_eq!(bad("\n\ntasks:\n", "dir/tasks.yaml").1, "dir/tasks.yaml:3: no tasks in dir/tasks.yaml");
    }

    #[test]
    fn load_reads_files_and_reports_read_errors() {
        let dir = std::env::temp_dir().join(format!("orch-tasks-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tasks.toml");
        std::fs::write(&path, SEED_TOML).unwrap();
        let file = load(&path).unwrap();
        assert_eq!((file.path.as_path(), file.tasks.len()), (path.as_path(), 2));
        let missing = dir.join("missing.yaml");
        let err = load(&missing).unwrap_err();
        assert!(matches!(err, TasksError::Read { .. }));
        assert!(err.to_string().starts_with(&format!("{}: cannot read:", missing.display())), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
