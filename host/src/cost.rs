//! Money: a pricing table in USD per million tokens (defaults for well-known
//! models, overridable under `[pricing."MODEL"]` in `orch.toml`) and the cost
//! of one call, computed by the host from the reported usage. Input tokens
//! are taken to include cached input tokens, billed at the cached rate, and
//! tokens written to the prompt cache, billed at the cache-write rate. An
//! unknown model costs 0, with one warning per model.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::sync::Mutex;

use serde::Deserialize;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Cached input (defaults to the input price).
    pub cached_input: Option<f64>,
    /// Input written to the prompt cache (defaults to the input price;
    /// Anthropic bills 1.25× the input price for its 5-minute cache).
    #[serde(default)]
    pub cache_write: Option<f64>,
}

/// The token counts of one call a price applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Prompt tokens, cached and cache-written ones included.
    pub input: u64,
    /// Generated tokens.
    pub output: u64,
    /// Prompt tokens read from the provider's cache.
    pub cached_input: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write: u64,
}

impl From<&crate::sandbox::Usage> for Tokens {
    fn from(usage: &crate::sandbox::Usage) -> Self {
        Self {
            input: usage.input_tokens,
            output: usage.output_tokens,
            cached_input: usage.cached_input_tokens,
            cache_write: usage.cache_write_tokens,
        }
    }
}

/// `[budget]` in `orch.toml`: the most a task and a run may spend, in USD.
/// A call that would start once a budget is spent is not made; the task
/// waits for a person instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Per task, over all its runs (journaled calls count once).
    pub task_usd: Option<f64>,
    /// Per `orch run` / `orch resume` (`--max-cost` overrides), counting the
    /// calls this run makes.
    pub run_usd: Option<f64>,
}

impl Budget {
    /// Checks that the limits are non-negative numbers.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [("task_usd", self.task_usd), ("run_usd", self.run_usd)] {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(format!("[budget] {key} must be a non-negative number of USD, not {v}"));
            }
        }
        Ok(())
    }
}

/// Built-in prices (USD per million input / output / cached input tokens),
/// as the providers published them in November 2026 (current models first,
/// then older ones still served).
const DEFAULT_PRICES: &[(&str, f64, f64, f64)] = &[
    ("claude-fable-5-1", 10.0, 50.0, 1.0),
    ("claude-opus-5-5", 4.0, 20.0, 0.4),
    ("claude-sonnet-5-5", 2.0, 10.0, 0.2),
    ("claude-opus-5", 5.0, 25.0, 0.5),
    ("claude-sonnet-5", 2.0, 10.0, 0.2),
    ("claude-opus-4-8", 5.0, 25.0, 0.5),
    ("claude-opus-4-7", 5.0, 25.0, 0.5),
    ("claude-opus-4-6", 5.0, 25.0, 0.5),
    ("claude-sonnet-4-6", 3.0, 15.0, 0.3),
    ("gpt-5.3-codex", 1.75, 14.0, 0.175),
    ("gpt-5.2", 1.75, 14.0, 0.175),
    ("gpt-5.1", 1.25, 10.0, 0.125),
    ("gemini-3.6-flash", 1.5, 7.5, 0.15),
    ("gemini-3.5-flash-lite", 0.3, 2.5, 0.03),
    ("gemini-3.1-pro-preview", 2.0, 12.0, 0.2),
    ("gemini-3-flash-preview", 0.5, 3.0, 0.05),
    ("claude-opus-4-1", 15.0, 75.0, 1.5),
    ("claude-opus-4-5", 5.0, 25.0, 0.5),
    ("claude-sonnet-4-5", 3.0, 15.0, 0.3),
    ("claude-haiku-4-5", 1.0, 5.0, 0.1),
    ("gpt-5", 1.25, 10.0, 0.125),
    ("gpt-5-mini", 0.25, 2.0, 0.025),
    ("gpt-5-nano", 0.05, 0.4, 0.005),
    ("gpt-4.1", 2.0, 8.0, 0.5),
    ("gpt-4.1-mini", 0.4, 1.6, 0.1),
    ("gpt-4o", 2.5, 10.0, 1.25),
    ("gpt-4o-mini", 0.15, 0.6, 0.075),
    ("gemini-2.5-pro", 1.25, 10.0, 0.31),
    ("gemini-2.5-flash", 0.3, 2.5, 0.075),
    ("gemini-2.5-flash-lite", 0.1, 0.4, 0.025),
];

