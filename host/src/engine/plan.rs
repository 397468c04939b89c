//! What the LLM roles must answer, and the parsers that hold them to it: the
//! planner's plan (the seed's shape: steps with id, type, description, risk,
//! estimated complexity, files, tests, commands, dependencies) and the
//! reviewers' verdicts. A parse error is a sentence the model can act on; the
//! engine feeds it back and asks again.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::tasks::Risk;
use crate::untrusted::LINE_BYTES;

/// The most steps a plan may have.
pub const MAX_STEPS: usize = 40;

/// A plan of steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The steps, in order.
    pub steps: Vec<PlanStep>,
    /// The planner's estimate, free text.
    #[serde(default)]
    pub estimated_duration: Option<String>,
    /// How to undo the change.
    #[serde(default)]
    pub rollback_strategy: Option<String>,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStep {
    /// Unique within the plan.
    pub id: String,
    /// What kind of work it is.
    #[serde(rename = "type")]
    pub kind: StepKind,
    /// What to do.
    pub description: String,
    /// The step's own risk, if the planner gave one.
    #[serde(default)]
    pub risk: Option<Risk>,
    /// How big it is.
    #[serde(default)]
    pub estimated_complexity: Complexity,
    /// Files to read first.
    #[serde(default)]
    pub files_to_read: Vec<String>,
    /// Files it creates.
    #[serde(default)]
    pub files_to_create: Vec<String>,
    /// Files it changes.
    #[serde(default)]
    pub files_to_modify: Vec<String>,
    /// Tests it needs (a list, or a yes/no).
    #[serde(default)]
    pub tests_required: serde_json::Value,
    /// Commands to run.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Ids of earlier steps it builds on.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

/// Step types of the seed's plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// Reading and understanding.
    Analysis,
    /// Changing code.
    Implementation,
    /// Writing tests.
    Testing,
    /// Checking the result.
    Validation,
    /// Documentation.
    Docs,
}

/// Step sizes; the largest in a plan is the change size the gates see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    /// A line or two.
    Trivial,
    /// A small change.
    #[default]
    Small,
    /// Several files.
    Medium,
    /// Broad.
    Large,
}

impl StepKind {
    /// The lowercase name, as routers see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Analysis => "analysis",
            Self::Implementation => "implementation",
            Self::Testing => "testing",
            Self::Validation => "validation",
            Self::Docs => "docs",
        }
    }
}

impl Complexity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trivial => "trivial",
            Self::Small => "small",
            Self::Medium => "medium",
            Self::Large => "large",
        }
    }
}

/// A reviewer's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The decision.
    pub verdict: VerdictKind,
    /// What must change (empty when approved).
    #[serde(default)]
    pub concerns: Vec<String>,
    /// One line.
    #[serde(default)]
    pub summary: String,
}

/// Review decisions of the seed. `needs_revision`/`needs_changes` loop back
/// with the concerns, like a rejection (the seed waved them through).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Go ahead.
    Approved,
    /// No.
    Rejected,
    /// The plan needs another round.
    NeedsRevision,
    /// The code needs another round.
    NeedsChanges,
}

impl Verdict {
    /// Whether the work may proceed.
    pub fn approved(&self) -> bool {
        self.verdict == VerdictKind::Approved
    }

    /// The concerns, or the summary when the reviewer gave none.
    pub fn feedback(&self) -> Vec<String> {
        if self.concerns.is_empty() && !self.summary.is_empty() {
            vec![self.summary.clone()]
        } else {
            self.concerns.clone()
        }
    }
}

/// The JSON object in a reply: the whole reply, a fenced block, or the span
/// from the first `{` to the last `}`.
fn json_object(reply: &str) -> Result<&str, String> {
    let trimmed = reply.trim();
    if trimmed.starts_with('{') {
        return Ok(trimmed);
    }
    if let Some(start) = trimmed.find("```") {
        let body = &trimmed[start + 3..];
        let body = body.strip_prefix("json").unwrap_or(body);
        if let Some(end) = body.find("```") {
            return Ok(body[..end].trim());
        }
    }
    match (trimmed.find('{'), trimmed.rfind('}')) {
        (Some(start), Some(end)) if start < end => Ok(&trimmed[start..=end]),
        _ => Err("the reply contains no JSON object; answer with one JSON object only".into()),
    }
}

fn parse_json<T: DeserializeOwned>(reply: &str, what: &str) -> Result<T, String> {
    serde_json::from_str(json_object(reply)?).map_err(|e| format!("the {what} is not valid: {e}"))
}

