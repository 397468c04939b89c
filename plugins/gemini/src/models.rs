//! Which request parameters each Gemini model family accepts: the table the
//! request builder consults before it sends a temperature or a thinking
//! configuration.
//!
//! | family | `temperature` | token limit field | thinking for a JSON answer |
//! |---|---|---|---|
//! | `gemini-2.5-pro*` | sent | `maxOutputTokens` | `thinkingBudget`, 128–32768 (thinking cannot be turned off) |
//! | `gemini-2.5-flash-lite*` | sent | `maxOutputTokens` | `thinkingBudget`, 0 (off) or 512–24576 |
//! | `gemini-2.5-flash*` | sent | `maxOutputTokens` | `thinkingBudget`, 0 (off) to 24576 |
//! | `gemini-3*` to `gemini-3.4*` | sent | `maxOutputTokens` | `thinkingLevel` |
//! | `gemini-3.5*` and later | not sent | `maxOutputTokens` | `thinkingLevel` |
//! | anything else (`gemini-2.0-*`, `gemini-1.5-*`, Gemma, tuned models, `…-latest` aliases, image, speech and live variants) | sent | `maxOutputTokens` | none |
//!
//! Thinking tokens count against `maxOutputTokens`, so a model left to think
//! as long as it likes can spend the whole budget before it writes a word of
//! a JSON answer; the plugin bounds the thinking of JSON answers (JSON mode
//! or a schema) with the configured budget (`thinking_budget`, default 512)
//! moved into the family's range, or on Gemini 3 with the configured level
//! (`thinking_level`, default `low`), since from 3.5 on a budget is refused.
//! Plain-text answers keep the model's default thinking. A family the table
//! does not know gets no thinking configuration (a model that cannot think
//! rejects one). Gemini 3.5 and later ignore a temperature and later
//! generations are to reject it, so none is sent.

use orch_sdk::PluginError;

/// `thinking_budget` when the config does not set it.
pub const DEFAULT_THINKING_BUDGET: u32 = 512;

/// How a family lets its thinking be bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    /// No thinking configuration is sent.
    Unknown,
    /// `thinkingBudget` in `min..=max`; 0 turns thinking off where `off` allows it.
    Budget {
        /// The smallest budget above zero.
        min: u32,
        /// The largest budget.
        max: u32,
        /// Whether 0 (no thinking) is accepted.
        off: bool,
    },
    /// `thinkingLevel`.
    Level,
}

/// What the request for one model may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelParams {
    /// Whether a configured temperature is sent.
    pub temperature: bool,
    /// How the thinking of a JSON answer is bounded.
    pub thinking: Thinking,
}

/// A thinking level, as the API's `ThinkingLevel` enum names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkingLevel {
    /// Little to no thinking (not every model has it).
    Minimal,
    /// Little thinking: the default for JSON answers.
    Low,
    /// Balanced (not every model has it).
    Medium,
    /// The most.
    High,
}

impl ThinkingLevel {
    /// The wire value: `MINIMAL`, `LOW`, `MEDIUM`, `HIGH`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Minimal => "MINIMAL",
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
        }
    }

    /// Reads the `thinking_level` config value (any case).
    pub fn parse(raw: &str) -> Result<Self, PluginError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "minimal" => Ok(Self::Minimal),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            _ => Err(PluginError::InvalidInput(format!(
                "config key `thinking_level` (`{}`) must be minimal, low, medium or high",
                raw.escape_debug()
            ))),
        }
    }
}

/// The thinking configuration a JSON answer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkingChoice {
    /// `thinkingBudget`.
    Budget(u32),
    /// `thinkingLevel`.
    Level(ThinkingLevel),
}

impl ModelParams {
    /// The thinking configuration for a JSON answer: the configured budget
    /// moved into the family's range, or the configured level; `None` for a
    /// family the table does not know.
    pub fn thinking_for_json(&self, budget: u32, level: ThinkingLevel) -> Option<ThinkingChoice> {
        match self.thinking {
            Thinking::Unknown => None,
            Thinking::Level => Some(ThinkingChoice::Level(level)),
            Thinking::Budget { off: true, .. } if budget == 0 => Some(ThinkingChoice::Budget(0)),
            Thinking::Budget { min, max, .. } => Some(ThinkingChoice::Budget(budget.clamp(min, max))),
        }
    }
}

