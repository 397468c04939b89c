//! The host services' own limits: command timeouts and output caps, HTTP
//! timeouts, response caps and redirects that are never followed.

use orch_host::sandbox::{CommandGrant, Grants, OutputCaps, PluginError};
use orch_tests::server::TestServer;

use super::{probe, probe_command, runtime_with_caps};

#[tokio::test(flavor = "multi_thread")]
async fn commands_stop_at_their_timeout_and_their_output_is_capped() {
    let caps = OutputCaps { command_output_bytes: 1024, ..OutputCaps::default() };
    let (runtime, _) = runtime_with_caps(caps);
    let grant = |program: &str| CommandGrant::new(program, vec!["**".into()]);
    let plugin = runtime
        .load(probe(Grants { commands: vec![grant("sleep"), grant("seq")], ..Grants::default() }))
        .await
        .unwrap();

    let slow = plugin.route(&probe_command("exec timeout=100 sleep 5")).await.unwrap().reason;
    assert_eq!(slow, "exit None timed_out true truncated false stdout 0 bytes: ");

    let chatty = plugin.route(&probe_command("exec seq 1 100000")).await.unwrap().reason;
    assert!(chatty.starts_with("exit Some(0) timed_out false truncated true stdout 1024 bytes: 1 2 3"), "{chatty}");

    // A script that prints, then waits in a child process: on timeout the
    // whole process group is stopped and what was printed is kept.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hang.sh");
    std::fs::write(&script, "#!/bin/sh\necho started\nsleep 30\necho never\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script = script.display().to_string();
    let scripted = runtime
        .load(probe(Grants { commands: vec![CommandGrant::new(script.clone(), vec![])], ..Grants::default() }))
        .await
        .unwrap();
    let partial = scripted.route(&probe_command(&format!("exec timeout=300 {script}"))).await.unwrap().reason;
    assert_eq!(partial, "exit None timed_out true truncated false stdout 8 bytes: started");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_times_out_caps_responses_and_never_follows_redirects() {
    let server = TestServer::start().await;
    let caps = OutputCaps { http_response_bytes: 16, ..OutputCaps::default() };
    let (runtime, _) = runtime_with_caps(caps);
    let plugin =
        runtime.load(probe(Grants { http: vec!["http://127.0.0.1:*".into()], ..Grants::default() })).await.unwrap();

    let err =
        plugin.route(&probe_command(&format!("http timeout=100 {}", server.url("/slow/3000")))).await.unwrap_err();
    assert!(matches!(err.plugin_error(), Some(PluginError::Transient(m)) if m.contains("timed out")), "{err}");

    let err = plugin.route(&probe_command(&format!("http {}", server.url("/echo")))).await.unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(PluginError::Fatal(m)) if m.contains("larger than the 16-byte cap")),
        "{err}"
    );

    let redirect = plugin.route(&probe_command(&format!("http {}", server.url("/redirect")))).await.unwrap().reason;
    assert_eq!(redirect, format!("status 302 location {}", server.url("/followed")));
    assert!(server.requests().iter().all(|r| r.path != "/followed"), "the redirect was not followed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_file_is_bounded_in_size_kind_and_load_time() {
    use orch_host::sandbox::{MAX_COMPONENT_BYTES, PluginSource, PluginSpec, Runtime};
    let (runtime, _) = super::runtime();
    let dir = tempfile::tempdir().unwrap();
    let load = async |runtime: &Runtime, path: &std::path::Path| {
        runtime
            .load(PluginSpec::new("hostile", PluginSource::File(path.to_owned())))
            .await
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };

    // Huge (sparse: no disk is used), and never read.
    let huge = dir.path().join("huge.wasm");
    std::fs::File::create(&huge).unwrap().set_len(MAX_COMPONENT_BYTES + 1).unwrap();
    let err = load(&runtime, &huge).await;
    assert!(err.contains("it is 268435457 bytes; the limit is 268435456 bytes"), "{err}");

    // A FIFO would block the read forever: refused at once.
    let fifo = dir.path().join("fifo.wasm");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let err = tokio::time::timeout(std::time::Duration::from_secs(10), load(&runtime, &fifo)).await.unwrap();
    assert!(err.contains("not a regular file"), "{err}");

    // A load that outlives its deadline (a cold compile, with 1 ms) is given up.
    let cold = tempfile::tempdir().unwrap();
    let hasty =
        Runtime::builder().cache_dir(cold.path()).load_limit(std::time::Duration::from_millis(1)).build().unwrap();
    let err = load(&hasty, std::path::Path::new(orch_tests::plugins::ORCH_TEST_PROBE)).await;
    assert!(err.contains("loading took longer than 1 ms"), "{err}");
}
