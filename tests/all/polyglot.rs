//! Plugins in other languages against the same contract: the example gates
//! in `examples/plugins/` are built from source (componentize-py for Python,
//! componentize-js for JavaScript), loaded into the sandbox, and judge
//! fixture diffs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use orch_host::sandbox::{CheckRequest, CheckResult, Grants, PluginSource, PluginSpec, Risk, Task};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Runs a build command; a missing tool fails with how to install it.
fn build(mut command: Command, what: &str, install: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run the {what} build ({e}); {install}"));
    assert!(
        output.status.success(),
        "the {what} build failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The Python example gate, built into the target directory.
fn python_docstrings() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docstrings.wasm");
    let mut command = Command::new("componentize-py");
    command
        .current_dir(Path::new(ROOT).join("examples/plugins/python-docstrings"))
        .args(["-d", &format!("{ROOT}/wit/0.2.0"), "-w", "gate-plugin", "componentize", "app", "-o"])
        .arg(&out);
    build(command, "componentize-py", "run tools/test, which installs componentize-py");
    out
}

fn diff_adding(path: &str, lines: &[&str]) -> String {
    let body: String = lines.iter().map(|l| format!("+{l}\n")).collect();
    format!(
        "diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n{body}",
        lines.len()
    )
}

fn request(diff: String) -> CheckRequest {
    CheckRequest {
        task: Task { id: "t".into(), goal: "g".into(), risk: Risk::Low, area: "core".into(), labels: Vec::new() },
        workspace: String::new(),
        changed_files: Vec::new(),
        diff,
        change_size: "small".into(),
    }
}

async fn check(component: &Path, name: &str, diff: String) -> CheckResult {
    let (runtime, _) = super::runtime();
    let spec = PluginSpec {
        grants: Grants::default(),
        timeout: Some(Duration::from_secs(60)),
        ..PluginSpec::new(name, PluginSource::File(component.to_owned()))
    };
    let plugin = runtime.load(spec).await.unwrap_or_else(|e| panic!("{name} loads: {e:#}"));
    plugin.check(&request(diff)).await.unwrap_or_else(|e| panic!("{name} checks: {e:#}"))
}

#[tokio::test]
async fn the_python_gate_builds_and_judges_docstrings() {
    let component = python_docstrings();
    let documented = diff_adding(
        "geometry.py",
        &[
            "def area(r):",
            "    \"\"\"The area of a circle of radius r.\"\"\"",
            "    return 3.14159 * r * r",
            "",
            "def _helper():",
            "    return 1",
        ],
    );
    let passed = check(&component, "docstrings", documented).await;
    assert!(passed.passed && passed.findings.is_empty(), "{passed:?}");

    let undocumented = diff_adding(
        "geometry.py",
        &[
            "import math",
            "",
            "def area(r):",
            "    return math.pi * r * r",
            "",
            "async def fetch(",
            "    url,",
            "):",
            "    \"\"\"Fetches url.\"\"\"",
            "    return url",
        ],
    );
    let failed = check(&component, "docstrings", undocumented).await;
    assert!(!failed.passed, "{failed:?}");
    assert_eq!(failed.findings.len(), 1, "fetch has its docstring after a multi-line signature: {failed:?}");
    let finding = &failed.findings[0];
    assert_eq!((finding.file.as_deref(), finding.line), (Some("geometry.py"), Some(3)));
    assert!(finding.message.contains("`area` has no docstring"), "{}", finding.message);
    let other_language = diff_adding("main.rs", &["pub fn area() -> f64 { 1.0 }"]);
    assert!(check(&component, "docstrings", other_language).await.passed, "only Python files count");
}

/// The JavaScript example gate, built into the target directory.
fn js_package_json() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("package-json.wasm");
    let mut command = Command::new("node");
    command.current_dir(Path::new(ROOT).join("examples/plugins/js-package-json")).arg("build.mjs").arg(&out);
    build(command, "componentize-js", "run tools/test, which installs componentize-js with npm");
    out
}

fn package_json_diff(dependencies: &[&str]) -> String {
    let mut lines = vec!["{", "  \"name\": \"shop\",", "  \"dependencies\": {"];
    lines.extend_from_slice(dependencies);
    lines.extend_from_slice(&["  }", "}"]);
    diff_adding("web/package.json", &lines)
}

#[tokio::test]
async fn the_javascript_gate_builds_and_judges_package_json() {
    let component = js_package_json();
    let pinned = package_json_diff(&["    \"left-pad\": \"^1.3.0\""]);
    let mut locked = request(pinned.clone());
    locked.changed_files = vec!["web/package.json".into(), "web/package-lock.json".into()];
    let (runtime, _) = super::runtime();
    let spec = PluginSpec {
        timeout: Some(Duration::from_secs(60)),
        ..PluginSpec::new("package-json", PluginSource::File(component.clone()))
    };
    let plugin = runtime.load(spec).await.expect("the JS gate loads");
    let clean = plugin.check(&locked).await.unwrap();
    assert!(clean.passed && clean.findings.is_empty(), "{clean:?}");

    let unlocked = plugin.check(&request(pinned)).await.unwrap();
    assert!(unlocked.passed, "a missing lockfile change is a warning: {unlocked:?}");
    assert_eq!(unlocked.findings.len(), 1);
    assert!(unlocked.findings[0].message.contains("web/package-lock.json does not change"), "{unlocked:?}");

    let unpinned =
        package_json_diff(&["    \"left-pad\": \"*\",", "    \"tool\": \"git+https://example.com/tool.git\""]);
    let failed = plugin.check(&request(unpinned)).await.unwrap();
    assert!(!failed.passed, "{failed:?}");
    let lines: Vec<Option<u32>> = failed.findings.iter().filter(|f| f.line.is_some()).map(|f| f.line).collect();
    assert_eq!(lines, [Some(4), Some(5)], "{failed:?}");
    assert!(failed.findings[0].message.contains("\"left-pad\" is not pinned"), "{failed:?}");
}
