//! [`pipeline`]: a responder that plays every role of orch's default prompts
//! the way a cooperative model would — a plan in the expected JSON shape,
//! verdicts, a diff per step — deterministically, so recordings of it are
//! stable. It asks for one revision of plans for API work whose plan does not
//! cover the empty page and a bad cursor, to show the review loop.

use crate::reply::{MockReply, MockRequest};

/// The task as the default prompts state it: `Task ID (risk: R, area: A):`
/// then the goal, or `Task ID: GOAL` for the implementer and code reviewer.
struct TaskLine<'a> {
    id: &'a str,
    risk: &'a str,
    area: &'a str,
    goal: &'a str,
    files: Vec<&'a str>,
}

impl<'a> TaskLine<'a> {
    fn parse(prompt: &'a str) -> Self {
        let mut lines = prompt.lines().skip_while(|l| !l.starts_with("Task "));
        let head = lines.next().unwrap_or_default().trim_start_matches("Task ");
        let (id, rest) = head.split_once([' ', ':']).unwrap_or((head, ""));
        let field = |name: &str| {
            rest.split_once(&format!("{name}: ")).map(|(_, v)| v.split([',', ')']).next().unwrap_or_default())
        };
        let (risk, area, goal) = match (field("risk"), field("area")) {
            (Some(risk), Some(area)) => (risk, area, lines.next().unwrap_or_default()),
            _ => ("medium", "code", rest.trim_start_matches(':').trim()),
        };
        let files = prompt.lines().filter_map(|l| l.trim_start_matches("- ").strip_prefix("file: ")).collect();
        Self { id, risk, area, goal, files }
    }

    /// The file a change for this task touches.
    fn main_file(&self) -> String {
        match self.files.first() {
            Some(file) => (*file).to_owned(),
            None if self.area == "docs" => "README.md".to_owned(),
            None => format!("src/{}/{}.py", self.area, self.id.replace('-', "_")),
        }
    }
}

/// Answers a request written with orch's default prompts; anything else is
/// echoed back.
pub fn pipeline(request: &MockRequest) -> MockReply {
    let system = request.system.as_deref().unwrap_or_default();
    let first_user = request.messages.iter().find(|(role, _)| role == "user").map_or("", |(_, c)| c.as_str());
    let task = TaskLine::parse(first_user);
    let text = if system.contains("You are the planner") {
        plan(&task, first_user.contains("The reviewer rejected the previous plan"))
    } else if system.contains("You are the plan reviewer") {
        review_plan(&task, first_user)
    } else if system.contains("You are the implementer") {
        implement(&task, first_user, EditFormat::asked_in(system))
    } else if system.contains("You are the code reviewer") {
        r#"{"verdict": "approved", "concerns": [], "summary": "The change does what the step asks and keeps the public API; the tests cover it."}"#.to_owned()
    } else {
        request.last_user_message().unwrap_or_default().to_owned()
    };
    let words = |s: &str| s.split_whitespace().count() as u64;
    // Roughly four tokens for every three words, as tokenizers count English.
    let tokens = |n: u64| n * 4 / 3 + 1;
    let prompt_words = words(system) + request.messages.iter().map(|(_, c)| words(c)).sum::<u64>();
    MockReply { input_tokens: tokens(prompt_words), output_tokens: tokens(words(&text)), text, ..MockReply::default() }
}

fn plan(task: &TaskLine<'_>, revised: bool) -> String {
    let file = task.main_file();
    // Tests go beside the project's `src/`, e.g. `examples/demo/tests/`.
    let project = file.find("src/").map_or("", |at| &file[..at]);
    let test_file = format!("{project}tests/test_{}.py", task.id.replace('-', "_"));
    let mut steps = vec![serde_json::json!({
        "id": "step-1",
        "type": if task.area == "docs" { "docs" } else { "implementation" },
        "description": format!("{} ({})", task.goal.trim_end_matches('.'), file),
        "risk": task.risk,
        "estimated_complexity": if task.risk == "high" { "medium" } else { "small" },
        "files_to_read": task.files,
        "files_to_create": [],
        "files_to_modify": [file],
        "tests_required": [],
        "commands": [],
        "dependencies": [],
    })];
    if revised {
        steps.push(serde_json::json!({
            "id": "step-2",
            "type": "implementation",
            "description": "Return an empty page with no next cursor past the end, and 400 for a cursor that does not decode",
            "risk": task.risk,
            "estimated_complexity": "small",
            "files_to_modify": [task.main_file()],
            "dependencies": ["step-1"],
        }));
    }
    if task.area != "docs" {
        let n = steps.len() + 1;
        steps.push(serde_json::json!({
            "id": format!("step-{n}"),
            "type": "testing",
            "description": format!("Add tests for: {}", task.goal.trim_end_matches('.')),
            "risk": "low",
            "estimated_complexity": "trivial",
            "files_to_create": [test_file],
            "tests_required": [test_file],
            "commands": ["pytest -q"],
            "dependencies": ["step-1"],
        }));
    }
    serde_json::to_string_pretty(&serde_json::json!({
        "steps": steps,
        "estimated_duration": format!("{} hours", steps.len()),
        "rollback_strategy": "Revert the task's branch; no data or schema changes are involved.",
    }))
    .expect("plans serialise")
}

