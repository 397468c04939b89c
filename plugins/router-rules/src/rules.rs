//! The rule table: what a rule matches, how the first match becomes a
//! decision, and the invariant that a reviewer never gets the author's model.
//!
//! Every call runs in a fresh instance, so the table is rebuilt per call:
//! rules are generic over their string storage, letting the default table be
//! a `const` of `&'static str`s while configured rules own `String`s, and
//! matching and resolving never allocate.

use std::borrow::Cow;
use std::collections::BTreeMap;

use orch_sdk::router::{ModelChoice, RouteDecision, RouteRequest};
use orch_sdk::{PluginError, Risk, Role};
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Model aliases used by rules (`strong`, `mid`, `cheap`, ...) mapped to a
/// provider plugin and model name, borrowed from the config text.
pub type ModelAliases<'a> = BTreeMap<&'a str, ModelRef<'a>>;

/// A provider plugin and a model on it, as written in config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef<'a> {
    /// The provider plugin's configured name.
    #[serde(borrow)]
    pub provider: Cow<'a, str>,
    /// The model name the provider understands.
    #[serde(borrow)]
    pub model: Cow<'a, str>,
}

/// A set of roles, written in config as one name or a list
/// (`planner`, `plan-reviewer`, `implementer`, `code-reviewer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles(u8);

impl Roles {
    /// The planner.
    pub const PLANNER: Self = Self(1);
    /// The plan reviewer.
    pub const PLAN_REVIEWER: Self = Self(2);
    /// The implementer.
    pub const IMPLEMENTER: Self = Self(4);
    /// The code reviewer.
    pub const CODE_REVIEWER: Self = Self(8);

    fn of(role: Role) -> Self {
        match role {
            Role::Planner => Self::PLANNER,
            Role::PlanReviewer => Self::PLAN_REVIEWER,
            Role::Implementer => Self::IMPLEMENTER,
            Role::CodeReviewer => Self::CODE_REVIEWER,
        }
    }

    fn contains(self, role: Role) -> bool {
        self.0 & Self::of(role).0 != 0
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "planner" | "plan" => Some(Self::PLANNER),
            "plan-reviewer" | "plan_reviewer" => Some(Self::PLAN_REVIEWER),
            "implementer" => Some(Self::IMPLEMENTER),
            "code-reviewer" | "code_reviewer" => Some(Self::CODE_REVIEWER),
            _ => None,
        }
    }
}

/// A set of risk levels, written in config as one level or a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Risks(u8);

impl Risks {
    /// Low risk.
    pub const LOW: Self = Self(1);
    /// Medium risk.
    pub const MEDIUM: Self = Self(2);
    /// High risk.
    pub const HIGH: Self = Self(4);

    fn contains(self, risk: Risk) -> bool {
        let bit = match risk {
            Risk::Low => Self::LOW,
            Risk::Medium => Self::MEDIUM,
            Risk::High => Self::HIGH,
        };
        self.0 & bit.0 != 0
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "low" => Some(Self::LOW),
            "medium" => Some(Self::MEDIUM),
            "high" => Some(Self::HIGH),
            _ => None,
        }
    }
}

/// Deserializes one name or a list of names into a bit set.
fn deserialize_set<'de, D: Deserializer<'de>>(
    deserializer: D,
    what: &'static str,
    parse: fn(&str) -> Option<u8>,
) -> Result<u8, D::Error> {
    let names = Strings::deserialize(deserializer)?;
    names.0.iter().try_fold(0, |bits, name| {
        parse(name).map(|bit| bits | bit).ok_or_else(|| de::Error::custom(format!("unknown {what} `{name}`")))
    })
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_set(deserializer, "role", |n| Roles::parse(n).map(|r| r.0)).map(Self)
    }
}

impl<'de> Deserialize<'de> for Risks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_set(deserializer, "risk", |n| Risks::parse(n).map(|r| r.0)).map(Self)
    }
}

/// A list of strings in config, also accepted as a single string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Strings(pub Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(Self(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }))
    }
}

