//! The `orch plugin` commands end to end, through the real binary: output,
//! JSON shapes, exit codes, and a scaffolded plugin of each kind built for
//! wasm32-wasip2 and loaded back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The `orch` binary with a shared component cache, run in `dir`.
fn orch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(args)
        .current_dir(dir)
        .env("ORCH_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-component-cache"))
        .env("ORCH_LOG", "error")
        .output()
        .expect("orch runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

#[test]
fn plugin_list_shows_the_builtins_with_their_grants() {
    let dir = tempfile::tempdir().unwrap();
    let out = orch(dir.path(), &["plugin", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("NAME          KIND      VERSION  API    SOURCE                GRANTS\n"), "{text}");
    assert!(text.contains("router-rules  router    0.1.0    0.2.0  builtin:router-rules  none"), "{text}");
    assert!(
        text.contains(
            "anthropic     provider  0.1.0    0.2.0  builtin:anthropic     \
             http: https://api.anthropic.com; secrets: ANTHROPIC_API_KEY"
        ),
        "{text}"
    );
    for provider in ["gemini", "openai"] {
        assert!(text.contains(&format!("\n{provider:<14}provider  0.1.0")), "{text}");
    }

    let out = orch(dir.path(), &["plugin", "list", "--json"]);
    let list = json(&out);
    let router = list.as_array().unwrap().iter().find(|p| p["name"] == "router-rules").unwrap();
    assert_eq!(router["name"], "router-rules");
    assert_eq!(router["status"], "loaded");
    assert_eq!(router["kind"], "router");
    assert_eq!(router["api_version"], "0.2.0");
    assert_eq!(router["limits"]["timeout_ms"], 2000);
    assert_eq!(router["grants"]["http"], Value::Array(vec![]));
}

#[test]
fn plugin_inspect_prints_identity_world_and_requests() {
    let dir = tempfile::tempdir().unwrap();
    let out = orch(dir.path(), &["plugin", "inspect", "builtin:router-rules", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info = json(&out);
    assert_eq!(info["name"], "router-rules");
    assert_eq!(info["kind"], "router");
    assert_eq!(info["world"], "orch:plugin/router-plugin@0.2.0");
    assert_eq!(info["requested"]["secrets"], Value::Array(vec![]));
    assert_eq!(info["sha256"].as_str().unwrap().len(), 64);

    let out = orch(dir.path(), &["plugin", "inspect", "builtin:router-rules"]);
    let text = stdout(&out);
    assert!(text.contains("world:        orch:plugin/router-plugin@0.2.0"), "{text}");
    assert!(text.contains("  http:       none"), "{text}");
}

#[test]
fn broken_plugins_and_configs_fail_with_clear_messages_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = orch(dir.path(), &["plugin", "inspect", "nowhere.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nowhere.wasm") && stderr(&out).contains("No such file"), "{}", stderr(&out));

    let out = orch(dir.path(), &["--config", "missing.toml", "plugin", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: cannot read config missing.toml"), "{}", stderr(&out));

    std::fs::write(dir.path().join("orch.toml"), "[plugins.router-rules]\ntimeout = 5\n").unwrap();
    let out = orch(dir.path(), &["plugin", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("invalid config orch.toml") && err.contains("line 2") && err.contains("timeout"), "{err}");

    std::fs::write(dir.path().join("orch.toml"), "[plugins.extra]\npath = \"extra.wasm\"\n").unwrap();
    let out = orch(dir.path(), &["plugin", "list"]);
    assert_eq!(out.status.code(), Some(1), "a plugin that fails to load fails the command");
    let text = stdout(&out);
    assert!(text.contains("router-rules  router"), "the others still load: {text}");
    assert!(text.contains("error: plugin `extra`: cannot load"), "{text}");
}

#[test]
fn plugin_new_refuses_bad_names_and_existing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let out = orch(dir.path(), &["plugin", "new", "Bad_Name", "--kind", "router"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a valid plugin name"), "{}", stderr(&out));

    std::fs::create_dir(dir.path().join("taken")).unwrap();
    std::fs::write(dir.path().join("taken/file"), "x").unwrap();
    let out = orch(dir.path(), &["plugin", "new", "taken", "--kind", "gate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
}

/// Builds a scaffolded project for wasm32-wasip2 and returns its component.
fn build_plugin(project: &Path, name: &str) -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the scaffolded {name} project builds");
    target.join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")))
}

#[test]
fn scaffolded_plugins_of_every_kind_build_inspect_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::new();
    for (name, kind) in [("my-router", "router"), ("my-provider", "provider"), ("my-gate", "gate")] {
        let out = orch(dir.path(), &["plugin", "new", name, "--kind", kind]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains(&format!("created {kind} plugin `{name}`")), "{}", stdout(&out));
        let wasm = build_plugin(&dir.path().join(name), name);

        let out = orch(dir.path(), &["plugin", "inspect", wasm.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let info = json(&out);
        assert_eq!((info["name"].as_str(), info["kind"].as_str()), (Some(name), Some(kind)));
        assert_eq!(info["api_version"], "0.2.0");
        config.push_str(&format!("[plugins.{name}]\npath = {:?}\n", wasm.display().to_string()));
    }

    // The provider asks for its API origin and key: granted here, it loads.
    config.push_str(
        "[plugins.my-provider.grants]\nhttp = [\"https://api.openai.com\"]\nsecrets = [\"MY_PROVIDER_API_KEY\"]\n",
    );
    std::fs::write(dir.path().join("orch.toml"), &config).unwrap();
    let out = orch(dir.path(), &["plugin", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let list = json(&out);
    let loaded: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "loaded")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        loaded,
        [
            "anthropic",
            "diff-limits",
            "gemini",
            "my-gate",
            "my-provider",
            "my-router",
            "openai",
            "router-rules",
            "secrets"
        ]
    );
    let provider = list.as_array().unwrap().iter().find(|p| p["name"] == "my-provider").unwrap();
    assert_eq!(provider["requested"]["http"][0], "https://api.openai.com");

    // Without the grant, the provider is refused with the line to add.
    std::fs::write(dir.path().join("orch.toml"), config.replace("secrets = [\"MY_PROVIDER_API_KEY\"]\n", "")).unwrap();
    let out = orch(dir.path(), &["plugin", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("asks for the secret MY_PROVIDER_API_KEY, which is not granted"), "{}", stdout(&out));
}

#[test]
fn a_scaffolded_python_gate_builds_with_componentize_py_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out = orch(dir.path(), &["plugin", "new", "no-breakpoints", "--kind", "gate", "--lang", "python"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("componentize-py -d wit -w gate-plugin componentize app -o no-breakpoints.wasm"));
    let project = dir.path().join("no-breakpoints");
    let build = Command::new("componentize-py")
        .current_dir(&project)
        .args(["-d", "wit", "-w", "gate-plugin", "componentize", "app", "-o", "no-breakpoints.wasm"])
        .output()
        .expect("componentize-py runs (tools/test installs it)");
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let out = orch(&project, &["plugin", "inspect", "no-breakpoints.wasm", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info = json(&out);
    assert_eq!((info["name"].as_str(), info["kind"].as_str()), (Some("no-breakpoints"), Some("gate")));

    let out = orch(dir.path(), &["plugin", "new", "py-router", "--kind", "router", "--lang", "python"]);
    assert_eq!(out.status.code(), Some(2), "only gates in Python: {}", stdout(&out));
    assert!(stderr(&out).contains("Python projects are scaffolded for gates"), "{}", stderr(&out));
}

#[test]
fn a_scaffolded_javascript_gate_builds_with_componentize_js_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out = orch(dir.path(), &["plugin", "new", "no-debugger", "--kind", "gate", "--lang", "js"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let project = dir.path().join("no-debugger");
    // The example gate's installed componentize-js serves (tools/test installs it there).
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/js-package-json/node_modules");
    std::os::unix::fs::symlink(&modules, project.join("node_modules")).unwrap();
    let build = Command::new("node").current_dir(&project).args(["build.mjs", "no-debugger.wasm"]).output().unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let out = orch(&project, &["plugin", "inspect", "no-debugger.wasm", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info = json(&out);
    assert_eq!((info["name"].as_str(), info["kind"].as_str()), (Some("no-debugger"), Some("gate")));
}
