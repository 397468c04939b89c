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
