//! `orch plugin new`: writes a buildable plugin project from the templates
//! in `cli/templates/`, for every kind: Rust (depending on the orch SDK),
//! Python (componentize-py) or JavaScript (componentize-js), each with a copy
//! of the contract it was written against and a README that says how to
//! build it and load it from `orch.toml`.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::ValueEnum;

use super::UsageError;

/// The kinds of plugin a project can be created for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Chooses a provider and model per role.
    Router,
    /// Calls an LLM API.
    Provider,
    /// Judges a change.
    Gate,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Router => "router",
            Self::Provider => "provider",
            Self::Gate => "gate",
        })
    }
}

const CARGO_TOML: &str = include_str!("templates/Cargo.toml.tmpl");
const README: &str = include_str!("templates/README.md.tmpl");
const ROUTER: &str = include_str!("templates/router.rs.tmpl");
const PROVIDER: &str = include_str!("templates/provider.rs.tmpl");
const GATE: &str = include_str!("templates/gate.rs.tmpl");
const ROUTER_PYTHON: &str = include_str!("templates/router.py.tmpl");
const PROVIDER_PYTHON: &str = include_str!("templates/provider.py.tmpl");
const GATE_PYTHON: &str = include_str!("templates/gate.py.tmpl");
const README_PYTHON: &str = include_str!("templates/README.python.md.tmpl");
const ROUTER_JS: &str = include_str!("templates/router.js.tmpl");
const PROVIDER_JS: &str = include_str!("templates/provider.js.tmpl");
const GATE_JS: &str = include_str!("templates/gate.js.tmpl");
const BUILD_JS: &str = include_str!("templates/build.mjs.tmpl");
const PACKAGE_JSON: &str = include_str!("templates/package.json.tmpl");
const README_JS: &str = include_str!("templates/README.js.md.tmpl");
/// How each kind is loaded from `orch.toml`, for the READMEs.
const LOAD_ROUTER: &str = include_str!("templates/load.router.toml.tmpl");
const LOAD_PROVIDER: &str = include_str!("templates/load.provider.toml.tmpl");
const LOAD_GATE: &str = include_str!("templates/load.gate.toml.tmpl");
/// The contract every project is built against, copied into it as
/// `wit/orch-plugin.wit` (the build tools of Python and JavaScript read it
/// from there; a Rust project keeps it for reference beside the SDK).
const WIT: &str = include_str!("../../../wit/0.2.0/orch-plugin.wit");
/// Where a project keeps its copy of the contract.
const WIT_FILE: &str = "wit/orch-plugin.wit";

/// The SDK next to the host this binary was built from.
fn bundled_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("sdk")
}

/// Refuses a bad name or a directory that holds something.
fn check_target(name: &str, dir: &Path) -> anyhow::Result<()> {
    validate_name(name)?;
    if dir.exists() && dir.read_dir().map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(
            UsageError(format!("{} already exists and is not empty; choose another --dir", dir.display())).into()
        );
    }
    Ok(())
}

/// Writes `files` (relative path, contents) under `dir`.
fn write_files(dir: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    for (relative, contents) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Languages other than Rust, whose projects build against a copy of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// componentize-py.
    Python,
    /// componentize-js.
    JavaScript,
}

/// What the templates are filled with.
struct Names<'a> {
    name: &'a str,
    kind: Kind,
    /// The environment variable a provider's API key is read from.
    secret: String,
    /// The component, as a path from the directory `orch plugin new` ran in.
    wasm: String,
}

impl<'a> Names<'a> {
    fn new(name: &'a str, kind: Kind, dir: &Path, wasm: &str) -> Self {
        let secret = format!("{}_API_KEY", name.replace('-', "_").to_uppercase());
        let wasm = dir.join(wasm).display().to_string();
        Self { name, kind, secret, wasm }
    }

    /// `template` with every placeholder these names fill replaced.
    fn fill(&self, template: &str) -> String {
        template
            .replace("{{load}}", &self.load())
            .replace("{{name}}", self.name)
            .replace("{{kind}}", &self.kind.to_string())
            .replace("{{secret_name}}", &self.secret)
    }

    /// The `orch.toml` lines that load the component into its slot.
    fn load(&self) -> String {
        let template = match self.kind {
            Kind::Router => LOAD_ROUTER,
            Kind::Provider => LOAD_PROVIDER,
            Kind::Gate => LOAD_GATE,
        };
        template
            .replace("{{name}}", self.name)
            .replace("{{wasm}}", &format!("{:?}", self.wasm))
            .replace("{{secret_name}}", &self.secret)
            .trim_end()
            .to_owned()
    }
}