/// Parses and checks a plan.
pub fn parse_plan(reply: &str) -> Result<Plan, String> {
    let mut plan: Plan = parse_json(reply, "plan")?;
    if plan.steps.is_empty() {
        return Err("the plan has no steps; give at least one".into());
    }
    if plan.steps.len() > MAX_STEPS {
        return Err(format!("the plan has {} steps; split the work into at most {MAX_STEPS}", plan.steps.len()));
    }
    for step in &mut plan.steps {
        crate::untrusted::bounded("a step description", &step.description, LINE_BYTES)
            .map_err(|e| format!("step `{}` is too long: {e}", step.id.chars().take(64).collect::<String>()))?;
        crate::untrusted::clean(&mut step.description);
    }
    for (i, step) in plan.steps.iter().enumerate() {
        let earlier = &plan.steps[..i];
        let id_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if step.id.is_empty() || step.id.len() > 64 || !step.id.chars().all(id_char) {
            return Err(format!(
                "step {} has the id {:?}; a step id is 1 to 64 letters, digits, `-`, `_` or `.`",
                i + 1,
                step.id.chars().take(64).collect::<String>()
            ));
        }
        if earlier.iter().any(|s| s.id == step.id) {
            return Err(format!("step id `{}` is used twice; step ids must be unique", step.id));
        }
        if step.description.trim().is_empty() {
            return Err(format!("step `{}` has no description", step.id));
        }
        if let Some(dep) = step.dependencies.iter().find(|d| !earlier.iter().any(|s| &&s.id == d)) {
            return Err(format!("step `{}` depends on `{dep}`, which is not an earlier step", step.id));
        }
    }
    Ok(plan)
}

/// Parses a reviewer's verdict (its summary and concerns are shown as lines).
pub fn parse_verdict(reply: &str) -> Result<Verdict, String> {
    let mut verdict: Verdict = parse_json(reply, "verdict")?;
    crate::untrusted::counted("concerns", &verdict.concerns, MAX_CONCERNS).map_err(|e| format!("the verdict {e}"))?;
    for text in std::iter::once(&mut verdict.summary).chain(verdict.concerns.iter_mut()) {
        crate::untrusted::bounded("a summary or concern", text, LINE_BYTES).map_err(|e| format!("the verdict {e}"))?;
        crate::untrusted::clean(text);
    }
    Ok(verdict)
}

/// Most concerns in one verdict.
const MAX_CONCERNS: usize = 50;

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{"steps": [
        {"id": "s1", "type": "analysis", "description": "read the middleware", "estimated_complexity": "trivial"},
        {"id": "s2", "type": "implementation", "description": "fix the timeout", "risk": "high",
         "estimated_complexity": "medium", "files_to_modify": ["auth.py"], "tests_required": true, "dependencies": ["s1"]}
    ], "estimated_duration": "1h", "rollback_strategy": "revert the commit"}"#;

    #[test]
    fn plans_in_the_seed_shape_parse() {
        let plan = parse_plan(PLAN).unwrap();
        assert_eq!(plan.steps.len(), 2);
        assert_eq!(
            (plan.steps[1].kind, plan.steps[1].estimated_complexity),
            (StepKind::Implementation, Complexity::Medium)
        );
        assert_eq!(plan.steps[1].risk, Some(Risk::High));
        let fenced = format!("Here is the plan:\n```json\n{PLAN}\n```\nDone.");
        assert_eq!(parse_plan(&fenced).unwrap(), plan);
    }

    #[test]
    fn bad_plans_get_actionable_messages() {
        let cases = [
            ("no json at all", "contains no JSON object"),
            (r#"{"steps": []}"#, "no steps"),
            (r#"{"steps": [{"id": "a", "type": "coding", "description": "x"}]}"#, "unknown variant `coding`"),
            (
                r#"{"steps": [{"id": "a", "type": "docs", "description": "x"}, {"id": "a", "type": "docs", "description": "y"}]}"#,
                "used twice",
            ),
            (
                r#"{"steps": [{"id": "a", "type": "docs", "description": "x", "dependencies": ["b"]}]}"#,
                "not an earlier step",
            ),
            (r#"{"steps": [{"id": "a", "type": "docs", "description": " "}]}"#, "no description"),
            (r#"{"steps": [{"id": "a", "type": "docs"}]}"#, "missing field `description`"),
        ];
        for (reply, expected) in cases {
            let err = parse_plan(reply).unwrap_err();
            assert!(err.contains(expected), "{reply}: {err}");
        }
    }

    #[test]
    fn verdicts_parse_and_needs_changes_is_not_approval() {
        let v = parse_verdict(r#"{"verdict": "approved", "summary": "fine"}"#).unwrap();
        assert!(v.approved());
        let v = parse_verdict(r#"{"verdict": "needs_changes", "concerns": ["add a test"]}"#).unwrap();
        assert!(!v.approved());
        assert_eq!(v.feedback(), ["add a test"]);
        let v = parse_verdict(r#"{"verdict": "rejected", "summary": "wrong file"}"#).unwrap();
        assert_eq!(v.feedback(), ["wrong file"]);
        assert!(parse_verdict(r#"{"verdict": "maybe"}"#).unwrap_err().contains("unknown variant"));
    }
}
