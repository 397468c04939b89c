//! The `whole` format: one fenced block per file holding its complete new
//! content, the path on the line before the fence or in the fence's info
//! string, and `DELETE path` / `RENAME old -> new` lines (outside a fence
//! or alone in one).

use crate::edit::Edit;
use crate::error::ParseError;
use crate::format::Format;
use crate::quirks::{self, Fence, Header};

/// Fence languages whose unnamed blocks are commands shown in the prose,
/// not files: they are skipped rather than refused.
const COMMAND_LANGUAGES: [&str; 7] = ["bash", "sh", "shell", "console", "zsh", "powershell", "text"];

/// The edits in `text` (a cleaned reply) and the index of its first line
/// that belongs to them.
pub(crate) fn parse(text: &str) -> Result<(Vec<Edit>, usize), ParseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut edits = Vec::new();
    let mut first = lines.len();
    let mut i = 0;
    while i < lines.len() {
        if let Some(header) = quirks::header_in(lines[i]) {
            first = first.min(i);
            edits.push(edit_for(header));
            i += 1;
            continue;
        }
        let Some(fence) = quirks::fence(lines[i]) else {
            i += 1;
            continue;
        };
        let named = quirks::path_in_info(fence.info).map(|path| (path, i)).or_else(|| path_before(&lines, i));
        let end = closing(&lines, i, fence, named.as_ref().map(|(path, _)| path.as_str()))?;
        let body = &lines[i + 1..end];
        let headers: Option<Vec<Header>> =
            body.iter().filter(|l| !l.trim().is_empty()).map(|l| quirks::header_in(l)).collect();
        match (named, headers) {
            // Only header lines: those, even after a path line.
            (named, Some(headers)) if !headers.is_empty() => {
                first = first.min(named.map_or(i, |(_, at)| at));
                edits.extend(headers.into_iter().map(edit_for));
            }
            (Some((path, at)), _) => {
                check_whole(body, i, &path)?;
                first = first.min(at);
                edits.push(Edit::Write { path, content: crate::search_replace::joined(body) });
            }
            (None, _) if body.iter().all(|l| l.trim().is_empty()) => {}
            (None, _) if COMMAND_LANGUAGES.contains(&fence.info.to_ascii_lowercase().as_str()) => {}
            (None, _) => {
                return Err(ParseError::Invalid {
                    line: i + 1,
                    problem: "this fenced block has no file path: write the path alone on the line before the \
                              opening fence, or after the language (```python src/app.py)"
                        .into(),
                });
            }
        }
        i = end + 1;
    }
    if edits.is_empty() {
        return Err(quirks::no_edits(
            text,
            Format::Whole,
            "the reply has no file block (the file's path alone on a line, then its whole new content in a fenced \
             block) and no DELETE or RENAME line",
        ));
    }
    Ok((edits, first))
}

fn edit_for(header: Header) -> Edit {
    match header {
        Header::Delete(path) => Edit::Delete { path },
        Header::Rename(from, to) => Edit::Rename { from, to },
    }
}

/// The path on the last non-blank line before the fence at `open`, if that
/// line names one.
fn path_before(lines: &[&str], open: usize) -> Option<(String, usize)> {
    let at = (0..open).rev().find(|at| !lines[*at].trim().is_empty())?;
    quirks::path_in(lines[at]).map(|path| (path, at))
}

/// The index of the line closing the block `fence` opens at `open`. Blocks
/// opened inside it with the same fence and a language (a Markdown file's
/// examples) are skipped with their closing fences.
fn closing(lines: &[&str], open: usize, fence: Fence<'_>, path: Option<&str>) -> Result<usize, ParseError> {
    let mut depth = 0;
    for (at, line) in lines.iter().enumerate().skip(open + 1) {
        if fence.closed_by(line) {
            if depth == 0 {
                return Ok(at);
            }
            depth -= 1;
        } else if fence.nested_by(line) {
            depth += 1;
        }
    }
    let inside = match path {
        Some(path) => format!("the block for {path}"),
        None => "a fenced block".into(),
    };
    Err(ParseError::CutOff { inside, line: open + 1 })
}

/// Refuses a block that is not a whole file: SEARCH/REPLACE markers, or a
/// comment that elides code (`# ... rest unchanged`).
fn check_whole(body: &[&str], open: usize, path: &str) -> Result<(), ParseError> {
    if body.iter().any(|l| crate::search_replace::is_search(l)) {
        return Err(ParseError::Invalid {
            line: open + 1,
            problem: format!(
                "the block for {path} holds a `<<<<<<< SEARCH` marker; in this format a block holds the whole new \
                 file, not SEARCH/REPLACE blocks"
            ),
        });
    }
    if let Some((at, line)) = body.iter().enumerate().find(|(_, l)| elides(l)) {
        return Err(ParseError::Invalid {
            line: open + at + 2,
            problem: format!(
                "the block for {path} leaves code out (`{}`); in this format a block holds the whole file, every \
                 line of it",
                quirks::quote(line)
            ),
        });
    }
    Ok(())
}

