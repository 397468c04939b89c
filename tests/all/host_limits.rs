//! The host's own limits: command timeouts and output caps, HTTP timeouts,
//! response caps and redirects that are never followed, component files,
//! and a memory cap that holds for all of an instance's memories together.

use orch_host::sandbox::engine::MAX_MEMORIES_PER_COMPONENT;
use orch_host::sandbox::{CommandGrant, Grants, OutputCaps, PluginError, PluginSource, PluginSpec};
use orch_tests::server::TestServer;

use super::{probe, probe_command, runtime, runtime_with_caps};

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
    use orch_host::sandbox::{MAX_COMPONENT_BYTES, Runtime};
    let (runtime, _) = runtime();
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

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_cap_holds_for_all_memories_of_an_instance_together() {
    let probe_bytes = std::fs::read(orch_tests::plugins::ORCH_TEST_PROBE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (runtime, _) = runtime();
    let load = |extra: u32, pages: u32| {
        let path = dir.path().join(format!("probe-{extra}x{pages}.wasm"));
        std::fs::write(&path, with_extra_memories(&probe_bytes, extra, pages)).unwrap();
        runtime.load(PluginSpec { source: PluginSource::File(path), ..probe(Grants::default()) })
    };

    // The rewritten component is sound: two more small memories load and serve.
    let small = load(2, 1).await.expect("a few small extra memories are within the cap");
    assert_eq!(small.route(&probe_command("ok")).await.unwrap().reason, "ok");

    // Seven more memories of 16 MiB: each is under the 64 MiB cap, together
    // 112 MiB.
    let err = load(7, 256).await.map(drop).unwrap_err().to_string();
    assert_eq!(err, "plugin `probe` exceeded its memory limit of 64 MiB and was stopped");

    // Nor can tiny memories take the engine's shared pool.
    let err = load(MAX_MEMORIES_PER_COMPONENT, 0).await.map(drop).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "contains 9 Wasm linear memories, which exceeds the configured maximum of 8 in the pooling allocator"
        ),
        "{err}"
    );
}

/// `component` with `extra` more core instances, each of a module that
/// defines one memory of `pages` 64 KiB pages: what a hostile toolchain can
/// emit (the pooling allocator refuses modules with several memories).
fn with_extra_memories(component: &[u8], extra: u32, pages: u32) -> Vec<u8> {
    let mut out = component.to_vec();
    // Core modules are numbered in the order the component defines them.
    let modules = sections(component).filter(|(id, _)| *id == 1).count();
    let mut memory = vec![1, 0x00]; // one memory; limits: a minimum, no maximum
    memory.extend(leb(pages));
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    push_section(&mut module, 5, &memory);
    push_section(&mut out, 1, &module);
    let mut instances = leb(extra);
    for _ in 0..extra {
        instances.push(0x00); // instantiate a module…
        instances.extend(leb(u32::try_from(modules).unwrap()));
        instances.push(0); // …with no arguments
    }
    push_section(&mut out, 2, &instances);
    out
}

/// The sections of a component binary: id and content.
fn sections(binary: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = &binary[8..];
    std::iter::from_fn(move || {
        let (&id, after_id) = rest.split_first()?;
        let (size, after_size) = read_leb(after_id);
        let (content, next) = after_size.split_at(size as usize);
        rest = next;
        Some((id, content))
    })
}

fn push_section(binary: &mut Vec<u8>, id: u8, content: &[u8]) {
    binary.push(id);
    binary.extend(leb(u32::try_from(content.len()).unwrap()));
    binary.extend_from_slice(content);
}

/// An unsigned LEB128 number at the start of `bytes`, and what follows it.
fn read_leb(bytes: &[u8]) -> (u32, &[u8]) {
    let mut value = 0u32;
    for (i, byte) in bytes.iter().enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (value, &bytes[i + 1..]);
        }
    }
    panic!("a LEB128 number runs past the end");
}

fn leb(mut value: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}
