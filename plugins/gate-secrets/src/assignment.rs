//! Secrets by context: a random-looking value assigned to a key whose name
//! says secret: `password = "…"`, `api_key: '…'`, `SECRET=…`, `token := …`,
//! `'token' => '…'`, `API_KEY: str = "…"`.
//!
//! A value counts when it is at least [`MIN_CHARS`] characters without
//! spaces, has at least [`MIN_ENTROPY`] bits of entropy per character, and is
//! neither a placeholder nor code: a bare (unquoted) value must mix letters
//! and digits and not be a call, an index, a template or a dotted path
//! (`settings.SECRET_KEY`), so `token = get_token(user)` is not a secret.

use std::ops::Range;

use crate::scan::{Hit, Kind};
use crate::value::{entropy, is_placeholder, redacted};

/// Words that make a key name secret, compared in lower case.
const SECRET_NAMES: &[&str] = &["key", "secret", "token", "password", "passwd", "pwd", "credential"];

/// The fewest characters a secret value has.
pub const MIN_CHARS: usize = 16;

/// The least entropy of a secret value, in bits per character.
pub const MIN_ENTROPY: f64 = 3.5;

/// A value on the right of a separator.
struct Value<'a> {
    text: &'a str,
    /// Where `text` is in the line.
    span: Range<usize>,
    /// Where the value ends, its closing quote included.
    end: usize,
    quoted: bool,
}

/// Secret-looking values assigned to secret-named keys in `text`, except
/// those overlapping `taken` (values already reported by their shape).
pub fn find(text: &str, taken: &[Range<usize>]) -> Vec<Hit> {
    let bytes = text.as_bytes();
    let mut hits = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some(value_from) = separator_end(bytes, at) else {
            at += 1;
            continue;
        };
        let Some(key) = secret_key_before(text, at) else {
            at += 1;
            continue;
        };
        let Some(value) = value_after(text, value_from) else {
            at = value_from;
            continue;
        };
        at = value.end.max(at + 1);
        let overlaps = taken.iter().any(|span| span.start < value.span.end && value.span.start < span.end);
        if !overlaps && looks_secret(&value) {
            let shown = format!("{key} = {}", redacted("", value.text));
            hits.push(Hit { kind: Kind::Assigned, shown, span: value.span });
        }
    }
    hits
}

/// When an assignment separator (`=`, `:`, `:=`, `=>`) starts at `at`, where
/// its value may start. The first character of `==` and `::` is not one;
/// their second, like the `=` of `!=`, `<=` and `>=`, has no name right
/// before it, so it is not an assignment either.
fn separator_end(bytes: &[u8], at: usize) -> Option<usize> {
    let next = bytes.get(at + 1).copied();
    match bytes[at] {
        b'=' if next == Some(b'=') => None,
        b'=' if next == Some(b'>') => Some(at + 2),
        b'=' => Some(at + 1),
        b':' if next == Some(b':') => None,
        b':' if next == Some(b'=') => Some(at + 2),
        b':' => Some(at + 1),
        _ => None,
    }
}

/// The secret-named key assigned to by the separator at `at`: the name
/// right before it, or for `=` after a type annotation (`API_KEY: str =`)
/// the annotated name.
fn secret_key_before(text: &str, at: usize) -> Option<&str> {
    let direct = name_before(text, at).filter(|name| is_secret_name(name));
    let annotated = || {
        let colon = text[..at].rfind(':')?;
        let annotation = &text[colon + 1..at];
        let is_type = !annotation.trim().is_empty()
            && annotation.bytes().all(|b| b.is_ascii_alphanumeric() || b"_&'<>[]|. ".contains(&b));
        (text.as_bytes()[at] == b'=' && is_type).then(|| name_before(text, colon)).flatten()
    };
    direct.or_else(|| annotated().filter(|name| is_secret_name(name)))
}

/// The name right before position `at`: letters, digits, `_`, `.` and `-`,
/// possibly quoted (`"api_key": …`).
fn name_before(text: &str, at: usize) -> Option<&str> {
    let before = text[..at].trim_end();
    let before = before.strip_suffix(['"', '\'', '`']).unwrap_or(before);
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    let start = before.bytes().rposition(|b| !is_name(b)).map_or(0, |i| i + 1);
    let name = &before[start..];
    (!name.is_empty()).then_some(name)
}

fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|word| lower.contains(word))
}

/// The value starting at `from` after blanks: a quoted string (with an
/// optional `r`, `b`, `f` or `u` prefix) up to its closing quote, or a bare
/// word up to a blank or one of `,;)]}`.
fn value_after(text: &str, from: usize) -> Option<Value<'_>> {
    let bytes = text.as_bytes();
    let start = from + bytes[from..].iter().position(|b| !matches!(b, b' ' | b'\t'))?;
    let is_quote = |b: &u8| matches!(b, b'"' | b'\'' | b'`');
    let prefix = bytes[start..].iter().take(2).take_while(|b| b"rbfuRBFU".contains(b)).count();
    let quote_at = [start, start + prefix].into_iter().find(|&i| bytes.get(i).is_some_and(is_quote));
    if let Some(open) = quote_at {
        let close = open + 1 + bytes[open + 1..].iter().position(|b| *b == bytes[open])?;
        let span = open + 1..close;
        return Some(Value { text: &text[span.clone()], span, end: close + 1, quoted: true });
    }
    let len = bytes[start..]
        .iter()
        .position(|b| b.is_ascii_whitespace() || b",;)]}".contains(b) || is_quote(b))
        .unwrap_or(bytes.len() - start);
    let span = start..start + len;
    (len > 0).then(|| Value { text: &text[span.clone()], span: span.clone(), end: span.end, quoted: false })
}