fn review_plan(task: &TaskLine<'_>, prompt: &str) -> String {
    if task.area == "api" && !prompt.contains("empty page") {
        return r#"{"verdict": "needs_revision", "concerns": ["Pagination must handle the empty last page and reject a cursor that does not decode"], "summary": "Sound approach, but the edge cases of paging are missing."}"#.to_owned();
    }
    r#"{"verdict": "approved", "concerns": [], "summary": "Small, ordered steps with tests for the changed behaviour."}"#
        .to_owned()
}

/// The edit format an implementer prompt asks for, told by its grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditFormat {
    /// SEARCH/REPLACE blocks under a path line.
    SearchReplace,
    /// Each file's whole new content in a fence under its path.
    Whole,
    /// One `*** Begin Patch` envelope.
    Patch,
    /// One JSON object with an `edits` list.
    Json,
}

impl EditFormat {
    /// Its name in orch's configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::SearchReplace => "search-replace",
            Self::Whole => "whole",
            Self::Patch => "patch",
            Self::Json => "json",
        }
    }

    /// The format orch's implementer prompt (`system`) describes.
    pub fn asked_in(system: &str) -> Self {
        if system.contains("SEARCH/REPLACE blocks") {
            Self::SearchReplace
        } else if system.contains("*** Begin Patch") {
            Self::Patch
        } else if system.contains("complete new content in a fenced block") {
            Self::Whole
        } else {
            Self::Json
        }
    }
}

/// One file a step changes: its content now (none for a new file) and after.
struct FileChange<'a> {
    path: &'a str,
    before: Option<&'a str>,
    after: String,
}

/// How many lines of the file's end a SEARCH block or hunk quotes.
const CONTEXT_LINES: usize = 3;

