//! Capability grants: what the operator allows one plugin to do (HTTP
//! origins, injected secrets, read-only paths, commands), the load-time check
//! that a plugin asks for no more than that, and the run-time checks behind
//! every `host` call. Nothing is granted by default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use super::arg_patterns;
use super::bindings::types::{Capabilities, CommandRequest};
use super::glob;

/// The `[plugins.NAME.grants]` table of `orch.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Origins as `scheme://host[:port]` patterns; `*` is a wildcard in the
    /// host and may stand for the whole port (`http://127.0.0.1:*`).
    #[serde(default)]
    pub http: Vec<String>,
    /// Secrets the host may inject into HTTP header values, each bound to
    /// the origins it may be sent to.
    #[serde(default)]
    pub secrets: SecretGrants,
    /// Host directories mounted read-only at the same path in the sandbox.
    #[serde(default)]
    pub read_paths: Vec<PathBuf>,
    /// Commands the plugin may run.
    #[serde(default)]
    pub commands: Vec<CommandGrant>,
}

/// One allowlisted command: a program and the patterns its arguments must
/// match, in order ([`arg_patterns`](super::arg_patterns)).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandGrant {
    /// Program name as looked up on PATH (`pytest`) or an absolute path.
    pub program: String,
    /// One pattern per argument, in order; a last `**` stands for any
    /// further plain arguments; empty means no arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Whether the plugin may write to the command's standard input (closed otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdin: bool,
    /// Directories the command may read besides the system's, its own
    /// toolchain's and the worktree (a virtualenv, a toolchain elsewhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<PathBuf>,
}

impl CommandGrant {
    /// `program` with argument patterns `args`, no input and no extra reads.
    pub fn new(program: impl Into<String>, args: Vec<String>) -> Self {
        Self { program: program.into(), args, stdin: false, read: Vec::new() }
    }
}

/// A plugin's request has the same shape as a grant: the grant that would
/// allow exactly what was asked for.
impl From<&Capabilities> for Grants {
    fn from(requested: &Capabilities) -> Self {
        Self {
            http: requested.http.clone(),
            secrets: SecretGrants::unbound(&requested.secrets),
            read_paths: requested.read_paths.iter().map(PathBuf::from).collect(),
            commands: requested.commands.iter().map(|c| CommandGrant::new(c.program.clone(), c.args.clone())).collect(),
        }
    }
}

/// Secrets by name, each bound to origin patterns. Written as a table,
/// `secrets = { OPENAI_API_KEY = ["https://api.openai.com"] }`, or as a list
/// of names, `secrets = ["OPENAI_API_KEY"]`, which binds each to the
/// granted `http` origins that have no wildcard: a key granted beside
/// `http://127.0.0.1:*` never goes to whatever listens on a local port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretGrants(BTreeMap<String, Option<Vec<String>>>);

impl SecretGrants {
    /// `names`, bound to the exact granted origins.
    pub fn unbound(names: &[String]) -> Self {
        Self(names.iter().map(|n| (n.clone(), None)).collect())
    }

    /// `name` bound to `origins`.
    pub fn bound(name: &str, origins: &[&str]) -> Self {
        Self(BTreeMap::from([(name.to_owned(), Some(origins.iter().map(|o| (*o).to_owned()).collect()))]))
    }

    /// The names granted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether none is granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for SecretGrants {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Names(Vec<String>),
            Bound(BTreeMap<String, Vec<String>>),
        }
        Ok(match Written::deserialize(deserializer)? {
            Written::Names(names) => Self::unbound(&names),
            Written::Bound(bound) => Self(bound.into_iter().map(|(n, o)| (n, Some(o))).collect()),
        })
    }
}

impl Serialize for SecretGrants {
    /// The names, as `orch plugin list --json` has always shown them.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

/// A parsed origin pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OriginPattern {
    scheme: String,
    host: String,
    /// `None` means any port.
    port: Option<u16>,
}

