//! Judging a change's reach: forbidden paths it touches, and how many files
//! and lines it changes against the limits (with a warning near them).

use orch_sdk::PluginError;
use orch_sdk::diff::{self, FileDiff};

/// The limits, from config.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most files a change may touch.
    pub max_files: usize,
    /// Most lines (added plus removed) a change may change.
    pub max_lines: usize,
    /// Paths a change may not touch (`*`/`**` patterns).
    pub forbidden_paths: Vec<String>,
    /// Over this share of a limit, a warning.
    pub warn_ratio: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files: 50,
            max_lines: 2000,
            forbidden_paths: [".github/workflows/**", "**/.env", "**/*.pem", "**/id_rsa"].map(String::from).into(),
            warn_ratio: 0.8,
        }
    }
}

impl Limits {
    /// The limits from config values looked up by key (JSON or plain text);
    /// a bad value is an `invalid-input` error naming its key.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let mut limits = Self::default();
        let bad = |key: &str, why: String| PluginError::InvalidInput(format!("config key `{key}`: {why}"));
        let count = |key: &str, default: usize| -> Result<usize, PluginError> {
            match lookup(key) {
                None => Ok(default),
                Some(raw) => match raw.trim().parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(bad(key, format!("`{raw}` is not a whole number above 0"))),
                },
            }
        };
        limits.max_files = count("max_files", limits.max_files)?;
        limits.max_lines = count("max_lines", limits.max_lines)?;
        if let Some(raw) = lookup("forbidden_paths") {
            limits.forbidden_paths = serde_json::from_str(&raw)
                .map_err(|e| bad("forbidden_paths", format!("not a list of patterns: {e}")))?;
        }
        if let Some(raw) = lookup("warn_ratio") {
            limits.warn_ratio = match raw.trim().parse::<f64>() {
                Ok(r) if r > 0.0 && r <= 1.0 => r,
                _ => return Err(bad("warn_ratio", format!("`{raw}` is not a number in (0, 1]"))),
            };
        }
        Ok(limits)
    }
}

/// What a change broke or came close to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Errors: (file, message).
    pub errors: Vec<(Option<String>, String)>,
    /// Warnings: messages.
    pub warnings: Vec<String>,
    /// Files touched.
    pub files: usize,
    /// Lines changed.
    pub lines: usize,
}

/// Judges `diff` against `limits`.
pub fn judge(diff: &str, limits: &Limits) -> Verdict {
    let files: Vec<FileDiff<'_>> = diff::parse(diff);
    let lines: usize = files.iter().map(FileDiff::lines_changed).sum();
    let mut errors = Vec::new();
    for file in &files {
        for path in std::iter::once(&file.path).chain(&file.old_path) {
            if let Some(pattern) = limits.forbidden_paths.iter().find(|p| diff::matches(p, path)) {
                errors.push((Some(path.clone()), format!("{path} may not be changed (forbidden by `{pattern}`)")));
            }
        }
    }
    let mut warnings = Vec::new();
    for (what, n, max, key) in [
        ("files changed", files.len(), limits.max_files, "max_files"),
        ("lines changed", lines, limits.max_lines, "max_lines"),
    ] {
        if n > max {
            errors.push((None, format!("{n} {what}, the limit is {max} ([plugins.diff-limits.config] {key})")));
        } else if n as f64 > max as f64 * limits.warn_ratio {
            warnings.push(format!("{n} {what}, close to the limit of {max}; consider splitting the change"));
        }
    }
    Verdict { errors, warnings, files: files.len(), lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(files: &[(&str, usize)]) -> String {
        files
            .iter()
            .map(|(path, n)| {
                let body: String = (0..*n).map(|i| format!("+line {i}\n")).collect();
                format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,0 +1,{n} @@\n{body}")
            })
            .collect()
    }

    fn limits(max_files: usize, max_lines: usize) -> Limits {
        Limits { max_files, max_lines, ..Limits::default() }
    }

    #[test]
    fn within_limits_is_clean() {
        let v = judge(&diff(&[("src/a.py", 3), ("src/b.py", 2)]), &limits(10, 100));
        assert_eq!((v.errors.len(), v.warnings.len(), v.files, v.lines), (0, 0, 2, 5));
    }

    #[test]
    fn over_a_limit_is_an_error_and_near_one_a_warning() {
        let v = judge(&diff(&[("a.py", 5), ("b.py", 5), ("c.py", 5)]), &limits(2, 13));
        let messages: Vec<&str> = v.errors.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            messages,
            [
                "3 files changed, the limit is 2 ([plugins.diff-limits.config] max_files)",
                "15 lines changed, the limit is 13 ([plugins.diff-limits.config] max_lines)"
            ]
        );
        let near = judge(&diff(&[("a.py", 9)]), &limits(10, 10));
        assert_eq!(near.errors, []);
        assert_eq!(near.warnings, ["9 lines changed, close to the limit of 10; consider splitting the change"]);
    }

    #[test]
    fn forbidden_paths_are_errors_naming_the_file_even_when_renamed_away() {
        let v = judge(&diff(&[(".github/workflows/ci.yml", 1), ("config/.env", 1), ("src/ok.py", 1)]), &limits(9, 99));
        let files: Vec<Option<&str>> = v.errors.iter().map(|(f, _)| f.as_deref()).collect();
        assert_eq!(files, [Some(".github/workflows/ci.yml"), Some("config/.env")]);
        let renamed = "diff --git a/server.pem b/docs/x.txt\nsimilarity index 100%\nrename from server.pem\nrename to docs/x.txt\n";
        let v = judge(renamed, &limits(9, 99));
        assert_eq!(v.errors[0].0.as_deref(), Some("server.pem"));
    }

    #[test]
    fn config_values_are_checked() {
        let config = |pairs: &'static [(&'static str, &'static str)]| {
            Limits::from_config(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
        };
        assert_eq!(config(&[]).unwrap(), Limits::default());
        let set = config(&[("max_files", "3"), ("forbidden_paths", "[\"vendor/**\"]"), ("warn_ratio", "0.5")]).unwrap();
        assert_eq!(
            (set.max_files, set.forbidden_paths.as_slice(), set.warn_ratio),
            (3, &["vendor/**".to_owned()][..], 0.5)
        );
        for (key, value) in
            [("max_files", "0"), ("max_lines", "many"), ("forbidden_paths", "vendor"), ("warn_ratio", "2")]
        {
            let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(key, value)]));
            let err = config(pairs).unwrap_err();
            assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains(&format!("`{key}`"))), "{key}: {err:?}");
        }
    }
}
