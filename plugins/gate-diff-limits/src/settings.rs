//! The gate's config: the size limits, the forbidden paths and when a
//! change counts as near a limit.

use orch_sdk::{PluginError, config, glob};
use serde::de::DeserializeOwned;

/// Where the operator sets these, as findings point to it.
pub const CONFIG_TABLE: &str = "[plugins.diff-limits.config]";

/// Config key: the most files a change may touch.
pub const MAX_FILES_KEY: &str = "max_files";
/// Config key: the most lines (added plus removed) a change may have.
pub const MAX_LINES_KEY: &str = "max_lines";
/// Config key: globs of paths a change must not touch.
pub const FORBIDDEN_PATHS_KEY: &str = "forbidden_paths";
/// Config key: the share of a limit above which a change gets a warning.
pub const WARN_RATIO_KEY: &str = "warn_ratio";

/// `max_files` when not set.
pub const DEFAULT_MAX_FILES: u64 = 50;
/// `max_lines` when not set.
pub const DEFAULT_MAX_LINES: u64 = 2000;
/// `forbidden_paths` when not set: CI workflows, environment files and keys.
pub const DEFAULT_FORBIDDEN_PATHS: &[&str] = &[".github/workflows/**", "**/.env", "**/*.pem", "**/id_rsa"];
/// `warn_ratio` when not set.
pub const DEFAULT_WARN_RATIO: f64 = 0.8;

/// What the operator configured, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// The most files a change may touch.
    pub max_files: u64,
    /// The most lines, added plus removed, a change may have.
    pub max_lines: u64,
    /// Globs of workspace-relative paths a change must not touch.
    pub forbidden_paths: Vec<String>,
    /// Above this share of a limit a change gets a warning; 1 for none.
    pub warn_ratio: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files: DEFAULT_MAX_FILES,
            max_lines: DEFAULT_MAX_LINES,
            forbidden_paths: DEFAULT_FORBIDDEN_PATHS.iter().map(|p| (*p).to_owned()).collect(),
            warn_ratio: DEFAULT_WARN_RATIO,
        }
    }
}

impl Limits {
    /// Reads the limits through `lookup` (the SDK's
    /// [`config::get`] in the plugin). An invalid
    /// value is an `invalid-input` error naming its key.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let defaults = Self::default();
        let max_files = read(&lookup, MAX_FILES_KEY)?.unwrap_or(defaults.max_files);
        let max_lines = read(&lookup, MAX_LINES_KEY)?.unwrap_or(defaults.max_lines);
        let forbidden_paths = read(&lookup, FORBIDDEN_PATHS_KEY)?.unwrap_or(defaults.forbidden_paths);
        let warn_ratio = read(&lookup, WARN_RATIO_KEY)?.unwrap_or(defaults.warn_ratio);
        for (key, value) in [(MAX_FILES_KEY, max_files), (MAX_LINES_KEY, max_lines)] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if let Some((pattern, problem)) = forbidden_paths.iter().find_map(|p| glob::problem(p).map(|why| (p, why))) {
            return Err(invalid(FORBIDDEN_PATHS_KEY, &format!("is not valid: `{pattern}`: {problem}")));
        }
        if !(warn_ratio > 0.0 && warn_ratio <= 1.0) {
            return Err(invalid(WARN_RATIO_KEY, "must be more than 0 and at most 1 (1 turns the warnings off)"));
        }
        Ok(Self { max_files, max_lines, forbidden_paths, warn_ratio })
    }
}

/// The value of `key` parsed from its JSON text, `None` when not set.
fn read<T: DeserializeOwned>(lookup: &impl Fn(&str) -> Option<String>, key: &str) -> Result<Option<T>, PluginError> {
    lookup(key).map(|raw| config::parse(key, &raw)).transpose()
}

fn invalid(key: &str, why: &str) -> PluginError {
    PluginError::InvalidInput(format!("config key `{key}` {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(pairs: &[(&str, &str)]) -> Result<Limits, PluginError> {
        Limits::from_config(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
    }

    fn error_of(key: &str, raw: &str) -> String {
        match limits(&[(key, raw)]) {
            Err(PluginError::InvalidInput(message)) => message,
            other => panic!("expected invalid-input for {key} = {raw}, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply() {
        let limits = limits(&[]).unwrap();
        assert_eq!(limits, Limits::default());
        assert_eq!((limits.max_files, limits.max_lines, limits.warn_ratio), (50, 2000, 0.8));
        assert_eq!(limits.forbidden_paths, [".github/workflows/**", "**/.env", "**/*.pem", "**/id_rsa"]);
    }

    #[test]
    fn values_are_read() {
        let limits = limits(&[
            ("max_files", "30"),
            ("max_lines", "500"),
            ("forbidden_paths", r#"["infra/**"]"#),
            ("warn_ratio", "1"),
        ])
        .unwrap();
        assert_eq!(
            limits,
            Limits { max_files: 30, max_lines: 500, forbidden_paths: vec!["infra/**".into()], warn_ratio: 1.0 }
        );
        assert!(self::limits(&[("forbidden_paths", "[]")]).unwrap().forbidden_paths.is_empty());
    }

    #[test]
    fn invalid_values_name_their_key() {
        let cases = [
            ("max_files", "-1", "config key `max_files` is not valid"),
            ("max_files", "1.5", "config key `max_files` is not valid"),
            ("max_files", "many", "config key `max_files` is not valid"),
            ("max_files", "0", "config key `max_files` must be at least 1"),
            ("max_lines", "0", "config key `max_lines` must be at least 1"),
            ("max_lines", "[1]", "config key `max_lines` is not valid"),
            ("forbidden_paths", ".env", "config key `forbidden_paths` is not valid"),
            ("forbidden_paths", r#"[".env", 3]"#, "config key `forbidden_paths` is not valid"),
            ("forbidden_paths", r#"["/etc/**"]"#, "`/etc/**`: patterns are relative"),
            ("forbidden_paths", r#"[""]"#, "the pattern is empty"),
            ("warn_ratio", "0", "config key `warn_ratio` must be more than 0 and at most 1"),
            ("warn_ratio", "1.2", "config key `warn_ratio` must be more than 0"),
            ("warn_ratio", "-0.5", "config key `warn_ratio` must be more than 0"),
            ("warn_ratio", "high", "config key `warn_ratio` is not valid"),
        ];
        for (key, raw, expected) in cases {
            let message = error_of(key, raw);
            assert!(message.contains(expected), "{key} = {raw}: {message}");
        }
    }
}
