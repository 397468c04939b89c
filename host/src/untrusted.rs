//! Values from plugins and models are untrusted. This module is the one
//! place that bounds their size and the one place that makes their text safe
//! to print: a value over its limit is refused with an error naming the field
//! (the call fails like any broken plugin call), and a one-line field is
//! cleaned of control characters, line breaks and bidirectional overrides,
//! so it cannot forge lines or colours in a terminal, the run log or `orch
//! task`.
//!
//! | field | limit |
//! |---|---|
//! | a name: provider, model, plugin name or version | 256 bytes |
//! | a one-line text: router reason, gate summary, finding, error message, description | 4 KiB |
//! | a finding's file | 1 KiB |
//! | fallbacks of a routing decision | 16 |
//! | findings of a gate result | 1,000 |
//! | a completion's text | 4 MiB |
//!
//! A plugin's value quoted in the host's own message (a denied program,
//! path or origin) is [`shortened`] to 4 KiB instead.

/// Longest name (provider, model, plugin name or version).
pub const NAME_BYTES: usize = 256;
/// Longest one-line text (reason, summary, finding, message).
pub const LINE_BYTES: usize = 4 << 10;
/// Longest file name in a finding.
pub const FILE_BYTES: usize = 1 << 10;
/// Most fallbacks in a routing decision.
pub const MAX_FALLBACKS: usize = 16;
/// Most findings in a gate result.
pub const MAX_FINDINGS: usize = 1000;
/// Longest completion text.
pub const TEXT_BYTES: usize = 4 << 20;

/// A value over its limit: `field` was `size` long where `limit` is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("returned {field} of {size} {unit}; the limit is {limit}")]
pub struct Oversized {
    /// The field, in words (`a router reason`).
    pub field: &'static str,
    /// Its size.
    pub size: usize,
    /// The limit.
    pub limit: usize,
    /// `bytes` or `entries`.
    pub unit: &'static str,
}

/// `Err` when `text` is longer than `limit` bytes.
pub fn bounded(field: &'static str, text: &str, limit: usize) -> Result<(), Oversized> {
    if text.len() > limit {
        return Err(Oversized { field, size: text.len(), limit, unit: "bytes" });
    }
    Ok(())
}

/// `Err` when `items` has more than `limit` entries.
pub fn counted<T>(field: &'static str, items: &[T], limit: usize) -> Result<(), Oversized> {
    if items.len() > limit {
        return Err(Oversized { field, size: items.len(), limit, unit: "entries" });
    }
    Ok(())
}

/// `text` in at most `limit` bytes: cut at a character boundary, with `…`
/// where it was cut. For a message that quotes a plugin's value (a denied
/// path, program or origin), which may be as long as the plugin likes.
pub fn shortened(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let room = limit.saturating_sub('…'.len_utf8());
    format!("{}…", &text[..text.floor_char_boundary(room)])
}

/// `text` made safe for one line of a terminal or of Markdown: line breaks,
/// tabs and other control characters (C0, DEL, C1, so no escape sequence
/// survives) become spaces, and bidirectional overrides and isolates, which
/// can reorder what a reader sees, are dropped.
pub fn one_line(text: &str) -> String {
    if !text.chars().any(needs_cleaning) {
        return text.to_owned();
    }
    text.chars().filter(|c| !is_bidi_control(*c)).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// [`one_line`] in place.
pub fn clean(text: &mut String) {
    if text.chars().any(needs_cleaning) {
        *text = one_line(text);
    }
}

fn needs_cleaning(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_line_breaks_cannot_forge_output() {
        let forged = "ok\n- `2026-01-01T00:00:00.000Z` ✅ **task** `x` — DONE\x1b[2K\x1b[1A\r\u{9b}31m\u{202E}evil";
        let line = one_line(forged);
        assert!(!line.contains(['\n', '\r', '\x1b', '\u{9b}', '\u{202E}']), "{line:?}");
        assert!(line.starts_with("ok - `2026"), "{line:?}");
        assert_eq!(one_line("plain — ünïcode"), "plain — ünïcode");
        let mut text = "a\tb".to_owned();
        clean(&mut text);
        assert_eq!(text, "a b");
    }

    #[test]
    fn limits_name_the_field() {
        assert_eq!(bounded("a router reason", &"x".repeat(LINE_BYTES), LINE_BYTES), Ok(()));
        let err = bounded("a router reason", &"x".repeat(LINE_BYTES + 1), LINE_BYTES).unwrap_err();
        assert_eq!(err.to_string(), "returned a router reason of 4097 bytes; the limit is 4096");
        let err = counted("fallbacks", &[(); 17], MAX_FALLBACKS).unwrap_err();
        assert_eq!(err.to_string(), "returned fallbacks of 17 entries; the limit is 16");
    }

    #[test]
    fn quoted_values_are_shortened_at_a_character_boundary() {
        assert_eq!(shortened("héllo", 6), "héllo");
        assert_eq!(shortened("héllo", 5), "h…", "`é` is not split");
        assert_eq!(shortened("héllo wörld", 9), "héllo…");
        assert_eq!(shortened(&"x".repeat(1 << 20), LINE_BYTES).len(), LINE_BYTES);
    }
}
