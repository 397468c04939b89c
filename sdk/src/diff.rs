//! Reading a unified diff as `git diff` prints it, for gates that judge a
//! change by its text: which files it touches, how (added, modified,
//! deleted, renamed, copied), which lines it adds with their line numbers in
//! the new file, and how many it removes.
//!
//! ```
//! use orch_sdk::diff::{self, FileStatus};
//!
//! let change = "\
//! diff --git a/app.py b/app.py
//! index 4cb29ea..6addb9b 100644
//! --- a/app.py
//! +++ b/app.py
//! @@ -1,2 +1,2 @@
//!  import os
//! -TOKEN = None
//! +TOKEN = os.environ[\"TOKEN\"]
//! ";
//! let files = diff::parse(change);
//! assert_eq!(files[0].path, "app.py");
//! assert_eq!(files[0].status, FileStatus::Modified);
//! assert_eq!(files[0].added[0].line, 2);
//! assert_eq!(files[0].added[0].text, "TOKEN = os.environ[\"TOKEN\"]");
//! assert_eq!(files[0].lines_changed(), 2);
//! ```
//!
//! The parser never fails: lines it does not understand (a `### step` note,
//! `index` lines, a binary patch's data) are skipped. Hunks are read by
//! their line counts, so a removed line that reads `-- a/x` (shown as
//! `--- a/x`) is not mistaken for a file header. Plain `diff -u` output
//! (`---`/`+++` without a `diff --git` line) is read too. Paths are expected
//! with git's default `a/` and `b/` prefixes (what `git diff
//! --default-prefix` prints whatever the user's config says); without them
//! they are taken as written.

/// How a change treats a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// The file is new.
    Added,
    /// The file existed and still does, under the same path.
    Modified,
    /// The file is gone.
    Deleted,
    /// The file moved from [`FileDiff::old_path`], possibly with edits.
    Renamed,
    /// The file is new, a copy of [`FileDiff::old_path`] (`git diff -C`).
    Copied,
}

/// One line the change adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedLine<'a> {
    /// Its 1-based line number in the new file.
    pub line: u32,
    /// Its text, without the leading `+` and the line ending.
    pub text: &'a str,
}

/// What a change does to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff<'a> {
    /// The file's path after the change; its old path when it was deleted.
    pub path: String,
    /// Where a renamed or copied file came from.
    pub old_path: Option<String>,
    /// How the file is treated.
    pub status: FileStatus,
    /// True when git shows no lines because the file is binary.
    pub binary: bool,
    /// The lines added, in order.
    pub added: Vec<AddedLine<'a>>,
    /// How many lines were removed.
    pub removed: usize,
}

impl FileDiff<'_> {
    /// Lines added plus lines removed (a modified line counts twice).
    pub fn lines_changed(&self) -> usize {
        self.added.len() + self.removed
    }

    /// The paths the change touches: the path, and the old path of a rename
    /// or copy.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.path.as_str()).chain(self.old_path.as_deref())
    }
}

/// Reads every file of `diff`, in the order they appear. A file that appears
/// twice (diffs pasted one after another) is listed twice.
pub fn parse(diff: &str) -> Vec<FileDiff<'_>> {
    let mut files = Vec::new();
    let mut current: Option<Builder<'_>> = None;
    let mut hunk: Option<Hunk> = None;
    let mut lines = diff.lines().peekable();
    while let Some(line) = lines.next() {
        if let (Some(open), Some(file)) = (hunk.as_mut(), current.as_mut())
            && open.take(line, file)
        {
            continue;
        }
        hunk = None;
        if let Some(names) = line.strip_prefix("diff --git ") {
            files.extend(current.take().map(Builder::finish));
            current = Some(Builder::from_git_header(names));
        } else if line.starts_with("@@ ") {
            hunk = current.as_ref().and_then(|_| Hunk::from_header(line));
            if let Some(file) = current.as_mut() {
                file.in_header = false;
            }
        } else if let Some(old) = line.strip_prefix("--- ")
            && let Some(new) = lines.next_if(|next| next.starts_with("+++ "))
        {
            let (old, new) = (marker_path(old, "a/"), marker_path(&new[4..], "b/"));
            match current.as_mut() {
                Some(file) if file.in_header && !file.saw_markers => file.set_markers(old, new),
                _ => {
                    files.extend(current.take().map(Builder::finish));
                    let mut file = Builder::default();
                    file.set_markers(old, new);
                    current = Some(file);
                }
            }
        } else if let Some(file) = current.as_mut().filter(|file| file.in_header) {
            file.read_extended_header(line);
        }
    }
    files.extend(current.map(Builder::finish));
    files
}

