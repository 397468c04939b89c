//! The `search-replace` format (aider's): a file's path alone on a line,
//! then blocks of `<<<<<<< SEARCH`, the lines to find, `=======`, what they
//! become, `>>>>>>> REPLACE`; fenced or not, several blocks per path line,
//! and `DELETE path` / `RENAME old -> new` lines. Markers may have 5 to 9
//! of their characters.

use crate::edit::Edit;
use crate::error::ParseError;
use crate::format::Format;
use crate::quirks::{self, Header};

/// Whether a trimmed line opens a block: `<<<<<<< SEARCH` (5–9 `<`).
pub(crate) fn is_search(line: &str) -> bool {
    marker(line, '<').is_some_and(|rest| rest == "SEARCH" || rest == "SEARCH>")
}

/// Whether a trimmed line divides a block: `=======` (5–9 `=`).
fn is_divider(line: &str) -> bool {
    marker(line, '=') == Some("")
}

/// Whether a trimmed line closes a block: `>>>>>>> REPLACE` (5–9 `>`).
fn is_replace(line: &str) -> bool {
    marker(line, '>') == Some("REPLACE")
}

/// What follows a run of 5 to 9 `c` starting `line` (trimmed).
fn marker(line: &str, c: char) -> Option<&str> {
    let t = line.trim();
    let run = t.chars().take_while(|x| *x == c).count();
    (5..=9).contains(&run).then(|| t[run..].trim())
}

/// The edits in `text` (a cleaned reply) and the index of its first line
/// that belongs to them (the prose before it is the summary).
pub(crate) fn parse(text: &str) -> Result<(Vec<Edit>, usize), ParseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut edits = Vec::new();
    let mut first = lines.len();
    let mut current: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if is_search(line) {
            let (path, at) = match path_before(&lines, i) {
                Some((path, at)) => (path, at),
                None => match &current {
                    Some(path) => (path.clone(), i),
                    None => {
                        return Err(ParseError::Invalid {
                            line: i + 1,
                            problem: "this `<<<<<<< SEARCH` block has no file path before it: write the path alone \
                                      on the line before the block (or before its opening fence)"
                                .into(),
                        });
                    }
                },
            };
            first = first.min(at);
            let (search, replace, end) = block(&lines, i, &path)?;
            edits.push(Edit::Replace { path: path.clone(), search, replace });
            current = Some(path);
            i = end + 1;
            continue;
        }
        if is_replace(line) {
            return Err(ParseError::Unexpected {
                line: i + 1,
                expected: "`>>>>>>> REPLACE` only to close a block opened by `<<<<<<< SEARCH` and divided by `=======`"
                    .into(),
                found: quirks::quote(line),
            });
        }
        if let Some(header) = quirks::header_in(line) {
            first = first.min(i);
            edits.push(match header {
                Header::Delete(path) => Edit::Delete { path },
                Header::Rename(from, to) => Edit::Rename { from, to },
            });
        }
        i += 1;
    }
    if edits.is_empty() {
        return Err(quirks::no_edits(
            text,
            Format::SearchReplace,
            "the reply has no SEARCH/REPLACE block (the file's path alone on a line, then `<<<<<<< SEARCH`, the lines \
             to find, `=======`, what they become, `>>>>>>> REPLACE`) and no DELETE or RENAME line",
        ));
    }
    Ok((edits, first))
}

/// The path named just before the block opening at `open`: on the line
/// before it, or before the fences between them (a path in a fence's info
/// string counts too). Blank lines are skipped; any other line stops the
/// search. Returns the path and the index of its line.
fn path_before(lines: &[&str], open: usize) -> Option<(String, usize)> {
    let mut seen = 0;
    for at in (0..open).rev() {
        let line = lines[at];
        if line.trim().is_empty() {
            continue;
        }
        seen += 1;
        if seen > 4 {
            return None;
        }
        if let Some(fence) = quirks::fence(line) {
            match quirks::path_in_info(fence.info) {
                Some(path) => return Some((path, at)),
                None => continue,
            }
        }
        return quirks::path_in(line).map(|path| (path, at));
    }
    None
}

