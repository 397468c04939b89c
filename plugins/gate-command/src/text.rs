//! Small text helpers the parsers share: colour codes removed, paths made
//! relative to the workspace, long messages clipped, the last lines of an
//! output.

use std::borrow::Cow;

/// `text` without ANSI escape sequences (`ESC [ ... letter`), in case a tool
/// colours its output even when it is not writing to a terminal.
pub fn strip_ansi(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return Cow::Borrowed(text);
    }
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            plain.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            // Parameters and intermediates up to the final byte, `@` to `~`.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    Cow::Owned(plain)
}

/// `path` relative to `workspace` when it lies inside it, without a leading
/// `./`; other paths as they are.
pub fn relative_to(path: &str, workspace: &str) -> String {
    let root = workspace.trim_end_matches('/');
    let inside = match path.strip_prefix(root) {
        Some(rest) if !root.is_empty() => rest.strip_prefix('/'),
        _ => None,
    };
    let path = inside.unwrap_or(path);
    path.trim_start_matches("./").to_owned()
}

/// `text` cut to at most `max_chars` characters, `…` marking the cut.
pub fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The last `count` lines of `text`, trimmed of blank lines at either end.
pub fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[1m\u{1b}[31mapp.py\u{1b}[0m:3:1: E1"), "app.py:3:1: E1");
        assert!(matches!(strip_ansi("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn paths_inside_the_workspace_become_relative() {
        assert_eq!(relative_to("/ws/t1/src/app.js", "/ws/t1"), "src/app.js");
        assert_eq!(relative_to("/ws/t1/src/app.js", "/ws/t1/"), "src/app.js");
        assert_eq!(relative_to("./app/calc.py", "/ws/t1"), "app/calc.py");
        assert_eq!(relative_to("/ws/t10/app.py", "/ws/t1"), "/ws/t10/app.py", "whole components only");
        assert_eq!(relative_to("/etc/hosts", "/ws/t1"), "/etc/hosts");
        assert_eq!(relative_to("/etc/hosts", ""), "/etc/hosts");
    }

    #[test]
    fn clipping_counts_characters() {
        assert_eq!(clip("héllo", 3), "hél…");
        assert_eq!(clip("héllo", 5), "héllo");
    }

    #[test]
    fn last_lines_skip_trailing_blanks() {
        assert_eq!(last_lines("a\nb\nc\nd\n\n", 2), "c\nd");
        assert_eq!(last_lines("only\n", 20), "only");
        assert_eq!(last_lines("", 20), "");
    }
}
