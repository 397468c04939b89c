//! A file's text as lines for matching: each line's content without its
//! line end, the raw lines to rebuild the file from (so untouched lines keep
//! their bytes), the file's usual line end and its loose keys, computed
//! once.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::normalise::loose;

/// A file cut into lines.
pub(crate) struct Lines<'a> {
    /// The whole text.
    pub text: &'a str,
    /// Each line with its line end (the last may have none).
    pub raw: Vec<&'a str>,
    /// Each line without its line end (`\n` or `\r\n`).
    pub content: Vec<&'a str>,
    /// The line end most of the file uses, for inserted lines.
    pub eol: &'static str,
    loose: OnceCell<Vec<Cow<'a, str>>>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let raw: Vec<&str> = text.split_inclusive('\n').collect();
        let content = raw
            .iter()
            .map(|l| {
                let l = l.strip_suffix('\n').unwrap_or(l);
                l.strip_suffix('\r').unwrap_or(l)
            })
            .collect();
        let crlf = raw.iter().filter(|l| l.ends_with("\r\n")).count();
        let eol = if crlf * 2 > raw.len() { "\r\n" } else { "\n" };
        Self { text, raw, content, eol, loose: OnceCell::new() }
    }

    /// How many lines.
    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }

    /// Each line as [`loose`] reads it.
    pub(crate) fn loose(&self) -> &[Cow<'a, str>] {
        self.loose.get_or_init(|| self.content.iter().map(|l| loose(l)).collect())
    }

    /// The 1-based line holding byte `at`.
    pub(crate) fn line_of(&self, at: usize) -> usize {
        crate::quirks::line_at(self.text, at)
    }
}

/// LF text as lines without their ends; a final newline ends the last line
/// rather than starting an empty one; no text, no lines.
pub(crate) fn split_lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    text.strip_suffix('\n').unwrap_or(text).split('\n').collect()
}

/// The whitespace a line starts with.
pub(crate) fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_their_ends() {
        let file = Lines::new("a\r\nb\r\nc");
        assert_eq!(file.content, ["a", "b", "c"]);
        assert_eq!(file.raw, ["a\r\n", "b\r\n", "c"]);
        assert_eq!(file.eol, "\r\n");
        assert_eq!(Lines::new("a\nb\r\n").eol, "\n");
        assert_eq!(Lines::new("").len(), 0);
        assert_eq!(split_lines("a\nb\n"), ["a", "b"]);
        assert_eq!(split_lines("a\nb"), ["a", "b"]);
        assert_eq!(split_lines("\n"), [""]);
        assert!(split_lines("").is_empty());
        assert_eq!(indentation("\t  x "), "\t  ");
    }
}