/// A file being read.
#[derive(Default)]
struct Builder<'a> {
    /// The old path, `None` when the file is new.
    old: Option<String>,
    /// The new path, `None` when the file is deleted.
    new: Option<String>,
    added_file: bool,
    deleted_file: bool,
    renamed: bool,
    copied: bool,
    binary: bool,
    /// Still before the first hunk: extended header lines are read.
    in_header: bool,
    /// The `---`/`+++` pair was read.
    saw_markers: bool,
    added: Vec<AddedLine<'a>>,
    removed: usize,
}

impl<'a> Builder<'a> {
    /// A file from `diff --git a/OLD b/NEW`; both paths, which a later
    /// `rename`, `---` or `+++` line may correct.
    fn from_git_header(names: &str) -> Self {
        let (old, new) = split_git_names(names);
        Self { old: Some(old), new: Some(new), in_header: true, ..Self::default() }
    }

    fn read_extended_header(&mut self, line: &str) {
        if line.starts_with("new file mode ") {
            self.added_file = true;
        } else if line.starts_with("deleted file mode ") {
            self.deleted_file = true;
        } else if let Some(name) = line.strip_prefix("rename from ") {
            (self.renamed, self.old) = (true, Some(unquoted(name)));
        } else if let Some(name) = line.strip_prefix("rename to ") {
            (self.renamed, self.new) = (true, Some(unquoted(name)));
        } else if let Some(name) = line.strip_prefix("copy from ") {
            (self.copied, self.old) = (true, Some(unquoted(name)));
        } else if let Some(name) = line.strip_prefix("copy to ") {
            (self.copied, self.new) = (true, Some(unquoted(name)));
        } else if line == "GIT binary patch" || (line.starts_with("Binary files ") && line.ends_with(" differ")) {
            self.binary = true;
        }
    }

    /// The paths of the `---` and `+++` lines, `None` for `/dev/null`.
    fn set_markers(&mut self, old: Option<String>, new: Option<String>) {
        self.added_file |= old.is_none();
        self.deleted_file |= new.is_none();
        self.old = old.or(self.old.take());
        self.new = new.or(self.new.take());
        self.saw_markers = true;
        self.in_header = true;
    }

    fn finish(self) -> FileDiff<'a> {
        let status = match () {
            () if self.deleted_file => FileStatus::Deleted,
            () if self.added_file => FileStatus::Added,
            () if self.renamed => FileStatus::Renamed,
            () if self.copied => FileStatus::Copied,
            () => FileStatus::Modified,
        };
        let (path, old_path) = match status {
            FileStatus::Deleted => (self.old.or(self.new), None),
            FileStatus::Renamed | FileStatus::Copied => (self.new, self.old),
            FileStatus::Added | FileStatus::Modified => (self.new.or(self.old), None),
        };
        FileDiff {
            path: path.unwrap_or_default(),
            old_path,
            status,
            binary: self.binary,
            added: self.added,
            removed: self.removed,
        }
    }
}

/// The lines an open hunk still expects.
struct Hunk {
    old_left: u32,
    new_left: u32,
    /// The new-file line number of the next added or context line.
    next_line: u32,
}

impl Hunk {
    /// From `@@ -a[,b] +c[,d] @@ ...`; `None` when the header is garbled.
    fn from_header(line: &str) -> Option<Self> {
        let mut words = line.strip_prefix("@@ -")?.split(' ');
        let (_, old_count) = range(words.next()?)?;
        let (new_start, new_count) = range(words.next()?.strip_prefix('+')?)?;
        (words.next()? == "@@").then_some(Self { old_left: old_count, new_left: new_count, next_line: new_start })
    }

    /// Takes `line` into `file` when it belongs to this hunk.
    fn take<'a>(&mut self, line: &'a str, file: &mut Builder<'a>) -> bool {
        // `diff.suppressBlankEmpty` prints an empty context line as "".
        let kind = line.as_bytes().first().copied().unwrap_or(b' ');
        let text = line.get(1..).unwrap_or_default();
        match kind {
            b'+' if self.new_left > 0 => {
                file.added.push(AddedLine { line: self.next_line, text });
                self.new_left -= 1;
                self.next_line = self.next_line.saturating_add(1);
            }
            b'-' if self.old_left > 0 => {
                file.removed += 1;
                self.old_left -= 1;
            }
            b' ' if self.old_left > 0 && self.new_left > 0 => {
                self.old_left -= 1;
                self.new_left -= 1;
                self.next_line = self.next_line.saturating_add(1);
            }
            // `\ No newline at end of file`, inside the hunk or right after it.
            b'\\' => {}
            _ => return false,
        }
        true
    }
}

