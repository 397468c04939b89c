//! `[gates]` in `orch.toml`: which gate plugins judge a change — some for
//! every change, the rest by the change's size (the plan's largest step),
//! high-risk tasks at least the medium set — and whether a warning keeps a
//! task from DONE. The default is the original system's policy: trivial:
//! lint; small: quick tests and lint; medium and large: tests, types and
//! lint; secrets and diff limits always.

use serde::Deserialize;

use super::plan::Complexity;
use crate::tasks::Risk;

/// `[gates]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    /// Gate plugins for every change, first.
    #[serde(default)]
    pub always: Vec<String>,
    /// For a trivial change.
    #[serde(default)]
    pub trivial: Vec<String>,
    /// For a small change.
    #[serde(default)]
    pub small: Vec<String>,
    /// For a medium change, and for any change of a high-risk task.
    #[serde(default)]
    pub medium: Vec<String>,
    /// For a large change.
    #[serde(default)]
    pub large: Vec<String>,
    /// A task is DONE only when it can merge: every gate passed with no
    /// warning. `false`: passing is enough.
    #[serde(default = "yes")]
    pub require_clean: bool,
}

fn yes() -> bool {
    true
}

/// No gates; DONE needs a clean pass.
impl Default for GatePolicy {
    fn default() -> Self {
        Self {
            always: Vec::new(),
            trivial: Vec::new(),
            small: Vec::new(),
            medium: Vec::new(),
            large: Vec::new(),
            require_clean: true,
        }
    }
}

impl GatePolicy {
    /// The gates for a change of `size` in a task of `risk`, in order, each once.
    pub fn for_change(&self, size: Complexity, risk: Risk) -> Vec<String> {
        let size = if risk == Risk::High { size.max(Complexity::Medium) } else { size };
        let by_size = match size {
            Complexity::Trivial => &self.trivial,
            Complexity::Small => &self.small,
            Complexity::Medium => &self.medium,
            Complexity::Large => &self.large,
        };
        let mut gates: Vec<String> = Vec::new();
        for gate in self.always.iter().chain(by_size) {
            if !gates.contains(gate) {
                gates.push(gate.clone());
            }
        }
        gates
    }

    /// Every gate the policy names, each once.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for gate in [&self.always, &self.trivial, &self.small, &self.medium, &self.large].into_iter().flatten() {
            if !names.contains(gate) {
                names.push(gate.clone());
            }
        }
        names
    }

    /// Each list with its key in `[gates]`.
    pub fn lists(&self) -> [(&'static str, &[String]); 5] {
        [
            ("always", &self.always),
            ("trivial", &self.trivial),
            ("small", &self.small),
            ("medium", &self.medium),
            ("large", &self.large),
        ]
    }

    /// The policy without the gates `keep` rejects (e.g. ones no plugin is
    /// configured for).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        for list in [&mut self.always, &mut self.trivial, &mut self.small, &mut self.medium, &mut self.large] {
            list.retain(|gate| keep(gate));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> GatePolicy {
        GatePolicy {
            always: vec!["secrets".into(), "diff-limits".into()],
            trivial: vec!["lint".into()],
            small: vec!["tests-quick".into(), "lint".into()],
            medium: vec!["tests".into(), "types".into(), "lint".into()],
            large: vec!["tests".into(), "types".into(), "lint".into(), "secrets".into()],
            require_clean: true,
        }
    }

    #[test]
    fn size_and_risk_choose_the_gates() {
        let p = policy();
        assert_eq!(p.for_change(Complexity::Trivial, Risk::Low), ["secrets", "diff-limits", "lint"]);
        assert_eq!(p.for_change(Complexity::Small, Risk::Medium), ["secrets", "diff-limits", "tests-quick", "lint"]);
        assert_eq!(p.for_change(Complexity::Trivial, Risk::High), ["secrets", "diff-limits", "tests", "types", "lint"]);
        assert_eq!(
            p.for_change(Complexity::Large, Risk::Low),
            ["secrets", "diff-limits", "tests", "types", "lint"],
            "each gate once"
        );
        assert_eq!(p.names(), ["secrets", "diff-limits", "lint", "tests-quick", "tests", "types"]);
    }

    #[test]
    fn unconfigured_gates_can_be_dropped() {
        let mut p = policy();
        p.retain(|gate| gate != "types" && gate != "tests-quick");
        assert_eq!(p.for_change(Complexity::Medium, Risk::Low), ["secrets", "diff-limits", "tests", "lint"]);
        assert_eq!(p.for_change(Complexity::Small, Risk::Low), ["secrets", "diff-limits", "lint"]);
    }
}
