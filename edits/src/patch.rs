//! The `patch` format (Codex's `apply_patch` envelope): `*** Begin Patch`,
//! then `*** Add File:`, `*** Delete File:` and `*** Update File:` (with an
//! optional `*** Move to:`) sections, hunks of ` `/`-`/`+` lines started by
//! `@@` or `@@ <a line of the file>`, then `*** End Patch`. Each hunk
//! becomes a replace of its unchanged and removed lines by its unchanged
//! and added lines; an `@@` line becomes a first piece of the search, kept
//! apart by a `...` line (see [`crate::ladder`]), so the hunk is looked for
//! below it.

use crate::edit::Edit;
use crate::error::ParseError;
use crate::format::Format;
use crate::quirks;
use crate::search_replace::joined;

const BEGIN: &str = "*** Begin Patch";
const END: &str = "*** End Patch";
const ADD: &str = "*** Add File:";
const DELETE: &str = "*** Delete File:";
const UPDATE: &str = "*** Update File:";
const MOVE: &str = "*** Move to:";
const END_OF_FILE: &str = "*** End of File";

/// What may start a line between a patch's file sections.
const SECTION: &str = "`*** Add File: path`, `*** Update File: path`, `*** Delete File: path` or `*** End Patch`";

/// The edits in `text` (a cleaned reply) and the index of its first line
/// that belongs to them. A reply may hold several envelopes. An envelope
/// whose `*** End Patch` is missing is accepted when a closing fence ends
/// it; at the end of the reply it is taken as cut off.
pub(crate) fn parse(text: &str) -> Result<(Vec<Edit>, usize), ParseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut edits = Vec::new();
    let mut first = lines.len();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if t == BEGIN || t.strip_prefix(BEGIN).is_some_and(|rest| rest.trim() == "***") {
            first = first.min(i);
            i = envelope(&lines, i, &mut edits)?;
            continue;
        }
        if [ADD, DELETE, UPDATE].iter().any(|op| t.starts_with(op)) && first == lines.len() {
            return Err(ParseError::Unexpected {
                line: i + 1,
                expected: format!("`{BEGIN}` before the patch's first file section"),
                found: quirks::quote(t),
            });
        }
        i += 1;
    }
    if edits.is_empty() {
        let message = if first < lines.len() {
            "the patch holds no file section (`*** Add File:`, `*** Update File:` or `*** Delete File:`)"
        } else {
            "the reply has no patch (`*** Begin Patch`, file sections, `*** End Patch`)"
        };
        return Err(quirks::no_edits(text, Format::Patch, message));
    }
    Ok((edits, first))
}

/// Reads the envelope opening at `begin` into `edits`; returns the index of
/// the first line after it.
fn envelope(lines: &[&str], begin: usize, edits: &mut Vec<Edit>) -> Result<usize, ParseError> {
    let mut i = begin + 1;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t == END {
            return Ok(i + 1);
        }
        if closes(line) {
            return Ok(i + 1);
        }
        if t.is_empty() {
            i += 1;
        } else if let Some(path) = t.strip_prefix(ADD) {
            let path = section_path(path, i)?;
            let (content, next) = added_file(lines, i + 1);
            edits.push(Edit::Write { path, content });
            i = next;
        } else if let Some(path) = t.strip_prefix(DELETE) {
            edits.push(Edit::Delete { path: section_path(path, i)? });
            i += 1;
        } else if let Some(path) = t.strip_prefix(UPDATE) {
            i = update(lines, i, section_path(path, i)?, edits)?;
        } else {
            return Err(ParseError::Unexpected { line: i + 1, expected: SECTION.into(), found: quirks::quote(t) });
        }
    }
    Err(ParseError::CutOff { inside: format!("the patch opened by `{BEGIN}` (no `{END}` follows)"), line: begin + 1 })
}

/// Whether `line` is a fence at the margin, which ends an envelope that
/// lacks its `*** End Patch` (a hunk's ` ```` line is content).
fn closes(line: &str) -> bool {
    line.starts_with(['`', '~']) && quirks::fence(line).is_some()
}

