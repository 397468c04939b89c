//! What a candidate secret looks like: how random it is (Shannon entropy),
//! whether it is a placeholder or a reference rather than a value, and how a
//! finding shows it without giving it away.

/// Words that mark a value as a stand-in, compared in lower case.
const PLACEHOLDER_WORDS: &[&str] = &[
    "xxx",
    "***",
    "...",
    "…",
    "your",
    "example",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "dummy",
    "fake",
    "sample",
    "redacted",
    "test",
    "todo",
    "fixme",
    "12345678",
    "abcdefgh",
];

/// Marks of a reference to a value kept elsewhere: templates, shell and
/// environment lookups, compared in lower case.
const REFERENCE_MARKS: &[&str] =
    &["${", "{{", "$(", "%(", "%s", "environ", "getenv", "process.env", "env::var", "env[", "env.", "secrets."];

/// Shannon entropy of `text` in bits per byte: 0 for one repeated byte, 4
/// for 16 different bytes, up to 6 for random base64.
pub fn entropy(text: &str) -> f64 {
    let mut counts = [0_u32; 256];
    for byte in text.bytes() {
        counts[usize::from(byte)] += 1;
    }
    let total = f64::from(u32::try_from(text.len()).unwrap_or(u32::MAX));
    counts
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let share = f64::from(count) / total;
            -share * share.log2()
        })
        .sum()
}

/// Whether `value` stands in for a secret rather than being one: a
/// placeholder word, `<angle brackets>`, a template or environment lookup,
/// or one character repeated.
pub fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let mut chars = value.chars();
    let first = chars.next();
    first.is_none()
        || chars.all(|c| Some(c) == first)
        || (value.starts_with('<') && value.ends_with('>'))
        || value.starts_with('$')
        || PLACEHOLDER_WORDS.iter().chain(REFERENCE_MARKS).any(|word| lower.contains(word))
}

/// How a finding shows a secret: the part that says what it is (a provider
/// prefix, or nothing) and its length, e.g. `sk-ant-…(redacted, 48 chars)`.
pub fn redacted(shown_prefix: &str, secret: &str) -> String {
    format!("{shown_prefix}…(redacted, {} chars)", secret.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_measures_randomness() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaaaaaaaaaaaaaa"), 0.0);
        assert!((entropy("abcdefghijklmnop") - 4.0).abs() < 1e-9);
        assert!((entropy("abab") - 1.0).abs() < 1e-9);
        assert!(entropy("Zx9Qm2LpR7vT4kWj") > 3.5);
        assert!(entropy("passwordpassword") < 3.5);
    }

    #[test]
    fn placeholders_and_references_are_recognised() {
        for value in [
            "",
            "xxxxxxxxxxxxxxxxxxxx",
            "XXXX-XXXX-XXXX",
            "your-api-key-here",
            "<your token>",
            "<TOKEN>",
            "${OPENAI_API_KEY}",
            "$DB_PASSWORD",
            "{{ secrets.TOKEN }}",
            "os.environ['TOKEN']",
            "os.getenv(\"API_KEY\")",
            "process.env.API_KEY",
            "std::env::var(\"KEY\")",
            "ENV['SECRET']",
            "****************",
            "0000000000000000",
            "AKIAIOSFODNN7EXAMPLE",
            "sk-...",
            "test-key-1234567890",
        ] {
            assert!(is_placeholder(value), "{value}");
        }
        for value in ["Zx9Qm2LpR7vT4kWj", "9f86d081884c7d659a2feaa0c55ad015", "hunter2hunter2"] {
            assert!(!is_placeholder(value), "{value}");
        }
    }

    #[test]
    fn redaction_keeps_only_the_prefix_and_the_length() {
        assert_eq!(redacted("sk-ant-", "sk-ant-0123456789"), "sk-ant-…(redacted, 17 chars)");
        assert_eq!(redacted("", "é9Qm2LpR7vT4kWj"), "…(redacted, 15 chars)");
    }
}