/// `start[,count]`, the count being 1 when left out.
fn range(text: &str) -> Option<(u32, u32)> {
    match text.split_once(',') {
        Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
        None => Some((text.parse().ok()?, 1)),
    }
}

/// The path of a `---`/`+++` line (after the marker): unquoted, without the
/// tab git adds after a name with a space (or a timestamp `diff -u` adds),
/// without `prefix`; `None` for `/dev/null`.
fn marker_path(text: &str, prefix: &str) -> Option<String> {
    let name = if text.starts_with('"') { unquoted(text) } else { text.split('\t').next().unwrap_or(text).to_owned() };
    (name != "/dev/null").then(|| strip_prefix_owned(name, prefix))
}

/// The two names of a `diff --git` line, without their `a/` and `b/`
/// prefixes. Unquoted names with spaces are ambiguous; for the usual case of
/// one path on both sides the line is split in its middle, otherwise at the
/// first ` b/` (a rename's `rename from`/`rename to` lines correct it).
fn split_git_names(names: &str) -> (String, String) {
    let (old, new) = if names.starts_with('"') {
        let (old, rest) = take_quoted(names);
        (old, rest.trim_start().to_owned())
    } else if let Some(at) = names.find(" \"") {
        (names[..at].to_owned(), names[at + 1..].to_owned())
    } else {
        let half = names.len().saturating_sub(1) / 2;
        // The halves, each without its prefix (if any: `diff.noprefix`),
        // name the same file, and a space parts them (without that check a
        // cut inside a character panicked: found by fuzzing).
        let same = names.len() % 2 == 1 && names.is_char_boundary(half) && {
            let (old, new) = names.split_at(half);
            new.strip_prefix(' ')
                .is_some_and(|new| old.strip_prefix("a/").unwrap_or(old) == new.strip_prefix("b/").unwrap_or(new))
        };
        match names.find(" b/") {
            _ if same => (names[..half].to_owned(), names[half + 1..].to_owned()),
            Some(at) => (names[..at].to_owned(), names[at + 1..].to_owned()),
            None => (names.to_owned(), names.to_owned()),
        }
    };
    (strip_prefix_owned(old, "a/"), strip_prefix_owned(unquoted(&new), "b/"))
}

fn strip_prefix_owned(name: String, prefix: &str) -> String {
    match name.strip_prefix(prefix) {
        Some(rest) => rest.to_owned(),
        None => name,
    }
}

/// `text` with git's C-style quoting undone when it is quoted, else as it is.
fn unquoted(text: &str) -> String {
    if text.starts_with('"') { take_quoted(text).0 } else { text.to_owned() }
}

/// Reads the quoted name at the start of `text` (`"t\303\251st"`): the name
/// and what follows the closing quote. Octal escapes are bytes of UTF-8;
/// invalid UTF-8 becomes `�`.
fn take_quoted(text: &str) -> (String, &str) {
    let body = text.strip_prefix('"').unwrap_or(text);
    let mut bytes = Vec::with_capacity(body.len());
    let mut iter = body.bytes().enumerate();
    let mut rest = "";
    while let Some((at, byte)) = iter.next() {
        match byte {
            b'"' => {
                rest = &body[at + 1..];
                break;
            }
            b'\\' => match iter.next() {
                Some((_, digit @ b'0'..=b'7')) => {
                    let mut value = u32::from(digit - b'0');
                    for _ in 0..2 {
                        match iter.clone().next() {
                            Some((_, next @ b'0'..=b'7')) => {
                                value = value * 8 + u32::from(next - b'0');
                                iter.next();
                            }
                            _ => break,
                        }
                    }
                    bytes.push(u8::try_from(value).unwrap_or(b'?'));
                }
                Some((_, escaped)) => bytes.push(match escaped {
                    b'a' => 0x07,
                    b'b' => 0x08,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'v' => 0x0b,
                    b'f' => 0x0c,
                    b'r' => b'\r',
                    other => other,
                }),
                None => {}
            },
            other => bytes.push(other),
        }
    }
    (String::from_utf8_lossy(&bytes).into_owned(), rest)
}

#[cfg(test)]
mod tests;