/// The parameters for `model` (`gemini-2.5-flash` or `models/gemini-2.5-flash`).
pub fn params(model: &str) -> ModelParams {
    let name = model.rsplit('/').next().unwrap_or(model).trim().to_ascii_lowercase();
    let Some(rest) = name.strip_prefix("gemini-") else {
        return ModelParams { temperature: true, thinking: Thinking::Unknown };
    };
    let (version, variant) = rest.split_once('-').unwrap_or((rest, ""));
    let (major, minor) = match version.split_once('.') {
        Some((major, minor)) => (major.parse::<u32>().ok(), minor.parse::<u32>().ok()),
        None => (version.parse::<u32>().ok(), Some(0)),
    };
    let special = ["image", "tts", "audio", "live"].iter().any(|v| variant.contains(v));
    let thinking = match (major, minor) {
        _ if special => Thinking::Unknown,
        (Some(2), Some(5)) if variant.starts_with("pro") => Thinking::Budget { min: 128, max: 32_768, off: false },
        (Some(2), Some(5)) if variant.starts_with("flash-lite") => {
            Thinking::Budget { min: 512, max: 24_576, off: true }
        }
        (Some(2), Some(5)) if variant.starts_with("flash") => Thinking::Budget { min: 1, max: 24_576, off: true },
        (Some(major), Some(_)) if major >= 3 => Thinking::Level,
        _ => Thinking::Unknown,
    };
    let temperature = !matches!((major, minor), (Some(3), Some(5..)) | (Some(4..), Some(_)));
    ModelParams { temperature, thinking }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRO: Thinking = Thinking::Budget { min: 128, max: 32_768, off: false };
    const FLASH: Thinking = Thinking::Budget { min: 1, max: 24_576, off: true };
    const LITE: Thinking = Thinking::Budget { min: 512, max: 24_576, off: true };

    #[test]
    fn families_by_name() {
        for (model, temperature, thinking) in [
            ("gemini-2.5-pro", true, PRO),
            ("models/gemini-2.5-pro-preview-06-05", true, PRO),
            ("gemini-2.5-flash", true, FLASH),
            ("gemini-2.5-flash-preview-09-2025", true, FLASH),
            ("gemini-2.5-flash-lite", true, LITE),
            ("gemini-2.5-flash-lite-preview-06-17", true, LITE),
            ("Gemini-2.5-Flash", true, FLASH),
            ("gemini-3-pro-preview", true, Thinking::Level),
            ("gemini-3-flash", true, Thinking::Level),
            ("gemini-3.1-pro", true, Thinking::Level),
            ("gemini-3.5-flash-lite", false, Thinking::Level),
            ("gemini-3.8-flash", false, Thinking::Level),
            ("gemini-4-pro", false, Thinking::Level),
            ("gemini-2.5-flash-image", true, Thinking::Unknown),
            ("gemini-2.5-flash-preview-tts", true, Thinking::Unknown),
            ("gemini-2.5-flash-native-audio-preview", true, Thinking::Unknown),
            ("gemini-2.0-flash", true, Thinking::Unknown),
            ("gemini-1.5-pro-002", true, Thinking::Unknown),
            ("gemini-flash-latest", true, Thinking::Unknown),
            ("gemini-pro", true, Thinking::Unknown),
            ("gemma-3-27b-it", true, Thinking::Unknown),
            ("m", true, Thinking::Unknown),
        ] {
            assert_eq!(params(model), ModelParams { temperature, thinking }, "{model}");
        }
    }

    #[test]
    fn the_budget_is_moved_into_the_familys_range() {
        let budget = |model: &str, configured: u32| params(model).thinking_for_json(configured, ThinkingLevel::Low);
        assert_eq!(budget("gemini-2.5-pro", 512), Some(ThinkingChoice::Budget(512)));
        assert_eq!(budget("gemini-2.5-pro", 0), Some(ThinkingChoice::Budget(128)), "pro cannot stop thinking");
        assert_eq!(budget("gemini-2.5-pro", 64), Some(ThinkingChoice::Budget(128)));
        assert_eq!(budget("gemini-2.5-pro", 100_000), Some(ThinkingChoice::Budget(32_768)));
        assert_eq!(budget("gemini-2.5-flash", 0), Some(ThinkingChoice::Budget(0)), "flash may stop thinking");
        assert_eq!(budget("gemini-2.5-flash", 64), Some(ThinkingChoice::Budget(64)));
        assert_eq!(budget("gemini-2.5-flash", 30_000), Some(ThinkingChoice::Budget(24_576)));
        assert_eq!(budget("gemini-2.5-flash-lite", 0), Some(ThinkingChoice::Budget(0)));
        assert_eq!(budget("gemini-2.5-flash-lite", 128), Some(ThinkingChoice::Budget(512)));
        assert_eq!(budget("gemini-3-flash", 512), Some(ThinkingChoice::Level(ThinkingLevel::Low)));
        assert_eq!(budget("gemini-2.0-flash", 512), None);
        assert_eq!(budget("m", 512), None);
    }

    #[test]
    fn the_level_setting_parses() {
        assert_eq!(ThinkingLevel::parse(" Low ").unwrap().name(), "LOW");
        assert_eq!(ThinkingLevel::parse("minimal").unwrap(), ThinkingLevel::Minimal);
        assert_eq!(ThinkingLevel::parse("MEDIUM").unwrap(), ThinkingLevel::Medium);
        assert_eq!(ThinkingLevel::parse("high").unwrap().name(), "HIGH");
        let err = ThinkingLevel::parse("lots").unwrap_err();
        assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("`thinking_level`")), "{err:?}");
    }
}