/// The block opening at `open`: its SEARCH and REPLACE texts and the index
/// of its `>>>>>>> REPLACE` line. A block has one `=======` line: a second
/// one is refused rather than guessed at (the file's own lines of 5–9 `=`
/// cannot be part of a block).
fn block(lines: &[&str], open: usize, path: &str) -> Result<(String, String, usize), ParseError> {
    let opened = open + 1;
    let mut divider = None;
    for (at, line) in lines.iter().enumerate().skip(open + 1) {
        let t = line.trim();
        if is_divider(t) {
            if let Some(first) = divider {
                return Err(ParseError::Invalid {
                    line: at + 1,
                    problem: format!(
                        "the block for {path} (opened on line {opened}) has a second `=======` line (the first is on                          line {}); a block has exactly one, so a line of the file made of 5 to 9 `=` cannot be in a                          block: choose lines around it",
                        first + 1
                    ),
                });
            }
            divider = Some(at);
        } else if is_replace(t) {
            let Some(divider) = divider else {
                return Err(ParseError::Unexpected {
                    line: at + 1,
                    expected: format!("`=======` between the SEARCH and REPLACE parts of the block for {path}"),
                    found: quirks::quote(t),
                });
            };
            return Ok((joined(&lines[open + 1..divider]), joined(&lines[divider + 1..at]), at));
        } else if is_search(t) {
            let expected = match divider {
                None => format!("`=======` to end the SEARCH part of the block for {path} (opened on line {opened})"),
                Some(_) => format!("`>>>>>>> REPLACE` to close the block for {path} (opened on line {opened})"),
            };
            return Err(ParseError::Unexpected { line: at + 1, expected, found: quirks::quote(t) });
        }
    }
    let Some(divider) = divider else {
        return Err(ParseError::CutOff { inside: format!("the SEARCH block for {path}"), line: opened });
    };
    // A closing fence in the REPLACE part, and nothing but prose after it:
    // the `>>>>>>> REPLACE` line was forgotten rather than cut off.
    let fence = (divider + 1..lines.len()).find(|at| quirks::fence(lines[*at]).is_some_and(|f| f.info.is_empty()));
    if let Some(fence) = fence.filter(|f| lines[f + 1..].iter().all(|l| quirks::fence(l).is_none())) {
        return Err(ParseError::Unexpected {
            line: fence + 1,
            expected: format!("`>>>>>>> REPLACE` to close the block for {path} (opened on line {opened})"),
            found: quirks::quote(lines[fence]),
        });
    }
    Err(ParseError::CutOff { inside: format!("the REPLACE part of the SEARCH/REPLACE block for {path}"), line: opened })
}

/// Lines as text, each ending with a newline (none: empty).
pub(crate) fn joined(lines: &[&str]) -> String {
    lines.iter().flat_map(|line| [*line, "\n"]).collect()
}

#[cfg(test)]
mod tests {
    use crate::{Change, Edit, Format, ParseError, parse};

    fn replace(path: &str, search: &str, replace: &str) -> Edit {
        Edit::Replace { path: path.into(), search: search.into(), replace: replace.into() }
    }

    fn edits(reply: &str) -> Vec<Edit> {
        parse(Format::SearchReplace, reply).unwrap().edits
    }

    #[test]
    fn fenced_blocks_after_their_paths() {
        let reply = "Round the total.\n\nHere are the blocks:\n\nsrc/app.py\n```python\n<<<<<<< SEARCH\n    return \
                     sum(items)\n=======\n    return round(sum(items), 2)\n>>>>>>> REPLACE\n```\n\n`src/b.py`\n```\n\
                     <<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\nDone.";
        let change = parse(Format::SearchReplace, reply).unwrap();
        assert_eq!(change.summary, "Round the total.");
        assert_eq!(
            change.edits,
            [
                replace("src/app.py", "    return sum(items)\n", "    return round(sum(items), 2)\n"),
                replace("src/b.py", "a\n", "b\n"),
            ]
        );
    }

    #[test]
    fn bare_blocks_and_path_styles() {
        let reply = "### src/a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n\n**src/b.py**\n<<<<<<< \
                     SEARCH\n=======\nnew\n>>>>>>> REPLACE\n";
        assert_eq!(edits(reply), [replace("src/a.py", "x\n", "y\n"), replace("src/b.py", "", "new\n")]);
        // The path in the fence's info string, or inside the fence.
        let reply = "```python src/c.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n```\nsrc/d.py\n\
                     <<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```";
        assert_eq!(edits(reply), [replace("src/c.py", "x\n", "y\n"), replace("src/d.py", "x\n", "y\n")]);
        // Four backticks, tildes, and a path block on its own before the fence.
        let reply = "src/e.md\n````markdown\n<<<<<<< SEARCH\n```\nold\n```\n=======\n```\nnew\n```\n>>>>>>> \
                     REPLACE\n````\n```\nsrc/f.py\n```\n~~~python\n<<<<<<< SEARCH\nx\n=======\n>>>>>>> REPLACE\n~~~";
        assert_eq!(
            edits(reply),
            [replace("src/e.md", "```\nold\n```\n", "```\nnew\n```\n"), replace("src/f.py", "x\n", "")]
        );
    }

    #[test]
    fn several_blocks_follow_one_path_and_markers_vary() {
        let reply = "src/a.py\n```\n<<<<< SEARCH\na\n=========\nb\n>>>>>>>>> REPLACE\n<<<<<<< SEARCH\nc\n=======\n\
                     d\n>>>>>>> REPLACE\n```\n```\n<<<<<<< SEARCH\ne\n=======\nf\n>>>>>>> REPLACE\n```";
        assert_eq!(
            edits(reply),
            [replace("src/a.py", "a\n", "b\n"), replace("src/a.py", "c\n", "d\n"), replace("src/a.py", "e\n", "f\n")]
        );
        // Four or ten markers are content, not markers.
        let reply = "a.py\n<<<<<<< SEARCH\n<<<< SEARCH\n==========\n=======\n>>>>>>> REPLACE";
        assert_eq!(edits(reply), [replace("a.py", "<<<< SEARCH\n==========\n", "")]);
    }