/// The pricing table in force.
#[derive(Debug, Default)]
pub struct Pricing {
    prices: BTreeMap<String, Price>,
    warned: Mutex<HashSet<String>>,
}

impl Pricing {
    /// The defaults with `overrides` (from `orch.toml`) on top.
    pub fn new(overrides: &BTreeMap<String, Price>) -> Self {
        let mut prices: BTreeMap<String, Price> = DEFAULT_PRICES
            .iter()
            .map(|&(model, input, output, cached)| {
                // Anthropic's prompt cache bills writes at 1.25× the input price.
                let cache_write = model.starts_with("claude-").then_some(input * 1.25);
                (model.to_owned(), Price { input, output, cached_input: Some(cached), cache_write })
            })
            .collect();
        prices.extend(overrides.iter().map(|(k, v)| (k.clone(), *v)));
        Self { prices, warned: Mutex::default() }
    }

    /// The price of `model`, if known: its own entry, else that of the
    /// longest known name it extends with a version suffix, so
    /// `claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06` and
    /// `models/gemini-2.5-flash` find their family's price.
    pub fn price(&self, model: &str) -> Option<Price> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        if let Some(price) = self.prices.get(model) {
            return Some(*price);
        }
        self.prices
            .range::<str, _>((Bound::Unbounded, Bound::Excluded(model)))
            .rev()
            .take_while(|(name, _)| model.starts_with(name.chars().next().unwrap_or_default()))
            .find(|(name, _)| model.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with(['-', '@'])))
            .map(|(_, price)| *price)
    }

    /// USD for a call the host asked of model `asked` and the provider says
    /// model `reported` served: priced as `reported` when that is `asked` or
    /// a version of it (`claude-sonnet-4-5-20250929`), otherwise at the higher
    /// of the two prices, so a provider cannot make a call cheap by naming a
    /// cheap model. The flag says whether the names disagreed that way.
    pub fn cost_of_call(&self, asked: &str, reported: &str, tokens: Tokens) -> (f64, bool) {
        let priced_as = |model: &str| self.cost(model, tokens);
        if same_family(asked, reported) {
            return (priced_as(reported), false);
        }
        (priced_as(asked).max(priced_as(reported)), true)
    }

    /// USD for one call's usage.
    pub fn cost(&self, model: &str, tokens: Tokens) -> f64 {
        let Some(price) = self.price(model) else {
            if self.warned.lock().expect("not poisoned").insert(model.to_owned()) {
                tracing::warn!(
                    "no price known for model `{model}`: its calls count as $0; add [pricing.\"{model}\"] to orch.toml"
                );
            }
            return 0.0;
        };
        let cached = tokens.cached_input.min(tokens.input);
        let written = tokens.cache_write.min(tokens.input - cached);
        let per_token = |usd_per_million: f64, tokens: u64| usd_per_million * tokens as f64 / 1e6;
        per_token(price.input, tokens.input - cached - written)
            + per_token(price.cached_input.unwrap_or(price.input), cached)
            + per_token(price.cache_write.unwrap_or(price.input), written)
            + per_token(price.output, tokens.output)
    }
}

