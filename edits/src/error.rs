//! Why a reply could not be read as a change. Every message names the reply
//! line, what was expected there and a short quote of what was found, so
//! the model it goes back to can act on it.

/// A reply that is not a change in the format asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The reply opens a reasoning block (`<think>`) and never closes it.
    #[error(
        "the reply seems cut off inside its reasoning: `{tag}` on line {line} is never closed, so no edit follows it"
    )]
    UnclosedThinking {
        /// 1-based line of the reply where the block opens.
        line: usize,
        /// The opening tag, e.g. `<think>`.
        tag: String,
    },
    /// The reply ends inside a block: it was most likely cut off.
    #[error("the reply ends inside {inside} (line {line} of the reply); it seems cut off")]
    CutOff {
        /// What was open, e.g. `the SEARCH block for src/x.py`.
        inside: String,
        /// 1-based line of the reply where it opens.
        line: usize,
    },
    /// A line is not what the format allows at that place.
    #[error("line {line} of the reply: expected {expected}, found `{found}`")]
    Unexpected {
        /// 1-based line of the reply.
        line: usize,
        /// What the format allows there.
        expected: String,
        /// A short quote of the line.
        found: String,
    },
    /// A block or line the format cannot use, and why.
    #[error("line {line} of the reply: {problem}")]
    Invalid {
        /// 1-based line of the reply.
        line: usize,
        /// What is wrong and how to write it.
        problem: String,
    },
    /// The reply holds no edit at all.
    #[error("{message}")]
    NoEdits {
        /// What is missing, in the format's terms.
        message: String,
    },
    /// The JSON format's object does not parse as a change.
    #[error(
        "the reply's JSON (line {line}, column {column}) is not a change of the form {{\"summary\", \"edits\": [...]}}: {message}"
    )]
    Json {
        /// 1-based line of the reply.
        line: usize,
        /// 1-based column on that line.
        column: usize,
        /// What serde_json says.
        message: String,
    },
}
