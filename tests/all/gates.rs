//! A gate call sees the workspace it judges, read-only and for that call
//! only, and may run allowlisted commands there — nothing else.

use std::time::Duration;

use orch_host::sandbox::{
    AuditEvent, Capability, CommandGrant, Grants, LoadedPlugin, PluginError, PluginSource, PluginSpec,
};
use orch_tests::plugins::ORCH_TEST_GATE_PROBE;

use orch_tests::check_request;

async fn gate_probe(runtime: &orch_host::sandbox::Runtime) -> LoadedPlugin {
    let grants = Grants { commands: vec![CommandGrant::new("cat", vec!["*".into()])], ..Grants::default() };
    let spec = PluginSpec {
        grants,
        timeout: Some(Duration::from_secs(10)),
        ..PluginSpec::new("gate-probe", PluginSource::File(ORCH_TEST_GATE_PROBE.into()))
    };
    runtime.load(spec).await.expect("the gate probe loads")
}

#[tokio::test]
async fn a_gate_reads_and_runs_commands_in_its_workspace_but_cannot_write_there() {
    let (runtime, audit) = super::runtime();
    let plugin = gate_probe(&runtime).await;
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("worktree");
    std::fs::create_dir(&workspace).unwrap();
    std::fs::write(workspace.join("hello.txt"), "hi there\n").unwrap();

    let read = plugin.check(&check_request("read hello.txt", &workspace)).await.unwrap();
    assert_eq!((read.passed, read.summary.as_str()), (true, "read: hi there"));
    let ran = plugin.check(&check_request("exec cat hello.txt", &workspace)).await.unwrap();
    assert_eq!((ran.passed, ran.summary.as_str()), (true, "exit Some(0): hi there"), "runs in the workspace");

    let write = plugin.check(&check_request("write planted.txt", &workspace)).await.unwrap();
    assert!(!write.passed && write.summary.starts_with("write failed"), "{}", write.summary);
    assert!(!workspace.join("planted.txt").exists(), "read-only");

    let elsewhere = dir.path().join("other");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("secret.txt"), "not yours").unwrap();
    let outside = plugin.check(&check_request("read ../other/secret.txt", &workspace)).await.unwrap();
    assert!(!outside.passed, "only the workspace is mounted: {}", outside.summary);
    let goal = format!("exec cwd={} cat secret.txt", elsewhere.display());
    let denied = plugin.check(&check_request(&goal, &workspace)).await.unwrap_err();
    assert!(denied.to_string().contains("outside the granted read paths and the task's workspace"), "{denied}");

    // A link in the workspace does not lead a command out of it.
    std::os::unix::fs::symlink("../other", workspace.join("dirlink")).unwrap();
    let goal = format!("exec cwd={} cat secret.txt", workspace.join("dirlink").display());
    let through_link = plugin.check(&check_request(&goal, &workspace)).await.unwrap_err();
    assert!(through_link.to_string().contains("outside the granted read paths"), "{through_link}");

    let not_allowed = plugin.check(&check_request("exec ls", &workspace)).await.unwrap_err();
    assert!(
        matches!(&not_allowed, orch_host::sandbox::SandboxError::Plugin { error: PluginError::Denied(_), .. }),
        "{not_allowed:?}"
    );
    let denials =
        audit.events().iter().filter(|e| matches!(e, AuditEvent::Denied { capability: Capability::Exec, .. })).count();
    assert_eq!(denials, 3, "every refusal is audited");
}

#[tokio::test]
async fn a_refused_command_shows_in_the_run_log() {
    use std::sync::Arc;

    use orch_host::runlog::{RunLog, RunLogAudit};
    use orch_host::sandbox::{AuditSink, Runtime};

    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(RunLogAudit::default());
    let runtime = Runtime::builder()
        .cache_dir(super::cache_dir())
        .audit(Arc::clone(&audit) as Arc<dyn AuditSink>)
        .build()
        .unwrap();
    let plugin = gate_probe(&runtime).await;
    let log_path = dir.path().join("ORCHESTRATOR_RUN_LOG.md");
    audit.attach(Arc::new(RunLog::open(&log_path, "## Run 1\n").unwrap()));
    let denied = plugin.check(&check_request("exec ls -la", dir.path())).await.unwrap_err();
    assert!(denied.to_string().contains("ls"), "{denied}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let line = log.lines().find(|l| l.contains("**sandbox**")).unwrap_or_else(|| panic!("no denial in:\n{log}"));
    assert!(line.contains("⛔") && line.contains("gate-probe") && line.contains("denied a command"), "{line}");
    assert!(line.contains("ls"), "{line}");
}
