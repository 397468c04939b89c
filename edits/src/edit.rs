//! The edits a reply asks for, whatever its format: write, replace, delete
//! and rename, and the change that holds them with its summary. Their serde
//! shape is the JSON format's (see [`crate::json`]).

use serde::{Deserialize, Serialize};

/// One edit to the repository; paths are relative to its root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Edit {
    /// Creates or overwrites a whole file.
    Write {
        /// The file.
        path: String,
        /// Its whole new content.
        content: String,
    },
    /// Replaces the one place in a file where `search` is found (see
    /// [`crate::ladder`]); an empty `search` creates a file that does not
    /// exist yet.
    Replace {
        /// The file.
        path: String,
        /// Text of the file as it is, found exactly once.
        search: String,
        /// What it becomes.
        replace: String,
    },
    /// Deletes a file.
    Delete {
        /// The file.
        path: String,
    },
    /// Moves a file.
    Rename {
        /// Where it is.
        from: String,
        /// Where it goes (must not exist yet).
        to: String,
    },
}

impl Edit {
    /// `write src/app.py`, `replace in src/app.py` and the like, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Write { path, .. } => format!("write {path}"),
            Self::Replace { path, .. } => format!("replace in {path}"),
            Self::Delete { path } => format!("delete {path}"),
            Self::Rename { from, to } => format!("rename {from} to {to}"),
        }
    }

    /// The file the edit acts on (for a rename, where it goes).
    pub fn path(&self) -> &str {
        match self {
            Self::Write { path, .. } | Self::Replace { path, .. } | Self::Delete { path } => path,
            Self::Rename { to, .. } => to,
        }
    }
}

/// A step's change as the implementer describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// What the change does, in a sentence or two (may be empty).
    #[serde(default)]
    pub summary: String,
    /// The edits, applied in order: each sees what the earlier ones did.
    pub edits: Vec<Edit>,
}