    #[test]
    fn deletes_and_renames_inside_or_outside_fences() {
        let reply = "Move it.\n\nRENAME src/a.py -> src/b.py\n\nsrc/b.py\n```\n<<<<<<< SEARCH\nx\n=======\ny\n\
                     >>>>>>> REPLACE\n```\n```\nDELETE `old.py`\n```";
        let change = parse(Format::SearchReplace, reply).unwrap();
        assert_eq!(change.summary, "Move it.");
        assert_eq!(
            change.edits,
            [
                Edit::Rename { from: "src/a.py".into(), to: "src/b.py".into() },
                replace("src/b.py", "x\n", "y\n"),
                Edit::Delete { path: "old.py".into() },
            ]
        );
    }

    #[test]
    fn think_tags_crlf_and_prose_around() {
        let reply = "<think>\nShould I use <<<<<<< SEARCH?\n</think>\r\nFix it.\r\n\r\na.py\r\n<<<<<<< SEARCH\r\n\
                     x \r\n=======\r\ny\r\n>>>>>>> REPLACE\r\nThat is all.\r\n";
        let change = parse(Format::SearchReplace, reply).unwrap();
        assert_eq!(change, Change { summary: "Fix it.".into(), edits: vec![replace("a.py", "x \n", "y\n")] });
    }

    #[test]
    fn tabs_are_kept() {
        assert_eq!(
            edits("a.go\n<<<<<<< SEARCH\n\tx := 1\n=======\n\tx := 2\n>>>>>>> REPLACE"),
            [replace("a.go", "\tx := 1\n", "\tx := 2\n")]
        );
    }

    #[test]
    fn a_cut_off_reply_says_where() {
        let err =
            parse(Format::SearchReplace, "Fix.\n\nsrc/x.py\n```\n<<<<<<< SEARCH\ndef f():\n    return").unwrap_err();
        assert_eq!(err, ParseError::CutOff { inside: "the SEARCH block for src/x.py".into(), line: 5 });
        assert_eq!(
            err.to_string(),
            "the reply ends inside the SEARCH block for src/x.py (line 5 of the reply); it seems cut off"
        );
        let err = parse(Format::SearchReplace, "src/x.py\n<<<<<<< SEARCH\na\n=======\nb").unwrap_err();
        assert!(err.to_string().contains("ends inside the REPLACE part"), "{err}");
        // A forgotten `>>>>>>> REPLACE` before the closing fence is not a cut.
        let err = parse(Format::SearchReplace, "x.py\n```\n<<<<<<< SEARCH\na\n=======\nb\n```\nDone.").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 7 of the reply: expected `>>>>>>> REPLACE` to close the block for x.py (opened on line 3), found `````"
        );
    }

    #[test]
    fn broken_blocks_name_the_line_and_the_marker_expected() {
        let err = parse(Format::SearchReplace, "a.py\n<<<<<<< SEARCH\na\n>>>>>>> REPLACE").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 4 of the reply: expected `=======` between the SEARCH and REPLACE parts of the block for a.py, found `>>>>>>> REPLACE`"
        );
        let err = parse(Format::SearchReplace, "a.py\n<<<<<<< SEARCH\na\n=======\nb\n<<<<<<< SEARCH").unwrap_err();
        assert!(err.to_string().starts_with("line 6 of the reply: expected `>>>>>>> REPLACE` to close"), "{err}");
        let err = parse(Format::SearchReplace, "a.py\nx\n=======\ny\n>>>>>>> REPLACE").unwrap_err();
        assert!(err.to_string().starts_with("line 5 of the reply: expected `>>>>>>> REPLACE` only to close"), "{err}");
        let err = parse(Format::SearchReplace, "a.rst\n<<<<<<< SEARCH\nTitle\n=======\nx\n=======\ny\n>>>>>>> REPLACE")
            .unwrap_err();
        assert!(
            err.to_string().starts_with("line 6 of the reply: the block for a.rst (opened on line 2) has a second")
        );
        let err = parse(Format::SearchReplace, "Here:\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE").unwrap_err();
        assert!(err.to_string().starts_with("line 2 of the reply: this `<<<<<<< SEARCH` block has no file path"));
    }

    #[test]
    fn no_edits_and_garbage() {
        let err = parse(Format::SearchReplace, "I could not find the bug.").unwrap_err();
        assert!(err.to_string().starts_with("the reply has no SEARCH/REPLACE block"), "{err}");
        let err = parse(Format::SearchReplace, "*** Begin Patch\n*** Delete File: a\n*** End Patch").unwrap_err();
        assert!(err.to_string().contains("seems to use the patch format"), "{err}");
        let err = parse(Format::SearchReplace, "  \n").unwrap_err();
        assert!(err.to_string().starts_with("the reply is empty"), "{err}");
    }
}
