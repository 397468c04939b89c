//! Finding credentials in the lines a change adds: well-known key shapes
//! (provider API keys, cloud and forge tokens), private key blocks, and
//! long random-looking values assigned to names that say key, secret, token
//! or password. What is found is reported redacted, never in full.

use orch_sdk::diff::{self, FileDiff};

/// A credential in an added line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// File, relative to the workspace.
    pub file: String,
    /// 1-based line in the new file.
    pub line: u32,
    /// What it looks like, e.g. `an Anthropic API key`.
    pub kind: &'static str,
    /// The start of the value and its length, never the whole value.
    pub redacted: String,
}

/// Well-known prefixes: (prefix, least length after it, what it is).
const PREFIXES: &[(&str, usize, &str)] = &[
    ("sk-ant-", 20, "an Anthropic API key"),
    ("sk-proj-", 20, "an OpenAI project API key"),
    ("sk-", 20, "an OpenAI-style API key"),
    ("sk_live_", 20, "a Stripe live secret key"),
    ("rk_live_", 20, "a Stripe restricted key"),
    ("AIza", 35, "a Google API key"),
    ("AKIA", 16, "an AWS access key id"),
    ("ASIA", 16, "an AWS temporary access key id"),
    ("ghp_", 30, "a GitHub personal access token"),
    ("gho_", 30, "a GitHub OAuth token"),
    ("ghs_", 30, "a GitHub app token"),
    ("ghu_", 30, "a GitHub user token"),
    ("github_pat_", 22, "a GitHub fine-grained token"),
    ("xoxb-", 10, "a Slack bot token"),
    ("xoxp-", 10, "a Slack user token"),
    ("xoxa-", 10, "a Slack app token"),
    ("xoxr-", 10, "a Slack refresh token"),
];

/// Words in a name that make its value a secret.
const SECRET_NAMES: &[&str] = &["key", "secret", "token", "password", "passwd", "pwd", "credential"];

/// Least length and entropy (bits per character) of a secret-looking value.
const MIN_VALUE_LEN: usize = 16;
const MIN_ENTROPY: f64 = 3.5;

/// Every credential added by `diff`, skipping files `ignored` says to.
pub fn scan(diff: &str, ignored: impl Fn(&str) -> bool) -> Vec<Leak> {
    diff::parse(diff).iter().filter(|file| !ignored(&file.path)).flat_map(scan_file).collect()
}

fn scan_file(file: &FileDiff<'_>) -> Vec<Leak> {
    let mut leaks = Vec::new();
    for added in &file.added {
        let leak =
            |kind, value: &str| Leak { file: file.path.clone(), line: added.line, kind, redacted: redact(value) };
        let text = added.text;
        if text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----") {
            leaks.push(Leak {
                file: file.path.clone(),
                line: added.line,
                kind: "a private key",
                redacted: String::new(),
            });
            continue;
        }
        let mut found = false;
        for token in tokens(text) {
            if let Some(kind) = known_shape(token)
                && !placeholder(token)
            {
                leaks.push(leak(kind, token));
                found = true;
            }
        }
        if !found && let Some(value) = secret_assignment(text) {
            leaks.push(leak("a secret-looking value assigned to a key, secret, token or password", value));
        }
    }
    leaks
}

/// Runs of characters that can make up a key.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).filter(|t| t.len() >= 12)
}

/// What `token` is, if it has a well-known key shape.
fn known_shape(token: &str) -> Option<&'static str> {
    PREFIXES.iter().find_map(|&(prefix, min_rest, kind)| {
        let rest = token.strip_prefix(prefix)?;
        let shaped = rest.len() >= min_rest
            && match prefix {
                "AKIA" | "ASIA" => {
                    rest.len() == 16 && rest.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                }
                _ => rest.bytes().any(|b| b.is_ascii_digit()) && rest.bytes().any(|b| b.is_ascii_alphabetic()),
            };
        shaped.then_some(kind)
    })
}

/// The value of `NAME = value` / `NAME: value` when NAME says secret and the
/// value looks random.
fn secret_assignment(text: &str) -> Option<&str> {
    let at = text.find(['=', ':'])?;
    let (name, rest) = (&text[..at], &text[at + 1..]);
    let name = name.trim().trim_matches(|c| c == '"' || c == '\'').to_ascii_lowercase();
    let name = name.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).next().unwrap_or("");
    if !SECRET_NAMES.iter().any(|word| name.contains(word)) {
        return None;
    }
    let value = rest.trim_start_matches(['=', ' ', '\t']).trim();
    let value = match value.chars().next() {
        Some(quote @ ('"' | '\'' | '`')) => value[1..].split(quote).next().unwrap_or(""),
        _ => value.split([' ', ',', ';', '#']).next().unwrap_or(""),
    };
    (value.len() >= MIN_VALUE_LEN
        && entropy(value) >= MIN_ENTROPY
        && !placeholder(value)
        && !value.contains(['(', '['])
        && !value.contains(' '))
    .then_some(value)
}

