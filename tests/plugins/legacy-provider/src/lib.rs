//! A provider written against `orch:plugin@0.1.0` with wit-bindgen alone (no
//! SDK): it answers with what it was asked (the last message, the options and
//! the idempotency key the host offers 0.1 providers as config key
//! `orch.idempotency-key`), so a test sees every field cross the adapter.

// The generated export glue is unsafe code by nature; there is no SDK here to hide it.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit/0.1.0", world: "provider-plugin" });

use exports::orch::plugin::provider::{Completion, CompletionRequest, Guest, MessageRole, StopReason, Usage};
use orch::plugin::host;
use orch::plugin::types::{Capabilities, PluginError, PluginInfo, PluginKind};

struct Legacy;

impl Guest for Legacy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "legacy-provider".into(),
            version: "0.1.0".into(),
            kind: PluginKind::Provider,
            description: "echoes the request".into(),
            capabilities: Capabilities { http: vec![], secrets: vec![], read_paths: vec![], commands: vec![] },
        }
    }

    fn complete(request: CompletionRequest) -> Result<Completion, PluginError> {
        let last = request.messages.last().ok_or_else(|| PluginError::InvalidInput("no messages".into()))?;
        let who = match last.role {
            MessageRole::System => "system",
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
        };
        let key = host::config("orch.idempotency-key").unwrap_or_default();
        Ok(Completion {
            text: format!(
                "{who}: {} | max {:?} | json {} | key {key}",
                last.content, request.max_tokens, request.json_mode
            ),
            usage: Usage { input_tokens: 100, output_tokens: 10, cached_input_tokens: 40 },
            stop_reason: if last.content.contains("filter") { StopReason::ContentFilter } else { StopReason::EndTurn },
            model: request.model,
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(Legacy);
