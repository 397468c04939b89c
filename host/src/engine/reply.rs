//! Reading a model's reply before it is parsed as a plan, a verdict or a
//! change: the stop reason first (a reply cut off at `max_tokens` or
//! refused is its own problem, never a parse error), then, for JSON replies,
//! the quirks real models add around the object — `<think>` blocks, prose
//! before and after, one Markdown fence — down to the first balanced object.

use serde_json::Value;

/// Why a reply cannot be read at all, decided by how it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Generation hit `max_tokens`: ask again with more room.
    Truncated,
    /// The model declined; the text is its explanation.
    Refused(String),
    /// The provider withheld the content.
    Filtered,
}

impl Stopped {
    /// From a journaled stop reason name.
    pub fn from_reason(reason: &str, text: &str) -> Option<Self> {
        match reason {
            "max_tokens" => Some(Self::Truncated),
            "refusal" => Some(Self::Refused(text.trim().chars().take(300).collect())),
            "content_filter" => Some(Self::Filtered),
            _ => None,
        }
    }
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Truncated => f.write_str("the reply was cut off at the token limit"),
            Self::Refused(why) if why.is_empty() => f.write_str("the model refused to answer"),
            Self::Refused(why) => write!(f, "the model refused to answer: {why}"),
            Self::Filtered => f.write_str("the provider withheld the reply (content filter)"),
        }
    }
}

/// `reply` without its reasoning blocks (`<think>…</think>`,
/// `<thinking>…</thinking>`); an unclosed block is an error, since the
/// answer would be inside it.
pub fn without_thinking(reply: &str) -> Result<String, String> {
    let mut out = String::with_capacity(reply.len());
    let mut rest = reply;
    loop {
        let open = ["<think>", "<thinking>"].iter().filter_map(|tag| rest.find(tag).map(|at| (at, *tag))).min();
        let Some((at, tag)) = open else {
            out.push_str(rest);
            return Ok(out);
        };
        out.push_str(&rest[..at]);
        let close = tag.replacen('<', "</", 1);
        match rest[at..].find(&close) {
            Some(end) => rest = &rest[at + end + close.len()..],
            None => {
                return Err("the reply ends inside its reasoning (an unclosed <think> block); it seems cut off".into());
            }
        }
    }
}

/// Most `{` positions tried in one candidate text.
const MAX_TRIES: usize = 32;

/// The first balanced JSON object in `reply`, after reasoning blocks are
/// removed: inside the first fence when there is one, else anywhere.
pub fn json_object(reply: &str) -> Result<Value, String> {
    let text = without_thinking(&reply.replace("\r\n", "\n"))?;
    let fenced = fence_body(&text);
    let candidates = fenced.into_iter().chain(std::iter::once(text.as_str()));
    let mut last_error = None;
    for candidate in candidates {
        // Prose may hold braces of its own: try the next `{` until one parses.
        for (start, _) in candidate.match_indices('{').take(MAX_TRIES) {
            match balanced(&candidate[start..]) {
                Some(object) => match serde_json::from_str(object) {
                    Ok(value) => return Ok(value),
                    Err(e) => last_error = last_error.or(Some(format!("the JSON object is not valid JSON: {e}"))),
                },
                None => {
                    last_error = last_error.or(Some("the JSON object is not closed; the reply seems cut off".into()))
                }
            }
        }
    }
    Err(last_error.unwrap_or_else(|| "the reply contains no JSON object; answer with one JSON object only".into()))
}

/// The body of the first Markdown fence (``` or ~~~, any info string).
fn fence_body(text: &str) -> Option<&str> {
    let start = text.find("```").or_else(|| text.find("~~~"))?;
    let marker = &text[start..start + 3];
    let after = &text[start + 3..];
    let body_start = after.find('\n')? + 1;
    let body = &after[body_start..];
    Some(body.find(marker).map_or(body, |end| &body[..end]))
}

/// The prefix of `text` (which starts with `{`) up to its matching `}`,
/// reading strings and escapes as JSON does.
fn balanced(text: &str) -> Option<&str> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '{' | '[' if !in_string => depth += 1,
            '}' | ']' if !in_string => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(&text[..=i]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_object_is_found_through_the_known_quirks() {
        let object = json!({"verdict": "approved", "summary": "a } in a string, and \"quotes\""});
        let text = object.to_string();
        for reply in [
            text.clone(),
            format!("Sure! Here it is:\n{text}\nHope this helps {{:"),
            format!("```json\n{text}\n```"),
            format!("Some words.\n~~~\n{text}\n~~~\n"),
            format!("Use {{braces}} like this: {text}"),
            format!("<think>maybe {{\"verdict\": \"rejected\"}}?</think>\n{text}"),
            format!("<thinking>hmm</thinking>```\r\n{text}\r\n```"),
        ] {
            assert_eq!(json_object(&reply).unwrap(), object, "{reply}");
        }
    }

    #[test]
    fn what_cannot_be_read_is_named() {
        let err = |reply: &str| json_object(reply).unwrap_err();
        assert!(err("no json here").contains("contains no JSON object"));
        assert!(err("{\"verdict\": \"approved\", \"summary\": \"cut").contains("not closed"));
        assert!(err("<think>I will answer {\"verdict\"").contains("unclosed <think>"));
        assert!(err("{\"verdict\": approved}").contains("not valid JSON"));
    }

    #[test]
    fn stop_reasons_that_are_not_parse_errors() {
        assert_eq!(Stopped::from_reason("max_tokens", ""), Some(Stopped::Truncated));
        assert_eq!(
            Stopped::from_reason("refusal", "I can't help with that.").unwrap().to_string(),
            "the model refused to answer: I can't help with that."
        );
        assert_eq!(Stopped::from_reason("content_filter", ""), Some(Stopped::Filtered));
        assert_eq!(Stopped::from_reason("end_turn", ""), None);
    }
}
