//! The message for the model when a change's edits did not all apply: one
//! message, bounded in size, listing only the failed edits (which edit,
//! the rule broken, the closest actual lines with their numbers), which
//! ones applied, that the whole change must be sent again, and a reminder
//! of the format.

use std::fmt::{self, Write as _};

use crate::apply::{Outcome, Problem, Rejected};
use crate::format::Format;
use crate::ladder::Miss;
use crate::quirks::bounded;

/// The largest feedback message, in bytes.
pub const MAX_FEEDBACK_BYTES: usize = 8 << 10;

/// Room kept for the closing lines when failures are cut.
const TAIL_BYTES: usize = 600;

impl Rejected {
    /// The outcomes of the edits that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.problem.is_some())
    }

    /// The message for the model, ending with a reminder of `format`; at
    /// most [`MAX_FEEDBACK_BYTES`].
    pub fn feedback(&self, format: Format) -> String {
        bounded(&format!("{self}\n\n{}", format.again()), MAX_FEEDBACK_BYTES)
    }
}

impl fmt::Display for Rejected {
    /// The message without the format reminder (at most
    /// [`MAX_FEEDBACK_BYTES`] less room for it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed: Vec<&Outcome> = self.failures().collect();
        let total = self.outcomes.len();
        let mut out = if total == 1 {
            "The edit could not be applied, so no file was changed.".to_owned()
        } else {
            format!("{} of {total} edits could not be applied, so no file was changed.", failed.len())
        };
        out.push_str(
            " Fix the edits listed below and send the whole change again, every edit included: the files are still \
             as they were before your reply.",
        );
        let fine: Vec<usize> = self.outcomes.iter().filter(|o| o.problem.is_none()).map(|o| o.edit).collect();
        if !fine.is_empty() {
            let _ = write!(out, " {} applied cleanly: send {} again unchanged.", edit_list(&fine), them(fine.len()));
        }
        let budget = MAX_FEEDBACK_BYTES - TAIL_BYTES;
        for (shown, outcome) in failed.iter().enumerate() {
            let section = section(outcome);
            if out.len() + section.len() + 2 > budget {
                let _ = write!(
                    out,
                    "\n\n…and {} more failed edit(s) not shown: fix those above first.",
                    failed.len() - shown
                );
                break;
            }
            out.push_str("\n\n");
            out.push_str(&section);
        }
        f.write_str(&out)
    }
}

/// One failed edit: what it is, what went wrong, the closest lines.
fn section(outcome: &Outcome) -> String {
    let mut out = format!("Edit {} ({}", outcome.edit, outcome.what);
    if let Some(starting) = &outcome.starting {
        let _ = write!(out, ", the one whose search starts `{starting}`");
    }
    out.push_str("): ");
    let Some(problem) = &outcome.problem else { return out };
    let _ = write!(out, "{problem}.");
    if let Some(earlier) = outcome.after_failed {
        let _ = write!(out, " This may follow from edit {earlier} failing.");
    }
    if let Problem::Miss { path, miss } = problem {
        let closest = miss.closest();
        if !closest.is_empty() {
            let _ = write!(out, "\nThe closest lines of {path} as it is now:");
            let width = closest.last().map_or(1, |(n, _)| n.to_string().len());
            for (number, line) in closest {
                let _ = write!(out, "\n{number:>width$} | {line}");
            }
        }
        if matches!(miss, Miss::NotFound { .. } | Miss::ElisionPiece { .. }) {
            out.push_str(
                "\nCopy the lines to replace exactly as they are in the file now (after the earlier edits of this \
                 change), with their indentation.",
            );
        }
    }
    out
}

/// `Edit 1`, `Edits 1 and 3`, `Edits 1, 2 and 5` (at most 30 listed).
fn edit_list(edits: &[usize]) -> String {
    let names: Vec<String> = edits.iter().take(30).map(usize::to_string).collect();
    match names.split_last() {
        Some((last, [])) => format!("Edit {last}"),
        Some((last, rest)) if edits.len() <= 30 => format!("Edits {} and {last}", rest.join(", ")),
        _ => format!("Edits {} and {} more", names.join(", "), edits.len() - 30),
    }
}

fn them(count: usize) -> &'static str {
    if count == 1 { "it" } else { "them" }
}

#[cfg(test)]
mod tests;
