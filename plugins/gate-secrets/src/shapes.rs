//! Credentials recognisable by their shape alone: provider keys and tokens
//! with a fixed prefix, and PEM private key blocks.

use std::ops::Range;

use crate::scan::{Hit, Kind};
use crate::value::{is_placeholder, redacted};

/// A key format: its prefix and what must follow it.
struct Shape {
    prefix: &'static str,
    kind: Kind,
    /// Whether the rest of the token (after the prefix) fits the format.
    body: fn(&str) -> bool,
}

/// Known formats, longer prefixes before the shorter ones they start with.
const SHAPES: &[Shape] = &[
    Shape { prefix: "sk-ant-", kind: Kind::Anthropic, body: |body| random_looking(body, 20) },
    Shape { prefix: "sk-proj-", kind: Kind::OpenAi, body: |body| random_looking(body, 20) },
    Shape { prefix: "sk-", kind: Kind::OpenAi, body: |body| random_looking(body, 20) },
    Shape { prefix: "sk_live_", kind: Kind::Stripe, body: |body| body.len() >= 16 && alphanumeric(body) },
    Shape { prefix: "rk_live_", kind: Kind::Stripe, body: |body| body.len() >= 16 && alphanumeric(body) },
    Shape { prefix: "AIza", kind: Kind::Google, body: |body| body.len() == 35 },
    Shape { prefix: "AKIA", kind: Kind::AwsAccessKeyId, body: aws_key_id_body },
    Shape { prefix: "ASIA", kind: Kind::AwsAccessKeyId, body: aws_key_id_body },
    Shape { prefix: "github_pat_", kind: Kind::GitHub, body: |body| body.len() >= 22 },
    Shape { prefix: "ghp_", kind: Kind::GitHub, body: github_token_body },
    Shape { prefix: "gho_", kind: Kind::GitHub, body: github_token_body },
    Shape { prefix: "ghs_", kind: Kind::GitHub, body: github_token_body },
    Shape { prefix: "ghu_", kind: Kind::GitHub, body: github_token_body },
    Shape { prefix: "ghr_", kind: Kind::GitHub, body: github_token_body },
    Shape { prefix: "xoxa-", kind: Kind::Slack, body: slack_body },
    Shape { prefix: "xoxb-", kind: Kind::Slack, body: slack_body },
    Shape { prefix: "xoxp-", kind: Kind::Slack, body: slack_body },
    Shape { prefix: "xoxr-", kind: Kind::Slack, body: slack_body },
];

/// Provider keys and tokens in `text`: every run of `[A-Za-z0-9_-]` that
/// starts with a known prefix and fits its format, placeholders excepted.
pub fn find_tokens(text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for span in token_runs(text) {
        let token = &text[span.clone()];
        let shape = SHAPES.iter().find(|shape| token.starts_with(shape.prefix));
        if let Some(shape) = shape {
            let body = &token[shape.prefix.len()..];
            if (shape.body)(body) && !is_placeholder(body) {
                hits.push(Hit { kind: shape.kind, shown: redacted(shape.prefix, token), span });
            }
        }
    }
    hits
}

/// The header of a private key block in `text` when key data follows it:
/// on the same line after a literal `\n` (a key inside a JSON or code
/// string), or on `next_line`, the line added right after it (a PEM file).
/// A header alone, as code that looks for one has it, is not a key.
pub fn find_private_key(text: &str, next_line: Option<&str>) -> Option<Hit> {
    let start = text.find("-----BEGIN ")?;
    let label_start = start + "-----BEGIN ".len();
    let label_len = text[label_start..].find("-----")?;
    let label = &text[label_start..label_start + label_len];
    if !(label.ends_with("PRIVATE KEY") || label.ends_with("PRIVATE KEY BLOCK")) {
        return None;
    }
    let end = label_start + label_len + "-----".len();
    let after = &text[end..];
    let data_follows = match after.strip_prefix("\\n") {
        Some(data) => data.bytes().next().is_some_and(is_base64),
        None => after.trim().is_empty() && next_line.is_some_and(looks_like_key_data),
    };
    data_follows.then(|| Hit { kind: Kind::PrivateKey, shown: text[start..end].to_owned(), span: start..end })
}

/// A line of a PEM body: base64 of some length, or an encrypted key's
/// `Proc-Type:` header.
fn looks_like_key_data(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("Proc-Type:") || (line.len() >= 16 && line.bytes().all(is_base64) && !is_placeholder(line))
}

fn is_base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
}

/// The byte ranges of maximal runs of `[A-Za-z0-9_-]` in `text`.
fn token_runs(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let is_token = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-';
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at + bytes[at..].iter().position(|&b| is_token(b))?;
        let len = bytes[start..].iter().position(|&b| !is_token(b)).unwrap_or(bytes.len() - start);
        at = start + len;
        Some(start..at)
    })
}

/// At least `min_len` characters with both letters and digits, as generated
/// keys have and words joined by dashes (`sk-learn-is-great`) do not.
fn random_looking(body: &str, min_len: usize) -> bool {
    body.len() >= min_len && body.bytes().any(|b| b.is_ascii_digit()) && body.bytes().any(|b| b.is_ascii_alphabetic())
}

fn alphanumeric(body: &str) -> bool {
    body.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn aws_key_id_body(body: &str) -> bool {
    body.len() == 16 && body.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn github_token_body(body: &str) -> bool {
    body.len() >= 30 && alphanumeric(body)
}

fn slack_body(body: &str) -> bool {
    body.len() >= 10 && body.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_runs_split_on_other_characters() {
        let text = "a=sk-1_2 (x)é-y";
        let runs: Vec<&str> = token_runs(text).map(|span| &text[span]).collect();
        assert_eq!(runs, ["a", "sk-1_2", "x", "-y"]);
        assert_eq!(token_runs("").count(), 0);
        assert_eq!(token_runs("== ()").count(), 0);
    }

    #[test]
    fn a_token_inside_a_longer_word_is_not_a_key() {
        assert!(find_tokens("task-0123456789abcdefghij0123").is_empty());
        assert!(find_tokens("XAKIAIOSFODNN7ABCDEFG").is_empty());
        assert!(find_tokens("pip install sk-learn-and-scikit-stuff-here").is_empty(), "words, not a key");
    }

    #[test]
    fn the_longest_prefix_names_the_provider() {
        let hits = find_tokens("sk-ant-api03-Xq7vB2mN9kLp4RtY8wZc sk-proj-Xq7vB2mN9kLp4RtY8wZc");
        let kinds: Vec<Kind> = hits.iter().map(|hit| hit.kind).collect();
        assert_eq!(kinds, [Kind::Anthropic, Kind::OpenAi]);
        assert_eq!(hits[1].shown, "sk-proj-…(redacted, 28 chars)");
    }
}
