//! `orch plugin new`: writes a buildable plugin project from the templates
//! in `cli/templates/`: Rust (depending on the orch SDK) for every kind, or a
//! Python (componentize-py) or JavaScript (componentize-js) gate built
//! against a copy of the contract.

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
const GATE_PYTHON: &str = include_str!("templates/gate.py.tmpl");
const README_PYTHON: &str = include_str!("templates/README.python.md.tmpl");
const GATE_JS: &str = include_str!("templates/gate.js.tmpl");
const BUILD_JS: &str = include_str!("templates/build.mjs.tmpl");
const PACKAGE_JSON: &str = include_str!("templates/package.json.tmpl");
const README_JS: &str = include_str!("templates/README.js.md.tmpl");
/// The contract, copied into projects whose build tools read it from disk.
const WIT: &str = include_str!("../../../wit/0.2.0/orch-plugin.wit");

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
fn write_files(dir: &Path, files: &[(&str, String)]) -> anyhow::Result<()> {
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

/// Creates the Python or JavaScript project for gate plugin `name` in `dir`.
pub fn create_foreign(name: &str, kind: Kind, lang: Foreign, dir: &Path) -> anyhow::Result<()> {
    let language = match lang {
        Foreign::Python => "Python",
        Foreign::JavaScript => "JavaScript",
    };
    if kind != Kind::Gate {
        return Err(UsageError(format!(
            "{language} projects are scaffolded for gates; write a {kind} in Rust (--lang rust)"
        ))
        .into());
    }
    check_target(name, dir)?;
    let fill = |template: &str| template.replace("{{name}}", name).replace("{{kind}}", &kind.to_string());
    let wit = ("wit/orch-plugin.wit", WIT.to_owned());
    match lang {
        Foreign::Python => write_files(
            dir,
            &[
                ("app.py", fill(GATE_PYTHON)),
                ("README.md", fill(README_PYTHON)),
                wit,
                (".gitignore", "*.wasm\nwit_world/\ncomponentize_py_*\n__pycache__/\n".to_owned()),
            ],
        ),
        Foreign::JavaScript => write_files(
            dir,
            &[
                ("gate.js", fill(GATE_JS)),
                ("build.mjs", fill(BUILD_JS)),
                ("package.json", fill(PACKAGE_JSON)),
                ("README.md", fill(README_JS)),
                wit,
                (".gitignore", "node_modules/\n*.wasm\n".to_owned()),
            ],
        ),
    }
}

/// Creates the project for plugin `name` of `kind` in `dir`.
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
    let secret_name = format!("{}_API_KEY", crate_name.to_uppercase());
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate_name}}", &crate_name)
            .replace("{{type_name}}", &type_name)
            .replace("{{kind}}", &kind.to_string())
            .replace("{{sdk_dependency}}", &sdk_dependency)
            .replace("{{secret_name}}", &secret_name)
    };
    let source = match kind {
        Kind::Router => ROUTER,
        Kind::Provider => PROVIDER,
        Kind::Gate => GATE,
    };
    write_files(
        dir,
        &[
            ("Cargo.toml", fill(CARGO_TOML)),
            ("README.md", fill(README)),
            ("src/lib.rs", fill(source)),
            (".gitignore", "/target/\n".to_owned()),
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
    use super::validate_name;

    #[test]
    fn plugin_names_are_kebab_case() {
        assert!(validate_name("router-cautious").is_ok());
        assert!(validate_name("gate2").is_ok());
        for bad in ["", "Router", "2fast", "a_b", "x-", "a b"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
