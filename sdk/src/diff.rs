//! Reading a change: a unified diff as `git diff` prints it, split into
//! files with their added lines (and where they land in the new file) and a
//! count of removed lines; and `*`/`**` path patterns. Gates that judge a
//! change from its diff (secrets, size limits) start here. Never panics:
//! lines it does not understand are skipped.

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// A new file.
    Added,
    /// An existing file changed.
    Modified,
    /// The file was deleted.
    Deleted,
    /// The file moved (and may have changed).
    Renamed,
}

/// One added line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedLine<'a> {
    /// 1-based line number in the new file.
    pub line: u32,
    /// The text, without the leading `+`.
    pub text: &'a str,
}

/// One file of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff<'a> {
    /// The path after the change (before it, for a deleted file).
    pub path: String,
    /// The path before a rename.
    pub old_path: Option<String>,
    /// How it changed.
    pub status: FileStatus,
    /// Git reported a binary change (no lines).
    pub binary: bool,
    /// Added lines, in order.
    pub added: Vec<AddedLine<'a>>,
    /// How many lines were removed.
    pub removed: usize,
}

impl FileDiff<'_> {
    /// Added plus removed lines.
    pub fn lines_changed(&self) -> usize {
        self.added.len() + self.removed
    }

    fn new(path: String) -> Self {
        Self { path, old_path: None, status: FileStatus::Modified, binary: false, added: Vec::new(), removed: 0 }
    }
}

/// `a/x` or `b/x` without its prefix; `None` for `/dev/null`.
fn side(path: &str) -> Option<String> {
    let path = path.trim_end_matches('\t').trim();
    let path = path.strip_prefix('"').and_then(|p| p.strip_suffix('"')).unwrap_or(path);
    if path == "/dev/null" {
        return None;
    }
    Some(path.strip_prefix("a/").or_else(|| path.strip_prefix("b/")).unwrap_or(path).to_owned())
}

/// `-a,b +c,d` of a hunk header: (old count, new start, new count).
fn hunk_header(line: &str) -> Option<(u32, u32, u32)> {
    let ranges = line.strip_prefix("@@ ")?.split(" @@").next()?;
    let (old, new) = ranges.split_once(' ')?;
    let count = |range: &str| -> Option<(u32, u32)> {
        match range.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((range.parse().ok()?, 1)),
        }
    };
    let (_, old_count) = count(old.strip_prefix('-')?)?;
    let (new_start, new_count) = count(new.strip_prefix('+')?)?;
    Some((old_count, new_start, new_count))
}

/// The files of a unified diff, in order.
pub fn parse(diff: &str) -> Vec<FileDiff<'_>> {
    let mut files: Vec<FileDiff<'_>> = Vec::new();
    // Lines left in the current hunk: (old, new), and the next new line number.
    let mut hunk: Option<(u32, u32)> = None;
    let mut next_line = 0u32;
    for line in diff.lines() {
        if let Some((old_left, new_left)) = hunk.as_mut()
            && let Some(file) = files.last_mut()
        {
            let consumed = match line.as_bytes().first() {
                Some(b'+') if *new_left > 0 => {
                    file.added.push(AddedLine { line: next_line, text: &line[1..] });
                    next_line += 1;
                    *new_left -= 1;
                    true
                }
                Some(b'-') if *old_left > 0 => {
                    file.removed += 1;
                    *old_left -= 1;
                    true
                }
                Some(b' ') | None if *old_left > 0 && *new_left > 0 => {
                    next_line += 1;
                    *old_left -= 1;
                    *new_left -= 1;
                    true
                }
                Some(b'\\') => true,
                _ => false,
            };
            if !consumed || hunk == Some((0, 0)) {
                hunk = None;
            }
            if consumed {
                continue;
            }
        } else if line.starts_with('\\') {
            // `\ No newline at end of file` after a hunk's last line.
            continue;
        }
        if let Some(rest) = line.strip_prefix("diff --git ") {
            // `a/X b/Y`; the ---/+++ and rename lines, when present, say it exactly.
            let path = rest.rsplit_once(" b/").map_or(rest, |(_, b)| b);
            files.push(FileDiff::new(path.to_owned()));
            continue;
        }
        let Some(file) = files.last_mut() else {
            // A diff without `diff --git` headers (plain `diff -u`).
            if let Some(old) = line.strip_prefix("--- ") {
                files.push(FileDiff::new(side(old).unwrap_or_default()));
            }
            continue;
        };
        if line.starts_with("new file mode") {
            file.status = FileStatus::Added;
        } else if line.starts_with("deleted file mode") {
            file.status = FileStatus::Deleted;
        } else if let Some(from) = line.strip_prefix("rename from ") {
            file.status = FileStatus::Renamed;
            file.old_path = Some(from.to_owned());
        } else if let Some(to) = line.strip_prefix("rename to ") {
            file.path = to.to_owned();
        } else if line.starts_with("Binary files ") || line.starts_with("GIT binary patch") {
            file.binary = true;
        } else if let Some(old) = line.strip_prefix("--- ") {
            match side(old) {
                Some(path) if file.status == FileStatus::Deleted || file.path.is_empty() => file.path = path,
                Some(_) => {}
                None => file.status = FileStatus::Added,
            }
        } else if let Some(new) = line.strip_prefix("+++ ") {
            match side(new) {
                Some(path) => file.path = path,
                None => file.status = FileStatus::Deleted,
            }
        } else if let Some((old_count, new_start, new_count)) = hunk_header(line) {
            hunk = Some((old_count, new_count));
            next_line = new_start.max(1);
        }
    }
    files
}