/// Creates the Python or JavaScript project for plugin `name` of `kind` in `dir`.
pub fn create_foreign(name: &str, kind: Kind, lang: Foreign, dir: &Path) -> anyhow::Result<()> {
    check_target(name, dir)?;
    let names = Names::new(name, kind, dir, &format!("{name}.wasm"));
    let wit = (WIT_FILE.to_owned(), WIT.to_owned());
    match lang {
        Foreign::Python => {
            let source = match kind {
                Kind::Router => ROUTER_PYTHON,
                Kind::Provider => PROVIDER_PYTHON,
                Kind::Gate => GATE_PYTHON,
            };
            write_files(
                dir,
                &[
                    ("app.py".to_owned(), names.fill(source)),
                    ("README.md".to_owned(), names.fill(README_PYTHON)),
                    wit,
                    (".gitignore".to_owned(), "*.wasm\nwit_world/\ncomponentize_py_*\n__pycache__/\n".to_owned()),
                ],
            )
        }
        Foreign::JavaScript => {
            let source = match kind {
                Kind::Router => ROUTER_JS,
                Kind::Provider => PROVIDER_JS,
                Kind::Gate => GATE_JS,
            };
            write_files(
                dir,
                &[
                    (format!("{kind}.js"), names.fill(source)),
                    ("build.mjs".to_owned(), names.fill(BUILD_JS)),
                    ("package.json".to_owned(), names.fill(PACKAGE_JSON)),
                    ("README.md".to_owned(), names.fill(README_JS)),
                    wit,
                    (".gitignore".to_owned(), "node_modules/\n*.wasm\n".to_owned()),
                ],
            )
        }
    }
}

/// Creates the Rust project for plugin `name` of `kind` in `dir`.
pub fn create(name: &str, kind: Kind, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<()> {
    check_target(name, dir)?;
    let sdk_dependency = sdk_dependency(sdk)?;
    let crate_name = name.replace('-', "_");
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    let names = Names::new(name, kind, dir, &format!("target/wasm32-wasip2/release/{crate_name}.wasm"));
    let fill = |template: &str| {
        names
            .fill(template)
            .replace("{{crate_name}}", &crate_name)
            .replace("{{type_name}}", &type_name)
            .replace("{{sdk_dependency}}", &sdk_dependency)
    };
    let source = match kind {
        Kind::Router => ROUTER,
        Kind::Provider => PROVIDER,
        Kind::Gate => GATE,
    };
    write_files(
        dir,
        &[
            ("Cargo.toml".to_owned(), fill(CARGO_TOML)),
            ("README.md".to_owned(), fill(README)),
            ("src/lib.rs".to_owned(), fill(source)),
            (WIT_FILE.to_owned(), WIT.to_owned()),
            (".gitignore".to_owned(), "/target/\n".to_owned()),
        ],
    )
}

fn validate_name(name: &str) -> Result<(), UsageError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(UsageError(format!(
            "`{name}` is not a valid plugin name: use lowercase letters, digits and `-`, starting with a letter"
        )))
    }
}

/// The `orch-sdk = …` line: the given SDK path, else the SDK this orch was
/// built from when it is still there.
fn sdk_dependency(sdk: Option<&Path>) -> anyhow::Result<String> {
    let path = match sdk {
        Some(path) => path.to_owned(),
        None if bundled_sdk().join("Cargo.toml").is_file() => bundled_sdk(),
        None => {
            return Err(UsageError(
                "cannot find the orch SDK this binary was built from; pass --sdk PATH to an orch-sdk checkout".into(),
            )
            .into());
        }
    };
    let path = std::path::absolute(&path).with_context(|| format!("resolving {}", path.display()))?;
    if !path.join("Cargo.toml").is_file() {
        return Err(UsageError(format!("{} is not the orch-sdk crate (no Cargo.toml)", path.display())).into());
    }
    let path = path.canonicalize().unwrap_or(path);
    Ok(format!("orch-sdk = {{ path = {:?} }}", path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::{Foreign, Kind, create, create_foreign, validate_name};

    /// Every file of every project has all its placeholders filled (the
    /// CLI tests build each one with the real tools).
    #[test]
    fn every_template_is_filled() {
        let dir = tempfile::tempdir().unwrap();
        for kind in [Kind::Router, Kind::Provider, Kind::Gate] {
            let name = format!("new-{kind}");
            create(&name, kind, &dir.path().join(format!("rust-{kind}")), None).unwrap();
            create_foreign(&name, kind, Foreign::Python, &dir.path().join(format!("python-{kind}"))).unwrap();
            create_foreign(&name, kind, Foreign::JavaScript, &dir.path().join(format!("js-{kind}"))).unwrap();
        }
        let mut files = vec![dir.path().to_owned()];
        let mut seen = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(!text.contains("{{"), "{} is not filled in", path.display());
                seen += 1;
            }
        }
        assert_eq!(seen, 3 * (5 + 4 + 6));
    }

    #[test]
    fn plugin_names_are_kebab_case() {
        assert!(validate_name("router-cautious").is_ok());
        assert!(validate_name("gate2").is_ok());
        for bad in ["", "Router", "2fast", "a_b", "x-", "a b"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