/// Whether `value` reads like a secret rather than prose, a path, a
/// placeholder or code.
fn looks_secret(value: &Value<'_>) -> bool {
    let text = value.text;
    text.chars().count() >= MIN_CHARS
        && !text.contains(char::is_whitespace)
        && !text.starts_with(['/', '.', '~'])
        && !text.contains("://")
        && !is_placeholder(text)
        && !is_words(text)
        && (value.quoted || bare_value_is_data(text))
        && entropy(text) >= MIN_ENTROPY
}

/// Words joined by separators (`user_profile_settings`, `com.example.App`):
/// every piece all letters, all digits, or at most 3 characters.
fn is_words(text: &str) -> bool {
    let mut pieces = text.split(['_', '-', '.', ':', '/']).filter(|piece| !piece.is_empty()).peekable();
    let several = pieces.clone().nth(1).is_some();
    several
        && pieces.all(|piece| {
            piece.len() <= 3
                || piece.bytes().all(|b| b.is_ascii_alphabetic())
                || piece.bytes().all(|b| b.is_ascii_digit())
        })
}

/// An unquoted value is data, not code, when it mixes letters and digits
/// and is not a call, index, template or dotted path.
fn bare_value_is_data(text: &str) -> bool {
    let is_identifier = |piece: &str| {
        piece.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && piece.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let dotted_path = text.contains('.') && text.split('.').all(is_identifier);
    !dotted_path
        && !text.contains(['(', '[', '{', '<', '$'])
        && text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().any(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> Vec<String> {
        find(text, &[]).into_iter().map(|hit| hit.shown).collect()
    }

    const VALUE: &str = "Zx9Qm2LpR7vT4kWj8Hn3";

    #[test]
    fn separators_of_many_languages() {
        for line in [
            format!("password = \"{VALUE}\""),
            format!("password='{VALUE}'"),
            format!("  \"password\": \"{VALUE}\","),
            format!("password: {VALUE}"),
            format!("PASSWORD={VALUE}"),
            format!("password := \"{VALUE}\""),
            format!("'password' => '{VALUE}',"),
            format!("password: str = \"{VALUE}\""),
            format!("const password: &'static str = r\"{VALUE}\";"),
            format!("export PASSWORD=`{VALUE}`"),
        ] {
            let shown: Vec<String> = shown(&line).iter().map(|s| s.to_lowercase()).collect();
            assert_eq!(shown, ["password = …(redacted, 20 chars)"], "{line}");
        }
    }

    #[test]
    fn key_names_that_say_secret() {
        for name in ["api_key", "API-KEY", "client_secret", "authToken", "db_passwd", "PWD", "aws.credentials"] {
            let line = format!("{name} = \"{VALUE}\"");
            assert_eq!(find(&line, &[]).len(), 1, "{line}");
        }
        for name in ["user", "hash", "checksum", "id", "salt_b64"] {
            let line = format!("{name} = \"{VALUE}\"");
            assert!(find(&line, &[]).is_empty(), "{line}");
        }
    }

    #[test]
    fn the_value_span_points_into_the_line() {
        let line = format!("token = \"{VALUE}\"");
        let hits = find(&line, &[]);
        assert_eq!(&line[hits[0].span.clone()], VALUE);
        assert!(find(&line, &[hits[0].span.clone()]).is_empty(), "a taken value is not reported twice");
        let elsewhere = [Range { start: 0, end: 5 }];
        assert_eq!(find(&line, &elsewhere).len(), 1, "a taken span elsewhere does not matter");
    }

    #[test]
    fn comparisons_and_paths_are_not_assignments() {
        for line in [
            format!("if token == \"{VALUE}\":"),
            format!("if token != \"{VALUE}\":"),
            format!("Token::new(\"{VALUE}\")"),
            format!("x = token <= \"{VALUE}\""),
            format!("if token=={VALUE}:"),
            format!("if token!={VALUE}:"),
            format!("let t = auth::token::{VALUE};"),
        ] {
            assert!(find(&line, &[]).is_empty(), "{line}");
        }
    }

    #[test]
    fn values_that_are_not_secrets() {
        for value in [
            "\"short1A\"",
            "\"Invalid token, please log in again\"",
            "\"aaaaaaaaaaaaaaaaaaaaaaaa\"",
            "\"passwordpassword1\"",
            "\"/etc/ssl/private/server9.key\"",
            "\"https://vault.example.com/v1/a9\"",
            "\"https://login.acme.io/oauth2/v1Token\"",
            "\"user_profile_settings_cache\"",
            "\"com.example.Service.token\"",
            "\"${API_TOKEN_FROM_ENVIRONMENT}\"",
            "\"<insert your token here>\"",
            "os.environ[\"API_TOKEN_VALUE_1\"]",
            "get_token(user, scope2)",
            "settings.SECRET_KEY_VALUE",
            "self.config.api_token",
            "refreshTokenFromCache",
            "self.oauth2.refreshToken",
            "DEFAULT_SECRET_TOKEN_VALUE",
            "\"unterminated Zx9Qm2LpR7vT4kWj8Hn3",
            "",
        ] {
            let line = format!("token = {value}");
            assert!(find(&line, &[]).is_empty(), "{line}");
        }
    }

    #[test]
    fn several_assignments_on_one_line() {
        let line = format!("user=admin password={VALUE} token='{VALUE}9'");
        assert_eq!(shown(&line), ["password = …(redacted, 20 chars)", "token = …(redacted, 21 chars)"]);
        let call = format!("connect(host, token={VALUE}), {{secret: {VALUE}}}");
        assert_eq!(shown(&call), ["token = …(redacted, 20 chars)", "secret = …(redacted, 20 chars)"]);
    }
}