/// Whether `path` matches `pattern`, where `*` matches within one path
/// segment and `**` any number of whole segments (`.github/workflows/**`,
/// `**/.env`, `src/*.py`).
pub fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments_match(&pattern, &path)
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => path
            .split_first()
            .is_some_and(|(segment, tail)| segment_match(first, segment) && segments_match(rest, tail)),
    }
}

/// `*` within one segment.
fn segment_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            let Some(text) = text.strip_prefix(prefix) else {
                return false;
            };
            (0..=text.len()).filter(|i| text.is_char_boundary(*i)).any(|i| segment_match(rest, &text[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/src/app.py b/src/app.py
index 3b18e51..a9c2f4d 100644
--- a/src/app.py
+++ b/src/app.py
@@ -1,4 +1,5 @@
 import os
-KEY = os.environ[\"KEY\"]
+KEY = \"sk-live\"
+DEBUG = True
 
 def main():
@@ -10 +11 @@ def main():
-    return 1
+    return 2
diff --git a/docs/new guide.md b/docs/new guide.md
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/docs/new guide.md
@@ -0,0 +1,2 @@
+# Guide
+++ this line starts with two pluses
diff --git a/old.py b/old.py
deleted file mode 100644
index 1111111..0000000
--- a/old.py
+++ /dev/null
@@ -1,2 +0,0 @@
-a = 1
-b = 2
diff --git a/a.py b/pkg/a.py
similarity index 90%
rename from a.py
rename to pkg/a.py
index 1..2 100644
--- a/a.py
+++ b/pkg/a.py
@@ -1 +1 @@
-x = 1
\\ No newline at end of file
+x = 2
\\ No newline at end of file
diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..1234567
Binary files /dev/null and b/logo.png differ
";

    #[test]
    fn files_lines_and_statuses() {
        let files = parse(DIFF);
        let summary: Vec<(&str, FileStatus, usize, usize, bool)> =
            files.iter().map(|f| (f.path.as_str(), f.status, f.added.len(), f.removed, f.binary)).collect();
        assert_eq!(
            summary,
            [
                ("src/app.py", FileStatus::Modified, 3, 2, false),
                ("docs/new guide.md", FileStatus::Added, 2, 0, false),
                ("old.py", FileStatus::Deleted, 0, 2, false),
                ("pkg/a.py", FileStatus::Renamed, 1, 1, false),
                ("logo.png", FileStatus::Added, 0, 0, true),
            ]
        );
        assert_eq!(files[3].old_path.as_deref(), Some("a.py"));
        let app: Vec<(u32, &str)> = files[0].added.iter().map(|a| (a.line, a.text)).collect();
        assert_eq!(app, [(2, "KEY = \"sk-live\""), (3, "DEBUG = True"), (11, "    return 2")]);
        assert_eq!(files[1].added[1], AddedLine { line: 2, text: "++ this line starts with two pluses" });
        assert_eq!(files[0].lines_changed(), 5);
    }

    #[test]
    fn garbage_is_skipped() {
        assert!(parse("").is_empty());
        assert!(parse("hello\nworld\n@@ nonsense @@\n+x").is_empty());
        let plain = parse("--- a/x.txt\n+++ b/x.txt\n@@ -1 +1 @@\n-a\n+b\n");
        assert_eq!((plain[0].path.as_str(), plain[0].added.len(), plain[0].removed), ("x.txt", 1, 1));
    }

    #[test]
    fn patterns_match_segments() {
        assert!(matches(".github/workflows/**", ".github/workflows/ci.yml"));
        assert!(matches(".github/workflows/**", ".github/workflows/sub/x.yml"));
        assert!(!matches(".github/workflows/**", ".github/dependabot.yml"));
        assert!(matches("**/.env", ".env") && matches("**/.env", "services/api/.env"));
        assert!(!matches("**/.env", "services/.env.example"));
        assert!(matches("**/*.pem", "certs/server.pem") && !matches("*.pem", "certs/server.pem"));
        assert!(matches("src/*.py", "src/app.py") && !matches("src/*.py", "src/pkg/app.py"));
        assert!(matches("tests/fixtures/*", "tests/fixtures/keys.txt"));
        assert!(matches("**/id_rsa", "home/me/.ssh/id_rsa") && !matches("**/id_rsa", "id_rsa.pub"));
    }
}
