//! A gate written against `orch:plugin@0.1.0` with wit-bindgen alone (no
//! SDK): it fails a change whose diff adds a line holding the word in config
//! key `forbidden`, with a finding at that line.

// The generated export glue is unsafe code by nature; there is no SDK here to hide it.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit/0.1.0", world: "gate-plugin" });

use exports::orch::plugin::gate::{CheckRequest, CheckResult, Finding, Guest, Severity};
use orch::plugin::host;
use orch::plugin::types::{Capabilities, PluginError, PluginInfo, PluginKind};

struct Legacy;

impl Guest for Legacy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "legacy-gate".into(),
            version: "0.1.0".into(),
            kind: PluginKind::Gate,
            description: "refuses a forbidden word in added lines".into(),
            capabilities: Capabilities { http: vec![], secrets: vec![], read_paths: vec![], commands: vec![] },
        }
    }

    fn check(request: CheckRequest) -> Result<CheckResult, PluginError> {
        let word = host::config("forbidden").unwrap_or_else(|| "FORBIDDEN".into());
        let findings: Vec<Finding> = request
            .diff
            .lines()
            .enumerate()
            .filter(|(_, line)| line.starts_with('+') && line.contains(word.as_str()))
            .map(|(i, _)| Finding {
                severity: Severity::Error,
                file: request.changed_files.first().cloned(),
                line: Some(i as u32 + 1),
                message: format!("adds `{word}`"),
            })
            .collect();
        Ok(CheckResult {
            passed: findings.is_empty(),
            summary: format!(
                "{} finding(s) in {} file(s), {}",
                findings.len(),
                request.changed_files.len(),
                request.change_size
            ),
            findings,
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(Legacy);