/// The path after a section marker on line index `at`.
fn section_path(rest: &str, at: usize) -> Result<String, ParseError> {
    let path = rest.trim().trim_matches('`');
    if path.is_empty() {
        return Err(ParseError::Invalid { line: at + 1, problem: "the section names no file after its colon".into() });
    }
    Ok(path.to_owned())
}

/// An added file's `+` lines from `start`; returns its content and the
/// index after them. Empty lines between `+` lines are taken as empty
/// lines of the file (models drop the `+` of an empty line).
fn added_file(lines: &[&str], start: usize) -> (String, usize) {
    let mut content = String::new();
    let mut i = start;
    loop {
        let blanks = lines[i.min(lines.len())..].iter().take_while(|l| l.is_empty()).count();
        match lines.get(i + blanks).and_then(|l| l.strip_prefix('+')) {
            Some(added) => {
                content.push_str(&"\n".repeat(blanks));
                content.push_str(added);
                content.push('\n');
                i += blanks + 1;
            }
            None => return (content, i),
        }
    }
}

/// One hunk being read: its `@@` lines and its old and new lines.
#[derive(Default)]
struct Hunk<'a> {
    /// Reply line index of its first line.
    start: usize,
    anchors: Vec<&'a str>,
    old: Vec<&'a str>,
    new: Vec<&'a str>,
    /// Whether it has a ` `, `-` or `+` line.
    lines: bool,
}

/// Reads the `*** Update File:` section at `at` into `edits`; returns the
/// index after it.
fn update(lines: &[&str], at: usize, path: String, edits: &mut Vec<Edit>) -> Result<usize, ParseError> {
    let mut i = at + 1;
    let mut target = path.clone();
    if let Some(to) = lines.get(i).and_then(|l| l.trim().strip_prefix(MOVE)) {
        target = section_path(to, i)?;
        edits.push(Edit::Rename { from: path.clone(), to: target.clone() });
        i += 1;
    }
    let mut hunks = 0;
    let mut hunk = Hunk { start: i, ..Hunk::default() };
    // Empty lines seen and not yet known to be inside the hunk.
    let mut blanks = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        let marker = [END, ADD, DELETE, UPDATE, MOVE, END_OF_FILE].iter().any(|m| t.starts_with(m));
        if line.starts_with("***") || marker || closes(line) {
            let end_of_file = t == END_OF_FILE;
            hunks += finish(&mut hunk, &target, edits)?;
            if !end_of_file {
                break;
            }
            hunk.start = i + 1;
            blanks = 0;
            i += 1;
            continue;
        }
        if line.is_empty() {
            blanks += 1;
            i += 1;
            continue;
        }
        if let Some(header) = line.strip_prefix("@@") {
            if hunk.lines {
                hunks += finish(&mut hunk, &target, edits)?;
                hunk.start = i;
            }
            blanks = 0;
            if let Some(anchor) = anchor(header) {
                hunk.anchors.push(anchor);
            }
            i += 1;
            continue;
        }
        let first_line = hunks == 0 && !hunk.lines && hunk.anchors.is_empty();
        if first_line && (line.starts_with("--- ") || line.starts_with("+++ ")) || line.starts_with("\\ ") {
            // A unified diff's file header, or its "\ No newline at end of file".
            i += 1;
            continue;
        }
        let (kind, text) = line.split_at(line.chars().next().map_or(0, char::len_utf8));
        if !matches!(kind, " " | "-" | "+") {
            return Err(ParseError::Unexpected {
                line: i + 1,
                expected: format!(
                    "a hunk line of {target} starting with a space (unchanged), `-` (removed) or `+` (added), an \
                     `@@` line, or the next `*** ` line"
                ),
                found: quirks::quote(line),
            });
        }
        for _ in 0..std::mem::take(&mut blanks) {
            hunk.old.push("");
            hunk.new.push("");
        }
        if kind != "+" {
            hunk.old.push(text);
        }
        if kind != "-" {
            hunk.new.push(text);
        }
        hunk.lines = true;
        i += 1;
    }
    if i == lines.len() {
        // Cut off: the envelope says so.
        return Ok(i);
    }
    if hunks == 0 && target == path {
        return Err(ParseError::Invalid {
            line: at + 1,
            problem: format!("the update of {path} has no hunk: give `@@` and the lines to change after it"),
        });
    }
    Ok(i)
}

