//! Applying the implementer's edits (read by `orch-edits` from its reply,
//! in one of the edit formats) to a worktree: the path rules every edit must
//! keep (inside the worktree, never `.git/`), reading the files the edits
//! touch, and writing a step's edits all at once or not at all. Every edit is
//! worked out in memory first by `orch_edits::apply_all` (search texts found
//! by its matching ladder), so an edit that does not apply leaves every file
//! as it was, and the refusal lists every edit that failed.

use std::path::{Component, Path, PathBuf};

pub use orch_edits::{Change, Edit, Format, Rejected};

/// The largest file an edit reads: a model does not edit more.
pub const MAX_EDITED_FILE_BYTES: u64 = 16 << 20;

/// Why a step's edits were not applied (nothing was).
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// Some edits do not apply; the rest were fine.
    #[error("{0}")]
    Refused(Rejected),
    /// The files could not be written.
    #[error("writing the files: {0}")]
    Write(std::io::Error),
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
type Planned = std::collections::BTreeMap<PathBuf, Option<String>>;

/// Applies `edits` to the worktree at `root`, all or nothing. Returns the
/// warnings (loose matches, edits already applied) of a step that applied.
pub fn apply(root: &Path, edits: &[Edit]) -> Result<Vec<String>, EditError> {
    let read = |path: &str| -> Result<Option<String>, String> { read_current(&checked_path(root, path)?) };
    let applied = orch_edits::apply_all(edits, read).map_err(EditError::Refused)?;
    let mut planned = Planned::new();
    for (path, content) in applied.files {
        // Checked again: these are the names the files are written under.
        let file = checked_path(root, &path).map_err(|e| EditError::Write(std::io::Error::other(e)))?;
        planned.insert(file, content);
    }
    write_all(root, &planned).map_err(EditError::Write)?;
    Ok(applied.warnings.iter().map(ToString::to_string).collect())
}

/// The text of `file` as it is now, `None` when it does not exist. A
/// directory, a FIFO or a device (which a command may have left), a file over
/// [`MAX_EDITED_FILE_BYTES`] and one that is not UTF-8 are refused.
fn read_current(file: &Path) -> Result<Option<String>, String> {
    if file.is_dir() {
        return Err("it is a directory".into());
    }
    match crate::regular_file::read(file, MAX_EDITED_FILE_BYTES) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| "the file is not UTF-8 text".to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
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
