//! Support for the integration tests and benchmarks: the paths of the test
//! plugins built from source, a loopback HTTP server that records what
//! reaches it, a gate request, and host requests in the SDK's types for
//! plain-Rust calls.

use std::path::Path;

use orch_host::sandbox::{CheckRequest, Risk, Role, RouteRequest, Task};

pub mod server;

/// Components built from `tests/plugins/*` by this crate's build script.
pub mod plugins {
    include!(concat!(env!("OUT_DIR"), "/test_plugins.rs"));
}

/// The same request in the SDK's types, as the plugin sees it.
pub fn to_sdk_request(host: RouteRequest) -> orch_sdk::router::RouteRequest {
    use orch_sdk::{Risk as R, Role as P};
    orch_sdk::router::RouteRequest {
        role: match host.role {
            Role::Planner => P::Planner,
            Role::PlanReviewer => P::PlanReviewer,
            Role::Implementer => P::Implementer,
            Role::CodeReviewer => P::CodeReviewer,
        },
        task: orch_sdk::Task {
            id: host.task.id,
            goal: host.task.goal,
            risk: match host.task.risk {
                Risk::Low => R::Low,
                Risk::Medium => R::Medium,
                Risk::High => R::High,
            },
            area: host.task.area,
            labels: host.task.labels,
        },
        attempt: host.attempt,
        step_kind: host.step_kind,
        step_complexity: host.step_complexity,
        author_model: host.author_model,
        catalog: host
            .catalog
            .into_iter()
            .map(|m| orch_sdk::router::CatalogModel {
                provider: m.provider,
                model: m.model,
                input_usd_per_mtok: m.input_usd_per_mtok,
                output_usd_per_mtok: m.output_usd_per_mtok,
                context_window: m.context_window,
                tags: m.tags,
            })
            .collect(),
        history: host
            .history
            .into_iter()
            .map(|h| orch_sdk::router::ModelHistory {
                provider: h.provider,
                model: h.model,
                rounds: h.rounds,
                success_rate: h.success_rate,
                mean_rounds: h.mean_rounds,
                mean_cost_usd: h.mean_cost_usd,
                mean_latency_ms: h.mean_latency_ms,
            })
            .collect(),
    }
}

/// A gate's request to judge `workspace`, with `goal` as the task's goal (the
/// gate probe's command) and an empty change.
pub fn check_request(goal: &str, workspace: &Path) -> CheckRequest {
    CheckRequest {
        task: Task { id: "t".into(), goal: goal.into(), risk: Risk::Low, area: "core".into(), labels: Vec::new() },
        workspace: workspace.display().to_string(),
        changed_files: Vec::new(),
        diff: String::new(),
        change_size: "small".into(),
    }
}