impl OriginPattern {
    fn parse(pattern: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "`{pattern}` is not an origin pattern ({why}); expected scheme://host[:port], e.g. https://api.openai.com or http://127.0.0.1:*"
            )
        };
        let (scheme, rest) = pattern.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad("scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(bad("only scheme, host and port are allowed"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, "*")) => (host, None),
            Some((host, port)) => (host, Some(port.parse().map_err(|_| bad("port is not a number or *"))?)),
            None => (rest, Some(default_port)),
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        Ok(Self { scheme, host: host.to_ascii_lowercase(), port })
    }

    /// Does this grant cover `other` (a requested pattern)? A wildcard in the
    /// request is only covered by a grant at least as broad.
    fn covers(&self, other: &OriginPattern) -> bool {
        self.scheme == other.scheme
            && glob::matches(&self.host, &other.host)
            && (self.port.is_none() || self.port == other.port)
    }

    fn allows(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        self.scheme == url.scheme()
            && glob::matches(&self.host, &host)
            && self.port.is_none_or(|p| Some(p) == url.port_or_known_default())
    }
}

/// A capability the plugin asked for that the grants do not cover, with the
/// line an operator would add to allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What was asked for, in words.
    pub capability: String,
    /// The `orch.toml` line that would grant it.
    pub hint: String,
}

impl Grants {
    /// Rejects malformed patterns so a typo is reported at load, not as a
    /// mysterious denial later.
    pub fn validate(&self) -> Result<(), String> {
        for origin in &self.http {
            OriginPattern::parse(origin)?;
        }
        for (name, origins) in &self.secrets.0 {
            if !is_secret_name(name) {
                return Err(format!("secret name `{name}` must be letters, digits and `_`"));
            }
            for origin in origins.iter().flatten() {
                let pattern = OriginPattern::parse(origin)?;
                let granted = self.http.iter().filter_map(|g| OriginPattern::parse(g).ok()).any(|g| g.covers(&pattern));
                if !granted {
                    return Err(format!("secret {name} is bound to {origin}, which `http` does not grant"));
                }
            }
        }
        for path in &self.read_paths {
            if !path.is_absolute() {
                return Err(format!("read path `{}` must be absolute", path.display()));
            }
        }
        for command in &self.commands {
            if command.program.is_empty() {
                return Err("a command grant has an empty program".to_owned());
            }
            if arg_patterns::is_interpreter(&command.program) && !arg_patterns::pins_code(&command.args) {
                return Err(format!(
                    "`{}` runs whatever code it is given, and args = {:?} leave that code open; pin it: a script path, \
                     or -m MODULE / -c CODE before any `*`",
                    command.program, command.args
                ));
            }
        }
        Ok(())
    }

    /// The first capability in `requested` these grants do not cover.
    pub fn missing(&self, requested: &Capabilities) -> Option<Missing> {
        for origin in &requested.http {
            let covered = OriginPattern::parse(origin).is_ok_and(|wanted| {
                self.http.iter().filter_map(|g| OriginPattern::parse(g).ok()).any(|g| g.covers(&wanted))
            });
            if !covered {
                return Some(Missing {
                    capability: format!("HTTP access to {origin}"),
                    hint: format!("http = [{origin:?}]"),
                });
            }
        }
        for name in &requested.secrets {
            if !self.grants_secret(name) {
                return Some(Missing {
                    capability: format!("the secret {name}"),
                    hint: format!("secrets = [{name:?}]"),
                });
            }
        }
        for path in &requested.read_paths {
            if self.read_root(Path::new(path)).is_none() {
                return Some(Missing {
                    capability: format!("read access to {path}"),
                    hint: format!("read_paths = [{path:?}]"),
                });
            }
        }
        for command in &requested.commands {
            if !self.covers_command_request(command) {
                return Some(Missing {
                    capability: crate::untrusted::one_line(&format!(
                        "running `{} {}`",
                        command.program,
                        command.args.join(" ")
                    )),
                    hint: format!("commands = [{{ program = {:?}, args = {:?} }}]", command.program, command.args),
                });
            }
        }
        None
    }

    fn covers_command_request(&self, wanted: &CommandRequest) -> bool {
        self.commands
            .iter()
            .any(|grant| grant.program == wanted.program && arg_patterns::covers(&grant.args, &wanted.args))
    }

