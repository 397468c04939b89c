//! A change's edits worked out in memory, in order: each edit sees the
//! files as the edits before it left them, and every edit is tried even
//! after one fails, so the report lists every failure at once. Nothing is
//! written here: the caller reads files through a closure and writes what
//! [`Applied`] holds (its path rules stay with it).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::edit::Edit;
use crate::ladder::{self, Miss, Rung};

/// Every edit applied in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Each file the edits changed: its new content, or `None` when it is
    /// deleted (renamed files appear under both paths). Files an edit left
    /// as they were are not listed.
    pub files: BTreeMap<String, Option<String>>,
    /// Edits that applied in a way worth logging: found by a loose rung of
    /// the ladder, or made already.
    pub warnings: Vec<Warning>,
}

/// Something to log about an edit that applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based position of the edit in the change.
    pub edit: usize,
    /// The edit, e.g. `replace in src/app.py`.
    pub what: String,
    /// What happened.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "edit {} ({}): {}", self.edit, self.what, self.message)
    }
}

/// Some edits did not apply (so none should be written): what happened to
/// each. Its `Display` (and [`Rejected::feedback`]) is the message for the
/// model; see [`crate::feedback`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// One per edit, in order.
    pub outcomes: Vec<Outcome>,
}

/// What happened to one edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// 1-based position of the edit in the change.
    pub edit: usize,
    /// The edit, e.g. `replace in src/app.py`.
    pub what: String,
    /// For a replace, a quote of its search text's first line, so the model
    /// can tell its blocks apart.
    pub starting: Option<String>,
    /// Why it did not apply; `None` when it did.
    pub problem: Option<Problem>,
    /// An earlier edit that failed on the same file, which this failure
    /// may follow from.
    pub after_failed: Option<usize>,
}

/// Why an edit did not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The file is not there.
    #[error("{path} does not exist{}", why.as_ref().map(|w| format!(" ({w})")).unwrap_or_default())]
    Missing {
        /// The file.
        path: String,
        /// Why, when an earlier edit removed it.
        why: Option<String>,
    },
    /// A rename's target is there already.
    #[error("{path} exists already; delete it first if it should be replaced")]
    Exists {
        /// The file.
        path: String,
    },
    /// A rename to the same path.
    #[error("it renames {path} to itself")]
    SamePath {
        /// The file.
        path: String,
    },
    /// The caller could not read the file (or refused the path).
    #[error("{path}: {message}")]
    Unreadable {
        /// The file.
        path: String,
        /// What the caller said.
        message: String,
    },
    /// The search text has no single place in the file.
    #[error("in {path}, {miss}")]
    Miss {
        /// The file.
        path: String,
        /// What the ladder found.
        miss: Miss,
    },
}

