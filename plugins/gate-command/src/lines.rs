//! Diagnostics written one per line as `file:line:col: message` or
//! `file:line: message`: mypy, ruff (`--output-format=concise` or `pylint`),
//! flake8, eslint (`--format unix`), gcc and clang, rustc
//! (`--error-format=short`). Each such line becomes a finding; other lines
//! (summaries, code excerpts, which are indented) are skipped.
//!
//! The severity comes from the word after the location when there is one
//! (`error:`, `warning:`, `note:`, `error[E0308]:`), or from eslint's trailing
//! `[Error/rule]` / `[Warning/rule]`; otherwise the line is an error.

use orch_sdk::gate::{Finding, Severity};

use crate::text::{relative_to, strip_ansi};

/// Every diagnostic line of `output`, paths made relative to `workspace`.
pub fn parse(output: &str, workspace: &str) -> Vec<Finding> {
    strip_ansi(output).lines().filter_map(|line| parse_line(line, workspace)).collect()
}

/// The finding a line reports, if it is a diagnostic line.
pub fn parse_line(line: &str, workspace: &str) -> Option<Finding> {
    let line = line.trim_end();
    let (file, line_number, message) = split_location(line)?;
    let (severity, message) = severity_of(message);
    Some(Finding { severity, file: Some(relative_to(file, workspace)), line: Some(line_number), message })
}

/// `(file, line, message)` of `file:line[:col]: message`. The file ends at
/// the first `:`; it may not contain whitespace (which keeps indented
/// excerpts and prose out) nor be all digits (which keeps times such as
/// `12:30:05: ...` out).
fn split_location(line: &str) -> Option<(&str, u32, &str)> {
    let (file, rest) = line.split_once(':')?;
    if file.is_empty() || file.contains(char::is_whitespace) || file.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (line_number, rest) = leading_number(rest)?;
    let rest = match rest.strip_prefix(':').and_then(leading_number) {
        Some((_column, after_column)) => after_column,
        None => rest,
    };
    let message = rest.strip_prefix(": ")?.trim();
    (line_number > 0 && !message.is_empty()).then_some((file, line_number, message))
}

/// The number `text` starts with and what follows it.
fn leading_number(text: &str) -> Option<(u32, &str)> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let number = text[..digits].parse().ok()?;
    Some((number, &text[digits..]))
}

/// The severity a message states, and the message without a leading
/// severity word (a code that came with it, as in `error[E0308]:`, is kept).
fn severity_of(message: &str) -> (Severity, String) {
    if let Some((severity, rest)) = leading_severity(message) {
        return (severity, rest);
    }
    (trailing_eslint_severity(message).unwrap_or(Severity::Error), message.to_owned())
}

/// `error: x`, `warning: x`, `note: x`, `fatal error: x`, `error[E0308]: x`, ...
fn leading_severity(message: &str) -> Option<(Severity, String)> {
    let word_end = message.find(|c: char| !c.is_ascii_alphabetic() && c != ' ').unwrap_or(message.len());
    let severity = match message[..word_end].to_ascii_lowercase().as_str() {
        "error" | "fatal error" | "fatal" => Severity::Error,
        "warning" | "warn" => Severity::Warning,
        "note" | "info" | "help" | "hint" => Severity::Info,
        _ => return None,
    };
    let after_word = &message[word_end..];
    if let Some(rest) = after_word.strip_prefix(':') {
        return Some((severity, rest.trim().to_owned()));
    }
    let (code, rest) = after_word.strip_prefix('[')?.split_once("]:")?;
    Some((severity, format!("[{code}] {}", rest.trim())))
}

/// eslint's unix format ends a line with `[Error/rule-id]` or `[Warning/rule-id]`.
fn trailing_eslint_severity(message: &str) -> Option<Severity> {
    let tag = message.strip_suffix(']')?.rsplit_once('[')?.1;
    let kind = tag.split('/').next()?;
    match kind {
        "Error" => Some(Severity::Error),
        "Warning" => Some(Severity::Warning),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
