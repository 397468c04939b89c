//! The implementer's edits: the JSON shape it replies with, the path rules
//! every edit must keep (inside the worktree, never `.git/`), and applying a
//! step's edits all at once or not at all.
//!
//! ```json
//! {"summary": "what the change does",
//!  "edits": [
//!    {"op": "write",   "path": "src/app.py", "content": "whole new file\n"},
//!    {"op": "replace", "path": "src/app.py", "search": "exact old text", "replace": "new text"},
//!    {"op": "delete",  "path": "old.py"},
//!    {"op": "rename",  "from": "a.py", "to": "pkg/a.py"}
//!  ]}
//! ```
//!
//! `replace` needs its `search` text to occur exactly once in the file as the
//! earlier edits of the same step left it.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

/// The largest file a `replace` edit reads: a model does not edit more.
pub const MAX_EDITED_FILE_BYTES: u64 = 16 << 20;

/// One edit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Edit {
    /// Creates or overwrites a whole file.
    Write {
        /// The file, relative to the worktree.
        path: String,
        /// Its whole new content.
        content: String,
    },
    /// Replaces the one occurrence of `search` in a file.
    Replace {
        /// The file, relative to the worktree.
        path: String,
        /// Text that occurs exactly once in the file.
        search: String,
        /// What it becomes.
        replace: String,
    },
    /// Deletes a file.
    Delete {
        /// The file, relative to the worktree.
        path: String,
    },
    /// Moves a file.
    Rename {
        /// Where it is.
        from: String,
        /// Where it goes.
        to: String,
    },
}

impl Edit {
    /// `write src/app.py` and the like, for messages.
    fn describe(&self) -> String {
        match self {
            Self::Write { path, .. } => format!("write {path}"),
            Self::Replace { path, .. } => format!("replace in {path}"),
            Self::Delete { path } => format!("delete {path}"),
            Self::Rename { from, to } => format!("rename {from} to {to}"),
        }
    }
}

/// A step's change as the implementer describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// What the change does, in a sentence or two.
    #[serde(default)]
    pub summary: String,
    /// The edits, applied in order.
    pub edits: Vec<Edit>,
}

impl Change {
    /// Reads a reply: the JSON object in it (a fenced block or bare). The
    /// error says what is wrong in words the implementer can act on.
    pub fn parse(reply: &str) -> Result<Self, String> {
        let start = reply.find('{').ok_or("the reply contains no JSON object")?;
        // The last `}` may also come before the first `{` (found by fuzzing).
        let end = reply.rfind('}').filter(|end| *end > start).ok_or("the reply's JSON object is not closed")?;
        let change: Self = serde_json::from_str(&reply[start..=end])
            .map_err(|e| format!("the reply is not a change of the form {{\"summary\", \"edits\": [...]}}: {e}"))?;
        if change.edits.is_empty() {
            return Err("the change has no edits".into());
        }
        Ok(change)
    }
}

/// Why a step's edits were not applied (nothing was).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("edit {index} ({what}): {problem}")]
pub struct EditError {
    /// 1-based position of the edit in the step.
    pub index: usize,
    /// The edit, e.g. `replace in src/app.py`.
    pub what: String,
    /// What is wrong.
    pub problem: String,
}

/// `path` as a path inside the worktree at `root`, or why it may not be
/// touched: absolute paths, `..`, anything under `.git`, and paths that lead
/// out through a symbolic link are refused.
pub fn checked_path(root: &Path, path: &str) -> Result<PathBuf, String> {
    if path.is_empty() || path.contains('\0') {
        return Err("the path is empty or holds a NUL byte".into());
    }
    let relative = Path::new(path);
    let mut clean = PathBuf::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) if part == ".git" => {
                return Err(format!("`{path}` is inside .git, which edits may not touch"));
            }
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("`{path}` climbs out with `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("`{path}` is absolute; paths are relative to the repository root"));
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(format!("`{path}` names the repository root, not a file"));
    }
    // The deepest part that exists must resolve inside the worktree, so a
    // symbolic link cannot lead an edit out.
    let root = root.canonicalize().map_err(|e| format!("the worktree is unreadable: {e}"))?;
    let full = root.join(&clean);
    let existing = full.ancestors().find(|p| p.symlink_metadata().is_ok()).unwrap_or(&root);
    let resolved = existing.canonicalize().map_err(|e| format!("`{path}`: {e}"))?;
    if !resolved.starts_with(&root) {
        return Err(format!("`{path}` leads out of the repository through a symbolic link"));
    }
    Ok(full)
}

