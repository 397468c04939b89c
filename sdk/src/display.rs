//! `Display` for the contract's enums, spelled as the WIT spells their cases
//! (`plan-reviewer`, `code-reviewer`, `content-filter`, ...), so a plugin's
//! log lines, error messages and reasons name them the way the contract,
//! `orch.toml` and the host's output do.

use std::fmt;

use crate::gate::Severity;
use crate::provider::{MessageRole, StopReason};
use crate::{LogLevel, PluginKind, Risk, Role};

/// Implements `Display` for a generated enum from its cases' WIT names.
macro_rules! wit_names {
    ($type:ty { $($case:ident => $name:literal),+ $(,)? }) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`, so width and alignment (`{:>15}`) apply.
                f.pad(match self {
                    $(Self::$case => $name),+
                })
            }
        }
    };
}

wit_names!(Risk { Low => "low", Medium => "medium", High => "high" });
wit_names!(Role {
    Planner => "planner",
    PlanReviewer => "plan-reviewer",
    Implementer => "implementer",
    CodeReviewer => "code-reviewer",
});
wit_names!(PluginKind { Router => "router", Provider => "provider", Gate => "gate" });
wit_names!(LogLevel { Trace => "trace", Debug => "debug", Info => "info", Warn => "warn", Error => "error" });
wit_names!(Severity { Error => "error", Warning => "warning", Info => "info" });
wit_names!(MessageRole { System => "system", User => "user", Assistant => "assistant" });
wit_names!(StopReason {
    EndTurn => "end-turn",
    MaxTokens => "max-tokens",
    StopSequence => "stop-sequence",
    ContentFilter => "content-filter",
    Refusal => "refusal",
    Other => "other",
});

#[cfg(test)]
mod tests {
    use super::*;

    /// The WIT's case names of `enum name { ... }`, in order.
    fn wit_cases(name: &str) -> Vec<String> {
        let wit = include_str!("../../wit/0.2.0/orch-plugin.wit");
        let start = wit.find(&format!("enum {name} {{")).unwrap_or_else(|| panic!("no enum {name} in the WIT"));
        let body = &wit[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("//"))
            .map(|line| line.trim_end_matches(',').to_owned())
            .collect()
    }

    fn shown<T: fmt::Display>(values: &[T]) -> Vec<String> {
        values.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_case_is_shown_as_the_wit_names_it() {
        assert_eq!(shown(&[Risk::Low, Risk::Medium, Risk::High]), wit_cases("risk"));
        assert_eq!(
            shown(&[Role::Planner, Role::PlanReviewer, Role::Implementer, Role::CodeReviewer]),
            wit_cases("role")
        );
        assert_eq!(shown(&[PluginKind::Router, PluginKind::Provider, PluginKind::Gate]), wit_cases("plugin-kind"));
        assert_eq!(
            shown(&[LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error]),
            wit_cases("log-level")
        );
        assert_eq!(shown(&[Severity::Error, Severity::Warning, Severity::Info]), wit_cases("severity"));
        assert_eq!(shown(&[MessageRole::System, MessageRole::User, MessageRole::Assistant]), wit_cases("message-role"));
        assert_eq!(
            shown(&[
                StopReason::EndTurn,
                StopReason::MaxTokens,
                StopReason::StopSequence,
                StopReason::ContentFilter,
                StopReason::Refusal,
                StopReason::Other,
            ]),
            wit_cases("stop-reason")
        );
    }

    #[test]
    fn formatting_options_apply() {
        assert_eq!(format!("{:>15}|", Role::CodeReviewer), "  code-reviewer|");
        assert_eq!(format!("{}: {}", Role::PlanReviewer, StopReason::ContentFilter), "plan-reviewer: content-filter");
    }
}
