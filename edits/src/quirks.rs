//! What every reply may hold around its edits, whatever the format: CRLF
//! line ends, reasoning blocks (`<think>…</think>`), Markdown fences, paths
//! written bare, in backticks, in bold or as a heading, the `DELETE` and
//! `RENAME` header lines of the text formats, and the prose that becomes
//! the change's summary.

use crate::error::ParseError;
use crate::format::Format;

/// Reasoning blocks some models put before their answer.
const THINKING: [(&str, &str); 2] = [("<think>", "</think>"), ("<thinking>", "</thinking>")];

/// The longest summary taken from the prose before the edits, in bytes.
pub(crate) const MAX_SUMMARY_BYTES: usize = 500;

/// The reply with LF line ends and its reasoning blocks blanked out: each is
/// replaced by as many empty lines as it spanned, so line numbers still
/// point into the reply as it was sent. A reasoning block that is opened
/// and never closed is an error (the reply was cut off while reasoning).
pub(crate) fn clean(reply: &str) -> Result<String, ParseError> {
    let mut text = reply.replace("\r\n", "\n");
    let mut at = 0;
    let mut stripped = false;
    loop {
        let start = at + (text[at..].len() - text[at..].trim_start().len());
        let Some((open, close)) = THINKING.iter().find(|(open, _)| text[start..].starts_with(open)) else { break };
        let Some(length) = text[start + open.len()..].find(close) else {
            return Err(ParseError::UnclosedThinking { line: line_at(&text, start), tag: (*open).to_owned() });
        };
        at = blank(&mut text, start, start + open.len() + length + close.len());
        stripped = true;
    }
    // Some APIs drop the opening tag: a closing tag alone on its line, with
    // no opening tag before it, ends the reasoning.
    if !stripped {
        let first_open = THINKING.iter().filter_map(|(open, _)| text.find(open)).min().unwrap_or(text.len());
        let mut at = 0;
        let mut end = None;
        for line in text[..first_open].split_inclusive('\n') {
            if THINKING.iter().any(|(_, close)| line.trim() == *close) {
                end = Some(at + line.len());
                break;
            }
            at += line.len();
        }
        if let Some(end) = end {
            blank(&mut text, 0, end);
        }
    }
    Ok(text)
}

/// Replaces `text[start..end]` by its newlines; returns where it now ends.
fn blank(text: &mut String, start: usize, end: usize) -> usize {
    let newlines = "\n".repeat(text[start..end].matches('\n').count());
    text.replace_range(start..end, &newlines);
    start + newlines.len()
}

/// The 1-based line of `text` holding byte `at` (any byte, not only at a
/// character boundary).
pub(crate) fn line_at(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// A Markdown fence line: three or more backticks or tildes, then an info
/// string (a language, sometimes a path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fence<'a> {
    /// `` ` `` or `~`.
    pub marker: char,
    /// How many of them.
    pub len: usize,
    /// What follows them, trimmed.
    pub info: &'a str,
}

impl Fence<'_> {
    /// Whether `line` closes a block this fence opened.
    pub(crate) fn closed_by(&self, line: &str) -> bool {
        fence(line).is_some_and(|f| f.marker == self.marker && f.len >= self.len && f.info.is_empty())
    }

    /// Whether `line` opens a block inside a block this fence opened (same
    /// marker, same length, with an info string): Markdown files hold them.
    pub(crate) fn nested_by(&self, line: &str) -> bool {
        fence(line).is_some_and(|f| f.marker == self.marker && f.len == self.len && !f.info.is_empty())
    }
}

/// `line` as a fence, if it is one (indentation allowed).
pub(crate) fn fence(line: &str) -> Option<Fence<'_>> {
    let t = line.trim();
    let marker = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = t.chars().take_while(|c| *c == marker).count();
    let info = t[len..].trim();
    (len >= 3 && !(marker == '`' && info.contains('`'))).then_some(Fence { marker, len, info })
}

/// File names without a dot that are still taken as paths.
const BARE_NAMES: [&str; 16] = [
    "Makefile",
    "makefile",
    "GNUmakefile",
    "Dockerfile",
    "Containerfile",
    "Justfile",
    "justfile",
    "Procfile",
    "Gemfile",
    "Rakefile",
    "Vagrantfile",
    "Jenkinsfile",
    "LICENSE",
    "README",
    "CODEOWNERS",
    "Pipfile",
];

/// The path a line names on its own: bare, in backticks or quotes, in bold,
/// as a Markdown heading (`### src/app.py`), after `File:` or with a
/// trailing colon. It must look like a path: one word with a `.` or a `/`
/// (or a known name such as `Makefile`), not a sentence.
pub(crate) fn path_in(line: &str) -> Option<String> {
    if fence(line).is_some() {
        return None;
    }
    let mut t = line.trim().trim_start_matches('#').trim();
    // A list item: `1. src/app.py`, `- src/app.py`.
    let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if let Some(rest) = t[digits..].strip_prefix(if digits > 0 { ". " } else { "- " }) {
        t = rest.trim();
    }
    // A note after the path: `src/new.py (new file)`.
    if let Some((path, _)) = t.split_once(" (").filter(|_| t.ends_with(')') || t.ends_with("):")) {
        t = path;
    }
    t = undecorated(t);
    for prefix in ["file:", "path:", "filename:"] {
        if t.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix)) {
            t = undecorated(&t[prefix.len()..]);
        }
    }
    let path = undecorated(t);
    let name = path.rsplit('/').next().unwrap_or(path);
    let named = path.contains('.') || path.contains('/') || BARE_NAMES.contains(&name);
    (named && plausible_path(path) && !path.ends_with('.')).then(|| path.to_owned())
}

