//! How each round of a stage went, for routers: the calls of a round are
//! metered (cost, time, the model that served the last one), and when the
//! round's fate is known (the reviewer approved or rejected, a reply could
//! or could not be read) an [`Outcome`] is stored with the next commit. The
//! store turns them into per-model history for a role, area and risk, which
//! every route request carries (read once per stage and kept until the
//! next outcome is stored), beside the catalog of configured models.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::plugins::Plugins;
use super::task_run::{TaskRun, role_name};
use crate::config::ModelConfig;
use crate::cost::Pricing;
use crate::journal::CompletionRecord;
use crate::sandbox::{CatalogModel, ModelHistory, Role};
use crate::store::{Outcome, Store};

/// What the calls of one round cost, and who served the last one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meter {
    cost_usd: f64,
    latency_ms: u64,
    served: Option<(String, String)>,
}

impl Meter {
    /// Counts a call (live or from the journal).
    pub(crate) fn add(&mut self, record: &CompletionRecord, cost_usd: f64, latency_ms: u64) {
        self.cost_usd += cost_usd;
        self.latency_ms += latency_ms;
        self.served = Some((record.provider.clone(), record.model.clone()));
    }
}

impl<P: Plugins> TaskRun<P> {
    /// The meter of the round that starts now.
    pub(crate) fn start_round(&mut self) {
        self.meter = Meter::default();
    }

    /// The meter of the round so far, and a fresh one from now on.
    pub(crate) fn take_round(&mut self) -> Meter {
        std::mem::take(&mut self.meter)
    }

    /// Stores how round `round` of `role` (on `step`, if any) went.
    pub(crate) fn outcome(&mut self, role: Role, step: Option<&str>, round: u32, meter: Meter, accepted: bool) {
        let Some((provider, model)) = meter.served else { return };
        let outcome = Outcome {
            role: role_name(role).to_owned(),
            unit: format!("{}@{}", step.unwrap_or("-"), self.retries),
            round,
            area: self.spec.area.clone(),
            risk: self.spec.risk.to_string(),
            provider,
            model,
            accepted,
            cost_usd: meter.cost_usd,
            latency_ms: meter.latency_ms,
        };
        self.remember_outcome(outcome);
        self.shared.history.forget();
    }
}

/// The catalog routers are shown: every `[models]` entry with its price.
pub(crate) fn catalog(models: &BTreeMap<String, ModelConfig>, pricing: &Pricing) -> Vec<CatalogModel> {
    models
        .iter()
        .map(|(name, model)| {
            let price = pricing.price(name);
            CatalogModel {
                provider: model.provider.clone(),
                model: name.clone(),
                input_usd_per_mtok: price.map(|p| p.input),
                output_usd_per_mtok: price.map(|p| p.output),
                context_window: model.context_window,
                tags: model.tags.clone(),
            }
        })
        .collect()
}

/// Per-stage history read from the store, kept until an outcome is stored.
#[derive(Default)]
pub(crate) struct HistoryCache(Mutex<HashMap<(String, String, String), Vec<ModelHistory>>>);

impl HistoryCache {
    /// The history of `role` on tasks of `area` and `risk` (empty when the
    /// store cannot say: routing goes on without it).
    pub(crate) fn get(&self, store: &dyn Store, role: &str, area: &str, risk: &str) -> Vec<ModelHistory> {
        let key = (role.to_owned(), area.to_owned(), risk.to_owned());
        if let Some(history) = self.0.lock().expect("not poisoned").get(&key) {
            return history.clone();
        }
        let history: Vec<ModelHistory> = match store.model_history(role, area, risk) {
            Ok(stats) => stats
                .into_iter()
                .map(|s| ModelHistory {
                    provider: s.provider,
                    model: s.model,
                    rounds: s.rounds,
                    success_rate: s.success_rate,
                    mean_rounds: s.mean_rounds,
                    mean_cost_usd: s.mean_cost_usd,
                    mean_latency_ms: s.mean_latency_ms,
                })
                .collect(),
            Err(e) => {
                tracing::warn!("cannot read the model history for routing: {e}");
                Vec::new()
            }
        };
        self.0.lock().expect("not poisoned").insert(key, history.clone());
        history
    }

    /// Drops what was read: a new outcome changes it.
    pub(crate) fn forget(&self) {
        self.0.lock().expect("not poisoned").clear();
    }
}
