//! One task as a self-contained JSON document (`state/{id}.json`, as the seed
//! kept it): its record, steps, transition history and journal. Used to debug a
//! task, move it between stores, or attach it to a bug report.

use serde::{Deserialize, Serialize};

use super::{JournalEntry, StepRecord, StoreError, TaskRecord, Transition};

/// The format version written into every export.
pub const EXPORT_VERSION: u32 = 1;

/// A whole task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskExport {
    /// Always [`EXPORT_VERSION`] when written by this build.
    pub orch_task_export: u32,
    /// The task row.
    pub task: TaskRecord,
    /// Its steps.
    pub steps: Vec<StepRecord>,
    /// Every transition, in order.
    pub history: Vec<Transition>,
    /// Every journaled call.
    pub journal: Vec<JournalEntry>,
}

impl TaskExport {
    /// Bundles the parts of one task.
    pub fn new(task: TaskRecord, steps: Vec<StepRecord>, history: Vec<Transition>, journal: Vec<JournalEntry>) -> Self {
        Self { orch_task_export: EXPORT_VERSION, task, steps, history, journal }
    }

    /// Reads an export from JSON text.
    pub fn from_json(text: &str) -> Result<Self, StoreError> {
        let export: Self =
            serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("not a task export: {e}")))?;
        export.check()?;
        Ok(export)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("exports serialise to JSON")
    }

    /// Refuses exports this build cannot restore faithfully.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.orch_task_export != EXPORT_VERSION {
            return Err(StoreError::Corrupt(format!(
                "task export version {} is not supported (this orch reads version {EXPORT_VERSION})",
                self.orch_task_export
            )));
        }
        let in_order = self.history.iter().enumerate().all(|(i, t)| t.seq == i as u64 + 1);
        if !in_order || self.history.len() as u64 != self.task.seq {
            return Err(StoreError::Corrupt(format!(
                "task export `{}`: its history does not number 1..={} in order",
                self.task.spec.id, self.task.seq
            )));
        }
        Ok(())
    }
}
