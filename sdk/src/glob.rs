//! Matching workspace-relative paths against `*`-globs, the way gates
//! let operators name files in config (`tests/fixtures/**`, `**/*.pem`).
//!
//! - `*` matches any run of characters within one path segment (not `/`);
//! - `**` as a whole segment matches any number of segments, none included;
//! - everything else matches itself, case-sensitively.
//!
//! ```
//! use orch_sdk::glob;
//!
//! assert!(glob::matches(".github/workflows/**", ".github/workflows/ci.yml"));
//! assert!(glob::matches("**/.env", ".env"));
//! assert!(glob::matches("**/*.pem", "deploy/keys/server.pem"));
//! assert!(!glob::matches("src/*.rs", "src/bin/main.rs"));
//! ```

/// Whether `path` (relative, `/`-separated) matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments_match(&pattern, &path)
}

/// Why `pattern` can never match a workspace-relative path, if it cannot.
pub fn problem(pattern: &str) -> Option<&'static str> {
    match pattern {
        "" => Some("the pattern is empty"),
        _ if pattern.starts_with('/') => Some("patterns are relative to the workspace; remove the leading `/`"),
        _ if pattern.ends_with('/') => Some("patterns name files; end a directory with `/**`"),
        _ => None,
    }
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => segment_matches(first, segment) && segments_match(rest, path_rest),
            None => false,
        },
    }
}

/// `*`-matching within one segment: the pieces between stars must appear in
/// order, the first at the start and the last at the end.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = segment.strip_prefix(first) else {
        return false;
    };
    let mut pieces: Vec<&str> = pieces.collect();
    let Some(last) = pieces.pop() else {
        return rest.is_empty();
    };
    for piece in pieces {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::{matches, problem};

    #[test]
    fn star_stays_within_a_segment() {
        assert!(matches("src/*.rs", "src/main.rs"));
        assert!(matches("src/*", "src/main.rs"));
        assert!(!matches("src/*", "src/bin/main.rs"));
        assert!(!matches("*.rs", "src/main.rs"));
        assert!(matches("*", "README.md"));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "a-b-b-c"));
        assert!(!matches("a*b*c", "a-c-b"));
        assert!(!matches("a*x*c", "abc"), "every piece must appear");
        assert!(!matches("ab*ba", "aba"), "the first and last pieces must not overlap");
        assert!(matches("*.tar.gz", "x.tar.gz"));
        assert!(!matches("*.tar.gz", "x.tar.gzip"));
    }

    #[test]
    fn double_star_crosses_segments() {
        assert!(matches("**/.env", ".env"));
        assert!(matches("**/.env", "services/api/.env"));
        assert!(!matches("**/.env", "services/api/.env.example"));
        assert!(matches(".github/workflows/**", ".github/workflows/ci.yml"));
        assert!(matches(".github/workflows/**", ".github/workflows/sub/deploy.yml"));
        assert!(!matches(".github/workflows/**", ".github/CODEOWNERS"));
        assert!(matches("**/*.pem", "key.pem"));
        assert!(matches("**/*.pem", "deploy/keys/key.pem"));
        assert!(matches("src/**/mod.rs", "src/mod.rs"));
        assert!(matches("src/**/mod.rs", "src/a/b/mod.rs"));
        assert!(!matches("src/**/mod.rs", "lib/a/mod.rs"));
        assert!(matches("**", "anything/at/all"));
    }

    #[test]
    fn literals_match_exactly() {
        assert!(matches("Cargo.toml", "Cargo.toml"));
        assert!(!matches("Cargo.toml", "cargo.toml"));
        assert!(!matches("Cargo.toml", "sub/Cargo.toml"));
        assert!(!matches("sub", "sub/Cargo.toml"));
        assert!(!matches("**/id_rsa", "keys/id_rsa.pub"));
    }

    #[test]
    fn patterns_that_cannot_match_are_explained() {
        assert!(problem("").is_some());
        assert!(problem("/etc/passwd").unwrap().contains("leading `/`"));
        assert!(problem("secrets/").unwrap().contains("/**"));
        assert_eq!(problem("**/*.pem"), None);
    }
}
