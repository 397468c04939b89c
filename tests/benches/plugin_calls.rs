//! What a plugin costs: compiling the router component cold, loading it
//! from the on-disk cache, instantiating from `InstancePre`, a complete
//! `route` call on a fresh instance and a call on a warm one — next to the
//! same decision made by the plain Rust function inside the plugin. Then
//! what the kernel's confinement adds to a command a gate runs: the same
//! gate call running `true`, a Python one-liner and a small pytest suite,
//! confined (Landlock, seccomp, cgroup, through the helper) and unconfined.
//!
//! Run with `RUST_BACKTRACE=0 cargo bench -p orch-tests` (a set
//! `RUST_BACKTRACE` makes wasmtime capture host backtraces on every error).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use orch_host::config::LoadedConfig;
use orch_host::confine::Confinement;
use orch_host::sandbox::{
    CommandGrant, ComponentCache, Grants, PluginSource, PluginSpec, Risk, Role, RouteRequest, Runtime, Task, builtin,
};
use orch_router_rules::{ModelAliases, RuleTable, default_table};
use wasmtime::component::Component;

fn route_request() -> RouteRequest {
    RouteRequest {
        role: Role::CodeReviewer,
        task: Task {
            id: "bench".into(),
            goal: "Add retry jitter".into(),
            risk: Risk::High,
            area: "core".into(),
            labels: vec!["reliability".into()],
        },
        attempt: 1,
        step_kind: Some("implementation".into()),
        step_complexity: Some("medium".into()),
        author_model: Some("gemini-3.6-flash".into()),
        catalog: Vec::new(),
        history: Vec::new(),
    }
}

fn router_spec() -> PluginSpec {
    LoadedConfig::from_text(None, None)
        .expect("defaults parse")
        .plugin_specs()
        .expect("default specs")
        .into_iter()
        .find(|s| s.name == "router-rules")
        .expect("router-rules is configured")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let cache_dir = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::builder().cache_dir(cache_dir.path()).build().expect("runtime");
    let bytes = builtin::get("router-rules").expect("router-rules is embedded");
    let sha = ComponentCache::content_hash(bytes);
    let engine = runtime.engine().clone();

    let mut group = c.benchmark_group("router-rules");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("cold compile", |b| {
        b.iter(|| Component::new(&engine, bytes).expect("compiles"));
    });
    group.finish();

    // Fill the cache once, then measure loads from it.
    runtime.cache().load(&engine, bytes, &sha).expect("cache fill");
    let mut group = c.benchmark_group("router-rules");
    group.bench_function("load from disk cache", |b| {
        b.iter(|| runtime.cache().load(&engine, bytes, &sha).expect("cached load"));
    });

    let plugin = rt.block_on(runtime.load(router_spec())).expect("router-rules loads");
    let request = route_request();
    let expected = rt.block_on(plugin.route(&request)).expect("route works").model;
    assert_eq!(expected, "claude-sonnet-5-5");

    group.bench_function("instantiate from InstancePre", |b| {
        b.to_async(&rt).iter(|| async { plugin.instantiate().await.expect("instantiates") });
    });
    group.bench_function("route on a fresh instance", |b| {
        b.to_async(&rt).iter(|| async { plugin.route(&request).await.expect("routes") });
    });
    let mut warm = rt.block_on(plugin.instantiate()).expect("instance");
    group.bench_function("route on a warm instance", |b| {
        b.iter(|| rt.block_on(warm.route(&request)).expect("routes"));
    });

    let models_json = router_spec().config["models"].clone();
    let models: ModelAliases<'_> = serde_json::from_str(&models_json).expect("models");
    let table = RuleTable::new(models.clone(), default_table::RULES).expect("table");
    let native = orch_tests::to_sdk_request(route_request());
    assert_eq!(table.route(&native).expect("decides").model, expected);
    group.bench_function("plain Rust: decide with a built table", |b| {
        b.iter(|| table.route(&native).expect("decides"));
    });
    group.bench_function("plain Rust: parse config, build table, decide", |b| {
        b.iter(|| {
            let models: ModelAliases<'_> = serde_json::from_str(&models_json).expect("models");
            RuleTable::with_names(models, default_table::RULES, default_table::ALIASES)
                .expect("table")
                .route(&native)
                .expect("decides")
        });
    });

    // How long a runaway plugin keeps a call busy past a 100 ms deadline.
    let probe = PluginSpec {
        timeout: Some(Duration::from_millis(100)),
        ..PluginSpec::new("probe", PluginSource::File(orch_tests::plugins::ORCH_TEST_PROBE.into()))
    };
    let probe = rt.block_on(runtime.load(PluginSpec { grants: Grants::default(), ..probe })).expect("probe loads");
    let mut ok = route_request();
    ok.task.goal = "ok".into();
    group.bench_function("trivial plugin: route on a fresh instance", |b| {
        b.to_async(&rt).iter(|| async { probe.route(&ok).await.expect("routes") });
    });
    let mut warm_probe = rt.block_on(probe.instantiate()).expect("instance");
    group.bench_function("trivial plugin: route on a warm instance", |b| {
        b.iter(|| rt.block_on(warm_probe.route(&ok)).expect("routes"));
    });
    let mut looping = route_request();
    looping.task.goal = "loop".into();
    group.sample_size(10);
    group.bench_function("infinite loop stopped (100 ms deadline)", |b| {
        b.to_async(&rt).iter(|| async { probe.route(&looping).await.expect_err("stopped") });
    });
    group.finish();
}