/// The line an `@@` header names, if any: `@@ def f():` gives `def f():`;
/// a unified diff's `@@ -3,7 +3,8 @@ def f():` gives what follows its
/// ranges.
fn anchor(header: &str) -> Option<&str> {
    let t = header.trim();
    let t = match t.strip_prefix('-') {
        Some(ranges) if ranges.starts_with(|c: char| c.is_ascii_digit()) => ranges.split_once("@@")?.1.trim(),
        _ => t,
    };
    (!t.is_empty()).then_some(t)
}

/// Turns a finished hunk into a replace (if it has lines) and starts the
/// next one; returns how many hunks it added.
fn finish(hunk: &mut Hunk<'_>, path: &str, edits: &mut Vec<Edit>) -> Result<usize, ParseError> {
    let Hunk { start, anchors, old, new, lines } = std::mem::take(hunk);
    if !lines {
        return Ok(0);
    }
    if old.iter().all(|l| l.trim().is_empty()) {
        return Err(ParseError::Invalid {
            line: start + 1,
            problem: format!(
                "this hunk of {path} only adds lines, so nothing says where they go: include the unchanged line(s) \
                 they follow or precede, each starting with a space"
            ),
        });
    }
    // An anchor that is one of the hunk's own lines locates nothing more.
    let anchors: Vec<&str> = anchors.into_iter().filter(|a| !old.iter().any(|l| l.trim() == a.trim())).collect();
    let mut search = String::new();
    let mut replace = String::new();
    for anchor in anchors {
        for text in [&mut search, &mut replace] {
            text.push_str(anchor);
            text.push_str("\n...\n");
        }
    }
    search.push_str(&joined(&old));
    replace.push_str(&joined(&new));
    edits.push(Edit::Replace { path: path.to_owned(), search, replace });
    Ok(1)
}

#[cfg(test)]
mod tests {
    use crate::{Edit, Format, ParseError, parse};

    fn replace(path: &str, search: &str, replace: &str) -> Edit {
        Edit::Replace { path: path.into(), search: search.into(), replace: replace.into() }
    }

    fn edits(reply: &str) -> Vec<Edit> {
        parse(Format::Patch, reply).unwrap().edits
    }

    #[test]
    fn every_section() {
        let reply = "Round totals and tidy.\n\n*** Begin Patch\n*** Add File: src/util.py\n+def f():\n\n+    return 1\n\
                     *** Update File: src/app.py\n@@\n import os\n-x = 1\n+x = 2\n@@ def g():\n     a\n-    b\n+    c\n\
                     *** Delete File: old.py\n*** Update File: a.py\n*** Move to: pkg/a.py\n@@\n-old\n+new\n\
                     *** End of File\n*** End Patch\nThanks.";
        let change = parse(Format::Patch, reply).unwrap();
        assert_eq!(change.summary, "Round totals and tidy.");
        assert_eq!(
            change.edits,
            [
                Edit::Write { path: "src/util.py".into(), content: "def f():\n\n    return 1\n".into() },
                replace("src/app.py", "import os\nx = 1\n", "import os\nx = 2\n"),
                replace("src/app.py", "def g():\n...\n    a\n    b\n", "def g():\n...\n    a\n    c\n"),
                Edit::Delete { path: "old.py".into() },
                Edit::Rename { from: "a.py".into(), to: "pkg/a.py".into() },
                replace("pkg/a.py", "old\n", "new\n"),
            ]
        );
    }