    /// May the plugin send a request to `url`?
    pub fn allows_url(&self, url: &Url) -> bool {
        self.http.iter().filter_map(|g| OriginPattern::parse(g).ok()).any(|g| g.allows(url))
    }

    /// May the host inject secret `name` into a request to `url`?
    pub fn allows_secret(&self, name: &str, url: &Url) -> bool {
        let to_url = |origin: &String| OriginPattern::parse(origin).is_ok_and(|o| o.allows(url));
        let bound = match self.secrets.0.get(name) {
            None => false,
            Some(Some(origins)) => origins.iter().any(to_url),
            Some(None) => self.http.iter().filter(|o| !o.contains('*')).any(to_url),
        };
        bound && self.allows_url(url)
    }

    /// Whether secret `name` is granted at all (for some origin).
    pub fn grants_secret(&self, name: &str) -> bool {
        self.secrets.0.contains_key(name)
    }

    /// The grant that lets the plugin run `program` with `args` in
    /// `workspace`; on refusal, why.
    pub fn check_command(
        &self,
        program: &str,
        args: &[String],
        workspace: Option<&Path>,
    ) -> Result<&CommandGrant, String> {
        let grants: Vec<&CommandGrant> = self.commands.iter().filter(|g| g.program == program).collect();
        if grants.is_empty() {
            return Err(format!("command `{program}` is not allowlisted"));
        }
        grants.into_iter().find(|grant| arg_patterns::matches(&grant.args, args, workspace)).ok_or_else(|| {
            format!(
                "`{program} {}` matches no allowlisted argument list (patterns match one argument each, in order)",
                args.join(" ")
            )
        })
    }

    /// The granted read path that contains `path`, if any. `path` must be
    /// absolute and is compared component by component, so `/data-evil` is not
    /// inside `/data` and `..` cannot climb out.
    pub fn read_root(&self, path: &Path) -> Option<&Path> {
        self.read_paths.iter().map(PathBuf::as_path).find(|root| within(path, root))
    }
}

/// Whether the absolute `path` is `root` or below it, compared component by
/// component (`/data-evil` is not inside `/data`, and `..` never is).
pub fn within(path: &Path, root: &Path) -> bool {
    path.is_absolute() && !path.components().any(|c| c == std::path::Component::ParentDir) && path.starts_with(root)
}

