//! How loosely two lines may be compared, for the matching ladder's loose
//! rungs and for the closest-lines hint: trimmed, with typographic quotes,
//! dashes and odd spaces read as their ASCII forms; and which lines stand
//! for code left out (`...`).

use std::borrow::Cow;

/// `line` trimmed, with ‘ ’ ‚ ‛ ′ as `'`, “ ” „ ‟ ″ as `"`, – — ‒ − as `-`,
/// … as `...`, non-breaking and other odd spaces as a space, and
/// zero-width characters dropped. An ASCII line is only trimmed (borrowed).
pub(crate) fn loose(line: &str) -> Cow<'_, str> {
    if line.is_ascii() {
        return Cow::Borrowed(line.trim());
    }
    let mut out = String::with_capacity(line.len());
    for c in line.trim().chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => out.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => out.push('"'),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
            '\u{2026}' => out.push_str("..."),
            '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => out.push(' '),
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
            c => out.push(c),
        }
    }
    // An odd space at either end became a space after the first trim.
    Cow::Owned(out.trim().to_owned())
}

/// Comment leaders an elision line may start with.
const COMMENT_LEADERS: [&str; 7] = ["<!--", "/*", "//", "#", "--", ";", "*"];

/// Whether `line` stands for code left out: `...` alone (indented or not),
/// or a comment made of it, such as `# ...`, `// ... existing code ...`
/// or `/* ... */`.
pub(crate) fn is_elision(line: &str) -> bool {
    let t = line.trim();
    if t == "..." || t == "…" {
        return true;
    }
    let Some(comment) = COMMENT_LEADERS.iter().find_map(|c| t.strip_prefix(c)) else { return false };
    let text = comment.trim().trim_end_matches("*/").trim_end_matches("-->").trim();
    let text = text.replace('…', "...");
    text == "..." || (text.starts_with("...") || text.ends_with("...")) && text.split_whitespace().count() <= 6
}

/// Similarity of two strings between 0 and 1 (Dice's coefficient over
/// character pairs); for the closest-lines hint only, never for a match.
pub(crate) fn similarity(a: &str, b: &str) -> f64 {
    let pairs = |s: &str| {
        let chars: Vec<char> = s.chars().collect();
        let mut pairs: Vec<(char, char)> = chars.windows(2).map(|w| (w[0], w[1])).collect();
        pairs.sort_unstable();
        pairs
    };
    let (a, b) = (pairs(a), pairs(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * common as f64 / (a.len() + b.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typography_reads_as_ascii() {
        assert_eq!(loose("  print(“it’s – ok”)\u{00A0}"), "print(\"it's - ok\")");
        assert_eq!(loose("a\u{200B}b…"), "ab...");
        assert_eq!(loose("\tx = 1  "), "x = 1");
    }

    #[test]
    fn elision_lines() {
        for line in
            ["...", "    ...", "# ...", "  // ...", "/* ... */", "<!-- ... -->", "// ... existing code ...", "…"]
        {
            assert!(is_elision(line), "{line}");
        }
        for line in ["x = ...", "# see ... below for the reason we do this odd thing", "print('...')", ""] {
            assert!(!is_elision(line), "{line}");
        }
    }

    #[test]
    fn similarity_bounds() {
        assert_eq!(similarity("abc", "abc"), 1.0);
        assert_eq!(similarity("abc", "xyz"), 0.0);
        assert!(similarity("return total", "return totl") > 0.8);
        assert_eq!(similarity("", "a"), 0.0);
    }
}
