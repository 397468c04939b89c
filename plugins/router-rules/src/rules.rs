//! The rule table: what a rule matches, how the first match becomes a
//! decision, and the invariant that a reviewer never gets the author's model.

use std::collections::BTreeMap;

use orch_sdk::router::{ModelChoice, RouteDecision, RouteRequest};
use orch_sdk::{PluginError, Risk, Role};
use serde::Deserialize;

/// Model aliases used by rules (`strong`, `mid`, `cheap`, ...) mapped to a
/// provider plugin and model name.
pub type ModelAliases = BTreeMap<String, ModelRef>;

/// A provider plugin and a model on it, as written in config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// The provider plugin's configured name.
    pub provider: String,
    /// The model name the provider understands.
    pub model: String,
}

/// One value or a list of values in config: `risk = "high"` or `risk = ["high", "medium"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// Any of several values.
    Many(Vec<T>),
}

impl<T: PartialEq> OneOrMany<T> {
    fn contains(&self, value: &T) -> bool {
        match self {
            Self::One(v) => v == value,
            Self::Many(vs) => vs.contains(value),
        }
    }

    fn any(&self, mut pred: impl FnMut(&T) -> bool) -> bool {
        match self {
            Self::One(v) => pred(v),
            Self::Many(vs) => vs.iter().any(pred),
        }
    }
}

/// A role as written in config (`planner`, `plan-reviewer`, `implementer`, `code-reviewer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleName {
    /// Writes the plan.
    #[serde(alias = "plan")]
    Planner,
    /// Reviews the plan.
    #[serde(alias = "plan_reviewer")]
    PlanReviewer,
    /// Implements a step.
    Implementer,
    /// Reviews a step's change.
    #[serde(alias = "code_reviewer")]
    CodeReviewer,
}

impl RoleName {
    fn of(role: Role) -> Self {
        match role {
            Role::Planner => Self::Planner,
            Role::PlanReviewer => Self::PlanReviewer,
            Role::Implementer => Self::Implementer,
            Role::CodeReviewer => Self::CodeReviewer,
        }
    }

    fn is_reviewer(self) -> bool {
        matches!(self, Self::PlanReviewer | Self::CodeReviewer)
    }
}

/// A risk level as written in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskName {
    /// Low risk.
    Low,
    /// Medium risk.
    Medium,
    /// High risk.
    High,
}

impl RiskName {
    fn of(risk: Risk) -> Self {
        match risk {
            Risk::Low => Self::Low,
            Risk::Medium => Self::Medium,
            Risk::High => Self::High,
        }
    }
}

/// One row of the table. Every condition that is set must hold; unset
/// conditions match anything. The first matching rule wins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Roles this rule serves.
    #[serde(default)]
    pub role: Option<OneOrMany<RoleName>>,
    /// Task risk levels.
    #[serde(default)]
    pub risk: Option<OneOrMany<RiskName>>,
    /// Task areas (case-insensitive).
    #[serde(default)]
    pub area: Option<OneOrMany<String>>,
    /// Matches when the task carries any of these labels.
    #[serde(default)]
    pub labels: Option<OneOrMany<String>>,
    /// Step kinds (analysis, implementation, testing, validation, docs).
    #[serde(default)]
    pub step_kind: Option<OneOrMany<String>>,
    /// Step complexities (trivial, small, medium, large).
    #[serde(default)]
    pub step_complexity: Option<OneOrMany<String>>,
    /// For reviewers: aliases of the model that wrote the work.
    #[serde(default)]
    pub author: Option<OneOrMany<String>>,
    /// Lowest attempt number (1-based) this rule applies to.
    #[serde(default)]
    pub attempt_min: Option<u32>,
    /// Highest attempt number this rule applies to.
    #[serde(default)]
    pub attempt_max: Option<u32>,
    /// The model to use: an alias from `models`, or `provider/model`.
    #[serde(rename = "use")]
    pub use_model: String,
    /// Why, for the audit trail.
    pub reason: String,
    /// Tried in order when the chosen model keeps failing.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

/// A validated table ready to route.
#[derive(Debug, Clone)]
pub struct RuleTable {
    models: ModelAliases,
    rules: Vec<Rule>,
}