/// The path in a fence's info string: ```` ```python src/app.py ````,
/// ```` ```src/app.py ```` or ```` ```python:src/app.py ````. Only a word
/// with a `.` or a `/` counts (```` ```python ```` is a language).
pub(crate) fn path_in_info(info: &str) -> Option<String> {
    let last = info.split_whitespace().last()?;
    let last = last.rsplit(':').next().unwrap_or(last);
    let last = ["title=", "path=", "file="].iter().fold(last, |t, p| t.strip_prefix(p).unwrap_or(t));
    let path = undecorated(last);
    ((path.contains('.') || path.contains('/')) && plausible_path(path) && !path.ends_with('.'))
        .then(|| path.to_owned())
}

/// `t` without the Markdown around a path: backticks, quotes, bold and a
/// trailing colon, in any order.
fn undecorated(mut t: &str) -> &str {
    loop {
        let before = t;
        t = t.trim().trim_end_matches(':').trim_matches(['`', '*', '"', '\'']);
        if t == before {
            return t;
        }
    }
}

/// One word of at most 250 bytes with a letter or digit in it, that is not
/// a marker, a URL or an elision.
fn plausible_path(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 250
        && !t.chars().any(|c| c.is_whitespace() || c.is_control())
        && t.chars().any(char::is_alphanumeric)
        && !t.starts_with(['<', '>', '=', '-', '+', '@'])
        && !t.contains("://")
}

/// A `DELETE path` or `RENAME old -> new` line of the text formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Header {
    /// `DELETE path`.
    Delete(String),
    /// `RENAME from -> to`.
    Rename(String, String),
}

/// The header `line` is, if it is one: the upper-case word first (after
/// any heading marks, bullet or bold), then one path, or two joined by `->`.
pub(crate) fn header_in(line: &str) -> Option<Header> {
    let t = line.trim().trim_start_matches('#').trim();
    let t = t.strip_prefix("- ").unwrap_or(t).replace("**", "");
    let t = t.trim();
    if let Some(rest) = t.strip_prefix("DELETE ").or_else(|| t.strip_prefix("DELETE: ")) {
        return header_path(rest).map(Header::Delete);
    }
    let rest = t.strip_prefix("RENAME ").or_else(|| t.strip_prefix("RENAME: "))?;
    let (from, to) = rest.split_once("->").or_else(|| rest.split_once('→'))?;
    Some(Header::Rename(header_path(from)?, header_path(to)?))
}

/// A header's path: one word, maybe in backticks or quotes.
fn header_path(t: &str) -> Option<String> {
    let path = undecorated(t);
    plausible_path(path).then(|| path.to_owned())
}

/// The change's summary: the first paragraph of the prose in `lines`
/// (fence lines skipped), at most [`MAX_SUMMARY_BYTES`].
pub(crate) fn summary(lines: &[&str]) -> String {
    let mut paragraph: Vec<&str> = Vec::new();
    for line in lines {
        let t = line.trim();
        if t.is_empty() || fence(t).is_some() {
            if paragraph.is_empty() {
                continue;
            }
            break;
        }
        paragraph.push(t);
    }
    bounded(&paragraph.join("\n"), MAX_SUMMARY_BYTES)
}

/// `text` cut to at most `max` bytes at a character boundary, with `…`
/// when cut.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!("{}…", &text[..text.floor_char_boundary(max)])
}

/// A short quote of a line for a message (at most 80 bytes, trimmed).
pub(crate) fn quote(line: &str) -> String {
    bounded(line.trim(), 80)
}

/// The format a reply seems to use, from its markers; for messages only.
pub(crate) fn looks_like(text: &str) -> Option<Format> {
    let lines = || text.lines().map(str::trim);
    if lines().any(|l| l == "*** Begin Patch") {
        Some(Format::Patch)
    } else if lines().any(crate::search_replace::is_search) {
        Some(Format::SearchReplace)
    } else if text.contains("\"edits\"") && text.contains('{') {
        Some(Format::Json)
    } else if lines().any(|l| fence(l).is_some()) {
        Some(Format::Whole)
    } else {
        None
    }
}