/// `changes` written in `format`, after a summary.
fn render(format: EditFormat, summary: &str, changes: &[FileChange<'_>]) -> String {
    let mut out = format!("{summary}\n\n");
    match format {
        EditFormat::Json => {
            let edits: Vec<serde_json::Value> = changes
                .iter()
                .map(|c| serde_json::json!({"op": "write", "path": c.path, "content": c.after}))
                .collect();
            return serde_json::to_string_pretty(&serde_json::json!({"summary": summary, "edits": edits}))
                .expect("changes serialise");
        }
        EditFormat::Whole => {
            for change in changes {
                let fence = fence_for(&change.after);
                out.push_str(&format!(
                    "{}\n{fence}\n{}\n{fence}\n\n",
                    change.path,
                    change.after.trim_end_matches('\n')
                ));
            }
        }
        EditFormat::SearchReplace => {
            for change in changes {
                let (search, replace) = tail_and_addition(change);
                let fence = fence_for(&replace);
                out.push_str(&format!(
                    "{}\n{fence}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n{fence}\n\n",
                    change.path
                ));
            }
        }
        EditFormat::Patch => {
            out.push_str("*** Begin Patch\n");
            for change in changes {
                match change.before {
                    None => {
                        out.push_str(&format!("*** Add File: {}\n", change.path));
                        change.after.lines().for_each(|l| out.push_str(&format!("+{l}\n")));
                    }
                    Some(_) => {
                        let (search, replace) = tail_and_addition(change);
                        out.push_str(&format!("*** Update File: {}\n@@\n", change.path));
                        search.lines().for_each(|l| out.push_str(&format!(" {l}\n")));
                        let added = replace.lines().skip(search.lines().count());
                        added.for_each(|l| out.push_str(&format!("+{l}\n")));
                    }
                }
            }
            out.push_str("*** End Patch\n");
        }
    }
    out
}

/// A fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// For a file that grows at its end: its last lines, and those lines with
/// what is added (for a new file: nothing, and the whole content).
fn tail_and_addition(change: &FileChange<'_>) -> (String, String) {
    let lines = |text: &str| text.lines().map(|l| format!("{l}\n")).collect::<Vec<_>>();
    let Some(before) = change.before.filter(|b| !b.trim().is_empty()) else {
        return (String::new(), lines(&change.after).concat());
    };
    let before = lines(before.trim_end());
    let after = lines(&change.after);
    let start = before.len().saturating_sub(CONTEXT_LINES);
    (before[start..].concat(), after[start..].concat())
}

/// A change in the edit format the prompt asks for: each file the step
/// modifies gets a function added at its end, each file it creates a test;
/// the file contents come from the prompt's quoted files.
fn implement(task: &TaskLine<'_>, prompt: &str, format: EditFormat) -> String {
    let step = prompt.split("Current step:\n").nth(1).unwrap_or_default();
    let head = step.lines().next().unwrap_or_default();
    let (step_id, description) = head.split_once(": ").unwrap_or((head, ""));
    let step_id = step_id.split(' ').next().unwrap_or_default();
    let listed = |label: &str| -> Vec<&str> {
        step.lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|list| list.split(", ").map(str::trim).filter(|f| !f.is_empty()).collect())
            .unwrap_or_default()
    };
    let quoted = quoted_files(prompt);
    let function = task.id.replace('-', "_");
    let mut changes = Vec::new();
    for file in listed("Files to modify: ") {
        let before = quoted.iter().find(|(path, _)| *path == file).map(|(_, content)| content.as_str());
        let current = before.unwrap_or("");
        let addition = if file.ends_with(".md") {
            format!("\n## {}\n\n{description}\n", task.goal.trim_end_matches('.'))
        } else {
            format!(
                "\n\n\ndef {function}_{}():\n    \"\"\"{description}\"\"\"\n    return True\n",
                step_id.replace('-', "_")
            )
        };
        let after = format!("{}{addition}", current.trim_end());
        changes.push(FileChange { path: file, before, after });
    }
    for file in listed("Files to create: ") {
        let after = format!(
            "\"\"\"Tests for {id}.\"\"\"\n\n\ndef test_{function}():\n    assert {function}_step_1()\n",
            id = task.id
        );
        changes.push(FileChange { path: file, before: None, after });
    }
    let main_file = task.main_file();
    if changes.is_empty() {
        changes.push(FileChange { path: &main_file, before: None, after: format!("# {description}\n") });
    }
    render(format, &format!("{step_id}: {description}"), &changes)
}

/// The files quoted in an implementer prompt: `--- path` lines, each
/// followed by the file's content, after `The files as they are now:`.
fn quoted_files(prompt: &str) -> Vec<(&str, String)> {
    let Some(section) = prompt.split("The files as they are now:\n").nth(1) else {
        return Vec::new();
    };
    let mut files: Vec<(&str, String)> = Vec::new();
    for line in section.lines() {
        if let Some(path) = line.strip_prefix("--- ") {
            files.push((path, String::new()));
        } else if line.starts_with("Feedback on the previous attempt") || line.starts_with("A person reviewing") {
            break;
        } else if let Some((_, content)) = files.last_mut() {
            content.push_str(line);
            content.push('\n');
        }
    }
    files
}