/// Shannon entropy in bits per character.
fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in value.bytes() {
        counts[b as usize] += 1;
    }
    let len = value.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / len).map(|p| -p * p.log2()).sum()
}

/// Values people write instead of a real secret.
fn placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let first = value.chars().next();
    ["xxxx", "your", "example", "placeholder", "changeme", "dummy", "redacted", "<", "${", "{{", "environ", "getenv"]
        .iter()
        .any(|p| lower.contains(p))
        || value.chars().all(|c| Some(c) == first)
}

/// The first 6 characters and the length.
fn redact(value: &str) -> String {
    let start: String = value.chars().take(6).collect();
    format!("{start}…(redacted, {} chars)", value.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A diff adding `lines` to `file`.
    fn added(file: &str, lines: &[&str]) -> String {
        let body: String = lines.iter().map(|l| format!("+{l}\n")).collect();
        format!(
            "diff --git a/{file} b/{file}\nnew file mode 100644\n--- /dev/null\n+++ b/{file}\n@@ -0,0 +1,{} @@\n{body}",
            lines.len()
        )
    }

    fn kinds(diff: &str) -> Vec<(u32, &'static str)> {
        scan(diff, |_| false).into_iter().map(|l| (l.line, l.kind)).collect()
    }

    #[test]
    fn key_shapes_are_found_with_their_lines() {
        let diff = added(
            "config.py",
            &[
                "import os",
                "ANTHROPIC = \"sk-ant-api03-Zx9KqL2mVb7Nc4Rt8Yw1Pd6Gh3Js5Fa0Ue\"",
                "OPENAI = 'sk-proj-Xq7vB2mN9kLp4RtY8wZc3FhJ6dSa1GeU0iOo5TnKb'",
                "aws_id = AKIAIOSFODNN7EXAMPLF",
                "google = \"AIzaSyD4x9Kq2Lm7Nb3Vc8Xz1Wa6Sd5Fg0Hj2Kl3\"",
                "gh = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a9'",
                "stripe = sk_live_51Hx9K2mN7bV3cX8zW1aS6dF0gH",
                "-----BEGIN RSA PRIVATE KEY-----",
            ],
        );
        assert_eq!(
            kinds(&diff),
            [
                (2, "an Anthropic API key"),
                (3, "an OpenAI project API key"),
                (4, "an AWS access key id"),
                (5, "a Google API key"),
                (6, "a GitHub personal access token"),
                (7, "a Stripe live secret key"),
                (8, "a private key"),
            ]
        );
    }

    #[test]
    fn secret_looking_assignments_are_found() {
        let diff = added(
            "settings.yaml",
            &[
                "db_password: 'T7#kq!Vz2pL9@xWm4Rb'",
                "API_TOKEN=8f3a9c1e7b2d4f6a0c9e8b7d",
                "timeout: 30",
                "password_hint: \"ask the admin\"",
                "client_secret = os.environ[\"CLIENT_SECRET\"]",
                "api_key = \"your-api-key-here-please\"",
                "token = \"aaaaaaaaaaaaaaaaaaaaaa\"",
                "session_key = get_key(user)",
            ],
        );
        let found: Vec<u32> = scan(&diff, |_| false).into_iter().map(|l| l.line).collect();
        assert_eq!(found, [1, 2], "placeholders, env lookups, calls and low entropy are not secrets");
    }

    #[test]
    fn only_added_lines_count_and_ignored_paths_are_skipped() {
        let removed = "diff --git a/c.py b/c.py\n--- a/c.py\n+++ b/c.py\n@@ -1 +1 @@\n\
                       -KEY = \"sk-ant-api03-Zx9KqL2mVb7Nc4Rt8Yw1Pd6Gh3Js5Fa0Ue\"\n+KEY = os.environ[\"KEY\"]\n";
        assert!(scan(removed, |_| false).is_empty(), "removing a key is fine");
        let diff = added("tests/fixtures/keys.txt", &["sk-ant-api03-Zx9KqL2mVb7Nc4Rt8Yw1Pd6Gh3Js5Fa0Ue"]);
        assert!(scan(&diff, |path| path.starts_with("tests/fixtures/")).is_empty());
        assert_eq!(scan(&diff, |_| false).len(), 1);
    }

    #[test]
    fn values_are_redacted() {
        let diff = added("a.env", &["KEY=sk-ant-api03-Zx9KqL2mVb7Nc4Rt8Yw1Pd6Gh3Js5Fa0Ue"]);
        let leak = &scan(&diff, |_| false)[0];
        assert_eq!(leak.redacted, "sk-ant…(redacted, 47 chars)");
        assert!(!leak.redacted.contains("Zx9KqL2m"));
    }
}