/// `message`, plus a hint when the reply seems to use another format than
/// `asked`.
pub(crate) fn no_edits(text: &str, asked: Format, message: &str) -> ParseError {
    let mut message = message.to_owned();
    if text.trim().is_empty() {
        message = format!("the reply is empty: {message}");
    } else if let Some(other) = looks_like(text).filter(|f| *f != asked) {
        message
            .push_str(&format!("; the reply seems to use the {other} format instead, which is not the one asked for"));
    }
    ParseError::NoEdits { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_is_blanked_keeping_line_numbers() {
        let text = clean("<think>\nplan\nmore\n</think>\nfix\r\nit\r\n").unwrap();
        assert_eq!(text, "\n\n\n\nfix\nit\n");
        let text = clean("  <thinking>a</thinking>\n<think>b\n</think>done").unwrap();
        assert_eq!(text, "  \n\ndone");
        // Only a leading block is reasoning: later tags are content.
        let text = clean("x\n<think>y</think>").unwrap();
        assert_eq!(text, "x\n<think>y</think>");
    }

    #[test]
    fn an_unclosed_thinking_block_is_a_cut_off_reply() {
        let err = clean("\n<think>\nI will first").unwrap_err();
        assert_eq!(err, ParseError::UnclosedThinking { line: 2, tag: "<think>".into() });
        assert!(err.to_string().contains("cut off inside its reasoning"), "{err}");
    }

    #[test]
    fn a_closing_tag_without_opening_ends_the_reasoning() {
        assert_eq!(clean("reasoning\nstill\n</think>\nanswer").unwrap(), "\n\n\nanswer");
        assert_eq!(clean("<think>a</think>\nkeep </think>").unwrap(), "\nkeep </think>");
        // Only alone on its line: code that mentions the tag is content.
        assert_eq!(clean("a.rs\nlet s = \"x</think>\";\n").unwrap(), "a.rs\nlet s = \"x</think>\";\n");
        assert_eq!(clean("x\n<think>\n</think>\n").unwrap(), "x\n<think>\n</think>\n");
    }

    #[test]
    fn fences_and_their_info() {
        assert_eq!(fence("```python"), Some(Fence { marker: '`', len: 3, info: "python" }));
        assert_eq!(fence("  ~~~~ "), Some(Fence { marker: '~', len: 4, info: "" }));
        assert_eq!(fence("``"), None);
        assert_eq!(fence("``` a ` b"), None);
        let open = fence("````md").unwrap();
        assert!(!open.closed_by("```"));
        assert!(open.closed_by("`````"));
        assert!(!open.closed_by("````x"));
        assert_eq!(path_in_info("python src/app.py").as_deref(), Some("src/app.py"));
        assert_eq!(path_in_info("src/app.py").as_deref(), Some("src/app.py"));
        assert_eq!(path_in_info("python:src/app.py").as_deref(), Some("src/app.py"));
        assert_eq!(path_in_info("python"), None);
        assert_eq!(path_in_info(""), None);
    }

    #[test]
    fn paths_in_their_markdown_dress() {
        for line in [
            "src/app.py",
            "`src/app.py`",
            "**src/app.py**",
            "**`src/app.py`**",
            "### src/app.py",
            "## `src/app.py`:",
            "src/app.py:",
            "File: src/app.py",
            "  src/app.py  ",
            "**File: src/app.py**",
            "1. `src/app.py`:",
            "- **src/app.py**",
            "`src/app.py` (new file)",
            "### src/app.py (updated):",
        ] {
            assert_eq!(path_in(line).as_deref(), Some("src/app.py"), "{line}");
        }
        assert_eq!(path_in("Makefile").as_deref(), Some("Makefile"));
        assert_eq!(path_in("pkg/__init__.py").as_deref(), Some("pkg/__init__.py"));
        for line in ["Here are the changes:", "Changes:", "e.g.", "...", "```python", "https://x.org/a", "}", ""] {
            assert_eq!(path_in(line), None, "{line}");
        }
    }

    #[test]
    fn delete_and_rename_lines() {
        assert_eq!(header_in("DELETE old.py"), Some(Header::Delete("old.py".into())));
        assert_eq!(header_in("**DELETE** `old.py`"), Some(Header::Delete("old.py".into())));
        assert_eq!(header_in("### DELETE: old.py"), Some(Header::Delete("old.py".into())));
        assert_eq!(header_in("RENAME a.py -> pkg/a.py"), Some(Header::Rename("a.py".into(), "pkg/a.py".into())));
        assert_eq!(header_in("- RENAME `a.py` → `b.py`"), Some(Header::Rename("a.py".into(), "b.py".into())));
        assert_eq!(header_in("DELETE the old function"), None);
        assert_eq!(header_in("Delete old.py"), None);
        assert_eq!(header_in("RENAME a.py"), None);
    }

    #[test]
    fn the_summary_is_the_first_paragraph_bounded() {
        assert_eq!(summary(&["", "Fix the bug.", "Carefully.", "", "Second."]), "Fix the bug.\nCarefully.");
        assert_eq!(summary(&["```", "x"]), "x");
        let long = "é".repeat(400);
        let cut = summary(&[long.as_str()]);
        assert!(cut.len() <= MAX_SUMMARY_BYTES + '…'.len_utf8() && cut.ends_with('…'));
    }
}