impl AsRef<[String]> for Strings {
    fn as_ref(&self) -> &[String] {
        &self.0
    }
}

/// One row of the table. Every condition that is set must hold; unset
/// conditions match anything. The first matching rule wins.
///
/// `S` is the string type and `L` the list type: `String`/[`Strings`] for
/// rules read from config, `&'static str`/`&'static [&'static str]` for the
/// built-in table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule<S = String, L = Strings> {
    /// Roles this rule serves.
    #[serde(default)]
    pub role: Option<Roles>,
    /// Task risk levels.
    #[serde(default)]
    pub risk: Option<Risks>,
    /// Task areas (case-insensitive).
    #[serde(default)]
    pub area: Option<L>,
    /// Matches when the task carries any of these labels (case-insensitive).
    #[serde(default)]
    pub labels: Option<L>,
    /// Step kinds (analysis, implementation, testing, validation, docs, ...).
    #[serde(default)]
    pub step_kind: Option<L>,
    /// Step complexities (trivial, small, medium, large).
    #[serde(default)]
    pub step_complexity: Option<L>,
    /// For reviewers: aliases of the model that wrote the work.
    #[serde(default)]
    pub author: Option<L>,
    /// Lowest attempt number (1-based) this rule applies to.
    #[serde(default)]
    pub attempt_min: Option<u32>,
    /// Highest attempt number this rule applies to.
    #[serde(default)]
    pub attempt_max: Option<u32>,
    /// The model to use: an alias from `models`, or `provider/model`.
    #[serde(rename = "use")]
    pub use_model: S,
    /// Why, for the audit trail.
    pub reason: S,
    /// Tried in order when the chosen model keeps failing.
    #[serde(default)]
    pub fallbacks: L,
}

/// A provider and model, borrowed from the aliases or from a `provider/model` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Choice<'a> {
    provider: &'a str,
    model: &'a str,
}

impl Choice<'_> {
    fn owned(self) -> ModelChoice {
        ModelChoice { provider: self.provider.to_owned(), model: self.model.to_owned() }
    }
}

/// A validated table ready to route.
#[derive(Debug, Clone)]
pub struct RuleTable<'a, S = String, L = Strings> {
    models: ModelAliases<'a>,
    rules: &'a [Rule<S, L>],
}

impl<'a, S: AsRef<str>, L: AsRef<[S]>> RuleTable<'a, S, L> {
    /// Checks that every model a rule names resolves, so a typo is reported
    /// with its rule rather than on the first request that reaches it.
    pub fn new(models: ModelAliases<'a>, rules: &'a [Rule<S, L>]) -> Result<Self, PluginError> {
        let table = Self { models, rules };
        table.validate()?;
        Ok(table)
    }

    /// Like [`RuleTable::new`] for a table known to name exactly the models
    /// in `names` (such as the built-in one): checks only those, which is
    /// cheaper than walking every rule on every call.
    pub fn with_names(models: ModelAliases<'a>, rules: &'a [Rule<S, L>], names: &[&str]) -> Result<Self, PluginError> {
        let table = Self { models, rules };
        for name in names {
            table.resolve(name).map_err(|e| PluginError::InvalidInput(format!("the built-in routing table: {e}")))?;
        }
        Ok(table)
    }

    fn validate(&self) -> Result<(), PluginError> {
        for (index, rule) in self.rules.iter().enumerate() {
            let names = std::iter::once(&rule.use_model)
                .chain(rule.fallbacks.as_ref())
                .chain(rule.author.as_ref().map_or(&[][..], AsRef::as_ref));
            for name in names {
                self.resolve(name.as_ref()).map_err(|e| {
                    PluginError::InvalidInput(format!("rule {} ({}): {e}", index + 1, rule.reason.as_ref()))
                })?;
            }
        }
        Ok(())
    }

