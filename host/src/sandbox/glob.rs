//! `*`/`?` wildcard matching for capability patterns (origins, hosts,
//! command arguments). `*` matches any run of characters, `?` exactly one.

/// True when `text` matches `pattern` as a whole.
pub fn matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was and where in `text` it started matching, to retry
    // with the star swallowing one more character.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, start)) => {
                    p = star + 1;
                    t = start + 1;
                    backtrack = Some((star, start + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn literal_and_wildcards() {
        assert!(matches("api.openai.com", "api.openai.com"));
        assert!(!matches("api.openai.com", "api.openai.com.evil.net"));
        assert!(matches("*.openai.com", "api.openai.com"));
        assert!(!matches("*.openai.com", "openai.com"));
        assert!(matches("--junitxml=*", "--junitxml=out.xml"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("*", ""));
        assert!(matches("file?.txt", "file1.txt"));
        assert!(!matches("file?.txt", "file12.txt"));
        assert!(!matches("", "x"));
    }
}