impl RuleTable {
    /// Checks that every model a rule names resolves, so a typo is reported
    /// with its rule rather than on the first request that reaches it.
    pub fn new(models: ModelAliases, rules: Vec<Rule>) -> Result<Self, PluginError> {
        let table = Self { models, rules };
        for (index, rule) in table.rules.iter().enumerate() {
            let aliases = rule.author.iter().flat_map(|a| match a {
                OneOrMany::One(v) => std::slice::from_ref(v).iter(),
                OneOrMany::Many(vs) => vs.iter(),
            });
            for name in std::iter::once(&rule.use_model)
                .chain(&rule.fallbacks)
                .chain(aliases)
            {
                table.resolve(name).map_err(|e| {
                    PluginError::InvalidInput(format!("rule {} ({}): {e}", index + 1, rule.reason))
                })?;
            }
        }
        Ok(table)
    }

    /// Applies the first matching rule to `request`.
    pub fn route(&self, request: &RouteRequest) -> Result<RouteDecision, PluginError> {
        let role = RoleName::of(request.role);
        let rule = self
            .rules
            .iter()
            .find(|rule| self.matches(rule, request))
            .ok_or_else(|| {
                PluginError::InvalidInput(format!(
                    "no routing rule matches role {role:?}, risk {:?}, area `{}`: add a catch-all rule for the role",
                    request.task.risk, request.task.area
                ))
            })?;

        let mut candidates = std::iter::once(&rule.use_model)
            .chain(&rule.fallbacks)
            .map(|name| self.resolve(name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(PluginError::InvalidInput)?;
        let mut reason = rule.reason.clone();

        if role.is_reviewer()
            && let Some(author) = request.author_model.as_deref()
        {
            let primary = candidates[0].model.clone();
            candidates.retain(|c| c.model != author);
            if candidates.is_empty() {
                let other = self.models.values().find(|m| m.model != author).ok_or_else(|| {
                    PluginError::InvalidInput(format!(
                        "every configured model is `{author}`, which wrote the work: a reviewer needs a different one"
                    ))
                })?;
                candidates.push(other.clone());
            }
            if candidates[0].model != primary {
                reason = format!(
                    "{reason}; {primary} wrote the work, so the reviewer uses {}",
                    candidates[0].model
                );
            }
        }

        let mut candidates = candidates.into_iter();
        let primary = candidates.next().expect("a rule always names a model");
        let mut fallbacks: Vec<ModelChoice> = Vec::new();
        for c in candidates {
            if c != primary && !fallbacks.iter().any(|f| f.model == c.model && f.provider == c.provider) {
                fallbacks.push(ModelChoice { provider: c.provider, model: c.model });
            }
        }
        Ok(RouteDecision {
            provider: primary.provider,
            model: primary.model,
            reason,
            fallbacks,
        })
    }

    fn matches(&self, rule: &Rule, request: &RouteRequest) -> bool {
        let task = &request.task;
        let text_matches = |cond: &Option<OneOrMany<String>>, value: Option<&str>| match cond {
            None => true,
            Some(cond) => value.is_some_and(|v| cond.any(|c| c.eq_ignore_ascii_case(v))),
        };
        rule.role
            .as_ref()
            .is_none_or(|r| r.contains(&RoleName::of(request.role)))
            && rule.risk.as_ref().is_none_or(|r| r.contains(&RiskName::of(task.risk)))
            && text_matches(&rule.area, Some(&task.area))
            && rule.labels.as_ref().is_none_or(|wanted| {
                wanted.any(|w| task.labels.iter().any(|l| l.eq_ignore_ascii_case(w)))
            })
            && text_matches(&rule.step_kind, request.step_kind.as_deref())
            && text_matches(&rule.step_complexity, request.step_complexity.as_deref())
            && rule.author.as_ref().is_none_or(|aliases| {
                request.author_model.as_deref().is_some_and(|author| {
                    aliases.any(|alias| self.resolve(alias).is_ok_and(|m| m.model == author))
                })
            })
            && rule.attempt_min.is_none_or(|min| request.attempt >= min)
            && rule.attempt_max.is_none_or(|max| request.attempt <= max)
    }

    /// An alias from `models`, or a literal `provider/model`.
    fn resolve(&self, name: &str) -> Result<ModelRef, String> {
        if let Some(model) = self.models.get(name) {
            return Ok(model.clone());
        }
        match name.split_once('/') {
            Some((provider, model)) if !provider.is_empty() && !model.is_empty() => Ok(ModelRef {
                provider: provider.to_owned(),
                model: model.to_owned(),
            }),
            _ => Err(format!(
                "`{name}` is neither a model alias ({}) nor `provider/model`",
                self.models.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }
}
