//! The `json` format: one JSON object, fenced or bare, with unknown fields
//! refused:
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
//! earlier edits of the same change left it.

use crate::edit::Change;
use crate::error::ParseError;
use crate::format::Format;
use crate::quirks;

/// The change in `text` (a cleaned reply): the object from its first `{`
/// to its last `}`.
pub(crate) fn parse(text: &str) -> Result<Change, ParseError> {
    let Some(start) = text.find('{') else {
        return Err(quirks::no_edits(text, Format::Json, "the reply contains no JSON object"));
    };
    // The last `}` may also come before the first `{` (found by fuzzing).
    let Some(end) = text.rfind('}').filter(|end| *end > start) else {
        return Err(ParseError::CutOff { inside: "its JSON object".into(), line: quirks::line_at(text, start) });
    };
    let change: Change = serde_json::from_str(&text[start..=end]).map_err(|e| {
        let first = quirks::line_at(text, start);
        // serde_json counts from the object's `{`: its first line starts mid-line.
        let column = if e.line() == 1 {
            e.column() + start - text[..start].rfind('\n').map_or(0, |n| n + 1)
        } else {
            e.column()
        };
        // Its message ends with the position in the object: the error has the reply's.
        let message = e.to_string();
        let message = message.rfind(" at line ").map_or(message.as_str(), |at| &message[..at]).to_owned();
        ParseError::Json { line: first + e.line().max(1) - 1, column, message }
    })?;
    if change.edits.is_empty() {
        return Err(ParseError::NoEdits { message: "the change has no edits".into() });
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    use crate::{Edit, Format, ParseError, parse};

    #[test]
    fn a_fenced_object_with_prose_and_thinking() {
        let reply = "<think>{\"edits\": []}</think>\r\nHere is the change:\r\n```json\r\n{\"summary\": \"modernise\", \
                     \"edits\": [\r\n  {\"op\": \"write\", \"path\": \"a.py\", \"content\": \"x\"},\r\n  {\"op\": \
                     \"rename\", \"from\": \"a.py\", \"to\": \"b.py\"}]}\r\n```";
        let change = parse(Format::Json, reply).unwrap();
        assert_eq!(change.summary, "modernise");
        assert_eq!(change.edits[1], Edit::Rename { from: "a.py".into(), to: "b.py".into() });
    }

    #[test]
    fn refusals_say_where() {
        let err = parse(Format::Json, "no json here").unwrap_err();
        assert_eq!(err.to_string(), "the reply contains no JSON object");
        assert!(parse(Format::Json, r#"{"summary": "x", "edits": []}"#).unwrap_err().to_string().contains("no edits"));
        let err = parse(Format::Json, "Here:\n  {\"edits\": [{\"op\": \"chmod\", \"path\": \"a\"}]}").unwrap_err();
        let ParseError::Json { line, column, message } = &err else { panic!("{err:?}") };
        assert_eq!((*line, *column), (2, 27), "{message}");
        assert_eq!(message, "unknown variant `chmod`, expected one of `write`, `replace`, `delete`, `rename`");
        assert!(message.contains("chmod"), "{err}");
        let err = parse(Format::Json, "{\"edits\": [{\"op\": \"delete\", \"path\": \"a\", \"mode\": 1}]}").unwrap_err();
        assert!(err.to_string().contains("unknown field `mode`"), "{err}");
        // Found by `cargo fuzz run edits`: a `}` before the first `{` panicked.
        let crash = "Here:\n```x\\n\"}, {\"editsz: [{\"op\": \"\0\0\0\0\0\0\0\u{1}y\": \"rena";
        assert!(matches!(parse(Format::Json, crash), Err(ParseError::CutOff { .. })));
        assert_eq!(
            parse(Format::Json, "} {").unwrap_err().to_string(),
            "the reply ends inside its JSON object (line 1 of the reply); it seems cut off"
        );
    }
}
