//! The default rule table: the original orchestrator's routing, expressed over
//! the aliases `strong`, `mid` and `cheap` (whose model names live in config).

use crate::rules::{OneOrMany, RiskName, RoleName, Rule};

/// The original system's routing, first match wins.
pub fn rules() -> Vec<Rule> {
    use RiskName::{High, Low, Medium};
    use RoleName::{CodeReviewer, Implementer, PlanReviewer, Planner};

    vec![
        // Planner.
        rule(Planner, "strong", &["mid"], "high-risk core work needs the best reasoning")
            .risk(&[High])
            .area(&["core", "math"]),
        rule(Planner, "mid", &["strong"], "high-risk API/service work: strong mid-tier planner")
            .risk(&[High])
            .area(&["api", "services"]),
        rule(Planner, "mid", &["strong"], "medium risk: cost-effective planner").risk(&[Medium]),
        rule(Planner, "cheap", &["mid"], "low-risk docs work: cheap model is enough")
            .risk(&[Low])
            .area(&["docs", "comments"]),
        rule(Planner, "mid", &["strong"], "default planner: balanced cost and quality"),
        // Plan reviewer: never the planner's model.
        rule(PlanReviewer, "mid", &["cheap"], "plan by the strong model: reviewed by mid")
            .author(&["strong"]),
        rule(PlanReviewer, "strong", &["cheap"], "high-risk plan by mid: reviewed by strong")
            .author(&["mid"])
            .risk(&[High]),
        rule(PlanReviewer, "cheap", &["strong"], "plan by mid: reviewed by cheap").author(&["mid"]),
        rule(PlanReviewer, "strong", &["mid"], "plan by the cheap model: reviewed by strong")
            .author(&["cheap"]),
        rule(PlanReviewer, "strong", &["mid", "cheap"], "plan reviewer: strongest model not used by the planner"),
        // Implementer.
        rule(Implementer, "strong", &["mid"], "high-risk work: strongest implementer").risk(&[High]),
        rule(Implementer, "strong", &["mid"], "large step: strongest implementer")
            .step_complexity(&["large"]),
        rule(Implementer, "cheap", &["mid"], "docs/comments step: cheap model is enough")
            .step_kind(&["docs", "comments"]),
        rule(Implementer, "cheap", &["mid"], "simple refactor step: cheap model is enough")
            .step_kind(&["refactor"])
            .step_complexity(&["trivial", "small"]),
        rule(Implementer, "cheap", &["mid"], "low-risk test step: cheap model is enough")
            .risk(&[Low])
            .step_kind(&["testing", "tests"]),
        rule(Implementer, "mid", &["strong"], "default implementer: balanced cost and quality"),
        // Code reviewer: never the implementer's model.
        rule(CodeReviewer, "mid", &["cheap"], "code by the strong model: reviewed by mid")
            .author(&["strong"]),
        rule(CodeReviewer, "strong", &["mid"], "code by the cheap model: reviewed by strong")
            .author(&["cheap"]),
        rule(CodeReviewer, "strong", &["cheap"], "high-risk code by mid: reviewed by strong")
            .author(&["mid"])
            .risk(&[High]),
        rule(CodeReviewer, "cheap", &["strong"], "code by mid: reviewed by cheap").author(&["mid"]),
        rule(CodeReviewer, "strong", &["mid", "cheap"], "code reviewer: strongest model not used by the implementer"),
    ]
}

fn rule(role: RoleName, use_model: &str, fallbacks: &[&str], reason: &str) -> Rule {
    Rule {
        role: Some(OneOrMany::One(role)),
        risk: None,
        area: None,
        labels: None,
        step_kind: None,
        step_complexity: None,
        author: None,
        attempt_min: None,
        attempt_max: None,
        use_model: use_model.to_owned(),
        reason: reason.to_owned(),
        fallbacks: fallbacks.iter().map(|f| (*f).to_owned()).collect(),
    }
}

fn strings(values: &[&str]) -> Option<OneOrMany<String>> {
    Some(OneOrMany::Many(values.iter().map(|v| (*v).to_owned()).collect()))
}

impl Rule {
    fn risk(mut self, risks: &[RiskName]) -> Self {
        self.risk = Some(OneOrMany::Many(risks.to_vec()));
        self
    }

    fn area(mut self, areas: &[&str]) -> Self {
        self.area = strings(areas);
        self
    }

    fn author(mut self, aliases: &[&str]) -> Self {
        self.author = strings(aliases);
        self
    }

    fn step_kind(mut self, kinds: &[&str]) -> Self {
        self.step_kind = strings(kinds);
        self
    }

    fn step_complexity(mut self, complexities: &[&str]) -> Self {
        self.step_complexity = strings(complexities);
        self
    }
}
