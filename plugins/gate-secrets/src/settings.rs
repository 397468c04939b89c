//! The gate's config: which files it does not scan.

use orch_sdk::{PluginError, config, glob};

/// The config key listing paths not to scan.
pub const IGNORE_PATHS_KEY: &str = "ignore_paths";

/// What the operator configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Globs of workspace-relative paths not to scan (`tests/fixtures/**`).
    pub ignore_paths: Vec<String>,
}

impl Settings {
    /// Reads the settings through `lookup` (the SDK's
    /// [`config::get`] in the plugin). A value that is
    /// not an array of usable globs is an `invalid-input` error naming the key.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let ignore_paths: Vec<String> = match lookup(IGNORE_PATHS_KEY) {
            Some(raw) => config::parse(IGNORE_PATHS_KEY, &raw)?,
            None => Vec::new(),
        };
        if let Some((pattern, problem)) = ignore_paths.iter().find_map(|p| glob::problem(p).map(|why| (p, why))) {
            return Err(PluginError::InvalidInput(format!(
                "config key `{IGNORE_PATHS_KEY}` is not valid: `{pattern}`: {problem}"
            )));
        }
        Ok(Self { ignore_paths })
    }

    /// Whether `path` is not to be scanned.
    pub fn ignores(&self, path: &str) -> bool {
        self.ignore_paths.iter().any(|pattern| glob::matches(pattern, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(raw: Option<&str>) -> Result<Settings, PluginError> {
        Settings::from_config(|key| (key == IGNORE_PATHS_KEY).then_some(raw).flatten().map(str::to_owned))
    }

    fn error_of(raw: &str) -> String {
        match settings(Some(raw)) {
            Err(PluginError::InvalidInput(message)) => message,
            other => panic!("expected invalid-input for {raw}, got {other:?}"),
        }
    }

    #[test]
    fn nothing_is_ignored_by_default() {
        let settings = settings(None).unwrap();
        assert!(settings.ignore_paths.is_empty());
        assert!(!settings.ignores("tests/fixtures/key.pem"));
    }

    #[test]
    fn ignore_paths_are_globs() {
        let settings = settings(Some(r#"["tests/fixtures/*", "**/*.snap"]"#)).unwrap();
        assert!(settings.ignores("tests/fixtures/key.pem"));
        assert!(!settings.ignores("tests/fixtures/deep/key.pem"), "`*` stays within a segment");
        assert!(settings.ignores("src/snapshots/a.snap"));
        assert!(!settings.ignores("src/config.py"));
    }

    #[test]
    fn bad_values_name_the_key() {
        for raw in ["tests/fixtures/*", r#"{"a": 1}"#, "[1, 2]"] {
            assert!(error_of(raw).starts_with("config key `ignore_paths` is not valid"), "{raw}");
        }
        assert!(error_of(r#"["ok/**", "/abs/path"]"#).contains("`/abs/path`: patterns are relative"));
        assert!(error_of(r#"[""]"#).contains("the pattern is empty"));
    }
}