    /// Applies the first matching rule to `request`.
    pub fn route(&self, request: &RouteRequest) -> Result<RouteDecision, PluginError> {
        let rule = self.rules.iter().find(|rule| self.matches(rule, request)).ok_or_else(|| {
            PluginError::InvalidInput(format!(
                "no routing rule matches role {}, risk {}, area `{}`: add a catch-all rule for the role",
                role_name(request.role),
                risk_name(request.task.risk),
                request.task.area
            ))
        })?;

        let primary = self.resolve(rule.use_model.as_ref()).map_err(PluginError::InvalidInput)?;
        let mut candidates: Vec<Choice<'_>> = Vec::with_capacity(1 + rule.fallbacks.as_ref().len());
        candidates.push(primary);
        for fallback in rule.fallbacks.as_ref() {
            let choice = self.resolve(fallback.as_ref()).map_err(PluginError::InvalidInput)?;
            if !candidates.contains(&choice) {
                candidates.push(choice);
            }
        }

        let mut reason = rule.reason.as_ref().to_owned();
        let reviewer = matches!(request.role, Role::PlanReviewer | Role::CodeReviewer);
        if let (true, Some(author)) = (reviewer, request.author_model.as_deref()) {
            candidates.retain(|c| c.model != author);
            if candidates.is_empty() {
                let other = self.models.values().find(|m| m.model != author).ok_or_else(|| {
                    PluginError::InvalidInput(format!(
                        "every configured model is `{author}`, which wrote the work: a reviewer needs a different one"
                    ))
                })?;
                candidates.push(Choice { provider: &other.provider, model: &other.model });
            }
            if candidates[0] != primary {
                reason =
                    format!("{reason}; {} wrote the work, so the reviewer uses {}", primary.model, candidates[0].model);
            }
        }

        let chosen = candidates[0];
        Ok(RouteDecision {
            provider: chosen.provider.to_owned(),
            model: chosen.model.to_owned(),
            reason,
            fallbacks: candidates[1..].iter().map(|c| c.owned()).collect(),
        })
    }

    fn matches(&self, rule: &Rule<S, L>, request: &RouteRequest) -> bool {
        let task = &request.task;
        let any_of = |cond: &Option<L>, value: Option<&str>| match cond {
            None => true,
            Some(cond) => value.is_some_and(|v| cond.as_ref().iter().any(|c| c.as_ref().eq_ignore_ascii_case(v))),
        };
        rule.role.is_none_or(|roles| roles.contains(request.role))
            && rule.risk.is_none_or(|risks| risks.contains(task.risk))
            && any_of(&rule.area, Some(&task.area))
            && rule.labels.as_ref().is_none_or(|wanted| {
                wanted.as_ref().iter().any(|w| task.labels.iter().any(|l| l.eq_ignore_ascii_case(w.as_ref())))
            })
            && any_of(&rule.step_kind, request.step_kind.as_deref())
            && any_of(&rule.step_complexity, request.step_complexity.as_deref())
            && rule.author.as_ref().is_none_or(|aliases| {
                request.author_model.as_deref().is_some_and(|author| {
                    aliases.as_ref().iter().any(|alias| self.resolve(alias.as_ref()).is_ok_and(|m| m.model == author))
                })
            })
            && rule.attempt_min.is_none_or(|min| request.attempt >= min)
            && rule.attempt_max.is_none_or(|max| request.attempt <= max)
    }

    /// An alias from `models`, or a literal `provider/model`.
    fn resolve<'n>(&'n self, name: &'n str) -> Result<Choice<'n>, String> {
        if let Some(model) = self.models.get(name) {
            return Ok(Choice { provider: &model.provider, model: &model.model });
        }
        match name.split_once('/') {
            Some((provider, model)) if !provider.is_empty() && !model.is_empty() => Ok(Choice { provider, model }),
            _ => Err(format!(
                "`{name}` is neither a model alias ({}) nor `provider/model`",
                self.models.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Planner => "planner",
        Role::PlanReviewer => "plan-reviewer",
        Role::Implementer => "implementer",
        Role::CodeReviewer => "code-reviewer",
    }
}

fn risk_name(risk: Risk) -> &'static str {
    match risk {
        Risk::Low => "low",
        Risk::Medium => "medium",
        Risk::High => "high",
    }
}
