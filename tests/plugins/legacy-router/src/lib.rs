//! A router written against `orch:plugin@0.1.0` with wit-bindgen alone (no
//! SDK), as a third party would have: the host must still load and call it.
//! It routes every role to the model in config key `model` and says which
//! role, task and attempt it saw.

// The generated export glue is unsafe code by nature; there is no SDK here to hide it.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit/0.1.0", world: "router-plugin" });

use exports::orch::plugin::router::{Guest, ModelChoice, RouteDecision, RouteRequest};
use orch::plugin::host;
use orch::plugin::types::{Capabilities, LogLevel, PluginError, PluginInfo, PluginKind, Role};

struct Legacy;

impl Guest for Legacy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "legacy-router".into(),
            version: "0.1.0".into(),
            kind: PluginKind::Router,
            description: "routes every role to the configured model".into(),
            capabilities: Capabilities { http: vec![], secrets: vec![], read_paths: vec![], commands: vec![] },
        }
    }

    fn route(request: RouteRequest) -> Result<RouteDecision, PluginError> {
        let model =
            host::config("model").ok_or_else(|| PluginError::InvalidInput("config key `model` is unset".into()))?;
        let role = match request.role {
            Role::Planner => "planner",
            Role::PlanReviewer => "plan-reviewer",
            Role::Implementer => "implementer",
            Role::CodeReviewer => "code-reviewer",
        };
        host::log(LogLevel::Info, &format!("routing {role} of {}", request.task.id));
        Ok(RouteDecision {
            provider: "mock".into(),
            model: model.clone(),
            reason: format!("0.1 router: {role} of {} attempt {}", request.task.id, request.attempt),
            fallbacks: vec![ModelChoice { provider: "backup".into(), model: format!("{model}-backup") }],
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(Legacy);
