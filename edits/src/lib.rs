//! Reading an implementer's reply in one of four edit formats into edits,
//! and finding where each edit goes in a file.
//!
//! - [`Format`] names the formats (`search-replace`, `whole`, `patch`,
//!   `json`) and gives each one's prompt text ([`Format::instructions`],
//!   [`Format::again`]).
//! - [`parse`] reads a reply into a [`Change`]: a summary and [`Edit`]s
//!   (write, replace, delete, rename). It survives reasoning blocks, CRLF,
//!   prose around the edits and Markdown fences; a [`ParseError`] says
//!   which reply line is wrong and what was expected there.
//! - [`ladder`] finds a search text in a file: exactly first, then with
//!   bounded tolerance, refusing any rung that finds two places.
//! - [`apply_all`] works out every edit in memory through a read closure,
//!   and gives the new files ([`Applied`]) or every failure at once
//!   ([`Rejected`], whose [`Rejected::feedback`] is the message for the
//!   model).
//!
//! ```
//! use orch_edits::{Format, apply_all, parse};
//!
//! let reply = "Round the total.\n\nsrc/app.py\n```python\n<<<<<<< SEARCH\n  return sum(items)\n=======\n  \
//!              return round(sum(items), 2)\n>>>>>>> REPLACE\n```\n";
//! let change = parse(Format::SearchReplace, reply)?;
//! assert_eq!(change.summary, "Round the total.");
//! let applied = apply_all(&change.edits, |path| {
//!     Ok((path == "src/app.py").then(|| "def total(items):\n    return sum(items)\n".to_owned()))
//! })
//! .map_err(|rejected| rejected.feedback(Format::SearchReplace))?;
//! let new = applied.files["src/app.py"].as_deref();
//! assert_eq!(new, Some("def total(items):\n    return round(sum(items), 2)\n"));
//! // The search was indented by 2 where the file has 4: a warning says so.
//! assert_eq!(applied.warnings[0].to_string(), "edit 1 (replace in src/app.py): the search text was found with its indentation shifted uniformly at line 2");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod apply;
mod closest;
mod edit;
mod elision;
mod error;
pub mod feedback;
mod format;
mod indent;
pub mod json;
pub mod ladder;
mod normalise;
mod patch;
mod quirks;
mod search_replace;
mod text;
mod whole;

pub use apply::{Applied, Outcome, Problem, Rejected, Warning, apply_all};
pub use edit::{Change, Edit};
pub use error::ParseError;
pub use format::{Format, UnknownFormat};
pub use ladder::{Found, Miss, Replaced, Rung};

/// Reads `reply` as a change in `format`. Reasoning blocks are dropped,
/// line ends made LF, and the prose before the first edit (its first
/// paragraph, at most 500 bytes) becomes the summary in the text formats.
/// A reply without any edit is an error.
pub fn parse(format: Format, reply: &str) -> Result<Change, ParseError> {
    let text = quirks::clean(reply)?;
    let (edits, first) = match format {
        Format::Json => return json::parse(&text),
        Format::SearchReplace => search_replace::parse(&text)?,
        Format::Whole => whole::parse(&text)?,
        Format::Patch => patch::parse(&text)?,
    };
    let prose: Vec<&str> = text.split('\n').take(first).collect();
    Ok(Change { summary: quirks::summary(&prose), edits })
}
