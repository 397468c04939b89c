//! Which request parameters each Claude model family accepts: the table the
//! request builder consults before it sends a temperature.
//!
//! | family (by the version in the name) | `temperature` | token limit field | thinking |
//! |---|---|---|---|
//! | Claude 1–3 (`claude-2.1`, `claude-3-5-haiku-…`, `claude-3-7-sonnet-…`) | sent | `max_tokens` (required) | not sent |
//! | Claude 4 to 4.6 (`claude-opus-4-1`, `claude-sonnet-4-5`, `claude-opus-4-6`, …) | sent | `max_tokens` | not sent |
//! | Claude 4.7 and later 4.x (`claude-opus-4-7`, `claude-opus-4-8`) | not sent | `max_tokens` | not sent |
//! | Claude 5 and later (`claude-sonnet-5`, `claude-haiku-5-5`, `claude-fable-…`, `claude-mythos-…`) | not sent | `max_tokens` | not sent |
//! | anything else (no version in the name) | not sent | `max_tokens` | not sent |
//!
//! The models from 4.7 on answer a temperature with a 400 ("`temperature` is
//! deprecated for this model"), and under API version `2026-10-21` (the one
//! the anthropic 2.x SDKs send, whose `messages.create` has no temperature
//! any more) every model does; so a temperature goes out only to a family
//! known to take it under an older version. A name the table cannot place
//! gets none: an unsent temperature costs nothing, a rejected one the call.
//!
//! The plugin never sends `thinking`: each model's default applies. Where a
//! model thinks by default its thinking tokens count against `max_tokens`,
//! so a reply can stop at `max_tokens` with little or no text.
//!
//! Names are read after a gateway's `vendor/` prefix, Bedrock's `anthropic.`
//! prefix and Vertex's `@date` suffix.

/// The first API version under which no model accepts a temperature.
pub const NO_TEMPERATURE_SINCE: &str = "2026-10-21";

/// What the request for one model may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelParams {
    /// Whether a configured temperature is sent.
    pub temperature: bool,
}

/// The parameters for `model` under `anthropic-version` `api_version`.
pub fn params(model: &str, api_version: &str) -> ModelParams {
    let temperature = takes_temperature(model) && version_takes_temperature(api_version);
    ModelParams { temperature }
}

/// Whether the family of `model` accepts a temperature (under an API
/// version that still has one).
pub fn takes_temperature(model: &str) -> bool {
    matches!(version(model), Some((1..=3, _) | (4, 0..=6)))
}

/// Whether API version `version` (`YYYY-MM-DD`) still takes a temperature:
/// a version before [`NO_TEMPERATURE_SINCE`]. Anything else counts as newer.
pub fn version_takes_temperature(version: &str) -> bool {
    let is_date = version.len() == 10
        && version.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    // Dates in this form order as their text does.
    is_date && version < NO_TEMPERATURE_SINCE
}

/// The (major, minor) version of a Claude model name: `claude-3-5-haiku-…`
/// and `claude-sonnet-4-5-…` are 3.5 and 4.5, `claude-opus-4-20250514` is
/// 4.0, `claude-2.1` is 2.1. The generation-5 lines named without a number
/// (`claude-fable-…`, `claude-mythos-…`) are 5.0. `None` for a name that is
/// not a Claude model's.
pub fn version(model: &str) -> Option<(u32, u32)> {
    let name = model.rsplit('/').next().unwrap_or(model).trim().to_ascii_lowercase();
    let name = name.strip_prefix("anthropic.").unwrap_or(&name);
    let name = name.split(['@', ':']).next().unwrap_or(name);
    let rest = name.strip_prefix("claude-")?;
    let tokens: Vec<&str> = rest.split(['-', '.']).collect();
    // Dates (`20250929`) and Bedrock's `v1` are not versions.
    let number = |token: &str| (token.len() <= 2).then(|| token.parse::<u32>().ok()).flatten();
    match tokens.iter().position(|t| number(t).is_some()) {
        Some(at) => {
            let major = number(tokens[at])?;
            let minor = tokens.get(at + 1).and_then(|t| number(t)).unwrap_or(0);
            Some((major, minor))
        }
        None if tokens.iter().any(|t| matches!(*t, "fable" | "mythos")) => Some((5, 0)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD_API: &str = "2023-06-01";

    #[test]
    fn versions_are_read_from_both_naming_schemes() {
        for (model, expected) in [
            ("claude-3-5-haiku-20241022", Some((3, 5))),
            ("claude-3-7-sonnet-latest", Some((3, 7))),
            ("claude-3-opus-20240229", Some((3, 0))),
            ("claude-sonnet-4-5-20250929", Some((4, 5))),
            ("claude-opus-4-20250514", Some((4, 0))),
            ("claude-opus-4-1", Some((4, 1))),
            ("claude-opus-4-7", Some((4, 7))),
            ("claude-haiku-5-5", Some((5, 5))),
            ("claude-sonnet-5", Some((5, 0))),
            ("claude-2.1", Some((2, 1))),
            ("claude-instant-1.2", Some((1, 2))),
            ("claude-mythos-preview", Some((5, 0))),
            ("claude-fable-5-2", Some((5, 2))),
            ("anthropic.claude-opus-4-7-v1:0", Some((4, 7))),
            ("anthropic.claude-3-5-sonnet-20241022-v2:0", Some((3, 5))),
            ("claude-opus-4-1@20250805", Some((4, 1))),
            ("openrouter/anthropic/claude-sonnet-4.5", Some((4, 5))),
            ("Claude-Sonnet-4-6", Some((4, 6))),
            ("m", None),
            ("claude", None),
            ("claude-preview", None),
            ("gpt-4o", None),
        ] {
            assert_eq!(version(model), expected, "{model}");
        }
    }

    #[test]
    fn temperature_goes_to_claude_1_to_4_6_only() {
        for model in [
            "claude-2.1",
            "claude-3-haiku-20240307",
            "claude-3-7-sonnet-20250219",
            "claude-sonnet-4-20250514",
            "claude-opus-4-1-20250805",
            "claude-haiku-4-5",
            "claude-sonnet-4-5-20250929",
            "claude-opus-4-5",
            "claude-sonnet-4-6",
            "claude-opus-4-6",
        ] {
            assert_eq!(params(model, OLD_API), ModelParams { temperature: true }, "{model}");
        }
        for model in [
            "claude-opus-4-7",
            "claude-opus-4-8",
            "anthropic.claude-opus-4-7",
            "claude-sonnet-5",
            "claude-haiku-5-5",
            "claude-opus-5-5",
            "claude-fable-5",
            "claude-mythos-preview",
            "m",
            "my-finetune",
        ] {
            assert_eq!(params(model, OLD_API), ModelParams { temperature: false }, "{model}");
        }
    }

    #[test]
    fn no_model_takes_a_temperature_from_api_version_2026_10_21() {
        assert!(version_takes_temperature("2023-06-01"));
        assert!(version_takes_temperature("2026-10-20"));
        for version in ["2026-10-21", "2027-01-01", "latest", "", "2023-6-1", "2023-06-01x"] {
            assert!(!version_takes_temperature(version), "{version}");
            assert_eq!(params("claude-sonnet-4-5", version), ModelParams { temperature: false }, "{version}");
        }
    }
}
