//! `router-rules`: routes each role to a model by the first matching rule of a
//! table. The table and the model aliases it names come from the plugin's
//! `orch.toml` config (`rules`, `models`); without `rules` the default table
//! reproduces the original orchestrator's routing.

pub mod default_table;
pub mod rules;

use orch_sdk::router::{RouteDecision, RouteRequest, Router};
use orch_sdk::{Plugin, PluginError, config};

pub use rules::{ModelAliases, Rule, RuleTable};

/// The plugin: reads its table from config on every call (each call runs in a
/// fresh instance) and applies it.
#[derive(Default)]
pub struct RulesRouter;

impl Plugin for RulesRouter {
    const NAME: &'static str = "router-rules";
    const DESCRIPTION: &'static str =
        "Routes roles to models by a first-match rule table over role, risk, area, labels, step and attempt";
}

impl Router for RulesRouter {
    fn route(&self, request: RouteRequest) -> Result<RouteDecision, PluginError> {
        let raw = config::get("models").ok_or_else(|| {
            PluginError::InvalidInput(
                "config key `models` is missing: map each alias used by the rules \
                 (e.g. strong, mid, cheap) to { provider, model }"
                    .into(),
            )
        })?;
        let models: ModelAliases<'_> = config::parse("models", &raw)?;
        match config::json::<Vec<Rule>>("rules")? {
            Some(rules) => RuleTable::new(models, &rules)?.route(&request),
            None => RuleTable::with_names(models, default_table::RULES, default_table::ALIASES)?.route(&request),
        }
    }
}

orch_sdk::register!(router: RulesRouter);
