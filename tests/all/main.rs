//! Integration tests across the orch crates: the sandbox against hostile
//! plugins built from source, capability grants, secret injection, the
//! compiled-component cache, the router plugin's decisions, and the provider
//! plugins against the mock LLM server.

mod confinement;
mod costs;
mod gates;
mod host_limits;
mod legacy;
mod polyglot;
mod providers;
mod retry;
mod router;
mod sandbox;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use orch_host::confine::Confinement;
use orch_host::sandbox::{
    AuditSink, Grants, OutputCaps, PluginSource, PluginSpec, RecordingAudit, Risk, Role, RouteRequest, Runtime,
    StaticSecrets, Task,
};

/// One compiled-component cache for the whole test run, so each component
/// is compiled once.
fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

/// A runtime that records audit events and knows the secret `TEST_KEY`.
fn runtime() -> (Runtime, Arc<RecordingAudit>) {
    runtime_with_caps(OutputCaps::default())
}

/// [`runtime`] with other output size caps.
fn runtime_with_caps(caps: OutputCaps) -> (Runtime, Arc<RecordingAudit>) {
    let audit = Arc::new(RecordingAudit::default());
    let runtime = Runtime::builder()
        .cache_dir(cache_dir())
        .audit(Arc::clone(&audit) as Arc<dyn AuditSink>)
        .secrets(Arc::new(StaticSecrets(vec![("TEST_KEY".into(), "s3cr3t-value".into())])))
        .output_caps(caps)
        .confinement(confinement())
        .build()
        .expect("the runtime starts");
    (runtime, audit)
}

/// Commands confined through the test helper binary.
fn confinement() -> Confinement {
    Confinement::Enforce { helper: env!("CARGO_BIN_EXE_orch-sandbox-exec").into(), cgroups: true }
}

/// The probe plugin with `grants`, a 64 MiB cap and a 500 ms deadline.
fn probe(grants: Grants) -> PluginSpec {
    PluginSpec {
        grants,
        memory_bytes: Some(64 << 20),
        timeout: Some(Duration::from_millis(500)),
        ..PluginSpec::new("probe", PluginSource::File(orch_tests::plugins::ORCH_TEST_PROBE.into()))
    }
}

/// A route request whose task goal is `goal` (the probe's command).
fn request(role: Role, risk: Risk, area: &str, goal: &str) -> RouteRequest {
    RouteRequest {
        role,
        task: Task { id: "t1".into(), goal: goal.into(), risk, area: area.into(), labels: Vec::new() },
        attempt: 1,
        step_kind: None,
        step_complexity: None,
        author_model: None,
        catalog: Vec::new(),
        history: Vec::new(),
    }
}

fn probe_command(goal: &str) -> RouteRequest {
    request(Role::Planner, Risk::Low, "core", goal)
}