    #[test]
    fn hunk_quirks() {
        // No `@@` before the first hunk, an empty line as empty context,
        // trailing empty lines dropped, a unified diff's headers.
        let reply = "*** Begin Patch\n*** Update File: a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,3 +1,3 @@ class A:\n x\n\n\
                     -y\n+z\n\n\n*** Update File: b.py\n k\n-l\n*** End Patch";
        assert_eq!(
            edits(reply),
            [replace("a.py", "class A:\n...\nx\n\ny\n", "class A:\n...\nx\n\nz\n"), replace("b.py", "k\nl\n", "k\n")]
        );
        // Several anchors narrow down in order; one equal to a hunk line is dropped.
        let reply = "*** Begin Patch\n*** Update File: a.py\n@@ class A:\n@@     def f(self):\n     def f(self):\n\
                     -        pass\n+        return 1\n*** End Patch";
        assert_eq!(
            edits(reply),
            [replace(
                "a.py",
                "class A:\n...\n    def f(self):\n        pass\n",
                "class A:\n...\n    def f(self):\n        return 1\n"
            )]
        );
    }

    #[test]
    fn hunk_lines_that_look_like_markers() {
        let reply = "*** Begin Patch\n*** Update File: a.md\n@@\n ***bold***\n ```\n-x\n+y\n *** End Patch\n";
        assert_eq!(edits(reply), [replace("a.md", "***bold***\n```\nx\n", "***bold***\n```\ny\n")]);
    }

    #[test]
    fn a_fenced_envelope_and_a_fence_for_its_end() {
        let reply = "Fix.\n```\n*** Begin Patch\n*** Delete File: a.py\n*** End Patch\n```\n";
        assert_eq!(edits(reply), [Edit::Delete { path: "a.py".into() }]);
        let reply = "```diff\n*** Begin Patch\n*** Update File: a.py\n@@\n-a\n+b\n```\nDone.";
        assert_eq!(edits(reply), [replace("a.py", "a\n", "b\n")]);
    }

    #[test]
    fn think_tags_and_crlf() {
        let reply = "<think>\n*** Begin Patch\n</think>\r\n*** Begin Patch\r\n*** Update File: a.py\r\n@@\r\n-a\r\n\
                     +\tb\r\n*** End Patch\r\n";
        assert_eq!(edits(reply), [replace("a.py", "a\n", "\tb\n")]);
    }

    #[test]
    fn a_move_without_hunks_is_a_rename() {
        let reply = "*** Begin Patch\n*** Update File: a.py\n*** Move to: b.py\n*** End Patch";
        assert_eq!(edits(reply), [Edit::Rename { from: "a.py".into(), to: "b.py".into() }]);
    }

    #[test]
    fn refusals() {
        let err = parse(Format::Patch, "*** Begin Patch\n*** Update File: a.py\n@@\n-a\n+b").unwrap_err();
        assert_eq!(
            err,
            ParseError::CutOff {
                inside: "the patch opened by `*** Begin Patch` (no `*** End Patch` follows)".into(),
                line: 1
            }
        );
        let err = parse(Format::Patch, "*** Begin Patch\n*** Update File: a.py\n@@\n-a\nb\n*** End Patch").unwrap_err();
        assert!(err.to_string().starts_with("line 5 of the reply: expected a hunk line of a.py starting"), "{err}");
        let err =
            parse(Format::Patch, "*** Begin Patch\n*** Update File: a.py\n@@ def f():\n+x\n*** End Patch").unwrap_err();
        assert!(err.to_string().starts_with("line 3 of the reply: this hunk of a.py only adds lines"), "{err}");
        let err = parse(Format::Patch, "*** Begin Patch\n*** Update File: a.py\n*** End Patch").unwrap_err();
        assert!(err.to_string().contains("the update of a.py has no hunk"), "{err}");
        let err = parse(Format::Patch, "*** Begin Patch\n*** Modify File: a.py\n*** End Patch").unwrap_err();
        assert!(err.to_string().starts_with("line 2 of the reply: expected `*** Add File: path`"), "{err}");
        let err = parse(Format::Patch, "*** Update File: a.py\n@@\n-a\n+b\n*** End Patch").unwrap_err();
        assert!(err.to_string().contains("expected `*** Begin Patch` before"), "{err}");
        let err = parse(Format::Patch, "*** Begin Patch\n*** End Patch").unwrap_err();
        assert!(err.to_string().starts_with("the patch holds no file section"), "{err}");
        let err = parse(Format::Patch, "a.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE").unwrap_err();
        assert!(err.to_string().contains("seems to use the search-replace format"), "{err}");
    }
}