/// Whether `reported` is the model `asked` for, or a dated or numbered
/// version of it (`gpt-4o-2024-08-06`, `claude-sonnet-4-5@20250929`; not
/// `gpt-4o-mini`, another model).
pub fn same_family(asked: &str, reported: &str) -> bool {
    let bare = |m: &str| m.strip_prefix("models/").unwrap_or(m).to_owned();
    let (asked, reported) = (bare(asked), bare(reported));
    let version =
        |rest: &str| rest.strip_prefix(['-', '@']).is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()));
    asked == reported || reported.strip_prefix(&asked).is_some_and(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: u64, output: u64, cached_input: u64) -> Tokens {
        Tokens { input, output, cached_input, cache_write: 0 }
    }

    #[test]
    fn a_provider_naming_another_model_pays_the_higher_price() {
        let pricing = Pricing::new(&BTreeMap::new());
        let gpt4o = pricing.cost("gpt-4o", tokens(1_000_000, 0, 0));
        assert_eq!(pricing.cost_of_call("gpt-4o", "gpt-4o-2024-08-06", tokens(1_000_000, 0, 0)), (gpt4o, false));
        assert_eq!(pricing.cost_of_call("gpt-4o", "free-model", tokens(1_000_000, 0, 0)), (gpt4o, true), "not $0");
        let mini = pricing.cost("gpt-4o-mini", tokens(1_000_000, 0, 0));
        assert_eq!(pricing.cost_of_call("gpt-4o-mini", "gpt-4o", tokens(1_000_000, 0, 0)), (gpt4o.max(mini), true));
        assert!(same_family("gemini-2.5-flash", "models/gemini-2.5-flash") && !same_family("gpt-4o", "gpt-4o-mini"));
    }

    #[test]
    fn cost_follows_the_table() {
        let pricing = Pricing::new(&BTreeMap::new());
        // 10,000 in (2,000 cached) and 1,000 out on claude-sonnet-4-5:
        // 8,000 × $3/M + 2,000 × $0.30/M + 1,000 × $15/M = 0.024 + 0.0006 + 0.015.
        let cost = pricing.cost("claude-sonnet-4-5", tokens(10_000, 1_000, 2_000));
        assert!((cost - 0.0396).abs() < 1e-12, "{cost}");
        assert_eq!(pricing.cost("unknown-model", tokens(1_000_000, 1_000_000, 0)), 0.0);
    }

    #[test]
    fn cache_writes_bill_at_their_own_rate() {
        let pricing = Pricing::new(&BTreeMap::new());
        // 10,000 in (6,000 written to the cache, 2,000 read from it) on
        // claude-sonnet-4-5: 2,000 × $3/M + 6,000 × $3.75/M + 2,000 × $0.30/M.
        let written = Tokens { cache_write: 6_000, ..tokens(10_000, 0, 2_000) };
        let cost = pricing.cost("claude-sonnet-4-5", written);
        assert!((cost - (0.006 + 0.0225 + 0.0006)).abs() < 1e-12, "{cost}");
        // OpenAI does not bill writes apart: they cost plain input.
        let plain = pricing.cost("gpt-4o", tokens(10_000, 0, 2_000));
        assert_eq!(pricing.cost("gpt-4o", Tokens { cache_write: 6_000, ..tokens(10_000, 0, 2_000) }), plain);
    }

    #[test]
    fn dated_and_prefixed_names_find_their_family() {
        let pricing = Pricing::new(&BTreeMap::new());
        let price = |model: &str| pricing.price(model).map(|p| (p.input, p.output));
        assert_eq!(price("claude-sonnet-4-5-20250929"), Some((3.0, 15.0)));
        assert_eq!(price("claude-sonnet-4-5@20250929"), Some((3.0, 15.0)));
        assert_eq!(price("gpt-4o-2024-08-06"), Some((2.5, 10.0)));
        assert_eq!(price("gpt-4o-mini-2024-07-18"), Some((0.15, 0.6)), "the longest family wins");
        assert_eq!(price("models/gemini-2.5-flash"), Some((0.3, 2.5)));
        assert_eq!(price("gemini-2.5-flash-lite-preview-06-17"), Some((0.1, 0.4)));
        assert_eq!(price("gpt-4"), None, "a shorter name is another model");
        assert_eq!(price("gpt-4os"), None, "a suffix must start a version");
        assert_eq!(price("llama3.1:8b"), None);
    }

    #[test]
    fn overrides_replace_defaults() {
        let overrides = BTreeMap::from([(
            "gpt-5".to_owned(),
            Price { input: 1.0, output: 2.0, cached_input: None, cache_write: None },
        )]);
        let pricing = Pricing::new(&overrides);
        let cost = pricing.cost("gpt-5", tokens(1_000_000, 500_000, 1_000_000));
        assert!((cost - 2.0).abs() < 1e-12, "cached input defaults to the input price: {cost}");
    }
}