/// Works out `edits` in memory, in order. `read` gives a file's content by
/// its path as the edit names it (`Ok(None)`: it does not exist; `Err`: it
/// may not or cannot be read, which fails the edit with that message). It
/// is called at most once per path, for every path an edit touches (a
/// written file and a rename's target too, so the caller's path rules see
/// them all). Paths are compared after dropping a leading `./` and doubled
/// slashes.
pub fn apply_all(
    edits: &[Edit],
    read: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Applied, Rejected> {
    let mut files = Files { read, original: BTreeMap::new(), current: BTreeMap::new(), gone: HashMap::new() };
    let mut warnings = Vec::new();
    let mut outcomes = Vec::with_capacity(edits.len());
    let mut failed: Vec<(usize, &Edit)> = Vec::new();
    for (i, edit) in edits.iter().enumerate() {
        let index = i + 1;
        let what = edit.describe();
        let problem = match files.apply(edit, index) {
            Ok(Some(message)) => {
                warnings.push(Warning { edit: index, what: what.clone(), message });
                None
            }
            Ok(None) => None,
            Err(problem) => Some(problem),
        };
        let after_failed = problem.as_ref().and_then(|problem| cause(&failed, edit, problem));
        if problem.is_some() {
            failed.push((index, edit));
        }
        let starting = match edit {
            Edit::Replace { search, .. } => search.lines().find(|l| !l.trim().is_empty()).map(crate::quirks::quote),
            _ => None,
        };
        outcomes.push(Outcome { edit: index, what, starting, problem, after_failed });
    }
    if outcomes.iter().any(|o| o.problem.is_some()) {
        return Err(Rejected { outcomes });
    }
    let Files { original, current, .. } = files;
    let files = current.into_iter().filter(|(path, content)| original.get(path) != Some(content)).collect();
    Ok(Applied { files, warnings })
}

/// The files as the edits so far left them.
struct Files<R> {
    read: R,
    /// What `read` gave (`Err`: its message).
    original: BTreeMap<String, Option<String>>,
    /// What the edits made of them.
    current: BTreeMap<String, Option<String>>,
    /// Why a file that was there is not: `edit 3 deleted it`.
    gone: HashMap<String, String>,
}

impl<R: FnMut(&str) -> Result<Option<String>, String>> Files<R> {
    /// The file at `path` now.
    fn get(&mut self, path: &str) -> Result<Option<String>, Problem> {
        if let Some(content) = self.current.get(path) {
            return Ok(content.clone());
        }
        match (self.read)(path) {
            Ok(content) => {
                self.original.insert(path.to_owned(), content.clone());
                self.current.insert(path.to_owned(), content.clone());
                Ok(content)
            }
            Err(message) => Err(Problem::Unreadable { path: path.to_owned(), message }),
        }
    }

    fn missing(&self, path: &str) -> Problem {
        Problem::Missing { path: path.to_owned(), why: self.gone.get(path).cloned() }
    }

    fn set(&mut self, path: &str, content: Option<String>) {
        if content.is_some() {
            self.gone.remove(path);
        }
        self.current.insert(path.to_owned(), content);
    }

    /// Applies edit number `index`: a warning, or why it did not apply.
    fn apply(&mut self, edit: &Edit, index: usize) -> Result<Option<String>, Problem> {
        match edit {
            Edit::Write { path, content } => {
                let path = key(path);
                self.get(&path)?;
                self.set(&path, Some(content.clone()));
                Ok(None)
            }
            Edit::Replace { path, search, replace } => {
                let path = key(path);
                let text = match self.get(&path)? {
                    Some(text) => text,
                    // An empty search creates a file that is not there.
                    None if search.trim().is_empty() => {
                        self.set(&path, Some(replace.clone()));
                        return Ok(None);
                    }
                    None => return Err(self.missing(&path)),
                };
                if search.trim().is_empty() && text.trim().is_empty() {
                    self.set(&path, Some(replace.clone()));
                    return Ok(None);
                }
                let replaced = ladder::replace(&text, search, replace)
                    .map_err(|miss| Problem::Miss { path: path.clone(), miss })?;
                let line = replaced.first_line;
                let warning = if replaced.already_applied {
                    Some(format!(
                        "the search text is not in {path} but the replacement already is (line {line}), so nothing \
                         changed"
                    ))
                } else if replaced.rung != Rung::Exact {
                    Some(format!("the search text was found {} at line {line}", replaced.rung.describe()))
                } else {
                    None
                };
                self.set(&path, Some(replaced.text));
                Ok(warning)
            }
            Edit::Delete { path } => {
                let path = key(path);
                if self.get(&path)?.is_none() {
                    return Err(self.missing(&path));
                }
                self.set(&path, None);
                self.gone.insert(path, format!("edit {index} deleted it"));
                Ok(None)
            }
            Edit::Rename { from, to } => {
                let (from, to) = (key(from), key(to));
                if from == to {
                    return Err(Problem::SamePath { path: from });
                }
                let Some(text) = self.get(&from)? else { return Err(self.missing(&from)) };
                if self.get(&to)?.is_some() {
                    return Err(Problem::Exists { path: to });
                }
                self.set(&from, None);
                self.set(&to, Some(text));
                self.gone.insert(from, format!("edit {index} renamed it to {to}"));
                Ok(None)
            }
        }
    }
}

/// The earlier failed edit that `edit` may have failed because of: one on
/// the same file that would have made the file exist, or not exist, or hold
/// the text `edit` looked for.
fn cause(failed: &[(usize, &Edit)], edit: &Edit, problem: &Problem) -> Option<usize> {
    let paths = touched(edit);
    let wanted: Vec<&str> = match (edit, problem) {
        (_, Problem::Missing { .. } | Problem::Exists { .. }) => Vec::new(),
        (
            Edit::Replace { search, .. },
            Problem::Miss { miss: Miss::NotFound { .. } | Miss::ElisionPiece { .. }, .. },
        ) => search.lines().map(str::trim).filter(|l| !l.is_empty()).collect(),
        _ => return None,
    };
    failed.iter().find_map(|(index, earlier)| {
        let shared = touched(earlier).iter().any(|p| paths.contains(p));
        let related = match earlier {
            Edit::Replace { replace, .. } if !wanted.is_empty() => replace.lines().any(|l| wanted.contains(&l.trim())),
            Edit::Replace { .. } => false,
            _ => true,
        };
        (shared && related).then_some(*index)
    })
}

/// The paths an edit names, as keys.
fn touched(edit: &Edit) -> Vec<String> {
    match edit {
        Edit::Rename { from, to } => vec![key(from), key(to)],
        other => vec![key(other.path())],
    }
}

/// `path` without a leading `./` or doubled slashes, so two spellings of
/// one file are one key. Nothing else is changed: the caller judges paths.
fn key(path: &str) -> String {
    let mut key = path.trim().to_owned();
    loop {
        let before = key.len();
        key = key.replace("//", "/").replace("/./", "/");
        while let Some(rest) = key.strip_prefix("./") {
            key = rest.to_owned();
        }
        if key.len() == before {
            return key;
        }
    }
}

#[cfg(test)]
mod tests;