/// A new file with a random name in `dir`, created exclusively (`O_EXCL`,
/// which also refuses to follow a symbolic link at that name).
fn create_temp(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    loop {
        let name: String = std::iter::repeat_with(fastrand::alphanumeric).take(16).collect();
        let path = dir.join(format!(".orch-edit-{name}.tmp"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What the files of a step will hold: new content, or `None` for deleted.
type Planned = BTreeMap<PathBuf, Option<String>>;

/// Applies `edits` to the worktree at `root`: every edit is checked and
/// worked out in memory first, so an edit that does not apply leaves every
/// file as it was. Returns the files written or deleted.
pub fn apply(root: &Path, edits: &[Edit]) -> Result<Vec<PathBuf>, EditError> {
    let mut planned = Planned::new();
    for (i, edit) in edits.iter().enumerate() {
        let fail = |problem: String| EditError { index: i + 1, what: edit.describe(), problem };
        let path = |p: &str| checked_path(root, p).map_err(fail);
        match edit {
            Edit::Write { path: p, content } => {
                planned.insert(path(p)?, Some(content.clone()));
            }
            Edit::Replace { path: p, search, replace } => {
                let file = path(p)?;
                let text = current(&planned, &file).map_err(fail)?;
                if search.is_empty() {
                    return Err(fail("`search` is empty".into()));
                }
                match text.matches(search.as_str()).count() {
                    1 => {
                        let replaced = text.replacen(search.as_str(), replace, 1);
                        planned.insert(file, Some(replaced));
                    }
                    0 => return Err(fail(format!("the search text does not occur in {p}; copy it exactly"))),
                    n => return Err(fail(format!("the search text occurs {n} times in {p}; make it unique"))),
                }
            }
            Edit::Delete { path: p } => {
                let file = path(p)?;
                current(&planned, &file).map_err(fail)?;
                planned.insert(file, None);
            }
            Edit::Rename { from, to } => {
                let (source, target) = (path(from)?, path(to)?);
                let text = current(&planned, &source).map_err(fail)?;
                if current(&planned, &target).is_ok() {
                    return Err(fail(format!("{to} already exists")));
                }
                planned.insert(source, None);
                planned.insert(target, Some(text));
            }
        }
    }
    write_all(root, &planned).map_err(|e| EditError {
        index: 0,
        what: "writing the files".into(),
        problem: e.to_string(),
    })?;
    Ok(planned.into_keys().collect())
}

/// The content `file` has after the planned edits so far.
fn current(planned: &Planned, file: &Path) -> Result<String, String> {
    match planned.get(file) {
        Some(Some(text)) => Ok(text.clone()),
        Some(None) => Err("the file was deleted by an earlier edit".into()),
        None if file.is_dir() => Err("it is a directory".into()),
        // A FIFO or a device (which a command may have left) is refused.
        None => crate::regular_file::read(file, MAX_EDITED_FILE_BYTES)
            .and_then(|bytes| String::from_utf8(bytes).map_err(|_| std::io::ErrorKind::InvalidData.into()))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => "the file does not exist".to_owned(),
                std::io::ErrorKind::InvalidData => "the file is not UTF-8 text".to_owned(),
                _ => e.to_string(),
            }),
    }
}

/// Writes every planned file through a temporary file and a rename, and
/// deletes the deleted ones. The temporary file has a random name and is
/// created, never opened: a symbolic link the repository planted under any
/// name is not followed (the rename then replaces a link at the target
/// itself, never what it points to).
fn write_all(root: &Path, planned: &Planned) -> std::io::Result<()> {
    for (file, content) in planned {
        match content {
            Some(text) => {
                let dir = file.parent().unwrap_or(root);
                std::fs::create_dir_all(dir)?;
                let temp = create_temp(dir)?;
                let written = std::io::Write::write_all(&mut &temp.1, text.as_bytes());
                if let Err(e) = written.and_then(|()| std::fs::rename(&temp.0, file)) {
                    let _ = std::fs::remove_file(&temp.0);
                    return Err(e);
                }
            }
            None if file.exists() => std::fs::remove_file(file)?,
            None => {}
        }
    }
    Ok(())
}