/// The scripts the command benchmark runs, each through `sh -c`.
const SCRIPTS: [(&str, &str); 3] = [
    ("true", "true"),
    ("python3 -c 'import json'", "python3 -c 'import json'"),
    ("pytest, 3 tests", "python3 -m pytest -q -p no:cacheprovider test_bench.py"),
];

fn commands(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let cache_dir = tempfile::tempdir().expect("temp dir");
    let worktree = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        worktree.path().join("test_bench.py"),
        "def test_a():\n    assert 1 + 1 == 2\n\ndef test_b():\n    assert 'a' in 'abc'\n\ndef test_c():\n    assert sorted([3, 1]) == [1, 3]\n",
    )
    .expect("test file");
    let request = |script: &str| orch_tests::check_request(&format!("sh {script}"), worktree.path());
    let python = std::process::Command::new("sh").args(["-c", "command -v python3"]).output().expect("sh runs");
    let python_toolchain =
        orch_host::confine::toolchain_of(std::path::Path::new(String::from_utf8_lossy(&python.stdout).trim()));
    let helper = Confinement::Enforce { helper: env!("CARGO_BIN_EXE_orch-sandbox-exec").into(), cgroups: true };
    let mut group = c.benchmark_group("gate command");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for (label, confinement) in [("confined", helper), ("unconfined", Confinement::Off)] {
        let runtime = Runtime::builder().cache_dir(cache_dir.path()).confinement(confinement).build().expect("runtime");
        let mut commands: Vec<CommandGrant> = SCRIPTS
            .iter()
            .map(|(_, s)| CommandGrant {
                // `sh` finds python3 on PATH: its toolchain (a pyenv root, say) is granted as a user would.
                read: python_toolchain.clone(),
                ..CommandGrant::new("sh", vec!["-c".into(), (*s).into()])
            })
            .collect();
        // The probe declares it may run `cat`.
        commands.push(CommandGrant::new("cat", vec!["*".into()]));
        let spec = PluginSpec {
            grants: Grants { commands, ..Grants::default() },
            timeout: Some(Duration::from_secs(60)),
            ..PluginSpec::new("gate-probe", PluginSource::File(orch_tests::plugins::ORCH_TEST_GATE_PROBE.into()))
        };
        let gate = rt.block_on(runtime.load(spec)).expect("the gate probe loads");
        for (name, script) in SCRIPTS {
            let request = request(script);
            let summary = rt.block_on(gate.check(&request)).expect("the gate runs").summary;
            assert!(summary.starts_with("exit Some(0)"), "{name} ({label}): {summary}");
            group.bench_function(format!("{name}, {label}"), |b| {
                b.to_async(&rt).iter(|| async { gate.check(&request).await.expect("the gate runs") });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench, commands);
criterion_main!(benches);
