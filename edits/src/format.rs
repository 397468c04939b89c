//! The four edit formats an implementer may be asked to answer in, by name
//! (`search-replace`, `whole`, `patch`, `json`), and what its prompt says
//! about each: the exact grammar with a short example, and the sentence
//! that asks for a new reply after a failure.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How the implementer writes its edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// aider-style `<<<<<<< SEARCH` / `=======` / `>>>>>>> REPLACE` blocks
    /// after the file's path.
    SearchReplace,
    /// One fenced block per file with its whole new content.
    Whole,
    /// Codex's `*** Begin Patch` envelope with context hunks.
    Patch,
    /// One JSON object with an `edits` list.
    Json,
}

/// A name that is not a format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown edit format `{0}`; the formats are search-replace, whole, patch and json")]
pub struct UnknownFormat(pub String);

impl Format {
    /// Every format, in the order the documentation lists them.
    pub const ALL: [Format; 4] = [Format::SearchReplace, Format::Whole, Format::Patch, Format::Json];

    /// The format's name, as in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Self::SearchReplace => "search-replace",
            Self::Whole => "whole",
            Self::Patch => "patch",
            Self::Json => "json",
        }
    }

    /// The answer grammar for the implementer's prompt: how to write,
    /// change, create, delete and rename files, with a short example.
    pub fn instructions(self) -> &'static str {
        match self {
            Self::SearchReplace => SEARCH_REPLACE,
            Self::Whole => WHOLE,
            Self::Patch => PATCH,
            Self::Json => JSON,
        }
    }

    /// One sentence asking for the whole change again in this format, after
    /// a reply that could not be used.
    pub fn again(self) -> &'static str {
        match self {
            Self::SearchReplace => {
                "Reply again with the whole change for this step: a short summary, then every edit as SEARCH/REPLACE \
                 blocks after the file's path (and DELETE/RENAME lines), as described at the start."
            }
            Self::Whole => {
                "Reply again with the whole change for this step: a short summary, then each changed file's path and \
                 its complete new content in a fenced block (and DELETE/RENAME lines), as described at the start."
            }
            Self::Patch => {
                "Reply again with the whole change for this step: a short summary, then one patch from \
                 `*** Begin Patch` to `*** End Patch` holding every edit, as described at the start."
            }
            Self::Json => "Reply again with the whole change for this step as one JSON object.",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|f| f.name() == name.trim()).ok_or_else(|| UnknownFormat(name.to_owned()))
    }
}

const SEARCH_REPLACE: &str = r#"Answer with a one-paragraph summary of the change, then SEARCH/REPLACE blocks. For each change, write the file's path (relative to the repository root) alone on a line, then a block:

src/app.py
```python
<<<<<<< SEARCH
def total(items):
    return sum(items)
=======
def total(items):
    return round(sum(items), 2)
>>>>>>> REPLACE
```

- SEARCH holds lines copied exactly from the file as it is now (indentation, comments and blank lines included). They must occur exactly once in it: add unchanged lines around the change until they do, no more. REPLACE holds what those lines become; leave it empty to delete them.
- Several blocks may follow one path line. Blocks apply in order, each to the file as the blocks before it left it.
- To create a file, leave SEARCH empty; REPLACE holds the whole new file.
- To delete a file, write the line `DELETE path`. To rename one, `RENAME old/path -> new/path`, and edit it under its new path after that line.
- If the file holds lines of ``` , fence the block with ```` (four backticks) instead."#;

const WHOLE: &str = r#"Answer with a one-paragraph summary of the change, then every file you create or change, in full: its path (relative to the repository root) alone on a line, then its complete new content in a fenced block:

src/app.py
```python
def total(items):
    return round(sum(items), 2)
```

- A block holds the whole file, every line of it: never shorten it with "..." or "rest unchanged" comments. Leave out files you do not change.
- If the file holds lines of ``` , fence it with ```` (four backticks) instead.
- To delete a file, write the line `DELETE path`. To rename one, `RENAME old/path -> new/path`; to also change it, give its new content under the new path after that line."#;

const PATCH: &str = r#"Answer with a one-paragraph summary of the change, then one patch holding every edit, paths relative to the repository root:

*** Begin Patch
*** Add File: src/util.py
+def clamp(x, lo, hi):
+    return max(lo, min(x, hi))
*** Update File: src/app.py
@@ def total(items):
     subtotal = sum(items)
-    return subtotal
+    return round(subtotal, 2)
*** Delete File: src/old.py
*** Update File: src/a.py
*** Move to: src/b.py
*** End Patch

- `*** Add File: path` creates a file; every line of its content starts with `+`.
- `*** Update File: path` changes a file with one or more hunks. A hunk starts with `@@`, or with `@@ ` and a line of the file above the change (its function or class) that occurs once in the file. In a hunk, unchanged lines start with a space, removed lines with `-`, added lines with `+`. Give about 3 unchanged lines above and below each change: the unchanged and removed lines of a hunk must occur exactly once in the file (below its `@@` line if it has one). Every hunk needs at least one unchanged or removed line.
- `*** Move to: new/path` right after `*** Update File: path` renames the file; hunks may follow.
- `*** Delete File: path` deletes a file.
- End with `*** End Patch`."#;

const JSON: &str = r#"Answer with one JSON object, paths relative to the repository root:

{"summary": "what the change does",
 "edits": [{"op": "write",   "path": "src/app.py", "content": "the whole new file\n"},
           {"op": "replace", "path": "src/app.py", "search": "text that occurs exactly once", "replace": "new text"},
           {"op": "delete",  "path": "old.py"},
           {"op": "rename",  "from": "a.py", "to": "pkg/a.py"}]}

- `search` is text copied exactly from the file as it is now, and must occur in it exactly once; edits apply in order, each to the files as the edits before it left them.
- Write newlines in strings as \n, quotes as \" and backslashes as \\."#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
            assert_eq!(serde_json::to_string(&format).unwrap(), format!("\"{format}\""));
            assert_eq!(serde_json::from_str::<Format>(&format!("\"{format}\"")).unwrap(), format);
            assert!(!format.instructions().is_empty() && format.again().starts_with("Reply again"));
        }
        let err = "diff".parse::<Format>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown edit format `diff`; the formats are search-replace, whole, patch and json"
        );
    }

    /// The example in each format's instructions is itself a valid reply.
    #[test]
    fn every_example_parses() {
        let search_replace = crate::parse(Format::SearchReplace, SEARCH_REPLACE).unwrap();
        assert_eq!(search_replace.edits.len(), 1);
        let whole = crate::parse(Format::Whole, WHOLE).unwrap();
        assert_eq!(whole.edits.len(), 1);
        let patch = crate::parse(Format::Patch, PATCH).unwrap();
        assert_eq!(patch.edits.len(), 4, "{patch:?}");
        let json = crate::parse(Format::Json, JSON).unwrap();
        assert_eq!(json.edits.len(), 4);
    }
}
