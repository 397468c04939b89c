//! The `orch plugin` commands end to end, through the real binary: output,
//! JSON shapes, exit codes, and a scaffolded plugin of each kind in each
//! language (Rust, Python, JavaScript) built with the real tools, loaded back
//! with the lines its README gives, and run on a task against the mock LLM
//! server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use orch_mock_llm::{MockLlm, Vendor};
use serde_json::Value;

mod common;

/// The `orch` binary with a shared component cache, run in `dir`.
fn orch(dir: &Path, args: &[&str]) -> Output {
    orch_with(dir, args, &[])
}

/// `orch` with these environment variables set.
fn orch_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(args)
        .current_dir(dir)
        .env("ORCH_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-component-cache"))
        .env("ORCH_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied())
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
fn plugin_inspect_resolves_configured_names_and_shows_their_grants() {
    let dir = tempfile::tempdir().unwrap();
    let out = orch(dir.path(), &["plugin", "inspect", "anthropic"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for fact in [
        "name:         anthropic",
        "configured:   [plugins.anthropic] in (built-in defaults): builtin:anthropic",
        "granted:\n  http:       https://api.anthropic.com\n  secrets:    ANTHROPIC_API_KEY",
        "limits:       128 MB, 300000 ms per call",
        "status:       loads with these grants",
    ] {
        assert!(text.contains(fact), "missing {fact:?} in:\n{text}");
    }

    // A second instance of a builtin, described with its own config: what it
    // asks for follows its base_url, and it is refused without that grant.
    let config = "[plugins.local]\nbuiltin = \"openai\"\n[plugins.local.config]\nbase_url = \"http://127.0.0.1:11434/v1\"\n\
                  api_key_secret = \"\"\n[plugins.local.grants]\nhttp = [\"http://127.0.0.1:*\"]\n";
    std::fs::write(dir.path().join("orch.toml"), config).unwrap();
    let info = json(&orch(dir.path(), &["plugin", "inspect", "local", "--json"]));
    assert_eq!(info["name"], "openai");
    assert_eq!(info["requested"]["http"][0], "http://127.0.0.1:11434");
    assert_eq!(info["configured"]["name"], "local");
    assert_eq!(info["configured"]["source"], "builtin:openai");
    assert_eq!(info["configured"]["grants"]["http"][0], "http://127.0.0.1:*");
    assert_eq!(info["configured"]["status"], "loaded");
    std::fs::write(dir.path().join("orch.toml"), config.replace("http = [\"http://127.0.0.1:*\"]\n", "")).unwrap();
    let out = orch(dir.path(), &["plugin", "inspect", "local"]);
    assert_eq!(out.status.code(), Some(1), "a configured plugin that would be refused: {}", stdout(&out));
    assert!(
        stdout(&out)
            .contains("status:       refused: plugin `local` 0.1.0 asks for HTTP access to http://127.0.0.1:11434")
    );

    let out = orch(dir.path(), &["plugin", "inspect", "nothing"]);
    assert_eq!(out.status.code(), Some(2), "an unknown name is a usage error: {}", stderr(&out));
    assert!(stderr(&out).contains("no plugin `nothing` is configured (configured in orch.toml: anthropic, diff-limits, gemini, local, openai, router-rules, secrets)"), "{}", stderr(&out));
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
fn a_plugin_of_the_wrong_kind_in_a_slot_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tasks.yaml"), TASK).unwrap();
    common::init_repo(dir.path());
    let refused = |config: &str, expected: &str| {
        std::fs::write(dir.path().join("orch.toml"), config).unwrap();
        let out = orch(dir.path(), &["run", "tasks.yaml"]);
        assert_eq!(out.status.code(), Some(2), "{config}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{config}: {}", stderr(&out));
        assert!(!dir.path().join(".orch").exists(), "nothing was written: {config}");
    };
    refused(
        "[pipeline]\nrouter = \"secrets\"\n",
        "error: invalid config orch.toml: `secrets` is a gate plugin; [pipeline] router needs a router; \
         configured routers: router-rules\n",
    );
    refused("[pipeline]\nrouter = \"mine\"\n", "[pipeline] router = \"mine\" names no configured plugin");
    refused(
        "[gates]\nmedium = [\"openai\"]\n",
        "`openai` is a provider plugin; [gates] medium needs gates; configured gates: diff-limits, secrets",
    );
    refused("[plugins.mine]\nbuiltin = \"router\"\n", "[plugins.mine]: builtin = \"router\" is not a builtin plugin");

    // A provider is named by the router at run time: the call fails, saying what the name is.
    let every_model = "{ provider = \"diff-limits\", model = \"m\" }";
    let config = format!(
        "[plugins.router-rules.config.models]\nstrong = {every_model}\nmid = {every_model}\ncheap = {every_model}\n\
         [retry]\nstrategy = \"immediate\"\n"
    );
    std::fs::write(dir.path().join("orch.toml"), config).unwrap();
    let out = orch(dir.path(), &["run", "tasks.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = orch(dir.path(), &["task", "greet"]);
    assert!(
        stdout(&out).contains(
            "`diff-limits` is a gate plugin; the router's decision needs a provider; \
             configured providers: anthropic, gemini, openai"
        ),
        "{}",
        stdout(&out)
    );
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

/// The kinds a plugin project can be created for.
const KINDS: [&str; 3] = ["router", "provider", "gate"];

/// Builds a scaffolded Rust project for wasm32-wasip2 and returns its
/// component, copied to where the project's README says it lands.
fn build_rust(project: &Path, name: &str, _kind: &str) -> PathBuf {
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
    let file = format!("{}.wasm", name.replace('-', "_"));
    let release = project.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::copy(target.join("wasm32-wasip2/release").join(&file), release.join(&file)).unwrap();
    release.join(file)
}

/// Builds a scaffolded Python project with componentize-py, as its README says.
fn build_python(project: &Path, name: &str, kind: &str) -> PathBuf {
    let world = format!("{kind}-plugin");
    let wasm = format!("{name}.wasm");
    let build = Command::new("componentize-py")
        .current_dir(project)
        .args(["-d", "wit", "-w", &world, "componentize", "app", "-o", &wasm])
        .output()
        .expect("componentize-py runs (tools/test installs it)");
    assert!(build.status.success(), "{name}: {}", String::from_utf8_lossy(&build.stderr));
    project.join(wasm)
}

/// Builds a scaffolded JavaScript project with componentize-js (`npm run
/// build` runs the same `node build.mjs`).
fn build_js(project: &Path, name: &str, _kind: &str) -> PathBuf {
    // The example gate's installed componentize-js serves (tools/test installs it there).
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/js-package-json/node_modules");
    let link = project.join("node_modules");
    std::os::unix::fs::symlink(&modules, &link).unwrap();
    let wasm = format!("{name}.wasm");
    let build = Command::new("node").current_dir(project).args(["build.mjs", &wasm]).output().unwrap();
    std::fs::remove_file(&link).unwrap();
    assert!(build.status.success(), "{name}: {}", String::from_utf8_lossy(&build.stderr));
    project.join(wasm)
}

/// The `orch.toml` lines a scaffolded project's README gives to load it.
fn readme_load_lines(project: &Path) -> String {
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    let start = readme.find("```toml\n").expect("the README says how to load the plugin") + 8;
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_owned()
}

/// A scaffold is complete: the contract it was built against is in it, and
/// no file holds a placeholder or a link without a page.
fn assert_complete(project: &Path) {
    let wit = std::fs::read_to_string(project.join("wit/orch-plugin.wit")).expect("the contract is copied");
    let contract = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/0.2.0/orch-plugin.wit");
    assert_eq!(wit, std::fs::read_to_string(contract).unwrap(), "{}", project.display());
    let mut files = vec![project.to_owned()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for placeholder in ["{{", "example.com", "path/to/", "TODO:", "FIXME:", "XXX", "your-", "<your"] {
            assert!(!text.contains(placeholder), "{} holds `{placeholder}`", path.display());
        }
        if path.extension().is_some_and(|e| e == "md") {
            for (at, _) in text.match_indices("](") {
                let url = text[at + 2..].split(')').next().unwrap_or_default();
                let page = url.strip_prefix("https://").and_then(|rest| rest.split_once('/')).map(|(_, page)| page);
                assert!(page.is_some_and(|p| !p.is_empty()), "{}: the link {url} names no page", path.display());
            }
        }
    }
}

/// A task the scaffolded plugins run end to end: high risk, so every role
/// goes to the router's strong model, and the reviewers to the other one.
const TASK: &str = "tasks:\n  - id: greet\n    goal: Add a greet function\n    risk: high\n    area: core\n";

/// Creates a plugin of every kind in `lang`, builds each with `build`,
/// inspects it, loads all three with the lines their READMEs give, and runs
/// a task through them (the router routing, the provider calling the mock
/// LLM server with its key injected, the gate judging).
fn scaffold_build_and_run_every_kind(lang: &str, prefix: &str, build: fn(&Path, &str, &str) -> PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::new();
    for kind in KINDS {
        let name = format!("{prefix}-{kind}");
        let out = orch(dir.path(), &["plugin", "new", &name, "--kind", kind, "--lang", lang]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains(&format!("created {kind} plugin `{name}`")), "{}", stdout(&out));
        if lang == "python" {
            let command = format!("componentize-py -d wit -w {kind}-plugin componentize app -o {name}.wasm");
            assert!(stdout(&out).contains(&command), "{}", stdout(&out));
        }
        let project = dir.path().join(&name);
        assert_complete(&project);
        let wasm = build(&project, &name, kind);

        let out = orch(dir.path(), &["plugin", "inspect", wasm.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let info = json(&out);
        assert_eq!((info["name"].as_str(), info["kind"].as_str()), (Some(name.as_str()), Some(kind)));
        assert_eq!(info["api_version"], "0.2.0");
        config.push_str(&readme_load_lines(&project));
        config.push('\n');
    }

    // The READMEs' lines load all three.
    std::fs::write(dir.path().join("orch.toml"), &config).unwrap();
    let out = orch(dir.path(), &["plugin", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let list = json(&out);
    let loaded = |name: &str| list.as_array().unwrap().iter().any(|p| p["name"] == name && p["status"] == "loaded");
    for kind in KINDS {
        assert!(loaded(&format!("{prefix}-{kind}")), "{list:#}");
    }
    let provider = format!("{prefix}-provider");
    let row = list.as_array().unwrap().iter().find(|p| p["name"] == provider.as_str()).unwrap();
    assert_eq!(row["requested"]["http"][0], "https://api.openai.com");
    // Inspected by its configured name: with the grants the README's lines give it.
    let info = json(&orch(dir.path(), &["plugin", "inspect", &provider, "--json"]));
    let key = format!("{}_API_KEY", provider.replace('-', "_").to_uppercase());
    assert_eq!((info["kind"].as_str(), info["configured"]["status"].as_str()), (Some("provider"), Some("loaded")));
    assert_eq!(info["configured"]["grants"]["secrets"], serde_json::json!([key]));
    let out = orch(dir.path(), &["plugin", "inspect", &format!("{prefix}-router")]);
    assert!(stdout(&out).contains("status:       loads with these grants"), "{}", stdout(&out));

    // A task through them, against the mock LLM server.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime.block_on(MockLlm::builder().responder(orch_mock_llm::pipeline).start()).unwrap();
    let config = config
        .replace("\"https://api.openai.com/v1\"", &format!("{:?}", mock.base_url(Vendor::OpenAi)))
        .replace("\"https://api.openai.com\"", &format!("{:?}", mock.origin()))
        .replace("\"anthropic/claude-sonnet-5-5\"", &format!("\"{provider}/gpt-4o\""))
        .replace("\"gemini/gemini-3.5-flash-lite\"", &format!("\"{provider}/gpt-4o-mini\""));
    std::fs::write(dir.path().join("orch.toml"), config).unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(repo.join("tasks.yaml"), TASK).unwrap();
    common::init_repo(&repo);
    let run = |args: &[&str]| {
        let mut all = vec!["--config", "../orch.toml"];
        all.extend_from_slice(args);
        orch_with(&repo, &all, &[(key.as_str(), "sk-scaffold-test")])
    };
    let out = run(&["run", "tasks.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let out = run(&["task", "greet"]);
    let text = stdout(&out);
    assert!(text.contains("DONE"), "{text}");
    assert!(
        text.contains(&format!("{provider}/gpt-4o")) && text.contains("high-risk task: the strong model"),
        "{text}"
    );
    let requests = mock.requests();
    assert!(requests.len() >= 4, "{} requests", requests.len());
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer sk-scaffold-test"), "the host injected the key");
    }
}

#[test]
fn scaffolded_plugins_of_every_kind_build_inspect_and_load() {
    scaffold_build_and_run_every_kind("rust", "my", build_rust);

    // Without the grant of its key, the provider is refused with the line to add.
    let dir = tempfile::tempdir().unwrap();
    let out = orch(dir.path(), &["plugin", "new", "keyed", "--kind", "provider"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let wasm = build_rust(&dir.path().join("keyed"), "keyed", "provider");
    let config = format!(
        "[plugins.keyed]\npath = {:?}\n[plugins.keyed.grants]\nhttp = [\"https://api.openai.com\"]\n",
        wasm.display().to_string()
    );
    std::fs::write(dir.path().join("orch.toml"), config).unwrap();
    let out = orch(dir.path(), &["plugin", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("asks for the secret KEYED_API_KEY, which is not granted"), "{}", stdout(&out));
}

#[test]
fn scaffolded_python_plugins_of_every_kind_build_with_componentize_py_and_run() {
    scaffold_build_and_run_every_kind("python", "py", build_python);
}

#[test]
fn scaffolded_javascript_plugins_of_every_kind_build_with_componentize_js_and_run() {
    scaffold_build_and_run_every_kind("js", "js", build_js);
}