/// Secret names are environment-variable-like: letters, digits and `_`.
pub fn is_secret_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(http: &[&str]) -> Grants {
        Grants { http: http.iter().map(|s| (*s).to_owned()).collect(), ..Grants::default() }
    }

    fn caps(http: &[&str]) -> Capabilities {
        Capabilities {
            http: http.iter().map(|s| (*s).to_owned()).collect(),
            secrets: vec![],
            read_paths: vec![],
            commands: vec![],
        }
    }

    #[test]
    fn origin_patterns_match_scheme_host_and_port() {
        let g = grants(&["https://api.openai.com", "http://127.0.0.1:*", "https://*.example.com:8443"]);
        let ok = |u: &str| g.allows_url(&Url::parse(u).unwrap());
        assert!(ok("https://api.openai.com/v1/chat/completions"));
        assert!(ok("https://API.OpenAI.com:443/x"));
        assert!(!ok("http://api.openai.com/v1"), "scheme must match");
        assert!(!ok("https://api.openai.com:8443/"), "default port only");
        assert!(!ok("https://api.openai.com.evil.net/"));
        assert!(ok("http://127.0.0.1:51234/"));
        assert!(!ok("http://127.0.0.2:51234/"));
        assert!(ok("https://eu.example.com:8443/"));
        assert!(!ok("https://eu.example.com/"));
    }

    #[test]
    fn requests_must_be_covered_by_an_equal_or_broader_grant() {
        let g = grants(&["https://api.openai.com", "http://127.0.0.1:*"]);
        assert_eq!(g.missing(&caps(&["https://api.openai.com"])), None);
        assert_eq!(g.missing(&caps(&["http://127.0.0.1:8080"])), None);
        assert_eq!(g.missing(&caps(&["http://127.0.0.1:*"])), None);
        let missing = g.missing(&caps(&["https://*"])).expect("wildcard request is broader");
        assert_eq!(missing.capability, "HTTP access to https://*");
        assert_eq!(missing.hint, "http = [\"https://*\"]");
        assert!(g.missing(&caps(&["https://api.anthropic.com"])).is_some());
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        for bad in ["api.openai.com", "ftp://x", "https://x/path", "https://x:port", "https://"] {
            assert!(grants(&[bad]).validate().is_err(), "{bad} should be rejected");
        }
        assert!(grants(&["https://x.y:8443", "http://localhost:*"]).validate().is_ok());
    }

    #[test]
    fn commands_match_program_and_every_argument_in_order() {
        let pytest = |args: &[&str]| CommandGrant::new("pytest", args.iter().map(|a| (*a).to_owned()).collect());
        let g = Grants { commands: vec![pytest(&["-q", "--junitxml=*"])], ..Grants::default() };
        assert!(g.check_command("pytest", &["-q".into(), "--junitxml=out.xml".into()], None).is_ok());
        assert!(g.check_command("pytest", &[], None).is_err(), "an empty list no longer passes");
        let err = g.check_command("pytest", &["-q".into(), "--rootdir=/".into()], None).unwrap_err();
        assert!(err.contains("--rootdir=/"), "{err}");
        let err = g.check_command("rm", &["-rf".into()], None).unwrap_err();
        assert!(err.contains("not allowlisted"), "{err}");
        let open = Grants {
            commands: vec![CommandGrant::new("python3", vec!["-B".into(), "-q".into()])],
            ..Grants::default()
        };
        assert!(open.validate().unwrap_err().contains("`python3` runs whatever code it is given"));
        let pinned = Grants {
            commands: vec![CommandGrant::new("python3", ["-B", "-m", "pytest", "-q"].map(String::from).to_vec())],
            ..Grants::default()
        };
        assert_eq!(pinned.validate(), Ok(()));
    }

    #[test]
    fn read_paths_compare_whole_components() {
        let g = Grants { read_paths: vec!["/data/repo".into()], ..Grants::default() };
        assert!(g.read_root(Path::new("/data/repo/src/lib.rs")).is_some());
        assert!(g.read_root(Path::new("/data/repo")).is_some());
        assert!(g.read_root(Path::new("/data/repo-evil/x")).is_none());
        assert!(g.read_root(Path::new("/data/repo/../secret")).is_none());
        assert!(g.read_root(Path::new("relative")).is_none());
    }

    #[test]
    fn a_secret_goes_only_to_the_origins_it_is_bound_to() {
        let listed: Grants = toml::from_str(
            r#"http = ["https://api.openai.com", "http://127.0.0.1:*"]
secrets = ["OPENAI_API_KEY"]"#,
        )
        .unwrap();
        let to = |g: &Grants, u: &str| g.allows_secret("OPENAI_API_KEY", &Url::parse(u).unwrap());
        assert!(to(&listed, "https://api.openai.com/v1/chat/completions"));
        assert!(!to(&listed, "http://127.0.0.1:8080/"), "a listed secret never goes to a wildcard origin");
        assert!(!listed.allows_secret("OTHER", &Url::parse("https://api.openai.com").unwrap()));
        let bound: Grants = toml::from_str(
            r#"http = ["https://api.openai.com", "http://127.0.0.1:*"]
secrets = { OPENAI_API_KEY = ["http://127.0.0.1:11434"] }"#,
        )
        .unwrap();
        assert!(to(&bound, "http://127.0.0.1:11434/v1") && !to(&bound, "http://127.0.0.1:8080/"));
        assert!(!to(&bound, "https://api.openai.com/v1"), "bound elsewhere");
        assert_eq!(bound.validate(), Ok(()));
        let stray: Grants = toml::from_str(
            r#"http = ["https://api.openai.com"]
secrets = { OPENAI_API_KEY = ["https://evil.example"] }"#,
        )
        .unwrap();
        assert!(stray.validate().unwrap_err().contains("bound to https://evil.example, which `http` does not grant"));
        assert_eq!(serde_json::to_value(&bound.secrets).unwrap(), serde_json::json!(["OPENAI_API_KEY"]));
    }
}
