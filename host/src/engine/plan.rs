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

/// The reply's JSON object, checked against `schema` and read as a `T`.
fn parse_json<T: DeserializeOwned>(reply: &str, schema: &str, what: &str) -> Result<T, String> {
    let mut value = super::reply::json_object(reply)?;
    let errors = super::schema::validate(schema, &value);
    if !errors.is_empty() {
        return Err(format!("the {what} does not follow its JSON Schema: {}", errors.join("; ")));
    }
    // A strict schema makes optional fields nullable; null means left out.
    drop_nulls(&mut value);
    serde_json::from_value(value).map_err(|e| format!("the {what} is not valid: {e}"))
}

/// `value` without the object entries that are `null`, at every depth.
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            object.retain(|_, v| !v.is_null());
            object.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Parses and checks a plan.
pub fn parse_plan(reply: &str) -> Result<Plan, String> {
    let mut plan: Plan = parse_json(reply, super::schema::PLAN, "plan")?;
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

/// Parses a plan reviewer's verdict.
pub fn parse_plan_verdict(reply: &str) -> Result<Verdict, String> {
    parse_verdict(reply, super::schema::PLAN_VERDICT)
}

/// Parses a code reviewer's verdict.
pub fn parse_code_verdict(reply: &str) -> Result<Verdict, String> {
    parse_verdict(reply, super::schema::CODE_VERDICT)
}

/// Parses a reviewer's verdict (its summary and concerns are shown as lines).
fn parse_verdict(reply: &str, schema: &str) -> Result<Verdict, String> {
    let mut verdict: Verdict = parse_json(reply, schema, "verdict")?;
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
         "estimated_complexity": "medium", "files_to_modify": ["auth.py"], "tests_required": ["test_auth.py"], "dependencies": ["s1"]}
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
            (
                r#"{"steps": [{"id": "a", "type": "coding", "description": "x"}]}"#,
                "at /steps/0/type: \"coding\" is not one of",
            ),
            (
                r#"{"steps": [{"id": "a", "type": "docs", "description": "x"}, {"id": "a", "type": "docs", "description": "y"}]}"#,
                "used twice",
            ),
            (
                r#"{"steps": [{"id": "a", "type": "docs", "description": "x", "dependencies": ["b"]}]}"#,
                "not an earlier step",
            ),
            (r#"{"steps": [{"id": "a", "type": "docs", "description": " "}]}"#, "no description"),
            (
                r#"{"steps": [{"id": "a", "type": "docs"}]}"#,
                "at /steps/0/description: the required property is missing",
            ),
        ];
        for (reply, expected) in cases {
            let err = parse_plan(reply).unwrap_err();
            assert!(err.contains(expected), "{reply}: {err}");
        }
    }

    #[test]
    fn verdicts_parse_and_needs_changes_is_not_approval() {
        let v = parse_plan_verdict(r#"{"verdict": "approved", "concerns": [], "summary": "fine"}"#).unwrap();
        assert!(v.approved());
        let v =
            parse_code_verdict(r#"{"verdict": "needs_changes", "concerns": ["add a test"], "summary": ""}"#).unwrap();
        assert!(!v.approved());
        assert_eq!(v.feedback(), ["add a test"]);
        let v = parse_code_verdict(r#"{"verdict": "rejected", "concerns": [], "summary": "wrong file"}"#).unwrap();
        assert_eq!(v.feedback(), ["wrong file"]);
        let err = parse_plan_verdict(r#"{"verdict": "maybe", "concerns": [], "summary": ""}"#).unwrap_err();
        assert!(
            err.contains(r#"at /verdict: "maybe" is not one of "approved", "rejected", "needs_revision""#),
            "{err}"
        );
        let v = parse_plan_verdict(r#"{"verdict": "approved", "concerns": null, "summary": null}"#).unwrap();
        assert!(v.approved() && v.concerns.is_empty(), "null is left out");
        let err = parse_plan_verdict(r#"{"concerns": []}"#).unwrap_err();
        assert!(err.contains("at /verdict: the required property is missing"), "{err}");
    }
}
