//! The default rule table: the original orchestrator's routing, expressed over
//! the aliases `strong`, `mid` and `cheap` (whose model names live in config).
//! A `const`, so using it costs no allocation per call.

use crate::rules::{Risks, Roles, Rule};

/// A rule of the built-in table.
pub type StaticRule = Rule<&'static str, &'static [&'static str]>;

const fn rule(
    role: Roles,
    use_model: &'static str,
    fallbacks: &'static [&'static str],
    reason: &'static str,
) -> StaticRule {
    Rule {
        role: Some(role),
        risk: None,
        area: None,
        labels: None,
        step_kind: None,
        step_complexity: None,
        author: None,
        attempt_min: None,
        attempt_max: None,
        use_model,
        reason,
        fallbacks,
    }
}

impl StaticRule {
    const fn risk(mut self, risks: Risks) -> Self {
        self.risk = Some(risks);
        self
    }

    const fn area(mut self, areas: &'static [&'static str]) -> Self {
        self.area = Some(areas);
        self
    }

    const fn author(mut self, aliases: &'static [&'static str]) -> Self {
        self.author = Some(aliases);
        self
    }

    const fn step_kind(mut self, kinds: &'static [&'static str]) -> Self {
        self.step_kind = Some(kinds);
        self
    }

    const fn step_complexity(mut self, complexities: &'static [&'static str]) -> Self {
        self.step_complexity = Some(complexities);
        self
    }
}

const PLANNER: Roles = Roles::PLANNER;
const PLAN_REVIEWER: Roles = Roles::PLAN_REVIEWER;
const IMPLEMENTER: Roles = Roles::IMPLEMENTER;
const CODE_REVIEWER: Roles = Roles::CODE_REVIEWER;

/// Every model name [`RULES`] uses (checked by a test).
pub const ALIASES: &[&str] = &["strong", "mid", "cheap"];

/// The original system's routing, first match wins.
pub const RULES: &[StaticRule] = &[
    // Planner.
    rule(PLANNER, "strong", &["mid"], "high-risk core work needs the best reasoning")
        .risk(Risks::HIGH)
        .area(&["core", "math"]),
    rule(PLANNER, "mid", &["strong"], "high-risk API/service work: strong mid-tier planner")
        .risk(Risks::HIGH)
        .area(&["api", "services"]),
    rule(PLANNER, "mid", &["strong"], "medium risk: cost-effective planner").risk(Risks::MEDIUM),
    rule(PLANNER, "cheap", &["mid"], "low-risk docs work: cheap model is enough")
        .risk(Risks::LOW)
        .area(&["docs", "comments"]),
    rule(PLANNER, "mid", &["strong"], "default planner: balanced cost and quality"),
    // Plan reviewer: never the planner's model.
    rule(PLAN_REVIEWER, "mid", &["cheap"], "plan by the strong model: reviewed by mid").author(&["strong"]),
    rule(PLAN_REVIEWER, "strong", &["cheap"], "high-risk plan by mid: reviewed by strong")
        .author(&["mid"])
        .risk(Risks::HIGH),
    rule(PLAN_REVIEWER, "cheap", &["strong"], "plan by mid: reviewed by cheap").author(&["mid"]),
    rule(PLAN_REVIEWER, "strong", &["mid"], "plan by the cheap model: reviewed by strong").author(&["cheap"]),
    rule(PLAN_REVIEWER, "strong", &["mid", "cheap"], "plan reviewer: strongest model not used by the planner"),
    // Implementer.
    rule(IMPLEMENTER, "strong", &["mid"], "high-risk work: strongest implementer").risk(Risks::HIGH),
    rule(IMPLEMENTER, "strong", &["mid"], "large step: strongest implementer").step_complexity(&["large"]),
    rule(IMPLEMENTER, "cheap", &["mid"], "docs/comments step: cheap model is enough").step_kind(&["docs", "comments"]),
    rule(IMPLEMENTER, "cheap", &["mid"], "simple refactor step: cheap model is enough")
        .step_kind(&["refactor"])
        .step_complexity(&["trivial", "small"]),
    rule(IMPLEMENTER, "cheap", &["mid"], "low-risk test step: cheap model is enough")
        .risk(Risks::LOW)
        .step_kind(&["testing", "tests"]),
    rule(IMPLEMENTER, "mid", &["strong"], "default implementer: balanced cost and quality"),
    // Code reviewer: never the implementer's model.
    rule(CODE_REVIEWER, "mid", &["cheap"], "code by the strong model: reviewed by mid").author(&["strong"]),
    rule(CODE_REVIEWER, "strong", &["mid"], "code by the cheap model: reviewed by strong").author(&["cheap"]),
    rule(CODE_REVIEWER, "strong", &["cheap"], "high-risk code by mid: reviewed by strong")
        .author(&["mid"])
        .risk(Risks::HIGH),
    rule(CODE_REVIEWER, "cheap", &["strong"], "code by mid: reviewed by cheap").author(&["mid"]),
    rule(CODE_REVIEWER, "strong", &["mid", "cheap"], "code reviewer: strongest model not used by the implementer"),
];

#[cfg(test)]
mod tests {
    use super::{ALIASES, RULES};

    #[test]
    fn aliases_lists_every_name_the_table_uses() {
        for rule in RULES {
            let names = std::iter::once(&rule.use_model).chain(rule.fallbacks).chain(rule.author.unwrap_or_default());
            for name in names {
                assert!(ALIASES.contains(name), "`{name}` ({}) is missing from ALIASES", rule.reason);
            }
        }
    }
}