/// Whether a line is a comment standing for code left out, such as
/// `# ... rest of the file unchanged` or `// ... existing code ...`.
fn elides(line: &str) -> bool {
    let t = line.trim();
    let comment = ["#", "//", "/*", "<!--", "--", ";"].iter().find_map(|c| t.strip_prefix(c));
    let Some(comment) = comment else { return false };
    let words = comment.to_lowercase();
    (words.contains("...") || words.contains('…'))
        && ["unchanged", "existing", "rest of", "remaining", "same as", "as before", "omitted"]
            .iter()
            .any(|w| words.contains(w))
}

#[cfg(test)]
mod tests {
    use crate::{Edit, Format, ParseError, parse};

    fn write(path: &str, content: &str) -> Edit {
        Edit::Write { path: path.into(), content: content.into() }
    }

    fn edits(reply: &str) -> Vec<Edit> {
        parse(Format::Whole, reply).unwrap().edits
    }

    #[test]
    fn files_after_their_paths() {
        let reply = "Add a helper.\n\nsrc/util.py\n```python\ndef f():\n\treturn 1\n```\n\n**src/b.py**:\n\n```\n\
                     x = 1\n```\nThat is all.";
        let change = parse(Format::Whole, reply).unwrap();
        assert_eq!(change.summary, "Add a helper.");
        assert_eq!(change.edits, [write("src/util.py", "def f():\n\treturn 1\n"), write("src/b.py", "x = 1\n")]);
    }

    #[test]
    fn a_path_in_the_info_string_and_empty_files() {
        assert_eq!(
            edits("```python src/app.py\nprint(1)\n```\n~~~ src/empty.py\n~~~"),
            [write("src/app.py", "print(1)\n"), write("src/empty.py", "")]
        );
    }

    #[test]
    fn markdown_files_keep_their_own_fences() {
        let reply = "README.md\n```markdown\n# Title\n\n```sh\nmake\n```\n\nEnd.\n```\n";
        assert_eq!(edits(reply), [write("README.md", "# Title\n\n```sh\nmake\n```\n\nEnd.\n")]);
        let reply = "README.md\n````\n```\nplain\n```\n````";
        assert_eq!(edits(reply), [write("README.md", "```\nplain\n```\n")]);
    }

    #[test]
    fn deletes_and_renames() {
        let reply = "Tidy.\n\nDELETE old.py\n```\nRENAME a.py -> b.py\nDELETE c.py\n```\nb.py\n```\nnew\n```\nd.py\n```\n\
                     DELETE d.py\n```";
        assert_eq!(
            edits(reply),
            [
                Edit::Delete { path: "old.py".into() },
                Edit::Rename { from: "a.py".into(), to: "b.py".into() },
                Edit::Delete { path: "c.py".into() },
                write("b.py", "new\n"),
                Edit::Delete { path: "d.py".into() },
            ]
        );
    }

    #[test]
    fn think_tags_and_crlf() {
        let reply = "<thinking>\n```\nnot a file\n```\n</thinking>\r\nsrc/a.py\r\n```\r\nx\r\n```\r\n";
        assert_eq!(edits(reply), [write("src/a.py", "x\n")]);
    }

    #[test]
    fn shell_blocks_in_the_prose_are_skipped() {
        let reply = "a.py\n```\nx\n```\nThen run:\n```bash\npytest\n```";
        assert_eq!(edits(reply), [write("a.py", "x\n")]);
    }

    #[test]
    fn refusals() {
        let err = parse(Format::Whole, "Done.\n\nsrc/x.py\n```python\ndef f():\n").unwrap_err();
        assert_eq!(err, ParseError::CutOff { inside: "the block for src/x.py".into(), line: 4 });
        let err = parse(Format::Whole, "Here it is:\n```python\nx\n```").unwrap_err();
        assert!(err.to_string().starts_with("line 2 of the reply: this fenced block has no file path"), "{err}");
        let err = parse(Format::Whole, "a.py\n```\ndef f():\n    # ... rest unchanged ...\n```").unwrap_err();
        assert!(err.to_string().starts_with("line 4 of the reply: the block for a.py leaves code out"), "{err}");
        let err = parse(Format::Whole, "a.py\n```\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```").unwrap_err();
        assert!(err.to_string().contains("holds a `<<<<<<< SEARCH` marker"), "{err}");
        let err = parse(Format::Whole, "Nothing to do.").unwrap_err();
        assert!(err.to_string().starts_with("the reply has no file block"), "{err}");
        // Python's own `...` is code, not an elision.
        assert_eq!(edits("a.pyi\n```\ndef f(): ...\n    ...\n```"), [write("a.pyi", "def f(): ...\n    ...\n")]);
    }
}
