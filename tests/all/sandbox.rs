//! Hostile plugins against the sandbox. After every attack the same loaded
//! plugin must still serve a normal call.

use orch_host::sandbox::{
    AuditEvent, CacheOutcome, Capability, CommandGrant, Grants, LoadedPlugin, PluginError, PluginSource, PluginSpec,
    SandboxError, SecretGrants,
};
use orch_tests::plugins::{ORCH_TEST_FUTURE_API, ORCH_TEST_GREEDY};
use orch_tests::server::TestServer;

use super::{probe, probe_command, runtime};

/// The plugin still answers a normal call.
async fn still_serves(plugin: &LoadedPlugin) {
    let decision = plugin.route(&probe_command("ok")).await.expect("a normal call after the attack succeeds");
    assert_eq!(decision.reason, "ok");
}

async fn reason(plugin: &LoadedPlugin, goal: &str) -> String {
    plugin.route(&probe_command(goal)).await.unwrap_or_else(|e| panic!("`{goal}` failed: {e}")).reason
}

#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_loop_is_stopped_at_its_deadline() {
    let (runtime, _) = runtime();
    let plugin = runtime.load(probe(Grants::default())).await.unwrap();
    let err = plugin.route(&probe_command("loop")).await.unwrap_err();
    assert!(matches!(err, SandboxError::Deadline { limit_ms: 500, spinning: true, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("plugin `probe` 0.1.0") && message.contains("500 ms"), "{message}");
    let kind = orch_host::retry::CallError::from(err).kind;
    assert_eq!(kind, orch_host::retry::ErrorKind::Fatal, "a plugin that spins is not asked again");
    still_serves(&plugin).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_that_loops_while_describing_itself_is_refused_within_seconds() {
    let (runtime, _) = runtime();
    let mut spec = probe(Grants::default());
    spec.timeout = Some(std::time::Duration::from_secs(600));
    spec.config.insert("describe_loop".into(), "yes".into());
    let started = std::time::Instant::now();
    let err = runtime.load(spec).await.err().expect("refused");
    assert!(matches!(err, SandboxError::Deadline { limit_ms: 2000, .. }), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "not the world's 10 minutes");
}

#[tokio::test(flavor = "multi_thread")]
async fn allocating_a_gibibyte_under_a_64_mib_cap_fails_cleanly() {
    let (runtime, _) = runtime();
    let plugin = runtime.load(probe(Grants::default())).await.unwrap();
    let err = plugin.route(&probe_command("alloc 1073741824")).await.unwrap_err();
    assert!(matches!(err, SandboxError::MemoryLimit { limit_mib: 64, .. }), "{err:?}");
    assert!(err.to_string().contains("memory limit of 64 MiB"), "{err}");
    // Within the cap, allocation works.
    assert_eq!(reason(&plugin, "alloc 16777216").await, "allocated 16777216 bytes");
    still_serves(&plugin).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn files_are_unreachable_unless_granted_and_granted_ones_are_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let granted = dir.path().join("granted");
    let secret_dir = dir.path().join("private");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(granted.join("notes.txt"), "hello").unwrap();
    std::fs::write(secret_dir.join("key.txt"), "do not read").unwrap();

    let (runtime, _) = runtime();
    let plugin = runtime.load(probe(Grants { read_paths: vec![granted.clone()], ..Grants::default() })).await.unwrap();

    let outside = reason(&plugin, &format!("read {}", secret_dir.join("key.txt").display())).await;
    assert!(outside.starts_with("read failed"), "{outside}");
    let climbing = reason(&plugin, &format!("read {}/../private/key.txt", granted.display())).await;
    assert!(climbing.starts_with("read failed"), "{climbing}");
    assert_eq!(reason(&plugin, "read /etc/hostname").await.split(':').next(), Some("read failed"));

    assert_eq!(reason(&plugin, &format!("read {}", granted.join("notes.txt").display())).await, "read 5 bytes");
    let write = reason(&plugin, &format!("write {}", granted.join("new.txt").display())).await;
    assert!(write.starts_with("write failed"), "{write}");
    assert!(!granted.join("new.txt").exists(), "nothing was written");
    still_serves(&plugin).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fifos_devices_and_sockets_in_a_granted_path_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let granted = dir.path().join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    let fifo = granted.join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let _socket = std::os::unix::net::UnixListener::bind(granted.join("socket")).unwrap();
    std::os::unix::fs::symlink("fifo", granted.join("to-fifo")).unwrap();
    std::fs::write(granted.join("notes.txt"), "hello").unwrap();
    let _release = ReleaseReaders(fifo.clone());

    let (runtime, audit) = runtime();
    let grants = Grants { read_paths: vec![granted.clone(), "/dev".into()], ..Grants::default() };
    let plugin = runtime.load(probe(grants)).await.unwrap();
    let read = |path: std::path::PathBuf| {
        let plugin = &plugin;
        async move { reason(plugin, &format!("read {}", path.display())).await }
    };
    for path in [fifo.clone(), granted.join("to-fifo"), granted.join("socket"), "/dev/zero".into()] {
        let answer = read(path.clone()).await;
        // Opening the FIFO for reading would wait for a writer (and the
        // call would end at its deadline, leaving a host thread stuck).
        assert!(answer.starts_with("read failed") && answer.contains("not permitted"), "{}: {answer}", path.display());
    }
    let denied: Vec<String> = audit
        .events()
        .iter()
        .filter_map(|e| match e {
            AuditEvent::Denied { capability: Capability::File, detail, .. } => Some(detail.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(denied.len(), 4, "{denied:?}");
    let refused = |name: &str, kind: &str| {
        format!("`{name}` under a granted read path is a {kind}: only directories and regular files open")
    };
    let special = "special file (a FIFO, a socket or another kind)";
    assert_eq!(denied[0], refused("fifo", special));
    assert_eq!(denied[1], refused("to-fifo", special));
    assert_eq!(denied[2], refused("socket", special));
    assert_eq!(denied[3], refused("zero", "character device"));
    // Regular files and directories still open.
    assert_eq!(read(granted.join("notes.txt")).await, "read 5 bytes");
    still_serves(&plugin).await;
    assert!(open_to_write(&fifo).is_err(), "nobody is reading the FIFO");
}

/// Opens a FIFO for writing without waiting: fails unless someone reads it.
fn open_to_write(fifo: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(fifo)
}

/// Ends any read of a FIFO that was left waiting (a writer that comes and
/// goes), so that a failing test fails instead of holding up its runtime.
struct ReleaseReaders(std::path::PathBuf);

impl Drop for ReleaseReaders {
    fn drop(&mut self) {
        drop(open_to_write(&self.0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn http_to_an_origin_not_granted_never_leaves_the_process() {
    let server = TestServer::start().await;
    let (runtime, audit) = runtime();
    // Granted: the same host on another port. Not granted: the server's port.
    let plugin =
        runtime.load(probe(Grants { http: vec!["http://127.0.0.1:1".into()], ..Grants::default() })).await.unwrap();
    let err = plugin.route(&probe_command(&format!("http {}", server.url("/steal")))).await.unwrap_err();
    let Some(PluginError::Denied(detail)) = err.plugin_error() else { panic!("expected denied, got {err:?}") };
    assert!(detail.contains(&format!("127.0.0.1:{}", server.port())), "{detail}");
    assert_eq!(server.connections(), 0, "no connection reached the server");
    assert!(
        audit.events().iter().any(|e| matches!(e, AuditEvent::Denied { capability: Capability::Http, .. })),
        "the denial is logged"
    );
    still_serves(&plugin).await;

    // The control: with the origin granted, the same call does connect.
    let granted =
        runtime.load(probe(Grants { http: vec!["http://127.0.0.1:*".into()], ..Grants::default() })).await.unwrap();
    assert_eq!(reason(&granted, &format!("http {}", server.url("/ok"))).await, "status 200 location -");
    assert_eq!(server.connections(), 1);
    assert_eq!(server.requests()[0].path, "/ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_not_granted_is_never_spawned() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let (runtime, audit) = runtime();
    let plugin = runtime
        .load(probe(Grants { commands: vec![CommandGrant::new("echo", vec!["hello*".into()])], ..Grants::default() }))
        .await
        .unwrap();

    let err = plugin.route(&probe_command(&format!("exec touch {}", marker.display()))).await.unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(PluginError::Denied(d)) if d.contains("`touch` is not allowlisted")),
        "{err}"
    );
    let err = plugin.route(&probe_command("exec echo goodbye")).await.unwrap_err();
    assert!(matches!(err.plugin_error(), Some(PluginError::Denied(d)) if d.contains("goodbye")), "{err}");
    assert!(!marker.exists(), "the command did not run");
    let denials = audit
        .events()
        .into_iter()
        .filter(|e| matches!(e, AuditEvent::Denied { capability: Capability::Exec, .. }))
        .count();
    assert_eq!(denials, 2);

    // What the plugin asked for is quoted in the denial, but never at length.
    let err = plugin.route(&probe_command(&format!("exec {}", "x".repeat(1 << 20)))).await.unwrap_err();
    let Some(PluginError::Denied(detail)) = err.plugin_error() else { panic!("{err}") };
    assert!(detail.len() <= 4096 && detail.ends_with("xxx…"), "{} bytes", detail.len());

    assert_eq!(
        reason(&plugin, "exec echo hello-world").await,
        "exit Some(0) timed_out false truncated false stdout 12 bytes: hello-world"
    );
    still_serves(&plugin).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_becomes_a_typed_error() {
    let (runtime, _) = runtime();
    let plugin = runtime.load(probe(Grants::default())).await.unwrap();
    let err = plugin.route(&probe_command("panic")).await.unwrap_err();
    let SandboxError::Panic { plugin: id, message } = &err else { panic!("expected a panic error, got {err:?}") };
    assert_eq!(id.name, "probe");
    assert_eq!(id.version.as_deref(), Some("0.1.0"));
    assert!(message.contains("the probe panicked on purpose"), "{message}");
    still_serves(&plugin).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_asking_for_ungranted_capabilities_is_refused_at_load() {
    let (runtime, _) = runtime();
    let spec = PluginSpec::new("greedy", PluginSource::File(ORCH_TEST_GREEDY.into()));
    let err = runtime.load(spec).await.err().expect("greedy must be refused");
    let message = err.to_string();
    assert!(matches!(err, SandboxError::MissingGrant { .. }), "{err:?}");
    assert!(
        message.contains("plugin `greedy` 0.1.0 asks for HTTP access to https://api.openai.com, which is not granted"),
        "{message}"
    );
    assert!(message.contains("http = [\"https://api.openai.com\"] under [plugins.greedy.grants]"), "{message}");

    // Granting part of it moves the refusal to the next missing grant.
    let spec = PluginSpec {
        grants: Grants {
            http: vec!["https://api.openai.com".into()],
            secrets: SecretGrants::unbound(&["OPENAI_API_KEY".into()]),
            ..Grants::default()
        },
        ..PluginSpec::new("greedy", PluginSource::File(ORCH_TEST_GREEDY.into()))
    };
    let message = runtime.load(spec).await.err().expect("still refused").to_string();
    assert!(message.contains("asks for running `rm -rf *`"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_for_another_contract_version_is_refused_before_instantiation() {
    let (runtime, _) = runtime();
    let spec = PluginSpec::new("future", PluginSource::File(ORCH_TEST_FUTURE_API.into()));
    let err = runtime.load(spec).await.err().expect("a 0.2.0 plugin must be refused");
    assert_eq!(err.to_string(), "plugin `future` was built for orch:plugin@0.3.0; this host supports 0.2.x and 0.1.x");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_files_and_hash_pins_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"definitely not wasm").unwrap();
    let (runtime, _) = runtime();

    let err = runtime.load(PluginSpec::new("garbage", PluginSource::File(garbage.clone()))).await.err().unwrap();
    let message = err.to_string();
    assert!(message.contains("plugin `garbage`") && message.contains("not a valid WebAssembly component"), "{message}");

    let missing = dir.path().join("missing.wasm");
    let message =
        runtime.load(PluginSpec::new("missing", PluginSource::File(missing))).await.err().unwrap().to_string();
    assert!(message.contains("missing.wasm") && message.contains("No such file"), "{message}");

    let pinned = PluginSpec { sha256: Some("00".repeat(32)), ..probe(Grants::default()) };
    let message = runtime.load(pinned).await.err().unwrap().to_string();
    assert!(message.contains("pins sha256"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_injected_secret_reaches_the_server_but_never_the_plugin() {
    let server = TestServer::start().await;
    let (runtime, audit) = runtime();
    let bound = format!("http://127.0.0.1:{}", server.port());
    let grants = Grants {
        http: vec!["http://127.0.0.1:*".into()],
        secrets: SecretGrants::bound("TEST_KEY", &[&bound]),
        ..Grants::default()
    };
    let plugin = runtime.load(probe(grants)).await.unwrap();

    let seen_by_plugin = reason(&plugin, &format!("secret TEST_KEY {}", server.url("/echo"))).await;
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("authorization"), Some("Bearer s3cr3t-value"), "the server got the real key");
    assert_eq!(requests[0].header("accept-encoding"), None, "the plugin cannot ask for a compressed answer");
    assert!(seen_by_plugin.starts_with("sent Bearer secret:TEST_KEY |"), "{seen_by_plugin}");
    assert!(
        seen_by_plugin.contains("authorization: Bearer secret:TEST_KEY"),
        "the echoed key is scrubbed from the response: {seen_by_plugin}"
    );
    assert!(seen_by_plugin.contains("| length - |"), "no content-length tells the key's length: {seen_by_plugin}");
    assert!(!seen_by_plugin.contains("s3cr3t-value"), "{seen_by_plugin}");

    // An answer encoded anyway could hide the key from the scrubber: refused.
    let gzip = plugin.route(&probe_command(&format!("secret TEST_KEY {}", server.url("/gzip-echo")))).await;
    let gzip = gzip.unwrap_err().to_string();
    assert!(gzip.contains("content-encoded") && !gzip.contains("s3cr3t-value"), "{gzip}");

    // The key is bound to that server: another local port does not get it,
    // nor does any port when the grant names only a wildcard origin.
    let other = TestServer::start().await;
    let elsewhere = plugin.route(&probe_command(&format!("secret TEST_KEY {}", other.url("/echo")))).await;
    let elsewhere = elsewhere.unwrap_err();
    assert!(
        matches!(elsewhere.plugin_error(), Some(PluginError::Denied(d)) if d.contains("not granted for")),
        "{elsewhere}"
    );
    let wildcard = Grants {
        http: vec!["http://127.0.0.1:*".into()],
        secrets: SecretGrants::unbound(&["TEST_KEY".into()]),
        ..Grants::default()
    };
    let wildcard = runtime.load(probe(wildcard)).await.unwrap();
    let refused = wildcard.route(&probe_command(&format!("secret TEST_KEY {}", server.url("/echo")))).await;
    assert!(matches!(refused.unwrap_err().plugin_error(), Some(PluginError::Denied(_))));
    assert_eq!(other.connections(), 0, "the other server never heard of the key");

    // Without the secret grant the request is refused before it is sent.
    let no_secret =
        runtime.load(probe(Grants { http: vec!["http://127.0.0.1:*".into()], ..Grants::default() })).await.unwrap();
    let err = no_secret.route(&probe_command(&format!("secret TEST_KEY {}", server.url("/echo")))).await.unwrap_err();
    assert!(matches!(err.plugin_error(), Some(PluginError::Denied(d)) if d.contains("TEST_KEY")), "{err}");
    assert!(
        audit.events().iter().any(|e| matches!(e, AuditEvent::Denied { capability: Capability::Secret, .. })),
        "the refused secret is logged"
    );

    // Granted but without a value: a fatal error that says how to set it.
    let unset = runtime
        .load(probe(Grants {
            http: vec!["http://127.0.0.1:*".into()],
            secrets: SecretGrants::bound("UNSET_KEY", &["http://127.0.0.1:*"]),
            ..Grants::default()
        }))
        .await
        .unwrap();
    let err = unset.route(&probe_command(&format!("secret UNSET_KEY {}", server.url("/echo")))).await.unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(PluginError::Fatal(m)) if m.contains("set the environment variable UNSET_KEY")),
        "{err}"
    );
    assert_eq!(server.connections(), 2, "only the echo and the encoded answer were sent for");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_runtime_loads_from_the_compiled_cache() {
    let cache = tempfile::tempdir().unwrap();
    let build = || orch_host::sandbox::Runtime::builder().cache_dir(cache.path()).build().unwrap();
    let first = build().load(probe(Grants::default())).await.unwrap();
    assert_eq!(first.cache_outcome(), CacheOutcome::Compiled);
    let second = build().load(probe(Grants::default())).await.unwrap();
    assert_eq!(second.cache_outcome(), CacheOutcome::Hit, "a new engine must not recompile");
    still_serves(&second).await;
    // Loaded code is mapped from the entry: release it before damaging the file.
    drop((first, second));

    // A corrupted entry is ignored and rewritten, not trusted.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"corrupted").unwrap();
    }
    let third = build().load(probe(Grants::default())).await.unwrap();
    assert_eq!(third.cache_outcome(), CacheOutcome::Compiled);
    still_serves(&third).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_logs_are_tagged_and_capped() {
    let (runtime, audit) = runtime();
    let plugin = runtime.load(probe(Grants::default())).await.unwrap();
    assert_eq!(reason(&plugin, "log 1500").await, "logged 1500 lines");
    let logs: Vec<String> = audit
        .events()
        .into_iter()
        .filter_map(|e| match e {
            AuditEvent::Log { plugin, message, .. } if plugin.name == "probe" => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(logs.len(), 1000, "lines beyond the per-call cap are dropped");
    assert!(logs[999].contains("log line limit reached"), "{}", logs[999]);
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_outside_the_plugins_world_are_typed_errors() {
    let (runtime, _) = runtime();
    let plugin = runtime.load(probe(Grants::default())).await.unwrap();
    let err = plugin.check(&orch_tests::check_request("ok", std::path::Path::new("/"))).await.unwrap_err();
    assert_eq!(err.to_string(), "plugin `probe` 0.1.0 is a router plugin and has no `check` function");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reason_too_long_is_refused_and_a_forged_one_becomes_one_printable_line() {
    let (runtime, _) = runtime();
    let plugin = runtime.load(probe(Grants::default())).await.unwrap();
    let err = plugin.route(&probe_command("long-reason 1000000")).await.unwrap_err().to_string();
    assert!(
        err.contains("plugin `probe`") && err.contains("returned a router reason of 1000000 bytes; the limit is 4096"),
        "{err}"
    );
    let forged = reason(&plugin, "forge").await;
    assert!(!forged.contains(['\n', '\r', '\x1b', '\u{202E}']), "{forged:?}");
    assert!(forged.starts_with("ok - `2026"), "{forged:?}");
}