/// [`pipeline`] with the quirks real models add, one per request (chosen
/// by a hash of the request, so a recording is stable): a `<think>` block
/// first, prose around the answer, CRLF line ends, a JSON answer in a
/// Markdown fence, trailing spaces on every line, or none.
pub fn quirks(request: &MockRequest) -> MockReply {
    let mut reply = pipeline(request);
    let last = request.messages.last().map_or("", |(_, content)| content.as_str());
    let pick = last.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 6;
    reply.text = match pick {
        0 => reply.text,
        1 => format!("<think>\nThe step is clear; I will answer in the format asked for.\n</think>\n{}", reply.text),
        2 => format!("Sure, here is my answer.\n\n{}\n\nLet me know if anything else is needed.", reply.text),
        3 => reply.text.replace('\n', "\r\n"),
        4 if reply.text.starts_with('{') => format!("```json\n{}\n```", reply.text),
        _ => reply.text.lines().map(|l| format!("{l}  \n")).collect(),
    };
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Vendor;

    fn request(system: &str, user: &str) -> MockRequest {
        MockRequest {
            vendor: Vendor::Anthropic,
            model: "m".into(),
            system: Some(system.into()),
            messages: vec![("user".into(), user.into())],
            max_tokens: None,
            headers: Vec::new(),
            path: "/v1/messages".into(),
            query: String::new(),
            raw_body: Vec::new(),
        }
    }

    const TASK: &str = "Task add-paging (risk: medium, area: api):\nAdd cursor pagination to GET /orders\n";

    #[test]
    fn plans_parse_and_api_plans_are_revised_once() {
        let reply = pipeline(&request("You are the planner in ...", TASK));
        let plan: serde_json::Value = serde_json::from_str(&reply.text).unwrap();
        assert_eq!(plan["steps"].as_array().unwrap().len(), 2);
        assert_eq!(plan["steps"][0]["files_to_modify"][0], "src/api/add_paging.py");
        assert!(reply.input_tokens > 0 && reply.output_tokens > 0);

        let review = pipeline(&request("You are the plan reviewer", &format!("{TASK}Plan:\n{}", reply.text)));
        assert!(review.text.contains("needs_revision"), "{}", review.text);
        let revised = pipeline(&request(
            "You are the planner",
            &format!("{TASK}The reviewer rejected the previous plan. Address every concern:\n- paging"),
        ));
        assert!(revised.text.contains("empty page"), "{}", revised.text);
        let review = pipeline(&request("You are the plan reviewer", &format!("{TASK}Plan:\n{}", revised.text)));
        assert!(review.text.contains("\"approved\""), "{}", review.text);
    }

    #[test]
    fn implementations_come_in_the_edit_format_asked_for_and_apply() {
        let user = "Task fix-auth: Fix the timeout\n\nPlan:\n{}\n\nCurrent step:\n\
                    step-1 (implementation, small): Fix it\nFiles to modify: src/auth.py\n\
                    Files to create: tests/test_fix_auth.py\n\nThe files as they are now:\n--- src/auth.py\n\
                    import os\n\nTIMEOUT = 30\nRETRIES = 3\n\n";
        let before = "import os\n\nTIMEOUT = 30\nRETRIES = 3\n";
        for format in orch_edits::Format::ALL {
            let system = format!("You are the implementer ...\n{}", format.instructions());
            assert_eq!(EditFormat::asked_in(&system).name(), format.name());
            for responder in [pipeline, quirks] {
                let reply = responder(&request(&system, user));
                let change =
                    orch_edits::parse(format, &reply.text).unwrap_or_else(|e| panic!("{format}: {e}\n{}", reply.text));
                let read = |path: &str| Ok(Some(before.to_owned()).filter(|_| path == "src/auth.py"));
                let applied = orch_edits::apply_all(&change.edits, read).unwrap_or_else(|e| panic!("{format}: {e}"));
                // The quirks may add trailing spaces to the lines written.
                let auth: String = applied.files["src/auth.py"]
                    .as_deref()
                    .unwrap()
                    .lines()
                    .map(|l| format!("{}\n", l.trim_end()))
                    .collect();
                assert!(
                    auth.starts_with("import os\n\nTIMEOUT = 30\nRETRIES = 3\n\n\ndef fix_auth_step_1():"),
                    "{format}: {auth}"
                );
                assert!(applied.files["tests/test_fix_auth.py"].as_deref().unwrap().contains("def test_fix_auth"));
            }
        }
    }

    #[test]
    fn implementations_are_edits_to_the_quoted_files() {
        let user = "Task fix-auth: Fix the timeout\n\nPlan:\n{}\n\nCurrent step:\n\
                    step-1 (implementation, small): Fix it\nFiles to modify: src/auth.py\n\
                    Files to create: tests/test_fix_auth.py\n\nThe files as they are now:\n--- src/auth.py\n\
                    TIMEOUT = 30\n\n";
        let reply = pipeline(&request("You are the implementer", user));
        let change: serde_json::Value = serde_json::from_str(&reply.text).expect("JSON unless asked otherwise");
        assert_eq!(change["summary"], "step-1: Fix it");
        let edits = change["edits"].as_array().unwrap();
        assert_eq!(edits[0]["path"], "src/auth.py");
        let content = edits[0]["content"].as_str().unwrap();
        assert!(content.starts_with("TIMEOUT = 30\n\n\ndef fix_auth_step_1():"), "{content}");
        assert_eq!(edits[1]["path"], "tests/test_fix_auth.py");
    }
}
